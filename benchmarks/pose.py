"""Stage 1 speed: frames per second of the detector, ViTPose and VideoPose3D runners against raw ``session.run``.

For each model it times the runner's public call (``OnnxPersonDetector.run_on_frames``, ``VitPose.run_on_frames``
with two people per frame, ``VideoPose3D.__call__`` on one long track), min over repeats after a warm-up, and, in
the same run, the raw ``session.run`` calls on exactly the inputs the runner produced (recorded during the
warm-up). It prints

  * frames/s of the runner and of raw ``session.run`` alone,
  * the share of the runner's time spent outside ``session.run`` (letterbox, crops, normalisation, decoding, NMS,
    padding), from the runner's own ``session.run`` timer,
  * ratio = runner frames/s / raw frames/s (target >= 0.8: the runner adds little to the network's own cost).

Models timed: the tiny test models (``onnx_weights/export_tiny.py``; their networks are so cheap that the runner's
overhead dominates, so their ratio says little), random models with the real architectures' compute
(``*_compute``: ViT-B ViTPose, the 243-frame 1024-channel VideoPose3D, a YOLOX-s-sized conv net; the fair measure),
and any real model of the manifest found in the weights folder. The device and onnxruntime provider are printed;
where onnxruntime has CUDA (``onnxruntime-gpu``), the runners use it automatically.

``--mediapipe`` times the MediaPipe backend's whole Stage 1 up to the people (``pose.track_people``: decoding,
detection, tracking, pose, selection) on real clips (``../shared/realdata/video`` beside the repository, or
``--videos``) and on the repository's synthetic test clip (the astronaut of ``tests/pose/pose_videos.py``), with
the earlier schedule (``PoseConfig(schedule="candidates")``: every candidate track searched every frame, a graph
per candidate) and the current one (``schedule="people"``) back to back, each in its own process (its peak
resident memory is its own). It prints per clip and schedule the video seconds per wall second (>= 1: real
time), the people found, the pose-model calls and the peak RSS, then video-s per wall-s per person count, with the
load average before and after (the machine may be shared).

Usage::

    .venv/bin/python benchmarks/pose.py            # a couple of minutes on 2 CPU cores
    .venv/bin/python benchmarks/pose.py --quick    # tiny models only, seconds
    .venv/bin/python benchmarks/pose.py --mediapipe   # the MediaPipe schedules, a few minutes
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_model  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, os.fspath(REPO))

import onnxruntime as ort  # noqa: E402

from imusim_jax import weights  # noqa: E402
from imusim_jax.pose._onnx import default_providers  # noqa: E402
from imusim_jax.pose.detector import OnnxPersonDetector  # noqa: E402
from imusim_jax.pose.lifter import VideoPose3D  # noqa: E402
from imusim_jax.pose.vitpose import VitPose  # noqa: E402

TARGET = 0.8


def _export_tiny():
    spec = importlib.util.spec_from_file_location("export_tiny", REPO / "onnx_weights" / "export_tiny.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def scene(t: int, h: int = 480, w: int = 640) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``t`` frames with two red people (the tiny models see them) and their boxes."""
    frames, boxes = [], []
    for i in range(t):
        img = np.empty((h, w, 3), np.uint8)
        img[:] = (40, 90, 40)
        rects = [(80 + 2 * i, 100, 170 + 2 * i, 380), (400 - i, 120, 480 - i, 400)]
        for x0, y0, x1, y1 in rects:
            img[y0:y1, x0:x1] = (255, 0, 0)
        frames.append(img)
        boxes.append(np.array(rects, np.float64))
    return frames, boxes


