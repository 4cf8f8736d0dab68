"""Tracks that survive breaks (``pose.tracking.relink_segments``, ``pose.selection.relink``): synthetic scenes with
known people, no video decoding."""
from __future__ import annotations

import numpy as np

from imusim_jax.pose.config import PoseConfig
from imusim_jax.pose.selection import relink, split_at_jumps
from imusim_jax.pose.tracking import Segment, appearance, relink_segments
from imusim_jax.pose.types import PersonTrack

FPS = 30.0


def _hist(rgb):
    """The ``appearance`` of a person dressed in ``rgb`` on a grey background."""
    img = np.full((120, 80, 3), 128, np.uint8)
    img[10:110, 20:60] = rgb
    return appearance(img, np.array([15, 5, 65, 115], np.float32))


RED, BLUE = _hist((200, 30, 30)), _hist((30, 40, 200))


def _seg(first, last, x_first, x_last, hist, y=100.0, w=40.0, h=100.0):
    v = (x_last - x_first) / max(last - first, 1)
    box = lambda x: np.array([x - w / 2, y, x + w / 2, y + h])
    return Segment(first, last, box(x_first), box(x_last), np.array([v, 0.0]), np.array([v, 0.0]), hist)


def test_appearance_tells_clothes_apart():
    from imusim_jax.pose.tracking import appearance_distance

    assert appearance_distance(RED, _hist((190, 40, 35))) < 0.3 < 0.5 < appearance_distance(RED, BLUE)
    assert appearance_distance(RED, np.zeros_like(RED)) == 1.0


def test_a_person_who_leaves_and_comes_back_is_relinked():
    # red walks out on the right (frame 30) and comes back there 1 s later; blue stands on the left all along
    segs = [_seg(0, 30, 300, 620, RED), _seg(0, 90, 100, 110, BLUE), _seg(60, 90, 620, 400, RED)]
    chains = relink_segments(segs, FPS)
    assert sorted(chains) == [[0, 2], [1]]


def test_two_people_crossing_keep_their_identities():
    # red walks right, blue walks left (10 px a frame); the tracker loses both where they overlap (frames 15-19)
    # and starts two new tracks after, each near where the other was last seen
    segs = [_seg(0, 14, 100, 240, RED), _seg(0, 14, 400, 260, BLUE),
            _seg(20, 40, 200, 0, BLUE), _seg(20, 40, 300, 500, RED)]
    chains = relink_segments(segs, FPS)
    assert sorted(chains) == [[0, 3], [1, 2]]
    # without colours, where they were heading still decides
    plain = [Segment(s.first, s.last, s.first_box, s.last_box, s.end_velocity, s.start_velocity, None) for s in segs]
    assert sorted(relink_segments(plain, FPS)) == [[0, 3], [1, 2]]


def test_pieces_too_far_apart_or_too_late_are_not_joined():
    segs = [_seg(0, 10, 100, 110, RED), _seg(12, 20, 600, 610, RED), _seg(200, 210, 110, 110, RED)]
    assert sorted(relink_segments(segs, FPS)) == [[0], [1], [2]]


def _body(cx, cy, s=100.0):
    """33 mediapipe landmarks of an upright body of height ``s`` px centred at (cx, cy), all confident."""
    rng = np.random.default_rng(int(cx * 7 + cy))
    xy = np.column_stack([rng.uniform(-0.2, 0.2, 33) * s + cx, np.linspace(-0.5, 0.5, 33) * s + cy])
    return np.column_stack([xy, np.ones(33)]).astype(np.float32)


def _track(id_, frames, centres, hist):
    T = len(frames)
    kp = np.stack([_body(x, y) for x, y in centres])
    boxes = np.stack([[x - 30, y - 55, x + 30, y + 55] for x, y in centres]).astype(np.float32)
    return PersonTrack(id_, np.asarray(frames), kp, np.zeros((T, 33, 3), np.float32), np.ones((T, 33), np.float32),
                       boxes, np.ones(T, bool), "mediapipe33", "mediapipe33",
                       appearance=np.repeat(hist[None], T, 0))


def test_a_track_whose_pose_jumps_is_split_and_its_consistent_parts_relinked():
    # a person walking right at 60 px/s; for frames 20-27 the pose model sits on something 250 px away
    frames = np.arange(60)
    centres = [(200 + 2 * f, 200.0) if not 20 <= f < 28 else (450.0, 120.0) for f in frames]
    hist = np.where(np.isin(frames, np.arange(20, 28))[:, None], BLUE[None], RED[None])
    p = _track(3, frames, centres, RED)
    p.appearance[:] = hist
    pieces = split_at_jumps(p, FPS, 6.0)
    assert [(int(q.frames[0]), int(q.frames[-1])) for q in pieces] == [(0, 19), (20, 27), (28, 59)]
    out = relink([p], FPS, PoseConfig())
    spans = sorted((int(q.frames[0]), int(q.frames[-1]), int(q.pose_found.sum())) for q in out)
    assert spans == [(0, 59, 52), (20, 27, 8)]
    person = next(q for q in out if len(q.frames) == 60)
    assert not person.pose_found[20:28].any() and person.appearance is None


def test_a_fall_is_not_a_jump():
    # the body's centre drops 0.8 body sizes in 0.3 s (a fall): one piece
    frames = np.arange(30)
    centres = [(300.0, 200.0 + (80.0 * min(max(f - 10, 0), 9) / 9)) for f in frames]
    assert len(split_at_jumps(_track(0, frames, centres, RED), FPS, 6.0)) == 1
