"""The command line, as a user runs it: files in, files out, one-line errors. Most calls run its ``main`` in this
process (as the console script does; see ``run``); a few run the installed ``imusim-jax`` (``run_installed``)."""
import contextlib
import csv
import io
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from motions import G, reference_joints

EXE = shutil.which("imusim-jax", path=os.path.dirname(sys.executable)) or shutil.which("imusim-jax")


def run_installed(*args, check=True):
    """The installed ``imusim-jax`` in a subprocess (a fresh interpreter: imports JAX and compiles anew)."""
    env = dict(os.environ)
    r = subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=300, env=env)
    if check and r.returncode:
        raise AssertionError(r.stderr)
    return r


# Python's own warning filters (what a fresh ``imusim-jax`` process starts with), not pytest's
_PYTHON_WARNING_FILTERS = [("default", DeprecationWarning, "__main__"), ("ignore", DeprecationWarning, None),
                           ("ignore", PendingDeprecationWarning, None), ("ignore", ImportWarning, None),
                           ("ignore", ResourceWarning, None)]


def run(*args, check=True):
    """``imusim-jax ARGS`` run in this process: the console script's ``main`` with its stdout and stderr captured,
    Python's default warning filters, and the process settings ``main`` changes (float64, the compilation cache)
    put back afterwards, so the tests after it see this process as it was. The programs it compiles stay in
    memory for the next call (a subprocess would import JAX and compile again). Returns what
    ``subprocess.run`` would: ``returncode``, ``stdout``, ``stderr``."""
    import jax

    from imusim_jax.cli import main

    argv = [str(a) for a in args]
    keep = {k: getattr(jax.config, k) for k in ("jax_enable_x64", "jax_compilation_cache_dir",
                                                 "jax_persistent_cache_min_compile_time_secs")}
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.resetwarnings()
            for action, category, module in reversed(_PYTHON_WARNING_FILTERS):
                warnings.filterwarnings(action, category=category, module=module or "")
            try:
                code = main(argv)
            except SystemExit as e:  # main returns its status; a stray sys.exit is read as the process would
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        for k, v in keep.items():
            jax.config.update(k, v)
    r = subprocess.CompletedProcess(["imusim-jax", *argv], code, out.getvalue(), err.getvalue())
    if check and r.returncode:
        raise AssertionError(r.stderr)
    return r


def read_csv(path):
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return rows


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    run("sample", "-o", d / "fall.npz")
    return d


def test_simulate_sample_writes_csv_and_plot(sample):
    out, png = sample / "fall.csv", sample / "fall.png"
    r = run_installed("simulate", sample / "fall.npz", "--mount", "watch-left", "--rate", "50", "--noise", "bmi160",
            "--seed", "0", "-o", out, "--plot", png)
    assert "wrote" in r.stdout
    rows = read_csv(out)
    assert list(rows[0]) == ["t", "ax", "ay", "az", "gx", "gy", "gz"]
    assert len(rows) == 301  # 6 s at 50 Hz, both ends included
    a = np.array([[float(x[k]) for k in ("ax", "ay", "az")] for x in rows])
    # standing still at first: |a| is 1 g within the BMI160's turn-on bias (±40 mg per axis, 1 sigma) and its
    # 1 % scale error; the fall's impact reads several g
    assert abs(np.linalg.norm(a[:25], axis=1).mean() - G) < 1.2
    assert np.linalg.norm(a, axis=1).max() > 3 * G
    assert png.stat().st_size > 10_000


def test_npz_and_parquet_outputs_and_wrist_flag(sample):
    run("simulate", sample / "fall.npz", "--mount", "watch", "--wrist", "right", "-o", sample / "r.npz")
    with np.load(sample / "r.npz") as z:
        assert z["accel"].shape == (301, 3) and z["gyro"].shape == (301, 3) and z["t"].shape == (301,)
        right = z["accel"]
    run("simulate", sample / "fall.npz", "--wrist", "right", "-o", sample / "w.npz")  # --wrist alone: its watch
    run("simulate", sample / "fall.npz", "-o", sample / "l.npz")  # neither: the left watch
    with np.load(sample / "w.npz") as w, np.load(sample / "l.npz") as left:
        np.testing.assert_array_equal(w["accel"], right)
        assert np.abs(left["accel"] - right).max() > 1.0
    run("simulate", sample / "fall.npz", "-o", sample / "r.parquet", "--rate", "100")
    import pyarrow.parquet as pq

    table = pq.read_table(sample / "r.parquet")
    assert table.column_names == ["t", "ax", "ay", "az", "gx", "gy", "gz", "accel", "gyro"]
    accel = np.stack(table["accel"].to_pylist())
    np.testing.assert_array_equal(accel, np.column_stack([table[c].to_numpy() for c in ("ax", "ay", "az")]))
    np.testing.assert_array_equal(np.stack(table["gyro"].to_pylist())[:, 2], table["gz"].to_numpy())


