"""ONNX export of the trained encoder and heads, written node by node from the parameters with ``onnx.helper``.

Why not ``jax2onnx``: its 0.17.1 release pulls some twenty packages (huggingface_hub, equinox, netron,
orbax-export, ...) and pins ``orbax-checkpoint < 0.11.37``, a downgrade of the project's own checkpointing
library; the model is a handful of operators (MatMul, LayerNormalization, Softmax, Erf, Gather), so the graph is
written here from the same named weights, and a test holds onnxruntime's outputs to the JAX model's within 1e-4.
A change to ``patchformer.py`` or ``heads.py`` must be mirrored here (that test fails until it is).

The graph (opset 17, float32):

  inputs   imu   (batch, W, 6)  accelerometer m/s^2, gyroscope rad/s, sensor frame, at the run's rate
           mask  (batch, W)     1 on valid samples, 0 on padding
  outputs  activity (batch, K), safety (batch, 2), severity (batch, 5): logits
           pooled (batch, D), tokens (batch, N, D), patch_mask (batch, N) (1 valid, 0 padded)

``W`` is the run's window length (fixed), the batch is dynamic. The run's description (classes, label column,
window, config) is stored as JSON in the model's metadata under ``imusim_jax_har``, so ``imusim-jax evaluate``
can score a dataset with the ONNX file alone.
"""
from __future__ import annotations

import json
import math
import os

import numpy as np

from imusim_jax.models.har.config import config_from_dict
from imusim_jax.models.har.patchformer import LN_EPS, MASK_BIAS, patch_starts

__all__ = ["export_onnx", "METADATA_KEY", "OPSET"]

METADATA_KEY = "imusim_jax_har"
OPSET = 17


class _Graph:
    def __init__(self):
        from onnx import helper, numpy_helper

        self.h, self.nh = helper, numpy_helper
        self.nodes, self.inits, self.k = [], [], 0

    def name(self, base: str) -> str:
        self.k += 1
        return f"{base}_{self.k}"

    def const(self, arr, base: str = "c") -> str:
        n = self.name(base)
        a = np.asarray(arr)
        if a.dtype.kind == "f":
            a = a.astype(np.float32)
        self.inits.append(self.nh.from_array(a, n))
        return n

    def op(self, op_type: str, inputs, base: str | None = None, **attrs) -> str:
        out = self.name(base or op_type.lower())
        self.nodes.append(self.h.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def dense(self, x: str, p: dict, base: str) -> str:
        return self.op("Add", [self.op("MatMul", [x, self.const(p["kernel"], base + "_w")]),
                               self.const(p["bias"], base + "_b")], base)

    def layernorm(self, x: str, p: dict, base: str) -> str:
        return self.op("LayerNormalization", [x, self.const(p["scale"], base + "_s"), self.const(p["bias"], base + "_b")],
                       base, axis=-1, epsilon=LN_EPS)

    def gelu(self, x: str) -> str:
        e = self.op("Erf", [self.op("Mul", [x, self.const(np.float32(1.0 / math.sqrt(2.0)))])])
        return self.op("Mul", [self.op("Mul", [x, self.op("Add", [e, self.const(np.float32(1.0))])]),
                               self.const(np.float32(0.5))], "gelu")

    def attention(self, x: str, p: dict, s: int, dim: int, heads: int, bias: str | None, base: str) -> str:
        """``x`` ``(M, S, D)`` -> ``(M, S, D)``; ``bias`` ``(M, 1, 1, S)`` added to the scores."""
        dh = dim // heads
        qkv = self.dense(x, p["qkv"], base + "_qkv")
        qkv = self.op("Reshape", [qkv, self.const(np.array([-1, s, 3, heads, dh], np.int64))])
        qkv = self.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])                      # (3, M, H, S, dh)
        q, k, v = (self.op("Gather", [qkv, self.const(np.array(i, np.int64))], axis=0) for i in range(3))
        sc = self.op("MatMul", [q, self.op("Transpose", [k], perm=[0, 1, 3, 2])])
        sc = self.op("Mul", [sc, self.const(np.float32(1.0 / math.sqrt(dh)))])
        if bias is not None:
            sc = self.op("Add", [sc, bias])
        w = self.op("Softmax", [sc], axis=-1)
        o = self.op("Transpose", [self.op("MatMul", [w, v])], perm=[0, 2, 1, 3])       # (M, S, H, dh)
        o = self.op("Reshape", [o, self.const(np.array([-1, s, dim], np.int64))])
        return self.dense(o, p["out"], base + "_out")

    def block(self, x: str, p: dict, s: int, dim: int, heads: int, bias: str | None, base: str) -> str:
        y = self.attention(self.layernorm(x, p["ln1"], base + "_ln1"), p["attn"], s, dim, heads, bias, base)
        x = self.op("Add", [x, y])
        y = self.layernorm(x, p["ln2"], base + "_ln2")
        y = self.dense(self.gelu(self.dense(y, p["fc1"], base + "_fc1")), p["fc2"], base + "_fc2")
        return self.op("Add", [x, y], base)


