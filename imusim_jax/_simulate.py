"""``simulate``: Motion or Trajectory in, ImuSignal out.

For one clip (batches are ``vmap``-ped over the clip axis, and padded clips behave like the clips alone):

1. the joints the mount's arm needs (or the trajectory's position and quaternion) are edge-extended and low-pass
   filtered, zero phase (``_kinematics``), with a Butterworth filter designed by SciPy for each clip's frame rate;
2. a natural cubic spline through them gives positions at any time; the forearm frame ``q_wf(t)``
   (``_orientation``) and the wrist position ``p_w(t)`` are functions of time, and ``jax.jvp`` through them gives
   exact first and second time derivatives at the IMU sample times ``t_k = k / rate_hz``;
3. angular velocity ``omega_w = 2 Im(dq/dt ⊗ q*)``, angular acceleration ``alpha_w = d omega_w / dt``; the sensor's
   acceleration is the wrist's plus the lever-arm terms ``alpha × r + omega × (omega × r)`` with
   ``r = q_wf ⊗ lever_f ⊗ q_wf*``;
4. with ``q_ws = q_wf ⊗ q_fs`` (the mount), the sensor reads the specific force ``f_s = q_ws* ⊗ (a - g) ⊗ q_ws``
   and the rate ``omega_s = q_ws* ⊗ omega_w ⊗ q_ws``; ``g = (0, 0, -9.80665)``;
5. the noise model (``_noise``) corrupts them, as a pure function of an explicit PRNG key.

Everything after the filter design is one ``jax.jit``-compiled function of arrays; a second call with the same
shapes does not recompile. ``simulate`` is differentiable with respect to the motion's joints, the mount and the
noise parameters.
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
import scipy.signal

from imusim_jax import _quaternion as quat
from imusim_jax._constants import DEFAULT_RATE_HZ, GRAVITY_W
from imusim_jax._kinematics import (FilterCoeffs, design_lowpass, eval_spline, extend_edges, filtfilt_extended,
                                    fit_spline, pad_length)
from imusim_jax._motion import InputError, Motion, Trajectory
from imusim_jax._mounting import Mount, get_mount
from imusim_jax._noise import ImuNoise, apply_noise, get_noise
from imusim_jax._orientation import ArmRig, RollModel, arm_rig, forearm_frame
from imusim_jax._signal import ImuSignal

__all__ = ["simulate", "auto_cutoff", "num_output_samples", "stack_mounts", "stack_noise"]

Cutoff = Union[float, str, None]


# ---------------------------------------------------------------------------------------------------------------
# Cut-off choice (NumPy, before jit)
# ---------------------------------------------------------------------------------------------------------------

def auto_cutoff(x: np.ndarray, fps: float, *, lo_hz: float = 1.0, hi_hz: Optional[float] = None,
                step_hz: float = 0.25, order: int = 2) -> float:
    """Cut-off frequency by Winter's residual analysis (D. A. Winter, Biomechanics and Motor Control of Human
    Movement, 4th ed., 2009, §3.4.4.3).

    For cut-offs ``fc`` on a grid, the RMS residual ``R(fc)`` between the signal and its zero-phase low-passed
    copy is computed. Above the signal's bandwidth, ``R`` is noise only and falls linearly with ``fc``; the line
    fitted there meets ``fc = 0`` at the noise RMS, and the chosen cut-off is where ``R`` drops to that level:
    signal distortion and passed noise balance. Clean data (motion capture) gets a high cut-off, jittery data
    (Kinect, video) a low one.

    Args:
      x: ``(T, C)`` signal (positions, metres), valid frames only.
      fps: frame rate (Hz).
      lo_hz, hi_hz: search range (``hi_hz`` defaults to ``0.4 * fps``).
    Returns:
      The cut-off in Hz.
    """
    x = np.asarray(x, np.float64)
    x = x - x.mean(0)
    hi = 0.4 * fps if hi_hz is None else min(hi_hz, 0.45 * fps)
    if hi <= lo_hz + 4 * step_hz or len(x) < 16:
        return float(min(max(lo_hz, 0.25 * fps), hi))
    grid = np.arange(lo_hz, hi + 1e-9, step_hz)
    padlen = min(len(x) - 1, 3 * 3)
    res = np.empty(len(grid))
    for i, fc in enumerate(grid):
        sos = scipy.signal.butter(order, fc, fs=fps, output="sos")
        y = scipy.signal.sosfiltfilt(sos, x, axis=0, padlen=padlen)
        res[i] = np.sqrt(np.mean((x - y) ** 2))
    tail = grid >= grid[0] + 0.6 * (grid[-1] - grid[0])  # the noise-only region: top 40 % of the grid
    slope, intercept = np.polyfit(grid[tail], res[tail], 1)
    below = np.nonzero(res <= max(intercept, 0.0))[0]
    return float(grid[below[0]] if len(below) else grid[-1])


def _resolve_cutoffs(cutoff_hz: Cutoff, X: np.ndarray, lengths: np.ndarray, fps: np.ndarray,
                     pos_channels: int) -> list[Optional[float]]:
    out = []
    for b in range(X.shape[0]):
        if cutoff_hz is None or cutoff_hz == "none":
            out.append(None)
        elif cutoff_hz == "auto":
            out.append(auto_cutoff(X[b, : lengths[b], :pos_channels], float(fps[b])))
        else:
            c = float(cutoff_hz)
            if not np.isfinite(c) or c <= 0:
                raise InputError(f"cutoff must be a positive number of Hz, 'auto' or None, got {cutoff_hz!r}")
            out.append(c)
    return out


def num_output_samples(num_frames, fps, rate_hz: float):
    """IMU samples ``k = 0..n-1`` with ``k / rate_hz <= (num_frames - 1) / fps``."""
    dur = (np.asarray(num_frames) - 1) / np.asarray(fps, np.float64)
    return (np.floor(dur * rate_hz + 1e-6) + 1).astype(np.int32)


# ---------------------------------------------------------------------------------------------------------------
# The jitted core: one clip, vmapped
# ---------------------------------------------------------------------------------------------------------------

def _pose_fn(spline, kind: str, rig: Optional[ArmRig], roll_model: RollModel):
    """Time (knot units) -> (wrist position (3,), forearm/body orientation q_wf (4,))."""
    if kind == "skeleton":
        def f(u):
            p = eval_spline(spline, u).reshape(-1, 3)
            return p[2], quat.from_matrix(forearm_frame(p, rig, roll_model))
    else:
        def f(u):
            v = eval_spline(spline, u)
            return v[:3], quat.normalize(v[3:7])
    return f


def _sensor_at(f, u, fps, mount: Mount):
    """Ideal readings at one instant: returns (specific force f_s (3,), omega_s (3,), q_ws (4,))."""
    one = jnp.ones_like(u)
    (p, q), (dp, dq) = jax.jvp(f, (u,), (one,))
    _, (ddp, ddq) = jax.jvp(lambda uu: jax.jvp(f, (uu,), (jnp.ones_like(uu),))[1], (u,), (one,))
    # knot units -> seconds: d/dt = fps d/du
    dq, ddq, ddp = dq * fps, ddq * fps ** 2, ddp * fps ** 2
    omega_w = quat.world_rate(q, dq)
    # d/dt [2 Im(dq ⊗ q*)] = 2 Im(ddq ⊗ q* + dq ⊗ dq*)
    alpha_w = 2.0 * (quat.multiply(ddq, quat.conjugate(q)) + quat.multiply(dq, quat.conjugate(dq)))[1:]
    r_w = quat.rotate(q, mount.lever_f.astype(p.dtype))
    a_w = ddp + jnp.cross(alpha_w, r_w) + jnp.cross(omega_w, jnp.cross(omega_w, r_w))
    q_ws = quat.multiply(q, mount.q_fs.astype(q.dtype))
    f_s = quat.rotate_inverse(q_ws, a_w - jnp.asarray(GRAVITY_W, a_w.dtype))
    omega_s = quat.rotate_inverse(q_ws, omega_w)
    return f_s, omega_s, q_ws


def _simulate_clip(X, length, fps, sos, zi, offset, mount, noise, key, *, kind, rig, roll_model, pad, n_out,
                   rate_hz):
    dtype = X.dtype
    X = X - offset  # positions relative to the first frame's wrist: better float32 conditioning
    X_ext = extend_edges(X, length, pad)
    Y = filtfilt_extended(FilterCoeffs(sos, zi), X_ext, length, pad)
    spline = fit_spline(Y)
    k = jnp.arange(n_out)
    u = k.astype(dtype) / rate_hz * fps + pad
    f = _pose_fn(spline, kind, rig, roll_model)
    acc, gyr, q_ws = jax.vmap(lambda uu: _sensor_at(f, uu, fps, mount))(u)
    n_valid = jnp.floor((length - 1).astype(dtype) / fps * rate_hz + 1e-4).astype(jnp.int32) + 1
    valid = (k < n_valid)[:, None]
    acc, gyr = jnp.where(valid, acc, 0.0), jnp.where(valid, gyr, 0.0)
    if noise is not None:
        acc, gyr = apply_noise(key, acc, gyr, noise, rate_hz)
        acc, gyr = jnp.where(valid, acc, 0.0), jnp.where(valid, gyr, 0.0)
    q_ws = quat.make_continuous(jnp.where(valid, q_ws, q_ws[:1]), axis=0)
    return acc, gyr, q_ws, n_valid


@functools.partial(jax.jit, static_argnames=("kind", "rig", "roll_model", "pad", "n_out", "rate_hz", "axes"))
def _simulate_batch(X, lengths, fps, sos, zi, offset, mount, noise, keys, *, kind, rig, roll_model, pad, n_out,
                    rate_hz, axes):
    fn = functools.partial(_simulate_clip, kind=kind, rig=rig, roll_model=roll_model, pad=pad, n_out=n_out,
                           rate_hz=rate_hz)
    x_ax, m_ax, n_ax = axes
    return jax.vmap(fn, in_axes=(x_ax, x_ax, x_ax, x_ax, x_ax, x_ax, m_ax, n_ax, 0))(
        X, lengths, fps, sos, zi, offset, mount, noise, keys)


# ---------------------------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------------------------

def stack_mounts(mounts: Sequence[Mount | str]) -> Mount:
    """Stack mounts of the same arm into one batched ``Mount`` (leaves ``(B, 4)`` and ``(B, 3)``)."""
    ms = [get_mount(m) for m in mounts]
    sides = {m.side for m in ms}
    if len(sides) != 1:
        raise InputError(f"a batched mount must use one arm, got {sorted(sides)}; simulate each arm separately")
    return Mount(jnp.stack([jnp.asarray(m.q_fs) for m in ms]), jnp.stack([jnp.asarray(m.lever_f) for m in ms]),
                 ms[0].side, "+".join(m.name for m in ms))


def stack_noise(models: Sequence[ImuNoise | str]) -> ImuNoise:
    """Stack noise models (presets or ``ImuNoise``) into one batched ``ImuNoise`` (each leaf gains a clip axis)."""
    ns = [get_noise(n) for n in models]
    if any(n is None for n in ns):
        ns = [get_noise("ideal") if n is None else n for n in ns]
    stacked = jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *ns)
    return stacked.replace(name="+".join(n.name for n in ns))


def simulate(source: Motion | Trajectory, mount: Mount | str = "watch-left",
             noise: ImuNoise | str | None = None, *, key: Optional[jax.Array] = None,
             rate_hz: float = DEFAULT_RATE_HZ, cutoff_hz: Cutoff = "auto", filter_order: int = 2,
             roll: str = "auto", roll_model: RollModel = RollModel()) -> ImuSignal:
    """Simulate the 6-axis IMU a device at ``mount`` would record.

    Args:
      source: a ``Motion`` (joints, z-up world, metres) or a ``Trajectory`` (rigid body), one clip or a batch.
      mount: a preset name (``watch-left``, ``watch-right``, ``band-left``, ``band-right``, ``phone-left``,
        ``phone-right``, ``body``) or a ``Mount``; a batched ``Mount`` (``stack_mounts``) simulates one mount per
        clip, or several mounts of one clip.
      noise: ``None`` (ideal), a preset (``bmi160``, ``bmi270``, ``lsm6dso``), a profile path, an ``ImuNoise``,
        or a batched ``ImuNoise`` (``stack_noise``).
      key: ``jax.random`` key, required with noise: one key (split per clip) or ``(B,)`` keys.
      rate_hz: IMU output rate (Hz); sample ``k`` is at ``k / rate_hz`` s.
      cutoff_hz: low-pass cut-off (Hz) for the positions (and the trajectory's quaternion), ``"auto"`` for
        Winter's residual analysis per clip (``auto_cutoff``), or ``None`` for no filtering.
      filter_order: Butterworth order of one pass (zero phase doubles it).
      roll: forearm roll source, ``"auto"`` (hand landmarks where the joint set has them, else the elbow hinge),
        ``"hand"`` or ``"hinge"``; see ``imusim_jax._orientation``.
      roll_model: fallback weights for near-straight arms.
    Returns:
      ``ImuSignal`` with ``accel`` (m/s^2) and ``gyro`` (rad/s) in the sensor frame, ``(T', 3)`` for one clip or
      ``(B, T', 3)`` with ``lengths`` for a batch (padding is zero).
    """
    mount = get_mount(mount)
    noise = get_noise(noise)
    rate_hz = float(rate_hz)
    if not np.isfinite(rate_hz) or rate_hz <= 0:
        raise InputError(f"rate must be a positive number of Hz, got {rate_hz}")
    if isinstance(source, Motion):
        kind = "skeleton"
        rig = arm_rig(source.joint_set, mount.side, roll)
        sel = source.joints[..., np.asarray(rig.indices), :]
        X = sel.reshape(sel.shape[:-2] + (-1,))
        pos_channels = X.shape[-1]
        wrist = sel[..., 0, 2, :]  # first frame's wrist: (3,) or (B, 3)
        offset = jnp.concatenate([wrist] * (pos_channels // 3), axis=-1)
    elif isinstance(source, Trajectory):
        kind, rig = "trajectory", None
        X = jnp.concatenate([source.positions, source.q_wb], axis=-1)
        pos_channels = 3
        p0 = source.positions[..., 0, :]
        offset = jnp.concatenate([p0, jnp.zeros(p0.shape[:-1] + (4,), p0.dtype)], axis=-1)
    else:
        raise InputError(f"simulate takes a Motion or a Trajectory, got {type(source).__name__}")

    src_batched = source.batched
    mount_batched = jnp.ndim(mount.q_fs) == 2
    noise_batched = noise is not None and jnp.ndim(noise.accel.noise_density) == 2
    sizes = {n for n, flag in ((X.shape[0] if src_batched else None, src_batched),
                               (jnp.shape(mount.q_fs)[0] if mount_batched else None, mount_batched),
                               (jnp.shape(noise.accel.noise_density)[0] if noise_batched else None, noise_batched))
             if flag}
    if len(sizes) > 1:
        raise InputError(f"batch sizes disagree between motion, mount and noise: {sorted(sizes)}")
    B = sizes.pop() if sizes else None

    Xb = X if src_batched else X[None]
    fps = np.atleast_1d(np.asarray(source.fps, np.float64))
    lengths = np.asarray(source.lengths) if src_batched else np.array([source.num_frames])
    fps = np.broadcast_to(fps, lengths.shape)
    cut = _resolve_cutoffs(cutoff_hz, np.asarray(Xb), lengths, fps, pos_channels)
    designs = [design_lowpass(c, f, filter_order) for c, f in zip(cut, fps)]
    S = max(len(d.sos) for d in designs)
    designs = [design_lowpass(c, f, filter_order, sections=S) for c, f in zip(cut, fps)]
    pad = int(max(pad_length(c, f) for c, f in zip(cut, fps)))
    n_valid = num_output_samples(lengths, fps, rate_hz)
    n_out = int(n_valid.max())
    dtype = X.dtype
    sos = jnp.asarray(np.stack([d.sos for d in designs]), dtype)
    zi = jnp.asarray(np.stack([d.zi for d in designs]), dtype)
    fps_j = jnp.asarray(fps, dtype)
    len_j = jnp.asarray(lengths, jnp.int32)
    off = offset if src_batched else offset[None]
    x_ax = 0
    if not src_batched and B is not None:  # one clip, many mounts/noise models: broadcast the clip
        Xb, len_j, fps_j, sos, zi, off = (jnp.broadcast_to(a, (B,) + a.shape[1:]) for a in
                                          (Xb, len_j, fps_j, sos, zi, off))
    nb = Xb.shape[0]
    if noise is not None:
        if key is None:
            raise InputError("noise needs an explicit PRNG key: simulate(..., key=jax.random.key(0))")
        key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
        if _is_key_batch(key):
            if key.shape[0] != nb:
                raise InputError(f"got {key.shape[0]} keys for {nb} clips")
            keys = key
        else:
            keys = jax.random.split(key, nb) if (src_batched or B is not None) else key[None]
    else:
        keys = jnp.zeros((nb,), jnp.uint32)
    axes = (x_ax, 0 if mount_batched else None, 0 if noise_batched else None)
    acc, gyr, q_ws, n_ok = _simulate_batch(
        Xb, len_j, fps_j, sos, zi, off, mount, noise, keys, kind=kind, rig=rig, roll_model=roll_model, pad=pad,
        n_out=n_out, rate_hz=rate_hz, axes=axes)
    if src_batched or B is not None:
        return ImuSignal(acc, gyr, n_ok, q_ws, rate_hz)
    return ImuSignal(acc[0], gyr[0], None, q_ws[0], rate_hz)


def _is_key_batch(key) -> bool:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key.ndim == 1
    return key.ndim == 2  # raw uint32 keys: (2,) single, (B, 2) batch
