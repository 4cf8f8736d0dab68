"""Video -> per-person IMU: the orchestration behind ``imusim-jax video2imu``.

For one video (``pose.video``):

1. **People.** Person boxes are proposed every ``1 / detect_hz`` seconds and tracked with ids
   (``pose.tracking.IouTracker``).

   * ``mediapipe`` backend: boxes from OpenCV's HOG pedestrian detector (``pose.hog``, upright people, frame
     resized so people ~60 px tall are found), from BlazePose itself on the whole frame (any posture, one person
     per frame) and, for a static camera, from moving blobs (``pose.foreground``: every frame, so a blurred fall
     is followed). No weights to fetch. Every proposal is checked by the pose model before it counts.
   * ``vitpose`` backend: boxes from the YOLOX ONNX detector; without its weights, one person, whose box in each
     frame is derived from the previous frame's keypoints (the first frame's box is the whole frame). The metadata
     says which.

2. **2D and 3D pose per person.** ``mediapipe``: each track gets its own BlazePose (``PersonFollower``: a steady
   crop around the person, following the previous frame's landmarks and, when those are lost, the tracker's box),
   giving 33 landmarks in pixels and metric 3D world landmarks. ``vitpose``: ViTPose on each track's boxes
   (COCO-17), VideoPose3D lifts each track to H36M-17. Then (``_select_people``): a pose that does not sit on its
   tracker box is dropped; a track is a person when the pose model finds one in enough of its frames and its
   keypoints move smoothly (``pose_jitter``: hallucinated poses jump); tracks on the same person are merged; frames
   where the model lost a tracked person near frames where it had them keep the nearest posture, moved with the
   box (``anchor_to_boxes``: a fall too blurred for the model still moves the body).

3. **World motion** (``pose.world.to_world_motion``): metric scale from a subject height, root trajectory from the
   2D track through a pinhole camera, gravity, floor. Short gaps are bridged, long ones masked; frames before the
   first and after the last observation of a person are dropped.

4. **Plausibility** (``pose.smoothing``): outlier rejection, confidence-adaptive RTS smoothing of root and
   posture, bone lengths, with noise models from the camera geometry (``root_noise``: the line of sight is seen
   only through the body's apparent size) and motion blur (``blur_noise``). See ``docs/video_plausibility.md``.

5. **IMU** (``imusim_jax.simulate``) and files, per person ``OUTDIR/person_<id>/``: ``motion.npz`` (the format
   ``simulate`` reads), ``imu.csv`` (``t,ax,ay,az,gx,gy,gz``; ``t = 0`` at the person's first frame, which is at
   ``t0_s`` in the video, see ``meta.json``), ``imu.png`` and ``meta.json``; plus ``OUTDIR/meta.json``, a summary.
   Every file is written atomically (``imusim_jax.io.atomic_path``): an interrupted run leaves no half file.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import Optional

import numpy as np

from imusim_jax._motion import MIN_FRAMES, InputError, Motion
from imusim_jax.pose.smoothing import SmoothingConfig, smooth_joints
from imusim_jax.pose.tracking import IouTracker
from imusim_jax.pose.types import Detections, Track
from imusim_jax.pose.video import Video, VideoInfo

__all__ = ["PipelineConfig", "PersonTrack", "track_people", "person_motion", "video2imu", "default_backend",
           "pose_jitter", "anchor_to_boxes", "BACKENDS"]

BACKENDS = ("mediapipe", "vitpose")


def default_backend() -> str:
    """``mediapipe`` when its extra is installed, else ``vitpose``."""
    from imusim_jax.pose.mediapipe_backend import mediapipe_available

    return "mediapipe" if mediapipe_available() else "vitpose"


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Settings of ``video2imu``.

    Attributes:
      pose: ``mediapipe``, ``vitpose`` or ``auto`` (``default_backend``).
      mount, rate_hz, noise, seed, cutoff_hz: as ``imusim_jax.simulate`` (``mount``: a preset, a profile .json or a
        ``Mount``; ``noise``: none, a preset or a profile .json).
      roll: ``auto`` (the hand landmarks when the hand is at least ``MIN_HAND_PX`` long in the picture, else the
        elbow hinge), ``hand`` or ``hinge`` (``imusim_jax.simulate``'s ``roll``).
      start_s, end_s, fps: time range and frame-rate override (``pose.video.Video``).
      max_people: keep at most this many people (those seen longest); ``None``: all.
      subject_height_m, focal_px, gravity: ``pose.world.WorldConfig``.
      smoothing: ``pose.smoothing.SmoothingConfig``; ``None`` skips smoothing (the raw pose, for comparison).
      detect_hz: how often (per second of video) people are detected; tracks bridge the frames between.
      max_jitter: a track is a person when the pose model followed one for 0.25 s without a break and its
        keypoints jitter by at most this fraction of the body's size per frame (``pose_jitter``).
      landmark_error: a pose model's landmark error as a fraction of the stature of a person who fills its input
        (``landmark_noise``: the posture noise floor, larger for people small in the picture).
      depth_error: how well a person's apparent size tells their distance, as a fraction of it, for a person who
        fills the pose model's input (``root_noise``: the root's along-sight noise floor).
      device: ``auto``, ``cpu`` or ``cuda`` (ONNX models).
      detector, pose2d, lifter: ONNX model names or paths (``vitpose`` backend).
      progress: show progress bars.
    """

    pose: str = "auto"
    mount: object = "watch-left"
    rate_hz: float = 50.0
    noise: str = "none"
    seed: int = 0
    cutoff_hz: object = "auto"
    roll: str = "auto"
    start_s: Optional[float] = None
    end_s: Optional[float] = None
    fps: Optional[float] = None
    max_people: Optional[int] = None
    subject_height_m: float = 1.70
    focal_px: Optional[float] = None
    gravity: str = "upright"
    smoothing: Optional[SmoothingConfig] = SmoothingConfig()
    detect_hz: float = 10.0
    max_jitter: float = 0.1
    landmark_error: float = 0.005
    depth_error: float = 0.1
    device: str = "auto"
    detector: str = "yolox-s"
    pose2d: str = "vitpose-b"
    lifter: str = "videopose3d-243"
    progress: bool = True


