"""A plain NumPy/SciPy wrist-IMU simulator: the reference the benchmarks compare ``imusim_jax`` against.

The same physics as ``imusim_jax.simulate``, written the obvious way, one clip at a time:

1. the arm's shoulder, elbow and wrist are low-pass filtered with a fixed Butterworth filter
   (``scipy.signal.butter(2, cutoff_hz)`` applied forward and backward by ``filtfilt``: zero phase);
2. a cubic spline (``scipy.interpolate.CubicSpline``, not-a-knot ends) through the filtered frames gives the
   joints at the IMU sample times ``t_k = k / rate_hz`` (the last sample no later than the last frame), and the
   wrist's acceleration from the spline's analytic second derivative;
3. the forearm frame, in world coordinates: ``x`` = wrist - elbow (toward the hand), ``z`` = the component of
   shoulder - elbow perpendicular to ``x`` (the naive roll: "palm toward the upper arm"; no elbow-hinge model and
   no fallback for a straight arm), ``y = z × x``;
4. the sensor sits ``lever_m`` (3.6 cm) along the forearm frame's ``z``; its acceleration is the wrist's plus the
   second central difference of the lever vector ``r_w(t_k)`` (this is the tangential ``alpha × r`` plus the
   centripetal ``omega × (omega × r)`` term, differenced instead of written out);
5. orientation ``R_ws = R_wf R_fs`` (``R_fs`` = identity on the left wrist; on the right wrist the watch is turned
   180° about z, so x and y flip), as ``scipy.spatial.transform.Rotation``; the gyroscope is the central finite
   difference of the orientation, ``omega_s[k] = log(R_{k-1}^T R_{k+1}) / (2 dt)`` (one-sided at the ends);
6. the accelerometer reads the specific force ``f_s = R_ws^T (a_w - g_w)`` with ``g_w = (0, 0, -9.80665)`` m/s^2.

World frame right-handed, z up, metres; outputs in m/s^2 and rad/s, shapes ``(T', 3)``.

``add_noise`` adds the same kind of MEMS errors as ``imusim_jax``'s ``bmi160`` preset (white noise, bias random
walk, turn-on bias, scale and cross-axis errors, saturation, 16-bit quantisation), so the speed benchmark times
the same work on both sides.
"""
from __future__ import annotations

import numpy as np
import scipy.signal
from scipy.interpolate import CubicSpline
from scipy.spatial.transform import Rotation

__all__ = ["ARM_JOINTS", "GRAVITY_W", "num_samples", "lowpass", "forearm_frames", "simulate_numpy",
           "sensor_trajectory", "add_noise"]

GRAVITY_W = np.array([0.0, 0.0, -9.80665])
"""Gravity in the z-up world frame, m/s^2."""

ARM_JOINTS = {
    # joint set: {side: (shoulder, elbow, wrist) indices}
    "coco17": {"left": (5, 7, 9), "right": (6, 8, 10)},
    "h36m17": {"left": (11, 12, 13), "right": (14, 15, 16)},
    "ntu25": {"left": (4, 5, 6), "right": (8, 9, 10)},
    "mediapipe33": {"left": (11, 13, 15), "right": (12, 14, 16)},
    "kinect20": {"left": (4, 5, 6), "right": (8, 9, 10)},
}

_R_FS = {"left": np.eye(3), "right": np.diag([-1.0, -1.0, 1.0])}  # sensor axes in forearm terms (watch)


def num_samples(num_frames: int, fps: float, rate_hz: float) -> int:
    """IMU samples ``k = 0..n-1`` with ``k / rate_hz <= (num_frames - 1) / fps``."""
    return int(np.floor((num_frames - 1) / fps * rate_hz + 1e-6)) + 1


