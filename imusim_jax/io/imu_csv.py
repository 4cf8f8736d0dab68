"""A generic IMU CSV: a time column (or a declared rate) and three accelerometer and three gyroscope columns, in SI
or declared units; registered as the ``imu`` reader ``csv`` for ``.csv``.

It is a superset of the package's own CSV (``imusim-csv``, header exactly ``t,ax,ay,az,gx,gy,gz`` in s, m/s^2,
rad/s, ``imusim_jax.io.signals``): such a file read without layout options is handed to that reader, so it comes
back exactly as before. Other layouts:

* ``columns``: the time column and the six channels, as a mapping (``{"t": "time", "ax": "AccX", ...}``; keys
  ``t, ax, ay, az, gx, gy, gz``) or a comma list of 7 names (time first) or 6 (no time column: give ``rate_hz``);
  a name may be a 0-based column number (a file without a header row). Without ``columns`` the header is matched
  by common names (``t``/``time``/``timestamp``; ``ax``/``acc_x``/``accel_x``/``AccX``/``accelerometer x``;
  ``gx``/``gyr_x``/``gyro_x``/``GyrX``/``wx``/``angular velocity x``, any case, spaces, ``_`` or ``-``), and a
  file without a header row of 7 (or 6) numbers a row is taken as ``t,ax,ay,az,gx,gy,gz`` (or without ``t``).
* ``accel_unit``: ``m/s^2`` or ``g``; ``gyro_unit``: ``rad/s`` or ``deg/s``. Default: a unit written in the
  header (``ax (g)``, ``gx [deg/s]``, ``dps``), else SI. An undeclared accelerometer whose median magnitude is
  near 1 is warned about (it looks like g).
* ``time_unit``: ``s`` or ``ms``. Default: ``ms`` when the header says so (``time_ms``, ``t (ms)``), when stamps
  are epoch milliseconds (> 1e11), or when steps are ``rate_from_time``'s milliseconds; else seconds. Wall-clock
  stamps (``2022-07-26 14:45:16.260``) are read as seconds (``imusim_jax.io.resample.clock_seconds``).
* ``rate_hz``: the samples' rate. Without a time column it is required (or a ``# rate_hz: 50`` comment line).
  With a time column whose steps are regular it overrides the column's rate, as for the own CSV. With irregular
  stamps (steps varying by more than 25 %, duplicates, backward steps) the rows are resampled
  (``resample_uniform``: duplicates averaged, the longest contiguous chunk, linear) onto a grid at ``rate_hz``,
  or at the measured rate; the report is in the recording's ``meta["resample"]``. ``max_gap_s`` (1 s): stamps
  further apart split the file into chunks, the longest kept.
* ``accel_range``, ``gyro_range``: the sensor's range in the given units (one value or three); samples at it are
  flagged in ``ImuSignal.saturated`` (``saturation_mask``).

Each file is one recording (``meta``: ``dataset`` "csv", ``t0_s``). Errors are one-line ``InputError``s; a
dataset's own CSV layout is read by its reader (``format=``: see ``imusim_jax.io.readers("imu")``).

Registry: this reader and ``imusim-csv`` both claim ``.csv``; ``find_reader`` takes, among equally long suffixes,
the first registered, and ``imusim_jax.io`` imports this module before ``signals``, so ``.csv`` resolves here
(``format="imusim-csv"`` still picks the strict own reader).
"""
from __future__ import annotations

import csv
import io as _io
import os
import re
import warnings
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._errors import InputError
from imusim_jax._motion import MAX_FPS, MIN_FPS
from imusim_jax._signal import ImuRecording, ImuSignal
from imusim_jax.io.files import comment_lines, is_number, rate_from_time, read_text
from imusim_jax.io.registry import readers, register_reader
from imusim_jax.io.resample import clock_seconds, resample_uniform, saturation_mask

__all__ = ["read_imu_csv", "CHANNELS", "convert_units"]

CHANNELS = ("t", "ax", "ay", "az", "gx", "gy", "gz")
_OWN = CHANNELS  # imusim_jax.io.signals.COLUMNS (not imported here: see the registry note above)

_ACC_UNITS = {"m/s^2": 1.0, "m/s2": 1.0, "m/s**2": 1.0, "mps2": 1.0, "g": STANDARD_GRAVITY}
_GYR_UNITS = {"rad/s": 1.0, "deg/s": np.pi / 180.0, "dps": np.pi / 180.0, "°/s": np.pi / 180.0}
_TIME_UNITS = {"s": 1.0, "ms": 1e-3}

