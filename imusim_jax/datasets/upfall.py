"""UP-Fall Detection (Martinez-Villasenor et al., Sensors 2019): the LEFT wrist IMU (a Mbientlab MetaSensor
"simulating a smart watch") of 17 subjects, 11 activities (1-5 falls), 3 trials each, about 18.4 Hz.

Registered as the ``imu`` reader ``upfall`` (``CompleteDataSet.csv``, ``upfall_falls_wrist.csv``; a per-trial
``Subject{X}Activity{Y}Trial{Z}.csv`` shares ``.csv`` with every CSV: read it with ``format="upfall"``). Three
layouts, told apart by their header:

* The published CSV, ``CompleteDataSet.csv`` (all trials) and per trial ``Subject{X}Activity{Y}Trial{Z}.csv``:
  two header rows (the sensor's name over its first column, e.g. ``WristAccelerometer``, then axis and unit, e.g.
  ``x-axis (g)``), column 0 ``TimeStamps`` (date-time), 29-31 the wrist accelerometer in g, 32-34 the wrist angular
  velocity in deg/s, 43-46 ``Subject, Activity, Trial, Tag``. The wrist columns are found by their header names
  (the first header row's ``Wrist...Accelerometer``/``Wrist...AngularVelocity``), units by the second row's
  ``(g)``/``(deg/s)``, and otherwise taken at those column numbers. One recording per (subject, activity,
  trial), its stamps (irregular around 18.4 Hz) resampled onto an 18.4 Hz grid (``imusim_jax.io.resample``);
  ``meta["tag_runs"]`` holds the per-row ``Tag`` as ``(tag, start_s, end_s)`` runs in the source clock, and for a
  fall whose ``Tag`` marks the fall on part of the trial, ``fall_s`` that part.
* The falls-only export ``upfall_falls_wrist.csv`` (``../shared/realdata/upfall``): named columns
  ``WristACCX,WristACCY,WristACCZ`` (g), ``WristVELX,WristVELY,WristVELZ`` (deg/s), the other sensors', ``Activity``
  (1-5) and ``LABEL`` (1 from the authors' impact mark on; empty in some rows); no time, subject or trial column:
  rows are consecutive samples at ``UPFALL_RATE_HZ``. One recording per run of rows with one ``Activity`` (each
  run holds a subject's trials of that fall, back to back); ``meta``: ``run`` (the activity's 1st, 2nd, ...),
  ``rows`` (its rows in the file), ``label`` (per sample, NaN where empty), ``impact_rows`` and ``impact_s`` (where
  ``LABEL`` turns to 1, from the run's start).

Every recording's ``meta``: ``dataset`` "UP-Fall", ``subject``, ``activity``, ``activity_name``, ``trial`` (None
where unknown), ``side`` "left", ``device``, ``fall``, ``t0_s`` (None without a time column). No saturation
flags: the sensors' configured ranges are not published with the CSV.
"""
from __future__ import annotations

import csv
import io as _io
import os
import re
from typing import Optional

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._motion import check_time_base
from imusim_jax._signal import ImuRecording, ImuSignal
from imusim_jax.io.files import is_number, read_text
from imusim_jax.io.imu_csv import convert_units
from imusim_jax.io.registry import register_reader
from imusim_jax.io.resample import clock_seconds, resample_uniform

__all__ = ["UPFALL_RATE_HZ", "UPFALL_ACTIVITIES", "read_upfall"]

UPFALL_RATE_HZ = 18.4
"""UP-Fall's published CSV rate (the sensors synchronised to the cameras' frames), Hz."""
UPFALL_ACTIVITIES = {
    1: "falling forward using hands", 2: "falling forward using knees", 3: "falling backwards",
    4: "falling sideward", 5: "falling sitting in empty chair", 6: "walking", 7: "standing", 8: "sitting",
    9: "picking up an object", 10: "jumping", 11: "laying",
}
DEVICE = "Mbientlab MetaSensor (left wrist)"
# the published layout's documented column numbers (0-based): the fallback when the header does not name them
COL_TIME = 0
COL_WRIST_ACC = (29, 30, 31)
COL_WRIST_GYRO = (32, 33, 34)
COL_SUBJECT, COL_ACTIVITY, COL_TRIAL, COL_TAG = 43, 44, 45, 46
_TRIAL_NAME = re.compile(r"subject(\d+)activity(\d+)trial(\d+)\.csv$", re.IGNORECASE)
_EXPORT = ("WristACCX", "WristACCY", "WristACCZ", "WristVELX", "WristVELY", "WristVELZ")


