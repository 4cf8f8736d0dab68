"""``SensorProfile``: a calibrated sensor in one JSON file, applied whole by ``--profile`` and in parts by
``--noise`` and ``--mount``."""
import json

import jax
import numpy as np
import pytest

import imusim_jax as ij
from motions import reference_joints
from test_cli import read_csv, run


def _profile():
    mount = ij.Mount.from_dict({"preset": "watch-right", "turn_deg": [0, 180, 0], "name": "utd-wrist"})
    noise = ij.get_noise("bmi160").replace(name="fitted")
    return ij.SensorProfile(noise, mount, time_offset_s=0.04, rate_hz=25.0, name="s1",
                            source={"mode": "paired", "files": ["a.mat"]},
                            fit={"time_offset_s": {"value": 0.04, "stderr": np.float32(0.002)}, "converged": True})


def test_a_profile_round_trips_through_json(tmp_path):
    p = _profile()
    p.save(tmp_path / "p.json")
    q = ij.get_profile(tmp_path / "p.json")
    assert q.name == "s1" and q.rate_hz == 25.0 and q.time_offset_s == pytest.approx(0.04)
    np.testing.assert_allclose(q.mount.q_fs, p.mount.q_fs, atol=1e-7)
    assert q.mount.side == "right"
    for a, b in zip(jax.tree.leaves(q.noise), jax.tree.leaves(p.noise)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert q.fit["time_offset_s"]["stderr"] == pytest.approx(0.002) and q.source["mode"] == "paired"
    # its parts serve --noise and --mount; a noise profile reads as a profile with noise only
    assert ij.get_mount(tmp_path / "p.json").name == "utd-wrist" and ij.get_noise(str(tmp_path / "p.json"))
    run("noise", "lsm6dso", "-o", tmp_path / "n.json")
    n = ij.get_profile(tmp_path / "n.json")
    assert n.mount is None and n.noise.name == "lsm6dso"
    for bad, match in (({"format": "other"}, "not a sensor profile"), ({"version": 9}, "newer"),
                       ({"time_offset_s": "soon"}, "must be numbers"), ({"rate_hz": -1}, "rate_hz positive"),
                       ({"noise": {"accel": {}}}, "'accel' and 'gyro'")):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(ij.InputError, match=match):
            ij.get_profile(tmp_path / "bad.json")


def test_the_command_line_applies_a_profile_whole(tmp_path):
    """``--profile`` gives the mount, noise, clock offset and rate; an option given as well wins over its part."""
    p = _profile()
    p.save(tmp_path / "p.json")
    t = np.arange(90) / 30.0
    j = reference_joints()[None] + 0.08 * np.sin(2 * np.pi * 1.1 * t)[:, None, None] * np.array([1.0, 0.5, 0.2])
    np.savez(tmp_path / "c.npz", joints=j, fps=30.0, joint_set="coco17")
    run("simulate", tmp_path / "c.npz", "--profile", tmp_path / "p.json", "--seed", "4", "--cutoff", "6", "-o",
        tmp_path / "a.csv")
    rows = read_csv(tmp_path / "a.csv")
    got = np.array([[float(r[k]) for k in ("ax", "ay", "az", "gx", "gy", "gz")] for r in rows])
    with jax.enable_x64(True):
        m = ij.Motion.create(j, 30.0, "coco17")
        want = ij.simulate(m, p.mount, p.noise, key=jax.random.key(4), rate_hz=25.0, cutoff_hz=6.0,
                           time_offset_s=0.04)
    np.testing.assert_allclose(got[:, :3], np.asarray(want.accel), atol=1e-6)
    np.testing.assert_allclose(got[:, 3:], np.asarray(want.gyro), atol=1e-6)
    run("simulate", tmp_path / "c.npz", "--profile", tmp_path / "p.json", "--rate", "50", "--noise", "none", "-o",
        tmp_path / "b.csv")
    assert len(read_csv(tmp_path / "b.csv")) == 149  # 50 Hz over 2.97 s


def test_a_mount_file_may_hold_the_mount_object_alone(tmp_path):
    """``{"preset": ..., "turn_deg": [...]}`` as a whole file reads as the same mount as ``{"mount": {...}}``."""
    spec = {"preset": "watch-right", "turn_deg": [0, 180, 0]}
    (tmp_path / "bare.json").write_text(json.dumps(spec))
    (tmp_path / "wrapped.json").write_text(json.dumps({"mount": spec}))
    a, b = ij.get_mount(str(tmp_path / "bare.json")), ij.get_mount(str(tmp_path / "wrapped.json"))
    np.testing.assert_allclose(np.asarray(a.q_fs), np.asarray(b.q_fs))
    assert a.side == b.side == "right" and a.name == "bare"
    # 180 degrees about y from watch-right: not the preset
    assert abs(float(np.dot(np.asarray(a.q_fs), np.asarray(ij.get_mount("watch-right").q_fs)))) < 0.1
    (tmp_path / "other.json").write_text(json.dumps({"turn": 3}))
    with pytest.raises(ij.InputError, match="needs a 'mount' object"):
        ij.get_mount(str(tmp_path / "other.json"))
