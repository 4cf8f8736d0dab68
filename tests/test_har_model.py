"""The IMU-Patchformer and its heads: shapes, padding masks, learning a tiny batch, no recompiling, the
augmentations' physics, and ONNX equal to JAX."""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from imusim_jax.models.har import data as D
from imusim_jax.models.har.heads import HARModel, LossWeights, multitask_loss
from imusim_jax.models.har.patchformer import (IMUPatchformer, PatchformerConfig, count_params, fit_patches,
                                               num_patches, summary_line)

TINY = PatchformerConfig(channel_dim=4, channel_heads=2, patch_len=8, patch_stride=4, d_model=16, depth=2, heads=2,
                         mlp_ratio=2, dropout=0.0, max_patches=16)


def _init(model, T=32, seed=0):
    return jax.jit(model.init)(jax.random.key(seed), jnp.zeros((1, T, 6)), jnp.ones((1, T), bool))["params"]


def _apply(model, params, x, m):
    return jax.jit(model.apply)({"params": params}, x, m)


_augment = jax.jit(D.augment_one, static_argnums=(3, 4))


def test_shapes_and_default_size():
    cfg = PatchformerConfig()
    model = HARModel(cfg, 21)
    x = jax.random.normal(jax.random.key(0), (3, 128, 6))
    params = _init(model, 128)
    out = _apply(model, params, x, jnp.ones((3, 128), bool))
    assert out["activity"].shape == (3, 21) and out["safety"].shape == (3, 2) and out["severity"].shape == (3, 5)
    n = num_patches(128, 32, 16)
    assert n == 7 and out["tokens"].shape == (3, n, 128) and out["patch_mask"].shape == (3, n)
    assert out["pooled"].shape == (3, 128) and out["tokens"].dtype == jnp.float32
    assert count_params(params["encoder"]) == 735_800
    line = summary_line(params, cfg, [("activity", 21)])
    assert "739,412 parameters" in line and "\n" not in line
    # shorter than one patch: one token; low-rate windows get shorter patches
    enc = IMUPatchformer(TINY)
    short = _apply(enc, _init(enc), x[:, :5], jnp.ones((3, 5), bool))
    assert short["tokens"].shape == (3, 1, 16) and bool(short["patch_mask"].all())
    assert fit_patches(128, 32, 16) == (32, 16) and fit_patches(40, 32, 16) == (16, 8)
    assert fit_patches(10, 32, 16) == (4, 2)


def test_a_padded_window_scores_as_the_unpadded_one():
    model = HARModel(TINY, 3)
    params = _init(model, 60)
    rng = np.random.default_rng(0)
    for L in (37, 40, 21, 6):          # not a multiple of the stride, a multiple, short, shorter than a patch
        x = jnp.asarray(rng.normal(size=(1, L, 6)) * 3, jnp.float32)
        ref = _apply(model, params, x, jnp.ones((1, L), bool))
        junk = jnp.asarray(rng.normal(size=(1, 60 - L, 6)) * 50, jnp.float32)   # any values in the padding
        xp = jnp.concatenate([x, junk], axis=1)
        mp = jnp.asarray(np.arange(60) < L)[None]
        out = _apply(model, params, xp, mp)
        for h in ("activity", "safety", "severity", "pooled"):
            np.testing.assert_allclose(out[h], ref[h], atol=2e-5, rtol=1e-5, err_msg=f"{h} at length {L}")
        n = ref["tokens"].shape[1]
        np.testing.assert_allclose(out["tokens"][:, :n], ref["tokens"], atol=2e-5, rtol=1e-5)
        assert bool(out["patch_mask"][0, :n].all()) and not bool(out["patch_mask"][0, n:].any())


