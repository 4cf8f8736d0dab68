"""The MEMS error model: its statistics, its gradients and its presets."""
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import imusim_jax as ij
from imusim_jax import _noise as N
from imusim_jax._ops import cumsum_last

FS = 100.0


def oadev(x, fs, m):
    """Overlapping Allan deviation of rate samples ``x`` at cluster size ``m`` (tau = m / fs)."""
    theta = np.concatenate([[0.0], np.cumsum(x)]) / fs
    d = theta[2 * m:] - 2 * theta[m:-m] + theta[:-2 * m]
    tau = m / fs
    return np.sqrt(np.mean(d ** 2) / (2 * tau ** 2))


def test_white_noise_density_is_the_allan_deviation_at_one_second(getkey):
    nd = 0.01
    p = ij.SensorNoise.create(noise_density=nd)
    y = np.asarray(N.apply_sensor_noise(getkey(), jnp.zeros((200_000, 3)), p, FS))
    np.testing.assert_allclose(y.std(0), nd * np.sqrt(FS), rtol=0.02)  # sigma = N sqrt(fs)
    np.testing.assert_allclose([oadev(y[:, k], FS, int(FS)) for k in range(3)], nd, rtol=0.05)


def test_bias_random_walk_grows_as_k_sqrt_t(getkey):
    K = 0.02
    p = ij.SensorNoise.create(random_walk=K)
    n, clips = 1000, 400
    keys = jax.random.split(getkey(), clips)
    y = np.asarray(jax.vmap(lambda k: N.apply_sensor_noise(k, jnp.zeros((n, 3)), p, FS))(keys))
    np.testing.assert_allclose(y[:, 0], 0.0)  # starts at zero
    t_end = (n - 1) / FS
    np.testing.assert_allclose(y[:, -1].std(), K * np.sqrt(t_end), rtol=0.1)


def test_turn_on_bias_scale_and_misalignment_statistics(getkey):
    p = ij.SensorNoise.create(bias=(0.1, 0.0, -0.2), bias_std=0.05)
    keys = jax.random.split(getkey(), 2000)
    y = np.asarray(jax.vmap(lambda k: N.apply_sensor_noise(k, jnp.zeros((4, 3)), p, FS))(keys))
    np.testing.assert_allclose(y[:, 0].mean(0), [0.1, 0.0, -0.2], atol=0.005)
    np.testing.assert_allclose(y[:, 0].std(0), 0.05, rtol=0.08)
    # scale error multiplies, cross-axis terms leak one axis into the others
    x = jnp.tile(jnp.array([[1.0, 0.0, 0.0]]), (5, 1))
    q = ij.SensorNoise.create(scale_error=(0.02, 0.0, 0.0), misalignment=[[0, 0, 0], [0.01, 0, 0], [-0.03, 0, 0]])
    np.testing.assert_allclose(N.apply_sensor_noise(getkey(), x, q, FS)[0], [1.02, 0.0102, -0.0306], atol=1e-6)


def test_saturation_and_quantisation():
    p = ij.SensorNoise.create(range=2.0, bits=8)
    x = jnp.linspace(-5, 5, 101)[:, None] * jnp.ones((1, 3))
    y = np.asarray(N.apply_sensor_noise(jax.random.key(0), x, p, FS))
    lsb = 4.0 / 256
    # saturated at the 8-bit two's complement codes -128 .. 127: -range .. range - lsb
    np.testing.assert_allclose([y.min(), y.max()], [-2.0, 2.0 - lsb], atol=1e-6)
    np.testing.assert_allclose(y / lsb, np.round(y / lsb), atol=1e-4)
    inside = np.abs(np.asarray(x)) < 1.9
    assert np.abs(y - np.asarray(x))[inside].max() <= lsb / 2 + 1e-6


_CONTINUOUS = ["noise_density", "random_walk", "bias", "bias_std", "scale_error", "scale_std", "misalignment",
               "misalignment_std", "range"]


