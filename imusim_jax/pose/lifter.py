"""2D-to-3D lifting with a VideoPose3D ONNX model: COCO-17 pixels ``(T, 17, 3)`` -> H36M-17 ``(T, 17, 3)``.

Conventions (VideoPose3D's ``pretrained_h36m_detectron_coco.bin``, its ``run.py`` evaluation and ``INFERENCE.md``):
  * input: COCO-17 keypoints in pixels of a ``width`` x ``height`` frame; the confidences are not used (the model
    takes x, y only). They are normalised by ``normalize_screen_coordinates``: ``X / w * 2 - [1, h / w]``
    (x in [-1, 1], aspect ratio kept).
  * output: H36M-17 joints in the camera frame (x right, y down, z forward), in metres as the model gives them,
    root-relative: the network is trained with the pelvis at the origin; ``root_relative=True`` (default) subtracts
    its predicted pelvis so that joint 0 is exactly zero, ``False`` returns the raw network output.
  * temporal receptive field R (243, 81 or 27 frames; pad = (R - 1) / 2): the network's convolutions are valid, so
    the clip is padded by repeating its first and last frames ``pad`` times (``np.pad(..., 'edge')`` as
    VideoPose3D's ``UnchunkedGenerator``), giving exactly one output per input frame. R is read from the model's
    metadata property ``receptive_field`` (written by ``onnx_weights/export_videopose3d.py``) or, when the time
    axis is static, as ``T_in - T_out + 1``.
  * long clips are cut into chunks of ``chunk_size`` output frames, each with its ``pad`` frames of context on
    both sides, so chunked and unchunked outputs agree (no seams); chunks are batched when the batch axis is dynamic.
  * flip augmentation (``flip_augment``, on by default in VideoPose3D's evaluation): the mirrored clip (x negated
    in normalised coordinates, COCO ``kps_left`` / ``kps_right`` swapped) is lifted too, its output mirrored back
    (x negated, H36M ``joints_left`` / ``joints_right`` swapped) and averaged with the plain one.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import numpy as np

from imusim_jax._motion import InputError
from imusim_jax.pose._onnx import OnnxModel

__all__ = ["VideoPose3D", "normalize_screen_coordinates", "KPS_LEFT", "KPS_RIGHT", "JOINTS_LEFT", "JOINTS_RIGHT"]

# VideoPose3D's keypoints_symmetry for COCO (detectron) inputs and its H36M-17 skeleton's left/right joints.
KPS_LEFT, KPS_RIGHT = [1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]
JOINTS_LEFT, JOINTS_RIGHT = [4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]


def normalize_screen_coordinates(x: np.ndarray, w: float, h: float) -> np.ndarray:
    """Pixels (..., 2) -> VideoPose3D screen coordinates: ``[0, w]`` maps to ``[-1, 1]``, aspect ratio kept."""
    if x.shape[-1] != 2:
        raise InputError(f"screen coordinates must end in 2, got {x.shape}")
    return x / w * 2 - np.array([1.0, h / w], dtype=x.dtype)


def _swap(a: np.ndarray, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
    out = a.copy()
    out[..., list(left) + list(right), :] = a[..., list(right) + list(left), :]
    return out


class VideoPose3D:
    """VideoPose3D ONNX runner: ``lifter(keypoints2d (T, 17, 3), width, height) -> (T, 17, 3)`` H36M-17, camera frame.

    Args:
      path: ONNX file or manifest name (``"videopose3d-243"``): input (B, T_in, 17, 2), output (B, T_out, 17, 3).
      flip_augment: average with the mirrored clip (twice the compute).
      chunk_size: output frames per chunk for long clips (each chunk carries R - 1 frames of context).
      root_relative: subtract the predicted pelvis so that joint 0 is exactly at the origin.
      batch_size: chunks per ``session.run`` when the batch axis is dynamic.
      providers, threads: see ``imusim_jax.pose._onnx.create_session``.
    """

    input_joint_set = "coco17"
    output_joint_set = "h36m17"

    def __init__(self, path: Union[str, os.PathLike], flip_augment: bool = False, chunk_size: int = 1024,
                 root_relative: bool = True, batch_size: int = 16, providers: Optional[Sequence[str]] = None,
                 threads: Optional[int] = None):
        self.model = m = OnnxModel(path, providers, threads)
        if len(m.inputs) != 1 or m.inputs[0].rank != 4 or m.inputs[0].static(2) not in (17, None) \
                or m.inputs[0].static(3) not in (2, None) or m.outputs[0].rank != 4 \
                or m.outputs[0].static(2) not in (17, None) or m.outputs[0].static(3) not in (3, None):
            raise m.describe_mismatch("a VideoPose3D model (keypoints (B, T, 17, 2) -> joints3d (B, T', 17, 3))")
        inp, out = m.inputs[0], m.outputs[0]
        t_in, t_out = inp.static(1), out.static(1)
        rf_static = t_in - t_out + 1 if t_in and t_out else None
        rf_meta = m.metadata.get("receptive_field")
        if rf_meta is not None:
            try:
                rf = int(rf_meta)
            except ValueError:
                raise InputError(f"{m.path.name}: metadata receptive_field={rf_meta!r} is not an integer") from None
            if rf_static is not None and rf_static != rf:
                raise InputError(f"{m.path.name}: metadata receptive_field={rf} contradicts its shapes "
                                 f"({t_in} -> {t_out} frames)")
        elif rf_static is not None:
            rf = rf_static
        else:
            raise InputError(f"cannot tell the receptive field of {m.path.name}: its time axis is dynamic and it has "
                             "no 'receptive_field' metadata; re-export it with onnx_weights/export_videopose3d.py")
        if rf < 1 or rf % 2 != 1:
            raise InputError(f"{m.path.name}: receptive field {rf} must be odd and positive")
        self.receptive_field, self.pad = rf, (rf - 1) // 2
        self._static_t = t_in
        self.chunk_size = (t_in - rf + 1) if t_in else max(1, int(chunk_size))
        self.batch_size = inp.static(0) or max(1, int(batch_size))
        self.flip_augment, self.root_relative = bool(flip_augment), bool(root_relative)
        self._input_name, self._output_name = inp.name, out.name

    def __call__(self, keypoints2d: np.ndarray, width: int, height: int) -> np.ndarray:
        """Lift one track: keypoints (T, 17, 2 or 3) COCO pixels of a ``width`` x ``height`` video -> (T, 17, 3)
        H36M-17 joints, camera frame, metres, root-relative."""
        kp = np.asarray(keypoints2d)
        if kp.ndim != 3 or kp.shape[1] != 17 or kp.shape[2] not in (2, 3):
            raise InputError(f"keypoints2d must be (T, 17, 2|3) COCO-17 pixels, got {kp.shape}")
        if len(kp) == 0:
            raise InputError("keypoints2d has no frames")
        if not np.isfinite(kp[..., :2]).all():
            raise InputError("keypoints2d contain NaN or infinite coordinates; fill gaps first")
        if width <= 0 or height <= 0:
            raise InputError(f"width and height must be positive pixels, got {width} x {height}")
        x = normalize_screen_coordinates(kp[..., :2].astype(np.float64), float(width), float(height))
        x = x.astype(np.float32)
        clips = [x]
        if self.flip_augment:
            f = x.copy()
            f[..., 0] *= -1
            clips.append(_swap(f, KPS_LEFT, KPS_RIGHT))
        outs = self._lift(clips)
        y = outs[0]
        if self.flip_augment:
            f = outs[1].copy()
            f[..., 0] *= -1
            y = 0.5 * (y + _swap(f, JOINTS_LEFT, JOINTS_RIGHT))
        if self.root_relative:
            y = y - y[:, :1]
        return y.astype(np.float32)

    def _lift(self, clips: list[np.ndarray]) -> list[np.ndarray]:
        """Each clip (T, 17, 2) normalised -> (T, 17, 3): edge padding, equal-length windows, batched runs."""
        p = self.pad
        L = self.chunk_size if self._static_t else min(self.chunk_size, max(len(c) for c in clips))
        windows, index = [], []
        for ci, x in enumerate(clips):
            t = len(x)
            n_chunks = -(-t // L)
            # pad by `pad` on both sides (edge frames), plus edge frames so that the last chunk is full length
            xp = np.pad(x, ((p, p + n_chunks * L - t), (0, 0), (0, 0)), mode="edge")
            for k in range(n_chunks):
                windows.append(xp[k * L:k * L + L + 2 * p])
                index.append((ci, k))
        win = np.stack(windows)  # (W, L + 2p, 17, 2)
        y = self.model.run_batched(win, self._input_name, self._output_name, self.batch_size)
        if y.shape[1] != L:
            raise InputError(f"{self.model.path.name} returned {y.shape[1]} frames for {L + 2 * p} input frames; "
                             f"expected {L} (receptive field {self.receptive_field})")
        out = []
        for ci, x in enumerate(clips):
            parts = [y[j] for j, (c, _) in enumerate(index) if c == ci]
            out.append(np.concatenate(parts)[:len(x)])
        return out
