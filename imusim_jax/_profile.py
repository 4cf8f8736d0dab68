"""``SensorProfile``: one real sensor as calibration found it, in one versioned JSON file.

A profile holds what ``sense`` takes besides the motion: the noise model (``ImuNoise``), the mount (``Mount``),
the clock offset between motion and sensor (``time_offset_s``: the motion time of the sensor's first sample) and
the sensor's rate, plus where it came from (``source``) and how well it was fitted (``fit``: each parameter with
its uncertainty, the loss, the steps, whether it converged). Every part is optional: a profile fitted on a rest
recording has noise only.

JSON (``format`` ``imusim-jax/profile``, ``version`` 1)::

    {"format": "imusim-jax/profile", "version": 1, "name": "...", "rate_hz": 50.0, "time_offset_s": 0.0,
     "mount": {"side": "right", "q_fs": [w, x, y, z], "lever_f": [x, y, z], "name": "..."},
     "noise": {"accel": {SensorNoise fields}, "gyro": {...}},
     "source": {...}, "fit": {...}}

``--profile FILE`` applies all of it on the command line; ``--noise FILE`` and ``--mount FILE`` take one part.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._mounting import Mount, get_mount
from imusim_jax._noise import ImuNoise, SensorNoise, get_noise, noise_profile_json

__all__ = ["SensorProfile", "get_profile", "PROFILE_FORMAT"]

PROFILE_FORMAT = "imusim-jax/profile"


@dataclasses.dataclass
class SensorProfile:
    """A calibrated sensor (see the module docstring).

    Attributes:
      noise: ``ImuNoise`` or ``None`` (not calibrated).
      mount: ``Mount`` or ``None`` (not calibrated).
      time_offset_s: the motion time of the sensor's first sample, s (``sense``'s ``time_offset_s``).
      rate_hz: the sensor's sampling rate, Hz, or ``None``.
      cutoff_hz: the joints' low-pass cut-off the profile was fitted with (``prepare``'s ``cutoff_hz``: Hz,
        ``"auto"``, or ``None`` for none fixed): the mount and gains fit the motion as filtered so.
      name: a label.
      source: what it was fitted on (mode, files, dataset, subject, ...).
      fit: the fit's report (parameters with uncertainties, loss, steps, convergence).
      contact_time_s: the contact model's contact time, s (``imusim_jax.ImpactModel``), or ``None`` (its default).
    """

    noise: Optional[ImuNoise] = None
    mount: Optional[Mount] = None
    time_offset_s: float = 0.0
    rate_hz: Optional[float] = None
    cutoff_hz: object = None
    name: str = "profile"
    source: dict = dataclasses.field(default_factory=dict)
    fit: dict = dataclasses.field(default_factory=dict)
    contact_time_s: Optional[float] = None

    @property
    def impact(self):
        """The ``ImpactModel`` this profile implies (the default one with its contact time)."""
        from imusim_jax._impact import ImpactModel

        return ImpactModel() if self.contact_time_s is None else ImpactModel.create(self.contact_time_s)

    def to_dict(self) -> dict:
        d = {"format": PROFILE_FORMAT, "version": 1, "name": self.name, "rate_hz": self.rate_hz,
             "time_offset_s": float(self.time_offset_s), "cutoff_hz": self.cutoff_hz}
        if self.contact_time_s is not None:
            d["contact_time_s"] = float(self.contact_time_s)
        if self.mount is not None:
            d["mount"] = self.mount.to_dict()
        if self.noise is not None:
            d["noise"] = json.loads(noise_profile_json(self.noise))
        d["source"], d["fit"] = _jsonable(self.source), _jsonable(self.fit)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=lambda o: "inf" if o == np.inf else o)

    def save(self, path: str | os.PathLike) -> None:
        """Write the profile as JSON (atomically: a temporary file renamed into place)."""
        path = os.fspath(path)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def from_dict(cls, d: dict, where: str = "profile") -> "SensorProfile":
        """From the JSON object (``to_dict``); one-line ``InputError`` naming ``where`` for a wrong one."""
        if not isinstance(d, dict):
            raise InputError(f"{where} must be a JSON object")
        fmt = d.get("format", PROFILE_FORMAT)
        if fmt not in (PROFILE_FORMAT, "imusim-jax/noise"):
            raise InputError(f"{where}: format {fmt!r} is not a sensor profile ({PROFILE_FORMAT})")
        if int(d.get("version", 1)) > 1:
            raise InputError(f"{where}: version {d.get('version')} is newer than this imusim-jax reads (1)")
        noise_d = d.get("noise", d if fmt == "imusim-jax/noise" else None)
        noise = None
        if noise_d is not None:
            if not (isinstance(noise_d, dict) and "accel" in noise_d and "gyro" in noise_d):
                raise InputError(f"{where}: noise needs 'accel' and 'gyro' objects")
            noise = ImuNoise(SensorNoise.from_dict(noise_d["accel"], f"{where}: noise.accel"),
                             SensorNoise.from_dict(noise_d["gyro"], f"{where}: noise.gyro"),
                             str(noise_d.get("name", d.get("name", "profile"))))
        mount = Mount.from_dict(d["mount"], f"{where}: mount") if d.get("mount") is not None else None
        try:
            offset = float(d.get("time_offset_s", 0.0))
            rate = None if d.get("rate_hz") is None else float(d["rate_hz"])
        except (TypeError, ValueError):
            raise InputError(f"{where}: time_offset_s and rate_hz must be numbers") from None
        if not np.isfinite(offset) or (rate is not None and not (np.isfinite(rate) and rate > 0)):
            raise InputError(f"{where}: time_offset_s must be finite and rate_hz positive")
        cutoff = d.get("cutoff_hz")
        if cutoff is not None:
            from imusim_jax._cutoff import cutoff_arg

            cutoff = cutoff_arg(cutoff, f"{where}: cutoff_hz")
        tau = d.get("contact_time_s")
        if tau is not None:
            from imusim_jax._impact import ImpactModel

            try:
                tau = float(tau)
            except (TypeError, ValueError):
                raise InputError(f"{where}: contact_time_s must be a number of seconds") from None
            ImpactModel.create(tau)
        return cls(noise, mount, offset, rate, cutoff, str(d.get("name", "profile")), dict(d.get("source", {})),
                   dict(d.get("fit", {})), tau)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SensorProfile":
        """Read a profile JSON file (a noise profile, ``imusim-jax noise NAME -o``, reads as one with noise only)."""
        path = os.fspath(path)
        if not os.path.exists(path):
            raise InputError(f"no such profile: {path}")
        try:
            with open(path) as f:
                d = json.load(f)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read profile {path}: {e}".splitlines()[0]) from None
        return cls.from_dict(d, os.path.basename(path))


def get_profile(profile) -> SensorProfile:
    """A ``SensorProfile`` unchanged, or one read from a ``.json`` path."""
    if isinstance(profile, SensorProfile):
        return profile
    return SensorProfile.load(profile)


def _jsonable(obj):
    """NumPy and JAX scalars and arrays as Python numbers and lists (recursively), non-finite floats as None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "shape") and hasattr(obj, "dtype"):
        return _jsonable(np.asarray(obj).tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if np.isfinite(v) else None
    return obj


del get_mount, get_noise  # imported for their docs' sake only
