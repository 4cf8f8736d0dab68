"""The ViTPose backend's people: person boxes from the YOLOX ONNX detector, tracked by IoU, ViTPose (COCO-17) on
each track's boxes, and VideoPose3D lifting each track to H36M-17.

Without the detector's weights: one person, whose box in each frame is derived from the previous frame's
keypoints (the first frame's box is the whole frame); the metadata says so (``assumption``).

The tracks it returns are candidates; ``pose.selection.select_people`` decides which are people.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from imusim_jax._motion import MIN_FRAMES, InputError
from imusim_jax.pose._common import progress as _progress
from imusim_jax.pose._common import sha256 as _sha256
from imusim_jax.pose.config import PoseConfig
from imusim_jax.pose.tracking import IouTracker
from imusim_jax.pose.types import PersonTrack, Track
from imusim_jax.pose.video import Video

__all__ = ["vitpose_people"]


def _providers(device: str) -> Optional[list[str]]:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return None


def _extend(tr: Track, n: int, T: int) -> Track:
    """Hold a track's last box for ``n`` more frames (the frames until the detector would have run again)."""
    extra = min(n, T - 1 - int(tr.frames[-1]))
    if extra <= 0:
        return tr
    return Track(tr.id, np.arange(tr.frames[0], tr.frames[-1] + extra + 1),
                 np.concatenate([tr.boxes, np.repeat(tr.boxes[-1:], extra, 0)]),
                 np.concatenate([tr.scores, np.zeros(extra, np.float32)]))


def vitpose_people(video: Video, cfg: PoseConfig, every: int, models=None) -> tuple[list[PersonTrack], dict]:
    """Candidate people of ``video``: detector (every ``every`` frames; without its weights, keypoint boxes) ->
    tracks -> ViTPose per frame -> VideoPose3D per track. Returns ``(tracks, meta)`` with ``meta`` the models used
    (name, path, sha256), the detector, per-frame detection counts and, without a detector, the assumption made.
    Missing weights raise ``InputError`` naming ``imusim-jax weights fetch``. ``models``: a run's ``PoseModels``
    whose ONNX runners are reused (``None``: built for this video)."""
    from imusim_jax._joints import convert
    from imusim_jax.pose.lifter import VideoPose3D
    from imusim_jax.pose.mediapipe_backend import keypoint_box
    from imusim_jax.pose.vitpose import VitPose
    from imusim_jax.weights import model_path

    def is_path(name):
        return name.lower().endswith(".onnx") or os.sep in name

    def resolve(name):
        if is_path(name):
            if not os.path.isfile(name):
                raise InputError(f"no such model file: {name}")
            return name
        return model_path(name)  # a missing file: one line naming `imusim-jax weights fetch NAME`

    prov = _providers(cfg.device)
    make = models.onnx if models is not None else (lambda cls, path, providers: cls(path, providers=providers))
    pose_path, lift_path = resolve(cfg.pose2d), resolve(cfg.lifter)
    try:
        det_path = resolve(cfg.detector)
    except InputError:
        if is_path(cfg.detector):
            raise
        det_path = None  # no detector weights: the keypoint-box fallback below
    vit = make(VitPose, pose_path, prov)
    lifter = make(VideoPose3D, lift_path, prov)
    info = video.info
    T = len(video)
    models = {"pose2d": {"name": cfg.pose2d, "path": str(pose_path), "sha256": _sha256(pose_path)},
              "lifter": {"name": cfg.lifter, "path": str(lift_path), "sha256": _sha256(lift_path)}}
    meta: dict = {"models": models, "detect_every_frames": every}
    if det_path is not None:
        from imusim_jax.pose.detector import OnnxPersonDetector

        det = make(OnnxPersonDetector, det_path, prov)
        models["detector"] = {"name": cfg.detector, "path": str(det_path), "sha256": _sha256(det_path)}
        tracker = IouTracker(iou_min=0.2, max_gap=max(2 * every, int(round(0.5 * info.fps))), min_hits=2)
        counts = {}
        for i, frame in _progress(video, T, "detecting people", cfg.progress):
            if i % every == 0:
                d = det(frame)
                tracker.update(i, d)
                counts[i] = len(d)
        tracks = [_extend(tr, every - 1, T) for tr in tracker.tracks()]
        meta.update(detector="onnx", detections=counts)
        kps = {k: np.zeros((len(tr.frames), 17, 3), np.float32) for k, tr in enumerate(tracks)}
        for i, frame in _progress(video, T, "estimating pose", cfg.progress):
            act = [k for k, tr in enumerate(tracks) if tr.frames[0] <= i <= tr.frames[-1]]
            if act:
                boxes = np.stack([tracks[k].boxes[i - tracks[k].frames[0]] for k in act])
                res = vit(frame, boxes)
                for k, r in zip(act, res):
                    kps[k][i - tracks[k].frames[0]] = r
    else:
        # No detector weights: one person; each frame's box from the previous frame's keypoints.
        meta.update(detector=None, assumption="no detector weights: one person, boxes derived from the previous "
                                              "frame's keypoints (the first frame's box is the whole frame)")
        full = np.array([0, 0, info.width, info.height], np.float32)
        box, kp_all, boxes = full, np.zeros((T, 17, 3), np.float32), np.zeros((T, 4), np.float32)
        for i, frame in _progress(video, T, "estimating pose", cfg.progress):
            boxes[i] = box
            kp_all[i] = vit(frame, box[None])[0]
            b = keypoint_box(kp_all[i], min_conf=0.3, pad=0.15)
            box = full if b is None else b
        tracks = [Track(0, np.arange(T), boxes, np.ones(T, np.float32))]
        kps = {0: kp_all}
    out = []
    for k, tr in enumerate(tracks):
        kp = kps[k]
        found = np.median(kp[..., 2], axis=1) >= 0.3
        if found.sum() < MIN_FRAMES:
            continue
        j3 = lifter(kp, info.width, info.height)
        c3 = convert(kp[..., 2], "coco17", "h36m17", joint_axis=-1)
        out.append(PersonTrack(int(tr.id), tr.frames, kp, j3, c3, tr.boxes, found, "coco17", "h36m17"))
    return out, meta