_ALIASES = {
    "t": ("t", "time", "times", "timestamp", "timestamps", "ts", "seconds", "elapsed", "elapsedtime"),
    "ax": ("ax", "accx", "accelx", "accelerationx", "accelerometerx", "accxaxis"),
    "ay": ("ay", "accy", "accely", "accelerationy", "accelerometery", "accyaxis"),
    "az": ("az", "accz", "accelz", "accelerationz", "accelerometerz", "acczaxis"),
    "gx": ("gx", "gyrx", "gyrox", "gyroscopex", "wx", "angularvelocityx", "angvelx", "omegax", "rotx"),
    "gy": ("gy", "gyry", "gyroy", "gyroscopey", "wy", "angularvelocityy", "angvely", "omegay", "roty"),
    "gz": ("gz", "gyrz", "gyroz", "gyroscopez", "wz", "angularvelocityz", "angvelz", "omegaz", "rotz"),
}
_UNIT_IN_NAME = re.compile(r"[\(\[]\s*([^\)\]]+?)\s*[\)\]]")


def _key(name: str) -> str:
    """A header name reduced for matching: unit in brackets removed, lower case, no spaces, ``_``, ``-``, ``.``."""
    return re.sub(r"[\s_\-.]", "", _UNIT_IN_NAME.sub("", name)).lower().removesuffix("list")


def _unit_of(name: str) -> Optional[str]:
    m = _UNIT_IN_NAME.search(name)
    if m:
        u = m.group(1).strip().lower().replace(" ", "").replace("²", "^2").replace("sec", "s")
        return {"°/s": "deg/s", "degree/s": "deg/s", "degrees/s": "deg/s"}.get(u, u)
    low = name.lower()
    for suffix, unit in (("_ms", "ms"), ("_dps", "dps"), ("_deg", "deg/s"), ("_rad", "rad/s"), ("_g", "g")):
        if low.endswith(suffix):
            return unit
    return None


def convert_units(accel: np.ndarray, gyro: np.ndarray, accel_unit: str, gyro_unit: str, what: str):
    """``accel`` in ``accel_unit`` (``m/s^2``/``g``) and ``gyro`` in ``gyro_unit`` (``rad/s``/``deg/s``) to SI."""
    fa, fg = _ACC_UNITS.get(str(accel_unit).strip().lower()), _GYR_UNITS.get(str(gyro_unit).strip().lower())
    if fa is None:
        raise InputError(f"{what}: accel_unit must be 'm/s^2' or 'g', got {accel_unit!r}")
    if fg is None:
        raise InputError(f"{what}: gyro_unit must be 'rad/s' or 'deg/s', got {gyro_unit!r}")
    return np.asarray(accel, np.float64) * fa, np.asarray(gyro, np.float64) * fg


def _parse_columns(columns, header: Optional[list], what: str) -> dict:
    """The ``columns`` option as {channel: column index}."""
    if isinstance(columns, str):
        columns = [c.strip() for c in columns.split(",")]
    if isinstance(columns, Mapping):
        spec = {str(k).strip().lower(): v for k, v in columns.items()}
        bad = sorted(set(spec) - set(CHANNELS))
        if bad:
            raise InputError(f"{what}: columns keys must be among {','.join(CHANNELS)}, got {bad[0]!r}")
    elif isinstance(columns, Sequence):
        columns = list(columns)
        if len(columns) not in (6, 7):
            raise InputError(f"{what}: columns must name 7 columns (time, 3 accelerometer, 3 gyroscope) or 6 (no time "
                             f"column), got {len(columns)}")
        spec = dict(zip(CHANNELS if len(columns) == 7 else CHANNELS[1:], columns))
    else:
        raise InputError(f"{what}: columns must be a mapping or a comma list, got {type(columns).__name__}")
    missing = [c for c in CHANNELS[1:] if c not in spec]
    if missing:
        raise InputError(f"{what}: columns does not name {','.join(missing)}")
    out = {}
    for ch, name in spec.items():
        if isinstance(name, (int, np.integer)) or (isinstance(name, str) and name.strip().isdigit()
                                                    and (header is None or name.strip() not in header)):
            idx = int(name)
        else:
            if header is None:
                raise InputError(f"{what}: the file has no header row; name columns by number (0-based)")
            names = [h.strip() for h in header]
            if str(name).strip() not in names:
                low = [n.lower() for n in names]
                if str(name).strip().lower() not in low:
                    raise InputError(f"{what}: no column {name!r} (columns: {', '.join(names)})")
                idx = low.index(str(name).strip().lower())
            else:
                idx = names.index(str(name).strip())
        if header is not None and not (0 <= idx < len(header)):
            raise InputError(f"{what}: column number {idx} is outside the file's {len(header)} columns")
        out[ch] = idx
    return out


