"""Top-down 2D pose with a ViTPose ONNX model: COCO-17 keypoints ``(N, 17, 3)`` (x, y in pixels, confidence).

Pipeline, as the official ViTPose test configs (``use_udp=True``, ``post_process='default'``,
``modulate_kernel=11``, ``shift_heatmap=False``) and mmpose 0.x's ``TopDownAffine`` / ``keypoints_from_heatmaps``:

1. Box -> centre and size: centre = box centre, size = (w, h) grown to the input's aspect ratio (192 / 256) and
   scaled by ``padding`` = 1.25 (mmpose's ``_box2cs``; boxes are continuous xyxy, so w = x1 - x0 without mmpose
   0.x's ``+ 1``).
2. UDP affine crop (``cv2.warpAffine``, bilinear, black border): frame point ``c - size / 2`` maps to crop pixel 0
   and ``c + size / 2`` to pixel ``W_in - 1`` (``get_warp_matrix`` with ``size_dst = input_size - 1``).
3. Normalisation: RGB / 255, minus ImageNet mean (0.485, 0.456, 0.406), over std (0.229, 0.224, 0.225); NCHW.
4. Optional flip test: the crops flipped left-right go through the model too; their heatmaps are flipped back
   and left/right COCO channels swapped, then averaged with the plain ones (UDP needs no half-pixel shift).
5. Decoding (``post_dark_udp``): integer argmax per heatmap (its value is the confidence), then one Newton step on
   the log of the heatmap blurred by an 11 x 11 Gaussian (``cv2.GaussianBlur``, clipped to [0.001, 50]): sub-pixel
   peak in heatmap cells. UDP maps heatmap cell ``x_hm`` to crop pixel ``x_hm (W_in - 1) / (W_hm - 1)``, and the
   inverse affine maps it back to the frame.

``output_layout='keypoints_yx'`` (or ``'keypoints_xy'``) accepts exports whose output is already keypoints
``(N, 17, 3)`` as (y, x, score) (resp. (x, y, score)) in crop pixels; they are mapped back through the inverse crop.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import cv2
import numpy as np

from imusim_jax._motion import InputError
from imusim_jax.pose._onnx import OnnxModel
from imusim_jax.pose.detector import _check_frame

__all__ = ["VitPose", "box_to_center_size", "crop_affine", "apply_affine", "decode_heatmaps", "flip_back",
           "COCO_FLIP_PAIRS", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
COCO_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16))
OUTPUT_LAYOUTS = ("heatmaps", "keypoints_yx", "keypoints_xy")


def _flip_index(k: int, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    idx = np.arange(k)
    for a, b in pairs:
        idx[a], idx[b] = b, a
    return idx


def box_to_center_size(boxes: np.ndarray, aspect_wh: float = 192 / 256, padding: float = 1.25
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) xyxy pixels -> centres (N, 2) and crop sizes (N, 2) (w, h) in pixels with ``w / h = aspect_wh``."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    center = (boxes[:, :2] + boxes[:, 2:]) / 2
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    w, h = np.maximum(w, h * aspect_wh), np.maximum(h, w / aspect_wh)
    return center, np.stack([w, h], axis=1) * padding


def crop_affine(center: np.ndarray, size: np.ndarray, input_wh: tuple[int, int]) -> np.ndarray:
    """UDP forward affines (N, 2, 3): frame pixels -> crop pixels, ``c - size/2 -> 0``, ``c + size/2 -> W_in - 1``."""
    center, size = np.asarray(center, np.float64).reshape(-1, 2), np.asarray(size, np.float64).reshape(-1, 2)
    k = (np.asarray(input_wh, np.float64) - 1.0) / size  # (N, 2)
    m = np.zeros((len(center), 2, 3))
    m[:, 0, 0], m[:, 1, 1] = k[:, 0], k[:, 1]
    m[:, :, 2] = -(center - size / 2) * k
    return m


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply affines (N, 2, 3) to points (N, K, 2) -> (N, K, 2)."""
    return np.einsum("nij,nkj->nki", m[:, :, :2], points) + m[:, None, :, 2]


def _invert(m: np.ndarray) -> np.ndarray:
    return np.stack([cv2.invertAffineTransform(a) for a in m]) if len(m) else m.copy()


def _reflect101(i: np.ndarray, n: int) -> np.ndarray:
    """Indices mirrored at the borders without repeating the edge (OpenCV's BORDER_REFLECT_101), for |i| < 2n."""
    i = np.abs(i)
    return np.where(i > n - 1, 2 * (n - 1) - i, i)


