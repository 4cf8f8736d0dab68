"""SmartFallMM (the SmartFall group of Dr. Anne Ngu, Texas State University; GitHub
txst-cs-smartfall/SmartFallMM-Dataset): falls and daily activities with a smartwatch on the LEFT wrist and a
MetaMotion on the RIGHT wrist, each an accelerometer file and a gyroscope file per trial.

Layout (upstream's, gzip'd in ``../shared/realdata/smartfallmm``): ``<root>/<group>/<accelerometer|gyroscope>/
<device>/SxxAyyTzz.csv[.gz]`` (subject, activity, trial; ``group`` e.g. ``young``, ``device`` ``watch`` or
``meta_wrist``). No header row.

* ``watch``: ``YYYY-mm-dd HH:MM:SS.fff,x,y,z`` (device local time; a fraction of fewer than 3 digits is a
  fraction), accelerometer in m/s^2 with gravity (clips at +-8 g per axis: flagged), gyroscope in rad/s (no range
  known: not flagged). Stamps are bursty (duplicates, rows 0-3 ms apart then 30-50 ms gaps, backward steps), and
  2024 files are several chunks whose clock jumps by seconds to minutes. A gyroscope file's first row may be a
  pandas-mangled header made from a data row (``0.0087.1``): a first row that does not parse is skipped.
* ``meta_wrist``: ``epoch_ms, ISO local time, elapsed_s, x, y, z``, accelerometer in g, gyroscope in deg/s;
  saturates at +-2 g and +-124.87 deg/s per axis (flagged). Time from the ISO column (the epoch column was
  rounded by a spreadsheet in some files).

The Azure Kinect skeleton of the same trial (``<root>/<group>/skeleton/SxxAyyTzz.csv.gz``) is a ``motion``
(``read_smartfallmm_skeleton``, registered as ``smartfallmm-skeleton``; joint set ``azure32``).

A recording is a trial of one device, addressed by its accelerometer file (its gyroscope file is found by the
layout), or by ``read_smartfallmm_trial(root, "S31A10T01", device="watch")``. Registered as the ``imu`` reader
``smartfallmm`` for ``.csv.gz`` (a plain ``.csv`` in the same layout: ``format="smartfallmm"``). The two streams
have different rates (2022 watch: accelerometer ~34 rows/s, gyroscope ~50; 2024: ~125 and ~100) and were cropped
separately: each is sorted, its duplicate stamps averaged, split into contiguous chunks at gaps over 1 s, and the
pair of chunks with the longest common span is resampled linearly onto one grid over that span
(``imusim_jax.io.resample.resample_streams``; default rate: the faster stream's, e.g. 50 Hz for a 2022 watch; the
report is ``meta["resample"]``). A file whose stamps come faster than 500 rows/s was delivered in one burst: no
usable time base (refused). A trial without a gyroscope file (meta_wrist of S30, S31, S34, S36) is refused.

``meta``: ``dataset`` "SmartFallMM", ``trial_id`` (``S31A10T01``), ``subject`` (31), ``activity`` (10),
``activity_name``, ``trial`` (1), ``fall`` (activities 10-14), ``side`` (``left`` for the watch, ``right`` for
meta_wrist), ``device``, ``t0_s`` (the grid's first sample in the device's local clock, seconds since 1970 of that
clock: the watch's and meta_wrist's clocks differ by minutes, so this does not align the two), ``group``. The
source does not mark the impact.
"""
from __future__ import annotations

import gzip
import os
import re
from typing import Optional

import numpy as np

from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._errors import InputError
from imusim_jax._joints import get_joint_set
from imusim_jax._motion import Motion, check_time_base
from imusim_jax._signal import ImuRecording, ImuSignal
from imusim_jax.io.imu_csv import convert_units
from imusim_jax.io.registry import register_reader
from imusim_jax.io.resample import clock_seconds, resample_streams, saturation_mask

__all__ = ["SMARTFALLMM_ACTIVITIES", "DEVICES", "read_smartfallmm", "read_smartfallmm_trial", "smartfallmm_paths",
           "find_smartfallmm_trials", "read_smartfallmm_skeleton", "camera_to_world", "SKELETON_FPS"]