def _np(tree):
    if isinstance(tree, dict) or hasattr(tree, "items"):
        return {k: _np(v) for k, v in tree.items()}
    return np.asarray(tree, np.float32)


def export_onnx(params, run: dict, path: str | os.PathLike) -> str:
    """Write the model (``params`` of ``HARModel``, ``run`` the run's ``run.json`` dict) to ``path``; returns it."""
    import onnx
    from onnx import TensorProto, helper

    cfg = config_from_dict(run["config"])
    mc = cfg.model
    W = cfg.window.length
    if W < mc.patch_len:
        raise ValueError(f"window of {W} samples shorter than a patch ({mc.patch_len}): not exportable")
    P = _np(params)
    E = P["encoder"]
    C, dc = E["chan_value"].shape
    starts = patch_starts(W, mc.patch_len, mc.patch_stride)
    N = len(starts)
    D = mc.d_model
    g = _Graph()

    valid = g.op("Greater", ["mask", g.const(np.float32(0.5))], "valid")                # (B, W) bool
    validf = g.op("Cast", [valid], "validf", to=TensorProto.FLOAT)
    x = g.op("Where", [g.op("Unsqueeze", [valid, g.const(np.array([-1], np.int64))]), "imu",
                       g.const(np.float32(0.0))])
    x = g.op("Div", [x, g.const(np.asarray(mc.input_scale, np.float32))], "scaled")   # (B, W, 6)
    h = g.op("Unsqueeze", [x, g.const(np.array([-1], np.int64))])                      # (B, W, 6, 1)
    h = g.op("Add", [g.op("Mul", [h, g.const(E["chan_value"])]), g.const(E["chan_embed"])])
    h = g.op("Reshape", [h, g.const(np.array([-1, C, dc], np.int64))])                 # (B W, 6, dc)
    h = g.block(h, E["channel_block"], C, dc, mc.channel_heads, None, "chan")
    h = g.op("Reshape", [h, g.const(np.array([-1, W, C * dc], np.int64))])             # (B, W, 6 dc)
    idx = (starts[:, None] + np.arange(mc.patch_len)[None, :]).astype(np.int64)        # (N, P)
    idx_c = g.const(idx, "patch_idx")
    p = g.op("Gather", [h, idx_c], axis=1)                                               # (B, N, P, 6 dc)
    p = g.op("Reshape", [p, g.const(np.array([-1, N, mc.patch_len * C * dc], np.int64))])
    tok = g.op("Add", [g.dense(p, E["patch_embed"], "patch_embed"), g.const(E["pos_embed"][:N], "pos")])
    pm = g.op("ReduceMin", [g.op("Gather", [validf, idx_c], axis=1)], axes=[2], keepdims=0)
    pm = g.op("Max", [pm, g.const((np.arange(N) == 0).astype(np.float32))])            # (B, N)
    bias = g.op("Mul", [g.op("Sub", [g.const(np.float32(1.0)), pm]), g.const(np.float32(MASK_BIAS))])
    bias = g.op("Unsqueeze", [bias, g.const(np.array([1, 2], np.int64))])              # (B, 1, 1, N)
    for i in range(mc.depth):
        tok = g.block(tok, E[f"block{i}"], N, D, mc.heads, bias, f"block{i}")
    tok = g.layernorm(tok, E["ln_out"], "ln_out")
    num = g.op("ReduceSum", [g.op("Mul", [tok, g.op("Unsqueeze", [pm, g.const(np.array([-1], np.int64))])]),
                             g.const(np.array([1], np.int64))], keepdims=0)
    den = g.op("ReduceSum", [pm, g.const(np.array([1], np.int64))], keepdims=1)
    pooled = g.op("Div", [num, den])
    outs = {}
    for head in ("activity", "safety", "severity"):
        outs[head] = g.dense(pooled, P[head], head)
    outs.update(pooled=pooled, tokens=tok, patch_mask=pm)
    K = P["activity"]["kernel"].shape[1]
    shapes = {"activity": ["batch", K], "safety": ["batch", 2], "severity": ["batch", 5], "pooled": ["batch", D],
              "tokens": ["batch", N, D], "patch_mask": ["batch", N]}
    for name, src in outs.items():
        g.nodes.append(helper.make_node("Identity", [src], [name]))
    graph = helper.make_graph(
        g.nodes, "imu_patchformer",
        [helper.make_tensor_value_info("imu", TensorProto.FLOAT, ["batch", W, C]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", W])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in outs],
        initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="imusim-jax", producer_version="0.1.0")
    model.ir_version = min(model.ir_version, 8)
    meta = {k: run[k] for k in ("format", "version", "config", "classes", "label", "summary", "n_params")
            if k in run}
    helper.set_model_props(model, {METADATA_KEY: json.dumps(meta)})
    onnx.checker.check_model(model)
    path = os.fspath(path)
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)
    return path