@dataclasses.dataclass
class PersonTrack:
    """One person's Stage 1 observations over consecutive video frames.

    Attributes:
      id: the person's id (0, 1, ... in order of appearance).
      frames: ``(T,)`` consecutive video frame indices.
      keypoints2d: ``(T, J2, 3)`` pixels + confidence in ``joint_set2d`` (confidence 0 where not found).
      joints3d_cam: ``(T, J3, 3)`` root-relative camera-frame 3D pose (x right, y down, z forward; metres for
        MediaPipe, lifter units for VideoPose3D); NaN where not found.
      conf3d: ``(T, J3)`` confidences of the 3D joints.
      boxes: ``(T, 4)`` the tracker's boxes, xyxy pixels.
      pose_found: ``(T,)`` whether the pose model found the person.
      joint_set2d, joint_set3d: joint set names.
      has_box: ``(T,)`` whether the tracker has a box for the frame (``None``: every frame).
      anchored: ``(T,)`` frames whose pose is the nearest observed one moved with the box (``anchor_to_boxes``).
    """

    id: int
    frames: np.ndarray
    keypoints2d: np.ndarray
    joints3d_cam: np.ndarray
    conf3d: np.ndarray
    boxes: np.ndarray
    pose_found: np.ndarray
    joint_set2d: str
    joint_set3d: str
    has_box: Optional[np.ndarray] = None
    anchored: Optional[np.ndarray] = None


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="frame", leave=False, disable=None)


def _sha256(path) -> Optional[str]:
    if path is None or not os.path.isfile(path):
        return None
    from imusim_jax.weights import sha256_file

    return sha256_file(path)


# ---------------------------------------------------------------------------------------------------------------
# MediaPipe backend
# ---------------------------------------------------------------------------------------------------------------

_TORSO_MP = [11, 12, 23, 24]  # shoulders and hips in mediapipe33


def _detect_mediapipe(video: Video, cfg: PipelineConfig, every: int) -> tuple[list[Track], dict]:
    """Pass 1: person proposals (moving blobs every frame, as they are cheap; whole-frame BlazePose and HOG every
    ``every`` frames), tracked by IoU."""
    from imusim_jax.pose.foreground import ForegroundBoxes
    from imusim_jax.pose.hog import HogPersonDetector, hog_available, nms
    from imusim_jax.pose.mediapipe_backend import BlazePose, keypoint_box

    hog = HogPersonDetector() if hog_available() else None
    fg = ForegroundBoxes(video.samples)
    whole = BlazePose(static=True)
    fps = video.info.fps
    tracker = IouTracker(iou_min=0.2, max_gap=max(2 * every, int(round(0.5 * fps))), min_hits=3)
    counts, person_boxes = {}, {}
    try:
        for i, frame in _progress(video, len(video), "detecting people", cfg.progress):
            if i % every and not fg.static:
                continue
            found = {"blazepose": Detections.empty(), "hog": Detections.empty(), "moving": fg(frame)}
            if i % every:
                tracker.update(i, found["moving"])
                continue
            r = whole(frame)
            b = None if r is None else keypoint_box(r.keypoints)
            if b is not None:  # pose boxes win the suppression: score 1 + torso visibility
                found["blazepose"] = Detections(b[None], np.array([1.0 + np.mean(r.keypoints[_TORSO_MP, 2])],
                                                                  np.float32))
            if hog is not None:
                found["hog"] = hog(frame)
            person_boxes[i] = np.concatenate([found["blazepose"].boxes, found["hog"].boxes]).astype(np.float32)
            B = np.concatenate([d.boxes for d in found.values()]).astype(np.float32)
            S = np.concatenate([d.scores for d in found.values()]).astype(np.float32)
            keep = nms(B, S, 0.3)
            det = Detections(B[keep], np.minimum(S[keep], 1.0))
            ids = tracker.update(i, det)
            counts[i] = {**{k: len(d) for k, d in found.items()}, "tracks": sorted(int(v) for v in ids)}
    finally:
        whole.close()
    sources = ["blazepose (whole frame)"] + (["opencv-hog"] if hog is not None else []) + (
        ["moving blobs (static camera)"] if fg.static else [])
    tracks = [_mark_person_boxes(tr, person_boxes) for tr in tracker.tracks()]
    return tracks, {"detector": " + ".join(sources), "detect_every_frames": every, "detections": counts}


def _mark_person_boxes(tr: Track, person_boxes: dict, iou: float = 0.5) -> Track:
    """``tr`` with ``person`` set: frames where a person detector's box (``person_boxes``: frame -> (N, 4)) overlaps
    the track's box by at least ``iou`` (moving blobs alone do not count: a flickering TV moves too)."""
    from imusim_jax.pose.tracking import box_iou

    person = np.zeros(len(tr.frames), bool)
    for k, f in enumerate(tr.frames):
        b = person_boxes.get(int(f))
        if b is not None and len(b):
            person[k] = bool(box_iou(tr.boxes[k], b).max() >= iou)
    return dataclasses.replace(tr, person=person)


def _continues(kp: np.ndarray, prev: np.ndarray) -> bool:
    """Whether keypoints ``kp`` (K, 3) continue ``prev`` (the previous frame's; confidence 0 = none): their boxes
    overlap with IoU >= 0.3."""
    from imusim_jax.pose.mediapipe_backend import keypoint_box
    from imusim_jax.pose.tracking import box_iou

    a, b = keypoint_box(kp, pad=0.0), keypoint_box(prev, pad=0.0)
    return a is not None and b is not None and box_iou(a, b)[0, 0] >= 0.3


