"""The MediaPipe backend's people: person boxes tracked over the video, then each person followed by their own
BlazePose (33 landmarks in pixels and metric 3D world landmarks). No weights to fetch.

``mediapipe_people(video, config, every)`` runs three passes over the video:

1. **Proposals** (``_detect_mediapipe``): boxes from OpenCV's HOG pedestrian detector (``pose.hog``, upright
   people, frame resized so people ~60 px tall are found), from BlazePose itself on the whole frame (any
   posture, one person per frame) and, for a static camera, from moving blobs (``pose.foreground``: every frame,
   so a blurred fall is followed), tracked with ids (``pose.tracking.IouTracker``). Every proposal is checked by
   the pose model before it counts.
2. **Pose per track** (``_pose_mediapipe``): each track gets its own BlazePose (``PersonFollower``: a steady crop
   around the person, following the previous frame's landmarks and, when those are lost, the tracker's box).
3. **Backward** (``_follow_backward``): a person is followed back in time from the first frame BlazePose found
   them in (a fall is blurred, the landing is not).

The tracks it returns are candidates; ``pose.selection.select_people`` decides which are people.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from imusim_jax._motion import MIN_FRAMES
from imusim_jax.pose._common import progress as _progress
from imusim_jax.pose._common import sha256 as _sha256
from imusim_jax.pose.config import PoseConfig
from imusim_jax.pose.tracking import IouTracker
from imusim_jax.pose.types import Detections, PersonTrack, Track
from imusim_jax.pose.video import Video

__all__ = ["mediapipe_people"]


def mediapipe_people(video: Video, cfg: PoseConfig, every: int, shared=None) -> tuple[list[PersonTrack], dict]:
    """Candidate people of ``video`` (three passes, see the module docstring), person boxes proposed every
    ``every`` frames; returns ``(tracks, meta)`` with ``meta`` the detector, per-frame detection counts and the
    models used (name, path, sha256). ``shared``: the BlazePose graphs to run (``SharedModels``, e.g. a run's
    ``PoseModels.mediapipe``: left open); ``None``: this video's own, freed at the end."""
    import contextlib

    from imusim_jax.pose.mediapipe_backend import SharedModels, model_file_path

    with contextlib.nullcontext(shared) if shared is not None else SharedModels() as models:
        if cfg.schedule == "candidates":
            tracks, meta = _detect_mediapipe(video, cfg, every, whole=models.detector)
            people = _follow_backward(video, _pose_mediapipe(video, tracks, cfg, models), cfg, models=models)
        else:
            fps = video.info.fps
            hog_every = every * max(1, int(round(fps / cfg.hog_hz / every)))  # on detection frames only
            search_every = max(1, int(round(fps / cfg.search_hz)))
            tracks, meta = _detect_mediapipe(video, cfg, every, hog_every=hog_every, whole=models.detector)
            people, rewind = _pose_people(video, tracks, cfg, models, search_every)
            people = _follow_backward(video, people, cfg, models=models, every_run=True, rewind=rewind)
            meta.update(hog_every_frames=hog_every, search_every_frames=search_every)
    meta["schedule"] = cfg.schedule
    mp_model = model_file_path()
    meta["models"] = {"pose": {"name": "mediapipe-blazepose-full (model_complexity=1)", "path": mp_model,
                               "sha256": _sha256(mp_model)},
                      "detector": {"name": "opencv-hog-default-people-detector (built into OpenCV)"}}
    return people, meta


_TORSO_MP = [11, 12, 23, 24]  # shoulders and hips in mediapipe33


