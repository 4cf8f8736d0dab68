"""What the Kinect datasets share: the camera's space and a person's clip as read from a file.

NTU RGB+D (Kinect v2) and UTD-MHAD (Kinect v1) record skeletons in the camera's space: metres, right-handed, x
toward the sensor's left (the subject's right when they face it), y up, z away from the sensor. The readers turn
it into the package's world frame (right-handed, z up) with the proper rotation ``world = (-x, z, y)`` of the
camera axes (``CAMERA_TO_WORLD``, determinant +1): swapping y and z without the sign on x would mirror the body
and exchange left and right. The camera stays at the origin; the subject who faces it faces world ``-y``.

A body that is absent (or whose joints are all zero) for a few frames is filled by linear interpolation, at most
``MAX_GAP_S`` seconds per gap; frames before its first and after its last appearance are dropped.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._joints import get_joint_set

__all__ = ["CAMERA_TO_WORLD", "MAX_GAP_S", "camera_to_world", "SkeletonClip", "check_native_joint_set"]

CAMERA_TO_WORLD = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
"""``v_world = CAMERA_TO_WORLD @ v_camera`` for Kinect camera space (x left of the sensor, y up, z depth)."""

MAX_GAP_S = 0.5
"""Longest run of missing frames (seconds) filled by linear interpolation; a longer gap is refused."""


def camera_to_world(xyz) -> np.ndarray:
    """Kinect camera space ``(..., 3)`` to the z-up world: ``(x, y, z) -> (-x, z, y)``."""
    xyz = np.asarray(xyz, np.float64)
    return np.stack([-xyz[..., 0], xyz[..., 2], xyz[..., 1]], -1)


@dataclasses.dataclass(frozen=True)
class SkeletonClip:
    """One person's joints read from a dataset file, already in the z-up world.

    Attributes:
      joints: ``(T, J, 3)`` metres, world frame.
      confidence: ``None`` or ``(T, J)`` in [0, 1] (0 on interpolated frames).
      fps: frame rate in Hz.
      joint_set: ``ntu25`` or ``kinect20``.
      first_frame: index in the file of the clip's first frame (frames before the body appears are dropped).
      filled: ``(T,)`` bool, frames filled by interpolation.
      note: how the person and the frame rate were chosen, in words.
    """

    joints: np.ndarray
    confidence: Optional[np.ndarray]
    fps: float
    joint_set: str
    first_frame: int
    filled: np.ndarray
    note: str


def check_native_joint_set(path: str, native: str, joint_set: Optional[str]) -> None:
    """A dataset file holds its own joint set: ``joint_set`` may only name it (convert after loading)."""
    if joint_set is not None and get_joint_set(joint_set).name != native:
        raise InputError(f"{path!r} holds joint set {native}, not {joint_set!r}; convert after loading (Motion.to)")
