"""The shared real-data scoring protocols, in process (no subprocess, no CSV round trip).

These replicate ``../shared/tools/fidelity_utd.py`` and ``fidelity_broad.py`` step for step, for any simulator
written as a Python function ``sim(joints (T, 17, 3), fps, mount, rate_hz) -> (t, accel, gyro)`` (SI units), so a
baseline can be scored quickly and the replication itself can be checked against the scripts
(``tests/test_baseline_protocol.py``).

Run as a script to score the NumPy baseline on every trial the shared scripts use::

    .venv/bin/python benchmarks/realdata_protocol.py [--realdata ../shared/realdata]
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import sys
from typing import Callable

import numpy as np
import scipy.io as sio

G = 9.80665
UTD_ACTIONS = (1, 5, 13, 18, 21)  # the script's default: sensor on the right wrist

# Kinect v1 (UTD-MHAD order) -> COCO-17; the face points take the head (as the script does).
_K = dict(head=0, sh_c=1, spine=2, hip_c=3, l_sh=4, l_el=5, l_wr=6, l_hand=7, r_sh=8, r_el=9, r_wr=10,
          r_hand=11, l_hip=12, l_kn=13, l_an=14, l_ft=15, r_hip=16, r_kn=17, r_an=18, r_ft=19)
_COCO = ["head"] * 5 + ["l_sh", "r_sh", "l_el", "r_el", "l_wr", "r_wr", "l_hip", "r_hip", "l_kn", "r_kn", "l_an",
                        "r_an"]

Simulator = Callable[[np.ndarray, float, str, float], tuple]


# ---------------------------------------------------------------------------------------------------------------
# UTD-MHAD
# ---------------------------------------------------------------------------------------------------------------

def utd_trial(skel_path: str):
    """One UTD-MHAD trial as the script builds it: COCO-17 joints ``(T, 17, 3)`` in the z-up world
    (``(-x, z, y)`` of the Kinect axes), the skeleton's rate (frames over the IMU's duration at 50 Hz) and the
    real readings ``(T_imu, 6)`` (g, deg/s)."""
    skel = sio.loadmat(skel_path)["d_skel"]
    iner = sio.loadmat(skel_path.replace("Skeleton", "Inertial").replace("skeleton", "inertial"))["d_iner"]
    x, y, z = skel[:, 0].T, skel[:, 1].T, skel[:, 2].T
    world = np.stack([-x, z, y], -1)
    joints = np.stack([world[:, _K[n]] for n in _COCO], 1)
    fps = len(joints) / (len(iner) / 50.0)
    return joints, fps, iner


def best_lag_corr(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    """Largest Pearson correlation of ``a`` and ``b`` over lags in ``[-max_lag, max_lag]`` samples."""
    best = -1.0
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b[:len(b) - lag]) if lag >= 0 else (a[:lag], b[-lag:])
        n = min(len(x), len(y))
        if n < 20:
            continue
        best = max(best, np.corrcoef(x[:n], y[:n])[0, 1])
    return best


def utd_scores(acc: np.ndarray, gyr: np.ndarray, iner: np.ndarray) -> tuple[float, float, float, float]:
    """(envelope |a|, envelope |w|, sample |a|, sample |w|) correlations of simulated ``acc`` (m/s^2) and ``gyr``
    (rad/s) at 50 Hz with the real readings, each at its best lag within +-0.4 s."""
    real_a = np.linalg.norm(iner[:, :3] * G, axis=1)
    real_g = np.linalg.norm(np.radians(iner[:, 3:]), axis=1)
    sim_a, sim_g = np.linalg.norm(acc, axis=1), np.linalg.norm(gyr, axis=1)
    env = lambda v: np.convolve(v, np.ones(15) / 15, "valid")  # noqa: E731  (0.3 s envelope)
    return (best_lag_corr(env(sim_a), env(real_a), 20), best_lag_corr(env(sim_g), env(real_g), 20),
            best_lag_corr(sim_a, real_a, 20), best_lag_corr(sim_g, real_g, 20))


def score_utd(sim: Simulator, data_dir: str, actions=UTD_ACTIONS) -> dict[str, tuple]:
    """Per-trial scores ``{name: (env |a|, env |w|, sample |a|, sample |w|)}`` on the wrist trials of
    ``actions`` (the watch on the right wrist, 50 Hz)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(data_dir, "Skeleton", "*.mat"))):
        name = os.path.basename(path).replace("_skeleton.mat", "")
        action = int(re.match(r"a(\d+)_", name).group(1))
        if action not in actions or action > 21:
            continue
        joints, fps, iner = utd_trial(path)
        _, acc, gyr = sim(joints, fps, "watch-right", 50.0)
        out[name] = utd_scores(np.asarray(acc, np.float64), np.asarray(gyr, np.float64), iner)
    return out


def utd_summary(scores: dict[str, tuple]) -> tuple[float, float, float, float]:
    """Medians over trials, as the script's last line prints them."""
    v = np.array(list(scores.values()))
    return tuple(float(x) for x in np.median(v, axis=0))


# ---------------------------------------------------------------------------------------------------------------
# BROAD
# ---------------------------------------------------------------------------------------------------------------

