"""MEMS sensor error model: a differentiable pytree of parameters and one pure function of an explicit PRNG key.

One sensor (accelerometer or gyroscope), per axis, in SI units (``u`` = m/s^2 for the accelerometer, rad/s for
the gyroscope). For the ideal reading ``x`` at ``fs`` Hz, the model is (Fusion's ``FusionModel.h`` inverted:
misalignment times scaled reading, then offset)::

    y = (I + M) diag(1 + s) x + b0 + b_rw[k] + n[k],   then saturate at ±range, then quantise to the LSB

* ``n[k]``: white noise with density ``noise_density`` N (u/√Hz), ``sigma = N sqrt(fs)`` per sample. Densities are
  in the Allan/IEEE sense: the Allan deviation of ``n`` at ``tau = 1 s`` equals N. Datasheet noise densities are
  used as N, as robotics calibration tools (Kalibr, imu_utils) do.
* ``b_rw``: bias random walk with density K (``random_walk``, u/√s, e.g. rad/s/√s: the Allan "rate random walk"
  unit): each sample steps by ``K / sqrt(fs)`` times a standard normal, starting at 0, so after ``t`` seconds its
  standard deviation is ``K sqrt(t)``.
* ``b0 = bias + bias_std * N(0, I)``: a fixed offset plus a random turn-on bias drawn per clip.
* ``s = scale_error + scale_std * N(0, I)``: scale-factor error (fraction, 0.01 = 1 %).
* ``M = misalignment + misalignment_std * N(0, I)`` off the diagonal: cross-axis sensitivity (fraction).
* saturation at ``±range`` and quantisation to ``lsb = 2 range / 2^bits`` (two's complement of ``bits`` bits:
  a quantised reading spans ``-range .. range - lsb``, codes ``-2^(bits-1) .. 2^(bits-1) - 1``).

Gradients: rounding and clipping use straight-through estimators (the value is exact, the gradient with respect
to the input passes through unchanged; the gradient with respect to ``range`` and ``bits`` is that of the
un-rounded expression, e.g. ``d(lsb round(x/lsb))/d lsb = round(x/lsb) - x/lsb``), so every parameter has a
useful gradient. A ``bits`` of 0 or less, or a ``range`` of ``inf``, disables quantisation or saturation.

Presets (``NOISE_PRESETS``) carry datasheet values for consumer smartwatch IMUs; bias instability and random
walk are not specified in these datasheets and are set to typical consumer-MEMS values (marked as assumed).
"""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from imusim_jax._constants import STANDARD_GRAVITY
from imusim_jax._errors import InputError
from imusim_jax._ops import cumsum_last, sincos_turns  # sincos_turns: re-exported

__all__ = ["SensorNoise", "ImuNoise", "NOISE_PRESETS", "get_noise", "apply_sensor_noise", "apply_noise",
           "ideal_sensor", "save_noise_json", "noise_profile_json", "ste_round", "ste_clip", "counter_normals",
           "counter_normal_rows", "sincos_turns", "stack_noise"]

_DEG = np.pi / 180.0
_MG = 1e-3 * STANDARD_GRAVITY


def _f32(x, shape=None):
    a = np.asarray(x, np.float32)
    return np.broadcast_to(a, shape).copy() if shape is not None else a


