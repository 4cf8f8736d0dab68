"""Multi-person tracking by box overlap: each person keeps an id across frames.

``IouTracker`` is the classic tracking-by-detection loop (as in SORT, Bewley et al., "Simple Online and Realtime
Tracking", ICIP 2016, without its Kalman filter): each active track predicts its box at the new frame (constant
velocity from its last two detections; the overlap used is the larger of the prediction's and the last box's, so
a sudden stop, as a fall's impact, does not break the track), detections are assigned to tracks by the Hungarian
algorithm (``scipy.optimize.linear_sum_assignment``) on ``1 - IoU``, pairs overlapping less than ``iou_min`` are refused,
unmatched detections start new tracks, and a track not matched for more than ``max_gap`` frames ends.

``tracks()`` finishes the job offline: tracks with fewer than ``min_hits`` detections are dropped (a false
positive seldom repeats), and frames a track skipped (missed detections, or frames where the detector did not
run) are bridged by linear interpolation of the box, with score 0 to mark them.

``relink_segments`` joins pieces of tracks that follow one person through a break (the person left the picture
and came back, two people crossed, a track was cut where its pose jumped): pieces that end and start within a
gap are matched by the Hungarian algorithm on where the first piece was heading (a person moves at most a few
body sizes a second) and on their colour histograms (``appearance``: hue and saturation of the person's box,
compared by Bhattacharyya distance; clothes keep their colour when the person turns or the light dims a little).

Boxes are ``(x0, y0, x1, y1)`` pixels (``pose.types``).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from imusim_jax.pose.types import Detections, Track

__all__ = ["IouTracker", "Segment", "appearance", "appearance_distance", "box_iou", "interpolate_boxes",
           "relink_segments", "track_detections"]

HIST_BINS = (8, 8)
"""Hue x saturation bins of ``appearance``."""


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``a`` (N, 4) and ``b`` (M, 4), xyxy: ``(N, M)`` in [0, 1]."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=-1)
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def interpolate_boxes(frames: np.ndarray, boxes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Boxes at frames ``at`` (K,) by linear interpolation of ``boxes`` (n, 4) known at increasing ``frames``
    (n,); held constant outside the known range."""
    return np.stack([np.interp(at, frames, boxes[:, k]) for k in range(4)], axis=-1).astype(np.float32)


@dataclasses.dataclass
class _Active:
    id: int
    frames: list
    boxes: list
    scores: list

    def predict(self, frame: int) -> np.ndarray:
        last = np.asarray(self.boxes[-1], np.float64)
        if len(self.frames) < 2:
            return last
        v = (last - np.asarray(self.boxes[-2], np.float64)) / max(self.frames[-1] - self.frames[-2], 1)
        return last + v * (frame - self.frames[-1])


class IouTracker:
    """Online IoU + Hungarian tracker.

    Args:
      iou_min: least overlap between a track's predicted box and a detection for them to match.
      max_gap: frames a track survives without a match (bridged later by interpolation).
      min_hits: detections a track needs to be reported by ``tracks()``.
    """

    def __init__(self, iou_min: float = 0.25, max_gap: int = 15, min_hits: int = 3):
        self.iou_min, self.max_gap, self.min_hits = iou_min, max_gap, min_hits
        self._active: list[_Active] = []
        self._done: list[_Active] = []
        self._next_id = 0

    def update(self, frame: int, detections: Detections) -> np.ndarray:
        """Assign the detections of ``frame`` (frames must increase): returns their track ids ``(N,)``."""
        ended = [t for t in self._active if frame - t.frames[-1] > self.max_gap]
        self._done += ended
        self._active = [t for t in self._active if frame - t.frames[-1] <= self.max_gap]
        boxes, scores = np.asarray(detections.boxes), np.asarray(detections.scores)
        ids = np.full(len(boxes), -1, int)
        if self._active and len(boxes):
            pred = np.stack([t.predict(frame) for t in self._active])
            last = np.stack([np.asarray(t.boxes[-1], np.float64) for t in self._active])
            iou = np.maximum(box_iou(pred, boxes), box_iou(last, boxes))  # a sudden stop defeats the prediction
            rows, cols = linear_sum_assignment(1.0 - iou)
            for r, c in zip(rows, cols):
                if iou[r, c] >= self.iou_min:
                    t = self._active[r]
                    t.frames.append(frame), t.boxes.append(boxes[c]), t.scores.append(float(scores[c]))
                    ids[c] = t.id
        for c in np.nonzero(ids < 0)[0]:
            t = _Active(self._next_id, [frame], [boxes[c]], [float(scores[c])])
            self._next_id += 1
            self._active.append(t)
            ids[c] = t.id
        return ids

    def tracks(self) -> list[Track]:
        """Tracks with at least ``min_hits`` detections, ordered by first frame, every frame of their span filled
        (bridged frames interpolated, score 0)."""
        out = []
        for t in sorted(self._done + self._active, key=lambda t: (t.frames[0], t.id)):
            if len(t.frames) < self.min_hits:
                continue
            f = np.asarray(t.frames)
            span = np.arange(f[0], f[-1] + 1)
            boxes = interpolate_boxes(f, np.asarray(t.boxes, np.float64), span)
            scores = np.zeros(len(span), np.float32)
            scores[f - f[0]] = t.scores
            out.append(Track(t.id, span, boxes, scores))
        return out


