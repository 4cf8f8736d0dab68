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


def test_video_to_motions_with_the_vitpose_backend(tiny, scene, tmp_path, monkeypatch):
    """Stage 1's entry point on a video of two red people: one ``Motion`` each, in order of appearance, and no
    file written."""
    import cv2

    from imusim_jax.pose import PoseConfig, video_to_motions

    video = tmp_path / "two.avi"
    vw = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (320, 240))
    for i in range(30):
        rects = [(40 + 2 * i, 40, 80 + 2 * i, 200)] + ([(230 - 2 * i, 50, 270 - 2 * i, 210)] if i >= 5 else [])
        vw.write(cv2.cvtColor(scene(h=240, w=320, rects=rects), cv2.COLOR_RGB2BGR))
    vw.release()
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    cfg = PoseConfig(pose="vitpose", detector=str(tiny["detector_tiny"]), pose2d=str(tiny["vitpose_tiny"]),
                     lifter=str(tiny["videopose3d_tiny"]), device="cpu", progress=False)
    found = video_to_motions(video, cfg)
    assert sorted(tmp_path.iterdir()) == before
    assert found.backend == "vitpose" and found.meta["models"]["detector"]["sha256"]
    assert [p.id for p in found] == [0, 1] and found.rejected == []
    assert found[0].first_frame < found[1].first_frame  # ids in order of appearance: the second enters later
    for p in found:
        assert p.motion.joint_set == "h36m17" and float(p.motion.fps) == 30.0
        assert np.isfinite(np.asarray(p.motion.joints)).all() and p.motion.num_frames >= 20
        assert len(p.frame_quality) == p.motion.num_frames and p.t0_s == p.first_frame / 30.0
