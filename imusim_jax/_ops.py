"""Small array operations that XLA's CPU backend runs slowly in their obvious form."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["cumsum_last", "continuity_signs", "atan2", "sincos", "sincos_turns"]

_BLOCK = 32


def cumsum_last(x: jnp.ndarray) -> jnp.ndarray:
    """Cumulative sum along the last axis, in blocks of 32: a triangular matrix product within each block plus
    the running block totals. Four times faster than ``jnp.cumsum`` on a CPU (XLA lowers it to a windowed
    reduction); the sums differ only by rounding."""
    n = x.shape[-1]
    L = _BLOCK
    nb = -(-n // L)
    xb = jnp.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, nb * L - n)]).reshape(x.shape[:-1] + (nb, L))
    # within[..., b, k] = sum of block b's first k + 1 (full float32 products: GPUs default to TF32 in matmuls)
    within = jnp.matmul(xb, jnp.triu(jnp.ones((L, L), x.dtype)), precision="highest")
    totals = within[..., -1]
    before = jnp.cumsum(totals, axis=-1) - totals
    return (within + before[..., None]).reshape(x.shape[:-1] + (nb * L,))[..., :n]


def continuity_signs(dots: jnp.ndarray) -> jnp.ndarray:
    """Signs ``(..., n + 1)`` that make a sequence sign-continuous, from the dot products ``(..., n)`` of its
    consecutive elements: the sign of element k is (-1)^(negative dots before it), the parity of a running
    count (a blocked cumulative sum, exact in floating point below 2^24 elements), not ``jnp.cumprod``, which
    XLA's CPU backend runs as a windowed reduction with quadratic cost."""
    count = cumsum_last((dots < 0).astype(dots.dtype))
    signs = 1.0 - 2.0 * (count - 2.0 * jnp.floor(0.5 * count))
    return jnp.concatenate([jnp.ones_like(signs[..., :1]), signs], axis=-1)


def atan2(y: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
    """``jnp.arctan2(y, x)``, vectorised: the arctangent of a ratio in ``[0, 1]`` (``_atan_unit``) placed in its
    octant. XLA's CPU backend does not vectorise ``atan2`` (16 ns an element on this project's Xeon; this takes
    about 1 ns). Equal to ``jnp.arctan2`` to float32 rounding (float64: ``jnp.arctan2`` itself), signed zeros
    included (``atan2(±0, -1) = ±pi``); differentiable away from ``(0, 0)`` with ``arctan2``'s gradient, finite
    there."""
    if y.dtype != jnp.float32 or x.dtype != jnp.float32:
        return jnp.arctan2(y, x)
    ax, ay = jnp.abs(x), jnp.abs(y)
    swap = ay > ax
    num, den = jnp.where(swap, ax, ay), jnp.where(swap, ay, ax)
    a = _atan_unit(num / jnp.where(den > 0, den, 1.0))  # [0, pi/4]
    a = jnp.where(swap, 0.5 * np.pi - a, a)  # [0, pi/2]: the angle of (|x|, |y|)
    a = jnp.where(jnp.signbit(x), np.pi - a, a)
    return jnp.where(jnp.signbit(y), -a, a)


# Cephes' single-precision arctangent (atanf.c; S. L. Moshier): a minimax polynomial on [-tan(pi/8), tan(pi/8)].
_ATAN_P = (8.05374449538e-2, -1.38776856032e-1, 1.99777106478e-1, -3.33329491539e-1)


def _atan_unit(t: jnp.ndarray) -> jnp.ndarray:
    """``arctan(t)`` for float32 ``t`` in ``[0, 1]``, to about 1e-7: above ``tan(pi/8)`` as ``pi/4`` plus the
    arctangent of ``(t - 1) / (t + 1)``. Written out rather than ``jnp.arctan``, which XLA's CPU backend
    miscompiles when asked for 512-bit vectors (``_simulate._WIDE_VECTORS``: wrong values or a segmentation
    fault, jax 0.10.2; ``tests/test_ops.py``)."""
    big = t > np.float32(np.tan(np.pi / 8))
    u = jnp.where(big, (t - 1.0) / (t + 1.0), t)
    z = u * u
    p = ((_ATAN_P[0] * z + _ATAN_P[1]) * z + _ATAN_P[2]) * z + _ATAN_P[3]
    return jnp.where(big, np.float32(np.pi / 4), 0.0) + u + u * z * p


# Cephes' single-precision minimax polynomials for sin and cos on [-pi/4, pi/4] (sinf.c, cosf.c; S. L. Moshier).
_SIN_P = (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1)
_COS_P = (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2)


def sincos_turns(u: jnp.ndarray):
    """``(cos(2 pi u), sin(2 pi u))`` for float32 ``u`` (any value; ``[0, 1)`` is one turn), to about 1e-7.

    Why not ``jnp.cos``/``jnp.sin``: XLA's CPU backend evaluates them with a general range reduction that does not
    vectorise, 4.4 ns each (0.5 ns here). In turns the range reduction is exact: the quadrant is ``floor(4 u)``,
    the rest is an angle ``x`` in ``[-pi/4, pi/4)`` about the quadrant's middle, where two short minimax
    polynomials (Cephes) are accurate to float32 rounding; the result is turned by the middle's angle,
    ``(q + 1/2) pi/2``.
    """
    t = 4.0 * u
    q = jnp.floor(t)
    x = (t - q - 0.5) * (0.5 * np.pi)
    z = x * x
    sin_x = x + x * z * ((_SIN_P[0] * z + _SIN_P[1]) * z + _SIN_P[2])
    cos_x = 1.0 - 0.5 * z + z * z * ((_COS_P[0] * z + _COS_P[1]) * z + _COS_P[2])
    h = np.float32(np.sqrt(0.5))
    c0, s0 = h * (cos_x - sin_x), h * (cos_x + sin_x)  # angle x + pi/4
    qi = q.astype(jnp.int32) & 3  # turn by q quarter turns: (c, s) -> (-s, c) each
    c = jnp.where(qi == 0, c0, jnp.where(qi == 1, -s0, jnp.where(qi == 2, -c0, s0)))
    s = jnp.where(qi == 0, s0, jnp.where(qi == 1, c0, jnp.where(qi == 2, -s0, -c0)))
    return c, s


def sincos(x: jnp.ndarray):
    """``(cos x, sin x)`` of an angle in radians: ``sincos_turns(x / 2 pi)`` in float32 (abs. error about
    ``1e-7 (1 + |x| / 2 pi)``: the angles it serves are a few turns at most), ``jnp.cos``/``jnp.sin`` in float64,
    where the polynomials would cost precision."""
    if x.dtype != jnp.float32:
        return jnp.cos(x), jnp.sin(x)
    return sincos_turns(x * np.float32(0.5 / np.pi))
