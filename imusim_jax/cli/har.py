"""``imusim-jax train`` and ``imusim-jax evaluate``: the HAR models (``imusim_jax.models.har``) on the dataset
builder's shards.

  imusim-jax train --data DATASET_DIR -o RUN_DIR [--filter COLUMN=VALUE[,VALUE...]]... [--label activity]
                   [--config CONFIG.yaml] [--epochs N] [--seed S]
  imusim-jax evaluate RUN_DIR|MODEL.onnx --data DATASET_DIR [--filter ...] --json metrics.json [--plot cm.png]

Both compute in float32 (the models' dtype): the command line's float64 default is for the simulator.
"""
from __future__ import annotations

import os
from typing import Optional

import typer

from imusim_jax.cli._app import app, fail

FILTER_HELP = ("keep the rows whose COLUMN (its string form) is one of the VALUEs: COLUMN=VALUE[,VALUE...]; "
               "repeat for more (all must hold), e.g. --filter kind=synthetic --filter subject=1,2,3,4")


def _float32() -> None:
    if "JAX_ENABLE_X64" in os.environ:
        return
    import jax

    jax.config.update("jax_enable_x64", False)


@app.command()
def train(
    data: str = typer.Option(..., "--data", help="a dataset folder (shards/*.parquet, dataset.json)"),
    run_dir: str = typer.Option(..., "-o", "--output", help="the run folder: run.json, checkpoints/, params/, "
                                "model.onnx; a folder with checkpoints of the same run resumes"),
    filters: Optional[list[str]] = typer.Option(None, "--filter", help=FILTER_HELP),
    label: Optional[str] = typer.Option(None, "--label", help="the column the activity head learns: activity "
                                        "(default) or source_label"),
    config: Optional[str] = typer.Option(None, "--config", help="a YAML file of settings (model, window, augment, "
                                         "loss, optim, split, eval, checkpoint; see imusim_jax.models.har.config)"),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="epochs (default: the config's, 30)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="seed of the initialisation, order, augmentations and "
                                       "the validation subjects (default: the config's, 0)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
):
    """Train the IMU-Patchformer (activity, safety and severity heads) on a dataset's shards."""
    _float32()
    from imusim_jax.models.har.config import load_config
    from imusim_jax.models.har.train import train as run_train

    if epochs is not None and epochs < 1:
        fail("--epochs must be >= 1")
    cfg = load_config(config)
    res = run_train(data, run_dir, filters=filters or (), label=label, config=cfg, epochs=epochs, seed=seed,
                    progress=progress, log=lambda s: typer.echo(s, err=True))
    best = [h for h in res.history if h.get("best")]
    msg = f"wrote {run_dir}: {len(res.classes)} classes, {res.steps} steps"
    if best and "val_macro_f1" in best[-1]:
        msg += f", best validation macro-F1 {best[-1]['val_macro_f1']:.3f} (epoch {best[-1]['epoch']})"
    typer.echo(msg)


@app.command()
def evaluate(
    model: str = typer.Argument(..., help="a run folder (imusim-jax train -o) or its model.onnx"),
    data: str = typer.Option(..., "--data", help="a dataset folder (shards/*.parquet)"),
    filters: Optional[list[str]] = typer.Option(None, "--filter", help=FILTER_HELP),
    json_path: str = typer.Option(..., "--json", help="write the metrics here (macro_f1, accuracy, n, classes, "
                                  "per_class, confusion_matrix, unknown, safety, severity)"),
    plot: Optional[str] = typer.Option(None, "--plot", help="draw the confusion matrix to FILE.png"),
    false_alarm_rate: Optional[float] = typer.Option(None, "--false-alarm-rate", help="the safety head's unsafe "
                                                     "recall is read at this false-alarm rate (default: the "
                                                     "run's, 0.05)"),
):
    """Score a trained run on a dataset's shards (clip level): macro-F1, accuracy, per-class precision and recall,
    the confusion matrix, and the unsafe recall at a false-alarm rate."""
    _float32()
    from imusim_jax.models.har.evaluate import evaluate as run_eval

    if false_alarm_rate is not None and not 0 <= false_alarm_rate < 1:
        fail("--false-alarm-rate must be in [0, 1)")
    m = run_eval(model, data, filters=filters or (), json_path=json_path, plot_path=plot,
                 false_alarm_rate=false_alarm_rate, log=lambda s: typer.echo(s, err=True))
    typer.echo(f"wrote {json_path}: macro-F1 {m['macro_f1']:.3f}, accuracy {m['accuracy']:.3f} on {m['n']} clips"
               + (f" ({m['unknown']['n']} left out: label unknown to the model)" if m["unknown"]["n"] else ""))
