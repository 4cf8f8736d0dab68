"""Missing values along time, filled in one place for every source (files, datasets, Stage 1, ``Motion.create``).

* ``fill_gaps``: short runs of missing frames between two valid ones, per joint, by a shape-preserving cubic
  (PCHIP: exact for linear motion, no overshoot) or linearly; long runs and runs at a clip's ends are reported
  and left missing (NaN, confidence 0).
* ``fill_along_time``: every channel made finite along time: linear between finite values, held past the ends,
  ``empty`` where a channel has no finite value.
* ``trim_and_fill``: a body seen in some frames: the frames before its first and after its last sighting
  dropped, the gaps between filled (``fill_gaps``), a gap longer than allowed refused in one line.

NumPy, host side: what ``prepare`` and the readers do before anything is compiled.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from imusim_jax._errors import InputError

__all__ = ["fill_gaps", "fill_along_time", "trim_and_fill"]


def fill_gaps(x: np.ndarray, conf: np.ndarray, fps: float, max_gap_s: float, min_confidence: float, *,
              method: str = "pchip", joint_names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Interpolate low-confidence joints over short gaps; report the long ones.

    A joint is missing in a frame when its confidence is below ``min_confidence`` or a coordinate is not finite.
    A run of missing frames between two valid frames lasting at most ``max_gap_s`` (``n / fps`` s for ``n``
    frames) is interpolated per coordinate through the joint's valid frames (``"pchip"``: shape-preserving cubic,
    exact for linear motion, no overshoot; or ``"linear"``). Longer runs, and runs touching the first or last frame
    (nothing to interpolate towards), are left missing: NaN in ``x`` and confidence 0.

    Args:
      x: ``(T, J, C)`` values (positions in any unit, pixels...).
      conf: ``(T, J)`` confidences in [0, 1].
      fps: frame rate in Hz.
      max_gap_s: longest gap to fill, seconds.
      min_confidence: confidence threshold.
      method: ``"pchip"`` or ``"linear"``.
      joint_names: optional names for the report (else joint indices).

    Returns:
      ``(x_filled (T, J, C), conf (T, J), report)``. Filled frames get confidence ``min_confidence`` (trusted, but
      least); frames still missing get 0 and NaN values. ``report``: ``filled`` (list of ``{joint, start, stop,
      duration_s}``, frames ``start:stop``), ``long_gaps`` (same, plus ``edge``), counts ``filled_values`` and
      ``missing_values``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise InputError(f"x must have shape (T, J, C), got {x.shape}")
    conf = np.asarray(conf, dtype=np.float64)
    if conf.shape != x.shape[:2]:
        raise InputError(f"conf must have shape {x.shape[:2]}, got {conf.shape}")
    if not (fps > 0 and max_gap_s >= 0):
        raise InputError(f"fps must be positive and max_gap_s non-negative, got {fps}, {max_gap_s}")
    if method not in ("pchip", "linear"):
        raise InputError(f"method must be 'pchip' or 'linear', got {method!r}")
    T, J, _ = x.shape
    valid = (np.nan_to_num(conf, nan=-1.0) >= min_confidence) & np.isfinite(x).all(-1)
    out = np.where(valid[..., None], x, np.nan)
    conf_out = np.where(valid, np.nan_to_num(conf), 0.0)
    max_len = int(math.floor(max_gap_s * fps + 1e-9))
    filled, long_gaps = [], []
    t = np.arange(T, dtype=np.float64)
    for j in range(J):
        name = joint_names[j] if joint_names is not None else j
        v = valid[:, j]
        if v.all():
            continue
        # runs of missing frames: starts where v goes True->False, stops where it goes False->True
        edges = np.diff(np.concatenate([[1], v.astype(np.int8), [1]]))
        starts, stops = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
        interp = None
        for a, b in zip(starts, stops):
            n = int(b - a)
            gap = {"joint": name, "start": int(a), "stop": int(b), "duration_s": n / fps}
            edge = a == 0 or b == T
            if edge or n > max_len:
                long_gaps.append({**gap, "edge": bool(edge)})
                continue
            if interp is None:
                from scipy.interpolate import PchipInterpolator  # here: scipy.interpolate takes 0.3 s to import

                tv = t[v]
                interp = (PchipInterpolator(tv, x[v, j], axis=0) if method == "pchip" and v.sum() >= 2
                          else lambda q, tv=tv, xv=x[v, j]: np.stack(
                              [np.interp(q, tv, xv[:, c]) for c in range(xv.shape[1])], -1))
            out[a:b, j] = interp(t[a:b])
            conf_out[a:b, j] = min_confidence
            filled.append(gap)
    report = {"max_gap_s": max_gap_s, "min_confidence": min_confidence, "method": method, "filled": filled,
              "long_gaps": long_gaps, "filled_values": int(sum(g["stop"] - g["start"] for g in filled)),
              "missing_values": int(sum(g["stop"] - g["start"] for g in long_gaps))}
    return out, conf_out, report


def fill_along_time(x: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """``x`` ``(T, ...)`` made finite along axis 0, channel by channel: linear between finite values, held
    constant past the first and last, ``empty`` (0, or NaN to leave it) where a channel has no finite value."""
    out = np.array(x, dtype=np.float64)
    flat = out.reshape(out.shape[0], -1)
    t = np.arange(out.shape[0])
    for c in range(flat.shape[1]):
        ok = np.isfinite(flat[:, c])
        if ok.all():
            continue
        flat[:, c] = np.interp(t, t[ok], flat[ok, c]) if ok.any() else empty
    return flat.reshape(out.shape)


def trim_and_fill(x: np.ndarray, present: np.ndarray, fps: float, max_gap_s: float, where: str,
                  method: str = "linear") -> tuple[np.ndarray, np.ndarray, int]:
    """A body ``x`` ``(T, J, C)`` seen in the frames where ``present`` ``(T,)``: the frames before its first and
    after its last sighting are dropped and the gaps between filled (``fill_gaps``, all joints of a frame
    together). Returns ``(x, filled, first)``: the trimmed values, the ``(T',)`` frames filled, the first kept
    frame's index. Fewer than 2 present frames, or a gap longer than ``max_gap_s`` (at least one frame), is a
    one-line ``InputError`` that starts with ``where``."""
    idx = np.flatnonzero(present)
    if len(idx) < 2:
        raise InputError(f"{where}: the body has {len(idx)} frame(s) with joints; need at least 2")
    first, last = int(idx[0]), int(idx[-1])
    x = np.asarray(x, np.float64)[first:last + 1]
    present = np.asarray(present, bool)[first:last + 1]
    max_gap = max(1, int(round(max_gap_s * fps)))
    conf = np.broadcast_to(present[:, None], x.shape[:2]).astype(np.float64)
    out, _, report = fill_gaps(x, conf, 1.0, float(max_gap), 0.5, method=method)
    if report["long_gaps"]:
        g = report["long_gaps"][0]
        raise InputError(f"{where}: the body is missing for {g['stop'] - g['start']} frames (file frames "
                         f"{first + g['start']}-{first + g['stop'] - 1}); at most {max_gap} ({max_gap_s:g} s) are "
                         "interpolated: choose another body or cut the clip")
    return out, ~present, first
