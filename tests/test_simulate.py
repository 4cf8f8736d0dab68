"""Physics of the simulator: closed-form motions read what a real IMU would."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import imusim_jax as ij
from motions import (G, WATCH_LEVER, forearm_trajectory, mirror, reference_joints, rigid_motion, spin_about_z,
                     watch_with_lever)

EDGE = 0.1  # s trimmed where a test asks for interior accuracy only


def test_sensor_at_rest_reads_plus_one_g_on_its_upward_axis():
    joints = np.repeat(reference_joints()[None], 40, 0)
    imu = ij.simulate(ij.Motion.create(joints, 30.0, "coco17"), "watch-left")
    np.testing.assert_allclose(imu.accel, np.tile([0.0, 0.0, G], (imu.num_samples, 1)), atol=2e-3)
    np.testing.assert_allclose(imu.gyro, 0.0, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("mount", ["watch-left", "band-right", "phone-left"])
def test_any_static_pose_reads_g_and_no_rotation(seed, mount):
    rng = np.random.default_rng(seed)
    pose = reference_joints() + rng.normal(scale=0.15, size=(17, 3))
    imu = ij.simulate(ij.Motion.create(np.repeat(pose[None], 30, 0), 25.0, "coco17"), mount)
    np.testing.assert_allclose(np.linalg.norm(imu.accel, axis=1), G, atol=3e-3)
    # float32 round-off through the forearm frame: 5e-4 rad/s, below any MEMS gyro's noise (~1e-3 rad/s rms)
    np.testing.assert_allclose(imu.gyro, 0.0, atol=5e-4)


@pytest.mark.parametrize("cutoff", [None, 6.0, "auto"])
def test_free_fall_reads_zero_specific_force(cutoff):
    fps = 60.0
    t = np.arange(61) / fps
    p = np.outer(t, [0.3, -0.2, 1.0]) + 0.5 * np.outer(t ** 2, [0, 0, -G])
    m = rigid_motion(np.repeat(np.eye(3)[None], len(t), 0), p, fps)
    imu = ij.simulate(m, "watch-left", rate_hz=100, cutoff_hz=cutoff)
    np.testing.assert_allclose(imu.accel, 0.0, atol=3e-2)  # up to the clip edges (float32: 0.3 % of g)
    np.testing.assert_allclose(imu.gyro, 0.0, atol=1e-4)


@pytest.mark.parametrize("omega", [2.0, -3.0])
def test_constant_spin_reads_its_rate_with_the_right_sign_and_the_centripetal_acceleration(omega):
    m, _ = spin_about_z(omega, 3.0, 60.0)
    imu = ij.simulate(m, watch_with_lever(), rate_hz=50, cutoff_hz=None)
    inner = (imu.t > EDGE) & (imu.t < imu.t[-1] - EDGE)
    # sensor z is world up: counter-clockwise seen from above is +omega on z
    np.testing.assert_allclose(np.asarray(imu.gyro)[inner], np.tile([0, 0, omega], (inner.sum(), 1)), atol=2e-3)
    # the sensor sits at (wrist + lever) = (0.04, 0.3, 1.43); centripetal -omega^2 r (horizontal part), plus +g
    r = np.array([0.06, 0.3, 1.4]) + WATCH_LEVER
    want = np.array([-omega ** 2 * r[0], -omega ** 2 * r[1], G])
    np.testing.assert_allclose(np.asarray(imu.accel)[inner], np.tile(want, (inner.sum(), 1)), atol=5e-3)
    # and up to the edges, less tightly (the edge extension continues the circle to third order; extrapolating
    # a fitted quadratic instead, as before, read 0.5 m/s^2 and 0.01 rad/s off at the first and last samples)
    np.testing.assert_allclose(imu.gyro, np.tile([0, 0, omega], (imu.num_samples, 1)), atol=1e-3)
    np.testing.assert_allclose(imu.accel, np.tile(want, (imu.num_samples, 1)), atol=2e-2)


def test_a_fast_spin_reads_its_centripetal_acceleration_at_the_clip_edges():
    """6 rad/s about the vertical at 30 fps, default cut-off: the first and last samples read omega^2 r within 1.5 %
    (the cubic edge estimate alone read 6.5 % off; ``_kinematics.edge_acceleration``)."""
    omega = 6.0
    m, _ = spin_about_z(omega, 3.0, 30.0)
    imu = ij.simulate(m, "watch-left", rate_hz=50)
    r = np.array([0.06, 0.3, 1.4])
    want = np.array([-omega ** 2 * r[0], -omega ** 2 * r[1], G])
    err = np.linalg.norm(np.asarray(imu.accel) - want, axis=1)
    assert err[[0, 1, -2, -1]].max() < 0.015 * omega ** 2 * np.linalg.norm(r[:2])
    np.testing.assert_allclose(imu.gyro[:, 2], omega, atol=0.02)


@pytest.mark.parametrize("cutoff", [6.0, "auto"])
def test_a_high_frame_rate_spin_reads_its_rate_up_to_the_clip_edges(cutoff):
    """4 kHz motion capture filtered at 6 Hz: the edge extension must outlast the filter's transient (3.6 fps /
    cut-off = 2,400 frames here; capped at 600 it read the edges' rate 4 % off). In float64, as the command line
    computes: in float32 a 4 kHz clip's frame-to-frame steps are near the positions' rounding (1 % in the
    interior)."""
    omega = 2.0
    with jax.enable_x64(True):
        m, _ = spin_about_z(omega, 1.5, 4000.0)
        imu = ij.simulate(m, "watch-left", rate_hz=100, cutoff_hz=cutoff)
        gyro, accel = np.asarray(imu.gyro), np.asarray(imu.accel)
    np.testing.assert_allclose(gyro, np.tile([0, 0, omega], (len(gyro), 1)), atol=1e-3)
    r = np.array([0.06, 0.3, 1.4])
    np.testing.assert_allclose(accel, np.tile([-omega ** 2 * r[0], -omega ** 2 * r[1], G], (len(accel), 1)),
                               atol=1e-2)


@pytest.mark.parametrize("fps", [30.0, 60.0])
@pytest.mark.parametrize("phase", [0.0, np.pi / 4, np.pi / 2])
def test_a_swinging_wrist_reads_its_acceleration_up_to_the_clip_edges(fps, phase):
    """A 0.5 Hz and a 1 Hz side-to-side swing (10 cm, the body upright), default cut-off: the first and last
    samples read the analytic acceleration as well as the interior does, within a few % of its amplitude."""
    for f, tol in [(0.5, 0.03), (1.0, 0.08)]:
        w = 2 * np.pi * f
        t = np.arange(int(4 * fps) + 1) / fps
        p = np.zeros((len(t), 3))
        p[:, 0] = 0.1 * np.sin(w * t + phase)
        imu = ij.simulate(rigid_motion(np.repeat(np.eye(3)[None], len(t), 0), p, fps), "watch-left")
        want = np.stack([-0.1 * w * w * np.sin(w * imu.t + phase), 0 * imu.t, G + 0 * imu.t], -1)
        np.testing.assert_allclose(imu.accel, want, atol=tol * 0.1 * w * w)
        np.testing.assert_allclose(imu.gyro, 0.0, atol=1e-4)


def test_lever_arm_adds_exactly_tangential_and_centripetal_terms():
    """Oscillating rotation about a tilted axis: the watch's reading minus a lever-free mount's equals
    R_ws^T (alpha x r + omega x (omega x r)), with alpha, omega from the analytic motion (not the simulator)."""
    fps = 200.0
    t = np.arange(int(2.0 * fps) + 1) / fps
    n = np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8])
    theta = 0.8 * np.sin(2 * np.pi * 0.7 * t)
    dth = 0.8 * 2 * np.pi * 0.7 * np.cos(2 * np.pi * 0.7 * t)
    ddth = -0.8 * (2 * np.pi * 0.7) ** 2 * np.sin(2 * np.pi * 0.7 * t)
    R = Rotation.from_rotvec(theta[:, None] * n).as_matrix()
    m = rigid_motion(R, np.zeros((len(t), 3)), fps)
    watch = watch_with_lever()
    bare = watch.replace(lever_f=np.zeros(3, np.float32))
    with_lever = ij.simulate(m, watch, rate_hz=100, cutoff_hz=None)
    without = ij.simulate(m, bare, rate_hz=100, cutoff_hz=None)
    tk = with_lever.t
    th_k = np.interp(tk, t, theta)
    R_k = Rotation.from_rotvec(th_k[:, None] * n).as_matrix()  # sensor frame = R_k (reference frame is world)
    w = np.interp(tk, t, dth)[:, None] * n
    a = np.interp(tk, t, ddth)[:, None] * n
    r = np.einsum("tij,j->ti", R_k, WATCH_LEVER)
    lever_w = np.cross(a, r) + np.cross(w, np.cross(w, r))
    want = np.einsum("tji,tj->ti", R_k, lever_w)
    got = np.asarray(with_lever.accel) - np.asarray(without.accel)
    inner = (tk > EDGE) & (tk < tk[-1] - EDGE)
    # central differences of the orientation: ~1e-3 m/s^2, below a BMI270's noise (0.011 m/s^2 rms at 50 Hz)
    np.testing.assert_allclose(got[inner], want[inner], atol=5e-3)
    np.testing.assert_allclose(with_lever.gyro, without.gyro, atol=1e-5)  # a rigid body has one angular velocity
    # and the gyro is omega in the sensor frame
    np.testing.assert_allclose(np.asarray(with_lever.gyro)[inner], np.einsum("tji,tj->ti", R_k, w)[inner],
                               atol=3e-3)


def test_left_and_right_watches_are_mirror_images():
    """Mirror the world in x and swap the arms: watch-right on the mirrored right arm reads (-ax, ay, az) and
    (gx, -gy, -gz) of watch-left (the crown points to the hand on the left wrist, to the elbow on the right)."""
    from imusim_jax.sample import load_sample

    m = load_sample()
    left = ij.simulate(m, "watch-left", cutoff_hz=6.0)
    right = ij.simulate(mirror(m), "watch-right", cutoff_hz=6.0)
    sa, sg = np.array([-1, 1, 1]), np.array([1, -1, -1])
    np.testing.assert_allclose(right.accel, np.asarray(left.accel) * sa, atol=2e-3)
    np.testing.assert_allclose(right.gyro, np.asarray(left.gyro) * sg, atol=2e-4)


def test_time_base_and_any_rate():
    m, _ = spin_about_z(1.0, 2.0, 30.0)  # 61 frames, last at 2.0 s
    for rate, n in [(50.0, 101), (37.5, 76), (200.0, 401), (10.0, 21)]:
        imu = ij.simulate(m, "watch-left", rate_hz=rate)
        assert imu.num_samples == n
        np.testing.assert_allclose(imu.t, np.arange(n) / rate)
        assert imu.t[-1] <= 2.0 + 1e-9


def test_upsampled_spin_is_consistent_across_rates():
    m, _ = spin_about_z(2.5, 2.0, 30.0)
    a = ij.simulate(m, "watch-left", rate_hz=50, cutoff_hz=None)
    b = ij.simulate(m, "watch-left", rate_hz=100, cutoff_hz=None)
    np.testing.assert_allclose(np.asarray(b.gyro)[::2], a.gyro, atol=1e-5)


def test_trajectory_closed_forms():
    """Rest, free fall and spin again, for a rigid body given as a Trajectory (mount 'body': the sensor is the
    body frame)."""
    fps = 100.0
    t = np.arange(101) / fps
    q_id = np.tile([1.0, 0, 0, 0], (len(t), 1))
    rest = ij.simulate(ij.Trajectory.create(np.zeros((len(t), 3)), q_id, fps), "body")
    np.testing.assert_allclose(rest.accel, np.tile([0, 0, G], (rest.num_samples, 1)), atol=2e-3)
    fall = ij.simulate(ij.Trajectory.create(0.5 * np.outer(t ** 2, [0, 0, -G]), q_id, fps), "body")
    np.testing.assert_allclose(fall.accel, 0.0, atol=3e-2)
    w = 1.5
    qz = np.stack([np.cos(w * t / 2), 0 * t, 0 * t, np.sin(w * t / 2)], -1)
    r0 = np.array([0.5, 0.0, 0.0])
    pos = np.stack([0.5 * np.cos(w * t), 0.5 * np.sin(w * t), 0 * t], -1)
    spin = ij.simulate(ij.Trajectory.create(pos, qz, fps), "body", cutoff_hz=None)
    inner = (spin.t > EDGE) & (spin.t < spin.t[-1] - EDGE)
    np.testing.assert_allclose(np.asarray(spin.gyro)[inner], np.tile([0, 0, w], (inner.sum(), 1)), atol=2e-3)
    np.testing.assert_allclose(np.asarray(spin.accel)[inner],
                               np.tile([-w ** 2 * r0[0], 0, G], (inner.sum(), 1)), atol=5e-3)
    # up to the edges too (the quadratic-extrapolating edge extension read 0.07 m/s^2 off there)
    np.testing.assert_allclose(spin.gyro, np.tile([0, 0, w], (spin.num_samples, 1)), atol=1e-4)
    np.testing.assert_allclose(spin.accel, np.tile([-w ** 2 * r0[0], 0, G], (spin.num_samples, 1)), atol=1e-2)
    # a lever arm on a trajectory adds its centripetal term: sensor 0.1 m further out along body x
    mount = ij.Mount.create(np.eye(3), (0.1, 0.0, 0.0), "left")
    lev = ij.simulate(ij.Trajectory.create(pos, qz, fps), mount, cutoff_hz=None)
    np.testing.assert_allclose(np.asarray(lev.accel)[inner, 0], -w ** 2 * 0.6, atol=5e-3)


def test_skeleton_and_its_forearm_trajectory_give_the_same_imu():
    from imusim_jax.sample import load_sample

    m = load_sample()
    traj = forearm_trajectory(m)
    a = ij.simulate(m, "watch-left", cutoff_hz=6.0, impact="off")  # a trajectory has no contact model
    b = ij.simulate(traj, "watch-left", cutoff_hz=6.0)
    scale_a = np.abs(np.asarray(a.accel)).max()
    err_a = np.abs(np.asarray(a.accel) - np.asarray(b.accel))
    err_g = np.abs(np.asarray(a.gyro) - np.asarray(b.gyro))
    # filtering joints then building the frame is not identical to filtering the frame's quaternion, but close
    assert np.percentile(err_a, 95) < 0.03 * scale_a, np.percentile(err_a, 95)
    assert np.percentile(err_g, 95) < 0.03 * np.abs(np.asarray(a.gyro)).max()
    corr = np.corrcoef(np.linalg.norm(a.accel, axis=1), np.linalg.norm(b.accel, axis=1))[0, 1]
    assert corr > 0.99


def test_batch_equals_per_clip_calls_with_padding_and_mixed_rates(getkey):
    rng = np.random.default_rng(0)
    clips = []
    for T, fps in [(50, 30.0), (81, 25.0), (120, 60.0)]:
        base = reference_joints()
        wob = 0.05 * np.sin(np.linspace(0, 6, T))[:, None, None] * rng.normal(size=(1, 17, 3))
        clips.append(ij.Motion.create(base[None] + wob + 0.003 * rng.normal(size=(T, 17, 3)), fps, "coco17"))
    batch = ij.stack_motions(clips)
    keys = jax.random.split(getkey(), 3)
    out = ij.simulate(batch, "watch-left", "bmi160", key=keys, rate_hz=50)
    for b, clip in enumerate(clips):
        one = ij.simulate(clip, "watch-left", "bmi160", key=keys[b], rate_hz=50)
        n = int(out.lengths[b])
        assert n == one.num_samples
        # equal up to float32 round-off, which can flip the last bit of the 16-bit quantiser (accel LSB
        # 2.4e-3 m/s^2 at ±8 g, gyro LSB 1.07e-3 rad/s at ±2000 °/s)
        np.testing.assert_allclose(out.accel[b, :n], one.accel, atol=5e-3, rtol=1e-4)
        np.testing.assert_allclose(out.gyro[b, :n], one.gyro, atol=1.2e-3, rtol=1e-4)
        assert np.all(np.asarray(out.accel[b, n:]) == 0)


@pytest.mark.parametrize("cutoff", [6.0, 3.0])
def test_a_clip_beside_a_faster_clip_reads_as_alone(cutoff):
    """The batch's static edge window is its largest clip's (a 120 fps clip's: 48 frames at 3 Hz); each clip's
    edge estimate must still read only its own frames. Before, the 30 fps fall's first sample moved by 0.033
    (6 Hz) and 0.21 m/s^2 (3 Hz) next to a 120 fps clip."""
    from imusim_jax.sample import fall_motion, load_sample

    m = load_sample()
    alone = ij.simulate(m, "watch-left", cutoff_hz=cutoff, impact="off")  # the edge window alone: no contacts
    both = ij.simulate(ij.stack_motions([m, fall_motion(fps=120.0)]), "watch-left", cutoff_hz=cutoff,
                       impact="off")
    n = alone.num_samples
    np.testing.assert_allclose(both.accel[0, :n], alone.accel, atol=2e-3)
    np.testing.assert_allclose(both.gyro[0, :n], alone.gyro, atol=5e-4)


def test_same_key_same_signal_other_key_other_signal(getkey):
    from imusim_jax.sample import load_sample

    m = load_sample()
    k = getkey()
    a = ij.simulate(m, "watch-left", "bmi270", key=k)
    b = ij.simulate(m, "watch-left", "bmi270", key=k)
    c = ij.simulate(m, "watch-left", "bmi270", key=getkey())
    np.testing.assert_array_equal(a.accel, b.accel)
    assert np.abs(np.asarray(a.accel) - np.asarray(c.accel)).max() > 1e-3
    with pytest.raises(ij.InputError, match="key"):
        ij.simulate(m, "watch-left", "bmi270")


def test_second_call_does_not_recompile(compiles):
    m, _ = spin_about_z(1.0, 1.0, 30.0)
    ij.simulate(m, "watch-left", cutoff_hz=5.0)
    m2, _ = spin_about_z(2.0, 1.0, 30.0)
    with compiles() as c:
        ij.simulate(m2, "watch-left", cutoff_hz=5.0)
        ij.simulate(m2, ij.get_mount("watch-left").replace(lever_f=np.zeros(3, np.float32)), cutoff_hz=5.0)
    assert not c, c


def test_gradients_wrt_joints_and_mount_match_finite_differences():
    """d(loss)/d(joints) and d(loss)/d(lever arm) through the whole simulator (edge extension, filter, frames,
    spline, readings) equal central differences in float64, at the clip's first and last frames too."""
    from imusim_jax.sample import load_sample

    m = load_sample()
    mount = ij.get_mount("watch-left")
    with jax.enable_x64(True):
        J = jnp.asarray(np.asarray(m.joints, np.float64)[:60])
        clip = ij.Motion.create(np.asarray(J), float(m.fps), m.joint_set)
        lever0 = jnp.asarray([0.01, -0.02, 0.03])

        def loss(joints, lever):
            imu = ij.simulate(clip.replace(joints=joints), mount.replace(lever_f=lever), cutoff_hz=6.0)
            return jnp.mean(imu.accel ** 2) + jnp.mean(imu.gyro ** 2)

        gj, gl = jax.grad(loss, argnums=(0, 1))(J, lever0)
        eps = 1e-6
        # (frame, joint, axis): left wrist (9), elbow (7), shoulder (5) at both edges and inside; the nose (0)
        # is not on the arm and gets no gradient
        for t, j, c in [(0, 9, 0), (1, 7, 2), (30, 9, 1), (59, 9, 2), (58, 5, 0), (0, 0, 0)]:
            e = np.zeros(J.shape)
            e[t, j, c] = eps
            fd = (loss(J + e, lever0) - loss(J - e, lever0)) / (2 * eps)
            np.testing.assert_allclose(gj[t, j, c], fd, rtol=1e-6, atol=1e-8, err_msg=str((t, j, c)))
        for i in range(3):
            e = np.zeros(3)
            e[i] = eps
            fd = (loss(J, lever0 + e) - loss(J, lever0 - e)) / (2 * eps)
            np.testing.assert_allclose(gl[i], fd, rtol=1e-6, atol=1e-8)
    assert np.abs(np.asarray(gl)).max() > 0 and np.abs(np.asarray(gj[0])).max() > 0


def test_several_mounts_of_one_clip_in_one_call():
    from imusim_jax.sample import load_sample

    m = load_sample()
    names = ["watch-left", "band-left", "phone-left"]
    out = ij.simulate(m, ij.stack_mounts(names))
    for i, name in enumerate(names):
        np.testing.assert_allclose(out.accel[i], ij.simulate(m, name).accel, atol=5e-3)
    with pytest.raises(ij.InputError, match="one arm"):
        ij.stack_mounts(["watch-left", "watch-right"])


def test_large_batches_run_in_chunks_with_the_same_result(monkeypatch):
    """On a CPU, batches above a chunk size (``IMUSIM_CPU_CHUNK``) loop over vmapped chunks (lax.map): the same
    readings as one vmap."""
    from imusim_jax.sample import load_sample

    m = load_sample()
    clips = [ij.Motion.create(np.asarray(m.joints)[: 97 + 5 * i], 30.0, "coco17") for i in range(5)]
    batch = ij.stack_motions(clips)
    keys = jax.random.split(jax.random.key(7), 5)
    results = []
    for chunk in ("2", "0"):
        monkeypatch.setenv("IMUSIM_CPU_CHUNK", chunk)
        jax.clear_caches()  # the chunk size is read while tracing
        results.append(ij.simulate(batch, "watch-left", "bmi270", key=keys, cutoff_hz=5.5))
    chunked, whole = results
    np.testing.assert_array_equal(chunked.lengths, whole.lengths)
    np.testing.assert_allclose(chunked.accel, whole.accel, atol=2.5e-3)  # one accelerometer LSB at most
    np.testing.assert_allclose(chunked.gyro, whole.gyro, atol=1.1e-3)


@pytest.mark.parametrize("n", [67, 64])
def test_a_cpu_batch_split_across_threads_is_the_batch(getkey, monkeypatch, n):
    """On a CPU, a batch of >= 64 clips runs as parts on a thread pool (``IMUSIM_CPU_THREADS``): the first call
    (compiling, parts in turn) and later calls (parts at once) give what one call over the whole batch gives, for
    an uneven batch (the last part repeats a clip: gathers) and an even one (parts and chunks are slices), with
    per-clip mounts and lengths."""
    rng = np.random.default_rng(1)
    T = 40
    base = reference_joints()
    wave = np.sin(np.linspace(0, 5, T))[None, :, None, None]
    joints = base[None, None] + 0.05 * wave * rng.normal(size=(n, 1, 17, 3))
    lengths = rng.integers(20, T + 1, n)
    batch = ij.stack_motions([ij.Motion.create(joints[b, :lengths[b]], 30.0, "coco17") for b in range(n)])
    mounts = ij.stack_mounts((["watch-left", "band-left", "phone-left"] * 23)[:n])
    key = getkey()
    run = lambda: ij.simulate(batch, mounts, "bmi160", key=key, rate_hz=50, cutoff_hz=6.0)  # noqa: E731
    monkeypatch.setenv("IMUSIM_CPU_THREADS", "1")
    whole = run()
    monkeypatch.setenv("IMUSIM_CPU_THREADS", "2")
    for _ in range(2):  # compiling call (parts in turn), then the thread pool (parts at once)
        parts = run()
        np.testing.assert_array_equal(parts.lengths, whole.lengths)
        for a, b in ((parts.accel, whole.accel), (parts.gyro, whole.gyro), (parts.q_ws, whole.q_ws)):
            np.testing.assert_allclose(a, b, atol=5e-3, rtol=1e-4)  # round-off may flip a quantiser's last bit
        assert np.mean(np.asarray(parts.accel) == np.asarray(whole.accel)) > 0.999


def test_simulated_noise_is_the_public_noise_model_applied_to_the_ideal_signal(getkey):
    """simulate(..., noise, key=keys) equals apply_noise(keys[b], ideal clip b) for every clip of a batch with
    different lengths and one noise model per clip: the noise a user calibrates with the public function is the
    noise the simulator adds."""
    rng = np.random.default_rng(3)
    clips = [ij.Motion.create(reference_joints()[None] + 0.01 * rng.normal(size=(T, 17, 3)).cumsum(0) / 10, 30.0,
                              "coco17") for T in (40, 90, 64)]
    batch = ij.stack_motions(clips)
    keys = jax.random.split(getkey(), 3)
    noises = ij.stack_noise(["bmi160", "lsm6dso", "bmi270"])
    ideal = ij.simulate(batch, "watch-right", None, rate_hz=50, cutoff_hz=6.0)
    noisy = ij.simulate(batch, "watch-right", noises, key=keys, rate_hz=50, cutoff_hz=6.0)
    for b, name in enumerate(["bmi160", "lsm6dso", "bmi270"]):
        n = int(ideal.lengths[b])
        a, g = ij.apply_noise(keys[b], ideal.accel[b, :n], ideal.gyro[b, :n], ij.get_noise(name), 50.0)
        np.testing.assert_allclose(noisy.accel[b, :n], a, atol=5e-3)  # one 16-bit LSB at most
        np.testing.assert_allclose(noisy.gyro[b, :n], g, atol=1.2e-3)
        assert float(np.abs(np.asarray(noisy.accel[b, :n]) - np.asarray(ideal.accel[b, :n])).max()) > 0.01


def test_white_noise_of_a_resting_sensor_has_the_density_times_root_rate(getkey):
    """A resting watch with white noise only: each axis scatters about its ideal reading with sigma = N sqrt(fs)."""
    N_acc, N_gyr, fs = 2e-3, 1e-3, 100.0
    noise = ij.ImuNoise(ij.SensorNoise.create(noise_density=N_acc), ij.SensorNoise.create(noise_density=N_gyr))
    rest = ij.Motion.create(np.repeat(reference_joints()[None], 3000, 0), 30.0, "coco17")
    ideal = ij.simulate(rest, "watch-left", None, rate_hz=fs)
    imu = ij.simulate(rest, "watch-left", noise, key=getkey(), rate_hz=fs)
    da, dg = np.asarray(imu.accel) - np.asarray(ideal.accel), np.asarray(imu.gyro) - np.asarray(ideal.gyro)
    n = len(da)  # 10,000 samples: the standard deviation is known to 1.4 % (2 sigma)
    np.testing.assert_allclose(da.std(0), N_acc * np.sqrt(fs), rtol=0.03)
    np.testing.assert_allclose(dg.std(0), N_gyr * np.sqrt(fs), rtol=0.03)
    np.testing.assert_allclose(da.mean(0), 0.0, atol=4 * N_acc * np.sqrt(fs) / np.sqrt(n))


def _winter_cutoff_scipy(x, fps, lo_hz=1.0, step_hz=0.25, max_hz=15.0):
    """Winter's residual analysis one clip at a time with SciPy: the reference auto_cutoffs must reproduce."""
    import scipy.signal

    x = np.asarray(x, np.float64) - np.mean(x, 0)
    hi = 0.4 * fps
    if hi <= lo_hz + 4 * step_hz or len(x) < 16:
        return float(min(max(lo_hz, 0.25 * fps), hi, max_hz))
    grid = np.arange(lo_hz, hi + 1e-9, step_hz)
    res = np.array([np.sqrt(np.mean((x - scipy.signal.sosfiltfilt(scipy.signal.butter(2, fc, fs=fps, output="sos"),
                                                                      x, axis=0, padlen=min(len(x) - 1, 9))) ** 2))
                    for fc in grid])
    tail = grid >= grid[0] + 0.6 * (grid[-1] - grid[0])
    _, intercept = np.polyfit(grid[tail], res[tail], 1)
    below = np.nonzero(res <= max(intercept, 0.0))[0]
    return float(min(grid[below[0]] if len(below) else grid[-1], max_hz))


@pytest.mark.parametrize("path", ["jax", "scipy"])
def test_batched_auto_cutoffs_are_scipys_residual_analysis(realdata, monkeypatch, path):
    """auto_cutoffs (one vectorised JAX recurrence over clips x cut-offs x channels, or SciPy for a few clips)
    chooses exactly the cut-offs that SciPy's sosfiltfilt, one clip and one cut-off at a time, gives: on jittery synthetic arms at mixed
    lengths and rates (a 12-frame clip takes the short-clip rule) and on real UTD-MHAD Kinect skeletons."""
    import scipy.io

    rng = np.random.default_rng(11)
    base = reference_joints()[[5, 7, 9, 6]].reshape(12)
    xs, fps = [], []
    for T, f in [(12, 30.0), (40, 30.0), (90, 25.0), (150, 60.0), (300, 30.0), (240, 100.0)]:
        t = np.arange(T)[:, None] / f
        xs.append(base + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 3, 12) * t) + rng.normal(0, 0.004, (T, 12)))
        fps.append(f)
    K = (8, 9, 10, 4)  # Kinect v1: right shoulder, elbow, wrist, left shoulder
    for path in sorted((realdata / "utd_mhad" / "Skeleton").glob("*.mat"))[::40][:8]:
        sk = scipy.io.loadmat(path)["d_skel"]
        world = np.stack([-sk[:, 0].T, sk[:, 2].T, sk[:, 1].T], -1)
        xs.append(world[:, K].reshape(len(world), 12))
        fps.append(float(rng.uniform(15.0, 30.0)))
    from imusim_jax import _cutoff

    monkeypatch.setattr(_cutoff, "_AUTO_JAX_MIN_CLIPS", 1 if path == "jax" else 10 ** 9)
    got = ij.auto_cutoffs(xs, fps)
    want = [_winter_cutoff_scipy(x, f) for x, f in zip(xs, fps)]
    assert got == want
    assert len(set(want)) > 3  # the clips really differ
    assert ij.auto_cutoff(xs[4], fps[4]) == want[4]


