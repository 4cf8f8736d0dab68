"""Motion/Trajectory readers, joint-set conversion by name, signal files."""
import jax
import numpy as np
import pytest

import imusim_jax as ij
from imusim_jax import io as iio
from imusim_jax._joints import COCO17, H36M17, conversion_matrix, convert
from motions import reference_joints


def test_joint_sets_are_named_and_converted_by_name():
    rng = np.random.default_rng(0)
    coco = rng.normal(size=(10, 17, 3))
    h36 = convert(coco, "coco17", "h36m17")
    np.testing.assert_allclose(h36[:, H36M17.index("left_wrist")], coco[:, COCO17.index("left_wrist")])
    np.testing.assert_allclose(h36[:, H36M17.index("pelvis")],
                               coco[:, [COCO17.index("left_hip"), COCO17.index("right_hip")]].mean(1))
    # left stays left: H36M lists the right leg first, COCO the left
    assert H36M17.index("right_hip") == 1 and COCO17.index("left_hip") == 11
    np.testing.assert_allclose(conversion_matrix("ntu25", "coco17").sum(1), 1.0)
    report = ij.conversion_report("h36m17", "coco17")
    assert report["left_eye"].endswith("(stand-in)")
    conf = convert(np.ones((10, 17)), "coco17", "h36m17", joint_axis=-1)
    assert conf.shape == (10, 17)
    with pytest.raises(ValueError, match="unknown joint set"):
        ij.get_joint_set("smpl24")
    for spelling, name in (("COCO_17", "coco17"), ("coco-17", "coco17"), (" H36M17 ", "h36m17"),
                           ("Human3.6M", "h36m17"), ("NTU_RGB+D", "ntu25"), ("kinect_v1", "kinect20")):
        assert ij.get_joint_set(spelling).name == name, spelling


def test_motion_to_converts_joints_and_simulates_the_same_wrist():
    m = ij.Motion.create(np.repeat(reference_joints()[None], 20, 0), 30.0, "coco17")
    h = m.to("h36m17")
    assert h.joint_set == "h36m17" and h.joints.shape == (20, 17, 3)
    a = ij.simulate(m, "watch-left", cutoff_hz=None)
    b = ij.simulate(h, "watch-left", cutoff_hz=None)
    np.testing.assert_allclose(a.accel, b.accel, atol=1e-3)


def test_npz_and_csv_round_trip(tmp_path):
    from imusim_jax.sample import load_sample

    m = load_sample()
    m.save_npz(tmp_path / "m.npz")
    m.save_csv(tmp_path / "m.csv")
    for p in ("m.npz", "m.csv"):
        back = ij.load_motion(tmp_path / p)
        assert back.joint_set == "coco17" and float(back.fps) == pytest.approx(30.0)
        np.testing.assert_allclose(back.joints, m.joints, atol=1e-6)


@pytest.mark.parametrize("fps,seconds,fmt,want", [
    (30.0, 60.0, "%.3f", 30.0),  # milliseconds: each step reads 0.033 s (30.3 fps), the whole clip 30 fps
    (120.0, 60.0, "%.10f", 120.0),
    (30000 / 1001, 10.0, "%.3f", 30000 / 1001),  # NTSC
    (100.0, 0.04, "%.3f", 100.0),  # five frames
    (25.3, 12.0, "%.6f", None),  # no common rate near: the mean step, to the timestamps' resolution
])
def test_csv_frame_rate_from_rounded_timestamps(tmp_path, fps, seconds, fmt, want):
    n = int(round(seconds * fps)) + 1
    t = np.arange(n) / fps
    joints = np.tile(reference_joints(), (n, 1, 1)) + 0.01 * np.sin(t)[:, None, None]
    cols = ["t"] + [f"{j}_{a}" for j in ij.get_joint_set("coco17").joints for a in "xyz"]
    rows = np.column_stack([t, joints.reshape(n, -1)])
    with open(tmp_path / "m.csv", "w") as f:
        f.write("# joint_set=coco17\n" + ",".join(cols) + "\n")
        for r in rows:
            f.write(",".join([fmt % r[0]] + [f"{v:.6f}" for v in r[1:]]) + "\n")
    m = ij.load_motion(tmp_path / "m.csv")
    if want is not None:
        assert float(m.fps) == pytest.approx(want, rel=1e-7)  # float32: 1 ulp is 6e-8
    else:
        assert float(m.fps) == pytest.approx(fps, rel=2e-6)
    # the same IMU samples as the clip at its true rate (both ends included)
    assert ij.simulate(m, cutoff_hz=None).num_samples == int(np.floor((n - 1) / fps * 50 + 1e-6)) + 1


