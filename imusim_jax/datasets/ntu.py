"""NTU RGB+D (Shahroudy et al. 2016; NTU RGB+D 120, Liu et al. 2019) ``.skeleton`` text files: Kinect v2,
joint set ``ntu25``, 30 fps. Layout: the frame count; per frame a body count; per body a 10-value info line
(bodyID first), a joint count (25) and 25 lines of 12 values ``x y z depthX depthY colorX colorY orientW orientX
orientY orientZ trackingState``, camera space (``imusim_jax.datasets.kinect``). Registered as the ``motion``
reader ``ntu-skeleton`` (``.skeleton``)."""
from __future__ import annotations

import dataclasses
import os
import re

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._gaps import trim_and_fill
from imusim_jax._motion import Motion, check_time_base
from imusim_jax.datasets.kinect import MAX_GAP_S, SkeletonClip, camera_to_world, check_native_joint_set
from imusim_jax.io.registry import register_reader

__all__ = ["NTU_FPS", "read_ntu_skeleton", "load_ntu_skeleton"]

NTU_FPS = 30.0
"""NTU RGB+D's Kinect v2 frame rate."""
NTU_JOINTS = 25


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
    fps = float(check_time_base(NTU_FPS if fps is None else fps, None, None)[0])
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


def load_ntu_skeleton(path, *, body: int | None = None, fps: float | None = None,
                      joint_set: str | None = None) -> Motion:
    """``read_ntu_skeleton`` as a ``Motion`` (``ntu25``, with the tracking confidence)."""
    check_native_joint_set(os.fspath(path), "ntu25", joint_set)
    c = read_ntu_skeleton(path, body=body, fps=fps)
    return Motion.create(c.joints, c.fps, c.joint_set, confidence=c.confidence)


register_reader("motion", "ntu-skeleton", (".skeleton",), load_ntu_skeleton, options=("body", "fps", "joint_set"),
                description="NTU RGB+D Kinect v2 skeleton text (ntu25, 30 fps; body= picks a person)")