def _match_header(header: list, what: str) -> dict:
    keys = [_key(h) for h in header]
    out = {}
    for ch, aliases in _ALIASES.items():
        hits = [i for i, k in enumerate(keys)
                if k in aliases or (ch == "t" and re.sub(r"(ms|us|sec|s)$", "", k) in aliases)]
        if hits:
            out[ch] = hits[0]
    missing = [c for c in CHANNELS[1:] if c not in out]
    if missing:
        known = ", ".join(r.name for r in readers("imu") if r.name != "csv")
        raise InputError(f"{what}: no column found for {','.join(missing)} (header: {','.join(header)[:120]}); name "
                         f"them with columns=..., or read a dataset's file with its format= ({known})")
    return out


def _is_clock(s: str) -> bool:
    try:
        clock_seconds(s)
        return True
    except ValueError:
        return False


def _read_rows(path: str) -> tuple[list[list[str]], dict]:
    meta, lines = comment_lines(read_text(path))
    if not lines:
        raise InputError(f"{path} has no data rows")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    return list(csv.reader(_io.StringIO("\n".join(lines)), delimiter=delim)), meta


def _own_header(path: str) -> bool:
    """The file's first line is the own header ``t,ax,ay,az,gx,gy,gz`` (what ``imusim-csv`` requires)."""
    try:
        with open(path) as f:
            return tuple(h.strip() for h in f.readline().strip().split(",")) == _OWN
    except (OSError, UnicodeDecodeError):
        return False


def _times(cells: list[str], what: str) -> np.ndarray:
    try:
        return np.array([float(c) if c.strip() else np.nan for c in cells], np.float64)
    except ValueError:
        pass
    try:
        return np.array([clock_seconds(c) for c in cells], np.float64)
    except ValueError:
        bad = next(c for c in cells if not is_number(c))
        raise InputError(f"{what}: time {bad!r} is neither a number nor a date-time stamp") from None


def _looks_ms(t: np.ndarray) -> bool:
    f = t[np.isfinite(t)]
    if len(f) < 2:
        return False
    if np.median(np.abs(f)) > 1e11:  # epoch milliseconds (1e11 s would be the year 5138)
        return True
    span = float(f.max() - f.min())
    if span <= 0:
        return False
    fps = (len(f) - 1) / span
    return fps < MIN_FPS and MIN_FPS <= fps * 1000 <= MAX_FPS


