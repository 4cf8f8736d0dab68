"""World frame (``pose.world``): root-relative camera-frame 3D poses plus a 2D track -> a world-frame ``Motion``.

Frames and conventions (stated once, here):
  * Camera frame ``c``: OpenCV's, x right, y down, z forward (into the scene), metres. Pinhole without distortion:
    ``u = f x / z + cx``, ``v = f y / z + cy`` in pixels (x right, y down). Pixel ``(i, j)`` has its centre at
    ``(j, i)`` (``pose.types``), so a ``W x H`` image has its centre at ``((W - 1) / 2, (H - 1) / 2)``, the default
    principal point.
  * World frame ``w``: right-handed, z up, gravity ``(0, 0, -9.80665)`` m/s^2. ``R_wc`` (3, 3) takes camera vectors
    to the world, ``p_w = R_wc @ p_c``. The heading is the camera's: world y is the optical axis projected on the
    horizontal plane, world x = y × z points to the image's right. A level camera has ``(x, y, z)_w =
    (x_c, z_c, -y_c)``.
  * Origin: on the floor (z = 0 where the soles stand) straight below the root in the first frame. The root is
    the origin of the root-relative input (H36M's pelvis, MediaPipe's hip midpoint).

The chain in ``to_world_motion``; each step is a public function one can call alone, replace or skip:
  1. ``imusim_jax.fill_gaps`` interpolate low-confidence joints over short gaps; report long gaps and leave them masked;
  2. ``metric_scale``     a factor that makes bone lengths match an anthropometric skeleton of the subject's height;
  3. ``estimate_focal``   the focal length: given, from a default field of view, or fitted to the data;
  4. ``root_trajectory``  the camera-frame root position per frame from the 2D track (or ``root_cam=`` from a
                          trajectory model such as VideoPose3D's);
  5. ``gravity_rotation`` ``R_wc``: a level camera, the standing phases, or the ground plane of the ankles (or
                          ``R_wc=`` from a calibrated camera);
  6. ``world_origin``     the floor level and the point below the first frame's root.
To swap a step, pass ``root_cam`` / ``R_wc``, or call the steps yourself (``to_world_motion`` shows the order).

References: D. A. Winter, *Biomechanics and Motor Control of Human Movement*, 4th ed. 2009, Fig. 4.1 (segment
lengths after Drillis & Contini 1966); D. Pavllo et al., *3D human pose estimation in video with temporal
convolutions and semi-supervised training*, CVPR 2019 (root trajectory in camera space from a 2D track).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.optimize import minimize_scalar

from imusim_jax._gaps import fill_along_time, fill_gaps
from imusim_jax._joints import convert, get_joint_set
from imusim_jax._motion import InputError, Motion, MIN_FRAMES

__all__ = ["WorldConfig", "metric_scale", "root_trajectory", "estimate_focal", "gravity_rotation",
           "world_origin", "to_world_motion", "anthropometric_skeleton", "SEGMENT_RATIOS",
           "DEFAULT_SUBJECT_HEIGHT_M", "DEFAULT_DIAGONAL_FOV_DEG", "R_WC_UPRIGHT"]

DEFAULT_SUBJECT_HEIGHT_M = 1.70
"""Default stature: about the mean of adult men (~1.76 m) and women (~1.63 m) in Europe and North America. All
positions, and so all accelerations, scale with it: a 5% error in height is a 5% error in the IMU signal."""

DEFAULT_DIAGONAL_FOV_DEG = 70.0
"""Default diagonal field of view when the focal length is unknown. Webcams span about 60-78° (UP-Fall's
LifeCam Cinema: 73°), phones' main cameras about 75-80° (26 mm equivalent), the "focal = image diagonal" rule of
CLIFF/HMR-style methods is 53°. A wrong focal mostly scales motion in depth (depth ∝ f); lateral and vertical
motion are nearly independent of it."""

MAX_DEPTH_SPEED_MPS = 3.0
"""People rarely move faster than this along the optical axis; faster root depth changes are reported."""

R_WC_UPRIGHT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
"""``R_wc`` of a level, upright camera: world ``(x, y, z) = (x_c, z_c, -y_c)`` (a proper rotation)."""

SEGMENT_RATIOS = {"thigh": 0.245, "shank": 0.246, "upper_arm": 0.186, "forearm": 0.146, "trunk": 0.288}
"""Segment lengths as fractions of body height H (Winter 2009, Fig. 4.1): thigh = hip (0.530 H) to knee
(0.285 H), shank = knee to ankle (0.039 H), upper arm 0.186 H, forearm 0.146 H, trunk = hip-joint level to
shoulder level (0.818 H - 0.530 H)."""

_SOLE_HEIGHT = {"ankle": 0.039, "heel": 0.015, "foot_index": 0.01, "foot": 0.01}
"""Height above the sole of foot landmarks, fraction of H (ankle: Winter; the others are surface landmarks)."""

_STANDING_MAX_ANGLE_DEG = 15.0  # knee bend and trunk-to-legs angle allowed for "standing"
_PRIOR_MAX_TILT_DEG = 45.0  # cameras are assumed within this of level (roll and pitch)
_SLOW_MPS = 0.5  # "still" root or "planted" ankle: speed over a 0.2 s window below this


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    """Settings of ``to_world_motion``.

    Attributes:
      subject_height_m: stature in metres for ``metric_scale`` (default ``DEFAULT_SUBJECT_HEIGHT_M`` = 1.70, see
        its note); ``None`` keeps the input's units (already metric, e.g. MediaPipe world landmarks).
      focal_px: focal length in pixels; ``None``: ``focal_method`` decides.
      gravity: ``"upright"`` (level camera, the default), ``"standing"`` or ``"ground"`` (see ``gravity_rotation``).
      max_gap_s: gaps longer than this (seconds) are reported and left masked (confidence 0), not invented.
      min_confidence: joints below this confidence are missing.
      focal_method: with ``focal_px=None``: ``"fov"`` (from ``fov_deg`` and the image size) or ``"data"`` (fitted
        to the perspective in the 2D track, falling back to ``"fov"`` when the data do not constrain it).
      fov_deg: diagonal field of view in degrees for ``"fov"``.
      principal_px: ``(cx, cy)`` in pixels; ``None``: the image centre.
      root_accel_sigma_mps2: temporal prior of ``root_trajectory`` (std of the root acceleration, m/s^2); ``None``
        turns it off (each frame solved alone). The default, 10 m/s^2 (about 1 g), halves depth jitter on a 2 px
        track while lateral and vertical motion, observed far better, keep a fall's impact sharp.
    """

    subject_height_m: float | None = DEFAULT_SUBJECT_HEIGHT_M
    focal_px: float | None = None
    gravity: str = "upright"
    max_gap_s: float = 0.5
    min_confidence: float = 0.3
    focal_method: str = "fov"
    fov_deg: float = DEFAULT_DIAGONAL_FOV_DEG
    principal_px: tuple[float, float] | None = None
    root_accel_sigma_mps2: float | None = 10.0


# ---------------------------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------------------------

def _unit(v: np.ndarray) -> np.ndarray:
    """Unit vectors along the last axis (zero stays zero, NaN stays NaN, no warnings)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors along the last axis."""
    cos = np.sum(_unit(a) * _unit(b), axis=-1)
    return np.degrees(np.arccos(np.clip(np.nan_to_num(cos, nan=-1.0), -1.0, 1.0)))


def _windowed_speed(p: np.ndarray, fps: float, window_s: float = 0.2) -> np.ndarray:
    """Speed (m/s) of points ``p`` (T, ..., 3) from a central difference over ``window_s`` (less noisy than a
    frame-to-frame difference); NaN where an end point is missing."""
    T = p.shape[0]
    h = max(1, int(round(window_s * fps / 2)))
    k = np.arange(T)
    hi, lo = np.minimum(k + h, T - 1), np.maximum(k - h, 0)
    dt = np.maximum(hi - lo, 1) / fps
    return np.linalg.norm(p[hi] - p[lo], axis=-1) / dt.reshape((-1,) + (1,) * (p.ndim - 2))


def _jsonable(obj):
    """NumPy scalars/arrays -> Python floats/ints/lists (recursively), so ``json.dumps`` accepts the report."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def _check_array(x, ndim_last: tuple[int, ...], what: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a numeric array") from None
    if a.ndim != 3 or a.shape[-1] not in ndim_last:
        raise InputError(f"{what} must have shape (T, J, {'|'.join(map(str, ndim_last))}), got {a.shape}")
    return a


