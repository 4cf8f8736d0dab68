"""Reading and writing IMU signals: CSV, NPZ and Parquet, in SI units.

* CSV: header ``t,ax,ay,az,gx,gy,gz`` (seconds, m/s^2, rad/s), one row per sample.
* NPZ: arrays ``t`` (T,), ``accel`` (T, 3), ``gyro`` (T, 3), plus ``rate_hz``.
* Parquet: columns ``t,ax,ay,az,gx,gy,gz`` (float64) with ``rate_hz`` and units in the schema metadata.

Writers go through a temporary file and an atomic rename, so an interrupted run never leaves a half file.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Optional

import numpy as np

from imusim_jax._motion import InputError, _fps_from_time, check_npz_magic
from imusim_jax._signal import ImuSignal

__all__ = ["write_signal", "read_signal", "COLUMNS", "atomic_path", "check_writable"]

COLUMNS = ("t", "ax", "ay", "az", "gx", "gy", "gz")


class atomic_path:
    """Context manager yielding a temporary path beside ``path``; renamed onto ``path`` on success only. A failure
    to write (a read-only or missing folder that cannot be made, a full disk) is an ``InputError`` naming
    ``path``, not the temporary file."""

    def __init__(self, path: str | os.PathLike, suffix: Optional[str] = None):
        self.path = os.fspath(path)
        self.suffix = suffix if suffix is not None else os.path.splitext(self.path)[1]

    def __enter__(self) -> str:
        d = os.path.dirname(os.path.abspath(self.path))
        self.tmp = None
        try:
            if os.path.isdir(self.path):
                raise IsADirectoryError(21, "it is a directory")
            os.makedirs(d, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(prefix=".tmp-", suffix=self.suffix, dir=d)
            os.close(fd)
        except OSError as e:
            raise _write_error(self.path, e) from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                mask = os.umask(0)  # mkstemp makes the file 0600; give it what open() would (0666 less the umask)
                os.umask(mask)
                os.chmod(self.tmp, 0o666 & ~mask)
                os.replace(self.tmp, self.path)
                return False
            if os.path.exists(self.tmp):
                os.remove(self.tmp)
        except OSError as e:
            raise _write_error(self.path, e) from None
        if isinstance(exc, OSError):
            raise _write_error(self.path, exc) from None
        return False


def _write_error(path: str, e: OSError) -> InputError:
    if isinstance(e, FileExistsError) and e.filename:  # os.makedirs met a file where a folder goes
        return InputError(f"cannot write {path}: {e.filename} is a file, not a folder")
    return InputError(f"cannot write {path}: {e.strerror or e}")


def check_writable(path: str | os.PathLike) -> None:
    """Raise ``InputError`` (one line) if ``path`` could not be written: it is a folder, or its nearest existing
    folder is a file or not writable. Run before a long computation, so that it fails at once."""
    shown = os.fspath(path)
    path = os.path.abspath(shown)
    if os.path.isdir(path):
        raise InputError(f"cannot write {shown}: it is a directory")
    d = os.path.dirname(path)
    while not os.path.exists(d) and os.path.dirname(d) != d:
        d = os.path.dirname(d)
    if not os.path.isdir(d):
        raise InputError(f"cannot write {shown}: {os.path.relpath(d)} is a file, not a folder")
    if not os.access(d, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {shown}: {os.path.relpath(d)} is not writable")


def _table(signal: ImuSignal) -> np.ndarray:
    if signal.batched:
        raise ValueError("write one clip at a time (ImuSignal.unbatch())")
    a, g = np.asarray(signal.accel, np.float64), np.asarray(signal.gyro, np.float64)
    return np.column_stack([signal.t, a, g])


def write_signal(signal: ImuSignal, path: str | os.PathLike, **metadata) -> None:
    """Write one clip to ``.csv``, ``.npz`` or ``.parquet`` (chosen by the extension), SI units.

    CSV: header ``t,ax,ay,az,gx,gy,gz``. NPZ: arrays ``t`` (T,), ``accel`` and ``gyro`` (T, 3), ``rate_hz``, and
    ``q_ws`` (T, 4) when known. Parquet: the CSV's columns and the NPZ's (``accel``, ``gyro`` as lists of 3)."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    X = _table(signal)
    if ext == ".csv":
        with atomic_path(path) as tmp:
            np.savetxt(tmp, X, delimiter=",", header=",".join(COLUMNS), comments="", fmt="%.9g")
    elif ext == ".npz":
        with atomic_path(path) as tmp:
            extra = {} if signal.q_ws is None else {"q_ws": np.asarray(signal.q_ws, np.float64)}
            np.savez(tmp, t=X[:, 0], accel=X[:, 1:4], gyro=X[:, 4:7], rate_hz=np.float64(signal.rate_hz),
                     **extra)
    elif ext == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        meta = {"rate_hz": str(signal.rate_hz), "units": "t: s, a*: m/s^2 (specific force), g*: rad/s",
                **{k: json.dumps(v) for k, v in metadata.items()}}
        cols = {c: X[:, i] for i, c in enumerate(COLUMNS)}
        # the .npz spelling too: ``accel`` and ``gyro`` as (T, 3) columns of fixed-size lists
        cols.update({name: pa.FixedSizeListArray.from_arrays(pa.array(X[:, sl].ravel()), 3)
                     for name, sl in (("accel", slice(1, 4)), ("gyro", slice(4, 7)))})
        table = pa.table(cols).replace_schema_metadata(meta)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    else:
        raise InputError(f"unsupported output {path!r}: use .csv, .npz or .parquet")


