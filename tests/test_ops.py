"""The fast element-wise operations of ``imusim_jax._ops`` against NumPy (values, signs, gradients)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imusim_jax import _ops


def test_atan2_equals_numpys_in_every_octant_and_on_the_axes():
    rng = np.random.default_rng(0)
    y = rng.normal(size=20000).astype(np.float32) * 10.0 ** rng.uniform(-6, 3, 20000).astype(np.float32)
    x = rng.normal(size=20000).astype(np.float32) * 10.0 ** rng.uniform(-6, 3, 20000).astype(np.float32)
    # the axes, signed zeros and the diagonals, where the octant switches
    special = np.array([0.0, -0.0, 1.0, -1.0, 2.5, -2.5], np.float32)
    ys, xs = np.meshgrid(special, special)
    y, x = np.concatenate([y, ys.ravel()]), np.concatenate([x, xs.ravel()])
    got = np.asarray(_ops.atan2(jnp.asarray(y), jnp.asarray(x)), np.float64)
    want = np.arctan2(y.astype(np.float64), x.astype(np.float64))
    assert np.abs(got - want).max() < 5e-7
    assert np.array_equal(np.signbit(got), np.signbit(want))  # atan2(-0, -1) = -pi, atan2(-0, 1) = -0


def test_atan2_gradient_is_arctan2s():
    pts = jnp.array([[0.3, 1.2], [-0.7, 0.2], [-0.5, -2.0], [1e-3, -4.0], [2.0, 2.0], [-1.0, 1.0]])
    for dtype in (jnp.float32,):
        for y, x in pts.astype(dtype):
            g = jax.grad(_ops.atan2, argnums=(0, 1))(y, x)
            want = jax.grad(jnp.arctan2, argnums=(0, 1))(y, x)
            np.testing.assert_allclose(np.array(g), np.array(want), rtol=1e-5)
    g0 = jax.grad(_ops.atan2, argnums=(0, 1))(0.0, 0.0)
    assert np.all(np.isfinite(np.array(g0)))


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_sincos_matches_numpy_in_float32(scale):
    x = np.linspace(-scale * np.pi, scale * np.pi, 100001).astype(np.float32)
    c, s = (np.asarray(a, np.float64) for a in _ops.sincos(jnp.asarray(x)))
    tol = 3e-7 * (1 + scale)
    assert np.abs(c - np.cos(x.astype(np.float64))).max() < tol
    assert np.abs(s - np.sin(x.astype(np.float64))).max() < tol
    # its derivative is the derivative of cos and sin
    dc = jax.vmap(jax.grad(lambda t: _ops.sincos(t)[0]))(jnp.asarray(x[::1000]))
    np.testing.assert_allclose(np.asarray(dc), -np.sin(x[::1000]), atol=2e-6 * scale)


def test_sincos_is_jnps_in_float64():
    with jax.enable_x64(True):
        x = jnp.linspace(-30.0, 30.0, 1001, dtype=jnp.float64)
        c, s = _ops.sincos(x)
        assert c.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(c), np.cos(np.asarray(x)), atol=1e-15)
        np.testing.assert_allclose(np.asarray(s), np.sin(np.asarray(x)), atol=1e-15)


def test_atan2_and_sincos_compiled_for_512_bit_vectors_equal_the_plain_compilation():
    """The simulator's top-level calls ask XLA's CPU backend for 512-bit vectors (``_simulate._WIDE_VECTORS``),
    which miscompiles ``jnp.arctan`` (wrong values, or a segmentation fault, for some lengths): the operations
    written here must not depend on it. Every length up to 70 (the vector loops' remainders) and a few longer."""
    from imusim_jax import _simulate

    if jax.default_backend() != "cpu" or not _simulate._wide_vectors():
        pytest.skip("CPU with jit compiler options only")
    rng = np.random.default_rng(1)
    fns = {"atan2": lambda y, x: _ops.atan2(y, x), "sincos": lambda y, x: _ops.sincos(3.0 * y)}
    for name, f in fns.items():
        wide = jax.jit(f, compiler_options=_simulate._WIDE_VECTORS)
        plain = jax.jit(f)
        for n in list(range(1, 71)) + [127, 129, 513]:
            y, x = (jnp.asarray(rng.normal(size=n).astype(np.float32)) for _ in range(2))
            y = y.at[: n // 3].set(0.0)  # the rest pose's exact zeros too
            for a, b in zip(jax.tree.leaves(wide(y, x)), jax.tree.leaves(plain(y, x))):
                np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7, err_msg=f"{name} {n}")


def test_atan2_in_float64_is_jnps():
    with jax.enable_x64(True):
        y = jnp.linspace(-3.0, 3.0, 101, dtype=jnp.float64)
        x = jnp.cos(jnp.linspace(0.0, 7.0, 101, dtype=jnp.float64))
        got = _ops.atan2(y, x)
        assert got.dtype == jnp.float64
        np.testing.assert_allclose(np.asarray(got), np.arctan2(np.asarray(y), np.asarray(x)), rtol=1e-15, atol=1e-15)
