"""ViTPose runner: crops, UDP/DARK decoding, flip test, (y, x) output order, batching, bad input."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from imusim_jax._motion import InputError
from imusim_jax.pose.vitpose import (COCO_FLIP_PAIRS, VitPose, apply_affine, box_to_center_size, crop_affine,
                                     decode_heatmaps, flip_back)

# A red rectangle filling img[120:300, 200:300] and a 3:4 box around it that makes the crop scale ~1 with an
# integer offset (255 / (204 * 1.25) = 1 vertically, 191 / 191.25 horizontally): the tiny model's mask moments
# are then exact, so keypoints have a known answer to a few hundredths of a pixel.
RECT = (200, 120, 300, 300)
BOX = np.array([[249.5 - 76.5, 209.5 - 102.0, 249.5 + 76.5, 209.5 + 102.0]])


def rect_keypoints(export_tiny, rect=RECT) -> np.ndarray:
    """Expected tiny-ViTPose keypoints (17, 2) for a red rectangle filling img[y0:y1, x0:x1] (pixel centres)."""
    return export_tiny.expected_keypoints(rect)


def gaussian_heatmaps(peaks: np.ndarray, h: int = 64, w: int = 48, sigma: float = 2.0) -> np.ndarray:
    """Heatmaps (N, K, h, w) with one Gaussian each at ``peaks`` (N, K, 2) given as (x, y) cells."""
    ys, xs = np.mgrid[:h, :w]
    d2 = (xs - peaks[..., 0, None, None]) ** 2 + (ys - peaks[..., 1, None, None]) ** 2
    return np.exp(-d2 / (2 * sigma ** 2)).astype(np.float32)


def test_decode_recovers_subpixel_gaussian_peaks():
    rng = np.random.default_rng(0)
    peaks = np.stack([rng.uniform(6, 41, (5, 17)), rng.uniform(6, 57, (5, 17))], -1)
    coords, vals = decode_heatmaps(gaussian_heatmaps(peaks) * 0.9)
    assert coords.shape == (5, 17, 2) and vals.shape == (5, 17)
    np.testing.assert_allclose(coords, peaks, atol=0.05)
    assert np.all((vals > 0.8) & (vals <= 0.9 + 1e-6))


def test_decode_order_is_x_then_y():
    peaks = np.array([[[10.3, 40.7]]])  # x = 10.3 (of 48), y = 40.7 (of 64)
    coords, _ = decode_heatmaps(gaussian_heatmaps(peaks))
    np.testing.assert_allclose(coords[0, 0], [10.3, 40.7], atol=0.05)


def test_decode_without_refinement_is_integer_argmax():
    coords, _ = decode_heatmaps(gaussian_heatmaps(np.array([[[20.4, 30.6]]])), blur_kernel=None)
    np.testing.assert_array_equal(coords[0, 0], [20.0, 31.0])


def test_decode_refinement_beats_argmax_by_a_wide_margin():
    rng = np.random.default_rng(1)
    peaks = np.stack([rng.uniform(8, 40, (1, 200)), rng.uniform(8, 56, (1, 200))], -1)
    hm = gaussian_heatmaps(peaks)
    fine = np.abs(decode_heatmaps(hm)[0] - peaks).max()
    coarse = np.abs(decode_heatmaps(hm, blur_kernel=None)[0] - peaks).max()
    assert fine < 0.05 < 0.3 < coarse


def _post_dark_udp_reference(hm: np.ndarray, kernel: int = 11) -> np.ndarray:
    """mmpose 0.x ``_get_max_preds`` + ``post_dark_udp`` as published (full blur, edge pad, flat-index gathers)."""
    hm = hm.copy()
    n, k, h, w = hm.shape
    idx = hm.reshape(n, k, -1).argmax(-1)
    coords = np.stack([idx % w, idx // w], -1).astype(np.float64)
    for maps in hm:
        for m in maps:
            cv2.GaussianBlur(m, (kernel, kernel), 0, m)
    np.clip(hm, 0.001, 50, hm)
    np.log(hm, hm)
    pad = np.pad(hm, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="edge").flatten()
    index = coords[..., 0] + 1 + (coords[..., 1] + 1) * (w + 2)
    index = (index + (w + 2) * (h + 2) * np.arange(n * k).reshape(-1, k)).astype(int).reshape(-1, 1)
    i_, ix1, iy1, ix1y1 = pad[index], pad[index + 1], pad[index + w + 2], pad[index + w + 3]
    ix1_y1_, ix1_, iy1_ = pad[index - w - 3], pad[index - 1], pad[index - 2 - w]
    der = np.concatenate([0.5 * (ix1 - ix1_), 0.5 * (iy1 - iy1_)], 1).reshape(n, k, 2, 1)
    dxx, dyy = ix1 - 2 * i_ + ix1_, iy1 - 2 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    hess = np.concatenate([dxx, dxy, dxy, dyy], 1).reshape(n, k, 2, 2)
    hess = np.linalg.inv(hess + np.finfo(np.float32).eps * np.eye(2))
    return coords - np.einsum("ijmn,ijnk->ijmk", hess, der)[..., 0]


def test_decode_matches_mmpose_post_dark_udp_also_at_borders():
    rng = np.random.default_rng(3)
    peaks = np.stack([rng.uniform(-1, 48, (6, 17)), rng.uniform(-1, 64, (6, 17))], -1)  # some at or past edges
    hm = gaussian_heatmaps(peaks) + 0.2 * rng.random((6, 17, 64, 48)).astype(np.float32) ** 4
    np.testing.assert_allclose(decode_heatmaps(hm)[0], _post_dark_udp_reference(hm), atol=1e-3)


def test_box_to_center_size_known_answer():
    c, s = box_to_center_size(np.array([[10, 20, 110, 420]]))  # w 100, h 400 -> widened to 300 (3:4), x1.25
    np.testing.assert_allclose(c, [[60, 220]])
    np.testing.assert_allclose(s, [[375, 500]])
    c, s = box_to_center_size(np.array([[0, 0, 400, 100]]))  # wide box: height grows to 400 / 0.75
    np.testing.assert_allclose(s, [[500, 400 / 0.75 * 1.25]])


def test_crop_affine_udp_corners_and_round_trip():
    rng = np.random.default_rng(2)
    x0, y0 = rng.uniform(0, 500, (2, 8))
    boxes = np.stack([x0, y0, x0 + rng.uniform(10, 300, 8), y0 + rng.uniform(10, 300, 8)], 1)
    c, s = box_to_center_size(boxes)
    m = crop_affine(c, s, (192, 256))
    corners = np.stack([c - s / 2, c + s / 2], 1)  # (N, 2, 2)
    np.testing.assert_allclose(apply_affine(m, corners), np.broadcast_to([[0, 0], [191, 255]], (8, 2, 2)),
                               atol=1e-9)
    pts = rng.uniform(-100, 800, (8, 17, 2))
    inv = np.stack([cv2.invertAffineTransform(a) for a in m])
    np.testing.assert_allclose(apply_affine(inv, apply_affine(m, pts)), pts, atol=1e-8)


def test_warp_matches_the_affine_at_pixel_centres():
    """cv2.warpAffine with our matrix puts a frame pixel's content where apply_affine says (OpenCV centres)."""
    ys, xs = np.mgrid[:480, :640]
    frame = np.exp(-((xs - 311.0) ** 2 + (ys - 237.0) ** 2) / (2 * 8.0 ** 2)).astype(np.float32)  # blob at (311, 237)
    c, s = box_to_center_size(np.array([[250.0, 150.0, 380.0, 330.0]]))
    m = crop_affine(c, s, (192, 256))
    crop = cv2.warpAffine(frame, m[0], (192, 256), flags=cv2.INTER_LINEAR).astype(float)
    ys, xs = np.mgrid[:256, :192]
    centroid = np.array([(crop * xs).sum(), (crop * ys).sum()]) / crop.sum()
    np.testing.assert_allclose(centroid, apply_affine(m, np.array([[[311.0, 237.0]]]))[0, 0], atol=0.05)