# ---------------------------------------------------------------------------------------------------------------
# 2. scale
# ---------------------------------------------------------------------------------------------------------------

def _bones() -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    out = []
    for s in ("left", "right"):
        out += [("thigh", (f"{s}_hip",), (f"{s}_knee",)), ("shank", (f"{s}_knee",), (f"{s}_ankle",)),
                ("upper_arm", (f"{s}_shoulder",), (f"{s}_elbow",)), ("forearm", (f"{s}_elbow",), (f"{s}_wrist",))]
    out.append(("trunk", ("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")))
    return out


def _bone_lengths(x: np.ndarray, joint_set: str, conf: np.ndarray | None, min_confidence: float) -> dict:
    """Median length over confident frames of each bone of ``_bones`` the set has: ``{(segment, i): (median,
    expected_ratio)}``."""
    js = get_joint_set(joint_set)
    valid = np.isfinite(x).all(-1)
    if conf is not None:
        valid &= np.nan_to_num(np.asarray(conf, np.float64), nan=-1.0) >= min_confidence
    out = {}
    for i, (seg, a, b) in enumerate(_bones()):
        if not all(js.has(n) for n in a + b):
            continue
        ia, ib = [js.index(n) for n in a], [js.index(n) for n in b]
        ok = valid[:, ia].all(1) & valid[:, ib].all(1)
        if ok.any():
            d = x[ok][:, ia].mean(1) - x[ok][:, ib].mean(1)
            out[(seg, i)] = (float(np.median(np.linalg.norm(d, axis=-1))), SEGMENT_RATIOS[seg])
    return out


def metric_scale(joints3d: np.ndarray, joint_set: str, subject_height_m: float, conf: np.ndarray | None = None, *,
                 min_confidence: float = 0.3) -> float:
    """Factor ``s`` such that ``s * joints3d`` has the bone lengths of a subject ``subject_height_m`` tall.

    Bones: thighs, shanks, upper arms, forearms (both sides) and the trunk (hip midpoint to shoulder midpoint),
    whichever the joint set has. Each bone's length is its median over the frames where both ends are confident
    (robust to outliers and foreshortened frames); ``s = sum(expected) / sum(measured)`` with the expected lengths
    ``SEGMENT_RATIOS * subject_height_m`` (Winter 2009). Joint definitions differ between datasets (H36M's
    shoulders sit lower than an anthropometric acromion), so expect a few percent of bias on real lifter output.

    Args:
      joints3d: ``(T, J, 3)`` poses in any length unit (any frame: lengths only).
      joint_set: name of the joint set.
      subject_height_m: stature in metres.
      conf: optional ``(T, J)`` confidences; joints below ``min_confidence`` are ignored.

    Returns:
      The dimensionless factor (metres per input unit).
    """
    x = _check_array(joints3d, (3,), "joints3d")
    if not (np.isfinite(subject_height_m) and subject_height_m > 0):
        raise InputError(f"subject_height_m must be positive, got {subject_height_m}")
    if x.shape[1] != len(get_joint_set(joint_set)):
        raise InputError(f"joints3d has {x.shape[1]} joints, {joint_set} has {len(get_joint_set(joint_set))}")
    bones = _bone_lengths(x, joint_set, conf, min_confidence)
    measured = sum(m for m, _ in bones.values())
    expected = sum(r for _, r in bones.values()) * subject_height_m
    if not bones or measured <= 0:
        raise InputError(f"metric_scale: no confident limb or trunk of {joint_set} to measure")
    return float(expected / measured)