def _local_log_blur(hm: np.ndarray, x: np.ndarray, y: np.ndarray, kernel: int) -> np.ndarray:
    """log(clip(GaussianBlur(hm), 0.001, 50)) at the 3 x 3 cells around (x, y), borders clamped: (N, K, 3, 3).

    Equals ``cv2.GaussianBlur(heatmap, (kernel, kernel), 0)`` (reflect-101 border) evaluated only where the Newton
    step of ``post_dark_udp`` reads it (the argmax's edge-padded neighbours), so decoding costs O(kernel^2) per
    heatmap instead of a full blur.
    """
    n, k, h, w = hm.shape
    kern = cv2.getGaussianKernel(kernel, 0).ravel()
    r = kernel // 2
    o = np.arange(-r - 1, r + 2)
    rows = _reflect101(y[..., None] + o, h)  # (N, K, kernel + 2)
    cols = _reflect101(x[..., None] + o, w)
    nn, kk = np.arange(n)[:, None, None, None], np.arange(k)[None, :, None, None]
    patch = hm[nn, kk, rows[..., :, None], cols[..., None, :]].astype(np.float64)  # (N, K, kernel+2, kernel+2)
    sw = np.lib.stride_tricks.sliding_window_view
    horiz = sw(patch, kernel, axis=3) @ kern  # (N, K, kernel + 2, 3)
    blur = sw(horiz, kernel, axis=2) @ kern  # (N, K, 3, 3): [row offset, col offset]
    d = np.arange(-1, 2)
    by = np.clip(y[..., None] + d, 0, h - 1) - y[..., None] + 1  # clamped neighbours read the centre's row
    bx = np.clip(x[..., None] + d, 0, w - 1) - x[..., None] + 1
    blur = np.take_along_axis(np.take_along_axis(blur, by[..., :, None], 2), bx[..., None, :], 3)
    return np.log(np.clip(blur, 0.001, 50.0))


def decode_heatmaps(heatmaps: np.ndarray, blur_kernel: Optional[int] = 11) -> tuple[np.ndarray, np.ndarray]:
    """UDP heatmaps (N, K, H, W) -> sub-pixel peaks (N, K, 2) as (x, y) in heatmap cells, and peak values (N, K).

    Integer argmax refined by DARK-UDP (mmpose's ``post_dark_udp``): one Newton step from the argmax on the log of
    the heatmap blurred by a ``blur_kernel`` Gaussian (clipped to [0.001, 50], edge-padded);
    ``blur_kernel=None`` skips the refinement. Heatmaps whose maximum is <= 0 keep the integer argmax.
    """
    hm = np.asarray(heatmaps, np.float32)
    if hm.ndim != 4:
        raise InputError(f"heatmaps must be (N, K, H, W), got {hm.shape}")
    n, k, h, w = hm.shape
    flat = hm.reshape(n, k, -1)
    idx = flat.argmax(-1)
    maxvals = np.take_along_axis(flat, idx[..., None], -1)[..., 0]
    x, y = idx % w, idx // w
    coords = np.stack([x, y], -1).astype(np.float64)
    if not blur_kernel or n * k == 0:
        return coords.astype(np.float32), maxvals
    if blur_kernel % 2 != 1 or blur_kernel // 2 + 2 > min(h, w):
        raise InputError(f"blur_kernel must be odd and at most the heatmap size minus 3, got {blur_kernel} for "
                         f"{h} x {w} heatmaps")
    p = _local_log_blur(hm, x, y, blur_kernel)  # p[..., 1 + dy, 1 + dx]
    i0 = p[..., 1, 1]
    dx, dy = 0.5 * (p[..., 1, 2] - p[..., 1, 0]), 0.5 * (p[..., 2, 1] - p[..., 0, 1])
    dxx = p[..., 1, 2] - 2 * i0 + p[..., 1, 0]
    dyy = p[..., 2, 1] - 2 * i0 + p[..., 0, 1]
    dxy = 0.5 * (p[..., 2, 2] - p[..., 1, 2] - p[..., 2, 1] + 2 * i0 - p[..., 1, 0] - p[..., 0, 1] + p[..., 0, 0])
    eps = float(np.finfo(np.float32).eps)
    a, d = dxx + eps, dyy + eps
    det = a * d - dxy * dxy
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.stack([(d * dx - dxy * dy) / det, (a * dy - dxy * dx) / det], -1)
    off[~np.isfinite(off)] = 0.0
    off[maxvals <= 0] = 0.0
    return (coords - off).astype(np.float32), maxvals


