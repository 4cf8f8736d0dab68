"""WEDA-FALL (Marques and Moreno, Instituto Superior Tecnico; GitHub joaojtmarques/WEDA-FALL, ``dataset/50Hz``):
a Fitbit Sense smartwatch on one wrist (the upstream README does not say which: ``meta["side"]`` is None), falls
F01-F08 and daily activities D01-D11.

Layout: ``<root>/50Hz/<code>/U<user>_R<repetition>_accel.csv`` (header ``accel_time_list,accel_x_list,
accel_y_list,accel_z_list``: time in s from 0, specific force in m/s^2, one decimal) and ``..._gyro.csv`` (header
``gyro_time_list,gyro_x_list,...``, rad/s, one decimal); ``<root>/fall_timestamps.csv``
(``filename,start_time,end_time``, e.g. ``F01/U01_R01,4.7,7.7``: the fall within each fall recording, s). Nominally
50 Hz, the watch delivers in bursts (stamps 1-3 ms apart, then a gap): about 40 rows/s. Both streams are
resampled linearly onto one grid over their common span (``imusim_jax.io.resample.resample_streams``; default:
the measured rate snapped, 40 or 50 Hz; the report in ``meta["resample"]``). The sensor's range is not published:
no saturation flags.

Registered as the ``imu`` reader ``weda-fall``: a recording is addressed by its ``_accel.csv`` (the ``_gyro.csv``
beside it); ``.csv`` is every CSV's suffix, so pass ``format="weda-fall"`` (a folder search takes
``*_R01_accel.csv`` to ``*_R09_accel.csv``, not the ``_vertical_accel.csv`` files). ``meta``: ``dataset``
"WEDA-FALL", ``subject`` (user number), ``activity`` (the code, ``F01``), ``activity_name``, ``trial``
(repetition), ``fall``, ``side`` None and ``side_note``, ``device`` "Fitbit Sense",
``t0_s`` (the grid's first sample in the file's time, s), and for a fall listed in ``fall_timestamps.csv``
``fall_s`` = (start, end) in the same time as ``t0_s``.
"""
from __future__ import annotations

import csv
import os
import re
from typing import Optional

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._signal import ImuRecording, ImuSignal
from imusim_jax.io.registry import register_reader
from imusim_jax.io.resample import resample_streams

__all__ = ["WEDA_ACTIVITIES", "read_weda_fall", "weda_fall_times"]

WEDA_ACTIVITIES = {
    "F01": "forward fall (slip while walking)", "F02": "lateral fall (slip while walking)",
    "F03": "backward fall (slip while walking)", "F04": "forward fall (trip while walking)",
    "F05": "backward fall when trying to sit down", "F06": "forward fall while seated (fainting)",
    "F07": "backward fall while seated (fainting)", "F08": "lateral fall while seated (fainting)",
    "D01": "walking", "D02": "jogging", "D03": "walking up and down stairs", "D04": "sit down and get up",
    "D05": "collapse into a chair", "D06": "crouch and tie shoes", "D07": "stumble while walking",
    "D08": "gentle jump", "D09": "hit a table", "D10": "clapping", "D11": "open and close a door",
}
MAX_ROWS_PER_S = 500.0
_NAME = re.compile(r"^U(\d+)_R(\d+)_accel\.csv$", re.IGNORECASE)
_SIDE_NOTE = "WEDA-FALL's README says the watch is on the wrist, not which one"


def _read_stream(path: str, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path}: not a text (UTF-8) CSV file") from None
    want = [f"{prefix}_{c}_list" for c in ("time", "x", "y", "z")]
    if not rows:
        raise InputError(f"{path}: empty file; expected the header {','.join(want)}")
    header = [h.strip().lower() for h in rows[0]]
    if any(w not in header for w in want):
        raise InputError(f"{path}: expected WEDA-FALL's header {','.join(want)}, got {','.join(rows[0])[:80]}")
    cols = [header.index(w) for w in want]
    try:
        X = np.array([[float(r[c]) for c in cols] for r in rows[1:]], np.float64).reshape(-1, 4)
    except (ValueError, IndexError):
        i = next(i for i, r in enumerate(rows[1:]) if len(r) <= max(cols) or not _numbers([r[c] for c in cols]))
        raise InputError(f"{path}: row {i + 2} is not {len(cols)} numbers: {','.join(rows[i + 1])[:60]!r}") from None
    if len(X) < 2:
        raise InputError(f"{path}: {len(X)} data row(s); at least two are needed")
    return X[:, 0], X[:, 1:]


