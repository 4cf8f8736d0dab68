"""Person detection with a YOLOX ONNX model (the official ``tools/export_onnx.py`` layout).

Model I/O (checked when the model is opened):
  * input ``(N, 3, H, W)`` float32: the frame letterboxed into H x W (scaled by ``r = min(H / h, W / w)`` with
    ``cv2.INTER_LINEAR``, placed at the top-left, the rest filled with grey 114), **BGR, 0-255, not normalised**,
    as YOLOX >= 0.2 (the 0.1.1rc0 release weights) and its ONNXRuntime demo expect. ``N`` may be 1 (official
    exports) or dynamic (``export_yolox.py --dynamic``), in which case frames are batched.
  * output ``(N, A, 5 + C)``: per anchor ``(tx, ty, tw, th, objectness, class scores...)`` with objectness and
    classes already sigmoid-ed. Raw exports (the official default) need YOLOX's grid decoding, as its
    ``demo_postprocess``: ``cx = (tx + col) * stride``, ``w = exp(tw) * stride`` with strides 8, 16, 32 (and 64
    for P6 models), rows in that order, row-major within a level. Exports made with ``--decode_in_inference``
    already hold ``(cx, cy, w, h)`` in input pixels: pass ``decoded=True`` (or the model carries the metadata
    property ``imusim.yolox_decoded = 1``).

Post-processing: person score = objectness x class-0 score (``multiclass_nms_class_aware`` of the YOLOX demo,
restricted to persons), boxes above ``score_threshold``, non-maximum suppression at IoU ``nms_threshold``
(``cv2.dnn.NMSBoxes``), boxes mapped back by ``1 / r`` and clipped to the frame.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import cv2
import numpy as np

from imusim_jax._motion import InputError
from imusim_jax.pose._onnx import OnnxModel
from imusim_jax.pose.types import Detections

__all__ = ["OnnxPersonDetector", "letterbox", "yolox_grid"]

PAD_VALUE = 114


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        shape = getattr(frame, "shape", None)
        raise InputError(f"a frame must be an RGB uint8 array (H, W, 3), got {getattr(frame, 'dtype', type(frame))} "
                         f"{shape}")
    if frame.shape[0] < 2 or frame.shape[1] < 2:
        raise InputError(f"frame is too small: {frame.shape}")


def letterbox(frame_rgb: np.ndarray, size_hw: tuple[int, int], bgr: bool = True) -> tuple[np.ndarray, float]:
    """YOLOX's ``preproc``: ``(3, H, W)`` float32 input (BGR when ``bgr``) and the scale ``r`` (input px / frame px).

    A point ``(x, y)`` of the frame lands at ``(x * r, y * r)`` in the model input.
    """
    h, w = frame_rgb.shape[:2]
    r = min(size_hw[0] / h, size_hw[1] / w)
    nh, nw = int(h * r), int(w * r)
    resized = cv2.resize(frame_rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    out = np.full((3, size_hw[0], size_hw[1]), PAD_VALUE, np.float32)
    for c in range(3):  # HWC uint8 -> CHW float32, reversing the channels for BGR, one pass each
        out[c, :nh, :nw] = resized[:, :, 2 - c if bgr else c]
    return out, r


def yolox_grid(size_hw: tuple[int, int], strides: Sequence[int] = (8, 16, 32)) -> tuple[np.ndarray, np.ndarray]:
    """Anchor cell offsets ``(A, 2)`` as (col, row) and strides ``(A, 1)`` in YOLOX's row order."""
    grids, strs = [], []
    for s in strides:
        gh, gw = size_hw[0] // s, size_hw[1] // s
        xv, yv = np.meshgrid(np.arange(gw), np.arange(gh))
        grids.append(np.stack([xv, yv], -1).reshape(-1, 2))
        strs.append(np.full((gh * gw, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strs).astype(np.float32)


class OnnxPersonDetector:
    """Finds people in RGB frames with a YOLOX ONNX model; ``detector(frame) -> Detections``.

    Args:
      path: ONNX file or manifest name (``"yolox-s"``).
      score_threshold: keep boxes whose person score (objectness x person class) exceeds this, in [0, 1].
      nms_threshold: IoU above which the lower-scoring of two boxes is dropped.
      input_size: (H, W) of the model input; read from the model when static (required otherwise, default 640).
      decoded: whether the output rows are already ``(cx, cy, w, h)`` in input pixels (``None``: from the model's
        ``imusim.yolox_decoded`` metadata, else raw).
      class_id: the person class (0 in COCO).
      max_people: keep at most this many boxes per frame (highest scores first), ``None`` for all.
      batch_size: frames per ``session.run`` when the model's batch axis is dynamic.
      providers, threads: see ``imusim_jax.pose._onnx.create_session``.
    """

    def __init__(self, path: Union[str, os.PathLike], score_threshold: float = 0.3, nms_threshold: float = 0.45,
                 input_size: Optional[tuple[int, int]] = None, decoded: Optional[bool] = None, class_id: int = 0,
                 max_people: Optional[int] = None, batch_size: int = 8, providers: Optional[Sequence[str]] = None,
                 threads: Optional[int] = None):
        if not 0.0 <= score_threshold <= 1.0 or not 0.0 < nms_threshold <= 1.0:
            raise InputError("score_threshold must be in [0, 1] and nms_threshold in (0, 1]")
        self.model = OnnxModel(path, providers, threads)
        m = self.model
        if len(m.inputs) != 1 or m.inputs[0].rank != 4 or m.inputs[0].static(1) != 3 \
                or len(m.outputs) < 1 or m.outputs[0].rank != 3:
            raise m.describe_mismatch("a YOLOX detector (images (N, 3, H, W) -> output (N, A, 5 + classes))")
        inp, out = m.inputs[0], m.outputs[0]
        static_hw = (inp.static(2), inp.static(3))
        if all(static_hw):
            if input_size is not None and tuple(input_size) != static_hw:
                raise InputError(f"input_size {tuple(input_size)} contradicts the model's fixed input {static_hw}")
            self.input_size = static_hw
        else:
            self.input_size = tuple(int(v) for v in (input_size or (640, 640)))
        if self.input_size[0] % 32 or self.input_size[1] % 32:
            raise InputError(f"YOLOX input size must be a multiple of 32, got {self.input_size}")
        self.decoded = (m.metadata.get("imusim.yolox_decoded", "0") == "1") if decoded is None else bool(decoded)
        anchors = out.static(1)
        self._grid = None
        for strides in ((8, 16, 32), (8, 16, 32, 64)):
            g = yolox_grid(self.input_size, strides)
            if anchors is None or len(g[0]) == anchors:
                self._grid = g
                break
        if self._grid is None:
            n_anchors = len(yolox_grid(self.input_size)[0])
            raise m.describe_mismatch(f"a YOLOX model for input {self.input_size} ({n_anchors} anchors at strides "
                                      "8/16/32)")
        n_cls = out.static(2)
        if n_cls is not None and not 5 + class_id < n_cls:
            raise m.describe_mismatch(f"a detector with class {class_id}")
        self.class_id = class_id
        self.score_threshold, self.nms_threshold = float(score_threshold), float(nms_threshold)
        self.max_people = max_people
        self.batch_size = max(1, int(batch_size)) if inp.static(0) is None else inp.static(0)
        self._input_name = inp.name
        self.bgr = m.metadata.get("imusim.color", "bgr").lower() != "rgb"

    def __call__(self, frame: np.ndarray) -> Detections:
        """Person boxes of one RGB uint8 frame (H, W, 3): ``Detections`` with boxes (N, 4) xyxy pixels."""
        return self.run_on_frames([frame])[0]

    def run_on_frames(self, frames: Union[Sequence[np.ndarray], np.ndarray]) -> list[Detections]:
        """``Detections`` for each frame of a sequence (or a (T, H, W, 3) array), batched when the model allows."""
        out: list[Detections] = []
        frames = list(frames)
        for f in frames:
            _check_frame(f)
        for s in range(0, len(frames), self.batch_size):
            chunk = frames[s:s + self.batch_size]
            prepped = [letterbox(f, self.input_size, self.bgr) for f in chunk]
            batch = np.stack([p[0] for p in prepped])
            n_real = len(batch)
            if n_real < self.batch_size and self.model.inputs[0].static(0) is not None:
                batch = np.concatenate([batch, np.repeat(batch[-1:], self.batch_size - n_real, 0)])
            pred = self.model.run({self._input_name: batch})[0]
            if not self.decoded and pred.shape[1] != len(self._grid[0]):
                raise InputError(f"{self.model.path.name} returned {pred.shape[1]} rows for a {self.input_size} input; "
                                 f"YOLOX grid decoding expects {len(self._grid[0])}")
            for i, (f, (_, r)) in enumerate(zip(chunk, prepped)):
                out.append(self._postprocess(pred[i], r, f.shape[:2]))
        return out

    def _postprocess(self, pred: np.ndarray, r: float, frame_hw: tuple[int, int]) -> Detections:
        scores = pred[:, 4] * pred[:, 5 + self.class_id]
        keep = np.flatnonzero(scores > self.score_threshold)
        if keep.size == 0:
            return Detections.empty()
        p = pred[keep, :4].astype(np.float32)
        if not self.decoded:
            grid, strides = self._grid[0][keep], self._grid[1][keep]
            p = np.concatenate([(p[:, :2] + grid) * strides, np.exp(p[:, 2:4]) * strides], axis=1)
        boxes = np.concatenate([p[:, :2] - p[:, 2:] / 2, p[:, :2] + p[:, 2:] / 2], axis=1) / r
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, frame_hw[1])
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, frame_hw[0])
        sc = scores[keep].astype(np.float32)
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
        idx = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), sc.tolist(), self.score_threshold, self.nms_threshold),
                         dtype=np.int64).reshape(-1)
        idx = idx[np.argsort(-sc[idx], kind="stable")]
        if self.max_people is not None:
            idx = idx[:self.max_people]
        return Detections(boxes[idx].astype(np.float32), sc[idx])
