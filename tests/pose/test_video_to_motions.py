"""Inputs a new user met, through Stage 1's entry point (``imusim_jax.pose.video_to_motions``) and the command:
a video cut mid-stream, and a video with no person in it."""
from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
from pose_videos import cut_file, mp4_faststart, write_video

from imusim_jax import InputError
from imusim_jax.pose import PoseConfig, video_to_motions
from imusim_jax.pose.video import Video
from imusim_jax.workflows.video2imu import WRITTEN_BY

REPO = pathlib.Path(__file__).resolve().parents[2]


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "imusim_jax.cli", "video2imu", *map(str, args), "--no-progress"],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "IMUSIM_DEBUG": ""})


def _moving_square(t=40, size=(160, 120)):
    """A bright square crossing a smooth gradient (compresses like real footage)."""
    W, H = size
    frames = np.empty((t, H, W, 3), np.uint8)
    frames[:] = np.linspace(40, 200, W, dtype=np.uint8)[None, None, :, None]
    for i in range(t):
        x = 10 + 3 * i
        frames[i, 40:80, x:x + 30] = (250, 60, 60)
    return frames


def _video(tmp_path, fmt):
    path = tmp_path / f"full.{fmt}"
    write_video(path, _moving_square(), fps=30, fourcc="MJPG" if fmt == "avi" else "mp4v")
    if fmt == "mp4":
        mp4_faststart(path)  # the index first, as streamed files have it: a cut file still opens
    return path


@pytest.mark.parametrize("fmt", ["avi", "mp4"])
def test_a_video_cut_mid_stream_is_one_error_line_naming_the_frames(tmp_path, fmt):
    full = _video(tmp_path, fmt)
    info = Video(full).info
    assert info.num_frames == 40 and info.warnings == ()
    cut = cut_file(full, tmp_path / f"cut.{fmt}", 0.4)
    with pytest.raises(InputError) as e:
        video_to_motions(cut, PoseConfig(progress=False))
    msg = str(e.value)
    m = re.search(r"only (\d+) of the 40 frames", msg)
    assert "\n" not in msg and msg.startswith(f"cut.{fmt} is cut short") and m, msg
    decoded = int(m.group(1))
    assert 4 <= decoded <= 24
    # the decoded part, on request (--end as the message says): every decoded frame, and a warning that stays
    end = float(re.search(r"--end ([0-9.]+)", msg).group(1))
    v = Video(cut, end_s=end)
    assert v.info.num_frames == decoded and any("cut short" in w for w in v.info.warnings)
    with pytest.raises(InputError, match="cut short"):
        Video(cut, end_s=end + 2 / 30)  # one frame more is one frame that is not there
    # the command: one error line, nothing written
    out = tmp_path / "out"
    r = _cli(cut, "--pose", "mediapipe", "-o", out)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error")]
    assert r.returncode == 2 and len(errors) == 1, r.stderr
    assert f"cut.{fmt} is cut short: only {decoded} of the 40 frames" in errors[0]
    assert not out.exists()


def test_a_container_count_off_by_a_frame_is_not_a_cut(tmp_path):
    full = _video(tmp_path, "avi")
    b = full.read_bytes()
    last = b.rfind(b"00dc", 0, b.rfind(b"idx1"))  # the last frame's chunk, before the index
    cut = cut_file(full, tmp_path / "nearly.avi", last / len(b))  # 39 of the 40 frames decode
    info = Video(cut).info
    assert info.total_frames == 39 and info.num_frames == 39 and info.warnings == ()


@pytest.mark.mediapipe
def test_a_video_without_a_person_writes_nothing(tmp_path):
    pytest.importorskip("mediapipe")
    blank = write_video(tmp_path / "blank.avi", np.full((8, 120, 160, 3), 128, np.uint8), fps=30)
    assert len(video_to_motions(blank, PoseConfig(pose="mediapipe", progress=False))) == 0  # Stage 1: no one
    out = tmp_path / "new" / "out"
    r = _cli(blank, "--pose", "mediapipe", "-o", out)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error")]
    assert r.returncode == 2 and len(errors) == 1 and errors[0].startswith("error: no person found in blank.avi")
    assert not out.exists() and not out.parent.exists()
    # an earlier run's output is left as it was: the failed run neither adds to it nor removes it
    old = tmp_path / "old"
    (old / "person_0").mkdir(parents=True)
    (old / "person_0" / "meta.json").write_text(json.dumps({"written_by": WRITTEN_BY}))
    (old / "meta.json").write_text(json.dumps({"written_by": WRITTEN_BY, "people": [0]}))
    before = {p: p.read_bytes() for p in old.rglob("*") if p.is_file()}
    r = _cli(blank, "--pose", "mediapipe", "-o", old)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: no person found")
    assert {p: p.read_bytes() for p in old.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in old.iterdir()) == ["meta.json", "person_0"]
