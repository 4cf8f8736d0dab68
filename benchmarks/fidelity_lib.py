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
  for ``imusim_jax.Trajectory``;
* SmartFallMM (``sfmm_protocol``, ``sfmm_trials``, ``sfmm_score``): the skeletons and the real watch read with the
  library's readers, scored by ``../shared/tools/fidelity_smartfallmm.py``'s own functions (``score_trial``,
  ``landing_frame``, ``med``: imported from the script, not copied);
* fall peaks (``peak_at_rate``, ``weda_fall_peaks``, ``upfall_fall_peaks``, ``sfmm_fall_peaks``): the largest
  ``||a| - g|`` of each fall, after resampling to a common rate, for sources where only the real side exists.
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

__all__ = ["SfmmTrial", "sfmm_protocol", "sfmm_trials", "sfmm_score", "peak_at_rate", "weda_fall_peaks",
           "upfall_fall_peaks", "sfmm_fall_peaks", "UtdTrial", "utd_trials", "best_lag", "BroadTrial", "load_broad", "broad_skeleton", "broad_trajectory",
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


# ---------------------------------------------------------------------------------------------------------------
# SmartFallMM (paired: Azure Kinect skeleton + the real watch on the left wrist)
# ---------------------------------------------------------------------------------------------------------------

SFMM_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "tools",
                           "fidelity_smartfallmm.py")
_SFMM = None