def _detect_mediapipe(video: Video, cfg: PoseConfig, every: int, hog_every: Optional[int] = None,
                      whole=None) -> tuple[list[Track], dict]:
    """Pass 1: person proposals (moving blobs every frame, as they are cheap; whole-frame BlazePose every
    ``every`` frames and HOG every ``hog_every`` (default ``every``)), tracked by IoU. ``whole``: the static
    BlazePose to run on whole frames (default: one of its own, closed at the end)."""
    from imusim_jax.pose.foreground import ForegroundBoxes
    from imusim_jax.pose.hog import HogPersonDetector, hog_available, nms
    from imusim_jax.pose.mediapipe_backend import BlazePose, keypoint_box

    hog_every = every if hog_every is None else hog_every
    hog = HogPersonDetector() if hog_available() else None
    fg = ForegroundBoxes(video.samples)
    own = whole is None
    whole = BlazePose(static=True) if own else whole
    fps = video.info.fps
    tracker = IouTracker(iou_min=0.2, max_gap=max(2 * every, int(round(0.5 * fps))), min_hits=3)
    counts, person_boxes = {}, {}
    try:
        for i, frame in _progress(video, len(video), "detecting people", cfg.progress):
            if i % every and not fg.static:
                continue
            found = {"blazepose": Detections.empty(), "hog": Detections.empty(), "moving": fg(frame)}
            if i % every:
                tracker.update(i, found["moving"])
                continue
            r = whole(frame)
            b = None if r is None else keypoint_box(r.keypoints)
            if b is not None:  # pose boxes win the suppression: score 1 + torso visibility
                found["blazepose"] = Detections(b[None], np.array([1.0 + np.mean(r.keypoints[_TORSO_MP, 2])],
                                                                  np.float32))
            if hog is not None and i % hog_every == 0:
                found["hog"] = hog(frame)
            person_boxes[i] = np.concatenate([found["blazepose"].boxes, found["hog"].boxes]).astype(np.float32)
            B = np.concatenate([d.boxes for d in found.values()]).astype(np.float32)
            S = np.concatenate([d.scores for d in found.values()]).astype(np.float32)
            keep = nms(B, S, 0.3)
            det = Detections(B[keep], np.minimum(S[keep], 1.0))
            ids = tracker.update(i, det)
            counts[i] = {**{k: len(d) for k, d in found.items()}, "tracks": sorted(int(v) for v in ids)}
    finally:
        if own:
            whole.close()
    sources = ["blazepose (whole frame)"] + (["opencv-hog"] if hog is not None else []) + (
        ["moving blobs (static camera)"] if fg.static else [])
    tracks = [_mark_person_boxes(tr, person_boxes) for tr in tracker.tracks()]
    return tracks, {"detector": " + ".join(sources), "detect_every_frames": every, "detections": counts}


def _mark_person_boxes(tr: Track, person_boxes: dict, iou: float = 0.5) -> Track:
    """``tr`` with ``person`` set: frames where a person detector's box (``person_boxes``: frame -> (N, 4)) overlaps
    the track's box by at least ``iou`` (moving blobs alone do not count: a flickering TV moves too)."""
    from imusim_jax.pose.tracking import box_iou

    person = np.zeros(len(tr.frames), bool)
    for k, f in enumerate(tr.frames):
        b = person_boxes.get(int(f))
        if b is not None and len(b):
            person[k] = bool(box_iou(tr.boxes[k], b).max() >= iou)
    return dataclasses.replace(tr, person=person)


def _continues(kp: np.ndarray, prev: np.ndarray) -> bool:
    """Whether keypoints ``kp`` (K, 3) continue ``prev`` (the previous frame's; confidence 0 = none): their boxes
    overlap with IoU >= 0.3."""
    from imusim_jax.pose.mediapipe_backend import keypoint_box
    from imusim_jax.pose.tracking import box_iou

    a, b = keypoint_box(kp, pad=0.0), keypoint_box(prev, pad=0.0)
    return a is not None and b is not None and box_iou(a, b)[0, 0] >= 0.3


def _pose_mediapipe(video: Video, tracks: list[Track], cfg: PoseConfig, models=None) -> list[PersonTrack]:
    """Pass 2 of the ``candidates`` schedule: follow each track with its own follower (running ``models``, shared
    ``SharedModels``, or its own graphs when ``None``); a track may run on past its last box while the pose is
    found."""
    from imusim_jax.pose.mediapipe_backend import PersonFollower

    T = len(video)
    max_gap = int(round(0.5 * video.info.fps))
    state = {k: dict(track=tr, follower=None, poses={}, misses=0, done=False, last=int(tr.frames[-1]))
             for k, tr in enumerate(tracks)}  # poses: frame -> PoseResult (memory grows with poses found only)
    try:
        for i, frame in _progress(video, T, "estimating pose", cfg.progress):
            for s in state.values():
                tr = s["track"]
                if s["done"] or i < tr.frames[0]:
                    continue
                inside = i <= tr.frames[-1]
                if s["misses"] > max_gap and not inside:  # past the boxes and lost for longer than a gap: stop
                    s["done"] = True
                    s["follower"].close()
                    continue
                if s["follower"] is None:
                    s["follower"] = PersonFollower(models=models)
                box = tr.boxes[i - tr.frames[0]] if inside else None
                person = bool(tr.person[i - tr.frames[0]]) if inside and tr.person is not None else inside
                r = s["follower"](frame, box, person)
                prev = s["poses"].get(i - 1)
                if r is not None and not inside and (prev is None or not _continues(r.keypoints, prev.keypoints)):
                    r = None  # past the tracker's boxes, a pose must continue the previous frame's
                if r is None:
                    s["misses"] += 1
                    continue
                s["misses"] = 0
                s["poses"][i] = r
                s["last"] = max(s["last"], i)
    finally:
        for s in state.values():
            if s["follower"] is not None and not s["done"]:
                s["follower"].close()
    return [_person_track(s["track"], s["poses"], s["last"]) for s in state.values()]


