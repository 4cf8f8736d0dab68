"""Person selection: which of a backend's candidate tracks are people, and one track per person.

``select_people(tracks, fps, config)``:

1. per frame, a pose that does not sit on its tracker box is dropped (``_gate_frames``: the pose model latched
   onto something else);
2. a track is a person when the pose model finds one in enough of its frames without a break and its keypoints
   move smoothly (``pose_jitter``: hallucinated poses jump);
3. tracks on the same person are merged (``_same_person``, ``_merge``);
4. frames where the model lost a tracked person near frames where it had them keep the nearest posture, moved
   with the box (``anchor_to_boxes``: a fall too blurred for the model still moves the body).

Every dropped track is reported with the reason (``dropped_tracks`` in ``OUTDIR/meta.json``).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from imusim_jax._motion import MIN_FRAMES
from imusim_jax.pose.config import PoseConfig
from imusim_jax.pose.types import PersonTrack

__all__ = ["anchor_to_boxes", "pose_jitter", "relink", "select_people", "split_at_jumps"]


def pose_jitter(person: PersonTrack) -> float:
    """Frame-to-frame jitter of a track's 2D keypoints relative to the body's size (dimensionless).

    The robust spread (median absolute value over joints and frames, scaled to a standard deviation of white
    noise) of the keypoints' third differences over runs of consecutive frames with pose, each frame's keypoints
    divided by their box diagonal. Third differences cancel any motion of constant acceleration, so a real fall
    barely counts; a pose the model hallucinates on furniture or a blurred crowd jumps from frame to frame. On the
    shared clips (and their mirror images) the real people read 0.002-0.06. ``inf`` when fewer than three
    frames have three consecutive neighbours (the jitter cannot be told).
    """
    found = person.pose_found
    kp = person.keypoints2d[..., :2].astype(np.float64)
    size = np.linalg.norm(np.ptp(kp, axis=1), axis=-1)
    rel = kp / np.maximum(size, 1.0)[:, None, None]
    ok = found[3:] & found[2:-1] & found[1:-2] & found[:-3]
    if ok.sum() < 3:
        return float("inf")
    d3 = (rel[3:] - 3 * rel[2:-1] + 3 * rel[1:-2] - rel[:-3])[ok]
    return float(np.median(np.abs(d3)) / 0.6745 / np.sqrt(20.0))


def anchor_to_boxes(person: PersonTrack, fps: float, max_gap_s: float, confidence: float) -> PersonTrack:
    """Fill frames where the pose model lost a tracked person: the nearest observed pose, moved with the box.

    For a frame without pose but with a tracker box, within ``max_gap_s`` of a frame with pose: the 2D keypoints
    are those of the nearest posed frame translated by the change of the box centre, the 3D pose is held, and the
    confidence is at most ``confidence``. The body keeps its last seen posture and its global motion follows the
    box: a fall too blurred for the pose model still moves the whole body down.
    """
    found = person.pose_found
    has_box = np.ones(len(found), bool) if person.has_box is None else person.has_box
    posed = np.flatnonzero(found)
    kp, j3, c3 = person.keypoints2d.copy(), person.joints3d_cam.copy(), person.conf3d.copy()
    anchored = np.zeros(len(found), bool)
    if len(posed) == 0:
        return dataclasses.replace(person, anchored=anchored)
    centre = (person.boxes[:, :2] + person.boxes[:, 2:]) / 2
    for t in np.flatnonzero(~found & has_box):
        n = posed[np.argmin(np.abs(posed - t))]
        if abs(n - t) > max_gap_s * fps:
            continue
        kp[t] = kp[n]
        kp[t, :, :2] += centre[t] - centre[n]
        kp[t, :, 2] = np.minimum(kp[n, :, 2], confidence)
        j3[t], c3[t] = j3[n], np.minimum(c3[n], confidence)
        anchored[t] = True
    return dataclasses.replace(person, keypoints2d=kp, joints3d_cam=j3, conf3d=c3, anchored=anchored)


def _gate_frames(p: PersonTrack) -> PersonTrack:
    """Drop poses that do not sit on the tracker's box (the pose model latched onto something else)."""
    from imusim_jax.pose.mediapipe_backend import box_consistent, keypoint_box

    found = p.pose_found.copy()
    has_box = np.ones(len(found), bool) if p.has_box is None else p.has_box
    for t in np.flatnonzero(found & has_box):
        kb = keypoint_box(p.keypoints2d[t], pad=0.0)
        if kb is None or not box_consistent(kb, p.boxes[t]):
            found[t] = False
    kp = p.keypoints2d.copy()
    kp[~found, :, 2] = 0.0
    j3 = np.where(found[:, None, None], p.joints3d_cam, np.nan)
    return dataclasses.replace(p, keypoints2d=kp, joints3d_cam=j3, conf3d=np.where(found[:, None], p.conf3d, 0.0),
                               pose_found=found)


