"""Readers for real dataset files: NTU RGB+D ``.skeleton`` text and UTD-MHAD ``*_skeleton.mat``.

Both datasets record a Kinect skeleton in the camera's space: metres, right-handed, x toward the sensor's left
(the subject's right when they face it), y up, z away from the sensor. The readers turn it into the package's
world frame (right-handed, z up) with the proper rotation ``world = (-x, z, y)`` of the camera axes
(``CAMERA_TO_WORLD``, determinant +1): swapping y and z without the sign on x would mirror the body and exchange
left and right. The camera stays at the origin; the subject who faces it faces world ``-y``.

* NTU RGB+D (Shahroudy et al. 2016), Kinect v2, joint set ``ntu25``, 30 fps. Text layout: the frame count; per
  frame a body count; per body a 10-value info line (bodyID first), a joint count (25) and 25 lines of 12 values
  ``x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState``.
* UTD-MHAD (Chen, Jafari, Kehtarnavaz 2015), Kinect v1, joint set ``kinect20``: MATLAB v5 file with ``d_skel``
  of shape (20, 3, T). Its Kinect stream covers the same interval as the wrist IMU recorded with it
  (``Inertial/aA_sS_tT_inertial.mat``, ``d_iner`` (N, 6) at 50 Hz) with fewer frames than 30 fps would give,
  so when that file exists the frame rate is ``T / (N / 50)`` Hz.

A body that is absent (or whose joints are all zero) for a few frames is filled by linear interpolation, at most
``MAX_GAP_S`` seconds per gap; frames before its first and after its last appearance are dropped. Every
problem with a file is a one-line ``InputError``.
"""
from __future__ import annotations

import dataclasses
import os
import re
from typing import Optional

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._gaps import trim_and_fill

__all__ = ["CAMERA_TO_WORLD", "NTU_FPS", "UTD_DEFAULT_FPS", "UTD_IMU_RATE_HZ", "MAX_GAP_S", "camera_to_world",
           "SkeletonClip", "read_ntu_skeleton", "read_utd_skeleton", "utd_inertial_path", "load_ntu_skeleton",
           "load_utd_skeleton"]

CAMERA_TO_WORLD = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
"""``v_world = CAMERA_TO_WORLD @ v_camera`` for Kinect camera space (x left of the sensor, y up, z depth)."""

NTU_FPS = 30.0
"""NTU RGB+D's Kinect v2 frame rate."""
UTD_DEFAULT_FPS = 30.0
"""UTD-MHAD skeleton rate used when no inertial file is found beside it (the nominal Kinect v1 rate)."""
UTD_IMU_RATE_HZ = 50.0
"""UTD-MHAD's inertial sensor rate."""
MAX_GAP_S = 0.5
"""Longest run of missing frames (seconds) filled by linear interpolation; a longer gap is refused."""

NTU_JOINTS = 25
UTD_JOINTS = 20


def camera_to_world(xyz) -> np.ndarray:
    """Kinect camera space ``(..., 3)`` to the z-up world: ``(x, y, z) -> (-x, z, y)``."""
    xyz = np.asarray(xyz, np.float64)
    return np.stack([-xyz[..., 0], xyz[..., 2], xyz[..., 1]], -1)


@dataclasses.dataclass(frozen=True)
class SkeletonClip:
    """One person's joints read from a dataset file, already in the z-up world.

    Attributes:
      joints: ``(T, J, 3)`` metres, world frame.
      confidence: ``None`` or ``(T, J)`` in [0, 1] (0 on interpolated frames).
      fps: frame rate in Hz.
      joint_set: ``ntu25`` or ``kinect20``.
      first_frame: index in the file of the clip's first frame (frames before the body appears are dropped).
      filled: ``(T,)`` bool, frames filled by interpolation.
      note: how the person and the frame rate were chosen, in words.
    """

    joints: np.ndarray
    confidence: Optional[np.ndarray]
    fps: float
    joint_set: str
    first_frame: int
    filled: np.ndarray
    note: str


