"""The low-pass cut-off of the joints: a number, none, or chosen per clip by Winter's residual analysis.

Host-side work that ``imusim_jax.prepare`` does once per clip set (NumPy and SciPy, with a compiled JAX path for
many clips at one rate); nothing here runs inside ``sense``.

The residual analysis (``auto_cutoffs``) is defined by SciPy's ``sosfiltfilt`` and computed three ways, all to
that definition: for 8 or more clips of one length at one rate a spectral form (a DCT-II power spectrum per channel
weighted by each cut-off's ``(1 - |H|^2)^2``, plus an exact rank-8 correction at the clip's edges: ``_dct_setup``),
for other batches a compiled forward-backward IIR over (clip, channel, cut-off) lanes, for a few clips SciPy itself.
"""
from __future__ import annotations

import functools
import typing
import warnings
from typing import Callable, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
import scipy.fft
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
    ``auto_cutoffs`` does many clips at once (what ``simulate(..., cutoff_hz="auto")`` uses), by faster routes to
    the same residuals (to float32 rounding) and choices.

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
_AUTO_CHUNK = 8  # clips per compiled call of the IIR residual analysis (4-8 fastest on a 2-core CPU)
_AUTO_JAX_MIN_CLIPS = 8  # fewer clips at one rate: SciPy, 19 ms a clip, rather than a 0.4 s compilation
_DCT_MIN_CLIPS = 8  # clips of one length at one rate that take the spectral path (its set-up is per length)
_DCT_CHUNK = 64  # clips per task of the spectral path on the CPU thread pool (arrays stay in the cache)
_DCT_TOL = 1e-7  # entries of an edge-correction vector below this fraction of its largest are left out
_DCT_STEP = 16  # edge bands are rounded up to this many frames (fewer, larger matrix products)
_DCT_CHECK = 1e-5  # largest relative error of a set-up's residual energies on its probe signals (else the IIR path)


