"""Paired calibration on real data: a profile fitted per subject on half of its trials, applied to the other half.

For each subject: ``imusim_jax.calibrate.fit_paired`` on the training trials (the skeleton and the real wrist IMU
of each), then the held-out trials are simulated twice, with the uncalibrated preset (``watch-right`` on
UTD-MHAD, ``watch-left`` on SmartFallMM; automatic cut-off, no noise) and with the profile (its mount, gains,
biases and cut-off; its noise densities off, so that both are deterministic: ``--with-noise`` adds them), and
compared with the real recordings:

* per-axis sample correlation (accelerometer x, y, z, gyroscope x, y, z) at one lag per trial: the lag that
  maximises the sum of the 0.3 s envelope correlations of |a| and |omega| (orientation-free, so chosen the same
  way for both simulations), within +-0.4 s on UTD-MHAD and +-5 s (at least 3 s or half the shorter envelope
  overlapping) on SmartFallMM, as ``../shared/tools/fidelity_*.py`` do;
* the magnitude-envelope correlations of |a| and |omega| by the shared tools' rules (UTD-MHAD: each at its own
  best lag within +-0.4 s; SmartFallMM: at the lag above).

Medians over held-out trials (per axis, then over the six axes), per subject and over all; and the time of each
subject's fit (wall clock, with the machine's load average).

Data:
* UTD-MHAD subjects 1-4, actions 1-21 (the sensor is on the right wrist; on the thigh for 22-27), trials 1-2 fit,
  3-4 held out; skeleton by ``imusim_jax.load_motion`` (Kinect v1, ``kinect20``, frame rate from the inertial
  file), IMU by ``imusim_jax.io.read_recordings``.
* SmartFallMM, the shared subjects (S31, S34, S38, S44, S46), usable trials (``trials.csv``), within each activity
  alternately fit / held out (sorted by trial number); Azure Kinect skeletons as the shared tool converts them
  (COCO-17, world = (x, z, -y), mm -> m, 30 fps, rows as they are), the LEFT-wrist watch read at 50 Hz
  (``read_smartfallmm_trial``).

Usage::

    .venv/bin/python benchmarks/calibrate_paired.py [--realdata DIR] [--dataset utd|smartfallmm|both]
        [--subjects 1,2] [--cutoff auto] [--with-noise] [--json OUT]

Without the data it prints one ``skip:`` line and exits 0.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
import time

import numpy as np

import imusim_jax as ij
from imusim_jax.calibrate import fit_paired

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_model

HERE = os.path.dirname(os.path.abspath(__file__))
RATE = 50.0
CHANNELS = ("ax", "ay", "az", "gx", "gy", "gz")
# Azure Kinect Body Tracking -> COCO-17 (../shared/tools/fidelity_smartfallmm.py)
COCO_FROM_AK = [27, 28, 30, 29, 31, 5, 12, 6, 13, 7, 14, 18, 22, 19, 23, 20, 24]
R_CAM2WORLD = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])


def realdata_dir(arg):
    for c in [arg, os.environ.get("IMUSIM_REALDATA"), os.path.join(HERE, "..", "..", "shared", "realdata")]:
        if c and os.path.isdir(c):
            return os.path.abspath(c)
    return None


# ----------------------------------------------------------------------------------------------------- loading
def utd_pairs(root, subject, trials, actions=range(1, 22)):
    from imusim_jax.io import read_recordings

    out = []
    for a in actions:
        for t in trials:
            sk = os.path.join(root, "utd_mhad", "Skeleton", f"a{a}_s{subject}_t{t}_skeleton.mat")
            if not os.path.exists(sk):
                continue
            iner = sk.replace("Skeleton", "Inertial").replace("_skeleton.mat", "_inertial.mat")
            out.append((f"a{a}_s{subject}_t{t}", ij.load_motion(sk), read_recordings(iner)[0]))
    return out


def smartfallmm_skeleton(path):
    rows = []
    with gzip.open(path, "rt") as f:
        for line in f:
            p = line.strip().split(",")
            if len(p) < 96:
                continue
            try:
                rows.append([float(x) for x in p[:96]])
            except ValueError:
                continue
    J = np.asarray(rows, float).reshape(len(rows), 32, 3) / 1000.0 @ R_CAM2WORLD.T
    return ij.Motion.create(J[:, COCO_FROM_AK], 30.0, "coco17")


def smartfallmm_trials(root):
    """{subject: [trial ids]} of the usable trials."""
    out = {}
    with open(os.path.join(root, "smartfallmm", "trials.csv")) as f:
        for r in csv.DictReader(f):
            if r["usable"] == "1":
                out.setdefault(r["subject"], []).append(r["trial"])
    return {k: sorted(v) for k, v in out.items()}


def smartfallmm_split(trials):
    """Within each activity, sorted by trial number: alternately fit, held out."""
    fit, held = [], []
    by_act = {}
    for t in trials:
        by_act.setdefault(t[3:6], []).append(t)
    for act in sorted(by_act):
        for k, t in enumerate(sorted(by_act[act])):
            (fit if k % 2 == 0 else held).append(t)
    return fit, held


def smartfallmm_pairs(root, trial_ids):
    from imusim_jax.datasets.smartfallmm import read_smartfallmm_trial

    base = os.path.join(root, "smartfallmm")
    out = []
    for t in trial_ids:
        m = smartfallmm_skeleton(os.path.join(base, "young", "skeleton", f"{t}.csv.gz"))
        rec = read_smartfallmm_trial(base, t, device="watch", rate_hz=RATE)
        out.append((t, m, rec))
    return out


# ----------------------------------------------------------------------------------------------------- scoring
def envelope(x, n=15):
    return np.convolve(x, np.ones(n) / n, "valid")


def corr_at(a, b, lag):
    """Pearson correlation of sim ``a`` and real ``b`` where ``a[k + lag]`` pairs with ``b[k]``; (corr, overlap)."""
    x, y = (a[lag:], b[:max(0, len(b) - lag)]) if lag >= 0 else (a[:lag], b[-lag:])
    n = min(len(x), len(y))
    if n < 5 or np.std(x[:n]) == 0 or np.std(y[:n]) == 0:
        return np.nan, n
    return float(np.corrcoef(x[:n], y[:n])[0, 1]), n


def score(sim, real, max_lag, min_overlap, independent_env):
    """Per-axis correlations at the envelope lag, and the two envelope correlations."""
    am_s, wm_s = np.linalg.norm(sim[:, :3], axis=1), np.linalg.norm(sim[:, 3:], axis=1)
    am_r, wm_r = np.linalg.norm(real[:, :3], axis=1), np.linalg.norm(real[:, 3:], axis=1)
    es_a, es_w, er_a, er_w = envelope(am_s), envelope(wm_s), envelope(am_r), envelope(wm_r)
    min_ov = min_overlap(len(es_a), len(er_a))
    best, lag = -np.inf, None
    for L in range(-max_lag, max_lag + 1):
        ca, n = corr_at(es_a, er_a, L)
        cw, _ = corr_at(es_w, er_w, L)
        if n >= min_ov and np.isfinite(ca + cw) and ca + cw > best:
            best, lag = ca + cw, L
    if lag is None:
        return None
    axes = [corr_at(sim[:, c], real[:, c], lag)[0] for c in range(6)]
    # "best lag": the one maximising the mean per-axis correlation (UTD-MHAD: within +-max_lag; SmartFallMM: within
    # +-0.5 s of the envelope lag)
    span = range(-max_lag, max_lag + 1) if independent_env else range(lag - 25, lag + 26)
    best_axes, best_mean = axes, np.nanmean(axes)
    for L in span:
        if corr_at(sim[:, 0], real[:, 0], L)[1] < min_ov:
            continue
        v = [corr_at(sim[:, c], real[:, c], L)[0] for c in range(6)]
        if np.nanmean(v) > best_mean:
            best_axes, best_mean = v, np.nanmean(v)
    if independent_env:
        env_a = max((corr_at(es_a, er_a, L)[0] for L in range(-max_lag, max_lag + 1)
                     if corr_at(es_a, er_a, L)[1] >= 20), default=np.nan)
        env_w = max((corr_at(es_w, er_w, L)[0] for L in range(-max_lag, max_lag + 1)
                     if corr_at(es_w, er_w, L)[1] >= 20), default=np.nan)
    else:
        env_a, env_w = corr_at(es_a, er_a, lag)[0], corr_at(es_w, er_w, lag)[0]
    return axes + [env_a, env_w, lag / RATE] + best_axes


def simulate_all(motions, mount, noise, cutoff):
    """One prepare and one sense for all held-out motions; noise deterministic (densities zeroed) unless given."""
    import jax

    p = ij.prepare(ij.stack_motions(motions), mount, rate_hz=RATE, cutoff_hz=cutoff)
    sig = ij.sense(p, mount, noise, jax.random.key(0) if noise is not None else None)
    a, g, n = np.asarray(sig.accel), np.asarray(sig.gyro), np.asarray(p.n_samples)
    return [np.concatenate([a[b, : n[b]], g[b, : n[b]]], 1) for b in range(len(motions))]


def deterministic(noise):
    z = lambda s: s.replace(noise_density=np.zeros(3, np.float32), random_walk=np.zeros(3, np.float32))
    return noise.replace(accel=z(noise.accel), gyro=z(noise.gyro))


def evaluate(held, preset, profile, cutoff_before, with_noise, max_lag, min_overlap, independent_env):
    motions = [m for _, m, _ in held]
    reals = [np.concatenate([np.asarray(r.signal.accel), np.asarray(r.signal.gyro)], 1) for _, _, r in held]
    before = simulate_all(motions, ij.get_mount(preset), None, cutoff_before)
    noise = profile.noise if with_noise else (deterministic(profile.noise) if profile.noise is not None else None)
    cut = profile.source.get("cutoff_hz", "auto")
    after = simulate_all(motions, profile.mount, noise, cut)
    kabsch = simulate_all(motions, profile.mount.replace(q_fs=np.asarray(profile.fit["kabsch_q_fs"], np.float32),
                                                         lever_f=ij.get_mount(preset).lever_f), None, cut)
    rows = []
    for (name, _, _), r, b, a, k in zip(held, reals, before, after, kabsch):
        sb, sa, sk = (score(x, r, max_lag, min_overlap, independent_env) for x in (b, a, k))
        if sb is None or sa is None:
            continue
        rows.append((name, sb, sa, sk))
    return rows


def summary(rows):
    """Per configuration (before, after, Kabsch only): per-column medians over trials."""
    return [np.nanmedian(np.array([r[k] for r in rows], float), 0) for k in (1, 2, 3)]


def fmt(v):
    return " ".join(f"{x:6.3f}" for x in v)


def print_summary(rows, indent="    "):
    for name, m in zip(("before", "after", "Kabsch"), summary(rows)):
        print(f"{indent}{name:7s} env lag: axes {fmt(m[:6])} med {np.median(m[:6]):.3f} (acc {np.median(m[:3]):.3f}"
              f" gyr {np.median(m[3:6]):.3f}) | best lag: med {np.median(m[9:15]):.3f} (acc {np.median(m[9:12]):.3f}"
              f" gyr {np.median(m[12:15]):.3f}) | env |a| {m[6]:.3f} |w| {m[7]:.3f}")


def run_subject(label, fit_pairs, held, preset, args, max_lag, min_overlap, independent_env):
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    kw = {"fit": tuple(args.fit.split(","))} if args.fit else {}
    if args.lever_max is not None:
        kw["lever_max_m"] = args.lever_max
    prof = fit_paired([(m, r) for _, m, r in fit_pairs], mount=preset, cutoff_hz=args.cutoff,
                      max_offset_s=args.max_offset, name=label, **kw)
    t_fit = time.perf_counter() - t0
    rows = evaluate(held, preset, prof, "auto", args.with_noise, max_lag, min_overlap, independent_env)
    f = prof.fit
    turn = f["parameters"]["q_fs"]["turn_from_preset_deg"]
    boot = f["parameters"]["q_fs"]["bootstrap_stderr_deg"]
    se = f["parameters"]["q_fs"]["stderr_deg"]
    print(f"{label}: fit on {len(fit_pairs)} trials in {t_fit:.1f} s (load {load0:.1f}; {f['steps']} steps, "
          f"converged {f['converged']}), {len(rows)} held out; turn from {preset} "
          f"({turn[0]:.0f}, {turn[1]:.0f}, {turn[2]:.0f}) deg (stderr {max(se):.1f}, over trials "
          f"{'-' if boot is None else f'{max(boot):.1f}'}), lever "
          f"{np.round(np.asarray(f['parameters']['lever_f']['value']) * 100, 1).tolist()} cm")
    print_summary(rows)
    return rows, t_fit, load0, prof


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--realdata", default=None)
    ap.add_argument("--dataset", default="both", choices=("utd", "smartfallmm", "both"))
    ap.add_argument("--subjects", default=None, help="comma-separated (UTD: 1-4; SmartFallMM: S31, ...)")
    ap.add_argument("--cutoff", default="auto", help="'auto', Hz, or a grid 'auto,3,4'")
    ap.add_argument("--max-offset", type=float, default=None)
    ap.add_argument("--fit", default=None, help="the parts to fit (fit_paired's fit), comma-separated")
    ap.add_argument("--lever-max", type=float, default=None, help="fit_paired's lever_max_m")
    ap.add_argument("--with-noise", action="store_true", help="simulate the held-out trials with the noise too")
    ap.add_argument("--json", default=None, help="write every trial's scores here")
    args = ap.parse_args(argv)
    root = realdata_dir(args.realdata)
    if root is None:
        print("skip: no ../shared/realdata (or --realdata / $IMUSIM_REALDATA)")
        return 0
    cut = [c.strip() for c in str(args.cutoff).split(",")]
    args.cutoff = [c if c == "auto" else float(c) for c in cut] if len(cut) > 1 else \
        (cut[0] if cut[0] == "auto" else float(cut[0]))
    import jax

    print(f"machine: {cpu_model()}, {len(os.sched_getaffinity(0))} usable cores, load average "
          f"{os.getloadavg()[0]:.1f}; jax {jax.__version__} on {jax.devices()[0].platform}; cut-off {args.cutoff}")
    out = {}
    if args.dataset in ("utd", "both"):
        subs = [int(s) for s in args.subjects.split(",")] if args.subjects and args.dataset == "utd" else [1, 2, 3, 4]
        args.max_offset = args.max_offset or 1.0
        allrows, times = [], []
        print("UTD-MHAD (right wrist, actions 1-21): fit on trials 1-2, held out 3-4; "
              "axes: ax ay az gx gy gz")
        for s in subs:
            fitp, held = utd_pairs(root, s, (1, 2)), utd_pairs(root, s, (3, 4))
            rows, t, load, prof = run_subject(f"UTD s{s}", fitp, held, "watch-right", args, 20,
                                              lambda a, b: 20, True)
            allrows += rows
            times.append((t, load))
            out[f"utd_s{s}"] = {"rows": rows, "fit_s": t, "profile": prof.to_dict()}
        print(f"UTD-MHAD all ({len(allrows)} held-out trials)")
        print_summary(allrows)
        print(f"    fit time per subject: {', '.join(f'{t:.1f} s (load {ld:.1f})' for t, ld in times)}")
    if args.dataset in ("smartfallmm", "both"):
        trials = smartfallmm_trials(root)
        subs = args.subjects.split(",") if args.subjects and args.dataset == "smartfallmm" else sorted(trials)
        args.max_offset = 5.0 if args.dataset == "smartfallmm" or args.max_offset in (None, 1.0) else args.max_offset
        allrows, times = [], []
        print("SmartFallMM (watch, left wrist): usable trials, alternately fit / held out within each activity")
        for s in subs:
            fit_ids, held_ids = smartfallmm_split(trials[s])
            fitp, held = smartfallmm_pairs(root, fit_ids), smartfallmm_pairs(root, held_ids)
            rows, t, load, prof = run_subject(f"SmartFallMM {s}", fitp, held, "watch-left", args, 250,
                                              lambda a, b: int(max(3 * RATE, 0.5 * min(a, b))), False)
            allrows += rows
            times.append((t, load))
            out[f"smartfallmm_{s}"] = {"rows": rows, "fit_s": t, "profile": prof.to_dict()}
        print(f"SmartFallMM all ({len(allrows)} held-out trials)")
        print_summary(allrows)
        print(f"    fit time per subject: {', '.join(f'{t:.1f} s (load {ld:.1f})' for t, ld in times)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    return 0


if __name__ == "__main__":
    sys.exit(main())
