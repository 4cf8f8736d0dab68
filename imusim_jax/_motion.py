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
import io as _io
import os
import re
from typing import Optional, Sequence

import jax.numpy as jnp
import numpy as np
from flax import struct

from imusim_jax._errors import InputError
from imusim_jax._gaps import fill_along_time, fill_gaps
from imusim_jax._joints import convert, get_joint_set

__all__ = ["Motion", "Trajectory", "InputError", "load_motion", "load_trajectory", "stack_motions",
           "MIN_FRAMES"]

MIN_FRAMES = 4
"""Fewest frames a clip may have: a cubic needs four points to carry an acceleration."""


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


def _check_fps(fps) -> np.ndarray:
    fps = np.asarray(fps, dtype=np.float64)
    if not np.isfinite(fps).all() or (fps <= 0).any():
        raise InputError(f"fps must be positive and finite, got {fps.tolist()}")
    return fps


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
        fps_np = _check_fps(fps)
        batched = joints_np.ndim == 4
        if batched:
            B, T = joints_np.shape[:2]
            if fps_np.shape not in ((), (1,), (B,)):
                raise InputError(f"fps must be one rate or one per clip ({B}), got shape {fps_np.shape}")
            fps_np = np.broadcast_to(fps_np, (B,)).copy()
            lengths = _check_lengths(lengths, B, T)
        else:
            if fps_np.ndim:
                raise InputError(f"one clip needs a scalar fps, got shape {fps_np.shape}")
            if lengths is not None:
                raise InputError("lengths are for a batch (B, T, J, 3); one clip's length is its frame count")
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
        q = q / n
        # sign continuity along time
        dots = np.sum(q[..., 1:, :] * q[..., :-1, :], axis=-1)
        signs = np.concatenate([np.ones_like(dots[..., :1]), np.cumprod(np.where(dots < 0, -1.0, 1.0), -1)], -1)
        q = q * signs[..., None]
        fps = _check_fps(fps)
        if p.ndim == 3:
            B, T = p.shape[:2]
            if fps.shape not in ((), (1,), (B,)):
                raise InputError(f"fps must be one rate or one per clip ({B}), got shape {fps.shape}")
            fps = np.broadcast_to(fps, (B,)).copy()
            lengths = _check_lengths(lengths, B, T)
        else:
            if fps.ndim:
                raise InputError(f"one trajectory needs a scalar fps, got shape {fps.shape}")
            if lengths is not None:
                raise InputError("lengths are for a batch (B, T, 3); one trajectory's length is its frame count")
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


def _check_lengths(lengths, B: int, T: int) -> jnp.ndarray:
    """A batch's valid frame counts: ``(B,)`` whole numbers in ``[MIN_FRAMES, T]`` (all ``T`` when ``None``)."""
    if lengths is None:
        return jnp.full((B,), T, jnp.int32)
    n = np.asarray(lengths)
    if n.dtype.kind not in "iuf" or n.shape != (B,) or not np.isfinite(n).all() or (n != np.round(n)).any() \
            or (n < MIN_FRAMES).any() or (n > T).any():
        raise InputError(f"lengths must be ({B},) whole frame counts in [{MIN_FRAMES}, {T}], got {n.tolist()}")
    return jnp.asarray(n.astype(np.int64), jnp.int32)


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


# ---------------------------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------------------------

def _as_str(x) -> str:
    x = np.asarray(x)
    if x.dtype.kind in "SU" or x.dtype == object:
        v = x.item() if x.ndim == 0 else x.ravel()[0]
        return v.decode() if isinstance(v, bytes) else str(v)
    raise InputError(f"joint_set must be a string, got an array of {x.dtype}")


