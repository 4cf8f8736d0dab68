"""Robustness of ``video2imu`` on unseen input: output folders, people too small or implausible, seeded pose
regions, and inputs that must give one clear error line."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from imusim_jax import InputError
from imusim_jax.pose.measurement_noise import landmark_noise, root_noise
from imusim_jax.pose.mediapipe_backend import Roi, box_consistent, roi_from_keypoints, seed_rois
from imusim_jax.pose.types import PersonTrack
from imusim_jax.workflows import video2imu as wf

from pose_videos import write_video

REPO = pathlib.Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------------------------
# output folder
# ---------------------------------------------------------------------------------------------------------------

def _folder(d: pathlib.Path, meta: dict | None, text: str = "old") -> None:
    d.mkdir(parents=True)
    (d / "imu.csv").write_text(text)
    if meta is not None:
        (d / "meta.json").write_text(json.dumps(meta))


def _writer(text):
    def write(d):
        pathlib.Path(d, "imu.csv").write_text(text)
        pathlib.Path(d, "meta.json").write_text(json.dumps({"written_by": wf.WRITTEN_BY}))
    return write


def test_publish_replaces_only_this_commands_stale_folders(tmp_path):
    out = tmp_path / "out"
    _folder(out / "person_0", {"written_by": wf.WRITTEN_BY})
    _folder(out / "person_3", {"person": 3, "video": "v.mp4", "backend": "mediapipe", "imu_samples": 9})  # older run
    _folder(out / "person_7", {"something": "else"})  # not ours: kept
    _folder(out / "person_8", None)  # no meta.json: not ours, kept
    (out / "notes.txt").write_text("kept")
    wf._publish(str(out), {"person_0": _writer("new0"), "person_1": _writer("new1")}, {"people": [0, 1]})
    names = sorted(p.name for p in out.iterdir())
    assert names == ["meta.json", "notes.txt", "person_0", "person_1", "person_7", "person_8"]
    assert (out / "person_0" / "imu.csv").read_text() == "new0"
    assert (out / "person_7" / "imu.csv").read_text() == "old"
    assert json.loads((out / "meta.json").read_text()) == {"people": [0, 1]}


def test_a_failed_publish_leaves_no_folder_it_created(tmp_path):
    def broken(d):
        pathlib.Path(d, "imu.csv").write_text("half")
        raise OSError("disk full")

    out = tmp_path / "new" / "out"
    with pytest.raises(OSError, match="disk full"):
        wf._publish(str(out), {"person_0": broken}, {"people": [0]})
    assert not out.exists()
    out.mkdir()  # a folder that was there before is kept, and holds nothing of the failed run
    with pytest.raises(OSError, match="disk full"):
        wf._publish(str(out), {"person_0": broken}, {"people": [0]})
    assert out.is_dir() and list(out.iterdir()) == []


def test_publish_never_overwrites_a_foreign_folder(tmp_path):
    out = tmp_path / "out"
    _folder(out / "person_0", {"mine": True})
    with pytest.raises(InputError, match="not written by video2imu"):
        wf._publish(str(out), {"person_0": _writer("new")}, {})
    assert (out / "person_0" / "imu.csv").read_text() == "old"
    assert sorted(p.name for p in out.iterdir()) == ["person_0"]  # no staging folder left
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        wf._publish(str(f), {}, {})


# ---------------------------------------------------------------------------------------------------------------
# plausibility
# ---------------------------------------------------------------------------------------------------------------

def test_landmark_and_root_noise_grow_for_small_people():
    s = landmark_noise(np.array([512.0, 256.0, 128.0, 64.0]), 1.70, 0.005)
    np.testing.assert_allclose(s, [0.0085, 0.0085, 0.017, 0.034])
    # a person 3 m straight ahead: the along-sight floor is depth_error * d * max(1, 256 / stature)
    T = 5
    joints = np.zeros((T, 33, 3))
    rep = {"gravity": {"R_wc": np.eye(3).tolist()}, "origin_w_before_shift": [0.0, 0.0, 3.0], "focal_px": 500.0,
           "root": {"sigma_px": 1.0}}
    kp = np.zeros((T, 33, 3))
    kp[..., 0] = np.linspace(0, 100, 33)
    kp[..., 2] = 1.0
    for stature, along in ((512.0, 0.3), (128.0, 0.6)):
        cov = root_noise(joints, "mediapipe33", kp, rep, np.full(T, stature), 0.1, np.full(T, 0.01))
        np.testing.assert_allclose(np.sqrt(cov[:, 2, 2]), along, rtol=1e-6)  # along the ray (z here)
        np.testing.assert_allclose(np.sqrt(cov[:, 0, 0]), 0.01, rtol=1e-6)  # across: the lateral floor


def test_implausible_signals_are_named():
    assert wf.implausible(45.0, 8.0) is None
    assert "rad/s" in wf.implausible(20.0, 47.0)
    assert "failed reconstruction" in wf.implausible(400.0, 3.0)
    assert "not finite" in wf.implausible(float("nan"), 1.0)


def test_hand_size_picks_the_roll_source():
    T = 6
    kp = np.zeros((T, 33, 3), np.float32)
    kp[:, 15, :2], kp[:, 19, :2], kp[:, 17, :2] = (100, 100), (104, 103), (103, 104)  # a 5 px left hand
    kp[:, 16, :2], kp[:, 20, :2], kp[:, 18, :2] = (200, 100), (220, 100), (200, 120)  # a 20 px right hand
    p = PersonTrack(0, np.arange(T), kp, np.zeros((T, 33, 3)), np.ones((T, 33)), np.zeros((T, 4)),
                    np.ones(T, bool), "mediapipe33", "mediapipe33")
    assert wf.hand_px(p, "left") == pytest.approx(5.0) and wf.hand_px(p, "left") < wf.MIN_HAND_PX
    assert wf.hand_px(p, "right") == pytest.approx(20.0) and wf.hand_px(p, "right") >= wf.MIN_HAND_PX
    coco = PersonTrack(0, np.arange(T), kp[:, :17], np.zeros((T, 17, 3)), np.ones((T, 17)), np.zeros((T, 4)),
                       np.ones(T, bool), "coco17", "h36m17")
    assert wf.hand_px(coco, "left") is None


# ---------------------------------------------------------------------------------------------------------------
# pose regions
# ---------------------------------------------------------------------------------------------------------------

def _pose(shoulders, hips):
    kp = np.zeros((33, 3), np.float32)
    kp[[11, 12], :2], kp[[23, 24], :2] = shoulders, hips
    kp[[11, 12, 23, 24, 0], 2] = 1.0
    kp[0, :2] = np.mean(shoulders, 0) + (np.mean(shoulders, 0) - np.mean(hips, 0)) * 0.4
    return kp


def test_regions_from_keypoints_and_boxes():
    up = roi_from_keypoints(_pose([(90, 50), (110, 50)], [(92, 100), (108, 100)]))
    assert up.rotation == pytest.approx(0.0, abs=1e-6) and (up.cx, up.cy) == pytest.approx((100, 100))
    lying = roi_from_keypoints(_pose([(50, 90), (50, 110)], [(100, 92), (100, 108)]))  # head to the left
    assert abs(lying.rotation) == pytest.approx(np.pi / 2, abs=1e-6)
    assert roi_from_keypoints(np.zeros((33, 3))) is None
    assert len(seed_rois(np.array([0, 0, 40, 100]))) == 3  # upright box: three margins, no rotation
    assert len(seed_rois(np.array([0, 0, 100, 40]))) == 9  # a box wider than tall: also turned by +-90 degrees
    assert Roi(10, 10, 20, np.pi / 4).box()[2] - 10 == pytest.approx(10 * np.sqrt(2))
    assert box_consistent(np.array([10, 10, 30, 60]), np.array([0, 0, 40, 80]))
    assert not box_consistent(np.array([200, 10, 230, 60]), np.array([0, 0, 40, 80]))


@pytest.mark.mediapipe
def test_landmark_model_on_a_given_region_finds_the_person_and_no_one_in_a_blank():
    pytest.importorskip("mediapipe")
    pytest.importorskip("skimage")
    from pose_videos import astronaut_video

    from imusim_jax.pose.mediapipe_backend import BlazePose, RoiPose, keypoint_box

    frames, _ = astronaut_video(t=1)
    with BlazePose(static=True) as bp:
        full = bp(frames[0])
    box = keypoint_box(full.keypoints)
    with RoiPose() as rp:
        got = [rp(frames[0], roi) for roi in seed_rois(box)]
        blank = rp(np.full_like(frames[0], 128), seed_rois(box)[0])
    got = [g for g in got if g is not None]
    assert got and blank is None
    pose, nxt = got[0]
    upper = [0, 2, 5, 7, 8, 11, 12]
    assert np.median(np.linalg.norm(pose.keypoints[upper, :2] - full.keypoints[upper, :2], axis=-1)) < 6.0
    assert nxt is not None and nxt.side > 0


# ---------------------------------------------------------------------------------------------------------------
# inputs that must give one clear error line
# ---------------------------------------------------------------------------------------------------------------

def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "imusim_jax.cli", "video2imu", *map(str, args), "--no-progress"],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "IMUSIM_DEBUG": ""})


@pytest.mark.parametrize("case", ["empty", "garbage", "single_frame", "output_is_a_file"])
def test_bad_inputs_give_one_error_line(tmp_path, case):
    out = tmp_path / "out"
    if case == "empty":
        video = tmp_path / "empty.mp4"
        video.write_bytes(b"")
    elif case == "garbage":
        video = tmp_path / "garbage.mp4"
        video.write_bytes(np.random.default_rng(0).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    else:
        video = write_video(tmp_path / "one.avi", np.full((1 if case == "single_frame" else 8, 64, 64, 3), 90,
                                                          np.uint8))
    if case == "output_is_a_file":
        out.write_text("x")
    r = _cli(video, "--pose", "mediapipe", "-o", out)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