def anthropometric_skeleton(joint_set: str = "h36m17", height_m: float = DEFAULT_SUBJECT_HEIGHT_M) -> np.ndarray:
    """A standing skeleton with Winter's proportions (``SEGMENT_RATIOS``), arms hanging: ``(J, 3)`` metres.

    Body frame: z up, the subject faces +y, so its right side is +x; soles on z = 0, the hip midpoint above the
    origin. Head, hand and foot landmarks are plausible stand-ins (not measured anthropometry). ``metric_scale``
    of this skeleton at ``height_m`` is exactly 1.
    """
    H = float(height_m)
    p = {"pelvis": (0, 0, 0.530), "spine_base": (0, 0, 0.530), "spine": (0, 0, 0.674), "spine_mid": (0, 0, 0.674),
         "thorax": (0, 0, 0.818), "spine_shoulder": (0, 0, 0.818), "neck": (0, 0, 0.850), "nose": (0, 0.05, 0.910),
         "neck_nose": (0, 0.05, 0.910), "head": (0, 0.0, 0.940)}
    for side, s in (("left", -1.0), ("right", 1.0)):
        hx, sx = 0.05 * s, 0.105 * s
        p.update({f"{side}_hip": (hx, 0, 0.530), f"{side}_knee": (hx, 0, 0.285), f"{side}_ankle": (hx, 0, 0.039),
                  f"{side}_heel": (hx, -0.035, 0.015), f"{side}_foot_index": (0.06 * s, 0.115, 0.01),
                  f"{side}_foot": (0.055 * s, 0.08, 0.01),
                  f"{side}_shoulder": (sx, 0, 0.818), f"{side}_elbow": (sx, 0, 0.632), f"{side}_wrist": (sx, 0, 0.486),
                  f"{side}_hand": (sx, 0, 0.446), f"{side}_hand_tip": (sx, 0, 0.378),
                  f"{side}_thumb": (sx, 0.03, 0.44), f"{side}_index": (sx, 0.02, 0.43),
                  f"{side}_pinky": (0.115 * s, 0, 0.43),
                  f"{side}_eye": (0.032 * s, 0.045, 0.936), f"{side}_eye_inner": (0.018 * s, 0.045, 0.936),
                  f"{side}_eye_outer": (0.046 * s, 0.045, 0.936), f"{side}_ear": (0.075 * s, 0, 0.925)})
    p.update({"mouth_left": (-0.025, 0.045, 0.885), "mouth_right": (0.025, 0.045, 0.885)})
    js = get_joint_set(joint_set)
    return np.array([p[n] for n in js.joints], dtype=np.float64) * H


# ---------------------------------------------------------------------------------------------------------------
# 3-4. focal length and root trajectory
# ---------------------------------------------------------------------------------------------------------------

def _normal_equations(P, xn, yn, W):
    """Per-frame normal equations of the linear projection constraints (T,3,3), (T,3).

    A joint at ``P + t`` projecting to normalised ``(xn, yn)`` gives ``tx - xn tz = xn Pz - Px`` and
    ``ty - yn tz = yn Pz - Py``, each weighted by ``W`` (T, J)."""
    zero, one = np.zeros_like(xn), np.ones_like(xn)
    ax = np.stack([one, zero, -xn], -1)  # (T, J, 3)
    ay = np.stack([zero, one, -yn], -1)
    bx = xn * P[..., 2] - P[..., 0]
    by = yn * P[..., 2] - P[..., 1]
    A = np.einsum("tj,tja,tjb->tab", W, ax, ax) + np.einsum("tj,tja,tjb->tab", W, ay, ay)
    b = np.einsum("tj,tja->ta", W, ax * bx[..., None] + ay * by[..., None])
    return A, b


def _second_difference(T: int) -> sp.csr_matrix:
    return sp.diags([np.ones(T - 2), -2 * np.ones(T - 2), np.ones(T - 2)], [0, 1, 2], shape=(T - 2, T)).tocsr()


def _solve_root(P, xn, yn, w0, f, *, fps=None, accel_sigma=None, huber_px=None, iterations=5):
    """IRLS on the reprojection error (see ``root_trajectory``). Returns ``t`` (T,3) (NaN where a frame has fewer
    than two usable joints), residuals (T,J) in pixels (NaN for unused joints), ``sigma_px`` and whether the
    temporal prior was used."""
    T, J = w0.shape
    has = (w0 > 0).sum(1) >= 2
    depth = np.ones((T, J))  # first pass: the algebraic (metric) error
    h = np.ones((T, J))
    t = np.full((T, 3), np.nan)
    sigma = None
    regular = accel_sigma is not None and fps is not None and T >= 3 and has.sum() >= 2
    for _ in range(max(1, iterations)):
        W = w0 * h * (f / depth) ** 2  # weights turning algebraic residuals (m) into pixels
        A, b = _normal_equations(P, xn, yn, W)
        if regular and sigma is not None:
            s2 = max(sigma, 0.01) ** 2
            ii = 3 * np.arange(T)[:, None, None] + np.arange(3)[None, :, None] + np.zeros((1, 1, 3), int)
            data = sp.csr_matrix(((A / s2).ravel(), (ii.ravel(), np.swapaxes(ii, 1, 2).ravel())), shape=(3 * T,) * 2)
            D = sp.kron(_second_difference(T), sp.identity(3), format="csr") * (fps ** 2 / accel_sigma)
            t = spla.spsolve((data + D.T @ D).tocsc(), (b / s2).ravel()).reshape(T, 3)
        else:
            ok = has & (np.linalg.cond(np.where(has[:, None, None], A, np.eye(3))) < 1e10)
            t = np.full((T, 3), np.nan)
            if ok.any():
                t[ok] = np.linalg.solve(A[ok], b[ok][..., None])[..., 0]
        z = P[..., 2] + t[:, None, 2]
        depth = np.where(np.isfinite(z), np.maximum(z, 1e-3), 1.0)
        rx = f * ((P[..., 0] + t[:, None, 0]) / depth - xn)
        ry = f * ((P[..., 1] + t[:, None, 1]) / depth - yn)
        r = np.where((w0 > 0) & np.isfinite(rx + ry), np.hypot(rx, ry), np.nan)
        used = r[np.isfinite(r)]
        # robust per-axis sigma: the norm of a 2D Gaussian residual has median sigma * sqrt(2 ln 2)
        sigma = float(np.median(used) / 1.1774) if used.size else 0.0
        k = huber_px if huber_px is not None else max(2.5 * sigma, 0.5)
        rr = np.nan_to_num(r, nan=0.0)
        h = np.where(rr > k, k / np.maximum(rr, 1e-12), 1.0)
    t[~has] = np.nan
    return t, r, sigma, regular