@struct.dataclass
class SensorNoise:
    """Error parameters of one 3-axis sensor (SI units; see the module docstring for the model).

    Attributes:
      noise_density: ``(3,)`` white-noise density N, u/√Hz.
      random_walk: ``(3,)`` bias random-walk density K, u/√s (steps of ``K / sqrt(fs)`` per sample).
      bias: ``(3,)`` fixed offset, u.
      bias_std: ``(3,)`` standard deviation of the random turn-on bias, u.
      scale_error: ``(3,)`` fixed scale-factor error (fraction).
      scale_std: ``(3,)`` standard deviation of a random scale-factor error (fraction).
      misalignment: ``(3, 3)`` fixed cross-axis matrix ``M`` (fraction; the diagonal is ignored).
      misalignment_std: ``()`` standard deviation of random cross-axis terms (fraction).
      range: ``()`` full-scale range, u (``inf``: no saturation).
      bits: ``()`` ADC bit depth (``0``: no quantisation).
    """

    noise_density: Any
    random_walk: Any
    bias: Any
    bias_std: Any
    scale_error: Any
    scale_std: Any
    misalignment: Any
    misalignment_std: Any
    range: Any
    bits: Any

    @classmethod
    def create(cls, noise_density=0.0, random_walk=0.0, bias=0.0, bias_std=0.0, scale_error=0.0, scale_std=0.0,
               misalignment=0.0, misalignment_std=0.0, range=np.inf, bits=0.0) -> "SensorNoise":
        """Build with scalars broadcast to per-axis arrays (NumPy float32 leaves). Concrete values are checked as
        ``from_dict`` checks a profile's (one-line ``InputError``); traced ones (under ``jit`` or ``grad``) are not."""
        for k, v in zip(_FIELDS, (noise_density, random_walk, bias, bias_std, scale_error, scale_std, misalignment,
                                  misalignment_std, range, bits)):
            if not isinstance(v, jax.core.Tracer):
                _checked(k, v, "SensorNoise")
        return cls(_f32(noise_density, (3,)), _f32(random_walk, (3,)), _f32(bias, (3,)), _f32(bias_std, (3,)),
                   _f32(scale_error, (3,)), _f32(scale_std, (3,)), _f32(misalignment, (3, 3)),
                   _f32(misalignment_std), _f32(range), _f32(bits))

    def to_dict(self) -> dict:
        return {k: np.asarray(getattr(self, k)).tolist() for k in _FIELDS}

    @classmethod
    def from_dict(cls, d: dict, where: str = "sensor noise") -> "SensorNoise":
        """From a profile's JSON object (missing fields are 0; ``range`` ``"inf"``/``null``: no saturation).
        Raises a one-line ``InputError`` (naming ``where``) for unknown keys, values that are not numbers of the
        field's shape, negative densities or standard deviations, a non-positive range, a bit depth that is not
        0 or a whole number from 2 to 32, or a scale error of -100 % or less."""
        if not isinstance(d, dict):
            raise InputError(f"{where} must be a JSON object of {', '.join(_FIELDS)}, got {type(d).__name__}")
        unknown = set(d) - set(_FIELDS)
        if unknown:
            raise InputError(f"{where}: unknown keys {sorted(unknown)}; expected {', '.join(_FIELDS)}")
        if "range" in d and d["range"] is None:  # JSON has no infinity: null (or the string "inf") stands for it
            d = {**d, "range": np.inf}
        for k, v in d.items():
            _checked(k, v, where)
        return cls.create(**d)


def _checked(k: str, v, where: str) -> np.ndarray:
    """Field ``k`` of a ``SensorNoise`` as a float64 array of its shape, or a one-line ``InputError`` naming
    ``where``: a number or the field's full shape, finite (``range`` may be infinite), not negative for densities
    and standard deviations, a positive range, a bit depth of 0 or 2-32, a scale error above -100 %."""
    shape = _SHAPES[k]
    v = v.tolist() if hasattr(v, "tolist") else v  # shown on one line
    what = "a number" if shape == () else f"a number or an array of shape {shape}"
    try:
        a = np.asarray(v, np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}.{k} must be {what}, got {v!r}") from None
    if a.shape not in ((), shape):  # a number for every axis, or one per axis: nothing in between
        raise InputError(f"{where}.{k} must be {what}, got shape {a.shape}")
    a = np.broadcast_to(a, shape)
    if np.isnan(a).any() or (k != "range" and not np.isfinite(a).all()):
        raise InputError(f"{where}.{k} must be finite, got {v!r}")
    if k in _NON_NEGATIVE and (a < 0).any():
        raise InputError(f"{where}.{k} must not be negative (a density or a standard deviation), got {v!r}")
    if k == "range" and (a <= 0).any():
        raise InputError(f"{where}.range must be positive ('inf' or null: no saturation), got {v!r}")
    if k == "bits" and not (a == 0 or (a == np.round(a) and 2 <= a <= 32)):
        raise InputError(f"{where}.bits must be 0 (no quantisation) or a whole number of bits from 2 to 32, "
                         f"got {v!r}")
    if k == "scale_error" and (a <= -1).any():
        raise InputError(f"{where}.scale_error is a fraction (0.01 = 1 %) above -1, got {v!r}")
    return a


