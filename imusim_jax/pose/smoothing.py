"""Physically plausible joint tracks from noisy pose estimates: the last Stage 1 step before ``simulate``.

Pose jitter differentiated twice dominates a naive signal: 1 cm of white jitter at 30 fps reads about
``1 cm * 30^2 * 4 = 36 m/s^2`` of acceleration. ``smooth_joints`` removes it in three steps, each a small public
function (what each removes on the shared clips: ``docs/video_plausibility.md``):

1. **Outlier rejection** (``reject_outliers``): a Hampel filter. A joint far (``outlier_sigma`` noise standard
   deviations) from its own running median over 0.2 s is dropped, a frame where most joints are dropped goes
   whole (a pose on someone else, a left/right swap); a fast but monotonic movement is kept. Dropped measurements
   become gaps the smoother bridges.
2. **Confidence-adaptive RTS smoothing** (``rts_smooth_cov``, ``rts_smooth``). Each point is a
   constant-acceleration state ``(p, v, a)`` per axis driven by white jerk of spectral density ``q`` (m^2/s^5),
   measured with noise covariance ``R_t``. The Kalman filter runs forward and the Rauch-Tung-Striebel pass
   backward (Rauch, Tung and Striebel, AIAA Journal 3(8), 1965; Bar-Shalom, Li and Kirubarajan, *Estimation with
   Applications to Tracking and Navigation*, 2001, §6.2): zero lag, exact gaps, and an acceleration consistent with
   the motion model. The body's global motion (the root: the hip midpoint) and its posture (joints relative to the
   root) are smoothed apart, each with its own noise: the root's covariance comes from how it was measured (the
   caller's ``root_cov``: elongated along the camera's line of sight) and the posture's is measured from the data
   (``local_noise_std``: robust spread of third differences in a sliding window) plus the caller's extra noise
   (``joint_sigma``: motion blur), three times larger along the line of sight (``sight``), where a monocular
   model only guesses a limb's depth. Every frame's noise is divided by its confidence relative to the track's
   median: a small, far or blurred person is smoothed more, and a low-confidence frame counts less.
3. **Bone lengths** (``constrain_bones``). Limb bones (shoulder-elbow-wrist-hand, hip-knee-ankle-foot) are set to
   their median length over confident frames, keeping each bone's direction: the "breathing" of bone lengths,
   which moves the wrist along the forearm, is removed.

The jerk densities are the physical settings: the steady-state smoother passes motion below about
``f_c = (q / (sigma^2 dt))^(1/6) / (2 pi)`` and removes noise above it, so ``q`` says how quickly acceleration may
change and the noise how much of the spectrum can be trusted. Defaults: ``q_body`` = 100 m^2/s^5 (about 3-4 Hz at a
few millimetres of noise: voluntary limb motion is smooth, minimum-jerk, and slow) and ``q_root`` = 3000 m^2/s^5
(about 3.5 Hz at the root's few centimetres, leaving room for the quick change of acceleration when the body hits
the ground).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from imusim_jax._gaps import fill_along_time
from imusim_jax._joints import get_joint_set
from imusim_jax._motion import Motion

__all__ = ["SmoothingConfig", "rts_smooth", "rts_smooth_cov", "smooth_root_in_camera", "running_median", "noise_std",
           "local_noise_std", "reject_outliers", "constrain_bones", "smooth_joints", "smooth_motion", "LIMB_CHAINS"]

_MAD = 0.6744897501960817  # median absolute deviation of a unit normal


@dataclasses.dataclass(frozen=True)
class SmoothingConfig:
    """Settings of ``smooth_joints`` / ``smooth_motion`` (SI units).

    Attributes:
      q_body: jerk spectral density of joints relative to the root, m^2/s^5.
      q_root: jerk spectral density of the root (hip midpoint), m^2/s^5.
      min_sigma_m: floor of the measured noise, metres (a perfectly clean input is still a measurement).
      noise_window_s: window of the local noise estimate (``local_noise_std``), seconds.
      min_confidence: confidence below which a joint is not measured in that frame (a gap to bridge).
      outlier_sigma: residual, in noise standard deviations, above which a measurement is an outlier.
      outlier_frame_frac: fraction of outlying joints that makes the whole frame an outlier.
      bones: apply ``constrain_bones``.
      outliers: apply ``reject_outliers``.
      rts: apply ``rts_smooth``; without it, rejected and missing measurements are only interpolated linearly
        (to show what each step removes).
      depth_noise_factor: the posture's noise along the camera's line of sight (``smooth_joints``' ``sight``) over
        its noise across: a monocular model sees a limb's offsets across the image and guesses its depth.
    """

    q_body: float = 100.0
    q_root: float = 3000.0
    min_sigma_m: float = 0.002
    noise_window_s: float = 1.0
    min_confidence: float = 0.05
    outlier_sigma: float = 4.0
    outlier_frame_frac: float = 0.5
    bones: bool = True
    outliers: bool = True
    rts: bool = True
    depth_noise_factor: float = 3.0
    root_speed_mps: Optional[float] = 2.0
    root_accel_mps2: Optional[tuple] = (5.0, 5.0, 10.0)
    prior_window_s: float = 1.0


# ---------------------------------------------------------------------------------------------------------------
# 2. the smoother
# ---------------------------------------------------------------------------------------------------------------

def _ca_model(dt: float, D: int):
    """Constant-acceleration transition ``F`` and unit-density process noise ``Q1`` for ``D`` independent axes,
    state ordered ``(p_1..p_D, v_1..v_D, a_1..a_D)``: ``(3D, 3D)`` each."""
    F1 = np.array([[1.0, dt, dt * dt / 2], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    Q1 = np.array([[dt ** 5 / 20, dt ** 4 / 8, dt ** 3 / 6],
                   [dt ** 4 / 8, dt ** 3 / 3, dt ** 2 / 2],
                   [dt ** 3 / 6, dt ** 2 / 2, dt]])
    I = np.eye(D)
    return np.kron(F1, I), np.kron(Q1, I)


def rts_smooth_cov(y: np.ndarray, cov: np.ndarray, fps: float, q, *, v0_mps: float = 2.0, a0_mps2: float = 10.0,
                   speed_mps=None, accel_mps2=None, prior_window_s: float = 1.0, return_all: bool = False):
    """Fixed-interval smoothing of ``G`` independent points in ``D`` dimensions with full measurement covariances.

    Each point is a constant-acceleration state (position, velocity, acceleration per axis) driven by white jerk
    of spectral density ``q`` on every axis; the measurement is its position with covariance ``cov``. Kalman
    filter forward, Rauch-Tung-Striebel backward.

    Args:
      y: ``(T, G, D)`` measured positions (m); rows with a NaN are missing.
      cov: ``(T, G, D, D)`` measurement covariances (m^2); a non-finite one marks a missing measurement.
      fps: frame rate, Hz.
      q: jerk spectral density, m^2/s^5: scalar or ``(G,)``.
      v0_mps, a0_mps2: prior std of the first frame's velocity and acceleration (a walking person, about 1 g):
        a short, noisy track is not extrapolated into a motion no person makes.
      speed_mps, accel_mps2: a prior on the velocity and acceleration over the whole track (``None``: none):
        std per axis (scalar or ``(D,)``) of their mean over ``prior_window_s``, applied as zero-valued
        pseudo-measurements of ``v`` and ``a`` at every frame with std ``sigma * sqrt(prior_window_s * fps)``, so
        its strength does not depend on the frame rate. Where the positions are precise it changes little; where
        they are not (a body's depth seen by one camera, known to a metre) it keeps the track to the speeds and
        accelerations a person reaches instead of whatever smooth path fits the noise.
      prior_window_s: the window of that prior, seconds.
      return_all: also return velocities (m/s) and accelerations (m/s^2).
    Returns:
      ``(T, G, D)`` smoothed positions (NaN for points never measured), and velocities and accelerations.
    """
    y = np.asarray(y, np.float64)
    T, G, D = y.shape
    cov = np.asarray(cov, np.float64)
    has = np.isfinite(y).all(-1) & np.isfinite(cov).all((-1, -2))  # (T, G)
    F, Q1 = _ca_model(1.0 / fps, D)
    Q = np.asarray(q, np.float64).reshape(-1)[:, None, None] * Q1  # (G or 1, 3D, 3D)
    first = np.argmax(has, 0)
    y0 = np.where(has.any(0)[:, None], y[first, np.arange(G)], 0.0)
    x = np.concatenate([y0, np.zeros((G, 2 * D))], -1)
    # Prior: position from the first measurement (its own covariance), velocity and acceleration those of a
    # person: zero mean, std v0_mps and a0_mps2.
    P = np.zeros((G, 3 * D, 3 * D))
    P[:, :D, :D] = np.where(has.any(0)[:, None, None], cov[first, np.arange(G)], 1e6 * np.eye(D))
    P[:, D:2 * D, D:2 * D] = v0_mps ** 2 * np.eye(D)
    P[:, 2 * D:, 2 * D:] = a0_mps2 ** 2 * np.eye(D)
    use_prior = speed_mps is not None or accel_mps2 is not None
    if use_prior:  # pseudo-measurement noise of (v, a), per frame: (2D,)
        big = 1e12  # "no prior" on that block: a variance far above any state's
        sv = np.broadcast_to(np.asarray(speed_mps if speed_mps is not None else np.sqrt(big), np.float64), (D,))
        sa = np.broadcast_to(np.asarray(accel_mps2 if accel_mps2 is not None else np.sqrt(big), np.float64), (D,))
        R_va = np.diag(np.concatenate([sv, sa]) ** 2 * max(prior_window_s * fps, 1.0))
    xf, Pf = np.empty((T, G, 3 * D)), np.empty((T, G, 3 * D, 3 * D))
    xp, Pp = np.empty_like(xf), np.empty_like(Pf)
    for t in range(T):
        if t > 0:
            x = x @ F.T
            P = F @ P @ F.T + Q
        xp[t], Pp[t] = x, P
        ok = has[t]
        if ok.any():
            S = P[:, :D, :D] + np.where(ok[:, None, None], cov[t], np.eye(D))
            K = np.linalg.solve(S, P[:, :D, :]).transpose(0, 2, 1)  # P H^T S^-1, (G, 3D, D); S symmetric
            K = np.where(ok[:, None, None], K, 0.0)
            innov = np.where(ok[:, None], y[t] - x[:, :D], 0.0)
            x = x + (K @ innov[..., None])[..., 0]
            P = P - K @ P[:, :D, :]
        if use_prior:  # sequential update with the independent pseudo-measurement (v, a) = 0
            S = P[:, D:, D:] + R_va
            K = np.linalg.solve(S, P[:, D:, :]).transpose(0, 2, 1)  # (G, 3D, 2D)
            x = x - (K @ x[:, D:, None])[..., 0]
            P = P - K @ P[:, D:, :]
            P = 0.5 * (P + P.transpose(0, 2, 1))
        xf[t], Pf[t] = x, P
    xs = xf.copy()
    for t in range(T - 2, -1, -1):
        Gn = np.linalg.solve(Pp[t + 1], F @ Pf[t]).transpose(0, 2, 1)  # Pf F^T Pp^-1 (Pp, Pf symmetric)
        xs[t] = xf[t] + (Gn @ (xs[t + 1] - xp[t + 1])[..., None])[..., 0]
    xs[:, ~has.any(0)] = np.nan
    pos, vel, acc = xs[..., :D], xs[..., D:2 * D], xs[..., 2 * D:]
    return (pos, vel, acc) if return_all else pos


def rts_smooth(y: np.ndarray, sigma: np.ndarray, fps: float, q, *, return_all: bool = False):
    """``rts_smooth_cov`` for independent coordinates.

    Args:
      y: ``(T, C)`` measurements (metres); NaN where missing.
      sigma: ``(T, C)`` or ``(C,)`` measurement noise std (metres); ``inf`` or NaN where missing.
      fps: frame rate, Hz.
      q: jerk spectral density, m^2/s^5, scalar or ``(C,)``.
    Returns:
      ``(T, C)`` smoothed positions (and velocities in m/s and accelerations in m/s^2 with ``return_all``).
    """
    y = np.asarray(y, np.float64)
    T, C = y.shape
    sig = np.broadcast_to(np.asarray(sigma, np.float64), (T, C))
    var = np.where(np.isfinite(sig), sig ** 2, np.nan)[..., None, None]
    out = rts_smooth_cov(y[..., None], var, fps, np.broadcast_to(np.asarray(q, np.float64), (C,)),
                         return_all=return_all)
    return tuple(o[..., 0] for o in out) if return_all else out[..., 0]


def local_noise_std(y: np.ndarray, fps: float, window_s: float = 1.0, floor: float = 0.0) -> np.ndarray:
    """``noise_std`` in a sliding window: ``(T, C)``, for noise that changes over time.

    The median absolute third difference over a centred window of ``window_s``, scaled as in ``noise_std``, and
    never below the whole track's ``noise_std`` nor ``floor``. A pose model errs more while the body moves fast or
    folds (blur, self-occlusion) than while it stands still; a global estimate would be ruled by the still frames.
    """
    from scipy.ndimage import median_filter

    y = np.asarray(y, np.float64)
    T, C = y.shape
    glob = noise_std(y, floor)
    if T < 8:
        return np.broadcast_to(glob, (T, C)).copy()
    d3 = np.abs(y[3:] - 3 * y[2:-1] + 3 * y[1:-2] - y[:-3])  # d3[k] spans frames k..k+3
    d3 = np.concatenate([np.full((1, C), np.nan), d3, np.full((2, C), np.nan)])  # centred on frame k+1
    filled = np.where(np.isfinite(d3), d3, np.nanmedian(d3, 0) if np.isfinite(d3).any() else 0.0)
    filled = np.nan_to_num(filled)
    w = max(5, int(round(window_s * fps)) | 1)
    loc = median_filter(filled, size=(w, 1), mode="nearest") / _MAD / np.sqrt(20.0)
    return np.maximum(loc, glob[None])


def noise_std(y: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Robust per-coordinate noise std of ``y`` ``(T, C)`` (NaN = missing), from third differences.

    For white noise of std ``s`` the third difference ``y[t+3] - 3 y[t+2] + 3 y[t+1] - y[t]`` has std
    ``s sqrt(20)``, while a smooth movement contributes only ``jerk * dt^3`` (small at video rates). The median
    absolute value (over the frames where four consecutive measurements exist) makes the estimate robust to the
    few frames of fast movement. Returns ``(C,)``, at least ``floor``; NaN-free (coordinates with fewer than
    four consecutive measurements get the median of the others, or ``floor``).
    """
    y = np.asarray(y, np.float64)
    d3 = y[3:] - 3 * y[2:-1] + 3 * y[1:-2] - y[:-3]
    with np.errstate(all="ignore"):
        ok = np.isfinite(d3)
        s = np.array([np.median(np.abs(d3[ok[:, c], c])) if ok[:, c].sum() >= 3 else np.nan
                      for c in range(y.shape[1])]) / _MAD / np.sqrt(20.0)
    if np.isnan(s).all():
        return np.full(y.shape[1], floor)
    s = np.where(np.isnan(s), np.nanmedian(s), s)
    return np.maximum(s, floor)


# ---------------------------------------------------------------------------------------------------------------
# 1. outliers
# ---------------------------------------------------------------------------------------------------------------

def reject_outliers(y: np.ndarray, sigma: np.ndarray, fps: float, *, n_sigma: float = 4.0, window_s: float = 0.2,
                    frame_frac: float = 0.5, groups: int = 3) -> np.ndarray:
    """Mask of measurements to keep, ``(T, C)`` bool: a Hampel filter (Hampel, JASA 69(346), 1974; Pearson,
    "Outliers in process modeling and identification", IEEE TCST 10(1), 2002).

    Each measurement is compared with the median of its own coordinate over a centred window of ``window_s``
    (at least 5 frames); a joint whose deviation (norm over its ``groups`` coordinates, each divided by its noise
    ``sigma``) exceeds ``n_sigma * sqrt(groups)`` is an outlier. A real movement, even a fast one, is monotonic
    over so short a window and its median follows it; a spike, a swapped limb or a pose on someone else for a frame
    or two does not. Frames where more than ``frame_frac`` of the seen joints are outliers are dropped whole.

    Args:
      y: ``(T, C)`` measurements, NaN where missing.
      sigma: ``(T, C)`` noise std (the threshold scales with it).
      fps: frame rate, Hz.
    """
    from scipy.ndimage import median_filter

    y = np.asarray(y, np.float64)
    T, C = y.shape
    w = max(5, int(round(window_s * fps)) | 1)
    seen = np.isfinite(y) & np.isfinite(sigma)
    # median over the window of the seen values: fill gaps by holding, then mask them out again
    filled = y.copy()
    for c in range(C):
        ok = seen[:, c]
        if ok.any() and not ok.all():
            filled[:, c] = np.interp(np.arange(T), np.flatnonzero(ok), y[ok, c])
    med = median_filter(filled, size=(w, 1), mode="nearest")
    z = np.where(seen, (y - med) / sigma, 0.0).reshape(T, C // groups, groups)
    bad = np.sqrt(np.sum(z ** 2, -1)) > n_sigma * np.sqrt(groups)  # (T, J)
    n_seen = seen.reshape(T, C // groups, groups).all(-1).sum(1)
    frame_bad = bad.sum(1) > frame_frac * np.maximum(n_seen, 1)
    bad = bad | frame_bad[:, None]
    return seen & ~np.repeat(bad, groups, axis=1)


# ---------------------------------------------------------------------------------------------------------------
# 3. bones
# ---------------------------------------------------------------------------------------------------------------

LIMB_CHAINS = {side: [(f"{side}_shoulder", f"{side}_elbow"), (f"{side}_elbow", f"{side}_wrist"),
                      (f"{side}_wrist", f"{side}_index"), (f"{side}_wrist", f"{side}_pinky"),
                      (f"{side}_wrist", f"{side}_thumb"), (f"{side}_wrist", f"{side}_hand"),
                      (f"{side}_hip", f"{side}_knee"), (f"{side}_knee", f"{side}_ankle"),
                      (f"{side}_ankle", f"{side}_heel"), (f"{side}_ankle", f"{side}_foot_index"),
                      (f"{side}_ankle", f"{side}_foot")]
               for side in ("left", "right")}
"""Limb bones (parent, child) per side, parents before children; those a joint set lacks are skipped."""


def constrain_bones(x: np.ndarray, joint_set: str, conf: Optional[np.ndarray] = None,
                    min_confidence: float = 0.5) -> tuple[np.ndarray, dict]:
    """Give each limb bone its median length over confident frames, keeping its direction.

    Bones are processed from the body outward (``LIMB_CHAINS``); moving a joint moves everything below it by the
    same amount (``child = parent_new + L * unit(child - parent)`` with the original directions).

    Args:
      x: ``(T, J, 3)`` positions, metres.
      joint_set: the joint set's name.
      conf: ``(T, J)`` confidences; lengths come from frames where both ends have ``>= min_confidence`` (all
        frames when ``None`` or when too few are confident).
    Returns:
      ``(x_constrained, {bone: length_m})``.
    """
    js = get_joint_set(joint_set)
    x = np.asarray(x, np.float64)
    out = x.copy()
    lengths = {}
    for side in ("left", "right"):
        for a, b in LIMB_CHAINS[side]:
            if not (js.has(a) and js.has(b)):
                continue
            ia, ib = js.index(a), js.index(b)
            d = x[:, ib] - x[:, ia]
            n = np.linalg.norm(d, axis=-1)
            ok = np.isfinite(n) & (n > 1e-6)
            if conf is not None:
                c_ok = ok & (conf[:, ia] >= min_confidence) & (conf[:, ib] >= min_confidence)
                ok = c_ok if c_ok.sum() >= 3 else ok
            if not ok.any():
                continue
            L = float(np.median(n[ok]))
            lengths[f"{a}-{b}"] = L
            moved = out[:, ia] + L * d / np.maximum(n, 1e-9)[:, None]
            shift = np.where((n > 1e-6)[:, None], moved - out[:, ib], 0.0)
            # move the child and its descendants (joints whose chain passes through it) by the same amount
            for c in _descendants(js, b, side):
                out[:, js.index(c)] += shift
    return out, lengths


def _descendants(js, joint: str, side: str) -> list[str]:
    out, frontier = [joint], [joint]
    while frontier:
        p = frontier.pop()
        for a, b in LIMB_CHAINS[side]:
            if a == p and js.has(b):
                out.append(b)
                frontier.append(b)
    return out


# ---------------------------------------------------------------------------------------------------------------
# the whole chain
# ---------------------------------------------------------------------------------------------------------------

def _root_index(js) -> list[int]:
    if js.has("left_hip") and js.has("right_hip"):
        return [js.index("left_hip"), js.index("right_hip")]
    for n in ("pelvis", "spine_base"):
        if js.has(n):
            return [js.index(n)]
    return list(range(len(js)))


def running_median(x: np.ndarray, n: int) -> np.ndarray:
    """Median of ``x`` ``(T,)`` over a centred window of ``n`` samples (odd; even ``n`` is rounded up), ignoring
    NaNs; NaN where a window holds no finite value."""
    import warnings

    h = max(int(n), 1) // 2
    w = np.lib.stride_tricks.sliding_window_view(np.pad(np.asarray(x, np.float64), h, constant_values=np.nan),
                                                 2 * h + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: NaN, by design
        return np.nanmedian(w, axis=-1)


def _smooth_root_metric(root_w: np.ndarray, cov_w: np.ndarray, fps: float, config: SmoothingConfig) -> np.ndarray:
    """``rts_smooth_cov`` of a ``(T, 3)`` root track in world metres with the config's jerk density and prior."""
    return rts_smooth_cov(root_w[:, None], cov_w[:, None], fps, config.q_root, speed_mps=config.root_speed_mps,
                          accel_mps2=config.root_accel_mps2, prior_window_s=config.prior_window_s)[:, 0]


def smooth_root_in_camera(root_w: np.ndarray, cov_w: np.ndarray, fps: float,
                          camera: tuple[np.ndarray, np.ndarray], config: SmoothingConfig = SmoothingConfig()
                          ) -> np.ndarray:
    """RTS-smooth a root track seen by one camera in that camera's coordinates ``(x/z, y/z, log z)``.

    A single camera measures the direction to the body to a pixel or two and its distance only through the body's
    apparent size (to 10-30 %). Smoothed in metric coordinates, the uncertain depth is a free direction that the
    smoother uses to cut the jerk of the well-measured lateral motion: the same pixel motion is less metric motion
    nearer the camera, so a fast mover (a fall across the picture) is pulled towards the lens, metres off what its
    apparent size says (the shared fall clip: 5.3 m away by size, 1.4 m after smoothing, 7 m of travel in 0.67 s).
    In angular coordinates and log-distance, the motion model no longer depends on how far the body is: direction
    and distance are smoothed each on its own evidence. The jerk density and the motion prior are scaled by the
    track's median distance ``d``: ``q_root / d^2``, ``root_speed_mps / d``, the first frame's velocity and
    acceleration priors likewise, and the acceleration prior mapped from world axes to camera axes, so a body at a
    fixed distance is smoothed as in metric coordinates.

    Args:
      root_w: ``(T, 3)`` world root positions (m); NaN rows are missing.
      cov_w: ``(T, 3, 3)`` their covariances in the world (m^2); non-finite for missing rows.
      fps: frame rate, Hz.
      camera: ``(R_wc, origin)`` with ``p_w = R_wc p_c - origin``.
      config: ``SmoothingConfig`` (``q_root``, ``root_speed_mps``, ``root_accel_mps2``, ``prior_window_s``).
    Returns:
      ``(T, 3)`` smoothed world positions (NaN where never measured).
    """
    R = np.asarray(camera[0], np.float64)
    o = np.asarray(camera[1], np.float64)
    c = (np.asarray(root_w, np.float64) + o) @ R  # (T, 3) camera coordinates
    ok = np.isfinite(c).all(1)
    if not ok.any() or not (c[ok, 2] > 0.05).all():  # behind or at the camera: not a pinhole measurement
        return _smooth_root_metric(root_w, cov_w, fps, config)
    z = np.where(ok, c[:, 2], 1.0)
    y = np.stack([c[:, 0] / z, c[:, 1] / z, np.log(z)], -1)
    y[~ok] = np.nan
    # d(x/z, y/z, log z) / d(x, y, z), taken at the track's median distance, not at each frame's own noisy one:
    # weights that grow with the measured distance would bias the smoothed distance upwards.
    zr = float(np.median(c[ok, 2]))
    Jac = np.zeros((len(c), 3, 3))
    Jac[:, 0, 0] = Jac[:, 1, 1] = Jac[:, 2, 2] = 1.0 / zr
    Jac[:, 0, 2] = -np.nan_to_num(y[:, 0]) / zr
    Jac[:, 1, 2] = -np.nan_to_num(y[:, 1]) / zr
    cov_c = R.T[None] @ np.nan_to_num(np.asarray(cov_w, np.float64)) @ R[None]
    cov = Jac @ cov_c @ Jac.transpose(0, 2, 1)
    cov[~ok] = np.nan
    d = float(np.median(z[ok]))
    speed = None if config.root_speed_mps is None else config.root_speed_mps / d
    accel = None
    if config.root_accel_mps2 is not None:  # world-axis stds onto camera axes (variances add through R)
        sa = np.broadcast_to(np.asarray(config.root_accel_mps2, np.float64), (3,))
        accel = np.sqrt((R ** 2).T @ sa ** 2) / d
    ys = rts_smooth_cov(y[:, None], cov[:, None], fps, config.q_root / d ** 2, v0_mps=2.0 / d, a0_mps2=10.0 / d,
                        speed_mps=speed, accel_mps2=accel, prior_window_s=config.prior_window_s)[:, 0]
    zs = np.exp(ys[:, 2])
    cs = np.stack([ys[:, 0] * zs, ys[:, 1] * zs, zs], -1)
    return cs @ R.T - o


def smooth_joints(joints: np.ndarray, conf: np.ndarray, fps: float, joint_set: str,
                  config: SmoothingConfig = SmoothingConfig(), root_cov: Optional[np.ndarray] = None,
                  joint_sigma: Optional[np.ndarray] = None, sight: Optional[np.ndarray] = None,
                  camera: Optional[tuple[np.ndarray, np.ndarray]] = None) -> tuple[np.ndarray, dict]:
    """Outlier rejection, RTS smoothing of root and posture, and bone lengths on a joint track.

    Args:
      joints: ``(T, J, 3)`` world positions, metres (any fixed frame).
      conf: ``(T, J)`` confidences in [0, 1] (0 = not observed: a gap to bridge).
      fps: frame rate, Hz.
      joint_set: name of the joint set.
      config: ``SmoothingConfig``.
      root_cov: ``(T, 3, 3)`` noise covariance (m^2) of the root when it is known from how the root was measured
        (``pose.measurement_noise.root_noise``: long along the camera's line of sight, which only the body's apparent size
        tells); default: per-axis variances measured from the data like the posture's.
      joint_sigma: ``(T, J)`` extra noise std (m) of each joint's posture, added in quadrature to the measured
        one (``pose.measurement_noise.blur_noise``: motion blur smears a fast limb over the exposure).
      sight: ``(T, 3)`` world direction from the camera to the body: the posture's noise along it is
        ``config.depth_noise_factor`` times its noise across (a full covariance per joint); ``None``: isotropic.
      camera: ``(R_wc (3, 3), origin (3,))`` of the camera that saw the body (``p_w = R_wc p_c - origin``): the
        root is then smoothed in the camera's own coordinates (``smooth_root_in_camera``), where one camera
        measures it, instead of in the world's.
    Returns:
      ``(joints_smoothed (T, J, 3), report)``; ``report`` holds the measured noise (m), the outliers dropped and
      the bone lengths (m).
    """
    js = get_joint_set(joint_set)
    x = np.asarray(joints, np.float64)
    c = np.clip(np.nan_to_num(np.asarray(conf, np.float64)), 0.0, 1.0)
    T, J, _ = x.shape
    seen = (c >= config.min_confidence) & np.isfinite(x).all(-1)
    xm = np.where(seen[..., None], x, np.nan)
    ri = _root_index(js)
    root_seen = seen[:, ri].all(1)
    root = np.where(root_seen[:, None], xm[:, ri].mean(1), np.nan)  # (T, 3)
    rel = xm - root[:, None]  # (T, J, 3); NaN where the joint or the root is unseen
    c_root = np.where(root_seen, c[:, ri].min(1), 0.0)
    # Noise: a base level per coordinate (measured from the data, or the root's covariance from the caller),
    # scaled per frame by median confidence / confidence.
    def weight(cc):
        med = np.median(cc[cc > 0]) if (cc > 0).any() else 1.0
        return med / np.maximum(cc, config.min_confidence)

    s_rel = local_noise_std(rel.reshape(T, -1), fps, config.noise_window_s, config.min_sigma_m)  # (T, 3J)
    c_rel = np.repeat(np.minimum(c, c_root[:, None]), 3, axis=1).reshape(T, J * 3)
    if joint_sigma is not None:
        s_rel = np.hypot(s_rel, np.repeat(np.nan_to_num(np.asarray(joint_sigma, np.float64)), 3, axis=1))
    sig_rel = np.where(np.isfinite(rel.reshape(T, -1)), s_rel * weight(c_rel), np.inf)
    if root_cov is None:
        s_r = local_noise_std(root, fps, config.noise_window_s, config.min_sigma_m)
        base = s_r[:, :, None] * np.eye(3) * s_r[:, None, :]
    else:
        base = np.asarray(root_cov, np.float64) + config.min_sigma_m ** 2 * np.eye(3)
    cov_root = base * weight(c_root)[:, None, None] ** 2
    sig_root = np.sqrt(np.diagonal(cov_root, axis1=1, axis2=2))
    report = {"noise_root_m": np.median(np.sqrt(np.diagonal(base, axis1=1, axis2=2)), 0).tolist(),
              "noise_rel_m_median": float(np.median(s_rel)), "q_root": config.q_root, "q_body": config.q_body}
    y_root, y_rel = root, rel.reshape(T, -1)
    if config.outliers:
        k_root = reject_outliers(y_root, sig_root, fps, n_sigma=config.outlier_sigma,
                                 frame_frac=config.outlier_frame_frac)
        k_rel = reject_outliers(y_rel, sig_rel, fps, n_sigma=config.outlier_sigma,
                                frame_frac=config.outlier_frame_frac)
        report["outliers_root_frames"] = int((np.isfinite(y_root).all(1) & ~k_root.all(1)).sum())
        report["outliers_joint_frames"] = int((np.isfinite(y_rel) & ~k_rel).sum() // 3)
        y_root, y_rel = np.where(k_root, y_root, np.nan), np.where(k_rel, y_rel, np.nan)
    if config.rts:
        cov_root = np.where(np.isfinite(y_root).all(1)[:, None, None], cov_root, np.nan)
        root_s = (smooth_root_in_camera(y_root, cov_root, fps, camera, config) if camera is not None
                  else _smooth_root_metric(y_root, cov_root, fps, config))
        if sight is None or config.depth_noise_factor == 1.0:
            rel_s = rts_smooth(y_rel, sig_rel, fps, config.q_body).reshape(T, J, 3)
        else:  # posture depth along the line of sight is the model's guess: noisier by depth_noise_factor
            d = np.asarray(sight, np.float64)
            d = d / np.linalg.norm(d, axis=-1, keepdims=True)
            k2 = config.depth_noise_factor ** 2 - 1.0
            s2 = np.nan_to_num(sig_rel.reshape(T, J, 3) ** 2, posinf=np.nan).mean(-1)  # (T, J)
            cov = s2[..., None, None] * (np.eye(3) + k2 * d[:, None, :, None] * d[:, None, None, :])
            yr = y_rel.reshape(T, J, 3)
            cov = np.where(np.isfinite(yr).all(-1)[..., None, None], cov, np.nan)
            rel_s = rts_smooth_cov(yr, cov, fps, config.q_body)
    else:
        root_s, rel_s = fill_along_time(y_root, np.nan), fill_along_time(y_rel, np.nan).reshape(T, J, 3)
    # joints never seen keep their input relative position (held), so the output is finite
    never = ~np.isfinite(rel_s).all(-1)
    if never.any():
        fallback = np.nan_to_num(x - np.nanmean(x[:, ri], 1, keepdims=True))
        rel_s = np.where(never[..., None], fallback, rel_s)
    if not np.isfinite(root_s).all():
        root_s = np.nan_to_num(root_s)
    if config.bones:
        rel_s, lengths = constrain_bones(rel_s, js.name, c)
        report["bone_lengths_m"] = lengths
    return root_s[:, None] + rel_s, report


def smooth_motion(motion: Motion, config: SmoothingConfig = SmoothingConfig()) -> tuple[Motion, dict]:
    """``smooth_joints`` on a single-clip ``Motion`` (confidence from the motion, ones when it has none)."""
    conf = np.ones(motion.joints.shape[:2]) if motion.confidence is None else np.asarray(motion.confidence)
    x, report = smooth_joints(np.asarray(motion.joints), conf, float(motion.fps), motion.joint_set, config)
    return Motion.create(x, float(motion.fps), motion.joint_set, confidence=conf), report