_BASE = np.zeros((17, 3))
for _j, _p in {0: (0, 0.02, 1.62), 1: (0.03, 0.05, 1.65), 2: (-0.03, 0.05, 1.65), 3: (0.07, 0, 1.63),
               4: (-0.07, 0, 1.63), 5: (0.18, 0, 1.42), 6: (-0.18, 0, 1.42), 7: (0.20, 0, 1.14),
               8: (-0.20, 0, 1.14), 9: (0.22, 0.26, 1.12), 10: (-0.22, 0.0, 0.88), 11: (0.10, 0, 0.92),
               12: (-0.10, 0, 0.92), 13: (0.10, 0, 0.48), 14: (-0.10, 0, 0.48), 15: (0.10, 0, 0.06),
               16: (-0.10, 0, 0.06)}.items():
    _BASE[_j] = _p
_LOCAL = _BASE - _BASE[9]  # left wrist at the body's origin


def _fill(x):
    ok = ~np.isnan(x).any(1)
    idx = np.arange(len(x))
    return np.stack([np.interp(idx, idx[ok], x[ok, k]) for k in range(x.shape[1])], 1)


def _kabsch(src, dst):
    u, _, vt = np.linalg.svd(dst.T @ src)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1, 1, d]) @ vt


def score_broad(sim: Simulator, data_dir: str, rate_hz: float = 100.0) -> dict[str, tuple]:
    """Per-trial ``{name: (gyro corr (3,), accel corr (3,))}`` after the constant sensor-to-body rotation fitted
    on the gyro, on the movement samples (watch-left, poses at half BROAD's rate)."""
    import h5py
    from scipy.spatial.transform import Rotation

    out = {}
    for path in sorted(glob.glob(os.path.join(data_dir, "*.hdf5"))):
        name = os.path.basename(path).split(".")[0]
        with h5py.File(path, "r") as h:
            fs = float(h.attrs["sampling_rate"])
            q, p = _fill(np.array(h["opt_quat"])), _fill(np.array(h["opt_pos"]))
            acc, gyr, mv = np.array(h["imu_acc"]), np.array(h["imu_gyr"]), np.array(h["movement"]).astype(bool)
        step = 2
        R = Rotation.from_quat(q[::step][:, [1, 2, 3, 0]]).as_matrix()
        joints = p[::step, None, :] + np.einsum("tij,kj->tki", R, _LOCAL)
        t, sa, sg = (np.asarray(v, np.float64) for v in sim(joints, fs / step, "watch-left", rate_hz))
        ti = np.arange(len(acc)) / fs
        ra = np.stack([np.interp(t, ti, acc[:, k]) for k in range(3)], 1)
        rg = np.stack([np.interp(t, ti, gyr[:, k]) for k in range(3)], 1)
        m = (np.interp(t, ti, mv.astype(float)) > 0.5) & (t > 2.0) & (t < t[-1] - 2.0)
        M = _kabsch(sg[m], rg[m])
        sg2, sa2 = sg @ M.T, sa @ M.T
        out[name] = (np.array([np.corrcoef(sg2[m, k], rg[m, k])[0, 1] for k in range(3)]),
                     np.array([np.corrcoef(sa2[m, k], ra[m, k])[0, 1] for k in range(3)]))
    return out


def broad_summary(scores: dict[str, tuple]) -> tuple[float, float]:
    """(worst gyro axis on the rotation trial, worst accel axis on the translation trial), as the script."""
    wg = min([1.0] + [float(g.min()) for n, (g, _) in scores.items() if "rotation" in n])
    wa = min([1.0] + [float(a.min()) for n, (_, a) in scores.items() if "translation" in n])
    return wg, wa


# ---------------------------------------------------------------------------------------------------------------

def numpy_baseline(cutoff_hz: float = 6.0, lever_m: float = 0.036) -> Simulator:
    """``baseline_numpy.simulate_numpy`` as a protocol ``Simulator`` (watch mounts only)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from baseline_numpy import simulate_numpy

    def sim(joints, fps, mount, rate_hz):
        side = {"watch-left": "left", "watch-right": "right"}[mount]
        return simulate_numpy(joints, fps, "coco17", side, rate_hz=rate_hz, cutoff_hz=cutoff_hz, lever_m=lever_m)

    return sim


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="score the NumPy baseline on the shared real data, in process")
    ap.add_argument("--realdata", default=os.path.join(here, "..", "..", "shared", "realdata"))
    ap.add_argument("--cutoff", type=float, default=6.0)
    ap.add_argument("--lever", type=float, default=0.036)
    args = ap.parse_args(argv)
    sim = numpy_baseline(args.cutoff, args.lever)
    b = score_broad(sim, os.path.join(args.realdata, "broad"))
    for n, (g, a) in b.items():
        print(f"{n}: gyro corr {np.round(g, 3)}; accel corr {np.round(a, 3)}")
    print("BROAD worst axis: gyro %.3f (rotation), accel %.3f (translation)" % broad_summary(b))
    u = score_utd(sim, os.path.join(args.realdata, "utd_mhad"))
    print("UTD-MHAD %d trials, median envelope |a| %.3f, |w| %.3f; sample by sample |a| %.3f, |w| %.3f"
          % ((len(u),) + utd_summary(u)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