def test_the_model_overfits_a_tiny_batch():
    import optax

    model = HARModel(TINY, 4)
    params = _init(model, 32, seed=1)
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(8, 32, 6)), jnp.float32)
    batch = {"activity": jnp.asarray([0, 1, 2, 3, 0, 1, 2, 3]), "safety": jnp.asarray([0, 1] * 4),
             "severity": jnp.asarray([0, 1, 2, 3, 4, 0, 1, 2]), "weight": jnp.ones(8)}
    m = jnp.ones((8, 32), bool)
    tx = optax.adam(3e-3)
    opt = tx.init(params)

    @jax.jit
    def step(p, o):
        def f(p):
            return multitask_loss(model.apply({"params": p}, x, m), batch, LossWeights(class_weighting="none"))[0]

        loss, g = jax.value_and_grad(f)(p)
        u, o = tx.update(g, o, p)
        return optax.apply_updates(p, u), o, loss

    first = None
    for _ in range(300):
        params, opt, loss = step(params, opt)
        first = float(loss) if first is None else first
    out = _apply(model, params, x, m)
    assert float(loss) < 0.05 * first
    assert (np.argmax(out["activity"], -1) == np.asarray(batch["activity"])).all()
    assert (np.argmax(out["severity"], -1) == np.asarray(batch["severity"])).all()


def test_loss_skips_missing_labels_and_weights_classes():
    out = {"activity": jnp.zeros((3, 2)), "safety": jnp.zeros((3, 2)), "severity": jnp.zeros((3, 5))}
    b = {"activity": jnp.asarray([0, -1, 1]), "safety": jnp.asarray([-1, -1, -1]), "severity": jnp.asarray([0, 1, 2]),
         "weight": jnp.asarray([1.0, 1.0, 0.0])}
    loss, parts = multitask_loss(out, b, LossWeights(1.0, 1.0, 1.0, "none"))
    assert np.isclose(parts["activity"], np.log(2)) and float(parts["safety"]) == 0.0
    assert np.isclose(parts["severity"], np.log(5)) and np.isfinite(loss)


def test_a_second_training_step_does_not_recompile(compiles):
    from imusim_jax.models.har.config import TrainConfig
    from imusim_jax.models.har.train import Trainer

    cfg = TrainConfig(model=TINY, window=D.WindowConfig(rate_hz=20, length_s=1.6, stride_s=0.8))
    tr = Trainer(cfg, 3, 10)
    params, opt = tr.init(0)
    W = cfg.window.length
    batch = {"x": jnp.ones((4, W, 6)), "mask": jnp.ones((4, W), bool), "activity": jnp.zeros(4, jnp.int32),
             "safety": jnp.zeros(4, jnp.int32), "severity": jnp.zeros(4, jnp.int32), "weight": jnp.ones(4)}
    params, opt, _ = tr.step(params, opt, batch, jax.random.key(0))
    tr.predict(params, np.ones((5, W, 6), np.float32), np.ones((5, W), bool))
    with compiles() as c:
        params, opt, parts = tr.step(params, opt, batch, jax.random.key(1))
        tr.predict(params, np.zeros((5, W, 6), np.float32), np.ones((5, W), bool))
        jax.block_until_ready(parts["loss"])
    assert not c, c


def _signal(seed=0, W=64):
    rng = np.random.default_rng(seed)
    return jnp.asarray(rng.normal(size=(W, 6)) * [3, 3, 3, 1, 1, 1] + [0, 0, 9.8, 0, 0, 0], jnp.float32)


