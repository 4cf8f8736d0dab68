"""``ImuSignal``: what a simulated (or real) 6-axis IMU records.

Sample ``k`` is at ``t = k / rate_hz`` seconds from the first input frame; the last sample is no later than the
last frame. ``accel`` is the specific force ``f_s = R_ws^T (a_w - g_w)`` in m/s^2 (at rest with its z axis up a
sensor reads ``(0, 0, +9.80665)``), ``gyro`` the angular velocity of the sensor frame in rad/s, both in the
sensor frame. Batches lead with the clip axis and carry ``lengths`` (valid samples per clip; padding is zero).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import jax.numpy as jnp
import numpy as np
from flax import struct

from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._errors import InputError

__all__ = ["ImuSignal", "ImuRecording"]


@struct.dataclass
class ImuSignal:
    """Attributes:
      accel: ``(T, 3)`` or ``(B, T, 3)`` specific force, m/s^2, sensor frame.
      gyro: ``(T, 3)`` or ``(B, T, 3)`` angular rate, rad/s, sensor frame.
      lengths: ``None`` for one clip, ``(B,)`` valid samples per clip.
      q_ws: optional ``(..., T, 4)`` sensor-to-world orientation (scalar first, sign-continuous).
      saturated: optional ``(..., T, 6)`` bool, a real recording's samples at its sensor's range (accelerometer x,
        y, z, then gyroscope x, y, z): their true value is unknown, losses should leave them out.
      rate_hz: static sample rate, Hz.
    """

    accel: jnp.ndarray
    gyro: jnp.ndarray
    lengths: Optional[jnp.ndarray] = None
    q_ws: Optional[jnp.ndarray] = None
    saturated: Optional[jnp.ndarray] = None
    rate_hz: float = struct.field(pytree_node=False, default=50.0)

    @property
    def batched(self) -> bool:
        return self.accel.ndim == 3

    @property
    def num_samples(self) -> int:
        return int(self.accel.shape[-2])

    @property
    def t(self) -> np.ndarray:
        """Sample times ``k / rate_hz`` in seconds, ``(T,)``."""
        return np.arange(self.num_samples) / self.rate_hz

    @property
    def mask(self) -> jnp.ndarray:
        """``(T,)`` or ``(B, T)`` booleans, True on valid samples."""
        k = jnp.arange(self.num_samples)
        if self.lengths is None:
            return jnp.ones_like(k, dtype=bool)
        return k[None, :] < self.lengths[:, None]

    def unbatch(self, *, host: bool = False) -> list["ImuSignal"]:
        """Split a batch into single clips without padding. ``host=True`` leaves each clip's arrays as NumPy
        arrays (for writing files: no transfer back to the device per clip)."""
        if not self.batched:
            return [self]
        # one transfer to the host, then NumPy slices (indexing the device arrays dispatches one slice per array
        # per clip: for 1024 clips, several times their simulation)
        accel, gyro, lengths = (np.asarray(a) for a in (self.accel, self.gyro, self.lengths))
        q_ws = None if self.q_ws is None else np.asarray(self.q_ws)
        saturated = None if self.saturated is None else np.asarray(self.saturated)
        put = (lambda a: a) if host else jnp.asarray
        out = []
        for b in range(accel.shape[0]):
            n = int(lengths[b])
            q = None if q_ws is None else put(q_ws[b, :n])
            sat = None if saturated is None else put(saturated[b, :n])
            out.append(ImuSignal(put(accel[b, :n]), put(gyro[b, :n]), None, q, sat, rate_hz=self.rate_hz))
        return out

    def to_units(self, accel_unit: str = "m/s^2", gyro_unit: str = "rad/s") -> tuple[np.ndarray, np.ndarray]:
        """NumPy copies in other units, converted at the edge: ``accel_unit`` in ``m/s^2`` or ``g``; ``gyro_unit``
        in ``rad/s`` or ``deg/s``."""
        a, g = np.asarray(self.accel, np.float64), np.asarray(self.gyro, np.float64)
        if accel_unit == "g":
            a = a / STANDARD_GRAVITY
        elif accel_unit != "m/s^2":
            raise InputError(f"accel_unit must be 'm/s^2' or 'g', got {accel_unit!r}")
        if gyro_unit in ("deg/s", "dps"):
            g = np.degrees(g)
        elif gyro_unit != "rad/s":
            raise InputError(f"gyro_unit must be 'rad/s' or 'deg/s', got {gyro_unit!r}")
        return a, g


@dataclasses.dataclass
class ImuRecording:
    """One real (or simulated) recording as a reader returns it: the signal and what is known of it.

    Attributes:
      signal: one clip's ``ImuSignal`` (``(T, 3)``, SI units, sensor frame, uniform samples at ``rate_hz``; a
        reader resamples irregular timestamps and flags saturated samples).
      path: the file it came from.
      meta: what the source says of it, with these keys where known: ``dataset``, ``subject``, ``activity``
        (the source's own code or name), ``trial``, ``side`` (``left``/``right`` wrist), ``device``, ``t0_s``
        (the first sample's time in the source's clock, s), and any label the source carries.
    """

    signal: "ImuSignal"
    path: str
    meta: dict = dataclasses.field(default_factory=dict)
