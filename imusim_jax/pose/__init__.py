"""Stage 1: video to per-person world ``Motion`` (pose estimation at the edge of the library: NumPy, OpenCV,
onnxruntime, MediaPipe). It knows nothing of IMUs: simulating the motions is the simulator's job and
``imusim_jax.workflows.video2imu`` joins the two.

Public API::

    from imusim_jax.pose import PoseConfig, video_to_motions

    for person in video_to_motions("clip.mp4", PoseConfig(pose="mediapipe", progress=False)):
        person.id, person.motion, person.t0_s, person.frame_quality

Modules, in the order a video goes through them:

* ``video``: decoding (rotation, letterbox, time range, frame rate, cut-short files);
* ``mediapipe_people`` / ``vitpose_people``: each backend's candidate people (detection, tracking, 2D and 3D pose),
  built on ``hog``, ``foreground``, ``tracking``, ``mediapipe_backend`` / ``detector``, ``vitpose``, ``lifter``;
* ``selection``: which candidate tracks are people, one track per person;
* ``reconstruction``: one person's world motion (``world``: the camera and world frames; ``smoothing``: outlier
  rejection and RTS smoothing; ``measurement_noise``: the noise models from the camera geometry);
* ``motions``: the whole stage (``video_to_motions``, ``track_people``); ``config``: its settings; ``types``: the
  data passed between the steps.
"""

__all__ = ["BACKENDS", "PersonMotion", "PoseConfig", "VideoMotions", "default_backend", "track_people",
           "video_to_motions"]

_HOMES = {"BACKENDS": "config", "PoseConfig": "config", "default_backend": "config", "PersonMotion": "motions",
          "VideoMotions": "motions", "track_people": "motions", "video_to_motions": "motions"}


def __getattr__(name: str):
    """The public API, imported on first use (``import imusim_jax.pose.video`` need not load the rest)."""
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"imusim_jax.pose.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'imusim_jax.pose' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_HOMES))
