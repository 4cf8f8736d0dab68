"""``imusim-jax noise``, ``mounts`` and ``sample``: the presets as editable profiles, and the bundled sample."""
from __future__ import annotations

import os
from typing import Optional

import typer

from imusim_jax.cli._app import app, fail


@app.command("noise")
def noise_profile(
    name: str = typer.Argument("bmi160", help="a preset (bmi160, bmi270, lsm6dso, ideal) or a profile .json to "
                               "check"),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="write the profile here (default: print)"),
):
    """Print (or write) a noise profile as JSON: a template for --noise profile.json, SI units."""
    from imusim_jax._noise import get_noise, noise_profile_json, save_noise_json

    model = get_noise(name)
    if model is None:
        fail("'none' has no profile; name a preset (bmi160, bmi270, lsm6dso, ideal) or a .json file")
    if output:
        save_noise_json(model, output)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(noise_profile_json(model))


@app.command()
def mounts(
    name: Optional[str] = typer.Argument(None, help="a preset (or a profile .json) to print as a mount profile: "
                                         "a template for --mount FILE.json"),
    output: Optional[str] = typer.Option(None, "-o", "--output", help="write NAME's profile here"),
    plot: Optional[str] = typer.Option(None, "--plot", help="draw the presets' axes to FILE.png"),
):
    """List the mounting presets (and draw their axes), or print/write one as an editable mount profile."""
    import numpy as np

    from imusim_jax._mounting import (
        MOUNTS,
        get_mount,
        mount_profile_json,
        save_mount_json,
    )

    if name is None and output:
        fail("-o writes one mount's profile: name it (imusim-jax mounts watch-right -o my_mount.json)")
    if name is not None:
        m = get_mount(name)
        if output:
            save_mount_json(m, output)
            typer.echo(f"wrote {output}")
        else:
            typer.echo(mount_profile_json(m))
    else:
        for key, m in MOUNTS.items():
            typer.echo(f"{key:12s} {m.side:5s} q_fs={np.round(np.asarray(m.q_fs), 4).tolist()} "
                       f"lever_f={np.asarray(m.lever_f).tolist()} m")
    if plot:
        from imusim_jax.plotting import plot_mounts

        plot_mounts(plot)
        typer.echo(f"wrote {plot}")


@app.command()
def sample(output: str = typer.Option("fall_sample.npz", "-o", "--output", help="where to write the sample")):
    """Write the bundled sample (a forward fall, COCO-17, 30 fps) as a simulate-ready .npz."""
    import shutil

    from imusim_jax.sample import sample_path

    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    shutil.copyfile(sample_path(), output)
    typer.echo(f"wrote {output}")
