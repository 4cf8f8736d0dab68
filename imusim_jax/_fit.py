"""Fitting by gradient descent: constrained parameters, an optax loop that knows when it has converged, and
uncertainties from the curvature of the loss.

Every calibration mode (``imusim_jax.calibrate``) writes its loss as a function of named, physically meaningful
parameters (a pytree: a density in u/sqrt(Hz), a rotation as a quaternion, a time offset in s) and declares each
one's ``Constraint``; ``minimize`` optimises the unconstrained values behind them with optax, so a density stays
positive, an offset inside its bounds and a quaternion on the unit sphere, without projection steps.

Uncertainty (``curvature_stderr``): near the minimum of a least-squares loss ``L(theta) = sum_i r_i^2 / N`` with
residuals of variance ``sigma^2 ~ L``, the estimate's covariance is ``2 L / N H^-1`` (``H`` the Hessian of ``L``
in the constrained parameters: the Laplace / Gauss-Newton approximation). A caller whose residuals are correlated
(neighbouring Allan deviations, consecutive samples) passes the number of independent residuals as ``N``.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Constraint", "identity", "positive", "bounded", "unit_quaternion", "FitResult", "minimize",
           "curvature_stderr", "constrain", "unconstrain"]


@dataclasses.dataclass(frozen=True)
class Constraint:
    """A map from an unconstrained value to a parameter's domain (``forward``) and back (``inverse``)."""

    forward: Callable
    inverse: Callable
    name: str


identity = Constraint(lambda u: u, lambda x: x, "real")


def _softplus_inv(y):
    y = jnp.asarray(y)
    return y + jnp.log(-jnp.expm1(-y))


positive = Constraint(jax.nn.softplus, _softplus_inv, "positive")
"""Values above zero (softplus): densities, standard deviations, scales."""


def bounded(lo: float, hi: float) -> Constraint:
    """Values in ``(lo, hi)`` (a scaled sigmoid): a time offset within a search window, a lever arm within a
    wrist's reach."""

    def forward(u):
        return lo + (hi - lo) * jax.nn.sigmoid(u)

    def inverse(x):
        p = jnp.clip((jnp.asarray(x) - lo) / (hi - lo), 1e-6, 1 - 1e-6)
        return jnp.log(p) - jnp.log1p(-p)

    return Constraint(forward, inverse, f"bounded({lo:g}, {hi:g})")


unit_quaternion = Constraint(lambda u: u / jnp.linalg.norm(u, axis=-1, keepdims=True),
                             lambda q: jnp.asarray(q) / jnp.linalg.norm(q, axis=-1, keepdims=True), "unit quaternion")
"""A rotation (scalar-first quaternion) by normalisation: the optimiser moves a free 4-vector."""


def _is_constraint(x) -> bool:
    return isinstance(x, Constraint)


def constrain(constraints, u):
    """The parameters of unconstrained values ``u`` (``constraints`` a pytree of ``Constraint`` matching ``u``)."""
    return jax.tree.map(lambda c, x: c.forward(x), constraints, u, is_leaf=_is_constraint)


def unconstrain(constraints, params):
    """The unconstrained values of ``params``."""
    return jax.tree.map(lambda c, x: c.inverse(x), constraints, params, is_leaf=_is_constraint)


@dataclasses.dataclass
class FitResult:
    """What ``minimize`` found.

    Attributes:
      params: the fitted parameters (constrained, the caller's pytree).
      loss: the loss there.
      steps: optimiser steps taken.
      converged: whether the loss stopped improving (relative ``tol`` over ``patience`` steps) before
        ``max_steps``.
      history: the loss after every step, ``(steps,)``.
    """

    params: object
    loss: float
    steps: int
    converged: bool
    history: np.ndarray


def minimize(loss: Callable, params0, constraints, *, learning_rate: float = 0.05, max_steps: int = 2000,
             tol: float = 1e-6, patience: int = 100, chunk: int = 50, optimizer=None,
             progress: Optional[Callable[[int, float], None]] = None) -> FitResult:
    """Minimise ``loss(params)`` over ``params`` (a pytree, starting at ``params0``) within ``constraints``.

    The unconstrained values are optimised with ``optimizer`` (default ``optax.adam(learning_rate)``), ``chunk``
    steps per compiled call (one ``lax.scan``); the best parameters seen are kept. It stops when the best loss
    has not improved by a relative ``tol`` for ``patience`` steps (converged), or after ``max_steps``.
    ``progress(step, loss)`` is called after every chunk (a progress bar's update).
    """
    import optax

    opt = optimizer if optimizer is not None else optax.adam(learning_rate)
    u0 = unconstrain(constraints, params0)
    value_and_grad = jax.value_and_grad(lambda u: loss(constrain(constraints, u)))

    @jax.jit
    def run(u, state):
        def step(carry, _):
            u, state = carry
            value, g = value_and_grad(u)
            g = jax.tree.map(lambda x: jnp.where(jnp.isfinite(x), x, 0.0), g)
            updates, state = opt.update(g, state, u)
            return (optax.apply_updates(u, updates), state), (value, u)

        (u, state), (values, us) = jax.lax.scan(step, (u, state), None, length=chunk)
        best = jnp.argmin(jnp.where(jnp.isfinite(values), values, jnp.inf))
        return u, state, values, jax.tree.map(lambda a: a[best], us), values[best]

    u, state = u0, opt.init(u0)
    best_u, best = u0, np.inf
    since, history = 0, []
    converged = False
    while len(history) < max_steps:
        u, state, values, chunk_u, chunk_best = run(u, state)
        values = np.asarray(values, np.float64)
        history.extend(values.tolist())
        improved = float(chunk_best) < best - tol * abs(best) if np.isfinite(best) else np.isfinite(float(chunk_best))
        if improved:  # a relative improvement, whatever the loss's sign (an unbiased MMD^2 goes below 0)
            best_u, best, since = chunk_u, float(chunk_best), 0
        else:
            since += chunk
        if progress is not None:
            progress(len(history), best)
        if since >= patience:
            converged = bool(np.isfinite(best))  # a loss never finite has not converged: it has failed
            break
    # the best loss is the scan's own value at ``best_u`` (computed compiled); evaluating ``loss`` again here would
    # run it op by op, which for a simulator costs more than the fit (a compile per primitive)
    final = best if np.isfinite(best) else float(jax.jit(lambda u: loss(constrain(constraints, u)))(best_u))
    return FitResult(constrain(constraints, best_u), final, len(history), converged, np.asarray(history))


def curvature_stderr(loss: Callable, params, n_residuals: float):
    """Standard errors of ``params`` at a minimum of the least-squares ``loss`` (the module docstring): the square
    roots of the diagonal of ``2 L / n_residuals H^+`` (``H^+`` the pseudo-inverse of the Hessian in the
    flattened parameters, so a direction the loss does not see, such as a quaternion's norm, gets none). Returns a
    pytree like ``params``."""
    from jax.flatten_util import ravel_pytree

    flat, unravel = ravel_pytree(params)
    f = lambda x: loss(unravel(x))  # noqa: E731
    H = np.asarray(jax.hessian(f)(flat), np.float64)
    L = float(f(flat))
    cov = 2.0 * L / float(n_residuals) * np.linalg.pinv(0.5 * (H + H.T), rcond=1e-10)
    return unravel(jnp.asarray(np.sqrt(np.clip(np.diag(cov), 0.0, None)), flat.dtype))
