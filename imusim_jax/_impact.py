"""Contact, impact and sharp stops: what a watch feels when a moving arm stops in tens of milliseconds.

A wrist or hand meeting the floor in a fall, or a fist at the end of a strike, loses its speed in 10-50 ms. A
skeleton at 15-30 fps and the zero-phase low-pass every skeleton needs spread that stop over 100-300 ms, so the
simulated peak is a half to a fifth of the real one (SmartFallMM: 0.63 of the real watch's impact peak), while the
velocity change itself, the integral of the deceleration, survives the filter. This module puts the velocity
change back where it happened, over a physically plausible contact time:

1. ``find_impacts`` (host, ``prepare``): on the arm's wrist, in the repaired joints, the moments where it
   *arrives at a surface* (moving down at ``min_speed_mps`` or faster, slowing to ``stop_fraction`` of its speed
   within ``stop_s`` at most ``max_height_m`` above the floor, the floor being the ankles' lowest level, the body
   down and staying down: ``find_impacts``'s ``hips``) or where *a strike ends* (moving at
   ``strike_speed_mps`` or faster and stopping within ``stop_s`` with the arm straight, elbow angle at least
   ``strike_elbow_deg``). Each event: its time, the incoming direction ``u`` and the half-width of the window the
   filter smeared it over (``0.6 / cutoff``, between two frames and 0.3 s).
2. ``apply_impacts`` (pure JAX, ``sense``): within each event's window, the world-frame acceleration along ``u``
   (the smeared stop, with the filter's overshoot either side of it) is taken out and the same velocity change
   ``sum_k a_k . u / rate`` (where negative) is put back as one pulse centred on the centroid of the smeared
   deceleration: a
   Gaussian of the width of a half-sine contact of duration ``contact_time_s`` (``sigma = 0.254 tau``, the
   same peak per unit area) combined with the sensor's own bandwidth (``0.4 rate``: ``sigma_b = 0.4 / rate``),
   normalised over the samples so the velocity change is conserved exactly. Everything else in the signal (the
   other components, the gyroscope, the orientation) is untouched; a clip with no event reads as without the
   model.

The contact time: hand impacts in falls on the outstretched arm peak 20-30 ms after contact and last 50-100 ms
(Chiu & Robinovitch 1998, J. Biomech. 31:1169; DeGoede & Ashton-Miller 2002, J. Biomech. 35:843: first force
peak at about 25 ms); a wrist watch on the forearm sees the pulse through the soft tissue of the wrist, a little
longer. The default, 0.06 s, within that range, was chosen on the SmartFallMM development subjects' real watch
(benchmarks/fidelity.py): with 0.03 s the simulated falls' peak |a - g| (at 18.4 Hz) reached 90 m/s^2 at the
90th percentile against 43-49 for three real wrist datasets, with 0.06 s 73; the median impact ratio is, with
0.06 s and these thresholds, 1.10 in Azure Kinect joints and 0.81 through the shared command-line script.
``contact_time_s`` is a differentiable leaf (the dataset builder samples it, ``contact_time_s:
[low, high]``; a fit can take its gradient), the detection thresholds are static.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from imusim_jax._constants import GRAVITY_W
from imusim_jax._errors import InputError

__all__ = ["ImpactModel", "find_impacts", "apply_impacts", "impact_label", "EVENT_FIELDS"]

_BODY_DOWN_M, _BODY_SPEED_MPS = 0.8, 0.7  # a fall: the hips end near the floor, having come down fast ...
_BODY_STAYS_S, _BODY_RISE_M = 1.5, 0.2  # ... and stay there: within 0.2 m for 1.5 s (a hand picking something up
# from the floor stops there too, then the body rises: UTD-MHAD's pick-up-and-throw, hips up 0.27-0.71 m)
_STRIKE_ALONG = 0.7  # cos 45 deg: a strike's velocity points outward along the shoulder-wrist line

EVENT_FIELDS = 5
"""An event row: time (s, motion time), incoming direction (3, unit, world), window half-width (s; 0: no event)."""


@struct.dataclass
class ImpactModel:
    """Contact and sharp stops (module docstring). ``contact_time_s`` is an array leaf (fit it, sample it, batch
    it: one per clip ``(B,)``); the rest are the detector's static thresholds.

    Attributes:
      contact_time_s: duration of the contact pulse (a half-sine's), seconds.
      min_speed_mps: downward speed a wrist must arrive at a surface with.
      max_height_m: how far above the floor (the clip's lowest joints) the wrist may stop.
      strike_speed_mps: speed a strike must end from; 0 (the default): strikes not detected. On UTD-MHAD's real
        wrist the stops at the end of throws (found at 3 m/s) are a hand letting go, not a contact, and made the
        |a| envelope correlation worse (0.768 to 0.751); set it (e.g. 3.0) for strikes that hit something.
      strike_elbow_deg: the elbow angle (180 = straight) a strike must end at.
      stop_s: the longest a stop may take in the joints (a voluntary deceleration is slower).
      stop_fraction: a stop leaves at most this fraction of the speed.
      max_events: events kept per clip (the largest velocity changes).
    """

    contact_time_s: jnp.ndarray = 0.06
    min_speed_mps: float = struct.field(pytree_node=False, default=1.0)
    max_height_m: float = struct.field(pytree_node=False, default=0.6)
    strike_speed_mps: float = struct.field(pytree_node=False, default=0.0)
    strike_elbow_deg: float = struct.field(pytree_node=False, default=160.0)
    stop_s: float = struct.field(pytree_node=False, default=0.25)
    stop_fraction: float = struct.field(pytree_node=False, default=0.5)
    max_events: int = struct.field(pytree_node=False, default=8)

    @classmethod
    def create(cls, contact_time_s: float = 0.06, **thresholds) -> "ImpactModel":
        """Checked: a positive contact time below 0.5 s, positive thresholds; one-line ``InputError`` otherwise."""
        tau = np.asarray(contact_time_s, np.float64)
        if not np.isfinite(tau).all() or (tau <= 0).any() or (tau > 0.5).any():
            raise InputError(f"contact_time_s must be in (0, 0.5] s, got {contact_time_s!r}")
        for k, v in thresholds.items():
            if k not in ("min_speed_mps", "max_height_m", "strike_speed_mps", "strike_elbow_deg", "stop_s",
                         "stop_fraction", "max_events"):
                raise InputError(f"ImpactModel has no {k!r}")
            if not np.isfinite(v) or (v <= 0 and k != "strike_speed_mps"):
                raise InputError(f"ImpactModel {k} must be a positive number, got {v!r}")
        return cls(contact_time_s=jnp.asarray(tau, jnp.float32), **thresholds)


def impact_label(impact) -> object:
    """How an output records the contact model: ``"off"``, or ``{"contact_time_s": ...}`` (a number, or a list
    per clip)."""
    if impact is None or (isinstance(impact, str) and impact.strip().lower() in ("off", "none")):
        return "off"
    tau = ImpactModel().contact_time_s if isinstance(impact, str) else impact.contact_time_s
    tau = np.round(np.asarray(tau, np.float64), 6)
    return {"contact_time_s": tau.tolist()}


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    """Centred moving average of ``n`` (odd) frames along axis 1 of ``(B, T, ...)``, edges by shrinking windows
    (cumulative sums: vectorised over clips)."""
    if n <= 1:
        return x
    h = n // 2
    T = x.shape[1]
    c = np.cumsum(np.concatenate([np.zeros_like(x[:, :1]), x], axis=1), axis=1)
    hi = np.minimum(np.arange(T) + h + 1, T)
    lo = np.maximum(np.arange(T) - h, 0)
    shape = (1, T) + (1,) * (x.ndim - 2)
    return (c[:, hi] - c[:, lo]) / (hi - lo).reshape(shape)


def find_impacts(joints: np.ndarray, fps: float, rig_indices, cutoff_hz, model: ImpactModel, hips=(),
                 lengths=None, ankles=()) -> list:
    """The contact events of each clip's wrist (module docstring): a list of ``(E, EVENT_FIELDS)`` arrays, one a
    clip (``E`` at most ``model.max_events``; possibly none). Vectorised over the clips (they share ``fps``).

    Args:
      joints: ``(B, T, J, 3)`` metres, z-up world (every joint: the floor is the lowest of them).
      fps: frame rate, Hz.
      rig_indices: the arm's joints (shoulder, elbow, wrist, ...), ``ArmRig.indices``.
      cutoff_hz: ``(B,)`` each clip's low-pass cut-off (sets the window; ``None``/inf for none).
      model: the thresholds.
      hips: indices of the hip joints; where given, a wrist arriving at the floor is a fall's contact only if
        the hips are down too (at most ``_BODY_DOWN_M`` above the floor), came down fast (at
        ``_BODY_SPEED_MPS`` or more within the second before) and stay down (rising at most ``_BODY_RISE_M`` in
        the ``_BODY_STAYS_S`` after): a hand reaching down to pick something up, or landing on the lap as a
        person sits, is not.
      lengths: ``(B,)`` valid frames of each clip (default: all).
      ankles: indices of the ankle joints: the floor is the 2nd percentile of their lowest height (default: of
        every joint's).
    """
    X = np.asarray(joints)
    B, T = X.shape[:2]
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    cut = np.array([np.inf if c is None else float(c) for c in np.broadcast_to(np.asarray(cutoff_hz, object), (B,))])
    if T < 6:
        return [np.zeros((0, EVENT_FIELDS))] * B
    if len(hips) and model.strike_speed_mps <= 0:
        # only falls to find: a clip whose hips never come within _BODY_DOWN_M of the highest its lowest joint
        # gets (a bound on the floor) has none, and is skipped (people standing and walking: most clips)
        valid = np.arange(T)[None, :] < lengths[:, None]
        feet = list(ankles) or slice(None)
        hips_low = np.where(valid, np.asarray(X[:, :, list(hips), 2], np.float64).mean(axis=2), np.inf).min(axis=1)
        floor_high = np.where(valid, np.asarray(X[:, :, feet, 2], np.float64).min(axis=2), -np.inf).max(axis=1)
        sub = np.flatnonzero(hips_low - floor_high <= _BODY_DOWN_M)
        if len(sub) < B:
            result = [np.zeros((0, EVENT_FIELDS))] * B
            if len(sub):
                for b, e in zip(sub, _find_impacts(X[sub], fps, rig_indices, cut[sub], model, hips, lengths[sub],
                                                   ankles)):
                    result[b] = e
            return result
    return _find_impacts(X, fps, rig_indices, cut, model, hips, lengths, ankles)


def _find_impacts(X, fps, rig_indices, cut, model, hips, lengths, ankles) -> list:
    """``find_impacts`` on clips of at least 6 frames (``cut``: ``(B,)`` floats, inf for none)."""
    B, T = X.shape[:2]
    valid = np.arange(T)[None, :] < lengths[:, None]  # (B, T)
    sh, el, wr = (np.asarray(X[:, :, rig_indices[i]], np.float64) for i in range(3))
    n_s = max(1, int(round(0.05 * fps)) | 1)  # ~50 ms of smoothing against joint jitter
    p = _smooth(wr, n_s)
    v = np.gradient(p, 1.0 / fps, axis=1)  # (B, T, 3)
    speed = np.where(valid, np.linalg.norm(v, axis=-1), 0.0)
    down = -v[..., 2]
    stop_n = max(2, int(round(model.stop_s * fps)))
    half = np.where(np.isfinite(cut), np.clip(0.6 / np.where(np.isfinite(cut), cut, 1.0), 2.0 / fps, 0.3), 0.3)
    half = np.maximum(half, 2.0 / fps)
    inner = np.zeros((B, T), bool)
    inner[:, 1:-1] = True
    inner &= valid & np.roll(valid, -1, axis=1)
    fall_c = inner.copy()
    fall_c[:, 1:-1] &= (down[:, 1:-1] >= model.min_speed_mps) & (down[:, 1:-1] >= down[:, :-2]) \
        & (down[:, 1:-1] >= down[:, 2:])
    strike_c = inner.copy()
    strike_c[:, 1:-1] &= ((speed[:, 1:-1] >= model.strike_speed_mps) & (speed[:, 1:-1] >= speed[:, :-2])
                          & (speed[:, 1:-1] >= speed[:, 2:]) & (model.strike_speed_mps > 0))
    out = [[] for _ in range(B)]
    # everything else is judged at the candidates only (a few per clip; most clips have none): (K,) arrays
    cb, ci = np.nonzero(fall_c | strike_c)
    if len(cb):
        fall_k, strike_k = fall_c[cb, ci], strike_c[cb, ci]
        ahead = np.minimum(ci[:, None] + np.arange(stop_n + 1)[None, :], T - 1)
        sp_ahead = np.where(ci[:, None] + np.arange(stop_n + 1)[None, :] < T, speed[cb[:, None], ahead], np.inf)
        s0 = speed[cb, ci]

        def first_below(level):  # the first k in 0..stop_n with speed[i + k] <= level (stop_n + 1: none)
            hit = sp_ahead <= level[:, None]
            return np.where(hit.any(-1), hit.argmax(-1), stop_n + 1)

        k_stop = first_below(model.stop_fraction * s0)
        k_mid = first_below(0.5 * s0)
        j = np.minimum(ci + k_stop, T - 1)  # where each candidate's stop ends
        good = (k_stop <= stop_n) & (ci + k_stop < lengths[cb])
        fall_ok = fall_k & good
        if fall_ok.any():
            clips, row = np.unique(cb, return_inverse=True)  # the clips with a candidate
            feet = list(ankles) or slice(None)  # the ankles: a floor every joint set agrees on (azure32's lie lower)
            low = np.sort(np.where(valid[clips], np.asarray(X[clips][:, :, feet, 2], np.float64).min(axis=2), np.inf),
                          axis=1)  # each frame's lowest, sorted
            floor = np.take_along_axis(low, (0.02 * (lengths[clips] - 1)).astype(int)[:, None], axis=1)[:, 0]
            fall_ok &= p[cb, j, 2] - floor[row] <= model.max_height_m
            if len(hips):
                hz = _smooth(np.asarray(X[clips][:, :, list(hips), 2], np.float64).mean(axis=2), n_s) - floor[:, None]
                hdown = np.where(valid[clips], -np.gradient(hz, 1.0 / fps, axis=1), 0.0)
                look = max(1, int(round(fps)))
                stay = max(1, int(round(_BODY_STAYS_S * fps)))
                # the largest downward hip speed over the frames j - look .. j, and the highest the hips get over
                # j .. j + stay (the body came down fast and stays down)
                before = np.clip(j[:, None] - np.arange(look + 1)[None, :], 0, T - 1)
                after = np.clip(j[:, None] + np.arange(stay + 1)[None, :], 0, T - 1)
                hz_end = np.where(valid[clips], hz, -np.inf)
                fall_ok &= ((hz[row, j] <= _BODY_DOWN_M) & (hdown[row[:, None], before].max(-1) >= _BODY_SPEED_MPS)
                            & (hz_end[row[:, None], after].max(-1) - hz[row, j] <= _BODY_RISE_M))
        strike_ok = strike_k & good
        if strike_ok.any():
            def elbow_deg(k):  # the angle at the elbow at frames k of the candidates' clips: 180 straight
                a_, b_ = wr[cb, k] - el[cb, k], sh[cb, k] - el[cb, k]
                c = np.sum(a_ * b_, -1) / np.maximum(np.linalg.norm(a_, axis=-1) * np.linalg.norm(b_, axis=-1), 1e-9)
                return np.degrees(np.arccos(np.clip(c, -1, 1)))

            elbow_end = np.maximum(elbow_deg(j), elbow_deg(np.maximum(j - 1, ci)))
            reach = p[cb, j] - sh[cb, j]  # a strike moves the wrist outward (a swing moves across the arm)
            along = np.sum(v[cb, ci] * reach, -1) >= _STRIKE_ALONG * s0 * np.maximum(np.linalg.norm(reach, axis=-1),
                                                                                     1e-9)
            strike_ok &= (elbow_end >= model.strike_elbow_deg) & along
        for k in np.flatnonzero(fall_ok | strike_ok):
            b, i = cb[k], ci[k]
            out[b].append((speed[b, i], (i + int(k_mid[k])) / fps, v[b, i] / max(speed[b, i], 1e-9)))
    result = []
    for b, events in enumerate(out):
        # one event per stop: merge those closer than a window, keeping the fastest
        events.sort(key=lambda e: -e[0])
        kept = []
        for e in events:
            if all(abs(e[1] - k[1]) > 2 * half[b] for k in kept):
                kept.append(e)
        kept = sorted(kept[:model.max_events], key=lambda e: e[1])
        result.append(np.array([[t, *u, half[b]] for _, t, u in kept], np.float64).reshape(-1, EVENT_FIELDS))
    return result


def stack_events(per_clip: list, dtype) -> np.ndarray:
    """Events of every clip ``(B, E, EVENT_FIELDS)``, ``E`` rounded up to a multiple of 4 (zero rows: none)."""
    e = max([len(x) for x in per_clip] + [0])
    e = -(-e // 4) * 4
    out = np.zeros((len(per_clip), e, EVENT_FIELDS), dtype)
    for b, x in enumerate(per_clip):
        out[b, :len(x)] = x
    return out


def _rotate(q, v):
    """``q ⊗ v ⊗ q*`` for quaternions ``(..., 4)`` (scalar first) and vectors ``(..., 3)``."""
    w, xyz = q[..., :1], q[..., 1:]
    t = 2.0 * jnp.cross(xyz, v)
    return v + w * t + jnp.cross(xyz, t)


def apply_impacts(accel, q_ws, events, contact_time_s, rate_hz: float, time_offset_s):
    """The accelerometer with each event's smeared deceleration replaced by a contact pulse (module docstring).
    Pure JAX: differentiable with respect to ``accel`` and ``contact_time_s``.

    Args:
      accel: ``(B, n, 3)`` specific force in the sensor frame (m/s^2).
      q_ws: ``(B, n, 4)`` sensor-to-world orientation.
      events: ``(B, E, EVENT_FIELDS)`` (``find_impacts``, stacked; half-width 0: no event).
      contact_time_s: scalar or ``(B,)``.
      rate_hz: sample rate; sample ``k`` is at ``k / rate_hz + time_offset_s`` (``(B,)``) in motion time.
    Returns: ``(B, n, 3)``.
    """
    dtype = accel.dtype
    B, n, _ = accel.shape
    t = jnp.arange(n, dtype=dtype)[None, :] / rate_hz + jnp.asarray(time_offset_s, dtype).reshape(-1, 1)  # (B, n)
    g = jnp.asarray(GRAVITY_W, dtype)
    a_w = _rotate(q_ws, accel) + g[None, None, :]  # (B, n, 3): the sensor's world acceleration
    tau = jnp.broadcast_to(jnp.asarray(contact_time_s, dtype).reshape(-1), (B,))
    sigma = jnp.sqrt((0.254 * tau) ** 2 + (0.4 / rate_hz) ** 2)[:, None]  # (B, 1)

    def one_event(ev):  # (B, EVENT_FIELDS) -> correction (B, n, 3)
        te, u, half = ev[:, :1], ev[:, 1:4], ev[:, 4:5]
        m = ((jnp.abs(t - te) <= half) & (half > 0)).astype(dtype)  # (B, n)
        a_par = jnp.sum(a_w * u[:, None, :], axis=-1)  # (B, n)
        neg = jnp.minimum(a_par, 0.0) * m  # the deceleration, for the centroid
        dv = jnp.minimum(jnp.sum(a_par * m, axis=1, keepdims=True), 0.0) / rate_hz  # (B, 1): net, <= 0
        wsum = jnp.sum(neg, axis=1, keepdims=True)
        tc = jnp.where(wsum < 0, jnp.sum(neg * t, axis=1, keepdims=True) / jnp.where(wsum < 0, wsum, 1.0), te)
        pulse = jnp.exp(-0.5 * ((t - tc) / sigma) ** 2) * m
        pulse = pulse / jnp.maximum(jnp.sum(pulse, axis=1, keepdims=True) / rate_hz, 1e-12)
        return (dv * pulse - jnp.where(dv < 0, a_par * m, 0.0))[..., None] * u[:, None, :]

    corr = jnp.sum(jax.vmap(one_event, in_axes=1)(events.astype(dtype)), axis=0) if events.shape[1] else 0.0
    q_sw = q_ws * jnp.asarray([1.0, -1.0, -1.0, -1.0], dtype)[None, None, :]
    return accel + _rotate(q_sw, corr)
