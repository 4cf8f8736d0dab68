"""``imusim-jax batch``: many motion files in, one IMU file out per clip, with the batched simulator; resumable."""
from __future__ import annotations

import os

import typer

from imusim_jax.cli._app import app, finish_many, one_line_warnings
from imusim_jax.cli._options import (ContactTimeOption, ImpactOption, ProfileOption, CutoffOption, FpsOption,
                                     JointSetOption, MountOption, NoiseOption,
                                     RateOption, RollOption, WristOption, simulation)


@app.command()
def batch(
    inputs: list[str] = typer.Argument(..., help="motion files and/or folders (searched recursively for *.npz, "
                                       "*.csv, *.skeleton, *_skeleton.mat)"),
    out_dir: str = typer.Option(..., "--out-dir", "-o", help="one output per clip goes here, at its path "
                                "relative to the inputs' common folder (a folder argument's own files keep their "
                                "place under it)"),
    fmt: str = typer.Option("csv", "--format", help="csv | npz | parquet (as simulate's -o)"),
    mount: MountOption = None,
    wrist: WristOption = None,
    rate: RateOption = None,
    noise: NoiseOption = None,
    profile: ProfileOption = None,
    seed: int = typer.Option(0, "--seed", help="PRNG seed; each clip's key is fold_in(key(seed), crc32(name))"),
    cutoff: CutoffOption = None,
    roll: RollOption = "auto",
    impact: ImpactOption = None,
    contact_time: ContactTimeOption = None,
    fps: FpsOption = None,
    joint_set: JointSetOption = None,
    batch_size: int = typer.Option(256, "--batch-size", help="files read and simulated at a time"),
    overwrite: bool = typer.Option(False, "--overwrite", help="redo every output (default: keep outputs made "
                                   "with the same options, so an interrupted run resumes; outputs made with other "
                                   "options are refused in one line)"),
):
    """Simulate many motion files in batches: one IMU file per clip, resumable."""
    from imusim_jax.io import check_writable
    from imusim_jax.workflows.batch import simulate_files

    opts = simulation(mount=mount, wrist=wrist, rate=rate, noise=noise, seed=seed, cutoff=cutoff, roll=roll,
                      profile=profile, impact=impact, contact_time=contact_time)
    check_writable(os.path.join(out_dir, "any.csv"))
    with one_line_warnings():
        report = simulate_files(inputs, out_dir, mount=opts.mount, noise=opts.noise, noise_name=opts.noise_name,
                                seed=opts.seed, rate_hz=opts.rate_hz, cutoff_hz=opts.cutoff_hz,
                                time_offset_s=opts.time_offset_s, impact=opts.impact, fps=fps,
                                joint_set=joint_set, roll=opts.roll, fmt=fmt, batch_size=batch_size,
                                overwrite=overwrite, warn=lambda msg: typer.echo(msg, err=True))
    finish_many(f"wrote {len(report.written)} files to {out_dir}",
                f"skipped {len(report.skipped)} that exist" if report.skipped else "",
                f"{len(report.failed)} inputs failed (above)" if report.failed else "")
