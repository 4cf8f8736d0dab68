"""``imusim-jax build-dataset MANIFEST.yaml -o DATASET_DIR``: many sources into Parquet shards of labelled wrist-IMU
clips (``imusim_jax.workflows.dataset``); resumable, deterministic, parallel. ``imusim-jax dataset-card DATASET_DIR``:
an HTML page (and its PNGs) of what such a dataset holds (``imusim_jax.workflows.card``)."""
from __future__ import annotations

from typing import Optional

import typer

from imusim_jax.cli._app import app, one_line_warnings


@app.command("build-dataset")
def build_dataset(
    manifest: str = typer.Argument(..., help="the manifest (YAML): sources and simulation settings"),
    out_dir: str = typer.Option(..., "--out", "-o", help="the dataset folder: shards/part-*.parquet and "
                                "dataset.json"),
    workers: Optional[int] = typer.Option(None, "--workers", help="processes (or Ray CPUs); default: the cores"),
    engine: str = typer.Option("local", "--engine", help="local (processes on this machine) | ray"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="an existing Ray cluster (default: "
                                              "a local Ray instance)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="overrides the manifest's seed"),
    overwrite: bool = typer.Option(False, "--overwrite", help="rebuild everything (default: resume, keeping "
                                   "the shards built before with the same manifest)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="a progress bar with its ETA"),
):
    """Build a dataset of simulated and real wrist-IMU clips from a manifest; rerun to resume."""
    from imusim_jax.workflows.dataset import build_dataset as build

    with one_line_warnings():
        report = build(manifest, out_dir, workers=workers, engine=engine, seed=seed, overwrite=overwrite,
                       ray_address=ray_address, progress=progress, warn=lambda msg: typer.echo(msg, err=True))
    typer.echo(f"{report.rows} rows from {report.clips} clips in {len(report.written) + len(report.skipped)} "
               f"shards in {out_dir}"
               + (f" ({len(report.skipped)} built before)" if report.skipped else "")
               + (f"; {len(report.failed)} failed (above, and in dataset.json)" if report.failed else ""))
    if report.failed:
        raise typer.Exit(2)


@app.command("dataset-card")
def dataset_card(
    dataset_dir: str = typer.Argument(..., help="a dataset folder (imusim-jax build-dataset's output)"),
    out_dir: Optional[str] = typer.Option(None, "--out", "-o", help="the card's folder: index.html and its PNGs "
                                          "(default: DATASET_DIR/card)"),
    examples: int = typer.Option(1, "--examples", min=0, help="example clips per activity and kind"),
):
    """Write a dataset's card: counts per activity, safety, severity, source and kind, durations, an example
    signal per activity (synthetic beside real), the unmapped source classes, failures and warnings."""
    from imusim_jax.workflows.card import write_card

    typer.echo(write_card(dataset_dir, out_dir, max_examples_per_activity=examples))