SMARTFALLMM_ACTIVITIES = {
    1: "drink water", 2: "pick up object", 3: "put on/take off jacket", 4: "stepping up", 5: "sweep floor",
    6: "wash hands", 7: "wave hand", 8: "walk", 9: "sit/stand", 10: "back fall", 11: "front fall", 12: "left fall",
    13: "right fall", 14: "rotate fall",
}
DEVICES = {
    # device folder: side, model, accelerometer unit, gyroscope unit, per-axis ranges (in those units; None: unknown)
    "watch": ("left", "smartwatch", "m/s^2", "rad/s", 8.0 * STANDARD_GRAVITY, None),
    "meta_wrist": ("right", "MetaMotion", "g", "deg/s", 2.0, 124.87),
}
MAX_ROWS_PER_S = 500.0
"""A stream measured faster than this was delivered in one burst (the devices log at most ~125 rows/s)."""
_TRIAL = re.compile(r"^S(\d+)A(\d+)T(\d+)$", re.IGNORECASE)
_SUFFIXES = (".csv.gz", ".csv")


def _split_name(path: str) -> tuple[str, str]:
    name = os.path.basename(path)
    for s in _SUFFIXES:
        if name.lower().endswith(s):
            return name[: -len(s)], name[len(name) - len(s):]
    return os.path.splitext(name)[0], os.path.splitext(name)[1]


def smartfallmm_paths(path: str | os.PathLike) -> tuple[str, str, str, str]:
    """``(accelerometer file, gyroscope file, device, trial id)`` of a file in SmartFallMM's layout
    ``<root>/<group>/<accelerometer|gyroscope>/<device>/SxxAyyTzz.csv.gz``. One-line ``InputError`` otherwise."""
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    modality_dir, device = os.path.split(folder)
    group_dir, modality = os.path.split(modality_dir)
    trial, suffix = _split_name(name)
    if modality not in ("accelerometer", "gyroscope") or not _TRIAL.match(trial):
        raise InputError(f"{path}: not in SmartFallMM's layout <group>/accelerometer/<device>/SxxAyyTzz.csv.gz")
    if modality == "gyroscope":
        raise InputError(f"{path}: a SmartFallMM trial is read from its accelerometer file "
                         f"({os.path.join(group_dir, 'accelerometer', device, name)})")
    if device not in DEVICES:
        raise InputError(f"{path}: unknown SmartFallMM device folder {device!r} (known: {', '.join(DEVICES)})")
    return path, os.path.join(group_dir, "gyroscope", device, name), device, trial.upper()