_FIELDS = ("noise_density", "random_walk", "bias", "bias_std", "scale_error", "scale_std", "misalignment",
           "misalignment_std", "range", "bits")
_SHAPES = {"noise_density": (3,), "random_walk": (3,), "bias": (3,), "bias_std": (3,), "scale_error": (3,),
           "scale_std": (3,), "misalignment": (3, 3), "misalignment_std": (), "range": (), "bits": ()}
_NON_NEGATIVE = ("noise_density", "random_walk", "bias_std", "scale_std", "misalignment_std")


@struct.dataclass
class ImuNoise:
    """Error parameters of a 6-axis IMU: ``accel`` (m/s^2 units) and ``gyro`` (rad/s units); ``name`` is static."""

    accel: SensorNoise
    gyro: SensorNoise
    name: str = struct.field(pytree_node=False, default="custom")


def ideal_sensor() -> SensorNoise:
    """No error at all (the identity model)."""
    return SensorNoise.create()


def ste_round(x):
    """``round(x)`` in value, identity in gradient (straight-through estimator)."""
    return x + jax.lax.stop_gradient(jnp.round(x) - x)


def ste_clip(x, lo, hi):
    """``clip(x, lo, hi)`` in value; gradient 1 with respect to ``x`` (straight-through) and the usual gradient
    with respect to the bounds where they bind."""
    xs = jax.lax.stop_gradient(x)
    return jnp.clip(xs, lo, hi) + (x - xs)


_PER_CLIP = 3 + 3 + 9  # bias, scale, misalignment
_PER_SAMPLE = 3 + 3    # random-walk step, white noise


def _triple32(x):
    """Chris Wellons' ``triple32`` integer hash (hash-prospector: a bijection of uint32 with near-ideal
    avalanche, bias 0.021): three xor-shift-multiply rounds."""
    x = x ^ (x >> 17)
    x = x * jnp.uint32(0xED5AD4BB)
    x = x ^ (x >> 11)
    x = x * jnp.uint32(0xAC4C1B51)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x31848BAB)
    return x ^ (x >> 14)


def counter_normals(seed: jnp.ndarray, rows: int, n: int, dtype=jnp.float32) -> jnp.ndarray:
    """Standard normals ``(rows, n)`` (``rows`` even) from a counter-based generator keyed by ``seed`` (2,) uint32.

    Element ``(c, k)`` draws the 32 bits ``triple32(triple32(i ^ s0) + s1)`` with counter ``i = k rows + c``;
    rows ``c`` and ``c + rows / 2`` are paired into one Box-Muller transform (24-bit uniforms ``u1`` in ``(0, 1]``
    and ``u2``: ``r = sqrt(-2 ln u1)``, ``r cos(2 pi u2)`` in row ``c`` and ``r sin(2 pi u2)`` in row
    ``c + rows / 2``; values stay finite, at most 5.8 sigma). Column ``k`` depends only on the seed and ``k``,
    so a clip padded into a longer batch draws the same noise for its samples as it does alone.

    Why not ``jax.random.normal``: the noise model needs 12 normals per IMU sample (6,144 per 10 s clip at 50 Hz),
    and threefry's 20 rounds plus ``erf_inv`` cost 0.19 ms per clip on a 2-core CPU, about half of the whole
    simulator; this costs 0.02 ms. The seed still comes from ``jax.random`` (``jax.random.bits`` of the clip's
    key), so keys, ``split`` and ``fold_in`` keep their meaning and a key gives the same noise on every platform
    (integer arithmetic; the float transform to within rounding). Statistical checks (mean, variance, normality,
    serial, cross-channel and cross-key correlation, and the Allan deviation of the white noise) are in
    ``tests/test_noise.py``.
    """
    return jnp.stack(counter_normal_rows(seed, rows, n, dtype))