def test_wide_vector_compile_option_is_used_at_the_top_level_and_changes_nothing(getkey, monkeypatch):
    """On a CPU the top-level compiled core asks XLA for 512-bit vectors (``_simulate._WIDE_VECTORS``); the signal
    is the plain compilation's (``IMUSIM_CPU_VECTOR_WIDTH=default``), and a user's ``jax.jit`` of ``simulate``
    (where jax refuses compile options on the nested core) runs too."""
    from imusim_jax import _simulate

    if jax.default_backend() != "cpu" or _simulate._simulate_batch_wide is None:
        pytest.skip("CPU only, and a jax whose jit takes compiler_options")
    m, _ = spin_about_z(1.5, 2.0, 30.0)
    batch = ij.stack_motions([m, m])
    key = getkey()
    run = lambda: ij.simulate(batch, "watch-left", "bmi160", key=key, rate_hz=50, cutoff_hz=5.0)  # noqa: E731
    monkeypatch.setattr(_simulate, "_wide_vectors", functools.lru_cache(None)(_simulate._wide_vectors.__wrapped__))
    assert _simulate._wide_vectors()
    before = _simulate._simulate_batch_wide._cache_size()
    wide = run()
    assert _simulate._simulate_batch_wide._cache_size() == before + 1
    monkeypatch.setenv("IMUSIM_CPU_VECTOR_WIDTH", "default")
    _simulate._wide_vectors.cache_clear()
    assert not _simulate._wide_vectors()
    plain = run()
    np.testing.assert_allclose(wide.accel, plain.accel, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wide.gyro, plain.gyro, rtol=1e-5, atol=1e-5)
    monkeypatch.delenv("IMUSIM_CPU_VECTOR_WIDTH")
    _simulate._wide_vectors.cache_clear()
    jitted = jax.jit(lambda j: ij.simulate(m.replace(joints=j), "watch-left", rate_hz=50, cutoff_hz=5.0).gyro)(
        m.joints)
    np.testing.assert_allclose(jitted[5:-5, 2], 1.5, atol=1e-3)


