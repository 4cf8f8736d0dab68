"""Paired calibration (``imusim_jax.calibrate.fit_paired``): round trips on synthetic motion with known mount,
time offsets, gains, biases and noise; the noise estimator on 20 minutes of sensor noise; bad input; and, where
``../shared/realdata`` is present, one UTD-MHAD subject."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from motions import reference_joints
from scipy.spatial.transform import Rotation

import imusim_jax as ij
from imusim_jax.calibrate import fit_paired
from imusim_jax.calibrate import paired as P

RATE = 100.0
G = 9.80665


def _rigid(seed: int, duration_s: float, fps: float = 60.0):
    """A smooth random rigid motion of the reference skeleton about its left wrist (rotations of up to ~2 rad
    about every axis at 0.1-0.8 Hz, translations of ~0.3 m): its rotations, wrist path and frame rate."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * fps) + 1) / fps
    rv, p = np.zeros((len(t), 3)), np.zeros((len(t), 3))
    for _ in range(4):
        rv += rng.uniform(0.3, 0.8, 3) * np.sin(2 * np.pi * rng.uniform(0.1, 0.8, 3) * t[:, None]
                                                 + rng.uniform(0, 2 * np.pi, 3))
        p += rng.uniform(0.05, 0.15, 3) * np.sin(2 * np.pi * rng.uniform(0.1, 1.0, 3) * t[:, None]
                                                 + rng.uniform(0, 2 * np.pi, 3))
    return Rotation.from_rotvec(rv), p, fps


def _motion(seed, duration_s):
    rot, p, fps = _rigid(seed, duration_s)
    base = reference_joints()
    c = base[9]  # left wrist
    j = np.einsum("tij,kj->tki", rot.as_matrix(), base - c) + c + p[:, None]
    return ij.Motion.create(j, fps, "coco17")


def _trajectory(seed, duration_s):
    rot, p, fps = _rigid(seed, duration_s)
    return ij.Trajectory.create(p + np.array([0.0, 0.3, 1.4]), rot.as_quat()[:, [3, 0, 1, 2]], fps)


def _truth(seed, base="watch-left"):
    """A mount turned by a random rotation of ~1.5 rad from the preset, a lever arm of up to 4 cm, gains of up to
    3 %, biases, and BMI160-like noise (no quantisation, no saturation)."""
    rng = np.random.default_rng(100 + seed)
    b = ij.get_mount(base)
    q = (Rotation.from_quat(np.asarray(b.q_fs, np.float64)[[1, 2, 3, 0]])
         * Rotation.from_rotvec(rng.normal(size=3) * 1.5)).as_quat()[[3, 0, 1, 2]]
    mount = ij.Mount.create(q, rng.uniform(-0.04, 0.04, 3), b.side, "truth")
    acc = ij.SensorNoise.create(noise_density=180e-6 * G, random_walk=1e-4, bias=rng.uniform(-0.2, 0.2, 3),
                                scale_error=rng.uniform(-0.03, 0.03, 3))
    gyr = ij.SensorNoise.create(noise_density=np.radians(7e-3), random_walk=1e-5, bias=rng.uniform(-0.02, 0.02, 3),
                                scale_error=rng.uniform(-0.03, 0.03, 3))
    return mount, ij.ImuNoise(acc, gyr, "truth")


def _recorded(source, mount, noise, key, offset_s, crop):
    """What a real sensor of ``source`` records: simulated with ``mount`` and ``noise`` at ``offset_s``, its first
    ``crop[0]`` and last ``crop[1]`` samples cut (a recording started later and stopped earlier): its true time
    offset is ``offset_s + crop[0] / RATE``."""
    s = ij.simulate(source, mount, noise, key=key, rate_hz=RATE, time_offset_s=offset_s, cutoff_hz=8.0)
    a, g = np.asarray(s.accel)[crop[0]:-crop[1]], np.asarray(s.gyro)[crop[0]:-crop[1]]
    return ij.ImuSignal(jnp.asarray(a), jnp.asarray(g), rate_hz=RATE), offset_s + crop[0] / RATE


def _angle_deg(q1, q2):
    r = lambda q: Rotation.from_quat(np.asarray(q, np.float64)[[1, 2, 3, 0]])
    return float(np.degrees((r(q1).inv() * r(q2)).magnitude()))


