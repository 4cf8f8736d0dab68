"""VideoPose3D runner: normalisation, receptive field and edge padding, seamless chunks, flip augmentation."""
from __future__ import annotations

import numpy as np
import pytest

from imusim_jax._joints import COCO17, H36M17, conversion_matrix
from imusim_jax._motion import InputError
from imusim_jax.pose._onnx import OnnxModel
from imusim_jax.pose.lifter import (JOINTS_LEFT, JOINTS_RIGHT, KPS_LEFT, KPS_RIGHT, VideoPose3D,
                                    normalize_screen_coordinates)

W, H = 640, 480


def track(t: int, seed: int = 0) -> np.ndarray:
    """A wandering COCO-17 track (t, 17, 3) in pixels with confidences."""
    rng = np.random.default_rng(seed)
    xy = np.array([320.0, 240.0]) + np.cumsum(rng.normal(0, 2.0, (t, 17, 2)), 0) + rng.normal(0, 40, (1, 17, 2))
    return np.concatenate([xy, rng.uniform(0.5, 1, (t, 17, 1))], -1)


def test_normalize_screen_coordinates_known_answer():
    x = np.array([[0.0, 0.0], [640.0, 480.0], [320.0, 240.0]])
    np.testing.assert_allclose(normalize_screen_coordinates(x, 640, 480), [[-1, -0.75], [1, 0.75], [0, 0]])


def test_joint_symmetry_lists_match_the_named_joint_sets():
    for left, right, js in ((KPS_LEFT, KPS_RIGHT, COCO17), (JOINTS_LEFT, JOINTS_RIGHT, H36M17)):
        for a, b in zip(left, right):
            assert js.joints[a].startswith("left_") and js.joints[b] == "right_" + js.joints[a][5:]


@pytest.mark.parametrize("t", [1, 5, 27, 100])
def test_one_output_per_input_frame(tiny, t):
    lifter = VideoPose3D(tiny["videopose3d_tiny"])
    out = lifter(track(t), W, H)
    assert lifter.receptive_field == 27 and lifter.pad == 13
    assert out.shape == (t, 17, 3) and out.dtype == np.float32 and np.isfinite(out).all()


def test_edge_padding_matches_a_direct_session_run(tiny):
    """The runner equals the raw model on the clip normalised and padded by repeating its end frames."""
    kp = track(60)
    out = VideoPose3D(tiny["videopose3d_tiny"], root_relative=False)(kp, W, H)
    x = normalize_screen_coordinates(kp[..., :2], W, H).astype(np.float32)
    xp = np.pad(x, ((13, 13), (0, 0), (0, 0)), mode="edge")[None]
    ref = OnnxModel(tiny["videopose3d_tiny"]).run({"keypoints": xp})[0][0]
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_receptive_field_is_27_frames(tiny):
    kp = track(80)
    lifter = VideoPose3D(tiny["videopose3d_tiny"])
    a = lifter(kp, W, H)
    kp2 = kp.copy()
    kp2[40, :, :2] += 25.0
    changed = np.flatnonzero(np.abs(lifter(kp2, W, H) - a).max(axis=(1, 2)) > 1e-7)
    np.testing.assert_array_equal(changed, np.arange(40 - 13, 40 + 14))


def test_chunked_equals_unchunked(tiny):
    kp = track(300, seed=3)
    whole = VideoPose3D(tiny["videopose3d_tiny"], chunk_size=10_000)(kp, W, H)
    for chunk, batch in ((37, 2), (64, 16), (299, 1)):
        lifter = VideoPose3D(tiny["videopose3d_tiny"], chunk_size=chunk, batch_size=batch)
        np.testing.assert_allclose(lifter(kp, W, H), whole, atol=1e-5)
    flipped = VideoPose3D(tiny["videopose3d_tiny"], flip_augment=True, chunk_size=10_000)(kp, W, H)
    chunked = VideoPose3D(tiny["videopose3d_tiny"], flip_augment=True, chunk_size=41, batch_size=3)(kp, W, H)
    np.testing.assert_allclose(chunked, flipped, atol=1e-5)