def _same_person(p: PersonTrack, q: PersonTrack) -> bool:
    """Two tracks follow the same person: in most frames both have a pose, their poses' boxes overlap (IoU >=
    0.5) or their heads and torsos coincide (median distance of nose, shoulders and hips under half the
    shoulder-to-hip length: a full-body pose and an upper-body pose of the same person have different boxes)."""
    from imusim_jax.pose.mediapipe_backend import keypoint_box
    from imusim_jax.pose.tracking import box_iou

    _, a, b = np.intersect1d(p.frames, q.frames, return_indices=True)
    both = p.pose_found[a] & q.pose_found[b]
    if both.sum() == 0:
        return False
    same = []
    for i, j in zip(a[both], b[both]):
        ka, kb = keypoint_box(p.keypoints2d[i], pad=0.0), keypoint_box(q.keypoints2d[j], pad=0.0)
        if ka is not None and kb is not None and box_iou(ka, kb)[0, 0] >= 0.5:
            same.append(True)
            continue
        P, Q = p.keypoints2d[i], q.keypoints2d[j]
        if P.shape[0] > 24:  # mediapipe33: nose 0, shoulders 11-12, hips 23-24
            torso = np.linalg.norm(P[[11, 12], :2].mean(0) - P[[23, 24], :2].mean(0))
            d = np.median(np.linalg.norm(P[[0, 11, 12, 23, 24], :2] - Q[[0, 11, 12, 23, 24], :2], axis=-1))
            same.append(bool(torso > 1 and d < 0.5 * torso))
        else:
            same.append(False)
    return bool(np.mean(same) > 0.5)


def _merge(p: PersonTrack, q: PersonTrack) -> PersonTrack:
    """``p`` completed by ``q`` (the same person): over the union of their frames, ``p``'s pose and box where it
    has them, else ``q``'s."""
    frames = np.arange(min(p.frames[0], q.frames[0]), max(p.frames[-1], q.frames[-1]) + 1)
    T = len(frames)

    def spread(x: PersonTrack):
        idx = x.frames - frames[0]
        hb = np.ones(len(x.frames), bool) if x.has_box is None else x.has_box
        out = dict(kp=np.zeros((T,) + x.keypoints2d.shape[1:], np.float32),
                   j3=np.full((T,) + x.joints3d_cam.shape[1:], np.nan, np.float32),
                   c3=np.zeros((T,) + x.conf3d.shape[1:], np.float32), box=np.zeros((T, 4), np.float32),
                   found=np.zeros(T, bool), has_box=np.zeros(T, bool))
        out["kp"][idx], out["j3"][idx], out["c3"][idx] = x.keypoints2d, x.joints3d_cam, x.conf3d
        out["box"][idx], out["found"][idx], out["has_box"][idx] = x.boxes, x.pose_found, hb
        return out

    A, B = spread(p), spread(q)
    use_b = ~A["found"] & B["found"]
    box_b = ~A["has_box"] & B["has_box"]
    pick = lambda k, m: np.where(m.reshape((-1,) + (1,) * (A[k].ndim - 1)), B[k], A[k])
    return dataclasses.replace(p, frames=frames, keypoints2d=pick("kp", use_b), joints3d_cam=pick("j3", use_b),
                               conf3d=pick("c3", use_b), boxes=pick("box", box_b | (use_b & ~A["has_box"])),
                               pose_found=A["found"] | B["found"], has_box=A["has_box"] | B["has_box"])


