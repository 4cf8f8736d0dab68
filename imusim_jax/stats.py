"""Statistics of IMU signals in JAX, differentiable where they serve as calibration losses: the overlapping Allan
deviation, Welch's power spectral density, and distances between sets of windows (MMD, per-channel Wasserstein).
"""
