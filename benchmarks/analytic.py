"""Accuracy on analytic motions, up to the clip edges: what ``imusim_jax.simulate`` reads against the closed form.

A rigid COCO-17 skeleton (``tests/motions.py``'s reference pose: the left forearm horizontal, so the watch-left
sensor frame is the world frame at rest) moves in closed form, is simulated as a left watch at 50 Hz without
noise, and every sample is compared with the exact specific force and rate:

* ``swing f``: the body translates side to side, ``x = 0.1 sin(2 pi f t + phase)`` m;
* ``yaw f``: the body turns about the vertical, ``theta = 0.8 sin(2 pi f t + phase)`` rad (the wrist, 0.34 m
  from the axis, gets tangential and centripetal acceleration and the gyro reads ``theta'``);
* ``spin``: constant turn at 3 rad/s about the vertical; ``fall``: one second of free fall from rest.

Errors are the worst over three phases (0, pi/4, pi/2), as a fraction of the motion's peak acceleration (or of
the peak rate for ``gyro``; of g for the fall and the spin's accelerometer), in the first and last 0.16 s
("edge": 8 samples at each end) and between them ("interior"). Four-second clips at 25, 30, 60 and 100 fps, with
the default cut-off (``auto``), none, and a fixed 6 Hz.

The reference, printed beside the swing, is SciPy's not-a-knot cubic spline through the raw frames
(``scipy.interpolate.CubicSpline``, second derivative at the IMU times): what a careful user would write without a
filter. Without a filter the simulator's interior equals it (the same cubic-spline error, about
``(2 pi f / fps)^2 / 12``); at the edges the two differ by how each end is continued.

Usage::

    .venv/bin/python benchmarks/analytic.py            # the table (about a minute)
    .venv/bin/python benchmarks/analytic.py --fps 30   # one frame rate
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import scipy.interpolate
from scipy.spatial.transform import Rotation

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import imusim_jax as ij  # noqa: E402
from imusim_jax._simulate import num_output_samples  # noqa: E402
from motions import G, reference_joints, rigid_motion  # noqa: E402

RATE_HZ, SECONDS, EDGE_SAMPLES = 50.0, 4.0, 8
PHASES = (0.0, np.pi / 4, np.pi / 2)
SWING_M, YAW_RAD, SPIN_RAD_S = 0.1, 0.8, 3.0
WRIST = reference_joints()[9]  # left wrist: (0.06, 0.3, 1.4) m
HAT_Z = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def cases(fps: float):
    """``(name, motion, truth(t) -> (accel (n, 3), gyro (n, 3)), accel scale, gyro scale)`` for every case."""
    t = np.arange(int(round(SECONDS * fps)) + 1) / fps
    still = np.repeat(np.eye(3)[None], len(t), 0)
    out = []
    for f in (0.5, 1.0, 2.0):
        w = 2 * np.pi * f
        for ph in PHASES:
            p = np.zeros((len(t), 3))
            p[:, 0] = SWING_M * np.sin(w * t + ph)

            def swing(tt, w=w, ph=ph):
                a = np.zeros((len(tt), 3))
                a[:, 0] = -SWING_M * w * w * np.sin(w * tt + ph)
                a[:, 2] = G
                return a, np.zeros((len(tt), 3))
            out.append((f"swing {f:g} Hz", rigid_motion(still, p, fps), swing, SWING_M * w * w, None))
        for ph in PHASES:
            R = Rotation.from_rotvec(np.outer(YAW_RAD * np.sin(w * t + ph), [0, 0, 1])).as_matrix()

            def yaw(tt, w=w, ph=ph):
                d1 = YAW_RAD * w * np.cos(w * tt + ph)
                d2 = -YAW_RAD * w * w * np.sin(w * tt + ph)
                # in the body (= sensor) frame: tangential theta'' z x r plus centripetal theta'^2 z x (z x r)
                a = d2[:, None] * (HAT_Z @ WRIST) + (d1 ** 2)[:, None] * (HAT_Z @ HAT_Z @ WRIST) + [0, 0, G]
                return a, np.stack([0 * tt, 0 * tt, d1], -1)
            out.append((f"yaw {f:g} Hz", rigid_motion(R, np.zeros((len(t), 3)), fps), yaw,
                        YAW_RAD * w * w * np.hypot(*WRIST[:2]), YAW_RAD * w))
    R = Rotation.from_rotvec(np.outer(SPIN_RAD_S * t, [0, 0, 1])).as_matrix()
    out.append(("spin 3 rad/s", rigid_motion(R, np.zeros((len(t), 3)), fps),
                lambda tt: (np.tile(SPIN_RAD_S ** 2 * (HAT_Z @ HAT_Z @ WRIST) + [0, 0, G], (len(tt), 1)),
                            np.tile([0, 0, SPIN_RAD_S], (len(tt), 1))), G, SPIN_RAD_S))
    tf = t[t <= 1.0 + 1e-9]
    p = np.zeros((len(tf), 3))
    p[:, 2] = -0.5 * G * tf ** 2
    out.append(("fall 1 s", rigid_motion(still[:len(tf)], p, fps),
                lambda tt: (np.zeros((len(tt), 3)), np.zeros((len(tt), 3))), G, None))
    return out


def spline_reference(fps: float, f: float) -> tuple[float, float]:
    """Edge and interior error of SciPy's not-a-knot spline through the raw swing frames (worst over phases)."""
    t = np.arange(int(round(SECONDS * fps)) + 1) / fps
    tt = np.arange(num_output_samples(len(t), fps, RATE_HZ)) / RATE_HZ
    w = 2 * np.pi * f
    edge = inner = 0.0
    for ph in PHASES:
        a = scipy.interpolate.CubicSpline(t, SWING_M * np.sin(w * t + ph))(tt, 2)
        e = np.abs(a + SWING_M * w * w * np.sin(w * tt + ph)) / (SWING_M * w * w)
        edge = max(edge, e[:EDGE_SAMPLES].max(), e[-EDGE_SAMPLES:].max())
        inner = max(inner, e[EDGE_SAMPLES:-EDGE_SAMPLES].max())
    return edge, inner


