"""Export an official ViTPose checkpoint (ViTAE-Transformer/ViTPose, COCO 256x192) to ONNX.

The torch modules below re-implement the official ``mmpose/models/backbones/vit.py`` (``ViT``: patch embedding
16x16 with padding 2, learned position embedding whose class-token entry is added to every patch, pre-norm blocks
with LayerNorm eps 1e-6 and exact GELU, final ``last_norm``) and ``TopdownHeatmapSimpleHead`` (two 4x4 stride-2
transposed convolutions to 256 channels, each followed by BatchNorm and ReLU, then a 1x1 convolution to 17
heatmaps), with the same parameter names, so the checkpoint's ``state_dict`` loads with strict key matching
(``backbone.*``, ``keypoint_head.*``; drop path and dropout are inference no-ops). This script does not use mmpose
or mmcv. Checkpoints of mmpose 1.x (download.openmmlab.com, backbone ``mmpretrain.VisionTransformer``) name their
parameters differently and are not supported.

ONNX signature: ``input`` (N, 3, 256, 192) float32, ImageNet-normalised RGB UDP crops -> ``heatmaps``
(N, 17, 64, 48) float32, dynamic N.

Usage (torch is an optional dependency: ``pip install torch==2.13.0 onnx``)::

    python onnx_weights/export_vitpose.py --size b --checkpoint vitpose-b.pth \\
        --output onnx_weights/vitpose-b-coco-256x192.onnx
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

import numpy as np

# embed_dim, depth, num_heads of the official configs ViTPose_{small,base,large,huge}_coco_256x192.py
SIZES = {"s": (384, 12, 12), "b": (768, 12, 12), "l": (1024, 24, 16), "h": (1280, 32, 16)}


def vitpose_model(embed_dim: int = 768, depth: int = 12, num_heads: int = 12, img_size=(256, 192),
                  patch_size: int = 16, mlp_ratio: float = 4.0, num_keypoints: int = 17,
                  deconv_filters: Sequence[int] = (256, 256)):
    """The official TopDown ViTPose as a torch ``nn.Module`` with attributes ``backbone`` and ``keypoint_head``."""
    import torch
    import torch.nn as nn

    class Mlp(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    class Attention(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.num_heads, self.scale = heads, (dim // heads) ** -0.5
            self.qkv, self.proj = nn.Linear(dim, dim * 3, bias=True), nn.Linear(dim, dim)

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            return self.proj((attn @ v).transpose(1, 2).reshape(b, n, -1))

    class Block(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
            self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), Mlp(dim, int(dim * mlp_ratio))

        def forward(self, x):
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))

    class PatchEmbed(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Conv2d(3, embed_dim, kernel_size=patch_size, stride=patch_size, padding=2)

        def forward(self, x):
            x = self.proj(x)
            return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = PatchEmbed()
            num_patches = (img_size[0] // patch_size) * (img_size[1] // patch_size)
            self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
            self.blocks = nn.ModuleList([Block(embed_dim, num_heads) for _ in range(depth)])
            self.last_norm = nn.LayerNorm(embed_dim, eps=1e-6)

        def forward(self, x):
            b = x.shape[0]
            x, (hp, wp) = self.patch_embed(x)
            x = x + self.pos_embed[:, 1:] + self.pos_embed[:, :1]
            for blk in self.blocks:
                x = blk(x)
            return self.last_norm(x).permute(0, 2, 1).reshape(b, -1, hp, wp)

    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            layers, cin = [], embed_dim
            for planes in deconv_filters:
                layers += [nn.ConvTranspose2d(cin, planes, 4, stride=2, padding=1, output_padding=0, bias=False),
                           nn.BatchNorm2d(planes), nn.ReLU(inplace=True)]
                cin = planes
            self.deconv_layers = nn.Sequential(*layers)
            self.final_layer = nn.Conv2d(cin, num_keypoints, kernel_size=1, stride=1, padding=0)

        def forward(self, x):
            return self.final_layer(self.deconv_layers(x))

    class TopDown(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.keypoint_head = ViT(), Head()

        def forward(self, x):
            return self.keypoint_head(self.backbone(x))

    return TopDown()


def load_checkpoint(model, path: str, trust: bool = False) -> str:
    """Load an official ViTPose checkpoint's ``state_dict`` into ``model`` (strict); returns the file's sha256."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=not trust)
    except Exception as e:  # weights_only refuses pickled non-tensor objects (mmcv meta)
        raise SystemExit(f"cannot read {path} with torch.load(weights_only=True): {str(e).splitlines()[0]}\n"
                         "if the file comes from the official source, pass --trust-checkpoint") from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    from imusim_jax.weights import sha256_file

    return sha256_file(path)


def export_onnx(model, output: str, opset: int = 17, metadata: Optional[dict] = None) -> str:
    """Export ``model`` (eval mode) with a dynamic batch axis."""
    import onnx
    import torch

    model.eval()
    dummy = torch.zeros(1, 3, 256, 192)
    torch.onnx.export(model, (dummy,), output, input_names=["input"], output_names=["heatmaps"],
                      dynamic_axes={"input": {0: "N"}, "heatmaps": {0: "N"}}, opset_version=opset, dynamo=False)
    m = onnx.load(output)
    props = {"imusim.keypoints": "coco17", "imusim.decoding": "udp, dark-udp kernel 11",
             "imusim.normalisation": "RGB / 255, ImageNet mean/std", **(metadata or {})}
    onnx.helper.set_model_props(m, {k: str(v) for k, v in props.items()})
    onnx.save(m, output)
    return output


def check_against_torch(model, output: str, atol: float = 1e-4) -> float:
    """Max abs difference between onnxruntime and torch heatmaps on random crops (raises if above ``atol``)."""
    import onnxruntime as ort
    import torch

    x = np.random.default_rng(0).standard_normal((2, 3, 256, 192)).astype(np.float32)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(output, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    err = float(np.abs(got - ref).max())
    if got.shape != ref.shape or err > atol:
        raise SystemExit(f"ONNX output differs from torch: shapes {got.shape} vs {ref.shape}, max error {err}")
    return err


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(SIZES), required=True)
    p.add_argument("--checkpoint", required=True, help="official ViTPose .pth (e.g. vitpose-b.pth)")
    p.add_argument("--output", required=True)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow torch.load to unpickle non-tensor objects (only for files from the official source)")
    a = p.parse_args(argv)
    dim, depth, heads = SIZES[a.size]
    model = vitpose_model(dim, depth, heads)
    sha = load_checkpoint(model, a.checkpoint, a.trust_checkpoint)
    export_onnx(model, a.output, a.opset, {"imusim.checkpoint": os.path.basename(a.checkpoint),
                                           "imusim.checkpoint_sha256": sha, "imusim.model": f"vitpose-{a.size}"})
    err = check_against_torch(model, a.output)
    print(f"wrote {a.output} (max |onnx - torch| = {err:.2e})")


if __name__ == "__main__":
    main(sys.argv[1:])