def _normalised(keypoints2d, focal_px, principal):
    f = float(focal_px)
    if not (np.isfinite(f) and f > 0):
        raise InputError(f"focal_px must be positive, got {focal_px}")
    cx, cy = (float(c) for c in principal)
    return (keypoints2d[..., 0] - cx) / f, (keypoints2d[..., 1] - cy) / f


def _prepare(joints3d_rel, keypoints2d, conf):
    P = _check_array(joints3d_rel, (3,), "joints3d_rel")
    kp = _check_array(keypoints2d, (2, 3), "keypoints2d")
    if kp.shape[:2] != P.shape[:2]:
        raise InputError(f"keypoints2d {kp.shape[:2]} and joints3d_rel {P.shape[:2]} must share (T, J)")
    w = kp[..., 2].copy() if kp.shape[-1] == 3 else np.ones(P.shape[:2])
    if conf is not None:
        c = np.asarray(conf, np.float64)
        if c.shape != P.shape[:2]:
            raise InputError(f"conf must have shape {P.shape[:2]}, got {c.shape}")
        w = w * c
    w = np.clip(np.nan_to_num(w, nan=0.0), 0.0, 1.0)
    w[~(np.isfinite(P).all(-1) & np.isfinite(kp[..., :2]).all(-1))] = 0.0
    P = np.where(w[..., None] > 0, P, 0.0)
    kp = np.where(w[..., None] > 0, kp[..., :2], 0.0)
    return P, kp, w


def root_trajectory(joints3d_rel: np.ndarray, keypoints2d: np.ndarray, focal_px: float,
                    principal: tuple[float, float], conf: np.ndarray | None = None, *, fps: float | None = None,
                    accel_sigma_mps2: float | None = None, huber_px: float | None = None, iterations: int = 5,
                    return_info: bool = False):
    """Camera-frame root translation ``t`` (T, 3) such that ``joints3d_rel + t`` projects onto ``keypoints2d``.

    Each joint gives two equations linear in ``t`` (pinhole, ``xn = (u - cx) / f``)::

        tx - xn tz = xn Pz - Px,    ty - yn tz = yn Pz - Py

    solved by iteratively reweighted least squares on the reprojection error in pixels: the weights are the
    confidences times ``(f / depth)^2`` (which turns the algebraic residual into pixels) times Huber weights
    (threshold ``huber_px``, default 2.5 robust sigmas of the residuals, at least 0.5 px). Outliers and missing
    joints therefore barely move the solution. Depth (``tz``) is the weakly observed axis: it comes from the
    apparent size of the body.

    With ``accel_sigma_mps2`` and ``fps``, all frames are solved together with a Gaussian prior on the root's
    acceleration (second difference times fps^2, std ``accel_sigma_mps2``) against the data weighted by the
    estimated pixel noise (MAP, a smoothing spline). Because lateral motion is observed hundreds of times better
    than depth, the same isotropic prior smooths depth jitter strongly and barely touches lateral or vertical
    motion (a fall stays sharp in the image plane). Noise-free input is reproduced exactly either way.

    Args:
      joints3d_rel: ``(T, J, 3)`` root-relative poses in camera axes, metres (already scaled).
      keypoints2d: ``(T, J, 2)`` pixels, or ``(T, J, 3)`` with a confidence; same joints as ``joints3d_rel``.
      focal_px: focal length, pixels.
      principal: ``(cx, cy)`` pixels.
      conf: optional ``(T, J)`` weights in [0, 1], multiplied with the keypoints' own; 0 ignores a joint.
      fps: frame rate (Hz), needed for the temporal prior and the depth-speed report.
      accel_sigma_mps2: std of the root acceleration prior, m/s^2 (``None``: frames independent).
      huber_px: Huber threshold in pixels (``None``: adaptive).
      iterations: IRLS iterations.
      return_info: also return a dict with ``sigma_px`` (robust per-axis residual std), ``residual_px_median``,
        ``residual_px_p95``, ``frames_without_data`` (frames with < 2 usable joints: NaN in ``t``),
        ``max_depth_speed_mps`` and ``frames_over_depth_speed`` (|dtz/dt| > 3 m/s).

    Returns:
      ``t`` (T, 3) metres in the camera frame (NaN for frames without data), or ``(t, info)``.
    """
    P, kp, w = _prepare(joints3d_rel, keypoints2d, conf)
    xn, yn = _normalised(kp, focal_px, principal)
    t, r, sigma, regular = _solve_root(P, xn, yn, w, float(focal_px), fps=fps, accel_sigma=accel_sigma_mps2,
                                       huber_px=huber_px, iterations=iterations)
    if not return_info:
        return t
    used = r[np.isfinite(r)]
    info = {"sigma_px": sigma, "residual_px_median": float(np.median(used)) if used.size else None,
            "residual_px_p95": float(np.percentile(used, 95)) if used.size else None,
            "frames_without_data": int((~np.isfinite(t).all(-1)).sum()),
            "regularised": regular, "accel_sigma_mps2": accel_sigma_mps2,
            "max_depth_speed_mps": None, "frames_over_depth_speed": None}
    if fps is not None and len(t) > 1:
        vz = np.abs(np.diff(t[:, 2])) * fps
        vz = vz[np.isfinite(vz)]
        if vz.size:
            info["max_depth_speed_mps"] = float(vz.max())
            info["frames_over_depth_speed"] = int((vz > MAX_DEPTH_SPEED_MPS).sum())
    return t, info


