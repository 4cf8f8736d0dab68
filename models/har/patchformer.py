"""IMU-Patchformer: a PatchTST-style encoder for 6-axis IMU windows, with channel-wise attention.

Shapes (``B`` windows, ``T`` samples, ``C = 6`` channels: accelerometer x, y, z in m/s^2 then gyroscope x, y, z
in rad/s, sensor frame; ``N`` patches, ``D = d_model``):

  imu   (B, T, 6) float32        ->  tokens      (B, N, D)  per-patch outputs (what a fusion model or an LLM reads)
  mask  (B, T) bool, True valid  ->  patch_mask  (B, N)     True on the patches that hold only valid samples
                                     pooled      (B, D)     masked mean of the valid patches' tokens

What happens to a window, in order:

1. Scale: each channel is divided by ``input_scale`` (1 g for the accelerometer, 2 rad/s for the gyroscope by
   default; no per-window normalisation, so the direction of gravity, which tells postures apart, is kept) and the
   padding is zeroed. A window shorter than one patch is zero-padded to ``patch_len``.
2. Channel-wise attention: every sample becomes 6 channel tokens of ``channel_dim`` numbers (the channel's value
   times a learned vector, plus a learned channel embedding), and one pre-norm transformer block attends across
   the 6 channels at each time step (how the accelerometer's and gyroscope's axes relate, before time is seen).
3. Patches: the ``6 x channel_dim`` features of ``patch_len`` consecutive samples, every ``patch_stride``
   samples (``N = 1 + (T - patch_len) // patch_stride``; choose ``T = patch_len + k * patch_stride`` to cover
   the whole window), are flattened and projected to ``d_model``; learned positional embeddings (one per patch
   index, ``max_patches`` of them) are added.
4. A pre-norm transformer encoder (``depth`` blocks, ``heads`` heads, GELU MLP of ``mlp_ratio * d_model``) over
   the patches, attending only to valid patches; a final LayerNorm gives ``tokens``; ``pooled`` is their masked
   mean.

Masks: a patch is valid when all its samples are (``patch_mask``), and the first patch always is (a window
shorter than one patch still has one token). Padded patches are neither attended to nor pooled, and the channel
attention works per time step, so a window padded with any values after its valid samples gives the same
``pooled`` output as the same window unpadded (tested), up to float rounding.

The model is written in Flax linen: the parameters are one plain pytree, which makes the training step a pure
jitted function of (params, optimizer state, batch, key), an orbax checkpoint a plain pytree save, and the ONNX
export a walk over named weights (``export.py``).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["PatchformerConfig", "IMUPatchformer", "patch_starts", "num_patches", "fit_patches", "LN_EPS",
           "MASK_BIAS"]

LN_EPS = 1e-6
"""LayerNorm epsilon (flax's default), written into the ONNX graph too."""
MASK_BIAS = -1e9
"""Added to the attention scores of padded keys: ``exp`` of it underflows to exactly 0 in float32."""
DEFAULT_SCALE = (9.80665, 9.80665, 9.80665, 2.0, 2.0, 2.0)


@dataclasses.dataclass(frozen=True)
class PatchformerConfig:
    """The encoder's size. Defaults: 735,800 parameters (with heads for 21 classes 739,412; ``summary_line``).

    Attributes:
      channels: input channels (6: accelerometer x y z, gyroscope x y z).
      channel_dim: numbers per channel token in the channel-wise attention.
      channel_heads: heads of the channel-wise attention (``channel_dim`` must divide by it).
      patch_len, patch_stride: samples per patch and between patch starts.
      d_model: token width.
      depth: transformer blocks over the patches.
      heads: attention heads (``d_model`` must divide by it).
      mlp_ratio: MLP width over ``d_model``.
      dropout: dropout rate after attention and MLP (training only).
      max_patches: learned positional embeddings (the longest window has at most this many patches).
      input_scale: per-channel divisor (m/s^2 for the accelerometer, rad/s for the gyroscope).
    """

    channels: int = 6
    channel_dim: int = 8
    channel_heads: int = 2
    patch_len: int = 32
    patch_stride: int = 16
    d_model: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 2
    dropout: float = 0.1
    max_patches: int = 64
    input_scale: tuple = DEFAULT_SCALE

    def __post_init__(self):
        for k in ("channels", "channel_dim", "channel_heads", "patch_len", "patch_stride", "d_model", "depth",
                  "heads", "mlp_ratio", "max_patches"):
            v = getattr(self, k)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"model.{k} must be a positive integer, got {v!r}")
        if self.d_model % self.heads:
            raise ValueError(f"model.d_model ({self.d_model}) must be a multiple of model.heads ({self.heads})")
        if self.channel_dim % self.channel_heads:
            raise ValueError(f"model.channel_dim ({self.channel_dim}) must be a multiple of model.channel_heads "
                             f"({self.channel_heads})")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {self.dropout!r}")
        if len(self.input_scale) != self.channels or not all(float(s) > 0 for s in self.input_scale):
            raise ValueError(f"model.input_scale must be {self.channels} positive numbers, got {self.input_scale!r}")
        object.__setattr__(self, "input_scale", tuple(float(s) for s in self.input_scale))


