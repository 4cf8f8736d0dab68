"""``pose.smoothing``: the physics of the smoother (a known motion is recovered, jitter is removed, a real impact
survives) and each step's job."""
from __future__ import annotations

import numpy as np
import pytest

from imusim_jax import Motion, simulate
from imusim_jax._joints import COCO17
from imusim_jax.pose.smoothing import (SmoothingConfig, constrain_bones, local_noise_std, noise_std,
                                       reject_outliers, rts_smooth, rts_smooth_cov, smooth_joints,
                                       smooth_root_in_camera)

FPS, G = 30.0, 9.80665


def _still_person(t=90):
    """A COCO-17 person standing still, left forearm bent forward (not degenerate)."""
    from motions import reference_joints

    return np.repeat(reference_joints()[None], t, 0)


def test_constant_acceleration_is_recovered():
    rng = np.random.default_rng(0)
    t = np.arange(120) / FPS
    a_true = np.array([1.5, -0.5, -3.0])
    p = 0.5 * a_true * t[:, None] ** 2 + np.array([0.3, 0.0, 0.1]) * t[:, None]
    y = p + rng.normal(0, 0.01, p.shape)
    pos, vel, acc = rts_smooth(y, np.full(3, 0.01), FPS, q=50.0, return_all=True)
    assert np.sqrt(np.mean((pos - p) ** 2)) < 0.005  # better than the 1 cm measurements
    np.testing.assert_allclose(acc[15:-15].mean(0), a_true, atol=0.3)
    assert acc[15:-15].std(0).max() < 1.0  # the raw second difference scatters by ~20 m/s^2
    assert np.abs(np.diff(y, 2, axis=0) * FPS ** 2).std() > 10


def test_full_covariance_smooths_along_the_noisy_direction_only():
    rng = np.random.default_rng(1)
    T = 90
    d = np.array([0.6, 0.8, 0.0])  # the line of sight
    cov = 0.01 ** 2 * np.eye(3) + 0.3 ** 2 * np.outer(d, d)
    truth = np.stack([np.linspace(0, 1, T), np.zeros(T), np.zeros(T)], -1)
    noise = rng.multivariate_normal(np.zeros(3), cov, T)
    out = rts_smooth_cov((truth + noise)[:, None], np.broadcast_to(cov, (T, 1, 3, 3)), FPS, 100.0)[:, 0]
    err = out - truth
    across = err - (err @ d)[:, None] * d
    assert np.sqrt(np.mean(across ** 2)) < 0.01 and np.sqrt(np.mean((err @ d) ** 2)) < 0.15


def test_noise_is_measured_from_the_data():
    rng = np.random.default_rng(2)
    t = np.arange(300) / FPS
    smooth = np.stack([0.3 * np.sin(2 * np.pi * 0.5 * t), 0.1 * t], -1)
    for s in (0.002, 0.01, 0.03):
        est = noise_std(smooth + rng.normal(0, s, smooth.shape))
        np.testing.assert_allclose(est, s, rtol=0.2)
    y = smooth + rng.normal(0, 0.002, smooth.shape)
    y[100:160] += rng.normal(0, 0.02, (60, 2))  # a noisier second
    loc = local_noise_std(y, FPS, window_s=1.0)
    assert loc[130].min() > 3 * loc[20].max()


def test_jitter_on_a_still_person_is_removed():
    rng = np.random.default_rng(3)
    x = _still_person() + rng.normal(0, 0.01, (90, 17, 3))
    conf = np.full(x.shape[:2], 0.9)
    raw = simulate(Motion.create(x, FPS, "coco17"), "watch-left", rate_hz=50, cutoff_hz=None)
    sm, rep = smooth_joints(x, conf, FPS, "coco17")
    out = simulate(Motion.create(sm, FPS, "coco17"), "watch-left", rate_hz=50, cutoff_hz=None)
    peak = lambda s: np.abs(np.linalg.norm(np.asarray(s.accel), axis=1) - G).max()
    assert peak(raw) > 50 and peak(out) < 8.0  # 1 cm of jitter: 140 m/s^2 differentiated as it comes
    np.testing.assert_allclose(rep["noise_root_m"], 0.01 / np.sqrt(2), rtol=0.35)  # hip midpoint: 2 joints


