"""onnxruntime sessions: provider choice, signatures with symbolic dims, timing, clear errors."""
from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

from imusim_jax._motion import InputError
from imusim_jax.pose import _onnx
from imusim_jax.pose._onnx import OnnxModel, create_session, default_providers


def test_providers_are_chosen_automatically(monkeypatch):
    assert default_providers() == (["CUDAExecutionProvider", "CPUExecutionProvider"]
                                   if "CUDAExecutionProvider" in onnxruntime.get_available_providers()
                                   else ["CPUExecutionProvider"])
    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    assert default_providers() == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert default_providers() == ["CPUExecutionProvider"]


def test_signature_with_symbolic_dims(tiny):
    m = OnnxModel(tiny["detector_tiny"], threads=1)
    assert m.inputs[0].name == "images" and m.inputs[0].shape == ("N", 3, 640, 640)
    assert m.inputs[0].static(0) is None and m.inputs[0].static(2) == 640 and m.inputs[0].dtype == np.float32
    assert m.outputs[0].shape == ("N", 8400, 85)
    assert m.metadata["imusim.layout"] == "yolox" and m.device in ("cpu", "cuda")
    assert "images(N, 3, 640, 640) float32 -> output(N, 8400, 85) float32" == m.signature()
    s = OnnxModel(tiny["detector_tiny_static"])
    assert s.inputs[0].shape == (1, 3, 416, 416) and s.inputs[0].static(0) == 1
    lifter = OnnxModel(tiny["videopose3d_tiny"])
    assert lifter.inputs[0].shape == ("B", "T", 17, 2) and lifter.metadata["receptive_field"] == "27"


def test_run_is_timed(tiny):
    m = OnnxModel(tiny["vitpose_tiny"])
    x = np.zeros((2, 3, 256, 192), np.float32)
    out = m.run({"input": x})
    assert out[0].shape == (2, 17, 64, 48)
    assert m.run_calls == 1 and m.run_time_s > 0
    m.reset_timer()
    assert m.run_calls == 0 and m.run_time_s == 0


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(InputError, match=r"ONNX model not found: .*imusim-jax weights fetch NAME"):
        OnnxModel(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(InputError, match=r"^cannot load ONNX model .*bad\.onnx: "):
        create_session(bad)
    with pytest.raises(InputError, match="provider"):
        create_session(bad, providers=["NoSuchExecutionProvider"])


def test_threads_must_be_positive(tiny):
    with pytest.raises(InputError, match="threads"):
        create_session(tiny["vitpose_tiny"], threads=0)


def test_error_messages_are_one_line(tmp_path):
    with pytest.raises(InputError) as e:
        _onnx.resolve_model_path(tmp_path / "x.onnx")
    assert "\n" not in str(e.value)


def test_run_batched_equals_one_run_and_pads_a_static_batch(tiny):
    import dataclasses

    m = OnnxModel(tiny["vitpose_tiny"], threads=1)
    x = np.random.default_rng(0).normal(size=(5, 3, 256, 192)).astype(np.float32)
    whole = m.run({"input": x})[0]
    m.reset_timer()
    np.testing.assert_allclose(m.run_batched(x, "input", "heatmaps", 2), whole, rtol=1e-5, atol=1e-6)
    assert m.run_calls == 3
    # a model exported with a static batch of 3: the last batch (2 items) goes in padded to 3 and comes back cut
    m.inputs[0] = dataclasses.replace(m.inputs[0], shape=(3,) + m.inputs[0].shape[1:])
    seen = []
    run = m.run
    m.run = lambda feeds, outputs=None: (seen.append(len(feeds["input"])), run(feeds, outputs))[1]
    out = m.run_batched(x, "input", "heatmaps", 3)
    assert seen == [3, 3] and out.shape == whole.shape
    np.testing.assert_allclose(out, whole, rtol=1e-5, atol=1e-6)
