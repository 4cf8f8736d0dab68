"""Unit quaternions: the one place that states the convention.

Convention (used everywhere in imusim_jax):
  * scalar first, ``q = (w, x, y, z)``, shape ``(..., 4)``; leading axes broadcast;
  * Hamilton product (``i*j = k``), as in Eigen, jaxlie, scipy's ``Rotation`` (which stores x, y, z, w);
  * ``q_ab`` rotates vectors from frame ``b`` into frame ``a``: ``v_a = q_ab ⊗ v_b ⊗ q_ab*`` (``rotate``), and
    ``v_b = q_ab* ⊗ v_a ⊗ q_ab`` (``rotate_inverse``, the sandwich a sensor reading uses);
  * composition: ``q_ac = q_ab ⊗ q_bc``;
  * body angular velocity: ``omega_b = 2 Im(q_ab* ⊗ dq_ab/dt)`` in rad/s; world angular velocity
    ``omega_a = 2 Im(dq_ab/dt ⊗ q_ab*)``.

Gradient safety: every square root and division that can meet zero goes through a "double where" (the jaxlie
pattern) so reverse-mode AD never produces NaN, with epsilons chosen by dtype.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from imusim_jax import _rows as R
from imusim_jax._rows import eps as _eps
from imusim_jax._typing import Array, Mat3, Quat, Vec3

__all__ = [
    "identity", "multiply", "conjugate", "normalize", "rotate", "rotate_inverse", "to_matrix", "from_matrix",
    "from_rotvec", "to_rotvec", "from_axis_angle", "make_continuous", "body_rate", "world_rate", "angle_between",
    "safe_norm",
]


def _rows(x: Array) -> tuple:
    """The components of ``(..., n)`` as a tuple of ``(...)`` arrays (the algebra in ``_rows`` works on them)."""
    return tuple(jnp.moveaxis(x, -1, 0))


def safe_norm(v: Array, axis: int = -1, keepdims: bool = False) -> Array:
    """Euclidean norm whose gradient is finite (zero) at the zero vector."""
    sq = jnp.sum(v * v, axis=axis, keepdims=keepdims)
    nonzero = sq > _eps(v) ** 2
    return jnp.where(nonzero, jnp.sqrt(jnp.where(nonzero, sq, 1.0)), 0.0)


def identity(shape: tuple[int, ...] = (), dtype=jnp.float32) -> Quat:
    """The identity rotation ``(1, 0, 0, 0)`` broadcast to ``shape + (4,)``."""
    return jnp.broadcast_to(jnp.array([1.0, 0.0, 0.0, 0.0], dtype), tuple(shape) + (4,))


def multiply(p: Quat, q: Quat) -> Quat:
    """Hamilton product ``p ⊗ q`` (apply ``q`` first, then ``p``)."""
    return jnp.stack(R.qmul(_rows(p), _rows(q)), axis=-1)


def conjugate(q: Quat) -> Quat:
    """``q* = (w, -x, -y, -z)``: the inverse of a unit quaternion."""
    return jnp.concatenate([q[..., :1], -q[..., 1:]], axis=-1)


def normalize(q: Quat) -> Quat:
    """Scale to unit norm; the zero quaternion maps to the identity (gradient-safe)."""
    n = safe_norm(q, keepdims=True)
    ok = n > _eps(q)
    return jnp.where(ok, q / jnp.where(ok, n, 1.0), identity(q.shape[:-1], q.dtype))


def rotate(q_ab: Quat, v_b: Vec3) -> Vec3:
    """``v_a = q_ab ⊗ v_b ⊗ q_ab*`` for unit ``q`` (``_rows.rotate``); leading axes broadcast."""
    shape = jnp.broadcast_shapes(q_ab.shape[:-1], v_b.shape[:-1])
    q_ab, v_b = jnp.broadcast_to(q_ab, shape + (4,)), jnp.broadcast_to(v_b, shape + (3,))
    return jnp.stack(R.rotate(_rows(q_ab), _rows(v_b)), axis=-1)


def rotate_inverse(q_ab: Quat, v_a: Vec3) -> Vec3:
    """``v_b = q_ab* ⊗ v_a ⊗ q_ab``: express a frame-``a`` vector in frame ``b``."""
    return rotate(conjugate(q_ab), v_a)


def to_matrix(q: Quat) -> Mat3:
    """Rotation matrix ``R`` with ``R v = q ⊗ v ⊗ q*`` for unit ``q``; shape ``(..., 3, 3)``."""
    w, x, y, z = jnp.moveaxis(q, -1, 0)
    return jnp.stack([
        jnp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        jnp.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        jnp.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def from_matrix(R: Mat3) -> Quat:
    """Unit quaternion (w >= 0) of a rotation matrix, shape ``(..., 3, 3) -> (..., 4)``.

    Bar-Itzhack's symmetric matrix ``K`` of a rotation has ``K[:, i] = 4 q_i q``, so the column with the largest
    diagonal entry (Shepperd's best-conditioned pivot) normalised is ``±q``: no division by a small number, finite
    gradients everywhere, and a small graph (it compiles fast under ``jit``).
    """
    q = from_matrix_elements(*(R[..., i, j] for i in range(3) for j in range(3)))
    return jnp.stack(q, -1)


def from_matrix_elements(m00, m01, m02, m10, m11, m12, m20, m21, m22):
    """``from_matrix`` on the nine elements given as separate arrays of any (common) shape; returns the four
    components ``(w, x, y, z)`` as a tuple of arrays of that shape. Element-wise throughout, so a whole clip's
    rotations vectorise along time."""
    K = (  # K[i] is column i of the symmetric K
        (1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01),
        (m21 - m12, 1 + m00 - m11 - m22, m10 + m01, m02 + m20),
        (m02 - m20, m10 + m01, 1 - m00 + m11 - m22, m21 + m12),
        (m10 - m01, m02 + m20, m21 + m12, 1 - m00 - m11 + m22),
    )
    diag = jax.lax.stop_gradient(jnp.stack([K[i][i] for i in range(4)]))
    best = jnp.argmax(diag, 0)
    q = tuple(jnp.where(best == 0, K[0][c], jnp.where(best == 1, K[1][c], jnp.where(best == 2, K[2][c], K[3][c])))
              for c in range(4))
    sign = jnp.where(q[0] < 0, -1.0, 1.0).astype(q[0].dtype)
    n = jnp.sqrt(sum(c * c for c in q))
    inv = sign / jnp.where(n > 0, n, 1.0)
    return tuple(c * inv for c in q)


def from_rotvec(rotvec: Vec3) -> Quat:
    """Exponential map: rotation vector (axis * angle, rad) to unit quaternion, Taylor branch near zero."""
    theta_sq = jnp.sum(rotvec * rotvec, axis=-1, keepdims=True)
    small = theta_sq < _eps(rotvec)
    safe_sq = jnp.where(small, 1.0, theta_sq)
    theta = jnp.sqrt(safe_sq)
    half = 0.5 * theta
    w = jnp.where(small, 1.0 - theta_sq / 8.0, jnp.cos(half))
    k = jnp.where(small, 0.5 - theta_sq / 48.0, jnp.sin(half) / theta)
    return jnp.concatenate([w, k * rotvec], axis=-1)


def to_rotvec(q: Quat) -> Vec3:
    """Logarithm map: unit quaternion to rotation vector (rad), the short way round (angle in [0, pi])."""
    q = q * jnp.where(q[..., :1] < 0, -1.0, 1.0)
    w, v = q[..., :1], q[..., 1:]
    n_sq = jnp.sum(v * v, axis=-1, keepdims=True)
    small = n_sq < _eps(q) ** 2
    n = jnp.sqrt(jnp.where(small, 1.0, n_sq))
    k = jnp.where(small, 2.0 / jnp.clip(w, 0.5, None) - 2.0 * n_sq / (3.0 * jnp.clip(w, 0.5, None) ** 3),
                  2.0 * jnp.arctan2(n, w) / n)
    return k * v


def from_axis_angle(axis: Vec3, angle_rad: Array) -> Quat:
    """Rotation of ``angle_rad`` (right-hand rule) about ``axis`` (normalised here)."""
    axis = jnp.asarray(axis)
    n = safe_norm(axis, keepdims=True)
    axis = axis / jnp.where(n > 0, n, 1.0)
    half = 0.5 * jnp.asarray(angle_rad, axis.dtype)[..., None]
    shape = jnp.broadcast_shapes(axis.shape[:-1], half.shape[:-1])
    axis, half = jnp.broadcast_to(axis, shape + (3,)), jnp.broadcast_to(half, shape + (1,))
    return jnp.concatenate([jnp.cos(half), jnp.sin(half) * axis], axis=-1)


def make_continuous(q: Quat, axis: int = -2) -> Quat:
    """Flip signs along ``axis`` (time) so consecutive quaternions have a non-negative dot product.

    ``q`` and ``-q`` are the same rotation; sign jumps break interpolation and finite differences.
    """
    q = jnp.moveaxis(q, axis, -2)
    return jnp.moveaxis(jnp.stack(R.continuous(_rows(q)), axis=-1), -2, axis)


def body_rate(q_ab: Quat, qdot_ab: Quat) -> Vec3:
    """Angular velocity in the rotating frame ``b``: ``omega_b = 2 Im(q_ab* ⊗ dq_ab/dt)`` (rad/s).

    Invariant to the sign of ``q`` (``q`` and ``dq/dt`` flip together).
    """
    return 2.0 * multiply(conjugate(q_ab), qdot_ab)[..., 1:]


def world_rate(q_ab: Quat, qdot_ab: Quat) -> Vec3:
    """Angular velocity in the fixed frame ``a``: ``omega_a = 2 Im(dq_ab/dt ⊗ q_ab*)`` (rad/s)."""
    return 2.0 * multiply(qdot_ab, conjugate(q_ab))[..., 1:]


def angle_between(p: Quat, q: Quat) -> Array:
    """Rotation angle (rad, in [0, pi]) of ``p* ⊗ q``; insensitive to the sign of either quaternion."""
    d = jnp.abs(jnp.sum(p * q, axis=-1))
    return 2.0 * jnp.arccos(jnp.clip(d, 0.0, 1.0))