def auto_cutoffs(xs: Sequence[np.ndarray], fps: Sequence[float], *, lo_hz: float = 1.0,
                 hi_hz: Optional[float] = None, step_hz: float = 0.25, order: int = 2,
                 max_hz: float = MAX_AUTO_CUTOFF_HZ) -> list[float]:
    """``auto_cutoff`` of many clips (``xs[b]`` ``(T_b, C)``, valid frames only, at ``fps[b]``; or one ``(B, T, C)``
    array) at once.

    The residuals are ``auto_cutoff``'s (``x - sosfiltfilt(x)``, odd extension of ``min(T - 1, 9)`` frames,
    steady-state initial conditions) and so are the chosen cut-offs. Clips are grouped by rate, then by length:

    * 8 or more clips of one length at one rate (a batch of equal clips, ``simulate``'s usual case): the spectral
      form (``_dct_setup``, ``_dct_residuals``), float32 NumPy on the CPU thread pool, no compilation; a set-up
      of 25-70 ms per (length, rate) is cached. Ten-second clips at 30 fps (45 cut-offs, 12 channels), B = 1024:
      0.025-0.029 ms a clip against 0.32-0.40 ms for the compiled IIR path with the choice made clip by clip
      (11-15x), and ``simulate(..., cutoff_hz="auto")`` 1.38-1.46 times ``cutoff_hz=6`` instead of 3.8-4.3 (2-core
      Xeon, load average 3-7, ``benchmarks/cutoff.py``). Of that, 1.17-1.28 is ``simulate``'s automatic mode with
      the answers given, mostly the edge padding its lowest chosen cut-off needs (a fixed 1.25 Hz costs 1.17-1.25
      times 6 Hz). Residuals within 7e-5 of SciPy's, and the same cut-offs as SciPy's and the IIR path's on every
      clip measured: 1024 synthetic arms, the 862 real UTD-MHAD arms (431 trials, both sides, each at its own
      length and rate), 1960 synthetic arms of 16-600 frames at 15-100 fps with 0-10 mm of jitter;
    * 8 or more other clips at one rate (lengths that fewer clips share): one compiled JAX call per 8 clips
      (``_residual_curves``), the forward-backward filters of every (clip, cut-off, channel) lane as one
      vectorised recurrence: 0.4 ms a clip after a compilation of about 0.6 s;
    * fewer clips (the command line's one): SciPy's ``sosfiltfilt`` per cut-off, no compilation.

    The filters are designed once per (cut-off, rate) and the choice is ``_winter_choices``, for all clips of a
    group at once."""
    if len(xs) != len(fps):
        raise ValueError(f"got {len(xs)} clips and {len(fps)} frame rates")
    out: list = [None] * len(xs)
    shapes = [xs.shape[1:]] * len(xs) if isinstance(xs, np.ndarray) and xs.ndim == 3 else [np.shape(x) for x in xs]
    for s in shapes:
        if len(s) != 2:
            raise InputError(f"auto_cutoff takes one clip's channels (T, C), got shape {s}: reshape joints "
                             "(T, J, 3) to (T, 3 J)")
    groups: dict = {}  # (rate, grid top) -> {clip shape: clips}
    checked: dict = {}  # each distinct rate (a Python number) checked once
    for b, f in enumerate(fps):
        key = f if isinstance(f, (int, float)) else None
        f = checked[key] if key in checked else positive_hz(f, "fps")
        if key is not None:
            checked[key] = f
        hi = min(0.4 * f, AUTO_GRID_MAX_HZ) if hi_hz is None else min(hi_hz, 0.45 * f)
        if hi <= lo_hz + 4 * step_hz or shapes[b][0] < 16:
            out[b] = float(min(max(lo_hz, 0.25 * f), hi, max_hz))
        else:
            groups.setdefault((f, hi), {}).setdefault(shapes[b], []).append(b)
    for (f, hi), by_shape in groups.items():
        grid = np.arange(lo_hz, hi + 1e-9, step_hz)
        rest = []
        for (T, _), bs in by_shape.items():
            setup = _dct_setup(T, f, tuple(grid.tolist()), order) if len(bs) >= _DCT_MIN_CLIPS else None
            if setup is None:
                rest += bs
                continue
            res = _dct_residuals(xs, bs, setup)
            for b, c in zip(bs, _winter_choices(grid, res, max_hz)):
                out[b] = float(c)
        if not rest:
            continue
        designs = [design_lowpass(float(fc), f, order) for fc in grid]
        clips = [np.asarray(xs[b], np.float64) for b in rest]
        if len(clips) >= _AUTO_JAX_MIN_CLIPS and len({c.shape[1] for c in clips}) == 1:
            res = _residual_curves(clips, np.stack([d.sos for d in designs]), np.stack([d.zi for d in designs]))
        else:  # a few clips (the command line's one): SciPy, without compiling anything
            res = np.array([[np.sqrt(np.mean((x - scipy.signal.sosfiltfilt(
                d.sos, x, axis=0, padlen=min(len(x) - 1, _AUTO_PADLEN))) ** 2)) for d in designs]
                for x in (c - c.mean(0) for c in clips)])
        for b, c in zip(rest, _winter_choices(grid, np.asarray(res, np.float64), max_hz)):
            out[b] = float(c)
    return out


CLEAN_TAIL = 0.1
"""``_winter_choices`` reads a clip as clean when the residual at the grid's top is below this fraction of the
noise line's intercept. White noise leaves about 0.3-0.45 there (real Kinect skeletons of UTD-MHAD and NTU RGB+D:
0.18-0.47, median 0.34, 148 arms); noise-free motion 0.01-0.09 (analytic swings and elbow flexions at 2-6 Hz, 30
fps)."""


def _winter_choice(grid: np.ndarray, res: np.ndarray, max_hz: float) -> float:
    """The cut-off where the residual ``res`` over ``grid`` first falls to the noise level (``_winter_choices`` of
    one clip)."""
    return float(_winter_choices(grid, np.asarray(res)[None], max_hz)[0])


def _winter_choices(grid: np.ndarray, res: np.ndarray, max_hz: float) -> np.ndarray:
    """The cut-off where each clip's residual ``res[b]`` over ``grid`` (``(B, G)``) first falls to the noise
    level: the intercept at ``fc = 0`` of the line fitted to the top 40 % of the grid (noise only), capped at
    ``max_hz``. ``(B,)``.

    Winter's line assumes the grid's top is noise. Where the residual there is still falling steeply (below
    ``CLEAN_TAIL`` of the intercept), it is the motion's own harmonics, not noise: the data are clean and the
    cut-off is ``max_hz`` (the bandwidth of human movement; at 30 fps no filter). Without this, clean 3 Hz elbow
    flexion at 30 fps got 6.5 Hz, which took 12 % off its acceleration (4 % unfiltered: the spline's own limit)."""
    tail = grid >= grid[0] + 0.6 * (grid[-1] - grid[0])
    intercept = res[:, tail] @ _intercept_weights(tuple(grid[tail].tolist()))  # least-squares line, at fc = 0
    clean = (intercept > 0) & (res[:, -1] < CLEAN_TAIL * intercept)
    below = res <= np.maximum(intercept, 0.0)[:, None]
    first = np.where(below.any(1), grid[np.argmax(below, 1)], grid[-1])
    return np.where(clean, float(max_hz), np.minimum(first, max_hz))


