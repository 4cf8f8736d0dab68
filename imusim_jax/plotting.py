"""Plots people would rather look at than read: the six channels of one or more signals, the mount axes, and a
calibration's report."""
from __future__ import annotations

import os
from typing import Mapping, Optional

import numpy as np

from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._signal import ImuSignal

__all__ = ["plot_imu", "plot_mounts", "plot_calibration"]


def _plt():
    import matplotlib

    if os.environ.get("MPLBACKEND") is None and matplotlib.get_backend().lower() not in (
            "agg", "module://matplotlib_inline.backend_inline"):
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


_CHANNELS = ("accel x", "accel y", "accel z", "gyro x", "gyro y", "gyro z")


def plot_calibration(mode: str, profile, data: Mapping, path: Optional[str | os.PathLike] = None):
    """A calibration's report (``imusim-jax calibrate --plot``).

    * ``stationary``: the measured Allan deviation of every channel's rest data against the fitted model's.
    * ``paired``: the first pair's six channels, real against simulated with the starting mount (before) and with
      the profile (after), at the pair's fitted time offset.
    * ``unpaired``: every channel's Welch spectrum, real against the simulation before and after the fit.

    ``data`` is what ``imusim_jax.workflows.calibrate.calibrate_files`` read. Saves to ``path`` when given;
    returns the figure."""
    plt = _plt()
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), squeeze=False)
    axes = axes.ravel()
    fit = profile.fit
    if mode == "stationary":
        allan = fit["allan"]
        taus, adev, model = (np.asarray(allan[k], np.float64) for k in ("taus_s", "adev", "model_adev"))
        for c, ax in enumerate(axes):
            ok = np.isfinite(adev[..., c]) if adev.ndim > 1 else np.isfinite(adev)
            t = taus[..., c] if taus.ndim > 1 else taus
            ax.loglog(t[ok], adev[..., c][ok], "o", ms=3, label="measured")
            ax.loglog(t[ok], model[..., c][ok], "-", label="fitted model")
            ax.set_title(_CHANNELS[c])
            ax.set_xlabel("cluster time (s)")
        axes[0].set_ylabel("Allan deviation (m/s^2)")
        axes[3].set_ylabel("Allan deviation (rad/s)")
    elif mode == "paired":
        import jax

        from imusim_jax import get_mount, simulate

        motion, rec = data["pairs"][0]
        real = rec.signal if hasattr(rec, "signal") else rec
        offset = float(fit.get("time_offset_s", {}).get("per_pair", [profile.time_offset_s])[0])
        start = get_mount(profile.source.get("mount", "watch-left"))
        kw = dict(rate_hz=real.rate_hz, cutoff_hz=profile.cutoff_hz or "auto", time_offset_s=offset)
        before = simulate(motion, start, **kw)
        after = simulate(motion, profile.mount, _deterministic(profile.noise), key=jax.random.key(0), **kw)
        r = np.concatenate([np.asarray(real.accel), np.asarray(real.gyro)], 1)
        b = np.concatenate([np.asarray(before.accel), np.asarray(before.gyro)], 1)
        a = np.concatenate([np.asarray(after.accel), np.asarray(after.gyro)], 1)
        n = min(len(r), len(a))
        t = np.arange(n) / real.rate_hz
        for c, ax in enumerate(axes):
            ax.plot(t, r[:n, c], color="k", lw=1.2, label="real")
            ax.plot(t, b[:n, c], color="tab:gray", lw=0.8, ls="--", label="before (starting mount)")
            ax.plot(t, a[:n, c], color="tab:red", lw=1.0, label="after (profile)")
            ax.set_title(_CHANNELS[c])
            ax.set_xlabel("t (s)")
    elif mode == "unpaired":
        from imusim_jax.stats import welch_psd

        result = data["unpaired"]
        rate = float(profile.rate_hz)
        real = np.concatenate([np.concatenate([np.asarray(x.signal.accel if hasattr(x, "signal") else x.accel),
                                               np.asarray(x.signal.gyro if hasattr(x, "signal") else x.gyro)], 1)
                               for x in data["recordings"]])
        X, lengths = result.simulate(data["motions"])
        sim = np.concatenate([X[b, :n] for b, n in enumerate(lengths)])
        nper = int(min(256, len(real) // 4, len(sim) // 4))
        for c, ax in enumerate(axes):
            for y, label, style in ((real, "real", "k-"), (sim, "simulated, fitted", "r-")):
                f, p = welch_psd(y[:, c], rate, nperseg=nper)
                ax.semilogy(np.asarray(f), np.asarray(p), style, label=label)
            ax.set_title(_CHANNELS[c])
            ax.set_xlabel("Hz")
    else:
        raise ValueError(f"mode must be stationary, paired or unpaired, got {mode!r}")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{profile.name}: {mode} calibration ({fit.get('steps', '?')} steps, "
                 f"{'converged' if fit.get('converged') else 'not converged'})")
    fig.tight_layout()
    if path is not None:
        _save(fig, path)
    return fig


def _deterministic(noise):
    """``noise`` without its random parts (white noise, random walk, random turn-on bias, scale and
    misalignment): the gains and biases a profile fitted, for a waveform to compare."""
    if noise is None:
        return None
    zero = ("noise_density", "random_walk", "bias_std", "scale_std", "misalignment_std")
    return noise.replace(**{s: getattr(noise, s).replace(**{k: 0 * getattr(getattr(noise, s), k) for k in zero})
                            for s in ("accel", "gyro")})
