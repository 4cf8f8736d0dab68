"""Analytic motions with known IMU readings, shared by the tests.

The reference pose puts the LEFT forearm horizontal, pointing to the subject's right (+x), upper arm pointing
forward (+y): the elbow hinge axis is vertical, so the watch-left sensor frame equals the world frame
(x_s = +x, y_s = +y, z_s = +z up). A rigid motion of the whole skeleton carries that frame with it.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from imusim_jax import Motion, Trajectory
from imusim_jax._joints import COCO17

G = 9.80665
WATCH_LEVER = np.array([-0.02, 0.0, 0.03])  # a test lever arm in the forearm (= world at rest) frame


def watch_with_lever():
    """The watch-left mount with ``WATCH_LEVER`` (the preset itself has none)."""
    import imusim_jax as ij

    return ij.get_mount("watch-left").replace(lever_f=WATCH_LEVER.astype(np.float32))

REFERENCE_POSE = {
    "nose": (0.0, 0.1, 1.62), "left_eye": (-0.03, 0.08, 1.65), "right_eye": (0.03, 0.08, 1.65),
    "left_ear": (-0.07, 0.0, 1.63), "right_ear": (0.07, 0.0, 1.63),
    "left_shoulder": (-0.2, 0.0, 1.4), "right_shoulder": (0.2, 0.0, 1.4),
    "left_elbow": (-0.2, 0.3, 1.4), "left_wrist": (0.06, 0.3, 1.4),
    "right_elbow": (0.3, 0.25, 1.35), "right_wrist": (0.35, 0.45, 1.5),
    "left_hip": (-0.1, 0.0, 0.92), "right_hip": (0.1, 0.0, 0.92), "left_knee": (-0.1, 0.02, 0.48),
    "right_knee": (0.1, 0.02, 0.48), "left_ankle": (-0.1, 0.0, 0.07), "right_ankle": (0.1, 0.0, 0.07),
}


def reference_joints() -> np.ndarray:
    return np.array([REFERENCE_POSE[n] for n in COCO17.joints], np.float64)


def rigid_motion(R: np.ndarray, p: np.ndarray, fps: float, base: np.ndarray | None = None) -> Motion:
    """Apply rotations ``R`` (T, 3, 3) about the origin, then translations ``p`` (T, 3), to the reference pose."""
    base = reference_joints() if base is None else base
    joints = np.einsum("tij,kj->tki", R, base) + p[:, None, :]
    return Motion.create(joints, fps, "coco17")


def spin_about_z(omega: float, duration_s: float, fps: float) -> tuple[Motion, np.ndarray]:
    t = np.arange(int(round(duration_s * fps)) + 1) / fps
    R = Rotation.from_rotvec(np.outer(omega * t, [0, 0, 1])).as_matrix()
    return rigid_motion(R, np.zeros((len(t), 3)), fps), t


def mirror(m: Motion) -> Motion:
    """Mirror the world in x (x -> -x) and swap the body's left and right joints by name."""
    names = COCO17.joints
    swap = [names.index(n.replace("left", "TMP").replace("right", "left").replace("TMP", "right")) for n in names]
    j = np.asarray(m.joints, np.float64)[:, swap] * np.array([-1.0, 1.0, 1.0])
    return Motion.create(j, float(m.fps), m.joint_set)


def forearm_trajectory(m: Motion) -> Trajectory:
    """The left forearm's trajectory (wrist position, forearm frame) of a Motion, computed by the library's
    frame function on each frame."""
    import jax
    import jax.numpy as jnp

    from imusim_jax._orientation import arm_rig, forearm_frame, rig_positions
    from imusim_jax._quaternion import from_matrix

    rig = arm_rig(m.joint_set, "left")
    P = rig_positions(jnp.asarray(m.joints, jnp.float32), rig)
    q = jax.vmap(lambda p: from_matrix(forearm_frame(p, rig)))(P)
    return Trajectory.create(np.asarray(P[:, 2]), np.asarray(q), float(m.fps))