def _rows(path: str) -> list[list[str]]:
    rows = [r for r in csv.reader(_io.StringIO(read_text(path))) if any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{path}: empty file")
    return rows


def _number(s: str) -> float:
    s = s.strip()
    return float(s) if s else np.nan


def _floats(rows, cols, path, first_row):
    out = np.empty((len(rows), len(cols)), np.float64)
    for j, c in enumerate(cols):
        try:
            out[:, j] = [_number(r[c]) if c < len(r) else np.nan for r in rows]
        except ValueError:
            i = next(i for i, r in enumerate(rows) if c < len(r) and r[c].strip() and not is_number(r[c]))
            raise InputError(f"{path}: row {first_row + i}, column {c}: {rows[i][c]!r} is not a number") from None
    return out


def _runs(values: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` index ranges of equal consecutive values (NaN equal to NaN)."""
    v = np.where(np.isnan(values), -np.inf, values)
    edges = np.r_[0, np.flatnonzero(np.diff(v) != 0) + 1, len(v)]
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _meta(subject, activity, trial) -> dict:
    act = None if activity is None else int(activity)
    return {"dataset": "UP-Fall", "subject": subject, "activity": act,
            "activity_name": UPFALL_ACTIVITIES.get(act), "trial": trial, "side": "left", "device": DEVICE,
            "fall": None if act is None else act <= 5}


def _read_export(path: str, rows: list[list[str]], rate_hz: Optional[float]) -> list[ImuRecording]:
    header = [h.strip() for h in rows[0]]
    low = [h.lower() for h in header]
    missing = [c for c in _EXPORT + ("Activity",) if c.lower() not in low]
    if missing:
        raise InputError(f"{path}: no column {missing[0]!r}; expected UP-Fall's falls export (WristACCX..WristVELZ, "
                         "Activity, LABEL)")
    cols = [low.index(c.lower()) for c in _EXPORT]
    data = rows[1:]
    if len(data) < 2:
        raise InputError(f"{path}: {len(data)} data row(s); at least two are needed")
    X = _floats(data, cols, path, 2)
    act = _floats(data, [low.index("activity")], path, 2)[:, 0]
    label = _floats(data, [low.index("label")], path, 2)[:, 0] if "label" in low else np.full(len(data), np.nan)
    if not np.isfinite(X).all():
        i = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise InputError(f"{path}: row {i + 2} has an empty or non-finite wrist value")
    rate = float(check_time_base(UPFALL_RATE_HZ if rate_hz is None else rate_hz, None, None)[0])
    accel, gyro = convert_units(X[:, :3], X[:, 3:], "g", "deg/s", path)
    out, seen = [], {}
    for a, b in _runs(act):
        if b - a < 2:
            raise InputError(f"{path}: rows {a + 2}-{b + 1} are a run of one sample of Activity {act[a]:g}")
        if not np.isfinite(act[a]):
            raise InputError(f"{path}: rows {a + 2}-{b + 1} have no Activity")
        activity = int(act[a])
        seen[activity] = seen.get(activity, 0) + 1
        lab = label[a:b]
        on = np.flatnonzero((lab == 1) & np.r_[True, lab[:-1] != 1])
        meta = _meta(None, activity, None)
        meta.update(run=seen[activity], rows=(a, b), t0_s=None, label=lab, impact_rows=on.tolist(),
                    impact_s=(on / rate).tolist())
        out.append(ImuRecording(ImuSignal(accel[a:b], gyro[a:b], None, None, None, rate_hz=rate), path, meta))
    return out


def _group_columns(top: list[str]) -> list[str]:
    """The first header row with each sensor's name carried over its empty cells."""
    out, cur = [], ""
    for h in top:
        cur = h.strip() or cur
        out.append(cur)
    return out


def _find_sensor(names: list[str], want: tuple[str, ...]) -> Optional[int]:
    """The first column of the wrist sensor whose (carried) name holds all of ``want``."""
    for i, n in enumerate(names):
        k = re.sub(r"[\s_\-]", "", n).lower()
        if "wrist" in k and all(w in k for w in want) and (i == 0 or names[i - 1] != n):
            return i
    return None


def _unit(cells: list[str], kind: str) -> Optional[str]:
    text = " ".join(cells).lower().replace(" ", "")
    if kind == "accel":
        return "g" if "(g)" in text else ("m/s^2" if "m/s" in text else None)
    return "deg/s" if ("deg/s" in text or "°/s" in text) else ("rad/s" if "rad/s" in text else None)


def _read_published(path: str, rows: list[list[str]], rate_hz: Optional[float],
                    max_gap_s: float) -> list[ImuRecording]:
    if len(rows) < 4:
        raise InputError(f"{path}: two header rows and {len(rows) - 2} data row(s); at least two are needed")
    top, second, data = rows[0], rows[1], rows[2:]
    names = _group_columns(top)
    acc0 = _find_sensor(names, ("acc",))
    gyr0 = _find_sensor(names, ("angular",)) or _find_sensor(names, ("gyro",))
    acc_cols = tuple(range(acc0, acc0 + 3)) if acc0 is not None else COL_WRIST_ACC
    gyr_cols = tuple(range(gyr0, gyr0 + 3)) if gyr0 is not None else COL_WRIST_GYRO
    width = len(top)
    if max(acc_cols + gyr_cols) >= width:
        raise InputError(f"{path}: {width} columns, no wrist accelerometer and angular velocity named in the first "
                         f"header row and none at columns {COL_WRIST_ACC[0]}-{COL_WRIST_GYRO[-1]}")
    a_unit = _unit([second[c] for c in acc_cols if c < len(second)], "accel") or "g"
    g_unit = _unit([second[c] for c in gyr_cols if c < len(second)], "gyro") or "deg/s"
    low = [h.strip().lower() for h in top]

    def col(name, default):
        return low.index(name) if name in low else (default if default < width else None)

    c_sub, c_act, c_tri, c_tag = (col("subject", COL_SUBJECT), col("activity", COL_ACTIVITY),
                                  col("trial", COL_TRIAL), col("tag", COL_TAG))
    c_time = low.index("timestamps") if "timestamps" in low else COL_TIME
    X = _floats(data, acc_cols + gyr_cols, path, 3)
    accel, gyro = convert_units(X[:, :3], X[:, 3:], a_unit, g_unit, path)
    X = np.column_stack([accel, gyro])
    cells = [r[c_time] if c_time < len(r) else "" for r in data]
    try:
        t = np.array([clock_seconds(c) if c.strip() else np.nan for c in cells])
    except ValueError:
        try:
            t = np.array([_number(c) for c in cells])
        except ValueError:
            bad = next(i for i, c in enumerate(cells) if c.strip() and not is_number(c))
            raise InputError(f"{path}: row {bad + 3}: TimeStamps {cells[bad]!r} is neither a date-time nor a "
                             "number") from None
    ids = {k: (_floats(data, [c], path, 3)[:, 0] if c is not None else np.full(len(data), np.nan))
           for k, c in (("subject", c_sub), ("activity", c_act), ("trial", c_tri), ("tag", c_tag))}
    m = _TRIAL_NAME.search(os.path.basename(path))
    named = tuple(int(g) for g in m.groups()) if m else (None, None, None)
    keys = np.column_stack([ids["subject"], ids["activity"], ids["trial"]])
    order = list(dict.fromkeys(tuple(np.where(np.isnan(k), -1, k)) for k in keys))
    keys_f = np.where(np.isnan(keys), -1, keys)
    out = []
    for k in order:
        sel = (keys_f == np.asarray(k)).all(axis=1)
        subject, activity, trial = (int(v) if v >= 0 else n for v, n in zip(k, named))
        what = f"{path} (subject {subject}, activity {activity}, trial {trial})" if len(order) > 1 else path
        r = resample_uniform(t[sel], X[sel], UPFALL_RATE_HZ if rate_hz is None else rate_hz, max_gap_s=max_gap_s,
                             what=what)
        meta = _meta(subject, activity, trial)
        meta.update(t0_s=float(r.t[0]), resample=r.report)
        ts, tags = t[sel], ids["tag"][sel]
        o = np.argsort(ts, kind="stable")
        ts, tags = ts[o], tags[o]
        if np.isfinite(tags).any():
            meta["tag_runs"] = [(None if np.isnan(tags[a]) else int(tags[a]), float(ts[a]), float(ts[b - 1]))
                                for a, b in _runs(tags)]
            if activity is not None and activity <= 5:
                hit = np.flatnonzero(tags == activity)
                if 0 < len(hit) < len(tags):
                    meta["fall_s"] = (float(ts[hit[0]]), float(ts[hit[-1]]))
        out.append(ImuRecording(ImuSignal(r.x[:, :3], r.x[:, 3:], None, None, None, rate_hz=r.rate_hz), path, meta))
    return out


def read_upfall(path: str | os.PathLike, *, rate_hz: Optional[float] = None,
                max_gap_s: float = 1.0) -> list[ImuRecording]:
    """Read an UP-Fall CSV (the published ``CompleteDataSet.csv`` or a per-trial ``Subject{X}Activity{Y}Trial{Z}
    .csv``, or the falls-only export; see the module's description) as ``ImuRecording``s of the left wrist, SI
    units. ``rate_hz``: the grid's rate for the published layout, the rows' rate for the export (default for
    both ``UPFALL_RATE_HZ``, the dataset's 18.4 Hz). ``max_gap_s``: stamps further apart split a trial into chunks
    (the longest kept)."""
    path = os.fspath(path)
    rows = _rows(path)
    first = [h.strip().lower() for h in rows[0]]
    if "wristaccx" in first:
        return _read_export(path, rows, rate_hz)
    if (first and first[0].startswith("timestamp")) or (len(rows) > 1 and not is_number(rows[1][0])):
        return _read_published(path, rows, rate_hz, max_gap_s)
    raise InputError(f"{path}: not an UP-Fall CSV (expected two header rows starting with TimeStamps, or the falls "
                     "export's WristACCX..., Activity columns)")


register_reader("imu", "upfall", ("completedataset.csv", "upfall_falls_wrist.csv"), read_upfall,
                search=("completedataset.csv", "upfall_falls_wrist.csv"), options=("rate_hz", "max_gap_s"),
                description="UP-Fall left wrist (g, deg/s): CompleteDataSet.csv, Subject*Activity*Trial*.csv "
                            "(format='upfall'), the falls-only export")
