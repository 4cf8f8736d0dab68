"""``simulate``: Motion or Trajectory in, ImuSignal out.

For one clip (batches are ``vmap``-ped over the clip axis, and padded clips behave like the clips alone):

1. the joints the mount's arm needs (or the trajectory's position and quaternion) are edge-extended and low-pass
   filtered, zero phase (``_kinematics``), with a Butterworth filter designed by SciPy for each clip's frame rate;
2. a natural cubic spline through them gives positions at any time; the wrist's acceleration is its closed-form
   second derivative at the IMU sample times ``t_k = k / rate_hz``, and the forearm frame ``q_wf(t)``
   (``_orientation``) is evaluated from the spline at ``t_k`` and ``t_k ± 5 ms``;
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
from imusim_jax._kinematics import (FilterCoeffs, design_lowpass, edge_window, eval_spline_derivs, extend_edges,
                                    filtfilt_extended, fit_spline, pad_length)
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


def _resolve_cutoffs(cutoff_hz: Cutoff, X, lengths: np.ndarray, fps: np.ndarray,
                     pos_channels: int) -> list[Optional[float]]:
    if cutoff_hz == "auto":
        if isinstance(X, jax.core.Tracer):
            raise InputError("cutoff_hz='auto' looks at the data: pass a number when differentiating through "
                             "the joints (or compute it first with imusim_jax.auto_cutoff)")
        X = np.asarray(X)
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

ORIENTATION_STEP_S = 5e-3
"""Time step (s) of the central differences that give the orientation's rate and acceleration (see
``_sensor_readings``)."""


def _orientation_fn(kind: str, rig: Optional[ArmRig], roll_model: RollModel):
    """Channels at one instant (``(C,)`` spline values) -> forearm/body orientation ``q_wf`` ``(4,)``."""
    if kind == "skeleton":
        return lambda v: quat.from_matrix(forearm_frame(v.reshape(-1, 3), rig, roll_model))
    return lambda v: quat.normalize(v[3:7])


def _sensor_readings(spline, u, fps, mount: Mount, kind: str, rig, roll_model):
    """Ideal readings at knot coordinates ``u`` ``(n,)``: specific force ``(n, 3)``, rate ``(n, 3)``, ``q_ws``.

    The wrist's acceleration is the spline's second derivative (closed form). The orientation ``q(t)`` is an
    exact function of time too, but differentiating the forearm-frame construction twice with ``jax.jvp``
    compiles slowly (tens of seconds), so its rate and acceleration are central differences of ``q(t)`` over
    ``ORIENTATION_STEP_S`` = 5 ms: the relative truncation error is ``(h omega)^2 / 24``, 0.1 % at 30 rad/s;
    float32 round-off is ~3e-5 rad/s on ``omega`` and ~0.03 rad/s^2 on ``alpha`` (1 mm/s^2 through a 3.6 cm
    lever arm).
    """
    wrist = slice(6, 9) if kind == "skeleton" else slice(0, 3)
    h = jnp.asarray(ORIENTATION_STEP_S, u.dtype)
    du = h * fps
    n = u.shape[0]
    vals, _, d2 = eval_spline_derivs(spline, jnp.concatenate([u - du, u, u + du]))
    a_w = d2[n:2 * n, wrist] * fps ** 2
    q_all = jax.vmap(_orientation_fn(kind, rig, roll_model))(vals)
    qm, q0, qp = q_all[:n], q_all[n:2 * n], q_all[2 * n:]
    align = lambda q: q * jnp.where(jnp.sum(q * q0, -1, keepdims=True) < 0, -1.0, 1.0)
    qm, qp = align(qm), align(qp)
    dq = (qp - qm) / (2.0 * h)
    ddq = (qp - 2.0 * q0 + qm) / (h * h)
    omega_w = quat.world_rate(q0, dq)
    # d/dt [2 Im(dq ⊗ q*)] = 2 Im(ddq ⊗ q* + dq ⊗ dq*), and dq ⊗ dq* = |dq|^2 is real
    alpha_w = 2.0 * quat.multiply(ddq, quat.conjugate(q0))[:, 1:]
    r_w = quat.rotate(q0, jnp.broadcast_to(mount.lever_f.astype(u.dtype), (n, 3)))
    a_s = a_w + jnp.cross(alpha_w, r_w) + jnp.cross(omega_w, jnp.cross(omega_w, r_w))
    q_ws = quat.multiply(q0, jnp.broadcast_to(mount.q_fs.astype(u.dtype), (n, 4)))
    f_s = quat.rotate_inverse(q_ws, a_s - jnp.asarray(GRAVITY_W, u.dtype)[None, :])
    omega_s = quat.rotate_inverse(q_ws, omega_w)
    return f_s, omega_s, q_ws


def _detrend(X, length, kind: str):
    """Subtract the wrist's straight line between its first and last frame from every position channel.

    Accelerations and the forearm frame (made of joint differences) do not change, and a clip that travels
    metres (a walk, a fall) keeps float32 precision: the filter and spline see centimetre-scale residuals."""
    groups = X.shape[1] // 3 if kind == "skeleton" else 1
    w = slice(6, 9) if kind == "skeleton" else slice(0, 3)
    frac = (jnp.arange(X.shape[0]) / jnp.maximum(length - 1, 1)).astype(X.dtype)
    ramp = X[0, w][None, :] + frac[:, None] * (X[length - 1, w] - X[0, w])[None, :]
    ramp = jnp.concatenate([ramp] * groups + [jnp.zeros((X.shape[0], X.shape[1] - 3 * groups), X.dtype)], 1)
    return X - ramp


def _simulate_clip(X, length, fps, sos, zi, clip_pad, clip_window, mount, noise, key, *, kind, rig, roll_model,
                   pad, window, n_out, rate_hz):
    dtype = X.dtype
    X = _detrend(X, length, kind)
    X_ext = extend_edges(X, length, pad, window, clip_pad, clip_window)
    Y = filtfilt_extended(FilterCoeffs(sos, zi), X_ext, length, pad, clip_pad)
    spline = fit_spline(Y)
    k = jnp.arange(n_out)
    u = k.astype(dtype) / rate_hz * fps + pad
    acc, gyr, q_ws = _sensor_readings(spline, u, fps, mount, kind, rig, roll_model)
    n_valid = jnp.floor((length - 1).astype(dtype) / fps * rate_hz + 1e-4).astype(jnp.int32) + 1
    valid = (k < n_valid)[:, None]
    acc, gyr = jnp.where(valid, acc, 0.0), jnp.where(valid, gyr, 0.0)
    if noise is not None:
        acc, gyr = apply_noise(key, acc, gyr, noise, rate_hz)
        acc, gyr = jnp.where(valid, acc, 0.0), jnp.where(valid, gyr, 0.0)
    q_ws = quat.make_continuous(jnp.where(valid, q_ws, q_ws[:1]), axis=0)
    return acc, gyr, q_ws, n_valid


@functools.partial(jax.jit, static_argnames=("kind", "rig", "roll_model", "pad", "window", "n_out", "rate_hz",
                                             "axes"))
def _simulate_batch(X, lengths, fps, sos, zi, pads, windows, mount, noise, keys, *, kind, rig, roll_model, pad,
                    window, n_out, rate_hz, axes):
    fn = functools.partial(_simulate_clip, kind=kind, rig=rig, roll_model=roll_model, pad=pad, window=window,
                           n_out=n_out, rate_hz=rate_hz)
    x_ax, m_ax, n_ax = axes
    return jax.vmap(fn, in_axes=(x_ax,) * 7 + (m_ax, n_ax, 0))(
        X, lengths, fps, sos, zi, pads, windows, mount, noise, keys)


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
    name = "+".join(n.name for n in ns)
    ns = [n.replace(name=name) for n in ns]  # static metadata must agree for tree.map
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *ns)


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
    elif isinstance(source, Trajectory):
        kind, rig = "trajectory", None
        X = jnp.concatenate([source.positions, source.q_wb], axis=-1)
        pos_channels = 3
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
    cut = _resolve_cutoffs(cutoff_hz, Xb, lengths, fps, pos_channels)
    designs = [design_lowpass(c, f, filter_order) for c, f in zip(cut, fps)]
    S = max(len(d.sos) for d in designs)
    designs = [design_lowpass(c, f, filter_order, sections=S) for c, f in zip(cut, fps)]
    pads = np.array([pad_length(d) for d in designs], np.int32)
    windows = np.array([edge_window(c, f) for c, f in zip(cut, fps)], np.int32)
    windows = np.minimum(windows, np.maximum(lengths, 3))
    # Static sizes are rounded up to buckets, so clips of similar length share one compiled function (and the
    # command line's persistent compilation cache hits across files).
    pad, window = _bucket(int(pads.max()), 16), _bucket(int(windows.max()), 16)
    n_valid = num_output_samples(lengths, fps, rate_hz)
    n_keep = int(n_valid.max())
    n_out = _bucket(n_keep, 32)
    T_static = _bucket(Xb.shape[1], 32)
    if T_static > Xb.shape[1]:  # pad frames by repeating the last one (lengths keep the truth)
        Xb = jnp.concatenate([Xb, jnp.repeat(Xb[:, -1:], T_static - Xb.shape[1], axis=1)], axis=1)
    dtype = X.dtype
    sos = jnp.asarray(np.stack([d.sos for d in designs]), dtype)
    zi = jnp.asarray(np.stack([d.zi for d in designs]), dtype)
    fps_j = jnp.asarray(fps, dtype)
    len_j = jnp.asarray(lengths, jnp.int32)
    pads_j, windows_j = jnp.asarray(pads), jnp.asarray(windows)
    x_ax = 0
    if not src_batched and B is not None:  # one clip, many mounts/noise models: broadcast the clip
        Xb, len_j, fps_j, sos, zi, pads_j, windows_j = (
            jnp.broadcast_to(a, (B,) + a.shape[1:]) for a in (Xb, len_j, fps_j, sos, zi, pads_j, windows_j))
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
        Xb, len_j, fps_j, sos, zi, pads_j, windows_j, mount, noise, keys, kind=kind, rig=rig, roll_model=roll_model, pad=pad,
        window=window, n_out=n_out, rate_hz=rate_hz, axes=axes)
    acc, gyr, q_ws = acc[:, :n_keep], gyr[:, :n_keep], q_ws[:, :n_keep]
    if src_batched or B is not None:
        return ImuSignal(acc, gyr, n_ok, q_ws, rate_hz)
    return ImuSignal(acc[0], gyr[0], None, q_ws[0], rate_hz)


def _bucket(n: int, step: int) -> int:
    return int(-(-n // step) * step)


def _is_key_batch(key) -> bool:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key.ndim == 1
    return key.ndim == 2  # raw uint32 keys: (2,) single, (B, 2) batch