def check_npz_magic(path: str, arrays: str) -> None:
    """Refuse a file that is not a zip archive before ``np.load`` tries, whose next guess is unpickling (its error
    speaks of pickled data): one line saying what the file is, and how to write it (``arrays``, e.g.
    ``"joints=..., fps=..."``)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    if not magic.startswith(b"PK"):
        what = "a single .npy array" if magic == b"\x93NUMPY" else ("empty" if not magic else "not a zip archive")
        raise InputError(f"cannot read {path} as .npz: the file is {what}; write it with np.savez(path, {arrays})")


def _load_npz_motion(path: str, fps_override, joint_set_override) -> Motion:
    check_npz_magic(path, "joints=..., fps=..., joint_set=...")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile.BadZipFile, ValueError, OSError...
        raise InputError(f"cannot read {path} as .npz: {type(e).__name__}: {e}".splitlines()[0]) from None
    if "joints" not in data:
        raise InputError(f"{path} has no array 'joints' (found: {', '.join(sorted(data)) or 'nothing'})")
    fps = fps_override if fps_override is not None else data.get("fps")
    if fps is None:
        raise InputError(f"{path} has no 'fps' (add the array or pass --fps)")
    js = joint_set_override or (_as_str(data["joint_set"]) if "joint_set" in data else None)
    if js is None:
        raise InputError(f"{path} has no 'joint_set' (add the array or pass --joint-set)")
    try:
        fps = np.asarray(fps, np.float64)
    except (TypeError, ValueError):
        raise InputError(f"'fps' must be a number of frames per second, got {np.asarray(fps)!r}") from None
    if fps.size != 1:
        raise InputError(f"'fps' must be a scalar, got shape {fps.shape}")
    joints = np.asarray(data["joints"])
    if joints.dtype.kind not in "fiu":
        raise InputError(f"'joints' must be numeric, got {joints.dtype}")
    return Motion.create(joints, float(fps.reshape(())), js, confidence=data.get("confidence"))


_COMMENT_KV = re.compile(r"#\s*([A-Za-z_]+)\s*[=:]\s*(\S+)")


def _read_csv_table(path: str) -> tuple[list[str], np.ndarray, dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path}: not a text (UTF-8) CSV file") from None
    meta, lines = {}, []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            m = _COMMENT_KV.match(line.strip())
            if m:
                meta[m.group(1).lower()] = m.group(2)
        elif line.strip():
            lines.append(line)
    if len(lines) < 2:
        raise InputError(f"{path} has no data rows")
    rows = list(csv.reader(_io.StringIO("\n".join(lines))))
    header = [h.strip() for h in rows[0]]
    str_cols = {}
    values = []
    for r_i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise InputError(f"{path}: row {r_i} has {len(r)} fields, the header has {len(header)}")
        vals = []
        for c, v in zip(header, r):
            try:
                vals.append(float(v) if v.strip() != "" else np.nan)
            except ValueError:
                if c.lower() in ("joint_set",):
                    str_cols[c.lower()] = v.strip()
                    vals.append(np.nan)
                else:
                    raise InputError(f"{path}: row {r_i}, column {c!r}: {v!r} is not a number") from None
        values.append(vals)
    meta.update(str_cols)
    return header, np.array(values, np.float64), meta


def _fps_from_time(t: np.ndarray, path: str) -> float:
    """Frame rate from a time column (seconds): the mean step over the whole clip, so that timestamps rounded to
    a few decimals (``%.3f``: 0.033 s for 30 fps, a 1 % error step by step) give the rate to ``resolution /
    duration``; a common rate (a whole number, or an NTSC ``n * 1000 / 1001``) within that uncertainty is taken
    exactly, so that a 120 fps clip's last frame is at its true time and yields the IMU samples its NPZ would."""
    dt = np.diff(t)
    if len(dt) == 0 or not np.all(np.isfinite(dt)) or (dt <= 0).any():
        raise InputError(f"{path}: the time column must increase strictly")
    med = float(np.median(dt))
    if np.max(np.abs(dt - med)) > 0.25 * med:
        raise InputError(f"{path}: time steps vary by more than 25% (resample to a constant rate first)")
    span = float(t[-1] - t[0])
    fps = (len(t) - 1) / span
    # the timestamps' resolution: the coarsest power of ten that all of them are multiples of (1e-9 at most)
    res = next((10.0 ** -k for k in range(10)
                if np.allclose(t * 10 ** k, np.round(t * 10 ** k), rtol=0, atol=1e-6)), 1e-9)
    tol = fps * (res + 4 * np.finfo(np.float64).eps * float(np.abs(t).max())) / span
    for nice in (round(fps), round(fps * 1.001) / 1.001):
        if nice > 0 and abs(nice - fps) <= tol:
            return float(nice)
    return float(fps)


