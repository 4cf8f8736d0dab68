"""The dataset builder's shards as training data: read, filter, resample, window, label, split, augment.

A dataset folder holds ``shards/*.parquet`` (or ``*.parquet`` directly) and ``dataset.json``. Each row is one
clip; the columns this package reads (the rest are kept as metadata):

  source (str), dataset (str), clip_id (str), person (int), subject (str or null), activity (str or null),
  source_label (str), safety (``safe``/``unsafe``), severity (int 0-4), kind (``synthetic``/``real``),
  placement (str), rate_hz (float), accel and gyro (T x 3 floats: m/s^2 specific force and rad/s, sensor frame;
  list-of-lists or fixed-size-list columns).

Filters (``COLUMN=VALUE[,VALUE...]``, all must hold) compare the column's string form: ``str(value)``, ``null``
for a missing value, ``true``/``false`` for booleans; a numeric column also matches a number written otherwise
(``rate_hz=50`` keeps 50.0).

Windows: every clip is resampled to ``rate_hz`` (linear interpolation on ``k / rate_hz``, after a zero-phase
low-pass at 0.45 of the new rate when it is lower), then cut into windows of ``length_s`` every ``stride_s``;
the last window is aligned to the clip's end so no tail is lost, and a clip shorter than one window gives one
window padded with zeros (its ``mask`` False there).

Augmentations (``augment_batch``: JAX, inside the jitted training step, one key per window), in this order:

* rate: with ``rate_prob``, the window is sampled at a random lower rate in [``rate_min_hz``, ``rate_hz``] and
  interpolated back (a slower, bursty watch's lost bandwidth); ``stretch``: time scaled by a factor in
  [1 - stretch, 1 + stretch] (the same motion done faster or slower; a rate mismatch);
* rotation about the forearm: the watch presets' sensor **x axis** lies along the forearm (``watch-left``: x
  toward the hand; ``watch-right``: toward the elbow), so a watch turned on the wrist is a rotation about x, by
  an angle uniform in +-``rotate_forearm_deg``; ``tilt_deg``: a further rotation about a random axis by up to that
  angle (a watch sitting askew); ``flip_prob``: a 180-degree turn about the sensor's y or z axis (a watch worn
  the other way round: UTD-MHAD's sensor sits turned 180 degrees about y relative to ``watch-right``);
* left/right wrist: with ``mirror_prob``, the recording becomes that of the same watch worn the usual way on the
  other wrist doing the mirrored motion (``watch-left`` <-> ``watch-right``): accelerometer x and gyroscope y, z
  change sign (a mirror reverses an axial vector, and the two presets differ by 180 degrees about z);
* ``gain``: per-axis scale in [1 - gain, 1 + gain]; ``noise_accel``, ``noise_gyro``: white noise (m/s^2, rad/s);
* saturation: with ``saturate_prob``, the accelerometer is clipped at a range drawn from ``accel_limits_g`` and
  the gyroscope at one drawn from ``gyro_limits_dps`` (a real watch's full scale).
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
from collections import Counter
from typing import Iterable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._errors import InputError

__all__ = ["Clips", "WindowConfig", "AugmentConfig", "Windows", "read_dataset", "parse_filters", "apply_filters",
           "string_form", "resample_clip", "make_windows", "encode", "subject_key", "split_by_subject",
           "augment_batch", "shard_files", "SAFETY_NAMES", "batches", "load_windows"]

SAFETY_NAMES = ("safe", "unsafe")
IMU_COLUMNS = ("accel", "gyro")


def shard_files(path: str | os.PathLike) -> list[str]:
    """The Parquet files of a dataset: ``path/shards/*.parquet``, else ``path/*.parquet``, or ``path`` itself."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise InputError(f"{path}: no such dataset folder")
    files = sorted(glob.glob(os.path.join(path, "shards", "*.parquet"))) or sorted(
        glob.glob(os.path.join(path, "*.parquet")))
    if not files:
        raise InputError(f"{path}: no shards (expected {os.path.join(path, 'shards', '*.parquet')})")
    return files


def string_form(v) -> str:
    """A cell's string form, as filters compare it."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "null"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    return str(v)


def parse_filters(specs: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    """``["kind=synthetic", "subject=1,2"]`` -> ``[("kind", ("synthetic",)), ("subject", ("1", "2"))]``."""
    out = []
    for s in specs or ():
        col, eq, vals = str(s).partition("=")
        col = col.strip()
        values = tuple(v.strip() for v in vals.split(","))
        if not eq or not col or not any(values):
            raise InputError(f"--filter takes COLUMN=VALUE[,VALUE...], got {s!r}")
        out.append((col, values))
    return out


def _matches(cells: Sequence, values: tuple[str, ...]) -> np.ndarray:
    nums = []
    for v in values:
        try:
            nums.append(float(v))
        except ValueError:
            pass
    keep = np.zeros(len(cells), bool)
    for i, c in enumerate(cells):
        if string_form(c) in values:
            keep[i] = True
        elif nums and isinstance(c, (int, float, np.integer, np.floating)) and not isinstance(c, bool):
            keep[i] = any(float(c) == n for n in nums)
    return keep


def apply_filters(table, filters) -> tuple[object, list[str]]:
    """The rows of a ``pyarrow.Table`` that pass every filter, and one report line per filter."""
    import pyarrow as pa

    lines = []
    for col, values in filters:
        if col not in table.column_names:
            cols = ", ".join(c for c in table.column_names if c not in IMU_COLUMNS)
            raise InputError(f"--filter {col}=...: no column {col!r} (columns: {cols})")
        keep = _matches(table.column(col).to_pylist(), values)
        lines.append(f"{col} in {{{', '.join(values)}}}: {int(keep.sum())} of {len(keep)} rows kept")
        table = table.filter(pa.array(keep))
    return table, lines


def _xyz_rows(col, what: str) -> list[Optional[np.ndarray]]:
    """A column of T x 3 floats (list or fixed-size list, of lists or fixed-size lists) as one ``(T, 3)`` float32
    array per row (``None`` for a null row)."""
    import pyarrow as pa

    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    n = len(arr)
    t = arr.type
    if pa.types.is_fixed_size_list(t):
        offs = np.arange(n + 1, dtype=np.int64) * t.list_size
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        offs = np.asarray(arr.offsets, np.int64)
        offs = offs - offs[0]
    else:
        raise InputError(f"column {what!r} must hold lists of 3 numbers per sample, got type {t}")
    inner = arr.flatten()
    ti = inner.type
    if pa.types.is_fixed_size_list(ti):
        if ti.list_size != 3:
            raise InputError(f"column {what!r}: samples must have 3 values, got {ti.list_size}")
    elif pa.types.is_list(ti) or pa.types.is_large_list(ti):
        io = np.asarray(inner.offsets, np.int64)
        if len(io) > 1 and not np.all(np.diff(io) == 3):
            raise InputError(f"column {what!r}: every sample must have 3 values (x, y, z)")
    else:
        raise InputError(f"column {what!r} must hold T x 3 numbers (a list of [x, y, z]), got type {t}")
    vals = inner.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    if len(vals) != 3 * int(offs[-1]):
        raise InputError(f"column {what!r}: null samples inside a clip")
    vals = vals.reshape(-1, 3)
    nulls = np.asarray(arr.is_null().to_numpy(zero_copy_only=False), bool)
    return [None if nulls[i] else vals[offs[i]:offs[i + 1]] for i in range(n)]


@dataclasses.dataclass
class Clips:
    """Clips as read from shards: ``meta`` one dict per clip (every non-IMU column), ``imu`` one ``(T, 6)``
    float32 array per clip (accelerometer m/s^2 then gyroscope rad/s), ``rate_hz`` ``(n,)``."""

    meta: list[dict]
    imu: list[np.ndarray]
    rate_hz: np.ndarray
    report: list[str] = dataclasses.field(default_factory=list)
    columns: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.imu)

    def column(self, name: str) -> list:
        return [m.get(name) for m in self.meta]

    def take(self, idx) -> "Clips":
        idx = [int(i) for i in idx]
        return Clips([self.meta[i] for i in idx], [self.imu[i] for i in idx], self.rate_hz[idx], list(self.report),
                     self.columns)


def read_dataset(path: str | os.PathLike, filters: Sequence[tuple[str, tuple[str, ...]]] = ()) -> Clips:
    """Read a dataset's shards, keep the rows that pass ``filters`` (``parse_filters``), and return ``Clips``.
    Rows without a usable signal (null, fewer than 2 samples, not finite, accel and gyro of different lengths)
    are left out and counted in ``report``. ``dataset.json`` (when present) is summarised in the report too."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = shard_files(path)
    tables = []
    for f in files:
        try:
            tables.append(pq.read_table(f))
        except Exception as e:  # noqa: BLE001 - pyarrow raises several types for a broken file
            raise InputError(f"{f}: not a readable Parquet file ({type(e).__name__}: {str(e).splitlines()[0]})") \
                from None
    try:
        table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
        raise InputError(f"{path}: the shards' schemas do not agree ({str(e).splitlines()[0]})") from None
    for c in IMU_COLUMNS:
        if c not in table.column_names:
            raise InputError(f"{path}: the shards have no {c!r} column (columns: {', '.join(table.column_names)})")
    report = [f"{len(files)} shard(s), {table.num_rows} rows"]
    table, lines = apply_filters(table, filters)
    report += lines
    accel = _xyz_rows(table.column("accel"), "accel")
    gyro = _xyz_rows(table.column("gyro"), "gyro")
    names = [c for c in table.column_names if c not in IMU_COLUMNS]
    meta_cols = {c: table.column(c).to_pylist() for c in names}
    rates = meta_cols.get("rate_hz", [None] * table.num_rows)
    meta, imu, rate, bad = [], [], [], Counter()
    for i in range(table.num_rows):
        a, g = accel[i], gyro[i]
        r = rates[i]
        if a is None or g is None:
            bad["null accel or gyro"] += 1
            continue
        if len(a) != len(g):
            bad["accel and gyro of different lengths"] += 1
            continue
        if len(a) < 2:
            bad["fewer than 2 samples"] += 1
            continue
        if r is None or not np.isfinite(float(r)) or float(r) <= 0:
            bad["no positive rate_hz"] += 1
            continue
        x = np.concatenate([a, g], axis=1)
        if not np.isfinite(x).all():
            bad["non-finite samples"] += 1
            continue
        meta.append({c: meta_cols[c][i] for c in names})
        imu.append(x)
        rate.append(float(r))
    for why, k in sorted(bad.items()):
        report.append(f"left out {k} row(s): {why}")
    info = os.path.join(os.fspath(path), "dataset.json") if os.path.isdir(os.fspath(path)) else None
    if info and os.path.exists(info):
        try:
            with open(info) as f:
                d = json.load(f)
            if isinstance(d, dict) and d.get("name"):
                report.insert(0, f"dataset {d['name']}")
        except (OSError, ValueError):
            report.append("dataset.json is not readable JSON (ignored)")
    return Clips(meta, imu, np.asarray(rate, np.float64), report, tuple(names))


# ---------------------------------------------------------------------------------------------------------------
# resampling and windows
# ---------------------------------------------------------------------------------------------------------------

def resample_clip(x: np.ndarray, rate_in: float, rate_out: float) -> np.ndarray:
    """``(T, C)`` sampled at ``k / rate_in`` -> sampled at ``k / rate_out`` over the same span (linear
    interpolation; a zero-phase 4th-order Butterworth low-pass at ``0.45 rate_out`` first when downsampling)."""
    x = np.asarray(x, np.float64)
    if abs(rate_in - rate_out) < 1e-9 * rate_out:
        return x.astype(np.float32)
    if rate_out < rate_in and len(x) > 27:
        from scipy.signal import butter, sosfiltfilt

        sos = butter(2, 0.45 * rate_out / (0.5 * rate_in), output="sos")
        x = sosfiltfilt(sos, x, axis=0)
    t_in = np.arange(len(x)) / rate_in
    n = int(np.floor(t_in[-1] * rate_out + 1e-9)) + 1
    t_out = np.arange(n) / rate_out
    return np.stack([np.interp(t_out, t_in, x[:, c]) for c in range(x.shape[1])], axis=1).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class WindowConfig:
    """``rate_hz``: the common rate every clip is resampled to; ``length_s``, ``stride_s``: window length and
    step for training; ``eval_stride_s``: the step for validation and evaluation (default ``stride_s``)."""

    rate_hz: float = 50.0
    length_s: float = 2.56
    stride_s: float = 1.28
    eval_stride_s: Optional[float] = None

    def __post_init__(self):
        for k in ("rate_hz", "length_s", "stride_s"):
            if not float(getattr(self, k)) > 0:
                raise ValueError(f"window.{k} must be > 0, got {getattr(self, k)!r}")
        if self.eval_stride_s is not None and not float(self.eval_stride_s) > 0:
            raise ValueError(f"window.eval_stride_s must be > 0, got {self.eval_stride_s!r}")

    @property
    def length(self) -> int:
        return max(int(round(self.length_s * self.rate_hz)), 2)

    def stride(self, evaluation: bool = False) -> int:
        s = self.eval_stride_s if (evaluation and self.eval_stride_s is not None) else self.stride_s
        return max(int(round(s * self.rate_hz)), 1)


@dataclasses.dataclass
class Windows:
    """``x`` ``(N, W, 6)`` float32, ``mask`` ``(N, W)`` bool, ``clip`` ``(N,)`` the clip each came from."""

    x: np.ndarray
    mask: np.ndarray
    clip: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def window_starts(n: int, length: int, stride: int) -> list[int]:
    """Start samples of the windows of a clip of ``n`` samples (the last aligned to the end)."""
    if n <= length:
        return [0]
    starts = list(range(0, n - length + 1, stride))
    if starts[-1] != n - length:
        starts.append(n - length)
    return starts


def make_windows(clips: Clips, cfg: WindowConfig, *, evaluation: bool = False) -> Windows:
    """Every clip resampled to ``cfg.rate_hz`` and cut into windows (see the module's description)."""
    W, S = cfg.length, cfg.stride(evaluation)
    xs, ms, cs = [], [], []
    for i, (x, r) in enumerate(zip(clips.imu, clips.rate_hz)):
        y = resample_clip(x, float(r), cfg.rate_hz)
        for s in window_starts(len(y), W, S):
            seg = y[s:s + W]
            w = np.zeros((W, y.shape[1]), np.float32)
            w[:len(seg)] = seg
            m = np.zeros(W, bool)
            m[:len(seg)] = True
            xs.append(w)
            ms.append(m)
            cs.append(i)
    if not xs:
        return Windows(np.zeros((0, W, 6), np.float32), np.zeros((0, W), bool), np.zeros(0, np.int64))
    return Windows(np.stack(xs), np.stack(ms), np.asarray(cs, np.int64))


# ---------------------------------------------------------------------------------------------------------------
# labels and splits
# ---------------------------------------------------------------------------------------------------------------

def encode(values: Sequence, classes: Sequence[str]) -> np.ndarray:
    """Class indices of ``values`` in ``classes`` (compared as strings), ``-1`` for null or unknown values."""
    index = {str(c): i for i, c in enumerate(classes)}
    return np.asarray([-1 if v is None else index.get(str(v), -1) for v in values], np.int64)


def severity_labels(values: Sequence) -> np.ndarray:
    out = []
    for v in values:
        try:
            s = int(v)
        except (TypeError, ValueError):
            s = -1
        out.append(s if 0 <= s <= 4 else -1)
    return np.asarray(out, np.int64)


def subject_key(meta: dict) -> str:
    """The person a clip shows, for subject-wise splits: ``dataset/subject``, or, without a subject,
    ``dataset/source/clip_id/person`` (each such clip its own group)."""
    ds = meta.get("dataset") or meta.get("source") or "?"
    if meta.get("subject") not in (None, ""):
        return f"{ds}/{meta['subject']}"
    return f"{ds}/{meta.get('source')}/{meta.get('clip_id')}/{meta.get('person')}"


def split_by_subject(clips: Clips, val_fraction: float, seed: int,
                     val_subjects: Optional[Sequence[str]] = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(train_idx, val_idx, val_groups)``: whole subjects go to validation, about ``val_fraction`` of them (at
    least one when there are two or more; none with fewer), chosen by a seeded shuffle; ``val_subjects`` names
    them instead (``subject`` values, or ``dataset/subject`` keys)."""
    keys = [subject_key(m) for m in clips.meta]
    groups = sorted(set(keys))
    if val_subjects:
        wanted = {str(v) for v in val_subjects}
        val = sorted(g for g in groups if g in wanted or g.split("/", 1)[-1] in wanted)
        if not val:
            raise InputError(f"split.val_subjects {sorted(wanted)} match no subject (subjects: "
                             f"{', '.join(groups[:20])}{' ...' if len(groups) > 20 else ''})")
    elif len(groups) < 2 or val_fraction <= 0:
        val = []
    else:
        k = min(max(1, int(round(val_fraction * len(groups)))), len(groups) - 1)
        rng = np.random.default_rng([int(seed), 7])
        val = sorted(rng.permutation(groups)[:k].tolist())
    vs = set(val)
    is_val = np.asarray([k in vs for k in keys], bool)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val), val


def load_windows(path: str | os.PathLike, *, filters: Iterable[str] = (), window: Optional[WindowConfig] = None,
                 label: str = "activity", classes: Optional[Sequence[str]] = None, evaluation: bool = False) -> dict:
    """A dataset folder as labelled windows, in one call: ``{"x" (N, W, 6), "mask" (N, W), "label" (N,) int (-1:
    null or not in ``classes``), "safety" (N,) (0 safe, 1 unsafe, -1), "subject" (N,) str (``subject_key``),
    "clip" (N,) (index into ``"clips"``), "classes", "clips"}``. ``filters``: ``COLUMN=VALUE[,VALUE...]``
    strings (all must hold); ``classes``: default the sorted values of ``label`` present."""
    clips = read_dataset(path, parse_filters(filters))
    w = make_windows(clips, window or WindowConfig(), evaluation=evaluation)
    values = clips.column(label)
    if classes is None:
        classes = sorted({str(v) for v in values if v is not None})
    subjects = np.asarray([subject_key(m) for m in clips.meta], dtype=object)
    return {"x": w.x, "mask": w.mask, "label": encode(values, classes)[w.clip],
            "safety": encode(clips.column("safety"), SAFETY_NAMES)[w.clip], "subject": subjects[w.clip],
            "clip": w.clip, "classes": list(classes), "clips": clips}


def batches(x: np.ndarray, mask: np.ndarray, labels: Optional[np.ndarray] = None, *, batch_size: int = 64,
            balanced: bool = False, seed: int = 0, epochs: Optional[int] = 1, drop_last: bool = False,
            as_jax: bool = False):
    """Batches ``{"x", "mask", "label", "index"}`` of windows (``load_windows``'s arrays, or a subset chosen with
    ``split_by_subject``), NumPy (``as_jax``: ``jax.Array``). Each epoch is ``len(x)`` windows: a seeded
    permutation, or with ``balanced`` (needs ``labels``) windows drawn with replacement so every labelled class is
    equally likely (windows labelled -1 are never drawn). ``epochs=None`` repeats without end; the last batch of
    an epoch is smaller unless ``drop_last``. The same seed gives the same batches."""
    x, mask = np.asarray(x), np.asarray(mask)
    n = len(x)
    if len(mask) != n or (labels is not None and len(labels) != n):
        raise ValueError(f"x, mask and labels must have the same length, got {n}, {len(mask)}, "
                         f"{None if labels is None else len(labels)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    p = None
    if balanced:
        if labels is None:
            raise ValueError("balanced sampling needs labels")
        y = np.asarray(labels)
        counts = np.bincount(y[y >= 0]) if (y >= 0).any() else np.zeros(0)
        if not counts.any():
            raise ValueError("balanced sampling needs at least one labelled window (labels >= 0)")
        p = np.where(y >= 0, 1.0 / np.maximum(counts[np.maximum(y, 0)], 1), 0.0)
        p = p / p.sum()
    put = jnp.asarray if as_jax else (lambda a: a)
    epoch = 0
    while epochs is None or epoch < epochs:
        rng = np.random.default_rng([int(seed), epoch, 2])
        order = rng.choice(n, size=n, replace=True, p=p) if balanced else rng.permutation(n)
        for s in range(0, n, batch_size):
            idx = order[s:s + batch_size]
            if drop_last and len(idx) < batch_size:
                break
            b = {"x": put(x[idx]), "mask": put(mask[idx]), "index": idx}
            if labels is not None:
                b["label"] = put(np.asarray(labels)[idx])
            yield b
        epoch += 1


# ---------------------------------------------------------------------------------------------------------------
# augmentations (JAX)
# ---------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    """Training augmentations (see the module's description); zeros turn each off. ``enabled=False`` turns all
    off."""

    enabled: bool = True
    rotate_forearm_deg: float = 30.0
    tilt_deg: float = 0.0
    flip_prob: float = 0.0
    mirror_prob: float = 0.5
    stretch: float = 0.1
    rate_prob: float = 0.3
    rate_min_hz: float = 20.0
    gain: float = 0.05
    noise_accel: float = 0.02
    noise_gyro: float = 0.005
    saturate_prob: float = 0.2
    accel_limits_g: tuple = (2.0, 4.0, 8.0, 16.0)
    gyro_limits_dps: tuple = (250.0, 500.0, 1000.0, 2000.0)

    def __post_init__(self):
        for k in ("flip_prob", "mirror_prob", "rate_prob", "saturate_prob"):
            if not 0.0 <= float(getattr(self, k)) <= 1.0:
                raise ValueError(f"augment.{k} must be in [0, 1], got {getattr(self, k)!r}")
        for k in ("rotate_forearm_deg", "tilt_deg", "stretch", "gain", "noise_accel", "noise_gyro",
                  "rate_min_hz"):
            if float(getattr(self, k)) < 0:
                raise ValueError(f"augment.{k} must be >= 0, got {getattr(self, k)!r}")
        if float(self.stretch) >= 0.5:
            raise ValueError(f"augment.stretch must be < 0.5, got {self.stretch!r}")
        for k in ("accel_limits_g", "gyro_limits_dps"):
            v = tuple(float(x) for x in getattr(self, k))
            if not v or min(v) <= 0:
                raise ValueError(f"augment.{k} must be a list of positive numbers, got {getattr(self, k)!r}")
            object.__setattr__(self, k, v)


def _rot_x(theta):
    c, s = jnp.cos(theta), jnp.sin(theta)
    one, zero = jnp.ones_like(c), jnp.zeros_like(c)
    return jnp.stack([jnp.stack([one, zero, zero]), jnp.stack([zero, c, -s]), jnp.stack([zero, s, c])])


def _rodrigues(axis, theta):
    u = axis / jnp.maximum(jnp.linalg.norm(axis), 1e-9)
    K = jnp.array([[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]], jnp.float32)
    return jnp.eye(3, dtype=jnp.float32) + jnp.sin(theta) * K + (1.0 - jnp.cos(theta)) * (K @ K)


def _interp_cols(q, xp, x):
    """``x`` ``(W, C)`` sampled at ``xp`` ``(W,)``, read at ``q`` ``(W,)``."""
    return jax.vmap(lambda col: jnp.interp(q, xp, col), in_axes=1, out_axes=1)(x)


def augment_one(key, x, mask, cfg: AugmentConfig, rate_hz: float):
    """One window ``x`` ``(W, 6)``, ``mask`` ``(W,)`` (valid samples first) -> augmented ``(x, mask)``."""
    f32 = jnp.float32
    W = x.shape[0]
    ks = jax.random.split(key, 16)
    k_idx = jnp.arange(W, dtype=f32)
    n_valid = jnp.sum(mask.astype(f32))
    # rate: sample at a random lower rate, interpolate back
    if cfg.rate_prob > 0 and cfg.rate_min_hz < rate_hz:
        r = jax.random.uniform(ks[0], (), f32, min(cfg.rate_min_hz, rate_hz), rate_hz)
        pos = k_idx * (rate_hz / r)
        low = _interp_cols(pos, k_idx, x)
        back = _interp_cols(k_idx, pos, low)
        x = jnp.where(jax.random.bernoulli(ks[1], cfg.rate_prob), back, x)
    # time stretch of the valid part
    if cfg.stretch > 0:
        s = jax.random.uniform(ks[2], (), f32, 1.0 - cfg.stretch, 1.0 + cfg.stretch)
        pos = k_idx * s
        x = _interp_cols(pos, k_idx, x)
        mask = pos <= jnp.maximum(n_valid - 1.0, 0.0)
    R = jnp.eye(3, dtype=f32)
    if cfg.rotate_forearm_deg > 0:
        th = jax.random.uniform(ks[3], (), f32, -1.0, 1.0) * jnp.deg2rad(f32(cfg.rotate_forearm_deg))
        R = _rot_x(th) @ R
    if cfg.tilt_deg > 0:
        axis = jax.random.normal(ks[4], (3,), f32)
        th = jax.random.uniform(ks[5], (), f32, 0.0, 1.0) * jnp.deg2rad(f32(cfg.tilt_deg))
        R = _rodrigues(axis, th) @ R
    if cfg.flip_prob > 0:
        about_y = jax.random.bernoulli(ks[6], 0.5)
        flip = jnp.where(about_y, jnp.array([-1.0, 1.0, -1.0], f32), jnp.array([-1.0, -1.0, 1.0], f32))
        flip = jnp.where(jax.random.bernoulli(ks[7], cfg.flip_prob), flip, jnp.ones(3, f32))
        R = flip[:, None] * R
    a = x[:, :3] @ R.T
    g = x[:, 3:] @ R.T
    if cfg.mirror_prob > 0:
        m = jax.random.bernoulli(ks[8], cfg.mirror_prob)
        a = a * jnp.where(m, jnp.array([-1.0, 1.0, 1.0], f32), jnp.ones(3, f32))[None, :]
        g = g * jnp.where(m, jnp.array([1.0, -1.0, -1.0], f32), jnp.ones(3, f32))[None, :]
    x = jnp.concatenate([a, g], axis=1)
    if cfg.gain > 0:
        x = x * jax.random.uniform(ks[9], (1, 6), f32, 1.0 - cfg.gain, 1.0 + cfg.gain)
    if cfg.noise_accel > 0 or cfg.noise_gyro > 0:
        sd = jnp.array([cfg.noise_accel] * 3 + [cfg.noise_gyro] * 3, f32)[None, :]
        x = x + sd * jax.random.normal(ks[10], x.shape, f32)
    if cfg.saturate_prob > 0:
        al = jnp.asarray(cfg.accel_limits_g, f32) * f32(STANDARD_GRAVITY)
        gl = jnp.deg2rad(jnp.asarray(cfg.gyro_limits_dps, f32))
        a_lim = jax.random.choice(ks[11], al)
        g_lim = jax.random.choice(ks[12], gl)
        lim = jnp.concatenate([jnp.full((3,), a_lim), jnp.full((3,), g_lim)])[None, :]
        on = jax.random.bernoulli(ks[13], cfg.saturate_prob)
        x = jnp.where(on, jnp.clip(x, -lim, lim), x)
    x = jnp.where(mask[:, None], x, f32(0.0))
    return x, mask


def augment_batch(key, x, mask, cfg: AugmentConfig, rate_hz: float):
    """``augment_one`` over a batch ``x`` ``(B, W, 6)``, ``mask`` ``(B, W)`` (one key per window)."""
    if not cfg.enabled:
        return x, mask
    keys = jax.random.split(key, x.shape[0])
    return jax.vmap(lambda k, a, m: augment_one(k, a, m, cfg, float(rate_hz)))(keys, x, mask)
