"""Video input: decode a file with OpenCV into upright RGB frames, with a trustworthy frame rate.

``Video(path, start_s=, end_s=, fps=)`` probes the file once (one decoding pass: frame count, per-frame
timestamps, a few sample frames) and then yields frames on each iteration (decoded again: memory stays bounded by
one frame however long the video). Frames are RGB ``uint8`` ``(H, W, 3)`` (``pose.types``), after:

1. **Rotation.** Phone videos are stored sideways with a display-rotation tag (``CAP_PROP_ORIENTATION_META``:
   0, 90, 180 or 270 degrees clockwise). OpenCV's own auto-rotation is switched off and the tag is applied here
   with ``cv2.rotate``, so every backend gives the same upright frames.
2. **Letterbox crop.** A landscape picture letter-boxed inside a portrait file (the shared phone clips: a
   720x1280 file whose picture fills a ~474x355 region) would make the person tiny for the pose models.
   Rows and columns that are black in every sample frame (at most 1 % of their pixels brighter than
   ``LETTERBOX_LEVEL``) are bars; when a bar is at least ``LETTERBOX_MIN_FRAC`` of the frame, all bars are
   cropped. Pixel coordinates downstream are in the cropped frame; ``VideoInfo.crop`` says where it lies.
3. **Time range.** ``start_s``/``end_s`` keep the frames with ``start_s <= t < end_s``; frame 0 of the result is
   at ``VideoInfo.start_s`` in the file.

Frame rate (``resolve_fps``): the container's rate when it is finite and within ``[MIN_FPS, MAX_FPS]``; else the
median interval of the decoder's per-frame timestamps (``CAP_PROP_POS_MSEC``); else an ``InputError`` asking
for ``--fps`` (a guessed rate would scale every acceleration by its square). Timestamps whose intervals vary by
more than ``VFR_SPREAD`` mark a variable-rate video (``VideoInfo.variable_fps``); ``Video.times_s`` keeps the
real frame times so callers can resample onto the uniform grid ``k / fps``.

Unreadable, empty and frameless files, and empty time ranges, raise a one-line ``InputError``; so does a file
cut short (``check_complete``): one whose decoding stops more than ``CUT_TOLERANCE`` before the frame count its
container declares, unless ``end_s`` ends the range within the decoded frames.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Iterator, Optional

import cv2
import numpy as np

from imusim_jax._motion import InputError

__all__ = ["CUT_TOLERANCE", "MAX_FPS", "MIN_FPS", "Video", "VideoInfo", "check_complete", "detect_letterbox",
           "prefetch", "resolve_fps"]

MIN_FPS, MAX_FPS = 1.0, 480.0
"""Frame rates outside this range (Hz) are treated as missing metadata (high-speed phone video reaches 240-480)."""
VFR_SPREAD = 0.25
"""Relative spread (10th to 90th percentile over the median) of frame intervals that marks a variable rate."""
LETTERBOX_LEVEL = 24
"""Brightness (0-255, brightest channel) above which a pixel is picture, not black bar."""
LETTERBOX_MIN_FRAC = 0.02
"""Smallest bar, as a fraction of the frame's width or height, that makes the frame count as letter-boxed."""
CUT_TOLERANCE = (2, 0.05)
"""``(frames, fraction)``: a file that decodes fewer frames than its container declares by more than
``max(frames, fraction * declared)`` is cut short. The slack allows containers whose count is an estimate
(duration times rate: MKV, WebM, some AVI writers); MP4's count is exact."""
PREFETCH_FRAMES = 4
"""Frames decoded ahead of the consumer by ``prefetch``'s thread."""
NUM_SAMPLES = 32
"""Frames kept from the probing pass (evenly spread) for letterbox detection and background statistics."""

