"""What a new user met on the command line (the architecture issue's list): the options every simulating command
shares, mounts from profiles, frame rates no body is recorded at, and ``batch`` reruns, layouts and failures."""
import json
import os

import numpy as np

from motions import reference_joints
from test_cli import read_csv, run


def _clip(path, T=60, fps=30.0, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(T) / fps
    wave = np.sin(2 * np.pi * 0.8 * t)[:, None, None]
    j = (reference_joints()[None] + 0.05 * wave * rng.normal(size=(1, 17, 3))) * scale
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(path, joints=j, fps=fps, joint_set="coco17")


def _accel(path):
    return np.array([[float(r[k]) for k in ("ax", "ay", "az")] for r in read_csv(path)])


def test_a_mount_profile_from_json_is_a_mount(tmp_path):
    """``mounts NAME -o FILE`` writes a preset as a profile; ``--mount FILE`` reads it back; a profile may turn a
    preset (UTD-MHAD's wrist sensor: watch-right turned 180 degrees about y)."""
    _clip(tmp_path / "c.npz")
    run("mounts", "watch-right", "-o", tmp_path / "right.json")
    prof = json.loads((tmp_path / "right.json").read_text())
    assert prof["mount"]["side"] == "right"
    run("simulate", tmp_path / "c.npz", "--mount", tmp_path / "right.json", "--cutoff", "6", "-o", tmp_path / "a.csv")
    run("simulate", tmp_path / "c.npz", "--mount", "watch-right", "--cutoff", "6", "-o", tmp_path / "b.csv")
    np.testing.assert_array_equal(_accel(tmp_path / "a.csv"), _accel(tmp_path / "b.csv"))
    (tmp_path / "utd.json").write_text(json.dumps({"mount": {"preset": "watch-right", "turn_deg": [0, 180, 0]}}))
    run("simulate", tmp_path / "c.npz", "--mount", tmp_path / "utd.json", "--cutoff", "6", "-o", tmp_path / "u.csv")
    a, u = _accel(tmp_path / "b.csv"), _accel(tmp_path / "u.csv")
    np.testing.assert_allclose(u, a * np.array([-1.0, 1.0, -1.0]), atol=1e-6)  # 180 degrees about y
    r = run("simulate", tmp_path / "c.npz", "--mount", tmp_path / "utd.json", "--wrist", "left", "-o",
            tmp_path / "x.csv", check=False)
    assert r.returncode == 2 and "contradicts" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "bad.json").write_text(json.dumps({"mount": {"side": "left", "q_fs": [1, 0, 0]}}))
    r = run("simulate", tmp_path / "c.npz", "--mount", tmp_path / "bad.json", "-o", tmp_path / "x.csv", check=False)
    assert r.returncode == 2 and "q_fs" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_time_column_in_milliseconds_and_a_utd_skeleton_without_its_imu(tmp_path):
    """A CSV whose time column is in milliseconds is refused in one line that says so (it read as 0.03 fps and a
    6000 s clip); a UTD-MHAD skeleton without its Inertial/ file is simulated at 30 fps with one warning line."""
    j = np.tile(reference_joints(), (40, 1, 1)).reshape(40, -1)
    t_ms = np.arange(40) * 1000.0 / 30.0
    np.savetxt(tmp_path / "ms.csv", np.column_stack([t_ms, j]), delimiter=",", comments="",
               header="# joint_set=coco17")
    r = run("simulate", tmp_path / "ms.csv", "-o", tmp_path / "ms_out.csv", check=False)
    assert r.returncode == 2 and "milliseconds" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    import scipy.io

    import imusim_jax as ij
    from motions import REFERENCE_POSE

    names = ij.get_joint_set("kinect20").joints
    world = np.array([REFERENCE_POSE.get(n, (0.0, 0.0, 1.0)) for n in names])  # arms and legs; the rest at the hip
    cam = np.stack([-world[:, 0], world[:, 2], world[:, 1]], -1)  # world = (-x, z, y) of the camera
    d_skel = np.repeat(cam[:, :, None], 40, axis=2)  # (20, 3, T): standing still
    os.makedirs(tmp_path / "Skeleton")
    scipy.io.savemat(tmp_path / "Skeleton" / "a1_s1_t1_skeleton.mat", {"d_skel": d_skel})
    r = run("simulate", tmp_path / "Skeleton" / "a1_s1_t1_skeleton.mat", "--mount", "watch-right", "-o",
            tmp_path / "u.csv", check=False)
    warns = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert any("30 fps" in w and "--fps" in w for w in warns), r.stderr
    assert len(warns) == 1