def test_static_time_axis_gives_the_receptive_field(tiny):
    static = VideoPose3D(tiny["videopose3d_tiny_static"])
    assert "receptive_field" not in static.model.metadata
    assert static.receptive_field == 27 and static.chunk_size == 64
    kp = track(150, seed=4)  # same weights as videopose3d_tiny (same seed): same answer
    np.testing.assert_allclose(static(kp, W, H), VideoPose3D(tiny["videopose3d_tiny"])(kp, W, H), atol=1e-5)


def test_known_answer_of_the_skeleton_path(tiny):
    """videopose3d_tiny_linear: H36M joints from the COCO frame, root-relative, z = 0 (2 / w per pixel)."""
    kp = track(30, seed=5)
    out = VideoPose3D(tiny["videopose3d_tiny_linear"])(kp, W, H)
    x = normalize_screen_coordinates(kp[..., :2], W, H)
    joints = np.einsum("jc,tcd->tjd", conversion_matrix("coco17", "h36m17"), x)
    np.testing.assert_allclose(out[..., :2], joints - joints[:, :1], atol=1e-5)
    np.testing.assert_allclose(out[..., 2], 0.0, atol=1e-7)
    lw = H36M17.index("left_wrist")
    hips = kp[:, [COCO17.index("left_hip"), COCO17.index("right_hip")], :2].mean(1)
    np.testing.assert_allclose(out[:, lw, :2], (kp[:, COCO17.index("left_wrist"), :2] - hips) * 2 / W, atol=1e-5)


def test_flip_augmentation_keeps_left_and_right(tiny):
    kp = track(50, seed=6)
    plain = VideoPose3D(tiny["videopose3d_tiny_linear"])(kp, W, H)
    flipped = VideoPose3D(tiny["videopose3d_tiny_linear"], flip_augment=True)(kp, W, H)
    np.testing.assert_allclose(flipped, plain, atol=1e-5)  # an exactly mirror-symmetric model
    assert np.abs(plain[:, 13] - plain[:, 16]).max() > 0.01  # left and right wrists do differ
    rand_plain = VideoPose3D(tiny["videopose3d_tiny"])(kp, W, H)
    rand_flip = VideoPose3D(tiny["videopose3d_tiny"], flip_augment=True)(kp, W, H)
    assert 1e-4 < np.abs(rand_flip - rand_plain).max() < 0.2  # the random part is not symmetric


def test_root_is_exactly_zero(tiny):
    out = VideoPose3D(tiny["videopose3d_tiny"])(track(20), W, H)
    assert np.all(out[:, 0] == 0.0)
    raw = VideoPose3D(tiny["videopose3d_tiny"], root_relative=False)(track(20), W, H)
    assert np.abs(raw[:, 0]).max() > 0


def test_bad_input_and_bad_models(tiny, tmp_path, export_tiny):
    lifter = VideoPose3D(tiny["videopose3d_tiny"])
    kp = track(10)
    with pytest.raises(InputError, match=r"\(T, 17, 2\|3\)"):
        lifter(kp[:, :16], W, H)
    bad = kp.copy()
    bad[3, 2, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        lifter(bad, W, H)
    with pytest.raises(InputError, match="positive"):
        lifter(kp, 0, H)
    import onnx

    path = tmp_path / "no_rf.onnx"
    onnx.save(export_tiny.build_lifter(write_metadata=False), str(path))
    with pytest.raises(InputError, match="cannot tell the receptive field"):
        VideoPose3D(path)
    m = export_tiny.build_lifter(static_frames=90, write_metadata=False)
    onnx.helper.set_model_props(m, {"receptive_field": "81"})
    onnx.save(m, str(tmp_path / "contradiction.onnx"))
    with pytest.raises(InputError, match="contradicts"):
        VideoPose3D(tmp_path / "contradiction.onnx")
    with pytest.raises(InputError, match="does not look like"):
        VideoPose3D(tiny["vitpose_tiny"])
