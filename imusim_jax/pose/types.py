"""Data passed between Stage 1 components (NumPy, not JAX: this is the edge of the library).

Conventions:
  * frames are RGB ``uint8`` arrays ``(H, W, 3)`` (``video.py`` converts from OpenCV's BGR once);
  * pixel coordinates are ``(x, y)`` with x to the right and y down, origin at the top-left pixel's corner
    (pixel centres at integer + 0.5 is NOT assumed: pixel ``(i, j)`` has centre ``(j, i)``, OpenCV's convention);
  * boxes are ``(x0, y0, x1, y1)`` in pixels, float32;
  * 2D keypoints are ``(..., K, 3)``: ``x, y`` in pixels and a confidence in [0, 1], in a named joint set.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Protocol

import numpy as np


@dataclasses.dataclass
class Detections:
    """Person detections in one frame: ``boxes`` (N, 4) xyxy pixels, ``scores`` (N,) in [0, 1]."""

    boxes: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> "Detections":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)


@dataclasses.dataclass
class Track:
    """One person followed over time: frame indices ``frames`` (n,), ``boxes`` (n, 4), ``scores`` (n,), and
    optionally ``person`` (n,): whether a person detector (not only a moving blob) boxed them in that frame."""

    id: int
    frames: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    person: Optional[np.ndarray] = None


@dataclasses.dataclass
class PersonTrack:
    """One person's Stage 1 observations over consecutive video frames (what a backend finds, before the world
    frame).

    Attributes:
      id: the person's id (0, 1, ... in order of appearance, once ``pose.selection.select_people`` has run).
      frames: ``(T,)`` consecutive video frame indices (counted from the first frame of the time range).
      keypoints2d: ``(T, J2, 3)`` pixels + confidence in ``joint_set2d`` (confidence 0 where not found).
      joints3d_cam: ``(T, J3, 3)`` root-relative camera-frame 3D pose (x right, y down, z forward; metres for
        MediaPipe, lifter units for VideoPose3D); NaN where not found.
      conf3d: ``(T, J3)`` confidences of the 3D joints.
      boxes: ``(T, 4)`` the tracker's boxes, xyxy pixels.
      pose_found: ``(T,)`` whether the pose model found the person.
      joint_set2d, joint_set3d: joint set names.
      has_box: ``(T,)`` whether the tracker has a box for the frame (``None``: every frame).
      anchored: ``(T,)`` frames whose pose is the nearest observed one moved with the box
        (``pose.selection.anchor_to_boxes``).
      appearance: ``(T, B)`` colour histograms of the person's keypoint box (``pose.tracking.appearance``; rows of
        zeros where none was taken), or ``None``.
    """

    id: int
    frames: np.ndarray
    keypoints2d: np.ndarray
    joints3d_cam: np.ndarray
    conf3d: np.ndarray
    boxes: np.ndarray
    pose_found: np.ndarray
    joint_set2d: str
    joint_set3d: str
    has_box: Optional[np.ndarray] = None
    anchored: Optional[np.ndarray] = None
    appearance: Optional[np.ndarray] = None


class PersonDetector(Protocol):
    def __call__(self, frame: np.ndarray) -> Detections: ...


class PoseEstimator2D(Protocol):
    """Top-down 2D pose: keypoints ``(N, K, 3)`` for the ``N`` boxes of one frame."""

    joint_set: str

    def __call__(self, frame: np.ndarray, boxes: np.ndarray) -> np.ndarray: ...


class Lifter3D(Protocol):
    """2D-to-3D lifting of a whole track: ``(T, K_in, 3)`` pixels+conf -> ``(T, K_out, 3)`` camera frame."""

    input_joint_set: str
    output_joint_set: str

    def __call__(self, keypoints2d: np.ndarray, width: int, height: int) -> np.ndarray: ...
