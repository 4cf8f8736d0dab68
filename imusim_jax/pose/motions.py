"""Stage 1 from end to end: a video in, one world ``Motion`` per person out (``video_to_motions``).

For one video (``pose.video.Video``):

1. **People** (``track_people``). Person boxes are proposed every ``1 / detect_hz`` seconds and tracked with ids,
   and each track's 2D and 3D pose is estimated by a backend: ``mediapipe`` (``pose.mediapipe_people``: HOG,
   whole-frame BlazePose and moving blobs, then a BlazePose per person; no weights to fetch) or ``vitpose``
   (``pose.vitpose_people``: YOLOX, ViTPose and VideoPose3D, ONNX weights). Person selection
   (``pose.selection``) keeps the tracks that are people, one per person.
2. **World motion** (``pose.reconstruction.person_motion``): metric scale, root trajectory, gravity, floor
   (``pose.world``), then outlier rejection and smoothing with noise models from the camera geometry
   (``pose.smoothing``, ``pose.measurement_noise``).

Nothing here knows of IMUs or writes a file: simulating the people and publishing an output folder is the
``video2imu`` workflow's job (``imusim_jax.workflows.video2imu``).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Iterator, Optional, Union

import numpy as np

from imusim_jax._motion import MIN_FRAMES, InputError, Motion
from imusim_jax.pose.config import PoseConfig, resolve_backend
from imusim_jax.pose.reconstruction import person_motion
from imusim_jax.pose.selection import select_people
from imusim_jax.pose.types import PersonTrack
from imusim_jax.pose.video import Video, VideoInfo

__all__ = ["PersonMotion", "VideoMotions", "track_people", "video_to_motions"]

SMOOTHING_ASSUMPTION = ("outliers rejected, root and posture smoothed (constant-acceleration RTS, noise measured "
                        "from the data, at least the landmark error of a person this size in the picture, and "
                        "scaled by 1/confidence), limb bone lengths fixed")


@dataclasses.dataclass
class PersonMotion:
    """One person's world motion, reconstructed from a video.

    Attributes:
      id: the person's id (0, 1, ... in order of appearance in the video).
      motion: the world ``Motion`` (frame ``k`` at ``t0_s + k / fps`` in the file): smoothed, or the raw
        reconstruction when ``PoseConfig.smoothing`` is ``None``.
      raw: the world ``Motion`` before smoothing (the same frames).
      first_frame: index in the video file of the motion's first frame.
      t0_s: time (s) of that frame in the file.
      frame_quality: per motion frame where the person has a track, ``{"frame", "pose", "mean_confidence",
        "box"}``: whether the pose model found them, the mean confidence of their 2D keypoints and the tracker's
        box (xyxy pixels); ``frame`` counts from the first frame of the time range (``PoseConfig.start_s``).
      assumptions: what the reconstruction assumed, one line each (frame rate, letterbox, world frame, ...).
      report: the reconstruction's report: ``world`` (``pose.world.to_world_motion``), ``smoothing``,
        ``stature_px`` (median pixels the subject's stature spans), ``first_frame`` and ``frames``.
      track: the person's 2D and 3D observations over their frames (``pose.types.PersonTrack``).
    """

    id: int
    motion: Motion
    raw: Motion
    first_frame: int
    t0_s: float
    frame_quality: list
    assumptions: list
    report: dict
    track: PersonTrack

    @property
    def stature_px(self) -> Optional[float]:
        """Median pixels the subject's stature spans at their distance (``pose.measurement_noise.stature_px``)."""
        return self.report.get("stature_px")

    @property
    def pose_found_frac(self) -> float:
        """Fraction of the person's tracked frames in which the pose model found them."""
        return float(np.mean(self.track.pose_found))


@dataclasses.dataclass
class VideoMotions:
    """What Stage 1 made of one video; iterating (or indexing) it gives its ``PersonMotion``s.

    Attributes:
      video: how the video was decoded (``pose.video.VideoInfo``: frame rate, size, time range, warnings).
      people: the people reconstructed, in order of appearance.
      rejected: people found whose motion could not be placed in the world, ``{"person", "first_frame" (in the
        file), "frames", "why"}`` each.
      meta: the backend's account: ``backend``, ``models`` (name, path, sha256), ``detector``, ``detections``
        (per detection frame), ``dropped_tracks`` (candidate tracks that were not people, with the reason) and,
        when the backend assumed something, ``assumption``.
    """

    video: VideoInfo
    people: list
    rejected: list
    meta: dict

    @property
    def backend(self) -> str:
        return self.meta["backend"]

    def __iter__(self) -> Iterator[PersonMotion]:
        return iter(self.people)

    def __len__(self) -> int:
        return len(self.people)

    def __getitem__(self, k: int) -> PersonMotion:
        return self.people[k]


def track_people(video: Video, cfg: Optional[PoseConfig] = None, models=None) -> tuple[list[PersonTrack], dict]:
    """Stage 1 up to per-person 2D and 3D pose: the backend's candidate tracks, then person selection.

    Returns ``(people, meta)``: ``people`` in order of appearance with ids 0, 1, ...; ``meta`` as
    ``VideoMotions.meta``. ``cfg``: ``PoseConfig`` (default: ``PoseConfig()``). ``models``: a
    ``pose.models.PoseModels`` to take the pose models from and leave open (reused over many videos; the same
    result); ``None``: this video builds and frees its own.
    """
    cfg = PoseConfig() if cfg is None else cfg
    backend = resolve_backend(cfg.pose)
    every = max(1, int(round(video.info.fps / cfg.detect_hz)))
    if backend == "mediapipe":
        from imusim_jax.pose.mediapipe_people import mediapipe_people

        people, meta = mediapipe_people(video, cfg, every, None if models is None else models.mediapipe)
    else:
        from imusim_jax.pose.vitpose_people import vitpose_people

        people, meta = vitpose_people(video, cfg, every, models)
    people, dropped = select_people(people, video.info.fps, cfg)
    meta.update(backend=backend, dropped_tracks=dropped)
    return people, meta


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


def video_to_motions(video_path: Union[str, os.PathLike], config: Optional[PoseConfig] = None,
                     models=None) -> VideoMotions:
    """Stage 1: the people in a video and their world motions. Writes nothing.

    Args:
      video_path: a video file (anything OpenCV's FFmpeg backend decodes: mp4, avi, mov, mkv...).
      config: ``PoseConfig`` (default: ``PoseConfig()``).
      models: ``pose.models.PoseModels`` for many videos (models built once, left open; ``track_people``).
    Returns:
      ``VideoMotions``: iterate it for each person's ``PersonMotion`` (none when nobody usable was found: the
      reasons are in ``rejected`` and ``meta['dropped_tracks']``).
    Raises:
      InputError: (one line) bad settings, an unreadable, cut-short or too short video, missing model weights.
    """
    config = PoseConfig() if config is None else config
    config.check()
    video = Video(video_path, start_s=config.start_s, end_s=config.end_s, fps=config.fps)
    info = video.info
    if info.num_frames < MIN_FRAMES:
        raise InputError(f"{os.path.basename(info.path)}: {info.num_frames} frame(s) in range, need at least "
                         f"{MIN_FRAMES} to tell motion")
    tracks, meta = track_people(video, config, models)
    people, rejected = [], []
    for p in tracks:
        try:
            raw, smooth, rep = person_motion(p, info, config, video.times_s)
        except InputError as e:
            rejected.append({"person": p.id, "first_frame": int(p.frames[0] + info.first_frame),
                             "frames": int(len(p.frames)), "why": str(e)})
            continue
        first, n = rep["first_frame"], rep["frames"]
        t0 = info.start_s + (video.times_s[first] if first < len(video.times_s) else first / info.fps)
        assumptions = list(info.warnings) + list(rep["world"].get("assumptions", []))
        if meta.get("assumption"):
            assumptions.append(meta["assumption"])
        if config.smoothing is not None:
            assumptions.append(SMOOTHING_ASSUMPTION)
        people.append(PersonMotion(id=p.id, motion=smooth if smooth is not None else raw, raw=raw,
                                   first_frame=int(first + info.first_frame), t0_s=float(t0),
                                   frame_quality=_frame_quality(p, first, n), assumptions=assumptions,
                                   report=rep, track=p))
    return VideoMotions(video=info, people=people, rejected=rejected, meta=meta)