def lowpass(x: np.ndarray, fps: float, cutoff_hz: float | None, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth low-pass of ``x`` ``(T, ...)`` along time; ``None`` (or a cut-off at or above
    Nyquist) returns ``x`` unchanged."""
    if cutoff_hz is None or cutoff_hz >= 0.5 * fps:
        return x
    b, a = scipy.signal.butter(order, cutoff_hz, fs=fps)
    return scipy.signal.filtfilt(b, a, x, axis=0, padlen=min(3 * max(len(a), len(b)), len(x) - 1))


def forearm_frames(shoulder: np.ndarray, elbow: np.ndarray, wrist: np.ndarray) -> np.ndarray:
    """``(T, 3, 3)`` rotation matrices ``R_wf`` whose columns are the forearm axes ``x, y, z`` in the world.

    ``x`` points from the elbow to the wrist, ``z`` along the part of elbow->shoulder perpendicular to ``x``,
    ``y = z × x``. Undefined (NaN-free but arbitrary) for a perfectly straight arm.
    """
    x = wrist - elbow
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    u = shoulder - elbow
    z = u - np.sum(u * x, axis=-1, keepdims=True) * x
    z /= np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def _second_difference(r: np.ndarray, dt: float) -> np.ndarray:
    """``d²r/dt²`` by central differences ``(r[k+1] - 2 r[k] + r[k-1]) / dt²``, the ends copied inward."""
    if len(r) < 3:
        return np.zeros_like(r)
    d2 = (r[2:] - 2.0 * r[1:-1] + r[:-2]) / dt ** 2
    return np.concatenate([d2[:1], d2, d2[-1:]])


def _rates(rot: Rotation, dt: float) -> np.ndarray:
    """Body rates ``(T, 3)`` of a rotation sequence: ``log(R_{k-1}^T R_{k+1}) / (2 dt)``, one-sided at the ends."""
    if len(rot) < 2:
        return np.zeros((len(rot), 3))
    fwd = (rot[:-1].inv() * rot[1:]).as_rotvec() / dt  # log(R_k^T R_{k+1}) / dt
    if len(rot) == 2:
        return np.concatenate([fwd, fwd])
    mid = (rot[:-2].inv() * rot[2:]).as_rotvec() / (2.0 * dt)
    return np.concatenate([fwd[:1], mid, fwd[-1:]])


def _arm_at_samples(joints, fps, joint_set, side, rate_hz, cutoff_hz):
    """Filtered, spline-resampled shoulder, elbow, wrist ``(3, T', 3)``, the wrist's acceleration ``(T', 3)`` and
    the sample times ``(T',)``."""
    joints = np.asarray(joints, np.float64)
    if joints.ndim != 3 or joints.shape[-1] != 3 or len(joints) < 4:
        raise ValueError(f"joints must be (T >= 4, J, 3), got {joints.shape}")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    arm = joints[:, list(ARM_JOINTS[joint_set][side]), :]           # (T, 3 joints, 3)
    arm = lowpass(arm, fps, cutoff_hz)
    spline = CubicSpline(np.arange(len(arm)) / fps, arm, axis=0)
    t = np.arange(num_samples(len(arm), fps, rate_hz)) / rate_hz
    p = spline(t)                                                    # (T', 3 joints, 3)
    a_wrist = spline(t, 2)[:, 2]
    return p[:, 0], p[:, 1], p[:, 2], a_wrist, t


def simulate_numpy(joints, fps: float, joint_set: str = "coco17", side: str = "left", rate_hz: float = 50.0,
                   cutoff_hz: float | None = 6.0, lever_m: float = 0.036):
    """Simulate a watch on one wrist from a joint sequence.

    Args:
      joints: ``(T, J, 3)`` joint positions, metres, right-handed z-up world frame.
      fps: frame rate of ``joints`` (Hz).
      joint_set: ``coco17``, ``h36m17``, ``ntu25``, ``mediapipe33`` or ``kinect20``.
      side: the wrist, ``"left"`` or ``"right"`` (the right-wrist watch has x and y flipped).
      rate_hz: IMU rate (Hz); sample ``k`` is at ``k / rate_hz`` s.
      cutoff_hz: Butterworth cut-off of one pass (Hz), ``None`` for no filtering.
      lever_m: distance from the wrist joint to the sensor along the forearm frame's ``z`` (m).
    Returns:
      ``(t (T',), accel (T', 3) m/s^2, gyro (T', 3) rad/s)``, sensor frame.
    """
    shoulder, elbow, wrist, a_wrist, t = _arm_at_samples(joints, fps, joint_set, side, rate_hz, cutoff_hz)
    dt = 1.0 / rate_hz
    R_wf = forearm_frames(shoulder, elbow, wrist)
    R_ws = R_wf @ _R_FS[side]
    r_w = lever_m * R_wf[:, :, 2]                                    # wrist -> sensor, world frame
    a_w = a_wrist + _second_difference(r_w, dt)
    accel = np.einsum("kji,kj->ki", R_ws, a_w - GRAVITY_W)            # R_ws^T (a - g)
    gyro = _rates(Rotation.from_matrix(R_ws), dt)
    return t, accel, gyro


def sensor_trajectory(joints, fps: float, joint_set: str = "coco17", side: str = "left",
                      lever_m: float = 0.036):
    """The sensor's pose at the frames themselves (no filter): positions ``(T, 3)`` m and orientations
    ``q_ws`` ``(T, 4)`` scalar first, e.g. to write the trajectory CSV that x-io's IMU Simulator reads."""
    joints = np.asarray(joints, np.float64)
    s, e, w = (joints[:, i] for i in ARM_JOINTS[joint_set][side])
    R_wf = forearm_frames(s, e, w)
    xyzw = Rotation.from_matrix(R_wf @ _R_FS[side]).as_quat()
    q = xyzw[:, [3, 0, 1, 2]]
    flip = np.sum(q[1:] * q[:-1], axis=1) < 0                       # keep sign continuity along time
    q *= np.cumprod(np.r_[1.0, np.where(flip, -1.0, 1.0)])[:, None]
    return w + lever_m * R_wf[:, :, 2], q


# Bosch BMI160 (as imusim_jax's preset): white-noise density, bias random walk, turn-on bias, scale and
# cross-axis errors (1 sigma), full-scale range, 16 bits. SI units.
_DEG, _MG = np.pi / 180.0, 1e-3 * 9.80665
BMI160 = {
    "accel": dict(noise_density=180e-6 * 9.80665, random_walk=1e-4, bias_std=40 * _MG, scale_std=0.01,
                  misalignment_std=0.01, range=8 * 9.80665, bits=16),
    "gyro": dict(noise_density=7e-3 * _DEG, random_walk=1e-5, bias_std=3.0 * _DEG, scale_std=0.01,
                 misalignment_std=0.01, range=2000 * _DEG, bits=16),
}


def _sensor_noise(rng, x, rate_hz, noise_density, random_walk, bias_std, scale_std, misalignment_std, range,
                  bits):
    T = len(x)
    scale = 1.0 + scale_std * rng.standard_normal(3)
    M = np.eye(3) + (1.0 - np.eye(3)) * misalignment_std * rng.standard_normal((3, 3))
    y = (x * scale) @ M.T
    steps = rng.standard_normal((T, 3)) * (random_walk / np.sqrt(rate_hz))
    y = y + bias_std * rng.standard_normal(3) + np.cumsum(steps, 0) - steps[:1]
    y = y + rng.standard_normal((T, 3)) * (noise_density * np.sqrt(rate_hz))
    y = np.clip(y, -range, range)
    lsb = 2.0 * range / 2.0 ** bits
    return lsb * np.round(y / lsb)


def add_noise(rng: np.random.Generator, accel, gyro, rate_hz: float, model: dict = BMI160):
    """MEMS errors (see the module docstring) on one clip's ideal readings; returns ``(accel, gyro)``."""
    return (_sensor_noise(rng, accel, rate_hz, **model["accel"]),
            _sensor_noise(rng, gyro, rate_hz, **model["gyro"]))
