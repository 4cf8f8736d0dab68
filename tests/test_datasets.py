"""Real dataset formats read directly: NTU RGB+D ``.skeleton`` text and UTD-MHAD ``*_skeleton.mat``.

Part (a) writes small files in the datasets' own layouts and checks exact values after the camera-to-world axis
change, which person is chosen, gap filling, the UTD frame rate taken from the inertial file, and one-line errors.
Part (b) reads the real files under ``../shared/realdata`` (skipped when absent) and checks physics: a z-up world,
an unmirrored body facing the camera, plausible bones, and a simulated watch that reads 1 g at rest.
"""
import csv
import glob
import os

import numpy as np
import pytest
import scipy.io

import imusim_jax as ij
from imusim_jax.datasets import kinect, ntu, utd_mhad
from imusim_jax._joints import KINECT20, NTU25

from motions import G
from test_cli import run

# ---------------------------------------------------------------------------------------------------------------
# helpers: writers in the datasets' own layouts
# ---------------------------------------------------------------------------------------------------------------


def ntu_text(frames, n_frames=None):
    """``frames``: one list per frame of ``(body_id, joints (25, 3) camera, tracking (25,))``."""
    out = [str(len(frames) if n_frames is None else n_frames)]
    for bodies in frames:
        out.append(str(len(bodies)))
        for body_id, joints, tracking in bodies:
            out.append(f"{body_id} 0 1 1 1 1 0 -0.1159187 0.1413209 2")
            out.append("25")
            for (x, y, z), s in zip(joints, tracking):
                # x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState
                out.append(f"{float(x)!r} {float(y)!r} {float(z)!r} 276.1 190.1 1032.3 514.1 "
                           f"-0.17 0.04 0.97 -0.16 {int(s)}")
    return "\n".join(out) + "\n"


def body_joints(seed, offset=0.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, size=(25, 3)) + np.array([offset, 0.0, 3.0])


def world(cam):
    cam = np.asarray(cam)
    return np.stack([-cam[..., 0], cam[..., 2], cam[..., 1]], -1)


ID_A, ID_B = "72057594037931648", "72057594037931649"  # real-looking IDs: larger than float64 counts exactly

# ---------------------------------------------------------------------------------------------------------------
# (a) synthetic files
# ---------------------------------------------------------------------------------------------------------------


def test_camera_to_world_is_a_proper_rotation_that_keeps_left_and_right():
    C = kinect.CAMERA_TO_WORLD
    np.testing.assert_allclose(C @ C.T, np.eye(3))
    assert np.linalg.det(C) == pytest.approx(1.0)
    v = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(kinect.camera_to_world(v), v @ C.T)
    # A person facing a Kinect: their right shoulder is at +x (the sensor's left), head up (+y), 3 m away.
    cam = {"left_shoulder": [-0.2, 0.4, 3.0], "right_shoulder": [0.2, 0.4, 3.0], "head": [0.0, 0.7, 3.0],
           "spine_base": [0.0, 0.0, 3.0]}
    w = {k: kinect.camera_to_world(v) for k, v in cam.items()}
    np.testing.assert_allclose(w["head"], [0.0, 3.0, 0.7])
    assert w["head"][2] > w["spine_base"][2]  # z is up
    forward = np.cross([0, 0, 1], w["right_shoulder"] - w["left_shoulder"])  # up x (right - left) = facing
    toward_camera = -w["spine_base"] * [1, 1, 0]
    assert forward @ toward_camera > 0  # a mirroring axis swap (x, z, y) would make them face away


