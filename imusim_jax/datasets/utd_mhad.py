"""UTD-MHAD (Chen, Jafari, Kehtarnavaz, ICIP 2015) ``*_skeleton.mat``: MATLAB v5 file with ``d_skel`` of shape
(20, 3, T), Kinect v1, joint set ``kinect20``, camera space (``imusim_jax.datasets.kinect``). Its Kinect stream
covers the same interval as the wrist IMU recorded with it (``Inertial/aA_sS_tT_inertial.mat``, ``d_iner``
(N, 6) at 50 Hz) with fewer frames than 30 fps would give (about 15-20 fps effective), so when that file exists
the frame rate is ``T / (N / 50)`` Hz; without it, 30 fps with a one-line warning. Registered as the ``motion``
reader ``utd-mhad-skeleton`` (``.mat``; a folder search takes ``*_skeleton.mat``).

The inertial file itself, ``*_inertial.mat`` (``d_iner`` (N, 6): accelerometer in g, gyroscope in deg/s, 50 Hz,
uniform, no time column), is the ``imu`` reader ``utd-mhad-inertial`` (``.mat``; a folder search takes
``*_inertial.mat``): one ``ImuRecording`` in SI units, its metadata from the name ``aA_sS_tT`` (action, subject,
trial). The sensor is on the subject's RIGHT wrist for actions 1-21 and on the right thigh for 22-27
(``meta["placement"]``). Its values stop at 8 g and 1000 deg/s (the sensor's ranges): samples there are flagged
in ``ImuSignal.saturated``."""
from __future__ import annotations

import os
import re
import warnings
from typing import Optional

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._gaps import trim_and_fill
from imusim_jax._motion import Motion, check_time_base
from imusim_jax._signal import ImuRecording, ImuSignal
from imusim_jax.datasets.kinect import MAX_GAP_S, SkeletonClip, camera_to_world, check_native_joint_set
from imusim_jax.io.imu_csv import convert_units
from imusim_jax.io.registry import register_reader
from imusim_jax.io.resample import saturation_mask

__all__ = ["UTD_DEFAULT_FPS", "UTD_IMU_RATE_HZ", "UTD_ACTIONS", "read_utd_skeleton", "load_utd_skeleton",
           "utd_inertial_path", "read_utd_inertial"]

UTD_DEFAULT_FPS = 30.0
"""UTD-MHAD skeleton rate used when no inertial file is found beside it (the nominal Kinect v1 rate)."""
UTD_IMU_RATE_HZ = 50.0
"""UTD-MHAD's inertial sensor rate."""
UTD_JOINTS = 20


