"""The benchmarks' NumPy baseline and in-process real-data protocol (``benchmarks/baseline_numpy.py``,
``benchmarks/realdata_protocol.py``) against the shared scoring script, on one UTD-MHAD trial.

The shared script ``fidelity_utd.py`` runs ``benchmarks/baseline_exe`` (the baseline behind the ``simulate``
command line) on a copy of the data folder that holds only trial ``a13_s1_t1``; its printed medians (here the one
trial's figures) must equal what ``realdata_protocol.score_utd`` computes in process, to 1e-3. Also two physical
sanity checks of the baseline, so the speed benchmark compares against something right.
"""
from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
TRIAL = "a13_s1_t1"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import baseline_numpy
    import realdata_protocol

    return baseline_numpy, realdata_protocol


@pytest.mark.realdata
def test_utd_protocol_matches_shared_script(realdata, bench, tmp_path):
    _, protocol = bench
    script = realdata.parent / "tools" / "fidelity_utd.py"
    if not script.exists():
        pytest.skip(f"{script} is absent")
    data = tmp_path / "utd_mhad"
    for kind, suffix in (("Skeleton", "skeleton"), ("Inertial", "inertial")):
        (data / kind).mkdir(parents=True)
        src = realdata / "utd_mhad" / kind / f"{TRIAL}_{suffix}.mat"
        if not src.exists():
            pytest.skip(f"{src} is absent")
        (data / kind / src.name).symlink_to(src)

    env = dict(os.environ, PYTHON=sys.executable)  # baseline_exe falls back to it where there is no .venv
    r = subprocess.run([sys.executable, str(script), str(BENCH / "baseline_exe"), "--data", str(data),
                        "--actions", "13"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    last = r.stdout.strip().splitlines()[-1]
    m = re.search(r"ok: 1 real wrist trials, median envelope corr \|a\| ([-\d.]+) .*\|w\| ([-\d.]+) .*"
                  r"sample by sample \|a\| ([-\d.]+), \|w\| ([-\d.]+)", last)
    assert m, last
    printed = np.array([float(x) for x in m.groups()])

    scores = protocol.score_utd(protocol.numpy_baseline(), str(data), actions=(13,))
    assert list(scores) == [TRIAL]
    ours = np.array(protocol.utd_summary(scores))
    np.testing.assert_allclose(ours, printed, atol=1e-3, err_msg=last)
    assert np.all(ours > 0.3), ours  # the baseline tracks the real wrist at all


def test_baseline_at_rest_reads_gravity(bench):
    """A still arm: the accelerometer reads +9.80665 m/s^2 in magnitude, along the forearm frame's z when the
    forearm is horizontal and the upper arm hangs above the elbow; the gyroscope reads zero."""
    bn, _ = bench
    J = np.zeros((60, 17, 3))
    J[:, 5] = (0.0, 0.0, 1.4)   # left shoulder above the elbow
    J[:, 7] = (0.0, 0.0, 1.1)   # left elbow
    J[:, 9] = (0.0, 0.26, 1.1)  # left wrist: forearm horizontal, pointing north
    t, a, g = bn.simulate_numpy(J, 30.0, "coco17", "left", lever_m=0.036)
    assert len(t) == bn.num_samples(60, 30.0, 50.0) and t[-1] <= 59 / 30.0
    np.testing.assert_allclose(a, np.tile([0.0, 0.0, 9.80665], (len(t), 1)), atol=1e-9)
    np.testing.assert_allclose(g, 0.0, atol=1e-9)


def test_baseline_rate_and_centripetal_terms(bench):
    """A rigid arm turning about the vertical through the shoulder at 2 rad/s: |gyro| = 2 rad/s, and the
    accelerometer carries the centripetal 4 r m/s^2 toward the axis (r = the sensor's distance to it)."""
    bn, _ = bench
    fps, w = 60.0, 2.0
    t = np.arange(240) / fps
    c, s = np.cos(w * t), np.sin(w * t)
    J = np.zeros((len(t), 17, 3))
    J[:, 5] = (0.0, 0.0, 1.4)
    J[:, 7] = np.stack([0.0 * t, 0.0 * t, 1.1 + 0.0 * t], -1)
    J[:, 9] = np.stack([0.26 * c, 0.26 * s, 1.1 + 0.0 * t], -1)  # forearm horizontal, sweeping round
    _, a, g = bn.simulate_numpy(J, fps, "coco17", "left", rate_hz=50.0, cutoff_hz=None, lever_m=0.0)
    mid = slice(10, -10)
    np.testing.assert_allclose(np.linalg.norm(g[mid], axis=1), w, rtol=1e-3)
    # lever 0: the sensor is at the wrist, r = 0.26 m; centripetal along -x_f (toward the elbow/axis)
    np.testing.assert_allclose(a[mid, 0], -w ** 2 * 0.26, rtol=1e-2)
    np.testing.assert_allclose(a[mid, 2], 9.80665, rtol=1e-6)
