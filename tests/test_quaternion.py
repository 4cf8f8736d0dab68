"""Quaternion identities (property-based, as jaxlie tests its groups), against scipy's Rotation as an oracle."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial.transform import Rotation

from imusim_jax import quaternion as Q

BATCH_SHAPES = [(), (1,), (5,), (3, 1, 2)]
finite = st.floats(-1.0, 1.0, allow_nan=False, width=64)


def random_quats(rng, shape):
    q = rng.normal(size=shape + (4,))
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def to_scipy(q):
    q = np.asarray(q, np.float64).reshape(-1, 4)
    return Rotation.from_quat(q[:, [1, 2, 3, 0]])


@pytest.mark.parametrize("shape", BATCH_SHAPES)
def test_conjugate_is_inverse(shape):
    q = jnp.asarray(random_quats(np.random.default_rng(0), shape))
    one = Q.multiply(q, Q.conjugate(q))
    np.testing.assert_allclose(one, np.broadcast_to([1, 0, 0, 0], shape + (4,)), atol=1e-6)


@pytest.mark.parametrize("shape", BATCH_SHAPES)
def test_rotate_matches_scipy_and_sandwich(shape):
    rng = np.random.default_rng(1)
    q = random_quats(rng, shape)
    v = rng.normal(size=shape + (3,))
    want = to_scipy(q).apply(v.reshape(-1, 3)).reshape(shape + (3,))
    np.testing.assert_allclose(Q.rotate(jnp.asarray(q), jnp.asarray(v)), want, atol=1e-5)
    # explicit Hamilton sandwich q ⊗ (0, v) ⊗ q*
    vq = jnp.concatenate([jnp.zeros(shape + (1,)), jnp.asarray(v)], -1)
    sand = Q.multiply(Q.multiply(jnp.asarray(q), vq), Q.conjugate(jnp.asarray(q)))[..., 1:]
    np.testing.assert_allclose(sand, want, atol=1e-5)
    np.testing.assert_allclose(Q.rotate_inverse(jnp.asarray(q), jnp.asarray(want)), v, atol=1e-5)


def test_hamilton_convention_ij_equals_k():
    i, j, k = (jnp.array(x, jnp.float32) for x in ([0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]))
    np.testing.assert_allclose(Q.multiply(i, j), k)
    # a rotation of +90° about z takes x to y (right-hand rule)
    qz = Q.from_axis_angle(jnp.array([0.0, 0, 1]), jnp.pi / 2)
    np.testing.assert_allclose(Q.rotate(qz, jnp.array([1.0, 0, 0])), [0, 1, 0], atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, (4,), elements=finite))
def test_matrix_roundtrip_up_to_sign(q):
    if np.linalg.norm(q) < 1e-3:
        return
    q = q / np.linalg.norm(q)
    R = Q.to_matrix(jnp.asarray(q))
    np.testing.assert_allclose(R, to_scipy(q).as_matrix()[0], atol=1e-5)
    q2 = np.asarray(Q.from_matrix(R))
    assert min(np.abs(q2 - q).max(), np.abs(q2 + q).max()) < 1e-4
    assert q2[0] >= 0


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, (3,), elements=st.floats(-3.0, 3.0, allow_nan=False)))
def test_exp_log_roundtrip(w):
    if np.linalg.norm(w) > np.pi - 1e-3:
        return
    q = Q.from_rotvec(jnp.asarray(w))
    np.testing.assert_allclose(q, to_scipy(np.asarray(q)).as_quat()[0][[3, 0, 1, 2]], atol=1e-6)
    np.testing.assert_allclose(Q.to_rotvec(q), w, atol=1e-4)
    np.testing.assert_allclose(to_scipy(np.asarray(q)).as_rotvec()[0], w, atol=1e-4)


def test_make_continuous_removes_sign_flips():
    rng = np.random.default_rng(2)
    w = np.cumsum(rng.normal(scale=0.05, size=(200, 3)), 0)
    q = np.asarray(jax.vmap(Q.from_rotvec)(jnp.asarray(w)))
    flipped = q * np.where(rng.random(200) < 0.5, -1, 1)[:, None]
    c = np.asarray(Q.make_continuous(jnp.asarray(flipped)))
    assert (np.sum(c[1:] * c[:-1], -1) > 0).all()
    assert np.allclose(np.abs(np.sum(c * q, -1)), 1, atol=1e-5)


def test_body_rate_matches_finite_difference():
    """omega_b = 2 Im(q* ⊗ dq/dt) equals the rotation vector of R_k^T R_k+1 over dt."""
    t = jnp.linspace(0, 2, 2001)
    w_true = jnp.stack([jnp.sin(t), 0.5 * jnp.cos(2 * t), 0.3 + 0 * t], -1)

    def q_of_t(tt):  # a smooth orientation: exp of a curved path
        return Q.from_rotvec(jnp.stack([jnp.sin(tt), 0.5 * jnp.sin(2 * tt) / 2, 0.3 * tt]))

    q, dq = jax.vmap(lambda tt: jax.jvp(q_of_t, (tt,), (1.0,)))(t)
    wb = Q.body_rate(q, dq)
    dt = float(t[1] - t[0])
    R = to_scipy(np.asarray(q)).as_matrix()
    fd = Rotation.from_matrix(np.einsum("tji,tjk->tik", R[:-1], R[1:])).as_rotvec() / dt
    mid = 0.5 * (np.asarray(wb)[1:] + np.asarray(wb)[:-1])
    np.testing.assert_allclose(mid, fd, atol=2e-3)
    # world rate is the body rate rotated into the world
    np.testing.assert_allclose(Q.world_rate(q, dq), Q.rotate(q, wb), atol=1e-5)
    del w_true


@pytest.mark.parametrize("fn", [Q.from_rotvec, lambda v: Q.to_rotvec(Q.from_rotvec(v))])
def test_gradients_finite_at_zero_rotation(fn):
    """Regression: sqrt/division at the zero rotation must not produce NaN in reverse mode."""
    g = jax.grad(lambda v: jnp.sum(fn(v)))(jnp.zeros(3))
    assert np.isfinite(np.asarray(g)).all()


def test_from_matrix_gradient_finite_at_180_degrees():
    R = jnp.diag(jnp.array([-1.0, -1.0, 1.0]))
    g = jax.grad(lambda M: jnp.sum(Q.from_matrix(M) ** 3))(R)
    assert np.isfinite(np.asarray(g)).all()


def test_float64_identities():
    with jax.enable_x64(True):
        q = jnp.asarray(random_quats(np.random.default_rng(3), (50,)), jnp.float64)
        assert Q.multiply(q, Q.conjugate(q)).dtype == jnp.float64
        np.testing.assert_allclose(Q.from_matrix(Q.to_matrix(q)) * jnp.sign(q[:, :1]), q, atol=1e-12)


def test_row_algebra_is_the_array_algebra():
    """imusim_jax._rows (the simulator's layout: one array per component) computes what the array functions do."""
    from imusim_jax import _rows as R

    rng = np.random.default_rng(7)
    p, q = (jnp.asarray(random_quats(rng, (50,))) for _ in range(2))
    a, b = (jnp.asarray(rng.normal(size=(50, 3))) for _ in range(2))
    rows = lambda x: tuple(x[..., i] for i in range(x.shape[-1]))  # noqa: E731
    back = lambda t: jnp.stack(t, -1)  # noqa: E731
    np.testing.assert_allclose(back(R.qmul(rows(p), rows(q))), Q.multiply(p, q), atol=1e-6)
    np.testing.assert_allclose(back(R.conj(rows(q))), Q.conjugate(q), atol=0)
    np.testing.assert_allclose(back(R.rotate(rows(q), rows(a))), Q.rotate(q, a), atol=1e-5)
    np.testing.assert_allclose(back(R.cross(rows(a), rows(b))), jnp.cross(a, b), atol=1e-6)
    np.testing.assert_allclose(R.dot(rows(a), rows(b)), jnp.sum(a * b, -1), atol=1e-6)
    np.testing.assert_allclose(R.norm(rows(a)), jnp.linalg.norm(a, axis=-1), rtol=1e-6)
    u = back(R.unit(rows(a)))
    np.testing.assert_allclose(jnp.linalg.norm(u, axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(jnp.sum(back(R.perp(rows(b), rows(u))) * u, -1), 0.0, atol=1e-6)
    grad = jax.grad(lambda v: R.norm(tuple(v)))(jnp.zeros(3))
    np.testing.assert_array_equal(grad, 0.0)  # finite (zero) at the zero vector, as safe_norm
