#!/usr/bin/env python
"""The plain NumPy baseline (``baseline_numpy.simulate_numpy``) behind the ``imusim-jax simulate`` command line,
so the shared scoring scripts can run it (use the ``baseline_exe`` wrapper, which picks the project's venv)::

    baseline_exe simulate IN.npz --mount watch-left|watch-right --rate 50 --noise none --seed 0 -o OUT.csv

IN.npz holds ``joints`` (T, J, 3) metres z-up world, ``fps`` and ``joint_set``; OUT.csv has the header
``t,ax,ay,az,gx,gy,gz`` (s, m/s^2, rad/s). Only watch mounts and ``--noise none`` are supported.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from baseline_numpy import ARM_JOINTS, simulate_numpy  # noqa: E402

MOUNT_SIDES = {"watch-left": "left", "watch-right": "right"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="baseline_exe", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("simulate", help="simulate a wrist watch from a joint sequence")
    sim.add_argument("input", help="motion .npz: joints (T,J,3) m z-up, fps, joint_set")
    sim.add_argument("--mount", default="watch-left", choices=sorted(MOUNT_SIDES))
    sim.add_argument("--rate", type=float, default=50.0, help="IMU rate, Hz")
    sim.add_argument("--noise", default="none", choices=["none"], help="only 'none' (the baseline is ideal)")
    sim.add_argument("--seed", type=int, default=0, help="accepted for compatibility; unused without noise")
    sim.add_argument("--cutoff", type=float, default=6.0, help="low-pass cut-off, Hz")
    sim.add_argument("--lever", type=float, default=0.036, help="wrist-to-sensor lever arm along z_f, m")
    sim.add_argument("-o", "--output", required=True, help="OUT.csv")
    args = ap.parse_args(argv)

    with np.load(args.input, allow_pickle=False) as z:
        joints, fps, joint_set = z["joints"], float(z["fps"]), str(z["joint_set"])
    if joint_set not in ARM_JOINTS:
        ap.error(f"joint set {joint_set!r} not supported (expected one of {', '.join(ARM_JOINTS)})")
    t, accel, gyro = simulate_numpy(joints, fps, joint_set, MOUNT_SIDES[args.mount], rate_hz=args.rate,
                                    cutoff_hz=args.cutoff, lever_m=args.lever)
    np.savetxt(args.output, np.column_stack([t, accel, gyro]), delimiter=",", fmt="%.9g",
               header="t,ax,ay,az,gx,gy,gz", comments="")
    print(f"wrote {args.output} ({len(t)} samples at {args.rate:g} Hz)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