@pytest.mark.parametrize("field", _CONTINUOUS)
def test_gradient_of_every_noise_parameter_matches_finite_differences(field):
    """A fixed key makes the noisy reading a deterministic function of the parameters. Clipping is
    straight-through for the reading (a saturated sample still passes gradient upstream), so the upstream
    parameters are checked without saturation and ``range`` with it (its own gradient is the exact one)."""
    with jax.enable_x64(True):
        key = jax.random.key(3)
        rng = np.random.default_rng(0)
        x = jnp.asarray(rng.normal(size=(64, 3)) * 2.0)
        w = jnp.asarray(rng.normal(size=(64, 3)))
        base = dict(noise_density=0.05, random_walk=0.02, bias=(0.1, -0.2, 0.05), bias_std=0.03,
                    scale_error=(0.01, -0.02, 0.0), scale_std=0.01, misalignment=0.01 * rng.normal(size=(3, 3)),
                    misalignment_std=0.005, range=3.0 if field == "range" else 50.0, bits=0.0)
        p0 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), ij.SensorNoise.create(**base))

        def loss(p):
            return jnp.sum(w * N.apply_sensor_noise(key, x, p, FS))

        g = jax.grad(loss)(p0)
        v0 = np.asarray(getattr(p0, field))
        gv = np.asarray(getattr(g, field))
        assert np.isfinite(gv).all() and np.abs(gv).max() > 0
        eps = 1e-6
        for idx in np.ndindex(v0.shape or (1,)):
            idx = idx if v0.shape else ()
            if field == "misalignment" and idx[0] == idx[1]:
                continue  # the diagonal is not used
            d = np.zeros_like(v0)
            d[idx] = eps
            plus = loss(p0.replace(**{field: jnp.asarray(v0 + d)}))
            minus = loss(p0.replace(**{field: jnp.asarray(v0 - d)}))
            fd = (plus - minus) / (2 * eps)
            np.testing.assert_allclose(gv[idx], fd, rtol=1e-5, atol=1e-6)


def test_quantisation_gradient_is_straight_through_and_unbiased():
    """For rounding, finite differences are zero or infinite; the straight-through gradient of the mean squared
    quantisation error with respect to the LSB matches the derivative of its expectation, d(lsb^2/12)/d lsb."""
    with jax.enable_x64(True):
        x = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, size=(20000, 3)))

        def mse(bits):
            p = ij.SensorNoise.create(range=1.5, bits=0.0).replace(bits=bits)
            y = N.apply_sensor_noise(jax.random.key(0), x, p, FS)
            return jnp.mean((y - x) ** 2)

        bits = jnp.asarray(6.0)
        lsb = 3.0 / 2 ** 6
        dmse_dbits = jax.grad(mse)(bits)
        dlsb_dbits = -np.log(2) * lsb
        np.testing.assert_allclose(mse(bits), lsb ** 2 / 12, rtol=0.03)
        np.testing.assert_allclose(dmse_dbits / dlsb_dbits, lsb / 6, rtol=0.05)
        # and the reading's gradient with respect to the input passes straight through
        gx = jax.grad(lambda xx: jnp.sum(N.apply_sensor_noise(jax.random.key(0), xx, ij.SensorNoise.create(
            range=1.5, bits=6), FS)))(x)
        np.testing.assert_allclose(gx, 1.0)


def test_presets_follow_their_datasheets():
    bmi = ij.NOISE_PRESETS["bmi160"]
    np.testing.assert_allclose(bmi.accel.noise_density, 180e-6 * 9.80665, rtol=1e-5)  # 180 ug/sqrt(Hz)
    np.testing.assert_allclose(bmi.gyro.noise_density, np.radians(0.007), rtol=1e-5)  # 0.007 deg/s/sqrt(Hz)
    lsm = ij.NOISE_PRESETS["lsm6dso"]
    np.testing.assert_allclose(lsm.gyro.noise_density, np.radians(3.8e-3), rtol=1e-5)
    np.testing.assert_allclose(lsm.accel.range, 8 * 9.80665, rtol=1e-6)
    assert set(ij.NOISE_PRESETS) >= {"bmi160", "bmi270", "lsm6dso"}


