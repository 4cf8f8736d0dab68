"""``Motion`` and ``Trajectory``: the seam between Stage 1 (pose) and Stage 2 (simulation).

A ``Motion`` is a 3D joint sequence with a clear physical meaning:
  * ``joints``: positions in metres in the right-handed, z-up, gravity-aligned world frame, shape
    ``(T, J, 3)`` for one clip or ``(B, T, J, 3)`` for a batch padded to a common ``T``;
  * ``fps``: frame rate in Hz (frame ``i`` is at ``t = i / fps`` s), a scalar or ``(B,)``;
  * ``joint_set``: the name of the joint list (``coco17``, ``h36m17``, ``ntu25``, ``mediapipe33``, ``kinect20``);
  * ``confidence``: optional per-joint weights in [0, 1], ``(T, J)`` or ``(B, T, J)``;
  * ``lengths``: for a batch, the number of valid frames of each clip ``(B,)`` (padding after it is ignored).

A ``Trajectory`` is a rigid body carrying the sensor directly (a mocap rigid body, a phone's tracked pose, one
body segment): positions ``(T, 3)`` in metres and orientations ``q_wb`` ``(T, 4)`` (scalar first, body to world)
at ``fps``. The body frame plays the role of the forearm frame, so mounts and lever arms apply unchanged.

Both are ``flax.struct`` pytrees: arrays are leaves (``jit``/``vmap``/``grad`` see them), names are static.
"""
from __future__ import annotations

import csv
import os
from typing import Optional, Sequence

import jax.numpy as jnp
import numpy as np
from flax import struct

from imusim_jax._errors import InputError
from imusim_jax._gaps import fill_along_time, fill_gaps
from imusim_jax._joints import convert, get_joint_set
from imusim_jax._quaternion import make_continuous

__all__ = ["Motion", "Trajectory", "InputError", "stack_motions", "check_time_base", "MIN_FRAMES", "MIN_FPS",
           "MAX_FPS"]

MIN_FRAMES = 4
"""Fewest frames a clip may have: a cubic needs four points to carry an acceleration."""

MIN_FPS, MAX_FPS = 4.0, 20_000.0
"""The frame rates ``prepare`` simulates: from a slow pose stream (UTD-MHAD's Kinect runs at 14-21 fps, UP-Fall's
cameras at about 18) to high-speed motion capture. Below 4 fps a body's motion is not resolved at all (and a time
column in milliseconds reads as 0.03 fps); above 20 kHz it is a wrong unit (a clip of 40 frames at 10^9 fps
lasts 40 ns)."""


def _float():
    """float64 when JAX's x64 mode is on, else float32 (the command line turns x64 on, ``cli._enable_float64``)."""
    import jax

    return jax.dtypes.canonicalize_dtype(np.float64)


