"""IMU signals in the package's own formats, SI units: what ``simulate`` writes and ``read_signal`` reads back.

* CSV: header ``t,ax,ay,az,gx,gy,gz`` (seconds, m/s^2, rad/s), one row per sample.
* NPZ: arrays ``t`` (T,), ``accel`` (T, 3), ``gyro`` (T, 3), plus ``rate_hz`` and ``q_ws`` (T, 4) when known.
* Parquet: columns ``t,ax,ay,az,gx,gy,gz`` (float64) with ``rate_hz``, units and the caller's metadata in the
  schema metadata, and the NPZ's ``accel``/``gyro`` as columns of 3-element lists.

Writers go through a temporary file and an atomic rename (``atomic_path``), so an interrupted run never leaves a
half file. Each format is also a registered ``imu`` reader (``imusim_jax.io.registry``).
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import Optional

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._signal import ImuRecording, ImuSignal
from imusim_jax.io.files import atomic_path, check_npz_magic, rate_from_time
from imusim_jax.io.registry import _read, register_reader

__all__ = ["write_signal", "read_signal", "read_recordings", "COLUMNS"]

COLUMNS = ("t", "ax", "ay", "az", "gx", "gy", "gz")


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


def read_recordings(path: str | os.PathLike, *, format: Optional[str] = None, **options) -> list[ImuRecording]:
    """Every recording in an IMU file, read by the registered ``imu`` reader of its format (by suffix, or
    ``format=``): the package's own ``.csv``/``.npz``/``.parquet`` (``write_signal``; any CSV with the
    ``t,ax,ay,az,gx,gy,gz`` header too; an ``.npz`` brings back the sensor's orientation ``q_ws``) or a real
    dataset's (``imusim_jax.datasets``). Each is an ``ImuRecording``: SI units, uniform samples, metadata. Keyword
    options go to the reader (``rate_hz`` overrides a file's rate where the reader takes it)."""
    return _read("imu", path, format, options)


def read_signal(path: str | os.PathLike, rate_hz: Optional[float] = None, *, format: Optional[str] = None,
                **options) -> ImuSignal:
    """The signal of a file that holds one recording (``read_recordings``); one holding several is a one-line
    ``InputError`` pointing to ``read_recordings``."""
    recs = read_recordings(path, format=format, **({} if rate_hz is None else {"rate_hz": rate_hz}), **options)
    if len(recs) != 1:
        raise InputError(f"{os.fspath(path)} holds {len(recs)} recordings; read them with "
                         "imusim_jax.io.read_recordings")
    return recs[0].signal


def _read_own(path: str, *, rate_hz: Optional[float] = None) -> list[ImuRecording]:
    ext = os.path.splitext(path)[1].lower()
    try:
        return [ImuRecording(_read_signal(path, ext, rate_hz), path, {"dataset": "imusim-jax"})]
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
        rate_hz = rate_from_time(X[:, 0], str(path))
    return ImuSignal(X[:, 1:4], X[:, 4:7], None, q_ws, rate_hz=float(rate_hz))


for _ext in ("csv", "npz", "parquet"):
    register_reader("imu", f"imusim-{_ext}", (f".{_ext}",), _read_own, options=("rate_hz",),
                    description=f"the package's own .{_ext} (t,ax,ay,az,gx,gy,gz in s, m/s^2, rad/s)")
