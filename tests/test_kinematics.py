"""Filtering, edge extension and spline differentiation against SciPy and closed forms."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.interpolate
import scipy.signal

from imusim_jax import _kinematics as K


@pytest.mark.parametrize("order,cutoff,fps", [(2, 6.0, 30.0), (4, 3.0, 100.0), (2, 20.0, 143.0)])
def test_filtfilt_matches_scipy(order, cutoff, fps):
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(size=(120, 3)), 0)
    coeffs = K.design_lowpass(cutoff, fps, order)
    pad, W = 15, 8
    with jax.enable_x64(True):
        xe = K.extend_edges(jnp.asarray(x), jnp.asarray(120), pad, W)
        y = K.filtfilt_extended(K.FilterCoeffs(jnp.asarray(coeffs.sos), jnp.asarray(coeffs.zi)), xe,
                                jnp.asarray(120), pad)
        want = scipy.signal.sosfiltfilt(coeffs.sos, np.asarray(xe), axis=0, padlen=0)
        np.testing.assert_allclose(np.asarray(y)[: 120 + 2 * pad], want, rtol=1e-9, atol=1e-9)


def test_no_filter_is_identity():
    c = K.design_lowpass(None, 30.0)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(50, 2)))
    np.testing.assert_allclose(K.sosfilt(K.FilterCoeffs(jnp.asarray(c.sos), jnp.asarray(c.zi)), x), x, atol=1e-6)


@pytest.mark.parametrize("window", [4, 7])
def test_edge_extension_continues_any_cubic_exactly(window):
    """Odd reflection plus the edge's own acceleration: constant acceleration (free fall) and constant jerk
    are kept across both edges, and a longer clip's padding rows hold the last extrapolated value."""
    t = np.arange(40.0)
    cubic = lambda t: 0.5 * 0.3 * t ** 2 - 2 * t + 1 + 0.01 * (t - 15) ** 3  # noqa: E731
    x = np.stack([cubic(t), 3 - 0.1 * t], -1)
    padded = np.concatenate([x, np.full((7, 2), 1e3)])
    with jax.enable_x64(True):
        xe = np.asarray(K.extend_edges(jnp.asarray(padded), jnp.asarray(40), 10, window))
    tt = np.arange(-10, 50.0)
    want = np.stack([cubic(tt), 3 - 0.1 * tt], -1)
    np.testing.assert_allclose(xe[:60], want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(xe[60:], np.tile(want[-1], (7, 1)), rtol=1e-9)


def test_edge_curvature_weights_are_savitzky_golay_end_points():
    """The edge estimator's weights: exact second derivative at frame 0 of any cubic sampled on 4..40 frames,
    and SciPy's Savitzky-Golay end-point fit (polyorder 3) on a noisy signal."""
    W = K._edge_curvature_weights(40)
    rng = np.random.default_rng(4)
    for w in range(4, 41):
        c = rng.normal(size=4)
        x = np.polyval(c[::-1], np.arange(w, dtype=float))
        np.testing.assert_allclose(W[w, :w] @ x, 2 * c[2], rtol=1e-8, atol=1e-8)
        assert not W[w, w:].any()
    y = rng.normal(size=11)
    sg = scipy.signal.savgol_filter(y, 11, 3, deriv=2, mode="interp")[0]
    np.testing.assert_allclose(W[11, :11] @ y, sg, rtol=1e-9)


def test_quintic_edge_weights_are_savitzky_golay_end_points():
    """The low-bias edge estimator (degree 5): exact on any quintic over 6..40 frames, SciPy's polyorder-5 fit."""
    W = K._edge_curvature_weights(40, 5)
    rng = np.random.default_rng(7)
    for w in range(6, 41):
        c = rng.normal(size=6)
        x = np.polyval(c[::-1], np.arange(w, dtype=float))
        np.testing.assert_allclose(W[w, :w] @ x, 2 * c[2], rtol=1e-7, atol=1e-7)
    y = rng.normal(size=13)
    sg = scipy.signal.savgol_filter(y, 13, 5, deriv=2, mode="interp")[0]
    np.testing.assert_allclose(W[13, :13] @ y, sg, rtol=1e-9)


def test_edge_acceleration_takes_the_quintic_on_clean_motion_and_the_cubic_on_noisy_motion():
    """A clean 2 Hz sinusoid at 30 fps: the edge estimate is the quintic's (the cubic's is 10x further off the
    analytic value); with 2 mm of white noise it is exactly the cubic's at both edges."""
    fps, n, w = 30.0, 16, 6
    t = np.arange(120) / fps
    om = 2 * np.pi * 2.0
    x = np.stack([0.05 * np.sin(om * t + 0.3), 0.02 * np.cos(om * t), 0.3 + 0 * t], -1)
    want = -om ** 2 * x[[0, -1], :2] / fps ** 2  # per frame squared
    W3, W5 = K._edge_curvature_weights(n)[w], K._edge_curvature_weights(n, 5)[w]
    with jax.enable_x64(True):
        left, right = (np.asarray(a) for a in K.edge_acceleration(jnp.asarray(x), jnp.asarray(120), n, jnp.asarray(w)))
        np.testing.assert_allclose(left, W5 @ x[:n], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(right, W5 @ x[::-1][:n], rtol=1e-9, atol=1e-12)
        for got, edge in ((left, 0), (right, 1)):
            err5 = np.abs(got[:2] - want[edge]).max()
            err3 = np.abs((W3 @ (x[:n] if edge == 0 else x[::-1][:n]))[:2] - want[edge]).max()
            assert err5 < 0.1 * err3
        noisy = x + np.random.default_rng(0).normal(0, 0.002, x.shape)
        left, right = K.edge_acceleration(jnp.asarray(noisy), jnp.asarray(120), n, jnp.asarray(w))
        np.testing.assert_allclose(np.asarray(left), W3 @ noisy[:n], rtol=1e-12)
        np.testing.assert_allclose(np.asarray(right), W3 @ noisy[::-1][:n], rtol=1e-12)


def test_edge_extension_respects_each_clips_length():
    """A clip padded with garbage extends exactly as the clip alone does."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 3))
    padded = np.concatenate([x, 1e3 * rng.normal(size=(20, 3))])
    a = K.extend_edges(jnp.asarray(x), jnp.asarray(30), 12, 6)
    b = K.extend_edges(jnp.asarray(padded), jnp.asarray(30), 12, 6)
    np.testing.assert_allclose(a[: 30 + 24], b[: 30 + 24], atol=1e-4)


def test_spline_matches_scipy_natural_cubic():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(25, 2))
    with jax.enable_x64(True):
        c = K.fit_spline(jnp.asarray(y))
        u = jnp.linspace(0, 24, 301)
        f = functools.partial(K.eval_spline, c)
        v = jax.vmap(f)(u)
        d1 = jax.vmap(lambda uu: jax.jvp(f, (uu,), (1.0,))[1])(u)
        d2 = jax.vmap(lambda uu: K._derivs(c, uu)[2])(u)
    ref = scipy.interpolate.CubicSpline(np.arange(25.0), y, bc_type="natural")
    np.testing.assert_allclose(v, ref(np.asarray(u)), atol=1e-10)
    np.testing.assert_allclose(d1, ref(np.asarray(u), 1), atol=1e-9)
    np.testing.assert_allclose(d2, ref(np.asarray(u), 2), atol=1e-8)


def test_batched_filter_is_each_clips_own_filter():
    """filtfilt_batch (the simulator's) filters every clip of a batch with its own filter, length and extension
    exactly as filtfilt_extended filters it alone, and that is SciPy's sosfiltfilt of the extended clip."""
    rng = np.random.default_rng(5)
    B, T, C, pad = 5, 90, 3, 40
    specs = [(2, 6.0, 30.0), (4, 3.0, 100.0), (2, 20.0, 143.0), (2, None, 50.0), (2, 8.0, 60.0)]
    designs = [K.design_lowpass(c, f, o, sections=2) for o, c, f in specs]
    lengths = np.array([90, 61, 75, 40, 88])
    pads = np.array([min(K.pad_length(d), pad) for d in designs])
    windows = np.array([K.edge_window(c, f) for _, c, f in specs])
    with jax.enable_x64(True):
        x = np.cumsum(rng.normal(size=(B, T, C)), axis=1)
        ext = np.stack([np.asarray(K.extend_edges(jnp.asarray(x[b]), jnp.asarray(lengths[b]), pad, 16,
                                                  jnp.asarray(pads[b]), jnp.asarray(min(windows[b], 16))))
                        for b in range(B)])
        sos = jnp.asarray(np.stack([d.sos for d in designs]))
        zi = jnp.asarray(np.stack([d.zi for d in designs]))
        got = np.asarray(K.filtfilt_batch(K.FilterCoeffs(sos, zi), jnp.asarray(ext), jnp.asarray(lengths), pad,
                                          jnp.asarray(pads)))
        for b in range(B):
            lo, hi = pad - pads[b], pad + lengths[b] + pads[b]  # the clip with its own extension
            alone = np.asarray(K.filtfilt_extended(K.FilterCoeffs(sos[b], zi[b]), jnp.asarray(ext[b]),
                                                   jnp.asarray(lengths[b]), pad, jnp.asarray(pads[b])))
            np.testing.assert_allclose(got[b, lo:hi], alone[lo:hi], rtol=1e-12, atol=1e-12)
            want = scipy.signal.sosfiltfilt(designs[b].sos, ext[b, lo:hi], axis=0, padtype=None)
            np.testing.assert_allclose(got[b, lo:hi], want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n", [1, 2, 5, 60])
def test_spline_band_is_the_inverse_of_the_tridiagonal_system(n):
    T = 4 * np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1)
    band = K._natural_spline_band(n, n)
    full = np.zeros((n, n))
    for k in range(-n, n + 1):
        for i in range(n):
            if 0 <= i + k < n:
                full[i, i + k] = band[k + n, i]
    np.testing.assert_allclose(full, np.linalg.inv(T), atol=1e-15)
    assert np.isfinite(K._natural_spline_band(20_000, 28)).all()  # no overflow on hour-long clips


@pytest.mark.parametrize("x64", [True, False])
def test_long_spline_matches_scipy_where_the_band_is_truncated(x64):
    """400 knots: the band (14 or 28 off-diagonals) is far narrower than the system, yet the second derivatives
    are SciPy's to the arithmetic's rounding."""
    y = np.cumsum(np.random.default_rng(4).normal(size=(400, 3)), axis=0)
    with jax.enable_x64(x64):
        m = np.asarray(K.fit_spline(jnp.asarray(y if x64 else y.astype(np.float32))).m, np.float64)
    ref = scipy.interpolate.CubicSpline(np.arange(400.0), y, bc_type="natural")(np.arange(400.0), 2)
    np.testing.assert_allclose(m, ref, atol=1e-11 if x64 else 2e-5 * np.abs(ref).max())


def test_design_rejects_nonsense():
    with pytest.raises(ValueError):
        K.design_lowpass(-1.0, 30.0)
    assert len(K.design_lowpass(6.0, 30.0, sections=3).sos) == 3