def test_the_core_compiled_for_512_bit_vectors_has_no_arctangent(getkey, monkeypatch):
    """XLA's CPU backend miscompiles ``atan`` at 512-bit vector width (``_ops._atan_unit``): the core compiled
    with ``_WIDE_VECTORS`` must not contain one (a ``jnp.arctan`` or ``jnp.arctan2`` slipped into it would give
    wrong readings or crash, depending on the batch's length)."""
    from imusim_jax import _simulate

    if jax.default_backend() != "cpu" or not _simulate._wide_vectors():
        pytest.skip("CPU with jit compiler options only")
    wide, calls = _simulate._simulate_batch_wide, []

    def spy(*a, **k):
        calls.append((a, k))
        return wide(*a, **k)

    monkeypatch.setattr(_simulate, "_simulate_batch_wide", spy)
    m, _ = spin_about_z(1.5, 2.0, 30.0)
    ij.simulate(ij.stack_motions([m, m]), "watch-left", "bmi160", key=getkey(), rate_hz=50, cutoff_hz=5.0)
    assert calls, "the wide core did not run"
    text = wide.lower(*calls[0][0], **calls[0][1]).as_text().lower()
    assert "sqrt" in text  # the text is the core's
    assert "atan" not in text


def test_residual_curves_equal_scipys_sosfiltfilt_residuals():
    """The batched residuals behind cutoff_hz="auto" (accumulated as the backward pass runs) equal SciPy's:
    RMS of x - sosfiltfilt(x) (odd extension of min(T - 1, 9) frames), clip by clip and cut-off by cut-off."""
    import scipy.signal

    from imusim_jax import _cutoff
    from imusim_jax._kinematics import design_lowpass

    rng = np.random.default_rng(5)
    xs = [np.cumsum(rng.normal(0, 0.01, (T, 12)), 0) + rng.normal(0, 0.003, (T, 12)) for T in (40, 97, 150)]
    designs = [design_lowpass(fc, 30.0, 2) for fc in (1.0, 2.5, 4.0, 7.5, 11.0)]
    got = _cutoff._residual_curves(xs, np.stack([d.sos for d in designs]), np.stack([d.zi for d in designs]))
    for b, x in enumerate(xs):
        x = x - x.mean(0)
        for g, d in enumerate(designs):
            y = scipy.signal.sosfiltfilt(d.sos, x, axis=0, padlen=min(len(x) - 1, 9))
            np.testing.assert_allclose(got[b, g], np.sqrt(np.mean((x - y) ** 2)), rtol=2e-4, err_msg=str((b, g)))