def _pose_mediapipe(video: Video, tracks: list[Track], cfg: PipelineConfig) -> list[PersonTrack]:
    """Pass 2: follow each track with its own BlazePose; a track may run on past its last box while the pose is
    found."""
    from imusim_jax.pose.mediapipe_backend import JOINT_SET, PersonFollower

    T, J = len(video), 33
    max_gap = int(round(0.5 * video.info.fps))
    state = {k: dict(track=tr, follower=None, poses={}, misses=0, done=False, last=int(tr.frames[-1]))
             for k, tr in enumerate(tracks)}  # poses: frame -> PoseResult (memory grows with poses found only)
    try:
        for i, frame in _progress(video, T, "estimating pose", cfg.progress):
            for k, s in state.items():
                tr = s["track"]
                if s["done"] or i < tr.frames[0]:
                    continue
                inside = i <= tr.frames[-1]
                if s["misses"] > max_gap and not inside:  # past the boxes and lost for longer than a gap: stop
                    s["done"] = True
                    s["follower"].close()
                    continue
                if s["follower"] is None:
                    s["follower"] = PersonFollower()
                box = tr.boxes[i - tr.frames[0]] if inside else None
                person = bool(tr.person[i - tr.frames[0]]) if inside and tr.person is not None else inside
                r = s["follower"](frame, box, person)
                prev = s["poses"].get(i - 1)
                if r is not None and not inside and (prev is None or not _continues(r.keypoints, prev.keypoints)):
                    r = None  # past the tracker's boxes, a pose must continue the previous frame's
                if r is None:
                    s["misses"] += 1
                    continue
                s["misses"] = 0
                s["poses"][i] = r
                s["last"] = max(s["last"], i)
    finally:
        for s in state.values():
            if s["follower"] is not None and not s["done"]:
                s["follower"].close()
    out = []
    for s in state.values():
        tr = s["track"]
        span = np.arange(tr.frames[0], s["last"] + 1)
        n, extra = len(span), len(span) - len(tr.frames)
        kp, world = np.zeros((n, J, 3), np.float32), np.full((n, J, 3), np.nan, np.float32)
        found = np.zeros(n, bool)
        for i, r in s["poses"].items():
            kp[i - span[0]], world[i - span[0]], found[i - span[0]] = r.keypoints, r.world, True
        boxes = np.concatenate([tr.boxes, np.repeat(tr.boxes[-1:], extra, 0)])
        has_box = np.concatenate([np.ones(len(tr.frames), bool), np.zeros(extra, bool)])
        # BlazePose infers every landmark of a person it finds, occluded ones too: the 3D pose counts as a whole,
        # occluded landmarks (visibility near 0) at half weight; the 2D keypoints keep their visibility.
        c3 = np.where(found[:, None], 0.5 + 0.5 * kp[..., 2], 0.0).astype(np.float32)
        out.append(PersonTrack(int(tr.id), span, kp, world, c3, boxes, found, JOINT_SET, JOINT_SET, has_box))
    return out


def _follow_backward(video: Video, people: list[PersonTrack], cfg: PipelineConfig,
                     window_s: float = 1.5) -> list[PersonTrack]:
    """Pass 3: follow each person backward in time from the first frame BlazePose found them in.

    BlazePose needs its detector to find a person before it can follow them, and a person often becomes clear only
    after the fast part (a fall is blurred, the landing is not). The video is offline, so a fresh BlazePose started
    at that first pose follows the person back through the frames before it (up to ``window_s``), as long as each
    pose continues the next frame's (``_continues``).
    """
    from imusim_jax.pose.mediapipe_backend import PersonFollower

    back = int(round(window_s * video.info.fps))
    want = {}
    for k, p in enumerate(people):
        posed = p.frames[p.pose_found]
        if len(posed) >= MIN_FRAMES and posed[0] > 0:
            want[k] = (max(0, int(posed[0]) - back), [int(f) for f in posed[:5]])  # window start, start frames
    if not want:
        return people
    needed = set().union(*(range(a, starts[-1] + 1) for a, starts in want.values()))
    frames = {i: f for i, f in video if i in needed}
    out = list(people)
    for k, (a, starts) in want.items():
        p = out[k]
        found: dict = {}
        fol = PersonFollower()
        try:
            start = starts[0]
            fol.start_from(p.keypoints2d[start - int(p.frames[0])])
            prev = p.keypoints2d[start - int(p.frames[0])]
            misses = 0
            for i in range(start - 1, a - 1, -1):
                if misses > 2:
                    break
                r = fol(frames[i], None)
                if r is None or not _continues(r.keypoints, prev):
                    misses += 1
                    fol.start_from(prev)  # try the next earlier frame from the last pose that held
                    continue
                found[i], prev, misses = r, r.keypoints, 0
        finally:
            fol.close()
        if found:
            out[k] = _prepend_poses(p, found)
    return out


def _prepend_poses(p: PersonTrack, found: dict) -> PersonTrack:
    """``p`` with poses ``{frame: PoseResult}`` added where it had none (its span extended back if needed)."""
    first = min(min(found), int(p.frames[0]))
    pad = int(p.frames[0]) - first
    frames = np.arange(first, int(p.frames[-1]) + 1)
    grow = lambda x, fill: np.concatenate([np.full((pad,) + x.shape[1:], fill, x.dtype), x])
    kp, j3, c3 = grow(p.keypoints2d, 0), grow(p.joints3d_cam, np.nan), grow(p.conf3d, 0)
    boxes = np.concatenate([np.repeat(p.boxes[:1], pad, 0), p.boxes])
    found_mask = grow(p.pose_found, False)
    has_box = grow(np.ones(len(p.frames), bool) if p.has_box is None else p.has_box, False)
    for i, r in found.items():
        t = i - first
        if not found_mask[t]:
            kp[t], j3[t], found_mask[t] = r.keypoints, r.world, True
            c3[t] = 0.5 + 0.5 * r.keypoints[:, 2]
    return dataclasses.replace(p, frames=frames, keypoints2d=kp, joints3d_cam=j3, conf3d=c3, boxes=boxes,
                               pose_found=found_mask, has_box=has_box)


# ---------------------------------------------------------------------------------------------------------------
# ViTPose backend
# ---------------------------------------------------------------------------------------------------------------

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


def _people_vitpose(video: Video, cfg: PipelineConfig, every: int) -> tuple[list[PersonTrack], dict]:
    """Detector (or keypoint boxes) -> tracks -> ViTPose per frame -> VideoPose3D per track."""
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
    pose_path, lift_path = resolve(cfg.pose2d), resolve(cfg.lifter)
    try:
        det_path = resolve(cfg.detector)
    except InputError:
        if is_path(cfg.detector):
            raise
        det_path = None  # no detector weights: the keypoint-box fallback below
    vit = VitPose(pose_path, providers=prov)
    lifter = VideoPose3D(lift_path, providers=prov)
    info = video.info
    T = len(video)
    models = {"pose2d": {"name": cfg.pose2d, "path": str(pose_path), "sha256": _sha256(pose_path)},
              "lifter": {"name": cfg.lifter, "path": str(lift_path), "sha256": _sha256(lift_path)}}
    meta: dict = {"models": models, "detect_every_frames": every}
    if det_path is not None:
        from imusim_jax.pose.detector import OnnxPersonDetector

        det = OnnxPersonDetector(det_path, providers=prov)
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