def score(fps: float, cutoff) -> dict:
    """``{case: (edge accel, interior accel, edge gyro, interior gyro)}``: one batched call per length."""
    cs = cases(fps)
    out: dict = {}
    by_len: dict = {}
    for c in cs:
        by_len.setdefault(c[1].num_frames, []).append(c)
    for group in by_len.values():
        imu = ij.simulate(ij.stack_motions([c[1] for c in group]), "watch-left", rate_hz=RATE_HZ, cutoff_hz=cutoff)
        for b, (name, _, truth, a_scale, g_scale) in enumerate(group):
            n = int(imu.lengths[b])
            tt = np.arange(n) / RATE_HZ
            want_a, want_g = truth(tt)
            ea = np.linalg.norm(np.asarray(imu.accel[b, :n], np.float64) - want_a, axis=1) / a_scale
            eg = np.linalg.norm(np.asarray(imu.gyro[b, :n], np.float64) - want_g, axis=1) / (g_scale or 1.0)
            split = lambda e: (max(e[:EDGE_SAMPLES].max(), e[-EDGE_SAMPLES:].max()),  # noqa: E731
                               e[EDGE_SAMPLES:-EDGE_SAMPLES].max())
            prev = out.get(name, (0.0, 0.0, 0.0, 0.0))
            new = split(ea) + (split(eg) if g_scale else (np.nan, np.nan))
            out[name] = tuple(np.fmax(p, q) for p, q in zip(prev, new))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fps", default="25,30,60,100", help="comma-separated frame rates")
    ap.add_argument("--cutoffs", default="auto,none,6", help="comma-separated: auto, none or Hz")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    print(f"analytic motions, {SECONDS:g} s clips -> watch-left at {RATE_HZ:g} Hz, no noise; worst error over "
          f"phases as a fraction of the peak (edge = first and last {EDGE_SAMPLES} samples)")
    for fps in (float(f) for f in args.fps.split(",")):
        for c in args.cutoffs.split(","):
            cutoff = None if c == "none" else ("auto" if c == "auto" else float(c))
            res = score(fps, cutoff)
            print(f"\n{fps:g} fps, cut-off {c}:")
            print(f"  {'case':14s} {'accel edge':>10s} {'interior':>9s} {'gyro edge':>10s} {'interior':>9s}"
                  + ("   SciPy not-a-knot spline, raw frames: edge / interior" if c == "none" else ""))
            for name, (ae, ai, ge, gi) in res.items():
                ref = ""
                if c == "none" and name.startswith("swing"):
                    re_, ri = spline_reference(fps, float(name.split()[1]))
                    ref = f"   {re_:.3f} / {ri:.3f}"
                gtxt = f"{ge:10.4f} {gi:9.4f}" if np.isfinite(ge) else f"{'-':>10s} {'-':>9s}"
                print(f"  {name:14s} {ae:10.3f} {ai:9.3f} {gtxt}{ref}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