def _bad_library_calls():
    from imusim_jax.sample import fall_motion

    m = fall_motion(fps=30, duration_s=2.0)
    two = ij.stack_motions([m, fall_motion(fps=30, duration_s=1.5)])
    nan_noise = ij.get_noise("bmi160")
    nan_noise = nan_noise.replace(accel=nan_noise.accel.replace(noise_density=np.full(3, np.nan, np.float32)))
    return {
        "lengths beyond the frames": (lambda: ij.simulate(two.replace(lengths=jnp.array([60, 100]))),
                                      "lengths must be"),
        "lengths below 4": (lambda: ij.simulate(two.replace(lengths=jnp.array([60, 2]))), "lengths must be"),
        "NaN joints past Motion.create": (lambda: ij.simulate(m.replace(joints=m.joints.at[3, 9, 0].set(jnp.nan)),
                                                              cutoff_hz=6.0), "not finite"),
        "NaN noise past SensorNoise.create": (lambda: ij.simulate(m, noise=nan_noise, key=jax.random.key(0),
                                                                  cutoff_hz=6.0), "not finite"),
        "an int key": (lambda: ij.simulate(m, noise="bmi160", key=0), "key must be a jax.random.key"),
        "jit over the whole Motion": (lambda: jax.jit(lambda mm: ij.simulate(mm, cutoff_hz=6.0).accel)(m),
                                      "concrete fps"),
        "fps of the wrong count": (lambda: ij.Motion.create(np.stack([m.joints, m.joints]), [30.0, 30.0, 30.0],
                                                            "coco17"), "fps must be one rate or one per clip"),
        "no noise models": (lambda: ij.stack_noise([]), "no noise models"),
        "no mounts": (lambda: ij.stack_mounts([]), "no mounts"),
        "a NaN noise density": (lambda: ij.SensorNoise.create(noise_density=np.nan), "must be finite"),
        "a range of zero": (lambda: ij.SensorNoise.create(range=0.0), "range must be positive"),
        "one bit": (lambda: ij.SensorNoise.create(bits=1), "bits must be 0"),
    }


