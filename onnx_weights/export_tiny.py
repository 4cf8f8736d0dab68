"""Tiny, deterministic ONNX models with the real Stage 1 signatures, written with ``onnx.helper`` (no torch).

The tests and ``benchmarks/pose.py`` run the real runners (``imusim_jax.pose.detector``, ``.vitpose``, ``.lifter``)
on these files through onnxruntime. The models are small hand-built graphs whose outputs are known answers:

**Person detector** (YOLOX layout: ``images`` (N, 3, H, W) float32, letterboxed **BGR 0-255**, grey padding 114 ->
``output`` (N, A, 85), A = (H/8)(W/8) + (H/16)(W/16) + (H/32)(W/32), raw: grid decoding needed, objectness and
class scores already sigmoid-ed). It finds **saturated red blobs**: a pixel counts as "person" when, in RGB,
``R - G - B >= 128`` (fully) or ``<= 64`` (not at all), e.g. pure red (255, 0, 0) or (220, 30, 30); skin, orange,
grey, white and black do not count. Per blob it reports the blob's bounding box: exact to about a pixel (in the
letterboxed image) for solid rectangles (one filling ``img[y0:y1, x0:x1]`` gives the box ``(x0, y0, x1, y1)``), and
right at the centre row/column for other convex shapes symmetric about their centre (ellipses). The stride-8 cells (8 x 8 px) whose coverage is > 0.5 carry the box (``tx, ty, tw,
th`` encoded as YOLOX does), objectness peaks at the blob's centre cell and falls linearly towards its edges, the
person class (0) is 1 on the blob and every other class is 0; the stride-16 and stride-32 rows are all zero.
Blobs need to be at least 16 px wide and tall in the letterboxed image and must not touch each other.

**ViTPose** (``input`` (N, 3, 256, 192), ImageNet-normalised RGB -> ``heatmaps`` (N, 17, 64, 48)). It finds the
red pixels of the crop (same colour rule as the detector) and places each COCO-17 keypoint k at
``(mean_x + a_k * std_x, mean_y + b_k * std_y)`` of the red mask in crop pixels (``KEYPOINT_TEMPLATE`` below: the
subject faces the camera, so their left side is on the image's right; a solid rectangle has std = side / sqrt(12),
so every keypoint lies inside it). The heatmap is a Gaussian (sigma 2, as ViTPose's UDP targets) centred at the
keypoint's sub-pixel UDP heatmap position ``x_hm = x_crop * 47 / 191``, scaled by the mean red coverage around the
keypoint (about 1 on a red figure, 0 where the crop has no red). So for a red rectangle alone in its crop the runner
returns keypoint k near ``(cx + a_k w / sqrt(12), cy + b_k h / sqrt(12))`` in image pixels (centre, width, height
of the rectangle) with confidence near 1: ``expected_keypoints(rect)`` gives the exact answer. ``vitpose_tiny_yx``
is the same model returning keypoints (N, 17, 3) as (y, x, score) in crop pixels instead of heatmaps.

**VideoPose3D** (``keypoints`` (B, T_in, 17, 2) normalised screen coordinates (``X / w * 2 - [1, h / w]``) ->
``joints3d`` (B, T_out, 17, 3), T_out = T_in - 26): VideoPose3D's TemporalModel with filter widths 3, 3, 3 (valid,
dilated 1, 3, 9: receptive field 27, stored as metadata ``receptive_field``), 32 channels, random weights (seed 0),
plus a skip path that makes the output person-shaped: H36M-17 joints built from the window's centre frame by
``imusim_jax._joints.conversion_matrix('coco17', 'h36m17')``, root-relative, z = 0 (x right, y down: camera frame,
units = normalised screen units), to which ``residual_scale`` (0.05) times the temporal network's output is added.
``videopose3d_tiny_linear`` has residual_scale 0 (exactly flip-equivariant); ``videopose3d_tiny_static`` has a
static time axis (T_in 90 -> T_out 64) and no metadata, so the receptive field must be read from its shapes.

The ``*_compute`` builders make random models with the real architectures' sizes (ViT-B ViTPose, 243-frame
VideoPose3D with 1024 channels, a YOLOX-s-sized conv net) for timing only: ``benchmarks/pose.py``.

Usage: ``python onnx_weights/export_tiny.py OUTDIR`` or ``export_all(outdir) -> {name: path}``.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])
RED_FULL, RED_NONE = 128.0, 64.0  # R - G - B at which a pixel is fully / not at all "person"

# (a_k, b_k): keypoint k at mean + (a_k std_x, b_k std_y) of the red mask; x right, y down; COCO-17 order.
KEYPOINT_TEMPLATE = np.array([
    (0.0, -1.45),   # nose
    (0.12, -1.55), (-0.12, -1.55),  # left_eye, right_eye
    (0.3, -1.5), (-0.3, -1.5),  # left_ear, right_ear
    (0.75, -1.0), (-0.75, -1.0),  # left_shoulder, right_shoulder
    (1.0, -0.4), (-1.0, -0.4),  # left_elbow, right_elbow
    (1.2, 0.15), (-1.2, 0.15),  # left_wrist, right_wrist
    (0.5, 0.15), (-0.5, 0.15),  # left_hip, right_hip
    (0.5, 0.85), (-0.5, 0.85),  # left_knee, right_knee
    (0.5, 1.5), (-0.5, 1.5),  # left_ankle, right_ankle
])


def expected_keypoints(rect: Sequence[float]) -> np.ndarray:
    """Where the tiny ViTPose puts the 17 COCO keypoints (17, 2), x y pixels (OpenCV pixel centres), for a solid red
    rectangle filling ``img[y0:y1, x0:x1]``, ``rect = (x0, y0, x1, y1)``, alone in its crop: the pixel centres'
    mean ``((x0 + x1 - 1) / 2, ...)`` plus ``(a_k, b_k)`` times their std ``sqrt((n^2 - 1) / 12)``. The runner
    matches this to a few hundredths of a pixel when the crop is pixel-aligned and to about one crop pixel
    (box height / 200) otherwise."""
    x0, y0, x1, y1 = (float(v) for v in rect)
    n = np.array([x1 - x0, y1 - y0])
    return np.array([(x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2]) + KEYPOINT_TEMPLATE * np.sqrt((n ** 2 - 1) / 12)


class _Builder:
    """A few conveniences over ``onnx.helper``: constants, nodes with generated names, model assembly."""

    def __init__(self, seed: int = 0):
        self.nodes: list = []
        self.inits: list = []
        self.rng = np.random.default_rng(seed)
        self._n = 0

    def _name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, value, dtype=np.float32) -> str:
        name = self._name("c")
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def ints(self, *values: int) -> str:
        return self.const(list(values), np.int64)

    def op(self, op_type: str, *inputs: str, out: Optional[str] = None, n_out: int = 1, **attrs):
        outs = [out] if out is not None else [self._name(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def randn(self, *shape: int, std: float = 1.0) -> str:
        return self.const(self.rng.standard_normal(shape).astype(np.float32) * std)

    # small layers ---------------------------------------------------------------------------------------------
    def unsq(self, x: str, *axes: int) -> str:
        return self.op("Unsqueeze", x, self.ints(*axes))

    def batchnorm(self, x: str, c: int, random: bool = True) -> str:
        g = (1.0 + 0.1 * self.rng.standard_normal(c)) if random else np.ones(c)
        b = 0.1 * self.rng.standard_normal(c) if random else np.zeros(c)
        return self.op("BatchNormalization", x, self.const(g), self.const(b), self.const(np.zeros(c)),
                       self.const(np.ones(c)), epsilon=1e-5)

    def model(self, inputs: list, outputs: list, doc: str, metadata: dict[str, str]) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, "imusim_tiny", inputs, outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="imusim_jax/onnx_weights/export_tiny.py", doc_string=doc)
        m.ir_version = 8
        helper.set_model_props(m, {k: str(v) for k, v in metadata.items()})
        if m.ByteSize() < 2_000_000_000:
            onnx.checker.check_model(m)
        return m


def _tensor(name: str, shape: Sequence, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, list(shape))


def _red_mask(b: _Builder, x: str, weights_rgb: np.ndarray, bias: float) -> str:
    """Clip((R - G - B - RED_NONE) / (RED_FULL - RED_NONE), 0, 1) as a 1x1 convolution of ``x`` (the weights and
    bias express it in terms of the input's channels)."""
    conv = b.op("Conv", x, b.const(np.asarray(weights_rgb, np.float32).reshape(1, 3, 1, 1)), b.const([bias]))
    return b.op("Clip", conv, b.const(0.0), b.const(1.0))


# --------------------------------------------------------------------------------------------------------------
# Person detector (YOLOX output layout)
# --------------------------------------------------------------------------------------------------------------

def _extent(b: _Builder, cov: str, n: int, stride: int) -> tuple[str, str]:
    """For coverage ``cov`` (N, A, n) of cells along the last axis: the pixel start and end (N, A, n) of the run
    of covered (> 0.5) cells through each cell, refined with the coverage of its boundary cells."""
    i = np.arange(n, dtype=np.float32)
    m = b.op("Cast", b.op("Greater", cov, b.const(0.5)), to=TensorProto.FLOAT)
    z = b.op("Sub", b.const(1.0), m)
    half_cov = b.op("Mul", cov, b.const(0.5))
    tri_le = (i[None, :] <= i[:, None]).astype(np.float32)  # [j, i]: i <= j
    tri_ge = (i[None, :] >= i[:, None]).astype(np.float32)
    # last empty cell at or before j, encoded as (i + 1) + cov_i / 2 (cov_i <= 0.5, so the integer part orders)
    vl = b.op("Mul", z, b.op("Add", b.const(i + 1), half_cov))
    l_raw = b.op("ReduceMax", b.op("Mul", b.unsq(vl, -2), b.const(tri_le)), axes=[-1], keepdims=0)
    first = b.op("Floor", l_raw)  # index of the run's first cell
    cov_before = b.op("Mul", b.op("Sub", l_raw, first), b.const(2.0))
    # first empty cell at or after j, encoded as (n - i) + cov_i / 2
    vr = b.op("Mul", z, b.op("Add", b.const(n - i), half_cov))
    r_raw = b.op("ReduceMax", b.op("Mul", b.unsq(vr, -2), b.const(tri_ge)), axes=[-1], keepdims=0)
    r_int = b.op("Floor", r_raw)
    end_cell = b.op("Sub", b.const(float(n)), r_int)  # index of the first empty cell after the run (n if none)
    cov_after = b.op("Mul", b.op("Sub", r_raw, r_int), b.const(2.0))

    def gather(idx: str) -> str:  # cov at index idx (N, A, n) along the last axis, by a one-hot sum
        hot = b.op("Cast", b.op("Equal", b.unsq(idx, -1), b.const(i)), to=TensorProto.FLOAT)
        return b.op("ReduceSum", b.op("Mul", hot, b.unsq(cov, -2)), b.ints(-1), keepdims=0)

    cov_first = gather(first)
    cov_last = gather(b.op("Sub", end_cell, b.const(1.0)))
    s = b.const(float(stride))
    start = b.op("Mul", s, b.op("Sub", b.op("Add", first, b.op("Sub", b.const(1.0), cov_first)), cov_before))
    end = b.op("Mul", s, b.op("Add", b.op("Sub", end_cell, b.op("Sub", b.const(1.0), cov_last)), cov_after))
    return start, end


def build_detector(input_size: tuple[int, int] = (640, 640), dynamic_batch: bool = True) -> onnx.ModelProto:
    """The tiny red-blob person detector in the YOLOX ONNX layout (see the module docstring)."""
    h, w = input_size
    if h % 32 or w % 32:
        raise ValueError("input size must be a multiple of 32")
    b = _Builder()
    gh, gw, s = h // 8, w // 8, 8
    # images are BGR 0-255: R - G - B over channels (B, G, R)
    ramp = RED_FULL - RED_NONE
    mask = _red_mask(b, "images", np.array([-1.0, -1.0, 1.0]) / ramp, -RED_NONE / ramp)
    cov = b.op("Squeeze", b.op("AveragePool", mask, kernel_shape=[s, s], strides=[s, s]), b.ints(1))  # (N,gh,gw)
    x0, x1 = _extent(b, cov, gw, s)
    y0t, y1t = _extent(b, b.op("Transpose", cov, perm=[0, 2, 1]), gh, s)
    y0, y1 = (b.op("Transpose", t, perm=[0, 2, 1]) for t in (y0t, y1t))
    m = b.op("Cast", b.op("Greater", cov, b.const(0.5)), to=TensorProto.FLOAT)
    bw, bh = b.op("Sub", x1, x0), b.op("Sub", y1, y0)
    cx = b.op("Mul", b.op("Add", x0, x1), b.const(0.5))
    cy = b.op("Mul", b.op("Add", y0, y1), b.const(0.5))
    col = b.const(((np.arange(gw) + 0.5) * s).reshape(1, 1, gw))
    row = b.const(((np.arange(gh) + 0.5) * s).reshape(1, gh, 1))

    def centrality(c: str, centre: str, size: str) -> str:  # 1 at the blob's centre, 0 at its edge
        off = b.op("Div", b.op("Abs", b.op("Sub", c, centre)), b.op("Max", size, b.const(1.0)))
        return b.op("Clip", b.op("Sub", b.const(1.0), b.op("Mul", off, b.const(2.0))), b.const(0.0), b.const(1.0))

    big = b.op("Mul", *(b.op("Cast", b.op("Greater", v, b.const(2.0 * s - 0.5)), to=TensorProto.FLOAT)
                        for v in (bw, bh)))
    obj = b.op("Mul", b.op("Mul", m, big), b.op("Mul", centrality(cx, col, bw), centrality(cy, row, bh)))
    tx = b.op("Sub", b.op("Div", cx, b.const(float(s))), b.const(np.arange(gw, dtype=np.float32).reshape(1, 1, gw)))
    ty = b.op("Sub", b.op("Div", cy, b.const(float(s))), b.const(np.arange(gh, dtype=np.float32).reshape(1, gh, 1)))
    tw = b.op("Log", b.op("Div", b.op("Max", bw, b.const(1.0)), b.const(float(s))))
    th = b.op("Log", b.op("Div", b.op("Max", bh, b.const(1.0)), b.const(float(s))))
    fields = b.op("Concat", *(b.unsq(v, -1) for v in (tx, ty, tw, th, obj, m)), axis=-1)  # (N, gh, gw, 6)
    fields = b.op("Pad", fields, b.ints(0, 0, 0, 0, 0, 0, 0, 79))  # 80 COCO classes, person = 0
    level8 = b.op("Reshape", fields, b.ints(0, gh * gw, 85))
    rest = (h // 16) * (w // 16) + (h // 32) * (w // 32)
    b.op("Pad", level8, b.ints(0, 0, 0, 0, rest, 0), out="output")
    n = "N" if dynamic_batch else 1
    anchors = gh * gw + rest
    doc = ("Tiny YOLOX-layout person detector: finds saturated red blobs (R - G - B >= 128 in RGB). Input letterboxed "
           "BGR 0-255 with grey (114) padding, no normalisation; output raw YOLOX rows (grid decoding needed).")
    return b.model([_tensor("images", [n, 3, h, w])], [_tensor("output", [n, anchors, 85])], doc,
                   {"imusim.model": "tiny-detector", "imusim.layout": "yolox", "imusim.yolox_decoded": "0",
                    "imusim.color": "bgr", "imusim.responds_to": "saturated red blobs (R-G-B >= 128)"})


# --------------------------------------------------------------------------------------------------------------
# ViTPose
# --------------------------------------------------------------------------------------------------------------

def _imagenet_red_weights() -> tuple[np.ndarray, float]:
    """1x1-conv weights/bias computing (R - G - B - RED_NONE) / (RED_FULL - RED_NONE) from ImageNet-normalised RGB
    input (RGB = (x * std + mean) * 255)."""
    ramp = RED_FULL - RED_NONE
    coef = np.array([1.0, -1.0, -1.0]) / ramp
    return coef * IMAGENET_STD * 255.0, float(np.sum(coef * IMAGENET_MEAN * 255.0) - RED_NONE / ramp)


def build_vitpose(output: str = "heatmaps", dynamic_batch: bool = True, input_size: tuple[int, int] = (256, 192),
                  sigma: float = 2.0) -> onnx.ModelProto:
    """The tiny ViTPose: keypoints at fixed multiples of the red mask's spread about its centroid.

    ``output='heatmaps'`` gives (N, 17, H/4, W/4) UDP heatmaps; ``'keypoints_yx'`` gives (N, 17, 3) as (y, x,
    score) in crop pixels.
    """
    h, w = input_size
    hh, hw = h // 4, w // 4
    b = _Builder()
    wts, bias = _imagenet_red_weights()
    mask = _red_mask(b, "input", wts, bias)  # (N, 1, h, w)
    xs = b.const(np.arange(w, dtype=np.float32).reshape(1, 1, 1, w))
    ys = b.const(np.arange(h, dtype=np.float32).reshape(1, 1, h, 1))
    axes = b.ints(2, 3)
    den = b.op("Add", b.op("ReduceSum", mask, axes, keepdims=1), b.const(1e-6))

    def mean(v: str) -> str:
        return b.op("Div", b.op("ReduceSum", b.op("Mul", mask, v), axes, keepdims=1), den)

    mx, my = mean(xs), mean(ys)
    sx = b.op("Sqrt", b.op("Relu", b.op("Sub", mean(b.op("Mul", xs, xs)), b.op("Mul", mx, mx))))
    sy = b.op("Sqrt", b.op("Relu", b.op("Sub", mean(b.op("Mul", ys, ys)), b.op("Mul", my, my))))
    ak = b.const(KEYPOINT_TEMPLATE[:, 0].reshape(1, 17, 1, 1))
    bk = b.const(KEYPOINT_TEMPLATE[:, 1].reshape(1, 17, 1, 1))
    px = b.op("Add", mx, b.op("Mul", ak, sx))  # (N, 17, 1, 1) crop pixels
    py = b.op("Add", my, b.op("Mul", bk, sy))
    hx = b.op("Mul", px, b.const((hw - 1.0) / (w - 1.0)))  # UDP: crop pixel -> heatmap cell
    hy = b.op("Mul", py, b.const((hh - 1.0) / (h - 1.0)))
    dx = b.op("Sub", b.const(np.arange(hw, dtype=np.float32).reshape(1, 1, 1, hw)), hx)
    dy = b.op("Sub", b.const(np.arange(hh, dtype=np.float32).reshape(1, 1, hh, 1)), hy)
    d2 = b.op("Add", b.op("Mul", dx, dx), b.op("Mul", dy, dy))
    gauss = b.op("Exp", b.op("Mul", d2, b.const(-1.0 / (2 * sigma ** 2))))  # (N, 17, hh, hw)
    mask_hm = b.op("AveragePool", mask, kernel_shape=[4, 4], strides=[4, 4])  # (N, 1, hh, hw)
    conf = b.op("Div", b.op("ReduceSum", b.op("Mul", gauss, mask_hm), axes, keepdims=1),
                b.op("Add", b.op("ReduceSum", gauss, axes, keepdims=1), b.const(1e-6)))  # (N, 17, 1, 1)
    n = "N" if dynamic_batch else 1
    meta = {"imusim.model": "tiny-vitpose", "imusim.responds_to": "saturated red pixels (R-G-B >= 128)",
            "imusim.keypoints": "coco17"}
    if output == "heatmaps":
        b.op("Mul", gauss, conf, out="heatmaps")
        outs = [_tensor("heatmaps", [n, 17, hh, hw])]
    elif output == "keypoints_yx":
        sq = b.ints(3)
        b.op("Concat", *(b.op("Squeeze", v, sq) for v in (py, px, conf)), axis=2, out="keypoints")
        outs = [_tensor("keypoints", [n, 17, 3])]
        meta["imusim.output_layout"] = "keypoints_yx (crop pixels)"
    else:
        raise ValueError(f"unknown output {output!r}")
    doc = ("Tiny ViTPose: COCO-17 keypoints at fixed multiples of the red mask's spread about its centroid; input "
           "ImageNet-normalised RGB crops (UDP affine).")
    return b.model([_tensor("input", [n, 3, h, w])], outs, doc, meta)


def _vit_block(b: _Builder, x: str, dim: int, heads: int, tokens: int) -> str:
    hd = dim // heads

    def ln(v: str) -> str:
        return b.op("LayerNormalization", v, b.const(np.ones(dim)), b.const(np.zeros(dim)), axis=-1, epsilon=1e-6)

    def linear(v: str, din: int, dout: int) -> str:
        return b.op("Add", b.op("MatMul", v, b.randn(din, dout, std=0.02)), b.const(np.zeros(dout)))

    qkv = b.op("Reshape", linear(ln(x), dim, 3 * dim), b.ints(0, tokens, 3, heads, hd))
    qkv = b.op("Transpose", qkv, perm=[2, 0, 3, 1, 4])  # (3, N, heads, L, hd)
    q, k, v = b.op("Split", qkv, b.ints(1, 1, 1), axis=0, n_out=3)
    q, k, v = (b.op("Squeeze", t, b.ints(0)) for t in (q, k, v))
    att = b.op("Softmax", b.op("MatMul", b.op("Mul", q, b.const(hd ** -0.5)), b.op("Transpose", k, perm=[0, 1, 3, 2])),
               axis=-1)
    o = b.op("Reshape", b.op("Transpose", b.op("MatMul", att, v), perm=[0, 2, 1, 3]), b.ints(0, tokens, dim))
    x = b.op("Add", x, linear(o, dim, dim))
    hdn = linear(ln(x), dim, 4 * dim)
    gelu = b.op("Mul", b.op("Mul", hdn, b.const(0.5)),
                b.op("Add", b.const(1.0), b.op("Erf", b.op("Mul", hdn, b.const(2 ** -0.5)))))
    return b.op("Add", x, linear(gelu, 4 * dim, dim))


VIT_SIZES = {"s": (384, 12, 12), "b": (768, 12, 12), "l": (1024, 24, 16), "h": (1280, 32, 16)}


def build_vitpose_compute(size: str = "b") -> onnx.ModelProto:
    """A randomly initialised ViTPose with the real architecture (ViT backbone, patch 16 with padding 2, two 4x4
    deconvolutions to 256 channels, 1x1 conv to 17): (N, 3, 256, 192) -> (N, 17, 64, 48). Timing only."""
    dim, depth, heads = VIT_SIZES[size]
    b = _Builder(seed=1)
    x = b.op("Conv", "input", b.randn(dim, 3, 16, 16, std=0.02), b.const(np.zeros(dim)), strides=[16, 16],
             pads=[2, 2, 2, 2])  # (N, dim, 16, 12)
    tokens = 16 * 12
    x = b.op("Transpose", b.op("Reshape", x, b.ints(0, dim, tokens)), perm=[0, 2, 1])
    x = b.op("Add", x, b.randn(1, tokens, dim, std=0.02))
    for _ in range(depth):
        x = _vit_block(b, x, dim, heads, tokens)
    x = b.op("LayerNormalization", x, b.const(np.ones(dim)), b.const(np.zeros(dim)), axis=-1, epsilon=1e-6)
    x = b.op("Reshape", b.op("Transpose", x, perm=[0, 2, 1]), b.ints(0, dim, 16, 12))
    cin = dim
    for _ in range(2):
        x = b.op("ConvTranspose", x, b.randn(cin, 256, 4, 4, std=0.001), strides=[2, 2], pads=[1, 1, 1, 1])
        x = b.op("Relu", b.batchnorm(x, 256))
        cin = 256
    b.op("Conv", x, b.randn(17, 256, 1, 1, std=0.001), b.const(np.zeros(17)), out="heatmaps")
    return b.model([_tensor("input", ["N", 3, 256, 192])], [_tensor("heatmaps", ["N", 17, 64, 48])],
                   f"Random ViTPose-{size.upper()} (timing only)", {"imusim.model": f"random-vitpose-{size}"})


# --------------------------------------------------------------------------------------------------------------
# VideoPose3D
# --------------------------------------------------------------------------------------------------------------

def _temporal_model(b: _Builder, x: str, filter_widths: Sequence[int], channels: int, joints_in: int = 17,
                    joints_out: int = 17) -> str:
    """VideoPose3D's TemporalModel (non-causal, eval mode) on x (B, joints_in * 2, T) -> (B, joints_out * 3, T')."""
    cin = joints_in * 2
    x = b.op("Conv", x, b.randn(channels, cin, filter_widths[0], std=(2.0 / (cin * filter_widths[0])) ** 0.5))
    x = b.op("Relu", b.batchnorm(x, channels))
    dilation = filter_widths[0]
    for fw in filter_widths[1:]:
        pad = (fw - 1) * dilation // 2
        res = b.op("Slice", x, b.ints(pad), b.ints(-pad), b.ints(2))
        y = b.op("Conv", x, b.randn(channels, channels, fw, std=(1.0 / (channels * fw)) ** 0.5), dilations=[dilation])
        y = b.op("Relu", b.batchnorm(y, channels))
        y = b.op("Conv", y, b.randn(channels, channels, 1, std=(1.0 / channels) ** 0.5))
        y = b.op("Relu", b.batchnorm(y, channels))
        x = b.op("Add", res, y)
        dilation *= fw
    return b.op("Conv", x, b.randn(joints_out * 3, channels, 1, std=(1.0 / channels) ** 0.5),
                b.const(np.zeros(joints_out * 3)))


def receptive_field(filter_widths: Sequence[int]) -> int:
    rf, dilation = 1, 1
    for fw in filter_widths:
        rf += (fw - 1) * dilation
        dilation *= fw
    return rf


def build_lifter(filter_widths: Sequence[int] = (3, 3, 3), channels: int = 32, residual_scale: float = 0.05,
                 skeleton_path: bool = True, static_frames: Optional[int] = None, seed: int = 0,
                 write_metadata: bool = True) -> onnx.ModelProto:
    """A VideoPose3D-shaped lifter (B, T_in, 17, 2) -> (B, T_in - rf + 1, 17, 3) (see the module docstring)."""
    import importlib

    rf = receptive_field(filter_widths)
    pad = (rf - 1) // 2
    b = _Builder(seed)
    x = b.op("Transpose", b.op("Reshape", "keypoints", b.ints(0, 0, 34)), perm=[0, 2, 1])  # (B, 34, T)
    net = b.op("Transpose", _temporal_model(b, x, filter_widths, channels), perm=[0, 2, 1])
    net = b.op("Reshape", net, b.ints(0, 0, 17, 3))
    if skeleton_path:
        joints = importlib.import_module("imusim_jax._joints")
        w = joints.conversion_matrix("coco17", "h36m17").astype(np.float32)  # (17 h36m, 17 coco)
        w = w - w[:1]  # root-relative: subtract the pelvis row
        centre = b.op("Slice", "keypoints", b.ints(pad), b.ints(-pad), b.ints(1))  # (B, T', 17, 2)
        sk = b.op("MatMul", b.const(w), centre)  # (17,17) @ (B,T',17,2) -> (B,T',17,2)
        sk = b.op("Pad", sk, b.ints(0, 0, 0, 0, 0, 0, 0, 1))  # z = 0
        out = b.op("Add", sk, b.op("Mul", net, b.const(residual_scale)), out="joints3d")
    else:
        out = b.op("Identity", net, out="joints3d")
    del out
    t_in = static_frames if static_frames is not None else "T"
    t_out = static_frames - rf + 1 if static_frames is not None else "T_out"
    meta = {"imusim.model": "tiny-videopose3d" if channels < 1024 else "random-videopose3d",
            "imusim.keypoints_in": "coco17", "imusim.joints_out": "h36m17",
            "imusim.normalisation": "X / w * 2 - [1, h / w]"}
    if write_metadata:
        meta["receptive_field"] = str(rf)
    doc = (f"VideoPose3D TemporalModel, filter widths {tuple(filter_widths)} (receptive field {rf}), {channels} "
           "channels, random weights" + (", plus a COCO->H36M skeleton skip path" if skeleton_path else ""))
    return b.model([_tensor("keypoints", ["B", t_in, 17, 2])], [_tensor("joints3d", ["B", t_out, 17, 3])], doc, meta)


def build_lifter_compute() -> onnx.ModelProto:
    """A random 243-frame VideoPose3D (filter widths 3,3,3,3,3, 1024 channels), the pretrained model's size."""
    return build_lifter((3, 3, 3, 3, 3), channels=1024, skeleton_path=False, seed=2)


def build_detector_compute(input_size: tuple[int, int] = (640, 640)) -> onnx.ModelProto:
    """A random conv net with about YOLOX-s's compute (~27 GFLOPs at 640x640) and the YOLOX output layout
    (1, 8400, 85); objectness is biased low so that few boxes reach NMS, as in a real scene. Timing only."""
    h, w = input_size
    b = _Builder(seed=3)

    def conv(x: str, cin: int, cout: int, stride: int = 1, k: int = 3) -> str:
        y = b.op("Conv", x, b.randn(cout, cin, k, k, std=(2.0 / (cin * k * k)) ** 0.5), b.const(np.zeros(cout)),
                 strides=[stride, stride], pads=[k // 2] * 4)
        return b.op("Mul", y, b.op("Sigmoid", y))  # SiLU

    x = b.op("Mul", "images", b.const(1.0 / 255.0))
    x = conv(conv(x, 3, 32, 2), 32, 64, 2)  # /4
    x = conv(conv(x, 64, 64), 64, 64)
    feats, cin = [], 64
    for cout in (128, 256, 512):  # /8, /16, /32
        x = conv(x, cin, cout, 2)
        x = conv(conv(x, cout, cout), cout, cout)
        feats.append(x)
        cin = cout
    rows = []
    for f, c in zip(feats, (128, 256, 512)):
        head = conv(conv(f, c, 128, k=1), 128, 128)
        reg = b.op("Conv", head, b.randn(4, 128, 1, 1, std=0.01), b.const(np.zeros(4)))
        obj = b.op("Sigmoid", b.op("Conv", head, b.randn(1, 128, 1, 1, std=0.01), b.const([-8.0])))
        cls = b.op("Sigmoid", b.op("Conv", head, b.randn(80, 128, 1, 1, std=0.01), b.const(np.zeros(80))))
        cat = b.op("Concat", reg, obj, cls, axis=1)  # (N, 85, gh, gw)
        rows.append(b.op("Transpose", b.op("Reshape", cat, b.ints(0, 85, -1)), perm=[0, 2, 1]))
    b.op("Concat", *rows, axis=1, out="output")
    anchors = sum((h // s) * (w // s) for s in (8, 16, 32))
    return b.model([_tensor("images", [1, 3, h, w])], [_tensor("output", [1, anchors, 85])],
                   "Random YOLOX-s-sized detector (timing only)",
                   {"imusim.model": "random-detector", "imusim.layout": "yolox", "imusim.yolox_decoded": "0"})


# --------------------------------------------------------------------------------------------------------------

TINY_MODELS = {
    "detector_tiny": lambda: build_detector((640, 640), dynamic_batch=True),
    "detector_tiny_static": lambda: build_detector((416, 416), dynamic_batch=False),
    "vitpose_tiny": lambda: build_vitpose("heatmaps"),
    "vitpose_tiny_yx": lambda: build_vitpose("keypoints_yx"),
    "videopose3d_tiny": lambda: build_lifter(),
    "videopose3d_tiny_linear": lambda: build_lifter(residual_scale=0.0),
    "videopose3d_tiny_static": lambda: build_lifter(static_frames=90, write_metadata=False),
}

COMPUTE_MODELS = {
    "detector_compute": build_detector_compute,
    "vitpose_b_compute": lambda: build_vitpose_compute("b"),
    "videopose3d_243_compute": build_lifter_compute,
}


def export_all(outdir, names: Optional[Sequence[str]] = None) -> dict[str, pathlib.Path]:
    """Write the tiny models (or ``names`` from ``TINY_MODELS`` / ``COMPUTE_MODELS``) to ``outdir``/NAME.onnx."""
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    builders = {**TINY_MODELS, **COMPUTE_MODELS}
    out = {}
    for name in (names if names is not None else TINY_MODELS):
        path = outdir / f"{name}.onnx"
        onnx.save(builders[name](), os.fspath(path))
        out[name] = path
    return out


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description="Write tiny ONNX models with the real Stage 1 signatures.")
    p.add_argument("outdir")
    p.add_argument("--compute", action="store_true", help="also write the full-size random models (timing only)")
    a = p.parse_args(argv)
    names = list(TINY_MODELS) + (list(COMPUTE_MODELS) if a.compute else [])
    for name, path in export_all(a.outdir, names).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    sys.path.insert(0, os.fspath(pathlib.Path(__file__).resolve().parents[1]))
    main()