def track(t: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    xy = 320 + np.cumsum(rng.normal(0, 1.5, (t, 17, 2)), 0) + rng.normal(0, 40, (1, 17, 2))
    return np.concatenate([xy, np.ones((t, 17, 1))], -1)


def measure(runner, call, frames: int, repeats: int) -> dict:
    """Time ``call()`` and the raw session.run calls on the feeds it produced, alternately, min over repeats."""
    model = runner.model
    feeds, run = [], model.run

    def recording_run(f, outputs=None):
        feeds.append(({k: v.copy() for k, v in f.items()}, outputs))
        return run(f, outputs)

    model.run = recording_run
    call()  # warm-up, records the feeds
    model.run = run
    best, inside, raw = float("inf"), 0.0, float("inf")
    for _ in range(repeats):  # alternate runner and raw runs so that drifts of a shared machine hit both
        model.reset_timer()
        t0 = time.perf_counter()
        call()
        dt = time.perf_counter() - t0
        if dt < best:
            best, inside = dt, model.run_time_s
        t0 = time.perf_counter()
        for f, outputs in feeds:
            model.session.run(list(outputs) if outputs else None, f)
        raw = min(raw, time.perf_counter() - t0)
    return {"fps": frames / best, "raw_fps": frames / raw, "outside": 1.0 - inside / best, "ratio": raw / best,
            "calls": len(feeds), "provider": model.providers[0].replace("ExecutionProvider", "")}


def bench_detector(path, frames, repeats, label):
    det = OnnxPersonDetector(path)
    return label, "detector", measure(det, lambda: det.run_on_frames(frames), len(frames), repeats)


def bench_vitpose(path, frames, boxes, repeats, label):
    vp = VitPose(path)
    return label, "vitpose", measure(vp, lambda: vp.run_on_frames(frames, boxes), len(frames), repeats)


def bench_lifter(path, t, repeats, label):
    lifter = VideoPose3D(path)
    kp = track(t)
    return label, "lifter", measure(lifter, lambda: lifter(kp, 640, 480), t, repeats)


def report(rows) -> None:
    print(f"\n{'stage':9s} {'model':34s} {'prov':5s} {'runner fps':>11s} {'raw fps':>9s} {'outside':>8s} "
          f"{'ratio':>6s}  target >= {TARGET}")
    for label, stage, r in rows:
        ok = "ok" if r["ratio"] >= TARGET else "below"
        print(f"{stage:9s} {label:34s} {r['provider']:5s} {r['fps']:11.1f} {r['raw_fps']:9.1f} "
              f"{100 * r['outside']:7.1f}% {r['ratio']:6.2f}  {ok}")


SCHEDULES = ("candidates", "people")


def _one_mediapipe_run(path: str, schedule: str) -> None:
    """Child process: ``track_people`` on ``path`` with ``schedule``; prints one JSON line."""
    import json
    import resource

    from imusim_jax.pose import PoseConfig, track_people
    from imusim_jax.pose import mediapipe_backend as mb
    from imusim_jax.pose.video import Video

    calls = {"n": 0}
    for cls in (mb.RoiPose, mb.BlazePose):
        def counted(self, *a, _f=cls.__call__, **k):
            calls["n"] += 1
            return _f(self, *a, **k)
        cls.__call__ = counted
    t0 = time.perf_counter()
    video = Video(path)
    people, _ = track_people(video, PoseConfig(pose="mediapipe", progress=False, schedule=schedule))
    wall = time.perf_counter() - t0
    print(json.dumps({"wall_s": wall, "video_s": video.info.num_frames / video.info.fps, "people": len(people),
                      "calls": calls["n"], "frames": video.info.num_frames,
                      "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))


def _synthetic_clip(folder: str) -> str:
    sys.path.insert(0, os.fspath(REPO / "tests" / "pose"))
    from pose_videos import astronaut_video, write_video

    frames, _ = astronaut_video(t=60)
    return os.fspath(write_video(os.path.join(folder, "astronaut.avi"), frames, fps=30))


def bench_mediapipe(videos) -> None:
    import json
    import subprocess

    load = lambda: " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "?"
    rows = []
    print(f"\nMediaPipe Stage 1 (track_people), schedules {' vs '.join(SCHEDULES)}, back to back per clip")
    print(f"{'clip':28s} {'schedule':10s} {'frames':>6s} {'wall s':>7s} {'video-s/wall-s':>15s} {'people':>6s} "
          f"{'calls':>6s} {'peak RSS':>9s}  load before -> after")
    for v in videos:
        for sched in SCHEDULES:
            before = load()
            r = subprocess.run([sys.executable, __file__, "--one-mediapipe", v, sched], capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": os.fspath(REPO)})
            line = [x for x in r.stdout.splitlines() if x.startswith("{")]
            if r.returncode or not line:
                print(f"{os.path.basename(v):28s} {sched:10s} failed: {r.stderr.strip()[-200:]}")
                continue
            d = json.loads(line[-1])
            rate = d["video_s"] / d["wall_s"]
            rows.append((sched, d["people"], rate))
            print(f"{os.path.basename(v):28s} {sched:10s} {d['frames']:6d} {d['wall_s']:7.1f} {rate:15.3f} "
                  f"{d['people']:6d} {d['calls']:6d} {d['rss_gb']:8.2f}G  {before} -> {load()}")
    print("\nvideo-s per wall-s by people found (mean over clips; target >= 1 for up to three people)")
    for sched in SCHEDULES:
        by = {}
        for s_, n, rate in rows:
            if s_ == sched:
                by.setdefault(n, []).append(rate)
        print(f"  {sched:10s} " + ", ".join(f"{n} people: {np.mean(r):.3f}" for n, r in sorted(by.items())))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny models only")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats of the tiny models (min is kept)")
    p.add_argument("--mediapipe", action="store_true", help="time the MediaPipe backend's schedules instead")
    p.add_argument("--videos", nargs="*", help="clips for --mediapipe (default: the shared real clips)")
    p.add_argument("--one-mediapipe", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one_mediapipe:
        _one_mediapipe_run(*a.one_mediapipe)
        return
    if a.mediapipe:
        import glob

        shared = REPO.parent / "shared" / "realdata" / "video"
        videos = a.videos if a.videos else sorted(glob.glob(os.fspath(shared / "*.mp4")))
        with tempfile.TemporaryDirectory() as tmp:
            bench_mediapipe(list(videos) + [_synthetic_clip(tmp)])
        return
    print(f"onnxruntime {ort.__version__}; available providers {ort.get_available_providers()}; "
          f"runners use {default_providers()[0]}")
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; Python {platform.python_version()}")
    et = _export_tiny()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        names = list(et.TINY_MODELS) + ([] if a.quick else list(et.COMPUTE_MODELS))
        paths = et.export_all(tmp, names)
        print(f"built {len(names)} models in {time.perf_counter() - t0:.1f} s")
        frames, boxes = scene(16)
        rows.append(bench_detector(paths["detector_tiny"], frames, a.repeats, "tiny (batch 8)"))
        rows.append(bench_detector(paths["detector_tiny_static"], frames, a.repeats, "tiny static 416 (batch 1)"))
        rows.append(bench_vitpose(paths["vitpose_tiny"], frames, boxes, a.repeats, "tiny (2 people/frame)"))
        rows.append(bench_lifter(paths["videopose3d_tiny"], 3000, a.repeats, "tiny rf 27 (3000 frames)"))
        if not a.quick:
            rep = max(2, a.repeats - 1)  # big models: fewer repeats, each is long enough to be stable
            rows.append(bench_detector(paths["detector_compute"], frames[:3], rep, "random YOLOX-s-sized 640"))
            rows.append(bench_vitpose(paths["vitpose_b_compute"], frames[:1], boxes[:1], rep,
                                      "random ViT-B (2 people/frame)"))
            rows.append(bench_lifter(paths["videopose3d_243_compute"], 1000, rep, "random rf 243, 1024 ch (1000 fr)"))
    real = [m for m in weights.list_models() if m.present]
    for m in real:
        label = f"{m.name} (real)"
        if m.task == "detector":
            rows.append(bench_detector(m.path, frames[:3], 2, label))
        elif m.task == "pose2d":
            rows.append(bench_vitpose(m.path, frames[:1], boxes[:1], 2, label))
        elif m.task == "lifter":
            rows.append(bench_lifter(m.path, 1000, 2, label))
    if not real:
        print(f"no real model in {weights.weights_dir()} (see `imusim-jax weights list`)")
    report(rows)
    print("\nraw = session.run alone on the runner's own inputs; outside = share of runner time not in session.run;"
          "\nratio = runner fps / raw fps. Tiny models: the network costs almost nothing, so overhead dominates.")


if __name__ == "__main__":
    main()
