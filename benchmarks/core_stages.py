"""Where a batched ``simulate`` call's time goes, stage by stage, against the budget that 1,000x x-io ``imusim``
would leave (``simulate.py``'s workload: ten-second COCO-17 clips at 30 fps -> watch-left at 50 Hz, 6 Hz cut-off).

The core (``imusim_jax._simulate._simulate_chunk``) is cut after each stage and recompiled, and every cut version
runs through the public ``simulate`` call (prelude, thread pool and output assembly included), so each row is
the cumulative time per clip of everything up to that stage:

  0  prelude: ``simulate``'s host-side work and dispatch; the core returns tiny outputs that read no input
  1  + data movement: the rig's joints read from the (B, T, 17, 3) input, outputs of the real shape written
  2  + edge extension (detrend, ``extend_edges``)
  3  + the positions' zero-phase filter (12 channels)
  4  + forearm frame and twist angle
  5  + the twist's filter and the knots' orientation
  6  + splines and sensor readings: the whole noise-free core (``noise=None``)
  7  + the noise model: the benchmark's call (``bmi160``)

Cut versions compute less than the real one and XLA fuses them differently, so the increments are estimates;
row 7 is the real call. The reference in the same run is x-io ``imusim`` (3 clips, as in ``simulate.py``): the
last column is each row's time over the per-clip budget ``imusim / 1000``. Reads private internals (a
diagnostic); it says so and stops when they move.

Usage::

    .venv/bin/python benchmarks/core_stages.py            # B = 1024, about two minutes
    .venv/bin/python benchmarks/core_stages.py --clips 256 --repeats 5
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
import types

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imusim_jax as ij  # noqa: E402
from imusim_jax._parallel import cpu_threads  # noqa: E402
from imusim_jax import _simulate as sim  # noqa: E402
from simulate import CUTOFF_HZ, FPS, RATE_HZ, TARGET_IMUSIM, bench_imusim, make_clips, timed  # noqa: E402

STAGES = ("prelude (no input read)", "+ read joints, write outputs", "+ edge extension", "+ position filter",
          "+ forearm frame, twist", "+ twist filter, knot orientation", "+ splines, sensor readings (noise=None)",
          "+ noise model (bmi160): the real call")


def _cut_chunk(stage: int, full):
    """``_simulate_chunk`` cut after ``stage`` (0-5; 6 and 7 are the real one): its outputs have the real shapes and
    depend on everything computed so far, so XLA cannot drop it."""

    def chunk(clips, mount, noise, *, kind, rig, roll_model, pad, window, n_out, rate_hz, m_ax, n_ax):
        X, lengths, sos, zi, pads, windows = clips.channels, clips.lengths, clips.sos, clips.zi, clips.pads, \
            clips.windows
        nb = X.shape[0]

        def out(*arrays):
            s = sum(jnp.sum(a) for a in arrays) if arrays else jnp.zeros((), X.dtype)
            fill = lambda c: jnp.zeros((nb, n_out, c), X.dtype) + s  # noqa: E731
            return fill(3), fill(3), fill(4), jnp.full((nb,), n_out, jnp.int32), jnp.ones((nb,), bool), ok

        ok = jnp.zeros((nb,), jnp.int32)  # forearm code: of human length
        if stage == 0:
            z = jnp.zeros((nb, 1, 1), X.dtype)
            return z, z, z, jnp.full((nb,), n_out, jnp.int32), jnp.ones((nb,), bool), ok
        if stage == 1:
            return out(X)
        coeffs = sim.FilterCoeffs(sos, zi)
        ext = functools.partial(sim._extend_clip, kind=kind, pad=pad, window=window)
        E = jax.vmap(ext)(X, lengths, pads, windows)
        if stage == 2:
            return out(E)
        Y = sim.filtfilt_batch(coeffs, E, lengths, pad, pads)
        if stage == 3:
            return out(Y)
        x, z, psi = jax.vmap(functools.partial(sim._forearm_roll, rig=rig, roll_model=roll_model))(Y)
        if stage == 4:
            return out(*x, *z, psi)
        smooth = sim.filtfilt_batch(coeffs, psi[..., None], lengths, pad, pads)[..., 0]
        q = jax.vmap(sim._knot_orientation)(x, z, psi, smooth)
        return out(Y[..., 6:9], *q)

    return chunk if stage <= 5 else full


def _copy(fun):
    """A new function object with ``fun``'s code: jax caches traces by function, so a copy is traced afresh."""
    return types.FunctionType(fun.__code__, fun.__globals__, fun.__name__, fun.__defaults__, fun.__closure__)


