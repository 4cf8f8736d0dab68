"""Calibration benchmarks: the stationary fit's speed (20 minutes at 100 Hz) and the unpaired fit on UP-Fall.

    .venv/bin/python benchmarks/calibrate.py                     # every mode
    .venv/bin/python benchmarks/calibrate.py --mode stationary   # one mode: stationary, unpaired
    .venv/bin/python benchmarks/calibrate.py --mode unpaired --quick

One function per mode (``bench_stationary``, ``bench_unpaired``; a ``bench_paired`` may join them). Each prints
the machine and its load (``machine.py``), compile time apart from run time, and the fit's figures.

The unpaired mode's data (``load_upfall_poses``): UP-Fall's MediaPipe landmarks (``../shared/realdata/upfall/
SUBJECT*.zip``) lifted crudely to metres, simulated as a left-wrist watch and fitted against UP-Fall's real left
wrist (``upfall_falls_wrist.csv``). The lift, documented here because no reader exists for these files:

* Frame order: most CSVs hold their 100 frames in the lexicographic order of the frame numbers (0, 1, 10, 11, ...,
  19, 2, 20, ...): the order whose hip path is shorter (as written, or restored) is taken.
* A frame-to-frame jump of the hips (0.1 of the picture) or of the left arm's landmarks (0.15) is the detector
  switching to another person or losing this one: each clip is cut at its jumps and its longest piece kept (at
  least ``min_frames``, 40 frames, 2.2 s), then passed through a 3-frame running median (single-frame glitches).
* Image x (0-1 of 640 px), y (0-1 of 480 px, down) and MediaPipe's relative z (about x's scale) become pixels,
  then metres by one factor per clip: a nominal 1.32 m from mid-shoulder to mid-ankle (a 1.70 m adult) over its
  median over the clip's confident frames; world = (x, z, -y) of the image axes (a proper rotation), z up.
* 18.4 fps (the cameras are synchronised to the CSV's 18.4 Hz rows).

This is a crude, perspective-free lift: distances are right only near the person's median depth, and MediaPipe's
z is a relative depth. The unpaired fit's scale and smoothing parameters absorb part of what it gets wrong.
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import sys
import time
import zipfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

UPFALL_FPS = 18.4
SHOULDER_TO_ANKLE_M = 1.32
_NAME = re.compile(r"C?(\d?)S(\d+)_?A(\d+)_?T(\d+)\.csv$", re.IGNORECASE)
_LEX = np.array(sorted(range(100), key=str))  # position p of a lexicographically ordered clip holds frame _LEX[p]


def realdata_dir() -> pathlib.Path | None:
    env = os.environ.get("IMUSIM_REALDATA")
    for c in ([pathlib.Path(env)] if env else []) + [HERE.parent.parent / "shared" / "realdata"]:
        if c.is_dir():
            return c
    return None


def _hip_path(J):
    hip = 0.5 * (J[:, 23, :2] + J[:, 24, :2])
    return float(np.linalg.norm(np.diff(hip, axis=0), axis=1).sum())


def _lift(J: np.ndarray, hip_jump: float = 0.1, arm_jump: float = 0.15, min_frames: int = 40):
    """Landmarks ``(T, 33, 3)`` (normalised image x, y, relative z) -> joints ``(T', 33, 3)`` in metres, the
    clip's longest run of frames without a jump (``None`` when shorter than ``min_frames``)."""
    T = len(J)
    if T == 100:
        inv = np.argsort(_LEX)
        if _hip_path(J[inv]) < _hip_path(J):
            J = J[inv]
    # a frame-to-frame jump of the hips (or of the left arm's landmarks) beyond what a body does in 1/18 s: the
    # detector switched to another person or lost this one; the clip is cut there and its longest piece kept
    step = np.linalg.norm(np.diff(J[:, :, :2], axis=0), axis=2)
    brk = (step[:, [23, 24]].max(1) > hip_jump) | (step[:, [11, 13, 15, 17, 19]].max(1) > arm_jump)
    edges = np.r_[0, np.flatnonzero(brk) + 1, T]
    a, b = max(zip(edges[:-1], edges[1:]), key=lambda r: r[1] - r[0])
    if b - a < min_frames:
        return None
    J = J[a:b]
    n = len(J)
    pad = np.pad(J, ((1, 1), (0, 0), (0, 0)), mode="edge")  # single-frame glitches: a 3-frame running median
    J = np.median(np.stack([pad[i:i + n] for i in range(3)]), axis=0)
    P = J * np.array([640.0, 480.0, 640.0])
    sh = 0.5 * (P[:, 11] + P[:, 12])
    an = 0.5 * (P[:, 27] + P[:, 28])
    s = SHOULDER_TO_ANKLE_M / np.median(np.linalg.norm(sh - an, axis=1))
    W = np.stack([P[..., 0], P[..., 2], -P[..., 1]], -1) * s
    return W - W[:, [23, 24]].mean(axis=(0, 1))  # centred on the mean hip


def load_upfall_poses(root=None, *, min_frames: int = 40):
    """UP-Fall's MediaPipe clips lifted to metres (the module docstring): a list of dicts with ``subject``,
    ``activity``, ``trial``, ``camera``, ``name`` and ``motion`` (a ``Motion``, mediapipe33, 18.4 fps), and the
    names of the clips dropped."""
    import imusim_jax as ij

    root = pathlib.Path(root or realdata_dir()) / "upfall"
    out, dropped = [], []
    for zpath in sorted(root.glob("SUBJECT*.zip")):
        with zipfile.ZipFile(zpath) as z:
            for name in sorted(z.namelist()):
                m = _NAME.search(name)
                if not m:
                    dropped.append(name)
                    continue
                rows = [r.split(",") for r in z.read(name).decode().strip().splitlines()]
                data = np.array([[float(c) if c.strip() else np.nan for c in r[:99]] for r in rows[1:]])
                W = _lift(data.reshape(-1, 33, 3), min_frames=min_frames)
                if W is None:
                    dropped.append(name)
                    continue
                cam, subj, act, trial = m.groups()
                motion = ij.Motion.create(W, UPFALL_FPS, "mediapipe33")
                out.append(dict(subject=int(subj), activity=int(act), trial=int(trial),
                                camera=int(cam) if cam else None, name=name, motion=motion))
    return out, dropped


def upfall_real(root=None, *, before_s: float = 2.5, after_s: float = 3.0, held_out_runs=(4, 5)):
    """UP-Fall's real left wrist around each impact (``before_s`` .. ``after_s``, the span the pose clips cover):
    ``(fit, held_out)`` lists of ``ImuSignal``; the held-out ones from the runs ``held_out_runs`` of each fall
    activity (a run is one subject's three trials, so these are other people than the fit's)."""
    import imusim_jax as ij

    path = pathlib.Path(root or realdata_dir()) / "upfall" / "upfall_falls_wrist.csv"
    fit, held = [], []
    for r in ij.io.read_recordings(path):
        fs, n = r.signal.rate_hz, r.signal.num_samples
        for i in r.meta["impact_rows"]:
            a, b = max(i - int(before_s * fs), 0), min(i + int(after_s * fs), n)
            s = ij.ImuSignal(r.signal.accel[a:b], r.signal.gyro[a:b], rate_hz=fs)
            (held if r.meta["run"] in held_out_runs else fit).append(s)
    return fit, held


def _machine_line() -> str:
    from machine import cpu_model

    return (f"machine: {cpu_model()}, {len(os.sched_getaffinity(0))} usable cores, load average "
            f"{os.getloadavg()[0]:.2f}")


class _CompileClock:
    """Seconds XLA spent compiling while it is on (jax.monitoring's backend-compile events)."""

    def __init__(self):
        import jax.monitoring

        self.total = 0.0
        self.on = False

        def listen(event, duration, **kw):
            if self.on and "backend_compile" in event:
                self.total += duration

        jax.monitoring.register_event_duration_secs_listener(listen)

    def __enter__(self):
        self.total, self.on = 0.0, True
        return self

    def __exit__(self, *exc):
        self.on = False


def bench_stationary(seeds: int = 5, minutes: float = 20.0, rate_hz: float = 100.0) -> dict:
    """A stationary fit of ``minutes`` at ``rate_hz`` (the target: under 10 s on the 2-core CPU), timed per seed
    (compile apart), with the round trip's accuracy per parameter and axis."""
    import jax
    import jax.numpy as jnp

    import imusim_jax as ij
    from imusim_jax import _noise
    from imusim_jax.calibrate import fit_stationary

    print(f"\n== stationary: {minutes:g} min at {rate_hz:g} Hz, bmi160 densities, {seeds} seeds ==")
    print(_machine_line())
    acc = dict(noise_density=1.7652e-3, random_walk=1e-4, bias_std=0.3)
    gyr = dict(noise_density=1.2217e-4, random_walk=1e-5, bias_std=0.05)
    noise = ij.ImuNoise(ij.SensorNoise.create(**acc), ij.SensorNoise.create(**gyr), "truth")
    n = int(minutes * 60 * rate_hz)
    N_true = np.r_[np.full(3, acc["noise_density"]), np.full(3, gyr["noise_density"])]
    K_true = np.r_[np.full(3, acc["random_walk"]), np.full(3, gyr["random_walk"])]
    clock = _CompileClock()
    rows, times = [], []
    for seed in range(seeds):
        a, w = _noise.apply_noise(jax.random.key(1000 + seed), jnp.tile(jnp.asarray([0.0, 0.0, 9.80665]), (n, 1)),
                                  jnp.zeros((n, 3)), noise, rate_hz)
        sig = ij.ImuSignal(np.asarray(a), np.asarray(w), rate_hz=rate_hz)
        with clock:
            t0 = time.perf_counter()
            prof = fit_stationary(sig)
            wall = time.perf_counter() - t0
        f = prof.fit
        N = np.r_[f["accel.noise_density"]["value"], f["gyro.noise_density"]["value"]]
        K = np.r_[f["accel.random_walk"]["value"], f["gyro.random_walk"]["value"]]
        Kse = np.r_[f["accel.random_walk"]["stderr"], f["gyro.random_walk"]["stderr"]]
        rows.append((N / N_true - 1, K / K_true - 1, Kse / K))
        times.append((wall, clock.total))
        print(f"seed {seed}: {wall:5.2f} s ({clock.total:4.2f} s compiling, {wall - clock.total:4.2f} s running), "
              f"{f['steps']} steps, converged {f['converged']}")
        print("   N error % " + " ".join(f"{100 * v:+6.2f}" for v in N / N_true - 1)
              + "   K error % " + " ".join(f"{100 * v:+6.1f}" for v in K / K_true - 1)
              + "   K stderr % " + " ".join(f"{100 * v:5.1f}" for v in Kse / K))
    Ne = np.array([r[0] for r in rows])
    Ke = np.array([r[1] for r in rows])
    walls = np.array([t[0] for t in times])
    print(f"RESULT stationary: wall {np.median(walls):.2f} s median ({walls.min():.2f}-{walls.max():.2f}; target < 10 s), "
          f"|N error| max {100 * np.abs(Ne).max():.2f} % (target 5 %), K error RMS {100 * np.sqrt((Ke ** 2).mean()):.1f} %"
          f" max {100 * np.abs(Ke).max():.1f} % (target 25 %), {np.mean(np.abs(Ke) > 0.25) * 100:.0f} % of axes over "
          f"25 %; {_machine_line()}")
    return {"wall_s": walls.tolist(), "compile_s": [t[1] for t in times], "N_err": Ne.tolist(), "K_err": Ke.tolist()}


def bench_unpaired_synthetic(seeds: int = 3, clips: int = 16, max_steps: int = 400) -> dict:
    """The unpaired round trip: synthetic clips (``synthetic_motion.py``, 6 s at 30 fps) simulated at 50 Hz; the
    "real" set is the same motions recorded by a sensor with known per-axis scales (within +-5 %), white noise and
    a Gaussian smoothing per sensor, drawn per seed with its own noise key. Distributions of windows only are
    compared (nothing is paired), so this measures identifiability when the activities' statistics agree; the
    default parameters (noise, scale, smoothing) are fitted."""
    import jax
    import jax.numpy as jnp

    import imusim_jax as ij
    from imusim_jax.calibrate import unpaired as U
    from synthetic_motion import synthetic_clips

    fs = 50.0
    print(f"\n== unpaired round trip: {clips} synthetic clips, {seeds} seeds ==")
    print(_machine_line())
    motions = ij.Motion.create(synthetic_clips(clips, 6.0, 30.0, seed=3), 30.0, "coco17")
    p = ij.prepare(motions, "watch-left", rate_hz=fs, cutoff_hz=6.0)
    mask = jnp.arange(p.n_out)[None] < p.n_samples[:, None]
    clock = _CompileClock()
    errs = []
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        sa, sg = rng.uniform(-0.05, 0.05, 3), rng.uniform(-0.05, 0.05, 3)
        sig = rng.uniform(1.0, 2.0, 2)
        truth = ij.ImuNoise(ij.SensorNoise.create(noise_density=0.005, scale_error=sa),
                            ij.SensorNoise.create(noise_density=5e-4, scale_error=sg), "truth")
        s = ij.sense(p, "watch-left", truth, jax.random.key(100 + seed))
        X = jnp.concatenate([s.accel, s.gyro], -1)
        X = np.asarray(jnp.concatenate([U.gaussian_smooth(X[..., :3], sig[0], mask[:, :X.shape[1]]),
                                        U.gaussian_smooth(X[..., 3:], sig[1], mask[:, :X.shape[1]])], -1))
        reals = [ij.ImuSignal(X[b, :n, :3], X[b, :n, 3:], rate_hz=fs) for b, n in enumerate(np.asarray(p.n_samples))]
        with clock:
            t0 = time.perf_counter()
            res = U.fit_unpaired(motions, reals, cutoff_hz=6.0, before_cutoff_hz=6.0, max_steps=max_steps)
            wall = time.perf_counter() - t0
        f = res.profile.fit
        scale = np.r_[f["accel.scale"]["value"], f["gyro.scale"]["value"]]
        se = scale / (1 + np.r_[sa, sg]) - 1
        sm = res.smoothing_samples / sig - 1
        errs.append(np.r_[se, sm])
        R = res.report["fit_sets"]
        print(f"seed {seed}: {wall:.1f} s ({clock.total:.1f} s compiling), {f['steps']} steps; scale error % "
              + " ".join(f"{100 * v:+.2f}" for v in se) + "; smoothing error % "
              + " ".join(f"{100 * v:+.1f}" for v in sm) + f"; noise density fitted "
              f"{np.round(f['accel.noise_density']['value'], 4).tolist()} (truth 0.005), "
              f"{np.round(f['gyro.noise_density']['value'], 5).tolist()} (truth 0.0005); MMD2 before "
              f"{R['before']['mmd2']:.3f} after {R['after']['mmd2']:.4f} percentile {R['percentile']['mmd2']:.3f}")
    e = np.array(errs)
    print(f"RESULT unpaired round trip: |scale error| max {100 * np.abs(e[:, :6]).max():.2f} % (target 0.5 %), "
          f"|smoothing error| max {100 * np.abs(e[:, 6:]).max():.1f} %; {_machine_line()}")
    return {"errors": e.tolist()}


def bench_unpaired(quick: bool = False, max_steps: int = 300, bootstrap: int = 0) -> dict:
    """The unpaired fit on UP-Fall: MediaPipe falls of three skeleton subjects (lifted, ``load_upfall_poses``),
    each left out in turn, fitted against the real left wrist around the impacts (runs 1-3 of each fall), scored on
    the held-out subject against the held-out real runs (4-5): distances before the fit, after it, and after
    percentile mapping."""
    import imusim_jax as ij  # noqa: F401
    from imusim_jax.calibrate.unpaired import fit_unpaired

    root = realdata_dir()
    if root is None:
        print("unpaired: ../shared/realdata is absent; skipped")
        return {}
    print("\n== unpaired: UP-Fall falls, leave one skeleton subject out ==")
    print(_machine_line())
    clips, dropped = load_upfall_poses(root)
    real_fit, real_held = upfall_real(root)
    subjects = sorted({c["subject"] for c in clips})
    print(f"{len(clips)} pose clips kept ({len(dropped)} dropped: jumps or too short) of subjects "
          + ", ".join(f"S{s} ({sum(c['subject'] == s for c in clips)})" for s in subjects)
          + f"; real: {len(real_fit)} fit and {len(real_held)} held-out impacts")
    clock = _CompileClock()
    out = {}
    for held in subjects[:1] if quick else subjects:
        fit_m = [c["motion"] for c in clips if c["subject"] != held]
        held_m = [c["motion"] for c in clips if c["subject"] == held]
        with clock:
            t0 = time.perf_counter()
            res = fit_unpaired(fit_m, real_fit, held_out=(held_m, real_held), per_axis=False,
                               max_steps=max_steps, bootstrap=bootstrap)
            wall = time.perf_counter() - t0
        f = res.profile.fit
        vals = {k: (f[k]["value"], f[k]["stderr"]) for k in f if isinstance(f[k], dict) and "value" in f[k]}
        print(f"held out S{held} ({len(held_m)} clips; fit on {len(fit_m)}): {wall:.1f} s ({clock.total:.1f} s "
              f"compiling), {f['steps']} steps, converged {f['converged']}")
        print("   fitted (± bootstrap stderr): " + ", ".join(
            f"{k} {np.round(np.asarray(v), 4).tolist()} ± {np.round(np.asarray(e, np.float64), 4).tolist()}"
            for k, (v, e) in vals.items())
              + f"; cutoff_hz_equivalent {np.round(f['cutoff']['cutoff_hz_equivalent'], 2).tolist()}")
        for where in ("fit_sets", "held_out"):
            R = res.report[where]
            print(f"   {where:9s} " + " | ".join(f"{k} MMD2 {R[k]['mmd2']:.3f} W1 {R[k]['w1_mean']:.3f}"
                                                 for k in ("before", "after", "percentile")))
        out[held] = res.report["held_out"]
    keys = ("before", "after", "percentile")
    mm = {k: np.mean([out[h][k]["mmd2"] for h in out]) for k in keys}
    ww = {k: np.mean([out[h][k]["w1_mean"] for h in out]) for k in keys}
    print("RESULT unpaired (held out, mean over folds): MMD2 " + ", ".join(f"{k} {mm[k]:.3f}" for k in keys)
          + "; W1 " + ", ".join(f"{k} {ww[k]:.3f}" for k in keys)
          + "; folds where after < before and < percentile on both: "
          + str(sum(out[h]["after"]["mmd2"] < min(out[h]["before"]["mmd2"], out[h]["percentile"]["mmd2"])
                    and out[h]["after"]["w1_mean"] < min(out[h]["before"]["w1_mean"], out[h]["percentile"]["w1_mean"])
                    for h in out)) + f"/{len(out)}")
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=("all", "stationary", "unpaired"), default="all")
    ap.add_argument("--quick", action="store_true", help="fewer seeds and folds")
    ap.add_argument("--seeds", type=int, default=None, help="stationary: seeds (default 5, --quick 2)")
    ap.add_argument("--steps", type=int, default=300, help="unpaired: optimiser steps at most")
    ap.add_argument("--bootstrap", type=int, default=0, help="unpaired: bootstrap replicates")
    args = ap.parse_args(argv)
    if args.mode in ("all", "stationary"):
        bench_stationary(seeds=args.seeds or (2 if args.quick else 5))
    if args.mode in ("all", "unpaired"):
        bench_unpaired_synthetic(seeds=1 if args.quick else 3)
        bench_unpaired(quick=args.quick, max_steps=args.steps, bootstrap=args.bootstrap)


if __name__ == "__main__":
    main()
