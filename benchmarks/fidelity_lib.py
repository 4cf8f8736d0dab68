"""Helpers for ``benchmarks/fidelity.py``: the shared scripts' real-data protocols split into "load the trials"
and "score one simulated signal", so that all trials can be simulated in one batched call in between.

The steps themselves come from ``realdata_protocol`` (which ``tests/test_baseline_protocol.py`` checks against
``../shared/tools/fidelity_utd.py``): the UTD-MHAD skeleton, frame rate and real readings (``utd_trial``), the
UTD scores (``utd_scores``), BROAD's gap filling, rigid skeleton and Kabsch fit (``_fill``, ``_LOCAL``,
``_kabsch``). What is new here:

* ``best_lag``: ``realdata_protocol.best_lag_corr`` that also returns the lag (for the figures);
* ``load_broad`` / ``score_broad_signal``: ``fidelity_broad.py``'s BROAD protocol for a signal simulated
  elsewhere, returning per-axis RMSE (and the script's all-axis RMSE) besides the per-axis correlations; the
  correlations equal ``realdata_protocol.score_broad``'s for the same signal (``fidelity.py --verbose`` prints
  that check);
* ``broad_trajectory``: the tracked body's own pose (``opt_pos``, ``opt_quat``, gaps filled as the script does)
  for ``imusim_jax.Trajectory``.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import realdata_protocol as rp  # noqa: E402

__all__ = ["UtdTrial", "utd_trials", "best_lag", "BroadTrial", "load_broad", "broad_skeleton", "broad_trajectory",
           "score_broad_signal", "BROAD_STEP", "BROAD_RATE_HZ", "UTD_RATE_HZ", "UTD_MAX_LAG"]

UTD_RATE_HZ = 50.0
UTD_MAX_LAG = 20          # +-0.4 s at 50 Hz, as the script
BROAD_RATE_HZ = 100.0     # the script's --rate
BROAD_STEP = 2            # the script gives the simulator poses at fs / 2


# ---------------------------------------------------------------------------------------------------------------
# UTD-MHAD
# ---------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class UtdTrial:
    name: str            # aA_sS_tT
    action: int
    subject: int
    trial: int
    joints: np.ndarray   # (T, 17, 3) COCO-17, z-up world, metres
    fps: float           # frames / (IMU samples / 50)
    iner: np.ndarray     # (T_imu, 6) real readings, g and deg/s


def utd_trials(data_dir: str, actions, subjects=None) -> list[UtdTrial]:
    """The wrist trials (actions <= 21) of ``actions`` (and ``subjects``, all when ``None``), in the script's
    order (sorted file names), built by ``realdata_protocol.utd_trial``."""
    out = []
    for path in sorted(glob.glob(os.path.join(data_dir, "Skeleton", "*.mat"))):
        name = os.path.basename(path).replace("_skeleton.mat", "")
        m = re.match(r"a(\d+)_s(\d+)_t(\d+)", name)
        a, s, t = (int(x) for x in m.groups())
        if a not in actions or a > 21 or (subjects is not None and s not in subjects):
            continue
        joints, fps, iner = rp.utd_trial(path)
        out.append(UtdTrial(name, a, s, t, joints, float(fps), iner))
    return out


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[float, int]:
    """``(corr, lag)``: ``realdata_protocol.best_lag_corr`` (the same loop, the first maximum) and the lag it
    found; at lag ``L >= 0``, ``a[k + L]`` is paired with ``b[k]``."""
    best, best_l = -1.0, 0
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b[:len(b) - lag]) if lag >= 0 else (a[:lag], b[-lag:])
        n = min(len(x), len(y))
        if n < 20:
            continue
        c = np.corrcoef(x[:n], y[:n])[0, 1]
        if c > best:
            best, best_l = c, lag
    return best, best_l


# ---------------------------------------------------------------------------------------------------------------
# BROAD
# ---------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class BroadTrial:
    name: str
    fs: float            # BROAD's rate, Hz
    q: np.ndarray        # (N, 4) opt_quat (w, x, y, z), body to ENU world, gaps filled
    p: np.ndarray        # (N, 3) opt_pos, m, gaps filled
    acc: np.ndarray      # (N, 3) real accelerometer, m/s^2
    gyr: np.ndarray      # (N, 3) real gyroscope, rad/s
    movement: np.ndarray  # (N,) bool


def load_broad(data_dir: str) -> list[BroadTrial]:
    """Every ``*.hdf5`` trial in ``data_dir``, sorted, as the script reads them."""
    import h5py

    out = []
    for path in sorted(glob.glob(os.path.join(data_dir, "*.hdf5"))):
        name = os.path.basename(path).split(".")[0]
        with h5py.File(path, "r") as h:
            fs = float(h.attrs["sampling_rate"])
            q, p = rp._fill(np.array(h["opt_quat"])), rp._fill(np.array(h["opt_pos"]))
            acc, gyr = np.array(h["imu_acc"]), np.array(h["imu_gyr"])
            mv = np.array(h["movement"]).astype(bool)
        out.append(BroadTrial(name, fs, q, p, acc, gyr, mv))
    return out


def broad_skeleton(tr: BroadTrial, step: int = BROAD_STEP) -> tuple[np.ndarray, float]:
    """The script's rigid COCO-17 skeleton on the tracked body (left wrist at its origin), poses at ``fs / step``:
    ``(joints (T, 17, 3), fps)``."""
    from scipy.spatial.transform import Rotation

    R = Rotation.from_quat(tr.q[::step][:, [1, 2, 3, 0]]).as_matrix()
    return tr.p[::step, None, :] + np.einsum("tij,kj->tki", R, rp._LOCAL), tr.fs / step


def broad_trajectory(tr: BroadTrial, step: int = 1) -> tuple[np.ndarray, np.ndarray, float]:
    """The tracked body's pose itself, ``(positions (T, 3), q_wb (T, 4) scalar first, fps)``, every ``step``-th
    sample (default: all, at BROAD's 285.7 Hz)."""
    return tr.p[::step], tr.q[::step], tr.fs / step


def score_broad_signal(tr: BroadTrial, t: np.ndarray, sa: np.ndarray, sg: np.ndarray) -> dict:
    """The script's BROAD scoring of one simulated signal (``t`` s, ``sa`` m/s^2, ``sg`` rad/s, sensor frame):
    the real IMU interpolated to ``t``, the movement samples more than 2 s from either end, one constant
    rotation fitted on the gyro (Kabsch), then per axis

    ``gyro_corr``, ``acc_corr`` (3,), ``gyro_rmse`` (rad/s), ``acc_rmse`` (m/s^2) (3,), and as the script prints
    them ``gyro_rmse_all``, ``acc_rmse_all`` (over the three axes), ``gyro_std``, ``acc_std`` (the real signal's
    std over all axes); plus the aligned signals (``sg``, ``sa``), the real ones (``rg``, ``ra``), ``t``, the
    mask ``m`` and the fitted rotation ``M`` and its angle ``M_deg``."""
    t, sa, sg = (np.asarray(v, np.float64) for v in (t, sa, sg))
    ti = np.arange(len(tr.acc)) / tr.fs
    ra = np.stack([np.interp(t, ti, tr.acc[:, k]) for k in range(3)], 1)
    rg = np.stack([np.interp(t, ti, tr.gyr[:, k]) for k in range(3)], 1)
    m = (np.interp(t, ti, tr.movement.astype(float)) > 0.5) & (t > 2.0) & (t < t[-1] - 2.0)
    M = rp._kabsch(sg[m], rg[m])
    sg2, sa2 = sg @ M.T, sa @ M.T
    cos = np.clip((np.trace(M) - 1.0) / 2.0, -1.0, 1.0)
    return dict(
        gyro_corr=np.array([np.corrcoef(sg2[m, k], rg[m, k])[0, 1] for k in range(3)]),
        acc_corr=np.array([np.corrcoef(sa2[m, k], ra[m, k])[0, 1] for k in range(3)]),
        gyro_rmse=np.sqrt(((sg2[m] - rg[m]) ** 2).mean(0)), acc_rmse=np.sqrt(((sa2[m] - ra[m]) ** 2).mean(0)),
        gyro_rmse_all=float(np.sqrt(((sg2[m] - rg[m]) ** 2).mean())),
        acc_rmse_all=float(np.sqrt(((sa2[m] - ra[m]) ** 2).mean())),
        gyro_std=float(rg[m].std()), acc_std=float(ra[m].std()),
        sg=sg2, sa=sa2, rg=rg, ra=ra, t=t, m=m, M=M, M_deg=float(np.degrees(np.arccos(cos))))
