"""``pose.world`` on synthetic scenes with known answers.

A skeleton with Winter's proportions (1.75 m) stands, walks a 2.4 m curve while turning 60°, stands, and falls
forward towards the camera (an inverted pendulum pivoting on the ankles) to lie on the floor. A pinhole camera
(f = 1100 px, 1280 x 720, 1.3 m high, pitched 12° down and rolled 4°) films it; COCO-17 keypoints are its
projections and the true root-relative H36M-17 camera-frame pose stands in for the lifter (scaled by 0.7 where
``metric_scale`` is tested). The world frame the chain recovers has the camera's heading, which here is the
scene's, so the expected world joints are the true ones shifted to put the origin below the first pelvis.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from imusim_jax._joints import get_joint_set
from imusim_jax._motion import InputError
import imusim_jax as ij
from imusim_jax.pose import world as W

FPS, HEIGHT, F_PX, SIZE = 30.0, 1.75, 1100.0, (1280, 720)
PRINCIPAL = ((SIZE[0] - 1) / 2, (SIZE[1] - 1) / 2)
H36M, COCO = get_joint_set("h36m17"), get_joint_set("coco17")
NAMES = list(H36M.joints) + [n for n in COCO.joints if n not in H36M.joints]
IDX = {n: i for i, n in enumerate(NAMES)}
SHARED = [n for n in H36M.joints if COCO.has(n)]
I3, I2 = [H36M.index(n) for n in SHARED], [COCO.index(n) for n in SHARED]
HYP = settings(max_examples=25, deadline=None)


def _rot_x(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _angle_deg(a, b):
    a, b = np.asarray(a) / np.linalg.norm(a), np.asarray(b) / np.linalg.norm(b)
    return float(np.degrees(np.arccos(np.clip(a @ b, -1, 1))))


def _synth_world(fps=FPS, height=HEIGHT):
    """World joints (T, len(NAMES), 3), metres, z up, soles on z = 0."""
    S = dict(zip(H36M.joints, W.anthropometric_skeleton("h36m17", height)))
    S.update(zip(COCO.joints, W.anthropometric_skeleton("coco17", height)))
    S = np.array([S[n] for n in NAMES])
    leg = 0.491 * height  # hip to ankle
    t_s1, t_w, t_s2, t_f = 0.6, 3.0, 0.6, 2.0
    t = np.arange(int(round((t_s1 + t_w + t_s2 + t_f) * fps))) / fps
    u = np.clip((t - t_s1) / t_w, 0, 1)
    length, th0, turn = 2.4, np.radians(-20), np.radians(-60)
    s = length * u ** 3 * (10 - 15 * u + 6 * u ** 2)  # arc length, zero speed and acceleration at both ends
    k = turn / length
    th = th0 + k * s  # walking direction in the world xy plane
    path = np.array([-1.8, 6.0]) + np.stack([(np.sin(th) - np.sin(th0)) / k, -(np.cos(th) - np.cos(th0)) / k], -1)
    w_c = 2 * np.pi * 0.9
    a = np.gradient(s, t) / (leg * w_c) * np.sin(w_c * t)  # scissor gait: the stance ankle is still at mid-stance
    tau = t - (t_s1 + t_w + t_s2)
    om = np.sqrt(9.81 / (0.6 * height))
    phi = np.where(tau > 0, np.minimum(np.pi / 2, 0.03 * (np.cosh(om * np.maximum(tau, 0)) - 1)), 0.0)
    pivot = np.array([0, 0, 0.039 * height])
    out = np.empty((len(t), len(NAMES), 3))
    for i in range(len(t)):
        B = S.copy()
        for side, s_leg, s_arm in (("left", 1, -0.5), ("right", -1, 0.5)):
            hip, sh = B[IDX[f"{side}_hip"]].copy(), B[IDX[f"{side}_shoulder"]].copy()
            for n in ("knee", "ankle"):
                B[IDX[f"{side}_{n}"]] = hip + _rot_x(s_leg * a[i]) @ (B[IDX[f"{side}_{n}"]] - hip)
            for n in ("elbow", "wrist"):
                B[IDX[f"{side}_{n}"]] = sh + _rot_x(s_arm * a[i]) @ (B[IDX[f"{side}_{n}"]] - sh)
        B[:, 2] += leg * (np.cos(a[i]) - 1)  # both ankles back on the floor
        B = (B - pivot) @ _rot_x(-phi[i]).T + pivot  # fall forward about the ankles
        B = B @ _rot_z(th[i] - np.pi / 2).T  # face the walking direction (body +y)
        B[:, :2] += path[i]
        out[i] = B
    return out


def _camera(pitch_deg=12.0, roll_deg=4.0):
    R_wc = _rot_x(np.radians(-pitch_deg)) @ W.R_WC_UPRIGHT @ _rot_z(np.radians(roll_deg))
    return R_wc, np.array([0.0, 0.0, 1.3])


def _observe(Wj, R_wc, C, scale3d=1.0):
    """(root-relative H36M camera pose * scale3d, COCO keypoints (T,17,3) with confidence 1, camera joints)."""
    Xc = (Wj - C) @ R_wc
    uv = F_PX * Xc[..., :2] / Xc[..., 2:] + np.array(PRINCIPAL)
    i3, i2 = [IDX[n] for n in H36M.joints], [IDX[n] for n in COCO.joints]
    kp = np.concatenate([uv[:, i2], np.ones((len(uv), len(i2), 1))], -1)
    return (Xc[:, i3] - Xc[:, [IDX["pelvis"]]]) * scale3d, kp, Xc


def _corrupt(kp, seed, noise_px=2.0, outliers=0.02, missing=0.0):
    rng = np.random.default_rng(seed)
    kp = kp.copy()
    kp[..., :2] += noise_px * rng.standard_normal(kp[..., :2].shape)
    out = rng.random(kp.shape[:2]) < outliers
    kp[out, :2] += rng.normal(0, 40, (out.sum(), 2))
    gone = rng.random(kp.shape[:2]) < missing
    kp[gone] = [np.nan, np.nan, 0.0]
    return kp


@pytest.fixture(scope="module")
def scene():
    Wj = _synth_world()
    R_wc, C = _camera()
    rel, kp, Xc = _observe(Wj, R_wc, C, scale3d=0.7)
    pel = Wj[:, IDX["pelvis"]]
    expected = Wj[:, [IDX[n] for n in H36M.joints]] - np.array([pel[0, 0], pel[0, 1], 0.0])
    return dict(W=Wj, R_wc=R_wc, C=C, rel=rel, kp=kp, Xc=Xc, expected=expected, t_true=Xc[:, IDX["pelvis"]])


def _run(rel, kp, **cfg):
    config = W.WorldConfig(**{"subject_height_m": HEIGHT, "focal_px": F_PX, **cfg})
    return W.to_world_motion(rel, kp, fps=FPS, image_size=SIZE, joint_set3d="h36m17", joint_set2d="coco17",
                             config=config)


# ---- scale ------------------------------------------------------------------------------------------------------

def test_anthropometric_skeleton_has_winter_proportions():
    S = W.anthropometric_skeleton("h36m17", 1.80)
    j = {n: S[H36M.index(n)] for n in H36M.joints}
    assert j["left_ankle"][2] == pytest.approx(0.039 * 1.80) and j["right_hip"][0] > 0 > j["left_hip"][0]
    assert np.linalg.norm(j["left_hip"] - j["left_knee"]) == pytest.approx(0.245 * 1.80)
    assert np.linalg.norm(j["right_elbow"] - j["right_wrist"]) == pytest.approx(0.146 * 1.80)
    for js in ("h36m17", "coco17", "mediapipe33", "ntu25", "kinect20"):
        assert W.metric_scale(W.anthropometric_skeleton(js, 1.6)[None], js, 1.6) == pytest.approx(1.0)


def test_metric_scale_recovers_a_wrong_lifter_scale(scene):
    rel = scene["rel"]  # true pose * 0.7
    assert W.metric_scale(rel, "h36m17", HEIGHT) * 0.7 == pytest.approx(1.0, abs=1e-9)
    # 1 cm of joint noise, 5% of frames with a wild wrist, and a garbage joint at confidence 0: still within 2%
    rng = np.random.default_rng(0)
    noisy = rel + 0.007 * rng.standard_normal(rel.shape)
    bad = rng.random(len(rel)) < 0.05
    noisy[bad, H36M.index("left_wrist")] += 0.5
    conf = np.ones(rel.shape[:2])
    conf[:, H36M.index("right_knee")] = 0.0
    noisy[:, H36M.index("right_knee")] = 100.0
    assert W.metric_scale(noisy, "h36m17", HEIGHT, conf) * 0.7 == pytest.approx(1.0, rel=0.02)
    assert W.metric_scale(rel, "h36m17", 2 * HEIGHT) == pytest.approx(2 * W.metric_scale(rel, "h36m17", HEIGHT))


@HYP
@given(k=st.floats(0.01, 100.0), rotvec=st.tuples(*[st.floats(-3, 3)] * 3))
def test_metric_scale_is_homogeneous_and_rotation_invariant(k, rotvec):
    from scipy.spatial.transform import Rotation

    S = W.anthropometric_skeleton("coco17", 1.7)[None]
    moved = k * S @ Rotation.from_rotvec(rotvec).as_matrix().T + 3.0
    assert W.metric_scale(moved, "coco17", 1.7) == pytest.approx(1.0 / k, rel=1e-9)


# ---- root trajectory ----------------------------------------------------------------------------------------------

def test_root_trajectory_exact_without_noise(scene):
    rel = scene["rel"] / 0.7
    for accel in (None, 10.0):
        t = W.root_trajectory(rel[:, I3], scene["kp"][:, I2], F_PX, PRINCIPAL, fps=FPS, accel_sigma_mps2=accel)
        assert np.abs(t - scene["t_true"]).max() < 1e-4  # metres (the prior with a 0.01 px noise floor: 16 µm)


def test_root_trajectory_noise_outliers_and_depth_prior(scene):
    """2 px noise and 2% of 40 px outliers: lateral ~mm, depth ~cm; the acceleration prior halves depth jitter."""
    rel, kp = scene["rel"] / 0.7, _corrupt(scene["kp"], seed=1, missing=0.05)
    err, infos = {}, {}
    for accel in (None, 10.0):
        t, infos[accel] = W.root_trajectory(rel[:, I3], kp[:, I2], F_PX, PRINCIPAL, fps=FPS, accel_sigma_mps2=accel,
                                            return_info=True)
        err[accel] = np.sqrt(np.mean((t - scene["t_true"]) ** 2, axis=0))
    assert (err[None][:2] < 0.012).all() and err[None][2] < 0.05  # measured ~[0.009 0.004 0.035]
    assert (err[10.0][:2] < 0.006).all() and err[10.0][2] < 0.025  # measured ~[0.004 0.003 0.016]
    assert err[10.0][2] < 0.6 * err[None][2]
    assert 1.5 < infos[10.0]["sigma_px"] < 2.5  # the pixel noise is estimated
    # depth jitter reads as fast depth motion; the prior removes it (the true depth speed stays under 1.2 m/s)
    assert infos[None]["max_depth_speed_mps"] > infos[10.0]["max_depth_speed_mps"]
    assert infos[10.0]["frames_over_depth_speed"] == 0 and infos[10.0]["max_depth_speed_mps"] < 2.0


def test_root_trajectory_marks_frames_without_data(scene):
    rel, kp = scene["rel"] / 0.7, scene["kp"].copy()
    kp[10:13, :, 2] = 0.0
    kp[20, 1:, 2] = 0.0  # one joint left: depth undetermined
    t, info = W.root_trajectory(rel[:, I3], kp[:, I2], F_PX, PRINCIPAL, return_info=True)
    assert np.isnan(t[[10, 11, 12, 20]]).all() and info["frames_without_data"] == 4
    assert np.abs(np.delete(t, [10, 11, 12, 20], 0) - np.delete(scene["t_true"], [10, 11, 12, 20], 0)).max() < 1e-6


@HYP
@given(offset=st.tuples(*[st.floats(-0.5, 0.5)] * 3), f=st.floats(300, 3000), cx=st.floats(0, 2000),
       cy=st.floats(0, 2000), depth=st.floats(1.5, 20.0), yaw=st.floats(-3.1, 3.1))
def test_root_trajectory_follows_the_root_choice(offset, f, cx, cy, depth, yaw):
    """Moving the 3D origin by c moves the solved translation by -c (the projected body is unchanged)."""
    S = W.anthropometric_skeleton("coco17", 1.7) @ _rot_z(yaw).T
    Xc = (S - S.mean(0)) @ W.R_WC_UPRIGHT + np.array([0.3, 0.2, depth])  # world->camera: p_c = R_wc^T p_w
    Xc = np.stack([Xc, Xc + [0.05, 0, 0.1]])
    uv = f * Xc[..., :2] / Xc[..., 2:] + [cx, cy]
    rel = Xc - Xc.mean(1, keepdims=True)
    t0 = W.root_trajectory(rel, uv, f, (cx, cy))
    t1 = W.root_trajectory(rel + np.array(offset), uv, f, (cx, cy))
    np.testing.assert_allclose(t0, Xc.mean(1), atol=1e-6 * depth)
    np.testing.assert_allclose(t1, t0 - np.array(offset), atol=1e-6 * depth)


def test_estimate_focal(scene):
    d = np.hypot(*SIZE)
    assert W.estimate_focal(SIZE) == pytest.approx(d / (2 * np.tan(np.radians(35.0))))
    assert W.estimate_focal(SIZE, fov_deg=90.0) == pytest.approx(d / 2)
    rel = scene["rel"] / 0.7
    f, info = W.estimate_focal(SIZE, joints3d_rel=rel[:, I3], keypoints2d=scene["kp"][:, I2], return_info=True)
    assert info["source"] == "data" and f == pytest.approx(F_PX, rel=0.002)
    f = W.estimate_focal(SIZE, joints3d_rel=rel[:, I3], keypoints2d=_corrupt(scene["kp"], 3, outliers=0)[:, I2])
    assert f == pytest.approx(F_PX, rel=0.03)  # 2 px noise: measured ~1.2% low


# ---- gravity ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["standing", "ground"])
def test_gravity_from_standing_and_ground_on_a_tilted_camera(scene, method):
    up_true = scene["R_wc"].T @ [0, 0, 1]  # world up in camera coordinates
    R, info = W.gravity_rotation(scene["Xc"][:, [IDX[n] for n in H36M.joints]], "h36m17", method, fps=FPS,
                                 return_info=True)
    assert _angle_deg(R[2], up_true) < 0.1  # measured 0.05° (standing), 0.008° (ground)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    # same heading as the scene: camera yaw is zero, so R equals the true camera-to-world rotation
    np.testing.assert_allclose(R, scene["R_wc"], atol=2e-3)
    assert info["tilt_deg"] == pytest.approx(_angle_deg(up_true, [0, -1, 0]), abs=0.1)


def test_gravity_upright_is_level_and_falls_back(scene):
    R = W.gravity_rotation(None, "h36m17")
    np.testing.assert_array_equal(R, [[1, 0, 0], [0, 0, 1], [0, -1, 0]])
    assert R @ np.array([0.0, 1.0, 0.0]) == pytest.approx([0, 0, -1])  # image down is world down
    lying = scene["Xc"][-10:, [IDX[n] for n in H36M.joints]]  # lying on the floor: no standing frame
    R, info = W.gravity_rotation(lying, "h36m17", "standing", fps=FPS, return_info=True)
    assert "fallback" in info and np.allclose(R, W.R_WC_UPRIGHT)
    with pytest.raises(InputError):
        W.gravity_rotation(lying, "h36m17", "sideways")


@HYP
@given(pitch=st.floats(-30, 30), roll=st.floats(-30, 30), yaw=st.floats(-3.1, 3.1), lean=st.floats(-3, 3))
def test_standing_gravity_is_a_proper_rotation_that_finds_up(pitch, roll, yaw, lean):
    """A person standing (slightly leaning, 3 frames) in front of a camera with any pitch and roll under 30°."""
    S = W.anthropometric_skeleton("mediapipe33", 1.7) @ _rot_z(yaw).T
    S = S @ _rot_x(np.radians(lean)).T  # the whole body leans: up is the body axis, within a few degrees
    R_wc = _rot_x(np.radians(-pitch)) @ W.R_WC_UPRIGHT @ _rot_z(np.radians(roll))
    Xc = (np.stack([S, S, S]) + [0, 4.0, 0] - [0, 0, 1.2]) @ R_wc
    R = W.gravity_rotation(Xc, "mediapipe33", "standing", fps=FPS)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    body_up_c = R_wc.T @ (_rot_x(np.radians(lean)) @ [0, 0, 1])
    assert _angle_deg(R[2], body_up_c) < 1e-6
    assert abs(np.linalg.det(np.stack([R[1], [0, 0, 1], R[2]]))) < 1e-9  # heading: optical axis, projected


# ---- gaps ---------------------------------------------------------------------------------------------------------

def test_fill_gaps_linear_motion_and_long_gaps():
    T, fps = 60, 30.0
    t = np.arange(T)[:, None, None] / fps
    x = np.concatenate([t * [1.0, -2.0, 0.5] + [0, 1, 2], 3 * t * [0.0, 1.0, 0.0]], 1)  # (T, 2, 3) linear
    conf = np.ones((T, 2))
    conf[10:20, 0] = 0.1  # 0.33 s: filled
    conf[30:50, 1] = 0.0  # 0.67 s: too long
    conf[:3, 1] = 0.0  # touches the start: nothing to interpolate from
    x_bad = x.copy()
    x_bad[conf < 0.3] = 1e6
    x_bad[40, 0] = np.nan  # a NaN is missing too (1 frame)
    for method in ("pchip", "linear"):
        y, c, rep = ij.fill_gaps(x_bad, conf, fps, 0.5, 0.3, method=method, joint_names=["a", "b"])
        np.testing.assert_allclose(y[:, 0], x[:, 0], atol=1e-12)
        assert np.isnan(y[30:50, 1]).all() and np.isnan(y[:3, 1]).all() and (c[30:50, 1] == 0).all()
        np.testing.assert_allclose(y[3:30, 1], x[3:30, 1], atol=1e-12)
        assert (c[10:20, 0] == 0.3).all() and c[40, 0] == 0.3 and c[0, 0] == 1.0
        assert [(g["joint"], g["start"], g["stop"], g["edge"]) for g in rep["long_gaps"]] == [
            ("b", 0, 3, True), ("b", 30, 50, False)]
        assert rep["long_gaps"][1]["duration_s"] == pytest.approx(20 / fps)
        assert rep["filled_values"] == 11 and rep["missing_values"] == 23


@HYP
@given(start=st.integers(1, 40), n=st.integers(1, 15),
       v=st.tuples(*[st.floats(-5, 5).filter(lambda f: f == 0 or abs(f) > 1e-9)] * 2))  # PCHIP overflows below
def test_fill_gaps_is_exact_for_linear_motion(start, n, v):
    T, fps = 60, 30.0
    x = (np.arange(T)[:, None] / fps * np.array(v))[:, None, :]
    conf = np.ones((T, 1))
    conf[start:start + n] = 0.0
    y, c, rep = ij.fill_gaps(x, conf, fps, 0.5, 0.3)
    np.testing.assert_allclose(y, x, atol=1e-9)
    assert (c[start:start + n] == 0.3).all() and not rep["long_gaps"]


# ---- the whole chain ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("gravity", ["standing", "ground"])
def test_to_world_motion_recovers_scale_trajectory_and_gravity(scene, gravity):
    motion, report = _run(scene["rel"], scene["kp"], gravity=gravity)
    json.dumps(report)
    J = np.asarray(motion.joints, np.float64)
    assert motion.joint_set == "h36m17" and J.shape == scene["expected"].shape
    assert report["scale"] * 0.7 == pytest.approx(1.0, rel=1e-6)
    up_est = np.array(report["gravity"]["R_wc"])[2]
    assert _angle_deg(up_est, scene["R_wc"].T @ [0, 0, 1]) < 1.0
    err = np.linalg.norm(J - scene["expected"], axis=-1)
    assert err[:, 0].max() < 0.02 and err.max() < 0.02  # measured: 0.2 mm (ground), 3 mm (standing)
    # physics: the fall brings the whole body down to the floor; the feet stand on z = 0
    pelvis = motion.joint("pelvis")
    assert pelvis[0, 2] == pytest.approx(0.530 * HEIGHT, abs=0.02) and pelvis[-1, 2] < 0.1
    assert np.asarray(pelvis[0, :2]) == pytest.approx([0, 0], abs=1e-5)
    assert float(motion.joint("left_ankle")[0, 2]) == pytest.approx(0.039 * HEIGHT, abs=0.01)
    assert report["root"]["frames_without_data"] == 0 and report["masked_values"] == 0


def test_upright_assumption_on_a_tilted_camera_is_off_by_the_tilt(scene):
    _, report = _run(scene["rel"], scene["kp"], gravity="upright")
    tilt = _angle_deg(scene["R_wc"].T @ [0, 0, 1], [0, -1, 0])
    assert _angle_deg(np.array(report["gravity"]["R_wc"])[2], scene["R_wc"].T @ [0, 0, 1]) == pytest.approx(tilt)
    # a level camera needs no estimate
    Wj = scene["W"]
    rel, kp, _ = _observe(Wj, W.R_WC_UPRIGHT, scene["C"])
    motion, report = _run(rel, kp)
    np.testing.assert_allclose(np.asarray(motion.joints), scene["expected"], atol=1e-4)


@pytest.mark.parametrize("gravity", ["standing", "ground"])
def test_to_world_motion_with_noise_outliers_and_missing_keypoints(scene, gravity):
    """2 px noise, 2% outliers, 5% missing keypoints: gravity < 1°, the pelvis trajectory's shape within 1 cm RMS
    across and up, 3 cm along the depth axis; the origin (the first frame's root, at the edge of the smoother) adds
    a constant of a few cm in depth. Worst over 10 seeds: 0.05° (standing) / 0.45° (ground), shape RMS
    [0.45, 1.6, 0.46] cm, |error| 10 cm, vertical 3.3 cm."""
    for seed in range(3):
        motion, report = _run(scene["rel"], _corrupt(scene["kp"], seed, missing=0.05), gravity=gravity)
        up_est = np.array(report["gravity"]["R_wc"])[2]
        assert _angle_deg(up_est, scene["R_wc"].T @ [0, 0, 1]) < 1.0
        e = np.asarray(motion.joint("pelvis"), np.float64) - scene["expected"][:, 0]
        shape_rms = np.sqrt(np.mean((e - e.mean(0)) ** 2, axis=0))
        assert (shape_rms[[0, 2]] < 0.01).all() and shape_rms[1] < 0.03
        assert np.abs(e).max() < 0.15 and abs(e[:, 2]).max() < 0.05
        assert float(motion.joint("pelvis")[-1, 2]) < 0.12


def test_to_world_motion_gaps_masks_and_options(scene):
    rel, kp = scene["rel"].copy(), scene["kp"].copy()
    conf3d = np.ones(rel.shape[:2])
    iw, ie = H36M.index("left_wrist"), H36M.index("right_elbow")
    conf3d[40:46, iw] = 0.0  # 0.2 s: interpolated
    conf3d[60:100, ie] = 0.0  # 1.33 s: reported, masked
    rel[conf3d == 0] = np.nan
    kp[150:170, :, 2] = 0.0  # the person is lost for 0.67 s: no root
    config = W.WorldConfig(subject_height_m=HEIGHT, focal_px=F_PX, gravity="ground")
    motion, report = W.to_world_motion(rel, kp, fps=FPS, image_size=SIZE, joint_set3d="h36m17",
                                       joint_set2d="coco17", config=config, conf3d=conf3d)
    json.dumps(report)
    c, J = np.asarray(motion.confidence), np.asarray(motion.joints)
    assert np.isfinite(J).all()
    assert (c[60:100, ie] == 0).all() and (c[40:46, iw] == pytest.approx(0.3))
    assert (c[150:170] == 0).all() and (c[100:150, 0] == 1).all()
    assert np.linalg.norm(J[40:46, iw] - scene["expected"][40:46, iw], axis=-1).max() < 0.03
    assert [(g["joint"], g["start"], g["stop"]) for g in report["gaps"]["long_gaps"]] == [("right_elbow", 60, 100)]
    assert report["root_gaps"]["long_gaps"][0]["start"] == 150
    ok = c[:, 0] > 0
    assert np.linalg.norm(J[ok, 0] - scene["expected"][ok, 0], axis=-1).max() < 0.02

    # a trajectory model and a calibrated camera replace the root solve and the gravity estimate
    motion, report = W.to_world_motion(scene["rel"], scene["kp"], fps=FPS, image_size=SIZE, joint_set3d="h36m17",
                                       joint_set2d="coco17", config=config, root_cam=scene["t_true"] * 0.7,
                                       R_wc=scene["R_wc"])
    np.testing.assert_allclose(np.asarray(motion.joints), scene["expected"], atol=1e-4)
    assert report["root"]["source"] == "root_cam" and report["gravity"]["method"] == "given"


def test_to_world_motion_rejects_bad_input(scene):
    with pytest.raises(InputError):
        _run(scene["rel"][:, :5], scene["kp"])
    with pytest.raises(InputError):
        _run(scene["rel"], scene["kp"][:-1])
    with pytest.raises(InputError):
        _run(scene["rel"], scene["kp"], gravity="sky")
    with pytest.raises(InputError):
        W.to_world_motion(scene["rel"], scene["kp"], fps=FPS, image_size=SIZE, joint_set3d="h36m17",
                          joint_set2d="nope")
    kp = scene["kp"].copy()
    kp[..., 2] = 0.0  # no 2D at all, the 3D pose alone (confident) cannot be placed
    with pytest.raises(InputError, match="root"):
        W.to_world_motion(scene["rel"], kp, fps=FPS, image_size=SIZE, joint_set3d="h36m17", joint_set2d="coco17",
                          conf3d=np.ones(scene["rel"].shape[:2]))