def _install(stage: int, full, batch_impl, part_impl) -> None:
    """Point the core at ``_cut_chunk(stage)`` and make fresh compiled entry points."""
    sim._simulate_chunk = _cut_chunk(stage, full)
    sim._simulate_batch_plain, sim._simulate_batch_wide = sim._jit_pair(_copy(batch_impl), sim._CORE_STATIC)
    sim._simulate_part_plain, sim._simulate_part_wide = sim._jit_pair(_copy(part_impl), ("size", "prep") + sim._CORE_STATIC)
    sim._COMPILED.clear()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=1024, help="batch size (default 1024)")
    ap.add_argument("--repeats", type=int, default=8, help="timed calls per stage, min taken (default 8)")
    ap.add_argument("--imusim-clips", type=int, default=3, help="clips x-io's imusim runs (default 3; 0: skip)")
    args = ap.parse_args(argv)
    needed = ("_simulate_chunk", "_extend_clip", "filtfilt_batch", "_forearm_roll", "_knot_orientation",
              "_jit_pair", "_simulate_batch_impl", "_simulate_part_impl", "_CORE_STATIC", "_COMPILED")
    missing = [n for n in needed if not hasattr(sim, n)]
    if missing:
        print(f"imusim_jax._simulate no longer has {missing}: this diagnostic needs updating")
        return 1

    B = args.clips
    clips = make_clips(B, 0)
    motion = ij.Motion.create(clips, FPS, "coco17")
    key = jax.random.key(0)
    print(f"B = {B} ten-second clips, {cpu_threads()} thread(s), load average {os.getloadavg()[0]:.2f}")
    xio = bench_imusim(clips, args.imusim_clips) if args.imusim_clips > 0 else None
    budget = xio[0] / TARGET_IMUSIM if xio else None
    if xio:
        print(f"x-io imusim: {xio[0] * 1e3:.1f} ms/clip -> the {TARGET_IMUSIM:g}x budget is "
              f"{budget * 1e6:.1f} us/clip")

    full = sim._simulate_chunk
    impls = (sim._simulate_batch_impl, sim._simulate_part_impl)
    rows = []
    try:
        for stage in range(len(STAGES)):
            _install(stage, full, *impls)
            noise = "bmi160" if stage == 7 else None
            call = lambda: jax.block_until_ready(  # noqa: E731
                ij.simulate(motion, "watch-left", noise, key=key, rate_hz=RATE_HZ, cutoff_hz=CUTOFF_HZ).accel)
            call()
            t = min(timed(call)[0] for _ in range(args.repeats)) / B
            rows.append(t)
            prev = rows[-2] if len(rows) > 1 else 0.0
            over = f"{t / budget:6.2f}" if budget else "   n/a"
            print(f"  {stage}  {STAGES[stage]:42s} {t * 1e6:7.1f} us/clip  (+{(t - prev) * 1e6:5.1f})  "
                  f"x budget {over}", flush=True)
    finally:
        _install(7, full, *impls)
    if budget:
        print(f"RESULT: the real call takes {rows[-1] * 1e6:.1f} us/clip = {rows[-1] / budget:.2f}x the "
              f"{TARGET_IMUSIM:g}x budget ({xio[0] / rows[-1]:.0f}x imusim); reading the input and writing the "
              f"output alone take {rows[1] * 1e6:.1f} us/clip ({rows[1] / budget * 100:.0f} % of the budget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
