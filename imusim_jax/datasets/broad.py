"""BROAD, the Berlin Robust Orientation Estimation Assessment Dataset (Laidig, Caruso, Cereatti, Seel 2021;
CC BY 4.0): a myon aktos-t IMU on a rigid body moved by hand, with optical motion capture of the same body.

An ``.hdf5`` file per trial: ``imu_acc`` (N, 3) specific force in m/s^2, ``imu_gyr`` (N, 3) rad/s, ``imu_mag``
(uT), ``movement`` (N,) bool, the ``sampling_rate`` attribute (285.714 Hz), and the optical reference ``opt_quat``
(N, 4; w, x, y, z; body to an east-north-up world) and ``opt_pos`` (N, 3; m). Registered as the ``imu`` reader
``broad`` (``.hdf5``, ``.h5``): one ``ImuRecording`` of the accelerometer and gyroscope, uniform, SI already; the
IMU's axes are the body's.

``meta``: ``dataset`` "BROAD", ``trial`` (the file's name, e.g. ``09_undisturbed_fast_rotation_with_breaks_B``),
``trial_number`` (9), ``movement`` (the (N,) mask of the samples the benchmark scores; ``~movement`` are the
rest periods, about 80 s per trial in pieces, the stationary data for noise and bias calibration),
``rest_segments`` (``(start_s, end_s)`` of each rest period), ``side`` None (not worn), ``device``, ``t0_s`` 0,
``info`` (the file's description). The optical ``opt_quat``/``opt_pos`` and ``imu_mag`` are NOT part of the IMU
recording: read them from the same file (``h5py.File(path)["opt_quat"]``), sample for sample with it. The
sensor's range is not in the file: no saturation flags.
"""
from __future__ import annotations

import os
import re
from typing import Optional

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._motion import check_time_base
from imusim_jax._signal import ImuRecording, ImuSignal
from imusim_jax.io.registry import register_reader

__all__ = ["BROAD_RATE_HZ", "read_broad"]

BROAD_RATE_HZ = 2000.0 / 7.0
"""BROAD's sampling rate, 285.714 Hz (used when a file lacks its ``sampling_rate`` attribute)."""


def _segments(mask: np.ndarray, rate: float) -> list[tuple[float, float]]:
    m = np.r_[False, mask, False].astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(m) == 1), np.flatnonzero(np.diff(m) == -1)
    return [(float(a / rate), float((b - 1) / rate)) for a, b in zip(starts, ends)]


def read_broad(path: str | os.PathLike, *, rate_hz: Optional[float] = None) -> list[ImuRecording]:
    """A BROAD trial's ``imu_acc`` and ``imu_gyr`` as one ``ImuRecording`` (SI, uniform at the file's
    ``sampling_rate``, or ``rate_hz``); the ``movement`` mask and rest segments in ``meta``. See the module's
    description."""
    import h5py

    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path} as HDF5: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                         ) from None
    with f:
        missing = [k for k in ("imu_acc", "imu_gyr") if k not in f]
        if missing:
            found = ", ".join(sorted(f.keys())) or "nothing"
            raise InputError(f"{path}: no dataset {missing[0]!r} (found: {found}); expected a BROAD trial")
        acc, gyr = np.asarray(f["imu_acc"], np.float64), np.asarray(f["imu_gyr"], np.float64)
        movement = np.asarray(f["movement"], bool).reshape(-1) if "movement" in f else None
        file_rate = f.attrs.get("sampling_rate")
        info = f.attrs.get("info")
    if acc.ndim != 2 or acc.shape[1] != 3 or acc.shape != gyr.shape:
        raise InputError(f"{path}: imu_acc and imu_gyr must both be (N, 3), got {acc.shape} and {gyr.shape}")
    if len(acc) < 2:
        raise InputError(f"{path}: {len(acc)} sample(s); at least two are needed")
    bad = ~(np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1))
    if bad.any():
        raise InputError(f"{path}: {int(bad.sum())} samples of imu_acc/imu_gyr are not finite (first: "
                         f"{int(np.flatnonzero(bad)[0])})")
    if movement is not None and len(movement) != len(acc):
        raise InputError(f"{path}: movement has {len(movement)} samples, imu_acc {len(acc)}")
    rate = rate_hz if rate_hz is not None else (float(np.asarray(file_rate)) if file_rate is not None
                                                else BROAD_RATE_HZ)
    rate = float(check_time_base(rate, None, None)[0])
    stem = os.path.splitext(os.path.basename(path))[0]
    m = re.match(r"(\d+)_", stem)
    meta = {"dataset": "BROAD", "trial": stem, "trial_number": int(m.group(1)) if m else None, "side": None,
            "device": "myon aktos-t", "t0_s": 0.0}
    if movement is not None:
        meta.update(movement=movement, rest_segments=_segments(~movement, rate))
    if info is not None:
        meta["info"] = info.decode() if isinstance(info, bytes) else str(info)
    return [ImuRecording(ImuSignal(acc, gyr, None, None, None, rate_hz=rate), path, meta)]


register_reader("imu", "broad", (".hdf5", ".h5"), read_broad, options=("rate_hz",),
                description="BROAD trial: imu_acc (m/s^2), imu_gyr (rad/s) at 285.714 Hz; movement mask in meta")
