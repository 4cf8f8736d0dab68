"""Export VideoPose3D's ``pretrained_h36m_detectron_coco.bin`` (or any TemporalModel checkpoint) to ONNX.

The TemporalModel below re-implements ``common/model.py`` of facebookresearch/VideoPose3D (non-causal, eval mode:
dropout and batch norm use their inference behaviour) with the same module names, so the checkpoint's
``model_pos`` state dict loads with strict key matching. The ONNX file has

* input ``keypoints`` (B, T, 17, 2) float32, normalised screen coordinates (``X / w * 2 - [1, h / w]``),
* output ``joints3d`` (B, T - R + 1, 17, 3) float32, camera frame, metres, root-relative,

with dynamic B and T, and the metadata property ``receptive_field`` = R (243 for filter widths 3,3,3,3,3), which
``imusim_jax.pose.lifter.VideoPose3D`` reads.

Usage (torch is an optional dependency: ``pip install torch==2.13.0 onnx``)::

    python onnx_weights/export_videopose3d.py --checkpoint pretrained_h36m_detectron_coco.bin \\
        --output onnx_weights/videopose3d-243-h36m-coco.onnx

The script checks the ONNX model against torch on a random clip before it returns.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

import numpy as np


def temporal_model(num_joints_in: int = 17, in_features: int = 2, num_joints_out: int = 17,
                   filter_widths: Sequence[int] = (3, 3, 3, 3, 3), causal: bool = False, dropout: float = 0.25,
                   channels: int = 1024):
    """VideoPose3D's ``TemporalModel`` (torch ``nn.Module``), same parameter names as the official code."""
    import torch.nn as nn

    class TemporalModel(nn.Module):
        def __init__(self):
            super().__init__()
            for fw in filter_widths:
                assert fw % 2 != 0, "Only odd filter widths are supported"
            self.num_joints_in, self.in_features, self.num_joints_out = num_joints_in, in_features, num_joints_out
            self.filter_widths = list(filter_widths)
            self.drop = nn.Dropout(dropout)
            self.relu = nn.ReLU(inplace=True)
            self.pad = [filter_widths[0] // 2]
            self.expand_bn = nn.BatchNorm1d(channels, momentum=0.1)
            self.shrink = nn.Conv1d(channels, num_joints_out * 3, 1)
            self.expand_conv = nn.Conv1d(num_joints_in * in_features, channels, filter_widths[0], bias=False)
            layers_conv, layers_bn = [], []
            self.causal_shift = [filter_widths[0] // 2 if causal else 0]
            next_dilation = filter_widths[0]
            for i in range(1, len(filter_widths)):
                self.pad.append((filter_widths[i] - 1) * next_dilation // 2)
                self.causal_shift.append((filter_widths[i] // 2 * next_dilation) if causal else 0)
                layers_conv.append(nn.Conv1d(channels, channels, filter_widths[i], dilation=next_dilation, bias=False))
                layers_bn.append(nn.BatchNorm1d(channels, momentum=0.1))
                layers_conv.append(nn.Conv1d(channels, channels, 1, dilation=1, bias=False))
                layers_bn.append(nn.BatchNorm1d(channels, momentum=0.1))
                next_dilation *= filter_widths[i]
            self.layers_conv = nn.ModuleList(layers_conv)
            self.layers_bn = nn.ModuleList(layers_bn)

        def receptive_field(self) -> int:
            return 1 + 2 * sum(self.pad)

        def forward(self, x):
            sz = x.shape[:3]
            x = x.view(x.shape[0], x.shape[1], -1).permute(0, 2, 1)
            x = self.drop(self.relu(self.expand_bn(self.expand_conv(x))))
            for i in range(len(self.pad) - 1):
                pad, shift = self.pad[i + 1], self.causal_shift[i + 1]
                res = x[:, :, pad + shift: x.shape[2] - pad + shift]
                x = self.drop(self.relu(self.layers_bn[2 * i](self.layers_conv[2 * i](x))))
                x = res + self.drop(self.relu(self.layers_bn[2 * i + 1](self.layers_conv[2 * i + 1](x))))
            x = self.shrink(x).permute(0, 2, 1)
            return x.reshape(sz[0], -1, self.num_joints_out, 3)

    return TemporalModel()


def load_checkpoint(model, path: str, trust: bool = False) -> str:
    """Load ``model_pos`` of a VideoPose3D checkpoint into ``model`` (strict); returns the file's sha256."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=not trust)
    except Exception as e:  # weights_only refuses pickled non-tensor objects
        raise SystemExit(f"cannot read {path} with torch.load(weights_only=True): {str(e).splitlines()[0]}\n"
                         "if the file comes from the official source, pass --trust-checkpoint") from None
    state = ckpt.get("model_pos", ckpt) if isinstance(ckpt, dict) else ckpt
    state = {k[7:] if k.startswith("module.") else k: v for k, v in state.items()}
    for k, v in model.state_dict().items():  # checkpoints saved before PyTorch 0.4.1 lack num_batches_tracked
        if k.endswith("num_batches_tracked") and k not in state:
            state[k] = v
    model.load_state_dict(state, strict=True)
    from imusim_jax.weights import sha256_file

    return sha256_file(path)


def export_onnx(model, output: str, opset: int = 17, metadata: Optional[dict] = None) -> str:
    """Export ``model`` (eval mode) with dynamic batch and time axes and the ``receptive_field`` metadata."""
    import onnx
    import torch

    model.eval()
    rf = model.receptive_field()
    dummy = torch.zeros(1, rf + 8, model.num_joints_in, model.in_features)
    torch.onnx.export(model, (dummy,), output, input_names=["keypoints"], output_names=["joints3d"],
                      dynamic_axes={"keypoints": {0: "B", 1: "T"}, "joints3d": {0: "B", 1: "T_out"}},
                      opset_version=opset, dynamo=False)
    m = onnx.load(output)
    props = {"receptive_field": str(rf), "imusim.keypoints_in": "coco17", "imusim.joints_out": "h36m17",
             "imusim.normalisation": "X / w * 2 - [1, h / w]",
             "imusim.filter_widths": ",".join(map(str, model.filter_widths)), **(metadata or {})}
    onnx.helper.set_model_props(m, {k: str(v) for k, v in props.items()})
    onnx.save(m, output)
    return output


def check_against_torch(model, output: str, frames: int = 300, atol: float = 1e-4) -> float:
    """Max abs difference between onnxruntime and torch on a random clip (raises if above ``atol``)."""
    import onnxruntime as ort
    import torch

    x = np.random.default_rng(0).uniform(-1, 1, (2, frames, model.num_joints_in, model.in_features))
    x = x.astype(np.float32)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(output, providers=["CPUExecutionProvider"]).run(None, {"keypoints": x})[0]
    err = float(np.abs(got - ref).max())
    if got.shape != ref.shape or err > atol:
        raise SystemExit(f"ONNX output differs from torch: shapes {got.shape} vs {ref.shape}, max error {err}")
    return err


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True, help="pretrained_h36m_detectron_coco.bin")
    p.add_argument("--output", required=True)
    p.add_argument("--architecture", default="3,3,3,3,3", help="filter widths (run.py -arc)")
    p.add_argument("--channels", type=int, default=1024)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow torch.load to unpickle non-tensor objects (only for files from the official source)")
    a = p.parse_args(argv)
    widths = [int(v) for v in a.architecture.split(",")]
    model = temporal_model(filter_widths=widths, channels=a.channels)
    sha = load_checkpoint(model, a.checkpoint, a.trust_checkpoint)
    export_onnx(model, a.output, a.opset, {"imusim.checkpoint": os.path.basename(a.checkpoint),
                                           "imusim.checkpoint_sha256": sha})
    err = check_against_torch(model, a.output)
    print(f"wrote {a.output} (receptive field {model.receptive_field()}, max |onnx - torch| = {err:.2e})")


if __name__ == "__main__":
    main(sys.argv[1:])
