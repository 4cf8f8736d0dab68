"""The benchmarks' synthetic clips: now public as :mod:`imusim_jax.datasets.synthetic`; kept for old imports."""
from imusim_jax.datasets.synthetic import synthetic_clips, synthetic_motion  # noqa: F401

__all__ = ["synthetic_clips", "synthetic_motion"]