def test_batch_folder_layout_reruns_with_other_options_and_failures(tmp_path):
    """A folder argument's files keep their place under --out-dir; a rerun with the same options skips, with
    other options is refused in one line (--overwrite redoes), and a changed input is redone; a clip that cannot
    be simulated (millimetres, a frame rate no body is recorded at) fails alone; a killed run's temporary file is
    removed."""
    data = tmp_path / "data"
    _clip(data / "a" / "x.npz")
    _clip(data / "y.npz", seed=1)
    _clip(data / "mm.npz", scale=1000.0)
    _clip(data / "fast.npz", fps=1e9)
    out = tmp_path / "out"
    (out / "a").mkdir(parents=True)
    (out / "a" / ".tmp-abc123.csv").write_text("half")
    r = run("batch", data, "--out-dir", out, "--cutoff", "6", check=False)
    assert r.returncode == 2
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*.csv")) == ["a/x.csv", "y.csv"]
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 2 and any("mm.npz" in e and "metres" in e for e in errors) \
        and any("fast.npz" in e and "frame rate" in e for e in errors), r.stderr
    assert "removed 1 temporary" in r.stderr and not (out / "a" / ".tmp-abc123.csv").exists()
    (data / "mm.npz").unlink()
    (data / "fast.npz").unlink()
    r = run("batch", data, "--out-dir", out, "--cutoff", "6")
    assert "wrote 0 files" in r.stdout and "skipped 2" in r.stdout
    r = run("batch", data, "--out-dir", out, "--cutoff", "6", "--mount", "watch-right", check=False)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--overwrite" in r.stderr \
        and "watch-right" in r.stderr, r.stderr
    _clip(data / "y.npz", seed=2)  # a changed input is redone
    r = run("batch", data, "--out-dir", out, "--cutoff", "6")
    assert "wrote 1 files" in r.stdout and "skipped 1" in r.stdout
    before = _accel(out / "y.csv")
    r = run("batch", data, "--out-dir", out, "--cutoff", "6", "--mount", "watch-right", "--overwrite")
    assert "wrote 2 files" in r.stdout and np.abs(_accel(out / "y.csv") - before).max() > 0.1
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "y.csv").write_text("t,ax\n0,0\n")
    r = run("batch", data, "--out-dir", tmp_path / "other", check=False)
    assert r.returncode == 2 and "does not say this command made it" in r.stderr


def test_video2imu_takes_the_shared_simulation_options():
    text = run("video2imu", "--help").stdout
    for option in ("--cutoff", "--roll", "--wrist", "--mount", "--noise", "--seed", "--rate"):
        assert option in text
    r = run("video2imu", "nothing.mp4", "-o", "x", "--roll", "elbow", check=False)
    assert r.returncode == 2 and "--roll" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    for option in ("--schedule", "--relink", "--no-relink"):  # Stage 1's pose schedule (PoseConfig)
        assert option in text
    r = run("video2imu", "nothing.mp4", "-o", "x", "--schedule", "fast", check=False)
    assert r.returncode == 2 and "--schedule must be one of" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_same_seed_gives_the_same_bytes_and_a_long_clip_fits_in_memory(tmp_path):
    """What held for the new user and must keep holding: a rerun with the same seed writes the same bytes, and a
    100,000-frame clip (55 minutes at 30 fps) is simulated in one call without running out of memory (peak
    resident memory under 2 GB; the time is benchmarks' business)."""
    import subprocess
    import sys

    from test_cli import EXE

    _clip(tmp_path / "c.npz")
    for name in ("a.csv", "b.csv"):
        run("simulate", tmp_path / "c.npz", "--noise", "bmi160", "--seed", "7", "-o", tmp_path / name)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    T = 100_000
    t = np.arange(T) / 30.0
    j = reference_joints()[None] + 0.05 * np.sin(2 * np.pi * 0.5 * t)[:, None, None]
    np.savez(tmp_path / "long.npz", joints=j, fps=30.0, joint_set="coco17")
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode); print(r.stderr[-500:])")
    out = subprocess.run([sys.executable, "-c", code, EXE, "simulate", str(tmp_path / "long.npz"), "--cutoff", "6",
                          "-o", str(tmp_path / "long.npz.csv")], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ))
    peak_kb, rc = (int(x) for x in out.stdout.split()[:2])
    assert rc == 0, out.stdout
    assert peak_kb < 2 * 1024 ** 2, f"peak resident memory {peak_kb / 1024:.0f} MB"
    assert len(read_csv(tmp_path / "long.npz.csv")) == int((T - 1) / 30.0 * 50) + 1


def test_a_killed_batch_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path):
    """``batch`` killed (SIGKILL) after its first outputs, then run again: the same files, byte for byte, as a run
    never interrupted, and no temporary file left."""
    import signal
    import subprocess
    import time

    from test_cli import EXE

    for i in range(6):
        _clip(tmp_path / "in" / f"c{i}.npz", T=60 + 10 * i, seed=i)
    args = ["batch", str(tmp_path / "in"), "--noise", "bmi160", "--seed", "3", "--batch-size", "1", "--cutoff", "6"]
    env = dict(os.environ)
    subprocess.run([EXE, *args, "--out-dir", str(tmp_path / "whole")], check=True, capture_output=True, env=env,
                   timeout=600)
    p = subprocess.Popen([EXE, *args, "--out-dir", str(tmp_path / "cut")], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((tmp_path / "cut").glob("c*.csv"))) < 2 and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done_before = len(list((tmp_path / "cut").glob("c*.csv")))
    assert 0 < done_before < 6, "the run was not cut in the middle"
    subprocess.run([EXE, *args, "--out-dir", str(tmp_path / "cut")], check=True, capture_output=True, env=env,
                   timeout=600)
    whole = sorted(p.name for p in (tmp_path / "whole").iterdir())
    cut = sorted(p.name for p in (tmp_path / "cut").iterdir())
    assert whole == cut and not any(n.startswith(".tmp-") for n in cut)
    for name in whole:
        if name.endswith(".csv"):
            assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