def _check_joints(joints: np.ndarray, what: str = "joints") -> None:
    if joints.ndim not in (3, 4) or joints.shape[-1] != 3:
        raise InputError(f"{what} must have shape (T, J, 3) or (B, T, J, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        bad = np.argwhere(~np.isfinite(joints))[0]
        raise InputError(f"{what} contain NaN or infinite values (first at index {tuple(int(i) for i in bad)}); "
                         "fill gaps first (imusim_jax.fill_gaps) or give those joints confidence 0 there "
                         "(they are then interpolated over time)")
    if joints.shape[-3] < MIN_FRAMES:
        raise InputError(f"too few frames: {joints.shape[-3]} (need at least {MIN_FRAMES})")


def _fill_unconfident(joints: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Non-finite joints where ``conf`` is 0, filled over time: gaps between finite frames by
    ``imusim_jax.fill_gaps`` (a shape-preserving cubic through the joint's finite frames: no overshoot, exact
    for linear motion), runs at a clip's ends held at the nearest finite frame, and a joint with no finite frame
    set to 0 (its confidence stays 0, and ``simulate`` refuses to use it). ``joints`` ``(..., T, J, 3)``, ``conf``
    ``(..., T, J)``. A non-finite joint with a positive confidence is an ``InputError``."""
    finite = np.isfinite(joints).all(-1)
    trusted = ~finite & (np.nan_to_num(conf, nan=0.0) > 0)
    if trusted.any():
        where = tuple(int(i) for i in np.argwhere(trusted)[0])
        raise InputError(f"joints are NaN or infinite at index {where} where the confidence is "
                         f"{float(conf[where]):.3g}; give missing joints confidence 0 (or fill gaps first: "
                         "imusim_jax.fill_gaps)")
    out = joints.copy()
    T = joints.shape[-3]
    for clip in np.ndindex(*joints.shape[:-3]):
        x, ok = out[clip], finite[clip]  # (T, J, 3) view, (T, J)
        if ok.all():
            continue
        # every gap between finite frames (confidence: finite or not; at most T frames long, 1 frame a "second")
        # what fill_gaps leaves (the runs at the clip's ends) held, a joint never seen set to 0
        x[:] = fill_along_time(fill_gaps(x, ok.astype(np.float64), 1.0, float(T), 0.5)[0], empty=0.0)
    return out


@struct.dataclass
class Motion:
    """A 3D joint sequence in the z-up world frame (see the module docstring for every field's meaning).

    Attributes:
      joints: ``(T, J, 3)`` or ``(B, T, J, 3)`` float, metres.
      fps: ``()`` or ``(B,)`` float, Hz.
      confidence: ``None`` or ``(T, J)`` / ``(B, T, J)`` in [0, 1]. ``create`` accepts NaN joints where it is
        0 and interpolates them over time (``_fill_unconfident``).
      lengths: ``None`` for one clip, ``(B,)`` int for a batch.
      joint_set: static name of the joint list.
    """

    joints: jnp.ndarray
    fps: jnp.ndarray
    confidence: Optional[jnp.ndarray] = None
    lengths: Optional[jnp.ndarray] = None
    joint_set: str = struct.field(pytree_node=False, default="coco17")

    @classmethod
    def create(cls, joints, fps, joint_set: str = "coco17", confidence=None, lengths=None) -> "Motion":
        """Validate and build a Motion (NumPy or JAX arrays in; float32 JAX arrays out).

        Raises ``InputError`` (one line) for wrong shapes, NaN/inf, too few frames, bad fps or an unknown joint set.
        """
        js = get_joint_set(joint_set)
        joints_np = np.asarray(joints, dtype=np.float64)
        if confidence is not None and joints_np.ndim in (3, 4) and joints_np.shape[-1] == 3 \
                and np.shape(confidence) == joints_np.shape[:-1] and not np.isfinite(joints_np).all():
            joints_np = _fill_unconfident(joints_np, np.asarray(confidence, dtype=np.float64))
        _check_joints(joints_np)
        if joints_np.shape[-2] != len(js):
            raise InputError(f"joint set {js.name} has {len(js)} joints but the array has {joints_np.shape[-2]}")
        batched = joints_np.ndim == 4
        fps_np, lengths = check_time_base(fps, lengths, joints_np.shape[:2] if batched else None)
        lengths = None if lengths is None else jnp.asarray(lengths, jnp.int32)
        if confidence is not None:
            confidence = np.asarray(confidence, dtype=np.float64)
            if confidence.shape != joints_np.shape[:-1]:
                raise InputError(f"confidence must have shape {joints_np.shape[:-1]}, got {confidence.shape}")
            confidence = jnp.asarray(np.clip(np.nan_to_num(confidence), 0, 1), _float())
        return cls(joints=jnp.asarray(joints_np, _float()), fps=jnp.asarray(fps_np, _float()),
                   confidence=confidence, lengths=lengths, joint_set=js.name)

    # ---- shape helpers -------------------------------------------------------------------------------------
    @property
    def batched(self) -> bool:
        return self.joints.ndim == 4

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[-3])

    @property
    def duration_s(self):
        """Time of the last frame, ``(L - 1) / fps`` seconds (per clip for a batch)."""
        n = self.lengths if self.batched else self.num_frames
        return (np.asarray(n) - 1) / np.asarray(self.fps)

    def joint(self, name: str) -> jnp.ndarray:
        """Positions of one joint by name: ``(..., T, 3)``."""
        js = get_joint_set(self.joint_set)
        try:
            i = js.index(name)
        except (KeyError, ValueError):
            raise InputError(f"joint set {js.name} has no joint {name!r}; it has {', '.join(js.joints)}") from None
        return self.joints[..., i, :]

    def to(self, joint_set: str) -> "Motion":
        """Convert to another joint set by name (``imusim_jax.joints.conversion_report`` says how)."""
        js = get_joint_set(joint_set)
        conf = None if self.confidence is None else convert(self.confidence, self.joint_set, js, joint_axis=-1)
        return self.replace(joints=convert(self.joints, self.joint_set, js), confidence=conf, joint_set=js.name)

    def unbatch(self) -> list["Motion"]:
        """Split a batch into clips, dropping padding."""
        if not self.batched:
            return [self]
        # one transfer to the host, then NumPy slices (indexing the device arrays dispatches one slice per array
        # per clip: 4x slower for a batch of 1024)
        joints, fps, lengths = (np.asarray(a) for a in (self.joints, self.fps, self.lengths))
        conf = None if self.confidence is None else np.asarray(self.confidence)
        out = []
        for b in range(joints.shape[0]):
            n = int(lengths[b])
            c = None if conf is None else jnp.asarray(conf[b, :n])
            out.append(Motion(jnp.asarray(joints[b, :n]), jnp.asarray(fps[b]), c, None, self.joint_set))
        return out

    # ---- files ---------------------------------------------------------------------------------------------
    def save_npz(self, path: str | os.PathLike) -> None:
        """Write the ``simulate`` input format: arrays ``joints`` (T, J, 3), ``fps`` (scalar), ``joint_set`` (str),
        and ``confidence`` (T, J) when present."""
        if self.batched:
            raise ValueError("save one clip at a time (Motion.unbatch())")
        extra = {} if self.confidence is None else {"confidence": np.asarray(self.confidence)}
        np.savez(path, joints=np.asarray(self.joints, np.float64), fps=np.float64(self.fps),
                 joint_set=np.array(self.joint_set), **extra)

    def save_csv(self, path: str | os.PathLike) -> None:
        """Write a CSV: ``# fps=..`` and ``# joint_set=..`` comment lines, then ``t`` and ``<joint>_x,_y,_z``."""
        if self.batched:
            raise ValueError("save one clip at a time (Motion.unbatch())")
        js = get_joint_set(self.joint_set)
        J = np.asarray(self.joints, np.float64)
        t = np.arange(J.shape[0]) / float(self.fps)
        with open(path, "w", newline="") as f:
            f.write(f"# fps={float(self.fps)!r}\n# joint_set={js.name}\n")
            w = csv.writer(f)
            w.writerow(["t"] + [f"{n}_{c}" for n in js.joints for c in "xyz"])
            for i in range(J.shape[0]):
                w.writerow([f"{t[i]:.9g}"] + [f"{v:.9g}" for v in J[i].ravel()])


@struct.dataclass
class Trajectory:
    """A rigid body's pose over time: the sensor is carried by this body (body frame = forearm frame).

    Attributes:
      positions: ``(T, 3)`` or ``(B, T, 3)`` metres, z-up world.
      q_wb: ``(T, 4)`` or ``(B, T, 4)`` unit quaternions, scalar first, body to world (``v_w = q ⊗ v_b ⊗ q*``).
      fps: ``()`` or ``(B,)`` Hz.
      lengths: ``None`` or ``(B,)``.
    """

    positions: jnp.ndarray
    q_wb: jnp.ndarray
    fps: jnp.ndarray
    lengths: Optional[jnp.ndarray] = None

    @classmethod
    def create(cls, positions, q_wb, fps, lengths=None) -> "Trajectory":
        """Validate and build a Trajectory; quaternions are normalised and made sign-continuous."""
        p = np.asarray(positions, np.float64)
        q = np.asarray(q_wb, np.float64)
        if p.ndim not in (2, 3) or p.shape[-1] != 3:
            raise InputError(f"positions must have shape (T, 3) or (B, T, 3), got {p.shape}")
        if q.shape != p.shape[:-1] + (4,):
            raise InputError(f"orientations must have shape {p.shape[:-1] + (4,)}, got {q.shape}")
        if not (np.isfinite(p).all() and np.isfinite(q).all()):
            raise InputError("trajectory contains NaN or infinite values")
        if p.shape[-2] < MIN_FRAMES:
            raise InputError(f"too few frames: {p.shape[-2]} (need at least {MIN_FRAMES})")
        n = np.linalg.norm(q, axis=-1, keepdims=True)
        if (n < 1e-6).any():
            raise InputError("orientation quaternions must be non-zero")
        q = np.asarray(make_continuous(jnp.asarray(q / n)), np.float64)
        fps, lengths = check_time_base(fps, lengths, p.shape[:2] if p.ndim == 3 else None, "trajectory")
        lengths = None if lengths is None else jnp.asarray(lengths, jnp.int32)
        return cls(jnp.asarray(p, _float()), jnp.asarray(q, _float()), jnp.asarray(fps, _float()),
                   lengths)

    @property
    def batched(self) -> bool:
        return self.positions.ndim == 3

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[-2])

    def save_csv(self, path: str | os.PathLike) -> None:
        """Write ``t,x,y,z,qw,qx,qy,qz`` (s, m, unit quaternion body to world), the layout ``load_trajectory``
        reads."""
        p, q = np.asarray(self.positions, np.float64), np.asarray(self.q_wb, np.float64)
        t = np.arange(len(p)) / float(self.fps)
        np.savetxt(path, np.column_stack([t, p, q]), delimiter=",", header="t,x,y,z,qw,qx,qy,qz", comments="",
                   fmt="%.9g")


def check_time_base(fps, lengths, batch: Optional[tuple[int, int]], what: str = "clip"
                    ) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """A source's frame rates and valid lengths, checked once for every place that takes them (``Motion.create``,
    ``Trajectory.create``, ``prepare``); one-line ``InputError`` otherwise. ``fps`` must be positive and finite.
    For a batch (``batch = (B, T)``): ``fps`` one rate or one per clip, returned ``(B,)``; ``lengths`` whole frame
    counts in ``[MIN_FRAMES, T]`` (all ``T`` when ``None``), returned ``(B,)`` int. For one ``what``
    (``batch = None``): a scalar ``fps``, and no ``lengths``."""
    try:
        fps = np.asarray(fps, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"fps must be a number of frames per second, got {fps!r}") from None
    if not np.isfinite(fps).all() or (fps <= 0).any():
        raise InputError(f"fps must be positive and finite, got {fps.tolist()}")
    if batch is None:
        if fps.ndim:
            raise InputError(f"one {what} needs a scalar fps, got shape {fps.shape}")
        if lengths is not None:
            raise InputError(f"lengths are for a batch; one {what}'s length is its frame count")
        return fps, None
    B, T = batch
    if fps.shape not in ((), (1,), (B,)):
        raise InputError(f"fps must be one rate or one per clip ({B}), got shape {fps.shape}")
    fps = np.broadcast_to(fps, (B,)).copy()
    if lengths is None:
        return fps, np.full((B,), T, np.int64)
    n = np.asarray(lengths)
    if n.dtype.kind not in "iuf" or n.shape != (B,) or not np.isfinite(n).all() or (n != np.round(n)).any() \
            or (n < MIN_FRAMES).any() or (n > T).any():
        raise InputError(f"lengths must be ({B},) whole frame counts in [{MIN_FRAMES}, {T}], got {n.tolist()}")
    return fps, n.astype(np.int64)


def stack_motions(motions: Sequence[Motion]) -> Motion:
    """Pad single clips to a common length (repeating each clip's last frame) and stack them into a batch."""
    if not motions:
        raise InputError("no motions to stack")
    bad = [type(m).__name__ for m in motions if not isinstance(m, Motion)]
    if bad:
        raise InputError(f"stack_motions takes Motion clips (Motion.create), got {bad[0]}")
    names = {m.joint_set for m in motions}
    if len(names) > 1:
        raise InputError(f"cannot stack motions of different joint sets {sorted(names)}; convert them first")
    T = max(m.num_frames for m in motions)
    joints, conf, lengths = [], [], []
    for m in motions:
        if m.batched:
            raise InputError("stack_motions takes single clips")
        n = m.num_frames
        pad = [(0, T - n), (0, 0), (0, 0)]
        joints.append(np.pad(np.asarray(m.joints), pad, mode="edge"))
        c = np.ones(m.joints.shape[:-1]) if m.confidence is None else np.asarray(m.confidence)
        conf.append(np.pad(c, pad[:2]))
        lengths.append(n)
    has_conf = any(m.confidence is not None for m in motions)
    return Motion.create(np.stack(joints), np.array([float(m.fps) for m in motions]), motions[0].joint_set,
                         confidence=np.stack(conf) if has_conf else None, lengths=np.array(lengths))