def counter_normal_rows(seed: jnp.ndarray, rows: int, n: int, dtype=jnp.float32) -> tuple:
    """``counter_normals`` as a tuple of ``rows`` arrays ``(n,)``: the simulator's layout. Inside ``vmap``, rows
    stacked into one array are written through a transposed layout by XLA's CPU backend (five times slower)."""
    if rows % 2:
        raise ValueError(f"counter_normals needs an even number of rows, got {rows}")
    if rows * n >= 2 ** 32:
        raise ValueError(f"counter_normals draws at most 2^32 values per seed, asked for {rows} x {n}")
    seed = jnp.asarray(seed, jnp.uint32)
    k = jnp.arange(n, dtype=jnp.uint32) * jnp.uint32(rows)

    def uniform(c):  # 24-bit uniform in [0, 1 - 2^-24] from counter k rows + c
        bits = _triple32(_triple32((k + jnp.uint32(c)) ^ seed[0]) + seed[1])
        return (bits >> 8).astype(dtype) * (2.0 ** -24)

    h = rows // 2
    out = [None] * rows
    for c in range(h):
        r = jnp.sqrt(-2.0 * jnp.log(1.0 - uniform(c)))
        cos, sin = sincos_turns(uniform(c + h))
        out[c], out[c + h] = r * cos, r * sin
    return tuple(out)


def _draws(key: jax.Array, n: int, sensors: int, dtype):
    """Standard normals for ``sensors`` sensors: per clip ``(sensors, 15)`` (``jax.random.normal``) and per sample
    ``6 sensors`` rows ``(n,)`` (``counter_normal_rows`` seeded by ``jax.random.bits`` of the key)."""
    k_clip, k_samp = jax.random.split(key)
    # drawn in float32 whatever the precision (a float64 draw reads other bits of the key), so a key gives the same
    # noise with and without x64: the command line (float64) and the library's default (float32) agree
    z_clip = jax.random.normal(k_clip, (sensors, _PER_CLIP), jnp.float32).astype(dtype)
    seed = jax.random.bits(k_samp, (2,), jnp.uint32)
    return z_clip, counter_normal_rows(seed, sensors * _PER_SAMPLE, n, dtype)


def _corrupt(x: jnp.ndarray, p: SensorNoise, rate_hz: float, z_clip: jnp.ndarray, z_samp: jnp.ndarray):
    """The error model of the module docstring on component-major readings ``x`` ``(3, T)``, given standard
    normals ``z_clip`` ``(15,)`` and ``z_samp`` ``(6, T)``; returns ``(3, T)``."""
    params = _sensor_params(p, rate_hz, z_clip)
    rows = _corrupt_batch(tuple(r[None] for r in x), jax.tree.map(lambda a: a[None], params),
                          tuple(r[None] for r in z_samp))
    return jnp.concatenate(rows)