def test_a_real_fall_is_not_smoothed_away():
    """The whole body falls freely from rest through 1 m (0.45 s) and stops on the floor: the smoothed root
    keeps the drop, reaches most of the impact speed and decelerates by several g."""
    rng = np.random.default_rng(4)
    T = 60
    t = np.arange(T) / FPS
    t_hit = np.sqrt(2 * 1.0 / G)
    drop = np.where(t < 0.5, 0.0, np.minimum(0.5 * G * (t - 0.5) ** 2, 1.0))
    x = _still_person(T) - drop[:, None, None] * np.array([0, 0, 1.0])
    x = x + rng.normal(0, 0.01, x.shape)
    sm, _ = smooth_joints(x, np.full(x.shape[:2], 0.9), FPS, "coco17")
    root = sm[:, [11, 12]].mean(1)[:, 2]
    assert root[:10].mean() - root[-10:].mean() == pytest.approx(1.0, abs=0.03)
    v = np.gradient(root, 1 / FPS)
    a = np.gradient(v, 1 / FPS)
    assert v.min() < -0.7 * G * t_hit  # impact speed 4.4 m/s
    hit = int(np.ceil((0.5 + t_hit) * FPS))
    assert a[hit - 3:hit + 4].max() > 2 * G


def test_outliers_are_rejected_and_real_motion_kept():
    rng = np.random.default_rng(5)
    T = 60
    t = np.arange(T) / FPS
    y = np.stack([np.tanh((t - 1) * 6), np.zeros(T), np.zeros(T)], -1) + rng.normal(0, 0.005, (T, 3))
    y[20] += [0.0, 0.5, 0.0]  # a spike
    keep = reject_outliers(y, np.full((T, 3), 0.005), FPS)
    assert not keep[20].any() and keep[np.r_[0:20, 21:T]].all()  # the fast step (frames 25-35) stays


def test_bone_lengths_are_fixed_and_directions_kept():
    rng = np.random.default_rng(6)
    x = _still_person(50)
    i_sh, i_el, i_wr = (COCO17.index(n) for n in ("left_shoulder", "left_elbow", "left_wrist"))
    stretch = 1 + 0.1 * rng.standard_normal(50)
    x[:, i_wr] = x[:, i_el] + (x[:, i_wr] - x[:, i_el]) * stretch[:, None]
    out, lengths = constrain_bones(x, "coco17")
    fa = np.linalg.norm(out[:, i_wr] - out[:, i_el], axis=-1)
    np.testing.assert_allclose(fa, lengths["left_elbow-left_wrist"], rtol=1e-9)
    d_in = (x[:, i_wr] - x[:, i_el]) / np.linalg.norm(x[:, i_wr] - x[:, i_el], axis=-1, keepdims=True)
    np.testing.assert_allclose((out[:, i_wr] - out[:, i_el]) / fa[:, None], d_in, atol=1e-9)
    np.testing.assert_allclose(out[:, i_sh], x[:, i_sh])


def test_low_confidence_frames_count_less():
    T = 60
    x = _still_person(T)
    x[30, :, 2] += 0.05  # the whole body jumps 5 cm for one frame
    for c_bad, expect_small in ((0.9, False), (0.1, True)):
        conf = np.full(x.shape[:2], 0.9)
        conf[30] = c_bad
        cfg = SmoothingConfig(outliers=False)
        sm, _ = smooth_joints(x, conf, FPS, "coco17", cfg)
        bump = sm[30, 11, 2] - x[0, 11, 2]
        assert (bump < 0.01) == expect_small


