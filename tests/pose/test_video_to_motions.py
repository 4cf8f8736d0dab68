"""Inputs a new user met, through Stage 1's entry point (``imusim_jax.pose.video_to_motions``) and the command:
a video with no person in it."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from pose_videos import write_video

from imusim_jax.pose import PoseConfig, video_to_motions
from imusim_jax.workflows.video2imu import WRITTEN_BY

REPO = pathlib.Path(__file__).resolve().parents[2]


def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "imusim_jax.cli", "video2imu", *map(str, args), "--no-progress"],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, "IMUSIM_DEBUG": ""})


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
