"""Statistics of IMU signals in JAX, differentiable where they serve as calibration losses: the overlapping Allan
deviation and the noise model's own Allan variance, Welch's power spectral density, and distances between sets
of windows or samples (MMD, per-channel Wasserstein).

Arrays hold time (or samples) along the first axis and channels along the last: ``(T,)`` or ``(T, C)``.

* ``allan_variance`` / ``allan_deviation``: the overlapping estimator (NIST SP 1065 eq. 11) of rate samples
  ("frequency" data), with the cluster sizes ``allantools`` picks (``taus="octave"``: ``m = 1, 2, 4, ...`` while at
  least two second differences remain); equal to ``allantools.oadev(y, rate, data_type="freq", taus=...)`` to
  1e-6 in float64 (``tests/test_stats.py``). NumPy in, NumPy out (float64 on the host: a measured curve); JAX in,
  JAX out (jit-able, the cluster sizes static; differentiable).
* ``allan_variance_model``: the closed-form Allan variance of the error terms of ``imusim_jax._noise`` (white
  noise N, bias random walk K) plus the two a datasheet quotes besides (bias instability B, the IEEE 952 flicker
  plateau, and quantisation Q)::

      AVAR(tau) = N^2 / tau + (2 ln 2 / pi) B^2 + K^2 tau / 3 + 3 Q^2 / tau^2

  (IEEE Std 952-1997, annex C; El-Sheimy, Hou, Niu 2008). Bias instability is the flicker (1/f) floor in its
  long-cluster limit, the form datasheets and Allan-curve tools (imu_utils, allan_variance_ros) quote, so a
  fitted B reads as a datasheet's; the exact flicker form needs a low cut-off frequency no record identifies,
  and a Gauss-Markov bias a correlation time a 20-minute record barely does. ``imusim_jax._noise`` simulates N and
  K only: B is reported as measured (see ``imusim_jax.calibrate.stationary``).
* ``welch_psd``: Welch's average of modified periodograms, equal to ``scipy.signal.welch`` with the same
  ``window``, ``nperseg``, ``noverlap``, ``detrend`` and ``scaling`` (one-sided, mean average) along axis 0.
* ``mmd``: the squared maximum mean discrepancy between two sets of vectors with the Gaussian kernel
  ``k(x, y) = exp(-|x - y|^2 / (2 h^2))`` (a sum of such kernels for several ``h``), unbiased (U-statistic)
  estimator by default; ``h`` by the median heuristic (the median pairwise distance of the pooled set, not
  differentiated through) unless given: fix it (``median_bandwidth``) to compare several distances.
* ``wasserstein_1d``: the 1-Wasserstein (earth mover's) distance between two samples' empirical distributions,
  per channel; equal to ``scipy.stats.wasserstein_distance``.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from imusim_jax._errors import InputError

__all__ = ["cluster_sizes", "allan_variance", "allan_deviation", "allan_variance_model", "allan_edf",
           "AVAR_FLICKER", "welch_psd", "median_bandwidth", "mmd", "wasserstein_1d"]

AVAR_FLICKER = 2.0 * np.log(2.0) / np.pi
"""The flicker (bias-instability) plateau of the Allan variance in units of B^2: ``AVAR = 0.4413 B^2``, so the
Allan deviation's floor is ``0.664 B`` (IEEE Std 952-1997, C.1.3)."""


def _is_jax(y) -> bool:
    return isinstance(y, (jax.Array, jax.core.Tracer))


# ---------------------------------------------------------------------------------------------------------------
# Allan variance
# ---------------------------------------------------------------------------------------------------------------

def cluster_sizes(num_samples: int, rate_hz: float = 1.0, taus: Union[str, Sequence[float]] = "octave") -> np.ndarray:
    """The cluster sizes ``m`` (samples; ``tau = m / rate_hz``) the overlapping Allan variance of ``num_samples``
    rate samples is computed at, as ``allantools`` picks them: ``"octave"`` ``1, 2, 4, ...`` (``"all"``: every
    ``m``; an array: the taus in seconds, rounded to whole samples), kept while at least two second differences of
    the ``num_samples + 1`` phase values remain (``num_samples + 1 - 2 m >= 2``), without duplicates."""
    n_phase = int(num_samples) + 1
    if isinstance(taus, str):
        if taus == "octave":
            m = 2.0 ** np.arange(int(np.floor(np.log2(n_phase))) + 1)
        elif taus == "all":
            m = np.arange(1, n_phase + 1, dtype=np.float64)
        else:
            raise InputError(f"taus must be 'octave', 'all' or an array of cluster times in s, got {taus!r}")
    else:
        m = np.round(np.asarray(taus, np.float64).reshape(-1) * float(rate_hz))
    m = np.unique(m[(m > 0) & (m < n_phase)]).astype(np.int64)
    return m[n_phase - 2 * m >= 2]