def test_flip_back_mirrors_and_swaps_left_right():
    peaks = np.full((1, 17, 2), 24.0)
    peaks[0, 5] = [10.0, 20.0]  # left_shoulder in the flipped crop
    hm = gaussian_heatmaps(peaks)
    back = flip_back(hm)
    coords, _ = decode_heatmaps(back)
    np.testing.assert_allclose(coords[0, 6], [47 - 10.0, 20.0], atol=0.05)  # now right_shoulder, mirrored
    np.testing.assert_allclose(coords[0, 5], [47 - 24.0, 24.0], atol=0.05)
    assert dict(COCO_FLIP_PAIRS)[5] == 6


def test_tiny_vitpose_known_keypoints(tiny, export_tiny, scene):
    img = scene(rects=[RECT])
    kp = VitPose(tiny["vitpose_tiny"])(img, BOX)
    assert kp.shape == (1, 17, 3) and kp.dtype == np.float32
    np.testing.assert_allclose(kp[0, :, :2], rect_keypoints(export_tiny), atol=0.1)
    assert np.all(kp[0, :, 2] > 0.8) and np.all(kp[0, :, 2] <= 1.0)
    # left joints (odd COCO indices) on the image right of their right partners: a person facing the camera
    assert np.all(kp[0, 1::2, 0] > kp[0, 2::2, 0])


