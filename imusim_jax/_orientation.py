"""The forearm frame: where a wrist-worn device points.

Forearm frame ``f`` of either arm (right-handed, in the world frame):
  * ``x_f``: along the forearm, from the elbow to the wrist (toward the hand);
  * ``z_f``: out of the back of the wrist (where a watch's screen faces);
  * ``y_f = z_f × x_f``: across the wrist; on the left arm it points to the little-finger side, on the right arm to
    the thumb side (the two arms are mirror images, the frames are not).

``x_f`` is always the elbow-to-wrist direction. The roll about it (``z_f``) comes from, in order of preference:

* **hand landmarks** (``roll="hand"``): MediaPipe's index and pinky knuckles, or NTU RGB+D's thumb, give the
  across-the-hand direction ``k`` (toward the thumb side); the back of the hand is ``s (k × x_f)`` with
  ``s = +1`` on the left arm and ``-1`` on the right.
* **the elbow hinge** (``roll="hinge"``, the only choice for COCO-17, H36M-17 and Kinect v1, which have no hand
  landmarks, and ``roll="auto"``'s choice for NTU RGB+D, whose Kinect v2 thumb is too unreliable): the forearm
  is assumed in the neutral posture (thumb up when the elbow is bent at 90°), so the back of the wrist faces
  along the elbow's hinge axis, ``z_f ∝ s (u × x_f)`` with ``u`` the elbow-to-shoulder direction. Pronation
  and supination (the forearm's own roll) cannot be seen without hand landmarks: this is an assumption, not a
  measurement.

Near-singular postures get smooth fallbacks instead of jumps: as the arm straightens, the hinge axis is
undefined, and the reference blends into the outward shoulder line (the back of a hanging, relaxed wrist faces
outward, which is what the neutral posture gives as the elbow straightens), and, when the straight arm also
points along the shoulder line, into world up (palms down in a T-pose). The blend weights are smooth in the
joint positions, so gradients exist everywhere.
"""
from __future__ import annotations

import dataclasses
from typing import Literal, NamedTuple

import jax.numpy as jnp
import numpy as np

from imusim_jax import _rows as R
from imusim_jax._errors import InputError
from imusim_jax._joints import ARM_JOINTS, get_joint_set

__all__ = ["ArmRig", "arm_rig", "forearm_frame", "forearm_frame_rows", "RollModel"]

RollMode = Literal["auto", "hand", "hinge"]


@dataclasses.dataclass(frozen=True)
class RollModel:
    """Where the roll references hand over (sines of angles, dimensionless).

    Attributes:
      straight_arm: the hinge alone sets the roll while the elbow is bent by more than ``asin(straight_arm)``
        (default 0.3: 17°); closer to straight it slides smoothly into the outward shoulder line.
      vertical: likewise, the shoulder line alone serves while the forearm is more than ``asin(vertical)`` off
        it (default 0.1: 6°); closer, world up takes over.
    """

    straight_arm: float = 0.3
    vertical: float = 0.1


class ArmRig(NamedTuple):
    """Indices (into the joint set) of the joints the forearm model reads, and how the roll is found.

    ``indices`` = (shoulder, elbow, wrist, other shoulder[, hand_a, hand_b]); ``hand`` is ``None`` (hinge: four
    joints), ``"mp"`` (``hand_a - hand_b`` = index - pinky knuckle) or ``"thumb"`` (thumb - hand centre).
    """

    indices: tuple[int, ...]
    side: str
    hand: str | None