def flip_back(output: np.ndarray, flip_pairs: Sequence[tuple[int, int]] = COCO_FLIP_PAIRS) -> np.ndarray:
    """Heatmaps (N, K, H, W) of left-right flipped crops -> heatmaps of the unflipped crops (mirror, swap pairs)."""
    return output[:, _flip_index(output.shape[1], flip_pairs), :, ::-1]


class VitPose:
    """ViTPose ONNX runner: ``vitpose(frame, boxes) -> (N, 17, 3)`` COCO-17 keypoints (x, y pixels, conf in [0, 1]).

    Args:
      path: ONNX file or manifest name (``"vitpose-b"``). Heatmap models: input (N, 3, H_in, W_in) ImageNet-
        normalised RGB, output (N, 17, H_in / 4, W_in / 4).
      flip_test: also run the mirrored crops and average (twice the compute, as the official evaluation).
      output_layout: ``'heatmaps'`` (default), or ``'keypoints_yx'`` / ``'keypoints_xy'`` for exports whose output
        is (N, 17, 3) keypoints in crop pixels, (y, x, score) resp. (x, y, score).
      batch_size: crops per ``session.run`` when the batch axis is dynamic.
      blur_kernel: Gaussian kernel of the DARK-UDP refinement (11 for ViTPose's sigma-2 targets; ``None`` = off).
      padding: box enlargement factor before cropping (1.25).
      input_size: (H_in, W_in) when the model's spatial axes are dynamic (default (256, 192)).
      providers, threads: see ``imusim_jax.pose._onnx.create_session``.
    """

    joint_set = "coco17"

    def __init__(self, path: Union[str, os.PathLike], flip_test: bool = False, output_layout: str = "heatmaps",
                 batch_size: int = 32, blur_kernel: Optional[int] = 11, padding: float = 1.25,
                 input_size: Optional[tuple[int, int]] = None, providers: Optional[Sequence[str]] = None,
                 threads: Optional[int] = None):
        if output_layout not in OUTPUT_LAYOUTS:
            raise InputError(f"output_layout must be one of {', '.join(OUTPUT_LAYOUTS)}, got {output_layout!r}")
        if blur_kernel is not None and (blur_kernel < 1 or blur_kernel % 2 != 1):
            raise InputError(f"blur_kernel must be a positive odd integer or None, got {blur_kernel}")
        self.model = m = OnnxModel(path, providers, threads)
        self.flip_test, self.output_layout, self.blur_kernel = bool(flip_test), output_layout, blur_kernel
        self.padding = float(padding)
        if not self.padding > 0:
            raise InputError(f"padding must be positive, got {padding}")
        if len(m.inputs) != 1 or m.inputs[0].rank != 4 or m.inputs[0].static(1) != 3:
            raise m.describe_mismatch("a ViTPose model (input (N, 3, H, W))")
        inp, out = m.inputs[0], m.outputs[0]
        hw = (inp.static(2), inp.static(3))
        self.input_size = hw if all(hw) else tuple(int(v) for v in (input_size or (256, 192)))
        k = out.static(1)
        if output_layout == "heatmaps":
            if out.rank != 4 or k not in (17, None):
                hint = ("; pass output_layout='keypoints_yx' or 'keypoints_xy'"
                        if out.rank == 3 and out.static(2) in (3, None) else "")
                raise InputError(f"{m.path.name} does not look like a ViTPose heatmap model (N, 17, H/4, W/4): its "
                                 f"signature is {m.signature()}{hint}")
        elif out.rank != 3 or k not in (17, None) or out.static(2) not in (3, None):
            raise m.describe_mismatch("a keypoint-output pose model (output (N, 17, 3))")
        self.batch_size = inp.static(0) or max(1, int(batch_size))
        self._input_name, self._output_name = inp.name, out.name
        self._flip_idx = _flip_index(17, COCO_FLIP_PAIRS)
        self._scale = (1.0 / (255.0 * IMAGENET_STD)).astype(np.float32)
        self._shift = (IMAGENET_MEAN / IMAGENET_STD).astype(np.float32)

    # -- public API ----------------------------------------------------------------------------------------------
    def __call__(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Keypoints (N, 17, 3) for the N boxes (N, 4) xyxy pixels of one RGB uint8 frame (H, W, 3)."""
        return self.run_on_frames([frame], [boxes])[0]

    def run_on_frames(self, frames: Sequence[np.ndarray], boxes_per_frame: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Keypoints (N_i, 17, 3) for each frame's boxes (N_i, 4). Crops of consecutive frames share batches of
        ``batch_size``; crops are made as batches fill, so memory stays bounded on long videos."""
        if len(frames) != len(boxes_per_frame):
            raise InputError(f"got {len(frames)} frames but {len(boxes_per_frame)} box arrays")
        w_in, h_in = self.input_size[1], self.input_size[0]
        crops, mats, counts, done = [], [], [], []

        def flush(n: int) -> None:
            kp_crop, conf = self._infer(np.stack(crops[:n]))
            xy = apply_affine(_invert(np.stack(mats[:n])), kp_crop.astype(np.float64))
            done.append(np.concatenate([xy, np.clip(conf, 0.0, 1.0)[..., None]], -1).astype(np.float32))
            del crops[:n], mats[:n]

        for frame, boxes in zip(frames, boxes_per_frame):
            _check_frame(frame)
            boxes = self._check_boxes(boxes)
            c, s = box_to_center_size(boxes, w_in / h_in, self.padding)
            for a in crop_affine(c, s, (w_in, h_in)):
                crops.append(cv2.warpAffine(frame, a, (w_in, h_in), flags=cv2.INTER_LINEAR))
                mats.append(a)
            counts.append(len(boxes))
            while len(crops) >= self.batch_size:
                flush(self.batch_size)
        if crops:
            flush(len(crops))
        if not counts:
            return []
        out = np.concatenate(done) if done else np.zeros((0, 17, 3), np.float32)
        return np.split(out, np.cumsum(counts)[:-1])

    # -- internals -----------------------------------------------------------------------------------------------
    @staticmethod
    def _check_boxes(boxes: np.ndarray) -> np.ndarray:
        b = np.asarray(boxes, np.float64)
        if b.size == 0:
            return b.reshape(0, 4)
        if b.ndim != 2 or b.shape[1] != 4 or not np.isfinite(b).all():
            raise InputError(f"boxes must be a finite (N, 4) xyxy array, got shape {b.shape}")
        if np.any(b[:, 2] <= b[:, 0]) or np.any(b[:, 3] <= b[:, 1]):
            raise InputError("boxes must have x1 > x0 and y1 > y0 (xyxy pixels)")
        return b

    def _normalise(self, crops: np.ndarray) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB -> (N, 3, H, W) float32 ImageNet-normalised (one pass per channel)."""
        n, h, w, _ = crops.shape
        x = np.empty((n, 3, h, w), np.float32)
        for c in range(3):
            np.multiply(crops[..., c], self._scale[c], out=x[:, c], dtype=np.float32)
            x[:, c] -= self._shift[c]
        return x

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.model.run_batched(x, self._input_name, self._output_name, self.batch_size)

    def _infer(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crops (N, H_in, W_in, 3) uint8 -> keypoints (N, 17, 2) in crop pixels and confidences (N, 17)."""
        n = len(crops)
        x = self._normalise(crops)
        if self.flip_test:
            x = np.concatenate([x, x[:, :, :, ::-1]])
        y = self._run(x)
        w_in, h_in = self.input_size[1], self.input_size[0]
        if self.output_layout == "heatmaps":
            hm = y[:n]
            if self.flip_test:
                hm = 0.5 * (hm + flip_back(y[n:]))
            if hm.shape[1] != 17:
                raise self.model.describe_mismatch("a COCO-17 heatmap model")
            coords, conf = decode_heatmaps(hm, self.blur_kernel)
            scale = np.array([(w_in - 1.0) / (hm.shape[3] - 1.0), (h_in - 1.0) / (hm.shape[2] - 1.0)], np.float32)
            return coords * scale, conf
        kp = y[..., [1, 0, 2]] if self.output_layout == "keypoints_yx" else y
        xy, conf = kp[:n, :, :2], kp[:n, :, 2]
        if self.flip_test:
            f = kp[n:][:, self._flip_idx]
            fx = np.stack([(w_in - 1.0) - f[..., 0], f[..., 1]], -1)
            xy, conf = 0.5 * (xy + fx), 0.5 * (conf + f[..., 2])
        return xy, conf
