"""One person's world motion from their Stage 1 track (``person_motion``).

1. **World frame** (``pose.world.to_world_motion``): metric scale from a subject height, root trajectory from
   the 2D track through a pinhole camera, gravity, floor. Short gaps are bridged, long ones masked; frames
   before the first and after the last observation of the person are dropped.
2. **Plausibility** (``pose.smoothing.smooth_joints``): outlier rejection, confidence-adaptive RTS smoothing of
   root and posture, bone lengths, with noise models from the camera geometry (``pose.measurement_noise``).
   See ``docs/video_plausibility.md``.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from imusim_jax._joints import convert
from imusim_jax._motion import MIN_FRAMES, InputError, Motion
from imusim_jax.pose.config import PoseConfig
from imusim_jax.pose.measurement_noise import (
    blur_noise,
    landmark_noise,
    line_of_sight,
    root_noise,
    stature_px,
)
from imusim_jax.pose.smoothing import smooth_joints
from imusim_jax.pose.types import PersonTrack
from imusim_jax.pose.video import VideoInfo
from imusim_jax.pose.world import WorldConfig, to_world_motion

__all__ = ["person_motion"]


def _resample(person: PersonTrack, times_s: np.ndarray, fps: float) -> PersonTrack:
    """Variable frame rate: interpolate a track onto the uniform grid ``k / fps`` (NaN-aware, linear)."""
    t = times_s[person.frames]
    grid = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * fps + 1e-6)) + 1) / fps

    def interp(a):
        flat = a.reshape(len(t), -1).astype(np.float64)
        out = np.stack([np.interp(grid, t, flat[:, c]) for c in range(flat.shape[1])], -1)
        return out.reshape((len(grid),) + a.shape[1:]).astype(np.float32)

    found = np.interp(grid, t, person.pose_found.astype(float)) > 0.5
    j3 = interp(np.nan_to_num(person.joints3d_cam))
    j3[~found] = np.nan
    frames = person.frames[0] + np.arange(len(grid))
    return dataclasses.replace(person, frames=frames, keypoints2d=interp(person.keypoints2d), joints3d_cam=j3,
                               conf3d=interp(person.conf3d), boxes=interp(person.boxes), pose_found=found,
                               has_box=None, anchored=None)


def person_motion(person: PersonTrack, info: VideoInfo, cfg: Optional[PoseConfig] = None,
                  times_s: Optional[np.ndarray] = None, raw_root: Optional[bool] = None
                  ) -> tuple[Motion, Optional[Motion], dict]:
    """World ``Motion`` of one person before and after smoothing: ``(raw, smoothed, report)``.

    ``smoothed`` is ``None`` when ``cfg.smoothing`` is ``None``. Frames at the start and end without a root are
    dropped; ``report['first_frame']`` is the person's first frame, counted like ``person.frames`` from the first
    frame of the time range, ``report['frames']`` the motion's length and ``report['stature_px']`` the median of
    ``stature_px``. ``raw_root`` (default: when smoothing) solves the root frame by frame, leaving time to
    ``pose.smoothing``; else ``pose.world``'s own acceleration prior smooths it. Raises ``InputError`` when fewer
    than ``MIN_FRAMES`` frames can be placed in the world. ``cfg``: ``PoseConfig`` (default: ``PoseConfig()``).
    """
    cfg = PoseConfig() if cfg is None else cfg
    if info.variable_fps and times_s is not None:
        person = _resample(person, times_s, info.fps)
    # With smoothing, the root is solved frame by frame and ``pose.smoothing`` is the one temporal model (its noise
    # is measured per axis: depth, seen only through the body's apparent size, gets smoothed most).
    raw_root = cfg.smoothing is not None if raw_root is None else raw_root
    wcfg = WorldConfig(subject_height_m=cfg.subject_height_m, focal_px=cfg.focal_px, gravity=cfg.gravity,
                       **({"root_accel_sigma_mps2": None} if raw_root else {}))
    motion, wrep = to_world_motion(person.joints3d_cam, person.keypoints2d, fps=info.fps,
                                   image_size=(info.width, info.height), joint_set3d=person.joint_set3d,
                                   joint_set2d=person.joint_set2d, config=wcfg, conf3d=person.conf3d)
    conf = np.asarray(motion.confidence)
    seen = np.flatnonzero(conf.max(1) > 0)
    if len(seen) < MIN_FRAMES:
        raise InputError(f"person {person.id}: fewer than {MIN_FRAMES} frames could be placed in the world")
    sl = slice(seen[0], seen[-1] + 1)
    raw = Motion.create(np.asarray(motion.joints)[sl], info.fps, motion.joint_set, confidence=conf[sl])
    J = np.asarray(raw.joints)
    stature = stature_px(J, raw.joint_set, wrep, cfg.subject_height_m)
    report = {"world": wrep, "first_frame": int(person.frames[sl.start]),
              "frames": int(sl.stop - sl.start), "stature_px": float(np.median(stature))}
    if cfg.smoothing is None:
        return raw, None, report
    kp = person.keypoints2d[sl]
    blur = convert(blur_noise(kp, J, raw.joint_set, wrep), person.joint_set2d, raw.joint_set, joint_axis=-1)
    size = landmark_noise(stature, cfg.subject_height_m, cfg.landmark_error)
    x, srep = smooth_joints(J, np.asarray(raw.confidence), info.fps, raw.joint_set, cfg.smoothing,
                            root_cov=root_noise(J, raw.joint_set, kp, wrep, stature, cfg.depth_error, size,
                                                fps=info.fps),
                            joint_sigma=np.hypot(blur, size[:, None]),
                            sight=line_of_sight(J, raw.joint_set, wrep),
                            camera=(np.asarray(wrep["gravity"]["R_wc"], np.float64),
                                    np.asarray(wrep["origin_w_before_shift"], np.float64)))
    report["smoothing"] = {**dataclasses.asdict(cfg.smoothing), **srep,
                           "landmark_noise_m_median": float(np.median(size))}
    return raw, Motion.create(x, info.fps, raw.joint_set, confidence=np.asarray(raw.confidence)), report

