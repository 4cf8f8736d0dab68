"""The multi-task HAR model: the IMU-Patchformer encoder and three heads on its pooled output, and their loss.

Heads (each a LayerNorm-free linear layer on ``pooled``, after dropout; the encoder's final LayerNorm is shared):

  activity  (B, K)  logits over the K classes seen in training (the ``--label`` column: ``activity`` by default)
  safety    (B, 2)  logits over ``SAFETY`` = (safe, unsafe)
  severity  (B, 5)  logits over severity 0..4 (the taxonomy's levels)

Loss: ``w_activity * CE_activity + w_safety * CE_safety + w_severity * CE_severity``, each a weighted mean
over the windows that carry that label (label ``-1``: none; a window whose activity the label column leaves
null still trains the safety and severity heads). Class weights (``class_weighting: balanced``) are
``n / (K n_k)`` from the training windows, so rare classes (falls) weigh as much as common ones.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp

from imusim_jax.models.har.patchformer import IMUPatchformer, PatchformerConfig

__all__ = ["SAFETY", "N_SEVERITY", "HARModel", "LossWeights", "multitask_loss"]

SAFETY = ("safe", "unsafe")
N_SEVERITY = 5


class HARModel(nn.Module):
    """Encoder + heads. ``__call__(imu (B, T, 6), mask (B, T), deterministic=True)`` -> dict with ``activity``
    ``(B, K)``, ``safety`` ``(B, 2)``, ``severity`` ``(B, 5)`` logits and the encoder's ``tokens``,
    ``patch_mask`` and ``pooled``. Parameters: ``{"encoder": ..., "activity": ..., "safety": ...,
    "severity": ...}``."""

    config: PatchformerConfig
    n_activity: int
    head_dropout: float = 0.1

    @nn.compact
    def __call__(self, imu, mask=None, deterministic: bool = True):
        enc = IMUPatchformer(self.config, name="encoder")(imu, mask, deterministic)
        z = nn.Dropout(self.head_dropout)(enc["pooled"], deterministic=deterministic)
        return {
            "activity": nn.Dense(max(self.n_activity, 1), name="activity")(z),
            "safety": nn.Dense(len(SAFETY), name="safety")(z),
            "severity": nn.Dense(N_SEVERITY, name="severity")(z),
            **enc,
        }


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """Weights of the three heads' losses; ``class_weighting``: ``balanced`` (inverse class frequency) or
    ``none``; ``label_smoothing`` in [0, 1)."""

    activity: float = 1.0
    safety: float = 0.5
    severity: float = 0.25
    class_weighting: str = "balanced"
    label_smoothing: float = 0.0

    def __post_init__(self):
        if self.class_weighting not in ("balanced", "none"):
            raise ValueError(f"loss.class_weighting must be 'balanced' or 'none', got {self.class_weighting!r}")
        for k in ("activity", "safety", "severity"):
            if float(getattr(self, k)) < 0:
                raise ValueError(f"loss.{k} must be >= 0, got {getattr(self, k)!r}")
        if not 0.0 <= float(self.label_smoothing) < 1.0:
            raise ValueError(f"loss.label_smoothing must be in [0, 1), got {self.label_smoothing!r}")


def _ce(logits, labels, weight, class_w, smoothing: float):
    """Weighted mean cross-entropy over the rows with ``labels >= 0``; ``(loss, total weight)``."""
    k = logits.shape[-1]
    valid = labels >= 0
    y = jnp.where(valid, labels, 0)
    onehot = jax.nn.one_hot(y, k, dtype=jnp.float32)
    if smoothing:
        onehot = onehot * (1.0 - smoothing) + smoothing / k
    nll = -jnp.sum(onehot * jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1), axis=-1)
    w = weight * valid.astype(jnp.float32) * class_w[y]
    total = jnp.sum(w)
    return jnp.sum(w * nll) / jnp.maximum(total, 1e-9), total


def multitask_loss(out: dict, batch: dict, weights: LossWeights, class_w: Optional[dict] = None):
    """``(loss, parts)`` for a batch: ``batch`` has ``activity``, ``safety``, ``severity`` (int ``(B,)``, -1 where
    unknown) and ``weight`` (``(B,)`` float, 0 on padding rows); ``class_w`` maps each head to ``(K,)`` class
    weights (ones when absent)."""
    class_w = class_w or {}
    parts = {}
    loss = jnp.float32(0.0)
    for head in ("activity", "safety", "severity"):
        k = out[head].shape[-1]
        cw = class_w.get(head, jnp.ones((k,), jnp.float32))
        ce, _ = _ce(out[head], batch[head], batch["weight"], cw, float(weights.label_smoothing))
        parts[head] = ce
        loss = loss + jnp.float32(getattr(weights, head)) * ce
    return loss, parts
