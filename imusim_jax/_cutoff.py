"""The low-pass cut-off of the joints: a number, none, or chosen per clip by Winter's residual analysis.

Host-side work that ``imusim_jax.prepare`` does once per clip set (NumPy and SciPy, with a compiled JAX path for
many clips at one rate); nothing here runs inside ``sense``.
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
import scipy.signal

from imusim_jax._errors import InputError
from imusim_jax._kinematics import _sosfilt_time_major, design_lowpass
from imusim_jax._parallel import bucket, cpu_threads, thread_pool

__all__ = ["Cutoff", "auto_cutoff", "auto_cutoffs", "MAX_AUTO_CUTOFF_HZ", "AUTO_GRID_MAX_HZ", "CLEAN_TAIL",
           "resolve_cutoffs", "cutoff_arg", "positive_hz"]

Cutoff = Union[float, str, None]


MAX_AUTO_CUTOFF_HZ = 15.0
"""Ceiling of the automatic cut-off: the bandwidth of human movement. Gait keeps 99 % of its power below about
6 Hz (Winter 2009, §3.4.4); fast hand and arm movements and impacts as limbs and markers see them stay below
about 15 Hz. Above it a skeleton's second derivative is mostly measurement noise."""


def auto_cutoff(x: np.ndarray, fps: float, *, lo_hz: float = 1.0, hi_hz: Optional[float] = None,
                step_hz: float = 0.25, order: int = 2, max_hz: float = MAX_AUTO_CUTOFF_HZ) -> float:
    """Cut-off frequency by Winter's residual analysis (D. A. Winter, Biomechanics and Motor Control of Human
    Movement, 4th ed., 2009, §3.4.4.3).

    For cut-offs ``fc`` on a grid, the RMS residual ``R(fc)`` between the signal and its zero-phase low-passed
    copy (``scipy.signal.sosfiltfilt`` of a Butterworth of ``order``, odd extension of 9 frames) is computed.
    Above the signal's bandwidth, ``R`` is noise only and falls linearly with ``fc``; the line fitted there meets
    ``fc = 0`` at the noise RMS, and the chosen cut-off is where ``R`` drops to that level: signal distortion and
    passed noise balance. Clean data (motion capture) gets a high cut-off, jittery data (Kinect, video) a low one.
    ``auto_cutoffs`` does many clips at once (what ``simulate(..., cutoff_hz="auto")`` uses).

    Args:
      x: ``(T, C)`` signal (positions, metres), valid frames only.
      fps: frame rate (Hz).
      lo_hz, hi_hz: search range (``hi_hz`` defaults to ``0.4 * fps``).
      max_hz: the result is capped here (``MAX_AUTO_CUTOFF_HZ``): clean, fast motion capture would otherwise get a
        cut-off far above any body motion, and its acceleration would carry the markers' noise (on BROAD's
        fast-translation trial the residual analysis picks 27 Hz; capped at 15 Hz the simulated accelerometer's
        worst-axis correlation with the real one rises from 0.991 to 0.995).
    Returns:
      The cut-off in Hz.
    """
    return auto_cutoffs([x], [fps], lo_hz=lo_hz, hi_hz=hi_hz, step_hz=step_hz, order=order, max_hz=max_hz)[0]


AUTO_GRID_MAX_HZ = 100.0
"""Top of the residual analysis' default grid: 0.4 fps up to 250 fps, then 100 Hz. The grid's top 40 % (60-100
Hz) is far above body motion, so the noise line is fitted where it is noise only, and a 4 kHz clip tries 397
cut-offs instead of 6,397 (a 5 s clip on the command line: 26 s -> 6 s)."""

_AUTO_PADLEN = 9  # odd extension, frames: sosfiltfilt's default for one second-order section, 3 * 3
_AUTO_CHUNK = 8  # clips per compiled call of the residual analysis (4-8 fastest on a 2-core CPU)
_AUTO_JAX_MIN_CLIPS = 8  # fewer clips at one rate: SciPy, 19 ms a clip, rather than a 0.4 s compilation