@pytest.mark.parametrize("seed, kind", [(0, "skeleton"), (1, "skeleton"), (2, "trajectory")])
def test_a_round_trip_recovers_mount_offsets_gains_biases_and_noise(seed, kind):
    """Two recordings of one sensor (each of its own motion, cut at its own times): one fit recovers the mount
    within 2 degrees (here within 0.05; six seeds read 0.0002-0.0009), each time offset within one sample (here
    0.05; they read 0.000), the gains within 0.5 % (here 0.05 %; they read 0.002-0.008 %), the biases within 4
    standard errors and the random walk's drift, the lever arm within 2 mm (0.02) and the white-noise densities
    within 5 % (1.1-3.9 %); the report carries every fitted parameter with a finite standard error."""
    make, base = (_motion, "watch-left") if kind == "skeleton" else (_trajectory, "body")
    mount, noise = _truth(seed, base)
    rng = np.random.default_rng(seed)
    pairs, offsets = [], []
    for k in range(2):
        src = make(10 * seed + k, 40.0)
        rec, off = _recorded(src, mount, noise, jax.random.key(10 * seed + k), rng.uniform(-0.3, 0.3),
                             (int(rng.integers(50, 250)), 100))
        pairs.append((src, ij.ImuRecording(rec, f"trial{k}.csv", {}) if k else rec))
        offsets.append(off)
    prof = fit_paired(pairs, mount=base, cutoff_hz=8.0)
    f, par = prof.fit, prof.fit["parameters"]
    assert f["converged"]
    assert _angle_deg(prof.mount.q_fs, mount.q_fs) < 0.05
    assert prof.mount.side == mount.side
    np.testing.assert_allclose(f["time_offset_s"]["per_pair"], offsets, atol=0.05 / RATE)
    assert prof.time_offset_s == pytest.approx(np.median(f["time_offset_s"]["per_pair"]))
    np.testing.assert_allclose(prof.mount.lever_f, mount.lever_f, atol=0.002)
    assert (np.abs(np.asarray(prof.mount.lever_f)) < 0.05).all()  # within the box about the preset's (0)
    for sensor in ("accel", "gyro"):
        t, got = getattr(noise, sensor), getattr(prof.noise, sensor)
        np.testing.assert_allclose(got.scale_error, t.scale_error, atol=5e-4)
        # the bias within 4 standard errors and the random walk's mean drift over a record, K sqrt(T / 3)
        se = np.asarray(par[f"{sensor}_bias"]["stderr"])
        drift = np.asarray(t.random_walk) * np.sqrt(40.0 / 3)
        assert (np.abs(np.asarray(got.bias) - np.asarray(t.bias)) < 4 * np.hypot(se, drift)).all(), (got.bias, t.bias)
        np.testing.assert_allclose(got.noise_density, t.noise_density, rtol=0.05)
    assert not par["accel_random_walk"]["fitted"]  # 40 s records: too short for the random walk
    assert f["noise"]["accel"]["method"] == f["noise"]["gyro"]["method"] == "residual"
    for name, p in par.items():
        se = p.get("stderr", p.get("stderr_deg"))
        assert not p["fitted"] or (np.all(np.isfinite(se)) and np.all(np.asarray(se) > 0)), name
    assert all(np.isfinite(p["stderr_s"]) and p["stderr_s"] > 0 for p in f["pairs"])
    assert min(f["agreement"]["after"]["corr"]) > 0.999 > max(f["agreement"]["before"]["corr"])
    back = ij.SensorProfile.from_dict(prof.to_dict())  # the whole report survives JSON
    assert back.fit["parameters"]["q_fs"]["value"] == pytest.approx(par["q_fs"]["value"])


def test_a_fit_of_some_parts_keeps_the_others():
    """Without ``time_offset`` the given offset is kept; without ``scale``, ``bias`` and ``noise`` the profile has no
    noise; the rotation is still found."""
    mount, _ = _truth(5)
    src = _motion(5, 20.0)
    rec, off = _recorded(src, mount, None, None, 0.07, (1, 1))
    prof = fit_paired([(src, rec)], mount="watch-left", cutoff_hz=8.0, fit=("rotation",), time_offset_s=off)
    assert prof.noise is None
    assert prof.time_offset_s == pytest.approx(off, abs=1e-6)
    assert _angle_deg(prof.mount.q_fs, mount.q_fs) < 0.2
    np.testing.assert_array_equal(prof.mount.lever_f, ij.get_mount("watch-left").lever_f)
    assert prof.fit["parameters"]["lever_f"]["fitted"] is False


