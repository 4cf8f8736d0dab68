"""OpenCV's built-in pedestrian detector: person boxes with no download.

``cv2.HOGDescriptor_getDefaultPeopleDetector()`` is a linear SVM on histograms of oriented gradients (Dalal and
Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005), trained on upright INRIA pedestrians.
It ships in every OpenCV 4 build and, in OpenCV 5, only in ``opencv-contrib-python`` (which the MediaPipe extra
pulls in). Its window is 64x128 pixels (a person about 96 pixels tall inside it), so the frame is resized to a
short side of ``target_short_side`` pixels first: a 480x360 CCTV frame is upscaled 2x, and people down to about
60 pixels tall in the original are found. It finds upright people (standing, walking, fighting on their feet),
not people lying down: callers follow those with the pose itself (``pose.mediapipe_people``).

Scores: the SVM margin ``w`` (>= 0 for a detection) is mapped to ``w / (1 + w)`` in [0, 1); overlapping boxes are
merged by non-maximum suppression (``cv2.dnn.NMSBoxes``).
"""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from imusim_jax._motion import InputError
from imusim_jax.pose.types import Detections

__all__ = ["HogPersonDetector", "hog_available", "nms"]


def hog_available() -> bool:
    """Whether this OpenCV build carries the HOG people detector (OpenCV 4, or OpenCV 5 contrib)."""
    return hasattr(cv2, "HOGDescriptor") and hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector")


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, min_score: float = 0.0) -> np.ndarray:
    """Indices of the boxes kept by non-maximum suppression (``boxes`` (N, 4) xyxy, ``scores`` (N,)), best first."""
    if len(boxes) == 0:
        return np.zeros((0,), int)
    xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float64).tolist()
    keep = cv2.dnn.NMSBoxes(xywh, np.asarray(scores, np.float64).tolist(), float(min_score), float(iou))
    keep = np.asarray(keep, int).reshape(-1)
    return keep[np.argsort(-np.asarray(scores)[keep], kind="stable")]


class HogPersonDetector:
    """Person boxes from OpenCV's HOG pedestrian detector (``PersonDetector`` protocol of ``pose.types``).

    Args:
      target_short_side: the frame is resized so its short side has this many pixels (factor clipped to
        ``[0.5, max_upscale]``).
      max_upscale: largest resize factor.
      scale_step: ratio between pyramid levels (1.05 finds more, 1.1 is twice as fast).
      win_stride: window stride in pixels of the resized frame (a multiple of 8).
      min_score: detections scoring below (score ``w / (1 + w)`` of the SVM margin ``w``) are dropped.
      nms_iou: overlap above which the weaker of two boxes is suppressed.
    """

    def __init__(self, *, target_short_side: int = 720, max_upscale: float = 3.0, scale_step: float = 1.08,
                 win_stride: int = 8, min_score: float = 0.3, nms_iou: float = 0.45):
        if not hog_available():
            raise InputError("this OpenCV build lacks HOGDescriptor (OpenCV 5 has it only in opencv-contrib-python:"
                             " pip install 'imusim-jax[mediapipe]')")
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.target_short_side, self.max_upscale = target_short_side, max_upscale
        self.scale_step, self.win_stride = scale_step, win_stride
        self.min_score, self.nms_iou = min_score, nms_iou

    def resize_factor(self, height: int, width: int) -> float:
        """Factor applied to a ``height`` x ``width`` frame before detection."""
        return float(np.clip(self.target_short_side / min(height, width), 0.5, self.max_upscale))

    def __call__(self, frame: np.ndarray, roi: Optional[tuple[int, int, int, int]] = None) -> Detections:
        """Detect people in an RGB ``(H, W, 3)`` uint8 frame; boxes (N, 4) xyxy in the frame's pixels."""
        H, W = frame.shape[:2]
        f = self.resize_factor(H, W)
        img = cv2.resize(frame, (round(W * f), round(H * f)), interpolation=cv2.INTER_LINEAR) if f != 1 else frame
        gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        s = self.win_stride
        rects, weights = self.hog.detectMultiScale(gray, hitThreshold=0.0, winStride=(s, s), padding=(8, 8),
                                                   scale=self.scale_step, groupThreshold=0)
        if len(rects) == 0:
            return Detections.empty()
        rects = np.asarray(rects, np.float32).reshape(-1, 4)
        w = np.asarray(weights, np.float32).reshape(-1)
        boxes = np.column_stack([rects[:, :2], rects[:, :2] + rects[:, 2:]]) / f
        scores = w / (1.0 + np.maximum(w, 0.0))
        keep = nms(boxes, scores, self.nms_iou, self.min_score)
        boxes = np.clip(boxes[keep], 0, [W, H, W, H]).astype(np.float32)
        return Detections(boxes, scores[keep].astype(np.float32))