@pytest.mark.parametrize("content,match", [
    (dict(fps=30.0, joint_set="coco17"), "no array 'joints'"),
    (dict(joints=np.zeros((20, 17, 3)), joint_set="coco17"), "no 'fps'"),
    (dict(joints=np.zeros((20, 17, 3)), fps=30.0), "no 'joint_set'"),
    (dict(joints=np.zeros((20, 17, 3)), fps=30.0, joint_set="smpl"), "unknown joint set"),
    (dict(joints=np.full((20, 17, 3), np.nan), fps=30.0, joint_set="coco17"), "NaN"),
    (dict(joints=np.zeros((2, 17, 3)), fps=30.0, joint_set="coco17"), "too few frames"),
    (dict(joints=np.zeros((20, 15, 3)), fps=30.0, joint_set="coco17"), "has 17 joints"),
    (dict(joints=np.zeros((20, 17, 3)), fps=0.0, joint_set="coco17"), "fps must be positive"),
    (dict(joints=np.zeros((20, 17, 3)), fps="thirty", joint_set="coco17"), "'fps' must be a number"),
    (dict(joints=np.zeros((20, 17, 3)), fps=[30.0, 25.0], joint_set="coco17"), "'fps' must be a scalar"),
    (dict(joints=np.zeros((20, 17, 2)), fps=30.0, joint_set="coco17"), "shape"),
])
def test_bad_npz_input_gives_one_line_errors(tmp_path, content, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **content)
    with pytest.raises(ij.InputError, match=match) as e:
        ij.load_motion(path)
    assert "\n" not in str(e.value)


def test_unreadable_files(tmp_path):
    (tmp_path / "x.npz").write_text("not a zip")
    with pytest.raises(ij.InputError, match="cannot read .* not a zip archive"):  # not numpy's pickle message
        ij.load_motion(tmp_path / "x.npz")
    np.save(tmp_path / "a.npy", np.zeros((20, 17, 3)))
    (tmp_path / "a.npz").write_bytes((tmp_path / "a.npy").read_bytes())
    with pytest.raises(ij.InputError, match="a single .npy array"):
        ij.load_motion(tmp_path / "a.npz")
    (tmp_path / "r.csv").write_bytes(bytes(range(128, 256)) * 8)
    for load in (ij.load_motion, ij.load_trajectory):
        with pytest.raises(ij.InputError, match="not a text"):
            load(tmp_path / "r.csv")
    with pytest.raises(ij.InputError, match="no such file"):
        ij.load_motion(tmp_path / "missing.npz")
    with pytest.raises(ij.InputError, match="unsupported"):
        ij.load_motion(tmp_path / "x.bvh") if (tmp_path / "x.bvh").write_text("") is not None else None


def test_trajectory_csv_both_layouts(tmp_path):
    t = np.arange(50) / 100.0
    q = np.stack([np.cos(t / 2), np.zeros_like(t), np.zeros_like(t), np.sin(t / 2)], -1)  # yaw = t rad
    tr = ij.Trajectory.create(np.stack([t, 2 * t, 0 * t], -1), q, 100.0)
    tr.save_csv(tmp_path / "q.csv")
    back = ij.load_trajectory(tmp_path / "q.csv")
    np.testing.assert_allclose(back.q_wb, tr.q_wb, atol=1e-6)
    assert float(back.fps) == pytest.approx(100.0)
    rows = np.column_stack([t, t, 2 * t, 0 * t, 0 * t, 0 * t, np.degrees(t)])
    np.savetxt(tmp_path / "e.csv", rows, delimiter=",", header="time,x,y,z,roll,pitch,yaw", comments="")
    euler = ij.load_trajectory(tmp_path / "e.csv")
    np.testing.assert_allclose(np.abs(np.sum(np.asarray(euler.q_wb) * q, -1)), 1.0, atol=1e-6)
    np.savetxt(tmp_path / "bad.csv", rows[:, :4], delimiter=",", header="t,x,y,z", comments="")
    with pytest.raises(ij.InputError, match="orientation"):
        ij.load_trajectory(tmp_path / "bad.csv")


