"""``imusim-jax batch`` / ``imusim_jax.workflows.batch.simulate_files``: many files in, one output per clip, resumable,
each clip's noise independent of the rest of the run."""
import os

import numpy as np
import pytest

import imusim_jax as ij
from imusim_jax.workflows.batch import clip_key, find_inputs, simulate_files
from motions import reference_joints
from test_cli import run


def _write_clips(root, n=5):
    """``n`` swinging COCO-17 clips of different lengths in ``root/sub``, a two-clip batch file in
    ``root/other``, an unreadable CSV beside it."""
    rng = np.random.default_rng(0)
    os.makedirs(root / "sub")
    os.makedirs(root / "other")
    for i in range(n):
        T = 60 + 20 * i
        t = np.arange(T) / 30.0
        wave = np.sin(2 * np.pi * (0.5 + 0.2 * i) * t)[:, None, None]
        j = reference_joints()[None] + 0.05 * wave * rng.normal(size=(1, 17, 3))
        np.savez(root / "sub" / f"c{i}.npz", joints=j, fps=30.0, joint_set="coco17")
    np.savez(root / "other" / "pair.npz", joints=np.stack([j, j[::-1]]), fps=30.0, joint_set="coco17")
    (root / "other" / "bad.csv").write_text("a,b\n1,2\n")