@functools.lru_cache(maxsize=64)
def _intercept_weights(x: tuple) -> np.ndarray:
    """Weights ``w`` such that ``y @ w`` is the intercept of the least-squares line through ``(x, y)``
    (``np.polyfit(x, y, 1)[1]``, to rounding)."""
    return np.linalg.pinv(np.vander(np.asarray(x), 2))[1]


class _DctSetup(typing.NamedTuple):
    """What ``_dct_residuals`` needs for clips of ``T`` frames at one rate and grid (``_dct_setup``)."""

    hp2: np.ndarray  # (T, G) float32: (1 - |H_g|^2)^2 at the DCT-II frequencies pi k / T
    blocks: tuple  # (a, b, j0, j1, VL (a, j1 - j0), VR (b, j1 - j0) or None): columns j0:j1 read a and b edge frames
    signs: np.ndarray  # (J, G) float32: +-1 where correction column j belongs to cut-off g
    width: int  # J, correction columns


def _sosfiltfilt_adjoint(sos: np.ndarray, zi: np.ndarray, v: np.ndarray, pad: int) -> np.ndarray:
    """``F^T v`` for ``F x = sosfiltfilt(sos, x, padlen=pad)`` (``x`` ``(T,)``, columns of ``v`` ``(T, m)``).

    ``F = R J K J K E``: the odd extension ``E``, a pass ``K = C + g e_0^T`` (the zero-state filter ``C`` and the
    response ``g`` to the steady state ``zi`` scaled by the first sample), the reversal ``J`` and the crop ``R``.
    ``K^T u = J C J u + e_0 (g . u)``."""
    T = v.shape[0]
    N = T + 2 * pad
    g = scipy.signal.sosfilt(sos, np.zeros(N), zi=zi)[0]

    def k_t(u):
        w = scipy.signal.sosfilt(sos, u[::-1], axis=0)[::-1].copy()
        w[0] += g @ u
        return w

    a = np.zeros((N,) + v.shape[1:])
    a[pad:pad + T] = v
    a = k_t(k_t(a[::-1])[::-1])
    x = a[pad:pad + T].copy()
    if pad:
        x[0] += 2.0 * a[:pad].sum(0)
        x[pad:0:-1] -= a[:pad]
        x[-1] += 2.0 * a[pad + T:].sum(0)
        x[-2:-pad - 2:-1] -= a[pad + T:]
    return x


