"""Simulator speed: clips per second of ``imusim_jax.simulate`` against two references measured in the same run.

Workload: synthetic ten-second COCO-17 clips at 30 fps (``synthetic_motion``: walking, turning, both arms
moving, varied per clip, deterministic seed), simulated as a left-wrist watch at 50 Hz with a fixed 6 Hz
cut-off and the ``bmi160`` noise model, through the public API::

    imusim_jax.simulate(Motion.create(joints (B, 300, 17, 3), 30.0, "coco17"), "watch-left", "bmi160",
                        key=jax.random.key(0), rate_hz=50, cutoff_hz=6.0)

For each batch size B it prints the first call (compile + run) apart from the run time (min over repeats, after
``block_until_ready``), clips/s and ms per clip, and per-clip ratios against

  (a) ``baseline_numpy``: the same maths in plain NumPy/SciPy (filter, spline, forearm frame, lever arm, finite
      differences, the same noise model), one clip at a time in a loop over a subset, per-clip time extrapolated;
  (b) x-io Technologies' IMU Simulator (PyPI ``imusim``, pure Python): each clip's sensor trajectory (position
      and quaternion at the frames) is written to its CSV format beforehand, then ``imusim.Simulator(csv,
      sample_rate=50)`` and reading ``.accelerometer``/``.gyroscope`` are timed on a few clips (it is slow).

It also checks, as a printed number and not a timing, that JAX and the NumPy baseline agree on one clip (|a| and
|w| correlation), so the ratio compares the same maths. ``--profile`` splits one call at the largest batch into
the host-side prelude (cProfile) and the jitted core run as one call (against the real call, which splits a CPU
batch across a thread pool), and times the noise model's share.
The machine's load average is printed at the start and the end: on a shared machine, other processes inflate
every figure (JAX's, which uses both cores, more than the single-threaded references').

Usage::

    .venv/bin/python benchmarks/simulate.py            # B = 1, 64, 1024 (and 10,000 on a GPU)
    .venv/bin/python benchmarks/simulate.py --quick    # B = 64 only, fewer repeats: under a minute
    .venv/bin/python benchmarks/simulate.py --clips 1,64,1024,10000 --profile
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("MPLBACKEND", "Agg")  # x-io's imusim imports pyplot

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imusim_jax as ij  # noqa: E402
from imusim_jax._parallel import cpu_threads  # noqa: E402
from machine import cpu_model  # noqa: E402
from baseline_numpy import add_noise, sensor_trajectory, simulate_numpy  # noqa: E402
from synthetic_motion import synthetic_clips  # noqa: E402

FPS, RATE_HZ, CUTOFF_HZ, SECONDS = 30.0, 50.0, 6.0, 10.0
TARGET_NUMPY, TARGET_IMUSIM = 10.0, 1000.0


def usable_cores() -> int:
    """Cores this process may run on (``taskset`` and cgroups' cpusets narrow it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def make_clips(n: int, seed: int, chunk: int = 1024) -> np.ndarray:
    return np.concatenate([synthetic_clips(min(chunk, n - i), SECONDS, FPS, seed, first=i)
                           for i in range(0, n, chunk)])


NOISE = "bmi160"  # set by --noise
JAX_CUTOFF = CUTOFF_HZ  # set by --cutoff


def jax_run(motion, key, noise=None):
    noise = NOISE if noise is None else (None if noise == "none" else noise)
    s = ij.simulate(motion, "watch-left", noise, key=key, rate_hz=RATE_HZ, cutoff_hz=JAX_CUTOFF)
    jax.block_until_ready((s.accel, s.gyro))
    return s


def bench_jax(clips: np.ndarray, B: int, repeats: int, seed: int) -> dict:
    prep_s, motion = timed(lambda: ij.Motion.create(clips[:B], FPS, "coco17"))
    key = jax.random.key(seed)
    first_s, signal = timed(lambda: jax_run(motion, key))
    runs = [timed(lambda: jax_run(motion, key))[0] for _ in range(repeats)]
    run_s = min(runs)
    return dict(B=B, prep_s=prep_s, first_s=first_s, compile_s=max(first_s - run_s, 0.0), run_s=run_s,
                median_s=float(np.median(runs)), clips_per_s=B / run_s, per_clip_s=run_s / B, signal=signal)


def bench_numpy(clips: np.ndarray, n: int, repeats: int, seed: int) -> float:
    """Seconds per clip of the NumPy baseline (simulate + noise), min over repeats of a loop over ``n`` clips."""
    rng = np.random.default_rng(seed)

    def loop():
        for b in range(n):
            _, a, g = simulate_numpy(clips[b], FPS, "coco17", "left", rate_hz=RATE_HZ, cutoff_hz=CUTOFF_HZ)
            if NOISE is not None:
                add_noise(rng, a, g, RATE_HZ)

    return min(timed(loop)[0] for _ in range(repeats)) / n


def bench_imusim(clips: np.ndarray, n: int):
    """Seconds per clip of x-io's ``imusim.Simulator`` (+ reading its outputs), min over ``n`` clips (all of the
    same length), and the extra seconds per clip of its noise setters; ``None`` if the package is missing."""
    try:
        import imusim
    except ImportError as e:
        print(f"x-io imusim not importable ({e}); its ratio is skipped")
        return None
    t = np.arange(clips.shape[1]) / FPS
    sim_s, noise_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for b in range(n):
            p, q = sensor_trajectory(clips[b], FPS, "coco17", "left")
            path = os.path.join(tmp, f"clip{b}.csv")
            np.savetxt(path, np.column_stack([t, p, q]), delimiter=",", header="time,x,y,z,qw,qx,qy,qz",
                       comments="", fmt="%.9g")

            def run():
                sim = imusim.Simulator(path, sample_rate=RATE_HZ)
                return sim, np.asarray(sim.accelerometer), np.asarray(sim.gyroscope)

            dt, (sim, acc, gyr) = timed(run)
            sim_s.append(dt)
            assert acc.shape[1] == 3 and np.isfinite(acc).all() and np.isfinite(gyr).all()

            def noise():  # BMI160-like settings in imusim's units (g, deg/s, %)
                sim.set_accelerometer(range=8, offset=np.array([0.04, -0.02, 0.01]), sensitivity_error=np.ones(3),
                                      noise_density=np.full(3, 180e-6), cross_axis=np.ones(3))
                sim.set_gyroscope(range=2000, offset=np.array([3.0, -1.0, 0.5]), sensitivity_error=np.ones(3),
                                  noise_density=np.full(3, 7e-3), cross_axis=np.ones(3))
                return np.asarray(sim.accelerometer), np.asarray(sim.gyroscope)

            noise_s.append(timed(noise)[0])
    return float(np.min(sim_s)), float(np.min(noise_s))


def agreement(signal, clip: np.ndarray) -> tuple[float, float]:
    """|a| and |w| correlation between clip 0 of a timed JAX batch (bmi160 noise: small next to the motion) and
    the noise-free NumPy baseline on the same clip."""
    n_ok = int(signal.lengths[0])
    ja, jg = np.asarray(signal.accel[0, :n_ok], np.float64), np.asarray(signal.gyro[0, :n_ok], np.float64)
    _, a, g = simulate_numpy(clip, FPS, "coco17", "left", rate_hz=RATE_HZ, cutoff_hz=CUTOFF_HZ)
    n = min(len(ja), len(a))
    def corr(x, y):
        return float(np.corrcoef(np.linalg.norm(x[:n], axis=1), np.linalg.norm(y[:n], axis=1))[0, 1])
    return corr(ja, a), corr(jg, g)


def profile(clips: np.ndarray, B: int, seed: int, repeats: int) -> None:
    """Where the time of one ``simulate`` call goes: the noise model's share (``noise=None`` against ``bmi160``),
    the host-side prelude (cProfile), and the jitted core alone run as one call over the whole batch (its
    arguments captured from a real call with ``IMUSIM_CPU_THREADS=1``) against the real call, which on a CPU
    runs parts of the batch on a thread pool. Reads ``imusim_jax._simulate._simulate_batch`` (private: this
    breakdown is a diagnostic and says so when the internals move)."""
    import cProfile
    import pstats

    from imusim_jax import _simulate as sim_mod

    motion = ij.Motion.create(clips[:B], FPS, "coco17")
    key = jax.random.key(seed)
    print(f"\nprofile at B={B}:")
    for label, noise in (("noise=None", "none"), ("noise=bmi160", "bmi160")):
        jax_run(motion, key, noise)
        t = min(timed(lambda: jax_run(motion, key, noise))[0] for _ in range(repeats))
        print(f"  simulate, {label:14s} {t:8.3f} s ({t / B * 1e3:.3f} ms/clip)")
    pr = cProfile.Profile()
    pr.enable()
    total = timed(lambda: jax_run(motion, key))[0]
    pr.disable()
    st = pstats.Stats(pr).stats
    cum = lambda name: sum(v[3] for k, v in st.items() if k[2] == name)  # noqa: E731
    print(f"  one call under cProfile: {total:.3f} s (cProfile inflates the Python-heavy parts), of which")
    for label, name in (("SciPy filter design per clip (design_lowpass)", "design_lowpass"),
                        ("Winter cut-off search (auto_cutoffs; 0 with a fixed cut-off)", "auto_cutoffs"),
                        ("the jitted core (_run_core: parts on a thread pool)", "_run_core")):
        print(f"    {label:62s} {cum(name):8.3f} s  ({cum(name) / total * 100:.0f} %)")

    core = getattr(sim_mod, "_simulate_batch", None)
    if core is None or not callable(core):
        print("  (imusim_jax._simulate._simulate_batch not found: core breakdown skipped)")
        return
    captured = {}

    def spy(*a, **k):
        captured["args"], captured["kw"] = a, k
        return core(*a, **k)

    sim_mod._simulate_batch = spy
    threads = os.environ.get("IMUSIM_CPU_THREADS")
    os.environ["IMUSIM_CPU_THREADS"] = "1"
    try:
        jax_run(motion, key)
    finally:
        sim_mod._simulate_batch = core
        if threads is None:
            del os.environ["IMUSIM_CPU_THREADS"]
        else:
            os.environ["IMUSIM_CPU_THREADS"] = threads
    a, k = captured["args"], captured["kw"]
    run_core = lambda: jax.block_until_ready(core(*a, **k))  # noqa: E731
    run_core()
    t_core, t_all = [], []
    for _ in range(repeats):  # interleaved, so both see the same machine load
        t_core.append(timed(run_core)[0])
        t_all.append(timed(lambda: jax_run(motion, key))[0])
    t_core, t_all = min(t_core), min(t_all)
    print(f"  jitted core as one call over the batch (one thread): {t_core:.3f} s ({t_core / B * 1e3:.3f} ms/clip); "
          f"the real call (prelude, {cpu_threads()} thread(s) on a CPU): {t_all:.3f} s "
          f"({t_all / B * 1e3:.3f} ms/clip)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="B = 64 only (one compile), fewer repeats and reference clips: under a minute")
    ap.add_argument("--clips", default=None, help="comma-separated batch sizes (default 1,64,1024 and 10000 "
                    "when a GPU is present)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per batch size (default 5, quick 2)")
    ap.add_argument("--numpy-clips", type=int, default=None, help="clips the NumPy loop runs (default 32)")
    ap.add_argument("--imusim-clips", type=int, default=None, help="clips x-io's imusim runs (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", action="store_true", help="break one call at the largest batch down")
    ap.add_argument("--noise", default="bmi160", choices=["bmi160", "none"],
                    help="noise model in both JAX and NumPy (default bmi160; none: the deterministic simulator)")
    ap.add_argument("--cutoff", default=str(CUTOFF_HZ),
                    help="the JAX side's cut-off: Hz (default 6, as NumPy's) or 'auto' (Winter's residual analysis "
                         "per clip, simulate's default; NumPy keeps 6 Hz)")
    args = ap.parse_args(argv)
    global NOISE, JAX_CUTOFF
    NOISE = None if args.noise == "none" else args.noise
    JAX_CUTOFF = "auto" if args.cutoff == "auto" else float(args.cutoff)

    dev = jax.devices()[0]
    gpu = dev.platform != "cpu"
    if args.clips:
        sizes = [int(c) for c in args.clips.split(",")]
    else:
        sizes = [64] if args.quick else [1, 64, 1024] + ([10000] if gpu else [])
    repeats = args.repeats or (2 if args.quick else 5)
    n_numpy = args.numpy_clips or (8 if args.quick else 32)
    n_imusim = args.imusim_clips if args.imusim_clips is not None else (1 if args.quick else 3)

    print(f"device: {dev.platform} {dev.device_kind} ({len(jax.devices())} device(s)); jax {jax.__version__}, "
          f"numpy {np.__version__}; CPU {cpu_model()}, {usable_cores()} usable cores of {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"workload: {SECONDS:g} s COCO-17 clips at {FPS:g} fps -> watch-left at {RATE_HZ:g} Hz, cut-off "
          f"{JAX_CUTOFF} Hz, noise {args.noise}"
          + (" (the JAX side runs Winter's residual analysis per clip; NumPy keeps 6 Hz and does not)"
             if JAX_CUTOFF == "auto" else ""))
    need = max(sizes + [n_numpy, n_imusim, 1])
    gen_s, clips = timed(lambda: make_clips(need, args.seed))
    print(f"generated {need} clips {clips.shape} in {gen_s:.1f} s")

    np_repeats = 1 if args.quick else 3
    np_before = bench_numpy(clips, n_numpy, np_repeats, args.seed)
    xio = bench_imusim(clips, n_imusim) if n_imusim > 0 else None

    rows = []
    print(f"\n{'B':>6} {'compile s':>10} {'run s':>9} {'clips/s':>10} {'ms/clip':>9}")
    for B in sizes:
        r = bench_jax(clips, B, repeats, args.seed)
        rows.append(r)
        print(f"{B:6d} {r['compile_s']:10.2f} {r['run_s']:9.4f} {r['clips_per_s']:10.1f} "
              f"{r['per_clip_s'] * 1e3:9.3f}", flush=True)
    print(f"(compile s = first call - min run; run s = min of {repeats} calls, host-side prelude included; "
          "Motion.create not counted: " + ", ".join(f"B={r['B']} {r['prep_s']:.3f} s" for r in rows) + ")")
    np_after = bench_numpy(clips, n_numpy, np_repeats, args.seed)
    np_s = min(np_before, np_after)
    print(f"\nNumPy baseline: {np_s * 1e3:.2f} ms/clip ({1 / np_s:.0f} clips/s; loop over {n_numpy} clips, min of "
          f"{np_repeats} before and {np_repeats} after the JAX runs: {np_before * 1e3:.2f} / {np_after * 1e3:.2f})")
    if xio is not None:
        print(f"x-io imusim: {xio[0] * 1e3:.0f} ms/clip for Simulator(csv) + outputs (min of {n_imusim} clips); "
              f"its noise setters add {xio[1] * 1e3:.0f} ms/clip (counted only in the x imusim+noise column)")
    ca, cg = agreement(rows[0]["signal"], clips[0].astype(np.float64))
    print(f"check (same maths): clip 0, JAX (noise {args.noise}) vs NumPy baseline (no noise): |a| corr {ca:.4f}, "
          f"|w| corr {cg:.4f} ({'ok' if min(ca, cg) > 0.95 else 'DIFFERENT'})")

    print(f"\n{'B':>6} {'clips/s':>10} {'ms/clip':>9} {'x NumPy':>9} {'x imusim':>9} {'x imusim+noise':>15}")
    for r in rows:
        r["x_numpy"] = np_s / r["per_clip_s"]
        r["x_imusim"] = xio[0] / r["per_clip_s"] if xio else float("nan")
        # like for like when both sides add sensor noise: imusim's simulator plus its noise setters
        r["x_imusim_noise"] = (xio[0] + xio[1]) / r["per_clip_s"] if xio and NOISE else float("nan")
        print(f"{r['B']:6d} {r['clips_per_s']:10.1f} {r['per_clip_s'] * 1e3:9.3f} {r['x_numpy']:9.2f} "
              f"{r['x_imusim']:9.0f} {r['x_imusim_noise']:15.0f}")

    if args.profile:
        profile(clips, max(sizes), args.seed, repeats)

    best = max(rows, key=lambda r: r["clips_per_s"])
    ok_np = best["x_numpy"] >= TARGET_NUMPY
    ok_xio = xio is not None and best["x_imusim"] >= TARGET_IMUSIM
    print(f"\nRESULT on {dev.platform} ({dev.device_kind}), best batch B={best['B']}: "
          f"{best['clips_per_s']:.0f} clips/s; {best['x_numpy']:.1f}x NumPy (target >= {TARGET_NUMPY:g}x: "
          f"{'met' if ok_np else 'NOT met'}), "
          + (f"{best['x_imusim']:.0f}x imusim (target >= {TARGET_IMUSIM:g}x: {'met' if ok_xio else 'NOT met'}"
             + (f"; {best['x_imusim_noise']:.0f}x with imusim's noise setters counted too)" if NOISE else ")")
             if xio else "imusim not measured")
          + f"; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
