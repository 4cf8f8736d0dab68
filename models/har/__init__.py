"""Human-activity recognition on wrist IMU windows: the IMU-Patchformer encoder, its activity, safety and severity
heads, training and evaluation on the dataset builder's shards, and ONNX export.

  from imusim_jax.models import har
  res = har.train("DATASET_DIR", "RUN_DIR", filters=["kind=synthetic"], label="activity")
  metrics = har.evaluate("RUN_DIR", "DATASET_DIR", filters=["kind=real"], json_path="metrics.json")

Modules: ``patchformer`` (the encoder), ``heads`` (the multi-task model and loss), ``data`` (shards, filters,
windows, splits, augmentations), ``config`` (the YAML config), ``train``, ``metrics``, ``evaluate``, ``export``
(ONNX). The command line: ``imusim-jax train`` and ``imusim-jax evaluate``.
"""
from imusim_jax.models.har.config import TrainConfig as TrainConfig
from imusim_jax.models.har.config import load_config as load_config
from imusim_jax.models.har.data import AugmentConfig as AugmentConfig
from imusim_jax.models.har.data import WindowConfig as WindowConfig
from imusim_jax.models.har.data import batches as batches
from imusim_jax.models.har.data import load_windows as load_windows
from imusim_jax.models.har.data import read_dataset as read_dataset
from imusim_jax.models.har.data import split_by_subject as split_by_subject
from imusim_jax.models.har.evaluate import evaluate as evaluate
from imusim_jax.models.har.evaluate import load_predictor as load_predictor
from imusim_jax.models.har.heads import HARModel as HARModel
from imusim_jax.models.har.heads import LossWeights as LossWeights
from imusim_jax.models.har.patchformer import IMUPatchformer as IMUPatchformer
from imusim_jax.models.har.patchformer import PatchformerConfig as PatchformerConfig
from imusim_jax.models.har.train import train as train

__all__ = ["TrainConfig", "load_config", "AugmentConfig", "WindowConfig", "read_dataset", "load_windows", "batches", "split_by_subject", "evaluate",
           "load_predictor", "HARModel", "LossWeights", "IMUPatchformer", "PatchformerConfig", "train"]
