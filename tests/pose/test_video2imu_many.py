"""``imusim-jax video2imu FOLDER|LIST.txt``: many videos, one OUT/<stem>/ each, resumable, one line per failed video;
``--report`` through the command line (the page itself: ``tests/test_video_report.py``)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from pose_videos import red_people, tiny_onnx_models

from imusim_jax.workflows.report import read_report_data
from imusim_jax.workflows.video2imu import find_videos

REPO = pathlib.Path(__file__).resolve().parents[2]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "imusim_jax.cli", "video2imu", *map(str, args), "--no-progress"],
                          capture_output=True, text=True, timeout=300, cwd=REPO,
                          env={**os.environ, "IMUSIM_WEIGHTS": "/nonexistent"})


def test_a_folder_then_a_list_resume_and_report_each_failure_once(tmp_path):
    pytest.importorskip("onnx")
    tiny = tiny_onnx_models(tmp_path / "tiny")
    videos = tmp_path / "videos"
    videos.mkdir()
    red_people(videos / "walk.avi", lambda i: [(100 + 3 * i, 40, 150 + 3 * i, 210)], t=20)
    (videos / "bad.mp4").write_text("not a video\n")
    (videos / "notes.txt").write_text("not a video either, and not a video suffix\n")
    out = tmp_path / "out"
    models = ("--pose", "vitpose", "--pose2d", tiny["vitpose_tiny"], "--lifter", tiny["videopose3d_tiny"])
    r = _cli(videos, "-o", out, "--report", "page.html", *models)
    assert r.returncode == 2, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error")]
    assert len(errors) == 1 and str(videos / "bad.mp4") in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["walk"]
    done = out / "walk"
    summary = json.loads((done / "meta.json").read_text())
    assert [p["folder"] for p in summary["people"]] == ["person_0"] and 0 <= summary["people"][0]["quality"] <= 1
    assert (done / "person_0" / "imu.csv").exists() and summary["report"] == str(done / "page.html")
    # the page through the command line: the person's imu.csv, Stage 1's keypoints at the frames
    data = read_report_data(str(done / "page.html"))
    X = np.loadtxt(done / "person_0" / "imu.csv", delimiter=",", skiprows=1)
    p = data["people"][0]
    assert np.allclose(np.column_stack([p["imu"][c] for c in ("t", "ax", "ay", "az", "gx", "gy", "gz")]), X,
                       rtol=1e-5, atol=1e-6)
    assert len(p["keypoints"]) == len(data["frames"]["t"]) > 0 and any(k is not None for k in p["keypoints"])
    mtime = (done / "meta.json").stat().st_mtime_ns
    # again, from a list naming both (relative to the list): the finished one is skipped, the bad one fails again
    lst = tmp_path / "videos.txt"
    lst.write_text("# two videos\nvideos/walk.avi\n\nvideos/bad.mp4\n")
    r = _cli(lst, "-o", out, "--report", "page.html", *models)
    assert r.returncode == 2 and "skipped 1 done before" in r.stdout, r.stdout + r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.startswith("error")]) == 1
    assert (done / "meta.json").stat().st_mtime_ns == mtime


def test_find_videos(tmp_path):
    for n in ("b.MP4", "a.webm", "c.txt", "d.mkv"):
        (tmp_path / n).write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "e.mp4").write_text("x")
    assert [os.path.basename(v) for v in find_videos(str(tmp_path))] == ["a.webm", "b.MP4", "d.mkv"]
    (tmp_path / "b.avi").write_text("x")
    with pytest.raises(ValueError, match="would both write"):
        find_videos(str(tmp_path))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no video files"):
        find_videos(str(empty))
    lst = tmp_path / "list.txt"
    lst.write_text("# comment\n sub/e.mp4 \n/abs/x.mov\n")
    assert find_videos(str(lst)) == [str(tmp_path / "sub" / "e.mp4"), "/abs/x.mov"]


def test_onnx_models_built_once_for_many_videos(tmp_path, monkeypatch):
    """``PoseModels.onnx``: one ViTPose, VideoPose3D and detector session for a run of videos; the second video's
    people are what they are alone."""
    pytest.importorskip("onnx")
    from imusim_jax.pose import PoseConfig, track_people
    from imusim_jax.pose import _onnx
    from imusim_jax.pose.models import PoseModels
    from imusim_jax.pose.video import Video

    tiny = tiny_onnx_models(tmp_path / "tiny")
    a = red_people(tmp_path / "a.avi", lambda i: [(100 + 3 * i, 40, 150 + 3 * i, 210)], t=12)
    b = red_people(tmp_path / "b.avi", lambda i: [(40 + 2 * i, 40, 80 + 2 * i, 200), (230 - 2 * i, 50, 270, 210)],
                   t=12)
    cfg = PoseConfig(pose="vitpose", detector=str(tiny["detector_tiny"]), pose2d=str(tiny["vitpose_tiny"]),
                     lifter=str(tiny["videopose3d_tiny"]), progress=False)
    alone, _ = track_people(Video(b), cfg)
    sessions = []
    make = _onnx.create_session
    monkeypatch.setattr(_onnx, "create_session", lambda *a, **k: sessions.append(a[0]) or make(*a, **k))
    with PoseModels() as models:
        track_people(Video(a), cfg, models)
        second, _ = track_people(Video(b), cfg, models)
    assert len(sessions) == 3, sessions  # detector, ViTPose, VideoPose3D: once each for both videos
    assert len(alone) == len(second) >= 1
    for p, q in zip(alone, second):
        np.testing.assert_array_equal(p.keypoints2d, q.keypoints2d)
        np.testing.assert_array_equal(p.joints3d_cam, q.joints3d_cam)