def test_profile_json_round_trip(tmp_path):
    path = tmp_path / "profile.json"
    ij.save_noise_json(ij.NOISE_PRESETS["bmi270"], path)
    d = json.loads(path.read_text())
    assert d["accel"]["range"] == pytest.approx(8 * 9.80665, rel=1e-6)
    back = ij.get_noise(str(path))
    for f in ("noise_density", "bias_std", "range", "bits"):
        np.testing.assert_allclose(getattr(back.gyro, f), getattr(ij.NOISE_PRESETS["bmi270"].gyro, f), rtol=1e-6)
    bad = tmp_path / "bad.json"
    bad.write_text('{"accel": {"noise": 1}, "gyro": {}}')
    with pytest.raises(ij.InputError, match="bad.json: accel: unknown keys"):
        ij.get_noise(str(bad))
    with pytest.raises(ij.InputError, match="unknown noise"):
        ij.get_noise("bmi999")


def test_noise_on_a_batch_is_reproducible_and_independent_per_clip(getkey):
    from imusim_jax.sample import load_sample

    m = load_sample()
    batch = ij.stack_motions([m, m])
    k = getkey()
    a = ij.simulate(batch, "watch-left", "bmi160", key=k, cutoff_hz=6.0)
    b = ij.simulate(batch, "watch-left", "bmi160", key=k, cutoff_hz=6.0)
    np.testing.assert_array_equal(a.accel, b.accel)
    assert np.abs(np.asarray(a.accel[0]) - np.asarray(a.accel[1])).max() > 1e-3  # two clips, two sensors


# --- the counter-based normal generator behind the per-sample noise -------------------------------------------

def _seeds(key, n):
    return np.asarray(jax.vmap(lambda k: jax.random.bits(k, (2,), jnp.uint32))(jax.random.split(key, n)))


def test_counter_normals_are_standard_normal_and_white(getkey):
    import scipy.stats

    z = np.asarray(N.counter_normals(_seeds(getkey(), 1)[0], 12, 100_000), np.float64)  # (12, 100k): 1.2 M draws
    flat = z.ravel()
    assert abs(flat.mean()) < 5 / np.sqrt(flat.size)
    assert abs(flat.std() - 1.0) < 5 / np.sqrt(2 * flat.size)
    assert scipy.stats.kstest(flat, "norm").pvalue > 1e-4
    assert abs(np.mean(np.abs(flat) > 3.0) - 2 * scipy.stats.norm.sf(3.0)) < 5e-4  # the tails are there
    assert np.isfinite(flat).all() and np.abs(flat).max() < 6.0
    tol = 5 / np.sqrt(z.shape[1])
    corr = np.corrcoef(z)  # every pair of rows, Box-Muller partners (c, c + 6) included
    assert np.abs(corr - np.eye(12)).max() < tol
    for lag in (1, 2, 3, 12, 32):  # serial correlation within each row
        r = [np.corrcoef(z[c, :-lag], z[c, lag:])[0, 1] for c in range(12)]
        assert np.abs(r).max() < tol, (lag, r)


def test_counter_normals_of_different_keys_are_uncorrelated(getkey):
    seeds = _seeds(getkey(), 64)
    near = seeds.copy()
    near[:, 0] ^= 1  # seeds one bit apart: no shared stream
    z = np.stack([np.asarray(N.counter_normals(s, 12, 4096)).ravel() for s in np.concatenate([seeds, near])])
    corr = np.corrcoef(z)
    assert np.abs(corr - np.eye(len(z))).max() < 5 / np.sqrt(z.shape[1])