def _read(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def test_batch_cli_writes_one_file_per_clip_reports_bad_inputs_and_resumes(tmp_path):
    _write_clips(tmp_path / "in")
    out = tmp_path / "out"
    r = run("batch", tmp_path / "in", "--out-dir", out, "--batch-size", "3", "--cutoff", "6", check=False)
    assert r.returncode == 2 and "bad.csv" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.csv"))
    assert written == ["other/pair_0000.csv", "other/pair_0001.csv"] + [f"sub/c{i}.csv" for i in range(5)]
    # an ideal clip simulated in a batch is the clip simulated alone
    run("simulate", tmp_path / "in" / "sub" / "c3.npz", "--cutoff", "6", "-o", tmp_path / "alone.csv")
    np.testing.assert_allclose(_read(out / "sub" / "c3.csv"), _read(tmp_path / "alone.csv"), atol=1e-4)
    # a batch file's clips come out in order: the second is the first played backwards
    a0, a1 = _read(out / "other" / "pair_0000.csv"), _read(out / "other" / "pair_0001.csv")
    assert a0.shape == a1.shape and not np.allclose(a0[:, 1:], a1[:, 1:], atol=1e-3)
    # a second run skips what exists; a removed output is redone, and only it
    (out / "sub" / "c1.csv").unlink()
    before = (out / "sub" / "c0.csv").stat().st_mtime_ns
    r = run("batch", tmp_path / "in", "--out-dir", out, "--batch-size", "3", "--cutoff", "6", check=False)
    assert "wrote 1 files" in r.stdout and "skipped 6" in r.stdout
    assert (out / "sub" / "c1.csv").exists() and (out / "sub" / "c0.csv").stat().st_mtime_ns == before


def test_a_clips_noise_does_not_depend_on_the_rest_of_the_run(tmp_path):
    _write_clips(tmp_path / "in")
    (tmp_path / "in" / "other" / "bad.csv").unlink()
    kw = dict(noise="bmi160", seed=3, cutoff_hz=6.0, fmt="npz", progress=False)
    everything = simulate_files([tmp_path / "in"], tmp_path / "all", batch_size=4, **kw)
    assert len(everything.written) == 7 and not everything.failed
    # the same clip (same name, sub/c2) in a run of two files, in batches of one
    few = [tmp_path / "in" / "sub" / "c2.npz", tmp_path / "in" / "other" / "pair.npz"]
    some = simulate_files(few, tmp_path / "some", batch_size=1, **kw)
    assert os.path.join(tmp_path / "some", "sub", "c2.npz") in some.written
    with np.load(tmp_path / "all" / "sub" / "c2.npz") as a, np.load(tmp_path / "some" / "sub" / "c2.npz") as b:
        # float32 round-off of a different batch may flip a quantiser's last bit (BMI160: 4.8e-3 m/s^2,
        # 1.07e-3 rad/s) in a sample or two; everything else is equal
        np.testing.assert_allclose(a["accel"], b["accel"], atol=5e-3)
        np.testing.assert_allclose(a["gyro"], b["gyro"], atol=1.1e-3)
        assert np.mean(a["accel"] == b["accel"]) > 0.99 and np.mean(a["gyro"] == b["gyro"]) > 0.99
    # the key is the documented one: the clip through the library with clip_key(seed, name) gives the same noise
    m = ij.load_motion(few[0])
    ref = ij.simulate(m, "watch-left", "bmi160", key=clip_key(3, "sub/c2"), rate_hz=50, cutoff_hz=6.0)
    with np.load(tmp_path / "some" / "sub" / "c2.npz") as b:
        np.testing.assert_allclose(b["accel"], ref.accel, atol=5e-3)
    # another seed, or another name, gives other noise
    for seed, name in ((4, "sub/c2"), (3, "c2")):
        other = ij.simulate(m, "watch-left", "bmi160", key=clip_key(seed, name), rate_hz=50, cutoff_hz=6.0)
        assert np.abs(np.asarray(other.accel) - np.asarray(ref.accel)).max() > 0.01


def test_find_inputs_and_errors(tmp_path):
    _write_clips(tmp_path / "in")
    found = find_inputs([tmp_path / "in"])
    assert [name for _, name in found] == ["other/bad", "other/pair"] + [f"sub/c{i}" for i in range(5)]
    with pytest.raises(ij.InputError, match="no such file"):
        find_inputs([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ij.InputError, match="no motion files"):
        find_inputs([tmp_path / "empty"])
    r = run("batch", tmp_path / "in" / "sub", "--out-dir", tmp_path / "o", "--format", "txt", check=False)
    assert r.returncode == 2 and r.stderr.startswith("error: format must be")


def test_simulate_refuses_a_batch_file_with_a_pointer_to_batch(tmp_path):
    _write_clips(tmp_path / "in")
    r = run("simulate", tmp_path / "in" / "other" / "pair.npz", "-o", tmp_path / "x.csv", check=False)
    assert r.returncode == 2 and "imusim-jax batch" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_clip_the_simulator_refuses_is_reported_and_the_others_are_written(tmp_path):
    """A file that loads but cannot be simulated (its wrist is missing in every frame) fails alone."""
    _write_clips(tmp_path / "in")
    (tmp_path / "in" / "other" / "bad.csv").unlink()
    with np.load(tmp_path / "in" / "sub" / "c1.npz") as z:
        joints = z["joints"].copy()
    conf = np.ones(joints.shape[:2])
    joints[:, 9], conf[:, 9] = np.nan, 0.0  # COCO-17 left wrist
    np.savez(tmp_path / "in" / "sub" / "c1.npz", joints=joints, fps=30.0, joint_set="coco17", confidence=conf)
    messages = []
    report = simulate_files([tmp_path / "in"], tmp_path / "out", cutoff_hz=6.0, fmt="npz", progress=False,
                            warn=messages.append)
    assert [os.path.basename(p) for p, _ in report.failed] == ["c1.npz"]
    assert "left_wrist" in report.failed[0][1] and any("c1.npz" in msg for msg in messages)
    assert len(report.written) == 6 and not (tmp_path / "out" / "sub" / "c1.npz").exists()


def test_the_public_submodules_are_attributes_of_the_package():
    """The README writes ``ij.workflows.batch.clip_key(S, NAME)`` after ``import imusim_jax as ij``: in a fresh interpreter
    (this process has imported the submodules already) that must not be an AttributeError."""
    import subprocess
    import sys

    code = ("import imusim_jax as ij; ij.workflows.batch.clip_key(0, 'a'); ij.io.write_signal; ij.sample.load_sample\n"
            "try:\n    ij.no_such_module\nexcept AttributeError:\n    print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
