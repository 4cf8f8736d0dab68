"""The automatic cut-off's cost and agreement: Winter's residual analysis (``cutoff_hz="auto"``) old and new, and
``simulate`` with it against a fixed cut-off, in one run.

Workload: the ``simulate.py`` benchmark's clips (synthetic ten-second COCO-17 clips at 30 fps, ``synthetic_motion``),
B = 1024 by default, as a left-wrist watch at 50 Hz with the ``bmi160`` noise model. The residual analysis reads
the 12 channels ``simulate`` feeds it (the arm rig's shoulder, elbow, wrist and other shoulder), captured from one
``simulate(..., cutoff_hz="auto")`` call.

Timed, interleaved (each repeat runs every variant once, so all see the same machine load; min over repeats, the
first call, compilation or set-up, reported apart):

* residual analysis, old: the compiled IIR path (``_cutoff._residual_curves``: every (clip, cut-off, channel) lane
  filtered forward and backward) and Winter's choice clip by clip with ``np.polyfit``, the code before the
  spectral path;
* residual analysis, new: ``auto_cutoffs`` (the spectral path: DCT power spectrum plus the rank-8 edge correction,
  ``_cutoff._dct_setup``);
* ``simulate`` with ``cutoff_hz=6.0`` and with ``cutoff_hz="auto"`` (the target: auto within 1.5x of fixed), and,
  to show where the rest goes, ``"auto"`` on the old IIR route, ``"auto"`` with the analysis replaced by a lookup
  of its answers (what ``simulate``'s automatic mode costs beyond the analysis: the joints prepared before the
  core, longer edge padding for lower cut-offs), and a fixed cut-off at auto's lowest choice (a batch is padded
  for its lowest cut-off, about 3.6 fps / fc frames at each end: the padding's share alone).

Agreement: the new choices against the old on the timed clips; with ``--stress``, 1960 varied synthetic arms
(16-600 frames, 15-100 fps, 0-10 mm of jitter), both paths against SciPy's reference; and (``--realdata``, default
``../shared/realdata``) on every UTD-MHAD trial, both arms (Kinect v1 shoulder, elbow, wrist and the other shoulder
in the z-up world (-x, z, y) of the camera axes, at frames / (IMU samples / 50) fps), the spectral path clip by
clip against SciPy's ``sosfiltfilt`` reference (which those single clips take in ``auto_cutoffs``): the fraction
of equal cut-offs, the largest difference and the largest relative residual difference.

Usage::

    .venv/bin/python benchmarks/cutoff.py                 # B = 1024, 5 repeats, real-data agreement
    .venv/bin/python benchmarks/cutoff.py --clips 256 --repeats 3 --no-realdata
    .venv/bin/python benchmarks/cutoff.py --stress          # and the varied synthetic set
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imusim_jax as ij  # noqa: E402
from imusim_jax import _cutoff  # noqa: E402
from imusim_jax._kinematics import design_lowpass  # noqa: E402
from imusim_jax._parallel import cpu_threads  # noqa: E402
from machine import cpu_model  # noqa: E402
from synthetic_motion import synthetic_clips  # noqa: E402

FPS, RATE_HZ, SECONDS, FIXED_HZ, TARGET = 30.0, 50.0, 10.0, 6.0, 1.5
HERE = os.path.dirname(os.path.abspath(__file__))
KINECT_ARMS = {"right": (8, 9, 10, 4), "left": (4, 5, 6, 8)}  # shoulder, elbow, wrist, other shoulder


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def old_winter_choice(grid, res, max_hz):
    """The choice as it was made before, one clip at a time (np.polyfit per clip)."""
    tail = grid >= grid[0] + 0.6 * (grid[-1] - grid[0])
    _, intercept = np.polyfit(grid[tail], res[tail], 1)
    if intercept > 0 and res[-1] < _cutoff.CLEAN_TAIL * intercept:
        return float(max_hz)
    below = np.nonzero(res <= max(intercept, 0.0))[0]
    return float(min(grid[below[0]] if len(below) else grid[-1], max_hz))


def old_analysis(xs, fps):
    """The residual analysis before the spectral path, for clips of one rate: the compiled IIR residuals and the
    choice clip by clip."""
    grid = np.arange(1.0, min(0.4 * fps, _cutoff.AUTO_GRID_MAX_HZ) + 1e-9, 0.25)
    designs = [design_lowpass(float(fc), fps, 2) for fc in grid]
    res = _cutoff._residual_curves([np.asarray(x, np.float64) for x in xs], np.stack([d.sos for d in designs]),
                                   np.stack([d.zi for d in designs]))
    return [old_winter_choice(grid, r, _cutoff.MAX_AUTO_CUTOFF_HZ) for r in res]


def capture_channels(motion):
    """The (T, 12) arrays simulate(..., cutoff_hz="auto") hands to auto_cutoffs."""
    got = {}
    orig = _cutoff.auto_cutoffs

    def spy(xs, fps, **kw):
        got["xs"] = [np.array(x) for x in xs]
        return orig(xs, fps, **kw)

    _cutoff.auto_cutoffs = spy
    try:
        ij.simulate(motion, "watch-left", None, rate_hz=RATE_HZ, cutoff_hz="auto")
    finally:
        _cutoff.auto_cutoffs = orig
    return got["xs"]


def utd_arms(realdata):
    import glob

    import scipy.io

    out = []
    for path in sorted(glob.glob(os.path.join(realdata, "utd_mhad", "Skeleton", "*.mat"))):
        sk = scipy.io.loadmat(path)["d_skel"]
        n_imu = len(scipy.io.loadmat(path.replace("Skeleton", "Inertial").replace("skeleton", "inertial"))["d_iner"])
        world = np.stack([-sk[:, 0].T, sk[:, 2].T, sk[:, 1].T], -1)  # z-up world (-x, z, y)
        fps = world.shape[0] / (n_imu / 50.0)
        for side, idx in KINECT_ARMS.items():
            out.append((os.path.basename(path), side, world[:, list(idx)].reshape(len(world), 12), fps))
    return out


def realdata_agreement(realdata):
    """The spectral path (a set-up per clip: every trial has its own length and rate) against SciPy's sosfiltfilt
    reference, on every UTD-MHAD trial and both arms."""
    import scipy.signal

    clips = utd_arms(realdata)
    equal, diffs, rel, t_fast, t_ref = 0, [], [], 0.0, 0.0
    for name, side, x, fps in clips:
        grid = np.arange(1.0, min(0.4 * fps, _cutoff.AUTO_GRID_MAX_HZ) + 1e-9, 0.25)
        t0 = time.perf_counter()
        setup = _cutoff._dct_setup(len(x), fps, tuple(grid.tolist()))
        if setup is None:
            raise SystemExit(f"{name} {side}: the spectral set-up failed its check")
        fast = _cutoff._dct_residuals([x], [0], setup)[0]
        t1 = time.perf_counter()
        xc = x - x.mean(0)
        ref = np.array([np.sqrt(np.mean((xc - scipy.signal.sosfiltfilt(
            design_lowpass(float(fc), fps, 2).sos, xc, axis=0, padlen=min(len(x) - 1, 9))) ** 2)) for fc in grid])
        t_fast, t_ref = t_fast + t1 - t0, t_ref + time.perf_counter() - t1
        a = _cutoff._winter_choices(grid, fast[None], _cutoff.MAX_AUTO_CUTOFF_HZ)[0]
        b = old_winter_choice(grid, ref, _cutoff.MAX_AUTO_CUTOFF_HZ)
        equal += a == b
        diffs.append(abs(a - b))
        rel.append(np.max(np.abs(fast / ref - 1)))
    n = len(clips)
    print(f"real data: UTD-MHAD, {n // 2} trials x 2 arms = {n} clips (41-101 frames, 14.6-21.0 fps, 20-30 cut-offs "
          f"each): spectral path vs SciPy sosfiltfilt: {equal}/{n} equal cut-offs ({equal / n:.1%}), largest "
          f"difference {max(diffs):g} Hz, largest relative residual difference {max(rel):.1e}")
    print(f"  (clip by clip, the spectral path with its set-up per clip took {t_fast / n * 1e3:.1f} ms a clip, "
          f"SciPy {t_ref / n * 1e3:.1f} ms: single clips keep SciPy in auto_cutoffs)")


def stress_agreement(seed: int = 123, per_case: int = 40) -> None:
    """Varied synthetic arms: 16-600 frames at 15-100 fps, 0.02-0.3 m of motion at 0.2-4 Hz, 0-10 mm of white
    jitter and a drift; the spectral path and the compiled IIR path against SciPy's sosfiltfilt reference."""
    import scipy.signal

    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    from motions import reference_joints

    rng = np.random.default_rng(seed)
    base = reference_joints()[[5, 7, 9, 6]].reshape(12)
    eq_new = eq_old = tot = 0
    d_new = d_old = r_new = r_old = 0.0
    for T in (16, 24, 45, 90, 150, 300, 600):
        for fps in (15.0, 20.0, 25.0, 30.0, 50.0, 60.0, 100.0):
            grid = np.arange(1.0, min(0.4 * fps, _cutoff.AUTO_GRID_MAX_HZ) + 1e-9, 0.25)
            t = np.arange(T)[:, None] / fps
            xs = [(base + rng.uniform(0.02, 0.3) * np.sin(2 * np.pi * rng.uniform(0.2, 4.0, 12) * t
                                                           + rng.uniform(0, 6, 12))
                   + rng.normal(0, rng.uniform(0.0, 0.01), (T, 12)) + 0.1 * rng.normal() * t).astype(np.float32)
                  for _ in range(per_case)]
            new = _cutoff._dct_residuals(xs, range(len(xs)), _cutoff._dct_setup(T, fps, tuple(grid.tolist())))
            designs = [design_lowpass(float(fc), fps, 2) for fc in grid]
            old = np.asarray(_cutoff._residual_curves([x.astype(np.float64) for x in xs],
                                                      np.stack([d.sos for d in designs]),
                                                      np.stack([d.zi for d in designs])), np.float64)
            ref = np.array([[np.sqrt(np.mean((xc - scipy.signal.sosfiltfilt(d.sos, xc, axis=0, padlen=min(T - 1, 9)))
                                             ** 2)) for d in designs]
                            for xc in (x.astype(np.float64) - x.astype(np.float64).mean(0) for x in xs)])
            cr = np.array([old_winter_choice(grid, r, _cutoff.MAX_AUTO_CUTOFF_HZ) for r in ref])
            cn = _cutoff._winter_choices(grid, new, _cutoff.MAX_AUTO_CUTOFF_HZ)
            co = _cutoff._winter_choices(grid, old, _cutoff.MAX_AUTO_CUTOFF_HZ)
            eq_new, eq_old, tot = eq_new + (cn == cr).sum(), eq_old + (co == cr).sum(), tot + len(xs)
            d_new, d_old = max(d_new, np.abs(cn - cr).max()), max(d_old, np.abs(co - cr).max())
            r_new, r_old = max(r_new, np.max(np.abs(new / ref - 1))), max(r_old, np.max(np.abs(old / ref - 1)))
    print(f"stress: {tot} synthetic arms (16-600 frames, 15-100 fps, 0-10 mm jitter) against SciPy: spectral path "
          f"{eq_new}/{tot} equal ({eq_new / tot:.1%}), largest difference {d_new:g} Hz, residuals within {r_new:.1e}; "
          f"compiled IIR path {eq_old}/{tot} equal, largest difference {d_old:g} Hz, residuals within {r_old:.1e}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=1024, help="B, ten-second 30 fps clips (default 1024)")
    ap.add_argument("--repeats", type=int, default=9, help="interleaved timed repeats (default 9)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--realdata", default=os.path.join(HERE, "..", "..", "shared", "realdata"),
                    help="folder with utd_mhad/ (default ../shared/realdata beside the repository)")
    ap.add_argument("--no-realdata", action="store_true", help="skip the real-data agreement")
    ap.add_argument("--stress", action="store_true", help="also the agreement on 1960 varied synthetic arms (about "
                    "a minute)")
    args = ap.parse_args(argv)

    dev = jax.devices()[0]
    print(f"machine: {cpu_model()}, {len(os.sched_getaffinity(0))} usable cores, {cpu_threads()} thread(s) in the "
          f"CPU pool; device {dev.platform} {dev.device_kind}; jax {jax.__version__}, numpy {np.__version__}; "
          f"load average {os.getloadavg()[0]:.2f}")
    B = args.clips
    clips = np.concatenate([synthetic_clips(min(1024, B - i), SECONDS, FPS, args.seed, first=i)
                            for i in range(0, B, 1024)])
    motion = ij.Motion.create(clips, FPS, "coco17")
    key = jax.random.key(args.seed)
    xs = capture_channels(motion)
    fps = [FPS] * B
    T = xs[0].shape[0]
    grid = np.arange(1.0, 0.4 * FPS + 1e-9, 0.25)
    print(f"workload: B = {B} clips of {T} frames at {FPS:g} fps, {xs[0].shape[1]} channels, {len(grid)} trial "
          f"cut-offs ({grid[0]:g}-{grid[-1]:g} Hz); simulate as watch-left at {RATE_HZ:g} Hz with bmi160 noise")

    def sim(cut):
        s = ij.simulate(motion, "watch-left", "bmi160", key=key, rate_hz=RATE_HZ, cutoff_hz=cut)
        jax.block_until_ready((s.accel, s.gyro))

    new_min = _cutoff._DCT_MIN_CLIPS
    answers = {}
    orig_auto = _cutoff.auto_cutoffs

    def sim_iir():
        _cutoff._DCT_MIN_CLIPS = 10 ** 9
        try:
            sim("auto")
        finally:
            _cutoff._DCT_MIN_CLIPS = new_min

    def sim_lookup():
        _cutoff.auto_cutoffs = lambda xs_, fps_, **kw: list(answers["new"])
        try:
            sim("auto")
        finally:
            _cutoff.auto_cutoffs = orig_auto

    # first calls: compilation (old) and set-up (new), apart from the runs
    _cutoff._dct_setup.cache_clear()
    first = {}
    first["old"], answers["old"] = timed(lambda: old_analysis(xs, FPS))
    first["new"], answers["new"] = timed(lambda: ij.auto_cutoffs(xs, fps))
    low = float(min(answers["new"]))  # a batch is padded for its lowest cut-off (edge padding ~ 3.6 fps / fc)
    for name, fn in (("fixed", lambda: sim(FIXED_HZ)), ("fixed_low", lambda: sim(low)), ("auto", lambda: sim("auto")),
                     ("auto_iir", sim_iir), ("auto_lookup", sim_lookup)):
        first[name] = timed(fn)[0]
    variants = {"old": lambda: old_analysis(xs, FPS), "new": lambda: ij.auto_cutoffs(xs, fps),
                "fixed": lambda: sim(FIXED_HZ), "fixed_low": lambda: sim(low), "auto": lambda: sim("auto"),
                "auto_iir": sim_iir, "auto_lookup": sim_lookup}
    runs = {k: [] for k in variants}
    for _ in range(args.repeats):
        for k, fn in variants.items():
            runs[k].append(timed(fn)[0])
    best = {k: min(v) for k, v in runs.items()}
    med = {k: float(np.median(v)) for k, v in runs.items()}

    def row(label, k):
        return (f"  {label:58s} {best[k] * 1e3:8.1f} {med[k] * 1e3:8.1f} ms {best[k] / B * 1e3:8.4f} ms/clip   "
                f"first call {first[k]:.2f} s (+{max(first[k] - best[k], 0.0):.2f} s)")

    print(f"\nB = {B}, {args.repeats} interleaved repeats:{'min':>27s} {'median':>8s}")
    print(row("residual analysis, old (compiled IIR + choice per clip)", "old"))
    print(row("residual analysis, new (auto_cutoffs, spectral path)", "new"))
    print(row(f"simulate, cutoff_hz={FIXED_HZ:g}", "fixed"))
    print(row(f"simulate, cutoff_hz={low:g} (auto's lowest choice: its padding)", "fixed_low"))
    print(row('simulate, cutoff_hz="auto"', "auto"))
    print(row('simulate, cutoff_hz="auto", old IIR route', "auto_iir"))
    print(row('simulate, cutoff_hz="auto", analysis replaced by a lookup', "auto_lookup"))
    ratio = best["auto"] / best["fixed"]
    print(f"  residual analysis new/old: {best['new'] / best['old']:.3f} ({best['old'] / best['new']:.1f}x faster); "
          f"auto/fixed: {ratio:.2f} by minima, {med['auto'] / med['fixed']:.2f} by medians (old route "
          f"{best['auto_iir'] / best['fixed']:.2f}, lookup floor {best['auto_lookup'] / best['fixed']:.2f}, of which "
          f"padding for {low:g} Hz {best['fixed_low'] / best['fixed']:.2f}); "
          f"first-call extra: old {first['old'] - best['old']:.2f} s (compilation), new "
          f"{first['new'] - best['new']:.3f} s (set-up)")

    a, b = np.array(answers["new"]), np.array(answers["old"])
    print(f"agreement on the timed clips: new vs old {np.mean(a == b):.1%} equal, largest difference "
          f"{np.max(np.abs(a - b)):g} Hz; cut-offs chosen {a.min():g}-{a.max():g} Hz (median {np.median(a):g})")
    if not args.no_realdata:
        if os.path.isdir(os.path.join(args.realdata, "utd_mhad")):
            realdata_agreement(args.realdata)
        else:
            print(f"skip: no utd_mhad/ in {args.realdata}")
    if args.stress:
        stress_agreement()
    print(f"\nRESULT on {cpu_model()} ({len(os.sched_getaffinity(0))} cores): auto/fixed = {ratio:.2f} (target <= "
          f"{TARGET:g}: {'met' if ratio <= TARGET else 'NOT met'}); residual analysis {best['old'] / best['new']:.1f}x "
          f"faster; load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
