"""Moving people in a static camera's video: person boxes from background subtraction (OpenCV, no weights).

Fall-detection and CCTV cameras do not move, so whatever moves is, most often, a person: a blurred person
diving onto a bed, whom neither HOG (upright pedestrians) nor BlazePose's own detector finds, is still a blob of
changed pixels. The background is the per-pixel temporal median of frames spread over the clip (a person who is
somewhere for less than half of those frames leaves no trace in it). A frame's foreground is where its
blurred colours differ from the background's by more than ``level`` (0-255, brightest channel); blobs are closed
(dilated by ``2 %`` of the frame's short side, so a person cut in two by a matching background stays one blob),
and their boxes become person proposals. Every proposal is checked by the pose model before it counts.

When the median frame differs from most frames in more than ``max_moving_frac`` of its pixels, the camera moves
(or the light changes): no background model, no proposals (``ForegroundBoxes.static`` is False).
"""
from __future__ import annotations

import cv2
import numpy as np

from imusim_jax.pose.types import Detections

__all__ = ["ForegroundBoxes"]


class ForegroundBoxes:
    """Person proposals from a median background.

    Args:
      samples: ``(N, H, W, 3)`` uint8 frames spread over the clip (``pose.video.Video.samples``).
      level: colour difference (0-255) above which a pixel is foreground.
      min_area_frac: smallest blob, as a fraction of the frame area.
      max_moving_frac: median foreground fraction of the samples above which the camera is deemed to move.
    """

    def __init__(self, samples: np.ndarray, *, level: int = 30, min_area_frac: float = 0.002,
                 max_moving_frac: float = 0.2):
        s = np.asarray(samples)
        self.level, self.H, self.W = level, s.shape[1], s.shape[2]
        self.min_area = min_area_frac * self.H * self.W
        k = max(3, int(0.02 * min(self.H, self.W)) | 1)
        self._kernel = np.ones((k, k), np.uint8)
        self.background = self._blur(np.median(s, axis=0).astype(np.uint8)) if len(s) >= 5 else None
        self.static = False
        if self.background is not None:
            frac = np.median([self.mask(f, close=False).mean() for f in s])
            self.static = bool(frac <= max_moving_frac)
            self.moving_frac = float(frac)

    @staticmethod
    def _blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (5, 5), 0)

    def mask(self, frame: np.ndarray, close: bool = True) -> np.ndarray:
        """Foreground mask ``(H, W)`` uint8 (1 = moving) of an RGB frame."""
        d = cv2.absdiff(self._blur(frame), self.background).max(axis=2)
        m = (d > self.level).astype(np.uint8)
        if close:
            m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
            m = cv2.dilate(m, self._kernel)
        return m

    def __call__(self, frame: np.ndarray) -> Detections:
        """Boxes (xyxy pixels) of the moving blobs of ``frame``; score = the blob's filled fraction of its box."""
        if not self.static:
            return Detections.empty()
        n, _, stats, _ = cv2.connectedComponentsWithStats(self.mask(frame))
        boxes, scores = [], []
        for x, y, w, h, area in stats[1:]:
            if area >= self.min_area:
                boxes.append([x, y, x + w, y + h])
                scores.append(area / float(w * h))
        if not boxes:
            return Detections.empty()
        return Detections(np.asarray(boxes, np.float32), np.asarray(scores, np.float32))
