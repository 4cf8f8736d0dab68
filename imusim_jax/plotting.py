"""Plots people would rather look at than read: the six channels of one or more signals, and the mount axes."""
from __future__ import annotations

import os
from typing import Mapping, Optional

import numpy as np

from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._signal import ImuSignal

__all__ = ["plot_imu", "plot_mounts"]


def _plt():
    import matplotlib

    if os.environ.get("MPLBACKEND") is None and matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_imu(signals: ImuSignal | Mapping[str, ImuSignal], path: Optional[str | os.PathLike] = None,
             title: str = "", events: Optional[Mapping[str, float]] = None):
    """Draw accelerometer (m/s^2, with |a| and 1 g marked) and gyroscope (rad/s) channels over time.

    ``signals``: one signal or a ``{label: signal}`` mapping drawn on the same axes. ``events``: optional
    ``{label: time_s}`` vertical markers. Saves to ``path`` when given; returns the figure.
    """
    plt = _plt()
    if isinstance(signals, ImuSignal):
        signals = {"": signals}
    fig, axes = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True)
    colors = ["tab:red", "tab:green", "tab:blue"]
    styles = ["-", "--", ":", "-."]
    for i, (label, s) in enumerate(signals.items()):
        if s.batched:
            raise ValueError("plot one clip at a time (ImuSignal.unbatch())")
        t = s.t
        a, g = np.asarray(s.accel), np.asarray(s.gyro)
        ls = styles[i % len(styles)]
        for k in range(3):
            axes[0].plot(t, a[:, k], ls, color=colors[k], lw=1, label=f"{label} a{'xyz'[k]}".strip())
            axes[1].plot(t, g[:, k], ls, color=colors[k], lw=1, label=f"{label} g{'xyz'[k]}".strip())
        axes[2].plot(t, np.linalg.norm(a, axis=1), ls, color="k", lw=1, label=f"{label} |a|".strip())
        axes[2].plot(t, np.linalg.norm(g, axis=1) * 10, ls, color="tab:purple", lw=1,
                     label=f"{label} 10·|ω|".strip())
    axes[2].axhline(STANDARD_GRAVITY, color="gray", lw=0.8, ls="--", label="1 g")
    axes[0].set_ylabel("accelerometer (m/s²)")
    axes[1].set_ylabel("gyroscope (rad/s)")
    axes[2].set_ylabel("|a| (m/s²), 10·|ω| (rad/s)")
    axes[2].set_xlabel("time (s)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=7, ncol=3)
        for name, te in (events or {}).items():
            ax.axvline(te, color="gray", lw=0.8)
            ax.text(te, ax.get_ylim()[1], name, fontsize=7, va="top")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
        plt.close(fig)
    return fig


def plot_mounts(path: Optional[str | os.PathLike] = None):
    """Draw every mount preset's sensor axes (x red, y green, z blue) on a left and a right forearm, in the
    forearm frame (x_f along the forearm toward the hand, z_f out of the back of the wrist)."""
    plt = _plt()
    from imusim_jax._mounting import MOUNTS
    from scipy.spatial.transform import Rotation

    names = [n for n in MOUNTS if n != "body"]
    fig = plt.figure(figsize=(12, 7))
    for i, name in enumerate(names):
        m = MOUNTS[name]
        ax = fig.add_subplot(2, 3, i + 1, projection="3d")
        q = np.asarray(m.q_fs, np.float64)
        R = Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix()
        # forearm: a box from the elbow (x=-0.25) to the wrist (x=0), hand beyond
        ax.plot([-0.25, 0], [0, 0], [0, 0], color="tan", lw=8, solid_capstyle="round")
        ax.plot([0, 0.08], [0, 0], [0, 0], color="peru", lw=5)
        ax.text(-0.25, 0, -0.03, "elbow", fontsize=7)
        ax.text(0.08, 0, -0.03, "hand", fontsize=7)
        o = np.asarray(m.lever_f, np.float64)
        for k, c in enumerate(["red", "green", "blue"]):
            d = R[:, k] * 0.07
            ax.quiver(*o, *d, color=c, lw=2)
            ax.text(*(o + d * 1.15), "xyz"[k], color=c, fontsize=9)
        ax.set_xlim(-0.25, 0.12)
        ax.set_ylim(-0.1, 0.1)
        ax.set_zlim(-0.1, 0.1)
        ax.set_xlabel("x_f (to hand)", fontsize=7)
        ax.set_ylabel("y_f", fontsize=7)
        ax.set_zlabel("z_f (back of wrist)", fontsize=7)
        ax.set_title(f"{name} ({m.side} arm)", fontsize=9)
        ax.view_init(elev=25, azim=-60)
    fig.suptitle("Mount presets: sensor axes (Android: x right, y top, z out of screen) in the forearm frame")
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
        plt.close(fig)
    return fig


def _save(fig, path) -> None:
    """``fig.savefig``; a folder that cannot be written is an ``InputError`` in one line (``io.atomic_path``'s)."""
    import matplotlib.pyplot as plt

    from imusim_jax.io.files import _write_error

    try:
        fig.savefig(path, dpi=110)
    except OSError as e:
        plt.close(fig)
        raise _write_error(os.fspath(path), e) from None
