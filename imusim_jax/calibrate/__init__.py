"""Calibration against real sensors: the simulator's parameters fitted to real IMU recordings by gradient descent
(optax over ``imusim_jax.sense``), in three situations, each returning a ``SensorProfile``:

* ``stationary``: a rest recording (or a longer one's rest segments) -> the noise model (white noise, bias
  instability and random walk, turn-on bias per axis), by fitting the model's own Allan variance to the measured
  one;
* ``paired``: a motion with the real IMU recorded during it -> time offset, mounting rotation, lever arm, scale,
  bias and noise, fitted to the waveform; several trials of one subject and sensor share one profile;
* ``unpaired``: simulated clips and real recordings of the same activities (not the same trials) -> noise,
  scale and filter parameters by distribution matching (with IMUTube-style per-channel percentile mapping as the
  baseline).

The statistics they compare (Allan deviation, Welch spectra, MMD, Wasserstein) are in ``imusim_jax.stats``; the
fitting machinery (constraints, the optax loop, uncertainties) in ``imusim_jax._fit``. This package is part of
the core: it reads no files (``imusim_jax.workflows.calibrate`` and ``imusim-jax calibrate`` do).
"""

from imusim_jax.calibrate.paired import fit_paired as fit_paired
from imusim_jax.calibrate.stationary import fit_stationary as fit_stationary
from imusim_jax.calibrate.stationary import rest_mask as rest_mask
from imusim_jax.calibrate.unpaired import fit_unpaired as fit_unpaired
from imusim_jax.calibrate.unpaired import percentile_map as percentile_map
