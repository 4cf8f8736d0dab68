"""Physical constants and frame conventions shared by every module.

World frame: right-handed, z up. Gravity is the vector ``GRAVITY_W = (0, 0, -STANDARD_GRAVITY)`` in m/s^2.
"""
import numpy as np

STANDARD_GRAVITY = 9.80665
"""Standard gravity in m/s^2 (CGPM 1901). Used to convert g <-> m/s^2 at the edges."""
GRAVITY_W = np.array([0.0, 0.0, -STANDARD_GRAVITY])
"""Gravity vector in the z-up world frame, m/s^2."""
DEFAULT_RATE_HZ = 50.0
"""Default IMU output rate (Hz): typical of smartwatch HAR datasets."""