def _load_long_csv_motion(path: str, fps_override, joint_set_override) -> Motion:
    """Long layout: one row per joint per frame, columns ``frame`` (or ``t``), ``joint`` (a name of the joint set
    or its index), ``x, y, z`` (and optionally ``fps``, ``joint_set``)."""
    with open(path, newline="") as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        f.seek(0)
        meta = {m.group(1).lower(): m.group(2) for m in (_COMMENT_KV.match(ln.strip()) for ln in f) if m}
    rows = list(csv.DictReader(_io.StringIO("\n".join(lines))))
    if not rows:
        raise InputError(f"{path} has no data rows")
    keys = {k.lower().strip(): k for k in rows[0]}
    tkey = next((keys[k] for k in ("frame", "t", "time", "timestamp") if k in keys), None)
    if tkey is None or not all(c in keys for c in "xyz"):
        raise InputError(f"{path}: the long layout needs columns frame (or t), joint, x, y, z")
    js_name = joint_set_override or rows[0].get(keys.get("joint_set", ""), None) or meta.get("joint_set")
    if js_name is None:
        raise InputError(f"{path}: unknown joint set (add a joint_set column or pass --joint-set)")
    js = get_joint_set(js_name)
    try:
        stamps = sorted({float(r[tkey]) for r in rows})
        index = {v: i for i, v in enumerate(stamps)}
        joints = np.full((len(stamps), len(js), 3), np.nan)
        for r in rows:
            name = r[keys["joint"]].strip()
            j = int(name) if name.isdigit() else js.index(name)
            joints[index[float(r[tkey])], j] = [float(r[keys[c]]) for c in "xyz"]
    except KeyError as e:
        raise InputError(f"{path}: {e.args[0]}") from None
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None
    fps = fps_override
    if fps is None and "fps" in keys:
        fps = float(rows[0][keys["fps"]])
    if fps is None and "fps" in meta:
        fps = float(meta["fps"])
    if fps is None and tkey.lower() != "frame":
        fps = _fps_from_time(np.array(stamps), path)
    if fps is None:
        raise InputError(f"{path}: no frame rate (add an fps column, a '# fps=30' line, or pass --fps)")
    return Motion.create(joints, fps, js.name)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _joint_set_by_count(n: int, path: str) -> str:
    from imusim_jax._joints import JOINT_SETS

    sets = [js.name for js in JOINT_SETS.values() if len(js) == n]
    if len(sets) != 1:
        raise InputError(f"{path}: {n} joints could be " + (" or ".join(sets) if sets else "no known joint set")
                         + " (add a '# joint_set=coco17' line or pass --joint-set)")
    return sets[0]


def _load_headerless_csv_motion(path: str, fps_override, joint_set_override, delimiter) -> Motion:
    """Numbers only: ``J * 3`` columns per frame (``x, y, z`` of each joint in the joint set's order), or a time
    column (s) and then those (``numpy.savetxt`` of ``joints.reshape(T, -1)``); commas or whitespace between."""
    meta = {}
    with open(path, newline="") as f:
        for ln in f:
            m = _COMMENT_KV.match(ln.strip())
            if m:
                meta[m.group(1).lower()] = m.group(2)
    try:
        X = np.atleast_2d(np.loadtxt(path, delimiter=delimiter, comments="#", dtype=np.float64))
    except ValueError as e:
        raise InputError(f"{path}: {str(e).split(';')[0]}") from None  # NumPy's hint about usecols: not ours
    t = None
    if X.shape[1] % 3 == 1:
        t, X = X[:, 0], X[:, 1:]
    elif X.shape[1] % 3:
        raise InputError(f"{path}: {X.shape[1]} numeric columns, expected 3 per joint (and an optional time "
                         f"column first)")
    js_name = joint_set_override or meta.get("joint_set") or _joint_set_by_count(X.shape[1] // 3, path)
    fps = fps_override if fps_override is not None else (float(meta["fps"]) if "fps" in meta else None)
    if fps is None and t is not None:
        fps = _fps_from_time(t, path)
    if fps is None:
        raise InputError(f"{path}: no frame rate (add a time column first, a '# fps=30' line, or pass --fps)")
    js = get_joint_set(js_name)
    if X.shape[1] != 3 * len(js):
        raise InputError(f"{path}: found {X.shape[1] // 3} joints in the columns, {js.name} has {len(js)}")
    return Motion.create(X.reshape(len(X), len(js), 3), fps, js.name)


def _load_csv_motion(path: str, fps_override, joint_set_override) -> Motion:
    try:
        return _load_csv_motion_text(path, fps_override, joint_set_override)
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path}: not a text (UTF-8) CSV file") from None