def test_ntu_three_frames_two_bodies_values_and_body_choice(tmp_path):
    a0, a1, a2 = body_joints(0), body_joints(1), body_joints(2)
    b0 = body_joints(3, offset=1.0)
    tr_a = np.full(25, 2)
    tr_a[[6, 10]] = 1  # wrists inferred
    tr_a[7] = 0  # left hand not tracked
    frames = [
        [(ID_B, b0, np.full(25, 2))],                                 # B appears first...
        [(ID_A, a0, tr_a)],
        [(ID_A, a1, tr_a), (ID_B, np.zeros((25, 3)), np.zeros(25))],  # ...but its joints are zero here
    ]
    p = tmp_path / "two.skeleton"
    p.write_text(ntu_text(frames))
    # default: the body present in the most frames (A, 2 of 3), not the first listed (B, 1 of 3)
    c = ntu.read_ntu_skeleton(p)
    assert c.joint_set == "ntu25" and c.fps == 30.0 and c.first_frame == 1 and ID_A in c.note
    assert c.joints.shape == (2, 25, 3)
    np.testing.assert_array_equal(c.joints, world(np.stack([a0, a1])))  # exact: (-x, z, y)
    np.testing.assert_array_equal(c.joints[0, NTU25.index("head")],
                                  [-a0[3, 0], a0[3, 2], a0[3, 1]])  # NTU joint 4 is the head
    np.testing.assert_array_equal(c.confidence, np.stack([tr_a, tr_a]) / 2.0)
    # by index in order of first appearance: 1 is A, 0 is B (present in one frame only: refused)
    np.testing.assert_array_equal(ntu.read_ntu_skeleton(p, body=1).joints, c.joints)
    with pytest.raises(ij.InputError, match="1 frame") as e:
        ntu.read_ntu_skeleton(p, body=0)
    assert "\n" not in str(e.value)
    with pytest.raises(ij.InputError, match="has 2"):
        ntu.read_ntu_skeleton(p, body=2)
    # a 3-frame clip is below a Motion's minimum: load_motion says so in one line
    with pytest.raises(ij.InputError, match="too few frames"):
        ij.load_motion(p)
    assert not np.isin(world(b0), c.joints).any()  # B's frame is never mixed into A


def test_ntu_gaps_are_interpolated_and_edges_trimmed(tmp_path):
    base, vel, acc = body_joints(5), np.array([0.01, 0.02, -0.03]), np.array([0.002, -0.001, 0.003])
    pos = lambda f: base + vel * f + acc * f * f  # noqa: E731  (curved, so midpoints differ from a hold)
    tr = np.full(25, 2)
    frames = [[(ID_B, body_joints(9, 1.0), tr)]]  # frame 0: A not there yet (trimmed)
    for f in range(1, 8):
        if f == 3:
            frames.append([(ID_B, body_joints(9, 1.0), tr)])  # A missing
        elif f == 5:
            frames.append([(ID_A, np.zeros((25, 3)), np.zeros(25)), (ID_B, body_joints(9, 1.0), tr)])  # zeros
        else:
            frames.append([(ID_A, pos(f), tr)])
    p = tmp_path / "gaps.skeleton"
    p.write_text(ntu_text(frames))
    m = ij.load_motion(p)  # A is in 5 frames, B in 3
    assert m.joint_set == "ntu25" and m.num_frames == 7 and float(m.fps) == 30.0
    J = np.asarray(m.joints, np.float64)
    np.testing.assert_allclose(J[0], world(pos(1)), atol=1e-6)
    np.testing.assert_allclose(J[2], world((pos(2) + pos(4)) / 2), atol=1e-6)  # linear across the gap
    np.testing.assert_allclose(J[4], world((pos(4) + pos(6)) / 2), atol=1e-6)
    assert np.abs(J[2] - world(pos(3))).max() > 1e-3  # really interpolated, not read from somewhere else
    conf = np.asarray(m.confidence)
    np.testing.assert_array_equal(conf.min(1), [1, 1, 0, 1, 0, 1, 1])
    # fps and body through load_motion
    assert float(ij.load_motion(p, fps=25).fps) == 25.0
    mb = ij.load_motion(p, body=0)  # B (listed first): present in frames 0, 3, 5 (A's gaps), so frames 0-5
    assert mb.num_frames == 6
    np.testing.assert_allclose(np.asarray(mb.joints[3]), world(body_joints(9, 1.0)), atol=1e-6)
    # joint_set must be the file's own; body= only for .skeleton
    assert ij.load_motion(p, joint_set="ntu").joint_set == "ntu25"
    with pytest.raises(ij.InputError, match="holds joint set ntu25"):
        ij.load_motion(p, joint_set="coco17")
    ij.Motion.create(J, 30.0, "ntu25").save_npz(tmp_path / "m.npz")
    with pytest.raises(ij.InputError, match="body="):
        ij.load_motion(tmp_path / "m.npz", body=0)


def test_ntu_long_gap_is_refused(tmp_path):
    tr = np.full(25, 2)
    frames = [[(ID_A, body_joints(0) + 0.01 * f, tr)] if f < 3 or f > 22 else [] for f in range(26)]
    p = tmp_path / "long.skeleton"
    p.write_text(ntu_text(frames))
    with pytest.raises(ij.InputError, match="missing for 20 frames") as e:
        ij.load_motion(p)
    assert "\n" not in str(e.value)
    # at a lower rate the same 20 frames are longer still; at 60 fps (0.33 s) they are filled
    assert ij.load_motion(p, fps=60).num_frames == 26


