"""The bundled sample: a forward fall computed from an inverted-pendulum model of the body, with arm motion.

Phases (times at the defaults):
  * 0 to 1.5 s: standing upright, a slight postural sway, arms hanging with a small swing;
  * 1.5 s: balance is lost; the rigid body (a uniform rod of the subject's height pivoting at the ankles,
    ``theta'' = 3 g / (2 h) sin(theta)``) topples forward, while both arms reach forward to brace
    (shoulder flexion to about 80°, elbows slightly bent);
  * impact: the body reaches the ground (theta = 90°) and stops within 60 ms, which is the spike a fall detector
    looks for;
  * then lying still until the end.

The joints are COCO-17, in metres, z-up world, facing +y, at 30 fps. ``fall_motion()`` recomputes the file
shipped as ``imusim_jax/data/fall_sample.npz`` (a test checks they agree).
"""
from __future__ import annotations

import os

import numpy as np

from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._joints import COCO17
from imusim_jax._motion import Motion
from imusim_jax.io import load_motion

__all__ = ["fall_motion", "sample_path", "load_sample"]

SAMPLE_FILE = os.path.join(os.path.dirname(__file__), "data", "fall_sample.npz")


def sample_path() -> str:
    """Path of the bundled fall sample (``.npz`` in the ``simulate`` input format)."""
    return SAMPLE_FILE


def load_sample() -> Motion:
    """The bundled fall sample as a ``Motion``."""
    return load_motion(SAMPLE_FILE)


def _rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _pendulum(theta0: float, omega0: float, height_m: float, dt: float, n: int) -> np.ndarray:
    """Integrate ``theta'' = 3 g / (2 h) sin(theta)`` (RK4) until the body is horizontal; returns theta(t)."""
    k = 3.0 * STANDARD_GRAVITY / (2.0 * height_m)
    th = np.empty(n)
    x = np.array([theta0, omega0])
    f = lambda s: np.array([s[1], k * np.sin(s[0])])
    for i in range(n):
        th[i] = x[0]
        k1 = f(x); k2 = f(x + dt / 2 * k1); k3 = f(x + dt / 2 * k2); k4 = f(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return th


def _smoothstep(x):
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def fall_motion(fps: float = 30.0, duration_s: float = 6.0, fall_start_s: float = 1.5,
                height_m: float = 1.72) -> Motion:
    """Compute the forward-fall sample (see the module docstring)."""
    T = int(round(duration_s * fps)) + 1
    t = np.arange(T) / fps
    s = height_m / 1.72
    # standing body in its own frame: facing +y, z up, so the subject's right is +x
    body = {
        "nose": (0.0, 0.10, 1.62), "left_eye": (-0.03, 0.08, 1.65), "right_eye": (0.03, 0.08, 1.65),
        "left_ear": (-0.07, 0.0, 1.63), "right_ear": (0.07, 0.0, 1.63),
        "left_shoulder": (-0.18, 0.0, 1.42), "right_shoulder": (0.18, 0.0, 1.42),
        "left_hip": (-0.10, 0.0, 0.92), "right_hip": (0.10, 0.0, 0.92),
        "left_knee": (-0.10, 0.02, 0.48), "right_knee": (0.10, 0.02, 0.48),
        "left_ankle": (-0.10, 0.0, 0.07), "right_ankle": (0.10, 0.0, 0.07),
    }
    body = {k: np.array(v) * s for k, v in body.items()}
    upper, fore = 0.29 * s, 0.26 * s

    # body pitch about the ankles: sway, then the pendulum fall, then a fast stop on the ground
    dt_fine = 1.0 / 1000.0
    n_fine = int(round((duration_s - fall_start_s) * 1000)) + 1
    th_fall = _pendulum(0.04, 0.15, height_m, dt_fine, n_fine)
    hit = int(np.argmax(th_fall >= np.radians(84.0))) if (th_fall >= np.radians(84.0)).any() else n_fine - 1
    t_hit = fall_start_s + hit * dt_fine
    theta = np.zeros(T)
    for i, ti in enumerate(t):
        if ti < fall_start_s:
            theta[i] = 0.012 * np.sin(2 * np.pi * 0.4 * ti) + 0.04 * _smoothstep((ti - fall_start_s + 0.5) / 0.5)
        elif ti < t_hit:
            theta[i] = np.interp(ti, fall_start_s + np.arange(n_fine) * dt_fine, th_fall)
        else:  # impact: decelerate from the pendulum's speed to rest at 90° within 60 ms, a slight rebound after
            tau = ti - t_hit
            th_hit = th_fall[hit]
            theta[i] = th_hit + (np.pi / 2 - th_hit) * _smoothstep(tau / 0.06) \
                - 0.02 * np.exp(-tau / 0.15) * np.sin(2 * np.pi * 4 * tau) * (tau > 0.06)
    # arms: shoulder flexion (forward) and elbow flexion, in the body's sagittal plane
    reach = _smoothstep((t - fall_start_s - 0.1) / (t_hit - fall_start_s - 0.1))
    swing = 0.12 * np.sin(2 * np.pi * 0.8 * t) * (1.0 - _smoothstep((t - fall_start_s + 0.6) / 0.6))
    shoulder_flex = np.radians(5) + swing + np.radians(75) * reach
    elbow_flex = np.radians(15) + np.radians(10) * reach
    # after impact the arms fold a little (hands hit the ground first)
    post = _smoothstep((t - t_hit) / 0.15)
    shoulder_flex = shoulder_flex - np.radians(20) * post
    elbow_flex = elbow_flex + np.radians(35) * post

    J = np.zeros((T, 17, 3))
    for i in range(T):
        pose = dict(body)
        for side in ("left", "right"):
            sh = pose[f"{side}_shoulder"]
            a = shoulder_flex[i]
            d_up = np.array([0.0, np.sin(a), -np.cos(a)])  # upper arm direction
            el = sh + upper * d_up
            b = a + elbow_flex[i]
            d_fore = np.array([0.0, np.sin(b), -np.cos(b)])
            wr = el + fore * d_fore
            pose[f"{side}_elbow"], pose[f"{side}_wrist"] = el, wr
        R = _rot_x(-theta[i])  # positive theta tips the head toward +y (forward)
        for j, name in enumerate(COCO17.joints):
            J[i, j] = R @ pose[name]
        # keep the body above the floor while lying (its thickness)
        J[i, :, 2] += 0.10 * _smoothstep(theta[i] / (np.pi / 2)) ** 4
    return Motion.create(J, fps, "coco17")


def write_sample(path: str = SAMPLE_FILE) -> None:
    """Regenerate the bundled file (``python -m imusim_jax.sample``)."""
    fall_motion().save_npz(path)


if __name__ == "__main__":
    write_sample()
    print(f"wrote {SAMPLE_FILE}")
