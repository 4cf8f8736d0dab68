"""Detector -> ViTPose -> VideoPose3D on a synthetic video of two red people (the tiny models)."""
from __future__ import annotations

import numpy as np

from imusim_jax.pose.detector import OnnxPersonDetector
from imusim_jax.pose.lifter import VideoPose3D
from imusim_jax.pose.vitpose import VitPose


def test_two_people_end_to_end(tiny, export_tiny, scene):
    t = 12
    frames, truth = [], []
    for i in range(t):
        rects = [(80 + 3 * i, 100, 160 + 3 * i, 380), (420 - 2 * i, 120, 500 - 2 * i, 360)]
        frames.append(scene(rects=rects))
        truth.append(rects)
    dets = OnnxPersonDetector(tiny["detector_tiny"]).run_on_frames(frames)
    assert all(len(d) == 2 for d in dets)
    boxes = [d.boxes[np.argsort(d.boxes[:, 0])] for d in dets]  # left person first
    np.testing.assert_allclose(np.stack(boxes), np.array(truth, float), atol=1.5)
    kps = VitPose(tiny["vitpose_tiny"], flip_test=True).run_on_frames(frames, boxes)
    for i, kp in enumerate(kps):
        for p in range(2):
            np.testing.assert_allclose(kp[p, :, :2], export_tiny.expected_keypoints(truth[i][p]), atol=2.0)
            assert kp[p, :, 2].min() > 0.5
    lifter = VideoPose3D(tiny["videopose3d_tiny"], flip_augment=True)
    for p in range(2):
        joints = lifter(np.stack([kp[p] for kp in kps]), 640, 480)
        assert joints.shape == (t, 17, 3) and np.isfinite(joints).all()
