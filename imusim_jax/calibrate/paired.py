"""Paired calibration: a motion with the real IMU recorded during it -> one ``SensorProfile``.

Each pair is a ``Motion`` (or ``Trajectory``) and the ``ImuRecording`` (or ``ImuSignal``) a real sensor made of it.
Several pairs (trials of one subject wearing one sensor) share one mount rotation ``q_fs``, one lever arm
``lever_f``, a per-axis gain and bias of each sensor, and one noise model; each pair has its own time offset
(clocks and crops differ per trial). The model of a real sample, axis by axis (``_noise``'s deterministic part)::

    y_real[j] ≈ (1 + s) * sense(prepared, Mount(q_fs, lever_f), time_offset_s=delta_i)[j + n_i] + b

with the pair's time offset ``tau_i = n_i / rate + delta_i`` (``sense``'s: the motion time of the recording's
first sample) split into a whole number of samples ``n_i`` (found once, on the host) and a fraction ``delta_i``
(fitted within ``prepared.max_time_offset_s``), so that offsets of seconds need no longer edge extension.

Steps (``fit_paired``):

1. checks, each a one-line ``InputError``: every recording lasts ``min_duration_s``; its accelerometer reads about
   g in m/s^2 (a median |a| of 1 is g, of 100 is not a body, of 0.3 is gravity removed); its gyroscope is in
   rad/s; motion and recording can overlap by ``min_overlap_s`` within ``max_offset_s`` of the offset given;
2. ``prepare`` once per set of pairs of one kind, joint set and rate (their motions stacked into one batch: the
   same filters and cut-offs as one ``prepare`` per pair, and one compiled ``sense`` for all);
3. ideal readings in the forearm frame (identity mount) and the **coarse offset** of each pair by normalised
   cross-correlation of 0.3 s envelopes of |omega| and |a| (both orientation-free), the lag maximising the sum
   of the two, at least half the shorter signal overlapping (the rule of ``../shared/tools``' scoring scripts);
4. the **rotation's initial value** by a Wahba/Kabsch alignment of the real gyroscope and accelerometer vectors
   (each sensor weighted by its RMS) onto the forearm-frame ones over all pairs: a global optimum, so a sensor
   turned 180 degrees from the preset (UTD-MHAD's) starts in the right basin;
5. the **joint fit** (``_fit.minimize``: optax Adam, its step halved every ``half_life_steps``, jitted; constrained:
   a unit quaternion, a lever arm within ``lever_max_m`` of the preset's, fractional offsets within
   ``fine_window_s``) of the rotation, the lever arm and the offsets, minimising::

       L = sum_{i, c} (n_ic / 2n) log(mse_ic / (1e-9 var(real_ic)) + 1)

   over pairs ``i`` and channels ``c`` (accelerometer x, y, z, gyroscope x, y, z), ``mse_ic`` the mean squared
   residual over the pair's mask (samples both signals cover, ``edge_s`` from the motion's ends left out,
   saturated samples left out). This is the Gaussian likelihood with a variance per pair and channel profiled
   out: m/s^2 and rad/s need no hand-set weights, and a trial the simulation follows poorly (or one cropped
   elsewhere) weighs less. The gains and biases, shared by all pairs, are profiled out too, in closed form
   (variable projection: least squares from the masked moments at every step), so the optimiser moves only the
   parameters that need it. The floor ``1e-9 var`` keeps the loss positive for ``minimize``'s relative
   convergence test without moving the minimum;
6. the **gains** reported are, by default (``gain="amplitude"``), the ratio of amplitudes ``std(real) /
   std(sim)`` per axis (geometric-mean regression) with the least-squares bias for them, rather than the
   least-squares slope, which a model error shrinks by the correlation (on UTD-MHAD to 0.55 for the gyroscope):
   with a faithful simulation (the synthetic round trips) both agree to 1e-4, on real data the gain makes the
   simulated amplitude the real one's (the least-squares slopes are in the report);
7. **uncertainties** from the curvature: the Gauss-Newton ``H = sum_{i,c} J_ic^T J_ic / (sigma_ic^2 tau_c)`` of the
   full model (gains and biases as parameters) at the optimum, ``J_ic`` the Jacobian of pair ``i``'s channel
   ``c``, ``sigma_ic^2`` its residual variance, ``tau_c`` the residuals' integrated autocorrelation time (so
   ``n / tau`` independent residuals count, not ``n`` correlated ones); the rotation as a turn about the fitted
   sensor axes (degrees); standard errors are the square roots of ``diag(H^-1)``;
8. **noise**, each sensor by the first route that applies (``_noise_estimates``): where the residual is white (the
   fit explains everything but the sensor's noise, as on synthetic data) from the residual: the white-noise
   density from the quietest tenth of its 1 s windows (each window's variance about its own straight line,
   scaled by the chi-square quantile), and, where a record lasts ``4 * MIN_RW_TAU_S`` or more, the bias random
   walk from its Allan variance at ``tau >= MIN_RW_TAU_S`` with the white part subtracted; else from the still
   0.5 s windows of the real recordings (a resting sensor's own noise; no random walk); else not at all: the
   profile's densities are 0 and the report gives the residual's figure as an upper bound (on UTD-MHAD's
   three-second trials, where the sensor never rests, it is model error, 50 times a MEMS sensor's noise).
   Standard errors under the same models (a sample quantile's; the weighted fit's).

The result is a ``SensorProfile`` whose ``time_offset_s`` is the median of the pairs' offsets; every pair's offset
(with its standard error and label), every parameter's value and standard error, the loss, the steps, the
convergence, the cut-off, and the agreement (per-channel correlation and RMSE) before (the preset mount at the
coarse offsets), with the Kabsch rotation alone, and after, are in ``profile.fit``. A cut-off grid
(``cutoff_hz=[...]``) fits once per cut-off and keeps the one with the lowest loss.
"""
from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np
from scipy.ndimage import median_filter
from scipy.spatial.transform import Rotation
from scipy.stats import chi2

from imusim_jax import _fit
from imusim_jax import _rows as R
from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._cutoff import cutoff_arg
from imusim_jax._errors import InputError
from imusim_jax._motion import Motion, Trajectory, stack_motions
from imusim_jax._mounting import Mount, get_mount
from imusim_jax._noise import ImuNoise, SensorNoise
from imusim_jax._profile import SensorProfile
from imusim_jax._signal import ImuRecording, ImuSignal
from imusim_jax._simulate import prepare, sense

__all__ = ["CHANNELS", "FIT_PARTS", "MIN_RW_TAU_S", "fit_paired"]

FIT_PARTS = ("time_offset", "rotation", "lever", "scale", "bias", "noise")
"""What ``fit_paired`` can fit (its ``fit`` argument): per-pair time offsets, the mount's rotation and lever arm,
per-axis gains (``scale_error``) and biases of both sensors, and the noise (white-noise density, and the bias
random walk where the records are long enough)."""
CHANNELS = ("accel_x", "accel_y", "accel_z", "gyro_x", "gyro_y", "gyro_z")
MIN_RW_TAU_S = 10.0
"""The shortest averaging time (s) the bias random walk is read at (shorter, white noise and the model's errors
dominate the residual's Allan variance); records shorter than four times this leave it unfitted (0)."""
_ENVELOPE_S = 0.3
_QUIET_QUANTILE = 0.1
_WINDOW_S = 1.0
_WHITE_TAU = 2.0           # samples: a residual this little correlated is the sensor's noise alone
_STILL_WINDOW_S = 0.5
_STILL = {"accel": 0.1, "gyro": 0.02}  # m/s^2, rad/s: a resting sensor varies less (consumer MEMS: 0.01-0.05,
_MIN_STILL_WINDOWS = 8                 # 0.001-0.01 at 50-100 Hz)
_BOOT_WARN_DEG = 15.0
_REST_GYRO = 0.5          # rad/s: a sample is "calm" for the units check below this |omega| ...
_REST_ACCEL_DEV = 1.5     # ... and within this many m/s^2 of its neighbours' median |a|
_G_LO, _G_HI = 0.5 * STANDARD_GRAVITY, 2.0 * STANDARD_GRAVITY
_MAX_GYRO = 50.0          # rad/s: a 99th percentile above this is deg/s (a wrist turns at up to ~30 rad/s)