def _lines(path: str) -> list[str]:
    try:
        if path.lower().endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8-sig") as f:
                return f.read().splitlines()
        with open(path, encoding="utf-8-sig") as f:
            return f.read().splitlines()
    except OSError as e:  # gzip.BadGzipFile, EOFError below
        raise InputError(f"cannot read {path}: {e.strerror or e}".splitlines()[0]) from None
    except (EOFError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {type(e).__name__}: {e}".splitlines()[0]) from None


def _read_stream(path: str, device: str) -> tuple[np.ndarray, np.ndarray]:
    """``t`` (s, local clock) and ``xyz`` in the file's units. A first row that does not parse (a mangled header)
    is skipped; any other bad row is an error."""
    t_col, v_cols, n_fields = (0, slice(1, 4), 4) if device == "watch" else (1, slice(3, 6), 6)
    t, v = [], []
    for i, line in enumerate(_lines(path)):
        if not line.strip():
            continue
        p = line.split(",")
        try:
            if len(p) < n_fields:
                raise ValueError(f"{len(p)} fields")
            tt = clock_seconds(p[t_col])
            xyz = [float(x) for x in p[v_cols]]
        except ValueError as e:
            if not t:  # the first row: a header, or a pandas-mangled one (0.0087.1, Unnamed: 3)
                continue
            layout = "time,x,y,z" if device == "watch" else "epoch_ms,time,elapsed_s,x,y,z"
            raise InputError(f"{path}: line {i + 1} is not {layout}: {line[:60]!r} ({e})".splitlines()[0]) from None
        t.append(tt)
        v.append(xyz)
    if len(t) < 2:
        raise InputError(f"{path}: {len(t)} data row(s); a SmartFallMM stream needs at least two")
    return np.asarray(t, np.float64), np.asarray(v, np.float64)


def read_smartfallmm(path: str | os.PathLike, *, rate_hz: Optional[float] = None,
                     max_gap_s: float = 1.0) -> list[ImuRecording]:
    """The trial whose accelerometer file is ``path`` (its gyroscope file found by the layout) as one
    ``ImuRecording``: SI units, both streams on one uniform grid over the span their kept chunks share, samples at
    the device's range flagged. ``rate_hz``: the grid's rate (default: the faster stream's measured rate, rounded);
    ``max_gap_s``: stamps further apart split a stream into chunks. See the module's description."""
    acc_path, gyr_path, device, trial = smartfallmm_paths(path)
    if not os.path.exists(gyr_path):
        raise InputError(f"{acc_path}: no gyroscope file for {trial} ({gyr_path})")
    side, model, a_unit, g_unit, a_range, g_range = DEVICES[device]
    ta, va = _read_stream(acc_path, device)
    tg, vg = _read_stream(gyr_path, device)
    va, vg = convert_units(va, vg, a_unit, g_unit, acc_path)
    to_si = convert_units(np.full(3, a_range or np.inf), np.full(3, g_range or np.inf), a_unit, g_unit, acc_path)
    sa = saturation_mask(va, to_si[0]) if a_range else np.zeros(va.shape, bool)
    sg = saturation_mask(vg, to_si[1]) if g_range else np.zeros(vg.shape, bool)
    r = resample_streams([(ta, va, sa), (tg, vg, sg)], rate_hz, max_gap_s=max_gap_s, max_rate_hz=MAX_ROWS_PER_S,
                         what=f"{acc_path} (+ gyroscope)")
    m = _TRIAL.match(trial)
    subject, activity, rep = (int(g) for g in m.groups())
    group = os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(acc_path)))))
    meta = {"dataset": "SmartFallMM", "trial_id": trial, "subject": subject, "activity": activity,
            "activity_name": SMARTFALLMM_ACTIVITIES.get(activity), "trial": rep, "fall": 10 <= activity <= 14,
            "side": side, "device": f"{model} ({device})", "t0_s": float(r.t[0]), "group": group,
            "gyro_path": gyr_path, "resample": r.report}
    sig = ImuSignal(r.x[:, :3], r.x[:, 3:], None, None, r.saturated, rate_hz=r.rate_hz)
    return [ImuRecording(sig, acc_path, meta)]


def read_smartfallmm_trial(root: str | os.PathLike, trial: str, *, device: str = "watch", group: str = "young",
                           rate_hz: Optional[float] = None, max_gap_s: float = 1.0) -> ImuRecording:
    """Trial ``trial`` (``S31A10T01``) of ``device`` (``watch`` or ``meta_wrist``) under ``root`` (the folder
    holding ``group``/): ``read_smartfallmm`` of ``<root>/<group>/accelerometer/<device>/<trial>.csv.gz`` (or
    ``.csv``)."""
    if device not in DEVICES:
        raise InputError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if not _TRIAL.match(str(trial)):
        raise InputError(f"trial must read SxxAyyTzz (e.g. S31A10T01), got {trial!r}")
    base = os.path.join(os.fspath(root), group, "accelerometer", device, str(trial).upper())
    for s in _SUFFIXES:
        if os.path.exists(base + s):
            return read_smartfallmm(base + s, rate_hz=rate_hz, max_gap_s=max_gap_s)[0]
    raise InputError(f"no SmartFallMM file {base}.csv.gz")


def find_smartfallmm_trials(root: str | os.PathLike, *, device: str = "watch", group: str = "young") -> list[str]:
    """The trial ids (``S31A10T01``, sorted) under ``root`` with both an accelerometer and a gyroscope file of
    ``device``."""
    folders = [os.path.join(os.fspath(root), group, m, device) for m in ("accelerometer", "gyroscope")]
    found = []
    for folder in folders:
        names = set()
        if os.path.isdir(folder):
            for n in os.listdir(folder):
                trial, suffix = _split_name(n)
                if suffix.lower() in _SUFFIXES and _TRIAL.match(trial):
                    names.add(trial.upper())
        found.append(names)
    return sorted(found[0] & found[1])