def _sensor_params(p: SensorNoise, rate_hz: float, z_clip: jnp.ndarray):
    """One clip's error terms from its per-clip normals ``z_clip`` ``(15,)``: ``A = (I + M) diag(1 + s)`` (3, 3),
    the offset ``b0`` (3,), the random-walk step and white-noise scales per sample (3,) each, the range, the LSB,
    and whether to saturate and quantise (scalars)."""
    dtype = z_clip.dtype
    sqrt_fs = jnp.sqrt(jnp.asarray(rate_hz, dtype))
    scale = 1.0 + p.scale_error + p.scale_std * z_clip[3:6]
    off = 1.0 - jnp.eye(3, dtype=dtype)
    M = jnp.eye(3, dtype=dtype) + off * (p.misalignment + p.misalignment_std * z_clip[6:15].reshape(3, 3))
    A = M * scale[None, :]
    b0 = p.bias + p.bias_std * z_clip[0:3]
    rng = jnp.asarray(p.range, dtype)
    finite = jnp.isfinite(rng)
    bits = jnp.asarray(p.bits, dtype)
    quantise = (bits > 0) & finite
    lsb = jnp.where(quantise, 2.0 * jnp.where(finite, rng, 1.0) / jnp.exp2(jnp.where(quantise, bits, 1.0)), 1.0)
    return (A, b0, p.random_walk / sqrt_fs, p.noise_density * sqrt_fs, rng, finite, lsb, quantise)


def _corrupt_batch(x: tuple, params, z: tuple) -> tuple:
    """The error model on a batch: ``x`` three rows ``(B, T)`` (one per axis), ``params`` from ``_sensor_params``
    with a leading clip axis, ``z`` six rows ``(B, T)`` of standard normals (random-walk steps, then white
    noise); returns three rows ``(B, T)``.

    Written for the batch, not per clip under ``vmap``: ``y = A x`` is one batched matrix product over the
    readings stacked as ``(B, 3, T)``, which XLA's CPU backend computes once and reads three times (an
    element-wise sum per row would have it recompute the readings, and all that is fused into them, per row;
    inside ``vmap``, the stack would be written through a transposed layout)."""
    A, b0, rw, nd, rng, finite, lsb, quantise = params
    Ax = jnp.einsum("bij,bjt->bit", A, jnp.stack(x, axis=1), precision=jax.lax.Precision.HIGHEST)
    rng, finite, lsb, quantise = (a[:, None] for a in (rng, finite, lsb, quantise))
    out = []
    for i in range(3):
        steps = z[i] * rw[:, i, None]
        b_rw = cumsum_last(steps) - steps[:, :1]  # starts at 0
        y = Ax[:, i] + b0[:, i, None] + b_rw + z[3 + i] * nd[:, i, None]
        # a quantised reading saturates at the two's complement codes -2^(bits-1) .. 2^(bits-1) - 1
        y = jnp.where(finite, ste_clip(y, -rng, jnp.where(quantise, rng - lsb, rng)), y)
        out.append(jnp.where(quantise, lsb * ste_round(y / lsb), y))
    return tuple(out)


def apply_sensor_noise(key: jax.Array, x: jnp.ndarray, p: SensorNoise, rate_hz: float) -> jnp.ndarray:
    """Corrupt one clip's ideal readings ``x`` ``(T, 3)`` (SI units) sampled at ``rate_hz``.

    Deterministic given ``key``; differentiable with respect to ``x`` and every field of ``p``.
    """
    z_clip, z_samp = _draws(key, x.shape[0], 1, x.dtype)
    return _corrupt(x.T, p, rate_hz, z_clip[0], jnp.stack(z_samp)).T


def apply_noise(key: jax.Array, accel: jnp.ndarray, gyro: jnp.ndarray, noise: ImuNoise, rate_hz: float):
    """Apply an ``ImuNoise`` to one clip: returns ``(accel, gyro)`` with the same shapes ``(T, 3)``."""
    a, g = apply_noise_rows(key[None], tuple(r[None] for r in accel.T), tuple(r[None] for r in gyro.T), noise,
                            rate_hz)
    return jnp.concatenate(a).T, jnp.concatenate(g).T