def _fall_seen_by_a_camera(seed=0, T=40, depth=5.3):
    """A root that drops 0.8 m and slides 1.3 m across the picture in 0.3 s, 5.3 m in front of an upright camera
    (``p_w = R_wc p_c - origin``), measured to 2 cm across the line of sight and 1 m along it."""
    R = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])  # camera x right, y down, z forward; world z up
    o = np.array([0.0, depth, -1.4])
    t = np.arange(T) / FPS
    s = np.clip((t - 0.2) / 0.3, 0, 1)
    s = s * s * (3 - 2 * s)  # smooth step
    truth = np.stack([1.3 * s, np.zeros(T), 1.0 - 0.8 * s], -1)
    c = (truth + o) @ R
    ray = c / np.linalg.norm(c, axis=-1, keepdims=True)
    cov_c = 0.02 ** 2 * (np.eye(3) - ray[:, :, None] * ray[:, None]) + 1.0 ** 2 * ray[:, :, None] * ray[:, None]
    cov_w = R[None] @ cov_c @ R.T[None]
    rng = np.random.default_rng(seed)
    y = truth + np.stack([rng.multivariate_normal(np.zeros(3), cv) for cv in cov_w])
    return truth, y, cov_w, R, o


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_root_smoothed_in_camera_keeps_its_distance_and_its_direction(seed):
    truth, y, cov_w, R, o = _fall_seen_by_a_camera(seed)
    out = smooth_root_in_camera(y, cov_w, FPS, (R, o))
    c_out, c_true = (out + o) @ R, (truth + o) @ R
    # the direction to the body (what the camera measures well) is kept: within 2 px at f = 500 px
    px = 500 * np.linalg.norm(c_out[:, :2] / c_out[:, 2:] - c_true[:, :2] / c_true[:, 2:], axis=-1)
    assert np.sqrt(np.mean(px ** 2)) < 2.5 and px.max() < 8.0  # measured to 2 cm = 1.9 px a frame
    # and the distance stays what the apparent size says, on average (not pulled towards the lens; 1 m a frame)
    assert abs(np.median(c_out[:, 2]) - 5.3) < 0.75
    # no metres of travel along the line of sight that the data do not show
    assert np.ptp(c_out[:, 2]) < 2.0


def test_motion_prior_bounds_the_speed_of_a_poorly_measured_axis():
    rng = np.random.default_rng(3)
    T = 60
    truth = np.zeros((T, 3))
    sig = np.array([0.01, 1.0, 0.01])  # one axis known to a metre only
    y = truth + rng.normal(0, 1, (T, 3)) * sig
    cov = np.broadcast_to(np.diag(sig ** 2), (T, 1, 3, 3))
    _, v_free, _ = rts_smooth_cov(y[:, None], cov, FPS, 3000.0, return_all=True)
    _, v_prior, a_prior = rts_smooth_cov(y[:, None], cov, FPS, 3000.0, speed_mps=2.0, accel_mps2=5.0,
                                         return_all=True)
    assert np.abs(v_prior[:, 0, 1]).max() < np.abs(v_free[:, 0, 1]).max()
    assert np.abs(v_prior[:, 0, 1]).max() < 2.0


def test_motion_prior_leaves_a_well_measured_motion_alone():
    t = np.arange(90) / FPS
    a_true = np.array([1.5, -0.5, -3.0])
    p = 0.5 * a_true * t[:, None] ** 2
    y = p + np.random.default_rng(4).normal(0, 0.01, p.shape)
    cov = np.broadcast_to(0.01 ** 2 * np.eye(3), (90, 1, 3, 3))
    pos, _, acc = rts_smooth_cov(y[:, None], cov, FPS, 50.0, speed_mps=2.0, accel_mps2=5.0, return_all=True)
    np.testing.assert_allclose(acc[15:-15, 0].mean(0), a_true, atol=0.4)
    assert np.sqrt(np.mean((pos[:, 0] - p) ** 2)) < 0.006
