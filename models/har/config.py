"""Training configuration: one YAML file (``--config``) of sections, each a dataclass; unknown keys are refused.

```yaml
label: activity            # the column the activity head learns (activity or source_label, or any string column)
model:   {channel_dim: 8, channel_heads: 2, patch_len: 32, patch_stride: 16, d_model: 128, depth: 4, heads: 4,
          mlp_ratio: 2, dropout: 0.1, max_patches: 64, input_scale: [9.80665, 9.80665, 9.80665, 2, 2, 2]}
window:  {rate_hz: 50, length_s: 2.56, stride_s: 1.28, eval_stride_s: null}
augment: {enabled: true, rotate_forearm_deg: 30, tilt_deg: 0, flip_prob: 0, mirror_prob: 0.5, stretch: 0.1,
          rate_prob: 0.3, rate_min_hz: 20, gain: 0.05, noise_accel: 0.02, noise_gyro: 0.005, saturate_prob: 0.2,
          accel_limits_g: [2, 4, 8, 16], gyro_limits_dps: [250, 500, 1000, 2000]}
loss:    {activity: 1.0, safety: 0.5, severity: 0.25, class_weighting: balanced, label_smoothing: 0.0}
optim:   {epochs: 30, batch_size: 64, lr: 0.001, weight_decay: 0.0001, warmup_frac: 0.05, grad_clip: 1.0,
          head_dropout: 0.1, seed: 0}
split:   {val_fraction: 0.2, val_subjects: null}
eval:    {aggregate: mean, safety_aggregate: max, false_alarm_rate: 0.05}
checkpoint: {every_steps: 0, keep: 2}   # 0: at the end of every epoch
export_onnx: true                       # write RUN_DIR/model.onnx after training when the onnx package is present
```

The model's patch length is shortened for short (low-rate) windows (``patchformer.fit_patches``).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Optional

from imusim_jax._errors import InputError
from imusim_jax.models.har.data import AugmentConfig, WindowConfig
from imusim_jax.models.har.heads import LossWeights
from imusim_jax.models.har.patchformer import PatchformerConfig, fit_patches

__all__ = ["OptimConfig", "SplitConfig", "EvalConfig", "CheckpointConfig", "TrainConfig", "load_config",
           "config_from_dict", "config_to_dict"]


@dataclasses.dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up (``warmup_frac`` of the steps) and cosine decay to 0, global-norm clipping."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_frac: float = 0.05
    grad_clip: float = 1.0
    head_dropout: float = 0.1
    seed: int = 0

    def __post_init__(self):
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError("optim.epochs and optim.batch_size must be >= 1")
        if not float(self.lr) > 0:
            raise ValueError(f"optim.lr must be > 0, got {self.lr!r}")
        if not 0 <= float(self.warmup_frac) < 1:
            raise ValueError(f"optim.warmup_frac must be in [0, 1), got {self.warmup_frac!r}")


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """Validation by subject: ``val_fraction`` of the subjects (seeded), or the ``val_subjects`` named."""

    val_fraction: float = 0.2
    val_subjects: Optional[tuple] = None

    def __post_init__(self):
        if not 0 <= float(self.val_fraction) < 1:
            raise ValueError(f"split.val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if self.val_subjects is not None:
            object.__setattr__(self, "val_subjects", tuple(str(v) for v in self.val_subjects))


@dataclasses.dataclass(frozen=True)
class EvalConfig:
    """Clip-level aggregation (``metrics``) and the false-alarm rate the safety head's unsafe recall is read at."""

    aggregate: str = "mean"
    safety_aggregate: str = "max"
    false_alarm_rate: float = 0.05
    batch_size: int = 256

    def __post_init__(self):
        for k in ("aggregate", "safety_aggregate"):
            if getattr(self, k) not in ("mean", "max"):
                raise ValueError(f"eval.{k} must be 'mean' or 'max', got {getattr(self, k)!r}")
        if not 0 <= float(self.false_alarm_rate) < 1:
            raise ValueError(f"eval.false_alarm_rate must be in [0, 1), got {self.false_alarm_rate!r}")


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
    """``every_steps``: save every this many steps (0: at the end of every epoch); ``keep``: checkpoints kept."""

    every_steps: int = 0
    keep: int = 2


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    label: str = "activity"
    model: PatchformerConfig = PatchformerConfig()
    window: WindowConfig = WindowConfig()
    augment: AugmentConfig = AugmentConfig()
    loss: LossWeights = LossWeights()
    optim: OptimConfig = OptimConfig()
    split: SplitConfig = SplitConfig()
    eval: EvalConfig = EvalConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    export_onnx: bool = True

    def fitted(self) -> "TrainConfig":
        """The config with the model's patches fitted to the window length (``fit_patches``)."""
        p, s = fit_patches(self.window.length, self.model.patch_len, self.model.patch_stride)
        if (p, s) == (self.model.patch_len, self.model.patch_stride):
            return self
        return dataclasses.replace(self, model=dataclasses.replace(self.model, patch_len=p, patch_stride=s))


_SECTIONS = {"model": PatchformerConfig, "window": WindowConfig, "augment": AugmentConfig, "loss": LossWeights,
             "optim": OptimConfig, "split": SplitConfig, "eval": EvalConfig, "checkpoint": CheckpointConfig}
_TUPLES = {"input_scale", "accel_limits_g", "gyro_limits_dps", "val_subjects"}


def _section(cls, d: Any, name: str, base):
    if d is None:
        return base
    if not isinstance(d, dict):
        raise InputError(f"config: {name} must be a mapping, got {type(d).__name__}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - fields)
    if unknown:
        raise InputError(f"config: unknown key(s) {unknown} in {name} (known: {', '.join(sorted(fields))})")
    vals = {k: (tuple(v) if k in _TUPLES and isinstance(v, list) else v) for k, v in d.items()}
    try:
        return dataclasses.replace(base, **vals)
    except (TypeError, ValueError) as e:
        raise InputError(f"config: {e}") from None


def config_from_dict(d: Optional[dict], base: TrainConfig = TrainConfig()) -> TrainConfig:
    """A ``TrainConfig`` from a mapping of sections (missing keys keep ``base``'s values)."""
    d = dict(d or {})
    known = set(_SECTIONS) | {"label", "export_onnx"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise InputError(f"config: unknown section(s) {unknown} (known: {', '.join(sorted(known))})")
    kw = {k: _section(cls, d.get(k), k, getattr(base, k)) for k, cls in _SECTIONS.items()}
    label = d.get("label", base.label)
    if not isinstance(label, str) or not label:
        raise InputError(f"config: label must be a column name, got {label!r}")
    return TrainConfig(label=label, export_onnx=bool(d.get("export_onnx", base.export_onnx)), **kw)


def load_config(path: Optional[str | os.PathLike]) -> TrainConfig:
    """The defaults, or a YAML file's values over them."""
    if path is None:
        return TrainConfig()
    import yaml

    try:
        with open(path) as f:
            d = yaml.safe_load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read the config ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if d is not None and not isinstance(d, dict):
        raise InputError(f"{path}: the config must be a mapping of sections")
    return config_from_dict(d)


def config_to_dict(cfg: TrainConfig) -> dict:
    """JSON-ready form (``config_from_dict`` reads it back)."""
    d = dataclasses.asdict(cfg)
    for sec in d.values():
        if isinstance(sec, dict):
            for k, v in sec.items():
                if isinstance(v, tuple):
                    sec[k] = list(v)
    return d
