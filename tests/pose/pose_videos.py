"""Synthetic videos for the Stage 1 tests (helpers the test modules import), written with ``cv2.VideoWriter``
(MJPG in AVI: every OpenCV build with FFmpeg reads and writes it)."""
from __future__ import annotations

import pathlib
import struct

import cv2
import numpy as np


def write_video(path, frames_rgb, fps: float = 30.0, fourcc: str = "MJPG") -> pathlib.Path:
    """Write RGB uint8 frames ``(T, H, W, 3)`` to ``path``."""
    frames_rgb = np.asarray(frames_rgb)
    h, w = frames_rgb.shape[1:3]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert vw.isOpened(), f"cannot write {path}"
    for f in frames_rgb:
        vw.write(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR))
    vw.release()
    return pathlib.Path(path)


def red_people(path, rects_at, t=30, size=(320, 240)) -> pathlib.Path:
    """A video of red rectangles (the tiny ONNX detector's "people") on green, ``rects_at(i)`` -> list of
    (x0, y0, x1, y1) in frame ``i``."""
    W, H = size
    frames = np.empty((t, H, W, 3), np.uint8)
    frames[:] = (40, 90, 40)
    for i in range(t):
        for x0, y0, x1, y1 in rects_at(i):
            frames[i, y0:y1, x0:x1] = (255, 0, 0)
    return write_video(path, frames, fps=30)


def tiny_onnx_models(outdir) -> dict:
    """The tiny test models of ``onnx_weights/export_tiny.py`` (detector, ViTPose, VideoPose3D) written to
    ``outdir``: ``{name: path}`` (needs ``onnx``)."""
    import importlib.util

    repo = pathlib.Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("export_tiny", repo / "onnx_weights" / "export_tiny.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.export_all(outdir, ["detector_tiny", "vitpose_tiny", "videopose3d_tiny"])


def set_mp4_rotation(path, degrees: int) -> None:
    """Patch the display matrix of an mp4's first track header (``tkhd``) to a clockwise rotation, as phones
    store portrait video."""
    b = bytearray(pathlib.Path(path).read_bytes())
    i = b.find(b"tkhd")
    off = i + 4 + 4 + (20 if b[i + 4] == 0 else 32) + 8 + 8  # version/flags, times+ids, reserved, layer...volume
    one, w = 0x10000, 0x40000000
    m = {90: (0, one, 0, -one, 0, 0, 0, 0, w), 180: (-one, 0, 0, 0, -one, 0, 0, 0, w),
         270: (0, -one, 0, one, 0, 0, 0, 0, w)}[degrees]
    b[off:off + 36] = struct.pack(">9i", *m)
    pathlib.Path(path).write_bytes(bytes(b))


def set_avi_rate(path, rate: int, scale: int = 1, usec_per_frame: int = 0) -> None:
    """Overwrite an AVI's frame rate fields (``avih`` microseconds per frame, ``strh`` rate/scale)."""
    b = bytearray(pathlib.Path(path).read_bytes())
    i = b.find(b"avih")
    b[i + 8:i + 12] = struct.pack("<I", usec_per_frame)
    j = b.find(b"strh")
    b[j + 28:j + 36] = struct.pack("<II", scale, rate)
    pathlib.Path(path).write_bytes(bytes(b))




def astronaut_video(t: int = 20, size=(480, 360), scale: float = 0.62, shift_px=(50.0, 20.0), turn_deg: float = 8.0):
    """A video of scikit-image's astronaut photograph moving and turning: frames ``(t, H, W, 3)`` and the affine
    maps ``A_t`` (t, 2, 3) from photo pixels to frame pixels (``x_frame = A_t @ (x_photo, y_photo, 1)``).

    The photo (512x512) is scaled by ``scale``, turned about its centre by up to ``turn_deg`` and shifted by up to
    ``shift_px``, linearly over the clip, on a grey background.
    """
    import cv2
    from skimage import data

    photo = data.astronaut()
    W, H = size
    frames, mats = [], []
    for i in range(t):
        s = i / max(t - 1, 1)
        c = (W / 2 + shift_px[0] * (s - 0.5), H / 2 + shift_px[1] * (s - 0.5))
        A = cv2.getRotationMatrix2D((256.0, 256.0), turn_deg * (s - 0.5), scale)  # photo centre fixed
        A[:, 2] += np.array(c) - np.array([256.0, 256.0])
        frames.append(cv2.warpAffine(photo, A, (W, H), flags=cv2.INTER_LINEAR, borderValue=(128, 128, 128)))
        mats.append(A)
    return np.stack(frames), np.stack(mats)


def mp4_faststart(path) -> None:
    """Move an mp4's ``moov`` box (the index) before its ``mdat`` (the frames), as streaming encoders write it, so
    that a file cut mid-stream still opens and decodes up to the cut. Chunk offsets (``stco``/``co64``) are
    shifted by the size of the moved box."""
    b = bytes(pathlib.Path(path).read_bytes())
    boxes, i = [], 0
    while i < len(b):
        size, kind = struct.unpack(">I4s", b[i:i + 8])
        size = len(b) - i if size == 0 else (struct.unpack(">Q", b[i + 8:i + 16])[0] if size == 1 else size)
        boxes.append((kind, b[i:i + size]))
        i += size
    kinds = [k for k, _ in boxes]
    moov = bytearray(boxes[kinds.index(b"moov")][1])
    shift = len(moov)

    def patch(start, end):  # walk the boxes inside moov (containers only) and shift every chunk offset
        j = start
        while j + 8 <= end:
            size, kind = struct.unpack(">I4s", moov[j:j + 8])
            if kind in (b"trak", b"mdia", b"minf", b"stbl"):
                patch(j + 8, j + size)
            elif kind in (b"stco", b"co64"):
                n = struct.unpack(">I", moov[j + 12:j + 16])[0]
                w, fmt = (4, ">I") if kind == b"stco" else (8, ">Q")
                for k in range(n):
                    o = j + 16 + k * w
                    moov[o:o + w] = struct.pack(fmt, struct.unpack(fmt, moov[o:o + w])[0] + shift)
            j += size

    patch(8, len(moov))
    rest = [data for k, data in boxes if k != b"moov"]
    at = kinds.index(b"mdat") - (1 if kinds.index(b"moov") < kinds.index(b"mdat") else 0)
    pathlib.Path(path).write_bytes(b"".join(rest[:at]) + bytes(moov) + b"".join(rest[at:]))


def cut_file(path, out, fraction: float) -> pathlib.Path:
    """Copy the first ``fraction`` of the bytes of ``path`` to ``out`` (a download or copy cut mid-stream)."""
    b = pathlib.Path(path).read_bytes()
    pathlib.Path(out).write_bytes(b[: int(len(b) * fraction)])
    return pathlib.Path(out)