def num_patches(length: int, patch_len: int, patch_stride: int) -> int:
    """Patches in a window of ``length`` samples (a window shorter than one patch is padded to one)."""
    return 1 + max(int(length) - patch_len, 0) // patch_stride


def patch_starts(length: int, patch_len: int, patch_stride: int) -> np.ndarray:
    """``(N,)`` first sample of each patch."""
    return np.arange(num_patches(length, patch_len, patch_stride)) * patch_stride


def fit_patches(window_len: int, patch_len: int, patch_stride: int) -> tuple[int, int]:
    """Shorter patches for short (low-rate) windows: while a patch is longer than half the window (and longer than
    4 samples), halve the patch length and its stride. ``(patch_len, patch_stride)``."""
    p, s = int(patch_len), int(patch_stride)
    while p > max(window_len // 2, 4):
        p, s = max(p // 2, 4), max(s // 2, 1)
    return p, s


class Attention(nn.Module):
    """Multi-head self-attention over axis -2 of ``x`` ``(..., S, D)``; ``key_mask`` ``(..., S)`` bool leaves
    padded keys out (their score gets ``MASK_BIAS``)."""

    dim: int
    heads: int

    @nn.compact
    def __call__(self, x, key_mask=None):
        h, dh = self.heads, self.dim // self.heads
        qkv = nn.Dense(3 * self.dim, name="qkv")(x)                       # (..., S, 3D)
        qkv = qkv.reshape(qkv.shape[:-1] + (3, h, dh))
        q, k, v = qkv[..., 0, :, :], qkv[..., 1, :, :], qkv[..., 2, :, :]  # (..., S, H, dh)
        scores = jnp.einsum("...qhd,...khd->...hqk", q, k) * jnp.float32(1.0 / math.sqrt(dh))
        if key_mask is not None:
            bias = jnp.where(key_mask, jnp.float32(0.0), jnp.float32(MASK_BIAS))    # (..., S)
            scores = scores + bias[..., None, None, :]
        w = jax.nn.softmax(scores, axis=-1)
        out = jnp.einsum("...hqk,...khd->...qhd", w, v).reshape(x.shape[:-1] + (self.dim,))
        return nn.Dense(self.dim, name="out")(out)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(LN(x))``, then ``x + MLP(LN(x))`` (GELU, exact erf form)."""

    dim: int
    heads: int
    mlp_dim: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, key_mask=None, deterministic: bool = True):
        y = Attention(self.dim, self.heads, name="attn")(nn.LayerNorm(epsilon=LN_EPS, name="ln1")(x), key_mask)
        x = x + nn.Dropout(self.dropout)(y, deterministic=deterministic)
        y = nn.LayerNorm(epsilon=LN_EPS, name="ln2")(x)
        y = nn.Dense(self.mlp_dim, name="fc1")(y)
        y = nn.gelu(y, approximate=False)
        y = nn.Dense(self.dim, name="fc2")(y)
        return x + nn.Dropout(self.dropout)(y, deterministic=deterministic)


class IMUPatchformer(nn.Module):
    """The encoder. ``__call__(imu (B, T, 6), mask (B, T) bool or None, deterministic=True)`` returns a dict with
    ``tokens`` ``(B, N, D)``, ``patch_mask`` ``(B, N)`` bool and ``pooled`` ``(B, D)`` (see the module's
    description). ``T`` may differ between calls (each length compiles once); at most ``max_patches`` patches."""

    config: PatchformerConfig = PatchformerConfig()

    @nn.compact
    def __call__(self, imu, mask: Optional[jnp.ndarray] = None, deterministic: bool = True):
        c = self.config
        imu = jnp.asarray(imu, jnp.float32)
        B, T, C = imu.shape
        if C != c.channels:
            raise ValueError(f"IMUPatchformer expects (B, T, {c.channels}) windows, got {imu.shape}")
        mask = jnp.ones((B, T), bool) if mask is None else jnp.asarray(mask).astype(bool)
        if T < c.patch_len:  # one patch, zero-padded
            imu = jnp.pad(imu, ((0, 0), (0, c.patch_len - T), (0, 0)))
            mask = jnp.pad(mask, ((0, 0), (0, c.patch_len - T)))
            T = c.patch_len
        starts = patch_starts(T, c.patch_len, c.patch_stride)
        n = len(starts)
        if n > c.max_patches:
            raise ValueError(f"a window of {T} samples has {n} patches, more than model.max_patches={c.max_patches}")
        scale = jnp.asarray(c.input_scale, jnp.float32).reshape(1, 1, C)
        x = jnp.where(mask[..., None], imu, jnp.float32(0.0)) / scale                 # (B, T, C)

        # 2. channel tokens and attention across the channels at each time step
        w_val = self.param("chan_value", nn.initializers.normal(1.0), (C, c.channel_dim), jnp.float32)
        b_chan = self.param("chan_embed", nn.initializers.normal(0.02), (C, c.channel_dim), jnp.float32)
        h = x[..., None] * w_val[None, None] + b_chan[None, None]                     # (B, T, C, dc)
        h = Block(c.channel_dim, c.channel_heads, 2 * c.channel_dim, 0.0, name="channel_block")(h)
        h = h.reshape(B, T, C * c.channel_dim)                                         # (B, T, C dc)

        # 3. patches
        idx = starts[:, None] + np.arange(c.patch_len)[None, :]                       # (N, P)
        p = h[:, idx].reshape(B, n, c.patch_len * C * c.channel_dim)                  # (B, N, P C dc)
        tok = nn.Dense(c.d_model, name="patch_embed")(p)
        pos = self.param("pos_embed", nn.initializers.normal(0.02), (c.max_patches, c.d_model), jnp.float32)
        tok = tok + pos[None, :n]
        first = jnp.asarray(np.arange(n) == 0)
        patch_mask = jnp.logical_or(jnp.all(mask[:, idx], axis=-1), first[None, :])   # (B, N)

        # 4. encoder
        tok = nn.Dropout(c.dropout)(tok, deterministic=deterministic)
        for i in range(c.depth):
            tok = Block(c.d_model, c.heads, c.mlp_ratio * c.d_model, c.dropout, name=f"block{i}")(
                tok, patch_mask, deterministic)
        tok = nn.LayerNorm(epsilon=LN_EPS, name="ln_out")(tok)
        wts = patch_mask.astype(jnp.float32)
        pooled = jnp.einsum("bnd,bn->bd", tok, wts) / jnp.sum(wts, axis=1, keepdims=True)
        return {"tokens": tok, "patch_mask": patch_mask, "pooled": pooled}


def count_params(params) -> int:
    """Number of parameters (scalars) in a pytree."""
    return int(sum(np.size(x) for x in jax.tree_util.tree_leaves(params)))


def _fmt(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k"


def summary_line(params, config: PatchformerConfig, heads: Sequence[tuple[str, int]] = ()) -> str:
    """One line: the parameter count, the encoder's and each head's share, and the size settings."""
    enc = count_params(params["encoder"]) if "encoder" in params else count_params(params)
    total = count_params(params)
    hs = ", ".join(f"{name} {k}" for name, k in heads)
    return (f"IMU-Patchformer: {total:,} parameters ({_fmt(total)}; encoder {enc:,}"
            + (f"; heads: {hs}" if hs else "") + f"), d_model {config.d_model}, depth {config.depth}, "
            f"heads {config.heads}, patch {config.patch_len}/{config.patch_stride}, channel_dim {config.channel_dim}")
