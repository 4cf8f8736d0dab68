"""Unpaired calibration: the simulator's sensor parameters fitted by distribution matching, from simulated clips
and real recordings of the same activities that are not the same trials (no motion is paired with a recording).

``fit_unpaired(simulated, real)`` re-simulates the clips inside the loss (``prepare`` once on the motions, then
``imusim_jax.sense(prepared, mount, noise, key)`` with the sensor parameters as optimisation variables and a fixed
key: common random numbers, so the loss is a smooth function of the parameters), cuts both sets into windows
(``window_s``, 2 s by default, every ``hop_s``), and minimises a distance between the two sets of windows:

* ``MMD^2`` (``imusim_jax.stats.mmd``, Gaussian kernels at 0.5, 1 and 2 times the median heuristic's bandwidth of
  the real windows, fixed for the whole fit) between per-window features, per channel: the mean, the standard
  deviation and the mean absolute first difference (the window's level, spread and roughness: the last is what
  the noise and the smoothing move), each standardised by its spread over the real windows;
* plus ``w1_weight`` times the mean over channels of the 1-Wasserstein distance (``stats.wasserstein_1d``)
  between the samples of the two sets, each channel divided by its real standard deviation.

Parameters fitted (``fit``), all through ``sense``'s noise model except the smoothing:

* ``noise``: white-noise density per axis (``noise_density``), accelerometer and gyroscope;
* ``scale``: per-axis scale factor (``scale_error``), in ``(0.5, 2)`` times (wide: in the unpaired setting it
  also absorbs the motion source's length errors, e.g. a crude pose lift's);
* ``bias`` (not by default): per-axis offset (``bias``), accelerometer within +-3 m/s^2, gyroscope within
  +-0.3 rad/s;
* ``smoothing``: a zero-phase Gaussian low-pass of the sensed signal, one per sensor (the accelerometer, a second
  derivative of positions, carries the pose's jitter amplified as f^4, the gyroscope as f^2), its standard
  deviation in samples within ``(0.05, 4)``. The simulator's own cut-off is a host decision of ``prepare`` (a filter design, not
  differentiable), so the filter parameter is this smoothing on ``sense``'s output, fitted jointly by gradient
  with the rest; the report gives its -3 dB frequency and the cut-off of ``prepare``'s filter cascaded with it
  (``cutoff_hz_equivalent``), the number to pass as ``--cutoff`` (or ``prepare(cutoff_hz=...)``) when simulating
  with the profile: the profile itself has no filter field.
* ``contact_time`` (not by default): the contact model's contact time (``imusim_jax.ImpactModel``, a leaf of
  ``Prepared.impact``), within ``(0.005, 0.3)`` s, for simulated falls against real falls (the simulated clips
  must hold contacts ``prepare`` finds); the profile carries it (``contact_time_s``).

What the fitted values mean: the distance sees the motion's variability and the sensor's together, so on real
data a parameter absorbs whatever the simulation of those motions lacks. On UP-Fall (MediaPipe landmarks of the
falls, lifted crudely to metres, against the real left wrist; ``benchmarks/calibrate.py``), the white-noise
densities come out near 2.3 m/s^2/sqrt(Hz) and 0.1-0.3 rad/s/sqrt(Hz), a hundred times a MEMS sensor's: they
stand for the motion the lifted poses miss, not for the sensor's noise (the stationary mode measures that), and
the gyroscope's scale near 1.8 for the wrist rotation 18 fps landmarks under-read. The mode's output is a
simulation whose windows are distributed like the real ones, not a sensor datasheet.

Measured (``benchmarks/calibrate.py``, 2-core CPU): the synthetic round trip (the same 16 motions on both sides,
other noise draws, known per-axis scales within +-5 % and smoothings; 3 seeds) recovers the scales within 0.03 %
and the smoothings within 0.1 %; the noise densities are not identifiable there (they go to ~0: after the
smoothing the truth's noise is under 1 % of the windows' roughness). UP-Fall, each skeleton subject left out in
turn (per-sensor scale and noise, ``per_axis=False``), distances on the held-out subject against held-out real
runs (MMD^2 / mean W1 in real standard deviations): S3 before 0.655 / 0.436, after 0.269 / 0.340, percentile
mapping 0.442 / 0.416; S7 0.757 / 0.447, 0.408 / 0.295, 0.496 / 0.425; S10 0.340 / 0.392, 0.385 / 0.494,
0.684 / 0.799: the fit beats percentile mapping on every fold and the unfitted simulation on two of three (S10's
unfitted simulation is already the closest of the three). 60-100 s a fold with 5 bootstrap replicates (18-37 s
compiling), about half without.

What is not fitted: the mount (the real sensor's rotation on the wrist; the given mount is used), random-walk
and turn-on-bias spreads (a few seconds per window do not see them), range and bits.

Baseline: ``percentile_map(simulated_samples, real_samples)``, IMUTube's per-channel quantile mapping (Kwon et
al. 2020: each simulated channel's values replaced by the real channel's value at the same percentile), fitted
on the same fit sets. ``distances`` scores any set of simulated windows against real windows; ``fit_unpaired``
reports before (the start parameters, no smoothing), after the fit and after percentile mapping, on held-out sets
when ``held_out`` is given.

Uncertainty: a bootstrap over clips (``bootstrap`` replicates: simulated clips and real recordings drawn with
replacement, as weights of their windows), the replicates fitted in the same optax run as the data (parameters
stacked, one compilation); 0 skips it (the report says so).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from imusim_jax import _fit
from imusim_jax import stats
from imusim_jax._errors import InputError
from imusim_jax._motion import Motion, stack_motions
from imusim_jax._mounting import Mount, get_mount
from imusim_jax._noise import ImuNoise, SensorNoise, get_noise
from imusim_jax._profile import SensorProfile
from imusim_jax._signal import ImuRecording, ImuSignal
from imusim_jax._simulate import Prepared, prepare, sense

__all__ = ["fit_unpaired", "UnpairedResult", "percentile_map", "PercentileMap", "distances", "window_features",
           "cut_windows", "gaussian_smooth", "FIT_PARAMETERS", "DEFAULT_FIT"]

FIT_PARAMETERS = ("noise", "scale", "bias", "smoothing", "contact_time")
DEFAULT_FIT = ("noise", "scale", "smoothing")
_SMOOTH_RADIUS = 12  # samples: the kernel reaches 3 sigma at the largest sigma (4)


# ---------------------------------------------------------------------------------------------------------------
# Windows, features, smoothing
# ---------------------------------------------------------------------------------------------------------------

def _starts(n: int, window: int, hop: int) -> np.ndarray:
    return np.arange(0, n - window + 1, hop) if n >= window else np.zeros(0, np.int64)


def cut_windows(signals: Sequence, window: int, hop: int) -> np.ndarray:
    """Windows ``(N, window, 6)`` (accelerometer x, y, z, gyroscope x, y, z) of ``window`` samples every ``hop``
    from single-clip signals (``ImuSignal``, ``ImuRecording`` or ``(T, 6)`` arrays); windows holding a saturated
    sample are left out."""
    out = []
    for s in signals:
        if isinstance(s, ImuRecording):
            s = s.signal
        sat = None
        if isinstance(s, ImuSignal):
            sat = None if s.saturated is None else np.asarray(s.saturated, bool).any(1)
            s = np.concatenate([np.asarray(s.accel, np.float64), np.asarray(s.gyro, np.float64)], 1)
        x = np.asarray(s, np.float64)
        for a in _starts(len(x), window, hop):
            if sat is None or not sat[a:a + window].any():
                out.append(x[a:a + window])
    return np.stack(out) if out else np.zeros((0, window, 6))


def window_features(w):
    """Per window and channel: mean, standard deviation and mean absolute first difference, ``(N, 3 C)`` from
    ``(N, W, C)`` windows (NumPy or JAX; differentiable)."""
    xp = jnp if isinstance(w, (jax.Array, jax.core.Tracer)) else np
    m = xp.mean(w, axis=1)
    sd = xp.sqrt(xp.mean((w - m[:, None]) ** 2, axis=1) + 1e-12)
    rough = xp.mean(xp.abs(xp.diff(w, axis=1)), axis=1)
    return xp.concatenate([m, sd, rough], axis=1)


def gaussian_smooth(x, sigma, mask=None, radius: int = _SMOOTH_RADIUS):
    """Zero-phase Gaussian smoothing along axis ``-2`` of ``x`` ``(..., T, C)`` with standard deviation ``sigma``
    (samples; differentiable), over the samples where ``mask`` ``(..., T)`` is true (the kernel renormalised at
    the edges of the valid samples, so padding does not leak in)."""
    k = jnp.arange(-radius, radius + 1, dtype=x.dtype)
    w = jnp.exp(-0.5 * (k / sigma) ** 2)
    w = w / jnp.sum(w)
    m = jnp.ones(x.shape[:-1], x.dtype) if mask is None else mask.astype(x.dtype)
    T = x.shape[-2]
    xp = jnp.pad(x * m[..., None], [(0, 0)] * (x.ndim - 2) + [(radius, radius), (0, 0)])
    mp = jnp.pad(m, [(0, 0)] * (m.ndim - 1) + [(radius, radius)])
    num = sum(w[j] * xp[..., j:j + T, :] for j in range(2 * radius + 1))
    den = sum(w[j] * mp[..., j:j + T] for j in range(2 * radius + 1))
    return num / jnp.maximum(den, 1e-6)[..., None]


def _smoothing_cutoff_hz(sigma_samples: float, rate_hz: float) -> float:
    """The -3 dB frequency of a Gaussian of ``sigma_samples`` at ``rate_hz``: ``sqrt(ln 2) / (2 pi sigma_t)``."""
    return float(np.sqrt(np.log(2.0)) / (2.0 * np.pi * sigma_samples / rate_hz))


def _equivalent_cutoff(cutoff_hz: float, order: int, sigma_samples: float, rate_hz: float) -> float:
    """The -3 dB frequency of a zero-phase Butterworth (``order``, run forwards and backwards: ``|H|^2 = 1/(1 +
    (f/fc)^(2 order))`` squared) cascaded with the Gaussian."""
    f = np.linspace(1e-3, rate_hz / 2, 20000)
    st = sigma_samples / rate_hz
    gain = np.exp(-2 * (np.pi * f * st) ** 2)
    if np.isfinite(cutoff_hz):
        gain = gain / (1.0 + (f / cutoff_hz) ** (2 * order))
    below = np.flatnonzero(gain < 1 / np.sqrt(2))
    return float(f[below[0]]) if len(below) else float(rate_hz / 2)


# ---------------------------------------------------------------------------------------------------------------
# Distances
# ---------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class _RealStats:
    """What standardises and scales the distances: fixed by the real fit windows."""

    f_mean: np.ndarray
    f_sd: np.ndarray
    bandwidths: np.ndarray
    ch_sd: np.ndarray

    @classmethod
    def of(cls, real_windows: np.ndarray) -> "_RealStats":
        f = window_features(real_windows)
        mu, sd = f.mean(0), f.std(0) + 1e-9
        z = (f - mu) / sd
        d = np.sqrt(((z[:, None] - z[None]) ** 2).sum(-1))
        h = float(np.median(d[np.triu_indices(len(z), 1)]))
        return cls(mu, sd, h * np.array([0.5, 1.0, 2.0]), real_windows.reshape(-1, 6).std(0) + 1e-9)


@dataclasses.dataclass
class _RealSet:
    """A real set as the loss reads it, computed once on the host (XLA would otherwise constant-fold the sort of
    the real samples and their kernel matrix into every compilation): standardised features, per-channel sorted
    samples, and for each of ``R`` weightings of the windows (1: all windows once; more: bootstrap replicates,
    a window's weight the times its recording was drawn) the MMD's real-real term and the cumulative weights of the
    sorted samples."""

    z: np.ndarray              # (M, F)
    weights: np.ndarray        # (R, M)
    syy: np.ndarray            # (R,)
    sorted_samples: np.ndarray  # (S, 6)
    cum_weights: np.ndarray    # (R, S + 1, 6): the weighted CDF just right of each sorted sample, 0 before

    @classmethod
    def of(cls, real_windows: np.ndarray, rs: _RealStats, weights=None) -> "_RealSet":
        M, W = real_windows.shape[:2]
        weights = np.ones((1, M)) if weights is None else np.asarray(weights, np.float64)
        z = (window_features(real_windows) - rs.f_mean) / rs.f_sd
        d2 = ((z[:, None] - z[None]) ** 2).sum(-1)
        K = sum(np.exp(-d2 / (2 * h ** 2)) for h in rs.bandwidths)
        off = ~np.eye(M, dtype=bool)
        syy = np.array([(np.outer(w, w) * K)[off].sum() / np.outer(w, w)[off].sum() for w in weights])
        x = real_windows.reshape(-1, 6)
        order = np.argsort(x, axis=0, kind="stable")
        sw = np.repeat(weights, W, axis=1)  # (R, S): each sample its window's weight
        cw = np.stack([np.cumsum(sw[:, order[:, c]], axis=1) for c in range(6)], -1)
        cw = np.concatenate([np.zeros((len(weights), 1, 6)), cw / cw[:, -1:]], axis=1)
        return cls(z.astype(np.float32), weights.astype(np.float32), syy.astype(np.float32),
                   np.take_along_axis(x, order, 0).astype(np.float32), cw.astype(np.float32))


def _w1_weighted(u, a, v_sorted, v_cum):
    """The 1-Wasserstein distance of one channel between samples ``u`` with weights ``a`` and sorted samples
    ``v_sorted`` whose weighted CDF is ``v_cum`` (``(S + 1,)``: 0, then the CDF just right of each): the area
    between the CDFs, as ``stats.wasserstein_1d`` (the same with unit weights)."""
    order = jnp.argsort(jax.lax.stop_gradient(u))
    us = u[order]
    ucum = jnp.concatenate([jnp.zeros(1, a.dtype), jnp.cumsum(a[order]) / jnp.sum(a)])
    allv = jnp.sort(jnp.concatenate([u, v_sorted]))
    deltas = jnp.diff(allv)
    at = jax.lax.stop_gradient(allv[:-1])
    ucdf = ucum[jnp.searchsorted(jax.lax.stop_gradient(us), at, side="right")]
    vcdf = v_cum[jnp.searchsorted(v_sorted, at, side="right")]
    return jnp.sum(jnp.abs(ucdf - vcdf) * deltas)


def _distance_terms(sim_w, real: _RealSet, rs: _RealStats, r: int = 0, a=None):
    """``(mmd2, w1 (6,))`` of simulated windows ``sim_w`` ``(N, W, 6)`` (weights ``a`` ``(N,)``, default 1)
    against the real set under its weighting ``r`` (an index; traced under ``vmap``). JAX, differentiable in
    ``sim_w``. With unit weights: the unbiased MMD^2 of ``stats.mmd`` and ``stats.wasserstein_1d``."""
    z = (window_features(sim_w) - rs.f_mean[None]) / rs.f_sd[None]
    h = jnp.asarray(rs.bandwidths, z.dtype).reshape(-1, 1, 1)
    n, W = sim_w.shape[:2]
    a = jnp.ones(n, z.dtype) if a is None else a
    b = jnp.asarray(real.weights)[r]

    def k(A, B):
        d2 = jnp.sum(A * A, 1)[:, None] + jnp.sum(B * B, 1)[None, :] - 2.0 * jnp.matmul(A, B.T, precision="highest")
        return jnp.sum(jnp.exp(-jnp.maximum(d2, 0.0)[None] / (2.0 * h ** 2)), axis=0)

    aa = a[:, None] * a[None, :]
    Kxx = k(z, z)
    sxx = (jnp.sum(aa * Kxx) - jnp.sum(a * a * jnp.diagonal(Kxx))) / (jnp.sum(aa) - jnp.sum(a * a))
    sxy = jnp.sum(a[:, None] * b[None, :] * k(z, jnp.asarray(real.z))) / (jnp.sum(a) * jnp.sum(b))
    mmd2 = sxx + jnp.asarray(real.syy)[r] - 2.0 * sxy
    x = sim_w.reshape(-1, 6)
    aw = jnp.repeat(a, W)
    cw = jnp.asarray(real.cum_weights)[r]
    w1 = jnp.stack([_w1_weighted(x[:, c], aw, jnp.asarray(real.sorted_samples[:, c]), cw[:, c]) for c in range(6)])
    return mmd2, w1 / jnp.asarray(rs.ch_sd, w1.dtype)


def distances(sim_windows, real_windows, reference: Optional[np.ndarray] = None) -> dict:
    """The distances between simulated and real windows ``(N, W, 6)``: ``mmd2`` (the features' MMD^2 as the fit
    uses it), ``w1`` per channel (in each channel's real standard deviations) and their mean ``w1_mean``, and
    ``w1_si`` per channel (in m/s^2 and rad/s). The standardisation and kernel come from ``reference`` windows
    (default: ``real_windows``), so several simulated sets compare against one real set on one scale."""
    rs = _RealStats.of(np.asarray(reference if reference is not None else real_windows, np.float64))
    sim, real = np.asarray(sim_windows, np.float64), np.asarray(real_windows, np.float64)
    zs = (window_features(sim) - rs.f_mean) / rs.f_sd
    zr = (window_features(real) - rs.f_mean) / rs.f_sd
    mmd2 = stats.mmd(jnp.asarray(zs, jnp.float32), jnp.asarray(zr, jnp.float32), rs.bandwidths)
    w1 = np.asarray(stats.wasserstein_1d(jnp.asarray(sim.reshape(-1, 6), jnp.float32),
                                         jnp.asarray(real.reshape(-1, 6), jnp.float32)), np.float64) / rs.ch_sd
    return {"mmd2": float(mmd2), "w1": w1.tolist(), "w1_mean": float(w1.mean()), "w1_si": (w1 * rs.ch_sd).tolist()}


# ---------------------------------------------------------------------------------------------------------------
# Percentile mapping (the baseline)
# ---------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class PercentileMap:
    """IMUTube's per-channel percentile mapping: ``x -> Q_real(F_sim(x))`` per channel, piecewise linear between
    ``quantiles`` matched percentiles, clamped to the real range outside the simulated one."""

    sim_q: np.ndarray  # (Q, 6)
    real_q: np.ndarray  # (Q, 6)

    def __call__(self, x):
        """Map samples ``(..., 6)`` (or windows ``(N, W, 6)``), an ``ImuSignal`` or an ``ImuRecording``."""
        if isinstance(x, ImuRecording):
            return dataclasses.replace(x, signal=self(x.signal))
        if isinstance(x, ImuSignal):
            y = self(np.concatenate([np.asarray(x.accel), np.asarray(x.gyro)], -1))
            return x.replace(accel=y[..., :3], gyro=y[..., 3:])
        x = np.asarray(x, np.float64)
        out = np.empty_like(x)
        for c in range(x.shape[-1]):
            sq, idx = np.unique(self.sim_q[:, c], return_index=True)
            out[..., c] = np.interp(x[..., c], sq, self.real_q[idx, c])
        return out


def percentile_map(simulated, real, *, quantiles: int = 1001) -> PercentileMap:
    """Fit IMUTube's percentile mapping from simulated to real samples, per channel: ``simulated`` and ``real``
    as ``(N, 6)`` samples, windows ``(N, W, 6)``, or sequences of signals / recordings / ``(T, 6)`` arrays."""
    def samples(v):
        if isinstance(v, np.ndarray) or isinstance(v, jax.Array):
            return np.asarray(v, np.float64).reshape(-1, 6)
        return cut_windows(v, 1, 1).reshape(-1, 6)

    s, r = samples(simulated), samples(real)
    if len(s) < 2 or len(r) < 2:
        raise InputError("percentile mapping needs at least two simulated and two real samples")
    q = np.linspace(0, 100, quantiles)
    return PercentileMap(np.percentile(s, q, axis=0), np.percentile(r, q, axis=0))


# ---------------------------------------------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class UnpairedResult:
    """What ``fit_unpaired`` found.

    Attributes:
      profile: ``SensorProfile`` (noise with the fitted densities, scale and bias; the mount used; the rate; the
        fit report in ``profile.fit``).
      report: distances ``before`` (the start parameters, no smoothing), ``after`` (the fit) and ``percentile``
        (percentile mapping of the ``before`` simulation) against the real windows, on the held-out sets when
        given (``report["on"]`` says which), plus the same on the fit sets (``fit_sets``).
      smoothing_samples: the fitted Gaussians' standard deviations ``(2,)`` (accelerometer, gyroscope), samples
        (0: not fitted).
      percentile: the ``PercentileMap`` fitted on the fit sets (the baseline).
      simulate: ``simulate(motions)`` -> ``(X (B, T, 6), lengths (B,))``: the fitted simulation (noise, scale,
        bias and smoothing) of other clips, e.g. held-out ones.
    """

    profile: SensorProfile
    report: dict
    smoothing_samples: np.ndarray
    percentile: PercentileMap
    simulate: Callable


def _sim_windows_index(lengths: np.ndarray, window: int, hop: int):
    bs, ts = [], []
    for b, n in enumerate(np.asarray(lengths)):
        for a in _starts(int(n), window, hop):
            bs.append(b)
            ts.append(a + np.arange(window))
    if not bs:
        raise InputError(f"no simulated clip is as long as a window ({window} samples): shorten window_s")
    return np.asarray(bs), np.stack(ts)


def _motions_of(simulated):
    if isinstance(simulated, (Motion, Prepared)):
        return simulated
    ms = list(simulated)
    if not ms or not all(isinstance(m, Motion) for m in ms):
        raise InputError("fit_unpaired's simulated clips are Motions (a batch, or a sequence of single clips)")
    return stack_motions(ms) if len(ms) > 1 or not ms[0].batched else ms[0]


def _prepared_of(simulated, mount: Mount, rate_hz: float, cutoff_hz) -> Prepared:
    """``simulated`` prepared at the real rate with ``cutoff_hz`` (``None``: permissive, 0.4 times the lowest
    frame rate, leaving the smoothing to the fit); a ``Prepared`` is taken as it is."""
    m = _motions_of(simulated)
    if isinstance(m, Prepared):
        if abs(m.rate_hz - rate_hz) > 1e-6 * rate_hz:
            raise InputError(f"the prepared clips are at {m.rate_hz:g} Hz, the real recordings at {rate_hz:g} Hz: "
                             "prepare them at the real rate")
        return m
    if cutoff_hz is None:
        cutoff_hz = float(np.round(0.4 * float(np.min(np.asarray(m.fps))), 2))
    return prepare(m, mount, rate_hz=rate_hz, cutoff_hz=cutoff_hz)


def _real_list(real) -> list:
    if isinstance(real, (ImuSignal, ImuRecording)):
        real = [real]
    out = []
    for r in real:
        s = r.signal if isinstance(r, ImuRecording) else r
        if not isinstance(s, ImuSignal) or s.batched:
            raise InputError("real recordings must be single-clip ImuSignals or ImuRecordings")
        out.append(s)
    if not out:
        raise InputError("fit_unpaired needs real recordings")
    return out


def _base_noise(noise) -> ImuNoise:
    n = get_noise(noise) if noise is not None else None
    if n is None:
        n = ImuNoise(SensorNoise.create(noise_density=1e-3), SensorNoise.create(noise_density=1e-4), "start")
    # what the fit does not touch and the windows cannot see is switched off: random turn-on spreads, random
    # walk, saturation, quantisation
    def clean(s: SensorNoise) -> SensorNoise:
        return SensorNoise.create(noise_density=np.maximum(np.asarray(s.noise_density, np.float64), 1e-6),
                                  bias=s.bias, scale_error=s.scale_error, misalignment=s.misalignment)
    return ImuNoise(clean(n.accel), clean(n.gyro), n.name)


def _params0(base: ImuNoise, fit: tuple, smoothing0: float, per_axis: bool, contact0: float = 0.06):
    p, c = {}, {}
    pick = (lambda v: jnp.asarray(v, jnp.float32)) if per_axis else (lambda v: jnp.asarray(np.mean(v), jnp.float32))
    if "noise" in fit:
        p["nd_a"], p["nd_g"] = pick(base.accel.noise_density), pick(base.gyro.noise_density)
        c["nd_a"] = c["nd_g"] = _fit.positive
    if "scale" in fit:
        p["scale_a"], p["scale_g"] = (pick(1.0 + np.asarray(base.accel.scale_error)),
                                      pick(1.0 + np.asarray(base.gyro.scale_error)))
        c["scale_a"] = c["scale_g"] = _fit.bounded(0.5, 2.0)
    if "bias" in fit:
        p["bias_a"], p["bias_g"] = jnp.asarray(base.accel.bias), jnp.asarray(base.gyro.bias)
        c["bias_a"], c["bias_g"] = _fit.bounded(-3.0, 3.0), _fit.bounded(-0.3, 0.3)
    if "smoothing" in fit:
        p["smooth"] = jnp.full(2, smoothing0, jnp.float32)  # accelerometer, gyroscope
        c["smooth"] = _fit.bounded(0.05, 4.0)
    if "contact_time" in fit:
        p["contact"] = jnp.asarray(contact0, jnp.float32)  # the contact model's contact time, s
        c["contact"] = _fit.bounded(0.005, 0.3)
    return p, c


def _noise_of(p, base: ImuNoise) -> ImuNoise:
    a, g = base.accel, base.gyro
    three = jnp.ones(3, jnp.float32)
    if "nd_a" in p:
        a, g = a.replace(noise_density=p["nd_a"] * three), g.replace(noise_density=p["nd_g"] * three)
    if "scale_a" in p:
        a, g = a.replace(scale_error=p["scale_a"] * three - 1.0), g.replace(scale_error=p["scale_g"] * three - 1.0)
    if "bias_a" in p:
        a, g = a.replace(bias=p["bias_a"]), g.replace(bias=p["bias_g"])
    return ImuNoise(a, g, base.name)


def _simulator(prepared: Prepared, mount: Mount, base: ImuNoise, key):
    """``run(params) -> (X (B, T, 6), mask (B, T))``: sense with the parameters' noise, then the smoothing."""
    def run(p):
        prep = prepared if "contact" not in p else prepared.replace(
            impact=prepared.impact.replace(contact_time_s=p["contact"]))
        sig = sense(prep, mount, _noise_of(p, base), key)
        X = jnp.concatenate([sig.accel, sig.gyro], -1)
        if X.ndim == 2:
            X = X[None]
        mask = jnp.arange(X.shape[1])[None, :] < (prepared.n_samples[:, None])
        if "smooth" in p:
            X = jnp.concatenate([gaussian_smooth(X[..., :3], p["smooth"][0], mask),
                                 gaussian_smooth(X[..., 3:], p["smooth"][1], mask)], -1)
        return X, mask
    return run


def fit_unpaired(simulated, real, *, mount="watch-left", noise=None, key=None, cutoff_hz=None,
                 before_cutoff_hz="auto", window_s: float = 2.0, hop_s: float = 0.5,
                 fit: Sequence[str] = DEFAULT_FIT, smoothing0: float = 1.0, w1_weight: float = 0.5,
                 per_axis: bool = True, held_out=None, learning_rate: float = 0.03, max_steps: int = 600,
                 bootstrap: int = 0, seed: int = 0, name: str = "unpaired",
                 progress: Optional[Callable[[int, float], None]] = None) -> UnpairedResult:
    """Fit noise, scale, bias, smoothing and the contact time by distribution matching (see the module
    docstring).

    Args:
      simulated: the motions to simulate: a ``Motion`` (one clip or a batch), a sequence of single-clip
        ``Motion``s, or a ``Prepared`` (at the real rate, with ``mount``'s arm; then used for ``before`` too).
      real: ``ImuRecording``s or ``ImuSignal``s (single clips, SI units, one rate) of the same activities.
      mount: the mount to simulate (not fitted).
      noise: the start (a preset, an ``ImuNoise``; default 1e-3 m/s^2/sqrt(Hz), 1e-4 rad/s/sqrt(Hz), no scale or
        bias error); its random walk, turn-on spreads, range and bits are switched off.
      key: the fixed noise key (default ``jax.random.key(seed)``).
      cutoff_hz: ``prepare``'s cut-off for the fit: ``None`` (default) a permissive one, 0.4 times the lowest
        frame rate, so that the fitted smoothing decides the effective cut-off in either direction from the
        simulator's usual choice; a number or ``"auto"`` as ``prepare`` takes them.
      before_cutoff_hz: the cut-off of the ``before`` simulation (the simulator as run without a calibration).
      window_s, hop_s: the windows the distances compare.
      fit: which of ``FIT_PARAMETERS`` to fit (default ``DEFAULT_FIT``: noise, scale, smoothing; a bias is
        confounded with the mount and the postures the two sets hold, and on UP-Fall it fitted the fit subjects
        better and the held-out ones worse); ``contact_time``: the contact model's (``imusim_jax.ImpactModel``),
        from simulated falls whose contacts ``prepare`` finds, against real falls' windows.
      smoothing0: the smoothing's start, samples.
      w1_weight: the Wasserstein term's weight beside MMD^2.
      per_axis: a noise density and a scale per axis (``False``: one per sensor, for sets too small or too unlike
        each other to tell the axes apart: a crude pose lift's length error is the same on every axis).
      held_out: ``(simulated, real)`` left out of the fit, for the report (same forms as the arguments).
      learning_rate, max_steps, progress: for ``_fit.minimize``.
      bootstrap: replicates of the bootstrap (real recordings and simulated clips drawn with replacement) for
        the uncertainties, fitted in the same optax run as the data (each step costs ``1 + bootstrap`` times as
        much; 0: no uncertainties).
    Returns:
      ``UnpairedResult``.
    Raises:
      InputError: one line: no windows (clips shorter than a window), rates that differ, unknown parameters.
    """
    unknown = set(fit) - set(FIT_PARAMETERS)
    if unknown:
        raise InputError(f"fit_unpaired fits {', '.join(FIT_PARAMETERS)}; unknown: {sorted(unknown)}")
    fit = tuple(fit)
    reals = _real_list(real)
    rates = {float(s.rate_hz) for s in reals}
    if len(rates) > 1:
        raise InputError(f"the real recordings have different rates ({sorted(rates)} Hz); resample them to one")
    fs = rates.pop()
    mount = get_mount(mount)
    window, hop = max(int(round(window_s * fs)), 3), max(int(round(hop_s * fs)), 1)
    motions = _motions_of(simulated)
    prepared = _prepared_of(motions, mount, fs, cutoff_hz)
    prepared_before = _prepared_of(motions, mount, fs, before_cutoff_hz)
    real_w = cut_windows(reals, window, hop)
    if len(real_w) < 2:
        raise InputError(f"the real recordings give {len(real_w)} window(s) of {window_s:g} s; at least 2 are "
                         "needed (longer recordings, or a shorter window_s)")
    base = _base_noise(noise)
    arm = prepared.arms[prepared.sides.index(mount.side)] if mount.side in prepared.sides else prepared.arms[0]
    contact0 = 0.06
    if "contact_time" in fit:
        if prepared.impact is None or not np.any(np.asarray(arm.impacts)[..., 4] > 0):
            raise InputError("fit_unpaired: no contact (a wrist arriving at the floor in a fall) in the simulated "
                             "clips: the contact time cannot be fitted from them")
        contact0 = float(np.mean(np.asarray(prepared.impact.contact_time_s)))
    key = jax.random.key(seed) if key is None else key
    b_idx, t_idx = _sim_windows_index(np.asarray(prepared.n_samples), window, hop)
    rs = _RealStats.of(real_w)
    run = _simulator(prepared, mount, base, key)
    bj, tj = jnp.asarray(b_idx), jnp.asarray(t_idx)

    # one optax run fits the data (replicate 0) and ``bootstrap`` replicates together (parameters stacked; the
    # replicates resample the real recordings and the simulated clips with replacement, as weights)
    R = 1 + int(bootstrap)
    rng = np.random.default_rng(seed + 1)
    rec_of = np.concatenate([np.full(len(cut_windows([s], window, hop)), i) for i, s in enumerate(reals)])
    wr = np.ones((R, len(real_w)))
    ws = np.ones((R, len(b_idx)))
    for r in range(1, R):
        wr[r] = np.bincount(rng.integers(0, len(reals), len(reals)), minlength=len(reals))[rec_of]
        ws[r] = np.bincount(rng.integers(0, prepared.num_clips, prepared.num_clips),
                            minlength=prepared.num_clips)[b_idx]
    real_set = _RealSet.of(real_w, rs, wr)
    ws_j = jnp.asarray(ws, jnp.float32)

    def loss_r(p, r):
        X, _ = run(p)
        mmd2, w1 = _distance_terms(X[bj[:, None], tj], real_set, rs, r, ws_j[r])
        return mmd2 + w1_weight * jnp.mean(w1)

    p0, cons = _params0(base, fit, smoothing0, per_axis, contact0)
    P0 = jax.tree.map(lambda v: jnp.broadcast_to(v, (R,) + jnp.shape(v)), p0)

    def loss(P):
        return jnp.sum(jax.vmap(loss_r)(P, jnp.arange(R)))

    res = _fit.minimize(loss, P0, cons, learning_rate=learning_rate, max_steps=max_steps, tol=1e-4, patience=100,
                        progress=progress)
    allp = jax.tree.map(lambda v: np.asarray(v, np.float64), res.params)
    params = {k: v[0] for k, v in allp.items()}
    stderr = {k: (v[1:].std(axis=0, ddof=1) if R > 2 else np.full(v.shape[1:], np.nan)) for k, v in allp.items()}
    final_loss = float(jax.jit(loss_r, static_argnums=1)(jax.tree.map(lambda v: v[0], res.params), 0))

    fitted = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    fitted_noise = jax.tree.map(lambda v: np.asarray(v, np.float32), _noise_of(fitted, base)).replace(name=name)
    sigma = np.asarray(params.get("smooth", np.zeros(2)), np.float64)
    cut = np.asarray(arm.cutoff_hz, np.float64)
    cut_med = float(np.median(cut))

    def simulate_fitted(motions_or_prepared):
        prep = _prepared_of(motions_or_prepared, mount, fs, cutoff_hz)
        X, _ = jax.jit(_simulator(prep, mount, base, key))(fitted)   # compiled once, not op by op
        return np.asarray(X, np.float64), np.asarray(prep.n_samples)

    def simulate_before(motions_or_prepared):
        prep = _prepared_of(motions_or_prepared, mount, fs, before_cutoff_hz)
        X, _ = jax.jit(_simulator(prep, mount, base, key))({k: v for k, v in p0.items() if k != "smooth"})
        return np.asarray(X, np.float64), np.asarray(prep.n_samples)

    before_fit = _windows_of(*simulate_before(prepared_before), window, hop)
    pmap = percentile_map(before_fit, real_w)
    report = {"window_s": window / fs, "hop_s": hop / fs, "rate_hz": fs,
              "fit_sets": _report(before_fit, _windows_of(*simulate_fitted(prepared), window, hop), pmap, real_w),
              "fit_windows": {"simulated": int(len(b_idx)), "real": int(len(real_w))}}
    if held_out is not None:
        hs, hr = held_out
        hm = _motions_of(hs)
        hreal = cut_windows(_real_list(hr), window, hop)
        report["held_out"] = _report(_windows_of(*simulate_before(hm), window, hop),
                                     _windows_of(*simulate_fitted(hm), window, hop), pmap, hreal)
        report["on"] = "held_out"
    else:
        report["on"] = "fit_sets"

    fit_report = {"mode": "unpaired", "loss": final_loss, "steps": int(res.steps),
                  "converged": bool(res.converged),
                  "loss_terms": "MMD^2 of window features (mean, sd, mean |diff| per channel; Gaussian kernels at "
                                "0.5, 1, 2 x the real windows' median distance) + "
                                f"{w1_weight:g} x mean per-channel W1 of samples (in real sd)",
                  "uncertainty": (f"bootstrap over real recordings and simulated clips, {int(bootstrap)} "
                                  "replicates fitted with the data in one run" if bootstrap > 1
                                  else "none (bootstrap < 2)"),
                  "distances": report}
    unit = {"nd_a": "m/s^2/sqrt(Hz)", "nd_g": "rad/s/sqrt(Hz)", "scale_a": "factor (1 + scale_error)",
            "scale_g": "factor (1 + scale_error)", "bias_a": "m/s^2", "bias_g": "rad/s",
            "smooth": "samples (Gaussian sigma; accelerometer, gyroscope)", "contact": "s"}
    names = {"nd_a": "accel.noise_density", "nd_g": "gyro.noise_density", "scale_a": "accel.scale",
             "scale_g": "gyro.scale", "bias_a": "accel.bias", "bias_g": "gyro.bias", "smooth": "smoothing_sigma",
             "contact": "contact_time_s"}
    for k, v in params.items():
        fit_report[names[k]] = {"value": v, "stderr": stderr[k], "unit": unit[k]}
    fit_report["cutoff"] = {
        "prepare_cutoff_hz_median": cut_med,
        "smoothing_cutoff_hz": [_smoothing_cutoff_hz(v, fs) if v else None for v in sigma],
        "cutoff_hz_equivalent": [_equivalent_cutoff(cut_med, 2, v, fs) for v in sigma],
        "note": "accelerometer, gyroscope: the smoothing is not part of the noise model; prepare's one cut-off "
                "reproduces one of them (--cutoff): the accelerometer's is the lower"}
    source = {"mode": "unpaired", "simulated_clips": int(prepared.num_clips), "real_recordings": len(reals),
              "rate_hz": fs}
    equivalent = fit_report["cutoff"]["cutoff_hz_equivalent"][0]  # the accelerometer's: --cutoff reproduces it
    profile = SensorProfile(noise=fitted_noise, mount=mount, rate_hz=fs,
                            cutoff_hz=None if equivalent is None else float(equivalent), name=name, source=source,
                            fit=fit_report,
                            contact_time_s=float(params["contact"]) if "contact" in params else None)
    return UnpairedResult(profile, report, sigma, pmap, simulate_fitted)


def _windows_of(X, lengths, window, hop):
    return cut_windows([X[b, :int(n)] for b, n in enumerate(lengths)], window, hop)


def _report(before, after, pmap, real_w) -> dict:
    return {"before": distances(before, real_w), "after": distances(after, real_w),
            "percentile": distances(pmap(before), real_w),
            "windows": {"simulated": int(len(before)), "real": int(len(real_w))}}