def track_detections(detections: Mapping[int, Detections] | Sequence[Detections], *, iou_min: float = 0.25,
                     max_gap: int = 15, min_hits: int = 3) -> list[Track]:
    """Track per-frame detections offline: ``{frame: Detections}`` (or a list indexed by frame) -> tracks."""
    items = detections.items() if isinstance(detections, Mapping) else enumerate(detections)
    tr = IouTracker(iou_min, max_gap, min_hits)
    for f, d in sorted(items, key=lambda x: x[0]):
        tr.update(int(f), d)
    return tr.tracks()


def appearance(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Colour histogram ``(HIST_BINS[0] * HIST_BINS[1],)`` float32 (sums to 1; zeros for an empty box) of an RGB
    frame's pixels inside ``box`` (4,) xyxy: hue x saturation (``cv2.calcHist`` on HSV), blind to brightness."""
    import cv2

    H, W = frame.shape[:2]
    x0, y0 = (int(np.clip(np.floor(v), 0, m)) for v, m in zip(box[:2], (W, H)))
    x1, y1 = (int(np.clip(np.ceil(v), 0, m)) for v, m in zip(box[2:], (W, H)))
    n = HIST_BINS[0] * HIST_BINS[1]
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros(n, np.float32)
    hsv = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV)
    h = cv2.calcHist([hsv], [0, 1], None, list(HIST_BINS), [0, 180, 0, 256]).reshape(-1)
    return (h / max(float(h.sum()), 1.0)).astype(np.float32)


def appearance_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance in [0, 1] between two ``appearance`` histograms (0: the same colours; 1 when either
    is empty)."""
    import cv2

    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.sum() <= 0 or b.sum() <= 0:
        return 1.0
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


@dataclasses.dataclass
class Segment:
    """A piece of one person's track for ``relink_segments``: its first and last frames, its boxes there (4,)
    xyxy, its box centre's velocity at its end (px/frame, (2,)), at its start (px/frame) and its appearance
    (``appearance`` histogram, or ``None``)."""

    first: int
    last: int
    first_box: np.ndarray
    last_box: np.ndarray
    end_velocity: np.ndarray
    start_velocity: np.ndarray
    hist: Optional[np.ndarray] = None


def relink_segments(segments: Sequence[Segment], fps: float, *, max_gap_s: float = 3.0,
                    max_speed_bodies: float = 3.0, max_appearance: float = 0.5) -> list[list[int]]:
    """Chains of segments (indices into ``segments``, in time order) that follow one person.

    A segment ``j`` may continue ``i`` when it starts after ``i`` ends, within ``max_gap_s``, where ``i`` was
    heading (``i``'s end velocity extrapolated over at most 0.2 s, then still): within ``0.5 +
    max_speed_bodies * gap`` body sizes (the larger box diagonal; gap in seconds), and, when both have a histogram,
    at Bhattacharyya distance at most ``max_appearance``. Among such pairs, one continuation per segment is chosen
    by the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on the sum of the distance in body sizes
    and the appearance distance.
    """
    n = len(segments)
    big = 1e6
    cost = np.full((n, n), big)
    centre = lambda b: (np.asarray(b[:2], np.float64) + np.asarray(b[2:], np.float64)) / 2
    diag = lambda b: float(np.linalg.norm(np.asarray(b[2:], np.float64) - np.asarray(b[:2], np.float64)))
    for i, a in enumerate(segments):
        for j, b in enumerate(segments):
            gap = b.first - a.last
            if i == j or gap <= 0 or gap > max_gap_s * fps:
                continue
            ahead = min(gap, int(round(0.2 * fps)))
            pred = centre(a.last_box) + np.asarray(a.end_velocity, np.float64) * ahead
            size = max(diag(a.last_box), diag(b.first_box), 1.0)
            d = float(np.linalg.norm(centre(b.first_box) - pred)) / size
            if d > 0.5 + max_speed_bodies * gap / fps:
                continue
            app = 0.0
            if a.hist is not None and b.hist is not None:
                app = appearance_distance(a.hist, b.hist)
                if app > max_appearance:
                    continue
            cost[i, j] = d + app
    nxt = {}
    if n:
        rows, cols = linear_sum_assignment(cost)
        nxt = {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] < big}
    heads = sorted(set(range(n)) - set(nxt.values()), key=lambda k: segments[k].first)
    chains = []
    for h in heads:
        chain = [h]
        while chain[-1] in nxt:
            chain.append(nxt[chain[-1]])
        chains.append(chain)
    return chains
