"""Stage 1's models held for a whole run (``PoseModels``): built on first use, reused from one video to the next.

Building them costs more than a short clip's pose work: MediaPipe's BlazePose graphs load their TFLite
interpreters, and onnxruntime optimises each ONNX graph when it opens a session. ``video2imu_many`` runs one
``PoseModels`` over all its videos (``pose.motions.video_to_motions(models=...)``); a single call without one builds
and frees its own.

Reusing them cannot change a video's result, because none keeps state from one call to the next:

* ``mediapipe``: a ``mediapipe_backend.SharedModels``: BlazePose's landmark model on a given region (no temporal
  filter) and BlazePose in static-image mode (its detector on every image, no landmark smoothing). The followers
  that carry a person from frame to frame (``PersonFollower``) are made per video; only these graphs are shared.
* ``onnx(cls, path, providers)``: one runner (``VitPose``, ``VideoPose3D``, ``OnnxPersonDetector``) per class, file
  and providers; each call maps its inputs to outputs with no memory of earlier calls.
"""
from __future__ import annotations

import contextlib
import os
from typing import Optional, Sequence

__all__ = ["PoseModels"]


class PoseModels(contextlib.AbstractContextManager):
    """Stage 1's models for a run of videos (see the module docstring); ``close()`` (or leaving ``with``) frees
    them."""

    def __init__(self):
        self._mediapipe = None
        self._onnx: dict = {}

    @property
    def mediapipe(self):
        """The BlazePose graphs every video's followers share (``mediapipe_backend.SharedModels``)."""
        if self._mediapipe is None:
            from imusim_jax.pose.mediapipe_backend import SharedModels

            self._mediapipe = SharedModels()
        return self._mediapipe

    def onnx(self, cls, path, providers: Optional[Sequence[str]] = None):
        """``cls(path, providers=providers)`` (an ONNX runner), made once per class, file and providers."""
        key = (cls, os.path.realpath(os.fspath(path)), None if providers is None else tuple(providers))
        if key not in self._onnx:
            self._onnx[key] = cls(path, providers=providers)
        return self._onnx[key]

    def close(self) -> None:
        if self._mediapipe is not None:
            self._mediapipe.close()
        self._mediapipe = None
        self._onnx.clear()

    def __exit__(self, *exc):
        self.close()