@dataclasses.dataclass
class _Pair:
    """One pair on the host: the motion, the real readings ``(n, 6)`` (accelerometer, gyroscope; SI, sensor
    frame), their saturation flags ``(n, 6)``, the rate and a label for messages and the report."""

    motion: object
    real: np.ndarray
    saturated: np.ndarray
    rate_hz: float
    label: str


@dataclasses.dataclass
class _Group:
    """Pairs prepared together (one kind and joint set): ``idx`` into the pairs, the ``Prepared`` batch, the real
    readings aligned onto the simulated samples ``(B, n_keep, 6)`` and their mask ``(B, n_keep, 6)`` (1 where a
    sample counts)."""

    idx: list
    prepared: object
    real: jnp.ndarray | None = None
    mask: jnp.ndarray | None = None


# ---------------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------------

def _as_pairs(pairs, min_duration_s: float) -> list[_Pair]:
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__len__") or len(pairs) == 0:
        raise InputError("fit_paired takes a non-empty sequence of (motion, recording) pairs")
    out = []
    for i, pair in enumerate(pairs):
        try:
            motion, rec = pair
        except (TypeError, ValueError):
            raise InputError(f"pair {i}: expected (motion, recording), got {type(pair).__name__}") from None
        if not isinstance(motion, (Motion, Trajectory)):
            raise InputError(f"pair {i}: the motion must be a Motion or a Trajectory, got {type(motion).__name__}")
        if motion.batched:
            raise InputError(f"pair {i}: the motion must be one clip, not a batch")
        label = f"pair {i}"
        if isinstance(rec, ImuRecording):
            label += f" ({rec.path})" if rec.path else ""
            sig = rec.signal
        elif isinstance(rec, ImuSignal):
            sig = rec
        else:
            raise InputError(f"{label}: the recording must be an ImuRecording or an ImuSignal, got "
                             f"{type(rec).__name__}")
        if sig.batched:
            raise InputError(f"{label}: the recording must be one clip, not a batch")
        acc, gyr = np.asarray(sig.accel, np.float64), np.asarray(sig.gyro, np.float64)
        if acc.ndim != 2 or acc.shape[1] != 3 or gyr.shape != acc.shape:
            raise InputError(f"{label}: accel and gyro must be (T, 3) arrays of one length, got {acc.shape} and "
                             f"{gyr.shape}")
        real = np.concatenate([acc, gyr], 1)
        if not np.isfinite(real).all():
            raise InputError(f"{label}: the recording has NaN or infinite samples")
        rate = float(sig.rate_hz)
        dur = (len(real) - 1) / rate if len(real) else 0.0
        if dur < min_duration_s:
            raise InputError(f"{label}: the recording lasts {dur:.3g} s; a paired fit needs at least "
                             f"{min_duration_s:g} s of each recording")
        sat = np.zeros(real.shape, bool) if sig.saturated is None else np.asarray(sig.saturated, bool)
        if sat.shape != real.shape:
            raise InputError(f"{label}: saturated must be (T, 6), got {sat.shape}")
        _check_units(real, sat, label)
        out.append(_Pair(motion, real, sat, rate, label))
    rates = sorted({p.rate_hz for p in out})
    if rates[-1] - rates[0] > 1e-6 * rates[-1]:
        raise InputError(f"the recordings have different rates ({', '.join(f'{r:g}' for r in rates)} Hz): one "
                         "sensor has one rate; read them at one rate (the readers' rate_hz)")
    return out


def _check_units(real: np.ndarray, sat: np.ndarray, label: str) -> None:
    """An accelerometer in m/s^2 reads about g where it rests (the median |a| of calm samples, or of all samples,
    within 0.5-2 g), a gyroscope in rad/s stays under ~30 rad/s (99th percentile of |omega| under 50): else a
    one-line ``InputError`` naming the likely unit. Lenient on purpose: it catches g for m/s^2 (a median of 1),
    deg/s for rad/s, gravity removed, or a factor of 10, not a sensor's calibration."""
    a = np.linalg.norm(real[:, :3], axis=1)
    w = np.linalg.norm(real[:, 3:], axis=1)
    w99 = float(np.percentile(w, 99))
    if w99 > _MAX_GYRO:
        raise InputError(f"{label}: the gyroscope reads {w99:.4g} rad/s (99th percentile of |omega|): are its units "
                         f"deg/s? Convert to rad/s (x pi / 180)")
    med = median_filter(a, size=19, mode="nearest")
    calm = (w < _REST_GYRO) & (np.abs(a - med) < _REST_ACCEL_DEV) & ~sat.any(1)
    g_calm = float(np.median(a[calm])) if calm.any() else float("nan")
    g_all = float(np.median(a))
    if _G_LO <= g_calm <= _G_HI or _G_LO <= g_all <= _G_HI:  # a body in motion throughout still reads ~g overall
        return
    g = g_calm if np.isfinite(g_calm) else g_all
    hint = ("are its units g (convert to m/s^2: x 9.80665), or is gravity removed? A paired fit needs the specific "
            "force in m/s^2, with gravity" if 0.5 <= g <= 2.0 else
            "is gravity removed (linear acceleration)? A paired fit needs the specific force, with gravity"
            if g < _G_LO else "check its units (m/s^2 with gravity expected)")
    raise InputError(f"{label}: the accelerometer's median |a| is {g:.3g}, where an accelerometer in m/s^2 reads "
                     f"about {STANDARD_GRAVITY:.2f} (gravity): {hint}")


# ---------------------------------------------------------------------------------------------------------------
# Alignment helpers (host)
# ---------------------------------------------------------------------------------------------------------------

