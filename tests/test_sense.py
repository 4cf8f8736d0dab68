"""The two-step simulator: ``prepare`` (host work, once) and ``sense`` (pure JAX: jit, grad, vmap; no host
transfer, no recompilation), whose composition is ``simulate``."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import imusim_jax as ij
from motions import reference_joints, spin_about_z


def _clips(n=3, T=60, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / 30.0
    out = []
    for i in range(n):
        wave = np.sin(2 * np.pi * (0.7 + 0.3 * i) * t)[:, None, None]
        out.append(ij.Motion.create(reference_joints()[None] + 0.06 * wave * rng.normal(size=(1, 17, 3)), 30.0,
                                    "coco17"))
    return out


@pytest.mark.parametrize("cutoff", [6.0, "auto"])
def test_simulate_is_prepare_then_sense(getkey, cutoff):
    clips = _clips()
    batch = ij.stack_motions([clips[0], ij.Motion.create(np.asarray(clips[1].joints)[:45], 30.0, "coco17"),
                              clips[2]])
    key = getkey()
    for source, mount in ((batch, "watch-left"), (clips[1], "watch-right"), (batch, "band-right")):
        want = ij.simulate(source, mount, "bmi160", key=key, rate_hz=50, cutoff_hz=cutoff)
        p = ij.prepare(source, rate_hz=50, cutoff_hz=cutoff)  # both arms
        got = ij.sense(p, mount, "bmi160", key)
        np.testing.assert_array_equal(got.accel, want.accel)
        np.testing.assert_array_equal(got.gyro, want.gyro)
        np.testing.assert_array_equal(got.q_ws, want.q_ws)
        if source.batched:
            np.testing.assert_array_equal(got.lengths, want.lengths)
    traj = ij.Trajectory.create(np.zeros((40, 3)), np.tile([1.0, 0, 0, 0], (40, 1)), 30.0)
    p = ij.prepare(traj, "body", rate_hz=50, cutoff_hz=cutoff)
    np.testing.assert_array_equal(ij.sense(p, "body").accel, ij.simulate(traj, "body", cutoff_hz=cutoff).accel)
    np.testing.assert_allclose(ij.sense(p, "body").accel, np.tile([0.0, 0.0, 9.80665], (66, 1)), atol=1e-4)


def test_a_time_offset_of_one_frame_reads_the_next_frame():
    """At rate = fps, ``time_offset_s = 1 / fps`` makes sample k read the motion where sample k + 1 was (and a
    per-clip offset moves each clip by its own amount)."""
    m = _clips(1, T=90)[0]
    p = ij.prepare(m, "watch-left", rate_hz=30, cutoff_hz=6.0)
    base = ij.sense(p, "watch-left")
    later = ij.sense(p, "watch-left", time_offset_s=1 / 30)
    np.testing.assert_allclose(later.accel[:-1], base.accel[1:], atol=1e-4)
    np.testing.assert_allclose(later.gyro[:-1], base.gyro[1:], atol=1e-5)
    assert np.abs(np.asarray(later.accel[:-1]) - np.asarray(base.accel[:-1])).max() > 0.05
    both = ij.prepare(ij.stack_motions([m, m]), "watch-left", rate_hz=30, cutoff_hz=6.0)
    per_clip = ij.sense(both, "watch-left", time_offset_s=jnp.asarray([0.0, 1 / 30]))
    np.testing.assert_allclose(per_clip.accel[0], base.accel, atol=1e-5)
    np.testing.assert_allclose(per_clip.accel[1, :-1], base.accel[1:], atol=1e-4)
    with pytest.raises(ij.InputError, match="time_offset_s"):
        ij.sense(both, "watch-left", time_offset_s=jnp.zeros(3))
    assert 0.3 < p.max_time_offset_s < 2.0


def test_sense_gradients_under_jit_match_finite_differences():
    """d(loss)/d(mount quaternion, accelerometer bias and scale, white-noise density, time offset) through
    ``jax.jit(jax.grad(...))`` of ``sense`` equal central differences (float64)."""
    with jax.enable_x64(True):
        m = ij.Motion.create(np.asarray(_clips(1, T=60)[0].joints, np.float64), 30.0, "coco17")
        p = ij.prepare(m, "watch-left", rate_hz=50, cutoff_hz=6.0)
        key = jax.random.key(3)
        base = ij.get_noise("ideal")

        def loss(params):
            q, bias, scale, density, offset = params
            mount = ij.get_mount("watch-left").replace(q_fs=q)
            acc = base.accel.replace(bias=bias, scale_error=scale, noise_density=density)
            imu = ij.sense(p, mount, base.replace(accel=acc), key, time_offset_s=offset)
            return jnp.mean(imu.accel[:, 0] * jnp.arange(1, imu.accel.shape[0] + 1)) + jnp.mean(imu.gyro ** 2) \
                + jnp.mean(imu.accel[:, 2] ** 2)

        x0 = (jnp.asarray([0.9, 0.1, -0.2, 0.3]), jnp.asarray([0.1, -0.2, 0.05]), jnp.asarray([0.01, 0.02, -0.01]),
              jnp.asarray([0.02, 0.01, 0.03]), jnp.asarray(0.013))
        grads = jax.jit(jax.grad(loss))(x0)
        eps = 1e-6
        for i, (x, g) in enumerate(zip(x0, grads)):
            flat = np.asarray(x, np.float64).ravel()
            for j in range(flat.size):
                e = np.zeros_like(flat)
                e[j] = eps
                hi = tuple(jnp.asarray((flat + e).reshape(np.shape(x))) if k == i else y for k, y in enumerate(x0))
                lo = tuple(jnp.asarray((flat - e).reshape(np.shape(x))) if k == i else y for k, y in enumerate(x0))
                fd = (loss(hi) - loss(lo)) / (2 * eps)
                np.testing.assert_allclose(np.ravel(g)[j], fd, rtol=1e-5, atol=1e-8, err_msg=f"parameter {i}[{j}]")
        assert all(np.abs(np.asarray(g)).max() > 1e-6 for g in grads)


def test_sense_does_not_recompile_and_moves_nothing_between_host_and_device(compiles):
    m, _ = spin_about_z(1.0, 2.0, 30.0)
    p = ij.prepare(m, "watch-left", rate_hz=50, cutoff_hz=5.0)
    mount = jax.device_put(ij.get_mount("watch-left"))
    noise = jax.device_put(ij.get_noise("bmi160"))
    key = jax.random.key(0)
    offset = jnp.asarray(0.01, p.source.dtype)
    first = ij.sense(p, mount, noise, key, time_offset_s=offset)
    step = jax.jit(lambda q, o: ij.sense(p, mount.replace(q_fs=q), noise, key, time_offset_s=o).gyro.sum())
    step(mount.q_fs, offset)
    twice, half, later = mount.replace(q_fs=mount.q_fs * 2.0), mount.q_fs * 0.5, offset + 0.01
    with compiles() as c, jax.transfer_guard("disallow"):
        again = ij.sense(p, twice, noise, key, time_offset_s=offset)
        step(half, later)
    assert not c, c
    np.testing.assert_array_equal(again.accel, first.accel)  # q_fs is a direction


def test_prepare_both_arms_and_one_arm_missing():
    m = _clips(1)[0]
    p = ij.prepare(m, rate_hz=50, cutoff_hz=6.0)
    assert p.sides == ("left", "right")
    left_only = ij.prepare(m, "watch-left", rate_hz=50, cutoff_hz=6.0)
    with pytest.raises(ij.InputError, match="right arm was not prepared"):
        ij.sense(left_only, "watch-right")
    j = np.asarray(m.joints).copy()
    conf = np.ones(j.shape[:2])
    j[:, 10], conf[:, 10] = np.nan, 0.0  # COCO-17 right wrist, never seen
    no_right = ij.Motion.create(j, 30.0, "coco17", confidence=conf)
    p = ij.prepare(no_right, rate_hz=50, cutoff_hz=6.0)
    assert p.sides == ("left",)
    np.testing.assert_array_equal(ij.sense(p, "watch-left").accel, ij.simulate(no_right, cutoff_hz=6.0).accel)
    with pytest.raises(ij.InputError, match="right_wrist .* missing in every frame"):
        ij.sense(p, "watch-right")
    with pytest.raises(ij.InputError, match="sense takes what prepare returns"):
        ij.sense(m, "watch-left")


@pytest.mark.parametrize("fps, match", [(1e9, "not one of a recorded body"), (0.03, "not one of a recorded body"),
                                        (1e4, "less than two samples")])
def test_frame_rates_no_body_is_recorded_at_are_refused(fps, match):
    m = ij.Motion.create(np.asarray(_clips(1, T=40)[0].joints), fps, "coco17")
    with pytest.raises(ij.InputError, match=match):
        ij.prepare(m, cutoff_hz=None)


def test_sense_under_vmap_is_the_batched_call():
    """``jax.vmap`` of ``sense`` over mounts and time offsets gives what one call with a batched mount and per-clip
    offsets gives (a calibration loop may map over candidate parameters)."""
    m = _clips(1, T=60)[0]
    p = ij.prepare(m, "watch-left", rate_hz=50, cutoff_hz=6.0)
    names = ["watch-left", "band-left", "phone-left"]
    qs = jnp.stack([jnp.asarray(ij.get_mount(n).q_fs) for n in names])
    offsets = jnp.asarray([0.0, 0.01, -0.02], p.source.dtype)
    mount = ij.get_mount("watch-left")
    mapped = jax.vmap(lambda q, o: ij.sense(p, mount.replace(q_fs=q), time_offset_s=o).gyro)(qs, offsets)
    stacked = ij.stack_mounts(names)
    batched = ij.sense(p, stacked.replace(lever_f=jnp.zeros((3, 3))), time_offset_s=offsets)
    np.testing.assert_allclose(mapped, batched.gyro, atol=1e-5)
    assert np.abs(np.asarray(mapped[0]) - np.asarray(mapped[1])).max() > 0.1