# ---------------------------------------------------------------------------------------------------------------
# NTU RGB+D .skeleton
# ---------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class _NtuBody:
    body_id: str
    joints: np.ndarray      # (T, 25, 3) camera space, zeros where absent
    tracking: np.ndarray    # (T, 25) trackingState 0/1/2, zeros where absent
    present: np.ndarray     # (T,) bool: listed in the frame with at least one non-zero joint


def _parse_ntu(path: str) -> tuple[int, list[_NtuBody]]:
    try:
        with open(path, "r", encoding="ascii", errors="strict") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not an NTU RGB+D .skeleton text file (non-ASCII bytes)") from None
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    lines = [(i + 1, ln.split()) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    pos = 0
    n_frames = None

    def take(what: str, n_values: int) -> tuple[int, list[str]]:
        nonlocal pos
        if pos >= len(lines):
            header = "" if n_frames is None else f" (the header says {n_frames} frames)"
            raise InputError(f"{path}: truncated NTU .skeleton file: it ends while reading {what}{header}")
        lineno, tok = lines[pos]
        pos += 1
        if len(tok) != n_values:
            raise InputError(f"{path}: line {lineno}: expected {n_values} value(s) for {what}, got {len(tok)}")
        return lineno, tok

    def integer(what: str) -> int:
        lineno, tok = take(what, 1)
        try:
            v = int(tok[0])
        except ValueError:
            raise InputError(f"{path}: line {lineno}: {what} must be a whole number, got {tok[0]!r}") from None
        if v < 0:
            raise InputError(f"{path}: line {lineno}: {what} must not be negative, got {v}")
        return v

    n_frames = integer("the frame count")
    if n_frames == 0:
        raise InputError(f"{path}: the NTU .skeleton header says 0 frames")
    bodies: dict[str, _NtuBody] = {}
    for f in range(n_frames):
        n_bodies = integer(f"the body count of frame {f + 1}")
        seen = set()
        for b in range(n_bodies):
            what = f"frame {f + 1}, body {b + 1}"
            lineno, info = take(f"the info line of {what}", 10)
            body_id = info[0]
            if not re.fullmatch(r"-?\d+", body_id):
                raise InputError(f"{path}: line {lineno}: bodyID must be a whole number, got {body_id!r}")
            if body_id in seen:
                raise InputError(f"{path}: line {lineno}: body {body_id} appears twice in frame {f + 1}")
            seen.add(body_id)
            n_joints = integer(f"the joint count of {what}")
            if n_joints != NTU_JOINTS:
                raise InputError(f"{path}: {what} has {n_joints} joints; NTU RGB+D (Kinect v2) has {NTU_JOINTS}")
            rows = [take(f"joint {j + 1} of {what}", 12) for j in range(NTU_JOINTS)]
            try:
                vals = np.array([tok for _, tok in rows], dtype=np.float64)
            except ValueError:
                raise InputError(f"{path}: lines {rows[0][0]}-{rows[-1][0]}: joint values of {what} must be "
                                 "numbers") from None
            if not np.isfinite(vals).all():
                raise InputError(f"{path}: lines {rows[0][0]}-{rows[-1][0]}: {what} has NaN or infinite values")
            state = vals[:, 11]
            if not np.isin(state, (0, 1, 2)).all():
                raise InputError(f"{path}: lines {rows[0][0]}-{rows[-1][0]}: trackingState must be 0, 1 or 2")
            if body_id not in bodies:
                bodies[body_id] = _NtuBody(body_id, np.zeros((n_frames, NTU_JOINTS, 3)),
                                           np.zeros((n_frames, NTU_JOINTS)), np.zeros(n_frames, bool))
            body = bodies[body_id]
            body.joints[f] = vals[:, :3]
            body.tracking[f] = state
            body.present[f] = bool(np.any(vals[:, :3] != 0))
    if pos < len(lines):
        raise InputError(f"{path}: line {lines[pos][0]}: more data than the header's {n_frames} frames")
    return n_frames, list(bodies.values())


def read_ntu_skeleton(path: str | os.PathLike, *, body: int | None = None, fps: float | None = None
                      ) -> SkeletonClip:
    """Read one person from an NTU RGB+D ``.skeleton`` file (joint set ``ntu25``, world z-up, metres).

    Args:
      path: the ``.skeleton`` text file.
      body: which person, by index in the order of first appearance (0 is the first body ever listed). ``None``
        (default) takes the body present in the most frames (ties: the one that appears first).
      fps: frame rate; default ``NTU_FPS`` (30, NTU's Kinect v2 rate).

    The clip runs from the person's first to last frame; frames in between where they are missing or all their
    joints are zero are linearly interpolated (``MAX_GAP_S`` at most). ``confidence`` is trackingState / 2
    (tracked 1, inferred 0.5, not tracked 0) and 0 on interpolated frames.
    """
    path = os.fspath(path)
    fps = NTU_FPS if fps is None else float(fps)
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be positive and finite, got {fps}")
    n_frames, bodies = _parse_ntu(path)
    if not bodies:
        raise InputError(f"{path}: no body in any of its {n_frames} frames")
    if body is None:
        counts = [int(b.present.sum()) for b in bodies]
        k = int(np.argmax(counts))  # first maximum: ties go to the earliest body
        how = f"the body in the most frames ({counts[k]} of {n_frames})"
    else:
        if isinstance(body, bool) or not isinstance(body, (int, np.integer)):
            raise InputError(f"body must be an index (0, 1, ...), got {body!r}")
        if not 0 <= body < len(bodies):
            raise InputError(f"{path}: body {body} requested but the file has {len(bodies)} "
                             f"(indices 0-{len(bodies) - 1} in order of first appearance)")
        k = int(body)
        how = f"body index {k}"
    chosen = bodies[k]
    joints, filled, first = trim_and_fill(chosen.joints, chosen.present, fps, MAX_GAP_S,
                                       f"{path}: body {k} (bodyID {chosen.body_id})")
    conf = chosen.tracking[first:first + len(joints)] / 2.0
    conf[filled] = 0.0
    note = (f"NTU RGB+D bodyID {chosen.body_id}, {how}, of {len(bodies)} bodies; {int(filled.sum())} frames "
            f"interpolated; {fps:g} fps")
    return SkeletonClip(camera_to_world(joints), conf, fps, "ntu25", first, filled, note)


# ---------------------------------------------------------------------------------------------------------------
# UTD-MHAD *_skeleton.mat
# ---------------------------------------------------------------------------------------------------------------

def utd_inertial_path(path: str | os.PathLike) -> Optional[str]:
    """The inertial file recorded with a UTD-MHAD skeleton: ``.../Skeleton/aA_sS_tT_skeleton.mat`` ->
    ``.../Inertial/aA_sS_tT_inertial.mat`` (``None`` when the path does not follow that layout)."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    parent, leaf = os.path.split(folder)
    if leaf != "Skeleton" or not name.endswith("_skeleton.mat"):
        return None
    return os.path.join(parent, "Inertial", name[: -len("_skeleton.mat")] + "_inertial.mat")


def _loadmat(path: str, what: str) -> dict:
    import scipy.io

    try:
        return scipy.io.loadmat(path)
    except NotImplementedError:  # MATLAB v7.3 (HDF5)
        raise InputError(f"{path}: MATLAB v7.3 files are not supported; save {what} as v5 (-v7)") from None
    except Exception as e:  # MatReadError, ValueError, TypeError, OSError on truncated or foreign files
        msg = str(e).splitlines()[0] if str(e) else ""
        raise InputError(f"cannot read {path} as a MATLAB .mat file: {type(e).__name__}: {msg}".rstrip(": ")
                         ) from None


def read_utd_skeleton(path: str | os.PathLike, *, fps: float | None = None) -> SkeletonClip:
    """Read a UTD-MHAD ``*_skeleton.mat`` (``d_skel`` (20, 3, T), Kinect v1; joint set ``kinect20``).

    The frame rate is, in this order: ``fps`` when given; ``T / (N / 50)`` when the inertial file recorded with
    it exists (``utd_inertial_path``: ``Skeleton/..._skeleton.mat`` -> ``Inertial/..._inertial.mat`` with
    ``d_iner`` (N, 6) at 50 Hz), because the dataset's Kinect stream covers the same interval as the IMU with
    fewer frames (about 15-20 fps effective); else ``UTD_DEFAULT_FPS`` (30). Frames whose joints are all zero are
    interpolated as missing frames (``MAX_GAP_S`` at most).
    """
    path = os.fspath(path)
    data = _loadmat(path, "d_skel")
    if "d_skel" not in data:
        keys = ", ".join(k for k in sorted(data) if not k.startswith("__")) or "nothing"
        raise InputError(f"{path}: no variable 'd_skel' (found: {keys}); expected a UTD-MHAD *_skeleton.mat")
    skel = np.asarray(data["d_skel"])
    if skel.dtype.kind not in "fiu":
        raise InputError(f"{path}: d_skel must be numeric, got {skel.dtype}")
    if skel.ndim == 2 and skel.shape == (UTD_JOINTS, 3):
        skel = skel[:, :, None]  # MATLAB drops a trailing singleton dimension
    if skel.ndim != 3 or skel.shape[:2] != (UTD_JOINTS, 3):
        raise InputError(f"{path}: d_skel must have shape ({UTD_JOINTS}, 3, T), got {skel.shape}")
    cam = np.transpose(skel.astype(np.float64), (2, 0, 1))  # (T, 20, 3)
    if not np.isfinite(cam).all():
        raise InputError(f"{path}: d_skel has NaN or infinite values")
    T = cam.shape[0]
    if fps is not None:
        fps, how = float(fps), "given"
        if not (np.isfinite(fps) and fps > 0):
            raise InputError(f"fps must be positive and finite, got {fps}")
    else:
        iner = utd_inertial_path(path)
        if iner is not None and os.path.exists(iner):
            d = _loadmat(iner, "d_iner")
            n = np.asarray(d.get("d_iner", np.zeros((0, 0))))
            if n.ndim != 2 or n.shape[1] != 6 or n.shape[0] < 1:
                raise InputError(f"{iner}: expected d_iner of shape (N, 6) to set the skeleton's frame rate, got "
                                 f"{n.shape if 'd_iner' in d else 'no d_iner'}; pass fps (--fps) instead")
            fps = T / (n.shape[0] / UTD_IMU_RATE_HZ)
            how = f"{T} frames over the {n.shape[0]} samples at {UTD_IMU_RATE_HZ:g} Hz of {os.path.basename(iner)}"
        else:
            fps, how = UTD_DEFAULT_FPS, "default (no inertial file beside it)"
    present = np.any(cam != 0, axis=(1, 2))
    joints, filled, first = trim_and_fill(cam, present, fps, MAX_GAP_S, path)
    conf = None
    if filled.any():
        conf = np.ones(joints.shape[:2])
        conf[filled] = 0.0
    note = f"UTD-MHAD skeleton, {fps:.4g} fps ({how}); {int(filled.sum())} frames interpolated"
    return SkeletonClip(camera_to_world(joints), conf, fps, "kinect20", first, filled, note)


# ---------------------------------------------------------------------------------------------------------------
# As Motions
# ---------------------------------------------------------------------------------------------------------------

def load_ntu_skeleton(path, *, body: int | None = None, fps: float | None = None):
    """``read_ntu_skeleton`` as a ``Motion`` (``ntu25``, with the tracking confidence)."""
    from imusim_jax._motion import Motion

    c = read_ntu_skeleton(path, body=body, fps=fps)
    return Motion.create(c.joints, c.fps, c.joint_set, confidence=c.confidence)


def load_utd_skeleton(path, *, fps: float | None = None):
    """``read_utd_skeleton`` as a ``Motion`` (``kinect20``)."""
    from imusim_jax._motion import Motion

    c = read_utd_skeleton(path, fps=fps)
    return Motion.create(c.joints, c.fps, c.joint_set, confidence=c.confidence)