def _person_track(tr: Track, poses: dict, last: int, hists: Optional[dict] = None) -> PersonTrack:
    """A track's ``PersonTrack`` from its poses (``{frame: PoseResult}``) over its frames up to ``last`` (past its
    last box, the box is held), with ``hists`` (``{frame: appearance histogram}``) as its ``appearance``."""
    from imusim_jax.pose.mediapipe_backend import JOINT_SET

    J = 33
    span = np.arange(tr.frames[0], last + 1)
    n, extra = len(span), len(span) - len(tr.frames)
    kp, world = np.zeros((n, J, 3), np.float32), np.full((n, J, 3), np.nan, np.float32)
    found = np.zeros(n, bool)
    for i, r in poses.items():
        kp[i - span[0]], world[i - span[0]], found[i - span[0]] = r.keypoints, r.world, True
    boxes = np.concatenate([tr.boxes, np.repeat(tr.boxes[-1:], extra, 0)])
    has_box = np.concatenate([np.ones(len(tr.frames), bool), np.zeros(extra, bool)])
    # BlazePose infers every landmark of a person it finds, occluded ones too: the 3D pose counts as a whole,
    # occluded landmarks (visibility near 0) at half weight; the 2D keypoints keep their visibility.
    c3 = np.where(found[:, None], 0.5 + 0.5 * kp[..., 2], 0.0).astype(np.float32)
    app = None
    if hists:
        app = np.zeros((n, len(next(iter(hists.values())))), np.float32)
        for i, h in hists.items():
            app[i - span[0]] = h
    return PersonTrack(int(tr.id), span, kp, world, c3, boxes, found, JOINT_SET, JOINT_SET, has_box, appearance=app)