@functools.lru_cache(maxsize=32)
def _dct_setup(T: int, fps: float, grid: tuple, order: int = 2) -> Optional[_DctSetup]:
    """The spectral form of the residual analysis for clips of ``T`` frames at ``fps``, or ``None`` where it does
    not reproduce SciPy's residuals on its probe signals (then the IIR path runs).

    Let ``M`` be the residual map ``x -> x - sosfiltfilt(x)`` of one cut-off (``T x T``, linear) and ``M0`` the
    ideal zero-phase filter's residual on the clip's even (half-sample symmetric) periodic extension: ``M0 = D^T
    diag(1 - |H(w_k)|^2) D`` with ``D`` the orthonormal DCT-II and ``w_k = pi k / T`` (the DCT-II diagonalises
    symmetric convolution on that extension: S. A. Martucci, Symmetric convolution and the discrete sine and cosine
    transforms, IEEE Trans. Signal Processing 42(5), 1994), so that ``|M0 x|^2`` is the DCT power spectrum
    weighted by ``(1 - |H|^2)^2`` (Parseval), one product for every cut-off. ``M`` and ``M0`` read the same samples
    inside the clip and differ only in what lies beyond its edges (the extensions, and ``sosfiltfilt``'s constant
    initial states), which reaches the clip through the filters' tails: for ``l >= 1`` the zero-phase kernel ``k[l]``
    and the impulse response are sums of ``c_p p^l`` over the poles ``p`` (partial fractions). So ``M - M0 = Phi
    B^T`` exactly, where ``Phi`` ``(T, 4)`` spans the modes ``p^n`` and ``p^(T - 1 - n)`` (real and imaginary
    parts; orthonormalised per edge) and ``B`` their amplitudes as functionals of ``x``, and

        ``|M x|^2 = |M0 x|^2 + 2 (Psi^T x) . (B^T x) + (B^T x)^T Gamma (B^T x)``,  ``Psi = M0 Phi``,
        ``Gamma = Phi^T Phi``:

    a quadratic form of rank 8 (two of rank 4, one per edge, where the edges' modes do not overlap), written as
    signed squares of 8 projections. ``B = Phi^+ (M - M0)`` is ``M^T Phi^+T - M0 Phi^+T``: one adjoint
    ``sosfiltfilt`` (``_sosfiltfilt_adjoint``) and two DCTs on 4 vectors. The vectors decay from the edges as
    ``|p|^n``; each is kept on its edge band (the frames holding entries above ``_DCT_TOL`` of its largest, rounded
    up to ``_DCT_STEP``): for ten-second clips at 30 fps, 144 frames at 1 Hz, 64 at 2 Hz, 48 at 3-4 Hz, 32 at 4-10
    Hz, 48-64 near 12 Hz (the poles approach -1), 15,800 multiply-adds per channel for all 45 cut-offs (a dense
    DCT matrix alone would take 90,000). Measured in float64 against ``sosfiltfilt``: 1e-14 without the bands,
    at most 1.4e-7 with them (16-600 frames, 15-250 fps). Built once per (``T``, rate, grid, order) and checked on
    two probe signals (a random walk with noise, white noise) against ``sosfiltfilt``: 25-60 ms for 300 frames
    and 45 cut-offs, about 1 s for 3,000 frames and 157 cut-offs (100 fps)."""
    grid_a = np.asarray(grid, np.float64)
    G = len(grid_a)
    pad = min(T - 1, _AUTO_PADLEN)
    n = np.arange(T, dtype=np.float64)
    designs = [design_lowpass(float(fc), fps, order) for fc in grid_a]
    sos = np.stack([np.asarray(d.sos, np.float64) for d in designs])  # (G, S, 6)
    zi = np.stack([np.asarray(d.zi, np.float64) for d in designs])
    z = np.exp(-1j * np.pi * n / T)[None, None, :]  # DCT-II frequencies
    num = sos[..., 0, None] + sos[..., 1, None] * z + sos[..., 2, None] * z * z
    den = sos[..., 3, None] + sos[..., 4, None] * z + sos[..., 5, None] * z * z
    gain2 = np.prod(np.abs(num / den) ** 2, axis=1)  # (G, T): |H|^2 of the cascade
    hp = (1.0 - gain2).T  # (T, G)

    def m0(v):  # M0 v (= M0^T v) of columns v (T, G, m), cut-off g's filter on v[:, g]
        return scipy.fft.idct(hp[:, :, None] * scipy.fft.dct(v, type=2, norm="ortho", axis=0), type=2,
                              norm="ortho", axis=0)

    # each section's poles p (one of a complex pair): z^2 + a1 z + a2 = 0
    a1, a2 = sos[..., 4] / sos[..., 3], sos[..., 5] / sos[..., 3]
    root = np.sqrt(a1.astype(complex) ** 2 - 4.0 * a2)
    poles = [[q for s in range(sos.shape[1]) for q in ((-a1[g, s] + root[g, s]) / 2, (-a1[g, s] - root[g, s]) / 2)
              if (q.imag > 0 or (q.imag == 0 and a1[g, s] ** 2 >= 4 * a2[g, s])) and (a1[g, s] or a2[g, s])]
             for g in range(G)]
    if len({len(p) for p in poles}) != 1 or not poles[0]:
        return None
    P = np.array(poles)  # (G, q)
    with np.errstate(all="ignore"):
        w = P[:, None, :] ** n[None, :, None]  # (G, T, q): the left edge's modes
        left = np.concatenate([w.real[..., P.imag[0] > 0], w.imag[..., P.imag[0] > 0], w.real[..., P.imag[0] == 0]], 2)
        if not np.isfinite(left).all():
            return None
        ql = np.linalg.qr(left)[0]  # orthonormal per edge (a slow pole's real and imaginary parts are alike)
        h = ql.shape[2]
        phi = np.concatenate([ql, ql[:, ::-1]], 2)  # (G, T, r): the right edge's modes are the left's reversed
        gam = np.einsum("gti,gtj->gij", phi, phi)
        pinv_t = np.linalg.solve(gam, phi.transpose(0, 2, 1)).transpose(2, 0, 1)  # (T, G, r): Phi^+T
        adj = np.stack([_sosfiltfilt_adjoint(sos[g], zi[g], pinv_t[:, g], pad) for g in range(G)], 1)
        b = pinv_t - adj - m0(pinv_t)  # (T, G, r)
        psi = m0(phi.transpose(1, 0, 2))
    split = np.abs(gam[:, :h, h:]).max((1, 2)) <= _DCT_TOL  # the edges' modes do not overlap: one form per edge
    cols, signs, owner = [], [], []
    for gs, sides in ((np.nonzero(split)[0], (slice(0, h), slice(h, 2 * h))),
                      (np.nonzero(~split)[0], (slice(0, 2 * h),))):
        for s in sides:
            if not len(gs):
                continue
            gm = gam[gs][:, s, s]
            k = gm.shape[1]
            eye = np.broadcast_to(np.eye(k), gm.shape)
            lam, u = np.linalg.eigh(np.block([[gm, eye], [eye, np.zeros_like(gm)]]))  # (g, 2k), (g, 2k, 2k)
            vec = np.concatenate([b[:, gs][..., s], psi[:, gs][..., s]], 2)  # (T, g, 2k)
            cols.append((np.einsum("tgi,gij->tgj", vec, u) * np.sqrt(np.abs(lam))).reshape(T, -1))
            signs.append(np.sign(lam).ravel())
            owner.append(np.repeat(gs, 2 * k))
    V = np.concatenate(cols, 1)
    signs_a, owner_a = np.concatenate(signs), np.concatenate(owner)
    if not np.isfinite(V).all():
        return None
    # edge bands: the rows at each end that hold entries above _DCT_TOL of the column's largest
    big = np.abs(V) > _DCT_TOL * np.abs(V).max(0)
    half = T // 2
    left = np.where(big[:half].any(0), half - np.argmax(big[:half][::-1], 0), 0)
    right = np.where(big[half:].any(0), T - half - np.argmax(big[half:], 0), 0)
    left = np.minimum(-(-left // _DCT_STEP) * _DCT_STEP, T)
    right = np.minimum(-(-right // _DCT_STEP) * _DCT_STEP, T)
    full = left + right >= T
    left, right = np.where(full, T, left), np.where(full, 0, right)
    perm = np.lexsort((right, left))
    V, signs_a, owner_a, left, right = V[:, perm], signs_a[perm], owner_a[perm], left[perm], right[perm]
    blocks, j = [], 0
    while j < V.shape[1]:
        k = j
        while k < V.shape[1] and left[k] == left[j] and right[k] == right[j]:
            k += 1
        a, bb = int(left[j]), int(right[j])
        blocks.append((a, bb, j, k, np.ascontiguousarray(V[:a, j:k]),
                       np.ascontiguousarray(V[T - bb:, j:k]) if bb else None))
        j = k
    sign_m = np.zeros((V.shape[1], G))
    sign_m[np.arange(V.shape[1]), owner_a] = signs_a
    setup = _DctSetup(hp ** 2, tuple(blocks), sign_m, V.shape[1])
    # check against SciPy on two probes (a random walk with noise; white noise), in float64 with the bands
    rng = np.random.default_rng(0)
    probe = np.stack([np.cumsum(rng.normal(size=T)) + rng.normal(size=T), rng.normal(size=T)], 1)
    want = np.array([np.sum((probe - scipy.signal.sosfiltfilt(sos[g], probe, axis=0, padlen=pad)) ** 2, 0)
                     for g in range(G)])  # (G, 2)
    got = np.array([_dct_energy(probe.T[None, i:i + 1], setup)[0] for i in range(2)]).T
    if not np.all(np.abs(got - want) <= _DCT_CHECK * want):
        return None
    return setup


def _as_dtype(setup: _DctSetup, dtype) -> _DctSetup:
    """``setup``'s arrays in ``dtype`` (the set-up is float64)."""
    if setup.hp2.dtype == dtype:
        return setup
    cast = (lambda a: None if a is None else a.astype(dtype))
    return setup._replace(hp2=cast(setup.hp2), signs=cast(setup.signs),
                          blocks=tuple((a, b, j0, j1, cast(vl), cast(vr)) for a, b, j0, j1, vl, vr in setup.blocks))


_BLAS_SMALL = 200_000  # multiply-adds per matrix product below which BLAS libraries stay on one thread


def _matmul_small(a: np.ndarray, b: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``a @ b`` for ``a`` ``(M, K)`` as a stack of products of a few rows each (NumPy runs one BLAS call per
    slice), small enough that the BLAS library runs each on the calling thread: its own threads, woken for every
    product and spinning after it, made the analysis 2-10 times slower on a loaded 2-core machine. The parallelism
    is the thread pool's, over chunks of clips (``_dct_residuals``). ``out``: an ``(M, N)`` array (a view with
    unit column stride) to write into."""
    M, K = a.shape
    N = b.shape[1]
    rows = max(1, min(M, _BLAS_SMALL // max(1, K * N)))
    while M % rows:
        rows -= 1
    res = np.matmul(a.reshape(M // rows, rows, K), b,
                    out=None if out is None else out.reshape(M // rows, rows, N))
    return res.reshape(M, N)


def _dct_energy(xc: np.ndarray, setup: _DctSetup) -> np.ndarray:
    """``(K, G)`` residual energies (summed over frames and channels) of centred clips ``xc`` ``(K, C, T)``: the
    DCT power spectrum weighted by ``hp2``, plus the signed squares of the projections on the edge bands (in the
    precision of ``xc`` and ``setup``, ``_as_dtype``)."""
    K, C, T = xc.shape
    dt = xc.dtype
    F = scipy.fft.dct(xc, type=2, norm="ortho", axis=-1)
    e = _matmul_small(np.einsum("bck,bck->bk", F, F), setup.hp2)
    xf = xc.reshape(K * C, T)
    Y = np.empty((K * C, setup.width), dt)
    for a, b, j0, j1, vl, vr in setup.blocks:
        if a:
            _matmul_small(xf[:, :a], vl, out=Y[:, j0:j1])
            if b:
                Y[:, j0:j1] += _matmul_small(xf[:, T - b:], vr)
        else:
            _matmul_small(xf[:, T - b:], vr, out=Y[:, j0:j1])
    Y = Y.reshape(K, C, -1)
    return e + _matmul_small(np.einsum("bcj,bcj->bj", Y, Y), setup.signs)


def _dct_residuals(xs, members: Sequence[int], setup: _DctSetup) -> np.ndarray:
    """``(B, G)`` RMS residuals of clips ``xs[b]`` ``(T, C)`` (one length) for ``b`` in ``members`` by
    ``_dct_setup``'s spectral form, in float32 (float64 with ``jax_enable_x64``, as the IIR path), ``_DCT_CHUNK``
    clips per task on the CPU thread pool. ``xs``: a sequence of arrays, or one ``(B, T, C)`` array (read a chunk
    at a time)."""
    T, C = np.shape(xs[members[0]])
    out = np.empty((len(members), setup.hp2.shape[1]))
    stacked = isinstance(xs, np.ndarray) and xs.ndim == 3
    idx = np.asarray(members)
    dtype = np.dtype(jax.dtypes.canonicalize_dtype(np.float64))  # float32 unless jax_enable_x64
    setup = _as_dtype(setup, dtype)

    def run(i):
        part = idx[i:i + _DCT_CHUNK]
        xc = np.empty((len(part), C, T), dtype)
        if stacked:
            src = xs[part[0]:part[-1] + 1] if part[-1] - part[0] == len(part) - 1 else xs[part]
            np.subtract(src.transpose(0, 2, 1), src[:, :1].transpose(0, 2, 1), out=xc, casting="unsafe")
        else:
            for k, b in enumerate(part):
                x = np.asarray(xs[b])
                np.subtract(x.T, x[0][:, None], out=xc[k], casting="unsafe")  # centred on the first frame
        out[i:i + len(part)] = np.sqrt(np.maximum(_dct_energy(xc, setup), 0.0) / (T * C))

    starts = range(0, len(members), _DCT_CHUNK)
    threads = min(cpu_threads(), len(starts))  # host work on any backend
    if threads > 1:
        list(thread_pool(threads).map(run, starts))
    else:
        for i in starts:
            run(i)
    return out


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
        if (np.asarray(lengths) == X.shape[1]).all():  # every clip whole: one array, no per-clip slices
            return auto_cutoffs(X[..., :pos_channels], list(fps))
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