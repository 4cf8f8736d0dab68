"""Unpaired calibration (``imusim_jax.calibrate.unpaired``): its pieces (windows, smoothing, percentile mapping), a
synthetic round trip and bad input. The real check on UP-Fall (MediaPipe falls against the real left wrist, each
skeleton subject left out in turn) takes minutes: it is ``benchmarks/calibrate.py --mode unpaired``."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import imusim_jax as ij
from imusim_jax.calibrate import unpaired as U
from imusim_jax.datasets.synthetic import synthetic_clips


FS = 50.0


def test_percentile_mapping_carries_each_simulated_channel_onto_the_real_one():
    rng = np.random.default_rng(0)
    sim = rng.normal(0, 1, (4000, 6))
    real = np.c_[rng.gamma(2, 1, (5000, 3)), rng.normal(3, 0.2, (5000, 3))]
    pm = U.percentile_map(sim, real)
    mapped = pm(sim)
    for c in range(6):
        assert scipy.stats.wasserstein_distance(mapped[:, c], real[:, c]) < 0.02 * real[:, c].std()
        order = np.argsort(sim[:, c])
        assert np.all(np.diff(mapped[order, c]) >= -1e-12)  # monotone: ranks kept
    # on signals and recordings alike
    s = ij.ImuSignal(sim[:100, :3], sim[:100, 3:], rate_hz=FS)
    np.testing.assert_allclose(np.asarray(pm(s).gyro), mapped[:100, 3:])
    np.testing.assert_allclose(np.asarray(pm(ij.ImuRecording(s, "x")).signal.accel), mapped[:100, :3])


def test_gaussian_smoothing_keeps_levels_stays_inside_the_valid_samples_and_has_a_gradient():
    x = jnp.ones((2, 40, 3)) * jnp.asarray([[[1.0, -2.0, 3.0]]])
    mask = jnp.arange(40)[None] < jnp.asarray([40, 25])[:, None]
    y = U.gaussian_smooth(x.at[1, 25:].set(100.0), 2.0, mask)  # padding of clip 1 must not leak in
    np.testing.assert_allclose(np.asarray(y[:, :25]), np.asarray(x[:, :25]), rtol=1e-6)
    z = np.random.default_rng(1).normal(size=(1, 200, 1))
    ys = np.asarray(U.gaussian_smooth(jnp.asarray(z), 1.5))[0, 20:-20, 0]
    k = np.exp(-0.5 * (np.arange(-12, 13) / 1.5) ** 2)
    np.testing.assert_allclose(ys, np.convolve(z[0, :, 0], k / k.sum(), "same")[20:-20], rtol=1e-5, atol=1e-6)
    g = jax.grad(lambda s: jnp.sum(U.gaussian_smooth(jnp.asarray(z, jnp.float32), s) ** 2))(1.5)
    assert np.isfinite(float(g)) and float(g) < 0  # more smoothing, less power
    assert U._smoothing_cutoff_hz(1.0, 50.0) == pytest.approx(np.sqrt(np.log(2)) / (2 * np.pi / 50.0))


@pytest.fixture(scope="module")
def synthetic():
    """10 synthetic clips (5 s at 30 fps) simulated at 50 Hz; the "real" set is the same motions recorded by a
    sensor with other per-axis scales, a smoothing of 1.5 samples, and its own noise draw. The loss compares
    distributions of windows only (nothing is paired), so this checks that the parameters are identifiable from
    distributions when the activities' statistics agree."""
    motions = ij.Motion.create(synthetic_clips(10, 5.0, 30.0, seed=3), 30.0, "coco17")
    truth = ij.ImuNoise(ij.SensorNoise.create(noise_density=0.005, scale_error=[0.04, -0.03, 0.02]),
                        ij.SensorNoise.create(noise_density=5e-4, scale_error=[-0.02, 0.03, 0.01]), "truth")
    p = ij.prepare(motions, "watch-left", rate_hz=FS, cutoff_hz=6.0)
    s = ij.sense(p, "watch-left", truth, jax.random.key(11))
    X = jnp.concatenate([s.accel, s.gyro], -1)
    mask = jnp.arange(X.shape[1])[None] < p.n_samples[:, None]
    X = np.asarray(jnp.concatenate([U.gaussian_smooth(X[..., :3], 1.5, mask),
                                    U.gaussian_smooth(X[..., 3:], 1.0, mask)], -1))
    reals = [ij.ImuSignal(X[b, :n, :3], X[b, :n, 3:], rate_hz=FS) for b, n in enumerate(np.asarray(p.n_samples))]
    res = U.fit_unpaired(motions, reals, cutoff_hz=6.0, before_cutoff_hz=6.0, fit=("scale", "smoothing"),
                         max_steps=300)
    return res, truth


