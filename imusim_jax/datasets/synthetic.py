"""Synthetic COCO-17 motion: a walking, turning person moving both arms, varied per clip; for benchmarks,
tests, examples and round-trip checks of calibration where no recording is at hand.

Each clip is generated from a handful of random parameters (deterministic given the seed): walking speed and
cadence, heading changes, trunk lean, and per arm the shoulder flexion, abduction and rotation and the elbow
flexion as sums of two sinusoids (0.2-1.2 Hz; one arm in five moves faster and smaller, up to 2.5 Hz), driven through forward
kinematics (upper arm 0.29 m, forearm 0.26 m), plus i.i.d. 4 mm jitter per joint and frame, about what a good 3D
pose estimate carries. The elbow stays between 10° and 140°, so the forearm frame is always defined.

Coordinates: metres, right-handed z-up world, joints in COCO-17 order, shape ``(B, T, 17, 3)``.
"""
from __future__ import annotations

import numpy as np

from imusim_jax._motion import Motion

__all__ = ["synthetic_clips", "synthetic_motion"]

_UPPER, _FORE = 0.29, 0.26


def _rx(a):
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def _ry(a):
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _rz(a):
    c, s, o, z = np.cos(a), np.sin(a), np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def _mv(R, v):
    return np.einsum("...ij,...j->...i", R, v)


def _wave(p, t):
    """Sum of two sinusoids ``(B, T)`` from per-clip ``p = (f1, f2, phase1, phase2)`` ``(B, 4)``; peak <= 1."""
    f1, f2, p1, p2 = (p[:, i:i + 1] for i in range(4))
    return 0.65 * np.sin(2 * np.pi * f1 * t + p1) + 0.35 * np.sin(2 * np.pi * f2 * t + p2)


def _wave_params(rng, lo_hz, hi_hz):
    return np.r_[rng.uniform(lo_hz, hi_hz, 2), rng.uniform(0, 2 * np.pi, 2)]


def _clip_params(rng) -> dict:
    """One clip's random parameters (angles in degrees, frequencies in Hz)."""
    p = dict(speed=rng.uniform(0.0, 1.4) * (rng.random() < 0.7), cadence=rng.uniform(1.6, 2.1),
             gait_phase=rng.uniform(0, 2 * np.pi), heading=rng.uniform(-np.pi, np.pi),
             turn_amp=rng.uniform(0, 1.2), turn=_wave_params(rng, 0.05, 0.3), start=rng.uniform(-2, 2, 2),
             bob=_wave_params(rng, 0.1, 0.5), lean_amp=rng.uniform(0.2, 2.0), lean=_wave_params(rng, 0.1, 0.6),
             twist=_wave_params(rng, 0.2, 1.0))
    for side in ("left", "right"):
        fast = rng.random() < 0.2                 # waving, boxing: faster but smaller movements
        hi, scale = (2.5, 0.4) if fast else (1.2, 1.0)
        busy = rng.uniform(0.2, 1.0) * scale
        p[side] = dict(busy=busy, flex0=rng.uniform(0, 50), flex=_wave_params(rng, 0.2, hi),
                       abd0=rng.uniform(5, 35), abd=_wave_params(rng, 0.2, hi), rot=_wave_params(rng, 0.2, hi),
                       elbow_mid=rng.uniform(45, 95), elbow=_wave_params(rng, 0.3, hi))
    return p


def _stack(dicts, key):
    return np.array([d[key] for d in dicts], np.float64).reshape(len(dicts), -1)


