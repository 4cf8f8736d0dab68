"""``video2imu --report``: the page people watch (``imusim_jax.workflows.report``), built here from synthetic frames,
2D keypoints and an ``imu.csv`` the simulator wrote (no Stage 1), rendered in headless Chromium."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import types

import numpy as np
import pytest

from imusim_jax import io as iio
from imusim_jax import simulate
from imusim_jax.pose.types import PersonTrack
from imusim_jax.sample import fall_motion
from imusim_jax.workflows import report as rp

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A report of the bundled fall: 6 s of frames at 10 fps, the COCO-17 joints projected as the 2D keypoints."""
    d = tmp_path_factory.mktemp("report")
    motion = fall_motion()
    csv = d / "imu.csv"
    iio.write_signal(simulate(motion, "watch-left", None, rate_hz=50.0), csv)
    J = np.asarray(motion.joints, np.float64)  # (T, 17, 3) z up, metres
    T, W, H = J.shape[0], 640, 360
    kp = np.concatenate([np.stack([320 + 120 * J[..., 0], 330 - 150 * J[..., 2]], -1), np.ones((T, 17, 1))], -1)
    track = PersonTrack(id=0, frames=np.arange(T), keypoints2d=kp.astype(np.float32), joints3d_cam=np.zeros((T, 17, 3)),
                        conf3d=np.ones((T, 17)), boxes=np.zeros((T, 4)), pose_found=np.ones(T, bool),
                        joint_set2d="coco17", joint_set3d="coco17")
    t0 = 0.5  # the motion starts half a second into the video
    times = t0 + np.arange(T) / 30.0
    person = types.SimpleNamespace(id=0, t0_s=t0, track=track)
    rperson = rp.report_person(person, times, str(csv), wrist="left_wrist",
                               summary={"quality": 0.87, "pose_found_frac": 1.0, "roll": "hinge"})
    keep = np.arange(0, T, 3)
    yy, xx = np.mgrid[0:H, 0:W]
    frames = [np.stack([(xx * 255 // W), (yy * 255 // H), np.full_like(xx, 60 + i % 100)], -1).astype(np.uint8)
              for i in keep]
    path = d / "report.html"
    size = rp.write_report(str(path), times[keep], frames, [rperson], title="fall sample",
                           info={"backend": "synthetic"})
    return path, csv, size, (times[keep], frames, [rperson])


def test_the_page_embeds_the_csv_values_and_the_events(page):
    path, csv, size, _ = page
    text = path.read_text()
    assert "http://" not in text and "https://" not in text and "<script src" not in text  # no network
    data = rp.read_report_data(str(path))
    X = np.loadtxt(csv, delimiter=",", skiprows=1)
    imu = data["people"][0]["imu"]
    got = np.column_stack([np.asarray(imu[c], float) for c in ("t", "ax", "ay", "az", "gx", "gy", "gz")])
    assert got.shape == X.shape and np.allclose(got, X, rtol=1e-5, atol=1e-6)
    p = data["people"][0]
    assert p["t0_s"] == 0.5 and p["summary"]["quality"] == 0.87 and p["joint_set"] == "coco17"
    # the fall's impact is marked, at the sample of peak | |a| - g | above the threshold
    amg = np.abs(np.linalg.norm(X[:, 1:4], axis=1) - 9.80665)
    assert amg.max() > rp.FALL_ACCEL_MINUS_G_MPS2 and p["events"]
    assert max(e["peak_mps2"] for e in p["events"]) == pytest.approx(amg.max())
    assert all(e["peak_mps2"] > data["fall_threshold_mps2"] for e in p["events"])
    # the keypoints are Stage 1's, scaled to the embedded frame (640 -> REPORT_MAX_WIDTH)
    frames = rp.read_report_data(str(path), rp.FRAMES_ID)
    assert len(frames) == len(data["frames"]["t"]) == len(p["keypoints"]) == 61
    assert data["frames"]["width"] == rp.REPORT_MAX_WIDTH and all(u.startswith("data:image/jpeg;base64,")
                                                                  for u in frames)
    assert size < 3e6


def test_the_report_as_a_video(page, tmp_path):
    import cv2

    times, frames, people = page[3]
    out = tmp_path / "report.mp4"
    assert rp.write_report_video(str(out), times, frames, people) > 10_000
    cap = cv2.VideoCapture(str(out))
    n, ok, img = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), *cap.read()
    cap.release()
    assert ok and n == len(frames) and img.shape[1] == rp.REPORT_MAX_WIDTH and img.std() > 20


def test_fall_events_are_runs_above_the_threshold():
    t = np.arange(10) / 10
    a = np.zeros((10, 3))
    a[:, 2] = 9.80665
    a[3:5, 2] += 40.0
    a[8, 0] = 50.0
    ev = rp.fall_events(t, a)
    assert [(e["start_s"], e["end_s"]) for e in ev] == [(0.3, 0.4), (0.8, 0.8)]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (scripts/setup.sh installs Debian's "
                    "chromium when run as root)")
def test_the_page_renders_in_headless_chromium(page, tmp_path):
    from PIL import Image

    path = page[0]
    png = tmp_path / "shot.png"
    profile = tempfile.mkdtemp(dir=tmp_path)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,800",
           "--virtual-time-budget=2000", "file://" + os.path.abspath(path)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if os.environ.get("IMUSIM_KEEP_SHOT"):
        shutil.copy(png, os.environ["IMUSIM_KEEP_SHOT"])
    assert png.exists(), r.stderr[-2000:]
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape[:2] == (800, 1280)
    assert img.std() > 20  # not blank
    colours = np.unique(img.reshape(-1, 3) // 16, axis=0)
    assert len(colours) > 50  # the frame's gradient, the skeleton, the plot lines
    # the plot lines' colours are there (accel x red, y green, z blue)
    for rgb in ((0xd6, 0x27, 0x28), (0x2c, 0xa0, 0x2c), (0x1f, 0x77, 0xb4)):
        assert (np.abs(img.astype(int) - rgb).sum(-1) < 40).sum() > 50, rgb
