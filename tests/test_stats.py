"""``imusim_jax.stats`` against its oracles (allantools, SciPy, a plain NumPy MMD) and, where a statistic serves as a
loss, its gradient against central finite differences."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal
import scipy.stats

from imusim_jax import stats
from imusim_jax._errors import InputError

allantools = pytest.importorskip("allantools")


def _noise(n, c=None, seed=0):
    """White noise plus a random walk (rate samples): both slopes of an Allan curve."""
    rng = np.random.default_rng(seed)
    shape = (n,) if c is None else (n, c)
    return 0.02 * rng.standard_normal(shape) + np.cumsum(2e-4 * rng.standard_normal(shape), axis=0) + 0.3


def _fd_check(f, x, seed=0, eps=1e-6, rtol=1e-5):
    """The directional derivative of ``f`` at ``x`` along a random direction: ``jax.grad`` against a central
    difference (float64)."""
    d = np.random.default_rng(seed).standard_normal(np.shape(x))
    g = np.asarray(jax.jit(jax.grad(f))(jnp.asarray(x)))
    f = jax.jit(f)
    fd = (float(f(jnp.asarray(x + eps * d))) - float(f(jnp.asarray(x - eps * d)))) / (2 * eps)
    np.testing.assert_allclose(float(np.sum(g * d)), fd, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("n", [3, 10, 1000, 1023, 1024, 4097])
def test_allan_deviation_equals_allantools_oadev_at_octave_taus(n):
    fs = 100.0
    y = _noise(n, seed=n)
    t_ref, ad_ref, _, _ = allantools.oadev(y, rate=fs, data_type="freq", taus="octave")
    t, ad = stats.allan_deviation(y, fs)
    np.testing.assert_array_equal(t, t_ref)
    np.testing.assert_allclose(ad, ad_ref, rtol=1e-9)
    with jax.enable_x64(True):  # the JAX path, float64
        _, ad2 = stats.allan_deviation(jnp.asarray(y), fs)
        assert isinstance(ad2, jax.Array)
        np.testing.assert_allclose(np.asarray(ad2), ad_ref, rtol=1e-6)


def test_allan_deviation_per_channel_and_at_given_taus_equals_allantools():
    fs = 285.714
    y = _noise(5000, 3, seed=1)
    taus = np.array([0.0035, 0.01, 0.1, 0.35, 1.0, 3.0, 9.0, 100.0])  # rounded to samples; too long ones dropped
    t, ad = stats.allan_deviation(y, fs, taus)
    assert ad.shape == (len(t), 3)
    for c in range(3):
        t_ref, ad_ref, _, _ = allantools.oadev(y[:, c], rate=fs, data_type="freq", taus=taus)
        np.testing.assert_allclose(t, t_ref, rtol=1e-12)
        np.testing.assert_allclose(ad[:, c], ad_ref, rtol=1e-9)


def test_allan_deviation_jits_and_its_gradient_matches_finite_differences():
    with jax.enable_x64(True):
        y = _noise(300, 2, seed=2)
        f = jax.jit(lambda v: stats.allan_deviation(v, 50.0)[1])
        np.testing.assert_allclose(np.asarray(f(jnp.asarray(y))), stats.allan_deviation(y, 50.0)[1], rtol=1e-9)
        _fd_check(lambda v: jnp.sum(jnp.log(stats.allan_deviation(v, 50.0)[1])), y)


def test_allan_sums_of_segments_pool_to_the_estimate_of_their_differences():
    """Two records' sums added (each weighted by its count) equal the Allan variance of their second differences
    pooled, which is what a rest recording cut by motion gives."""
    fs, ms = 100.0, [1, 2, 4, 8]
    a, b = _noise(400, seed=3), _noise(250, seed=4)
    sa, ca = stats.allan_sums(a, fs, ms)
    sb, cb = stats.allan_sums(b, fs, ms)
    t = np.asarray(ms) / fs
    pooled = (sa + sb) / (2 * t ** 2 * (ca + cb))
    va = stats.allan_variance(a, fs, t)[1]
    vb = stats.allan_variance(b, fs, t)[1]
    np.testing.assert_allclose(pooled, (va * ca + vb * cb) / (ca + cb), rtol=1e-12)


def test_the_model_allan_variance_is_that_of_the_simulated_white_noise_and_random_walk():
    """Averaged over 200 records, the Allan variance of ``_noise``'s white noise (sigma = N sqrt(fs)) and random
    walk (steps K / sqrt(fs)) is the closed form N^2/tau + K^2 tau/3 within its sampling error."""
    from imusim_jax import _noise as N_

    fs, n, N, K = 100.0, 4000, 0.01, 0.004
    p = N_.SensorNoise.create(noise_density=N, random_walk=K)
    keys = jax.random.split(jax.random.key(0), 200)
    ys = jax.vmap(lambda k: N_.apply_sensor_noise(k, jnp.zeros((n, 3)), p, fs))(keys)
    ys = np.asarray(ys, np.float64)
    ms = stats.cluster_sizes(n, fs)[:-2]
    t = ms / fs
    avar = np.mean([stats.allan_variance(y, fs, t)[1] for y in ys], axis=0)  # (M, 3)
    model = stats.allan_variance_model(t, N, 0.0, K)
    edf = stats.allan_edf(n, ms) * 200 * 3
    np.testing.assert_array_less(np.abs(avar.mean(1) / model - 1), 4 * np.sqrt(2 / edf) + 0.01)
    # per channel, parameters broadcast over a channel axis
    m3 = stats.allan_variance_model(t, np.full(3, N), np.zeros(3), np.full(3, K))
    np.testing.assert_allclose(m3, np.repeat(model[:, None], 3, 1))
    # the flicker plateau: AVAR = 2 ln2 / pi B^2, the deviation's floor 0.664 B
    assert float(np.sqrt(stats.allan_variance_model(1.0, 0.0, 1.0, 0.0))) == pytest.approx(0.6643, abs=1e-4)


@pytest.mark.parametrize("kw", [dict(nperseg=256), dict(nperseg=100, window="hamming", detrend="linear"),
                                dict(nperseg=64, noverlap=0, scaling="spectrum"), dict(nperseg=127, noverlap=100),
                                dict(nperseg=5000, detrend=False)])
def test_welch_psd_equals_scipy(kw):
    fs = 50.0
    y = _noise(1500, 3, seed=5) + np.sin(2 * np.pi * 3.0 * np.arange(1500) / fs)[:, None]
    with warnings.catch_warnings():  # SciPy's own warning for nperseg > T (it then uses T, as welch_psd does)
        warnings.simplefilter("ignore", UserWarning)
        f_ref, p_ref = scipy.signal.welch(y, fs, axis=0, **{"window": "hann", **kw})
    with jax.enable_x64(True):
        f, p = stats.welch_psd(jnp.asarray(y), fs, **kw)
        np.testing.assert_allclose(f, f_ref, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(p), p_ref, rtol=1e-9, atol=1e-15 * np.abs(p_ref).max())
        _, p1 = stats.welch_psd(jnp.asarray(y[:, 0]), fs, **kw)
        np.testing.assert_allclose(np.asarray(p1), p_ref[:, 0], rtol=1e-9, atol=1e-15 * np.abs(p_ref).max())
        _fd_check(lambda v: jnp.sum(jnp.log(stats.welch_psd(v, fs, **kw)[1][1:])), y[:400], eps=1e-7, rtol=1e-4)


def _mmd_reference(X, Y, h, unbiased):
    def k(a, b):
        return sum(np.exp(-np.sum((a - b) ** 2) / (2 * hh ** 2)) for hh in np.atleast_1d(h))

    n, m = len(X), len(Y)
    kxx = [[k(X[i], X[j]) for j in range(n)] for i in range(n)]
    kyy = [[k(Y[i], Y[j]) for j in range(m)] for i in range(m)]
    kxy = np.mean([[k(X[i], Y[j]) for j in range(m)] for i in range(n)])
    if unbiased:
        sxx = (np.sum(kxx) - np.trace(kxx)) / (n * (n - 1))
        syy = (np.sum(kyy) - np.trace(kyy)) / (m * (m - 1))
    else:
        sxx, syy = np.mean(kxx), np.mean(kyy)
    return sxx + syy - 2 * kxy


def test_mmd_equals_a_plain_numpy_estimator_and_its_gradient_matches_finite_differences():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(20, 4)), rng.normal(0.5, 1.3, size=(15, 4))
    with jax.enable_x64(True):
        Z = np.concatenate([X, Y])
        d = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))[np.triu_indices(len(Z), 1)]
        h = float(stats.median_bandwidth(jnp.asarray(X), jnp.asarray(Y)))
        assert h == pytest.approx(np.median(d), rel=1e-9)
        for unbiased in (True, False):
            got = float(stats.mmd(jnp.asarray(X), jnp.asarray(Y), unbiased=unbiased))
            assert got == pytest.approx(_mmd_reference(X, Y, h, unbiased), rel=1e-9)
        got = float(stats.mmd(jnp.asarray(X), jnp.asarray(Y), [0.5, 2.0]))
        assert got == pytest.approx(_mmd_reference(X, Y, [0.5, 2.0], True), rel=1e-9)
        # a set against itself-like draws: near zero; against a shifted one: clearly above
        same = float(stats.mmd(jnp.asarray(rng.normal(size=(200, 2))), jnp.asarray(rng.normal(size=(200, 2)))))
        moved = float(stats.mmd(jnp.asarray(rng.normal(size=(200, 2))), jnp.asarray(rng.normal(1, 1, (200, 2)))))
        assert abs(same) < 0.02 < moved
        _fd_check(lambda v: stats.mmd(v, jnp.asarray(Y), 1.5), X)
        _fd_check(lambda v: stats.mmd(jnp.asarray(X), v), Y)  # median bandwidth held fixed: still smooth


def test_wasserstein_1d_equals_scipy_per_channel_and_its_gradient_matches_finite_differences():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(300, 3)), rng.gamma(2.0, 1.0, size=(170, 3))
    with jax.enable_x64(True):
        w = np.asarray(stats.wasserstein_1d(jnp.asarray(x), jnp.asarray(y)))
        ref = [scipy.stats.wasserstein_distance(x[:, c], y[:, c]) for c in range(3)]
        np.testing.assert_allclose(w, ref, rtol=1e-12)
        # equal sizes, ties, 1-D, a (n, T, C) set of windows pooled per channel
        a, b = np.round(rng.normal(size=50), 1), np.round(rng.normal(size=50), 1)
        assert float(stats.wasserstein_1d(jnp.asarray(a), jnp.asarray(b))) == \
            pytest.approx(scipy.stats.wasserstein_distance(a, b), rel=1e-12)
        W = rng.normal(size=(10, 20, 2))
        V = rng.normal(size=(7, 20, 2))
        np.testing.assert_allclose(np.asarray(stats.wasserstein_1d(jnp.asarray(W), jnp.asarray(V))),
                                   [scipy.stats.wasserstein_distance(W[..., c].ravel(), V[..., c].ravel())
                                    for c in range(2)], rtol=1e-12)
        _fd_check(lambda v: jnp.sum(stats.wasserstein_1d(v, jnp.asarray(y))), x)
    with pytest.raises(InputError):
        stats.wasserstein_1d(np.zeros((5, 2)), np.zeros((5, 3)))


def test_too_short_a_record_is_one_line_input_error():
    with pytest.raises(InputError, match="too few"):
        stats.allan_deviation(np.zeros(2), 100.0)