def estimate_focal(image_size: tuple[int, int], *, fov_deg: float = DEFAULT_DIAGONAL_FOV_DEG,
                   joints3d_rel: np.ndarray | None = None, keypoints2d: np.ndarray | None = None,
                   conf: np.ndarray | None = None, principal: tuple[float, float] | None = None,
                   max_frames: int = 200, return_info: bool = False):
    """Focal length in pixels.

    Without data: ``f = diagonal / (2 tan(fov_deg / 2))`` with the image diagonal in pixels (default diagonal
    field of view ``DEFAULT_DIAGONAL_FOV_DEG`` = 70°, see its note).

    With ``joints3d_rel`` (T, J, 3, metric, root-relative camera axes) and ``keypoints2d`` (T, J, 2|3): the focal
    that minimises the robust reprojection error of the root solve (``root_trajectory`` per frame) over up to
    ``max_frames`` frames, searched on a log grid from 1/4 to 4 times the field-of-view value and refined with a
    bounded scalar search. Only the perspective within the body (near joints look larger than far ones) carries
    the focal, so this needs accurate relative depths: exact for exact 3D, biased by a lifter's depth errors. When
    the minimum sits at a search bound the data do not constrain the focal and the field-of-view value is
    returned (``info['source'] == 'fov'``).

    Args:
      image_size: ``(width, height)`` in pixels.
      principal: ``(cx, cy)``, default the image centre.
      return_info: also return ``{'source': 'fov' | 'data', 'focal_fov_px': ...}``.
    """
    W, H = (float(v) for v in image_size)
    if not (W > 0 and H > 0 and 0 < fov_deg < 180):
        raise InputError(f"need a positive image size and 0 < fov_deg < 180, got {image_size}, {fov_deg}")
    f_fov = math.hypot(W, H) / (2 * math.tan(math.radians(fov_deg) / 2))
    info = {"source": "fov", "focal_fov_px": f_fov, "fov_deg": fov_deg}
    f = f_fov
    if joints3d_rel is not None and keypoints2d is not None:
        P, kp, w = _prepare(joints3d_rel, keypoints2d, conf)
        idx = np.unique(np.linspace(0, len(P) - 1, min(len(P), max_frames)).astype(int))
        P, kp, w = P[idx], kp[idx], w[idx]
        pp = principal if principal is not None else ((W - 1) / 2, (H - 1) / 2)
        k = 2.0  # Huber threshold of the cost, pixels

        def cost(logf: float) -> float:
            fi = math.exp(logf)
            xn, yn = _normalised(kp, fi, pp)
            _, r, _, _ = _solve_root(P, xn, yn, w, fi, iterations=3)
            r = r[np.isfinite(r)]
            return float(np.sum(np.where(r <= k, 0.5 * r ** 2, k * (r - 0.5 * k))))

        lo, hi = math.log(f_fov / 4), math.log(f_fov * 4)
        grid = np.linspace(lo, hi, 33)
        costs = np.array([cost(g) for g in grid])
        i = int(np.argmin(costs))
        if 0 < i < len(grid) - 1:
            res = minimize_scalar(cost, bounds=(grid[i - 1], grid[i + 1]), method="bounded",
                                  options={"xatol": 1e-5})
            f = float(math.exp(res.x))
            info["source"] = "data"
    info["focal_px"] = f
    return (f, info) if return_info else f


# ---------------------------------------------------------------------------------------------------------------
# 5. gravity
# ---------------------------------------------------------------------------------------------------------------

def _frame_from_up(up_c: np.ndarray) -> np.ndarray:
    """``R_wc`` whose z row is ``up_c`` (camera coordinates of world up) and whose y row is the optical axis
    projected on the horizontal plane (the image's down direction when the camera looks straight down)."""
    z = _unit(np.asarray(up_c, np.float64))
    fwd = np.array([0.0, 0.0, 1.0])
    y = fwd - (fwd @ z) * z
    if np.linalg.norm(y) < 1e-6:  # looking straight up or down: heading from the image's vertical axis
        y = np.array([0.0, 1.0, 0.0]) * -np.sign(z[2]) - (np.array([0.0, 1.0, 0.0]) @ z) * z
    y = _unit(y)
    return np.stack([np.cross(y, z), y, z])


def _mid(X: np.ndarray, js, names: Sequence[str]) -> np.ndarray:
    return X[:, [js.index(n) for n in names]].mean(1)


def _standing_up(X, js, valid, fps):
    """Up direction from frames where the person stands still (see ``gravity_rotation``)."""
    need = [f"{s}_{p}" for s in ("left", "right") for p in ("hip", "knee", "ankle", "shoulder")]
    ok = valid[:, [js.index(n) for n in need]].all(1)
    hip, sh = _mid(X, js, ("left_hip", "right_hip")), _mid(X, js, ("left_shoulder", "right_shoulder"))
    ank = _mid(X, js, ("left_ankle", "right_ankle"))
    spine, legs = _unit(sh - hip), _unit(hip - ank)
    straight = np.ones(len(X), bool)
    for s in ("left", "right"):
        thigh = X[:, js.index(f"{s}_knee")] - X[:, js.index(f"{s}_hip")]
        shank = X[:, js.index(f"{s}_ankle")] - X[:, js.index(f"{s}_knee")]
        straight &= _angle_deg(thigh, shank) < _STANDING_MAX_ANGLE_DEG
    cand = _unit(spine + legs)
    sel = ok & straight & (_angle_deg(spine, legs) < _STANDING_MAX_ANGLE_DEG)
    sel &= _angle_deg(cand, R_WC_UPRIGHT[2]) < _PRIOR_MAX_TILT_DEG
    if fps is not None:
        sel &= (_windowed_speed(hip, fps) < _SLOW_MPS) & (_windowed_speed(sh, fps) < _SLOW_MPS)
    if not sel.any():
        return None, {"frames_used": 0}
    # robust start (component-wise median), then the mean of the frames close to it (the onset of a fall or a
    # lean passes the tests above for a few frames)
    up = _unit(np.median(cand[sel], axis=0))
    dev = _angle_deg(cand, up)
    sel &= dev <= max(1.0, 3.0 * float(np.median(dev[sel])))
    up = _unit(cand[sel].mean(0))
    spread = float(np.median(_angle_deg(cand[sel], up)))
    return up, {"frames_used": int(sel.sum()), "median_deviation_deg": spread}