def sfmm_protocol(path: str | None = None):
    """The shared scoring script ``fidelity_smartfallmm.py`` as a module (imported once, by ``importlib``): its
    ``score_trial``, ``landing_frame``, ``med``, ``FALLS``, ``ACT``, ``G0`` and ``RATE`` are the protocol. ``path``:
    the script (default ``../shared/tools/fidelity_smartfallmm.py`` beside the repository, else
    ``$IMUSIM_SHARED_TOOLS/fidelity_smartfallmm.py``)."""
    global _SFMM
    if _SFMM is None:
        import importlib.util

        path = path or os.path.join(os.environ.get("IMUSIM_SHARED_TOOLS", os.path.dirname(SFMM_SCRIPT)),
                                    "fidelity_smartfallmm.py")
        spec = importlib.util.spec_from_file_location("fidelity_smartfallmm", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _SFMM = mod
    return _SFMM


@dataclasses.dataclass
class SfmmTrial:
    name: str             # SxxAyyTzz
    activity: int
    raw: object           # imusim_jax.Motion as read (load_motion(..., repair=False): the rows as they are)
    repaired: object      # repair_artefacts(raw)[0]: what load_motion returns by default
    quality: object       # imusim_jax.SkeletonQuality
    acc: np.ndarray       # (N, 3) real watch, m/s^2, 50 Hz
    gyr: np.ndarray       # (N, 3) rad/s
    clipped: bool         # the real accelerometer reached +-8 g on an axis
    land: int | None      # skeleton landing frame (the script's landing_frame), falls only
    held_fraction: float  # rows the tracker held (a row equal to the one before)


def sfmm_trials(data_dir: str, subjects=None, joint_set: str = "azure32") -> tuple[list[SfmmTrial], dict]:
    """The usable trials (``trials.csv``) of ``data_dir`` (and of ``subjects``, e.g. ``{"S31"}``, all when None):
    skeleton by ``imusim_jax.load_motion(path, format="smartfallmm-skeleton", repair=False)`` (converted to
    ``joint_set``), repaired by ``imusim_jax.repair_artefacts`` (= ``load_motion``'s default); the watch by
    ``imusim_jax.datasets.smartfallmm.read_smartfallmm_trial(..., rate_hz=50)``. Returns the trials and
    ``{trial: why skipped}``."""
    import csv

    import imusim_jax as ij
    from imusim_jax.datasets.smartfallmm import read_smartfallmm_trial

    P = sfmm_protocol()
    with open(os.path.join(data_dir, "trials.csv")) as f:
        table = [r for r in csv.DictReader(f) if r["usable"] == "1"]
    if subjects is not None:
        table = [r for r in table if r["subject"] in subjects]
    out, skipped = [], {}
    for r in table:
        tr, act = r["trial"], int(r["activity"])
        try:
            rec = read_smartfallmm_trial(data_dir, tr, device="watch", rate_hz=P.RATE)
        except ij.InputError as e:
            skipped[tr] = f"watch: {e}"
            continue
        acc, gyr = np.asarray(rec.signal.accel, np.float64), np.asarray(rec.signal.gyro, np.float64)
        if len(acc) < 2 * P.RATE:
            skipped[tr] = "watch chunks overlap < 2 s"
            continue
        sat = rec.signal.saturated
        clipped = bool(np.asarray(sat).any()) if sat is not None else bool(np.abs(acc).max() >= 78.4)
        path = os.path.join(data_dir, "young", "skeleton", tr + ".csv.gz")
        raw = ij.load_motion(path, format="smartfallmm-skeleton", repair=False)
        if raw.num_frames < 10:
            skipped[tr] = "skeleton < 10 frames"
            continue
        W = np.asarray(raw.joints, np.float64)
        held = np.concatenate([[False], np.all(np.diff(W.reshape(len(W), -1), axis=0) == 0, axis=1)])  # repeats
        # the script's landing on the azure32 pelvis, its held rows interpolated
        land = P.landing_frame(W, held) if act in P.FALLS else None
        rep, q = ij.repair_artefacts(raw)
        if joint_set != "azure32":
            raw, rep = raw.to(joint_set), rep.to(joint_set)
        out.append(SfmmTrial(tr, act, raw, rep, q, acc, gyr, clipped, land, float(held.mean())))
    return out, skipped


def sfmm_score(trials: list[SfmmTrial], sigs) -> list[dict]:
    """The script's ``score_trial`` per trial (``sigs``: ``[(t, accel, gyro)]``); unscored trials (too short for
    3 s of envelope overlap) are left out. Each row also holds ``trial``, ``activity``, ``real_clipped``."""
    P = sfmm_protocol()
    rows = []
    for tr, (_, sa, sg) in zip(trials, sigs):
        s = P.score_trial(np.asarray(sa, np.float64), np.asarray(sg, np.float64), tr.acc, tr.gyr, tr.activity,
                          tr.land)
        if s is not None:
            s.update(trial=tr.name, activity=tr.activity, real_clipped=tr.clipped)
            rows.append(s)
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Fall peaks: real wrists (WEDA-FALL, UP-Fall, SmartFallMM's watch) and simulated falls
# ---------------------------------------------------------------------------------------------------------------

G0 = 9.80665


def peak_at_rate(acc: np.ndarray, rate_hz: float, to_hz: float | None = None, window_s=None) -> float:
    """The largest ``||a| - g|`` of ``acc`` (N, 3) m/s^2 sampled at ``rate_hz``, within ``window_s`` = (start,
    end) seconds from the first sample (all when None), after resampling to ``to_hz`` (None: as it is) by
    linear interpolation of the axes onto a grid starting at the first sample, as a sensor sampling at ``to_hz``
    would read it (no anti-alias filter: UP-Fall's 18.4 Hz rows are samples, not averages)."""
    acc = np.asarray(acc, np.float64)
    t = np.arange(len(acc)) / rate_hz
    if to_hz is not None and abs(to_hz - rate_hz) > 1e-9:
        g = np.arange(0.0, t[-1] + 1e-9, 1.0 / to_hz)
        acc = np.stack([np.interp(g, t, acc[:, k]) for k in range(3)], 1)
        t = g
    m = np.ones(len(t), bool) if window_s is None else (t >= window_s[0]) & (t <= window_s[1])
    return float(np.abs(np.linalg.norm(acc[m], axis=1) - G0).max()) if m.any() else np.nan


def weda_fall_peaks(data_dir: str, to_hz: float | None = None) -> tuple[np.ndarray, list[str]]:
    """Per WEDA-FALL fall recording (``50Hz/F*/U*_R*_accel.csv``, ``imusim_jax.datasets.weda_fall``): the peak
    ``||a| - g|`` within its labelled fall (``fall_timestamps.csv``; the whole recording where unlabelled).
    Returns the peaks and notes."""
    from imusim_jax.datasets.weda_fall import read_weda_fall

    peaks, unlabelled = [], 0
    paths = sorted(p for p in glob.glob(os.path.join(data_dir, "50Hz", "F*", "U*_R*_accel.csv"))
                   if not p.endswith("_vertical_accel.csv"))
    rates = set()
    for p in paths:
        rec = read_weda_fall(p)[0]
        fs = rec.meta.get("fall_s")
        t0 = rec.meta["t0_s"]
        win = None if fs is None else (fs[0] - t0, fs[1] - t0)
        unlabelled += fs is None
        rates.add(float(rec.signal.rate_hz))
        peaks.append(peak_at_rate(rec.signal.accel, float(rec.signal.rate_hz), to_hz, win))
    notes = [(f"{len(paths)} fall recordings, resampled by the reader to {sorted(rates)} Hz; "
              f"{unlabelled} without a labelled window (whole recording)")]
    return np.array(peaks), notes


def upfall_fall_peaks(csv_path: str, to_hz: float | None = None, before_s: float = 1.0):
    """UP-Fall's falls-only export (``imusim_jax.datasets.upfall``; each run of one ``Activity`` holds a subject's
    trials of that fall back to back, ``LABEL`` 1 from the authors' impact mark to the trial's end): per labelled
    segment (one fall), the peak ``||a| - g|`` from ``before_s`` before the mark to the segment's end."""
    from imusim_jax.datasets.upfall import read_upfall

    peaks, n_runs = [], 0
    for rec in read_upfall(csv_path):
        n_runs += 1
        lab = np.asarray(rec.meta["label"])
        rate = float(rec.signal.rate_hz)
        on = (lab == 1).astype(int)
        d = np.diff(np.r_[0, on, 0])
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
            peaks.append(peak_at_rate(rec.signal.accel, rate, to_hz, (a / rate - before_s, (b - 1) / rate)))
    return np.array(peaks), [f"{n_runs} activity runs, {len(peaks)} labelled falls at 18.4 Hz"]


def sfmm_fall_peaks(trials: list[SfmmTrial], sigs=None, rate_hz: float = 50.0, to_hz=None) -> np.ndarray:
    """Per SmartFallMM fall trial, the peak ``||a| - g|`` over the whole clip: of the real watch (``sigs`` None)
    or of the simulated signals ``[(t, accel, gyro)]``."""
    P = sfmm_protocol()
    out = []
    for i, tr in enumerate(trials):
        if tr.activity in P.FALLS:
            acc = tr.acc if sigs is None else sigs[i][1]
            out.append(peak_at_rate(acc, rate_hz, to_hz))
    return np.array(out)
