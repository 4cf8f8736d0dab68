"""Export scripts, end to end on randomly initialised torch models (skipped when torch is not installed)."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.onnx legacy (TorchScript) exporter

from imusim_jax.pose.lifter import VideoPose3D, normalize_screen_coordinates  # noqa: E402
from imusim_jax.pose.vitpose import VitPose  # noqa: E402


def _randomise_batchnorm(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=g))
                m.running_var.copy_(0.5 + torch.rand(n, generator=g))
                m.weight.copy_(1 + 0.1 * torch.randn(n, generator=g))
                m.bias.copy_(0.1 * torch.randn(n, generator=g))
    return model.eval()


def test_videopose3d_export_matches_torch_through_the_runner(tmp_path, script):
    ex = script("export_videopose3d")
    torch.manual_seed(0)
    model = _randomise_batchnorm(ex.temporal_model(filter_widths=(3, 3, 3), channels=64))
    assert model.receptive_field() == 27
    # the official checkpoint layout: {'model_pos': state_dict}, loaded strictly (old files lack num_batches_tracked)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save({"model_pos": state, "epoch": 80}, tmp_path / "ckpt.bin")
    fresh = ex.temporal_model(filter_widths=(3, 3, 3), channels=64)
    ex.load_checkpoint(fresh, str(tmp_path / "ckpt.bin"))
    out = str(tmp_path / "vp.onnx")
    ex.export_onnx(fresh.eval(), out)
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(0, 640, (100, 17, 2)), np.ones((100, 17, 1))], -1)
    got = VideoPose3D(out, root_relative=False, chunk_size=30)(kp, 640, 480)
    x = normalize_screen_coordinates(kp[..., :2], 640, 480).astype(np.float32)
    x = np.pad(x, ((13, 13), (0, 0), (0, 0)), mode="edge")
    with torch.no_grad():
        ref = model(torch.from_numpy(x[None])).numpy()[0]
    assert got.shape == ref.shape == (100, 17, 3)
    np.testing.assert_allclose(got, ref, atol=1e-4)


def test_vitpose_export_matches_torch_and_uses_official_names(tmp_path, script):
    ex = script("export_vitpose")
    torch.manual_seed(0)
    model = _randomise_batchnorm(ex.vitpose_model(embed_dim=64, depth=2, num_heads=4))
    keys = set(model.state_dict())
    for k in ("backbone.patch_embed.proj.weight", "backbone.pos_embed", "backbone.blocks.1.attn.qkv.bias",
              "backbone.blocks.0.mlp.fc2.weight", "backbone.last_norm.bias", "keypoint_head.deconv_layers.0.weight",
              "keypoint_head.deconv_layers.4.running_var", "keypoint_head.final_layer.bias"):
        assert k in keys
    assert model.state_dict()["backbone.pos_embed"].shape == (1, 16 * 12 + 1, 64)
    torch.save({"state_dict": model.state_dict(), "meta": {}}, tmp_path / "vit.pth")
    fresh = ex.vitpose_model(embed_dim=64, depth=2, num_heads=4)
    ex.load_checkpoint(fresh, str(tmp_path / "vit.pth"))
    out = str(tmp_path / "vit.onnx")
    ex.export_onnx(fresh.eval(), out)
    assert ex.check_against_torch(model, out) < 1e-4
    frame = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    kp = VitPose(out)(frame, np.array([[50.0, 20.0, 150.0, 220.0]]))
    assert kp.shape == (1, 17, 3) and np.isfinite(kp).all()
