"""Vector and quaternion algebra on rows: a 3-vector is a tuple of three arrays, a quaternion a tuple of four
(``w, x, y, z``), all of one shape (a clip's time axis, a batch of clips and time, or scalars).

The simulator's inner stages are written this way, with time as the vectorised axis of every component, instead
of on ``(..., 3)`` arrays: XLA's CPU backend vectorises along the minor axis, and a stack of component rows built
inside ``vmap`` is written through a transposed layout, several times slower than separate rows. Same maths as
``imusim_jax._quaternion`` (Hamilton product, scalar first), whose functions on ``(..., 4)`` arrays are these on
the arrays' components: the algebra is written once, here."""
from __future__ import annotations

import jax.numpy as jnp

from imusim_jax._ops import continuity_signs

__all__ = ["sub", "dot", "cross", "norm", "unit", "perp", "qmul", "conj", "rotate", "continuous", "eps"]


def eps(x) -> float:
    """The smallest magnitude treated as non-zero, by dtype (the jaxlie pattern)."""
    return 1e-12 if x.dtype == jnp.float64 else 1e-6


def sub(a, b):
    return tuple(a[i] - b[i] for i in range(3))


def dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def norm(v):
    """Euclidean norm with a finite (zero) gradient at the zero vector (the double-where pattern)."""
    sq = dot(v, v)
    nonzero = sq > eps(sq) ** 2
    return jnp.where(nonzero, jnp.sqrt(jnp.where(nonzero, sq, 1.0)), 0.0)


def unit(v):
    n = norm(v)
    inv = 1.0 / jnp.where(n > 0, n, 1.0)
    return tuple(c * inv for c in v)


def perp(v, x):
    """Component of ``v`` perpendicular to the unit vector ``x``."""
    d = dot(v, x)
    return tuple(v[i] - d * x[i] for i in range(3))


def qmul(p, q):
    pw, px, py, pz = p
    qw, qx, qy, qz = q
    return (pw * qw - px * qx - py * qy - pz * qz, pw * qx + px * qw + py * qz - pz * qy,
            pw * qy - px * qz + py * qw + pz * qx, pw * qz + px * qy - py * qx + pz * qw)


def conj(q):
    return (q[0], -q[1], -q[2], -q[3])


def rotate(q, v):
    """``q ⊗ v ⊗ q*`` for unit ``q``, expanded as ``v + 2 w (u × v) + 2 u × (u × v)`` with ``q = (w, u)``:
    element-wise arithmetic that vectorises well (no 3x3 matrices)."""
    w, u = q[0], q[1:]
    t = tuple(2.0 * c for c in cross(u, v))
    c = cross(u, t)
    return tuple(v[i] + w * t[i] + c[i] for i in range(3))


def continuous(q):
    """Signs flipped along the last axis (time) of each component so consecutive quaternions have a non-negative
    dot product: ``q`` and ``-q`` are one rotation, and sign jumps break interpolation and differences."""
    signs = continuity_signs(sum(c[..., 1:] * c[..., :-1] for c in q))
    return tuple(c * signs for c in q)
