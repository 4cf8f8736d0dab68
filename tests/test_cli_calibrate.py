"""``imusim-jax calibrate``: a rest recording gives a noise profile, a motion with its recording a mount; the
profiles serve ``--noise``, ``--mount`` and ``--profile``."""
import json

import jax
import numpy as np

import imusim_jax as ij
from motions import reference_joints
from test_cli import run


def test_calibrate_stationary_writes_a_noise_profile_and_its_plot(tmp_path):
    rate, n = 100.0, 100 * 60  # a minute at rest, z up
    truth = ij.ImuNoise(ij.SensorNoise.create(noise_density=2e-3), ij.SensorNoise.create(noise_density=1e-4), "t")
    zeros = jax.numpy.zeros((n, 3))
    a, g = ij.apply_noise(jax.random.key(0), zeros + jax.numpy.asarray([[0.0, 0.0, 9.80665]]), zeros, truth, rate)
    ij.write_signal(ij.ImuSignal(np.asarray(a), np.asarray(g), rate_hz=rate), tmp_path / "rest.csv")
    r = run("calibrate", "--real", tmp_path / "rest.csv", "--mode", "stationary", "-o", tmp_path / "p.json",
            "--plot", tmp_path / "p.png", "--no-progress")
    assert "wrote" in r.stdout and (tmp_path / "p.png").stat().st_size > 10_000
    p = ij.get_profile(tmp_path / "p.json")
    np.testing.assert_allclose(p.noise.accel.noise_density, 2e-3, rtol=0.1)
    np.testing.assert_allclose(p.noise.gyro.noise_density, 1e-4, rtol=0.1)
    assert p.mount is None and json.loads((tmp_path / "p.json").read_text())["fit"]["mode"] == "stationary"


def test_calibrate_paired_finds_a_turned_mount_and_the_profile_simulates_it(tmp_path):
    """A wrist watched turned 180 degrees about y from watch-right (UTD-MHAD's), recorded 0.2 s after the motion
    starts: the paired fit finds the rotation and the offset, and ``simulate --profile`` reproduces the
    recording."""
    t = np.arange(300) / 30.0
    rng = np.random.default_rng(2)
    sway = np.stack([np.sin(2 * np.pi * f * t + ph) for f, ph in zip((0.7, 1.1, 0.9), rng.uniform(0, 6, 3))], -1)
    j = reference_joints()[None] + 0.12 * sway[:, None, :] * np.array([1.0, 0.8, 0.5])
    j[:, 10] += 0.1 * np.stack([np.sin(2 * np.pi * 1.3 * t), np.cos(2 * np.pi * 0.8 * t), 0 * t], -1)  # right wrist
    np.savez(tmp_path / "trial_motion.npz", joints=j, fps=30.0, joint_set="coco17")
    turned = ij.Mount.from_dict({"preset": "watch-right", "turn_deg": [0, 180, 0]})
    with jax.enable_x64(True):
        m = ij.Motion.create(j, 30.0, "coco17")
        rec = ij.simulate(m, turned, rate_hz=50, cutoff_hz=6.0, time_offset_s=0.2)
    ij.write_signal(rec, tmp_path / "trial_imu.csv")
    run("calibrate", "--real", tmp_path / "trial_imu.csv", "--motion", tmp_path / "trial_motion.npz", "--mode",
        "paired", "--mount", "watch-right", "--cutoff", "6", "-o", tmp_path / "p.json", "--plot", tmp_path / "p.png",
        "--no-progress")
    assert (tmp_path / "p.png").stat().st_size > 10_000
    p = ij.get_profile(tmp_path / "p.json")
    angle = np.degrees(float(ij.quaternion.angle_between(jax.numpy.asarray(p.mount.q_fs),
                                                         jax.numpy.asarray(turned.q_fs))))
    assert angle < 2.0 and abs(p.time_offset_s - 0.2) < 0.02 and p.cutoff_hz == 6.0
    run("simulate", tmp_path / "trial_motion.npz", "--profile", tmp_path / "p.json", "--noise", "none", "-o",
        tmp_path / "again.csv")
    again = np.loadtxt(tmp_path / "again.csv", delimiter=",", skiprows=1)
    n = min(len(again), len(rec.accel))
    corr = np.corrcoef(again[:n, 4], np.asarray(rec.gyro)[:n, 0])[0, 1]
    assert corr > 0.99
