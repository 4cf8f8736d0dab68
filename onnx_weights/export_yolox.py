"""Export an official YOLOX checkpoint to ONNX in the layout ``imusim_jax.pose.detector`` reads.

Prefer the official ONNX files (``imusim-jax weights fetch yolox-s``): they come straight from the YOLOX release
(input ``images`` (1, 3, 640, 640), output ``output`` (1, 8400, 85), raw rows needing grid decoding). This script
is for variants: a dynamic batch axis (``--dynamic``, so the detector runs several frames per ``session.run``),
another model size, or a fine-tuned checkpoint. It follows YOLOX's own ``tools/export_onnx.py`` and needs the
official ``yolox`` package (``pip install git+https://github.com/Megvii-BaseDetection/YOLOX``) besides torch; the
network itself is YOLOX's, not a re-implementation.

Signature of the result: ``images`` (N, 3, H, W) float32 letterboxed BGR 0-255 -> ``output`` (N, A, 85) raw
(``decode_in_inference = False``), with metadata ``imusim.layout = yolox``, ``imusim.yolox_decoded = 0`` and
``imusim.color = bgr``.

Usage::

    python onnx_weights/export_yolox.py --name yolox-s --checkpoint yolox_s.pth \\
        --output onnx_weights/yolox_s_dynamic.onnx --dynamic
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default="yolox-s", help="YOLOX model name: yolox-nano, -tiny, -s, -m, -l, -x")
    p.add_argument("--checkpoint", required=True, help="official .pth (e.g. yolox_s.pth of release 0.1.1rc0)")
    p.add_argument("--output", required=True)
    p.add_argument("--dynamic", action="store_true", help="dynamic batch axis")
    p.add_argument("--opset", type=int, default=11, help="ONNX opset (YOLOX's default is 11)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="allow torch.load to unpickle non-tensor objects (only for files from the official source)")
    a = p.parse_args(argv)

    import onnx
    import torch
    from torch import nn

    try:
        from yolox.exp import get_exp
        from yolox.models.network_blocks import SiLU
        from yolox.utils import replace_module
    except ImportError:
        raise SystemExit("this script needs the official yolox package: "
                         "pip install git+https://github.com/Megvii-BaseDetection/YOLOX") from None

    exp = get_exp(None, a.name)
    model = exp.get_model()
    ckpt = torch.load(a.checkpoint, map_location="cpu", weights_only=not a.trust_checkpoint)
    model.load_state_dict(ckpt["model"] if "model" in ckpt else ckpt)
    model.eval()
    model = replace_module(model, nn.SiLU, SiLU)
    model.head.decode_in_inference = False
    dummy = torch.zeros(1, 3, exp.test_size[0], exp.test_size[1])
    axes = {"images": {0: "N"}, "output": {0: "N"}} if a.dynamic else None
    torch.onnx.export(model, (dummy,), a.output, input_names=["images"], output_names=["output"],
                      dynamic_axes=axes, opset_version=a.opset, dynamo=False)
    m = onnx.load(a.output)
    onnx.helper.set_model_props(m, {"imusim.layout": "yolox", "imusim.yolox_decoded": "0", "imusim.color": "bgr",
                                    "imusim.model": a.name})
    onnx.save(m, a.output)
    print(f"wrote {a.output} ({a.name}, input {tuple(exp.test_size)}, dynamic batch: {a.dynamic})")


if __name__ == "__main__":
    main(sys.argv[1:])
