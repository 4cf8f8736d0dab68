"""Named joint sets and explicit conversions between them.

Joints are always addressed by name, never by position alone. Left and right are the subject's own.
Supported sets:

* ``coco17``: COCO keypoints (ViTPose, most 2D detectors).
* ``h36m17``: Human3.6M 17-joint skeleton (VideoPose3D output).
* ``ntu25``: Kinect v2 skeleton of NTU RGB+D (25 joints, with hand tip and thumb).
* ``mediapipe33``: MediaPipe BlazePose (33 landmarks, with pinky, index and thumb).
* ``kinect20``: Kinect v1 skeleton of UTD-MHAD (20 joints, with hands).
* ``azure32``: Azure Kinect Body Tracking (``k4abt_joint_id_t`` order, 32 joints, with hands, thumbs and
  clavicles; SmartFallMM).

``convert(joints, src, dst)`` builds every target joint from source joints by name: directly where the joint
exists, as an average where it is defined as one (H36M's pelvis is the mean of the hips), and from a documented
stand-in otherwise (COCO's eyes and ears from a head joint). Stand-ins are reported by ``conversion_report``.
A target joint that nothing in the source can stand in for is an ``InputError`` naming it, never a guess: COCO-17
and H36M-17 have no hand tips or thumbs, so they convert into each other and into ``kinect20``, but not into
``ntu25`` or ``mediapipe33`` (simulate them in their own joint set: ``simulate`` reads only the arm).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from imusim_jax._errors import InputError

__all__ = ["JointSet", "JOINT_SETS", "get_joint_set", "convert", "conversion_matrix", "conversion_report",
           "ARM_JOINTS", "COCO17", "H36M17", "NTU25", "MEDIAPIPE33", "KINECT20", "AZURE32"]


@dataclasses.dataclass(frozen=True)
class JointSet:
    """A named, ordered list of joints. ``index('left_wrist')`` gives a joint's position in arrays."""

    name: str
    joints: tuple[str, ...]

    def index(self, joint: str) -> int:
        try:
            return self.joints.index(joint)
        except ValueError:
            raise KeyError(f"joint set {self.name} has no joint {joint!r}") from None

    def has(self, joint: str) -> bool:
        return joint in self.joints

    def __len__(self) -> int:
        return len(self.joints)


COCO17 = JointSet("coco17", (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
    "right_ankle"))

H36M17 = JointSet("h36m17", (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "spine", "thorax",
    "neck_nose", "head", "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
    "right_wrist"))

NTU25 = JointSet("ntu25", (
    "spine_base", "spine_mid", "neck", "head", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand", "left_hip", "left_knee", "left_ankle",
    "left_foot", "right_hip", "right_knee", "right_ankle", "right_foot", "spine_shoulder", "left_hand_tip",
    "left_thumb", "right_hand_tip", "right_thumb"))