def _phase(y, rate_hz, xp):
    """Phase (the integral of the rate, mean removed as allantools does) with a leading zero: ``(T + 1, ...)``."""
    y = y - xp.mean(y, axis=0, keepdims=True)
    x = xp.cumsum(y, axis=0) / rate_hz
    return xp.concatenate([xp.zeros_like(x[:1]), x], axis=0)


def allan_sums(y, rate_hz: float, ms: Sequence[int]):
    """The sums of squared second differences of the phase and their counts at each cluster size in ``ms``:
    ``(sums (M, ...), counts (M,))``, so that ``AVAR = sums / (2 tau^2 counts)``. Sums from several records of
    one sensor (rest segments parted by motion) add up to the pooled estimate, each segment weighted by its
    count. A cluster size the record is too short for gets a sum and count of 0. NumPy or JAX as ``y``."""
    xp = jnp if _is_jax(y) else np
    y = y if xp is jnp else np.asarray(y, np.float64)
    x = _phase(y, rate_hz, xp)
    n_phase = x.shape[0]
    sums, counts = [], []
    for m in (int(v) for v in ms):
        n = n_phase - 2 * m
        if n < 1:
            sums.append(xp.zeros_like(x[0]))
            counts.append(0)
            continue
        d = x[2 * m:] - 2.0 * x[m:n_phase - m] + x[:n]
        sums.append(xp.sum(d * d, axis=0))
        counts.append(n)
    return xp.stack(sums), np.asarray(counts, np.int64)


def allan_variance(y, rate_hz: float, taus: Union[str, Sequence[float]] = "octave"):
    """Overlapping Allan variance of rate samples ``y`` ``(T,)`` or ``(T, C)`` (per channel) at ``rate_hz``.

    Returns ``(taus, avar)``: the cluster times in s (NumPy ``(M,)``, from ``cluster_sizes``) and the variance
    ``(M,)`` or ``(M, C)`` in ``y``'s units squared. NumPy ``y`` is computed in float64 with NumPy; a JAX array
    with JAX (differentiable; under ``jit`` ``T`` and ``taus`` are static)."""
    n = int(np.shape(y)[0])
    ms = cluster_sizes(n, rate_hz, taus)
    if len(ms) == 0:
        raise InputError(f"{n} samples are too few for an Allan variance (at least 3)")
    sums, counts = allan_sums(y, rate_hz, ms)
    t = ms / float(rate_hz)
    shape = (-1,) + (1,) * (sums.ndim - 1)
    return t, sums / (2.0 * (t ** 2 * counts).reshape(shape))


def allan_deviation(y, rate_hz: float, taus: Union[str, Sequence[float]] = "octave"):
    """Overlapping Allan deviation ``(taus, adev)``: the square root of ``allan_variance`` (same arguments)."""
    t, v = allan_variance(y, rate_hz, taus)
    return t, (jnp.sqrt(v) if _is_jax(v) else np.sqrt(v))


def allan_edf(num_samples, ms) -> np.ndarray:
    """Degrees of freedom the Allan variance estimate at cluster sizes ``ms`` has, taken as ``K - 1`` with ``K``
    the number of whole non-overlapping clusters (``floor(T / m)``): the variance's relative error is then
    ``sqrt(2 / edf)``, the deviation's ``1 / sqrt(2 (K - 1))``. The overlapping estimator does somewhat better
    for white noise and about as well for a random walk (Greenhall and Riley 2003): a cautious figure. Several
    records (segments) add their degrees of freedom."""
    return np.maximum(np.floor(np.asarray(num_samples)[..., None] / np.asarray(ms)) - 1.0, 0.0)