def utd_inertial_path(path: str | os.PathLike) -> Optional[str]:
    """The inertial file recorded with a UTD-MHAD skeleton: ``.../Skeleton/aA_sS_tT_skeleton.mat`` ->
    ``.../Inertial/aA_sS_tT_inertial.mat`` (``None`` when the path does not follow that layout)."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    parent, leaf = os.path.split(folder)
    if leaf != "Skeleton" or not name.endswith("_skeleton.mat"):
        return None
    return os.path.join(parent, "Inertial", name[: -len("_skeleton.mat")] + "_inertial.mat")


def _loadmat(path: str, what: str) -> dict:
    import scipy.io

    try:
        return scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 (HDF5)
        raise InputError(f"{path}: MATLAB v7.3 files are not supported; save {what} as v5 (-v7)") from None
    except Exception as e:  # MatReadError, ValueError, TypeError, OSError on truncated or foreign files
        msg = str(e).splitlines()[0] if str(e) else ""
        raise InputError(f"cannot read {path} as a MATLAB .mat file: {type(e).__name__}: {msg}".rstrip(": ")
                         ) from None


def read_utd_skeleton(path: str | os.PathLike, *, fps: float | None = None) -> SkeletonClip:
    """Read a UTD-MHAD ``*_skeleton.mat`` (``d_skel`` (20, 3, T), Kinect v1; joint set ``kinect20``).

    The frame rate is, in this order: ``fps`` when given; ``T / (N / 50)`` when the inertial file recorded with
    it exists (``utd_inertial_path``: ``Skeleton/..._skeleton.mat`` -> ``Inertial/..._inertial.mat`` with
    ``d_iner`` (N, 6) at 50 Hz), because the dataset's Kinect stream covers the same interval as the IMU with
    fewer frames (about 15-20 fps effective); else ``UTD_DEFAULT_FPS`` (30). Frames whose joints are all zero are
    interpolated as missing frames (``MAX_GAP_S`` at most).
    """
    path = os.fspath(path)
    data = _loadmat(path, "d_skel")
    if "d_skel" not in data:
        keys = ", ".join(k for k in sorted(data) if not k.startswith("__")) or "nothing"
        raise InputError(f"{path}: no variable 'd_skel' (found: {keys}); expected a UTD-MHAD *_skeleton.mat")
    skel = np.asarray(data["d_skel"])
    if skel.dtype.kind not in "fiu":
        raise InputError(f"{path}: d_skel must be numeric, got {skel.dtype}")
    if skel.ndim == 2 and skel.shape == (UTD_JOINTS, 3):
        skel = skel[:, :, None]  # MATLAB drops a trailing singleton dimension
    if skel.ndim != 3 or skel.shape[:2] != (UTD_JOINTS, 3):
        raise InputError(f"{path}: d_skel must have shape ({UTD_JOINTS}, 3, T), got {skel.shape}")
    cam = np.transpose(skel.astype(np.float64), (2, 0, 1))  # (T, 20, 3)
    if not np.isfinite(cam).all():
        raise InputError(f"{path}: d_skel has NaN or infinite values")
    T = cam.shape[0]
    if fps is not None:
        fps, how = float(check_time_base(fps, None, None)[0]), "given"
    else:
        iner = utd_inertial_path(path)
        if iner is not None and os.path.exists(iner):
            d = _loadmat(iner, "d_iner")
            n = np.asarray(d.get("d_iner", np.zeros((0, 0))))
            if n.ndim != 2 or n.shape[1] != 6 or n.shape[0] < 1:
                raise InputError(f"{iner}: expected d_iner of shape (N, 6) to set the skeleton's frame rate, got "
                                 f"{n.shape if 'd_iner' in d else 'no d_iner'}; pass fps (--fps) instead")
            fps = T / (n.shape[0] / UTD_IMU_RATE_HZ)
            how = f"{T} frames over the {n.shape[0]} samples at {UTD_IMU_RATE_HZ:g} Hz of {os.path.basename(iner)}"
        else:
            fps, how = UTD_DEFAULT_FPS, "default (no inertial file beside it)"
            warnings.warn(f"{path}: no Inertial/{os.path.basename(path)[:-len('_skeleton.mat')]}_inertial.mat beside "
                          f"it to set the frame rate: taken as {UTD_DEFAULT_FPS:g} fps, but UTD-MHAD's Kinect runs at "
                          "14-21 fps (durations and speeds off by up to 2x); pass the rate (--fps)", UserWarning,
                          stacklevel=2)
    present = np.any(cam != 0, axis=(1, 2))
    joints, filled, first = trim_and_fill(cam, present, fps, MAX_GAP_S, path)
    conf = None
    if filled.any():
        conf = np.ones(joints.shape[:2])
        conf[filled] = 0.0
    note = f"UTD-MHAD skeleton, {fps:.4g} fps ({how}); {int(filled.sum())} frames interpolated"
    return SkeletonClip(camera_to_world(joints), conf, fps, "kinect20", first, filled, note)


def load_utd_skeleton(path, *, fps: float | None = None, joint_set: str | None = None) -> Motion:
    """``read_utd_skeleton`` as a ``Motion`` (``kinect20``)."""
    check_native_joint_set(os.fspath(path), "kinect20", joint_set)
    c = read_utd_skeleton(path, fps=fps)
    return Motion.create(c.joints, c.fps, c.joint_set, confidence=c.confidence)


register_reader("motion", "utd-mhad-skeleton", (".mat",), load_utd_skeleton, search=("_skeleton.mat",),
                options=("fps", "joint_set"),
                description="UTD-MHAD Kinect v1 d_skel (kinect20; fps from the Inertial/ file beside it)")


UTD_ACTIONS = {
    1: "right arm swipe to the left", 2: "right arm swipe to the right", 3: "right hand wave",
    4: "two-hand front clap", 5: "right arm throw", 6: "cross arms in the chest", 7: "basketball shoot",
    8: "right hand draw x", 9: "right hand draw circle (clockwise)", 10: "right hand draw circle (counter-clockwise)",
    11: "draw triangle", 12: "bowling (right hand)", 13: "front boxing", 14: "baseball swing from right",
    15: "tennis right-hand forehand swing", 16: "arm curl (two arms)", 17: "tennis serve", 18: "two-hand push",
    19: "right hand knock on door", 20: "right hand catch an object", 21: "right hand pick up and throw",
    22: "jogging in place", 23: "walking in place", 24: "sit to stand", 25: "stand to sit",
    26: "forward lunge (left foot forward)", 27: "squat (two arms stretch out)",
}
"""UTD-MHAD's 27 actions by number (the file names' ``aA``)."""
UTD_ACCEL_RANGE_G = 8.0
UTD_GYRO_RANGE_DPS = 1000.0
_UTD_NAME = re.compile(r"a(\d+)_s(\d+)_t(\d+)_inertial\.mat$", re.IGNORECASE)


def read_utd_inertial(path: str | os.PathLike, *, rate_hz: Optional[float] = None) -> list[ImuRecording]:
    """Read a UTD-MHAD ``*_inertial.mat`` (``d_iner`` (N, 6): accelerometer in g, gyroscope in deg/s, uniform at
    ``UTD_IMU_RATE_HZ`` = 50 Hz, or ``rate_hz``) as one ``ImuRecording`` in SI units, sensor frame. ``meta``:
    ``dataset`` "UTD-MHAD", ``subject``, ``activity`` (the action number), ``activity_name``, ``trial`` (from an
    ``aA_sS_tT_inertial.mat`` name; absent otherwise), ``side`` "right", ``placement`` ("right wrist" for actions
    1-21, "right thigh" for 22-27), ``device``, ``t0_s`` 0. Samples at 8 g or 1000 deg/s are flagged saturated."""
    path = os.fspath(path)
    data = _loadmat(path, "d_iner")
    if "d_iner" not in data:
        keys = ", ".join(k for k in sorted(data) if not k.startswith("__")) or "nothing"
        raise InputError(f"{path}: no variable 'd_iner' (found: {keys}); expected a UTD-MHAD *_inertial.mat")
    d = np.asarray(data["d_iner"])
    if d.dtype.kind not in "fiu" or d.ndim != 2 or d.shape[1] != 6:
        raise InputError(f"{path}: d_iner must be a numeric (N, 6) array, got {d.dtype} {d.shape}")
    d = d.astype(np.float64)
    if len(d) < 2:
        raise InputError(f"{path}: d_iner has {len(d)} sample(s); at least two are needed")
    if not np.isfinite(d).all():
        raise InputError(f"{path}: d_iner has NaN or infinite values")
    rate = float(check_time_base(UTD_IMU_RATE_HZ if rate_hz is None else rate_hz, None, None)[0])
    sat = saturation_mask(d, [UTD_ACCEL_RANGE_G] * 3 + [UTD_GYRO_RANGE_DPS] * 3)
    accel, gyro = convert_units(d[:, :3], d[:, 3:], "g", "deg/s", path)
    meta = {"dataset": "UTD-MHAD", "side": "right", "device": "wearable inertial sensor (InvenSense MPU-9150)",
            "t0_s": 0.0}
    m = _UTD_NAME.search(os.path.basename(path))
    if m:
        action = int(m.group(1))
        meta.update(subject=int(m.group(2)), activity=action, activity_name=UTD_ACTIONS.get(action),
                    trial=int(m.group(3)),
                    placement="right wrist" if action <= 21 else "right thigh")
    return [ImuRecording(ImuSignal(accel, gyro, None, None, sat, rate_hz=rate), path, meta)]


register_reader("imu", "utd-mhad-inertial", (".mat",), read_utd_inertial, search=("_inertial.mat",),
                options=("rate_hz",),
                description="UTD-MHAD d_iner (N, 6): g and deg/s at 50 Hz; right wrist (actions 1-21) or thigh")
