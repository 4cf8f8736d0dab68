"""``imusim-jax video2imu`` end to end, run as a command (a subprocess, as the scoring tools run it)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from pose_videos import red_people as _red_people
from pose_videos import tiny_onnx_models, write_video

from imusim_jax import load_motion
from imusim_jax._simulate import num_output_samples
from imusim_jax.io import COLUMNS

REPO = pathlib.Path(__file__).resolve().parents[2]


def _cli(*args, env=None, timeout=300):
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "imusim_jax.cli", "video2imu", *map(str, args), "--no-progress"],
                          capture_output=True, text=True, timeout=timeout, env=e, cwd=REPO)


def _check_person(d: pathlib.Path, joint_set: str, rate: float = 50.0):
    m = load_motion(d / "motion.npz")
    assert m.joint_set == joint_set and float(m.fps) == 30.0 and np.isfinite(np.asarray(m.joints)).all()
    with open(d / "imu.csv") as f:
        assert f.readline().strip() == ",".join(COLUMNS)
    X = np.loadtxt(d / "imu.csv", delimiter=",", skiprows=1)
    assert X.shape == (int(num_output_samples(m.num_frames, 30.0, rate)), 7) and np.isfinite(X).all()
    np.testing.assert_allclose(np.diff(X[:, 0]), 1 / rate, atol=1e-6)
    assert (d / "imu.png").stat().st_size > 1000
    meta = json.loads((d / "meta.json").read_text())
    for key in ("models", "fps", "t0_s", "frame_quality", "assumptions", "world", "smoothing", "mount"):
        assert key in meta
    assert len(meta["frame_quality"]) == m.num_frames
    return meta


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("onnx")
    return tiny_onnx_models(tmp_path_factory.mktemp("tiny"))


def _models(tiny):
    return ("--detector", tiny["detector_tiny"], "--pose2d", tiny["vitpose_tiny"], "--lifter",
            tiny["videopose3d_tiny"])


def test_two_people_with_the_tiny_onnx_models(tmp_path, tiny):
    video = _red_people(tmp_path / "two.avi", lambda i: [(40 + 2 * i, 40, 80 + 2 * i, 200),
                                                        (230 - 2 * i, 50, 270 - 2 * i, 210)])
    out = tmp_path / "out"
    r = _cli(video, "--pose", "vitpose", "--mount", "watch-left", "--rate", "50", "-o", out, *_models(tiny))
    assert r.returncode == 0, r.stderr
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == ["person_0", "person_1"]
    metas = [_check_person(out / f, "h36m17") for f in folders]
    assert all(m["models"]["detector"]["sha256"] for m in metas)
    summary = json.loads((out / "meta.json").read_text())
    assert summary["backend"] == "vitpose" and len(summary["people"]) == 2
    assert not list(out.rglob(".tmp-*"))  # atomic writes leave no temporary files


def test_without_detector_weights_one_person_from_keypoint_boxes(tmp_path, tiny):
    video = _red_people(tmp_path / "one.avi", lambda i: [(100 + 3 * i, 40, 150 + 3 * i, 210)])
    out = tmp_path / "out"
    r = _cli(video, "--pose", "vitpose", "-o", out, "--pose2d", tiny["vitpose_tiny"], "--lifter",
             tiny["videopose3d_tiny"], env={"IMUSIM_WEIGHTS": str(tmp_path / "no_weights")})
    assert r.returncode == 0, r.stderr
    meta = _check_person(out / "person_0", "h36m17")
    assert any("no detector weights" in a for a in meta["assumptions"])


def test_missing_weights_name_the_fetch_command(tmp_path):
    video = _red_people(tmp_path / "one.avi", lambda i: [(100, 40, 150, 210)], t=6)
    r = _cli(video, "--pose", "vitpose", "-o", tmp_path / "out", env={"IMUSIM_WEIGHTS": str(tmp_path / "none")})
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("error")]
    assert len(lines) == 1 and "imusim-jax weights fetch" in lines[0]


@pytest.mark.mediapipe
def test_mediapipe_end_to_end_and_no_person(tmp_path):
    pytest.importorskip("mediapipe")
    pytest.importorskip("skimage")
    from pose_videos import astronaut_video

    frames, _ = astronaut_video(t=16)
    video = write_video(tmp_path / "astronaut.avi", frames, fps=30)
    out = tmp_path / "out"
    r = _cli(video, "--pose", "mediapipe", "--mount", "watch-left", "--rate", "50", "-o", out)
    assert r.returncode == 0, r.stderr
    meta = _check_person(out / "person_0", "mediapipe33")
    assert meta["models"]["pose"]["sha256"] and meta["backend"] == "mediapipe"
    assert "W0000" not in r.stderr  # MediaPipe's native log lines are kept off the terminal
    blank = write_video(tmp_path / "blank.avi", np.full((8, 120, 160, 3), 128, np.uint8), fps=30)
    r = _cli(blank, "--pose", "mediapipe", "-o", tmp_path / "out2")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: no person found")
    assert not (tmp_path / "out2").exists()  # nothing written, not even the folder