def _pose_people(video: Video, tracks: list[Track], cfg: PoseConfig, models, search_every: int,
                 covered_iou: float = 0.4, duplicate_iou: float = 0.6) -> tuple[list[PersonTrack], list[dict]]:
    """Pass 2 of the ``people`` schedule: the pose model's cost grows with the people in the picture, not with the
    candidate tracks.

    Each frame, the tracks whose follower held a person in the previous frame go first (the longest followed
    first), one pose-model call each; a pose whose keypoint box overlaps one already found this frame by IoU >=
    ``duplicate_iou`` is a second follower on the same person: it is dropped and that follower stops. Then the
    tracks nobody follows are searched (``PersonFollower``'s seeding), each every ``search_every`` frames at
    first and, after each search that finds no one, half as often, down to once a second (a candidate that holds
    no person costs little), and not where a person is already followed (its box overlaps a pose found
    this frame by IoU >= ``covered_iou``). The frames a search skipped before it found someone are recovered by
    following back in time (``_follow_backward(every_run=True)``), after searching again, forward, the frames
    between the last search that found no one and the acquisition (returned per track as ``{acquisition frame:
    first frame not searched}``, with the tracks). All followers share ``models``.
    """
    from imusim_jax.pose.mediapipe_backend import PersonFollower, keypoint_box
    from imusim_jax.pose.tracking import appearance, box_iou

    max_gap = int(round(0.5 * video.info.fps))
    state = [dict(track=tr, follower=None, poses={}, misses=0, done=False, last=int(tr.frames[-1]),
                  following=False, next_search=int(tr.frames[0]), fails=0, hists={}, searched=None, rewind={})
             for tr in tracks]
    try:
        for i, frame in _progress(video, len(video), "estimating pose", cfg.progress):
            live = []
            for s in state:
                tr = s["track"]
                if s["done"] or i < tr.frames[0]:
                    continue
                if s["misses"] > max_gap and i > tr.frames[-1]:  # past the boxes and lost: stop
                    s["done"] = True
                    if s["follower"] is not None:
                        s["follower"].close()
                    continue
                live.append(s)
            live.sort(key=lambda s: (not s["following"], -len(s["poses"])))
            held: list = []  # keypoint boxes of the poses found in this frame
            for s in live:
                tr = s["track"]
                inside = i <= tr.frames[-1]
                box = tr.boxes[i - tr.frames[0]] if inside else None
                if not s["following"]:
                    if box is None or i < s["next_search"]:
                        s["misses"] += 1
                        continue
                    # each search that finds no one doubles the wait for the next, up to a second
                    s["next_search"] = i + min(search_every << min(s["fails"], 8), max(search_every, max_gap * 2))
                    s["fails"] += 1
                    if held and box_iou(box, np.stack(held)).max() >= covered_iou:
                        s["misses"] += 1
                        s["searched"] = i
                        continue
                if s["follower"] is None:
                    s["follower"] = PersonFollower(models=models, retry_every=1)
                person = bool(tr.person[i - tr.frames[0]]) if inside and tr.person is not None else inside
                r = s["follower"](frame, box, person)
                prev = s["poses"].get(i - 1)
                if r is not None and not inside and (prev is None or not _continues(r.keypoints, prev.keypoints)):
                    r = None
                kb = None if r is None else keypoint_box(r.keypoints, pad=0.0)
                if kb is not None and held and box_iou(kb, np.stack(held)).max() >= duplicate_iou:
                    s["follower"].lose()  # someone else follows this person
                    r = None
                if r is None:
                    s["misses"] += 1
                    s["following"] = False
                    s["searched"] = i
                    continue
                if not s["following"] and s["searched"] is not None and s["searched"] < i - 1:
                    s["rewind"][i] = s["searched"] + 1  # frames no search looked at: searched again (rewind)
                s["misses"], s["following"], s["fails"] = 0, True, 0
                s["poses"][i] = r
                s["last"] = max(s["last"], i)
                if kb is not None:
                    held.append(kb)
                    s["hists"][i] = appearance(frame, kb)
    finally:
        for s in state:
            if s["follower"] is not None and not s["done"]:
                s["follower"].close()
    people = [_person_track(s["track"], s["poses"], s["last"], s["hists"]) for s in state]
    return people, [s["rewind"] for s in state]


def _follow_backward(video: Video, people: list[PersonTrack], cfg: PoseConfig, window_s: float = 1.5,
                     models=None, every_run: bool = False, rewind: Optional[list] = None) -> list[PersonTrack]:
    """Pass 3: follow each person backward in time from the first frame BlazePose found them in (``every_run``:
    from the first frame of each run of poses, down to the previous run).

    BlazePose needs its detector to find a person before it can follow them, and a person often becomes clear only
    after the fast part (a fall is blurred, the landing is not). The video is offline, so a fresh BlazePose started
    at that first pose follows the person back through the frames before it (up to ``window_s``), as long as each
    pose continues the next frame's (``_continues``). One decoding pass; only the frames of windows still to be
    followed are held (memory bounded by the windows open at once, not by the video's length). ``models``:
    ``SharedModels`` for the followers (default: each its own graphs).

    ``rewind`` (the ``people`` schedule's, one ``{run start: first frame no search looked at}`` per person): before
    following a run back, the frames between the last search that found no one and the run's start are searched
    as the ``candidates`` schedule would have, forward from the tracker's boxes (``_search_forward``): the search
    that acquired the person may have come frames after they could be found, and following back from a blurred
    acquisition is not as sure as following forward from a clear one.
    """

    back = int(round(window_s * video.info.fps))
    windows = []  # (person, first posed frame of the run, lowest frame to follow back to, first frame to search)
    for k, p in enumerate(people):
        posed = p.frames[p.pose_found].astype(int)
        if len(posed) < MIN_FRAMES or posed[0] <= 0:
            continue
        runs = np.flatnonzero(np.r_[True, np.diff(posed) > 1]) if every_run else np.array([0])
        for j in runs:
            r = int(posed[j])
            lo = max(0, r - back, int(posed[j - 1]) + 1 if j > 0 else 0)
            if lo < r:
                windows.append((k, r, lo, max(lo, (rewind[k] if rewind else {}).get(r, r))))
    if not windows:
        return people
    windows.sort(key=lambda w: w[1])
    needed = set().union(*(range(lo, r) for _, r, lo, _ in windows))
    found: dict = {k: {} for k, _, _, _ in windows}
    buffer: dict = {}
    todo = list(windows)
    for i, frame in video.frames(needed):
        buffer[i] = frame
        while todo and todo[0][1] - 1 <= i:
            k, r, lo, search = todo.pop(0)
            ahead = _search_forward(people[k], search, r, buffer, models) if search < r else {}
            start = min(ahead, default=r)
            found[k].update(ahead)
            found[k].update(_follow_back_from(people[k], start, lo, buffer, models, ahead.get(start)))
        keep_from = min((lo for _, _, lo, _ in todo), default=i + 1)
        for f in [f for f in buffer if f < keep_from]:
            del buffer[f]
    out = list(people)
    for k, poses in found.items():
        if poses:
            out[k] = _prepend_poses(out[k], poses)
    return out


