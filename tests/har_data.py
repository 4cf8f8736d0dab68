"""Tiny HAR datasets in the dataset builder's shard schema, written by the tests themselves: clips whose classes
a small model can tell apart in a few seconds of CPU."""
from __future__ import annotations

import json
import os

import numpy as np

G = 9.80665
CLASSES = {  # activity -> (safety, severity, source_label)
    "waving": ("safe", 0, "a3 right hand wave"),
    "walking": ("safe", 0, "D01 Walking"),
    "fall_forward": ("unsafe", 3, "A11 Frontfall"),
}


def clip_signal(activity: str, rng: np.random.Generator, rate_hz: float = 50.0, seconds: float = 3.0):
    """``(accel (T, 3), gyro (T, 3))``: waving turns about x at 2 Hz, walking bounces on z at 1.8 Hz, a fall
    tips gravity from z to x with an impact."""
    t = np.arange(int(seconds * rate_hz)) / rate_hz
    a = np.zeros((len(t), 3))
    g = np.zeros((len(t), 3))
    a[:, 2] = G
    ph = rng.uniform(0, 2 * np.pi)
    if activity == "waving":
        g[:, 0] = 4.0 * np.sin(2 * np.pi * 2.0 * t + ph)
        a[:, 1] = 3.0 * np.cos(2 * np.pi * 2.0 * t + ph)
    elif activity == "walking":
        a[:, 2] += 3.0 * np.sin(2 * np.pi * 1.8 * t + ph)
        g[:, 1] = 0.8 * np.sin(2 * np.pi * 0.9 * t + ph)
    else:
        k = len(t) // 2
        a[k:, 2], a[k:, 0] = 0.0, G
        a[k:k + 3, 0] += 40.0
        g[k - 10:k, 1] = 3.0
    a += rng.normal(0, 0.1, a.shape)
    g += rng.normal(0, 0.02, g.shape)
    return a.astype(np.float32), g.astype(np.float32)


def rows(n_subjects: int = 4, per_class: int = 3, seed: int = 0, kind: str = "synthetic", rate_hz: float = 50.0,
         classes=tuple(CLASSES), source: str = "tiny_sim", placement: str = "wrist") -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for s in range(1, n_subjects + 1):
        for act in classes:
            for r in range(per_class):
                safety, sev, src = CLASSES.get(act, ("safe", 0, act))
                a, g = clip_signal(act, rng, rate_hz, seconds=float(rng.uniform(2.0, 4.0)))
                out.append({"source": source, "dataset": "tiny", "clip_id": f"{source}_s{s}_{act}_{r}", "person": 0,
                            "subject": str(s), "activity": act, "source_label": src, "safety": safety,
                            "severity": sev, "kind": kind, "placement": placement, "mount": "watch-left",
                            "profile": "none", "seed": seed, "rate_hz": rate_hz, "quality": None,
                            "accel": a.tolist(), "gyro": g.tolist()})
    return out


def write_dataset(folder, row_sets, fixed_size_first: bool = True) -> str:
    """One shard per row set in ``folder/shards``: the first with fixed-size-list IMU columns (``fixed_size_first``),
    the others with lists of lists; and a ``dataset.json``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = os.fspath(folder)
    os.makedirs(os.path.join(folder, "shards"), exist_ok=True)
    for i, rs in enumerate(row_sets):
        cols = {k: [r[k] for r in rs] for k in rs[0] if k not in ("accel", "gyro")}
        table = pa.table(cols)
        for k in ("accel", "gyro"):
            vals = [r[k] for r in rs]
            if i == 0 and fixed_size_first:
                typ = pa.list_(pa.list_(pa.float32(), 3))
            else:
                typ = pa.list_(pa.list_(pa.float64()))
            table = table.append_column(k, pa.array(vals, type=typ))
        pq.write_table(table, os.path.join(folder, "shards", f"part-{i:05d}.parquet"))
    with open(os.path.join(folder, "dataset.json"), "w") as f:
        json.dump({"name": "tiny", "format": "imusim-jax/dataset"}, f)
    return folder