@pytest.mark.parametrize("ext", [".csv", ".npz", ".parquet"])
def test_signal_files_round_trip(tmp_path, ext):
    from imusim_jax.sample import load_sample

    imu = ij.simulate(load_sample(), "watch-left", cutoff_hz=6.0)
    path = tmp_path / ("out" + ext)
    iio.write_signal(imu, path)
    back = iio.read_signal(path)
    np.testing.assert_allclose(back.accel, imu.accel, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(back.t, imu.t, atol=1e-9)
    assert back.rate_hz == pytest.approx(50.0)
    if ext == ".csv":
        assert path.read_text().splitlines()[0] == "t,ax,ay,az,gx,gy,gz"
    if ext == ".npz":  # the orientation comes back too
        np.testing.assert_allclose(back.q_ws, imu.q_ws, atol=1e-6)
    assert not list(tmp_path.glob(".tmp-*"))  # atomic writes leave nothing behind


def test_long_csv_layout(tmp_path):
    from imusim_jax.sample import load_sample

    m = load_sample()
    J = np.asarray(m.joints, np.float64)
    names = ij.get_joint_set("coco17").joints
    lines = ["frame,joint,x,y,z,fps,joint_set"]
    for i in range(J.shape[0]):
        for j, n in enumerate(names):
            lines.append(f"{i},{n},{J[i, j, 0]:.9g},{J[i, j, 1]:.9g},{J[i, j, 2]:.9g},30,coco17")
    (tmp_path / "long.csv").write_text("\n".join(lines) + "\n")
    back = ij.load_motion(tmp_path / "long.csv")
    np.testing.assert_allclose(back.joints, m.joints, atol=1e-6)
    (tmp_path / "bad.csv").write_text("frame,joint,x,y,z\n0,left_toe,0,0,0\n")
    with pytest.raises(ij.InputError, match="left_toe"):
        ij.load_motion(tmp_path / "bad.csv", fps=30, joint_set="coco17")


def test_atomic_writes_get_the_permissions_open_would_give(tmp_path):
    import os
    import stat

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with iio.atomic_path(tmp_path / "out.csv") as tmp:
        with open(tmp, "w") as f:
            f.write("t\n")
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "out.csv") == mode(plain)  # not mkstemp's 0600


