"""Person detector: YOLOX letterbox and grid decoding, people found where they are drawn, batching, bad input."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from imusim_jax._motion import InputError
from imusim_jax.pose.detector import OnnxPersonDetector, letterbox, yolox_grid


def test_letterbox_known_answer():
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[10, 20] = (255, 0, 0)  # red in RGB
    x, r = letterbox(frame, (640, 640))
    assert x.shape == (3, 640, 640) and x.dtype == np.float32 and r == 2.0
    assert np.all(x[:, 480:, :] == 114) and np.all(x[:, :480, :] != 114)  # grey below the 640 x 480 image
    assert x[2, 21, 41] > 100 and x[0, 21, 41] == 0  # BGR: red lands in channel 2, at (x, y) * r
    x_rgb, _ = letterbox(frame, (640, 640), bgr=False)
    assert x_rgb[0, 21, 41] > 100


def test_yolox_grid_order():
    grid, strides = yolox_grid((640, 640))
    assert grid.shape == (8400, 2) and strides.shape == (8400, 1)
    np.testing.assert_array_equal(grid[:3], [[0, 0], [1, 0], [2, 0]])  # x fastest, as demo_postprocess
    np.testing.assert_array_equal(grid[80], [0, 1])
    assert strides[6399, 0] == 8 and strides[6400, 0] == 16 and strides[-1, 0] == 32
    assert len(yolox_grid((416, 416))[0]) == 3549


def test_finds_a_person_where_drawn(tiny, scene):
    det = OnnxPersonDetector(tiny["detector_tiny"])
    d = det(scene(rects=[(200, 100, 320, 400)]))
    assert len(d) == 1
    np.testing.assert_allclose(d.boxes[0], [200, 100, 320, 400], atol=1.0)
    assert d.boxes.dtype == np.float32 and 0.5 < d.scores[0] <= 1.0


def test_finds_two_people_in_a_wide_frame(tiny, scene):
    """r = 0.64: boxes are mapped back from the letterboxed 640 x 230 image."""
    rects = [(100, 60, 220, 330), (600, 40, 740, 350)]
    img = scene(h=360, w=1000, rects=rects)
    d = OnnxPersonDetector(tiny["detector_tiny"])(img)
    assert len(d) == 2
    found = d.boxes[np.argsort(d.boxes[:, 0])]
    np.testing.assert_allclose(found, rects, atol=2.5)


def test_a_red_ellipse_gives_one_box(tiny):
    img = np.full((480, 640, 3), 30, np.uint8)
    cv2.ellipse(img, (300, 240), (50, 150), 0, 0, 360, (255, 0, 0), -1)
    d = OnnxPersonDetector(tiny["detector_tiny"])(img)
    assert len(d) == 1
    np.testing.assert_allclose(d.boxes[0], [250, 90, 351, 391], atol=3.0)


def test_ignores_other_colours(tiny, scene):
    """Blue is not red: also checks the RGB -> BGR conversion (swapped, blue would look red to the model)."""
    det = OnnxPersonDetector(tiny["detector_tiny"])
    assert len(det(scene(rects=[(200, 100, 320, 400)], colour=(0, 0, 255)))) == 0
    assert len(det(scene(rects=[(200, 100, 320, 400)], colour=(230, 170, 130)))) == 0  # skin tone
    assert len(det(scene(rects=[]))) == 0


def test_static_batch_model_of_another_size(tiny, scene):
    det = OnnxPersonDetector(tiny["detector_tiny_static"])
    assert det.input_size == (416, 416) and det.batch_size == 1
    rects = [(100, 60, 220, 330), (400, 80, 500, 400)]
    frames = [scene(rects=rects), scene(rects=rects[:1])]
    out = det.run_on_frames(frames)
    assert [len(o) for o in out] == [2, 1]
    np.testing.assert_allclose(out[0].boxes[np.argsort(out[0].boxes[:, 0])], rects, atol=2.5)
    assert det.model.run_calls == 2


def test_batched_frames_equal_single_frames(tiny, scene):
    frames = np.stack([scene(rects=[(40 + 60 * i, 100, 140 + 60 * i, 380)]) for i in range(5)])
    det = OnnxPersonDetector(tiny["detector_tiny"], batch_size=2)
    out = det.run_on_frames(frames)
    assert det.model.run_calls == 3
    for f, o in zip(frames, out):
        ref = OnnxPersonDetector(tiny["detector_tiny"])(f)
        np.testing.assert_allclose(o.boxes, ref.boxes, atol=1e-4)
        np.testing.assert_allclose(o.scores, ref.scores, atol=1e-6)


def test_thresholds_and_max_people(tiny, scene):
    img = scene(rects=[(100, 60, 220, 330), (400, 80, 500, 400)])
    assert len(OnnxPersonDetector(tiny["detector_tiny"], score_threshold=0.999)(img)) == 0
    d = OnnxPersonDetector(tiny["detector_tiny"], max_people=1)(img)
    assert len(d) == 1
    both = OnnxPersonDetector(tiny["detector_tiny"])(img)
    assert d.scores[0] == both.scores.max() and np.all(np.diff(both.scores) <= 0)


def test_bad_input_is_a_clear_error(tiny, scene):
    det = OnnxPersonDetector(tiny["detector_tiny"])
    with pytest.raises(InputError, match="RGB uint8"):
        det(scene()[..., 0])
    with pytest.raises(InputError, match="does not look like"):
        OnnxPersonDetector(tiny["vitpose_tiny"])
    with pytest.raises(InputError, match="contradicts"):
        OnnxPersonDetector(tiny["detector_tiny_static"], input_size=(640, 640))
    with pytest.raises(InputError, match="score_threshold"):
        OnnxPersonDetector(tiny["detector_tiny"], score_threshold=2.0)
