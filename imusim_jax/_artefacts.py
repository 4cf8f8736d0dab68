"""Tracking artefacts of real skeletons, found and repaired before anything is differentiated.

Every real skeleton stream (a Kinect, an Azure Kinect, a video pose model) has two kinds of frames that are not a
body's motion, and a simulator that differentiates them twice turns each into a spike of tens to thousands of
m/s^2 (SmartFallMM's Azure Kinect: a wrist moving 14 cm between two frames reads 353 m/s^2):

* **held frames**: the tracker repeats its last pose when it loses the body (every coordinate of every joint equal
  to the previous frame's: median 1 % of SmartFallMM's frames, 25-60 % in many of its falls, a 1-3 s freeze while
  the person goes down). A real body at rest still jitters by millimetres, so an exact repeat is the tracker, not
  the body: held frames are missing, not a body at rest followed by a jump.
* **jumps**: a joint that moves in one frame in a way no body does: its velocity changing by more than
  ``max_speed_change_mps`` (3 m/s) between two consecutive frame intervals, i.e. a second difference above
  ``max_speed_change_mps * fps`` (90 m/s^2 at 30 fps; below 30 fps the same 90 m/s^2, since a body's own
  velocity change between frames grows with the frame interval: UTD-MHAD's Kinect at 15-19 fps had throws and
  punches repaired as jumps, and its |a| envelope fell from 0.768 to 0.762), and ``margin_frames`` (1) either side
  of it. Voluntary
  motion stays inside (a fist at the end of a punch: UTD-MHAD's real wrist reads 41 m/s^2; Kinect jitter of a
  few cm: 50-60 m/s^2 of second difference at 30 fps); a tracking glitch of 10-60 cm reads 2 d fps^2 =
  180-1100 m/s^2. A hand meeting the floor at 3-4 m/s may exceed it: see ``MAX_SPEED_CHANGE_MPS``.

``find_artefacts`` returns which joint-frames to treat as missing: held frames (every joint), and for each joint,
greedily, the frame whose removal best explains its largest implausible second difference (the glitched frame of
a spike, either side of a step, the edge frame of a clip that starts or ends on a glitch), until none is left.
``repair_artefacts`` gives those joints confidence 0 and interpolates them over time (``Motion.create``:
``imusim_jax.fill_gaps``, a shape-preserving cubic; runs at a clip's ends held at the nearest tracked frame),
and reports per clip what it found (``SkeletonQuality``). ``imusim_jax.load_motion`` does this for every file it
reads (``repair=False`` to keep a file's frames as they are). A synthetic clip has neither artefact and comes out
unchanged (a clip at rest throughout is held from start to end, and is filled with the pose it holds).

NumPy, host side, like the rest of what ``prepare`` and the readers do before anything is compiled.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from imusim_jax._errors import InputError

__all__ = ["SkeletonQuality", "find_artefacts", "repair_artefacts", "MAX_SPEED_CHANGE_MPS", "MARGIN_FRAMES"]

MAX_SPEED_CHANGE_MPS = 3.0
"""The largest change of a joint's velocity between two consecutive frame intervals kept as measured, m/s
(glitches change it by 6-40 m/s at 30 fps; Kinect jitter by up to 2). A real contact can exceed it (a hand
stopping on the floor from 3-4 m/s): its frame is interpolated like a glitch's, the velocity change survives
(the frames either side of it are kept), and the contact model (``imusim_jax.ImpactModel``) puts the stop back
at its physical sharpness."""

MARGIN_FRAMES = 1
"""Frames either side of a jump also treated as missing: where a tracker glitched it is unsure next to it
(SmartFallMM development subjects: daily activities' median whole-clip peak ratio 1.49 with none, 1.24 with 1)."""

HARD_SPEED_CHANGE_MPS = 8.0
"""A velocity change between consecutive frame intervals that no body makes, m/s: a jump whatever the bones say."""

_FPS_FLOOR = 30.0  # below this frame rate the jump limits hold as accelerations (the module docstring)
_BONE_FRAMES = 2000  # frames the nearest joints and their median distances are judged on
_BONE_TOL = 0.2  # a joint whose distance to a near joint is off its median by 20 %: the skeleton is broken there
_MAX_REPAIRED = 0.5  # a joint losing more than this fraction of its frames to jumps: its track is noise; stop


@dataclasses.dataclass(frozen=True)
class SkeletonQuality:
    """What ``find_artefacts`` found in one clip.

    Attributes:
      frames: frames in the clip.
      held_frames: frames that repeat the previous one exactly (every joint).
      longest_held_s: the longest run of held frames, seconds.
      jump_values: joint-frames removed as jumps (not counting held frames).
      jump_frames: frames in which at least one joint was removed as a jump.
      repaired_fraction: joint-frames treated as missing (held or jump) over all joint-frames.
      quality: ``1 - repaired_fraction`` over the frames: the share of the clip that is the tracker's
        own measurement (1 for a clean clip).
    """

    frames: int
    held_frames: int
    longest_held_s: float
    jump_values: int
    jump_frames: int
    repaired_fraction: float

    @property
    def quality(self) -> float:
        return 1.0 - self.repaired_fraction

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "quality": self.quality}