# ---------------------------------------------------------------------------------------------------------------
# Tracks -> people
# ---------------------------------------------------------------------------------------------------------------

def pose_jitter(person: PersonTrack) -> float:
    """Frame-to-frame jitter of a track's 2D keypoints relative to the body's size (dimensionless).

    The robust spread (median absolute value over joints and frames, scaled to a standard deviation of white
    noise) of the keypoints' third differences over runs of consecutive frames with pose, each frame's keypoints
    divided by their box diagonal. Third differences cancel any motion of constant acceleration, so a real fall
    barely counts; a pose the model hallucinates on furniture or a blurred crowd jumps from frame to frame. On the
    shared clips (and their mirror images) the real people read 0.002-0.06. ``inf`` when fewer than three
    frames have three consecutive neighbours (the jitter cannot be told).
    """
    found = person.pose_found
    kp = person.keypoints2d[..., :2].astype(np.float64)
    size = np.linalg.norm(np.ptp(kp, axis=1), axis=-1)
    rel = kp / np.maximum(size, 1.0)[:, None, None]
    ok = found[3:] & found[2:-1] & found[1:-2] & found[:-3]
    if ok.sum() < 3:
        return float("inf")
    d3 = (rel[3:] - 3 * rel[2:-1] + 3 * rel[1:-2] - rel[:-3])[ok]
    return float(np.median(np.abs(d3)) / 0.6745 / np.sqrt(20.0))


def anchor_to_boxes(person: PersonTrack, fps: float, max_gap_s: float, confidence: float) -> PersonTrack:
    """Fill frames where the pose model lost a tracked person: the nearest observed pose, moved with the box.

    For a frame without pose but with a tracker box, within ``max_gap_s`` of a frame with pose: the 2D keypoints
    are those of the nearest posed frame translated by the change of the box centre, the 3D pose is held, and the
    confidence is at most ``confidence``. The body keeps its last seen posture and its global motion follows the
    box: a fall too blurred for the pose model still moves the whole body down.
    """
    found = person.pose_found
    has_box = np.ones(len(found), bool) if person.has_box is None else person.has_box
    posed = np.flatnonzero(found)
    kp, j3, c3 = person.keypoints2d.copy(), person.joints3d_cam.copy(), person.conf3d.copy()
    anchored = np.zeros(len(found), bool)
    if len(posed) == 0:
        return dataclasses.replace(person, anchored=anchored)
    centre = (person.boxes[:, :2] + person.boxes[:, 2:]) / 2
    for t in np.flatnonzero(~found & has_box):
        n = posed[np.argmin(np.abs(posed - t))]
        if abs(n - t) > max_gap_s * fps:
            continue
        kp[t] = kp[n]
        kp[t, :, :2] += centre[t] - centre[n]
        kp[t, :, 2] = np.minimum(kp[n, :, 2], confidence)
        j3[t], c3[t] = j3[n], np.minimum(c3[n], confidence)
        anchored[t] = True
    return dataclasses.replace(person, keypoints2d=kp, joints3d_cam=j3, conf3d=c3, anchored=anchored)


def _box_consistent(kbox: np.ndarray, box: np.ndarray) -> bool:
    """Whether a pose's keypoint box can be the tracker's person: its centre inside the box grown by half its
    size, and a diagonal within a factor 3 of the box's."""
    c = (kbox[:2] + kbox[2:]) / 2
    half = (box[2:] - box[:2]) / 2
    inside = np.all(np.abs(c - (box[:2] + box[2:]) / 2) <= 1.5 * half + 1.0)
    ratio = np.linalg.norm(kbox[2:] - kbox[:2]) / max(float(np.linalg.norm(box[2:] - box[:2])), 1.0)
    return bool(inside and 1 / 3 <= ratio <= 3)


def _gate_frames(p: PersonTrack) -> PersonTrack:
    """Drop poses that do not sit on the tracker's box (the pose model latched onto something else)."""
    from imusim_jax.pose.mediapipe_backend import keypoint_box

    found = p.pose_found.copy()
    has_box = np.ones(len(found), bool) if p.has_box is None else p.has_box
    for t in np.flatnonzero(found & has_box):
        kb = keypoint_box(p.keypoints2d[t], pad=0.0)
        if kb is None or not _box_consistent(kb, p.boxes[t]):
            found[t] = False
    kp = p.keypoints2d.copy()
    kp[~found, :, 2] = 0.0
    j3 = np.where(found[:, None, None], p.joints3d_cam, np.nan)
    return dataclasses.replace(p, keypoints2d=kp, joints3d_cam=j3, conf3d=np.where(found[:, None], p.conf3d, 0.0),
                               pose_found=found)


def _same_person(p: PersonTrack, q: PersonTrack) -> bool:
    """Two tracks follow the same person: in most frames both have a pose, their poses' boxes overlap (IoU >=
    0.5) or their heads and torsos coincide (median distance of nose, shoulders and hips under half the
    shoulder-to-hip length: a full-body pose and an upper-body pose of the same person have different boxes)."""
    from imusim_jax.pose.mediapipe_backend import keypoint_box
    from imusim_jax.pose.tracking import box_iou

    _, a, b = np.intersect1d(p.frames, q.frames, return_indices=True)
    both = p.pose_found[a] & q.pose_found[b]
    if both.sum() == 0:
        return False
    same = []
    for i, j in zip(a[both], b[both]):
        ka, kb = keypoint_box(p.keypoints2d[i], pad=0.0), keypoint_box(q.keypoints2d[j], pad=0.0)
        if ka is not None and kb is not None and box_iou(ka, kb)[0, 0] >= 0.5:
            same.append(True)
            continue
        P, Q = p.keypoints2d[i], q.keypoints2d[j]
        if P.shape[0] > 24:  # mediapipe33: nose 0, shoulders 11-12, hips 23-24
            torso = np.linalg.norm(P[[11, 12], :2].mean(0) - P[[23, 24], :2].mean(0))
            d = np.median(np.linalg.norm(P[[0, 11, 12, 23, 24], :2] - Q[[0, 11, 12, 23, 24], :2], axis=-1))
            same.append(bool(torso > 1 and d < 0.5 * torso))
        else:
            same.append(False)
    return bool(np.mean(same) > 0.5)


