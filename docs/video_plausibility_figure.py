"""Draw docs/img/video_plausibility.png: what each Stage 1 plausibility step removes, on the shared clips.

Usage: .venv/bin/python docs/video_plausibility_figure.py [--data ../shared/realdata/video] [--out docs/img]
Prints the peak |a - g| (m/s^2, watch-left, 50 Hz, no sensor noise) after each step.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

from imusim_jax import simulate
from imusim_jax.pose import PoseConfig, track_people
from imusim_jax.pose.reconstruction import person_motion
from imusim_jax.pose.smoothing import SmoothingConfig
from imusim_jax.pose.video import Video

G = 9.80665
STEPS = [  # (label, smoothing config, root solved frame by frame)
    ("landmarks as they come", None, True),
    ("+ outlier rejection", SmoothingConfig(rts=False, bones=False), True),
    ("+ RTS smoothing (root, posture)", SmoothingConfig(bones=False), True),
    ("+ bone lengths (= video2imu)", SmoothingConfig(), True),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "realdata", "video"))
    ap.add_argument("--out", default=os.path.join(here, "img"))
    a = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips = [("human-sitting-down.mp4", "sitting down (calm)"), ("fall-15-20-1.mp4", "fall")]
    fig, axes = plt.subplots(3, 2, figsize=(12, 9.5), gridspec_kw={"height_ratios": [1, 1, 1.4]})
    for col, (name, title) in enumerate(clips):
        video = Video(os.path.join(a.data, name))
        people, _ = track_people(video, PoseConfig(progress=False))
        p = people[0]
        peaks = []
        for k, (label, sm, raw_root) in enumerate(STEPS):
            cfg = PoseConfig(smoothing=sm)
            raw, smooth, _ = person_motion(p, video.info, cfg, video.times_s, raw_root=raw_root)
            m = smooth if smooth is not None else raw
            sig = simulate(m, "watch-left", rate_hz=50)
            dev = np.linalg.norm(np.asarray(sig.accel), axis=1) - G
            peaks.append(float(np.abs(dev).max()))
            axes[2, col].plot(sig.t, dev, lw=1.2 if k else 0.8, label=f"{label}: peak {peaks[-1]:.0f} m/s²")
            if k in (0, len(STEPS) - 1):
                j = m.joint("left_wrist")
                t = np.arange(m.num_frames) / float(m.fps)
                style = dict(marker=".", lw=0.6, alpha=0.7) if k == 0 else dict(lw=2)
                lab = "landmarks" if k == 0 else "video2imu"
                axes[0, col].plot(t, np.asarray(j[:, 2]), label=f"{lab}: height z", **style)
                axes[1, col].plot(t, np.asarray(j[:, 1]), label=f"{lab}: depth y", **style)
        print(f"{name}: " + ", ".join(f"{lab} {v:.1f}" for (lab, _, _), v in zip(STEPS, peaks)))
        axes[0, col].set_title(f"{title}: {name}")
        axes[0, col].set_ylabel("left wrist z (m)")
        axes[1, col].set_ylabel("left wrist y (m, away from camera)")
        axes[2, col].set_ylabel("|a| - g at the watch (m/s²)")
        axes[2, col].set_xlabel("time from the person's first frame (s)")
        axes[2, col].set_ylim(-40, 100)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Stage 1 plausibility: what each step removes (MediaPipe landmarks, watch-left, 50 Hz)")
    fig.tight_layout()
    os.makedirs(a.out, exist_ok=True)
    fig.savefig(os.path.join(a.out, "video_plausibility.png"), dpi=100)


if __name__ == "__main__":
    main()