def read_imu_csv(path: str | os.PathLike, *, columns: Union[str, Mapping, Sequence, None] = None,
                 accel_unit: Optional[str] = None, gyro_unit: Optional[str] = None, rate_hz: Optional[float] = None,
                 time_unit: Optional[str] = None, accel_range=None, gyro_range=None,
                 max_gap_s: float = 1.0) -> list[ImuRecording]:
    """Read an IMU CSV (see the module's description for the layouts and options) as one ``ImuRecording``: SI
    units, uniform samples; irregular stamps resampled. The package's own CSV without options is read by
    ``imusim-csv`` (identical result)."""
    path = os.fspath(path)
    layout_given = any(v is not None for v in (columns, accel_unit, gyro_unit, time_unit, accel_range, gyro_range))
    if not layout_given and _own_header(path):
        from imusim_jax.io.signals import _read_own  # the own format, exactly as imusim-csv reads it

        return _read_own(path, rate_hz=rate_hz)
    rows, comments = _read_rows(path)
    has_header = not all(is_number(c) or _is_clock(c) for c in rows[0] if c.strip())
    header = [h.strip() for h in rows[0]] if has_header else None
    data = rows[1:] if has_header else rows
    if not data:
        raise InputError(f"{path} has no data rows")
    width = len(rows[0])
    if columns is not None:
        idx = _parse_columns(columns, header, path)
    elif header is not None:
        idx = _match_header(header, path)
    elif width in (6, 7):
        idx = {c: i for i, c in enumerate(CHANNELS if width == 7 else CHANNELS[1:])}
    else:
        raise InputError(f"{path}: no header row and {width} columns; expected t,ax,ay,az,gx,gy,gz (7) or the six "
                         "channels (6), or name them with columns=... (0-based numbers)")
    need = max(idx.values()) + 1
    for r_i, r in enumerate(data, start=2 if has_header else 1):
        if len(r) < need:
            raise InputError(f"{path}: row {r_i} has {len(r)} fields; column {need - 1} is read")
    vals = np.empty((len(data), 6), np.float64)
    for j, ch in enumerate(CHANNELS[1:]):
        col = idx[ch]
        try:
            vals[:, j] = [float(r[col]) if r[col].strip() else np.nan for r in data]
        except ValueError:
            bad = next(r_i for r_i, r in enumerate(data) if r[col].strip() and not is_number(r[col]))
            name = header[col] if header else f"#{col}"
            raise InputError(f"{path}: row {bad + (2 if has_header else 1)}, column {name!r}: {data[bad][col]!r} "
                             "is not a number") from None
    # units: the option, else the header's, else SI
    def unit(given, chans, table, default, kind):
        if given is not None:
            return given, True
        found = {_unit_of(header[idx[c]]) for c in chans} - {None} if header else set()
        found = {u for u in found if u in table}
        if len(found) > 1:
            raise InputError(f"{path}: the {kind} columns state different units {sorted(found)}; pass {kind}_unit")
        return (found.pop(), True) if found else (default, False)

    a_unit, a_declared = unit(accel_unit, ("ax", "ay", "az"), _ACC_UNITS, "m/s^2", "accel")
    g_unit, _ = unit(gyro_unit, ("gx", "gy", "gz"), _GYR_UNITS, "rad/s", "gyro")
    acc_raw, gyr_raw = vals[:, :3], vals[:, 3:]
    sat = None
    if accel_range is not None or gyro_range is not None:
        lim = np.r_[np.broadcast_to(np.asarray(np.inf if accel_range is None else accel_range, float), (3,)),
                    np.broadcast_to(np.asarray(np.inf if gyro_range is None else gyro_range, float), (3,))]
        sat = saturation_mask(vals, lim)
    accel, gyro = convert_units(acc_raw, gyr_raw, a_unit, g_unit, path)
    if not a_declared:
        with np.errstate(invalid="ignore"):
            med = float(np.nanmedian(np.linalg.norm(accel, axis=1))) if np.isfinite(accel).any() else np.nan
        if 0.5 < med < 1.5:
            warnings.warn(f"{path}: the accelerometer's median magnitude is {med:.2f} m/s^2, which looks like g (or "
                          "gravity removed); pass accel_unit='g' if it is", UserWarning, stacklevel=3)
    X = np.column_stack([accel, gyro])
    if rate_hz is None and "rate_hz" in comments:
        try:
            rate_hz = float(comments["rate_hz"])
        except ValueError:
            raise InputError(f"{path}: '# rate_hz' comment is not a number: {comments['rate_hz']!r}") from None
    meta = {"dataset": "csv", "units_read": {"accel": a_unit, "gyro": g_unit}}
    if "t" not in idx:
        if rate_hz is None:
            raise InputError(f"{path}: no time column; pass the rate (rate_hz=...) or name the time column in columns")
        if not np.isfinite(X).all():
            raise InputError(f"{path}: empty or non-finite values (rows without a time column cannot be resampled)")
        if len(X) < 2:
            raise InputError(f"{path}: one sample; at least two are needed")
        meta["t0_s"] = 0.0
        return [ImuRecording(ImuSignal(X[:, :3], X[:, 3:], None, None, sat, rate_hz=float(rate_hz)), path, meta)]
    t = _times([r[idx["t"]] for r in data], path)
    tname = header[idx["t"]] if header else ""
    tu = time_unit if time_unit is not None else (_unit_of(tname) if _unit_of(tname) in _TIME_UNITS else None)
    if tu is None:
        tu = "ms" if _looks_ms(t) else "s"
    if str(tu).strip().lower() not in _TIME_UNITS:
        raise InputError(f"{path}: time_unit must be 's' or 'ms', got {time_unit!r}")
    t = t * _TIME_UNITS[str(tu).strip().lower()]
    meta["units_read"]["t"] = tu
    regular = False
    if len(t) >= 2 and np.isfinite(t).all() and np.isfinite(X).all():
        try:
            file_rate = rate_from_time(t, path)
            regular = True
        except InputError:
            regular = False
    if regular:
        meta["t0_s"] = float(t[0])
        return [ImuRecording(ImuSignal(X[:, :3], X[:, 3:], None, None, sat,
                                       rate_hz=float(rate_hz if rate_hz is not None else file_rate)), path, meta)]
    r = resample_uniform(t, X, rate_hz, saturated=sat, max_gap_s=max_gap_s, what=path)
    meta.update(t0_s=float(r.t[0]), resample=r.report)
    return [ImuRecording(ImuSignal(r.x[:, :3], r.x[:, 3:], None, None, r.saturated, rate_hz=r.rate_hz), path, meta)]


register_reader("imu", "csv", (".csv",), read_imu_csv,
                options=("columns", "accel_unit", "gyro_unit", "rate_hz", "time_unit", "accel_range", "gyro_range",
                         "max_gap_s"),
                description="any IMU CSV: time (s/ms/date-time) or a rate, 3 accel (m/s^2 or g), 3 gyro (rad/s or "
                            "deg/s) columns by name or columns=; the own t,ax,ay,az,gx,gy,gz as imusim-csv")