@pytest.mark.slow
def test_a_synthetic_round_trip_recovers_scale_and_smoothing(synthetic):
    res, truth = synthetic
    f = res.profile.fit
    scale = np.r_[f["accel.scale"]["value"], f["gyro.scale"]["value"]]
    want = 1 + np.r_[truth.accel.scale_error, truth.gyro.scale_error]
    np.testing.assert_allclose(scale, want, rtol=0.01)
    np.testing.assert_allclose(res.smoothing_samples, [1.5, 1.0], rtol=0.1)
    np.testing.assert_allclose(res.profile.noise.gyro.scale_error, want[3:] - 1, atol=0.01)
    R = res.report["fit_sets"]
    assert R["after"]["mmd2"] < 0.2 * R["before"]["mmd2"] and R["after"]["mmd2"] < R["percentile"]["mmd2"]
    assert R["after"]["w1_mean"] < 0.5 * R["before"]["w1_mean"]
    # the equivalent cut-off: prepare's 6 Hz cascaded with each sensor's smoothing, below both
    cut = f["cutoff"]["cutoff_hz_equivalent"]
    assert cut[0] < cut[1] < 6.0


@pytest.mark.slow
def test_the_unpaired_profile_round_trips_through_json(synthetic, tmp_path):
    res, _ = synthetic
    res.profile.save(tmp_path / "u.json")
    back = ij.get_profile(tmp_path / "u.json")
    np.testing.assert_allclose(back.noise.accel.scale_error, res.profile.noise.accel.scale_error, rtol=1e-6)
    d = json.loads((tmp_path / "u.json").read_text())
    assert d["fit"]["mode"] == "unpaired" and "before" in d["fit"]["distances"]["fit_sets"]
    assert back.mount.side == "left"


def test_bad_input_gets_one_line():
    m = ij.Motion.create(synthetic_clips(2, 1.0, 30.0, seed=0), 30.0, "coco17")
    real = [ij.ImuSignal(np.zeros((200, 3)) + [0, 0, 9.81], np.zeros((200, 3)), rate_hz=FS)]
    with pytest.raises(ij.InputError, match="as long as a window"):
        U.fit_unpaired(m, real, cutoff_hz=6.0)
    with pytest.raises(ij.InputError, match="unknown"):
        U.fit_unpaired(m, real, fit=("scale", "mount"))
    short = [ij.ImuSignal(np.zeros((50, 3)), np.zeros((50, 3)), rate_hz=FS)]
    with pytest.raises(ij.InputError, match=r"window\(s\) of 2 s"):
        U.fit_unpaired(m, short, cutoff_hz=6.0)
    with pytest.raises(ij.InputError, match="different rates"):
        U.fit_unpaired(m, real + [ij.ImuSignal(np.zeros((200, 3)), np.zeros((200, 3)), rate_hz=25.0)])


def test_the_loss_distances_are_the_stats_modules_and_weights_count_as_repeats():
    """With unit weights the loss's terms are ``stats.mmd`` (unbiased, fixed bandwidths) and
    ``stats.wasserstein_1d`` per channel; a window of weight 2 counts as that window twice (the bootstrap's
    resampling, as weights)."""
    from imusim_jax import stats

    rng = np.random.default_rng(5)
    real = rng.normal(0, 1, (30, 10, 6))
    sim = rng.normal(0.3, 1.2, (20, 10, 6))
    rs = U._RealStats.of(real)
    with jax.enable_x64(True):
        mmd2, w1 = U._distance_terms(jnp.asarray(sim), U._RealSet.of(real, rs), rs)
        zs = (U.window_features(sim) - rs.f_mean) / rs.f_sd
        zr = (U.window_features(real) - rs.f_mean) / rs.f_sd
        assert float(mmd2) == pytest.approx(float(stats.mmd(jnp.asarray(zs), jnp.asarray(zr), rs.bandwidths)),
                                            rel=1e-6)
        want = np.asarray(stats.wasserstein_1d(jnp.asarray(sim.reshape(-1, 6)), jnp.asarray(real.reshape(-1, 6))))
        np.testing.assert_allclose(np.asarray(w1) * rs.ch_sd, want, rtol=1e-6)
        # weights: window 0 of each set twice
        wr = np.ones((2, 30))
        wr[1, 0] = 2
        a = np.ones(20)
        a[0] = 2
        _, w1w = U._distance_terms(jnp.asarray(sim), U._RealSet.of(real, rs, wr), rs, 1, jnp.asarray(a))
        sim2, real2 = np.concatenate([sim, sim[:1]]), np.concatenate([real, real[:1]])
        want2 = np.asarray(stats.wasserstein_1d(jnp.asarray(sim2.reshape(-1, 6)), jnp.asarray(real2.reshape(-1, 6))))
        np.testing.assert_allclose(np.asarray(w1w) * rs.ch_sd, want2, rtol=1e-6)


@pytest.mark.slow
def test_the_bootstrap_gives_each_parameter_a_spread():
    motions = ij.Motion.create(synthetic_clips(4, 3.0, 30.0, seed=4), 30.0, "coco17")
    reals = [ij.ImuSignal(np.asarray(s.accel), np.asarray(s.gyro), rate_hz=FS)
             for s in ij.simulate(ij.Motion.create(synthetic_clips(4, 3.0, 30.0, seed=5), 30.0, "coco17"),
                                  "watch-left", None, rate_hz=FS, cutoff_hz=6.0).unbatch()]
    res = U.fit_unpaired(motions, reals, cutoff_hz=6.0, max_steps=20, bootstrap=3)
    f = res.profile.fit
    for k in ("accel.noise_density", "gyro.scale", "smoothing_sigma"):
        assert np.all(np.isfinite(f[k]["stderr"])) and np.shape(f[k]["stderr"]) == np.shape(f[k]["value"])
    assert "3 replicates" in f["uncertainty"]