def arm_rig(joint_set: str, side: str, roll: RollMode = "auto") -> ArmRig:
    """Choose the joints and roll source for one arm of ``joint_set`` (``side`` = ``"left"`` or ``"right"``).

    ``"auto"`` takes the hand landmarks only where they are knuckles (MediaPipe's index and pinky); a Kinect v2
    thumb (NTU RGB+D) is used with ``"hand"`` only. Measured on the real NTU files in ``../shared/realdata``: with
    the thumb, a right wrist holding a book (A011) reads a 180° roll flip in 0.15 s (19.9 rad/s; the elbow hinge
    gives at most 4.6 rad/s over the clip), and the resting left arm of a person brushing their teeth (A003)
    reads up to 6.2 rad/s (hinge: 0.19 rad/s): Kinect's thumb joint jitters across the hand.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    js = get_joint_set(joint_set)
    n = ARM_JOINTS[side]
    base = [js.index(n["shoulder"]), js.index(n["elbow"]), js.index(n["wrist"]), js.index(n["other_shoulder"])]
    hand = None
    extra = []
    if roll in ("auto", "hand"):
        if js.has(n["index"]) and js.has(n["pinky"]):
            hand, extra = "mp", [js.index(n["index"]), js.index(n["pinky"])]
        elif roll == "hand" and js.has(n["thumb"]) and js.has(n["hand"]):
            hand, extra = "thumb", [js.index(n["thumb"]), js.index(n["hand"])]
        elif roll == "hand":
            raise InputError(f"joint set {js.name} has no hand landmarks for roll='hand' (use 'hinge')")
    elif roll != "hinge":
        raise InputError(f"roll must be 'auto', 'hand' or 'hinge', got {roll!r}")
    return ArmRig(tuple(base + extra), side, hand)


# The frame is computed on rows (``imusim_jax._rows``: a vector is a tuple of three arrays), so a whole clip's
# frames are computed with time as the vectorised axis (``forearm_frame_rows``); the public ``forearm_frame`` is
# the same code on a single posture.

def _smoothstep(x):
    x = jnp.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _blend(primary, fallback, width):
    """``primary |primary| + width^2 (1 - smoothstep(|primary| / width)) fallback``: exactly the primary direction
    while ``|primary| >= width``, sliding smoothly (C1) into the fallback as ``|primary|`` goes to 0."""
    n = R.norm(primary)
    k = width ** 2 * (1.0 - _smoothstep(n / width))
    return tuple(primary[i] * n + k * fallback[i] for i in range(3))


def forearm_frame_rows(p, rig: ArmRig, model: RollModel = RollModel()):
    """``forearm_frame`` for many postures at once, on rows: ``p`` is a sequence of the rig's joints, each a
    3-vector of arrays (any common shape, e.g. time) -> the columns ``x_f, y_f, z_f``, each a 3-vector."""
    s = 1.0 if rig.side == "left" else -1.0
    shoulder, elbow, wrist, other = p[0], p[1], p[2], p[3]
    x = R.unit(R.sub(wrist, elbow))
    u = R.unit(R.sub(shoulder, elbow))
    hinge = tuple(s * c for c in R.cross(u, x))  # |hinge| = sin(elbow angle)
    lateral = R.perp(R.unit(R.sub(shoulder, other)), x)
    up = R.perp((jnp.zeros_like(x[0]), jnp.zeros_like(x[0]), jnp.ones_like(x[0])), x)
    z = _blend(hinge, R.unit(_blend(lateral, up, model.vertical)), model.straight_arm)
    if rig.hand is not None:
        k = R.perp(R.unit(R.sub(p[4], p[5])), x)
        hand_z = tuple(s * c for c in R.cross(k, x))  # |hand_z| = sin(angle between the across-hand line and x_f)
        z = _blend(hand_z, R.unit(z), model.straight_arm)
    z = R.unit(R.perp(z, x))
    return x, R.cross(z, x), z


def forearm_frame(p: jnp.ndarray, rig: ArmRig, model: RollModel = RollModel()) -> jnp.ndarray:
    """Rotation matrix ``R_wf`` (columns ``x_f, y_f, z_f`` in world coordinates) from the rig's joints.

    Away from the singular postures (elbow bent by more than ``asin(model.straight_arm)``, or hand landmarks
    that span the wrist) the frame depends on the joints only, so it moves rigidly with a rigid motion.

    Args:
      p: ``(4, 3)`` or ``(6, 3)`` positions (metres) of the rig's joints in ``rig.indices`` order, z-up world.
      rig: from ``arm_rig``.
      model: fallback widths for near-singular postures.
    Returns:
      ``(3, 3)`` proper rotation matrix.
    """
    p = jnp.asarray(p)
    cols = forearm_frame_rows([tuple(p[j, c] for c in range(3)) for j in range(p.shape[0])], rig, model)
    return jnp.stack([jnp.stack(col) for col in cols], axis=-1)


def rig_positions(joints, rig: ArmRig):
    """Gather the rig's joints: ``(..., J, 3) -> (..., 4 or 6, 3)`` (NumPy or JAX)."""
    idx = np.asarray(rig.indices)
    return joints[..., idx, :]