@pytest.mark.parametrize("accel,match", [
    ({"noise_density": -1e-3}, "accel.noise_density must not be negative"),
    ({"bias_std": [0.1, -0.1, 0.1]}, "accel.bias_std must not be negative"),
    ({"noise_density": [1e-3, 2e-3]}, r"accel.noise_density must be a number or an array of shape \(3,\)"),
    ({"misalignment": [0.01, 0.02, 0.03, 0.04]}, "accel.misalignment must be"),
    ({"range": 0}, "accel.range must be positive"),
    ({"range": -10}, "accel.range must be positive"),
    ({"scale_error": -1.5}, "accel.scale_error is a fraction"),
    ({"bias": "nan"}, "accel.bias must be finite"),
    ({"bits": "sixteen"}, "accel.bits must be a number"),
    ({"misalignment": [0.01, 0.02, 0.03]}, r"accel.misalignment must be a number or an array of shape \(3, 3\)"),
    ({"bias": [[0.1, 0.1, 0.1]]}, r"accel.bias must be a number or an array of shape \(3,\)"),
    ({"bits": 0.5}, "accel.bits must be 0"),
    ({"bits": -3}, "accel.bits must be 0"),
    ({"bits": 1024, "range": 20}, "accel.bits must be 0"),  # 2^1024 overflows: the signal would be NaN
    ([1, 2, 3], "accel must be a JSON object"),
])
def test_a_bad_profile_is_a_one_line_error_naming_the_field(tmp_path, accel, match):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"accel": accel, "gyro": {}}))
    with pytest.raises(ij.InputError, match=match) as e:
        ij.get_noise(str(path))
    assert "\n" not in str(e.value) and "p.json" in str(e.value)


def test_profile_fields_left_out_are_zero_and_range_may_be_infinite(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"accel": {"noise_density": 2e-3, "range": "inf"}, "gyro": {"range": None}}))
    model = ij.get_noise(str(path))
    np.testing.assert_allclose(model.accel.noise_density, 2e-3)
    assert np.isinf(model.accel.range) and np.isinf(model.gyro.range)
    np.testing.assert_array_equal(model.gyro.noise_density, 0.0)
    np.testing.assert_array_equal(model.accel.bits, 0.0)


def test_counter_normals_column_depends_only_on_its_index(getkey):
    s = _seeds(getkey(), 1)[0]
    np.testing.assert_array_equal(N.counter_normals(s, 12, 100), N.counter_normals(s, 12, 1000)[:, :100])
    with pytest.raises(ValueError, match="even"):
        N.counter_normals(s, 3, 10)


def test_blocked_cumsum_is_a_cumulative_sum():
    x = np.random.default_rng(0).normal(size=(3, 101)).astype(np.float32)
    np.testing.assert_allclose(cumsum_last(jnp.asarray(x)), np.cumsum(x, axis=1), atol=1e-5)


def test_the_two_sensors_and_three_axes_draw_independent_noise(getkey):
    """Accelerometer and gyroscope with the same white-noise density, on a zero signal: each axis has the density's
    sigma, and no two of the six channels are correlated (a reused draw would correlate them perfectly)."""
    n, density = 20_000, 0.02
    white = ij.SensorNoise.create(noise_density=density)
    nz = ij.ImuNoise(white, white, "white")
    zeros = jnp.zeros((n, 3))
    a, g = ij.apply_noise(getkey(), zeros, zeros, nz, FS)
    x = np.concatenate([np.asarray(a), np.asarray(g)], axis=1)  # (n, 6)
    np.testing.assert_allclose(x.std(0), density * np.sqrt(FS), rtol=0.03)
    corr = np.corrcoef(x.T)
    assert np.abs(corr[~np.eye(6, dtype=bool)]).max() < 0.04


