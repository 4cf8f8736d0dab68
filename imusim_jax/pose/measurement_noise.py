"""Measurement-noise models of Stage 1: how well the camera saw each part of a person, from the geometry of the
shot. They set the noise the smoother (``pose.smoothing.smooth_joints``) assumes, so a person small, far or
blurred in the picture is smoothed more (``docs/video_plausibility.md``).

Each model takes a person's world joints ``(T, J, 3)`` and the world report of ``pose.world.to_world_motion``
(``gravity.R_wc``, ``origin_w_before_shift``, ``focal_px``: where the camera is and how it sees):

* ``root_noise``: the root's noise covariance, long along the line of sight, which only the body's apparent size
  tells;
* ``line_of_sight``: the direction from the camera to the body;
* ``blur_noise``: the extra posture noise of motion blur;
* ``stature_px``: how many pixels the subject's stature spans at their distance;
* ``landmark_noise``: the posture noise floor of a pose model for a person that size in the picture.
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from imusim_jax._joints import get_joint_set
from imusim_jax.pose.smoothing import running_median

__all__ = ["MODEL_INPUT_PX", "blur_noise", "camera_to_root", "landmark_noise", "line_of_sight", "root_noise",
           "stature_px"]

MODEL_INPUT_PX = 256
"""Side of the image BlazePose's landmark model sees (ViTPose: 256x192): a person spanning fewer pixels is
upsampled, and carries less detail than the model was trained to use."""


def camera_to_root(joints_w: np.ndarray, joint_set: str, world_report: dict) -> tuple[np.ndarray, np.ndarray]:
    """Where the root (hip midpoint; joint 0 without hips) is seen from: ``(v_w, R_wc)`` with ``v_w`` ``(T, 3)``
    the vector from the camera to the root in world axes (its length is the root's distance) and ``R_wc`` (3, 3)
    the camera's orientation, so ``v_w @ R_wc`` is the root in camera axes (``p_c = R_wc^T p_w``)."""
    js = get_joint_set(joint_set)
    R = np.asarray(world_report["gravity"]["R_wc"], np.float64)
    origin = np.asarray(world_report["origin_w_before_shift"], np.float64)
    hips = [js.index("left_hip"), js.index("right_hip")] if js.has("left_hip") else [0]
    return joints_w[:, hips].mean(1) + origin, R  # the camera is at -origin in the world


def _distance(joints_w: np.ndarray, joint_set: str, world_report: dict) -> np.ndarray:
    """Distance (m) ``(T,)`` from the camera to the root."""
    v, R = camera_to_root(joints_w, joint_set, world_report)
    return np.linalg.norm(v @ R, axis=-1)


def root_noise(joints_w: np.ndarray, joint_set: str, keypoints2d: np.ndarray, world_report: dict,
               stature: Optional[np.ndarray] = None, depth_error: float = 0.0,
               lateral_floor: Optional[np.ndarray] = None, fps: Optional[float] = None) -> np.ndarray:
    """Noise covariance (m^2) of the root (hip midpoint) per frame in world axes, ``(T, 3, 3)``, from how it was
    measured.

    The root comes from the 2D track through a pinhole camera of focal ``f`` px (``pose.world.root_trajectory``):
    across the line of sight it is known to ``d sigma_px / f`` at distance ``d``, and along it, which only the
    body's apparent size tells, to ``d sigma_px / s`` with ``s`` the RMS distance (px) of the confident keypoints
    from their centroid. ``sigma_px`` is the root solve's robust reprojection residual (keypoint noise and 3D/2D
    shape mismatch). A person 50 px tall 4 m away is placed to about 10 cm across and 40 cm along the line of
    sight. The covariance is elongated along the line of sight, not along the optical axis: a person low in the
    image who seems to move away (a posture the 3D model misjudges) must not seem to sink into the floor.

    The reprojection residual sees how well one pose fits its keypoints, not how well the model judged the body's
    size (a posture misjudged, legs hidden behind a bar counter and guessed): with ``stature`` (``stature_px``)
    the along-sight std is at least ``depth_error * d * max(1, MODEL_INPUT_PX / stature)`` (the apparent size
    tells the distance to ``depth_error`` for a person who fills the model's input, and less for a smaller one),
    and the across-sight std at least ``lateral_floor`` (m, ``(T,)``: ``landmark_noise``).

    With ``fps``, the distance ``d`` is the running median over 0.5 s of the measured one: the noise is a property
    of where the body is, not of the frame's own error (a frame measured too far would otherwise be trusted less,
    one measured too near more, biasing the smoothed distance).
    """
    v, R = camera_to_root(joints_w, joint_set, world_report)
    f = float(world_report["focal_px"])
    sig_px = max(float(world_report["root"].get("sigma_px") or 1.0), 0.5)
    root_c = v @ R  # p_c = R^T p_w
    dist = np.maximum(np.linalg.norm(root_c, axis=-1), 0.1)
    ray = root_c / dist[:, None]
    if fps is not None:
        d_med = running_median(dist, max(int(round(0.5 * fps)), 1))
        dist = np.where(np.isfinite(d_med), d_med, dist)
    ok = keypoints2d[..., 2] >= 0.3
    xy = np.where(ok[..., None], keypoints2d[..., :2], np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames without a confident keypoint: NaN, handled below
        spread = np.sqrt(np.nanmean(np.sum((xy - np.nanmean(xy, 1, keepdims=True)) ** 2, -1), 1))
    good = np.isfinite(spread) & (spread > 1)
    spread = np.where(good, spread, np.median(spread[good]) if good.any() else 10.0)
    lat, along = dist * sig_px / f, dist * sig_px / spread
    if stature is not None:
        along = np.maximum(along, depth_error * dist * np.maximum(1.0, MODEL_INPUT_PX / np.maximum(stature, 1.0)))
    if lateral_floor is not None:
        lat = np.maximum(lat, lateral_floor)
    rr = ray[:, :, None] * ray[:, None, :]
    cov_c = lat[:, None, None] ** 2 * (np.eye(3) - rr) + along[:, None, None] ** 2 * rr
    return R[None] @ cov_c @ R.T[None]


def line_of_sight(joints_w: np.ndarray, joint_set: str, world_report: dict) -> np.ndarray:
    """Unit vectors ``(T, 3)`` in the world from the camera to the root (hip midpoint)."""
    v, _ = camera_to_root(joints_w, joint_set, world_report)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def blur_noise(keypoints2d: np.ndarray, joints_w: np.ndarray, joint_set: str, world_report: dict) -> np.ndarray:
    """Extra position noise (m) of each 2D keypoint from motion blur, ``(T, K)`` (``K`` keypoints of the 2D joint
    set; ``joints_w`` (T, J, 3) in ``joint_set`` only gives the body's distance from the camera).

    A landmark moving ``v`` pixels per frame is smeared over up to ``v`` pixels during the exposure (indoor
    video exposes for most of the frame interval), so the model sees it anywhere along the streak: a uniform
    spread of std ``v / sqrt(12)`` pixels, ``d / f`` metres per pixel at the body's distance ``d`` from the
    camera. ``v`` is the keypoint's central-difference speed; the result is 0 for a still landmark. The body's
    centre stays well placed (a symmetric smear keeps its centroid), so this noise applies to the posture only.
    """
    f = float(world_report["focal_px"])
    dist = _distance(joints_w, joint_set, world_report)  # (T,)
    xy = keypoints2d[..., :2].astype(np.float64)
    v = np.zeros(xy.shape[:2])
    if len(xy) >= 3:
        v[1:-1] = np.linalg.norm(xy[2:] - xy[:-2], axis=-1) / 2
        v[0], v[-1] = v[1], v[-2]
    return v / np.sqrt(12.0) * (dist / f)[:, None]


def stature_px(joints_w: np.ndarray, joint_set: str, world_report: dict, subject_height_m: float) -> np.ndarray:
    """Pixels ``(T,)`` that the subject's stature would span at their distance from the camera, ``H f / d``: the
    person's size in the picture whatever their posture (sitting or lying people span fewer pixels, not less
    detail)."""
    dist = _distance(joints_w, joint_set, world_report)
    return subject_height_m * float(world_report["focal_px"]) / np.maximum(dist, 0.1)


def landmark_noise(stature: np.ndarray, subject_height_m: float, rel_error: float) -> np.ndarray:
    """Least posture noise (m) per frame ``(T,)`` of a landmark for a person spanning ``stature`` pixels.

    A pose model places a landmark to about a fixed fraction ``rel_error`` of what it sees: the person fills
    its ``MODEL_INPUT_PX`` input, so a person that large or larger is placed to ``rel_error`` of their stature.
    A smaller person is upsampled: the model still errs by the same number of its input pixels, which are now
    ``MODEL_INPUT_PX / stature`` times fewer source pixels wide, so the error in metres grows as the person
    shrinks: ``rel_error * H * max(1, MODEL_INPUT_PX / stature)``. At 0.5 % of a 1.70 m stature, 8.5 mm for a
    person 256 px tall or more, 2.2 cm at 100 px, 4.4 cm at 50 px. It is a floor added in quadrature to the noise
    measured from the data (which sees jitter, not the slow errors of a model guessing from few pixels).
    """
    return rel_error * subject_height_m * np.maximum(1.0, MODEL_INPUT_PX / np.maximum(np.asarray(stature), 1.0))

