"""Stationary calibration: the noise model of a sensor at rest, from the Allan variance of its rest segments.

``fit_stationary(recordings)`` takes one or more rest recordings of one sensor, or longer recordings with rest
segments (detected by ``rest_mask``, or given as a mask, or a recording's ``meta["rest_segments"]``), and returns
a ``SensorProfile`` with the noise part only.

Method (per axis of the accelerometer and the gyroscope, all six fitted jointly in one optax run):

1. Rest segments: runs of samples where the moving standard deviation of every axis stays under ``factor``
   times its quiet floor, the moving mean of ``|a|`` and of the gyroscope stays near its median over the rest,
   and no sample is saturated; each run trimmed at both ends and kept if long enough (``rest_mask``).
2. The measured Allan variance: the overlapping estimator at octave cluster sizes (``imusim_jax.stats``), per
   segment, pooled over segments by adding their sums of squared second differences (each segment weighted by
   its count of differences: segments are parted by motion, so no cluster spans two). A cluster time is used
   where the segments give it at least ``min_edf`` degrees of freedom (``stats.allan_edf``: whole
   non-overlapping clusters minus one, added over segments): the cluster times the data support.
3. The model's own Allan variance ``N^2/tau + 0.4413 B^2 + K^2 tau/3`` (``stats.allan_variance_model``: white
   noise density N, bias instability B as the IEEE 952 flicker plateau, bias random walk K) is fitted to the
   whole measured curve, not read off one point of it, by maximum likelihood: each measured point is taken as
   its expectation times ``chi^2_nu / nu`` (``nu`` its degrees of freedom), so the loss is the Gamma deviance
   ``sum nu/2 (x/mu - log(x/mu) - 1)``, which weights each point by its own relative error (``sqrt(2/nu)``) and,
   unlike a least-squares fit of ``log x``, is not pulled low where few clusters are left. Parameters are
   positive (``_fit.positive``), optimised by ``_fit.minimize`` (Adam, a convergence test). B is kept on an axis
   only where it earns its place: the curve is fitted with and without it (one run, the two models side by side)
   and B stays where the deviance drops by more than chi^2_1's 99 % point (scaled by the dispersion); elsewhere it
   is 0 (a B fitted to a curve without a flat part trades off against K and pulled K 10-40 % low in round trips).
4. Uncertainties (``bootstrap``, default 24 replicates): a parametric bootstrap: records of the fitted model with
   the data's own segment lengths are drawn (white noise, random walk, flicker by spectral synthesis), measured
   and fitted as the data were (one batched run), and each parameter's standard error is their spread. This
   counts the correlation between neighbouring overlapping Allan points, which the curvature does not: the
   inverse Fisher information (reported as ``stderr_curvature``; ``bootstrap=0`` uses it) gave 10-13 % for K
   where the round trips' actual spread is 15-20 %, the bootstrap 14-24 %.

Measured (``benchmarks/calibrate.py``, 20 min at 100 Hz, bmi160's densities, 5 seeds, 30 axis estimates): N within
0.33 % on every axis; K 12.8 % RMS error, 32 % at worst, 2 of 30 beyond 25 % (the Allan estimate's own spread at
these cluster counts; with B free on every axis, about 20 % RMS over 12 seeds); 3.4 s a fit on the 2-core CPU (0.9 s of it
compiling; the first fit in a process 6.4 s).

What rest data identify, and what the profile holds:

* ``noise_density`` (N) and ``random_walk`` (K) per axis: the terms ``imusim_jax._noise`` simulates; into the
  profile. N includes whatever white noise the recording has: the ADC's quantisation (``LSB^2 / 12`` per sample)
  is part of it, so the profile leaves ``bits`` and ``range`` off (the rest data identify the LSB, reported as
  ``lsb``, not the range and bit depth apart).
* Bias instability (B): reported in ``fit`` as a measured statistic (value and uncertainty); the noise model has
  no such term, so simulations with the profile do not reproduce the flat part of the curve (B shows where the
  curve flattens between the white-noise and random-walk slopes; with a short record it is unresolved).
* Turn-on bias of the gyroscope: the mean of the rest samples (Earth's rotation, up to 7.3e-5 rad/s, is part of
  it: it needs the orientation and latitude to remove). With several recordings (several power-ups), ``bias`` is
  the mean of their means and ``bias_std`` their spread; with one, ``bias_std`` is 0 (not identified).
* The accelerometer at rest reads gravity in an unknown orientation: from one orientation, its per-axis bias and
  scale are not identifiable, only the magnitude ``|mean a| - g`` (a mix of the bias and the scale along gravity)
  is: reported as ``gravity_excess``; the profile's accelerometer bias is left 0. (A multi-position calibration,
  six orientations or more, would identify them; rest periods of one orientation, as BROAD's, do not.)
* Scale factors, misalignment, range and bits: not identifiable from rest.

Bad input is a one-line ``InputError``: too little rest for the fit (less than ``min_rest_s`` or fewer than three
supported cluster times), an accelerometer whose rest reads far from g (``1 m/s^2``: in g; ``100 m/s^2``: in
cm/s^2 or wrong), a gyroscope at rest reading more than 0.5 rad/s (deg/s?), recordings of different rates.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np

from imusim_jax import _fit
from imusim_jax import stats
from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._errors import InputError
from imusim_jax._noise import ImuNoise, SensorNoise
from imusim_jax._profile import SensorProfile
from imusim_jax._signal import ImuRecording, ImuSignal

__all__ = ["rest_mask", "rest_segments", "fit_stationary", "measured_allan", "predicted_allan_deviation",
           "CHANNELS"]

CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
_UNITS = {"accel": ("m/s^2/sqrt(Hz)", "m/s^2", "m/s^2/sqrt(s)", "m/s^2"),
          "gyro": ("rad/s/sqrt(Hz)", "rad/s", "rad/s/sqrt(s)", "rad/s")}
EARTH_RATE = 7.2921159e-5  # rad/s


# ---------------------------------------------------------------------------------------------------------------
# Rest segments
# ---------------------------------------------------------------------------------------------------------------

def _signal_of(x) -> ImuSignal:
    if isinstance(x, ImuRecording):
        x = x.signal
    if not isinstance(x, ImuSignal):
        raise InputError(f"expected an ImuSignal or an ImuRecording, got {type(x).__name__}")
    if x.batched:
        raise InputError("the stationary fit takes single recordings (ImuSignal of (T, 3)), not a batch: unbatch() "
                         "it and pass the list")
    return x


def _moving(x: np.ndarray, w: int):
    """Centred moving mean and standard deviation over ``w`` samples (shorter at the edges), ``x`` ``(T, C)``."""
    T = x.shape[0]
    c1 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, 0)])
    c2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x * x, 0)])
    lo = np.clip(np.arange(T) - w // 2, 0, T)
    hi = np.clip(np.arange(T) - w // 2 + w, 0, T)
    n = (hi - lo)[:, None].astype(np.float64)
    mean = (c1[hi] - c1[lo]) / n
    var = np.maximum((c2[hi] - c2[lo]) / n - mean ** 2, 0.0)
    return mean, np.sqrt(var * n / np.maximum(n - 1, 1))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    m = np.r_[False, np.asarray(mask, bool), False].astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def rest_segments(mask, rate_hz: float = 1.0, *, min_segment_s: float = 0.0) -> list[tuple[int, int]]:
    """``(start, stop)`` sample ranges (stop exclusive) of the runs of ``mask`` lasting at least ``min_segment_s``."""
    return [(a, b) for a, b in _runs(mask) if (b - a) / rate_hz >= min_segment_s]


def _mask_from_segments(segments, rate_hz: float, n: int) -> np.ndarray:
    m = np.zeros(n, bool)
    for a, b in segments:
        m[max(int(round(a * rate_hz)), 0):min(int(round(b * rate_hz)) + 1, n)] = True
    return m


def rest_mask(signal: Union[ImuSignal, ImuRecording], mask=None, *, window_s: float = 1.0, factor: float = 2.0,
              accel_tol: float = 0.1, gyro_tol: float = 0.01, trim_s: float = 0.25,
              min_segment_s: float = 1.0) -> np.ndarray:
    """The samples of a recording at rest, ``(T,)`` bool.

    A sample is at rest when, over a centred window of ``window_s``: every axis's moving standard deviation is
    below ``factor`` times its floor (the 2nd percentile of that moving deviation over the candidate samples:
    the sensor's own noise, so the test needs no absolute level); the moving mean of ``|a|`` is within
    ``accel_tol`` m/s^2, and of each gyroscope axis within ``gyro_tol`` rad/s, of its median over those samples
    (a slow, smooth motion has a low variance but a changing mean); and no sample is saturated. Runs are trimmed
    by ``trim_s`` at each end (settling after a motion) and dropped when shorter than ``min_segment_s``.

    ``mask``: the candidate samples (a ``(T,)`` bool, e.g. a dataset's own rest marks); ``None``: a recording's
    ``meta["rest_segments"]`` (``(start_s, end_s)`` pairs) if it has them, else every sample. Detection runs
    within it (pass ``fit_stationary(..., detect=False)`` to take a mask as it is).
    """
    meta = signal.meta if isinstance(signal, ImuRecording) else {}
    sig = _signal_of(signal)
    fs, T = float(sig.rate_hz), sig.num_samples
    x = np.concatenate([np.asarray(sig.accel, np.float64), np.asarray(sig.gyro, np.float64)], 1)
    cand = _candidates(mask, meta, fs, T)
    if sig.saturated is not None:
        cand &= ~np.asarray(sig.saturated, bool).any(1)
    if cand.sum() < 3:
        return np.zeros(T, bool)
    w = max(int(round(window_s * fs)), 3)
    mean, sd = _moving(x, w)
    floor = np.percentile(sd[cand], 2, axis=0)
    rest = cand & (sd <= factor * np.maximum(floor, 1e-12)).all(1)
    if rest.any():
        amag, _ = _moving(np.linalg.norm(x[:, :3], axis=1, keepdims=True), w)
        rest &= np.abs(amag[:, 0] - np.median(amag[rest, 0])) <= accel_tol
    if rest.any():
        rest &= (np.abs(mean[:, 3:] - np.median(mean[rest, 3:], axis=0)) <= gyro_tol).all(1)
    trim = int(round(trim_s * fs))
    out = np.zeros(T, bool)
    for a, b in _runs(rest):
        a, b = a + trim, b - trim
        if b - a >= max(min_segment_s * fs, 3):
            out[a:b] = True
    return out


def _candidates(mask, meta, fs, T) -> np.ndarray:
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != (T,):
            raise InputError(f"a rest mask must be one bool per sample ({T},), got shape {m.shape}")
        return m.astype(bool).copy()
    if meta.get("rest_segments") is not None:
        return _mask_from_segments(meta["rest_segments"], fs, T)
    return np.ones(T, bool)


# ---------------------------------------------------------------------------------------------------------------
# The measured Allan variance of the rest segments
# ---------------------------------------------------------------------------------------------------------------

def measured_allan(segments: Sequence[np.ndarray], rate_hz: float, *, min_edf: float = 2.0,
                   max_tau_s: Optional[float] = None, min_tau_s: Optional[float] = None):
    """The pooled overlapping Allan variance of rest segments (each ``(T_s, C)`` rate samples of one sensor):
    ``(taus (M,), avar (M, C), edf (M,))`` at the octave cluster sizes with at least ``min_edf`` degrees of
    freedom (and within ``[min_tau_s, max_tau_s]``). See the module docstring (step 2)."""
    lengths = np.array([len(s) for s in segments])
    ms = stats.cluster_sizes(int(lengths.max()), rate_hz)
    sums, counts = 0.0, 0
    for seg in segments:
        s, c = stats.allan_sums(np.asarray(seg, np.float64), rate_hz, ms)
        sums, counts = sums + s, counts + c
    edf = stats.allan_edf(lengths, ms).sum(0)
    taus = ms / float(rate_hz)
    keep = (edf >= min_edf) & (counts > 0)
    if max_tau_s is not None:
        keep &= taus <= max_tau_s
    if min_tau_s is not None:
        keep &= taus >= min_tau_s
    avar = sums[keep] / (2.0 * taus[keep, None] ** 2 * counts[keep, None])
    return taus[keep], avar, edf[keep]


# ---------------------------------------------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------------------------------------------

_TERMS = ("white", "flicker", "walk")


def _model(P, taus):
    """The model's Allan variance ``(M, C)`` for parameters ``P`` ``(C, 3)`` (N, B, K per channel)."""
    return stats.allan_variance_model(taus, P[:, 0], P[:, 1], P[:, 2])


def _initial(taus, avar):
    """Starting values ``(C, 3)`` read off the curve (the textbook slopes): N from the shortest cluster, K from
    the longest (at most what the curve's lowest point allows), B from the lowest point."""
    N = np.sqrt(avar[0] * taus[0])
    K = np.minimum(np.sqrt(3.0 * avar[-1] / taus[-1]), 3.0 * np.sqrt(3.0 * avar.min(0) / taus[-1]))
    B = 0.3 * np.sqrt(avar.min(0) / stats.AVAR_FLICKER)
    return np.stack([N, B, K], axis=1)


def _deviance(P, taus, x, nu):
    """The Gamma deviance per channel ``(C,)``: ``sum_i nu_i (x_i/mu_i - log(x_i/mu_i) - 1)``, twice the negative
    log-likelihood of the measured points ``x`` ``(M, C)`` (each ``mu chi^2_nu / nu``) above its minimum."""
    r = x / _model(P, taus)
    return jnp.sum(nu[:, None] * (r - jnp.log(r) - 1.0), axis=0)


def _nll_channel(logp, xc, m, t, nu):
    """One channel's negative log-likelihood in the logarithms of its parameters (N, B, K; ``m`` masks)."""
    P = jnp.exp(logp) * m
    mu = stats.allan_variance_model(t, P[0], P[1], P[2])
    return jnp.sum(0.5 * nu * (xc / mu + jnp.log(mu)))


_hessians = jax.jit(jax.vmap(jax.hessian(_nll_channel), in_axes=(0, 0, 0, None, None)))


def _fit_curve(taus, avar, edf, active, *, learning_rate, max_steps, progress, curvature=True):
    """Fit N, B, K per channel to the measured Allan variance ``avar`` ``(M, C)``; ``active`` ``(C, 3)`` bool: the
    terms each channel's model has (an inactive one is held at 0). Returns ``(P (C, 3), stderr (C, 3), FitResult,
    deviance (C,))``, NumPy, in ``avar``'s units."""
    C = avar.shape[1]
    scale = np.sqrt(avar[0] * taus[0])  # per channel: fitted in units of N's first guess (well scaled in float32)
    act = np.asarray(active, bool)
    t = jnp.asarray(taus, jnp.float32)
    x = jnp.asarray(avar / scale ** 2, jnp.float32)
    nu = jnp.asarray(edf, jnp.float32)
    mask = jnp.asarray(act, jnp.float32)
    total = float(np.sum(edf) * C)
    P0 = jnp.asarray(np.maximum(_initial(taus, avar) / scale[:, None], 1e-4), jnp.float32)

    def loss(p):
        return jnp.sum(_deviance(p["P"] * mask, t, x, nu)) / total

    res = _fit.minimize(loss, {"P": P0}, {"P": _fit.positive}, learning_rate=learning_rate, max_steps=max_steps,
                        tol=1e-7, patience=150, progress=progress)
    P = np.asarray(res.params["P"], np.float64) * act
    dev = np.asarray(_deviance(jnp.asarray(P, jnp.float32), t, x, nu), np.float64)

    stderr = np.zeros((C, 3))
    if curvature:
        # the inverse Fisher information in the logarithms of each channel's active parameters (channels are
        # independent), inflated by the deviance per degree of freedom where that exceeds 1
        lp = jnp.asarray(np.log(np.where(act, np.maximum(P, 1e-30), 1.0)), jnp.float32)
        Hs = np.asarray(_hessians(lp, x.T, mask, t, nu), np.float64)
        for c in range(C):
            on = act[c]
            H = Hs[c][np.ix_(on, on)]
            disp = dev[c] / max(len(taus) - int(on.sum()), 1)
            cov = np.linalg.pinv(0.5 * (H + H.T), rcond=1e-8) * max(1.0, disp)
            stderr[c, on] = P[c, on] * np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return P * scale[:, None], stderr * scale[:, None], res, dev


def synthesize(lengths, rate_hz: float, P, rng) -> list[np.ndarray]:
    """Rest segments of the given ``lengths`` (samples) drawn from the model ``P`` ``(C, 3)`` (N, B, K per channel):
    white noise ``N sqrt(fs)`` per sample and a random walk of steps ``K / sqrt(fs)`` as ``imusim_jax._noise``
    draws them, plus flicker noise of PSD ``B^2 / (2 pi f)`` (IEEE 952's bias instability; two-sided, so
    ``B^2 / (pi f)`` one-sided) synthesised in the frequency domain, each segment on its own. NumPy, float64: the parametric bootstrap's replicates."""
    P = np.asarray(P, np.float64)
    C, fs = P.shape[0], float(rate_hz)
    out = []
    for n in lengths:
        n = int(n)
        x = P[:, 0] * np.sqrt(fs) * rng.standard_normal((n, C))
        if (P[:, 2] > 0).any():
            x += np.cumsum(P[:, 2] / np.sqrt(fs) * rng.standard_normal((n, C)), axis=0)
        if (P[:, 1] > 0).any():
            f = np.fft.rfftfreq(n, 1.0 / fs)
            S = np.zeros_like(f)
            S[1:] = 1.0 / (np.pi * f[1:])  # one-sided, per unit B^2
            if n % 2 == 0:
                S[-1] = 0.0
            sd = np.sqrt(S * fs * n / 4.0)[:, None] * P[None, :, 1]
            X = sd * (rng.standard_normal((len(f), C)) + 1j * rng.standard_normal((len(f), C)))
            x += np.fft.irfft(X, n, axis=0)
        out.append(x)
    return out


def _bootstrap(lengths, fs, P, active, replicates, seed, *, min_edf, taus, learning_rate, max_steps):
    """Parametric bootstrap: ``replicates`` records of the fitted model with the data's segment lengths, each
    measured and fitted as the data were (one batched fit); returns the replicates' fitted ``(R, C, 3)``."""
    rng = np.random.default_rng(seed)
    C = P.shape[0]
    curves = []
    for _ in range(replicates):
        t, v, _ = measured_allan(synthesize(lengths, fs, P, rng), fs, min_edf=min_edf)
        keep = np.isin(np.round(t * fs), np.round(taus * fs))
        curves.append(v[keep])
    avar = np.concatenate(curves, axis=1)  # (M, R C)
    edf = stats.allan_edf(np.asarray(lengths), np.round(taus * fs).astype(np.int64)).sum(0)
    Pb, _, _, _ = _fit_curve(taus, avar, edf, np.tile(active, (replicates, 1)), learning_rate=learning_rate,
                             max_steps=max_steps, progress=None, curvature=False)
    return Pb.reshape(replicates, C, 3)


def _check_units(rest_x: np.ndarray, what: str) -> None:
    amag = float(np.linalg.norm(rest_x[:, :3].mean(0)))
    if not 0.5 * STANDARD_GRAVITY <= amag <= 1.5 * STANDARD_GRAVITY:
        hint = "is it in g? convert it to m/s^2" if 0.5 <= amag <= 1.5 else "check its units (m/s^2)"
        raise InputError(f"{what}: the accelerometer reads {amag:.3g} m/s^2 at rest, not about "
                         f"{STANDARD_GRAVITY:.2f} (gravity): {hint}")
    w = float(np.abs(rest_x[:, 3:].mean(0)).max())
    if w > 0.5:
        raise InputError(f"{what}: the gyroscope reads {w:.3g} rad/s at rest (more than 0.5): is it in deg/s? "
                         "convert to rad/s")


def _lsb(x: np.ndarray) -> np.ndarray:
    """Per channel, the smallest step between distinct values if the values sit on a grid of it (quantised),
    else 0."""
    out = np.zeros(x.shape[1])
    for c in range(x.shape[1]):
        u = np.unique(x[:, c])
        if len(u) < 3:
            continue
        d = np.diff(u)
        step = float(np.median(d))
        if step > 0 and len(u) < 0.5 * len(x) and np.allclose(d / step, np.round(d / step), atol=0.05):
            out[c] = step
    return out


def fit_stationary(recordings, mask=None, *, detect: bool = True, name: str = "stationary",
                   min_rest_s: float = 10.0, min_edf: float = 2.0, max_tau_s: Optional[float] = None,
                   min_tau_s: Optional[float] = None, bias_instability: bool = True, bootstrap: int = 24,
                   seed: int = 0, learning_rate: float = 0.05, max_steps: int = 4000,
                   progress: Optional[Callable[[int, float], None]] = None,
                   rest_options: Optional[dict] = None) -> SensorProfile:
    """Fit the noise model of one sensor to its rest data (see the module docstring for the method).

    Args:
      recordings: an ``ImuSignal`` or ``ImuRecording`` (one clip, SI units), or a sequence of them from the same
        sensor at one rate.
      mask: which samples may be rest: ``None`` (a recording's ``meta["rest_segments"]``, else all), a ``(T,)``
        bool for one recording, or a sequence with one mask (or ``None``) per recording.
      detect: look for rest (``rest_mask``, with ``rest_options``) within the mask; ``False`` takes the mask as
        it is (then runs shorter than ``rest_options["min_segment_s"]``, default 1 s, are still dropped).
      name: the profile's name.
      min_rest_s: the least rest, in all, to fit from.
      min_edf, max_tau_s, min_tau_s: which cluster times enter the fit (``measured_allan``).
      bias_instability: fit the flicker term B (``False``: N and K only).
      learning_rate, max_steps, progress: for ``_fit.minimize`` (``progress(step, loss)`` after each chunk).
    Returns:
      ``SensorProfile`` with ``noise`` (N and K per axis; the gyroscope's turn-on bias; ``bias_std`` from several
      recordings), ``rate_hz``, ``source`` (mode, recordings, rest found) and ``fit``: per parameter ``{"value",
      "stderr", "unit"}`` as ``(3,)`` lists under ``accel.noise_density``, ``accel.bias_instability``,
      ``accel.random_walk``, ``accel.bias``, ``gyro...``, ``accel.gravity_excess``; ``loss``, ``steps``,
      ``converged``; ``allan`` (the measured and fitted curves: ``taus_s``, ``adev`` and ``model_adev``
      ``(M, 6)``, ``edf``); ``dispersion`` per axis (deviance per degree of freedom: about 1 when the model
      explains the curve to its scatter); ``lsb`` per axis (0: not quantised, or not resolved).
    Raises:
      InputError: one line (see the module docstring).
    """
    single = isinstance(recordings, (ImuSignal, ImuRecording))
    recs = [recordings] if single else list(recordings)
    if not recs:
        raise InputError("fit_stationary needs at least one recording")
    if single or mask is None:
        masks = [mask] * len(recs)
    else:
        masks = list(mask)
        if len(masks) != len(recs):
            raise InputError(f"got {len(masks)} masks for {len(recs)} recordings")
    sigs = [_signal_of(r) for r in recs]
    rates = {float(s.rate_hz) for s in sigs}
    if len(rates) > 1:
        raise InputError(f"the recordings have different rates ({', '.join(f'{r:g}' for r in sorted(rates))} Hz): "
                         "fit each rate apart")
    fs = rates.pop()
    ropt = dict(rest_options or {})
    segments, per_rec, src = [], [], []
    for i, (rec, sig, m) in enumerate(zip(recs, sigs, masks)):
        what = getattr(rec, "path", None) or f"recording {i}"
        x = np.concatenate([np.asarray(sig.accel, np.float64), np.asarray(sig.gyro, np.float64)], 1)
        if not np.isfinite(x).all():
            raise InputError(f"{what}: {int((~np.isfinite(x)).any(1).sum())} samples are not finite")
        if detect:
            rest = rest_mask(rec, m, **ropt)
        else:
            meta = rec.meta if isinstance(rec, ImuRecording) else {}
            rest = _candidates(m, meta, fs, sig.num_samples)
            if sig.saturated is not None:
                rest &= ~np.asarray(sig.saturated, bool).any(1)
        segs = rest_segments(rest, fs, min_segment_s=ropt.get("min_segment_s", 1.0))
        if segs:
            _check_units(np.concatenate([x[a:b] for a, b in segs]), what)
        segments += [x[a:b] for a, b in segs]
        per_rec.append([x[a:b] for a, b in segs])
        src.append({"recording": str(what), "rest_s": float(sum(b - a for a, b in segs) / fs),
                    "segments_s": [[a / fs, b / fs] for a, b in segs]})
    total_s = sum(len(s) for s in segments) / fs
    if total_s < min_rest_s:
        raise InputError(f"{total_s:.1f} s of rest found in {len(recs)} recording(s); the stationary fit needs at "
                         f"least {min_rest_s:g} s (a longer rest recording, or a mask of its rest)")
    taus, avar, edf = measured_allan(segments, fs, min_edf=min_edf, max_tau_s=max_tau_s, min_tau_s=min_tau_s)
    if len(taus) < 3:
        raise InputError(f"the rest segments ({total_s:.1f} s, longest {max(len(s) for s in segments) / fs:.1f} s) "
                         f"support {len(taus)} cluster time(s); the fit needs at least 3: longer rest periods")
    C = 6
    reduced = np.tile([True, False, True], (C, 1))
    opts = dict(learning_rate=learning_rate, max_steps=max_steps)
    if bias_instability:
        # both models in one run (the curve twice, as 12 channels): with B and without; per axis, B is kept where
        # the likelihood ratio says it is there (a deviance drop above chi^2_1's 99 % point, scaled by the
        # dispersion where the curve scatters more than its degrees of freedom allow)
        P2, se2, res, dev2 = _fit_curve(taus, np.concatenate([avar, avar], 1), edf,
                                        np.concatenate([np.ones((C, 3), bool), reduced]), progress=progress, **opts)
        dof_full = max(len(taus) - 3, 1)
        disp_full = np.maximum(dev2[:C] / dof_full, 1.0)
        with_b = (dev2[C:] - dev2[:C]) > 6.63 * disp_full
        pick = np.where(with_b, 0, C) + np.arange(C)
        P, se_curv, dev = P2[pick], se2[pick], dev2[pick]
        B_full, B_full_se = P2[:C, 1], se2[:C, 1]
    else:
        P, se_curv, res, dev = _fit_curve(taus, avar, edf, reduced, progress=progress, **opts)
        with_b = np.zeros(C, bool)
        B_full, B_full_se = np.zeros(C), np.zeros(C)
    active = np.where(with_b[:, None], True, reduced)
    dispersion = dev / np.maximum(len(taus) - active.sum(1), 1)
    lengths = [len(x) for x in segments]
    if bootstrap:
        Pb = _bootstrap(lengths, fs, P, active, int(bootstrap), seed, min_edf=min_edf, taus=taus, **opts)
        stderr = Pb.std(axis=0, ddof=1)
        how = f"parametric bootstrap, {int(bootstrap)} replicates"
    else:
        stderr = se_curv
        how = "curvature (inverse Fisher information)"
    # biases: per recording, the mean of its rest samples
    means = np.array([np.concatenate(s).mean(0) for s in per_rec if s])
    gyro_bias = means[:, 3:].mean(0)
    gyro_bias_std = means[:, 3:].std(0, ddof=1) if len(means) > 1 else np.zeros(3)
    # a rest mean's standard error: the white noise over the rest time and the random walk over the record
    gyro_bias_se = np.sqrt(P[3:, 0] ** 2 / total_s + P[3:, 2] ** 2 * total_s / 3)
    if len(means) > 1:
        gyro_bias_se = np.sqrt(gyro_bias_se ** 2 + gyro_bias_std ** 2 / len(means))
    excess = np.linalg.norm(means[:, :3], axis=1) - STANDARD_GRAVITY
    noise = ImuNoise(
        SensorNoise.create(noise_density=P[:3, 0], random_walk=P[:3, 2]),
        SensorNoise.create(noise_density=P[3:, 0], random_walk=P[3:, 2], bias=gyro_bias, bias_std=gyro_bias_std),
        name)
    fit = {"mode": "stationary", "loss": float(res.loss), "steps": int(res.steps), "converged": bool(res.converged),
           "model": "AVAR = N^2/tau + (2 ln2/pi) B^2 + K^2 tau/3 (B: IEEE 952 flicker plateau, not simulated)",
           "estimator": "maximum likelihood on the pooled overlapping Allan variance (Gamma deviance, "
                        "edf = whole clusters - 1)", "uncertainty": how}
    for s, sl in (("accel", slice(0, 3)), ("gyro", slice(3, 6))):
        u = _UNITS[s]
        fit[f"{s}.noise_density"] = {"value": P[sl, 0], "stderr": stderr[sl, 0], "stderr_curvature": se_curv[sl, 0],
                                     "unit": u[0]}
        fit[f"{s}.bias_instability"] = {
            "value": P[sl, 1], "stderr": stderr[sl, 1], "stderr_curvature": se_curv[sl, 1], "unit": u[1],
            "resolved": with_b[sl], "unconstrained_fit": B_full[sl], "unconstrained_stderr": B_full_se[sl],
            "simulated": False,
            "note": "0 on an axis whose curve shows no flat part (likelihood-ratio test); not simulated by the "
                    "noise model"}
        fit[f"{s}.random_walk"] = {"value": P[sl, 2], "stderr": stderr[sl, 2], "stderr_curvature": se_curv[sl, 2],
                                   "unit": u[2]}
    fit["gyro.bias"] = {"value": gyro_bias, "stderr": gyro_bias_se, "unit": "rad/s",
                        "per_recording": means[:, 3:], "note": f"includes Earth's rotation (<= {EARTH_RATE:.2e})"}
    fit["accel.gravity_excess"] = {"value": float(np.mean(excess)), "per_recording": excess, "unit": "m/s^2",
                                   "note": "|mean a| - g at rest: bias and scale along gravity together; the "
                                           "per-axis accelerometer bias and scale are not identifiable from one "
                                           "orientation (left 0 in the profile)"}
    fit["dispersion"] = dispersion
    fit["lsb"] = _lsb(np.concatenate(segments))
    model = np.asarray(_model(jnp.asarray(P), taus))
    fit["allan"] = {"taus_s": taus, "adev": np.sqrt(avar), "model_adev": np.sqrt(model), "edf": edf,
                    "channels": list(CHANNELS)}
    source = {"mode": "stationary", "recordings": src, "rest_s": total_s, "rate_hz": fs}
    return SensorProfile(noise=noise, rate_hz=fs, name=name, source=source, fit=fit)


def predicted_allan_deviation(profile: SensorProfile, taus, *, with_bias_instability: bool = True) -> np.ndarray:
    """The Allan deviation ``(M, 6)`` (accelerometer x, y, z, gyroscope x, y, z) a profile predicts at ``taus``
    (s): its fitted N, B and K (``profile.fit``) where present, else its noise model's N and K;
    ``with_bias_instability=False`` leaves B out (what a simulation with the profile shows)."""
    taus = np.asarray(taus, np.float64)
    f = profile.fit or {}
    noise = profile.noise
    out = []
    for s in ("accel", "gyro"):
        sn = getattr(noise, s) if noise is not None else None
        N = np.asarray(f.get(f"{s}.noise_density", {}).get("value", None if sn is None else sn.noise_density),
                       np.float64)
        K = np.asarray(f.get(f"{s}.random_walk", {}).get("value", None if sn is None else sn.random_walk), np.float64)
        B = np.asarray(f.get(f"{s}.bias_instability", {}).get("value", np.zeros(3)), np.float64)
        if not with_bias_instability:
            B = np.zeros(3)
        out.append(np.sqrt(stats.allan_variance_model(taus, N, B, K)))
    return np.concatenate(out, axis=1)