def read_signal(path: str | os.PathLike, rate_hz: Optional[float] = None) -> ImuSignal:
    """Read a signal written by ``write_signal`` (or any CSV with the ``t,ax,ay,az,gx,gy,gz`` header); an ``.npz``
    brings back the sensor's orientation ``q_ws`` too."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".npz", ".parquet"):
        raise InputError(f"unsupported signal file {path!r} (.csv, .npz or .parquet)")
    try:
        return _read_signal(path, ext, rate_hz)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as e:  # one line, the file named
        what = e.strerror if isinstance(e, OSError) and e.strerror else f"{type(e).__name__}: {e}"
        raise InputError(f"cannot read {path} as a signal ({ext}): {what}".splitlines()[0]) from None


def _read_signal(path: str, ext: str, rate_hz: Optional[float]) -> ImuSignal:
    q_ws = None
    if ext == ".csv":
        with open(path) as f:
            header = f.readline().strip().split(",")
        if tuple(h.strip() for h in header) != COLUMNS:
            raise InputError(f"{path}: expected header {','.join(COLUMNS)}")
        X = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    elif ext == ".npz":
        check_npz_magic(path, "t=..., accel=..., gyro=...")
        with np.load(path, allow_pickle=False) as z:
            X = np.column_stack([z["t"], z["accel"], z["gyro"]])
            rate_hz = rate_hz or (float(z["rate_hz"]) if "rate_hz" in z.files else None)
            q_ws = z["q_ws"] if "q_ws" in z.files else None
    else:  # .parquet
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        X = np.column_stack([table[c].to_numpy() for c in COLUMNS])
        meta = table.schema.metadata or {}
        rate_hz = rate_hz or (float(meta[b"rate_hz"]) if b"rate_hz" in meta else None)
    if X.ndim != 2 or X.shape[1] != 7 or len(X) == 0:
        raise InputError(f"{path}: expected rows of {','.join(COLUMNS)}, got an array of shape {X.shape}")
    if rate_hz is None:  # a CSV without its '# rate_hz' line: from the time column, as motion CSVs
        if len(X) < 2:
            raise InputError(f"{path}: one sample and no rate")
        rate_hz = _fps_from_time(X[:, 0], str(path))
    return ImuSignal(X[:, 1:4], X[:, 4:7], None, q_ws, float(rate_hz))