def test_numbers_only_and_axis_first_csv_layouts(tmp_path):
    """``numpy.savetxt`` of ``joints.reshape(T, -1)`` (with or without a time column first), ``x0,y0,z0,..``
    headers, and a pandas-style index column all read back the same joints; an ambiguous joint count asks for
    the joint set in one line."""
    from imusim_jax.sample import load_sample

    m = load_sample()
    J = np.asarray(m.joints, np.float64)
    T = len(J)
    t = np.arange(T) / float(m.fps)
    flat = J.reshape(T, -1)
    np.savetxt(tmp_path / "plain.csv", flat, delimiter=",")
    np.savetxt(tmp_path / "spaces.txt", np.column_stack([t, flat]), header="joint_set=coco17")
    np.savetxt(tmp_path / "timed.csv", np.column_stack([t, flat]), delimiter=",", header="joint_set=coco17",
               comments="# ")
    axes = ",".join(f"{a}{j}" for j in range(17) for a in "xyz")
    np.savetxt(tmp_path / "axes.csv", np.column_stack([t, flat]), delimiter=",", header="t," + axes, comments="")
    named = ",".join(f"{n}_{a}" for n in COCO17.joints for a in "xyz")
    np.savetxt(tmp_path / "indexed.csv", np.column_stack([np.arange(T), t, flat]), delimiter=",",
               header=",t," + named, comments="")
    for name, kw in [("plain.csv", dict(fps=float(m.fps), joint_set="coco17")), ("timed.csv", {}), ("spaces.txt", {}),
                     ("axes.csv", dict(joint_set="coco17")), ("indexed.csv", {})]:
        back = ij.load_motion(tmp_path / name, **kw)
        assert back.joint_set == "coco17", name
        np.testing.assert_allclose(back.joints, m.joints, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(float(back.fps), float(m.fps), rtol=1e-6, err_msg=name)
    for name in ("plain.csv", "axes.csv"):
        with pytest.raises(ij.InputError, match="coco17 or h36m17"):
            ij.load_motion(tmp_path / name, fps=30.0)
    np.savetxt(tmp_path / "odd.csv", flat[:, :-1], delimiter=",")
    with pytest.raises(ij.InputError, match="3 per joint"):
        ij.load_motion(tmp_path / "odd.csv", fps=30.0, joint_set="coco17")


def test_nan_joints_with_confidence_zero_are_interpolated_and_missing_rig_joints_are_refused():
    """NaN joints are accepted where their confidence is 0: interpolated over time (exact for linear motion,
    held at the clip's ends). A joint the forearm model does not read may be missing throughout; one it reads
    may not, and a NaN with a positive confidence is an error."""
    T = 40
    t = np.arange(T) / 30.0
    joints = reference_joints()[None] + np.outer(t, [0.3, -0.2, 0.1])[:, None, :]  # a linear walk
    wrist, elbow, ankle = COCO17.index("left_wrist"), COCO17.index("left_elbow"), COCO17.index("left_ankle")
    holes = joints.copy()
    conf = np.ones((T, 17))
    holes[10:14, wrist] = np.nan
    holes[:3, elbow] = np.nan
    holes[:, ankle] = np.nan
    conf[np.isnan(holes).any(-1)] = 0.0
    m = ij.Motion.create(holes, 30.0, "coco17", confidence=conf)
    got = np.asarray(m.joints, np.float64)
    np.testing.assert_allclose(got[10:14, wrist], joints[10:14, wrist], atol=1e-6)  # PCHIP: exact on a line
    np.testing.assert_allclose(got[:3, elbow], np.repeat(joints[3:4, elbow], 3, 0), atol=1e-6)  # held
    np.testing.assert_array_equal(got[:, ankle], 0.0)
    np.testing.assert_array_equal(np.asarray(m.confidence)[10:14, wrist], 0.0)
    # the ankle is not read by the left forearm model: the same signal as with the ankle present
    full = joints.copy()
    full[:3, elbow] = joints[3, elbow]
    a = ij.simulate(m, "watch-left", cutoff_hz=6.0)
    b = ij.simulate(ij.Motion.create(full, 30.0, "coco17"), "watch-left", cutoff_hz=6.0)
    np.testing.assert_allclose(a.accel, b.accel, atol=1e-4)
    # a wrist missing throughout cannot be simulated
    gone, conf2 = holes.copy(), conf.copy()
    gone[:, wrist], conf2[:, wrist] = np.nan, 0.0
    with pytest.raises(ij.InputError, match="left_wrist .* missing in every frame"):
        ij.simulate(ij.Motion.create(gone, 30.0, "coco17", confidence=conf2))
    conf3 = conf.copy()
    conf3[12, wrist] = 0.6
    with pytest.raises(ij.InputError, match=r"index \(12, 9\) where the confidence is 0.6"):
        ij.Motion.create(holes, 30.0, "coco17", confidence=conf3)


def test_unbatch_gives_each_clip_without_its_padding():
    clips = [ij.Motion.create(reference_joints()[None] + 0.01 * np.arange(T)[:, None, None], 30.0 + T, "coco17")
             for T in (20, 33, 27)]
    batch = ij.stack_motions(clips)
    back = batch.unbatch()
    for a, b in zip(back, clips):
        assert a.lengths is None and not a.batched and float(a.fps) == float(b.fps)
        np.testing.assert_array_equal(a.joints, b.joints)
        assert isinstance(a.joints, jax.Array)
    sig = ij.simulate(batch, "watch-left", rate_hz=50, cutoff_hz=6.0)
    for b, one in enumerate(sig.unbatch()):
        n = int(sig.lengths[b])
        assert one.lengths is None and one.accel.shape == (n, 3) and one.q_ws.shape == (n, 4)
        np.testing.assert_array_equal(one.gyro, sig.gyro[b, :n])
        assert isinstance(one.accel, jax.Array)
    for b, one in enumerate(sig.unbatch(host=True)):  # NumPy clips, for writing files
        n = int(sig.lengths[b])
        assert isinstance(one.accel, np.ndarray) and isinstance(one.q_ws, np.ndarray)
        np.testing.assert_array_equal(one.accel, sig.accel[b, :n])


@pytest.mark.parametrize("name,content,match", [
    ("missing.csv", None, "no such file"),
    ("garbage.npz", b"not a zip", "not a zip archive"),
    ("notes.txt", b"t,ax", "unsupported"),
    ("short_rows.csv", b"t,ax,ay,az,gx,gy,gz\n0,1,2\n0.02,1,2\n", "expected rows|cannot read"),
])
def test_read_signal_errors_are_one_line_input_errors(tmp_path, name, content, match):
    from imusim_jax.io import read_signal

    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ij.InputError, match=match) as err:
        read_signal(path)
    assert "\n" not in str(err.value)