def _fit_plane(pts: np.ndarray, n0: np.ndarray, prior_m: float = 0.002, iters: int = 3):
    """Normal of a plane through ``pts`` (N, 3): smallest eigenvector of their scatter plus a weak pull towards
    ``n0`` (``prior_m`` metres of equivalent spread, which only matters when the points lie on a line); points
    beyond 3 robust sigmas (at least 1 cm) are dropped and the fit repeated."""
    keep = np.ones(len(pts), bool)
    n = n0
    for _ in range(iters):
        q = pts[keep]
        c = q.mean(0)
        M = (q - c).T @ (q - c) + len(q) * prior_m ** 2 * (np.eye(3) - np.outer(n0, n0))
        evals, evecs = np.linalg.eigh(M)
        n = evecs[:, 0] * (1.0 if evecs[:, 0] @ n0 >= 0 else -1.0)
        r = (pts - c) @ n
        s = 1.4826 * float(np.median(np.abs(r[keep] - np.median(r[keep]))))
        new = np.abs(r - np.median(r[keep])) <= max(3 * s, 0.01)
        if new.sum() < 3 or (new == keep).all():
            break
        keep = new
    rms = float(np.sqrt(np.mean(((pts[keep] - pts[keep].mean(0)) @ n) ** 2)))
    ev = np.sqrt(np.maximum(evals / max(len(q), 1), 0.0))
    return n, {"points": int(len(pts)), "inliers": int(keep.sum()), "plane_rms_m": rms,
               "extent_m": [float(ev[2]), float(ev[1])]}