def _longest_run(mask: np.ndarray, bridge: int = 0) -> int:
    """Frames with True in the longest run of a 1D bool array, runs joined across gaps of at most ``bridge``."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return 0
    breaks = np.flatnonzero(np.diff(idx) > bridge + 1)
    starts, stops = np.r_[0, breaks + 1], np.r_[breaks, len(idx) - 1]
    return int((stops - starts + 1).max())


def _trim(p: PersonTrack, use: np.ndarray) -> PersonTrack:
    idx = np.flatnonzero(use)
    return _sliced(p, slice(idx[0], idx[-1] + 1))


def _sliced(p: PersonTrack, sl: slice) -> PersonTrack:
    opt = lambda x: None if x is None else x[sl]
    return dataclasses.replace(p, frames=p.frames[sl], keypoints2d=p.keypoints2d[sl],
                               joints3d_cam=p.joints3d_cam[sl], conf3d=p.conf3d[sl], boxes=p.boxes[sl],
                               pose_found=p.pose_found[sl], has_box=opt(p.has_box), anchored=opt(p.anchored),
                               appearance=opt(p.appearance))


def _pose_boxes(p: PersonTrack) -> tuple[np.ndarray, np.ndarray]:
    """Frames (indices into ``p``) with a pose whose keypoint box exists, and those boxes (n, 4)."""
    from imusim_jax.pose.mediapipe_backend import keypoint_box

    idx, boxes = [], []
    for t in np.flatnonzero(p.pose_found):
        b = keypoint_box(p.keypoints2d[t], pad=0.0)
        if b is not None:
            idx.append(t)
            boxes.append(b)
    return np.asarray(idx, int), np.asarray(boxes, np.float64).reshape(-1, 4)


def split_at_jumps(p: PersonTrack, fps: float, max_speed_bodies: float) -> list[PersonTrack]:
    """``p`` cut where its pose jumps: between two posed frames ``dt`` seconds apart, the keypoint box's centre
    moves by more than ``0.1 + max_speed_bodies * dt`` body sizes (the track's median keypoint-box diagonal), a
    displacement no body makes (the pose model swapped to someone or something else). Frames without pose stay
    with the piece before them."""
    idx, boxes = _pose_boxes(p)
    if len(idx) < 2:
        return [p]
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = max(float(np.median(np.linalg.norm(boxes[:, 2:] - boxes[:, :2], axis=1))), 1.0)
    move = np.linalg.norm(np.diff(c, axis=0), axis=1) / size
    cuts = idx[1:][move > 0.1 + max_speed_bodies * np.diff(idx) / fps]
    edges = [0, *cuts.tolist(), len(p.frames)]
    return [_sliced(p, slice(a, b)) for a, b in zip(edges[:-1], edges[1:])]


def _segment(p: PersonTrack):
    """``p`` as a ``pose.tracking.Segment`` (its posed frames' keypoint boxes), or ``None`` without a pose."""
    from imusim_jax.pose.tracking import Segment

    idx, boxes = _pose_boxes(p)
    if len(idx) == 0:
        return None
    c = (boxes[:, :2] + boxes[:, 2:]) / 2

    def velocity(k):  # px/frame over up to 5 posed frames
        if len(k) < 2 or idx[k[-1]] == idx[k[0]]:
            return np.zeros(2)
        return (c[k[-1]] - c[k[0]]) / (idx[k[-1]] - idx[k[0]])

    hist = None
    if p.appearance is not None:
        rows = p.appearance[p.appearance.sum(1) > 0]
        hist = rows.mean(0) if len(rows) else None
    n = len(idx)
    return Segment(int(p.frames[idx[0]]), int(p.frames[idx[-1]]), boxes[0], boxes[-1],
                   velocity(np.arange(max(0, n - 5), n)), velocity(np.arange(min(n, 5))), hist)


def relink(people: list[PersonTrack], fps: float, cfg: PoseConfig) -> list[PersonTrack]:
    """Tracks that survive breaks: each track is cut where its pose jumps (``split_at_jumps``), then the pieces of
    all tracks are joined into one track per person (``pose.tracking.relink_segments``: by where each piece was
    heading and by its colours), so a person keeps their identity through a pose model's swap, a crossing, or
    leaving the picture and coming back. Pieces without a pose are dropped; the result has no ``appearance``."""
    from imusim_jax.pose.tracking import relink_segments

    pieces = [q for p in people for q in split_at_jumps(p, fps, cfg.max_jump_bodies_per_s)]
    segs = [_segment(q) for q in pieces]
    keep = [k for k, sg in enumerate(segs) if sg is not None]
    chains = relink_segments([segs[k] for k in keep], fps, max_gap_s=cfg.relink_gap_s,
                             max_appearance=cfg.relink_max_appearance)
    out = []
    for chain in chains:
        q = pieces[keep[chain[0]]]
        for k in chain[1:]:
            q = _merge(q, pieces[keep[k]])
        out.append(dataclasses.replace(q, appearance=None))
    return out


def select_people(people: list[PersonTrack], fps: float, cfg: PoseConfig) -> tuple[list[PersonTrack], list]:
    """Turn tracks into people.

    1. Per frame, a pose that does not sit on the tracker's box is dropped (``_gate_frames``).
    2. A track is a person when the pose model followed one in at least 0.25 s of frames without a break (dropouts
       up to 0.1 s allowed) and its keypoints move smoothly (``pose_jitter <= max_jitter``).
    3. Tracks on the same person (their poses overlap) are merged, the one with the most poses first.
    4. Frames without pose are filled from the box near poses (``anchor_to_boxes``); the track is trimmed to
       the frames with a pose or an anchored pose; ids are renumbered in order of appearance.
    """
    from imusim_jax.pose.world import WorldConfig

    wc = WorldConfig()
    dropped, kept = [], []
    min_frames = max(MIN_FRAMES, int(np.ceil(0.25 * fps)))
    bridge = int(round(0.1 * fps))  # a pose model that drops out for 0.1 s has not lost the person

    def drop(p, why):
        dropped.append({"track": p.id, "frames": int(len(p.frames)), "posed": int(p.pose_found.sum()), "why": why})

    people = relink(people, fps, cfg) if cfg.relink else [dataclasses.replace(p, appearance=None) for p in people]
    for p in people:
        p = _gate_frames(p)
        if _longest_run(p.pose_found, bridge) < min_frames:
            drop(p, f"pose followed in fewer than {min_frames} frames without a break")
            continue
        jit = pose_jitter(p)
        if not jit <= cfg.max_jitter:
            drop(p, f"pose jitters by {jit:.3f} of the body size per frame (a hallucination; limit {cfg.max_jitter})")
            continue
        kept.append((p, jit))
    kept.sort(key=lambda pj: (-int(pj[0].pose_found.sum()), pj[1]))
    unique: list[PersonTrack] = []
    for p, _ in kept:
        k = next((k for k, q in enumerate(unique) if _same_person(p, q)), None)
        if k is None:
            unique.append(p)
        else:
            drop(p, f"same person as track {unique[k].id}: merged")
            unique[k] = _merge(unique[k], p)
    if cfg.max_people is not None:
        for p in unique[cfg.max_people:]:
            drop(p, f"beyond --max-people {cfg.max_people}")
        unique = unique[: cfg.max_people]
    out = []
    for p in unique:
        p = anchor_to_boxes(p, fps, wc.max_gap_s, wc.min_confidence)
        out.append(_trim(p, p.pose_found | p.anchored))
    out.sort(key=lambda p: (int(p.frames[0]), p.id))
    return [dataclasses.replace(p, id=n) for n, p in enumerate(out)], dropped