def _search_forward(p: PersonTrack, lo: int, start: int, frames: dict, models=None) -> dict:
    """Poses ``{frame: PoseResult}`` of person ``p`` searched forward through ``frames`` ``lo`` to ``start - 1``
    with a fresh follower on the tracker's boxes (a search every frame, and the same checks, as the ``candidates``
    schedule: each pose sits on the tracker's box). A fall may not continue from one frame to the next (on the
    shared fall clip the body's box jumps between the dive and the landing), so the poses need not continue
    ``p``'s at ``start``."""
    from imusim_jax.pose.mediapipe_backend import PersonFollower

    f0 = int(p.frames[0])
    has_box = np.ones(len(p.frames), bool) if p.has_box is None else p.has_box
    poses: dict = {}
    fol = PersonFollower(models=models, retry_every=1)
    try:
        for i in range(lo, start):
            box = p.boxes[i - f0] if i >= f0 and has_box[i - f0] else None
            r = fol(frames[i], box)
            if r is not None:
                poses[i] = r
    finally:
        fol.close()
    return poses


def _follow_back_from(p: PersonTrack, start: int, lo: int, frames: dict, models=None, pose=None) -> dict:
    """Poses ``{frame: PoseResult}`` of person ``p`` followed back from its pose at frame ``start`` (``pose``, a
    ``PoseResult``, when ``p`` has none there) through ``frames`` ``start - 1`` down to ``lo``, while each
    continues the next; up to two frames may be skipped."""
    from imusim_jax.pose.mediapipe_backend import PersonFollower

    found: dict = {}
    fol = PersonFollower(models=models)
    try:
        prev = p.keypoints2d[start - int(p.frames[0])] if pose is None else pose.keypoints
        fol.start_from(prev)
        misses = 0
        for i in range(start - 1, lo - 1, -1):
            if misses > 2:
                break
            r = fol(frames[i], None)
            if r is None or not _continues(r.keypoints, prev):
                misses += 1
                fol.start_from(prev)  # try the next earlier frame from the last pose that held
                continue
            found[i], prev, misses = r, r.keypoints, 0
    finally:
        fol.close()
    return found


def _prepend_poses(p: PersonTrack, found: dict) -> PersonTrack:
    """``p`` with poses ``{frame: PoseResult}`` added where it had none (its span extended back if needed)."""
    first = min(min(found), int(p.frames[0]))
    pad = int(p.frames[0]) - first
    frames = np.arange(first, int(p.frames[-1]) + 1)
    grow = lambda x, fill: np.concatenate([np.full((pad,) + x.shape[1:], fill, x.dtype), x])
    kp, j3, c3 = grow(p.keypoints2d, 0), grow(p.joints3d_cam, np.nan), grow(p.conf3d, 0)
    boxes = np.concatenate([np.repeat(p.boxes[:1], pad, 0), p.boxes])
    found_mask = grow(p.pose_found, False)
    app = None if p.appearance is None else grow(p.appearance, 0)
    has_box = grow(np.ones(len(p.frames), bool) if p.has_box is None else p.has_box, False)
    for i, r in found.items():
        t = i - first
        if not found_mask[t]:
            kp[t], j3[t], found_mask[t] = r.keypoints, r.world, True
            c3[t] = 0.5 + 0.5 * r.keypoints[:, 2]
    return dataclasses.replace(p, frames=frames, keypoints2d=kp, joints3d_cam=j3, conf3d=c3, boxes=boxes,
                               pose_found=found_mask, has_box=has_box, appearance=app)

