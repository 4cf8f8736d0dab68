"""``simulate``: Motion or Trajectory in, ImuSignal out.

For one clip (a batch runs in chunks of clips: per-clip stages ``vmap``-ped, the filters and the noise written for
the chunk; padded clips behave like the clips alone):

1. the joints the mount's arm needs (or the trajectory's position and quaternion) are edge-extended and low-pass
   filtered, zero phase (``_kinematics``), with a Butterworth filter designed by SciPy for each clip's frame rate;
2. at every frame, the forearm frame ``q_wf`` (``_orientation``) is built from the filtered joints (a trajectory
   brings its own, filtered, quaternion), with sign continuity;
3. natural cubic splines through the wrist position and the quaternion's four components give both at any
   time, with closed-form derivatives at the IMU sample times ``t_k = k / rate_hz``: the wrist's acceleration,
   the angular velocity ``omega_w = 2 Im(dq/dt ⊗ q*)`` and acceleration ``alpha_w = d omega_w / dt``; the sensor's
   acceleration is the wrist's plus the lever-arm terms ``alpha × r + omega × (omega × r)`` with
   ``r = q_wf ⊗ lever_f ⊗ q_wf*``;
4. with ``q_ws = q_wf ⊗ q_fs`` (the mount), the sensor reads the specific force ``f_s = q_ws* ⊗ (a - g) ⊗ q_ws``
   and the rate ``omega_s = q_ws* ⊗ omega_w ⊗ q_ws``; ``g = (0, 0, -9.80665)``;
5. the noise model (``_noise``) corrupts them, as a pure function of an explicit PRNG key.

Everything after the filter design is one ``jax.jit``-compiled function of arrays; a second call with the same
shapes does not recompile. On a CPU, a batch of 64 or more clips runs as equal parts of it, one per core, from a
thread pool (``_run_core``; ``IMUSIM_CPU_THREADS`` sets the number). ``simulate`` is differentiable with respect
to the motion's joints, the mount and the noise parameters.
"""
from __future__ import annotations

import functools
import os
import warnings
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from imusim_jax import _quaternion as quat
from imusim_jax import _rows as R
from imusim_jax._constants import DEFAULT_RATE_HZ, GRAVITY_W
from imusim_jax._cutoff import Cutoff, cutoff_arg, positive_hz, resolve_cutoffs
from imusim_jax._kinematics import (FilterCoeffs, design_lowpass, edge_window,
                                    eval_spline_derivs, extend_edges, filtfilt_batch, fit_spline, pad_length,
                                    WINDOW_STEP)
from imusim_jax._impact import EVENT_FIELDS, ImpactModel, apply_impacts, find_impacts, stack_events
from imusim_jax._joints import get_joint_set
from imusim_jax._motion import MAX_FPS, MIN_FPS, InputError, Motion, Trajectory, check_time_base
from imusim_jax._mounting import Mount, get_mount
from imusim_jax._noise import ImuNoise, apply_noise_rows, get_noise
from imusim_jax._ops import atan2, cumsum_last, sincos
from imusim_jax._orientation import ArmRig, RollModel, arm_rig, forearm_frame_rows
from imusim_jax._parallel import bucket, cpu_threads, thread_pool
from imusim_jax._signal import ImuSignal

__all__ = ["prepare", "sense", "simulate", "Prepared", "ArmFilter", "ForearmWarning", "num_output_samples",
           "MIN_FOREARM_M", "MAX_FOREARM_M", "MAX_OUTPUT_SAMPLES"]



MAX_OUTPUT_SAMPLES = 2 ** 24
"""Most IMU samples ``simulate`` makes of one clip (93 hours at 50 Hz): more is a wrong frame rate or output rate
(a 4 s clip at 10 MHz, or frames taken as one per 10^6 s), refused in one line rather than run for minutes or
out of memory."""


def num_output_samples(num_frames, fps, rate_hz: float):
    """IMU samples ``k = 0..n-1`` with ``k / rate_hz <= (num_frames - 1) / fps``."""
    dur = (np.asarray(num_frames) - 1) / np.asarray(fps, np.float64)
    n = np.floor(dur * rate_hz + 1e-6) + 1
    if np.max(n, initial=0) > MAX_OUTPUT_SAMPLES:
        b = int(np.argmax(n)) if np.ndim(n) else 0
        raise InputError(f"{float(np.max(n)):.4g} IMU samples for one clip ({float(np.ravel(dur)[b]):.4g} s at "
                         f"{rate_hz:g} Hz) is more than the {MAX_OUTPUT_SAMPLES:,} allowed: check the frame rate "
                         f"and the output rate")
    return n.astype(np.int32)


# ---------------------------------------------------------------------------------------------------------------
# The jitted core: per-clip stages vmapped over a chunk of clips, the filters and the noise on the chunk
# ---------------------------------------------------------------------------------------------------------------

