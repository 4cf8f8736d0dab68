"""Workflows: whole jobs built from readers, the simulator and writers: many motion files to IMU files
(``batch``), a video to per-person motions and IMU files (``video2imu``), real recordings paired with motions for
calibration (``calibrate``), many sources to a safety-labelled dataset (``dataset``, its source adapters ``sources``)
and its card (``card``)."""

_SUBMODULES = ("batch", "video2imu", "calibrate", "dataset", "sources", "card")


def __getattr__(name: str):
    """The workflows as attributes (``imusim_jax.workflows.batch.clip_key``), imported on first use."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"imusim_jax.workflows.{name}")
    raise AttributeError(f"module 'imusim_jax.workflows' has no attribute {name!r}")
