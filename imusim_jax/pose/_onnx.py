"""onnxruntime sessions for the Stage 1 models: provider choice, signatures, timing, clear errors.

* ``create_session(path)`` opens a model with the CUDA provider when ``onnxruntime.get_available_providers()``
  lists it (the ``onnxruntime-gpu`` build) and the CPU provider otherwise; ``threads`` sets the intra-op thread
  count (``None``: onnxruntime's default, one per physical core).
* ``OnnxModel`` wraps a session with its signature (input/output names, shapes with symbolic dimensions as strings
  or ``None``, NumPy dtypes, metadata properties) and counts the wall time spent inside ``session.run``, so that
  runners and ``benchmarks/pose.py`` can report the share of time spent outside the network.
* A missing model file raises ``InputError`` naming the command that fetches it (``imusim-jax weights fetch
  NAME``); a model may also be given by its manifest name (``"vitpose-b"``) instead of a path.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import time
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from imusim_jax._motion import InputError

__all__ = ["TensorSpec", "OnnxModel", "available_providers", "default_providers", "create_session",
           "resolve_model_path"]

PathLike = Union[str, os.PathLike]
Dim = Union[int, str, None]

_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
               "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8,
               "tensor(int8)": np.int8, "tensor(bool)": np.bool_}


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """One model input or output: ``name``, ``shape`` (ints for static dims, a string or ``None`` for dynamic
    ones) and NumPy ``dtype``."""

    name: str
    shape: tuple[Dim, ...]
    dtype: type

    @property
    def rank(self) -> int:
        return len(self.shape)

    def static(self, axis: int) -> Optional[int]:
        """The size of ``axis`` when it is static, else ``None``."""
        d = self.shape[axis]
        return d if isinstance(d, int) and d > 0 else None

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name}({dims}) {np.dtype(self.dtype).name}"


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


def default_providers() -> list[str]:
    """``['CUDAExecutionProvider', 'CPUExecutionProvider']`` when CUDA is available, else the CPU provider."""
    if "CUDAExecutionProvider" in available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def resolve_model_path(model: PathLike) -> pathlib.Path:
    """A path to an existing ONNX file: ``model`` itself, or the manifest model of that name in the weights
    folder. Raises ``InputError`` naming ``imusim-jax weights fetch NAME`` when the file is missing."""
    from imusim_jax import weights

    p = pathlib.Path(os.fspath(model)).expanduser()
    if p.is_file():
        return p
    text = os.fspath(model)
    name = None
    if "/" not in text and os.sep not in text and not text.endswith(".onnx"):
        name = text if text in weights.model_names() else None
        if name is not None:
            return weights.model_path(name)
    name = name or weights.name_for_file(p.name)
    how = (f"fetch it with `imusim-jax weights fetch {name}`" if name else
           "fetch a model with `imusim-jax weights fetch NAME` (see `imusim-jax weights list`)")
    raise InputError(f"ONNX model not found: {p}; {how}")


def create_session(model: PathLike, providers: Optional[Sequence[str]] = None, threads: Optional[int] = None):
    """An ``onnxruntime.InferenceSession`` for ``model`` (a path or a manifest name) with all graph optimisations
    on, on ``providers`` (default: ``default_providers()``) and ``threads`` intra-op threads (``None``: default)."""
    import onnxruntime as ort

    path = resolve_model_path(model)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads is not None:
        if int(threads) < 1:
            raise InputError(f"threads must be a positive integer, got {threads}")
        opts.intra_op_num_threads = int(threads)
    provs = list(providers) if providers is not None else default_providers()
    unknown = [p for p in provs if p not in available_providers()]
    if unknown:
        raise InputError(f"onnxruntime provider(s) {', '.join(unknown)} not available here; available: "
                         f"{', '.join(available_providers())}")
    try:
        return ort.InferenceSession(os.fspath(path), sess_options=opts, providers=provs)
    except Exception as e:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot load ONNX model {path}: {first}") from None


def _dim(d) -> Dim:
    return int(d) if isinstance(d, (int, np.integer)) and d > 0 else (d if isinstance(d, str) else None)


def _spec(arg) -> TensorSpec:
    return TensorSpec(arg.name, tuple(_dim(d) for d in arg.shape), _ORT_DTYPES.get(arg.type, np.float32))


class OnnxModel:
    """An onnxruntime session with its signature and a ``session.run`` timer.

    Attributes:
      path: the ONNX file.
      session: the ``onnxruntime.InferenceSession``.
      inputs, outputs: ``TensorSpec`` lists in the model's order.
      metadata: the model's ``metadata_props`` (str -> str), e.g. ``receptive_field`` of our lifter exports.
      providers: the providers the session actually uses.
      run_time_s, run_calls: wall time spent inside ``session.run`` and number of calls since ``reset_timer()``.
    """

    def __init__(self, model: PathLike, providers: Optional[Sequence[str]] = None, threads: Optional[int] = None):
        self.session = create_session(model, providers, threads)
        self.path = resolve_model_path(model)
        self.inputs = [_spec(a) for a in self.session.get_inputs()]
        self.outputs = [_spec(a) for a in self.session.get_outputs()]
        meta = self.session.get_modelmeta()
        self.metadata: dict[str, str] = dict(meta.custom_metadata_map or {})
        self.providers: list[str] = list(self.session.get_providers())
        self.reset_timer()

    def reset_timer(self) -> None:
        self.run_time_s = 0.0
        self.run_calls = 0

    @property
    def device(self) -> str:
        return "cuda" if self.providers and self.providers[0] == "CUDAExecutionProvider" else "cpu"

    def signature(self) -> str:
        """One line, e.g. ``input(?, 3, 256, 192) float32 -> heatmaps(?, 17, 64, 48) float32``."""
        return f"{', '.join(map(str, self.inputs))} -> {', '.join(map(str, self.outputs))}"

    def run(self, feeds: Mapping[str, np.ndarray], outputs: Optional[Sequence[str]] = None) -> list[np.ndarray]:
        """``session.run`` timed into ``run_time_s``."""
        t0 = time.perf_counter()
        out = self.session.run(list(outputs) if outputs is not None else None, dict(feeds))
        self.run_time_s += time.perf_counter() - t0
        self.run_calls += 1
        return out

    def run_batched(self, x: np.ndarray, input_name: str, output_name: str, batch_size: int) -> np.ndarray:
        """``run`` over ``x`` in batches of ``batch_size`` along axis 0, outputs concatenated. A model exported with
        a static batch size gets its last, short batch padded with copies of its last item (cut off again)."""
        static = next(a for a in self.inputs if a.name == input_name).static(0)
        outs = []
        for s in range(0, len(x), batch_size):
            chunk = x[s:s + batch_size]
            n = len(chunk)
            if static and n < static:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], static - n, 0)])
            outs.append(self.run({input_name: np.ascontiguousarray(chunk)}, [output_name])[0][:n])
        return np.concatenate(outs)

    def describe_mismatch(self, what: str) -> InputError:
        """An ``InputError`` saying the model's signature is not the expected ``what``."""
        return InputError(f"{self.path.name} does not look like {what}: its signature is {self.signature()}")
