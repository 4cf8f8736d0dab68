"""Stage 1 settings (``PoseConfig``) and the choice of pose backend (``BACKENDS``, ``default_backend``).

Only what turns a video into per-person ``Motion``s is set here; the IMU simulation's options (mount, rate,
noise...) belong to the workflow that simulates them (``imusim_jax.workflows.video2imu.Video2ImuConfig``).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from imusim_jax._errors import InputError
from imusim_jax.pose.smoothing import SmoothingConfig

__all__ = ["BACKENDS", "SCHEDULES", "PoseConfig", "default_backend", "resolve_backend"]

BACKENDS = ("mediapipe", "vitpose")
SCHEDULES = ("people", "candidates")
"""``PoseConfig.schedule`` values (``pose.mediapipe_people``)."""


def default_backend() -> str:
    """``mediapipe`` when its extra is installed, else ``vitpose``."""
    from imusim_jax.pose.mediapipe_backend import mediapipe_available

    return "mediapipe" if mediapipe_available() else "vitpose"


def resolve_backend(pose: str) -> str:
    """The backend ``pose`` names (``auto``: ``default_backend``); ``InputError`` for an unknown name."""
    backend = default_backend() if pose == "auto" else pose
    if backend not in BACKENDS:
        raise InputError(f"--pose must be one of {', '.join(BACKENDS)}, got {pose!r}")
    return backend


@dataclasses.dataclass(frozen=True)
class PoseConfig:
    """Settings of Stage 1 (``imusim_jax.pose.video_to_motions``): video -> per-person world ``Motion``.

    Attributes:
      pose: ``mediapipe``, ``vitpose`` or ``auto`` (``default_backend``).
      start_s, end_s, fps: time range and frame-rate override (``pose.video.Video``).
      max_people: keep at most this many people (those seen longest); ``None``: all.
      subject_height_m, focal_px, gravity: ``pose.world.WorldConfig``.
      smoothing: ``pose.smoothing.SmoothingConfig``; ``None`` skips smoothing (the raw pose, for comparison).
      detect_hz: how often (per second of video) people are detected; tracks bridge the frames between.
      max_jitter: a track is a person when the pose model followed one for 0.25 s without a break and its
        keypoints jitter by at most this fraction of the body's size per frame (``pose.selection.pose_jitter``).
      landmark_error: a pose model's landmark error as a fraction of the stature of a person who fills its input
        (``pose.measurement_noise.landmark_noise``: the posture noise floor, larger for people small in the
        picture).
      depth_error: how well a person's apparent size tells their distance, as a fraction of it, for a person who
        fills the pose model's input (``pose.measurement_noise.root_noise``: the root's along-sight noise floor).
      schedule: how the ``mediapipe`` backend spends its pose model (``pose.mediapipe_people``): ``people`` (cost
        grows with the people in the picture: one shared BlazePose graph, candidates nobody follows searched
        ``search_hz`` times a second and not where a followed person already is, duplicate followers stopped,
        the frames before each acquisition recovered backward) or ``candidates`` (the earlier schedule: every
        candidate track searched every frame with its own graphs; kept for comparison).
      hog_hz: how often (per second of video) the HOG pedestrian detector runs in the ``people`` schedule (it
        costs about ten pose-model calls a frame; the whole-frame BlazePose and the moving blobs keep their rates).
      search_hz: how often (per second of video) a candidate track nobody follows is searched for a person in the
        ``people`` schedule.
      relink: cut each candidate track where its pose jumps and join the pieces of all tracks into one track per
        person by position and colour (``pose.selection.relink``), before the tracks are judged.
      max_jump_bodies_per_s: a pose's box centre moving faster than this many body sizes a second between two
        frames (plus 0.1 body) is a jump (``pose.selection.split_at_jumps``).
      relink_gap_s: longest break (s) across which two pieces can be joined (``pose.tracking.relink_segments``).
      relink_max_appearance: largest colour-histogram distance (Bhattacharyya, 0-1) of two pieces joined.
      device: ``auto``, ``cpu`` or ``cuda`` (ONNX models).
      detector, pose2d, lifter: ONNX model names or paths (``vitpose`` backend).
      progress: show progress bars (stderr).
    """

    pose: str = "auto"
    start_s: Optional[float] = None
    end_s: Optional[float] = None
    fps: Optional[float] = None
    max_people: Optional[int] = None
    subject_height_m: float = 1.70
    focal_px: Optional[float] = None
    gravity: str = "upright"
    smoothing: Optional[SmoothingConfig] = SmoothingConfig()  # noqa: RUF009 - frozen, shared safely
    detect_hz: float = 10.0
    max_jitter: float = 0.1
    landmark_error: float = 0.005
    depth_error: float = 0.1
    schedule: str = "candidates"
    hog_hz: float = 5.0
    search_hz: float = 5.0
    relink: bool = False
    max_jump_bodies_per_s: float = 6.0
    relink_gap_s: float = 3.0
    relink_max_appearance: float = 0.5
    device: str = "auto"
    detector: str = "yolox-s"
    pose2d: str = "vitpose-b"
    lifter: str = "videopose3d-243"
    progress: bool = True

    def check(self) -> str:
        """Check the settings that can be checked before any decoding; returns the backend to use
        (``resolve_backend``). Raises ``InputError`` (one line) for a bad value."""
        backend = resolve_backend(self.pose)
        if self.max_people is not None and self.max_people < 1:
            raise InputError(f"--max-people must be at least 1, got {self.max_people}")
        if not self.detect_hz > 0:
            raise InputError(f"detect_hz must be a positive rate (Hz), got {self.detect_hz}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        for name in ("hog_hz", "search_hz"):
            if not getattr(self, name) > 0:
                raise InputError(f"{name} must be a positive rate (Hz), got {getattr(self, name)}")
        return backend