def _numbers(cells) -> bool:
    try:
        [float(c) for c in cells]
        return True
    except ValueError:
        return False


def weda_fall_times(root: str | os.PathLike) -> dict[str, tuple[float, float]]:
    """``fall_timestamps.csv`` under ``root`` as ``{"F01/U01_R01": (start_s, end_s)}`` (empty when absent)."""
    path = os.path.join(os.fspath(root), "fall_timestamps.csv")
    if not os.path.exists(path):
        return {}
    out = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for i, r in enumerate(csv.DictReader(f)):
            try:
                out[r["filename"].strip()] = (float(r["start_time"]), float(r["end_time"]))
            except (KeyError, TypeError, ValueError):
                raise InputError(f"{path}: row {i + 2} is not filename,start_time,end_time") from None
    return out


def _times_file_root(accel_path: str) -> Optional[str]:
    """The folder holding ``fall_timestamps.csv``: above ``50Hz/`` (upstream's ``dataset/``), or ``50Hz/`` itself."""
    code_dir = os.path.dirname(os.path.abspath(accel_path))
    rate_dir = os.path.dirname(code_dir)
    for d in (os.path.dirname(rate_dir), rate_dir):
        if os.path.exists(os.path.join(d, "fall_timestamps.csv")):
            return d
    return None


def read_weda_fall(path: str | os.PathLike, *, rate_hz: Optional[float] = None,
                   max_gap_s: float = 1.0) -> list[ImuRecording]:
    """The WEDA-FALL recording whose accelerometer file is ``path`` (``U<user>_R<rep>_accel.csv``; its
    ``_gyro.csv`` beside it) as one ``ImuRecording``: SI units (the files' own), both streams resampled onto one
    uniform grid. ``rate_hz``: the grid's rate (default: measured, snapped); ``max_gap_s``: stamps further apart
    split a stream into chunks (the pair with the longest common span is kept). See the module's description."""
    path = os.fspath(path)
    name = os.path.basename(path)
    m = _NAME.match(name)
    if not m:
        raise InputError(f"{path}: a WEDA-FALL recording is read from its U<user>_R<rep>_accel.csv")
    gyro_path = os.path.join(os.path.dirname(path), name[: -len("_accel.csv")] + "_gyro.csv")
    if not os.path.exists(gyro_path):
        raise InputError(f"{path}: no gyroscope file beside it ({os.path.basename(gyro_path)})")
    ta, va = _read_stream(path, "accel")
    tg, vg = _read_stream(gyro_path, "gyro")
    r = resample_streams([(ta, va), (tg, vg)], rate_hz, max_gap_s=max_gap_s, max_rate_hz=MAX_ROWS_PER_S,
                         what=f"{path} (+ gyro)")
    code = os.path.basename(os.path.dirname(os.path.abspath(path))).upper()
    code = code if code in WEDA_ACTIVITIES else None
    meta = {"dataset": "WEDA-FALL", "subject": int(m.group(1)), "activity": code,
            "activity_name": WEDA_ACTIVITIES.get(code), "trial": int(m.group(2)),
            "fall": None if code is None else code.startswith("F"), "side": None, "side_note": _SIDE_NOTE,
            "device": "Fitbit Sense", "t0_s": float(r.t[0]), "gyro_path": gyro_path, "resample": r.report}
    root = _times_file_root(path)
    if code is not None and root is not None:
        key = f"{code}/{name[: -len('_accel.csv')]}"
        fall = weda_fall_times(root).get(key)
        if fall is not None:
            meta["fall_s"] = fall
    sig = ImuSignal(r.x[:, :3], r.x[:, 3:], None, None, None, rate_hz=r.rate_hz)
    return [ImuRecording(sig, path, meta)]


# a folder search takes U*_R01_accel.csv .. U*_R09_accel.csv: "_accel.csv" alone would take _vertical_accel.csv too
SEARCH = tuple(f"_r{n:02d}_accel.csv" for n in range(1, 10))
register_reader("imu", "weda-fall", (".csv",), read_weda_fall, search=SEARCH,
                options=("rate_hz", "max_gap_s"),
                description="WEDA-FALL 50Hz/<code>/U<u>_R<r>_accel.csv + _gyro.csv (m/s^2, rad/s; bursty, resampled; "
                            "format='weda-fall')")