def test_trajectory_input(tmp_path):
    t = np.arange(101) / 100.0
    rows = np.column_stack([t, 0 * t, 0 * t, 0 * t, np.ones_like(t), 0 * t, 0 * t, 0 * t])
    np.savetxt(tmp_path / "tr.csv", rows, delimiter=",", header="t,x,y,z,qw,qx,qy,qz", comments="")
    run("simulate", "--trajectory", tmp_path / "tr.csv", "--rate", "50", "-o", tmp_path / "o.csv")
    a = np.array([[float(x[k]) for k in ("ax", "ay", "az")] for x in read_csv(tmp_path / "o.csv")])
    np.testing.assert_allclose(a, np.tile([0, 0, G], (len(a), 1)), atol=1e-3)


@pytest.mark.parametrize("args,match", [
    (["simulate", "missing.npz", "-o", "o.csv"], "no such file"),
    (["simulate", "{bad}", "-o", "o.csv"], "cannot read"),
    (["simulate", "{fall}", "-o", "o.txt"], "must end in .csv, .npz or .parquet"),
    (["simulate", "{fall}", "--noise", "bogus", "-o", "o.csv"], "unknown noise"),
    (["simulate", "{fall}", "--mount", "hat", "-o", "o.csv"], "unknown mount"),
    (["simulate", "{fall}", "--mount", "watch-left", "--wrist", "right", "-o", "o.csv"], "contradicts"),
    (["simulate", "{fall}", "--rate", "-5", "-o", "o.csv"], "rate must be a positive number"),
    (["simulate", "{fall}", "--rate", "1e7", "-o", "o.csv"], "IMU samples for one clip"),  # not 2 min and 1 GB
    (["simulate", "{fall}", "--fps", "1e-6", "-o", "o.csv"], "not one of a recorded body"),  # not out of memory
    (["simulate", "{fall}", "--fps", "1e9", "-o", "o.csv"], "not one of a recorded body"),  # not LinAlgError
    (["simulate", "{nan}", "-o", "o.csv"], "NaN"),
    (["simulate", "{short}", "-o", "o.csv"], "too few frames"),
    (["simulate", "{nowrist}", "-o", "o.csv"], "left_wrist"),  # the error alone, no forearm-length warning
    (["simulate", "{fall}", "--joint-set", "smpl", "-o", "o.csv"], "unknown joint set"),
    # usage errors are one line too, not click's boxed usage text
    (["simulate", "{fall}", "--rate", "fast", "-o", "o.csv"], "invalid value for '--rate'"),
    (["simulate", "{fall}"], "missing option '-o'"),
    (["simulate", "{fall}", "--speed", "2", "-o", "o.csv"], "no such option"),
    (["simulate", "{fall}", "--seed", str(2 ** 64), "-o", "o.csv"], "--seed must be an integer"),
    (["simulate", "{fall}", "--plot", "o.xyz", "-o", "o.csv"], "--plot"),
    (["batch", "{fall}", "-o", "o.dir", "--seed", str(-2 ** 63 - 1)], "--seed must be an integer"),
    (["simulate-imu", "{fall}"], "no such command"),
])
def test_bad_input_exits_nonzero_with_one_line(tmp_path, sample, args, match):
    (tmp_path / "bad.npz").write_bytes(b"junk")
    np.savez(tmp_path / "nan.npz", joints=np.full((20, 17, 3), np.nan), fps=30.0, joint_set="coco17")
    np.savez(tmp_path / "short.npz", joints=np.zeros((3, 17, 3)), fps=30.0, joint_set="coco17")
    joints, conf = np.tile(reference_joints(), (20, 1, 1)), np.ones((20, 17))
    joints[:, 9], conf[:, 9] = np.nan, 0.0  # the left wrist never seen
    np.savez(tmp_path / "nowrist.npz", joints=joints, fps=30.0, joint_set="coco17", confidence=conf)
    subs = {"{bad}": tmp_path / "bad.npz", "{fall}": sample / "fall.npz", "{nan}": tmp_path / "nan.npz",
            "{short}": tmp_path / "short.npz", "{nowrist}": tmp_path / "nowrist.npz"}
    args = [str(subs.get(a, a)) for a in args]
    args = [a if not a.startswith("o.") else str(tmp_path / a) for a in args]
    r = run(*args, check=False)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert match.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in r.stderr


