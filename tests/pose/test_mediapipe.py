"""The MediaPipe backend on a real photograph of a person moving with a known 2D motion."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mediapipe")
pytest.importorskip("skimage")

from pose_videos import astronaut_video, write_video  # noqa: E402

from imusim_jax.pose.mediapipe_backend import BlazePose, keypoint_box  # noqa: E402

pytestmark = pytest.mark.mediapipe
# Landmarks BlazePose sees on the astronaut (a waist-up portrait; the elbows are hidden, visibility ~0.2): the
# nose, eyes, ears and shoulders.
UPPER = [0, 2, 5, 7, 8, 11, 12]


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory):
    frames, mats = astronaut_video()
    path = write_video(tmp_path_factory.mktemp("astro") / "astronaut.avi", frames, fps=30)
    return path, frames, mats


def _to_photo(A, pts):
    M = np.vstack([A, [0, 0, 1]])
    return (np.linalg.inv(M) @ np.column_stack([pts, np.ones(len(pts))]).T).T[:, :2]


def test_blazepose_crop_maps_back_to_frame_pixels(astronaut):
    _, frames, _ = astronaut
    with BlazePose(static=True) as bp:
        full = bp(frames[0])
        box = keypoint_box(full.keypoints)
        side = 1.6 * max(box[2] - box[0], box[3] - box[1])
        c = (box[:2] + box[2:]) / 2
        crop = bp(frames[0], np.concatenate([c - side / 2, c + side / 2]))
    assert full.keypoints.shape == (33, 3) and full.world.shape == (33, 3)
    err = np.linalg.norm(full.keypoints[UPPER, :2] - crop.keypoints[UPPER, :2], axis=-1)
    assert np.median(err) < 4.0
    # world landmarks: metres around the hip centre, camera axes (y down: the nose is above the hips)
    assert abs(full.world[[23, 24]].mean(0)).max() < 0.05 and full.world[0, 1] < -0.3


def test_recovered_track_follows_the_known_motion(astronaut):
    from imusim_jax.pose import PoseConfig, track_people
    from imusim_jax.pose.video import Video

    path, frames, mats = astronaut
    video = Video(path)
    people, meta = track_people(video, PoseConfig(pose="mediapipe", progress=False))
    assert len(people) == 1, meta["dropped_tracks"]
    p = people[0]
    assert p.pose_found.mean() > 0.9 and len(p.frames) >= len(frames) - 1
    kp = p.keypoints2d
    # Each frame's landmarks, mapped back into the photo, should land on the same photo pixels.
    in_photo = np.stack([_to_photo(mats[f], kp[k, UPPER, :2]) for k, f in enumerate(p.frames)])
    ref = np.median(in_photo, axis=0)
    pred = np.stack([(mats[f] @ np.column_stack([ref, np.ones(len(ref))]).T).T for f in p.frames])
    err = np.linalg.norm(kp[:, UPPER, :2] - pred, axis=-1)  # frame pixels
    assert np.median(err) < 3.0 and np.percentile(err, 90) < 7.0, (np.median(err), np.percentile(err, 90))
    assert (kp[:, UPPER, 2] > 0.5).all()
    # and the motion is real: the landmarks travel much farther than they err
    travel = np.linalg.norm(pred[-1] - pred[0], axis=-1)
    assert travel.min() > 30


def test_video_to_motions_gives_each_persons_motion_and_writes_nothing(astronaut, tmp_path, monkeypatch):
    from imusim_jax import Motion
    from imusim_jax.pose import PoseConfig, video_to_motions

    path = astronaut[0]
    monkeypatch.chdir(tmp_path)
    before = sorted(path.parent.iterdir())
    found = video_to_motions(path, PoseConfig(pose="mediapipe", progress=False))
    assert len(found) == 1 and found.backend == "mediapipe" and found.video.fps == 30.0, found.meta["dropped_tracks"]
    p = found[0]
    assert p.id == 0 and isinstance(p.motion, Motion) and p.motion.joint_set == "mediapipe33"
    assert p.motion.num_frames == p.raw.num_frames >= 16 and float(p.motion.fps) == 30.0
    assert np.isfinite(np.asarray(p.motion.joints)).all()
    assert not np.allclose(np.asarray(p.motion.joints), np.asarray(p.raw.joints))  # smoothed
    assert p.t0_s == pytest.approx(p.first_frame / 30.0, abs=1e-3)
    assert [q["frame"] for q in p.frame_quality] == list(range(p.first_frame, p.first_frame + p.motion.num_frames))
    assert p.stature_px > 48 and p.pose_found_frac > 0.9
    assert list(tmp_path.iterdir()) == [] and sorted(path.parent.iterdir()) == before  # nothing written
    # raw (smoothing=None) and a later start: the motion is the raw one, its frames and times count in the file
    late = video_to_motions(path, PoseConfig(pose="mediapipe", progress=False, smoothing=None, start_s=0.2))
    q = late[0]
    assert q.motion is q.raw and q.first_frame >= 6 and q.t0_s == pytest.approx(q.first_frame / 30.0, abs=1e-3)
    assert not any("smoothed" in a for a in q.assumptions) and any("smoothed" in a for a in p.assumptions)


def test_models_reused_by_a_second_video_give_what_it_gives_alone(tmp_path):
    """``PoseModels`` (``video2imu_many``'s models, built once per run): a video run after another on the same
    BlazePose graphs gets the very poses it gets alone (the graphs keep no state from one call to the next; the
    followers are per video)."""
    from imusim_jax.pose import PoseConfig, track_people
    from imusim_jax.pose.models import PoseModels
    from imusim_jax.pose.video import Video

    small = dict(t=10, size=(320, 240), turn_deg=-10.0)
    a = write_video(tmp_path / "a.avi", astronaut_video(scale=0.42, **small)[0])
    b = write_video(tmp_path / "b.avi", astronaut_video(scale=0.35, shift_px=(-40.0, 10.0), **small)[0])
    cfg = PoseConfig(pose="mediapipe", progress=False)
    alone, _ = track_people(Video(b), cfg)
    with PoseModels() as models:
        graphs = models.mediapipe
        track_people(Video(a), cfg, models)
        second, _ = track_people(Video(b), cfg, models)
        assert models.mediapipe is graphs and graphs._roi is not None  # the same graphs, left open
    assert len(alone) == len(second) == 1
    for p, q in zip(alone, second):
        np.testing.assert_array_equal(p.frames, q.frames)
        np.testing.assert_array_equal(p.keypoints2d, q.keypoints2d)
        np.testing.assert_array_equal(p.joints3d_cam, q.joints3d_cam)
    assert graphs._roi is None  # closed with the PoseModels