def auto_cutoffs(xs: Sequence[np.ndarray], fps: Sequence[float], *, lo_hz: float = 1.0,
                 hi_hz: Optional[float] = None, step_hz: float = 0.25, order: int = 2,
                 max_hz: float = MAX_AUTO_CUTOFF_HZ) -> list[float]:
    """``auto_cutoff`` of many clips (``xs[b]`` ``(T_b, C)``, valid frames only, at ``fps[b]``) at once.

    Clips are grouped by frame rate. For a group of 8 or more, the residuals of every clip at every cut-off of
    the grid come from one compiled JAX call per 8 clips (calls on the CPU thread pool): the forward-backward
    filters of all (clip, cut-off, channel) lanes run as one vectorised recurrence with SciPy's ``sosfiltfilt``
    conventions (odd extension of ``min(T - 1, 9)`` frames, steady-state initial conditions). A smaller group
    (the command line's single clip) uses SciPy's ``sosfiltfilt`` itself, which needs no compilation. Either way
    the filters are designed once per (cut-off, rate). Clip by clip in SciPy, with a design per trial cut-off,
    the analysis took 19 ms per ten-second clip, 130 times the simulation; batched it takes about 0.2 ms. The
    JAX residuals agree with SciPy's to float32 rounding and the chosen cut-offs are SciPy's
    (``tests/test_simulate.py`` checks both paths on real UTD-MHAD and synthetic clips)."""
    if len(xs) != len(fps):
        raise ValueError(f"got {len(xs)} clips and {len(fps)} frame rates")
    out: list = [None] * len(xs)
    groups: dict = {}
    for b, (x, f) in enumerate(zip(xs, fps)):
        f = positive_hz(f, "fps")
        if np.ndim(x) != 2:
            raise InputError(f"auto_cutoff takes one clip's channels (T, C), got shape {np.shape(x)}: reshape joints "
                             "(T, J, 3) to (T, 3 J)")
        hi = min(0.4 * f, AUTO_GRID_MAX_HZ) if hi_hz is None else min(hi_hz, 0.45 * f)
        if hi <= lo_hz + 4 * step_hz or len(x) < 16:
            out[b] = float(min(max(lo_hz, 0.25 * f), hi, max_hz))
        else:
            groups.setdefault((f, hi), []).append(b)
    for (f, hi), members in groups.items():
        grid = np.arange(lo_hz, hi + 1e-9, step_hz)
        designs = [design_lowpass(float(fc), f, order) for fc in grid]
        clips = [np.asarray(xs[b], np.float64) for b in members]
        if len(clips) >= _AUTO_JAX_MIN_CLIPS:
            res = _residual_curves(clips, np.stack([d.sos for d in designs]), np.stack([d.zi for d in designs]))
        else:  # a few clips (the command line's one): SciPy, without compiling anything
            res = [[np.sqrt(np.mean((x - scipy.signal.sosfiltfilt(d.sos, x, axis=0, padlen=min(len(x) - 1,
                                                                                              _AUTO_PADLEN))) ** 2))
                    for d in designs] for x in (c - c.mean(0) for c in clips)]
        for b, r in zip(members, res):
            out[b] = _winter_choice(grid, np.asarray(r), max_hz)
    return out


CLEAN_TAIL = 0.1
"""``_winter_choice`` reads a clip as clean when the residual at the grid's top is below this fraction of the
noise line's intercept. White noise leaves about 0.3-0.45 there (real Kinect skeletons of UTD-MHAD and NTU RGB+D:
0.18-0.47, median 0.34, 148 arms); noise-free motion 0.01-0.09 (analytic swings and elbow flexions at 2-6 Hz, 30
fps)."""