def _held(x: np.ndarray) -> np.ndarray:
    """``(T,)``: frame equal to the previous one in every finite coordinate (and not all-NaN)."""
    flat = x.reshape(len(x), -1)
    same = np.all((flat[1:] == flat[:-1]) | ~np.isfinite(flat[1:]), axis=1) & np.isfinite(flat[1:]).any(axis=1)
    return np.concatenate([[False], same])


def _second_differences(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``|d^2 x / dt^2|`` at the interior points of a non-uniform series (``t`` (n,), ``x`` (n, 3)): ``(n - 2,)``."""
    dt = np.diff(t)
    v = np.diff(x, axis=0) / dt[:, None]
    return np.linalg.norm(np.diff(v, axis=0), axis=1) / (0.5 * (dt[1:] + dt[:-1]))


def _jumps_of_joint(t: np.ndarray, x: np.ndarray, limit: float, hard: float, broken: np.ndarray) -> list[int]:
    """Indices (into ``t``) of the points of one joint's series to drop; greedy: at the largest second
    difference above ``limit``, drop whichever of its three points leaves the smallest largest violation nearby
    (a spike's middle point, one side of a step, an edge point), among those that are glitches by a second
    witness: a second difference above ``hard``, or the joint's bones out of length there (``broken``, per
    point). A violation no point of which is a glitch is fast real motion (a throw's release) and stays."""
    keep = np.ones(len(t), bool)
    exempt = np.zeros(len(t), bool)  # centre points of violations judged real
    dropped: list[int] = []
    cap = int(_MAX_REPAIRED * len(t))
    while len(dropped) <= cap:
        idx = np.flatnonzero(keep)
        if len(idx) < 4:
            break
        a = _second_differences(t[idx], x[idx])
        a_open = np.where(exempt[idx[1:-1]], 0.0, a)
        i = int(np.argmax(a_open))
        if a_open[i] <= limit:
            break
        best, best_val = None, np.inf
        for c in (i, i + 1, i + 2):  # the three points of second difference i (interior point i + 1)
            if not (a[i] > hard or broken[idx[c]]):
                continue
            lo, hi = max(0, i - 3), min(len(idx), i + 6)
            sub = np.delete(idx[lo:hi], c - lo)
            val = _second_differences(t[sub], x[sub]).max(initial=0.0) if len(sub) >= 3 else 0.0
            if val < best_val:
                best, best_val = c, val
        if best is None:
            exempt[idx[i + 1]] = True
            continue
        keep[idx[best]] = False
        dropped.append(int(idx[best]))
    return dropped


def _bones_broken(x: np.ndarray, ok: np.ndarray, tol: float = _BONE_TOL) -> np.ndarray:
    """``(T, J)``: joint ``j``'s distance to one of its two nearest joints (by median distance, at least 3 cm
    apart) off its median by more than ``tol`` (a fraction) in that frame: the skeleton is broken there. The
    nearest joints are chosen on at most ``_BONE_FRAMES`` frames spread over the clip; the distances of those pairs
    only are then taken in every frame (memory ``T x J x 2``, not ``T x J x J``: a 55-minute clip stays small)."""
    T, J, _ = x.shape
    sub = np.unique(np.linspace(0, T - 1, min(T, _BONE_FRAMES)).astype(int))
    d = np.linalg.norm(x[sub, :, None, :] - x[sub, None, :, :], axis=-1)  # (S, J, J)
    both = ok[sub, :, None] & ok[sub, None, :]
    with warnings.catch_warnings():  # a pair of joints never seen together: no median (NaN), and no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(np.where(both, d, np.nan), axis=0)  # (J, J)
    out = np.zeros((T, J), bool)
    for j in range(J):
        m = np.where(np.isfinite(med[j]) & (med[j] > 0.03), med[j], np.inf)
        m[j] = np.inf
        for k in np.argsort(m)[:2]:
            if np.isfinite(m[k]):
                dk = np.linalg.norm(x[:, j] - x[:, k], axis=-1)  # (T,), every frame
                out[:, j] |= ok[:, j] & ok[:, k] & (np.abs(dk / m[k] - 1.0) > tol)
    return out


def find_artefacts(joints, fps: float, *, valid=None, max_speed_change_mps: float = MAX_SPEED_CHANGE_MPS,
                   margin_frames: int = MARGIN_FRAMES) -> tuple[np.ndarray, SkeletonQuality]:
    """Held frames and jumps of one clip (see the module docstring).

    Args:
      joints: ``(T, J, 3)`` positions, metres (any fixed frame).
      fps: frame rate, Hz.
      valid: optional ``(T, J)`` mask of joints already known (False: missing, e.g. confidence 0); missing joints
        are neither judged nor used to judge.
      max_speed_change_mps: the largest velocity change of a joint between consecutive frame intervals, m/s.
      margin_frames: frames either side of a jump also treated as missing.
    Returns:
      ``(missing (T, J) bool, SkeletonQuality)``: the joint-frames to treat as missing (held frames and jumps;
      not those already missing in ``valid``) and the clip's figures.
    """
    x = np.asarray(joints, np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise InputError(f"joints must have shape (T, J, 3), got {x.shape}")
    if not fps > 0 or not max_speed_change_mps > 0 or int(margin_frames) != margin_frames or margin_frames < 0:
        raise InputError(f"fps and max_speed_change_mps must be positive and margin_frames a whole number >= 0, got "
                         f"{fps}, {max_speed_change_mps}, {margin_frames}")
    T, J, _ = x.shape
    ok = np.isfinite(x).all(-1) if valid is None else (np.asarray(valid, bool) & np.isfinite(x).all(-1))
    held = _held(np.where(ok[..., None], x, np.nan))
    # a clip held from start to end (a synthetic body at rest) is the pose it holds, not a lost track
    if held[1:].all():
        held = np.zeros(T, bool)
    missing = np.zeros((T, J), bool)
    missing[held] = ok[held]
    good = ok & ~missing
    t = np.arange(T) / float(fps)
    limit = max_speed_change_mps * max(float(fps), _FPS_FLOOR)
    hard = HARD_SPEED_CHANGE_MPS * max(float(fps), _FPS_FLOOR)
    broken = _bones_broken(np.where(good[..., None], x, np.nan), good) if J > 1 else np.zeros((T, J), bool)
    jumps = np.zeros((T, J), bool)
    for j in range(J):
        rows = np.flatnonzero(good[:, j])
        if len(rows) < 4:
            continue
        for r in _jumps_of_joint(t[rows], x[rows, j], limit, hard, broken[rows, j]):
            jumps[rows[r], j] = True
    for _ in range(margin_frames):  # a tracker that glitched is unsure in the frames beside the glitch too
        near = jumps.copy()
        near[1:] |= jumps[:-1]
        near[:-1] |= jumps[1:]
        jumps = near & good
    missing |= jumps
    runs = np.diff(np.concatenate([[0], held.astype(np.int8), [0]]))
    longest = int((np.flatnonzero(runs == -1) - np.flatnonzero(runs == 1)).max(initial=0))
    quality = SkeletonQuality(frames=T, held_frames=int(held.sum()), longest_held_s=longest / float(fps),
                              jump_values=int(jumps.sum()), jump_frames=int(jumps.any(1).sum()),
                              repaired_fraction=float(missing.sum() / max(1, T * J)))
    return missing, quality


def repair_artefacts(motion, *, max_speed_change_mps: float = MAX_SPEED_CHANGE_MPS,
                     margin_frames: int = MARGIN_FRAMES):
    """``motion`` with its held frames and jumps (``find_artefacts``) given confidence 0 and interpolated over
    time, and the figures of each clip.

    Args:
      motion: a ``Motion`` (one clip or a batch; a batch is repaired clip by clip over its valid frames).
      max_speed_change_mps, margin_frames: see ``find_artefacts``.
    Returns:
      ``(Motion, SkeletonQuality)`` for one clip, ``(Motion, [SkeletonQuality, ...])`` for a batch. A clip
      without artefacts comes back as it was (the same object when no clip has any).
    """
    from imusim_jax._motion import Motion

    if not isinstance(motion, Motion):
        raise InputError(f"repair_artefacts takes a Motion, got {type(motion).__name__}")
    X = np.asarray(motion.joints, np.float64)
    C = None if motion.confidence is None else np.asarray(motion.confidence, np.float64)
    fps = np.broadcast_to(np.asarray(motion.fps, np.float64), X.shape[:-3])
    lengths = None if motion.lengths is None else np.asarray(motion.lengths)
    Xb, Cb = (X, C) if motion.batched else (X[None], None if C is None else C[None])
    fpsb = fps if motion.batched else fps[None]
    out_x, out_c, reports, changed = Xb.copy(), (np.ones(Xb.shape[:-1]) if Cb is None else Cb.copy()), [], False
    for b in range(Xb.shape[0]):
        n = Xb.shape[1] if lengths is None else int(lengths[b])
        valid = None if Cb is None else Cb[b, :n] > 0
        miss, rep = find_artefacts(Xb[b, :n], float(fpsb[b]), valid=valid, max_speed_change_mps=max_speed_change_mps,
                                   margin_frames=margin_frames)
        reports.append(rep)
        if miss.any():
            changed = True
            out_x[b, :n][miss] = np.nan
            out_c[b, :n][miss] = 0.0
    if not changed:
        return motion, (reports if motion.batched else reports[0])
    if not motion.batched:
        out_x, out_c = out_x[0], out_c[0]
    fixed = Motion.create(out_x, np.asarray(motion.fps), motion.joint_set, confidence=out_c,
                          lengths=None if lengths is None else lengths)
    return fixed, (reports if motion.batched else reports[0])