def _load_csv_motion_text(path: str, fps_override, joint_set_override) -> Motion:
    with open(path, newline="") as f:
        first = next((ln for ln in f if ln.strip() and not ln.lstrip().startswith("#")), "")
    fields = [h.strip().lower() for h in first.split(",")]
    if "joint" in fields:
        return _load_long_csv_motion(path, fps_override, joint_set_override)
    delimiter = "," if "," in first else None
    numbers = first.split(delimiter)
    if numbers and all(_is_number(h) for h in numbers):
        return _load_headerless_csv_motion(path, fps_override, joint_set_override, delimiter)
    header, X, meta = _read_csv_table(path)
    axis_first = [re.fullmatch(r"([xyz])[_.]?(\d+)", h.strip(), re.I) for h in header]
    if any(axis_first):  # x0, y0, z0, x1, ... (joint index after the axis)
        J = 1 + max(int(m.group(2)) for m in axis_first if m)
        header = [f"{m.group(2)}_{m.group(1).lower()}" if m else h for h, m in zip(header, axis_first)]
        if joint_set_override is None and "joint_set" not in meta:
            meta["joint_set"] = _joint_set_by_count(J, path)
    cols = {h.lower(): i for i, h in enumerate(header)}
    fps = fps_override
    if fps is None and "fps" in cols:
        fps = float(X[0, cols["fps"]])
    if fps is None and "fps" in meta:
        fps = float(meta["fps"])
    tcol = cols.get("t", cols.get("time", cols.get("timestamp")))
    if fps is None and tcol is not None:
        fps = _fps_from_time(X[:, tcol], path)
    if fps is None:
        raise InputError(f"{path}: no frame rate (add a 't' column, a '# fps=30' line, or pass --fps)")
    js_name = joint_set_override or meta.get("joint_set")
    not_joints = ("t", "x", "y", "z", "index", "idx", "frame_idx", "frame_index")  # pandas' and counters' columns
    coord = [h for h in header if re.search(r"[_.]?[xyz]$", h, re.I) and h.lower() not in not_joints]
    names = []
    for h in coord:
        base = re.sub(r"[_.]?[xyz]$", "", h, flags=re.I)
        if base not in names:
            names.append(base)
    if names and all(n.isdigit() for n in names):  # joints by index: x0, y0, z0 / 0_x, ...
        names.sort(key=int)
    if js_name is None:  # infer the joint set from the column names
        from imusim_jax._joints import JOINT_SETS

        for js in JOINT_SETS.values():
            if set(js.joints) == set(names):
                js_name = js.name
                break
    if js_name is None:
        raise InputError(f"{path}: unknown joint set (add a '# joint_set=coco17' line or pass --joint-set)")
    js = get_joint_set(js_name)
    by_name = all(n in js.joints for n in names) and len(names) == len(js)
    order = list(js.joints) if by_name else names
    if len(order) != len(js):
        raise InputError(f"{path}: found {len(order)} joints in the columns, {js.name} has {len(js)}")
    joints = np.zeros((X.shape[0], len(js), 3))
    for j, n in enumerate(order):
        for k, c in enumerate("xyz"):
            cand = [h for h in header if re.fullmatch(re.escape(n) + r"[_.]?" + c, h, re.I)]
            if not cand:
                raise InputError(f"{path}: missing column for joint {n!r} axis {c}")
            joints[:, j, k] = X[:, header.index(cand[0])]
    return Motion.create(joints, fps, js.name)