def _moving_average(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average of ``n`` samples, the same length as ``x`` (shorter windows at the ends)."""
    if n <= 1:
        return np.asarray(x, np.float64)
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    k = np.arange(len(x))
    lo, hi = np.maximum(k - n // 2, 0), np.minimum(k - n // 2 + n, len(x))
    return (c[hi] - c[lo]) / (hi - lo)


def _xcorr(sim: np.ndarray, real: np.ndarray, lags: np.ndarray, min_overlap: int) -> np.ndarray:
    """Pearson correlation of ``sim[j + L]`` with ``real[j]`` over their overlap, for every lag ``L`` in ``lags``
    (``-inf`` where the overlap is shorter than ``min_overlap``): FFT for the cross sums, cumulative sums for the
    rest."""
    ns, nr = len(sim), len(real)
    j0 = np.maximum(0, -lags)
    j1 = np.minimum(nr, ns - lags)
    n = j1 - j0
    nfft = 1 << int(np.ceil(np.log2(ns + nr)))
    cross = np.fft.irfft(np.fft.rfft(sim, nfft) * np.conj(np.fft.rfft(real, nfft)), nfft)
    sxy = cross[lags % nfft]  # sum_j sim[j + L] real[j]
    cs, cs2 = (np.concatenate([[0.0], np.cumsum(v)]) for v in (sim, sim ** 2))
    cr, cr2 = (np.concatenate([[0.0], np.cumsum(v)]) for v in (real, real ** 2))
    ok = n >= max(min_overlap, 3)
    a0, a1 = np.clip(j0 + lags, 0, ns), np.clip(j1 + lags, 0, ns)
    b0, b1 = np.clip(j0, 0, nr), np.clip(j1, 0, nr)
    nn = np.maximum(n, 1)
    sx, sx2 = cs[a1] - cs[a0], cs2[a1] - cs2[a0]
    sy, sy2 = cr[b1] - cr[b0], cr2[b1] - cr2[b0]
    cov = sxy - sx * sy / nn
    vx, vy = sx2 - sx ** 2 / nn, sy2 - sy ** 2 / nn
    with np.errstate(invalid="ignore", divide="ignore"):
        c = cov / np.sqrt(np.maximum(vx, 0) * np.maximum(vy, 0))
    return np.where(ok & (vx > 1e-12 * nn) & (vy > 1e-12 * nn), c, -np.inf)


def _coarse_lag(sim: np.ndarray, real: np.ndarray, rate: float, center: int, max_lag: int,
                min_overlap: int) -> tuple[int, float]:
    """The whole-sample lag ``L`` (real sample ``j`` <-> simulated sample ``j + L``) within ``center +- max_lag``
    maximising corr(env|a|) + corr(env|omega|), and that sum / 2."""
    n_env = max(1, round(float(_ENVELOPE_S * rate)))
    env = lambda x: _moving_average(np.linalg.norm(x, axis=1), n_env)
    lags = np.arange(center - max_lag, center + max_lag + 1)
    c = _xcorr(env(sim[:, :3]), env(real[:, :3]), lags, min_overlap) + \
        _xcorr(env(sim[:, 3:]), env(real[:, 3:]), lags, min_overlap)
    if not np.isfinite(c).any():
        return int(center), float("nan")
    b = int(np.argmax(c))
    return int(lags[b]), float(c[b] / 2)


def _kabsch(H: np.ndarray) -> np.ndarray:
    """The rotation ``R`` minimising ``sum |dst - R src|^2`` from ``H = sum src dst^T`` (3 x 3)."""
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    return Vt.T @ np.diag([1.0, 1.0, d]) @ U.T


def _bootstrap_rotation(Hs: list[np.ndarray], R0: np.ndarray, draws: int = 200) -> np.ndarray | None:
    """Standard deviations (degrees, about the sensor's x, y, z axes) of the Kabsch rotation over trials drawn
    with replacement (``Hs`` each pair's ``sum src dst^T``), about ``R0``: how far the trials agree on the mounting,
    model errors included (the curvature sees only the noise around one minimum). ``None`` under three pairs."""
    if len(Hs) < 3:
        return None
    rng = np.random.default_rng(0)
    counts = rng.multinomial(len(Hs), np.full(len(Hs), 1.0 / len(Hs)), size=draws)
    H = np.stack(Hs)
    turns = np.array([Rotation.from_matrix(R0.T @ _kabsch(np.tensordot(c, H, 1))).as_rotvec() for c in counts])
    return np.degrees(np.sqrt(np.mean(turns ** 2, 0)))


def _quat_from_matrix(Rm: np.ndarray) -> np.ndarray:
    xyzw = Rotation.from_matrix(Rm).as_quat()
    return np.array([xyzw[3], xyzw[0], xyzw[1], xyzw[2]])


def _iact(r: np.ndarray, max_lag: int = 200) -> float:
    """Integrated autocorrelation time ``1 + 2 sum rho_k`` of ``r`` (summed while the autocorrelation stays
    positive, Geyer's initial positive sequence in its simplest form): the number of correlated samples one
    independent residual is worth."""
    r = np.asarray(r, np.float64) - np.mean(r)
    n = len(r)
    if n < 4 or np.dot(r, r) <= 0:
        return 1.0
    nfft = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(r, nfft)
    ac = np.fft.irfft(f * np.conj(f), nfft)[: min(n, max_lag + 1)]
    rho = ac / ac[0]
    tau = 1.0
    for k in range(1, len(rho)):
        if rho[k] <= 0:
            break
        tau += 2 * rho[k]
    return float(tau)


# ---------------------------------------------------------------------------------------------------------------
# Noise from the residuals
# ---------------------------------------------------------------------------------------------------------------

def _window_vars(r: np.ndarray, n: int) -> np.ndarray:
    """Variances of ``r`` about each non-overlapping ``n``-sample window's own straight line (``n - 2`` degrees
    of freedom): the residual's slow drift (bias random walk, model error) is left out."""
    m = len(r) // n
    if m == 0:
        return np.zeros(0)
    w = r[: m * n].reshape(m, n)
    t = np.arange(n) - (n - 1) / 2
    wc = w - w.mean(1, keepdims=True)
    slope = wc @ t / (t @ t)
    res = wc - slope[:, None] * t[None, :]
    return (res ** 2).sum(1) / (n - 2)


def _white_density(vars_: np.ndarray, n: int, rate: float) -> tuple[float, float]:
    """White-noise density (u/sqrt(Hz)) from window variances, and its standard error: their ``_QUIET_QUANTILE``
    quantile divided by the same quantile ``x_p / nu`` of ``chi2(nu) / nu`` (``nu = n - 2``; exact for white
    noise), as a density ``sigma / sqrt(rate)``. The standard error is a sample quantile's, ``sqrt(p (1 - p) / M)
    / f(q)`` for ``M`` windows with ``f`` the windows' density there under the same model, so relative to the
    density ``sqrt(p (1 - p) / M) / (2 x_p chi2.pdf(x_p, nu))`` (a jackknife does not serve a quantile)."""
    m = len(vars_)
    if m == 0:
        return float("nan"), float("nan")
    p, nu = _QUIET_QUANTILE, n - 2
    x_p = chi2.ppf(p, nu)
    q = float(np.quantile(vars_, p))
    dens = math.sqrt(q / (x_p / nu) / rate)
    rel = math.sqrt(p * (1 - p) / m) / (2 * x_p * chi2.pdf(x_p, nu))
    return dens, dens * rel


def _avar(x: np.ndarray, m: int) -> float:
    """Overlapping Allan variance of the rate samples ``x`` at ``m`` samples (IEEE Std 952): ``sum (theta[k+2m] -
    2 theta[k+m] + theta[k])^2 / (2 tau^2 (N - 2m))`` with ``theta`` the integral; ``tau`` and the rate cancel
    in units of ``x^2``."""
    th = np.concatenate([[0.0], np.cumsum(x)])
    d = th[2 * m:] - 2 * th[m:-m] + th[: -2 * m]
    return float(np.sum(d ** 2) / (2.0 * m * m * len(d)))


def _random_walk(records: list[np.ndarray], rate: float, density: float) -> tuple[float, float, int]:
    """Bias random walk K (u/sqrt(s)) of one axis from its residual records, by the Allan variance: at
    octave-spaced ``tau >= MIN_RW_TAU_S`` up to a quarter of each record, ``AVAR(tau) = N^2 / tau + K^2 tau / 3``
    with the white density ``N`` known, so ``K^2`` is a weighted linear least-squares estimate, each Allan variance
    weighted by the inverse of its variance ``2 AVAR^2 / dof`` (the model's own values, refined twice; ``dof`` half
    its clusters ``(T - 2 tau) / tau``, as the octave-spaced points share their data: so counted, the standard
    error matches the spread of the estimates in simulation, 15 % from 20 minutes at 100 Hz), clipped at 0. Returns K, its standard error (from the same weights:
    ``se(K^2) = (sum w (tau / 3)^2)^-1/2``, ``se(K) = se(K^2) / 2K``, or ``se(K^2)^1/2`` at K = 0) and the number
    of taus used (0: no record long enough; K = 0)."""
    points = []  # (tau, Allan variance, clusters)
    for x in records:
        n = len(x)
        m = round(float(MIN_RW_TAU_S * rate))
        while 4 * m <= n:
            points.append((m / rate, _avar(x, m), max(n - 2 * m, 1) / m / 2.0))
            m *= 2
    if not points:
        return 0.0, float("nan"), 0
    k2, den = 0.0, 0.0
    for _ in range(3):
        num = den = 0.0
        for tau, a, dof in points:
            white = density ** 2 / tau
            w = dof / (2.0 * max(white + k2 * tau / 3.0, 1e-30) ** 2)
            num += w * (a - white) * tau / 3.0
            den += w * (tau / 3.0) ** 2
        k2 = max(num / den, 0.0) if den > 0 else 0.0
    se_k2 = 1.0 / math.sqrt(den) if den > 0 else float("nan")
    k = math.sqrt(k2)
    return k, (se_k2 / (2 * k) if k > 0 else math.sqrt(se_k2)), len(points)


def _noise_estimates(records: list[np.ndarray], reals: list[tuple[np.ndarray, np.ndarray]], taus: np.ndarray,
                     rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    """White densities ``(6,)``, random walks ``(6,)``, their standard errors and a report, each sensor by the first
    of these that applies (the module docstring's step 8):

    * ``residual``: the residual is white (its integrated autocorrelation time at most ``_WHITE_TAU`` samples on
      all three axes: the fit explains everything but the noise, as on the synthetic round trips): the quietest
      ``_QUIET_QUANTILE`` of 1 s windows of the residual records (``records``, each ``(n_i, 6)``: contiguous runs
      of unmasked samples; ``_white_density``), and the random walk (``_random_walk``);
    * ``rest``: else, still windows of the real recordings (``reals``: readings ``(n, 6)`` and saturation flags):
      0.5 s windows whose three axes all vary by less than ``_STILL`` about a straight line; with at least
      ``_MIN_STILL_WINDOWS`` of them the density is their median variance over the chi-square median (exact for a
      resting sensor's white noise); the random walk is not observable in seconds-long trials (0);
    * ``not observable``: densities 0 (the profile adds no noise it cannot vouch for); the report carries the
      residual's figure as an upper bound."""
    dens, rws, se_d, se_k = np.zeros(6), np.zeros(6), np.full(6, np.nan), np.full(6, np.nan)
    n1 = max(3, round(float(_WINDOW_S * rate)))
    n_rest = max(4, round(float(_STILL_WINDOW_S * rate)))
    report = {}
    for s_, name in ((0, "accel"), (1, "gyro")):
        ch = range(3 * s_, 3 * s_ + 3)
        upper = [_white_density(np.concatenate([_window_vars(x[:, c], n1) for x in records] or [np.zeros(0)]), n1,
                                rate) for c in ch]
        rep = {"residual_autocorrelation_samples": [float(taus[c]) for c in ch]}
        if max(taus[c] for c in ch) <= _WHITE_TAU:
            rep.update(method="residual", window_s=n1 / rate, quantile=_QUIET_QUANTILE, random_walk_taus=[])
            for k, c in enumerate(ch):
                dens[c], se_d[c] = upper[k]
                rws[c], se_k[c], used = _random_walk([x[:, c] for x in records], rate, dens[c])
                rep["random_walk_taus"].append(used)
                if not used:
                    se_k[c] = np.nan
        else:
            wins = []
            for x, sat in reals:
                m = len(x) // n_rest
                if m == 0:
                    continue
                v = np.stack([_window_vars(x[:, c], n_rest) for c in ch], 1)  # (m, 3)
                ok = ~sat[: m * n_rest, list(ch)].reshape(m, n_rest, 3).any((1, 2))
                wins.append(v[ok & (v < _STILL[name] ** 2).all(1)])
            still = np.concatenate(wins) if wins else np.zeros((0, 3))
            rep.update(still_windows=len(still), still_window_s=n_rest / rate,
                       upper_bound=[u[0] for u in upper])
            if len(still) >= _MIN_STILL_WINDOWS:
                rep["method"] = "rest"
                nu = n_rest - 2
                med = chi2.ppf(0.5, nu)
                rel = math.sqrt(0.25 / len(still)) / (2 * med * chi2.pdf(med, nu))
                for k, c in enumerate(ch):
                    dens[c] = math.sqrt(float(np.median(still[:, k])) / (med / nu) / rate)
                    se_d[c] = dens[c] * rel
            else:
                rep["method"] = "not observable"
        report[name] = rep
    return dens, rws, se_d, se_k, report


def _runs(mask: np.ndarray) -> list[slice]:
    """Contiguous runs of True in a 1-D mask."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return [slice(a, b) for a, b in zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0])]


# ---------------------------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------------------------

def _ideal(groups: list[_Group], side: str, params: dict) -> list[jnp.ndarray]:
    """Each group's ideal simulated readings ``(B, n_keep, 6)`` for the mount and fractional offsets in
    ``params``."""
    mount = Mount(params["q_fs"], params["lever_f"], side, "fit")
    out = []
    for g in groups:
        s = sense(g.prepared, mount, None, None, time_offset_s=params["delta"][jnp.asarray(g.idx)])
        x = jnp.concatenate([s.accel, s.gyro], -1)
        out.append(x[None] if x.ndim == 2 else x)
    return out


def _moments(groups, xs):
    """Masked sums per pair and channel ``(P, 6)`` (pairs in the groups' order): n, sum x, sum y, sum x^2, sum y^2,
    sum xy."""
    parts = [[] for _ in range(6)]
    for g, x in zip(groups, xs):
        m, y = g.mask, g.real
        for k, v in enumerate((m, m * x, m * y, m * x * x, m * y * y, m * x * y)):
            parts[k].append(jnp.sum(v, axis=1))
    return [jnp.concatenate(p) for p in parts]


def _gain_bias(mom, scale: bool, bias: bool, amplitude: bool):
    """Closed-form gain ``g`` and bias ``b`` per channel from the moments (``_moments``): the least-squares fit of
    ``y ≈ g x + b`` (or of the parts fitted), or, for the gain with ``amplitude``, the ratio of amplitudes
    ``sqrt(var y / var x)`` (geometric-mean regression), with the least-squares bias for that gain. Also returns
    the mean squared residual of that fit."""
    n, sx, sy, sxx, syy, sxy = mom
    n = jnp.maximum(n, 1.0)
    if bias:
        cxx, cyy, cxy = sxx - sx * sx / n, syy - sy * sy / n, sxy - sx * sy / n
    else:
        cxx, cyy, cxy = sxx, syy, sxy
    ls = cxy / jnp.maximum(cxx, 1e-30)
    if scale:
        g = jnp.sqrt(jnp.maximum(cyy, 0.0) / jnp.maximum(cxx, 1e-30)) if amplitude else ls
    else:
        g = jnp.ones_like(n)
    b = (sy - g * sx) / n if bias else jnp.zeros_like(n)
    mse = jnp.maximum(cyy - 2 * g * cxy + g * g * cxx, 0.0) / n
    return g, b, mse, ls


def _loss_fn(groups, side, fixed: dict, scale: bool, bias: bool):
    """The fit's loss of the free parameters (``fixed`` holds the others)::

        sum_{i, c} (n_ic / 2n) log(mse_ic / (1e-9 var(real_ic)) + 1)

    over pairs ``i`` and channels ``c``: the Gaussian likelihood with a variance per pair and channel profiled
    out (each trial's misfit is its own: a trial the simulation follows poorly, or a recording cropped elsewhere,
    weighs less), and the least-squares gain and bias of each channel, shared by all pairs, profiled out too
    (variable projection: with one pair and both fitted, ``mse_c = var(real_c) (1 - rho_c^2)``, so the fit
    maximises each channel's correlation). The residuals are formed again from the gains and biases (``cyy -
    cxy^2 / cxx`` would cancel to float32's last digits on a close fit). The floor ``1e-9 var`` keeps the loss
    positive, as ``_fit.minimize``'s relative convergence test needs, without moving the minimum."""

    def loss(free):
        params = {**fixed, **free}
        xs = _ideal(groups, side, params)
        mom = _moments(groups, xs)
        g, b, _, _ = _gain_bias([m.sum(0) for m in mom], scale, bias, amplitude=False)
        sq = jnp.concatenate([jnp.sum(gr.mask * (g[None, None] * x + b[None, None] - gr.real) ** 2, axis=1)
                              for gr, x in zip(groups, xs)])  # (P, 6)
        n = jnp.maximum(mom[0], 1.0)
        var = mom[4] / n - (mom[2] / n) ** 2
        var = jnp.maximum(var, 1e-6 * jnp.max(var, axis=0, keepdims=True) + 1e-30)
        w = mom[0] / jnp.sum(mom[0])
        return 0.5 * jnp.sum(w * jnp.log(sq / n / (1e-9 * var) + 1.0))

    return loss


def _simulated(groups, side, params) -> list[jnp.ndarray]:
    """Each group's simulated readings with the gains and biases in ``params`` applied."""
    gain = 1.0 + jnp.concatenate([params["accel_scale"], params["gyro_scale"]])
    bias = jnp.concatenate([params["accel_bias"], params["gyro_bias"]])
    return [x * gain[None, None] + bias[None, None] for x in _ideal(groups, side, params)]


def _rotate_local(q0, dtheta):
    """``q0 ⊗ exp(dtheta / 2)``: a turn of ``dtheta`` (rad, about the sensor's own axes) applied to ``q_fs``."""
    ang = jnp.sqrt(jnp.sum(dtheta ** 2) + 1e-30)
    half = 0.5 * ang
    axis = dtheta / ang
    dq = jnp.concatenate([jnp.cos(half)[None], jnp.sin(half) * axis])
    out = R.qmul(tuple(q0[i] for i in range(4)), tuple(dq[i] for i in range(4)))
    return jnp.stack(out)


# ---------------------------------------------------------------------------------------------------------------
# fit_paired
# ---------------------------------------------------------------------------------------------------------------

def fit_paired(pairs: Sequence, *, mount: Mount | str = "watch-left", rate_hz: float | None = None,
               cutoff_hz="auto", fit: Sequence[str] = FIT_PARTS, time_offset_s=0.0, max_offset_s: float = 5.0,
               fine_window_s: float = 0.25, lever_max_m: float = 0.05, edge_s: float = 0.3,
               min_duration_s: float = 2.0, min_overlap_s: float = 1.5, gain: str = "amplitude",
               learning_rate: float = 0.01, half_life_steps: int = 100,
               max_steps: int = 1500, patience: int = 150, tol: float = 1e-6,
               progress: Callable[[int, float], None] | None = None, name: str | None = None,
               source: dict | None = None) -> SensorProfile:
    """Fit one sensor's profile to motions paired with the real IMU recorded during them (the module docstring
    gives the model, the steps and the loss).

    Args:
      pairs: a sequence of ``(motion, recording)``: ``Motion`` or ``Trajectory`` (one clip each) and
        ``ImuRecording`` or ``ImuSignal`` (one clip; SI units: m/s^2 with gravity, rad/s; sensor frame; saturated
        samples flagged in ``signal.saturated`` are left out). One subject and one sensor: all pairs share the
        mount, gains, biases and noise; each has its own time offset.
      mount: the preset (or ``Mount``) the fit starts from: its side is the arm simulated; its rotation and lever
        arm are the initial values (the rotation's only where ``"rotation"`` is not fitted: a fitted one starts
        from the Kabsch alignment).
      rate_hz: the recordings' rate (``None``: theirs, which must agree); the simulation runs at it.
      cutoff_hz: ``prepare``'s cut-off (``"auto"``, Hz or ``None``), or a sequence of them: a grid, fitted once
        each, the lowest loss kept (reported in ``fit["cutoff_grid"]``).
      fit: the parts to fit, a subset of ``FIT_PARTS``; the others stay at the mount's values, 0 (gain, bias,
        noise) or ``time_offset_s``.
      time_offset_s: each pair's offset to start from (or to keep: without ``"time_offset"``), one number or one
        per pair: the motion time of the recording's first sample, s.
      max_offset_s: the coarse search covers ``time_offset_s +- max_offset_s``.
      fine_window_s: the fitted fraction of the offset stays within this of the coarse one (and within the
        prepared edge extension).
      lever_max_m: the lever arm stays within this of the mount's, per axis, m.
      edge_s: simulated samples this close to the motion's first or last frame are left out of the loss (the edge
        extension is made up).
      min_duration_s: the shortest recording accepted, s.
      min_overlap_s: the least overlap of motion and recording accepted, s.
      gain: ``"amplitude"`` (the ratio of amplitudes, the module docstring's step 6) or ``"least-squares"`` (the
        slope).
      learning_rate, half_life_steps: Adam's first step (in the unconstrained values: radians for the rotation)
        and how many steps it takes to halve.
      max_steps, patience, tol: ``_fit.minimize``'s.
      progress: ``progress(step, loss)`` after every chunk of steps.
      name: the profile's name; source: extra keys for ``profile.source``.
    Returns:
      ``SensorProfile`` with ``mount``, ``noise`` (gains as ``scale_error``, biases, white-noise densities, random
      walks; no range or quantisation), ``time_offset_s`` (the median of the pairs'), ``rate_hz``, and the report
      in ``fit``.
    Raises:
      InputError: one line, for bad input (see the module docstring's step 1).
    """
    t_start = time.perf_counter()
    parts = tuple(fit)
    unknown = [p for p in parts if p not in FIT_PARTS]
    if unknown:
        raise InputError(f"fit: unknown part {unknown[0]!r}; expected some of {', '.join(FIT_PARTS)}")
    base = get_mount(mount)
    P = _as_pairs(pairs, float(min_duration_s))
    rate = P[0].rate_hz
    if rate_hz is not None and abs(float(rate_hz) - rate) > 1e-6 * rate:
        raise InputError(f"rate_hz={rate_hz} but the recordings are at {rate:g} Hz: resample them (the readers' "
                         "rate_hz) or leave rate_hz out")
    offsets0 = np.broadcast_to(np.asarray(time_offset_s, np.float64), (len(P),)) \
        if np.ndim(time_offset_s) == 0 else np.asarray(time_offset_s, np.float64)
    if offsets0.shape != (len(P),) or not np.isfinite(offsets0).all():
        raise InputError(f"time_offset_s must be one finite number or one per pair ({len(P)}), got shape "
                         f"{np.shape(time_offset_s)}")
    for name_, v in (("max_offset_s", max_offset_s), ("fine_window_s", fine_window_s), ("lever_max_m", lever_max_m),
                     ("edge_s", edge_s), ("min_overlap_s", min_overlap_s)):
        if not (np.isfinite(v) and v >= 0):
            raise InputError(f"{name_} must be a number >= 0, got {v!r}")
    grid = list(cutoff_hz) if isinstance(cutoff_hz, (list, tuple)) else [cutoff_hz]
    if not grid:
        raise InputError("cutoff_hz: an empty grid")
    grid = [cutoff_arg(c) for c in grid]
    for i, p in enumerate(P):  # can the two overlap at all within the search window?
        dur_m = (p.motion.num_frames - 1) / float(p.motion.fps)
        dur_r = (len(p.real) - 1) / p.rate_hz
        w = max_offset_s if "time_offset" in parts else 0.0
        lo, hi = offsets0[i] - w, offsets0[i] + w  # the recording covers [o, o + dur_r] of motion time
        cands = np.clip([lo, hi, 0.0, dur_m - dur_r], lo, hi)
        best = max(min(dur_m, o + dur_r) - max(0.0, o) for o in cands)
        if best < min_overlap_s:
            raise InputError(f"{p.label}: the motion (0 to {dur_m:.3g} s) and the recording ({dur_r:.3g} s, starting "
                             f"at {offsets0[i]:.3g} s of motion time +- {w:g} s) do not overlap by {min_overlap_s:g} "
                             f"s: give time_offset_s (the motion time of the recording's first sample) or a larger "
                             f"max_offset_s")
    if gain not in ("amplitude", "least-squares"):
        raise InputError(f"gain must be 'amplitude' or 'least-squares', got {gain!r}")
    settings = {"gain": gain, "parts": parts, "base": base, "P": P, "rate": rate, "offsets0": offsets0,
                "max_offset_s": float(max_offset_s), "fine_window_s": float(fine_window_s),
                "lever_max_m": float(lever_max_m), "edge_s": float(edge_s), "min_overlap_s": float(min_overlap_s),
                "learning_rate": float(learning_rate), "half_life_steps": int(half_life_steps),
                "max_steps": int(max_steps), "patience": int(patience), "tol": float(tol), "progress": progress}
    results = []
    for cut in grid:  # a loop, not a comprehension: _fit_one's warnings point at fit_paired's caller
        results.append(_fit_one(cut, **settings))
    best = min(range(len(results)), key=lambda k: results[k]["loss"] if np.isfinite(results[k]["loss"])
               else np.inf)
    res = results[best]
    if len(grid) > 1:
        res["report"]["cutoff_grid"] = [{"cutoff_hz": _cut_name(c), "loss": r["loss"]} for c, r in zip(grid, results)]
    res["report"]["seconds"] = time.perf_counter() - t_start
    src = {"mode": "paired", "pairs": [p.label for p in P], "mount": base.name, "side": base.side,
           "rate_hz": rate, "cutoff_hz": _cut_name(grid[best]), **(source or {})}
    return SensorProfile(noise=res["noise"], mount=res["mount"], time_offset_s=res["time_offset_s"], rate_hz=rate,
                         cutoff_hz=_cut_name(grid[best]), name=name or f"paired-{base.name}", source=src,
                         fit=res["report"])


def _cut_name(c):
    return "auto" if c == "auto" else (None if c is None else float(c))


def _fit_one(cutoff, *, gain, parts, base: Mount, P: list[_Pair], rate, offsets0, max_offset_s, fine_window_s,
             lever_max_m, edge_s, min_overlap_s, learning_rate, half_life_steps, max_steps, patience, tol, progress) -> dict:
    """The whole fit at one cut-off: returns the mount, noise, offsets and report."""
    import optax

    side = base.side
    # -- prepare: one batch per kind and joint set ----------------------------------------------------------------
    keys: dict = {}
    for i, p in enumerate(P):
        k = ("trajectory",) if isinstance(p.motion, Trajectory) else ("skeleton", p.motion.joint_set)
        keys.setdefault(k, []).append(i)
    groups = []
    for k, idx in keys.items():
        motions = [P[i].motion for i in idx]
        if k[0] == "skeleton":
            src = motions[0] if len(motions) == 1 else stack_motions(motions)
        else:
            src = motions[0] if len(motions) == 1 else _stack_trajectories(motions)
        groups.append(_Group(idx, prepare(src, base, rate_hz=rate, cutoff_hz=cutoff)))
    n_pairs = len(P)
    dtype = groups[0].prepared.source.dtype
    window = min(fine_window_s, 0.8 * min(g.prepared.max_time_offset_s for g in groups))
    edge = max(edge_s, window)
    # -- ideal readings in the forearm frame, coarse offsets ------------------------------------------------------
    ident = {"q_fs": jnp.asarray([1.0, 0.0, 0.0, 0.0], dtype), "lever_f": jnp.asarray(base.lever_f, dtype),
             "delta": jnp.zeros(n_pairs, dtype)}
    sims0 = [None] * n_pairs
    n_valid = np.zeros(n_pairs, int)
    for g, x in zip(groups, _ideal(groups, side, ident)):
        x = np.asarray(x, np.float64)
        ns = np.atleast_1d(np.asarray(g.prepared.n_samples))
        for b, i in enumerate(g.idx):
            sims0[i], n_valid[i] = x[b, : ns[b]], ns[b]
    lags = np.zeros(n_pairs, int)
    xc = np.full(n_pairs, np.nan)
    for i, p in enumerate(P):
        center = round(float(offsets0[i] * rate))
        if "time_offset" in parts:
            min_ov = int(max(min_overlap_s * rate, 0.5 * min(len(p.real), n_valid[i])))
            lags[i], xc[i] = _coarse_lag(sims0[i], p.real, rate, center, round(float(max_offset_s * rate)), min_ov)
        else:
            lags[i] = center
        overlap = min(len(p.real), n_valid[i] - lags[i]) - max(0, -lags[i])
        if overlap < min_overlap_s * rate:
            raise InputError(f"{p.label}: the motion and the recording overlap by {max(overlap, 0) / rate:.3g} s at "
                             f"the offset found ({lags[i] / rate:.3g} s): they do not cover the same movement")
    frac0 = offsets0 - np.round(offsets0 * rate) / rate if "time_offset" not in parts else np.zeros(n_pairs)
    # -- the real readings on the simulated samples' grid ---------------------------------------------------------
    e = math.ceil(edge * rate)
    masks_np, used_s = [], np.zeros(n_pairs)
    for g in groups:
        n_out = g.prepared.n_keep
        Y = np.zeros((len(g.idx), n_out, 6))
        M = np.zeros((len(g.idx), n_out, 6))
        for b, i in enumerate(g.idx):
            p, L = P[i], lags[i]
            k = np.arange(n_out)
            j = k - L
            ok = (j >= 0) & (j < len(p.real)) & (k >= e) & (k < n_valid[i] - e)
            Y[b, ok] = p.real[j[ok]]
            M[b, ok] = ~p.saturated[j[ok]]
            used_s[i] = M[b].all(1).sum() / rate
        if M.sum() == 0:
            raise InputError(f"{P[g.idx[0]].label}: no sample of the recording falls inside the motion (away from "
                             f"its first and last {edge:.2g} s)")
        g.real, g.mask = jnp.asarray(Y, dtype), jnp.asarray(M, dtype)
        masks_np.append(M)
    counts = sum(M.sum((0, 1)) for M in masks_np)
    if counts.min() < 10:
        raise InputError(f"fewer than 10 usable samples on {CHANNELS[int(np.argmin(counts))]} (saturated or "
                         "outside the motion): nothing to fit")
    # -- rotation: Wahba/Kabsch of both sensors over all pairs ----------------------------------------------------
    src_rows, dst_rows = [], []
    for g in groups:
        for b, i in enumerate(g.idx):
            k = np.arange(n_valid[i])
            ok = np.asarray(g.mask[b, : n_valid[i]]).all(1)
            src_rows.append(np.asarray(g.real[b, : n_valid[i]])[ok])
            dst_rows.append(sims0[i][k[ok]])
    src = np.concatenate(src_rows)
    boot = None
    if "rotation" in parts:
        wa = 1.0 / max(np.sqrt(np.mean(np.sum(src[:, :3] ** 2, 1))), 1e-9)
        wg = 1.0 / max(np.sqrt(np.mean(np.sum(src[:, 3:] ** 2, 1))), 1e-9)
        Hs = [wa ** 2 * s_[:, :3].T @ d_[:, :3] + wg ** 2 * s_[:, 3:].T @ d_[:, 3:] for s_, d_ in zip(src_rows, dst_rows)]
        Rk = _kabsch(sum(Hs))
        q0 = _quat_from_matrix(Rk)
        boot = _bootstrap_rotation(Hs, Rk)
        if boot is not None and np.sqrt(np.sum(boot ** 2)) > _BOOT_WARN_DEG:
            warnings.warn(f"the trials disagree on the mounting: their rotations spread by "
                          f"{np.sqrt(np.sum(boot ** 2)):.0f} degrees (a bootstrap over {n_pairs} trials); the fitted "
                          "rotation is poorly determined (too few trials, or the simulation follows them poorly)",
                          UserWarning, stacklevel=3)
    else:
        q0 = np.asarray(base.q_fs, np.float64)
    # -- the parameters, their constraints, the loss (gains and biases profiled out) -----------------------------
    lev_preset = np.asarray(base.lever_f, np.float64)  # the centre of the lever arm's box
    lev0 = lev_preset
    if "lever" in parts and lever_max_m > 0:
        lev0 = _lever_init(groups, side, ident, sims0, n_valid, q0, lev_preset, lever_max_m, dtype)
    params0 = {"q_fs": jnp.asarray(q0, dtype), "lever_f": jnp.asarray(lev0, dtype), "delta": jnp.asarray(frac0, dtype)}
    lever_box = _fit.bounded(-lever_max_m, lever_max_m)
    cons = {"q_fs": _fit.unit_quaternion,
            "lever_f": _fit.Constraint(lambda u: jnp.asarray(lev_preset, dtype) + lever_box.forward(u),
                                       lambda x: lever_box.inverse(x - jnp.asarray(lev_preset, dtype)),
                                       f"within {lever_max_m:g} m of the mount's"),
            "delta": _fit.bounded(-window, window)}
    which = {"q_fs": "rotation", "lever_f": "lever", "delta": "time_offset"}
    free_names = [k for k in params0 if which[k] in parts]
    fixed = {k: v for k, v in params0.items() if k not in free_names}
    free0 = {k: params0[k] for k in free_names}
    fit_scale, fit_bias = "scale" in parts, "bias" in parts
    loss = _loss_fn(groups, side, fixed, fit_scale, fit_bias)
    zeros = {k: jnp.zeros(3, dtype) for k in ("accel_scale", "gyro_scale", "accel_bias", "gyro_bias")}
    before = _agreement(groups, side, {**params0, **zeros, "q_fs": jnp.asarray(base.q_fs, dtype)})
    before_kabsch = _agreement(groups, side, {**params0, **zeros})
    if free_names:
        sched = optax.exponential_decay(learning_rate, half_life_steps, 0.5)
        res = _fit.minimize(loss, free0, {k: cons[k] for k in free_names}, optimizer=optax.adam(sched),
                            max_steps=max_steps, patience=patience, tol=tol, progress=progress)
        params = {**fixed, **{k: jnp.asarray(v) for k, v in res.params.items()}}
        final_loss, steps, converged = res.loss, res.steps, res.converged
    else:
        params = dict(params0)
        final_loss, steps, converged = float(loss({})), 0, True
    params["q_fs"] = params["q_fs"] / jnp.linalg.norm(params["q_fs"])
    # the gains and biases at the optimum, closed form (the least-squares slope is reported beside the gain)
    mom = [m.sum(0) for m in _moments(groups, _ideal(groups, side, params))]
    g_fit, b_fit, _, slope = (np.asarray(v, np.float64) for v in
                              _gain_bias(mom, fit_scale, fit_bias, amplitude=gain == "amplitude"))
    params.update(accel_scale=jnp.asarray(g_fit[:3] - 1, dtype), gyro_scale=jnp.asarray(g_fit[3:] - 1, dtype),
                  accel_bias=jnp.asarray(b_fit[:3], dtype), gyro_bias=jnp.asarray(b_fit[3:], dtype))
    after = _agreement(groups, side, params)
    # -- residuals: noise, autocorrelation, uncertainties ---------------------------------------------------------
    sims = _simulated(groups, side, params)
    records = []
    sq_pair, n_pair = np.zeros((n_pairs, 6)), np.zeros((n_pairs, 6))
    for g, x in zip(groups, sims):
        r = np.asarray(x - g.real, np.float64)
        M = np.asarray(g.mask, bool)
        for b, i in enumerate(g.idx):
            for run in _runs(M[b].all(1)):
                if run.stop - run.start >= 4:
                    records.append(r[b, run])
            sq_pair[i], n_pair[i] = (M[b] * r[b] ** 2).sum(0), M[b].sum(0)
    taus = np.array([np.median([_iact(rec[:, c]) for rec in records if len(rec) > 8] or [1.0]) for c in range(6)])
    sigma2 = sq_pair.sum(0) / np.maximum(n_pair.sum(0), 1)
    sigma2_pair = np.where(n_pair > 0, sq_pair / np.maximum(n_pair, 1), sigma2[None])
    stderr = _stderr(groups, side, params, free_names, fit_scale, fit_bias, sigma2_pair, taus, dtype)
    if "noise" in parts:
        dens, rws, se_d, se_k, noise_rep = _noise_estimates(records, [(p.real, p.saturated) for p in P], taus, rate)
    else:
        dens, rws, se_d, se_k, noise_rep = np.zeros(6), np.zeros(6), np.full(6, np.nan), np.full(6, np.nan), {}
    observed = {k: "noise" in parts and noise_rep[k]["method"] != "not observable" for k in ("accel", "gyro")}
    walked = {k: "noise" in parts and noise_rep[k]["method"] == "residual" and all(noise_rep[k]["random_walk_taus"])
              for k in ("accel", "gyro")}
    # -- the profile's parts and the report -----------------------------------------------------------------------
    q = np.asarray(params["q_fs"], np.float64)
    lever = np.asarray(params["lever_f"], np.float64)
    out_mount = Mount.create(q, lever, side, f"paired-{base.name}")
    scale = np.concatenate([np.asarray(params["accel_scale"]), np.asarray(params["gyro_scale"])]).astype(np.float64)
    bias = np.concatenate([np.asarray(params["accel_bias"]), np.asarray(params["gyro_bias"])]).astype(np.float64)
    noise = None
    if {"scale", "bias", "noise"} & set(parts):
        noise = ImuNoise(SensorNoise.create(noise_density=dens[:3], random_walk=rws[:3], bias=bias[:3],
                                            scale_error=scale[:3]),
                         SensorNoise.create(noise_density=dens[3:], random_walk=rws[3:], bias=bias[3:],
                                            scale_error=scale[3:]), "paired")
    delta = np.asarray(params["delta"], np.float64)
    offsets = lags / rate + delta
    rot_rel = Rotation.from_quat(np.asarray(base.q_fs, np.float64)[[1, 2, 3, 0]]).inv() * \
        Rotation.from_quat(q[[1, 2, 3, 0]])
    rep_params = {
        "q_fs": {"value": q.tolist(), "stderr_deg": stderr.get("rotation_deg"), "unit": "quaternion (w, x, y, z), "
                 "sensor to forearm; stderr: a turn about the sensor's x, y, z axes, degrees",
                 "turn_from_preset_deg": np.degrees(rot_rel.as_rotvec()).tolist(),
                 "angle_from_preset_deg": float(np.degrees(rot_rel.magnitude())),
                 "bootstrap_stderr_deg": None if boot is None else boot.tolist(),
                 "angle_from_kabsch_deg": float(np.degrees((Rotation.from_quat(q0[[1, 2, 3, 0]]).inv()
                                                            * Rotation.from_quat(q[[1, 2, 3, 0]])).magnitude())),
                 "fitted": "rotation" in parts},
        "lever_f": {"value": lever.tolist(), "stderr": stderr.get("lever_f"), "unit": "m, forearm frame",
                    "fitted": "lever" in parts},
        "accel_scale": {"value": scale[:3].tolist(), "stderr": stderr.get("accel_scale"),
                        "unit": f"fraction ({gain} gain)",
                        "fitted": "scale" in parts},
        "gyro_scale": {"value": scale[3:].tolist(), "stderr": stderr.get("gyro_scale"),
                       "unit": f"fraction ({gain} gain)",
                       "fitted": "scale" in parts},
        "accel_bias": {"value": bias[:3].tolist(), "stderr": stderr.get("accel_bias"), "unit": "m/s^2",
                       "fitted": "bias" in parts},
        "gyro_bias": {"value": bias[3:].tolist(), "stderr": stderr.get("gyro_bias"), "unit": "rad/s",
                      "fitted": "bias" in parts},
        "accel_noise_density": {"value": dens[:3].tolist(), "stderr": se_d[:3].tolist(), "unit": "m/s^2/sqrt(Hz)",
                                "fitted": observed["accel"]},
        "gyro_noise_density": {"value": dens[3:].tolist(), "stderr": se_d[3:].tolist(), "unit": "rad/s/sqrt(Hz)",
                               "fitted": observed["gyro"]},
        "accel_random_walk": {"value": rws[:3].tolist(), "stderr": se_k[:3].tolist(), "unit": "m/s^2/sqrt(s)",
                              "fitted": walked["accel"]},
        "gyro_random_walk": {"value": rws[3:].tolist(), "stderr": se_k[3:].tolist(), "unit": "rad/s/sqrt(s)",
                             "fitted": walked["gyro"]},
    }
    pairs_rep = [{"label": p.label, "time_offset_s": float(offsets[i]),
                  "stderr_s": None if stderr.get("delta") is None else stderr["delta"][i],
                  "coarse_offset_s": float(lags[i] / rate), "coarse_envelope_corr": float(xc[i]),
                  "samples_used_s": float(used_s[i])}
                 for i, p in enumerate(P)]
    report = {
        "mode": "paired", "parameters": rep_params, "pairs": pairs_rep,
        "time_offset_s": {"median": float(np.median(offsets)), "per_pair": offsets.tolist()},
        "loss": float(final_loss), "steps": int(steps), "converged": bool(converged),
        "fitted": list(parts), "cutoff_hz": _cut_name(cutoff),
        "cutoffs_chosen_hz": [float(c) for g in groups for c in np.asarray(g.prepared.arms[0].cutoff_hz)],
        "agreement": {"channels": list(CHANNELS), "before": before, "kabsch": before_kabsch, "after": after,
                      "before_is": "the mount preset, no gain or bias, at the coarse offsets",
                      "kabsch_is": "the Kabsch rotation, no gain or bias, at the coarse offsets"},
        "least_squares_gain": (slope - 1.0).tolist() if fit_scale else None,
        "residual_std": np.sqrt(sigma2).tolist(), "residual_autocorrelation_samples": taus.tolist(),
        "noise": noise_rep, "samples": counts.astype(int).tolist(),
        "kabsch_q_fs": q0.tolist(),
    }
    return {"loss": float(final_loss), "mount": out_mount, "noise": noise,
            "time_offset_s": float(np.median(offsets)), "report": report}


def _lever_init(groups, side, ident, sims0, n_valid, q0, lev0, lever_max_m, dtype) -> np.ndarray:
    """The lever arm's initial value in closed form: the accelerometer is linear in it (``alpha x r + omega x
    (omega x r)``), so three more calls of the compiled ``sense`` (a 5 cm lever along each forearm axis) give its
    sensitivity, and one linear least squares over all pairs, with a bias per axis, the lever (clipped to 90 % of
    the box around the preset's ``lev0``, where the bounded constraint still moves freely)."""
    R0 = Rotation.from_quat(np.asarray(q0, np.float64)[[1, 2, 3, 0]]).as_matrix()
    h = 0.05
    cols = []
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        xs = _ideal(groups, side, {**ident, "lever_f": jnp.asarray(np.asarray(ident["lever_f"]) + e, dtype)})
        cols.append(xs)
    rows_a, rows_y = [], []
    for gi, g in enumerate(groups):
        M = np.asarray(g.mask, bool)
        Y = np.asarray(g.real, np.float64)
        for b, i in enumerate(g.idx):
            m = M[b, : n_valid[i], :3].all(1)
            f0 = sims0[i][m, :3] @ R0  # forearm -> sensor frame
            dX = [(np.asarray(c[gi][b, : n_valid[i], :3], np.float64)[m] @ R0 - f0) / h for c in cols]  # 3 x (n, 3)
            for c in range(3):  # rows: [d/dr_x, d/dr_y, d/dr_z, bias_x, bias_y, bias_z]
                A = np.zeros((int(m.sum()), 6))
                A[:, :3] = np.stack([d[:, c] for d in dX], 1)
                A[:, 3 + c] = 1.0
                rows_a.append(A)
                rows_y.append(Y[b, : n_valid[i], c][m] - f0[:, c])
    A, y = np.concatenate(rows_a), np.concatenate(rows_y)
    if len(y) < 12:
        return lev0
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    return lev0 + np.clip(sol[:3], -0.9 * lever_max_m, 0.9 * lever_max_m)


def _stack_trajectories(trajs):
    """Trajectories of one clip each, padded (last frame repeated) into a batch."""
    T = max(t.num_frames for t in trajs)
    pad = lambda a, n: np.concatenate([a, np.repeat(a[-1:], T - n, 0)]) if T > n else a
    pos = np.stack([pad(np.asarray(t.positions), t.num_frames) for t in trajs])
    q = np.stack([pad(np.asarray(t.q_wb), t.num_frames) for t in trajs])
    return Trajectory.create(pos, q, np.array([float(t.fps) for t in trajs]),
                             lengths=np.array([t.num_frames for t in trajs]))


def _agreement(groups, side, params) -> dict:
    """Per-channel Pearson correlation and RMSE of simulated and real samples over the masks, pooled over pairs,
    and the median over pairs of the per-pair correlations."""
    sims = _simulated(groups, side, params)
    xs, ys, per_pair = [[] for _ in range(6)], [[] for _ in range(6)], []
    for g, x in zip(groups, sims):
        x, y, M = np.asarray(x, np.float64), np.asarray(g.real, np.float64), np.asarray(g.mask, bool)
        for b in range(len(g.idx)):
            row = []
            for c in range(6):
                m = M[b, :, c]
                xs[c].append(x[b, m, c])
                ys[c].append(y[b, m, c])
                row.append(_corr(x[b, m, c], y[b, m, c]))
            per_pair.append(row)
    xs, ys = [np.concatenate(v) for v in xs], [np.concatenate(v) for v in ys]
    return {"corr": [_corr(a, b) for a, b in zip(xs, ys)],
            "rmse": [float(np.sqrt(np.mean((a - b) ** 2))) for a, b in zip(xs, ys)],
            "median_pair_corr": np.nanmedian(np.array(per_pair, np.float64), 0).tolist()}


def _corr(a, b) -> float:
    if len(a) < 3 or np.std(a) < 1e-12 or np.std(b) < 1e-12:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _stderr(groups, side, params, free_names, fit_scale, fit_bias, sigma2_pair, taus, dtype) -> dict:
    """Standard errors of the fitted parameters from the Gauss-Newton curvature (module docstring, step 6), the
    gains and biases included (as parameters of the full model ``g x + b``, not profiled out), the rotation as a
    turn about the sensor's axes (degrees). Empty where nothing is fitted.

    The Jacobian of the ideal readings ``x`` is taken by central differences of the compiled ``sense`` (no new
    compilation: the same shapes, new values), in float32 with steps of 1e-3 rad, 1 mm and 1 ms (relative error
    about 1e-4, plenty for a standard error); every pair's offset moves in the same call, as each pair's readings
    depend on its own offset only. The gains' and biases' columns are ``x`` and 1."""
    x0 = [np.asarray(x, np.float64) for x in _ideal(groups, side, params)]
    n_pairs = int(np.shape(params["delta"])[0])
    cols = []  # (name, per-group Jacobian columns (B, n, 6) or None for the per-pair offsets)

    def diff(update, h):
        plus = _ideal(groups, side, {**params, **update(h)})
        minus = _ideal(groups, side, {**params, **update(-h)})
        return [(np.asarray(a, np.float64) - np.asarray(b, np.float64)) / (2 * h) for a, b in zip(plus, minus)]

    if "q_fs" in free_names:
        for k in range(3):
            e = np.zeros(3)
            e[k] = 1.0
            cols.append((f"rot{k}", diff(lambda h, e=e: {"q_fs": _rotate_local(params["q_fs"],
                                                                              jnp.asarray(e * h, dtype))}, 1e-3)))
    if "lever_f" in free_names:
        for k in range(3):
            e = np.zeros(3)
            e[k] = 1.0
            cols.append((f"lever{k}", diff(lambda h, e=e: {"lever_f": params["lever_f"] + jnp.asarray(e * h, dtype)},
                                           1e-3)))
    d_all = diff(lambda h: {"delta": params["delta"] + jnp.asarray(h, dtype)}, 1e-3) if "delta" in free_names else None
    gain = 1.0 + np.concatenate([np.asarray(params["accel_scale"]), np.asarray(params["gyro_scale"])])
    names = [c[0] for c in cols] + ([f"delta{i}" for i in range(n_pairs)] if d_all is not None else []) \
        + ([f"scale{c}" for c in range(6)] if fit_scale else []) + ([f"bias{c}" for c in range(6)] if fit_bias else [])
    if not names:
        return {}
    d = len(names)
    H = np.zeros((d, d))
    w = 1.0 / (np.maximum(sigma2_pair, 1e-30) * np.maximum(taus, 1.0)[None])  # (P, 6): the loss's weights
    n_shared = len(cols)
    for gi, g in enumerate(groups):
        M = np.asarray(g.mask, bool)
        for b, i in enumerate(g.idx):
            for c in range(6):
                m = M[b, :, c]
                if not m.any():
                    continue
                J = np.zeros((int(m.sum()), d))
                for k, (_, col) in enumerate(cols):
                    J[:, k] = gain[c] * col[gi][b, m, c]
                k = n_shared
                if d_all is not None:
                    J[:, k + i] = gain[c] * d_all[gi][b, m, c]
                    k += n_pairs
                if fit_scale:
                    J[:, k + c] = x0[gi][b, m, c]
                    k += 6
                if fit_bias:
                    J[:, k + c] = 1.0
                H += w[i, c] * J.T @ J
    se = np.sqrt(np.clip(np.diag(np.linalg.pinv(H, rcond=1e-12)), 0, None))
    by = dict(zip(names, se))
    out = {}
    if "q_fs" in free_names:
        out["rotation_deg"] = np.degrees([by["rot0"], by["rot1"], by["rot2"]]).tolist()
    if "lever_f" in free_names:
        out["lever_f"] = [by[f"lever{k}"] for k in range(3)]
    if d_all is not None:
        out["delta"] = [by[f"delta{i}"] for i in range(n_pairs)]
    if fit_scale:
        out["accel_scale"], out["gyro_scale"] = [by[f"scale{c}"] for c in range(3)], [by[f"scale{c}"] for c in
                                                                                        range(3, 6)]
    if fit_bias:
        out["accel_bias"], out["gyro_bias"] = [by[f"bias{c}"] for c in range(3)], [by[f"bias{c}"] for c in range(3, 6)]
    return out
