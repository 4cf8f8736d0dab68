"""``pose.video``: decoding, frame rate, rotation, letterbox and time range on synthetic files."""
from __future__ import annotations

import numpy as np
import pytest

from imusim_jax._motion import InputError
from imusim_jax.pose.video import Video, detect_letterbox, resolve_fps

from pose_videos import set_avi_rate, set_mp4_rotation, write_video


def _pattern(t: int = 12, h: int = 48, w: int = 64) -> np.ndarray:
    """Frames with a white square at the top-left and a brightness that encodes the frame index."""
    f = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        f[i, :, :, 1] = 6 * i + 40
        f[i, 4:16, 4:20] = 255
    return f


def test_decode_rgb_fps_and_size(tmp_path):
    frames = _pattern()
    frames[:, 30:40, 40:60, 0] = 250  # a red patch stays red: RGB, not BGR
    frames[:, 30:40, 40:60, 1:] = 0
    v = Video(write_video(tmp_path / "a.avi", frames, fps=25))
    out = v.read_all()
    assert out.shape == (12, 48, 64, 3) and out.dtype == np.uint8
    assert v.info.fps == 25 and v.info.fps_source == "metadata" and v.info.num_frames == 12
    assert v.info.rotation_deg == 0 and v.info.crop is None and not v.info.variable_fps
    r, g, b = out[5, 35, 50].astype(int)
    assert r > 200 and g < 60 and b < 60
    np.testing.assert_allclose(v.times_s, np.arange(12) / 25, atol=1e-6)
    np.testing.assert_allclose(out[:, 40, 5, 1], 6 * np.arange(12) + 40, atol=3)  # frame order kept


def test_time_range(tmp_path):
    v = Video(write_video(tmp_path / "a.avi", _pattern(30), fps=10), start_s=1.0, end_s=2.0)
    assert v.info.first_frame == 10 and v.info.num_frames == 10 and v.info.start_s == pytest.approx(1.0)
    np.testing.assert_allclose(v.read_all()[:, 40, 5, 1], 6 * np.arange(10, 20) + 40, atol=3)
    with pytest.raises(InputError, match="no frames"):
        Video(tmp_path / "a.avi", start_s=5.0)
    with pytest.raises(InputError, match="after --start"):
        Video(tmp_path / "a.avi", start_s=2.0, end_s=1.0)


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_metadata_is_applied(tmp_path, degrees):
    p = write_video(tmp_path / "r.mp4", _pattern(), fps=30, fourcc="mp4v")
    set_mp4_rotation(p, degrees)
    v = Video(p, letterbox=False)
    assert v.info.rotation_deg == degrees
    f = v.read_all()[0]
    ys, xs = np.nonzero(f[..., 0] > 200)  # the white square, displayed rotated clockwise
    cy, cx = ys.mean() / f.shape[0], xs.mean() / f.shape[1]
    expect = {90: (0.2, 0.8), 180: (0.8, 0.8), 270: (0.8, 0.2)}[degrees]
    assert f.shape[:2] == ((64, 48) if degrees in (90, 270) else (48, 64))
    assert abs(cy - expect[0]) < 0.15 and abs(cx - expect[1]) < 0.15


def test_letterbox_is_cropped(tmp_path):
    t, h, w = 8, 160, 96  # a portrait file with a landscape picture in the middle
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[:, 56:104] = _pattern(t, 48, 96)
    v = Video(write_video(tmp_path / "lb.avi", frames))
    x0, y0, x1, y1 = v.info.crop
    assert abs(y0 - 56) <= 2 and abs(y1 - 104) <= 2 and x0 <= 2 and x1 >= w - 2
    assert v.read_all().shape[1:3] == (y1 - y0, x1 - x0) == (v.info.height, v.info.width)
    assert any("letterbox" in w for w in v.info.warnings)
    # a dark scene is not a letterbox; small borders are left alone
    assert detect_letterbox(np.full((4, 40, 40, 3), 5, np.uint8)) is None
    edge = np.full((4, 100, 100, 3), 120, np.uint8)
    edge[:, 0] = 0
    assert detect_letterbox(edge) is None


def test_fps_fallbacks():
    stamps = np.arange(10) * 40.0
    assert resolve_fps(30.0, stamps)[:2] == (25.0, "timestamps")  # metadata contradicted by the frames
    assert resolve_fps(0.0, stamps)[:2] == (25.0, "timestamps")  # missing metadata
    assert resolve_fps(float("nan"), stamps)[:2] == (25.0, "timestamps")
    assert resolve_fps(30.0, np.full(10, np.nan))[:2] == (30.0, "metadata")
    assert resolve_fps(0.0, stamps, override=12.5)[:2] == (12.5, "override")
    with pytest.raises(InputError, match="--fps"):
        resolve_fps(0.0, np.zeros(10))
    with pytest.raises(InputError, match="--fps"):
        resolve_fps(1e5, np.arange(10) * 0.01)  # absurd metadata and timestamps that follow it


def test_absurd_fps_file_needs_override(tmp_path):
    p = write_video(tmp_path / "z.avi", _pattern(), fps=30)
    set_avi_rate(p, rate=100000, usec_per_frame=1)
    with pytest.raises(InputError, match="frame rate"):
        Video(p)
    assert Video(p, fps=30).info.fps == 30


def test_unreadable_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video\n" * 20)
    for name, match in (("empty.mp4", "empty"), ("text.mp4", "cannot"), ("missing.mp4", "no such file")):
        with pytest.raises(InputError, match=match) as e:
            Video(tmp_path / name)
        assert "\n" not in str(e.value)
