"""``build-dataset`` throughput on the CPU: clips per second for the skeleton route and the video route, and where a
shard's time goes: reading the sources, inside ``imusim_jax.simulate``, and the builder's own work (batch assembly,
draws, labels, Parquet).

    .venv/bin/python benchmarks/build.py [--clips 256] [--workers N] [--variants 1,4] [--videos DIR]

Skeleton route: ``--clips`` ntu25 skeleton clips of 4-6 s at 30 fps written here as ``.npz`` (``motion_folder``, the
files ``simulate`` reads), and a quarter as many in NTU RGB+D's ``.skeleton`` text (``ntu_skeleton``), each built
with ``variants`` simulated copies (bmi160 noise, left and right watch drawn per copy, 3 degrees of mounting jitter,
time stretch 0.9-1.1). Video route: the videos of ``../shared/realdata/video`` (or ``--videos``) through Stage 1
(MediaPipe) and the simulator. Each skeleton configuration is built twice into fresh folders and the second is
timed, so the simulator's compilation (kept in the persistent cache) is not counted; the video route runs once.
Float64 and the persistent compilation cache, as the command line runs. The shares are of the worker processes'
time per shard (``timing`` in ``_build/ledger.jsonl``); the wall-clock rate also counts starting the worker
processes and the parent's writes.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _body(frames: int, fps: float, rng) -> np.ndarray:
    from imusim_jax import get_joint_set
    from imusim_jax.pose.world import anthropometric_skeleton

    js = get_joint_set("ntu25")
    base = anthropometric_skeleton("ntu25")
    t = np.arange(frames) / fps
    X = np.repeat(base[None], frames, 0)
    f, ph = rng.uniform(0.5, 2.0), rng.uniform(0, 6.3)
    for side in ("left", "right"):
        elbow = js.index(f"{side}_elbow")
        for j in ("wrist", "hand", "hand_tip", "thumb"):
            k = js.index(f"{side}_{j}")
            r = np.linalg.norm(base[k] - base[elbow])
            a = 0.9 * np.sin(2 * np.pi * f * t + ph)
            X[:, k, 1] += np.sin(a) * r
            X[:, k, 2] = base[elbow, 2] - np.cos(a) * r
    X[:, :, 1] += rng.uniform(0, 0.8) * t[:, None]
    return X + rng.normal(0, 0.003, X.shape)


def _ntu_text(X: np.ndarray) -> str:
    out = [str(len(X))]
    for f in range(len(X)):
        out += ["1", "72057594037931640 0 1 1 1 1 0 -0.1159187 0.1413209 2", "25"]
        out += [f"{-x!r} {z!r} {y + 3.0!r} 276.1 190.1 1032.3 514.1 -0.17 0.04 0.97 -0.16 2"
                for x, y, z in X[f].tolist()]
    return "\n".join(out) + "\n"


def write_skeletons(root: pathlib.Path, n: int) -> None:
    from imusim_jax import Motion

    rng = np.random.default_rng(0)
    (root / "npz").mkdir(parents=True)
    (root / "ntu").mkdir()
    labels = ["file,label"]
    for i in range(n):
        X = _body(int(rng.integers(120, 181)), 30.0, rng)
        Motion.create(X, 30.0, "ntu25").save_npz(root / "npz" / f"clip{i:05d}.npz")
        labels.append(f"clip{i:05d}.npz,{['walking', 'waving', 'fall'][i % 3]}")
        if i < n // 4:
            (root / "ntu" / f"S001C001P{i % 40:03d}R{i // 40 + 1:03d}A043.skeleton").write_text(_ntu_text(X))
    (root / "npz" / "labels.csv").write_text("\n".join(labels) + "\n")


def manifest(source: dict, variants: int) -> dict:
    from imusim_jax.workflows.dataset import resolve_manifest

    return resolve_manifest({"rate_hz": 50, "profiles": ["bmi160"], "mounts": ["watch-left", "watch-right"],
                             "mount_sampling": "sample", "variants": variants, "mount_jitter_deg": 3,
                             "time_stretch": [0.9, 1.1], "shard_size": 64, "batch_size": 64,
                             "sources": [source]})


def timed_build(m: dict, out: pathlib.Path, workers: int) -> dict:
    from imusim_jax.workflows.dataset import build_dataset

    if out.exists():
        shutil.rmtree(out)
    t0 = time.perf_counter()
    rep = build_dataset(m, out, workers=workers, progress=False, warn=lambda msg: None)
    wall = time.perf_counter() - t0
    read = sim = total = 0.0
    warm = {"read": 0.0, "sim": 0.0, "total": 0.0, "shards": 0}
    seen = set()
    for line in (out / "_build" / "ledger.jsonl").read_text().splitlines():
        tm = json.loads(line)["timing"]
        read, sim, total = read + tm["load_s"], sim + tm["simulate_s"], total + tm["total_s"]
        if tm["pid"] in seen:  # a worker's later shards: its compiled programs loaded
            warm["read"] += tm["load_s"]
            warm["sim"] += tm["simulate_s"]
            warm["total"] += tm["total_s"]
            warm["shards"] += 1
        seen.add(tm["pid"])
    return {"clips": rep.clips, "rows": rep.rows, "wall": wall, "read": read, "sim": sim,
            "builder": total - read - sim, "total": total, "failed": len(rep.failed), "warm": warm}


def steady(m: dict) -> str:
    """The marginal cost of a shard once its programs are loaded: its first shard built twice in this process,
    the second timed (what a long build tends to as the per-process loads amortise)."""
    import time as _t

    from imusim_jax.workflows.dataset import build_shard, plan_shards

    shard = plan_shards(m)[0]
    task = {"index": 0, "clips": shard, "sources": {e["name"]: e for e in m["sources"]}, "globals": m["globals"]}
    build_shard(task)
    t0 = _t.perf_counter()
    tm = build_shard(task)["timing"]
    wall = _t.perf_counter() - t0
    rows = sum(1 for _ in shard)
    out = tm["total_s"] - tm["simulate_s"]
    return (f"    steady state (one shard of {rows} clips rebuilt in-process, programs loaded): {rows / wall:.0f} clips/s;"
            f" read {1e3 * tm['load_s'] / rows:.2f} ms/clip, sim {1e3 * tm['simulate_s'] / rows:.2f}, build "
            f"{1e3 * (out - tm['load_s']) / rows:.2f}: outside {100 * out / tm['total_s']:.0f}% ("
            + ("outside <= inside)" if out <= tm["simulate_s"] else "outside > inside)"))


def line(name: str, r: dict) -> str:
    out = r["read"] + r["builder"]
    return (f"{name:<34} {r['clips']:>6} {r['rows']:>6} {r['wall']:>8.1f} {r['clips'] / r['wall']:>8.2f} "
            f"{r['rows'] / r['wall']:>8.1f} {100 * r['read'] / r['total']:>6.1f} {100 * r['sim'] / r['total']:>6.1f} "
            f"{100 * r['builder'] / r['total']:>6.1f} {100 * out / r['total']:>8.1f}  "
            + ("outside <= inside" if out <= r["sim"] else "outside > inside"))


def warm_line(r: dict) -> str:
    w = r["warm"]
    if not w["shards"]:
        return "    (no worker built a second shard: use more --clips for the warm shares)"
    out = w["total"] - w["sim"]
    return (f"    warm shards only ({w['shards']}: each worker's later shards, its programs loaded): read "
            f"{100 * w['read'] / w['total']:.1f}%, sim {100 * w['sim'] / w['total']:.1f}%, build "
            f"{100 * (w['total'] - w['read'] - w['sim']) / w['total']:.1f}%, outside {100 * out / w['total']:.1f}% ("
            + ("outside <= inside)" if out <= w["sim"] else "outside > inside)"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=256)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--variants", default="1,4")
    ap.add_argument("--videos", default=str(REPO.parent / "shared" / "realdata" / "video"))
    ap.add_argument("--no-video", action="store_true")
    args = ap.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    cache = os.environ.get("IMUSIM_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "imusim_jax", "xla"))
    if cache not in ("", "0"):
        os.makedirs(cache, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="imusim_build_bench_"))
    try:
        load = os.getloadavg()
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
              f"{load[0]:.2f} at the start; workers {args.workers}; float64; jax {jax.__version__} "
              f"({jax.default_backend()})")
        write_skeletons(tmp / "data", args.clips)
        print(f"{'route':<34} {'clips':>6} {'rows':>6} {'wall s':>8} {'clips/s':>8} {'rows/s':>8} {'read%':>6} "
              f"{'sim%':>6} {'build%':>6} {'outside%':>8}")
        for v in [int(x) for x in args.variants.split(",")]:
            for name, src in (("npz", {"name": "npz", "type": "motion_folder", "path": str(tmp / "data" / "npz"),
                                       "labels": str(tmp / "data" / "npz" / "labels.csv")}),
                              ("ntu", {"name": "ntu", "type": "ntu_skeleton", "path": str(tmp / "data" / "ntu")})):
                m = manifest(src, v)
                timed_build(m, tmp / "warm", args.workers)  # compiles (kept in the persistent cache)
                r = timed_build(m, tmp / "run", args.workers)
                print(line(f"skeleton ({name}), {v} variant(s)", r), flush=True)
                print(warm_line(r), flush=True)
                print(steady(m), flush=True)
        videos = pathlib.Path(args.videos)
        if not args.no_video and videos.is_dir() and any(videos.iterdir()):
            names = sorted(p.name for p in videos.iterdir() if p.suffix.lower() in (".mp4", ".avi", ".mov"))
            (tmp / "labels.csv").write_text("file,label\n" + "".join(f"{n},routine_unspecified\n" for n in names))
            m = manifest({"name": "video", "type": "video_folder", "path": str(videos),
                          "labels": str(tmp / "labels.csv"), "pose": {"pose": "mediapipe"}}, 1)
            r = timed_build(m, tmp / "video", args.workers)
            print(line(f"video (mediapipe), {len(names)} videos", r), flush=True)
        print("read: the sources' readers (and Stage 1 for videos); sim: inside imusim_jax.simulate; build: the "
              "builder's own work; outside = read + build, shares of the workers' time per shard")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
