"""Real IMU time bases made uniform: irregular, bursty, duplicated or chunked timestamps onto ``t0 + k / rate``,
and the samples at a sensor's range flagged (``ImuSignal.saturated``).

Smartwatches log the way their operating system delivers events: many rows share a stamp (duplicates), rows come
in batches 0-3 ms apart and then nothing for 30-50 ms, stamps step backward now and then, and some files are
several recordings pasted together whose clocks jump by seconds to minutes. ``resample_uniform`` (one stream) and
``resample_streams`` (several streams of one device, e.g. its accelerometer and gyroscope, onto one grid):

1. drop rows whose time or values are not finite, sort by time (stable), average the rows of each duplicated
   stamp (a merged stamp is saturated on a channel if any of its rows is);
2. split into contiguous chunks wherever consecutive stamps are more than ``max_gap_s`` apart (1 s: SmartFallMM's
   convention; bursts and short stalls stay inside a chunk) and keep one: the longest (``chunk="longest"``), a
   given index, or, for several streams, the combination of chunks whose common span is longest;
3. choose the rate: ``rate_hz`` when given, else the measured rate ``measured_rate`` (distinct stamps per second
   of logging, stalls left out, so that neither bursts nor stalls bias it; the median step would measure the
   burst spacing) snapped to a common rate within 10 % (50, 100, 32, ...) or else rounded to 2 significant digits;
   for several streams the highest of their rates (the slower stream is interpolated, the faster one kept);
4. interpolate linearly onto ``t0 + k / rate`` (``k = 0, 1, ...`` up to the chunk's, or the common, end).

Why linear: each output sample leans on its two neighbouring stamps only, so a stamp's error, a gap or a clipped
plateau stays local, nothing overshoots the measured values (a spline through stamps 1 ms apart with noisy values
swings far beyond them, and it would put invented peaks on saturated plateaus), and a saturation flag carries over
exactly: an output sample is flagged on a channel when a stamp it takes a non-zero weight from is, and a flagged
stamp that no output sample leans on (one between two grid samples, inside a burst) flags its nearest, so that no
flag is lost. The price is a
mild low-pass (a linear interpolator's response falls to 0.64 at the source's Nyquist frequency), which is far
above the 0-15 Hz of arm motion in these recordings.

Errors are one-line ``InputError``s: no usable time base (no finite stamps, all rows at one stamp, a file
delivered in one burst), a recording too short for two samples. ``clock_seconds`` reads the wall-clock stamps
these files carry (``2022-07-26 14:45:16.26``) as seconds.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import itertools
from typing import Optional, Sequence, Union

import numpy as np

from imusim_jax._errors import InputError

__all__ = ["COMMON_RATES_HZ", "ResampleReport", "Resampled", "StreamReport", "clock_seconds", "measured_rate",
           "nice_rate", "resample_streams", "resample_uniform", "saturation_mask"]

COMMON_RATES_HZ = (10.0, 12.5, 15.0, 16.0, 20.0, 25.0, 30.0, 32.0, 40.0, 50.0, 60.0, 64.0, 100.0, 120.0, 125.0,
                   128.0, 200.0, 250.0, 256.0, 400.0, 500.0, 512.0, 1000.0)
"""Rates a measured rate snaps to when within 10 % (``nice_rate``)."""

_EPOCH = _dt.datetime(1970, 1, 1)


def clock_seconds(text: str) -> float:
    """A wall-clock stamp ``YYYY-mm-dd[ T]HH:MM:SS[.fff...]`` as seconds since 1970-01-01 of the same clock (no
    time zone is applied: device local time stays local). The fraction is a fraction whatever its length
    (``.44`` = 0.44 s, as SmartFallMM's files write 440 ms). ``ValueError`` when it is not such a stamp."""
    s = text.strip()
    head, _, frac = s.partition(".")
    if frac and not frac.isdigit():
        raise ValueError(f"not a time stamp: {text!r}")
    base = _dt.datetime.fromisoformat(head.replace("T", " "))
    if base.tzinfo is not None:
        base = base.replace(tzinfo=None) - base.utcoffset()
    return (base - _EPOCH).total_seconds() + (float("0." + frac) if frac else 0.0)


def saturation_mask(x, limit, *, rtol: float = 1e-3, atol: float = 0.0) -> np.ndarray:
    """``(T, C)`` booleans: samples at the sensor's range, ``|x| >= limit - (rtol * limit + atol)``.

    ``limit`` is one value or one per channel (``None`` or ``inf`` for a channel without a known range), in the
    units of ``x``. A clipping sensor reports its range or a hair below it (a MetaMotion's gyroscope reads 124.874,
    124.87, 124.867 deg/s at its 124.87 range), hence the tolerance: 0.1 % of the range by default."""
    x = np.asarray(x, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    lim = np.broadcast_to(np.asarray([np.inf if v is None else v for v in np.atleast_1d(np.asarray(limit, object))],
                                     np.float64), (x.shape[1],))
    if (lim <= 0).any():
        raise InputError(f"saturation limits must be positive, got {lim.tolist()}")
    with np.errstate(invalid="ignore"):
        thr = lim - (rtol * lim + atol)
        return np.abs(x) >= thr[None, :]


def nice_rate(rate: float) -> float:
    """``rate`` snapped to the nearest common rate (``COMMON_RATES_HZ``) within 10 %, else rounded to 2
    significant digits: a bursty watch measured at 47.3 rows/s gets a 50 Hz grid, one at 131 rows/s 128 Hz, one at
    81.4 rows/s 81 Hz. Linear interpolation onto a grid 10 % finer or coarser than the stamps loses nothing of
    arm motion; a grid that is a round number keeps recordings of one device comparable."""
    if not (np.isfinite(rate) and rate > 0):
        raise InputError(f"no usable rate from the time stamps ({rate!r} samples/s)")
    best = min(COMMON_RATES_HZ, key=lambda c: abs(rate - c) / c)
    if abs(rate - best) <= 0.1 * best:
        return best
    return float(f"{rate:.2g}")


def measured_rate(u: np.ndarray) -> float:
    """Samples per second of sorted, distinct stamps ``u`` over the time the stream was logging: steps / time,
    leaving out stalls (steps longer than both 10 mean steps and 0.2 s, and their time). Bursts do not bias it
    (every row of a burst is counted, and the gap after it: a watch's 40 ms between bursts of rows 1 ms apart is
    no stall); the median step, or the median of short windows, would measure the burst spacing or the bursts'
    phase instead."""
    steps = np.diff(np.asarray(u, np.float64))
    if len(steps) == 0:
        return float("nan")
    keep = steps <= max(10.0 * steps.mean(), 0.2)
    return float(keep.sum() / steps[keep].sum())


@dataclasses.dataclass(frozen=True)
class StreamReport:
    """What one stream's time base held.

    Attributes:
      rows: rows given; ``dropped``: of those, rows with a non-finite time or value (left out).
      duplicates: rows merged into a stamp another row has (averaged).
      backward_steps: times the stamps stepped back in file order (before sorting).
      chunks: ``(start_s, end_s, rows)`` of every contiguous chunk (sorted by time; split at gaps > ``max_gap_s``).
      kept: index of the chunk used.
      rate_measured_hz: the kept chunk's measured rate (``measured_rate``).
      longest_step_s: the longest step between stamps inside the kept chunk (bridged by interpolation).
      gaps: steps inside the kept chunk longer than three output periods (bridged by a straight line).
    """

    rows: int
    dropped: int
    duplicates: int
    backward_steps: int
    chunks: tuple
    kept: int
    rate_measured_hz: float
    longest_step_s: float
    gaps: int

    def summary(self) -> str:
        c = self.chunks[self.kept]
        return (f"{self.rows} rows ({self.duplicates} duplicate stamps averaged, {self.backward_steps} backward "
                f"steps, {self.dropped} non-finite dropped), {len(self.chunks)} chunk(s), kept #{self.kept} "
                f"({c[1] - c[0]:.2f} s, {c[2]} rows), {self.rate_measured_hz:.4g} rows/s measured, longest step "
                f"{self.longest_step_s * 1000:.0f} ms, {self.gaps} gap(s)")


@dataclasses.dataclass(frozen=True)
class ResampleReport:
    """How a recording was put on its grid: one ``StreamReport`` per stream, the rate and where it came from
    (``given`` or ``measured``: then ``nice_rate`` of the streams' measured rates, the highest), and the grid
    (``t0_s``: its first sample in the source's clock, ``n_samples``)."""

    streams: tuple
    rate_hz: float
    rate_source: str
    t0_s: float
    n_samples: int

    @property
    def duplicates(self) -> int:
        return sum(s.duplicates for s in self.streams)

    @property
    def chunks(self) -> int:
        """The most chunks any stream was split into."""
        return max(len(s.chunks) for s in self.streams)

    @property
    def gaps(self) -> int:
        return sum(s.gaps for s in self.streams)

    def summary(self) -> str:
        """One line: the grid, then each stream's ``StreamReport.summary``."""
        return (f"{self.n_samples} samples at {self.rate_hz:g} Hz ({self.rate_source}) from t0 = {self.t0_s:.3f} s; "
                + "; ".join(f"stream {i}: {s.summary()}" for i, s in enumerate(self.streams)))


@dataclasses.dataclass(frozen=True)
class Resampled:
    """A uniform recording: ``t`` (K,) grid times in the source's clock (``t0 + k / rate_hz``), ``x`` (K, C) the
    values (the streams' channels side by side), ``saturated`` (K, C) bool or ``None`` when no stream was given
    flags, ``rate_hz``, and the ``report``."""

    t: np.ndarray
    x: np.ndarray
    saturated: Optional[np.ndarray]
    rate_hz: float
    report: ResampleReport


@dataclasses.dataclass
class _Prepared:
    u: np.ndarray          # distinct stamps, sorted
    v: np.ndarray          # (n, C) averaged values
    s: np.ndarray          # (n, C) saturation (any row of the stamp)
    bounds: list           # chunk index ranges into u
    rows: int
    dropped: int
    duplicates: int
    backward: int
    chunk_rows: list


def _prepare(t, x, saturated, max_gap_s: float, what: str) -> _Prepared:
    t = np.asarray(t, np.float64).reshape(-1)
    x = np.asarray(x, np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or len(x) != len(t):
        raise InputError(f"{what}: {len(t)} time stamps for values of shape {x.shape}")
    sat = np.zeros(x.shape, bool) if saturated is None else np.asarray(saturated, bool).reshape(x.shape)
    rows = len(t)
    ok = np.isfinite(t) & np.isfinite(x).all(axis=1)
    t, x, sat = t[ok], x[ok], sat[ok]
    if len(t) == 0:
        raise InputError(f"{what}: no usable time base (no row with a finite time and values, of {rows})")
    backward = int((np.diff(t) < 0).sum())
    order = np.argsort(t, kind="stable")
    t, x, sat = t[order], x[order], sat[order]
    u, start, counts = np.unique(t, return_index=True, return_counts=True)
    if len(u) == 1:
        raise InputError(f"{what}: no usable time base (all {len(t)} rows share one time stamp)")
    v = np.add.reduceat(x, start, axis=0) / counts[:, None]
    s = np.logical_or.reduceat(sat, start, axis=0)
    cut = np.flatnonzero(np.diff(u) > max_gap_s) + 1
    edges = np.r_[0, cut, len(u)]
    bounds = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    csum = np.r_[0, np.cumsum(counts)]
    chunk_rows = [int(csum[b] - csum[a]) for a, b in bounds]
    return _Prepared(u, v, s, bounds, rows, rows - len(t), int(len(t) - len(u)), backward, chunk_rows)


def _interp(grid: np.ndarray, u: np.ndarray, v: np.ndarray, s: np.ndarray, rate: float):
    x = np.stack([np.interp(grid, u, v[:, c]) for c in range(v.shape[1])], axis=1)
    i = np.clip(np.searchsorted(u, grid, side="right") - 1, 0, len(u) - 1)
    j = np.minimum(i + 1, len(u) - 1)
    leans_right = grid > u[i]  # the right neighbour has a non-zero weight
    sat = s[i] | (s[j] & leans_right[:, None])
    # a flagged stamp no grid sample leans on (between two grid samples, e.g. inside a burst) flags its nearest
    rows, cols = np.nonzero(s)
    k = np.rint((u[rows] - grid[0]) * rate).astype(np.int64)
    inside = (k >= 0) & (k < len(grid)) & (u[rows] >= grid[0] - 0.5 / rate) & (u[rows] <= grid[-1] + 0.5 / rate)
    sat[k[inside], cols[inside]] = True
    return x, sat


def _span(p: _Prepared, k: int) -> tuple[float, float]:
    a, b = p.bounds[k]
    return float(p.u[a]), float(p.u[b - 1])


def resample_streams(streams: Sequence[tuple], rate_hz: Optional[float] = None, *, max_gap_s: float = 1.0,
                     chunk: Union[str, int, Sequence[int]] = "longest", max_rate_hz: Optional[float] = None,
                     min_duration_s: float = 0.0, what: str = "recording") -> Resampled:
    """Several streams of one device (``(t, x)`` or ``(t, x, saturated)`` each: stamps in seconds, values
    ``(N, C)``, flags ``(N, C)``) onto one uniform grid over the span their kept chunks share; their channels
    side by side in ``Resampled.x``. See the module's description for the steps.

    ``rate_hz``: the grid's rate (default: the highest of the streams' ``nice_rate(measured_rate)``).
    ``chunk``: ``"longest"`` (one stream: its longest chunk; several: the combination of chunks, one a stream,
    whose common span is longest), or the chunk index (one per stream for several). ``max_rate_hz``: a measured
    rate above it means the stamps are not the samples' times (a file delivered in one burst): refused.
    ``min_duration_s``: a shorter kept span is refused. One-line ``InputError``s."""
    if not streams:
        raise InputError(f"{what}: no streams to resample")
    if not (np.isfinite(max_gap_s) and max_gap_s > 0):
        raise InputError(f"max_gap_s must be positive, got {max_gap_s!r}")
    if rate_hz is not None and not (np.isfinite(float(rate_hz)) and float(rate_hz) > 0):
        raise InputError(f"rate_hz must be positive and finite, got {rate_hz!r}")
    names = [f"{what}" if len(streams) == 1 else f"{what} (stream {i})" for i in range(len(streams))]
    preps = []
    for st, nm in zip(streams, names):
        if len(st) not in (2, 3):
            raise InputError(f"{what}: each stream is (t, x) or (t, x, saturated)")
        preps.append(_prepare(st[0], st[1], st[2] if len(st) == 3 else None, float(max_gap_s), nm))
    # the chunks: given, or the combination with the longest common span (ties: the most rows)
    if chunk == "longest":
        best = None
        for combo in itertools.product(*[range(len(p.bounds)) for p in preps]):
            spans = [_span(p, k) for p, k in zip(preps, combo)]
            common = min(b for _, b in spans) - max(a for a, _ in spans)
            rows = sum(p.chunk_rows[k] for p, k in zip(preps, combo))
            if best is None or (common, rows) > best[0]:
                best = ((common, rows), combo)
        kept = best[1]
    else:
        kept = (chunk,) if np.ndim(chunk) == 0 else tuple(chunk)
        if len(kept) != len(preps) or any(not (0 <= int(k) < len(p.bounds)) for k, p in zip(kept, preps)):
            raise InputError(f"{what}: chunk must be 'longest' or one index per stream within "
                             f"{[len(p.bounds) for p in preps]} chunks, got {chunk!r}")
        kept = tuple(int(k) for k in kept)
    rates = []
    for p, k, nm in zip(preps, kept, names):
        a, b = p.bounds[k]
        r = measured_rate(p.u[a:b])
        if max_rate_hz is not None and np.isfinite(r) and r > max_rate_hz:
            lo, hi = _span(p, k)
            raise InputError(f"{nm}: no usable time base: {p.chunk_rows[k]} rows within {hi - lo:.3g} s ({r:.0f} "
                             f"rows/s, more than the device's {max_rate_hz:g}): the file was delivered in one burst")
        rates.append(r)
    t0 = max(_span(p, k)[0] for p, k in zip(preps, kept))
    t1 = min(_span(p, k)[1] for p, k in zip(preps, kept))
    if rate_hz is not None:
        rate, source = float(rate_hz), "given"
    else:
        finite = [r for r in rates if np.isfinite(r)]
        if not finite:
            raise InputError(f"{what}: too short: no chunk holds two distinct time stamps")
        rate, source = max(nice_rate(r) for r in finite), "measured"
    dur = t1 - t0
    if dur < 0:
        spans = ", ".join(f"stream {i} {_span(p, k)[0] - t0:+.2f} to {_span(p, k)[1] - t0:+.2f} s"
                          for i, (p, k) in enumerate(zip(preps, kept)))
        raise InputError(f"{what}: the streams do not overlap in time ({spans}, from the latest start)")
    n = int(np.floor(dur * rate + 1e-6)) + 1
    if n < 2 or dur < min_duration_s:
        what_span = "its longest contiguous chunk spans" if len(preps) == 1 else "its streams' kept chunks share"
        need = f"{min_duration_s:g} s" if n >= 2 else f"two samples at {rate:g} Hz"
        raise InputError(f"{what}: too short: {what_span} {dur:.3g} s; at least {need} are needed")
    grid = t0 + np.arange(n) / rate
    xs, ss, reports = [], [], []
    for p, k, r in zip(preps, kept, rates):
        a, b = p.bounds[k]
        u, v, s = p.u[a:b], p.v[a:b], p.s[a:b]
        x, sat = _interp(grid, u, v, s, rate)
        xs.append(x)
        ss.append(sat)
        steps = np.diff(u)
        reports.append(StreamReport(
            rows=p.rows, dropped=p.dropped, duplicates=p.duplicates, backward_steps=p.backward,
            chunks=tuple((float(p.u[c0]), float(p.u[c1 - 1]), p.chunk_rows[i]) for i, (c0, c1) in
                         enumerate(p.bounds)),
            kept=k, rate_measured_hz=r, longest_step_s=float(steps.max()) if len(steps) else 0.0,
            gaps=int((steps > 3.0 / rate).sum())))
    any_flags = any(len(st) == 3 and st[2] is not None for st in streams)
    report = ResampleReport(tuple(reports), rate, source, float(grid[0]), n)
    return Resampled(grid, np.concatenate(xs, axis=1), np.concatenate(ss, axis=1) if any_flags else None, rate,
                     report)


def resample_uniform(t, x, rate_hz: Optional[float] = None, *, saturated=None, max_gap_s: float = 1.0,
                     chunk: Union[str, int] = "longest", max_rate_hz: Optional[float] = None,
                     min_duration_s: float = 0.0, what: str = "recording") -> Resampled:
    """One stream's samples ``x`` (N, C) at stamps ``t`` (N,) seconds, in any order, onto ``t0 + k / rate``:
    duplicates averaged, the longest contiguous chunk (or chunk number ``chunk``) kept, linear interpolation; the
    ``saturated`` (N, C) flags carried over (a grid sample is flagged where a stamp it leans on is, or a flagged
    stamp nearest to it that no grid sample leans on). Returns a
    ``Resampled`` with its ``ResampleReport`` (duplicates, chunks, gaps, rate measured and chosen); see
    ``resample_streams`` for the options."""
    return resample_streams([(t, x, saturated)], rate_hz, max_gap_s=max_gap_s, chunk=chunk, max_rate_hz=max_rate_hz,
                            min_duration_s=min_duration_s, what=what)