def test_joints_in_millimetres_are_refused_and_a_point_mass_is_simulated_with_a_warning(tmp_path, sample):
    """Joints in millimetres read 54,000 m/s^2: refused in one line that says so. Every joint at one point (a point
    mass in free fall: |a| is still right, the orientation is not defined): simulated, with one warning line."""
    d = np.load(sample / "fall.npz")
    np.savez(tmp_path / "mm.npz", joints=d["joints"] * 1000.0, fps=30.0, joint_set="coco17")
    r = run("simulate", str(tmp_path / "mm.npz"), "-o", str(tmp_path / "mm.csv"), check=False)
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and "metres" in lines[0], r.stderr
    assert not (tmp_path / "mm.csv").exists()
    t = np.arange(30) / 30.0
    joints = np.zeros((30, 17, 3)) + np.stack([0 * t, 0 * t, -4.903325 * t ** 2], -1)[:, None]
    np.savez(tmp_path / "odd.npz", joints=joints, fps=30.0, joint_set="coco17")
    r = run("simulate", str(tmp_path / "odd.npz"), "-o", str(tmp_path / "odd.csv"))
    assert r.returncode == 0 and (tmp_path / "odd.csv").exists()
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: odd.npz: the left forearm") and "metres" in lines[0], \
        r.stderr
    acc = np.array([[float(r[k]) for k in ("ax", "ay", "az")] for r in read_csv(tmp_path / "odd.csv")])
    np.testing.assert_allclose(acc, 0.0, atol=3e-2)  # free fall reads no specific force
    r = run("simulate", str(sample / "fall.npz"), "-o", str(tmp_path / "m.csv"))
    assert "warning" not in r.stderr


def test_mounts_and_weights_commands(tmp_path):
    r = run("mounts", "--plot", tmp_path / "m.png")
    for name in ("watch-left", "watch-right", "band-left", "band-right", "phone-left", "phone-right"):
        assert name in r.stdout
    assert (tmp_path / "m.png").stat().st_size > 10_000
    assert "vitpose-b" in run("weights", "list").stdout


def test_command_line_computes_in_float64_a_long_fall_reads_zero(tmp_path):
    """A rigid skeleton thrown up and falling for 4 s (78 m) reads zero specific force through the command line:
    it computes in float64 (float32 positions that far from the start read up to 0.03 m/s^2)."""
    from motions import reference_joints

    t = np.arange(121) / 30.0
    p = np.outer(t, [1.0, 0.5, 3.0]) - 0.5 * np.outer(t * t, [0.0, 0.0, G])
    np.savez(tmp_path / "fall.npz", joints=reference_joints()[None] + p[:, None], fps=30.0, joint_set="coco17")
    run("simulate", tmp_path / "fall.npz", "-o", tmp_path / "fall.csv")
    a = np.array([[float(r[k]) for k in ("ax", "ay", "az")] for r in read_csv(tmp_path / "fall.csv")])
    assert len(a) == 201 and np.linalg.norm(a, axis=1).max() < 1e-3


def test_noise_command_writes_a_preset_that_simulates_as_the_preset(sample):
    prof = sample / "lsm.json"
    run("noise", "lsm6dso", "-o", prof)
    out = {}
    for label, noise in (("preset", "lsm6dso"), ("file", prof)):
        out[label] = sample / f"n_{label}.csv"
        run("simulate", sample / "fall.npz", "--noise", noise, "--seed", "5", "-o", out[label])
    assert out["preset"].read_text() == out["file"].read_text()
    printed = run("noise", "bmi160").stdout
    assert '"noise_density"' in printed and '"gyro"' in printed
    r = run("noise", "none", check=False)
    assert r.returncode == 2 and r.stderr.startswith("error:")


def test_help_and_no_arguments_print_the_commands():
    r = run_installed("--help")
    assert r.returncode == 0 and "simulate" in r.stdout and "batch" in r.stdout and not r.stderr.strip()
    r = run_installed(check=False)  # no arguments: the help, and a usage exit status
    assert r.returncode == 2 and "simulate" in r.stdout and not r.stderr.strip()


def test_an_output_that_cannot_be_written_fails_in_one_line_before_simulating(tmp_path, sample):
    fall = sample / "fall.npz"
    (tmp_path / "d.csv").mkdir()
    for args in (["-o", fall / "x.csv"], ["-o", tmp_path / "x.csv", "--plot", fall / "sub" / "p.png"],
                 ["-o", tmp_path / "d.csv"]):
        r = run("simulate", fall, "--cutoff", "6", *args, check=False)
        assert r.returncode == 2 and r.stderr.startswith("error: cannot write"), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and ".tmp-" not in r.stderr
    assert not (tmp_path / "x.csv").exists()  # the plot's failure is found before the output is written
    r = run("batch", fall, "--out-dir", fall / "out", check=False)
    assert r.returncode == 2 and "is a file, not a folder" in r.stderr


def test_a_cutoff_above_half_the_frame_rate_is_simulated_with_a_one_line_warning(sample, tmp_path):
    r = run("simulate", sample / "fall.npz", "--cutoff", "100", "-o", tmp_path / "o.csv")
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning:") and "no low-pass filter" in lines[0]
    r = run("simulate", sample / "fall.npz", "--cutoff", "6", "-o", tmp_path / "o.csv")
    assert not r.stderr.strip()
    r = run("batch", sample / "fall.npz", "--cutoff", "100", "--out-dir", tmp_path / "b")
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning:") and "no low-pass filter" in lines[0]