def test_the_noise_estimates_from_20_minutes_at_100_hz():
    """White-noise densities within 5 % (they read 0.4 % apart), bias random walks within 25 % on average over
    seeds and each within 4 of its own standard errors (one estimate spreads by about 15 %, the issue's limit)."""
    n = int(20 * 60 * RATE)
    acc = ij.SensorNoise.create(noise_density=180e-6 * G, random_walk=1e-4)
    gyr = ij.SensorNoise.create(noise_density=np.radians(7e-3), random_walk=1e-5)
    noise = ij.ImuNoise(acc, gyr)
    nd = np.concatenate([acc.noise_density, gyr.noise_density])
    rw = np.concatenate([acc.random_walk, gyr.random_walk])
    z = jnp.zeros((n, 3))
    ratios = []
    for seed in range(4):
        a, g = ij.apply_noise(jax.random.key(seed), z, z, noise, RATE)
        rec = np.concatenate([np.asarray(a), np.asarray(g)], 1).astype(np.float64)
        dens, rws, se_d, se_k, rep = P._noise_estimates([rec], [(rec, np.zeros(rec.shape, bool))], np.ones(6), RATE)
        np.testing.assert_allclose(dens, nd, rtol=0.05)
        assert (np.abs(dens - nd) < 4 * se_d).all()
        assert (np.abs(rws - rw) < 4 * se_k).all(), (rws / rw, se_k / rw)
        assert rep["accel"]["method"] == rep["gyro"]["method"] == "residual"
        assert rep["accel"]["random_walk_taus"] == rep["gyro"]["random_walk_taus"] == [5] * 3
        ratios.append(rws / rw)
    np.testing.assert_allclose(np.mean(ratios, 0), 1.0, atol=0.25)