def test_a_noise_model_fitted_by_gradient_descent_recovers_the_generating_parameters(getkey):
    """Allan-variance calibration through the simulator: a gyro at rest is "recorded" with known white-noise and
    random-walk densities; the same model, run with another key, is fitted to the recording's Allan deviation
    curve by optax (gradients flow through the noise draws, reparameterised by the fixed key) and lands on the
    parameters that made the data."""
    import optax

    true_nd, true_rw = 0.01, 0.01  # rad/s/sqrt(Hz), rad/s/sqrt(s): the curves cross at tau = 3 N / K = 3 s
    clips, n = 4, 20_000  # 4 x 200 s at 100 Hz
    ms = np.unique(np.geomspace(1, n // 8, 14).astype(int))  # tau from 0.01 s to 25 s

    def adev(y):  # overlapping Allan deviation of (clips, n, 3) rate samples at each cluster size in ms
        theta = jnp.cumsum(y, axis=1) / FS
        out = []
        for m in ms:
            d = theta[:, 2 * m:] - 2 * theta[:, m:-m] + theta[:, :-2 * m]
            out.append(jnp.sqrt(jnp.mean(d ** 2) / (2 * (m / FS) ** 2)))
        return jnp.stack(out)

    def record(nd, rw, key):
        p = ij.SensorNoise.create().replace(noise_density=nd * jnp.ones(3), random_walk=rw * jnp.ones(3))
        keys = jax.random.split(key, clips)
        return jax.vmap(lambda k: N.apply_sensor_noise(k, jnp.zeros((n, 3)), p, FS))(keys)

    target = jnp.log(adev(record(true_nd, true_rw, getkey())))
    model_key = getkey()

    def loss(log_p):
        return jnp.sum((jnp.log(adev(record(jnp.exp(log_p[0]), jnp.exp(log_p[1]), model_key))) - target) ** 2)

    opt = optax.adam(0.1)

    @jax.jit
    def step(log_p, state):
        value, g = jax.value_and_grad(loss)(log_p)
        updates, state = opt.update(g, state)
        return optax.apply_updates(log_p, updates), state, value

    log_p = jnp.log(jnp.array([3.0 * true_nd, true_rw / 5.0]))  # start far off: 3x and 1/5
    state = opt.init(log_p)
    for _ in range(150):
        log_p, state, value = step(log_p, state)
    assert float(value) < 0.05
    nd, rw = np.exp(np.asarray(log_p))
    np.testing.assert_allclose(nd, true_nd, rtol=0.05)
    np.testing.assert_allclose(rw, true_rw, rtol=0.3)  # 200 s records: the random walk is the less certain one


def test_sincos_turns_is_cos_and_sin_of_the_turn_fraction():
    """The Box-Muller angle's polynomial sine and cosine match NumPy's to float32 rounding at every 24-bit
    fraction of a turn the generator can draw, in all four quadrants."""
    u = (np.arange(0, 2 ** 24, 7, dtype=np.float64) * 2.0 ** -24).astype(np.float32)
    c, s = (np.asarray(a, np.float64) for a in N.sincos_turns(jnp.asarray(u)))
    th = 2 * np.pi * u.astype(np.float64)
    assert np.abs(c - np.cos(th)).max() < 3e-7
    assert np.abs(s - np.sin(th)).max() < 3e-7
    assert {int(q) for q in np.floor(4 * u)} == {0, 1, 2, 3}


def test_a_key_draws_the_same_noise_in_float32_and_float64():
    """The command line computes in float64, the library in float32 by default: ``simulate --seed S`` and
    ``simulate(..., key=jax.random.key(S))`` must draw the same noise (a float64 ``jax.random.normal`` reads other
    bits of the key: the turn-on biases differed by up to 1.9 m/s^2)."""
    from imusim_jax.sample import load_sample

    def run():
        m = load_sample()
        s = ij.simulate(m, "watch-left", "bmi160", key=jax.random.key(3), cutoff_hz=6.0)
        ideal = ij.simulate(m, "watch-left", None, cutoff_hz=6.0)
        return (np.asarray(s.accel, np.float64) - np.asarray(ideal.accel, np.float64),
                np.asarray(s.gyro, np.float64) - np.asarray(ideal.gyro, np.float64))

    a32, g32 = run()
    with jax.enable_x64(True):
        a64, g64 = run()
    # equal up to the quantiser: float32 round-off can move a reading across one LSB (accel 2.4e-3 m/s^2)
    assert np.percentile(np.abs(a64 - a32), 99) < 3e-3, np.abs(a64 - a32).max()
    assert np.percentile(np.abs(g64 - g32), 99) < 1.2e-3
    assert np.abs(a32.mean(0)).max() > 0.01  # the turn-on bias is there to compare