MEDIAPIPE33 = JointSet("mediapipe33", (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index"))

KINECT20 = JointSet("kinect20", (
    "head", "spine_shoulder", "spine", "spine_base", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand", "left_hip", "left_knee", "left_ankle",
    "left_foot", "right_hip", "right_knee", "right_ankle", "right_foot"))

AZURE32 = JointSet("azure32", (
    "pelvis", "spine_navel", "spine_chest", "neck", "left_clavicle", "left_shoulder", "left_elbow", "left_wrist",
    "left_hand", "left_hand_tip", "left_thumb", "right_clavicle", "right_shoulder", "right_elbow", "right_wrist",
    "right_hand", "right_hand_tip", "right_thumb", "left_hip", "left_knee", "left_ankle", "left_foot", "right_hip",
    "right_knee", "right_ankle", "right_foot", "head", "nose", "left_eye", "left_ear", "right_eye", "right_ear"))

JOINT_SETS: dict[str, JointSet] = {s.name: s for s in (COCO17, H36M17, NTU25, MEDIAPIPE33, KINECT20, AZURE32)}
_ALIASES = {"coco": "coco17", "coco-17": "coco17", "h36m": "h36m17", "h36m-17": "h36m17", "ntu": "ntu25",
            "ntu-25": "ntu25", "mediapipe": "mediapipe33", "blazepose": "mediapipe33", "kinect": "kinect20",
            "utd": "kinect20", "human3.6m": "h36m17", "h3.6m": "h36m17", "ntu-rgbd": "ntu25", "ntu-rgb+d": "ntu25",
            "kinectv2": "ntu25", "kinectv1": "kinect20", "mediapipepose": "mediapipe33"}
"""Other spellings of the joint sets' names, compared lower-case, with ``_`` read as ``-`` and then without ``-``
(``COCO_17``, ``coco-17`` and ``coco17`` are all COCO-17)."""


def get_joint_set(name: str | JointSet) -> JointSet:
    """Look up a joint set by name (``coco17``, ``h36m17``, ``ntu25``, ``mediapipe33``, ``kinect20``)."""
    if isinstance(name, JointSet):
        return name
    key = str(name).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, _ALIASES.get(key.replace("-", ""), key.replace("-", "")))
    if key not in JOINT_SETS:
        raise InputError(f"unknown joint set {name!r}; expected one of {', '.join(JOINT_SETS)}")
    return JOINT_SETS[key]


# How to build a joint that a set lacks, from joints other sets have. Each entry: a list of alternatives tried in
# order; an alternative is a tuple of joint names averaged together. Entries marked approximate are stand-ins.
_DERIVED: Mapping[str, Sequence[tuple[str, ...]]] = {
    "pelvis": [("spine_base",), ("left_hip", "right_hip")],
    "spine_base": [("pelvis",), ("left_hip", "right_hip")],
    "thorax": [("spine_shoulder",), ("spine_chest",), ("neck",), ("left_shoulder", "right_shoulder")],
    "spine_shoulder": [("thorax",), ("spine_chest",), ("neck",), ("left_shoulder", "right_shoulder")],
    "neck": [("spine_shoulder",), ("thorax",), ("left_shoulder", "right_shoulder")],
    "spine": [("spine_mid",), ("spine_navel",), ("pelvis", "thorax"), ("spine_base", "spine_shoulder"),
              ("left_hip", "right_hip", "left_shoulder", "right_shoulder")],
    "spine_mid": [("spine",), ("spine_navel",), ("pelvis", "thorax"), ("spine_base", "spine_shoulder"),
                  ("left_hip", "right_hip", "left_shoulder", "right_shoulder")],
    "spine_navel": [("spine_mid",), ("spine",), ("pelvis", "thorax"), ("spine_base", "spine_shoulder")],
    "spine_chest": [("spine_shoulder",), ("thorax",), ("neck",), ("left_shoulder", "right_shoulder")],
    "left_clavicle": [("spine_shoulder", "left_shoulder"), ("thorax", "left_shoulder")],
    "right_clavicle": [("spine_shoulder", "right_shoulder"), ("thorax", "right_shoulder")],
    "neck_nose": [("nose",), ("head",)],
    "head": [("left_ear", "right_ear"), ("neck_nose",), ("nose",)],
    "nose": [("neck_nose",), ("head",)],
    "left_eye": [("head",), ("neck_nose",)],
    "right_eye": [("head",), ("neck_nose",)],
    "left_ear": [("head",), ("neck_nose",)],
    "right_ear": [("head",), ("neck_nose",)],
    "left_hand": [("left_index", "left_pinky"), ("left_wrist",)],
    "right_hand": [("right_index", "right_pinky"), ("right_wrist",)],
    "left_foot": [("left_foot_index",), ("left_ankle",)],
    "right_foot": [("right_foot_index",), ("right_ankle",)],
}
# Stand-ins that are not the same anatomical point (reported to the user).
_APPROXIMATE = {"left_eye", "right_eye", "left_ear", "right_ear", "nose", "neck_nose", "head", "left_hand",
                "right_hand", "left_foot", "right_foot", "neck", "spine_chest", "spine_navel", "left_clavicle",
                "right_clavicle"}


def _recipe(joint: str, src: JointSet) -> tuple[tuple[str, ...], bool]:
    if src.has(joint):
        return (joint,), False
    for alt in _DERIVED.get(joint, ()):
        if all(src.has(j) for j in alt):
            return alt, joint in _APPROXIMATE and alt != ("left_hip", "right_hip")
    raise InputError(f"cannot build joint {joint!r} from joint set {src.name}")


def conversion_matrix(src: str | JointSet, dst: str | JointSet) -> np.ndarray:
    """Matrix ``W`` of shape (len(dst), len(src)) with ``joints_dst = W @ joints_src`` (rows sum to 1)."""
    src, dst = get_joint_set(src), get_joint_set(dst)
    W = np.zeros((len(dst), len(src)))
    for i, name in enumerate(dst.joints):
        parts, _ = _recipe(name, src)
        for p in parts:
            W[i, src.index(p)] += 1.0 / len(parts)
    return W


def conversion_report(src: str | JointSet, dst: str | JointSet) -> dict[str, str]:
    """For each target joint that is not copied directly: how it is built, e.g. ``{'pelvis': 'mean(left_hip,
    right_hip)', 'left_eye': 'head (stand-in)'}``."""
    src, dst = get_joint_set(src), get_joint_set(dst)
    out = {}
    for name in dst.joints:
        parts, approx = _recipe(name, src)
        if parts != (name,):
            desc = parts[0] if len(parts) == 1 else f"mean({', '.join(parts)})"
            out[name] = desc + (" (stand-in)" if approx else "")
    return out


def convert(x, src: str | JointSet, dst: str | JointSet, *, joint_axis: int = -2):
    """Convert an array from joint set ``src`` to ``dst`` by joint name.

    ``x`` holds joints along ``joint_axis``: positions ``(..., J, 3)`` (the default axis -2), or per-joint values
    such as confidences ``(..., J)`` with ``joint_axis=-1``. NumPy in, NumPy out; JAX in, JAX out. Derived joints
    are averages of their sources (see ``conversion_report``).
    """
    src, dst = get_joint_set(src), get_joint_set(dst)
    if x.shape[joint_axis] != len(src):
        raise InputError(f"expected {len(src)} joints ({src.name}) on axis {joint_axis}, got shape {x.shape}")
    if src.name == dst.name:
        return x
    W = conversion_matrix(src, dst)
    if isinstance(x, np.ndarray):
        return np.moveaxis(np.tensordot(W, np.moveaxis(x, joint_axis, 0), axes=1), 0, joint_axis)
    import jax.numpy as jnp

    return jnp.moveaxis(jnp.tensordot(jnp.asarray(W, x.dtype), jnp.moveaxis(x, joint_axis, 0), axes=1), 0,
                        joint_axis)


# Joints the forearm model reads, per side: shoulder, elbow, wrist and (where the set has them) hand landmarks.
ARM_JOINTS = {
    side: dict(shoulder=f"{side}_shoulder", elbow=f"{side}_elbow", wrist=f"{side}_wrist",
               other_shoulder=f"{'right' if side == 'left' else 'left'}_shoulder",
               index=f"{side}_index", pinky=f"{side}_pinky", thumb=f"{side}_thumb", hand=f"{side}_hand",
               hand_tip=f"{side}_hand_tip")
    for side in ("left", "right")
}