def _merge(p: PersonTrack, q: PersonTrack) -> PersonTrack:
    """``p`` completed by ``q`` (the same person): over the union of their frames, ``p``'s pose and box where it
    has them, else ``q``'s."""
    frames = np.arange(min(p.frames[0], q.frames[0]), max(p.frames[-1], q.frames[-1]) + 1)
    T = len(frames)

    def spread(x: PersonTrack):
        idx = x.frames - frames[0]
        hb = np.ones(len(x.frames), bool) if x.has_box is None else x.has_box
        out = dict(kp=np.zeros((T,) + x.keypoints2d.shape[1:], np.float32),
                   j3=np.full((T,) + x.joints3d_cam.shape[1:], np.nan, np.float32),
                   c3=np.zeros((T,) + x.conf3d.shape[1:], np.float32), box=np.zeros((T, 4), np.float32),
                   found=np.zeros(T, bool), has_box=np.zeros(T, bool))
        out["kp"][idx], out["j3"][idx], out["c3"][idx] = x.keypoints2d, x.joints3d_cam, x.conf3d
        out["box"][idx], out["found"][idx], out["has_box"][idx] = x.boxes, x.pose_found, hb
        return out

    A, B = spread(p), spread(q)
    use_b = ~A["found"] & B["found"]
    box_b = ~A["has_box"] & B["has_box"]
    pick = lambda k, m: np.where(m.reshape((-1,) + (1,) * (A[k].ndim - 1)), B[k], A[k])
    return dataclasses.replace(p, frames=frames, keypoints2d=pick("kp", use_b), joints3d_cam=pick("j3", use_b),
                               conf3d=pick("c3", use_b), boxes=pick("box", box_b | (use_b & ~A["has_box"])),
                               pose_found=A["found"] | B["found"], has_box=A["has_box"] | B["has_box"])