def test_where_the_residual_is_not_white_the_noise_comes_from_rest_or_is_not_observable():
    """A fit that leaves model error (a correlated residual) reads the density from the recording's still
    windows (a sensor at rest for 20 s: within 5 %), and with none says so and puts 0 in the profile."""
    n = int(40 * RATE)
    acc = ij.SensorNoise.create(noise_density=180e-6 * G)
    gyr = ij.SensorNoise.create(noise_density=np.radians(7e-3))
    a, g = ij.apply_noise(jax.random.key(7), jnp.zeros((n, 3)), jnp.zeros((n, 3)), ij.ImuNoise(acc, gyr), RATE)
    rest = np.concatenate([np.asarray(a) + [0.0, 0.0, G], np.asarray(g)], 1).astype(np.float64)
    t = np.arange(n) / RATE
    moving = rest + np.sin(2 * np.pi * 1.3 * t)[:, None] * [2.0, 1.0, 1.5, 1.0, 2.0, 0.5]
    rest[: n // 2] = moving[: n // 2]  # moving for 20 s, then at rest for 20 s
    residual = [np.cumsum(np.random.default_rng(0).normal(size=(n, 6)), 0) * 1e-3]  # smooth: model error
    taus = np.full(6, 30.0)
    none = np.zeros((n, 6), bool)
    dens, rws, se_d, _, rep = P._noise_estimates(residual, [(rest, none)], taus, RATE)
    assert rep["accel"]["method"] == rep["gyro"]["method"] == "rest"
    assert rep["gyro"]["still_windows"] == 40
    np.testing.assert_allclose(dens, np.concatenate([acc.noise_density, gyr.noise_density]), rtol=0.05)
    assert (rws == 0).all() and (se_d > 0).all()
    dens, _, _, _, rep = P._noise_estimates(residual, [(moving, none)], taus, RATE)
    assert rep["accel"]["method"] == rep["gyro"]["method"] == "not observable"
    assert (dens == 0).all() and len(rep["gyro"]["upper_bound"]) == 3


def _pair(duration_s=10.0, rate=50.0, accel_scale=1.0, gyro_scale=1.0):
    m = _motion(0, duration_s)
    s = ij.simulate(m, "watch-left", rate_hz=rate, cutoff_hz=8.0)
    return m, ij.ImuSignal(s.accel * accel_scale, s.gyro * gyro_scale, rate_hz=rate)


@pytest.mark.parametrize("case, match", [
    ("short", "lasts 0.98 s; a paired fit needs at least 2 s"),
    ("g", r"median \|a\| is [01]\.\d+, where an accelerometer in m/s\^2 reads about 9.81.*units g \(convert"),
    ("x10", r"median \|a\| is \d\d\.?\d*, .*check its units"),
    ("linear", "gravity removed"),
    ("deg/s", "are its units deg/s"),
    ("apart", "do not overlap by 1.5 s: give time_offset_s"),
    ("empty", "non-empty sequence"),
    ("part", "unknown part 'mount'"),
    ("rates", "different rates"),
    ("batch", "one clip, not a batch"),
])
def test_bad_input_gets_one_line(case, match):
    m, sig = _pair()
    pairs = [(m, sig)]
    kw = {}
    if case == "short":
        pairs = [(m, ij.ImuSignal(sig.accel[:50], sig.gyro[:50], rate_hz=50.0))]
    elif case == "g":
        pairs = [(m, sig.replace(accel=sig.accel / G))]
    elif case == "x10":
        pairs = [(m, sig.replace(accel=sig.accel * 10))]
    elif case == "linear":
        pairs = [(m, sig.replace(accel=sig.accel * 0.03))]
    elif case == "deg/s":
        pairs = [(m, sig.replace(gyro=jnp.degrees(sig.gyro)))]
    elif case == "apart":
        kw = {"time_offset_s": 30.0, "max_offset_s": 5.0}
    elif case == "empty":
        pairs = []
    elif case == "part":
        kw = {"fit": ("rotation", "mount")}
    elif case == "rates":
        pairs = [(m, sig), _pair(rate=100.0)]
    elif case == "batch":
        pairs = [(ij.stack_motions([m, m]), sig)]
    with pytest.raises(ij.InputError, match=match) as e:
        fit_paired(pairs, **kw)
    assert "\n" not in str(e.value)


def _utd(realdata, action, subject, trial):
    from imusim_jax.io import read_recordings

    sk = realdata / "utd_mhad" / "Skeleton" / f"a{action}_s{subject}_t{trial}_skeleton.mat"
    iner = realdata / "utd_mhad" / "Inertial" / f"a{action}_s{subject}_t{trial}_inertial.mat"
    if not (sk.exists() and iner.exists()):
        pytest.skip(f"{sk.name} is absent")
    return ij.load_motion(sk), read_recordings(iner)[0]


def _per_axis_corr(sim, real, max_lag=20):
    """The median over the six axes of the correlations at the lag (within +-max_lag) with the best mean."""
    best = -np.inf
    for lag in range(-max_lag, max_lag + 1):
        x, y = (sim[lag:], real[:len(real) - lag]) if lag >= 0 else (sim[:lag], real[-lag:])
        n = min(len(x), len(y))
        c = [np.corrcoef(x[:n, k], y[:n, k])[0, 1] for k in range(6)]
        if np.mean(c) > best:
            best, out = np.mean(c), np.median(c)
    return out


def test_real_utd_mhad_a_profile_from_two_trials_raises_the_held_out_correlation(realdata):
    """UTD-MHAD subject 1, a profile fitted on two trials (a throw and a clockwise circle) is applied to four
    others: the sensor is found turned about 180 degrees about y from ``watch-right`` (the dataset's known
    mounting), and the per-axis correlation on the held-out trials rises from about 0 to above 0.5."""
    fit_on = [_utd(realdata, 5, 1, 1), _utd(realdata, 9, 1, 1)]
    held = [_utd(realdata, a, 1, 3) for a in (1, 5, 9, 14)]
    prof = fit_paired(fit_on, mount="watch-right")
    turn = Rotation.from_rotvec(np.radians(prof.fit["parameters"]["q_fs"]["turn_from_preset_deg"]))
    assert np.degrees((turn.inv() * Rotation.from_rotvec([0, np.pi, 0])).magnitude()) < 45
    p = ij.prepare(ij.stack_motions([m for m, _ in held]), "watch-right", rate_hz=50.0,
                   cutoff_hz=prof.source["cutoff_hz"])
    n = np.asarray(p.n_samples)
    scores = {}
    for name, mount in (("before", "watch-right"), ("after", prof.mount)):
        s = ij.sense(p, mount)
        sim = np.concatenate([np.asarray(s.accel), np.asarray(s.gyro)], -1)
        scores[name] = [_per_axis_corr(sim[b, : n[b]], np.concatenate([np.asarray(r.signal.accel),
                                                                        np.asarray(r.signal.gyro)], 1))
                        for b, (_, r) in enumerate(held)]
    before, after = np.median(scores["before"]), np.median(scores["after"])
    assert before < 0.3
    assert after > 0.5 and after > before + 0.3, (before, after)