_ROTATIONS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What was decoded and how.

    Attributes:
      path: the file.
      width, height: size of the delivered frames (after rotation and crop), pixels.
      fps: frame rate (Hz) of the delivered frames; frame ``i`` is at ``i / fps`` s after ``start_s``.
      fps_source: ``"metadata"``, ``"timestamps"`` or ``"override"``.
      num_frames: delivered frames (within the time range).
      first_frame: index in the file of delivered frame 0; ``start_s`` its time in the file (s).
      total_frames: frames decoded in the whole file.
      rotation_deg: clockwise display rotation applied (0, 90, 180, 270).
      crop: ``(x0, y0, x1, y1)`` of the kept picture in the rotated frame (pixels, exclusive end), or ``None``.
      source_size: ``(W, H)`` of the rotated frame before the crop.
      variable_fps: frame intervals vary by more than ``VFR_SPREAD``.
      warnings: assumptions made, one line each.
    """

    path: str
    width: int
    height: int
    fps: float
    fps_source: str
    num_frames: int
    first_frame: int
    start_s: float
    total_frames: int
    rotation_deg: int
    crop: Optional[tuple[int, int, int, int]]
    source_size: tuple[int, int]
    variable_fps: bool
    warnings: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        """Time of the last delivered frame after the first, ``(num_frames - 1) / fps`` seconds."""
        return (self.num_frames - 1) / self.fps

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["warnings"] = list(self.warnings)
        return d


def resolve_fps(meta_fps: float, stamps_ms: np.ndarray, override: Optional[float] = None,
                name: str = "video") -> tuple[float, str, list[str]]:
    """Frame rate from the container metadata, the decoder's timestamps, or an override.

    Args:
      meta_fps: ``CAP_PROP_FPS`` (Hz; 0, NaN or absurd when the container lacks it).
      stamps_ms: ``(N,)`` per-frame presentation times (ms), NaN where unknown.
      override: a rate given by the user (Hz), used as is.
      name: the file, for messages.
    Returns:
      ``(fps, source, warnings)`` with ``source`` in ``metadata``, ``timestamps``, ``override``.
    Raises:
      InputError: no usable rate (one line naming ``--fps``).
    """
    if override is not None:
        if not np.isfinite(override) or override <= 0:
            raise InputError(f"--fps must be a positive number, got {override}")
        return float(override), "override", []
    d = np.diff(np.asarray(stamps_ms, np.float64))
    d = d[np.isfinite(d) & (d > 0)]
    ts_fps = 1000.0 / float(np.median(d)) if len(d) >= 2 else float("nan")
    ts_ok = MIN_FPS <= ts_fps <= MAX_FPS
    meta_ok = bool(np.isfinite(meta_fps)) and MIN_FPS <= meta_fps <= MAX_FPS
    if meta_ok:
        if ts_ok and abs(ts_fps - meta_fps) > 0.1 * meta_fps:
            return ts_fps, "timestamps", [f"the container says {meta_fps:g} fps but frames arrive at "
                                          f"{ts_fps:.3g} fps (median interval); using the latter"]
        return float(meta_fps), "metadata", []
    if ts_ok:
        return ts_fps, "timestamps", [f"frame-rate metadata missing or absurd ({meta_fps:g}); using {ts_fps:.3g} fps "
                                      "from the frame timestamps"]
    raise InputError(f"cannot tell the frame rate of {name} (metadata says {meta_fps:g} fps and the frames carry "
                     "no usable timestamps): pass --fps")


def check_complete(name: str, decoded: int, declared: int, t_last_s: float, fps: float,
                   end_s: Optional[float] = None) -> Optional[str]:
    """Whether a file decoded completely: ``decoded`` frames, the last at ``t_last_s`` (s from the first), of the
    ``declared`` frames its container announces (0 or less: unknown).

    Returns ``None`` for a complete file (within ``CUT_TOLERANCE``), or a warning line for a cut-short file when
    the time range ends (``end_s``) within the decoded frames. Raises ``InputError`` (one line naming the file,
    the frames decoded and declared) when the range needs frames that could not be decoded: a cut file would
    otherwise give a shorter motion in silence, and a clip labelled by its file (a fall) may have lost the very
    part the label describes. ``--end`` at the decoded part's end uses what was decoded.
    """
    short = declared - decoded
    if declared <= 0 or short <= max(CUT_TOLERANCE[0], CUT_TOLERANCE[1] * declared):
        return None
    t_end = t_last_s + 1.0 / fps  # a range ending here keeps every decoded frame and no missing one
    if end_s is not None and end_s <= t_end + 0.5 / fps:
        return (f"the file is cut short (only {decoded} of the {declared} frames its container declares decode); "
                "the time range ends before the cut")
    raise InputError(f"{name} is cut short: only {decoded} of the {declared} frames its container declares could "
                     f"be decoded (a truncated or damaged file); re-encode or fetch it again, or pass --end "
                     f"{round(t_end, 3):g} to use the decoded {t_end:.2f} s")


def _brightest(frame: np.ndarray) -> np.ndarray:
    """Brightest channel per pixel, ``(H, W)`` uint8."""
    return np.maximum(np.maximum(frame[..., 0], frame[..., 1]), frame[..., 2])


def detect_letterbox(samples, level: int = LETTERBOX_LEVEL, min_frac: float = LETTERBOX_MIN_FRAC
                     ) -> Optional[tuple[int, int, int, int]]:
    """Find black bars around the picture.

    Args:
      samples: ``(N, H, W, 3)`` uint8 frames spread over the video (or a sequence of ``(H, W, 3)`` frames).
      level: brightness above which a pixel is not black; a row or column with at most 1 % such pixels (over
        all samples) is a bar.
      min_frac: smallest bar (fraction of the size) that counts.
    Returns:
      ``(x0, y0, x1, y1)`` of the picture (exclusive end), or ``None`` when there is no bar worth cropping or the
      frames are dark throughout (a night scene is not a letterbox).
    """
    rows = cols = None
    for f in samples:
        bright = _brightest(f) > level
        r, c = bright.sum(1), bright.sum(0)
        rows, cols = (r, c) if rows is None else (rows + r, cols + c)
    n = len(samples)
    H, W = len(rows), len(cols)
    rows, cols = rows > 0.01 * n * W, cols > 0.01 * n * H  # more than 1 % bright pixels: picture, not bar
    if not rows.any() or not cols.any():
        return None
    y0, y1 = int(np.argmax(rows)), int(H - np.argmax(rows[::-1]))
    x0, x1 = int(np.argmax(cols)), int(W - np.argmax(cols[::-1]))
    if max(y0, H - y1) < min_frac * H and max(x0, W - x1) < min_frac * W:
        return None
    if (y1 - y0) < 0.2 * H or (x1 - x0) < 0.2 * W:  # a mostly black video: leave it alone
        return None
    return x0, y0, x1, y1


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def prefetch(frames: Iterator, depth: int = PREFETCH_FRAMES) -> Iterator:
    """The items of ``frames`` (an iterator), produced ahead by a background thread into a queue of ``depth``
    items: decoding (OpenCV releases the GIL) overlaps the consumer's work. Memory: ``depth`` frames. Closing the
    returned generator early stops the thread (and lets ``frames`` release its decoder)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    end = object()

    def work():
        try:
            for item in frames:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    break
        except BaseException as e:  # handed to the consumer
            q.put(_Failed(e))
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
            q.put(end)

    th = threading.Thread(target=work, name="video-decode", daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is end:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        while th.is_alive():  # drain so the producer's final put cannot block
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
        th.join()


class Video:
    """A video file as upright, letterbox-cropped RGB frames within a time range.

    Args:
      path: the file (anything OpenCV's FFmpeg backend decodes: mp4, avi, mov, mkv...).
      start_s, end_s: keep frames with ``start_s <= t < end_s`` (seconds from the file's first frame).
      fps: override the frame rate (Hz).
      letterbox: crop black bars (see the module docstring).

    Attributes:
      info: ``VideoInfo``.
      times_s: ``(T,)`` time of each delivered frame after ``info.start_s`` (s), from the timestamps when they are
        usable, else ``i / fps``.
      samples: ``(N, H, W, 3)`` RGB frames spread over the range (after rotation and crop).

    Iterating yields ``(index, frame)`` with ``index`` from 0 and ``frame`` ``(H, W, 3)`` RGB uint8.
    """

    def __init__(self, path: str | os.PathLike, *, start_s: Optional[float] = None, end_s: Optional[float] = None,
                 fps: Optional[float] = None, letterbox: bool = True):
        self.path = os.fspath(path)
        name = os.path.basename(self.path)
        if not os.path.exists(self.path):
            raise InputError(f"no such file: {self.path}")
        if os.path.isdir(self.path):
            raise InputError(f"{self.path} is a folder, not a video")
        if os.path.getsize(self.path) == 0:
            raise InputError(f"{self.path} is empty (0 bytes)")
        if start_s is not None and end_s is not None and end_s <= start_s:
            raise InputError(f"--end ({end_s:g} s) must be after --start ({start_s:g} s)")
        cap = self._open()
        meta_fps = float(cap.get(cv2.CAP_PROP_FPS))
        rotation = int(round(float(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0.0))) % 360
        rotation = rotation if rotation in _ROTATIONS else 0
        declared = int(round(float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0)))
        stamps = []
        while cap.grab():
            stamps.append(float(cap.get(cv2.CAP_PROP_POS_MSEC)))
        cap.release()
        total = len(stamps)
        if total == 0:
            raise InputError(f"cannot decode any frame of {name} (not a video, or a codec OpenCV lacks)")
        stamps = np.asarray(stamps, np.float64)
        rate, source, warnings = resolve_fps(meta_fps, stamps, fps, name)
        # Frame times from the file's first frame: timestamps when they are usable and increasing.
        rel = stamps - stamps[0]
        use_stamps = source != "override" and np.all(np.isfinite(rel)) and np.all(np.diff(rel) > 0)
        t_file = rel / 1000.0 if use_stamps else np.arange(total) / rate
        cut = check_complete(name, total, declared, float(t_file[-1]), rate, end_s)
        if cut:
            warnings.append(cut)
        keep = np.ones(total, bool)
        if start_s is not None:
            keep &= t_file >= start_s - 0.5 / rate
        if end_s is not None:
            keep &= t_file < end_s - 0.5 / rate
        idx = np.nonzero(keep)[0]
        if len(idx) == 0:
            dur = t_file[-1]
            raise InputError(f"no frames of {name} in the range --start {start_s} --end {end_s} "
                             f"(the video lasts {dur:.2f} s)")
        first, n = int(idx[0]), int(len(idx))
        d = np.diff(t_file[idx])
        variable = bool(len(d) >= 3 and (np.percentile(d, 90) - np.percentile(d, 10)) > VFR_SPREAD * np.median(d))
        if variable:
            warnings.append(f"variable frame rate (intervals {1000 * d.min():.1f}-{1000 * d.max():.1f} ms); "
                            f"tracks are resampled to {rate:.3g} fps")
        self._rotation, self._crop, self._first, self._n = rotation, None, first, n
        pick = set(np.unique(np.linspace(0, n - 1, min(n, NUM_SAMPLES)).round().astype(int)).tolist())
        samples = [f for i, f in self._frames(pick)]
        sh, sw = samples[0].shape[:2]
        crop = detect_letterbox(samples) if letterbox else None
        if crop is not None:
            x0, y0, x1, y1 = crop
            samples = [f[y0:y1, x0:x1] for f in samples]
            warnings.append(f"black letterbox bars cropped: picture ({x0}, {y0})-({x1}, {y1}) of {sw}x{sh}")
        self._crop = crop
        self.samples = np.stack(samples)
        self.times_s = t_file[idx] - t_file[first]
        h, w = self.samples.shape[1:3]
        self.info = VideoInfo(path=self.path, width=int(w), height=int(h), fps=float(rate), fps_source=source,
                              num_frames=n, first_frame=first, start_s=float(t_file[first]), total_frames=total,
                              rotation_deg=rotation, crop=crop, source_size=(int(sw), int(sh)),
                              variable_fps=variable, warnings=tuple(warnings))

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            raise InputError(f"cannot open {os.path.basename(self.path)} as a video (not a video, or a codec "
                             "OpenCV lacks)")
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)  # rotation is applied here, the same on every backend
        return cap

    def _frames(self, wanted: Optional[set[int]] = None) -> Iterator[tuple[int, np.ndarray]]:
        cap = self._open()
        try:
            for _ in range(self._first):
                if not cap.grab():
                    return
            for i in range(self._n):
                if wanted is not None and i not in wanted:
                    if not cap.grab():
                        return
                    continue
                ok, bgr = cap.read()
                if not ok:
                    return
                if self._rotation:
                    bgr = cv2.rotate(bgr, _ROTATIONS[self._rotation])
                if self._crop is not None:
                    x0, y0, x1, y1 = self._crop
                    bgr = bgr[y0:y1, x0:x1]
                yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                if wanted is not None and i >= max(wanted):
                    return
        finally:
            cap.release()

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        return prefetch(self._frames())

    def frames(self, wanted: Optional[set[int]] = None) -> Iterator[tuple[int, np.ndarray]]:
        """``(index, frame)`` for the delivered frames whose index is in ``wanted`` (all when ``None``), decoded
        ahead in a thread (``prefetch``); the others are skipped without conversion."""
        return prefetch(self._frames(wanted))

    def __len__(self) -> int:
        return self._n

    def read_all(self) -> np.ndarray:
        """All delivered frames, ``(T, H, W, 3)`` RGB uint8 (for short clips and tests)."""
        return np.stack([f for _, f in self])