def _winter_choice(grid: np.ndarray, res: np.ndarray, max_hz: float) -> float:
    """The cut-off where the residual ``res`` over ``grid`` first falls to the noise level: the intercept at
    ``fc = 0`` of the line fitted to the top 40 % of the grid (noise only), capped at ``max_hz``.

    Winter's line assumes the grid's top is noise. Where the residual there is still falling steeply (below
    ``CLEAN_TAIL`` of the intercept), it is the motion's own harmonics, not noise: the data are clean and the
    cut-off is ``max_hz`` (the bandwidth of human movement; at 30 fps no filter). Without this, clean 3 Hz elbow
    flexion at 30 fps got 6.5 Hz, which took 12 % off its acceleration (4 % unfiltered: the spline's own limit)."""
    tail = grid >= grid[0] + 0.6 * (grid[-1] - grid[0])
    slope, intercept = np.polyfit(grid[tail], res[tail], 1)
    if intercept > 0 and res[-1] < CLEAN_TAIL * intercept:
        return float(max_hz)
    below = np.nonzero(res <= max(intercept, 0.0))[0]
    return float(min(grid[below[0]] if len(below) else grid[-1], max_hz))


def _residual_curves(xs: list, sos: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """RMS residual ``x - sosfiltfilt(x)`` of each clip ``xs[b]`` ``(T_b, C)`` for each filter ``sos[g]``: ``(B, G)``.

    Each clip is centred and odd-extended as ``sosfiltfilt`` does, padded to a common length by holding its last
    value, and the batch goes through ``_residual_batch`` in chunks of clips."""
    C = xs[0].shape[1]
    pads = [min(len(x) - 1, _AUTO_PADLEN) for x in xs]
    N = bucket(max(len(x) + 2 * p for x, p in zip(xs, pads)), 32)
    dtype = np.dtype(jax.dtypes.canonicalize_dtype(np.float64))
    nb = len(xs)
    K = min(_AUTO_CHUNK, nb)
    nchunk = -(-nb // K)
    E = np.empty((nchunk * K, N, C), dtype)
    ends = np.empty(nchunk * K, np.int32)
    lo = np.empty(nchunk * K, np.int32)
    n_valid = np.empty(nchunk * K, np.int32)
    for b in range(nchunk * K):
        x = xs[min(b, nb - 1)]
        p = pads[min(b, nb - 1)]
        x = x - x.mean(0)
        ext = np.concatenate([2 * x[0] - x[p:0:-1], x, 2 * x[-1] - x[-2:-p - 2:-1]]) if p else x
        E[b, :len(ext)] = ext
        E[b, len(ext):] = ext[-1]
        ends[b], lo[b], n_valid[b] = len(ext) - 1, p, len(x)
    sos_j, zi_j = sos.astype(dtype), zi.astype(dtype)

    def run(i):
        return np.asarray(_residual_batch(E[i:i + K], ends[i:i + K], lo[i:i + K], n_valid[i:i + K], sos_j, zi_j),
                          np.float64)

    out = [run(0)]  # compiles, if needed, on this thread
    rest = range(K, nchunk * K, K)
    threads = cpu_threads() if jax.default_backend() == "cpu" else 1
    out += list(thread_pool(threads).map(run, rest)) if threads > 1 and len(rest) > 1 else [run(i) for i in rest]
    return np.concatenate(out)[:nb]


@jax.jit
def _residual_batch(E, ends, lo, n_valid, sos, zi):
    """``(K, G)`` RMS residuals of ``K`` extended clips ``E`` ``(K, N, C)`` (rows ``lo .. lo + n_valid - 1`` are the
    clip, row ``ends`` its extension's last) after forward-backward filtering by each of ``G`` filters ``sos``
    ``(G, S, 6)`` with steady-state starts ``zi`` ``(G, S, 2)``: one scan each way over ``(K, C, G)`` lanes.

    The filters are the lanes' minor axis, padded to a multiple of 16 (the last filter repeated): each step's
    coefficients are then whole vectors and the clips' samples are broadcast to them. With the channels minor
    (12 of them, the coefficients broadcast along them) the analysis took 1.9x as long (0.38 -> 0.20 ms a clip
    over 256 ten-second clips; the cut-offs are the same)."""
    G = sos.shape[0]
    Gp = -(-G // 16) * 16
    sos, zi = (jnp.concatenate([a, jnp.repeat(a[-1:], Gp - G, 0)]) for a in (sos, zi))
    coef = jnp.moveaxis(sos, 0, -1)[:, :, None, None, :]  # (S, 6, 1, 1, Gp): broadcasts over (K, C, Gp) lanes
    z = jnp.moveaxis(zi, 0, -1)[:, :, None, None, :]
    b, a = coef[:, :3], coef[:, 3:]
    xt = jnp.moveaxis(E, 1, 0)[..., None]  # (N, K, C, 1)
    lanes = (E.shape[0], E.shape[-1], Gp)
    y = _sosfilt_time_major(b, a, z, xt, reverse=False, lanes=lanes)  # (N, K, C, Gp)
    first, stop = lo[:, None, None], (lo + n_valid)[:, None, None]  # each clip's own rows

    def squared_residual(t, y_t, x_t):  # summed as the backward pass runs: its output is never stored
        return jnp.where((t >= first) & (t < stop), (x_t - y_t) ** 2, 0.0)

    r2 = _sosfilt_time_major(b, a, z, y, reverse=True, start=ends[:, None, None], reduce=squared_residual,
                             extra=xt).sum(1)[:, :G]  # (K, G)
    return jnp.sqrt(r2 / (n_valid[:, None] * E.shape[-1]).astype(E.dtype))


def resolve_cutoffs(cutoff_hz: Cutoff, channels: Callable[[], np.ndarray], lengths: np.ndarray, fps: np.ndarray,
                    pos_channels: int) -> list[Optional[float]]:
    """Each clip's cut-off (Hz, or ``None`` for no filter): ``cutoff_hz`` for every clip, or for ``"auto"``
    ``auto_cutoffs`` of the first ``pos_channels`` channels of ``channels()`` ``(B, T, C)`` (called only then: a
    host copy of the clips). A cut-off at or above 0.49 times a clip's frame rate warns that no filter is applied."""
    if cutoff_hz == "auto":
        X = channels()
        return auto_cutoffs([X[b, : lengths[b], :pos_channels] for b in range(X.shape[0])], list(fps))
    out = [cutoff_hz] * len(lengths)  # None or a positive float (cutoff_arg)
    if out and out[0] is not None and (out[0] >= 0.49 * np.asarray(fps)).any():
        f = float(np.min(fps))
        warnings.warn(f"cutoff_hz={out[0]:g} is at or above 0.49 times the frame rate ({0.49 * f:g} Hz at {f:g} fps): "
                      "no low-pass filter is applied", UserWarning, stacklevel=4)
    return out


def positive_hz(value, name: str) -> float:
    try:
        hz = float(value)
    except (TypeError, ValueError):
        hz = float("nan")
    if not np.isfinite(hz) or hz <= 0:
        raise InputError(f"{name} must be a positive number of Hz, got {value!r}")
    return hz


def cutoff_arg(cutoff_hz, name: str = "cutoff_hz") -> Cutoff:
    """A cut-off as ``"auto"``, ``None`` or a positive float: the words ``auto`` and ``none`` in any case, a
    number, or a numeric string (the command line's ``--cutoff``); else a one-line ``InputError`` naming
    ``name``."""
    if cutoff_hz is None:
        return None
    if isinstance(cutoff_hz, str):
        word = cutoff_hz.strip().lower()
        if word in ("auto", "none"):
            return None if word == "none" else "auto"
    try:
        return positive_hz(cutoff_hz, name)
    except InputError:
        raise InputError(f"{name} must be a positive number of Hz, 'auto' or None, got {cutoff_hz!r}") from None