def _longest_run(mask: np.ndarray, bridge: int = 0) -> int:
    """Frames with True in the longest run of a 1D bool array, runs joined across gaps of at most ``bridge``."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return 0
    breaks = np.flatnonzero(np.diff(idx) > bridge + 1)
    starts, stops = np.r_[0, breaks + 1], np.r_[breaks, len(idx) - 1]
    return int((stops - starts + 1).max())


def _trim(p: PersonTrack, use: np.ndarray) -> PersonTrack:
    idx = np.flatnonzero(use)
    sl = slice(idx[0], idx[-1] + 1)
    opt = lambda x: None if x is None else x[sl]
    return dataclasses.replace(p, frames=p.frames[sl], keypoints2d=p.keypoints2d[sl],
                               joints3d_cam=p.joints3d_cam[sl], conf3d=p.conf3d[sl], boxes=p.boxes[sl],
                               pose_found=p.pose_found[sl], has_box=opt(p.has_box), anchored=opt(p.anchored))


def _select_people(people: list[PersonTrack], fps: float, cfg: PipelineConfig) -> tuple[list[PersonTrack], list]:
    """Turn tracks into people.

    1. Per frame, a pose that does not sit on the tracker's box is dropped (``_box_consistent``).
    2. A track is a person when the pose model followed one in at least 0.25 s of frames without a break (dropouts
       up to 0.1 s allowed) and its keypoints move smoothly (``pose_jitter <= max_jitter``).
    3. Tracks on the same person (their poses overlap) are merged, the one with the most poses first.
    4. Frames without pose are filled from the box near poses (``anchor_to_boxes``); the track is trimmed to
       the frames with a pose or an anchored pose; ids are renumbered in order of appearance.
    """
    from imusim_jax.pose.world import WorldConfig

    wc = WorldConfig()
    dropped, kept = [], []
    min_frames = max(MIN_FRAMES, int(np.ceil(0.25 * fps)))
    bridge = int(round(0.1 * fps))  # a pose model that drops out for 0.1 s has not lost the person

    def drop(p, why):
        dropped.append({"track": p.id, "frames": int(len(p.frames)), "posed": int(p.pose_found.sum()), "why": why})

    for p in people:
        p = _gate_frames(p)
        if _longest_run(p.pose_found, bridge) < min_frames:
            drop(p, f"pose followed in fewer than {min_frames} frames without a break")
            continue
        jit = pose_jitter(p)
        if not jit <= cfg.max_jitter:
            drop(p, f"pose jitters by {jit:.3f} of the body size per frame (a hallucination; limit {cfg.max_jitter})")
            continue
        kept.append((p, jit))
    kept.sort(key=lambda pj: (-int(pj[0].pose_found.sum()), pj[1]))
    unique: list[PersonTrack] = []
    for p, _ in kept:
        k = next((k for k, q in enumerate(unique) if _same_person(p, q)), None)
        if k is None:
            unique.append(p)
        else:
            drop(p, f"same person as track {unique[k].id}: merged")
            unique[k] = _merge(unique[k], p)
    if cfg.max_people is not None:
        for p in unique[cfg.max_people:]:
            drop(p, f"beyond --max-people {cfg.max_people}")
        unique = unique[: cfg.max_people]
    out = []
    for p in unique:
        p = anchor_to_boxes(p, fps, wc.max_gap_s, wc.min_confidence)
        out.append(_trim(p, p.pose_found | p.anchored))
    out.sort(key=lambda p: (int(p.frames[0]), p.id))
    return [dataclasses.replace(p, id=n) for n, p in enumerate(out)], dropped


def track_people(video: Video, cfg: PipelineConfig = PipelineConfig()) -> tuple[list[PersonTrack], dict]:
    """Stage 1 up to per-person 2D and 3D pose (steps 1-2 of the module docstring)."""
    backend = default_backend() if cfg.pose == "auto" else cfg.pose
    if backend not in BACKENDS:
        raise InputError(f"--pose must be one of {', '.join(BACKENDS)}, got {cfg.pose!r}")
    every = max(1, int(round(video.info.fps / cfg.detect_hz)))
    if backend == "mediapipe":
        from imusim_jax.pose.mediapipe_backend import model_file_path

        tracks, meta = _detect_mediapipe(video, cfg, every)
        people = _follow_backward(video, _pose_mediapipe(video, tracks, cfg), cfg)
        mp_model = model_file_path()
        meta["models"] = {"pose": {"name": "mediapipe-blazepose-full (model_complexity=1)", "path": mp_model,
                                   "sha256": _sha256(mp_model)},
                          "detector": {"name": "opencv-hog-default-people-detector (built into OpenCV)"}}
    else:
        people, meta = _people_vitpose(video, cfg, every)
    people, dropped = _select_people(people, video.info.fps, cfg)
    meta.update(backend=backend, dropped_tracks=dropped)
    return people, meta


# ---------------------------------------------------------------------------------------------------------------
# Person -> Motion
# ---------------------------------------------------------------------------------------------------------------

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


MODEL_INPUT_PX = 256
"""Side of the image BlazePose's landmark model sees (ViTPose: 256x192): a person spanning fewer pixels is
upsampled, and carries less detail than the model was trained to use."""


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
    from imusim_jax._joints import get_joint_set

    js = get_joint_set(joint_set)
    R = np.asarray(world_report["gravity"]["R_wc"], np.float64)
    origin = np.asarray(world_report["origin_w_before_shift"], np.float64)
    f = float(world_report["focal_px"])
    sig_px = max(float(world_report["root"].get("sigma_px") or 1.0), 0.5)
    hips = [js.index("left_hip"), js.index("right_hip")] if js.has("left_hip") else [0]
    root_c = (joints_w[:, hips].mean(1) + origin) @ R  # p_c = R^T p_w
    dist = np.maximum(np.linalg.norm(root_c, axis=-1), 0.1)
    ray = root_c / dist[:, None]
    if fps is not None:
        from imusim_jax.pose.smoothing import running_median

        d_med = running_median(dist, max(int(round(0.5 * fps)), 1))
        dist = np.where(np.isfinite(d_med), d_med, dist)
    ok = keypoints2d[..., 2] >= 0.3
    xy = np.where(ok[..., None], keypoints2d[..., :2], np.nan)
    import warnings

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
    from imusim_jax._joints import get_joint_set

    js = get_joint_set(joint_set)
    R = np.asarray(world_report["gravity"]["R_wc"], np.float64)
    origin = np.asarray(world_report["origin_w_before_shift"], np.float64)
    hips = [js.index("left_hip"), js.index("right_hip")] if js.has("left_hip") else [0]
    v = joints_w[:, hips].mean(1) + origin  # camera at -origin in the world
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
    from imusim_jax._joints import get_joint_set

    js = get_joint_set(joint_set)
    R = np.asarray(world_report["gravity"]["R_wc"], np.float64)
    origin = np.asarray(world_report["origin_w_before_shift"], np.float64)
    f = float(world_report["focal_px"])
    hips = [js.index("left_hip"), js.index("right_hip")] if js.has("left_hip") else [0]
    dist = np.linalg.norm((joints_w[:, hips].mean(1) + origin) @ R, axis=-1)  # (T,)
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
    from imusim_jax._joints import get_joint_set

    js = get_joint_set(joint_set)
    R = np.asarray(world_report["gravity"]["R_wc"], np.float64)
    origin = np.asarray(world_report["origin_w_before_shift"], np.float64)
    hips = [js.index("left_hip"), js.index("right_hip")] if js.has("left_hip") else [0]
    dist = np.linalg.norm((joints_w[:, hips].mean(1) + origin) @ R, axis=-1)
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


def person_motion(person: PersonTrack, info: VideoInfo, cfg: PipelineConfig = PipelineConfig(),
                  times_s: Optional[np.ndarray] = None, raw_root: Optional[bool] = None
                  ) -> tuple[Motion, Optional[Motion], dict]:
    """World ``Motion`` of one person before and after smoothing (steps 3-4): ``(raw, smoothed, report)``.

    ``smoothed`` is ``None`` when ``cfg.smoothing`` is ``None``. Frames at the start and end without a root are
    dropped; ``report['first_frame']`` is the person's first frame in the video. ``raw_root`` (default: when
    smoothing) solves the root frame by frame, leaving time to ``pose.smoothing``; else ``pose.world``'s own
    acceleration prior smooths it.
    """
    from imusim_jax.pose.world import WorldConfig, to_world_motion

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
    from imusim_jax._joints import convert

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


# ---------------------------------------------------------------------------------------------------------------
# The whole command
# ---------------------------------------------------------------------------------------------------------------

def _write_json(obj, path) -> None:
    from imusim_jax.io import atomic_path
    from imusim_jax.pose.world import _jsonable

    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(_jsonable(obj), f, indent=1)


def _frame_quality(person: PersonTrack, first: int, n: int) -> list[dict]:
    """Per-frame detection quality of one person: pose found, mean landmark confidence, box."""
    out = []
    for i in range(first, first + n):
        k = int(np.searchsorted(person.frames, i))
        if k >= len(person.frames) or person.frames[k] != i:
            continue
        out.append({"frame": i, "pose": bool(person.pose_found[k]),
                    "mean_confidence": round(float(np.mean(person.keypoints2d[k, :, 2])), 3),
                    "box": [round(float(v), 1) for v in person.boxes[k]]})
    return out


WRITTEN_BY = "imusim-jax video2imu"
"""``meta.json`` marker of the folders this command writes (the only ones it will replace in OUTDIR)."""

MAX_WRIST_RATE_RADPS = 25.0
"""Angular rate (rad/s) above which a watch's reading is not a human forearm's: the fastest forearm rotations
(baseball pitching, the tennis serve) reach about 20-25 rad/s at 5-10 Hz, beyond what Stage 1's ~4 Hz smoothing
lets through. A reconstruction above it has a garbage orientation (a hand or forearm too small to see)."""

MAX_ACCEL_MPS2 = 150.0
"""|a - g| (m/s^2) above which a reconstruction is not a human wrist's after Stage 1's smoothing (about 15 g)."""

MIN_HAND_PX = 12.0
"""Median wrist-to-knuckle distance (pixels) below which the forearm's roll is taken from the elbow hinge, not
from the hand landmarks: BlazePose places a landmark to a pixel or two at best, so a hand 12 px long tells the
roll to about 10 degrees and a smaller one to nothing."""

MIN_STATURE_PX = 48.0
"""A person whose stature would span fewer pixels (at their distance) is not reconstructed: their forearm is
under 7 px long, and neither its orientation nor its motion can be told."""


def _hand_px(person: PersonTrack, side: str) -> Optional[float]:
    """Median distance (px) from the ``side`` wrist to its index and pinky knuckles over frames with pose, or
    ``None`` when the 2D joint set has no hand landmarks."""
    from imusim_jax._joints import get_joint_set

    js = get_joint_set(person.joint_set2d)
    names = [f"{side}_wrist", f"{side}_index", f"{side}_pinky"]
    if not all(js.has(n) for n in names):
        return None
    w, i, p = (js.index(n) for n in names)
    kp = person.keypoints2d[person.pose_found]
    if len(kp) == 0:
        return 0.0
    d = 0.5 * (np.linalg.norm(kp[:, i, :2] - kp[:, w, :2], axis=-1) + np.linalg.norm(kp[:, p, :2] - kp[:, w, :2],
                                                                                        axis=-1))
    return float(np.median(d))


def implausible(peak_accel_minus_g: float, peak_gyro: float) -> Optional[str]:
    """Why a simulated watch signal is beyond a human forearm (``MAX_WRIST_RATE_RADPS``, ``MAX_ACCEL_MPS2``), or
    ``None`` when it is not."""
    if not (np.isfinite(peak_accel_minus_g) and np.isfinite(peak_gyro)):
        return "the simulated signal is not finite"
    if peak_gyro > MAX_WRIST_RATE_RADPS or peak_accel_minus_g > MAX_ACCEL_MPS2:
        return (f"failed reconstruction: the watch would read {peak_gyro:.0f} rad/s and {peak_accel_minus_g:.0f} "
                f"m/s^2 of |a - g|, beyond a human forearm ({MAX_WRIST_RATE_RADPS:.0f} rad/s, "
                f"{MAX_ACCEL_MPS2:.0f} m/s^2)")
    return None


def _clean_outdir(outdir: str, keep: set) -> tuple[list[str], list[str]]:
    """Folders ``person_*`` in ``outdir``: ``(ours, foreign)`` where ``ours`` carry this command's ``meta.json``
    (``WRITTEN_BY``, or the fields every version wrote) and are not in ``keep``."""
    ours, foreign = [], []
    if not os.path.isdir(outdir):
        return ours, foreign
    for e in sorted(os.listdir(outdir)):
        d = os.path.join(outdir, e)
        if not (e.startswith("person_") and os.path.isdir(d)) or e in keep:
            continue
        try:
            with open(os.path.join(d, "meta.json")) as f:
                m = json.load(f)
        except (OSError, ValueError):
            m = None
        mine = isinstance(m, dict) and (m.get("written_by") == WRITTEN_BY
                                        or {"person", "video", "backend", "imu_samples"} <= set(m))
        (ours if mine else foreign).append(e)
    return ours, foreign


def _publish(outdir: str, folders: dict, summary: dict) -> None:
    """Write ``folders`` (name -> function writing the folder's files into a given path) and ``OUTDIR/meta.json``.

    Every folder is written complete in a staging folder inside ``outdir`` first, then moved into place; the
    ``person_*`` folders an earlier run of this command left (recognised by their ``meta.json``) are moved out
    and deleted; ``meta.json``, the summary that lists the run's folders, is written last (atomically). A folder
    of the same name that this command did not write is never touched: the run stops with an error instead. An
    interrupted run leaves no half-written folder.
    """
    import shutil
    import tempfile

    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise InputError(f"-o {outdir} exists and is not a folder")
    os.makedirs(outdir, exist_ok=True)
    stale, foreign = _clean_outdir(outdir, set())
    clash = [e for e in foreign if e in folders]
    if clash:
        raise InputError(f"{os.path.join(outdir, clash[0])} exists and was not written by video2imu: remove it or "
                         "choose another output folder")
    stage = tempfile.mkdtemp(prefix=".video2imu-", dir=outdir)
    try:
        for name, write in folders.items():
            os.makedirs(os.path.join(stage, name))
            write(os.path.join(stage, name))
        old = os.path.join(stage, ".replaced")
        os.makedirs(old)
        for e in stale:
            os.replace(os.path.join(outdir, e), os.path.join(old, e))
        for name in folders:
            os.replace(os.path.join(stage, name), os.path.join(outdir, name))
        _write_json(summary, os.path.join(outdir, "meta.json"))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def video2imu(video_path: str, outdir: str, cfg: PipelineConfig = PipelineConfig()) -> dict:
    """Run the whole pipeline; returns the summary written to ``OUTDIR/meta.json``.

    Each person found is reconstructed (``person_motion``), simulated, and checked: a person too small in the
    picture (``MIN_STATURE_PX``) or whose watch reads beyond a human forearm (``MAX_WRIST_RATE_RADPS``,
    ``MAX_ACCEL_MPS2``) is a failed reconstruction, listed with the reason under ``rejected_people`` in
    ``OUTDIR/meta.json`` instead of written. The forearm's roll comes from the hand landmarks when the hand is
    at least ``MIN_HAND_PX`` long in the picture, else from the elbow hinge (``roll`` in each person's
    ``meta.json``); a hand-roll reconstruction that fails the rate check is retried with the hinge.

    Output: ``OUTDIR/person_<id>/`` per accepted person and ``OUTDIR/meta.json``, published by ``_publish``
    (stale ``person_*`` folders of an earlier run are removed). When the video holds no usable person, the
    earlier run's folders are removed too and ``meta.json`` says why, and ``InputError`` is raised (one line).
    Bad input and missing weights raise ``InputError`` before anything is written.
    """
    import jax

    from imusim_jax import io as iio
    from imusim_jax._mounting import get_mount
    from imusim_jax._noise import get_noise
    from imusim_jax._simulate import simulate
    from imusim_jax.io import atomic_path
    from imusim_jax.plotting import plot_imu

    t_start = time.time()
    mount = get_mount(cfg.mount)
    noise = get_noise(cfg.noise)
    if not (np.isfinite(cfg.rate_hz) and cfg.rate_hz > 0):
        raise InputError(f"--rate must be a positive number of Hz, got {cfg.rate_hz}")
    if cfg.max_people is not None and cfg.max_people < 1:
        raise InputError(f"--max-people must be at least 1, got {cfg.max_people}")
    if os.path.exists(outdir) and not os.path.isdir(outdir):
        raise InputError(f"-o {outdir} exists and is not a folder")
    video = Video(video_path, start_s=cfg.start_s, end_s=cfg.end_s, fps=cfg.fps)
    info = video.info
    name = os.path.basename(video_path)
    if info.num_frames < MIN_FRAMES:
        raise InputError(f"{name}: {info.num_frames} frame(s) in range, need at least {MIN_FRAMES} to tell motion")
    people, meta = track_people(video, cfg)
    key = jax.random.key(cfg.seed)
    side = getattr(mount, "side", None)
    accepted, rejected = [], []
    for p in people:
        def reject(why, **extra):
            rejected.append({"person": p.id, "first_frame": int(p.frames[0] + info.first_frame),
                             "frames": int(len(p.frames)), "why": why, **extra})
        try:
            raw, smooth, rep = person_motion(p, info, cfg, video.times_s)
        except InputError as e:
            reject(str(e))
            continue
        stature = rep.get("stature_px")
        if stature is not None and stature < MIN_STATURE_PX:
            reject(f"too small in the picture: a {cfg.subject_height_m:.2f} m person would span {stature:.0f} px "
                   f"there (need {MIN_STATURE_PX:.0f})", stature_px=stature)
            continue
        motion = smooth if smooth is not None else raw
        hand = _hand_px(p, side) if side in ("left", "right") else None
        if cfg.roll == "auto":
            roll = "hand" if hand is not None and hand >= MIN_HAND_PX else "hinge"
        else:
            roll = cfg.roll
        while True:
            signal = simulate(motion, mount, noise, key=jax.random.fold_in(key, p.id), rate_hz=cfg.rate_hz,
                              cutoff_hz=cfg.cutoff_hz, roll=roll)
            acc = np.asarray(signal.accel, np.float64)
            gyr = np.asarray(signal.gyro, np.float64)
            peak_a = float(np.max(np.abs(np.linalg.norm(acc, axis=1) - 9.80665)))
            peak_w = float(np.max(np.linalg.norm(gyr, axis=1)))
            if peak_w > MAX_WRIST_RATE_RADPS and roll == "hand" and cfg.roll == "auto":
                roll = "hinge"  # the hand's landmarks may be what spins the watch
                continue
            break
        why = implausible(peak_a, peak_w) if np.isfinite(acc).all() and np.isfinite(gyr).all() else \
            implausible(float("nan"), float("nan"))
        if why:
            reject(why, roll=roll, peak_gyro_radps=peak_w, peak_accel_minus_g_mps2=peak_a)
            continue
        accepted.append((p, motion, signal, rep, roll, hand, peak_a, peak_w))

    summary = {"written_by": WRITTEN_BY, "video": info.to_dict(), "backend": meta["backend"],
               "models": meta.get("models", {}),
               "config": {**{k: v for k, v in dataclasses.asdict(cfg).items() if k != "smoothing"},
                          "mount": mount.to_dict()},
               "smoothing": None if cfg.smoothing is None else dataclasses.asdict(cfg.smoothing),
               "people": [], "rejected_people": rejected, "dropped_tracks": meta.get("dropped_tracks", []),
               "detector": meta.get("detector"), "detections_per_frame": meta.get("detections", {})}
    folders = {}
    for p, motion, signal, rep, roll, hand, peak_a, peak_w in accepted:
        first, n = rep["first_frame"], rep["frames"]
        t0 = info.start_s + (video.times_s[first] if first < len(video.times_s) else first / info.fps)
        assumptions = list(info.warnings) + list(rep["world"].get("assumptions", []))
        if meta.get("assumption"):
            assumptions.append(meta["assumption"])
        if cfg.smoothing is not None:
            assumptions.append("outliers rejected, root and posture smoothed (constant-acceleration RTS, noise "
                               "measured from the data, at least the landmark error of a person this size in the "
                               "picture, and scaled by 1/confidence), limb bone lengths fixed")
        assumptions.append("forearm roll from the " + ("hand landmarks" if roll == "hand" else
                                                       "elbow hinge (hand landmarks too small or unusable)"))
        pmeta = {
            "written_by": WRITTEN_BY, "person": p.id, "video": os.path.abspath(video_path),
            "backend": meta["backend"], "models": meta.get("models", {}), "fps": info.fps,
            "fps_source": info.fps_source, "t0_s": float(t0), "first_frame": int(first + info.first_frame),
            "frames": int(n), "joint_set": motion.joint_set, "mount": mount.name, "rate_hz": cfg.rate_hz,
            "noise": cfg.noise, "seed": cfg.seed, "imu_samples": int(signal.num_samples),
            "peak_accel_minus_g_mps2": peak_a, "peak_gyro_radps": peak_w,
            "pose_found_frac": float(np.mean(p.pose_found)), "roll": roll, "hand_px": hand,
            "stature_px": rep.get("stature_px"),
            "assumptions": assumptions, "world": rep["world"], "smoothing": rep.get("smoothing"),
            "frame_quality": _frame_quality(p, first, n),
        }

        def write(d, motion=motion, signal=signal, pmeta=pmeta, pid=p.id):
            with atomic_path(os.path.join(d, "motion.npz")) as tmp:
                motion.save_npz(tmp)
            iio.write_signal(signal, os.path.join(d, "imu.csv"))
            with atomic_path(os.path.join(d, "imu.png")) as tmp:
                plot_imu(signal, tmp, title=f"{name}: person {pid}, {mount.name}")
            _write_json(pmeta, os.path.join(d, "meta.json"))

        folders[f"person_{p.id}"] = write
        summary["people"].append({"person": p.id, "folder": f"person_{p.id}", "t0_s": pmeta["t0_s"],
                                  "frames": int(n), "pose_found_frac": pmeta["pose_found_frac"],
                                  "peak_accel_minus_g_mps2": peak_a, "peak_gyro_radps": peak_w, "roll": roll})
    summary["runtime_s"] = round(time.time() - t_start, 2)
    if not accepted:
        nd = len(meta.get("dropped_tracks", []))
        why = (f"{len(rejected)} person(s) found but none reconstructed plausibly: {rejected[0]['why']}"
               if rejected else (f"{nd} candidate track(s) had no consistent pose" if nd else "no candidate"))
        summary["error"] = f"no person found in {name}: {why}"
        _publish(outdir, {}, summary)
        raise InputError(f"no person found in {name} ({meta['backend']} backend, {info.num_frames} frames of "
                         f"{info.width}x{info.height}; {why})")
    _publish(outdir, folders, summary)
    return summary