def load_motion(path: str | os.PathLike, *, fps: float | None = None, joint_set: str | None = None,
                body: int | None = None) -> Motion:
    """Read a Motion from a file; the format follows the extension. Errors are one-line ``InputError``s.

    * ``.npz``: arrays ``joints`` (T, J, 3) in metres in the z-up world, ``fps``, ``joint_set``[, ``confidence``].
    * ``.csv``/``.txt`` (metres, z-up world), wide: a header with ``t`` (s) and ``<joint>_x,<joint>_y,<joint>_z``
      per joint, in the joint set's order or named by the set's joint names (``Motion.save_csv`` writes this);
      ``x0,y0,z0,x1,..`` (joint index after the axis) works too, and so does a file of numbers only, ``J * 3``
      columns with an optional time column first (``numpy.savetxt`` of ``joints.reshape(T, -1)``);
      long: one row per joint per frame with columns ``frame`` (or ``t``), ``joint`` (name or index), ``x,y,z``.
      The frame rate comes from ``t``, an ``fps`` column or a ``# fps=30`` comment line; the joint set from a
      ``# joint_set=coco17`` line, a ``joint_set`` column, or the column names. Missing joints (NaN) are refused.
    * ``.skeleton``: NTU RGB+D text (Kinect v2, ``ntu25``, 30 fps). Several people: ``body`` picks one by index
      in order of first appearance; by default the one present in the most frames. Short gaps are interpolated,
      ``confidence`` is trackingState / 2.
    * ``.mat``: UTD-MHAD ``*_skeleton.mat`` (``d_skel`` (20, 3, T), Kinect v1, ``kinect20``). When the inertial
      file recorded with it exists (``Skeleton/aA_sS_tT_skeleton.mat`` -> ``Inertial/aA_sS_tT_inertial.mat``,
      50 Hz), fps = frames / (IMU samples / 50), as both streams cover the same interval; otherwise 30.

    Kinect camera coordinates (x to the sensor's left, y up, z depth) become the world as ``(-x, z, y)``, a
    proper rotation (``imusim_jax.datasets_io``). ``fps`` overrides the file's (or the dataset's) frame rate;
    ``joint_set`` overrides an ``.npz``/``.csv`` file's, and for the datasets must name their own set.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    ext = os.path.splitext(path)[1].lower()
    if body is not None and ext != ".skeleton":
        raise InputError(f"body= chooses a person in an NTU RGB+D .skeleton file; {path!r} is not one")
    if ext in (".skeleton", ".mat"):
        from imusim_jax import datasets_io as dio

        native = "ntu25" if ext == ".skeleton" else "kinect20"
        if joint_set is not None and get_joint_set(joint_set).name != native:
            raise InputError(f"{path!r} holds joint set {native}, not {joint_set!r}; convert after loading "
                             f"(Motion.to)")
        if ext == ".skeleton":
            return dio.load_ntu_skeleton(path, body=body, fps=fps)
        return dio.load_utd_skeleton(path, fps=fps)
    if ext == ".npz":
        return _load_npz_motion(path, fps, joint_set)
    if ext in (".csv", ".txt"):
        return _load_csv_motion(path, fps, joint_set)
    raise InputError(f"unsupported motion file {path!r}: expected .npz, .csv, NTU .skeleton or UTD-MHAD .mat")


def load_trajectory(path: str | os.PathLike, *, fps: float | None = None) -> Trajectory:
    """Read a rigid-body trajectory CSV: ``t,x,y,z,qw,qx,qy,qz`` (s, m, unit quaternion body to world, scalar
    first), as x-io's IMU Simulator reads it. Its other layout ``t,x,y,z,roll,pitch,yaw`` (degrees, ZYX, i.e.
    ``R = Rz(yaw) Ry(pitch) Rx(roll)``) is accepted too. ``time`` may stand for ``t``; ``fps`` overrides the
    rate taken from the time column."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    header, X, meta = _read_csv_table(path)
    cols = {h.lower(): i for i, h in enumerate(header)}
    tname = next((n for n in ("t", "time", "timestamp") if n in cols), None)
    need = ["x", "y", "z"]
    missing = [c for c in need if c not in cols]
    if missing:
        raise InputError(f"{path}: missing columns {missing}; expected t,x,y,z,qw,qx,qy,qz")
    p = X[:, [cols[c] for c in need]]
    if all(c in cols for c in ("qw", "qx", "qy", "qz")):
        q = X[:, [cols[c] for c in ("qw", "qx", "qy", "qz")]]
    elif all(c in cols for c in ("roll", "pitch", "yaw")):
        from scipy.spatial.transform import Rotation

        rpy = X[:, [cols["roll"], cols["pitch"], cols["yaw"]]]
        xyzw = Rotation.from_euler("ZYX", rpy[:, ::-1], degrees=True).as_quat()
        q = xyzw[:, [3, 0, 1, 2]]
    else:
        raise InputError(f"{path}: missing orientation columns; expected qw,qx,qy,qz (or roll,pitch,yaw in degrees)")
    if fps is None:
        if "fps" in meta:
            fps = float(meta["fps"])
        elif tname is not None:
            fps = _fps_from_time(X[:, cols[tname]], path)
        else:
            raise InputError(f"{path}: no time column 't' (or pass --fps)")
    return Trajectory.create(p, q, fps)
