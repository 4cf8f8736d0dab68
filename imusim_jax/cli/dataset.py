"""``imusim-jax build-dataset MANIFEST.yaml -o DATASET_DIR``: many sources into Parquet shards of labelled wrist-IMU
clips (``imusim_jax.workflows.dataset``); resumable, deterministic, parallel."""
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