@pytest.mark.parametrize("case", list(_bad_library_calls()))
def test_bad_library_input_is_a_one_line_input_error(case):
    """Inputs that get past ``Motion.create`` (``replace``, direct construction) or come from elsewhere are
    refused in one line, never a deep JAX or NumPy traceback or a silently NaN signal."""
    call, match = _bad_library_calls()[case]
    with pytest.raises(ij.InputError, match=match) as e:
        call()
    assert "\n" not in str(e.value)


def test_a_cutoff_above_half_the_frame_rate_warns_that_nothing_is_filtered():
    m, _ = spin_about_z(1.0, 1.0, 30.0)
    with pytest.warns(UserWarning, match="no low-pass filter is applied"):
        a = ij.simulate(m, cutoff_hz=20.0).accel
    np.testing.assert_array_equal(a, ij.simulate(m, cutoff_hz=None).accel)


def _bad_calls():
    from imusim_jax.sample import load_sample

    m = load_sample()
    J = np.asarray(m.joints)
    watch = ij.get_mount("watch-left")
    return {
        "an array, not a Motion": lambda: ij.simulate(J),
        "cutoff 'six'": lambda: ij.simulate(m, cutoff_hz="six"),
        "rate 'fast'": lambda: ij.simulate(m, rate_hz="fast"),
        "filter order 2.5": lambda: ij.simulate(m, filter_order=2.5),
        "filter order 0": lambda: ij.simulate(m, filter_order=0),
        "fps NaN after replace": lambda: ij.simulate(m.replace(fps=np.float32(np.nan))),
        "fps negative after replace": lambda: ij.simulate(m.replace(fps=np.float32(-30))),
        "joint set of another size after replace": lambda: ij.simulate(m.replace(joint_set="ntu25")),
        "joints without xyz after replace": lambda: ij.simulate(m.replace(joints=m.joints[:, :, 0])),
        "zero q_fs": lambda: ij.simulate(m, watch.replace(q_fs=np.zeros(4, np.float32))),
        "lever_f of 2": lambda: ij.simulate(m, watch.replace(lever_f=np.zeros(2, np.float32))),
        "NaN lever_f": lambda: ij.simulate(m, watch.replace(lever_f=np.array([np.nan, 0, 0], np.float32))),
        "Mount.create lever of 2": lambda: ij.Mount.create(np.eye(3), lever_f=(1.0, 2.0)),
        "unknown joint name": lambda: m.joint("left_wirst"),
        "stack_motions of arrays": lambda: ij.stack_motions([J]),
        "lengths for one clip": lambda: ij.Motion.create(J, 30, lengths=[100]),
        "fractional lengths": lambda: ij.Motion.create(np.stack([J, J]), 30, lengths=[100.5, 100]),
        "auto_cutoff of (T, J, 3)": lambda: ij.auto_cutoff(J, 30),
        "auto_cutoff at 0 fps": lambda: ij.auto_cutoff(J.reshape(len(J), -1), 0),
        "Trajectory with 3 rates for 2 clips": lambda: ij.Trajectory.create(
            np.zeros((2, 10, 3)), np.tile([1.0, 0, 0, 0], (2, 10, 1)), [30, 30, 30]),
        "unit 'mg'": lambda: ij.simulate(m, cutoff_hz=6.0).to_units("mg"),
    }