def apply_noise_rows(keys: jax.Array, accel: tuple, gyro: tuple, noise: ImuNoise, rate_hz: float,
                     noise_batched: bool = False):
    """``apply_noise`` on a batch of clips given as rows (three arrays ``(B, T)`` per sensor, the simulator's
    internal layout), one key per clip ``(B,)``; ``noise_batched``: ``noise``'s leaves carry a clip axis.
    Clip ``b`` gets exactly the noise ``apply_noise(keys[b], ...)`` gives it alone."""
    n, dtype = accel[0].shape[-1], accel[0].dtype
    z_clip, z = jax.vmap(lambda k: _draws(k, n, 2, dtype))(keys)  # (B, 2, 15); twelve rows (B, T)
    ax = 0 if noise_batched else None
    params = jax.vmap(_sensor_params, in_axes=(ax, None, 0))
    return (_corrupt_batch(accel, params(noise.accel, rate_hz, z_clip[:, 0]), z[:_PER_SAMPLE]),
            _corrupt_batch(gyro, params(noise.gyro, rate_hz, z_clip[:, 1]), z[_PER_SAMPLE:]))


# ---------------------------------------------------------------------------------------------------------------
# Presets from datasheets. Typical (1 sigma) values; "assumed" where the datasheet gives none.
# ---------------------------------------------------------------------------------------------------------------

def _preset(name, *, acc_nd_ug, gyr_nd_mdps, acc_off_mg, gyr_off_dps, acc_sens_pct, gyr_sens_pct, cross_pct,
            acc_range_g, gyr_range_dps, bits=16, acc_rw=1e-4, gyr_rw=1e-5) -> ImuNoise:
    acc = SensorNoise.create(noise_density=acc_nd_ug * 1e-6 * STANDARD_GRAVITY, random_walk=acc_rw,
                             bias_std=acc_off_mg * _MG, scale_std=acc_sens_pct / 100.0,
                             misalignment_std=cross_pct / 100.0, range=acc_range_g * STANDARD_GRAVITY, bits=bits)
    gyr = SensorNoise.create(noise_density=gyr_nd_mdps * 1e-3 * _DEG, random_walk=gyr_rw,
                             bias_std=gyr_off_dps * _DEG, scale_std=gyr_sens_pct / 100.0,
                             misalignment_std=cross_pct / 100.0, range=gyr_range_dps * _DEG, bits=bits)
    return ImuNoise(acc, gyr, name)


NOISE_PRESETS: dict[str, ImuNoise] = {
    # Bosch Sensortec BMI160 data sheet, BST-BMI160-DS000 (rev. 1.0, 2020), table 1: accelerometer output noise
    # density 180 ug/sqrt(Hz), zero-g offset ±40 mg, sensitivity tolerance ±1 %, cross-axis sensitivity ±1 %;
    # gyroscope output noise 0.007 °/s/sqrt(Hz), zero-rate offset ±3 °/s, sensitivity tolerance ±1 %. 16-bit.
    # Ranges as smartwatch firmware commonly sets them (±8 g, ±2000 °/s).
    "bmi160": _preset("bmi160", acc_nd_ug=180, gyr_nd_mdps=7.0, acc_off_mg=40, gyr_off_dps=3.0, acc_sens_pct=1.0,
                      gyr_sens_pct=1.0, cross_pct=1.0, acc_range_g=8, gyr_range_dps=2000),
    # Bosch Sensortec BMI270 data sheet, BST-BMI270-DS000 (rev. 1.5, 2023): accelerometer noise density
    # 160 ug/sqrt(Hz), zero-g offset ±20 mg, sensitivity error ±0.4 %; gyroscope noise density 7 mdps/sqrt(Hz)
    # (performance mode), zero-rate offset ±0.5 °/s (over life time), sensitivity error ±0.4 %; cross-axis ±0.5 %
    # (assumed from the gyroscope's cross-axis spec). 16-bit.
    "bmi270": _preset("bmi270", acc_nd_ug=160, gyr_nd_mdps=7.0, acc_off_mg=20, gyr_off_dps=0.5, acc_sens_pct=0.4,
                      gyr_sens_pct=0.4, cross_pct=0.5, acc_range_g=8, gyr_range_dps=2000),
    # STMicroelectronics LSM6DSO data sheet, DS12140 rev. 2, table 2: accelerometer noise density 70 ug/sqrt(Hz)
    # (high-performance mode), zero-g offset ±20 mg; gyroscope rate noise density 3.8 mdps/sqrt(Hz), zero-rate
    # level ±1 °/s; sensitivity tolerance ±1 % (assumed, typical of the family); cross-axis ±1 % (assumed). 16-bit.
    "lsm6dso": _preset("lsm6dso", acc_nd_ug=70, gyr_nd_mdps=3.8, acc_off_mg=20, gyr_off_dps=1.0, acc_sens_pct=1.0,
                       gyr_sens_pct=1.0, cross_pct=1.0, acc_range_g=8, gyr_range_dps=2000),
}
NOISE_PRESETS["ideal"] = ImuNoise(ideal_sensor(), ideal_sensor(), "ideal")