def synthetic_clips(num_clips: int, seconds: float = 10.0, fps: float = 30.0, seed: int = 0,
                    jitter_m: float = 0.004, dtype=np.float32, first: int = 0) -> np.ndarray:
    """Clips ``first .. first + num_clips - 1``: ``(num_clips, round(seconds * fps), 17, 3)`` COCO-17 joint
    positions (metres, z-up world).

    Clip ``i`` depends only on ``seed`` and ``i`` (its generator is the ``i``-th child of ``SeedSequence(seed)``),
    so batches can be generated in chunks and a smaller batch is a prefix of a larger one.
    """
    rngs = [np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
            for i in range(first, first + num_clips)]
    P = [_clip_params(r) for r in rngs]
    B, T = num_clips, int(round(seconds * fps))
    t = (np.arange(T) / fps)[None, :]                                     # (1, T)
    g = lambda k: _stack(P, k)  # noqa: E731

    # Gait: speed 0-1.4 m/s (30 % stand still), cadence 1.6-2.1 steps/s, heading drifting and turning.
    speed = g("speed")
    gait = np.pi * g("cadence") * t + g("gait_phase")                     # one stride = two steps
    heading = g("heading") + g("turn_amp") * _wave(g("turn"), t)
    fwd = np.stack([np.cos(heading), np.sin(heading), np.zeros_like(heading)], -1)  # (B, T, 3)
    root = np.cumsum(fwd * speed[..., None] / fps, axis=1)
    root[..., :2] += g("start")[:, None, :]
    root[..., 2] = 0.95 + 0.02 * (speed > 0) * np.cos(2 * gait) + 0.01 * _wave(g("bob"), t)
    # Body frame: x to the subject's right, y forward, z up.
    R_body = _rz(heading - np.pi / 2)                                     # maps local y to ``fwd``
    lean = np.radians(5) * g("lean_amp") * _wave(g("lean"), t)
    R_trunk = R_body @ _rx(lean) @ _rz(np.radians(8) * _wave(g("twist"), t))

    J = np.zeros((B, T, 17, 3))

    def put(idx, R, local):
        J[:, :, idx] = root + _mv(R, np.broadcast_to(np.asarray(local, float), (B, T, 3)))

    # Head and face (trunk frame).
    put(0, R_trunk, (0.0, 0.10, 0.72))
    put(1, R_trunk, (-0.03, 0.09, 0.75)); put(2, R_trunk, (0.03, 0.09, 0.75))
    put(3, R_trunk, (-0.07, 0.0, 0.73)); put(4, R_trunk, (0.07, 0.0, 0.73))
    # Arms: shoulder flexion (about x), abduction (about y, away from the body), rotation about the upper arm,
    # elbow flexion (about the upper arm's x, 10-140 degrees); the arms swing with the gait.
    for side, sgn, (i_sh, i_el, i_wr) in (("left", -1.0, (5, 7, 9)), ("right", 1.0, (6, 8, 10))):
        a = [p[side] for p in P]
        busy = _stack(a, "busy")
        swing = np.radians(20) * speed / 1.4 * np.sin(gait + (0 if side == "left" else np.pi))
        flex = np.radians(_stack(a, "flex0") + 60 * busy * _wave(_stack(a, "flex"), t)) + swing
        abd = np.radians(_stack(a, "abd0") + 20 * busy * _wave(_stack(a, "abd"), t))
        rot = np.radians(30 * busy * _wave(_stack(a, "rot"), t))
        mid = _stack(a, "elbow_mid")
        amp = np.minimum(mid - 10, 140 - mid) * np.minimum(busy * 1.25, 1.0)
        elbow = np.radians(mid + amp * _wave(_stack(a, "elbow"), t))
        put(i_sh, R_trunk, (sgn * 0.18, 0.0, 0.50))
        R_arm = R_trunk @ _rx(flex) @ _ry(-sgn * abd) @ _rz(rot)
        J[:, :, i_el] = J[:, :, i_sh] + _mv(R_arm, np.array([0.0, 0.0, -_UPPER]))
        J[:, :, i_wr] = J[:, :, i_el] + _mv(R_arm @ _rx(elbow), np.array([0.0, 0.0, -_FORE]))
    # Legs: hip flexion and knee bend with the gait.
    for sgn, ph, (i_hip, i_kn, i_an) in ((-1.0, 0.0, (11, 13, 15)), (1.0, np.pi, (12, 14, 16))):
        hipflex = np.radians(25) * speed / 1.4 * np.sin(gait + ph)
        knee = np.radians(30) * speed / 1.4 * np.clip(np.sin(gait + ph + 1.2), 0, None) + np.radians(3)
        put(i_hip, R_body, (sgn * 0.10, 0.0, 0.0))
        R_leg = R_body @ _rx(hipflex)
        J[:, :, i_kn] = J[:, :, i_hip] + _mv(R_leg, np.array([0.0, 0.0, -0.45]))
        J[:, :, i_an] = J[:, :, i_kn] + _mv(R_leg @ _rx(-knee), np.array([0.0, 0.0, -0.43]))
    jitter = np.stack([r.normal(0.0, jitter_m, (T, 17, 3)) for r in rngs])
    return (J + jitter).astype(dtype)


def synthetic_motion(num_clips: int, seconds: float = 10.0, fps: float = 30.0, seed: int = 0,
                     jitter_m: float = 0.004, first: int = 0):
    """:func:`synthetic_clips` as a :class:`imusim_jax.Motion` (``coco17``, float32), ready for ``simulate``."""
    return Motion.create(synthetic_clips(num_clips, seconds, fps, seed, jitter_m, np.float32, first), fps, "coco17")
