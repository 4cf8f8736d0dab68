"""``pose.tracking`` and ``pose.hog``: ids across frames, gap bridging, false positives dropped."""
from __future__ import annotations

import numpy as np
import pytest

from imusim_jax.pose.hog import HogPersonDetector, hog_available, nms
from imusim_jax.pose.tracking import IouTracker, box_iou, interpolate_boxes, track_detections
from imusim_jax.pose.types import Detections


def test_box_iou():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], float)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0, 0.0]])


def _crossing(t=40, gap=range(15, 19), spurious=(7,)):
    """Two people walking past each other (one left to right, one right to left), a detector that misses both
    during ``gap`` and fires once on a wall at frames ``spurious``; detections shuffled in each frame."""
    rng = np.random.default_rng(0)
    dets, truth = {}, []
    for i in range(t):
        a = [20 + 6 * i, 100, 60 + 6 * i, 200]
        b = [300 - 6 * i, 110, 340 - 6 * i, 210]
        truth.append((a, b))
        if i in gap:
            boxes = []
        else:
            boxes = [a, b] + ([[500, 0, 520, 30]] if i in spurious else [])
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        boxes = boxes[rng.permutation(len(boxes))] + rng.normal(0, 0.5, boxes.shape).astype(np.float32)
        dets[i] = Detections(boxes, np.full(len(boxes), 0.9, np.float32))
    return dets, truth


def test_two_people_keep_their_ids_through_a_gap_and_a_crossing():
    dets, truth = _crossing()
    tracks = track_detections(dets, max_gap=6, min_hits=3)
    assert len(tracks) == 2  # the one-frame false positive is dropped
    for tr, who in zip(sorted(tracks, key=lambda t: t.boxes[0, 0]), (0, 1)):
        assert tr.frames[0] == 0 and tr.frames[-1] == 39 and len(tr.frames) == 40
        expect = np.array([truth[i][who] for i in tr.frames], np.float32)
        np.testing.assert_allclose(tr.boxes, expect, atol=2.0)  # bridged frames interpolated
        assert (tr.scores[15:19] == 0).all() and (tr.scores[:15] > 0).all()


def test_long_gap_ends_a_track():
    dets, _ = _crossing(gap=range(15, 30))
    tracks = track_detections(dets, max_gap=5, min_hits=3)
    assert len(tracks) == 4 and sorted(int(t.frames[0]) for t in tracks) == [0, 0, 30, 30]


def test_online_update_returns_ids():
    tr = IouTracker()
    ids0 = tr.update(0, Detections(np.array([[0, 0, 10, 20], [50, 0, 60, 20]], np.float32), np.ones(2)))
    ids1 = tr.update(1, Detections(np.array([[51, 0, 61, 20], [1, 0, 11, 20]], np.float32), np.ones(2)))
    assert list(ids0) == [0, 1] and list(ids1) == [1, 0]


def test_interpolate_boxes():
    out = interpolate_boxes(np.array([0, 4]), np.array([[0, 0, 10, 10], [4, 8, 14, 18]], float), np.arange(5))
    np.testing.assert_allclose(out[2], [2, 4, 12, 14])


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 20], [1, 0, 11, 20], [30, 0, 40, 20]], np.float32)
    assert list(nms(boxes, np.array([0.5, 0.9, 0.7]), 0.4)) == [1, 2]


@pytest.mark.skipif(not hog_available(), reason="this OpenCV build has no HOGDescriptor")
def test_hog_finds_the_astronaut_and_not_a_blank_wall():
    skimage = pytest.importorskip("skimage")
    import cv2

    img = skimage.data.astronaut()  # 512x512, a person from the waist up
    det = HogPersonDetector()
    blank = det(np.full((360, 480, 3), 128, np.uint8))
    assert len(blank) == 0
    small = cv2.resize(img, (256, 256))  # a small frame is upscaled before detection
    assert det.resize_factor(256, 256) == pytest.approx(2.8125)
    d = det(small)
    assert d.boxes.dtype == np.float32 and ((d.scores >= 0) & (d.scores < 1)).all()
    assert (d.boxes[:, 2:] <= 256 + 1e-3).all() and (d.boxes[:, :2] >= 0).all()