def noise_profile_json(noise: ImuNoise, **extra) -> str:
    """A noise profile as JSON text: ``accel`` and ``gyro`` objects with the ``SensorNoise`` fields in SI units
    (``range`` ``"inf"``: no saturation; a missing field reads as 0), plus ``extra`` keys."""
    d = {"format": "imusim-jax/noise", "version": 1, "name": noise.name,
         "units": "SI: accel m/s^2 (noise_density m/s^2/sqrt(Hz), random_walk m/s^2/sqrt(s)), gyro rad/s "
                  "(rad/s/sqrt(Hz), rad/s/sqrt(s)); scale and misalignment as fractions",
         "accel": noise.accel.to_dict(), "gyro": noise.gyro.to_dict(), **extra}
    return json.dumps(d, indent=2, default=lambda o: "inf" if o == np.inf else o)


def save_noise_json(noise: ImuNoise, path: str | os.PathLike, **extra) -> None:
    """Write a noise profile as JSON (``noise_profile_json``); ``--noise path.json`` reads it back."""
    with open(path, "w") as f:
        f.write(noise_profile_json(noise, **extra))


def _load_noise_json(path: str) -> ImuNoise:
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"cannot read noise profile {path}: {e}".splitlines()[0]) from None
    if "noise" in d and isinstance(d["noise"], dict):  # a SensorProfile wraps the noise model
        d = d["noise"]
    if not ("accel" in d and "gyro" in d):
        raise InputError(f"noise profile {path} needs 'accel' and 'gyro' objects")
    return ImuNoise(SensorNoise.from_dict(d["accel"], f"{os.path.basename(path)}: accel"),
                    SensorNoise.from_dict(d["gyro"], f"{os.path.basename(path)}: gyro"),
                    str(d.get("name", os.path.basename(path))))


def get_noise(noise: str | ImuNoise | None) -> ImuNoise | None:
    """``None``/``"none"`` (no noise at all), a preset name (``bmi160``, ``bmi270``, ``lsm6dso``, ``ideal``), a
    ``profile.json`` path, or an ``ImuNoise`` unchanged."""
    if noise is None or isinstance(noise, ImuNoise):
        return noise
    key = str(noise).strip()
    if key.lower() == "none":
        return None
    if key.lower() in NOISE_PRESETS:
        return NOISE_PRESETS[key.lower()]
    if key.lower().endswith(".json"):
        if not os.path.exists(key):
            raise InputError(f"no such noise profile: {key}")
        return _load_noise_json(key)
    raise InputError(f"unknown noise {noise!r}; expected none, {', '.join(NOISE_PRESETS)} or a profile .json")


def stack_noise(models: Sequence[ImuNoise | str]) -> ImuNoise:
    """Stack noise models (presets or ``ImuNoise``) into one batched ``ImuNoise`` (each leaf gains a clip axis)."""
    if not models:
        raise InputError("no noise models to stack")
    ns = [get_noise(n) for n in models]
    if any(n is None for n in ns):
        ns = [get_noise("ideal") if n is None else n for n in ns]
    name = "+".join(n.name for n in ns)
    ns = [n.replace(name=name) for n in ns]  # static metadata must agree for tree.map
    return jax.tree.map(lambda *xs: jnp.stack([jnp.asarray(x) for x in xs]), *ns)
