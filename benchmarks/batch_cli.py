"""Files per second through the command line: ``imusim-jax batch`` over a folder of motion files against one
``imusim-jax simulate`` process per file (the reference, timed on a few files in the same run).

Workload: ``--clips`` synthetic ten-second COCO-17 clips at 30 fps (``synthetic_motion``), one ``.npz`` each,
simulated as a left-wrist watch at 50 Hz with ``bmi160`` noise and a 6 Hz cut-off (``--cutoff auto`` adds
Winter's residual analysis), written as CSV (``--format``). Both sides are timed as a user runs them (process
start, imports, reading and writing files, the persistent compilation cache warm: one untimed run of each
first).

Usage::

    .venv/bin/python benchmarks/batch_cli.py                  # 1024 files, CSV: about a minute
    .venv/bin/python benchmarks/batch_cli.py --clips 256 --format npz --cutoff auto
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_model  # noqa: E402
from synthetic_motion import synthetic_clips  # noqa: E402

EXE = shutil.which("imusim-jax", path=os.path.dirname(sys.executable)) or shutil.which("imusim-jax")


def _run(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([EXE, *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=1024)
    ap.add_argument("--format", default="csv", choices=["csv", "npz", "parquet"])
    ap.add_argument("--cutoff", default="6")
    ap.add_argument("--per-file", type=int, default=3, help="files timed through one simulate process each")
    args = ap.parse_args(argv)
    if EXE is None:
        print("imusim-jax is not installed in this environment", file=sys.stderr)
        return 2
    print(f"CPU {cpu_model()}, load average {os.getloadavg()[0]:.2f}; {args.clips} ten-second clips, "
          f"--format {args.format}, --cutoff {args.cutoff}, --noise bmi160")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in")
        os.makedirs(src)
        clips = synthetic_clips(args.clips, seed=0)
        for i, c in enumerate(clips):
            np.savez(os.path.join(src, f"clip{i:05d}.npz"), joints=c, fps=30.0, joint_set="coco17")
        common = ["--noise", "bmi160", "--cutoff", args.cutoff]
        _run(["batch", src, "--out-dir", os.path.join(tmp, "warm"), "--format", args.format, *common])
        t_batch = _run(["batch", src, "--out-dir", os.path.join(tmp, "out"), "--format", args.format, *common])
        written = sum(len(f) for _, _, f in os.walk(os.path.join(tmp, "out")))
        assert written == args.clips, f"batch wrote {written} files, expected {args.clips}"
        one = os.path.join(src, "clip00000.npz")
        _run(["simulate", one, "-o", os.path.join(tmp, f"warm.{args.format}"), *common])
        t_one = min(_run(["simulate", os.path.join(src, f"clip{i:05d}.npz"), "-o",
                          os.path.join(tmp, f"one{i}.{args.format}"), *common]) for i in range(args.per_file))
    per_batch = t_batch / args.clips
    print(f"imusim-jax batch: {t_batch:.1f} s for {args.clips} files = {per_batch * 1e3:.1f} ms/file "
          f"({1 / per_batch:.0f} files/s, process start included)")
    print(f"imusim-jax simulate, one process per file: {t_one:.2f} s/file (min of {args.per_file})")
    print(f"RESULT: batch is {t_one / per_batch:.0f}x one simulate process per file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