def _ground_up(X, js, valid, fps):
    """Up direction as the normal of the plane through planted ankles (see ``gravity_rotation``)."""
    n0 = R_WC_UPRIGHT[2]  # camera coordinates of up for a level camera: (0, -1, 0)
    il, ir = js.index("left_ankle"), js.index("right_ankle")
    A = X[:, [il, ir]]  # (T, 2, 3)
    ok = valid[:, [il, ir]]
    height = np.where(ok, A @ n0, np.inf)
    low = np.argmin(height, axis=1)  # the lower ankle of each frame (along the level-camera prior)
    frames = np.flatnonzero(ok.any(1))
    pts = A[frames, low[frames]]
    if fps is not None and len(frames):
        speed = _windowed_speed(A, fps)[frames, low[frames]]
        speed = np.where(np.isfinite(speed), speed, np.inf)
        slow = speed < _SLOW_MPS
        if slow.sum() < 10:  # few clearly planted samples: take the slowest third
            slow = speed <= np.sort(speed)[max(0, len(speed) // 3 - 1)]
        pts = pts[slow & np.isfinite(speed)]
    if len(pts) < 3:
        return None, {"points": int(len(pts))}
    return _fit_plane(pts, n0)


def gravity_rotation(joints_cam: np.ndarray, joint_set: str, method: str = "upright", conf: np.ndarray | None = None,
                     fps: float | None = None, *, min_confidence: float = 0.3, return_info: bool = False):
    """``R_wc`` (3, 3), a proper rotation taking camera-frame vectors to the z-up world (``p_w = R_wc @ p_c``).

    The world's heading follows the camera (world y = optical axis projected on the horizontal plane), so only
    the up direction is estimated:

    * ``"upright"``: a level camera, ``R_WC_UPRIGHT`` (up = -y_c). Wrong by the camera's tilt.
    * ``"standing"``: up = mean of the spine (hip midpoint -> shoulder midpoint) and leg (ankle midpoint -> hip
      midpoint) directions over frames where the person stands: both knees straight and the trunk in line with the
      legs (within 15°), the root still (< 0.5 m/s over 0.2 s, needs ``fps`` and absolute positions), and the body
      within 45° of the level-camera up, which rules out lying with straight legs. The pelvis -> thorax line leans
      a few degrees in many people; the legs compensate part of it.
    * ``"ground"``: the normal of a plane fitted to the lower ankle of each frame while it is planted (< 0.5 m/s,
      needs ``fps``; else the slowest third), with outliers trimmed. Needs absolute camera-frame positions (after
      ``root_trajectory``) and ankle contacts spread over an area, not along one line (a weak pull towards the
      level camera resolves the tilt about such a line).

    ``"standing"`` and ``"ground"`` assume roll and pitch under 45°; without usable frames they fall back to
    ``"upright"`` (``info['fallback']``).

    Args:
      joints_cam: ``(T, J, 3)`` camera-frame positions, metres (absolute for ``"ground"`` and the still test;
        unused, may be ``None``, for ``"upright"``).
      joint_set: name of the joint set (needs hips, knees, ankles, shoulders by name).
      conf: optional ``(T, J)`` confidences (joints below ``min_confidence`` ignored).
      fps: frame rate in Hz.
      return_info: also return a dict: ``method``, ``tilt_deg`` (angle between the estimated up and the level
        camera's), and the method's diagnostics.
    """
    if method not in ("upright", "standing", "ground"):
        raise InputError(f"gravity method must be 'upright', 'standing' or 'ground', got {method!r}")
    info: dict = {"method": method}
    up = None
    if method != "upright":
        X = _check_array(joints_cam, (3,), "joints_cam")
        js = get_joint_set(joint_set)
        valid = np.isfinite(X).all(-1)
        if conf is not None:
            valid &= np.nan_to_num(np.asarray(conf, np.float64), nan=-1.0) >= min_confidence
        up, extra = (_standing_up if method == "standing" else _ground_up)(X, js, valid, fps)
        info.update(extra)
        if up is None:
            info["fallback"] = f"no usable {method} frames; used the level camera"
    R = R_WC_UPRIGHT.copy() if up is None else _frame_from_up(up)
    info["tilt_deg"] = float(_angle_deg(R[2], R_WC_UPRIGHT[2]))
    return (R, info) if return_info else R


# ---------------------------------------------------------------------------------------------------------------
# 6. origin, and the whole chain
# ---------------------------------------------------------------------------------------------------------------

def world_origin(joints_w: np.ndarray, root_w: np.ndarray, joint_set: str, subject_height_m: float,
                 conf: np.ndarray | None = None, *, min_confidence: float = 0.3, percentile: float = 5.0) -> np.ndarray:
    """The world origin ``(3,)``: below the first finite root, on the floor.

    Floor level: for each frame, the lowest foot landmark minus its height above the sole (ankle 0.039 H, heel
    0.015 H, toe 0.01 H with H = ``subject_height_m``); the floor is the ``percentile`` of those over frames (a
    low percentile, robust to a few bad frames, and right for jumps where the feet leave the ground). Without any
    confident foot landmark, the lowest joint is used.

    Args:
      joints_w: ``(T, J, 3)`` gravity-aligned positions, metres (any horizontal origin).
      root_w: ``(T, 3)`` root positions in the same frame.
    """
    Y = _check_array(joints_w, (3,), "joints_w")
    js = get_joint_set(joint_set)
    valid = np.isfinite(Y).all(-1)
    if conf is not None:
        valid &= np.nan_to_num(np.asarray(conf, np.float64), nan=-1.0) >= min_confidence
    feet = [(i, _SOLE_HEIGHT[n.split("_", 1)[1]] * subject_height_m) for i, n in enumerate(js.joints)
            if n.split("_", 1)[-1] in _SOLE_HEIGHT and n.split("_", 1)[0] in ("left", "right")]
    if feet:
        idx = [i for i, _ in feet]
        soles = np.where(valid[:, idx], Y[:, idx, 2] - np.array([o for _, o in feet]), np.inf)
    else:
        soles = np.where(valid, Y[..., 2], np.inf)
    lowest = soles.min(1)
    lowest = lowest[np.isfinite(lowest)]
    if lowest.size == 0:  # no confident foot: the lowest finite joint
        z = Y[..., 2][np.isfinite(Y[..., 2])]
        lowest = z if z.size else np.zeros(1)
    root_w = np.asarray(root_w, np.float64)
    first = np.flatnonzero(np.isfinite(root_w).all(-1))
    r0 = root_w[first[0]] if first.size else np.zeros(3)
    return np.array([r0[0], r0[1], float(np.percentile(lowest, percentile))])


def to_world_motion(joints3d_cam: np.ndarray, keypoints2d: np.ndarray, *, fps: float, image_size: tuple[int, int],
                    joint_set3d: str, joint_set2d: str, config: WorldConfig = WorldConfig(),
                    conf3d: np.ndarray | None = None, root_cam: np.ndarray | None = None,
                    R_wc: np.ndarray | None = None) -> tuple[Motion, dict]:
    """Root-relative camera-frame 3D poses plus a 2D track -> a metric, gravity-aligned world ``Motion``.

    Chain: ``fill_gaps`` (3D, by ``conf3d``) -> ``metric_scale`` -> focal (``config.focal_px`` or
    ``estimate_focal``) -> ``root_trajectory`` on the joints both sets share by name (e.g. COCO-17 2D and H36M-17
    3D share shoulders, elbows, wrists, hips, knees and ankles) -> short root gaps filled -> ``gravity_rotation``
    -> ``world_origin``. The body's global motion (walking, a fall towards the floor) is in the root trajectory.

    Masking: joints still missing after ``fill_gaps`` and every joint of a frame without a root get confidence 0;
    their values are placeholders (held or linearly bridged) so that the ``Motion`` is finite. Downstream code
    must honour the confidence.

    Args:
      joints3d_cam: ``(T, J3, 3)`` root-relative poses in camera axes (lifter units; scaled here).
      keypoints2d: ``(T, J2, 2|3)`` pixels (+ confidence) in ``joint_set2d``.
      fps: frame rate, Hz.
      image_size: ``(width, height)`` pixels.
      joint_set3d, joint_set2d: joint set names.
      config: ``WorldConfig``.
      conf3d: ``(T, J3)`` confidences of the 3D joints; default: the 2D confidences converted by name
        (``imusim_jax._joints.convert``), or ones.
      root_cam: optional ``(T, 3)`` camera-frame root trajectory from a trajectory model, in the lifter's units
        (scaled with the pose); replaces ``root_trajectory``.
      R_wc: optional known camera-to-world rotation; replaces ``gravity_rotation``.

    Returns:
      ``(motion, report)``: the world ``Motion`` (``joint_set3d``, with confidence) and a JSON-serialisable dict
      (scale, focal, root solve diagnostics, gravity method and ``R_wc``, origin, gaps, assumptions).
    """
    try:
        js3, js2 = get_joint_set(joint_set3d), get_joint_set(joint_set2d)
    except ValueError as e:
        raise InputError(str(e)) from None
    X = _check_array(joints3d_cam, (3,), "joints3d_cam")
    kp = _check_array(keypoints2d, (2, 3), "keypoints2d")
    T = X.shape[0]
    if X.shape[1] != len(js3) or kp.shape[1] != len(js2):
        raise InputError(f"expected {len(js3)} 3D joints ({js3.name}) and {len(js2)} 2D joints ({js2.name}), "
                         f"got {X.shape[1]} and {kp.shape[1]}")
    if kp.shape[0] != T or T < MIN_FRAMES:
        raise InputError(f"need the same number (>= {MIN_FRAMES}) of 3D and 2D frames, got {T} and {kp.shape[0]}")
    fps = float(fps)
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be positive, got {fps}")
    if config.gravity not in ("upright", "standing", "ground") or config.focal_method not in ("fov", "data"):
        raise InputError(f"unknown gravity {config.gravity!r} or focal_method {config.focal_method!r}")
    W, Himg = (float(v) for v in image_size)
    mc = config.min_confidence

    conf2 = kp[..., 2] if kp.shape[-1] == 3 else np.ones(kp.shape[:2])
    conf2 = np.where(np.isfinite(kp[..., :2]).all(-1), np.clip(np.nan_to_num(conf2, nan=0.0), 0, 1), 0.0)
    if conf3d is None:
        try:
            conf3d = convert(conf2, js2, js3, joint_axis=-1)
        except ValueError:
            conf3d = np.ones(X.shape[:2])
    conf3d = np.asarray(conf3d, np.float64)
    if conf3d.shape != X.shape[:2]:
        raise InputError(f"conf3d must have shape {X.shape[:2]}, got {conf3d.shape}")

    # 1. gaps (3D, root-relative), 2. scale
    X, c3, gaps = fill_gaps(X, conf3d, fps, config.max_gap_s, mc, joint_names=js3.joints)
    H = config.subject_height_m
    s = 1.0 if H is None else metric_scale(X, js3.name, H, c3, min_confidence=mc)
    P = s * X
    H_eff = H if H is not None else DEFAULT_SUBJECT_HEIGHT_M / metric_scale(P, js3.name, DEFAULT_SUBJECT_HEIGHT_M,
                                                                           c3, min_confidence=mc)
    # 3. focal, 4. root
    principal = tuple(config.principal_px) if config.principal_px is not None else ((W - 1) / 2, (Himg - 1) / 2)
    shared = [n for n in js3.joints if js2.has(n)]
    i3, i2 = [js3.index(n) for n in shared], [js2.index(n) for n in shared]
    w = np.where((conf2[:, i2] >= mc) & (c3[:, i3] >= mc), conf2[:, i2] * c3[:, i3], 0.0)
    if config.focal_px is not None:
        focal, finfo = float(config.focal_px), {"source": "given"}
    else:
        focal, finfo = estimate_focal((W, Himg), fov_deg=config.fov_deg, principal=principal, return_info=True,
                                      **({"joints3d_rel": P[:, i3], "keypoints2d": kp[:, i2, :2], "conf": w}
                                         if config.focal_method == "data" else {}))
    if root_cam is not None:
        t = s * np.asarray(root_cam, np.float64)
        if t.shape != (T, 3):
            raise InputError(f"root_cam must have shape ({T}, 3), got {t.shape}")
        rinfo = {"source": "root_cam"}
    else:
        if len(shared) < 2:
            raise InputError(f"{js2.name} and {js3.name} share fewer than two joints by name; cannot place the root")
        t, rinfo = root_trajectory(P[:, i3], kp[:, i2, :2], focal, principal, conf=w, fps=fps,
                                   accel_sigma_mps2=config.root_accel_sigma_mps2, return_info=True)
        rinfo = {"source": "2d_track", "shared_joints": shared, **rinfo}
    if not np.isfinite(t).any():
        raise InputError("no frame has two confident 2D keypoints shared with the 3D pose; cannot place the root")
    t, tconf, tgaps = fill_gaps(t[:, None, :], np.isfinite(t).all(-1)[:, None] * 1.0, fps, config.max_gap_s, 0.5,
                                joint_names=["root"])
    t, root_ok = fill_along_time(t[:, 0]), tconf[:, 0] > 0
    conf_out = np.where(root_ok[:, None], c3, 0.0)
    Xc = fill_along_time(P) + t[:, None]

    # 5. gravity, 6. origin
    if R_wc is not None:
        R = np.asarray(R_wc, np.float64)
        if R.shape != (3, 3) or not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise InputError("R_wc must be a 3x3 proper rotation")
        ginfo = {"method": "given", "tilt_deg": float(_angle_deg(R[2], R_WC_UPRIGHT[2]))}
    else:
        R, ginfo = gravity_rotation(Xc, js3.name, config.gravity, conf=conf_out, fps=fps, min_confidence=mc,
                                    return_info=True)
    Y, root_w = Xc @ R.T, t @ R.T
    origin = world_origin(Y, root_w, js3.name, H_eff, conf_out, min_confidence=mc)
    Y = Y - origin
    motion = Motion.create(Y, fps, js3.name, confidence=conf_out)

    report = {
        "joint_set": js3.name, "joint_set2d": js2.name, "frames": T, "fps": fps, "image_size": [W, Himg],
        "subject_height_m": H, "scale": s, "focal_px": focal, "focal": finfo, "principal_px": list(principal),
        "root": rinfo, "root_gaps": tgaps, "gravity": {**ginfo, "R_wc": R}, "origin_w_before_shift": origin,
        "gaps": gaps, "masked_values": int((conf_out == 0).sum()),
        "assumptions": [
            "pinhole camera without lens distortion, principal point "
            + ("given" if config.principal_px is not None else "at the image centre"),
            f"focal length {focal:.1f} px ({finfo['source']})",
            ("lengths as given (metric input)" if H is None else
             f"metric scale from bone lengths of a {H:.2f} m subject (Winter 2009 segment ratios)"),
            "root trajectory " + ("from a trajectory model" if root_cam is not None
                                  else "from the 2D track (confidence-weighted IRLS with Huber weights"
                                  + (", acceleration prior)" if config.root_accel_sigma_mps2 else ")")),
            f"gravity: {ginfo['method']}" + (" (level camera)" if ginfo["method"] == "upright" else ""),
            "world: z up, y = optical axis projected on the horizontal, origin on the floor below the first root",
            f"gaps up to {config.max_gap_s} s interpolated; longer ones masked (confidence 0)",
        ],
    }
    return motion, _jsonable(report)