@pytest.mark.parametrize("case", list(_bad_calls()))
def test_bad_arguments_are_one_line_input_errors(case):
    with pytest.raises(ij.InputError) as err:
        _bad_calls()[case]()
    assert "\n" not in str(err.value)


def test_cutoff_words_in_any_case_and_a_q_fs_off_the_unit_sphere():
    """``"AUTO"``/``"None"`` are the words; a mount's ``q_fs`` is a direction (an optimiser may change its norm),
    so twice the quaternion is the same mount."""
    from imusim_jax.sample import load_sample

    m = load_sample()
    a = ij.simulate(m, "watch-left", cutoff_hz=6.0)
    b = ij.simulate(m, ij.get_mount("watch-left").replace(q_fs=np.array([2.0, 0, 0, 0], np.float32)), cutoff_hz=6.0)
    np.testing.assert_allclose(b.accel, a.accel, atol=1e-5)
    np.testing.assert_array_equal(ij.simulate(m, cutoff_hz="AUTO").accel, ij.simulate(m, cutoff_hz="auto").accel)
    np.testing.assert_array_equal(ij.simulate(m, cutoff_hz=" None ").accel, ij.simulate(m, cutoff_hz=None).accel)


def test_auto_cutoff_takes_the_movement_band_on_clean_data_and_winters_choice_on_noisy_data():
    """Winter's noise line assumes the grid's top is noise; on clean joints the residual there is the motion's
    own harmonics, still falling, and a cut-off at 6-7 Hz took 12 % off a clean 3 Hz elbow flexion's
    acceleration at 30 fps. Noisy joints keep Winter's choice."""
    from imusim_jax._cutoff import MAX_AUTO_CUTOFF_HZ

    t = np.arange(150) / 30.0
    clean = np.stack([0.1 * np.sin(2 * np.pi * 3 * t) + 0.02 * np.sin(2 * np.pi * 6 * t + 0.3),
                      0.08 * np.cos(2 * np.pi * 2 * t), 0.05 * np.sin(2 * np.pi * 1 * t)], 1)
    assert ij.auto_cutoff(clean, 30.0) == MAX_AUTO_CUTOFF_HZ
    noisy = clean + 0.003 * np.random.default_rng(0).normal(size=clean.shape)
    assert 2.0 <= ij.auto_cutoff(noisy, 30.0) < 10.0


def test_a_forearm_not_of_human_length_is_refused_or_warned_in_the_library():
    """Millimetres (a mocap export): refused in one line; a collapsed arm: a ``ForearmWarning`` naming the clip,
    its length and every such clip; a human arm: neither."""
    import warnings

    from imusim_jax.sample import load_sample

    m = load_sample()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ij.ForearmWarning)
        ij.simulate(m, cutoff_hz=6.0)  # a human forearm: no warning
    with pytest.raises(ij.InputError, match=r"forearm \(elbow to wrist\) is 2\d\d m long .* in metres"):
        ij.simulate(m.replace(joints=m.joints * 1000.0), cutoff_hz=6.0)
    batch = ij.stack_motions([m, m.replace(joints=m.joints * 0.01), m.replace(joints=m.joints * 0.02)])
    with pytest.warns(ij.ForearmWarning, match=r"clip 1 \(and 1 more\): the left forearm .*shorter than 2 cm") as w:
        ij.simulate(batch, cutoff_hz=6.0)
    assert w[0].message.clips == (1, 2)
    np.testing.assert_allclose(np.asarray(w[0].message.lengths_m) / np.array([0.01, 0.02]), 0.25, rtol=0.2)