def allan_variance_model(taus, white=0.0, bias_instability=0.0, random_walk=0.0, quantization=0.0):
    """The Allan variance of a sensor with white noise density ``white`` (N, u/sqrt(Hz)), bias instability
    ``bias_instability`` (B, u; the flicker plateau), bias random walk ``random_walk`` (K, u/sqrt(s)) and angle
    quantisation ``quantization`` (Q, u s) at cluster times ``taus`` (s): ``N^2/tau + 0.4413 B^2 + K^2 tau / 3 +
    3 Q^2 / tau^2`` (the module docstring). Parameters broadcast against ``taus[:, None]`` when they have a channel
    axis: pass ``taus`` ``(M,)`` and parameters ``(C,)`` for ``(M, C)``. Differentiable in every argument.

    The white and random-walk terms are those ``imusim_jax._noise`` simulates: a white noise of ``sigma = N
    sqrt(fs)`` per sample has overlapping AVAR ``N^2 / tau`` exactly; a random walk of steps ``K / sqrt(fs)``
    has ``K^2 tau / 3`` plus ``K^2 / (6 fs^2 tau)``, negligible where the walk is seen at all."""
    xp = jnp if any(_is_jax(v) for v in (taus, white, bias_instability, random_walk, quantization)) else np
    params = [xp.asarray(v) for v in (white, bias_instability, random_walk, quantization)]
    t = xp.asarray(taus)
    nd = max(p.ndim for p in params)
    if nd:
        t = t.reshape((-1,) + (1,) * nd)
        params = [p.reshape((1,) * (nd + 1 - p.ndim) + p.shape) if p.ndim else p for p in params]
    N, B, K, Q = params
    return N ** 2 / t + AVAR_FLICKER * B ** 2 + K ** 2 * t / 3.0 + 3.0 * Q ** 2 / t ** 2


# ---------------------------------------------------------------------------------------------------------------
# Welch PSD
# ---------------------------------------------------------------------------------------------------------------

def welch_psd(y, rate_hz: float, nperseg: int = 256, *, noverlap: Optional[int] = None, window="hann",
              detrend: Union[str, bool] = "constant", scaling: str = "density"):
    """Welch's power spectral density of ``y`` ``(T,)`` or ``(T, C)`` along axis 0: ``(freqs, psd)`` with
    ``freqs`` ``(F,)`` NumPy in Hz and ``psd`` ``(F,)`` or ``(F, C)`` in u^2/Hz (``scaling="density"``) or u^2
    (``"spectrum"``). Equal to ``scipy.signal.welch(y, rate_hz, window, nperseg, noverlap, detrend=detrend,
    scaling=scaling, axis=0)``: segments of ``nperseg`` samples (at most ``T``) overlapping by ``noverlap``
    (default half), each detrended (``"constant"``, ``"linear"`` or ``False``), windowed (any
    ``scipy.signal.get_window`` name, or an array), one-sided periodograms averaged. JAX, differentiable."""
    import scipy.signal

    y = jnp.asarray(y)
    T = int(y.shape[0])
    nperseg = min(int(nperseg), T)
    noverlap = nperseg // 2 if noverlap is None else int(noverlap)
    if not 0 <= noverlap < nperseg:
        raise InputError(f"noverlap must be from 0 to nperseg - 1 ({nperseg - 1}), got {noverlap}")
    if detrend not in ("constant", "linear", False, None):
        raise InputError(f"detrend must be 'constant', 'linear' or False, got {detrend!r}")
    if scaling not in ("density", "spectrum"):
        raise InputError(f"scaling must be 'density' or 'spectrum', got {scaling!r}")
    win = np.asarray(window, np.float64) if not isinstance(window, (str, tuple)) else \
        scipy.signal.get_window(window, nperseg)
    if win.shape != (nperseg,):
        raise InputError(f"the window must have nperseg ({nperseg}) values, got {win.shape}")
    step = nperseg - noverlap
    starts = np.arange(0, T - nperseg + 1, step)
    seg = y[starts[:, None] + np.arange(nperseg)[None, :]]  # (S, nperseg, ...)
    if detrend == "constant":
        seg = seg - jnp.mean(seg, axis=1, keepdims=True)
    elif detrend == "linear":
        t = np.arange(nperseg, dtype=np.float64)
        t = (t - t.mean()) / np.sqrt(((t - t.mean()) ** 2).sum())
        tt = jnp.asarray(t, seg.dtype).reshape((1, nperseg) + (1,) * (seg.ndim - 2))
        seg = seg - jnp.mean(seg, axis=1, keepdims=True)
        seg = seg - tt * jnp.sum(seg * tt, axis=1, keepdims=True)
    w = jnp.asarray(win, seg.dtype).reshape((1, nperseg) + (1,) * (seg.ndim - 2))
    X = jnp.fft.rfft(seg * w, axis=1)
    scale = 1.0 / (rate_hz * (win ** 2).sum()) if scaling == "density" else 1.0 / win.sum() ** 2
    P = (X.real ** 2 + X.imag ** 2) * scale
    one = np.ones(P.shape[1])
    one[1:-1 if nperseg % 2 == 0 else None] = 2.0
    P = P * jnp.asarray(one, P.dtype).reshape((1, -1) + (1,) * (P.ndim - 2))
    return np.fft.rfftfreq(nperseg, 1.0 / rate_hz), jnp.mean(P, axis=0)


# ---------------------------------------------------------------------------------------------------------------
# Distances between sets
# ---------------------------------------------------------------------------------------------------------------