register_reader("imu", "smartfallmm", (".csv.gz",), read_smartfallmm, search=(".csv.gz",),
                options=("rate_hz", "max_gap_s"),
                description="SmartFallMM <group>/accelerometer/<watch|meta_wrist>/SxxAyyTzz.csv.gz (+ its gyroscope "
                            "file): bursty stamps resampled, watch left wrist, meta_wrist right")


# ---------------------------------------------------------------------------------------------------------------
# The Azure Kinect skeleton of the same trials (a motion)
# ---------------------------------------------------------------------------------------------------------------

SKELETON_FPS = 30.0
"""SmartFallMM's skeleton rate (no time column; confirmed by the waving frequency against the watch's gyroscope)."""


def camera_to_world(xyz) -> np.ndarray:
    """Azure Kinect depth-camera coordinates (x to the right in the image, y down, z forward) to the z-up world:
    ``(x, y, z) -> (x, z, -y)``, a proper rotation (the subject's left stays left)."""
    xyz = np.asarray(xyz, np.float64)
    return np.stack([xyz[..., 0], xyz[..., 2], -xyz[..., 1]], -1)


def read_smartfallmm_skeleton(path: str | os.PathLike, *, fps: Optional[float] = None,
                              joint_set: Optional[str] = None) -> Motion:
    """A SmartFallMM skeleton ``<root>/<group>/skeleton/SxxAyyTzz.csv[.gz]`` as a ``Motion`` (``azure32``): 96
    numbers a row (32 Azure Kinect Body Tracking joints in ``k4abt`` order, x y z in millimetres, depth-camera
    frame), one row a frame at 30 fps, no header, turned into metres in the z-up world (``camera_to_world``).

    The rows are returned as they are. The tracker repeats its last pose when it loses the body (a row identical
    to the one before: median 1 % of the rows, 25-60 % in many falls) and its joints jump (10-20 cm between two
    frames): ``imusim_jax.load_motion`` (and the dataset builder) repairs both, as for every motion file
    (``imusim_jax.repair_artefacts``: such frames get confidence 0 and are interpolated over time), and reports
    them (``find_artefacts``). ``fps`` overrides the rate; ``joint_set`` may only name ``azure32`` (convert after
    loading, ``Motion.to``)."""
    path = os.fspath(path)
    if joint_set is not None and get_joint_set(joint_set).name != "azure32":
        raise InputError(f"{path!r} holds joint set azure32, not {joint_set!r}; convert after loading (Motion.to)")
    rows = [ln for ln in _lines(path) if ln.strip()]
    try:
        X = np.array([[float(v) for v in ln.split(",")] for ln in rows], np.float64)
    except ValueError:
        raise InputError(f"{path}: not a SmartFallMM skeleton (rows of 96 numbers, 32 joints x y z in mm)") from None
    if X.ndim != 2 or X.shape[1] != 96 or len(X) < 4:
        raise InputError(f"{path}: a SmartFallMM skeleton has rows of 96 numbers (32 joints x y z in mm) and at least "
                         f"4 rows, got an array of shape {X.shape}")
    if not np.isfinite(X).all():
        raise InputError(f"{path}: the skeleton has NaN or infinite values")
    fps = float(check_time_base(SKELETON_FPS if fps is None else fps, None, None)[0])
    if np.all(X[1:] == X[:-1]):
        raise InputError(f"{path}: the tracker held one pose throughout: no motion to read")
    return Motion.create(camera_to_world(X.reshape(len(X), 32, 3) / 1000.0), fps, "azure32")


register_reader("motion", "smartfallmm-skeleton", (".csv.gz",), read_smartfallmm_skeleton, search=(".csv.gz",),
                options=("fps", "joint_set"),
                description="SmartFallMM <group>/skeleton/SxxAyyTzz.csv.gz: Azure Kinect azure32 in mm, 30 fps")