def test_keypoints_follow_a_loose_box(tiny, export_tiny, scene):
    """With a detector-like box the crop is not pixel-aligned: keypoints within about one crop pixel."""
    img = scene(rects=[RECT])
    kp = VitPose(tiny["vitpose_tiny"])(img, np.array([[190.0, 105.0, 315.0, 318.0]]))
    np.testing.assert_allclose(kp[0, :, :2], rect_keypoints(export_tiny), atol=1.5)


def test_no_red_gives_low_confidence(tiny, scene):
    kp = VitPose(tiny["vitpose_tiny"])(scene(rects=[]), BOX)
    assert np.all(kp[0, :, 2] < 0.05)


def test_flip_test_keeps_left_and_right(tiny, export_tiny, scene):
    img = scene(rects=[RECT])
    plain = VitPose(tiny["vitpose_tiny"])(img, BOX)
    flipped = VitPose(tiny["vitpose_tiny"], flip_test=True)(img, BOX)
    np.testing.assert_allclose(flipped[..., :2], plain[..., :2], atol=0.05)
    np.testing.assert_allclose(flipped[0, :, :2], rect_keypoints(export_tiny), atol=0.1)


def test_keypoint_output_in_y_x_order(tiny, scene):
    img = scene(rects=[RECT])
    ref = VitPose(tiny["vitpose_tiny"])(img, BOX)
    yx = VitPose(tiny["vitpose_tiny_yx"], output_layout="keypoints_yx")(img, BOX)
    np.testing.assert_allclose(yx[..., :2], ref[..., :2], atol=0.1)
    np.testing.assert_allclose(yx[..., 2], ref[..., 2], atol=0.05)
    misread = VitPose(tiny["vitpose_tiny_yx"], output_layout="keypoints_xy")(img, BOX)
    assert np.abs(misread[..., :2] - ref[..., :2]).max() > 20.0
    flip = VitPose(tiny["vitpose_tiny_yx"], output_layout="keypoints_yx", flip_test=True)(img, BOX)
    np.testing.assert_allclose(flip[..., :2], ref[..., :2], atol=0.1)


def test_run_on_frames_batches_across_frames(tiny, scene):
    frames = [scene(rects=[RECT]), scene(rects=[]), scene(rects=[(400, 150, 480, 330), RECT])]
    boxes = [BOX, np.zeros((0, 4)), np.array([[380.0, 130.0, 500.0, 350.0], BOX[0]])]
    vp = VitPose(tiny["vitpose_tiny"], batch_size=2)
    out = vp.run_on_frames(frames, boxes)
    assert [o.shape for o in out] == [(1, 17, 3), (0, 17, 3), (2, 17, 3)]
    single = VitPose(tiny["vitpose_tiny"], batch_size=1)
    for f, b, o in zip(frames, boxes, out):
        np.testing.assert_allclose(single(f, b), o, atol=1e-5)
    assert vp.model.run_calls == 2  # 3 crops in batches of 2
    assert vp.run_on_frames([], []) == []


def test_bad_input_is_a_clear_error(tiny, scene):
    vp = VitPose(tiny["vitpose_tiny"])
    with pytest.raises(InputError, match="x1 > x0"):
        vp(scene(), np.array([[100.0, 100.0, 90.0, 200.0]]))
    with pytest.raises(InputError, match="RGB uint8"):
        vp(scene().astype(np.float32), BOX)
    with pytest.raises(InputError, match=r"\(N, 4\)"):
        vp(scene(), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(InputError, match="output_layout"):
        VitPose(tiny["vitpose_tiny"], output_layout="yx")
    with pytest.raises(InputError, match="output_layout='keypoints_yx'"):
        VitPose(tiny["vitpose_tiny_yx"])
    with pytest.raises(InputError, match="does not look like"):
        VitPose(tiny["videopose3d_tiny"])
