"""Evaluation: a trained run (its folder, or its ``model.onnx`` alone) on a dataset's shards -> ``metrics.json``.

Scores are clip-level (``metrics``: window probabilities averaged per clip; the safety head's clip score is its
largest window ``p(unsafe)`` by default). Rows whose label (the run's ``--label`` column) is not one of the
run's classes, or is null, are counted in ``unknown`` (per value) and left out of the activity scores: the model
cannot name a class it never saw, and guessing would only blur the figures. They still count for the safety and
severity heads, whose labels every row carries.

``metrics.json``: ``macro_f1``, ``accuracy``, ``n`` (clips scored), ``classes``, ``per_class`` (precision, recall,
f1, support, predicted), ``confusion_matrix`` (rows true, columns predicted, in ``classes`` order),
``unknown`` (``n``, ``labels``), ``window`` (the same scores per window), ``safety`` (``n``, ``n_unsafe``,
``auc``, ``at_0.5`` precision/recall/f1 of ``unsafe``, and ``at_false_alarm``: the unsafe recall at the stated
false-alarm rate), ``severity`` (accuracy and mean absolute error), ``model``, ``data``, ``filters``,
``aggregation``.
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import Callable, Optional, Sequence

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax.models.har import data as D
from imusim_jax.models.har.config import TrainConfig, config_from_dict
from imusim_jax.models.har.heads import N_SEVERITY, SAFETY
from imusim_jax.models.har.metrics import (aggregate_clips, binary_report, classification_report,
                                           recall_at_false_alarm, roc_auc)

__all__ = ["Predictor", "load_predictor", "evaluate", "score_clips", "plot_confusion"]


class Predictor:
    """A trained model ready to score windows: ``predict(x (N, W, 6), mask (N, W)) -> {head: (N, k) probs}``;
    ``cfg`` (the run's ``TrainConfig``), ``classes``, ``label``, ``kind`` (``jax`` or ``onnx``), ``path``."""

    def __init__(self, run: dict, path: str, kind: str, fn: Callable):
        self.run, self.path, self.kind, self._fn = run, path, kind, fn
        self.cfg: TrainConfig = config_from_dict(run["config"])
        self.classes: list = list(run["classes"])
        self.label: str = run.get("label", self.cfg.label)

    def predict(self, x: np.ndarray, mask: np.ndarray) -> dict:
        return self._fn(x, mask)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def load_predictor(path: str | os.PathLike) -> Predictor:
    """A run folder (``run.json`` + ``params/``; or its ``model.onnx`` when ``params/`` is absent) or an ``.onnx``
    file written by ``export_onnx``."""
    path = os.fspath(path)
    if os.path.isfile(path) and path.lower().endswith(".onnx"):
        return _onnx_predictor(path)
    run_json = os.path.join(path, "run.json")
    if not os.path.isdir(path) or not os.path.exists(run_json):
        raise InputError(f"{path}: not a run folder (no run.json) nor an .onnx file")
    with open(run_json) as f:
        run = json.load(f)
    if not os.path.isdir(os.path.join(path, "params")):
        if os.path.exists(os.path.join(path, "model.onnx")):
            return _onnx_predictor(os.path.join(path, "model.onnx"))
        raise InputError(f"{path}: the run has no params/ (training did not finish: run train again to resume)")
    import jax
    import jax.numpy as jnp

    from imusim_jax.models.har.train import build_model, init_params, load_params, predict_in_batches

    cfg = config_from_dict(run["config"])
    model = build_model(cfg, len(run["classes"]))
    template = init_params(model, cfg.window.length, 0)
    params = load_params(os.path.join(path, "params"), template)

    @jax.jit
    def fwd(x, m):
        out = model.apply({"params": params}, x, m, True)
        return {h: jax.nn.softmax(out[h], axis=-1) for h in ("activity", "safety", "severity")}

    def predict(x, m):
        return predict_in_batches(lambda a, b: fwd(jnp.asarray(a), jnp.asarray(b)), x, m, cfg.eval.batch_size)

    return Predictor(run, path, "jax", predict)


def _onnx_predictor(path: str) -> Predictor:
    import onnxruntime as ort

    from imusim_jax.models.har.export import METADATA_KEY
    from imusim_jax.models.har.train import predict_in_batches

    try:
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime's own exception types
        raise InputError(f"{path}: not a loadable ONNX model ({str(e).splitlines()[0]})") from None
    meta = sess.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in meta:
        raise InputError(f"{path}: not an imusim-jax HAR model (no {METADATA_KEY} metadata)")
    run = json.loads(meta[METADATA_KEY])

    def fwd(x, m):
        out = sess.run(["activity", "safety", "severity"],
                       {"imu": np.asarray(x, np.float32), "mask": np.asarray(m, np.float32)})
        return {h: _softmax(o) for h, o in zip(("activity", "safety", "severity"), out)}

    cfg = config_from_dict(run["config"])
    return Predictor(run, path, "onnx", lambda x, m: predict_in_batches(fwd, x, m, cfg.eval.batch_size))


def score_clips(pred: Predictor, clips: D.Clips, *, false_alarm_rate: Optional[float] = None) -> dict:
    """The metrics of ``pred`` on ``clips`` (see the module's description)."""
    cfg = pred.cfg
    ev = cfg.eval
    far = float(ev.false_alarm_rate if false_alarm_rate is None else false_alarm_rate)
    if pred.label not in clips.columns:
        raise InputError(f"the data has no {pred.label!r} column, the label the model was trained on "
                         f"(columns: {', '.join(clips.columns)})")
    w = D.make_windows(clips, cfg.window, evaluation=True)
    n = len(clips)
    probs = pred.predict(w.x, w.mask) if len(w) else {}
    classes = pred.classes
    y = D.encode(clips.column(pred.label), classes)
    raw = clips.column(pred.label)
    unknown = Counter("null" if v is None else str(v) for v, k in zip(raw, y) if k < 0)
    known = y >= 0
    out: dict = {}
    if probs:
        act = aggregate_clips(probs["activity"], w.clip, n, ev.aggregate)
        yp = np.argmax(np.nan_to_num(act, nan=-1.0), axis=1)
        out.update(classification_report(y[known], yp[known], classes))
        wk = y[w.clip] >= 0
        win = classification_report(y[w.clip][wk], np.argmax(probs["activity"][wk], axis=1), classes)
        out["window"] = {k: win[k] for k in ("macro_f1", "accuracy", "n")}
        out["predicted"] = [classes[i] for i in yp.tolist()]
    else:
        out.update(classification_report([], [], classes))
        out["window"] = {"macro_f1": 0.0, "accuracy": 0.0, "n": 0}
    out["unknown"] = {"n": int(sum(unknown.values())), "labels": dict(sorted(unknown.items()))}
    # safety
    ys = D.encode(clips.column("safety"), SAFETY) if "safety" in clips.columns else np.full(n, -1)
    sk = ys >= 0
    if probs and sk.any():
        ps = aggregate_clips(probs["safety"], w.clip, n, ev.safety_aggregate)[:, 1]
        pos = ys[sk] == 1
        out["safety"] = {"n": int(sk.sum()), "n_unsafe": int(pos.sum()), "aggregate": ev.safety_aggregate,
                         "auc": roc_auc(ps[sk], pos), "at_0.5": binary_report(ps[sk] > 0.5, pos),
                         "at_false_alarm": recall_at_false_alarm(ps[sk], pos, far),
                         "p_unsafe": [float(v) for v in ps]}
    # severity
    yv = D.severity_labels(clips.column("severity")) if "severity" in clips.columns else np.full(n, -1)
    vk = yv >= 0
    if probs and vk.any():
        pv = aggregate_clips(probs["severity"], w.clip, n, ev.aggregate)
        sv = np.argmax(pv, axis=1)
        out["severity"] = {"n": int(vk.sum()), "accuracy": float(np.mean(sv[vk] == yv[vk])),
                           "mae": float(np.mean(np.abs(sv[vk] - yv[vk]))), "levels": N_SEVERITY}
    out["aggregation"] = {"activity": ev.aggregate, "safety": ev.safety_aggregate, "windows": int(len(w)),
                          "window_samples": cfg.window.length, "rate_hz": cfg.window.rate_hz}
    out["clip_ids"] = [str(c) for c in clips.column("clip_id")] if "clip_id" in clips.columns else []
    return out


def json_ready(v):
    """NaN and infinities as ``null`` (strict JSON), NumPy scalars as Python numbers, tuples as lists."""
    if isinstance(v, dict):
        return {str(k): json_ready(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_ready(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def plot_confusion(metrics: dict, path: str) -> None:
    """The confusion matrix as a PNG (rows true, columns predicted, normalised per true class)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = np.asarray(metrics["confusion_matrix"], np.float64)
    classes = metrics["classes"]
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    k = len(classes)
    size = max(4.0, 0.35 * k + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(k), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                            color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(f"macro-F1 {metrics['macro_f1']:.3f}, accuracy {metrics['accuracy']:.3f}, n {metrics['n']}")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def evaluate(model: str, data: str, *, filters: Sequence[str] = (), json_path: Optional[str] = None,
             plot_path: Optional[str] = None, false_alarm_rate: Optional[float] = None,
             log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
             clips: Optional[D.Clips] = None) -> dict:
    """Score the run (folder or ``.onnx``) on the shards under ``data`` (rows passing ``filters``); write
    ``json_path`` and ``plot_path`` when given; return the metrics."""
    pred = load_predictor(model)
    if clips is None:
        clips = D.read_dataset(data, D.parse_filters(filters))
    for line in clips.report:
        log(line)
    if len(clips) == 0:
        raise InputError(f"{data}: no clips left to evaluate")
    m = score_clips(pred, clips, false_alarm_rate=false_alarm_rate)
    m.update(model={"path": os.path.abspath(model), "backend": pred.kind, "label": pred.label,
                    "summary": pred.run.get("summary")},
             data=os.path.abspath(data) if data else None, filters=list(filters))
    if m["unknown"]["n"]:
        labs = ", ".join(f"{k} ({v})" for k, v in list(m["unknown"]["labels"].items())[:10])
        log(f"left out {m['unknown']['n']} clip(s) whose {pred.label} the model does not know: {labs}"
            + (" ..." if len(m["unknown"]["labels"]) > 10 else ""))
    line = f"{m['n']} clips: macro-F1 {m['macro_f1']:.3f}, accuracy {m['accuracy']:.3f}"
    if "safety" in m:
        s = m["safety"]
        fa = s["at_false_alarm"]
        line += (f"; unsafe recall {fa['recall']:.3f} at false-alarm rate <= {fa['target_false_alarm_rate']:g} "
                 f"({s['n_unsafe']} unsafe of {s['n']})") if s["n_unsafe"] else ""
    log(line)
    if json_path:
        d = os.path.dirname(os.path.abspath(json_path))
        os.makedirs(d, exist_ok=True)
        with open(json_path, "w") as f:
            json.dump(json_ready(m), f, indent=1, allow_nan=False)
    if plot_path:
        plot_confusion(m, plot_path)
    return m