def _vectors(X):
    X = jnp.asarray(X)
    return X.reshape(X.shape[0], -1) if X.ndim != 2 else X


def _sq_dists(X, Y):
    d = jnp.sum(X * X, 1)[:, None] + jnp.sum(Y * Y, 1)[None, :] - 2.0 * jnp.matmul(X, Y.T, precision="highest")
    return jnp.maximum(d, 0.0)


def median_bandwidth(X, Y=None):
    """The median heuristic's kernel bandwidth: the median Euclidean distance between distinct vectors of ``X``
    (and ``Y``, pooled), ``(n, d)`` (or ``(n, ...)``, flattened). Not differentiated through."""
    Z = _vectors(X) if Y is None else jnp.concatenate([_vectors(X), _vectors(Y)], 0)
    Z = jax.lax.stop_gradient(Z)
    d2 = _sq_dists(Z, Z)
    iu = np.triu_indices(Z.shape[0], 1)
    return jnp.sqrt(jnp.median(d2[iu]))


def mmd(X, Y, bandwidth=None, *, unbiased: bool = True):
    """The squared maximum mean discrepancy between the sets ``X`` ``(n, d)`` and ``Y`` ``(m, d)`` (rows are
    vectors: a window's features, or a flattened window; ``(n, ...)`` is flattened), with the Gaussian kernel
    ``exp(-|x - y|^2 / (2 h^2))`` summed over the bandwidths ``bandwidth`` (a number or a sequence; ``None``: the
    median heuristic, ``median_bandwidth(X, Y)``). ``unbiased`` (default): the U-statistic of Gretton et al. 2012
    (eq. 3; can dip below 0 when the sets agree); else the biased V-statistic (never negative). Differentiable in
    ``X`` and ``Y`` (and a given bandwidth)."""
    X, Y = _vectors(X), _vectors(Y)
    if X.shape[1] != Y.shape[1]:
        raise InputError(f"mmd needs vectors of one length, got {X.shape[1]} and {Y.shape[1]}")
    n, m = X.shape[0], Y.shape[0]
    if n < 2 or m < 2:
        raise InputError(f"mmd needs at least two vectors in each set, got {n} and {m}")
    h = median_bandwidth(X, Y) if bandwidth is None else jnp.asarray(bandwidth)
    h = jnp.atleast_1d(h).reshape(-1, 1, 1)

    def k(A, B):
        return jnp.sum(jnp.exp(-_sq_dists(A, B)[None] / (2.0 * h ** 2)), axis=0)

    Kxx, Kyy, Kxy = k(X, X), k(Y, Y), k(X, Y)
    if unbiased:
        sxx = (jnp.sum(Kxx) - jnp.trace(Kxx)) / (n * (n - 1))
        syy = (jnp.sum(Kyy) - jnp.trace(Kyy)) / (m * (m - 1))
    else:
        sxx, syy = jnp.mean(Kxx), jnp.mean(Kyy)
    return sxx + syy - 2.0 * jnp.mean(Kxy)


def wasserstein_1d(x, y):
    """The 1-Wasserstein distance between the empirical distributions of samples ``x`` ``(n,)`` and ``y``
    ``(m,)``, or per channel of ``(n, C)`` and ``(m, C)`` (leading axes of ``(..., C)`` are pooled): the area
    between the two empirical CDFs, as ``scipy.stats.wasserstein_distance`` computes it. Returns a number or
    ``(C,)``. Differentiable in the sample values (almost everywhere: at ties the gradient is one of the
    one-sided ones)."""
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim == 1 and y.ndim == 1:
        return _w1(x, y)
    if x.ndim == 1 or y.ndim == 1 or x.shape[-1] != y.shape[-1]:
        raise InputError(f"wasserstein_1d needs samples of the same channels, got shapes {x.shape} and {y.shape}")
    C = x.shape[-1]
    return jax.vmap(_w1, in_axes=(1, 1))(x.reshape(-1, C), y.reshape(-1, C))


def _w1(u, v):
    n, m = u.shape[0], v.shape[0]
    us, vs = jnp.sort(u), jnp.sort(v)
    allv = jnp.sort(jnp.concatenate([u, v]))
    deltas = jnp.diff(allv)
    at = jax.lax.stop_gradient(allv[:-1])
    ucdf = jnp.searchsorted(jax.lax.stop_gradient(us), at, side="right").astype(deltas.dtype) / n
    vcdf = jnp.searchsorted(jax.lax.stop_gradient(vs), at, side="right").astype(deltas.dtype) / m
    return jnp.sum(jnp.abs(ucdf - vcdf) * deltas)