def test_augmentations_rotate_about_x_mirror_and_saturate():
    x = _signal()
    m = jnp.ones(64, bool)
    off = D.AugmentConfig(rotate_forearm_deg=0, mirror_prob=0, stretch=0, rate_prob=0, gain=0, noise_accel=0,
                          noise_gyro=0, saturate_prob=0)
    y, ym = _augment(jax.random.key(0), x, m, off, 50.0)
    np.testing.assert_allclose(y, x, atol=1e-6)
    rot = dataclasses.replace(off, rotate_forearm_deg=180.0)
    y, _ = _augment(jax.random.key(3), x, m, rot, 50.0)
    np.testing.assert_allclose(y[:, 0], x[:, 0], atol=1e-5)          # about the sensor's x axis: x unchanged
    np.testing.assert_allclose(y[:, 3], x[:, 3], atol=1e-5)
    np.testing.assert_allclose(jnp.linalg.norm(y[:, :3], axis=1), jnp.linalg.norm(x[:, :3], axis=1), rtol=1e-5)
    mir = dataclasses.replace(off, mirror_prob=1.0)
    y, _ = _augment(jax.random.key(0), x, m, mir, 50.0)
    np.testing.assert_allclose(y, x * jnp.asarray([-1, 1, 1, 1, -1, -1.0])[None], atol=1e-6)
    sat = dataclasses.replace(off, saturate_prob=1.0, accel_limits_g=(2.0,), gyro_limits_dps=(90.0,))
    y, _ = _augment(jax.random.key(0), x, m, sat, 50.0)
    assert float(jnp.abs(y[:, :3]).max()) <= 2 * 9.80665 + 1e-4 and float(jnp.abs(y[:, 3:]).max()) <= np.pi / 2 + 1e-5
    # rate and stretch keep the shape, mask the padding, and stay finite
    full = D.AugmentConfig(flip_prob=0.5, tilt_deg=10.0)
    mp = jnp.arange(64) < 40
    xs, ms = D.augment_batch(jax.random.key(1), jnp.stack([x, x]), jnp.stack([mp, mp]), full, 50.0)
    assert xs.shape == (2, 64, 6) and ms.shape == (2, 64) and bool(jnp.isfinite(xs).all())
    assert not bool((xs[~ms] != 0).any())


def test_mirror_matches_the_simulator_left_and_right_watch():
    """The mirror augmentation turns the left watch's simulation into the right watch's simulation of the mirrored
    motion (the simulator's own convention: watch-left <-> watch-right)."""
    import imusim_jax as ij
    from imusim_jax.sample import load_sample
    from motions import mirror

    m = load_sample()
    left = ij.simulate(m, "watch-left", cutoff_hz=6.0)
    right = ij.simulate(mirror(m), "watch-right", cutoff_hz=6.0)
    x = jnp.concatenate([left.accel, left.gyro], axis=1).astype(jnp.float32)
    cfg = D.AugmentConfig(rotate_forearm_deg=0, mirror_prob=1.0, stretch=0, rate_prob=0, gain=0, noise_accel=0,
                          noise_gyro=0, saturate_prob=0)
    y, _ = _augment(jax.random.key(0), x, jnp.ones(len(x), bool), cfg, 50.0)
    np.testing.assert_allclose(y[:, :3], right.accel, atol=2e-3)
    np.testing.assert_allclose(y[:, 3:], right.gyro, atol=2e-4)


def test_onnx_export_matches_jax(tmp_path):
    pytest.importorskip("onnx")
    import onnxruntime as ort

    from imusim_jax.models.har.config import TrainConfig, config_to_dict
    from imusim_jax.models.har.export import METADATA_KEY, export_onnx

    cfg = TrainConfig(model=dataclasses.replace(TINY, depth=2), window=D.WindowConfig(rate_hz=20, length_s=2.0))
    W = cfg.window.length
    model = HARModel(cfg.model, 3)
    params = _init(model, W, seed=3)
    run = {"format": "imusim-jax/har-run", "version": 1, "config": config_to_dict(cfg), "classes": ["a", "b", "c"],
           "label": "activity"}
    path = export_onnx(params, run, tmp_path / "m.onnx")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(5, W, 6)) * [4, 4, 4, 1, 1, 1] + [0, 0, 9.8, 0, 0, 0]).astype(np.float32)
    mask = np.ones((5, W), np.float32)
    mask[1, 30:] = 0      # padded windows, one shorter than a patch
    mask[2, 5:] = 0
    x[1, 30:] = 123.0     # junk in the padding
    names = ["activity", "safety", "severity", "pooled", "tokens", "patch_mask"]
    got = dict(zip(names, sess.run(names, {"imu": x, "mask": mask})))
    want = _apply(model, params, jnp.asarray(x), jnp.asarray(mask > 0.5))
    for k in names:
        np.testing.assert_allclose(got[k], np.asarray(want[k], np.float32), atol=1e-4, rtol=0, err_msg=k)
    assert len(got["activity"]) == 5
    meta = sess.get_modelmeta().custom_metadata_map
    assert METADATA_KEY in meta and '"classes": ["a", "b", "c"]' in meta[METADATA_KEY]
