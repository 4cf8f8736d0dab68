"""Training: shards -> windows -> the multi-task model, with optax, orbax checkpoints and a subject-wise
validation split. ``train(data, run_dir, ...)`` is what ``imusim-jax train`` runs.

A run folder holds:

* ``run.json``: the config, the classes (the ``--label`` values seen in the training split), the filters, the
  data summary, the split's validation subjects, the parameter count and the per-epoch history;
* ``checkpoints/<step>/``: orbax checkpoints of the whole training state (parameters, optimizer state, step, the
  best validation score and its parameters), at the end of every epoch (or every ``checkpoint.every_steps``);
* ``params/``: the parameters to use (the best validation epoch's, or the last epoch's without a validation
  split), an orbax checkpoint;
* ``model.onnx`` when the ``onnx`` package is installed (``export.py``).

Determinism and resuming: the order of the windows in epoch ``e`` is a permutation drawn from ``(seed, e)``, and
step ``s``'s augmentation and dropout key is ``fold_in(key(seed), s)``; a run that finds checkpoints in its
folder (made with the same config, data and classes) restores the latest and goes on from its step, so an
interrupted run continues with exactly the step it would have taken (tested). Ctrl-C saves a checkpoint first.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from imusim_jax._errors import InputError
from imusim_jax.models.har import data as D
from imusim_jax.models.har.config import TrainConfig, config_to_dict
from imusim_jax.models.har.heads import N_SEVERITY, SAFETY, HARModel, multitask_loss
from imusim_jax.models.har.metrics import aggregate_clips, classification_report
from imusim_jax.models.har.patchformer import count_params, summary_line

__all__ = ["Trainer", "TrainResult", "train", "LabelledWindows", "label_windows", "build_model", "load_params",
           "save_params", "RUN_FORMAT"]

RUN_FORMAT = "imusim-jax/har-run"


def build_model(cfg: TrainConfig, n_classes: int) -> HARModel:
    return HARModel(cfg.model, n_classes, float(cfg.optim.head_dropout))


def init_params(model: HARModel, window_len: int, seed: int):
    x = jnp.zeros((1, window_len, 6), jnp.float32)
    m = jnp.ones((1, window_len), bool)
    return model.init({"params": jax.random.key(seed)}, x, m, True)["params"]


@dataclasses.dataclass
class LabelledWindows:
    """Windows with the three heads' labels (``-1``: none) and their clips' indices."""

    windows: D.Windows
    activity: np.ndarray
    safety: np.ndarray
    severity: np.ndarray

    def __len__(self) -> int:
        return len(self.windows)


def clip_labels(clips: D.Clips, label: str, classes: Sequence[str]) -> dict:
    """Per clip: ``activity`` (index in ``classes``, -1 unknown or null), ``safety`` (0 safe, 1 unsafe, -1),
    ``severity`` (0-4, -1)."""
    return {"activity": D.encode(clips.column(label), classes),
            "safety": D.encode(clips.column("safety"), SAFETY),
            "severity": D.severity_labels(clips.column("severity"))}


def label_windows(clips: D.Clips, wcfg: D.WindowConfig, label: str, classes: Sequence[str], *,
                  evaluation: bool = False) -> LabelledWindows:
    w = D.make_windows(clips, wcfg, evaluation=evaluation)
    lab = clip_labels(clips, label, classes)
    return LabelledWindows(w, lab["activity"][w.clip], lab["safety"][w.clip], lab["severity"][w.clip])


def class_weights(labels: np.ndarray, k: int, how: str) -> np.ndarray:
    """``balanced``: ``n / (k_present n_c)`` for the classes present (1 for absent ones); ``none``: ones."""
    w = np.ones(k, np.float32)
    if how == "balanced":
        y = labels[labels >= 0]
        counts = np.bincount(y, minlength=k).astype(np.float64)
        present = counts > 0
        if present.any():
            w[present] = (len(y) / (present.sum() * counts[present])).astype(np.float32)
    return w


class Trainer:
    """The jitted training and prediction steps for one model and config. ``step`` takes a fixed-size batch (the
    last batch of an epoch is padded with zero-weight rows), so it compiles once; ``predict`` likewise pads to
    ``eval.batch_size``."""

    def __init__(self, cfg: TrainConfig, n_classes: int, total_steps: int, class_w: Optional[dict] = None):
        self.cfg = cfg
        self.model = build_model(cfg, n_classes)
        self.n_classes = n_classes
        o = cfg.optim
        warm = int(round(o.warmup_frac * total_steps))
        sched = optax.warmup_cosine_decay_schedule(0.0, float(o.lr), max(warm, 1), max(total_steps, warm + 1), 0.0) \
            if warm > 0 else optax.cosine_decay_schedule(float(o.lr), max(total_steps, 1))
        parts = [optax.clip_by_global_norm(float(o.grad_clip))] if o.grad_clip and o.grad_clip > 0 else []
        self.tx = optax.chain(*parts, optax.adamw(sched, weight_decay=float(o.weight_decay)))
        self.class_w = {k: jnp.asarray(v, jnp.float32) for k, v in (class_w or {}).items()}
        self.rate_hz = float(cfg.window.rate_hz)
        self.step = jax.jit(self._step)
        self.predict_batch = jax.jit(self._predict)

    def init(self, seed: int):
        params = init_params(self.model, self.cfg.window.length, seed)
        return params, self.tx.init(params)

    def _step(self, params, opt_state, batch, key):
        k_aug, k_drop = jax.random.split(key)
        x, m = D.augment_batch(k_aug, batch["x"], batch["mask"], self.cfg.augment, self.rate_hz)

        def loss_fn(p):
            out = self.model.apply({"params": p}, x, m, False, rngs={"dropout": k_drop})
            return multitask_loss(out, batch, self.cfg.loss, self.class_w)

        (loss, parts), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = self.tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return params, opt_state, {"loss": loss, **parts}

    def _predict(self, params, x, m):
        out = self.model.apply({"params": params}, x, m, True)
        return {h: jax.nn.softmax(out[h], axis=-1) for h in ("activity", "safety", "severity")}

    def predict(self, params, x: np.ndarray, mask: np.ndarray) -> dict:
        """Softmax probabilities of every head for ``x`` ``(N, W, 6)``, in fixed-size batches."""
        return predict_in_batches(lambda a, b: self.predict_batch(params, a, b), x, mask,
                                  int(self.cfg.eval.batch_size))


def predict_in_batches(fn: Callable, x: np.ndarray, mask: np.ndarray, batch_size: int) -> dict:
    """``fn(x_batch, mask_batch) -> dict of (b, k)`` over ``x`` in batches of exactly ``batch_size`` (the last
    padded with copies of the first row, its outputs dropped). The batch size shrinks to ``len(x)`` rounded up to
    a power of two for small inputs."""
    n = len(x)
    if n == 0:
        return {}
    bs = min(int(batch_size), 1 << max(int(math.ceil(math.log2(n))), 0))
    outs: dict = {}
    for i in range(0, n, bs):
        xb, mb = x[i:i + bs], mask[i:i + bs]
        k = len(xb)
        if k < bs:
            xb = np.concatenate([xb, np.repeat(xb[:1], bs - k, 0)])
            mb = np.concatenate([mb, np.repeat(mb[:1], bs - k, 0)])
        o = fn(xb, mb)
        for h, v in o.items():
            outs.setdefault(h, []).append(np.asarray(v)[:k])
    return {h: np.concatenate(v) for h, v in outs.items()}


def make_batch(lw: LabelledWindows, idx: np.ndarray, batch_size: int) -> dict:
    """Rows ``idx`` as a batch of exactly ``batch_size`` (padding rows repeat row ``idx[0]`` with weight 0)."""
    k = len(idx)
    pad = batch_size - k
    full = np.concatenate([idx, np.full(pad, idx[0], idx.dtype)]) if pad > 0 else idx
    w = np.zeros(batch_size, np.float32)
    w[:k] = 1.0
    return {"x": jnp.asarray(lw.windows.x[full]), "mask": jnp.asarray(lw.windows.mask[full]),
            "activity": jnp.asarray(lw.activity[full], jnp.int32), "safety": jnp.asarray(lw.safety[full], jnp.int32),
            "severity": jnp.asarray(lw.severity[full], jnp.int32), "weight": jnp.asarray(w)}


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([int(seed), int(epoch), 1]).permutation(n)


# ---------------------------------------------------------------------------------------------------------------
# parameters on disk (orbax)
# ---------------------------------------------------------------------------------------------------------------

def _ocp():
    import orbax.checkpoint as ocp

    return ocp


def save_params(params, path: str) -> None:
    """Parameters as an orbax checkpoint at ``path`` (replaced)."""
    ocp = _ocp()
    path = os.path.abspath(path)
    if os.path.exists(path):
        import shutil

        shutil.rmtree(path)
    with ocp.StandardCheckpointer() as ck:
        ck.save(path, params)
        ck.wait_until_finished()


def load_params(path: str, template):
    """Parameters saved by ``save_params``, restored into the structure of ``template``."""
    ocp = _ocp()
    abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, template)
    with ocp.StandardCheckpointer() as ck:
        return ck.restore(os.path.abspath(path), abstract)


def _manager(run_dir: str, keep: int):
    ocp = _ocp()
    opts = ocp.CheckpointManagerOptions(max_to_keep=max(int(keep), 1), create=True,
                                        enable_async_checkpointing=False)
    return ocp.CheckpointManager(os.path.abspath(os.path.join(run_dir, "checkpoints")), options=opts)


# ---------------------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class TrainResult:
    run_dir: str
    classes: list
    history: list
    steps: int
    summary: str
    resumed_from: Optional[int]
    report: list
    windows_per_s: float
    params: object = None        # the parameters after the last step taken
    best_params: object = None   # those saved to params/ (the best validation epoch's)


def _fingerprint(clips: D.Clips) -> str:
    h = hashlib.sha256()
    for m, x in zip(clips.meta, clips.imu):
        h.update(f"{m.get('source')}|{m.get('clip_id')}|{m.get('person')}|{x.shape}".encode())
        h.update(np.ascontiguousarray(x[:: max(len(x) // 8, 1)]).tobytes())
    return h.hexdigest()[:16]


def _val_score(trainer: Trainer, params, lw: LabelledWindows, n_clips: int, clips_lab: dict) -> dict:
    p = trainer.predict(params, lw.windows.x, lw.windows.mask)
    ev = trainer.cfg.eval
    out = {}
    act = aggregate_clips(p["activity"], lw.windows.clip, n_clips, ev.aggregate)
    known = clips_lab["activity"] >= 0
    if known.any():
        rep = classification_report(clips_lab["activity"][known], np.argmax(act[known], axis=1),
                                    [str(i) for i in range(trainer.n_classes)])
        out["val_macro_f1"] = rep["macro_f1"]
        out["val_accuracy"] = rep["accuracy"]
    saf = clips_lab["safety"] >= 0
    if saf.any():
        ps = aggregate_clips(p["safety"], lw.windows.clip, n_clips, ev.safety_aggregate)
        out["val_safety_accuracy"] = float(np.mean(np.argmax(ps[saf], axis=1) == clips_lab["safety"][saf]))
    return out


def train(data: str, run_dir: str, *, filters: Sequence[str] = (), label: Optional[str] = None,
          config: Optional[TrainConfig] = None, epochs: Optional[int] = None, seed: Optional[int] = None,
          progress: bool = True, log: Callable[[str], None] = lambda s: print(s, file=sys.stderr),
          max_steps: Optional[int] = None, clips: Optional[D.Clips] = None) -> TrainResult:
    """Train on the shards under ``data`` (rows passing ``filters``, ``COLUMN=VALUE[,VALUE...]``) into
    ``run_dir``; resume from its checkpoints when it has any. ``label``, ``epochs`` and ``seed`` override the
    config's. ``max_steps`` stops (with a checkpoint) after that many steps in total, as an interruption would.
    ``clips`` skips reading (already read and filtered data)."""
    cfg = config or TrainConfig()
    if label is not None:
        cfg = dataclasses.replace(cfg, label=label)
    if epochs is not None or seed is not None:
        cfg = dataclasses.replace(cfg, optim=dataclasses.replace(
            cfg.optim, epochs=int(epochs if epochs is not None else cfg.optim.epochs),
            seed=int(seed if seed is not None else cfg.optim.seed)))
    cfg = cfg.fitted()
    parsed = D.parse_filters(filters)
    if clips is None:
        clips = D.read_dataset(data, parsed)
    report = list(clips.report)
    if len(clips) == 0:
        raise InputError(f"{data}: no clips left to train on ({'; '.join(report)})")
    if cfg.label not in clips.columns:
        raise InputError(f"--label {cfg.label}: no such column (columns: {', '.join(clips.columns)})")
    tr_idx, va_idx, val_groups = D.split_by_subject(clips, cfg.split.val_fraction, cfg.optim.seed,
                                                   cfg.split.val_subjects)
    train_clips, val_clips = clips.take(tr_idx), clips.take(va_idx)
    values = [v for v in train_clips.column(cfg.label) if v is not None]
    classes = sorted({str(v) for v in values})
    if not classes:
        raise InputError(f"no training clip has a {cfg.label!r} value: nothing for the activity head to learn")
    n_null = len(train_clips) - len(values)
    report.append(f"train: {len(train_clips)} clips, {len(set(D.subject_key(m) for m in train_clips.meta))} "
                  f"subjects, {len(classes)} classes" + (f" ({n_null} clips without a {cfg.label}: safety and "
                                                          "severity heads only)" if n_null else ""))
    report.append(f"validation: {len(val_clips)} clips, subjects {', '.join(val_groups) or 'none'}")
    tw = label_windows(train_clips, cfg.window, cfg.label, classes)
    vw = label_windows(val_clips, cfg.window, cfg.label, classes, evaluation=True) if len(val_clips) else None
    val_lab = clip_labels(val_clips, cfg.label, classes) if len(val_clips) else None
    n_train = len(tw)
    bs = min(int(cfg.optim.batch_size), n_train)
    spe = int(math.ceil(n_train / bs))
    total = spe * int(cfg.optim.epochs)
    cw = {"activity": class_weights(tw.activity, len(classes), cfg.loss.class_weighting),
          "safety": class_weights(tw.safety, len(SAFETY), cfg.loss.class_weighting),
          "severity": class_weights(tw.severity, N_SEVERITY, cfg.loss.class_weighting)}
    trainer = Trainer(cfg, len(classes), total, cw)
    params, opt_state = trainer.init(cfg.optim.seed)
    summary = summary_line(params, cfg.model, [("activity", len(classes)), ("safety", 2), ("severity", 5)])
    report.append(f"windows: {n_train} train, {len(vw) if vw else 0} validation, {cfg.window.length} samples at "
                  f"{cfg.window.rate_hz:g} Hz; {spe} steps/epoch x {cfg.optim.epochs} epochs, batch {bs}")
    for line in report:
        log(line)
    log(summary)

    os.makedirs(run_dir, exist_ok=True)
    run = {"format": RUN_FORMAT, "version": 1, "config": config_to_dict(cfg), "classes": classes,
           "label": cfg.label, "filters": list(filters), "data": os.path.abspath(data) if data else None,
           "data_fingerprint": _fingerprint(clips), "val_subjects": val_groups, "n_params": count_params(params),
           "summary": summary, "steps_per_epoch": spe, "total_steps": total, "batch_size": bs,
           "class_weights": {k: v.tolist() for k, v in cw.items()}}
    run_json = os.path.join(run_dir, "run.json")
    best_params = params
    state = {"params": params, "opt_state": opt_state, "step": jnp.int32(0), "best_params": best_params,
             "best_score": jnp.float32(-np.inf)}
    history: list = []
    resumed = None
    mgr = _manager(run_dir, cfg.checkpoint.keep)
    latest = mgr.latest_step()
    if latest is not None:
        try:
            with open(run_json) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = {}
        same = all(old.get(k) == run[k] for k in ("config", "classes", "label", "data_fingerprint", "val_subjects"))
        if not same:
            raise InputError(f"{run_dir} holds checkpoints of another run (config, data or classes differ): use a "
                             "new run folder, or delete its checkpoints/ to start over")
        ocp = _ocp()
        abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, state)
        state = mgr.restore(latest, args=ocp.args.StandardRestore(abstract))
        history = list(old.get("history", []))
        history = [h for h in history if h["step"] <= int(state["step"])]
        resumed = int(state["step"])
        log(f"resuming from step {resumed} ({run_dir}/checkpoints)")
    run["history"] = history
    _write_json(run_json, run)

    def save(step: int):
        ocp = _ocp()
        state_now = {"params": params, "opt_state": opt_state, "step": jnp.int32(step),
                     "best_params": best_params, "best_score": jnp.float32(best_score)}
        mgr.save(step, args=ocp.args.StandardSave(state_now), force=True)
        mgr.wait_until_finished()
        run["history"] = history
        _write_json(run_json, run)

    params, opt_state = state["params"], state["opt_state"]
    best_params, best_score = state["best_params"], float(state["best_score"])
    step = int(state["step"])
    stop = total if max_steps is None else min(total, int(max_steps))
    base_key = jax.random.key(int(cfg.optim.seed))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=step, desc="train", unit="step", file=sys.stderr, dynamic_ncols=True,
                   leave=True)
    order_epoch, order = -1, None
    t_run, n_run, losses = 0.0, 0, []
    every = int(cfg.checkpoint.every_steps)
    try:
        while step < stop:
            epoch, i = divmod(step, spe)
            if epoch != order_epoch:
                order, order_epoch = epoch_order(n_train, cfg.optim.seed, epoch), epoch
                losses = []
            idx = order[i * bs:(i + 1) * bs]
            batch = make_batch(tw, idx, bs)
            t0 = time.perf_counter()
            params, opt_state, parts = trainer.step(params, opt_state, batch, jax.random.fold_in(base_key, step))
            loss = float(parts["loss"])
            if step > 0:  # the first step compiles
                t_run += time.perf_counter() - t0
                n_run += len(idx)
            if not np.isfinite(loss):
                raise InputError(f"the loss is not finite at step {step} (try a lower optim.lr)")
            losses.append(loss)
            step += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.3f}")
            end_of_epoch = step % spe == 0
            if end_of_epoch:
                h = {"epoch": epoch + 1, "step": step, "train_loss": float(np.mean(losses))}
                if vw is not None and len(vw):
                    h.update(_val_score(trainer, params, vw, len(val_clips), val_lab))
                    score = h.get("val_macro_f1", h.get("val_safety_accuracy", -h["train_loss"]))
                else:
                    score = float(epoch)  # no validation: the last epoch is the best
                if score > best_score:
                    best_score, best_params = float(score), params
                    h["best"] = True
                history.append(h)
                if bar is not None:
                    bar.set_postfix(epoch=epoch + 1, loss=f"{h['train_loss']:.3f}",
                                    **({"val_f1": f"{h['val_macro_f1']:.3f}"} if "val_macro_f1" in h else {}))
            if (every > 0 and step % every == 0) or (every <= 0 and end_of_epoch) or step == stop:
                save(step)
    except KeyboardInterrupt:
        save(step)
        if bar is not None:
            bar.close()
        log(f"interrupted: checkpoint at step {step}; run the same command again to resume")
        raise
    if bar is not None:
        bar.close()
    wps = n_run / t_run if t_run > 0 else float("nan")
    run["windows_per_s"] = wps
    if step >= total:
        save_params(best_params, os.path.join(run_dir, "params"))
        run["finished"] = True
        run["history"] = history
        _write_json(run_json, run)
        if cfg.export_onnx:
            try:
                import onnx  # noqa: F401
            except ImportError:
                log("model.onnx not written: the onnx package is not installed (pip install 'imusim-jax[onnx]')")
            else:
                from imusim_jax.models.har.export import export_onnx

                export_onnx(best_params, run, os.path.join(run_dir, "model.onnx"))
        log(f"trained {step} steps ({wps:.0f} windows/s after compiling); {run_dir}")
    return TrainResult(run_dir, classes, history, step, summary, resumed, report, wps, params, best_params)


def _write_json(path: str, d: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(d, f, indent=1, default=float)
    os.replace(tmp, path)