@pytest.mark.parametrize("cut,match", [
    (lambda t: t[: len(t) // 2], "truncated"),                                      # ends mid-body
    (lambda t: t[: t.rindex("\n", 0, len(t) - 1)], "truncated"),                     # last joint line lost
    (lambda t: t.replace("\n25\n", "\n24\n", 1), "24 joints"),
    (lambda t: t.replace(" -0.16 2\n", " -0.16\n", 1), "expected 12 value"),
    (lambda t: "3" + t[1:], "truncated"),                                            # header says more frames
    (lambda t: t + "1\n", "more data than"),
    (lambda t: t.replace("276.1", "abc", 1), "must be numbers"),
    (lambda t: "", "truncated"),
])
def test_ntu_malformed_files_give_one_line_errors(tmp_path, cut, match):
    tr = np.full(25, 2)
    text = ntu_text([[(ID_A, body_joints(f), tr)] for f in range(2)])
    p = tmp_path / "bad.skeleton"
    p.write_text(cut(text))
    with pytest.raises(ij.InputError, match=match) as e:
        ntu.read_ntu_skeleton(p)
    assert "\n" not in str(e.value)


def test_cli_truncated_skeleton_exits_2_with_one_line(tmp_path):
    tr = np.full(25, 2)
    text = ntu_text([[(ID_A, body_joints(f), tr)] for f in range(6)])
    p = tmp_path / "cut.skeleton"
    p.write_text(text[: len(text) * 2 // 3])
    r = run("simulate", p, "-o", tmp_path / "o.csv", check=False)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "truncated" in r.stderr


def utd_layout(tmp_path, skel, iner_samples=None, name="a1_s1_t1"):
    (tmp_path / "Skeleton").mkdir(exist_ok=True)
    p = tmp_path / "Skeleton" / f"{name}_skeleton.mat"
    scipy.io.savemat(p, {"d_skel": skel})
    if iner_samples is not None:
        (tmp_path / "Inertial").mkdir(exist_ok=True)
        scipy.io.savemat(tmp_path / "Inertial" / f"{name}_inertial.mat",
                         {"d_iner": np.zeros((iner_samples, 6))})
    return p


def test_utd_values_axes_and_fps_from_the_inertial_file(tmp_path):
    rng = np.random.default_rng(7)
    T = 8
    skel = rng.uniform(-1, 1, size=(20, 3, T)) + np.array([0, 0, 3.0])[None, :, None]  # (20, 3, T) as UTD
    p = utd_layout(tmp_path, skel)
    with pytest.warns(UserWarning, match="no Inertial/a1_s1_t1_inertial.mat beside it.* 30 fps.*--fps"):
        m = ij.load_motion(p)
    assert m.joint_set == "kinect20" and m.num_frames == T
    assert float(m.fps) == 30.0  # no Inertial/ beside it: said in one warning
    J = np.asarray(utd_mhad.read_utd_skeleton(p, fps=30.0).joints)
    np.testing.assert_array_equal(J, world(np.transpose(skel, (2, 0, 1))))
    np.testing.assert_array_equal(J[:, KINECT20.index("right_wrist")], world(skel[10].T))  # UTD joint 11
    # the sibling inertial file: 8 frames over 20 samples at 50 Hz (0.4 s) -> 20 fps
    q = utd_layout(tmp_path, skel, iner_samples=20)
    assert q == p and utd_mhad.utd_inertial_path(p) == str(tmp_path / "Inertial" / "a1_s1_t1_inertial.mat")
    assert float(ij.load_motion(p).fps) == pytest.approx(20.0)
    assert "20 samples" in utd_mhad.read_utd_skeleton(p).note
    assert float(ij.load_motion(p, fps=12.5).fps) == 12.5  # an explicit rate wins
    # outside the dataset's layout there is no sibling: the default rate
    other = tmp_path / "elsewhere_skeleton.mat"
    scipy.io.savemat(other, {"d_skel": skel})
    with pytest.warns(UserWarning, match="30 fps"):
        assert utd_mhad.utd_inertial_path(other) is None and float(ij.load_motion(other).fps) == 30.0


def test_utd_zero_frames_interpolated(tmp_path):
    t = np.arange(10.0)
    skel = np.ones((20, 3, 10)) * (1.0 + 0.1 * t + 0.01 * t ** 2)
    skel[:, :, 4] = 0.0
    m = ij.load_motion(utd_layout(tmp_path, skel), fps=30.0)
    J = np.asarray(m.joints, np.float64)
    np.testing.assert_allclose(J[4, 0], world(np.full(3, (skel[0, 0, 3] + skel[0, 0, 5]) / 2)), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(m.confidence).min(1), (t != 4).astype(float))


def test_utd_malformed_files_give_one_line_errors(tmp_path):
    good = utd_layout(tmp_path, np.ones((20, 3, 6)))
    raw = good.read_bytes()
    cases = {
        "cut_skeleton.mat": (raw[: len(raw) // 2], "cannot read"),
        "junk_skeleton.mat": (b"not a mat file at all" * 10, "cannot read"),
    }
    for name, (data, match) in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(ij.InputError, match=match) as e:
            ij.load_motion(p)
        assert "\n" not in str(e.value)
    scipy.io.savemat(tmp_path / "x_skeleton.mat", {"skel": np.ones((20, 3, 6))})
    with pytest.raises(ij.InputError, match="no variable 'd_skel'"):
        ij.load_motion(tmp_path / "x_skeleton.mat")
    scipy.io.savemat(tmp_path / "y_skeleton.mat", {"d_skel": np.ones((25, 3, 6))})
    with pytest.raises(ij.InputError, match=r"\(20, 3, T\)"):
        ij.load_motion(tmp_path / "y_skeleton.mat")
    # a broken inertial sibling is named, and --fps gets around it
    utd_layout(tmp_path, np.ones((20, 3, 6)), name="a2_s1_t1")
    (tmp_path / "Inertial").mkdir()
    scipy.io.savemat(tmp_path / "Inertial" / "a2_s1_t1_inertial.mat", {"d_iner": np.zeros((10, 3))})
    with pytest.raises(ij.InputError, match="d_iner"):
        ij.load_motion(tmp_path / "Skeleton" / "a2_s1_t1_skeleton.mat")
    assert float(ij.load_motion(tmp_path / "Skeleton" / "a2_s1_t1_skeleton.mat", fps=20).fps) == 20.0


# ---------------------------------------------------------------------------------------------------------------
# (b) the real shared files
# ---------------------------------------------------------------------------------------------------------------


def _median_len(J, js, a, b):
    return float(np.median(np.linalg.norm(J[:, js.index(a)] - J[:, js.index(b)], axis=1)))


def check_real_body(J, js, spine):
    """Physics of one real clip in the world frame: z up, spine in order, plausible unmirrored arms."""
    assert np.isfinite(J).all()
    z = lambda n: float(np.mean(J[:, js.index(n), 2]))  # noqa: E731
    zs = [z(n) for n in spine]  # head ... base of the spine, top to bottom
    assert all(a > b for a, b in zip(zs, zs[1:])), zs
    ankles = (z("left_ankle") + z("right_ankle")) / 2
    assert 1.0 < z("head") - ankles < 2.0  # a standing or sitting adult's head well above the ankles
    for side in ("left", "right"):
        fore = _median_len(J, js, f"{side}_elbow", f"{side}_wrist")
        # Kinect's forearm is short of anatomy (0.188 m median on NTU P003's right arm, 0.19 on UTD's shortest)
        assert 0.15 < fore < 0.5, (side, fore)
        assert 0.15 < _median_len(J, js, f"{side}_shoulder", f"{side}_elbow") < 0.45
        assert _median_len(J, js, f"{side}_elbow", f"{side}_hand") > fore  # the hand is past the wrist
    # the subject faces the camera (at the origin): up x (right - left shoulder) points toward it
    forward = np.cross([0, 0, 1], J[:, js.index("right_shoulder")] - J[:, js.index("left_shoulder")]).mean(0)
    to_cam = -J[:, js.index(spine[-1])].mean(0) * [1, 1, 0]
    assert forward @ to_cam / np.linalg.norm(forward) / np.linalg.norm(to_cam) > 0.5


def ntu_files(realdata):
    files = sorted(glob.glob(str(realdata / "ntu_skeleton" / "*.skeleton")))
    if not files:
        pytest.skip("no NTU .skeleton files")
    return files


def utd_files(realdata):
    files = sorted(glob.glob(str(realdata / "utd_mhad" / "Skeleton" / "*_skeleton.mat")))
    if not files:
        pytest.skip("no UTD-MHAD skeleton files")
    return files


def test_real_ntu_files(realdata):
    for f in ntu_files(realdata):
        with open(f) as fh:
            header = int(fh.readline())
        m = ij.load_motion(f)
        assert m.num_frames == header and float(m.fps) == 30.0 and m.joint_set == "ntu25"
        check_real_body(np.asarray(m.joints, np.float64), NTU25, ["head", "neck", "spine_shoulder", "spine_mid",
                                                                   "spine_base"])
        conf = np.asarray(m.confidence)
        assert conf.mean() > 0.8 and set(np.unique(conf)) <= {0.0, 0.5, 1.0}


def test_real_utd_files(realdata):
    files = utd_files(realdata)
    fps = []
    for f in files:
        skel = scipy.io.loadmat(f)["d_skel"]
        m = ij.load_motion(f)
        assert m.num_frames == skel.shape[2] and m.joint_set == "kinect20"
        check_real_body(np.asarray(m.joints, np.float64), KINECT20, ["head", "spine_shoulder", "spine",
                                                                      "spine_base"])
        iner = utd_mhad.utd_inertial_path(f)
        if os.path.exists(iner):
            n = scipy.io.loadmat(iner)["d_iner"].shape[0]
            assert float(m.fps) == pytest.approx(skel.shape[2] / (n / 50.0), rel=1e-5)
        fps.append(float(m.fps))
    assert 12 < np.median(fps) < 25  # the README's 15-20 fps effective, not 30


def simulate_real(path, out):
    run("simulate", path, "--mount", "watch-right", "-o", out)
    with open(out) as f:
        rows = list(csv.DictReader(f))
    a = np.array([[float(r[k]) for k in ("ax", "ay", "az")] for r in rows])
    w = np.array([[float(r[k]) for k in ("gx", "gy", "gz")] for r in rows])
    assert np.isfinite(a).all() and np.isfinite(w).all()
    a, w = np.linalg.norm(a, axis=1), np.linalg.norm(w, axis=1)
    rest = w <= np.percentile(w, 30)  # the calmest third of the clip
    return a, rest


def test_cli_simulates_a_real_ntu_file(realdata, tmp_path):
    f = ntu_files(realdata)[0]
    a, rest = simulate_real(f, tmp_path / "out.csv")
    assert len(a) == int((ij.load_motion(f).num_frames - 1) / 30 * 50) + 1
    assert abs(np.median(a[rest]) - G) < 0.6  # 1 g at rest: neither the rate nor jitter is off
    assert np.median(a) < 1.5 * G  # reading or brushing teeth is calm


def test_cli_simulates_a_real_utd_file_over_the_imu_interval(realdata, tmp_path):
    files = [f for f in utd_files(realdata) if os.path.basename(f).startswith("a1_")]
    f = files[0] if files else utd_files(realdata)[0]
    a, rest = simulate_real(f, tmp_path / "out.csv")
    assert abs(np.median(a[rest]) - G) < 0.6
    iner = utd_mhad.utd_inertial_path(f)
    if os.path.exists(iner):  # the skeleton's rate makes it last as long as the real IMU recording
        n = scipy.io.loadmat(iner)["d_iner"].shape[0]
        assert abs(len(a) - n) <= 50 / 12 + 1


def test_cli_body_option_picks_the_person(tmp_path):
    """``imusim-jax simulate FILE.skeleton --body i``: body 0 stands still, body 1 accelerates at 2 m/s^2 sideways
    (Kinect x); each one's watch reads its own motion, and a body that is not there is one error line."""
    T, fps = 60, 30.0
    still = 0.25 * body_joints(1)  # a body of human size (a forearm longer than 1 m is refused)
    t = np.arange(T) / fps
    frames = [[(ID_A, still, np.full(25, 2)),
               (ID_B, 0.25 * body_joints(2, 4.0) + np.array([1.0, 0.0, 0.0]) * t[f] ** 2, np.full(25, 2))]
              for f in range(T)]
    p = tmp_path / "two.skeleton"
    p.write_text(ntu_text(frames))
    mean_a = {}
    for b in (0, 1):
        out = tmp_path / f"b{b}.csv"
        run("simulate", p, "--mount", "watch-right", "--body", b, "-o", out)
        rows = np.loadtxt(out, delimiter=",", skiprows=1)
        mean_a[b] = np.median(np.linalg.norm(rows[:, 1:4], axis=1))
    assert mean_a[0] == pytest.approx(G, abs=0.05)  # at rest: gravity only
    assert mean_a[1] == pytest.approx(np.hypot(G, 2.0), abs=0.15)  # gravity and 2 m/s^2 sideways
    r = run("simulate", p, "--body", 2, "-o", tmp_path / "x.csv", check=False)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "body" in r.stderr


def test_ntu_roll_defaults_to_the_hinge_and_the_thumb_is_opt_in(realdata):
    """Kinect v2's thumb jitters across the hand: on the real A003 clip (brushing teeth with the right hand), the
    resting left arm's watch would read up to ~6 rad/s of spurious roll from it; from the elbow hinge (the
    ``roll="auto"`` choice for ``ntu25``) it reads what a resting arm does."""
    from imusim_jax._orientation import arm_rig

    assert arm_rig("ntu25", "left", "auto").hand is None
    assert arm_rig("ntu25", "left", "hand").hand == "thumb"
    assert arm_rig("mediapipe33", "left", "auto").hand == "mp"
    path = realdata / "ntu_skeleton" / "S002C001P003R001A003.skeleton"
    if not path.exists():
        pytest.skip(f"{path.name} is absent")
    m = ij.load_motion(path)
    w = {r: np.linalg.norm(np.asarray(ij.simulate(m, "watch-left", roll=r).gyro), axis=-1) for r in ("auto", "hand")}
    assert w["auto"].max() < 1.0  # a resting arm
    assert w["hand"].max() > 2 * w["auto"].max()  # what the thumb would add


# ---------------------------------------------------------------------------------------------------------------
# SmartFallMM's Azure Kinect skeleton
# ---------------------------------------------------------------------------------------------------------------

def test_smartfallmm_skeleton_units_axes_and_held_rows(tmp_path):
    """96 numbers a row in mm, camera x right / y down / z forward -> metres, world (x, z, -y); a row repeating
    the one before (the tracker held its pose) is interpolated, not read as a body at rest."""
    import gzip

    from imusim_jax.datasets import smartfallmm

    rng = np.random.default_rng(3)
    T = 12
    cam = rng.uniform(-500, 500, (1, 32, 3)) + np.array([0.0, 0.0, 2500.0]) \
        + np.linspace(0, 40, T)[:, None, None] * rng.normal(size=(1, 32, 3))  # a body drifting smoothly
    cam[6] = cam[5]  # a held row
    cam[:, 7] = cam[0, 7] + np.linspace(0, 110, T)[:, None] * np.array([1.0, -1.0, 0.5])  # left wrist moves evenly
    cam[6, 7] = cam[5, 7]
    d = tmp_path / "young" / "skeleton"
    d.mkdir(parents=True)
    with gzip.open(d / "S31A10T01.csv.gz", "wt") as f:
        for row in cam.reshape(T, 96):
            f.write(",".join(f"{v:.4f}" for v in row) + "\n")
    m = ij.load_motion(d / "S31A10T01.csv.gz")
    assert m.joint_set == "azure32" and float(m.fps) == 30.0 and m.joints.shape == (T, 32, 3)
    J = np.asarray(m.joints, np.float64)
    want = np.stack([cam[..., 0], cam[..., 2], -cam[..., 1]], -1) / 1000.0
    np.testing.assert_allclose(J[5], want[5], atol=1e-6)
    np.testing.assert_array_equal(np.asarray(m.confidence)[:, 0], (np.arange(T) != 6).astype(float))
    # the held row's wrist is interpolated where the even motion puts it, not where it stood
    np.testing.assert_allclose(J[6, 7], want[0, 7] + (want[-1, 7] - want[0, 7]) * 6 / (T - 1), atol=1e-4)
    assert "left_wrist" in ij.get_joint_set("azure32").joints and m.to("coco17").joints.shape == (T, 17, 3)
    (d / "bad.csv.gz").write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(ij.InputError, match="96 numbers"):
        ij.load_motion(d / "bad.csv.gz")


def test_real_smartfallmm_skeletons_read_and_simulate(realdata):
    root = realdata / "smartfallmm" / "young" / "skeleton"
    if not root.is_dir():
        pytest.skip("no SmartFallMM skeletons")
    m = ij.load_motion(root / "S31A08T01.csv.gz")  # walking
    J = np.asarray(m.joints)
    forearm = np.linalg.norm(J[:, 7] - J[:, 6], axis=-1)
    assert 0.15 < np.median(forearm) < 0.35  # metres
    head_above_pelvis = np.median(J[:, 26, 2] - J[:, 0, 2])
    assert 0.4 < head_above_pelvis < 0.9  # z is up
    imu = ij.simulate(m, "watch-left", rate_hz=50, cutoff_hz=6.0)
    assert 8.0 < np.median(np.linalg.norm(np.asarray(imu.accel), axis=1)) < 14.0  # about g, walking