def _forearm_roll(Y, *, rig: ArmRig, roll_model: RollModel):
    """Filtered channels at the knots ``(N, C)`` -> the forearm frame's ``x_f`` and ``z_f`` (3-vectors of rows
    ``(N,)``, ``imusim_jax._rows``) and its accumulated twist ``psi`` ``(N,)`` (``_twist_angle``)."""
    P = [tuple(Y[:, 3 * j + c] for c in range(3)) for j in range(Y.shape[1] // 3)]
    x, _, z = forearm_frame_rows(P, rig, roll_model)
    return x, z, _twist_angle(x, z)


def _twist_angle(x, z):
    """The forearm's twist (its roll about ``x_f``) as an angle ``psi`` ``(N,)`` accumulated from knot to knot;
    ``x`` and ``z`` are the forearm frame's ``x_f`` and ``z_f`` at the knots (3-vectors of rows ``(N,)``).

    The forearm's direction ``x_f`` comes straight from two joints; its roll comes from a reference (the elbow
    hinge, hand landmarks) whose direction is ill-conditioned near singular postures, where joint jitter turns
    into fast spurious roll (a nearly straight arm in a Kinect skeleton reads 20-60 rad/s). So the twist is
    low-passed once more with the clip's own zero-phase filter (``_simulate_chunk``) and each ``z_f`` is turned
    about ``x_f`` by the filtered minus the raw ``psi`` (``_knot_orientation``). The increment of ``psi`` is the
    signed angle about ``x_k`` from the previous ``z_f`` carried onto the new forearm direction (projected off
    ``x_k``) to the new ``z_f``, so ``psi`` is the twist relative to a reference transported along with ``x_f``
    (discrete parallel transport), unwrapped by construction. Motion within the filter's band passes, so clean
    motion capture keeps its real twist (BROAD's gyro correlation is unchanged at 0.998), while on UTD-MHAD the
    median |ω| correlation rises from 0.849 to 0.863 (0.3 s envelopes) and from 0.695 to 0.752 (sample by
    sample). Element-wise along time but for one cumulative sum, so a whole clip vectorises.
    """
    carried = R.perp(tuple(jnp.concatenate([c[:1], c[:-1]]) for c in z), x)  # the previous z_f, carried
    step = atan2(R.dot(R.cross(carried, z), x), R.dot(carried, z))  # (N,), 0 at the first knot
    return cumsum_last(step)


def _knot_orientation(x, z, psi, smooth):
    """The sign-continuous orientation ``q_wf`` at the knots, four rows ``(N,)``: the forearm frame ``x``, ``z``
    (3-vectors of rows) with ``z_f`` turned about ``x_f`` by the low-passed minus the raw twist
    (``_twist_angle``)."""
    d = smooth - psi
    c, s = sincos(d)
    xz = R.cross(x, z)
    z = tuple(c * z[i] + s * xz[i] for i in range(3))
    y = R.cross(z, x)
    q = quat.from_matrix_elements(x[0], y[0], z[0], x[1], y[1], z[1], x[2], y[2], z[2])
    return R.continuous(q)


def _sensor_readings(spline, u, fps, mount: Mount, live):
    """Ideal readings at knot coordinates ``u`` ``(n,)`` from a spline through ``[p_wrist, q_wf]`` (7 channels),
    as rows (tuples of ``(n,)`` arrays): specific force (3), rate (3) and ``q_ws`` (4).

    Everything is in closed form: the wrist's acceleration is the spline's second derivative; the quaternion
    spline ``q(t)`` need not have unit norm between knots, and its direction ``q / |q|`` is the orientation, so
    with ``W = Im(dq ⊗ q*)`` and ``n = |q|^2``::

        omega = 2 W / n,    alpha = d omega / dt = 2 Im(ddq ⊗ q*) / n - 4 (q · dq) W / n^2

    (``Im(dq ⊗ dq*) = 0``), the exact rates of the normalised curve. Then, with ``r = q ⊗ lever_f ⊗ q*`` and
    ``q_ws = q ⊗ q_fs``: ``f_s = q_ws* ⊗ (a + alpha × r + omega × (omega × r) - g) ⊗ q_ws`` and
    ``omega_s = q_ws* ⊗ omega ⊗ q_ws``. ``live`` is ``_materialise``'s predicate.
    """
    v, d1, d2 = eval_spline_derivs(spline, u)  # (n, 7) each
    dt = v.dtype
    v, d1, d2 = ([a[:, c] for c in range(7)] for a in (v, d1, d2))  # rows (n,): components first
    a_w = tuple(d2[i] * fps ** 2 for i in range(3))
    q = tuple(v[3 + i] for i in range(4))
    dq = tuple(d1[3 + i] * fps for i in range(4))
    ddq = tuple(d2[3 + i] * fps ** 2 for i in range(4))
    a_w, q, dq, ddq = _materialise(live, (a_w, q, dq, ddq))
    nq = sum(c * c for c in q)
    W = R.qmul(dq, R.conj(q))[1:]
    qdq = sum(a * b for a, b in zip(q, dq))
    A = R.qmul(ddq, R.conj(q))[1:]
    omega_w = tuple(2.0 * w / nq for w in W)
    alpha_w = tuple(2.0 * A[i] / nq - 4.0 * qdq * W[i] / (nq * nq) for i in range(3))
    inv = jax.lax.rsqrt(nq)
    q0 = tuple(c * inv for c in q)
    a_w, omega_w, alpha_w, q0 = _materialise(live, (a_w, omega_w, alpha_w, q0))
    lever = mount.lever_f.astype(dt)
    r_w = R.rotate(q0, tuple(jnp.broadcast_to(lever[i], nq.shape) for i in range(3)))
    cen = R.cross(omega_w, R.cross(omega_w, r_w))
    tan = R.cross(alpha_w, r_w)
    g = jnp.asarray(GRAVITY_W, dt)
    spec_w = tuple(a_w[i] + tan[i] + cen[i] - g[i] for i in range(3))
    q_fs = mount.q_fs.astype(dt)
    q_fs = q_fs * jax.lax.rsqrt(jnp.sum(q_fs * q_fs))  # its direction is the rotation: a fitted q_fs may drift off 1
    q_ws = R.qmul(q0, tuple(q_fs[i] for i in range(4)))
    q_sw = R.conj(q_ws)
    f_s = R.rotate(q_sw, spec_w)
    omega_s = R.rotate(q_sw, omega_w)
    return f_s, omega_s, q_ws


def _materialise(live, rows):
    """``rows`` (a pytree of arrays), handed on as stored arrays rather than as expressions, on a CPU.

    XLA's CPU backend fuses cheap element-wise producers into every consumer, so each of the readings' outputs
    recomputed the whole quaternion algebra behind it (one fusion of 358 operations per output element), and
    each rate component the spline evaluation. Operands and results of a conditional are buffers, so passing
    the shared intermediates through one stores them once, a fifth of the core's time at B = 1024. ``live`` is
    true for every real input (a clip's length is positive), so the
    other branch never runs; it is a traced value outside ``vmap``, so XLA cannot fold the conditional away.
    (``jax.lax.optimization_barrier`` is dropped before fusion on this backend.) Identity on other backends:
    not measured there, and a GPU conditional may wait on the host for its predicate. Under a
    user's ``vmap`` of ``simulate`` the conditional becomes a select; results are the same either way."""
    if jax.default_backend() != "cpu":
        return rows
    return jax.lax.cond(live, lambda t: t, lambda t: jax.tree.map(jnp.zeros_like, t), rows)


def _detrend(X, length, kind: str):
    """Subtract the wrist's straight line between its first and last frame from every position channel.

    Accelerations and the forearm frame (made of joint differences) do not change, and a clip that travels
    metres (a walk, a fall) keeps float32 precision: the filter and spline see centimetre-scale residuals."""
    groups = X.shape[1] // 3 if kind == "skeleton" else 1
    w = slice(6, 9) if kind == "skeleton" else slice(0, 3)
    frac = (jnp.arange(X.shape[0]) / jnp.maximum(length - 1, 1)).astype(X.dtype)
    last = jax.lax.dynamic_index_in_dim(X, length - 1, axis=0, keepdims=False)
    ramp = X[0, w][None, :] + frac[:, None] * (last[w] - X[0, w])[None, :]
    ramp = jnp.concatenate([ramp] * groups + [jnp.zeros((X.shape[0], X.shape[1] - 3 * groups), X.dtype)], 1)
    return X - ramp


def _extend_clip(X, length, clip_pad, clip_window, *, kind, pad, window):
    """One clip's channels ``(T, C)``, detrended and edge-extended: ``(T + 2 pad, C)`` (``extend_edges``)."""
    return extend_edges(_detrend(X, length, kind), length, pad, window, clip_pad, clip_window)


def _sense_clip(p_w, q_wf, length, fps, offset, mount, *, pad, n_out, rate_hz, live):
    """The last stage of one clip: splines through the knots' wrist position ``(N, 3)`` and orientation ``(N, 4)``,
    ideal readings at the IMU rate, masking (the noise is added to the whole chunk, ``_simulate_chunk``).
    Sample ``k`` reads the motion at ``k / rate_hz + offset`` seconds (``sense``'s ``time_offset_s``).

    Returns rows (tuples of ``(n_out,)`` arrays: three for the accelerometer, three for the gyroscope, four for
    ``q_ws``) and the number of valid samples. The vector algebra stays in rows until the chunk is assembled,
    because XLA's CPU backend writes rows stacked inside ``vmap`` through a transposed layout, several times
    slower (``imusim_jax._rows``)."""
    dtype = p_w.dtype
    spline = fit_spline(jnp.concatenate([p_w, q_wf], axis=1))
    k = jnp.arange(n_out)
    u = (k.astype(dtype) / rate_hz + offset) * fps + pad
    acc, gyr, q_ws = _sensor_readings(spline, u, fps, mount, live)
    n_valid = jnp.floor((length - 1).astype(dtype) / fps * rate_hz + 1e-4).astype(jnp.int32) + 1
    valid = k < n_valid
    zero = jnp.zeros((), dtype)
    acc, gyr = (tuple(jnp.where(valid, r, zero) for r in rows) for rows in (acc, gyr))
    # q_ws is sign-continuous (a spline through sign-continuous knots); padding holds the last valid sample.
    q_ws = tuple(jnp.where(valid, r, jax.lax.dynamic_index_in_dim(r, n_valid - 1, keepdims=False)) for r in q_ws)
    return acc, gyr, q_ws, n_valid


def _simulate_chunk(clips: "_Clips", mount, noise, *, kind, rig, roll_model, pad, window, n_out, rate_hz, m_ax, n_ax):
    """The simulator on a batch of clips: element-wise stages ``vmap``-ped over clips, the two zero-phase filters
    (positions, then the forearm's twist) run on the whole batch at once (``filtfilt_batch``)."""
    X, lengths, fps, pads, windows = clips.channels, clips.lengths, clips.fps, clips.pads, clips.windows
    keys = clips.keys
    coeffs = FilterCoeffs(clips.sos, clips.zi)
    ext = functools.partial(_extend_clip, kind=kind, pad=pad, window=window)
    Y = filtfilt_batch(coeffs, jax.vmap(ext)(X, lengths, pads, windows), lengths, pad, pads)  # (B, N, C) knots
    if kind == "skeleton":
        x, z, psi = jax.vmap(functools.partial(_forearm_roll, rig=rig, roll_model=roll_model))(Y)
        smooth = filtfilt_batch(coeffs, psi[..., None], lengths, pad, pads)[..., 0]
        q = jax.vmap(_knot_orientation)(x, z, psi, smooth)  # four rows (B, N)
        p_w, q_wf = Y[..., 6:9], jnp.stack(q, axis=-1)  # stacked outside vmap: (B, N, 4)
    else:
        p_w, q_wf = Y[..., 0:3], Y[..., 3:7]
    # every clip's length is positive: the conditionals of _materialise always take their first branch
    sense = functools.partial(_sense_clip, pad=pad, n_out=n_out, rate_hz=rate_hz, live=lengths[0] > 0)
    acc, gyr, q_ws, n_valid = jax.vmap(sense, in_axes=(0, 0, 0, 0, 0, m_ax))(p_w, q_wf, lengths, fps, clips.offsets,
                                                                          mount)
    if noise is not None:
        acc, gyr = apply_noise_rows(keys, acc, gyr, noise, rate_hz, noise_batched=n_ax == 0)
        valid = jnp.arange(n_out)[None, :] < n_valid[:, None]
        acc, gyr = (tuple(jnp.where(valid, r, 0.0) for r in rows) for rows in (acc, gyr))
    finite = functools.reduce(jnp.logical_and, [jnp.isfinite(r).all(-1) for r in acc + gyr])  # (B,): simulate checks
    forearm = _forearm_code(X, lengths) if kind == "skeleton" else jnp.zeros(lengths.shape, jnp.int32)
    return tuple(jnp.stack(rows, axis=-1) for rows in (acc, gyr, q_ws)) + (n_valid, finite, forearm)


def _forearm_code(X, lengths):
    """Per clip ``(B,)``: 0 if the rig's forearm (channels 3:6 elbow, 6:9 wrist of the raw channels ``X``
    ``(B, T, C)``) is of human length in most valid frames, 1 if shorter than ``MIN_FOREARM_M``, 2 if longer than
    ``MAX_FOREARM_M``. Element-wise on frames the core reads anyway, and no host copy of the joints."""
    step = 4  # every 4th frame: a vote over a quarter of the frames, a quarter of the work
    sub = X[:, ::step]
    d = sub[..., 6:9] - sub[..., 3:6]
    sq = jnp.sum(d * d, axis=-1)  # (B, T / step) squared lengths
    valid = (jnp.arange(sub.shape[1]) * step)[None, :] < lengths[:, None]
    n = jnp.sum(valid, axis=1)
    short = 2 * jnp.sum(valid & (sq < MIN_FOREARM_M ** 2), axis=1) > n
    long = 2 * jnp.sum(valid & (sq > MAX_FOREARM_M ** 2), axis=1) > n
    return jnp.where(short, 1, jnp.where(long, 2, 0)).astype(jnp.int32)


class _Clips(NamedTuple):
    """The core's per-clip inputs, each with the clip axis first: the rig's channels ``(B, T, C)`` (``channels``;
    or, before ``_prepare_input``, the source's own array), valid frames, frame rates, the filter and the edge
    extension of each clip, the time offsets (s) and the noise keys."""

    channels: jnp.ndarray
    lengths: jnp.ndarray
    fps: jnp.ndarray
    sos: jnp.ndarray
    zi: jnp.ndarray
    pads: jnp.ndarray
    windows: jnp.ndarray
    offsets: jnp.ndarray
    keys: jnp.ndarray


_CORE_STATIC = ("kind", "rig", "roll_model", "pad", "window", "n_out", "rate_hz", "m_ax", "n_ax")


def _simulate_batch_impl(clips: _Clips, mount, noise, *, kind, rig, roll_model, pad, window, n_out, rate_hz, m_ax,
                         n_ax):
    run = functools.partial(_simulate_chunk, kind=kind, rig=rig, roll_model=roll_model, pad=pad, window=window,
                            n_out=n_out, rate_hz=rate_hz, m_ax=m_ax, n_ax=n_ax)
    chunk = _chunk_size()
    nb = clips.keys.shape[0]
    if chunk is None or nb <= chunk:
        return run(clips, mount, noise)
    # A large batch on a CPU runs as a loop over chunks of clips (the last clip repeated to fill the last chunk):
    # each chunk's intermediates stay in cache, faster than one call over all clips (memory bound).
    nc = -(-nb // chunk)
    idx = np.minimum(np.arange(nc * chunk), nb - 1)
    batched = (clips, mount if m_ax == 0 else None, noise if n_ax == 0 else None)
    # a whole number of chunks is a reshape; otherwise a gather (a copy of the batch) fills the last chunk
    take = (lambda a: a) if nb == nc * chunk else (lambda a: a[idx])
    chunks = jax.tree.map(lambda a: take(a).reshape((nc, chunk) + a.shape[1:]), batched)

    def one(c):
        cl, mb, nbt = c
        return run(cl, mount if mb is None else mb, noise if nbt is None else nbt)

    outs = jax.lax.map(one, chunks)
    return jax.tree.map(lambda a: a.reshape((nc * chunk,) + a.shape[2:])[:nb], outs)


# ---------------------------------------------------------------------------------------------------------------
# prepare: host side, once per clip set
# ---------------------------------------------------------------------------------------------------------------

@struct.dataclass
class ArmFilter:
    """The zero-phase low-pass filter and edge extension of every clip, for one arm (``Prepared.arms``).

    Attributes:
      sos: ``(B, S, 6)`` second-order sections (SciPy's layout) of each clip's Butterworth filter.
      zi: ``(B, S, 2)`` their steady-state initial conditions.
      pads: ``(B,)`` frames of edge extension each clip's filter needs.
      windows: ``(B,)`` frames each edge's acceleration is estimated over.
      cutoff_hz: ``(B,)`` the cut-off chosen for each clip, Hz (``inf`` where none is applied); for reading.
      impacts: ``(B, E, 5)`` each clip's contact events on this arm (``imusim_jax._impact.find_impacts``; rows
        of zeros: none; ``E`` = 0 when the impact model is off or nothing was found).
    """

    sos: jnp.ndarray
    zi: jnp.ndarray
    pads: jnp.ndarray
    windows: jnp.ndarray
    cutoff_hz: jnp.ndarray
    impacts: jnp.ndarray = None


@struct.dataclass
class Prepared:
    """A ``Motion`` or ``Trajectory`` made ready for ``sense``: everything that needs the host or fixes a shape is
    decided here, once (``prepare``); ``sense`` is then a pure function of this pytree, a mount, a noise model, a
    key and a time offset.

    Array leaves (differentiable where they are floats; ``replace`` them, e.g. with new joints of the same shape):
      source: the source's own array: joints ``(T, J, 3)`` / ``(B, T, J, 3)`` in metres (a ``Motion``), or
        positions and ``q_wb`` joined ``(T, 7)`` / ``(B, T, 7)`` (a ``Trajectory``).
      lengths: ``(B,)`` valid frames of each clip (``B`` = 1 for one clip).
      fps: ``(B,)`` frame rates, Hz.
      n_samples: ``(B,)`` valid IMU samples of each clip.
      arms: one ``ArmFilter`` per prepared arm (``sides``); one for a ``Trajectory``.
      impact: the ``ImpactModel`` ``sense`` applies to the arms' contact events (``contact_time_s`` is a leaf),
        or ``None`` (off).
    Static fields: ``kind`` (``skeleton`` or ``trajectory``), ``sides`` (the arms prepared), ``rigs`` (each arm's
    joints and roll source), ``missing`` (why an arm could not be prepared, per side), ``joint_set``,
    ``roll_model``, ``num_frames`` (frames after padding to a shape bucket), ``pad`` and ``window`` (their
    largest), ``n_out`` (samples computed, a bucket) and ``n_keep`` (samples returned), ``rate_hz`` and
    ``single`` (one clip: outputs have no clip axis).
    """

    source: jnp.ndarray
    lengths: jnp.ndarray
    fps: jnp.ndarray
    n_samples: jnp.ndarray
    arms: tuple
    impact: Optional[ImpactModel] = None
    kind: str = struct.field(pytree_node=False, default="skeleton")
    sides: tuple = struct.field(pytree_node=False, default=())
    rigs: tuple = struct.field(pytree_node=False, default=())
    missing: tuple = struct.field(pytree_node=False, default=())
    joint_set: Optional[str] = struct.field(pytree_node=False, default=None)
    roll_model: RollModel = struct.field(pytree_node=False, default=RollModel())
    num_frames: int = struct.field(pytree_node=False, default=0)
    pad: int = struct.field(pytree_node=False, default=0)
    window: int = struct.field(pytree_node=False, default=0)
    n_out: int = struct.field(pytree_node=False, default=0)
    n_keep: int = struct.field(pytree_node=False, default=0)
    rate_hz: float = struct.field(pytree_node=False, default=DEFAULT_RATE_HZ)
    single: bool = struct.field(pytree_node=False, default=True)

    @property
    def num_clips(self) -> int:
        return int(self.lengths.shape[0])

    @property
    def max_time_offset_s(self) -> float:
        """The largest ``|time_offset_s|`` every clip's readings stay defined for: its edge extension (``pad``
        frames of the smallest) at its frame rate. Beyond it a sample reads the spline's extrapolation."""
        pads = min(int(np.min(np.asarray(a.pads))) for a in self.arms)
        return float(pads / np.max(np.asarray(self.fps)))


def prepare(source: Motion | Trajectory, mount: Mount | str | None = None, *, rate_hz: float = DEFAULT_RATE_HZ,
            cutoff_hz: Cutoff = "auto", filter_order: int = 2, roll: str = "auto",
            roll_model: RollModel = RollModel(), impact: Optional[ImpactModel] = ImpactModel(),
            on_device: bool = True) -> Prepared:
    """Everything ``sense`` needs that is decided once per set of clips, on the host: input checks, the cut-off
    (Winter's residual analysis for ``"auto"``), the filter design, the edge extension, the output length and the
    shape buckets. Returns a ``Prepared`` pytree.

    Args:
      source: a ``Motion`` (joints, z-up world, metres) or a ``Trajectory`` (rigid body), one clip or a batch.
      mount: the mount (a ``Mount``, a preset or a profile) whose arm to prepare; ``None`` prepares both arms
        (a ``sense`` call then takes a mount of either). Its rotation and lever arm are ``sense``'s to choose.
      rate_hz, cutoff_hz, filter_order, roll, roll_model, impact: as ``simulate``.
      on_device: put the prepared arrays on the device now, in one transfer (default), so that ``sense`` moves
        nothing between host and device; ``False`` leaves them as NumPy arrays, transferred with each ``sense``
        call (``simulate``'s choice: a one-shot call saves the separate transfer, 0.5 ms).
    Raises:
      InputError: one line, for bad input (see ``simulate``); the frame rates and lengths must be concrete (they
        size the filters and the output): transform the joints, not the whole ``Motion``.

    Example::

        p = ij.prepare(motion, rate_hz=50)                      # host work, once
        loss = lambda q: jnp.sum(ij.sense(p, mount.replace(q_fs=q), None, None, time_offset_s=0.01).gyro ** 2)
        jax.jit(jax.grad(loss))(mount.q_fs)                     # no host work inside
    """
    if not isinstance(source, (Motion, Trajectory)):
        raise InputError(f"prepare and simulate take a Motion or a Trajectory (Motion.create(joints, fps, "
                         f"joint_set)), got {type(source).__name__}")
    rate_hz = positive_hz(rate_hz, "rate_hz")
    cutoff_hz = cutoff_arg(cutoff_hz)
    if isinstance(filter_order, (bool, np.bool_)) or not isinstance(filter_order, (int, np.integer)) \
            or not 1 <= filter_order <= 10:
        raise InputError(f"filter_order must be a whole number from 1 to 10, got {filter_order!r}")
    single = not source.batched
    if isinstance(source, Motion):
        kind = "skeleton"
        js = get_joint_set(source.joint_set)
        want = 3 if single else 4
        if source.joints.ndim != want or source.joints.shape[-2:] != (len(js), 3):
            raise InputError(f"joints must have shape {'(T' if single else '(B, T'}, {len(js)}, 3) for joint set "
                             f"{js.name}, got {tuple(source.joints.shape)}")
        X = source.joints
        wanted = ("left", "right") if mount is None else (get_mount(mount).side,)
        rigs, missing = {}, {}
        for side in wanted:
            rig = arm_rig(source.joint_set, side, roll)
            why = _rig_missing(source, tuple(rig.indices))
            if why is None:
                rigs[side] = rig
            elif mount is not None:
                raise InputError(why)
            else:
                missing[side] = why
        if not rigs:
            raise InputError(next(iter(missing.values())))
    else:
        kind, js, rigs, missing = "trajectory", None, {"any": None}, {}
        X = jnp.concatenate([source.positions, source.q_wb], axis=-1)
    num_frames = X.shape[-3] if kind == "skeleton" else X.shape[-2]
    for name, leaf in (("fps", source.fps), ("lengths", source.lengths)):
        if isinstance(leaf, jax.core.Tracer):
            raise InputError(f"simulate needs a concrete {name} (it sizes the filters and the output): transform "
                             f"the joints, e.g. jax.jit(lambda j: simulate(motion.replace(joints=j), ...)), not the "
                             f"whole {type(source).__name__}")
    nb = 1 if single else X.shape[0]
    fps, lengths = check_time_base(source.fps, source.lengths, None if single else (nb, num_frames))
    if single:
        fps, lengths = np.atleast_1d(fps), np.array([num_frames])
    if ((fps < MIN_FPS) | (fps > MAX_FPS)).any():
        f = float(fps[np.argmax((fps < MIN_FPS) | (fps > MAX_FPS))])
        raise InputError(f"a frame rate of {f:.4g} fps is not one of a recorded body ({MIN_FPS:g} to {MAX_FPS:g} fps): "
                         "check the file's time column (seconds) or the rate given (--fps)")
    n_samples = num_output_samples(lengths, fps, rate_hz)
    if (n_samples < 2).any():
        b = int(np.argmin(n_samples))
        raise InputError(f"{'' if single else f'clip {b}: '}{lengths[b]} frames at {fps[b]:g} fps last "
                         f"{(lengths[b] - 1) / fps[b] * 1e3:.3g} ms, less than two samples at {rate_hz:g} Hz: check "
                         "the frame rate, or raise the output rate")
    dtype = np.dtype(X.dtype)
    designs_per_arm = []
    for side, rig in rigs.items():
        if kind == "skeleton":
            idx, channels = list(rig.indices), 3 * len(rig.indices)
        else:
            idx, channels = None, 3
        cut = resolve_cutoffs(cutoff_hz, lambda: _host_channels(X, idx, single), lengths, fps, channels)
        designs_per_arm.append([(None if c is None else float(c), float(f)) for c, f in zip(cut, fps)])
    pairs = {cf for arm in designs_per_arm for cf in arm}
    S = max(len(design_lowpass(c, f, filter_order).sos) for c, f in pairs)
    per_pair = {cf: (design_lowpass(*cf, filter_order, sections=S), edge_window(*cf)) for cf in pairs}
    impact = _impact_arg(impact)
    arms, pad, window = [], 0, 0
    host_joints = None
    if impact is not None and kind == "skeleton" and not isinstance(X, jax.core.Tracer):
        host_joints = np.asarray(X)[None] if single else np.asarray(X)
    for arm, rig in zip(designs_per_arm, rigs.values()):
        designs = [per_pair[cf][0] for cf in arm]
        pads = np.array([_pad_cached(per_pair[cf][0]) for cf in arm], np.int32)
        windows = np.minimum(np.array([per_pair[cf][1] for cf in arm], np.int32), np.maximum(lengths, 3))
        pad, window = max(pad, bucket(int(pads.max()), 16)), max(window, bucket(int(windows.max()), WINDOW_STEP))
        if host_joints is None:
            events = np.zeros((len(arm), 0, EVENT_FIELDS), dtype)
        else:
            hips = tuple(i for i, n in enumerate(js.joints) if n.endswith("_hip"))
            ankles = tuple(i for i, n in enumerate(js.joints) if n.endswith("_ankle"))
            per_clip = [None] * len(arm)
            for f in sorted({f for _, f in arm}):  # clips of one frame rate together
                members = [b for b, (_, fb) in enumerate(arm) if fb == f]
                same = len(members) == len(arm)  # one frame rate: the joints as they are, not a copy
                found = find_impacts(host_joints if same else host_joints[members], f, rig.indices, [arm[b][0] for b in members], impact,
                                     hips, lengths[members], ankles)
                for b, e in zip(members, found):
                    per_clip[b] = e
            events = stack_events(per_clip, dtype)
        arms.append((np.stack([d.sos for d in designs]).astype(dtype), np.stack([d.zi for d in designs]).astype(dtype),
                     pads, windows.astype(np.int32),
                     np.array([np.inf if c is None else c for c, _ in arm], dtype), events))
    n_keep = int(n_samples.max())
    host = (np.asarray(lengths, np.int32), np.asarray(fps, dtype), np.asarray(n_samples, np.int32), arms)
    # one transfer for every host array (a calibration loop then calls sense with device arrays only)
    lengths_d, fps_d, n_d, arms_d = jax.device_put(host) if on_device else host
    return Prepared(source=X, lengths=lengths_d, fps=fps_d, n_samples=n_d, arms=tuple(ArmFilter(*a) for a in arms_d),
                    impact=impact, kind=kind, sides=tuple(rigs), rigs=tuple(rigs.values()), missing=tuple(missing.items()),
                    joint_set=None if js is None else js.name, roll_model=roll_model, num_frames=bucket(num_frames, 32),
                    pad=pad, window=window, n_out=bucket(n_keep, 32), n_keep=n_keep, rate_hz=rate_hz, single=single)


def _impact_arg(impact) -> Optional[ImpactModel]:
    """``prepare``/``simulate``'s ``impact``: an ``ImpactModel``, ``None``/``"off"`` (off) or ``"on"`` (default)."""
    if impact is None or (isinstance(impact, str) and impact.strip().lower() in ("off", "none")):
        return None
    if isinstance(impact, str) and impact.strip().lower() in ("on", "default"):
        return ImpactModel()
    if not isinstance(impact, ImpactModel):
        raise InputError(f"impact must be an ImpactModel, 'on' or 'off', got {impact!r}")
    return impact


def _host_channels(X, idx, single: bool) -> np.ndarray:
    """The rig's joints (``idx``; ``None``: the trajectory's positions) of every clip as ``(B, T, C)`` NumPy
    channels, for the residual analysis of ``cutoff_hz="auto"``."""
    if isinstance(X, jax.core.Tracer):
        raise InputError("cutoff_hz='auto' looks at the data: pass a number when differentiating through the joints "
                         "(or compute it first with imusim_jax.auto_cutoff)")
    if idx is None:
        X = np.asarray(X)
        return (X[None] if single else X)[..., :3]
    # the rig's joints gathered on the device, then one copy of those channels (not of every joint) to the host
    return np.asarray(_prepare_input(X, idx=tuple(idx), batched=not single, num_frames=X.shape[-3]))


# ---------------------------------------------------------------------------------------------------------------
# sense: pure JAX
# ---------------------------------------------------------------------------------------------------------------

def sense(prepared: Prepared, mount: Mount | str = "watch-left", noise: ImuNoise | str | None = None,
          key: Optional[jax.Array] = None, *, time_offset_s=0.0) -> ImuSignal:
    """The IMU a device at ``mount`` records of a prepared source: a pure function of arrays, jittable, ``vmap``-
    and ``grad``-able with respect to the source's joints, the mount, every noise parameter and the time offset;
    randomness only from ``key``. A second call with the same shapes does not recompile, and nothing moves
    between host and device (give it device arrays: ``jax.device_put(mount)``; ``prepare``'s are).

    Args:
      prepared: what ``prepare`` returned.
      mount: a ``Mount`` (or a preset / profile name, resolved on the host) on a prepared arm; a batched
        ``Mount`` (``stack_mounts``) gives one mount per clip, or several mounts of one clip.
      noise: ``None`` (ideal), a preset, a profile, an ``ImuNoise`` or a batched ``ImuNoise`` (as ``simulate``).
      key: ``jax.random`` key (one, split per clip, or ``(B,)``); required with noise.
      time_offset_s: when the sensor's first sample is, in the motion's time (s): sample ``k`` reads the motion at
        ``k / rate_hz + time_offset_s``. A scalar or one per clip ``(B,)``; differentiable. Keep it within
        ``prepared.max_time_offset_s`` (the edge extension); the number of samples does not change.
    Returns:
      ``ImuSignal`` as ``simulate``'s. Unlike ``simulate``, ``sense`` does not check that the signal is finite
      (that needs the host): check ``jnp.isfinite`` yourself where parameters may go astray.
    """
    return _sense(prepared, mount, noise, key, time_offset_s)[0]


def _sense(p: Prepared, mount, noise, key, time_offset_s):
    """``sense``, plus the core's per-clip finiteness flags and forearm codes (``simulate`` checks them)."""
    if not isinstance(p, Prepared):
        raise InputError(f"sense takes what prepare returns (imusim_jax.prepare(motion, ...)), got "
                         f"{type(p).__name__}")
    mount = _mount_shapes(get_mount(mount))
    noise = get_noise(noise)
    if p.kind == "skeleton":
        if mount.side not in p.sides:
            why = dict(p.missing).get(mount.side)
            raise InputError(why or f"the {mount.side} arm was not prepared (prepared: {', '.join(p.sides)}); "
                             f"prepare(source, mount) with this mount, or mount=None for both arms")
        a = p.sides.index(mount.side)
        rig = p.rigs[a]
    else:
        a, rig = 0, None
    arm = p.arms[a]
    mount_batched = jnp.ndim(mount.q_fs) == 2
    noise_batched = noise is not None and jnp.ndim(noise.accel.noise_density) == 2
    sizes = {n for n, flag in ((p.num_clips, not p.single),
                               (jnp.shape(mount.q_fs)[0] if mount_batched else None, mount_batched),
                               (jnp.shape(noise.accel.noise_density)[0] if noise_batched else None, noise_batched))
             if flag}
    if len(sizes) > 1:
        raise InputError(f"batch sizes disagree between motion, mount and noise: {sorted(sizes)}")
    B = sizes.pop() if sizes else None
    one = B is None
    nb = 1 if one else B
    if noise is not None:
        if key is None:
            raise InputError("noise needs an explicit PRNG key: simulate(..., key=jax.random.key(0))")
        key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
        if not (jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
                or (key.dtype == jnp.uint32 and key.ndim in (1, 2) and key.shape[-1] == 2)):
            raise InputError(f"key must be a jax.random.key(seed) (or (B,) of them), got {key.dtype} of shape "
                             f"{key.shape}")
        if _is_key_batch(key):
            if key.shape[0] != nb:
                raise InputError(f"got {key.shape[0]} keys for {nb} clips")
            keys = key
        else:
            keys = key[None] if one else jax.random.split(key, nb)
    else:
        keys = np.zeros((nb,), np.uint32)
    dtype = p.source.dtype
    if isinstance(time_offset_s, (int, float, np.integer, np.floating)):  # host: it goes with the core's call
        offsets = np.full((nb,), time_offset_s, dtype)
    else:
        offsets = jnp.asarray(time_offset_s, dtype)
        if offsets.ndim == 0:
            offsets = jnp.broadcast_to(offsets, (nb,))
    if offsets.shape != (nb,):
        raise InputError(f"time_offset_s must be one number or one per clip ({nb}), got shape {offsets.shape}")
    source, lengths, fps, sos, zi, pads, windows = p.source, p.lengths, p.fps, arm.sos, arm.zi, arm.pads, arm.windows
    batched_source = not p.single
    if p.single and not one:  # one clip, many mounts or noise models: the clip broadcast to each
        source = jnp.broadcast_to(source, (nb,) + source.shape)
        lengths, fps, sos, zi, pads, windows = (jnp.broadcast_to(x, (nb,) + x.shape[1:])
                                                for x in (lengths, fps, sos, zi, pads, windows))
        batched_source = True
    clips = _Clips(source, lengths, fps, sos, zi, pads, windows, offsets, keys)
    idx = tuple(rig.indices) if rig is not None else None
    static = dict(kind=p.kind, rig=rig, roll_model=p.roll_model, pad=p.pad, window=p.window, n_out=p.n_out,
                  rate_hz=p.rate_hz, m_ax=0 if mount_batched else None, n_ax=0 if noise_batched else None)
    events = arm.impacts
    with_impacts = p.impact is not None and events is not None and events.shape[1] > 0
    if not with_impacts:
        outs = _run_core(clips, mount, noise, static, prep=(idx, batched_source, p.num_frames))
        acc, gyr, q_ws, n_ok, finite, forearm = _finish(outs, nb=nb, n_keep=p.n_keep, squeeze=one)
        return ImuSignal(acc, gyr, None if one else n_ok, q_ws, rate_hz=p.rate_hz), finite, forearm
    # contacts (imusim_jax._impact) change the motion the sensor feels: after the ideal readings, before the noise
    outs = _run_core(clips, mount, None, static, prep=(idx, batched_source, p.num_frames))
    acc, gyr, q_ws, n_ok, finite, forearm = _finish(outs, nb=nb, n_keep=p.n_out, squeeze=False)
    if p.single and not one:
        events = jnp.broadcast_to(events, (nb,) + events.shape[1:])
    acc, gyr, finite = _impacts_and_noise(acc, gyr, q_ws, n_ok, finite, events, p.impact.contact_time_s, offsets,
                                          keys, noise, rate_hz=p.rate_hz, n_ax=static["n_ax"], n_keep=p.n_keep)
    q_ws = q_ws[:, :p.n_keep]
    if one:
        acc, gyr, q_ws, n_ok, finite, forearm = acc[0], gyr[0], q_ws[0], n_ok[0], finite.all(), forearm
    return ImuSignal(acc, gyr, None if one else n_ok, q_ws, rate_hz=p.rate_hz), finite, forearm


@functools.partial(jax.jit, static_argnames=("rate_hz", "n_ax", "n_keep"))
def _impacts_and_noise(acc, gyr, q_ws, n_ok, finite, events, contact_time_s, offsets, keys, noise, *, rate_hz, n_ax,
                       n_keep):
    """``sense``'s last stage for clips with contact events: the contact pulses (``apply_impacts``) on the ideal
    accelerometer ``(B, n_out, 3)``, then the noise (``apply_noise_rows``, each clip's own key, as the core adds
    it), cropped to ``n_keep`` samples."""
    acc = apply_impacts(acc, q_ws, events, contact_time_s, rate_hz, offsets)
    if noise is not None:
        rows = apply_noise_rows(keys, tuple(acc[..., i] for i in range(3)), tuple(gyr[..., i] for i in range(3)),
                                noise, rate_hz, noise_batched=n_ax == 0)
        acc, gyr = (jnp.stack(r, axis=-1) for r in rows)
    valid = (jnp.arange(acc.shape[1])[None, :] < n_ok[:, None])[..., None]
    acc, gyr = (jnp.where(valid, x, 0.0)[:, :n_keep] for x in (acc, gyr))
    finite = finite & jnp.isfinite(acc).all((1, 2)) & jnp.isfinite(gyr).all((1, 2))
    return acc, gyr, finite


def _mount_shapes(mount: Mount) -> Mount:
    """``mount`` if its leaves have the shapes the core reads, else a one-line ``InputError`` (shapes only: no
    value is read, so nothing leaves the device)."""
    q, lev = mount.q_fs, mount.lever_f
    if jnp.ndim(q) not in (1, 2) or jnp.shape(q)[-1] != 4 or jnp.shape(lev)[-1:] != (3,) \
            or jnp.ndim(lev) != jnp.ndim(q) or (jnp.ndim(q) == 2 and jnp.shape(q)[0] != jnp.shape(lev)[0]):
        raise InputError(f"a mount needs q_fs (4,) and lever_f (3,) (or (B, 4) and (B, 3)), got {jnp.shape(q)} and "
                         f"{jnp.shape(lev)}")
    return mount


# ---------------------------------------------------------------------------------------------------------------
# simulate: both in one call, with the checks that need the host
# ---------------------------------------------------------------------------------------------------------------

def simulate(source: Motion | Trajectory, mount: Mount | str = "watch-left",
             noise: ImuNoise | str | None = None, *, key: Optional[jax.Array] = None,
             rate_hz: float = DEFAULT_RATE_HZ, cutoff_hz: Cutoff = "auto", filter_order: int = 2,
             roll: str = "auto", roll_model: RollModel = RollModel(), time_offset_s=0.0,
             impact: Optional[ImpactModel] | str = "on") -> ImuSignal:
    """Simulate the 6-axis IMU a device at ``mount`` would record: ``sense(prepare(source, mount, ...), mount,
    noise, key, time_offset_s=...)``, with the checks that need the host (a finite signal, a forearm of human
    length).

    Args:
      source: a ``Motion`` (joints, z-up world, metres) or a ``Trajectory`` (rigid body), one clip or a batch.
      mount: a preset name (``watch-left``, ``watch-right``, ``band-left``, ``band-right``, ``phone-left``,
        ``phone-right``, ``body``), a profile ``.json`` or a ``Mount``; a batched ``Mount`` (``stack_mounts``)
        simulates one mount per clip, or several mounts of one clip.
      noise: ``None`` (ideal), a preset (``bmi160``, ``bmi270``, ``lsm6dso``), a profile path, an ``ImuNoise``,
        or a batched ``ImuNoise`` (``stack_noise``).
      key: ``jax.random`` key, required with noise: one key (split per clip) or ``(B,)`` keys.
      rate_hz: IMU output rate (Hz); sample ``k`` is at ``k / rate_hz`` s.
      cutoff_hz: low-pass cut-off (Hz) for the positions (and the trajectory's quaternion), ``"auto"`` for
        Winter's residual analysis per clip (``auto_cutoff``), or ``None`` for no filtering.
      filter_order: Butterworth order of one pass (zero phase doubles it).
      roll: forearm roll source, ``"auto"`` (hand knuckles where the joint set has them, i.e. MediaPipe's, else
        the elbow hinge), ``"hand"`` (knuckles, or a Kinect v2 thumb) or ``"hinge"``; see ``imusim_jax._orientation``.
      roll_model: fallback weights for near-straight arms.
      time_offset_s: the motion time of the sensor's first sample, s (a ``SensorProfile``'s clock offset; see
        ``sense``).
      impact: contacts and sharp stops (``imusim_jax.ImpactModel``: a wrist arriving at the floor, a strike
        ending) read over a physical contact time instead of the filter's smear; ``"on"`` (default, the default
        model), an ``ImpactModel``, or ``"off"``/``None`` (the filtered motion alone). A clip without such an
        event reads the same either way.
    Returns:
      ``ImuSignal`` with ``accel`` (m/s^2) and ``gyro`` (rad/s) in the sensor frame, ``(T', 3)`` for one clip or
      ``(B, T', 3)`` with ``lengths`` for a batch (padding is zero).
    Raises:
      InputError: one line, for bad input (lengths outside ``[4, T]``, a traced frame rate, a key that is not a
        ``jax.random`` key, more than ``MAX_OUTPUT_SAMPLES`` samples a clip, ...), for a signal that would not be
        finite (NaN joints or noise parameters that got past ``Motion.create`` or ``SensorNoise.create``), and for
        a clip whose forearm is longer than ``MAX_FOREARM_M`` in most frames (joints not in metres).
        A cut-off at or above 0.49 times the frame rate warns (``UserWarning``) that no filter is applied; a
        forearm shorter than ``MIN_FOREARM_M`` in most frames warns ``ForearmWarning``.
        Under a transformation of ``simulate`` (``jit``, ``grad``, ``vmap``) the output cannot be read, so these
        checks do not run: check ``jnp.isfinite`` of the result where the joints may hold NaN.
    """
    if not isinstance(source, (Motion, Trajectory)):
        raise InputError(f"simulate takes a Motion or a Trajectory (Motion.create(joints, fps, joint_set)), got "
                         f"{type(source).__name__}")
    mount = _checked_mount(get_mount(mount))
    noise = get_noise(noise)
    p = prepare(source, mount, rate_hz=rate_hz, cutoff_hz=cutoff_hz, filter_order=filter_order, roll=roll,
                roll_model=roll_model, impact=impact, on_device=False)
    signal, finite, forearm = _sense(p, mount, noise, key, time_offset_s)
    if not isinstance(finite, jax.core.Tracer):
        if not bool(np.all(np.asarray(finite))):  # never a silent NaN
            b = int(np.argmin(np.atleast_1d(np.asarray(finite))))
            raise InputError(f"the simulated signal of clip {b} is not finite: check its joints (Motion.create "
                             "refuses NaN and inf) and the noise model's parameters (SensorNoise.create checks them)")
        if p.kind == "skeleton":
            _check_forearm(np.atleast_1d(np.asarray(forearm)), p, mount.side)
    return signal


def _checked_mount(mount: Mount) -> Mount:
    """``_mount_shapes``, and where the values are concrete, finite values and a non-zero ``q_fs`` (normalised in
    the core, so a fit may leave the unit sphere); else a one-line ``InputError``."""
    mount = _mount_shapes(mount)
    q, lev = mount.q_fs, mount.lever_f
    if not _traced((q, lev)):
        qn, ln = np.asarray(q, np.float64), np.asarray(lev, np.float64)
        if not (np.isfinite(qn).all() and np.isfinite(ln).all()) or (np.linalg.norm(qn, axis=-1) < 1e-6).any():
            raise InputError("a mount's q_fs must be a finite, non-zero quaternion and its lever_f finite metres")
    return mount


MIN_FOREARM_M, MAX_FOREARM_M = 0.02, 1.0
"""Plausible elbow-to-wrist distances (an adult's is 0.22-0.30 m): shorter in most frames, the arm's orientation
is undefined (joints missing and set to zero, or a collapsed skeleton): ``simulate`` warns (``ForearmWarning``);
longer, the joints are not in metres (millimetres, centimetres or pixels): ``simulate`` refuses the clip."""


class ForearmWarning(UserWarning):
    """The mount's forearm (elbow to wrist) is shorter than ``MIN_FOREARM_M`` in most frames of one or more clips:
    their joints are probably missing. ``side``, ``clips`` (their indices in the batch; ``(0,)`` for one clip) and
    ``lengths_m`` (each one's median length over its valid frames) say which and how short; ``text(prefix,
    length_m)`` words one of them for a caller that names it otherwise (the command line names the file)."""

    def __init__(self, message: str, side: str = "left", clips: tuple = (), lengths_m: tuple = ()):
        super().__init__(message)
        self.side, self.clips, self.lengths_m = side, tuple(clips), tuple(lengths_m)

    def text(self, prefix: str, length_m: float) -> str:
        return forearm_text(prefix, self.side, length_m)


def _check_forearm(codes: np.ndarray, p: Prepared, side: str) -> None:
    """Refuse (``InputError``) the first clip whose forearm the core found longer than ``MAX_FOREARM_M`` in most
    frames, and warn (one ``ForearmWarning`` for all) of those shorter than ``MIN_FOREARM_M``. The decision is the
    core's vote (``_forearm_code``); the median lengths in the messages are measured here, for those clips only."""
    long, short = np.nonzero(codes == 2)[0], np.nonzero(codes == 1)[0]
    if len(long):
        b = int(long[0])
        where = "" if p.single else f"clip {b}" + (f" (and {len(long) - 1} more)" if len(long) > 1 else "") + ": "
        raise InputError(forearm_text(where, side, _median_forearm_m(p, side, b)))
    if len(short):
        lengths = [_median_forearm_m(p, side, int(b)) for b in short]
        where = "" if p.single else f"clip {short[0]}" + (f" (and {len(short) - 1} more)" if len(short) > 1
                                                          else "") + ": "
        warnings.warn(ForearmWarning(forearm_text(where, side, lengths[0]), side, tuple(int(b) for b in short),
                                     tuple(lengths)), stacklevel=3)


def _median_forearm_m(p: Prepared, side: str, b: int) -> float:
    """Median elbow-to-wrist distance (m) of clip ``b`` on ``side`` over its valid frames."""
    rig = p.rigs[p.sides.index(side)]
    X = np.asarray(p.source if p.single else p.source[b], np.float64)[: int(np.asarray(p.lengths)[b])]
    elbow, wrist = rig.indices[1], rig.indices[2]
    return float(np.median(np.linalg.norm(X[:, wrist] - X[:, elbow], axis=-1)))


def forearm_text(prefix: str, side: str, length_m: float) -> str:
    """The one wording of a forearm that is not of human length: ``prefix`` names the clip or file."""
    if length_m < MIN_FOREARM_M:  # a point-mass skeleton still has a correct |a|: warn, do not refuse
        return (f"{prefix}the {side} forearm (elbow to wrist) is {length_m * 100:.1f} cm long in most frames "
                f"(shorter than {MIN_FOREARM_M * 100:g} cm): its orientation is undefined (the device is taken as "
                f"face up); are the {side} arm's joints present and in metres?")
    return (f"{prefix}the {side} forearm (elbow to wrist) is {length_m:.3g} m long in most frames (a human's is about "
            f"0.25 m; over {MAX_FOREARM_M:g} m is not a forearm): are the joints in metres? Convert them first "
            "(millimetres: joints / 1000)")


def _rig_missing(source: Motion, idx: tuple) -> Optional[str]:
    """Why a clip's forearm model cannot be simulated, or ``None``: a joint it reads is missing in every frame
    (NaN with confidence 0 everywhere, filled with zeros by ``Motion.create``): its readings would be made up.
    Joints with confidence 0 but real positions (a Kinect joint it only inferred) are used as they are."""
    conf = source.confidence
    if conf is None or isinstance(conf, jax.core.Tracer) or isinstance(source.joints, jax.core.Tracer):
        return None
    c = np.asarray(conf)[..., list(idx)]
    j = np.asarray(source.joints)[..., list(idx), :]
    if not source.batched:
        c, j = c[None], j[None]
    lengths = np.asarray(source.lengths) if source.batched else np.array([c.shape[1]])
    live = (np.arange(c.shape[1])[None, :] < lengths[:, None])[..., None]  # (B, T, 1)
    missing = ~(((c > 0) | (np.abs(j).sum(-1) > 0)) & live).any(1)  # (B, K): nothing in any valid frame
    if not missing.any():
        return None
    b, k = (int(i) for i in np.argwhere(missing)[0])
    name = get_joint_set(source.joint_set).joints[idx[k]]
    where = f"clip {b}: " if source.batched else ""
    return (f"{where}the {name} (a joint the forearm model reads) is missing in every frame (confidence 0, no "
            f"position): nothing to simulate it from")


# ---------------------------------------------------------------------------------------------------------------
# Running the compiled core
# ---------------------------------------------------------------------------------------------------------------

def _prepared_clips(clips: _Clips, prep: tuple) -> _Clips:
    """``clips`` with the source's array turned into the rig's channels (``_prepare_input``)."""
    return clips._replace(channels=_prepare_input(clips.channels, idx=prep[0], batched=prep[1], num_frames=prep[2]))


@functools.partial(jax.jit, static_argnames=("idx", "batched", "num_frames"))
def _prepare_input(X, *, idx, batched, num_frames):
    """Joints ``(B?, T, J, 3)`` -> the rig's channels ``(B, num_frames, 3 len(idx))`` (``idx`` None: ``X`` is
    already ``(B?, T, C)``), frames padded by repeating the last one. One compiled call instead of a gather, a
    reshape and a padding dispatched one by one. The padding is a gather of frame indices: XLA fuses it with the
    joints' gather into one cheap loop, where a concatenation of repeated frames made the fused loop 2.4x slower."""
    if not batched:
        X = X[None]
    if idx is not None:
        X = X[:, :, np.asarray(idx), :]
        X = X.reshape(X.shape[:2] + (-1,))
    if num_frames > X.shape[1]:
        X = jnp.take(X, np.minimum(np.arange(num_frames), X.shape[1] - 1), axis=1)
    return X


@functools.partial(jax.jit, static_argnames=("nb", "n_keep", "squeeze"))
def _finish(outs, *, nb, n_keep, squeeze):
    """Join the core's outputs (one call's, or the parts of a batch), keep ``nb`` clips and ``n_keep`` samples,
    and drop the clip axis of a single clip: one compiled call."""
    joined = [jnp.concatenate([o[k] for o in outs])[:nb] if len(outs) > 1 else outs[0][k][:nb] for k in range(6)]
    acc, gyr, q_ws = (a[:, :n_keep] for a in joined[:3])
    n_ok, finite, forearm = joined[3], joined[4].all() if squeeze else joined[4], joined[5]
    if squeeze:
        return acc[0], gyr[0], q_ws[0], n_ok[0], finite, forearm
    return acc, gyr, q_ws, n_ok, finite, forearm


def _pad_cached(coeffs, _cache={}):
    key = id(coeffs)
    if key not in _cache:
        _cache[key] = pad_length(coeffs)
    return _cache[key]


def _chunk_size() -> Optional[int]:
    """Clips per vmapped chunk (read while tracing): on a CPU ``$IMUSIM_CPU_CHUNK`` (default 32; 0 for one vmap
    over the whole batch), elsewhere one vmap over the whole batch."""
    if jax.default_backend() != "cpu":
        return None
    return int(os.environ.get("IMUSIM_CPU_CHUNK", "32")) or None

_MIN_CLIPS_PER_THREAD = 32

_COMPILED: set = set()


def _simulate_part_impl(start, clips: _Clips, mount, noise, *, size, prep, **static):
    """``_simulate_batch`` on clips ``start .. start + size - 1`` of the batch (the last clip repeated past the
    end); ``start`` is traced, so every part of a batch shares one compiled function. The source's array is
    turned into the rig's channels here (``_prepare_input``), for this part only."""
    nb = clips.keys.shape[0]
    if nb % size == 0:  # every part is whole: a slice, not a gather (a copy of the batch)
        take = functools.partial(jax.lax.dynamic_slice_in_dim, start_index=start, slice_size=size)
    else:
        idx = jnp.minimum(start + jnp.arange(size), nb - 1)
        take = lambda a: a[idx]  # noqa: E731
    sub = _prepared_clips(jax.tree.map(take, clips), prep)
    mount = jax.tree.map(take, mount) if static["m_ax"] == 0 else mount
    noise = jax.tree.map(take, noise) if static["n_ax"] == 0 else noise
    return _simulate_batch(sub, mount, noise, **static)


# XLA's CPU code generator asks LLVM for 256-bit vectors by default, even where the CPU has 512-bit ones (AVX-512).
# The core's element-wise fusions are compute bound, and 512-bit vectors make a batch 4-10 % faster on this
# project's Xeon, bit for bit the same result (benchmarks/README.md). A compile option of the top-level compiled
# calls only (jax refuses it on a nested jit; under a user's transformation the plain functions run), so nothing
# else in the process changes. Where jax or jaxlib lacks the option, or IMUSIM_CPU_VECTOR_WIDTH=default, the
# plain functions run. XLA miscompiles jnp.arctan at this width (wrong values or a crash for some lengths, jax
# 0.10.2; every other operation the core uses was checked): the core must not use it (_ops.atan2 is written out;
# tests/test_simulate.py checks the wide core's text).
_WIDE_VECTORS = {"xla_cpu_prefer_vector_width": "512"}


def _jit_pair(fun, static_argnames):
    """``fun`` jitted plainly and with ``_WIDE_VECTORS`` (None where ``jax.jit`` takes no compiler options)."""
    plain = jax.jit(fun, static_argnames=static_argnames)
    try:
        wide = jax.jit(fun, static_argnames=static_argnames, compiler_options=_WIDE_VECTORS)
    except TypeError:
        wide = None
    return plain, wide


_simulate_batch_plain, _simulate_batch_wide = _jit_pair(_simulate_batch_impl, _CORE_STATIC)
_simulate_part_plain, _simulate_part_wide = _jit_pair(_simulate_part_impl, ("size", "prep") + _CORE_STATIC)


@functools.lru_cache(maxsize=None)
def _wide_vectors() -> bool:
    """Whether the top-level compiled calls take ``_WIDE_VECTORS``: a CPU backend, jax's ``compiler_options``,
    an XLA that knows the option (probed once by compiling a scalar function) and no opt-out."""
    if _simulate_batch_wide is None or os.environ.get("IMUSIM_CPU_VECTOR_WIDTH", "512") == "default":
        return False
    if jax.default_backend() != "cpu":
        return False
    try:
        jax.jit(lambda x: x + 1, compiler_options=_WIDE_VECTORS).lower(np.float32(0)).compile()
    except Exception:  # noqa: BLE001 - an XLA without the option: run the plain functions
        return False
    return True


def _traced(tree) -> bool:
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(tree))


def _simulate_batch(*args, **static):
    """The core on a batch of clips (``_simulate_batch_impl``), compiled: with ``_WIDE_VECTORS`` when called at
    the top level on a CPU that takes them, else plainly (always inside another trace)."""
    wide = not _traced(args) and _wide_vectors()
    return (_simulate_batch_wide if wide else _simulate_batch_plain)(*args, **static)


def _simulate_part(start, **kw):
    """One thread's part of a batch (``_simulate_part_impl``), compiled like ``_simulate_batch``."""
    wide = _wide_vectors()  # only called with concrete arguments (``_run_core``)
    return (_simulate_part_wide if wide else _simulate_part_plain)(start, **kw)


def _core_cache_size() -> int:
    """Compiled versions of the core held by jax (a test hook: the same shapes must not compile again)."""
    return sum(f._cache_size() for f in (_simulate_batch_plain, _simulate_batch_wide, _simulate_part_plain,
                                         _simulate_part_wide) if f is not None)


def _run_core(clips: _Clips, mount, noise, static: dict, prep: tuple):
    """The compiled core on ``clips`` (the source's array turned into the rig's channels by ``_prepare_input``
    with ``prep``); on a CPU, a batch of at least 64 clips is cut into equal parts, one per core, run from a
    thread pool. Returns the list of the calls' outputs (``_finish`` joins them).

    XLA's CPU backend parallelises one call within its operations only, and the simulator's operations are small
    (one chunk of clips at a time): measured on 2 cores, a call runs no faster than on one core, while two
    calls on two halves of the batch from two threads take 0.6-0.85 of the time. Every clip is independent (its
    own key, filter and length), so the parts give the batch's result up to float32 round-off (XLA may fuse a
    smaller batch differently, as it may a batch against a single clip: a quantiser's last bit can flip in about
    one sample in 10^4). The parts are cut inside the compiled function (``_simulate_part``: one dispatch per
    part, not one per array). Under a transformation (``grad``, ``jit``, ``vmap`` of ``sense``) one call."""
    args = (clips, mount, noise)
    nb = clips.keys.shape[0]
    threads = cpu_threads()
    parts = min(threads, nb // _MIN_CLIPS_PER_THREAD) if jax.default_backend() == "cpu" else 1
    if parts < 2 or _traced(args):
        return [_simulate_batch(_prepared_clips(clips, prep), mount, noise, **static)]
    size = -(-nb // parts)
    run = functools.partial(_simulate_part, clips=clips, mount=mount, noise=noise, size=size, prep=prep, **static)
    sig = (tuple(sorted((k, repr(v)) for k, v in static.items())), size, prep, jax.tree.structure(args),
           tuple((np.shape(x), getattr(x, "dtype", type(x))) for x in jax.tree.leaves(args)))  # str(dtype) is slow
    if sig not in _COMPILED:  # the first call compiles once, on this thread
        outs = [run(i * size) for i in range(parts)]
        _COMPILED.add(sig)
    else:
        pool = thread_pool(threads)
        futures = [pool.submit(lambda i: jax.block_until_ready(run(i * size)), i) for i in range(parts)]
        outs = [f.result() for f in futures]
    return outs


def _is_key_batch(key) -> bool:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key.ndim == 1
    return key.ndim == 2  # raw uint32 keys: (2,) single, (B, 2) batch
