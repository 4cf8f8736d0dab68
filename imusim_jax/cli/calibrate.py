"""``imusim-jax calibrate``: real recordings (and motions) in, a ``SensorProfile`` JSON out.

  imusim-jax calibrate --real PATH --mode stationary|paired|unpaired [--motion PATH] [--pairs CSV]
      [--format NAME] [--mount watch-left] [--cutoff auto] -o profile.json [--plot report.png]
"""
from __future__ import annotations

import os
from typing import Optional

import typer

from imusim_jax.cli._app import app, fail, one_line_warnings
from imusim_jax.cli._options import CutoffOption, MountOption, WristOption, check_plot, resolve_mount


@app.command()
def calibrate(
    real: list[str] = typer.Option(..., "--real", help="real IMU recordings: files or folders (repeatable)"),
    mode: str = typer.Option(..., "--mode", help="stationary (rest recordings: the noise model) | paired (motions "
                             "recorded with the IMU: time offset, mount, lever arm, scale, bias, noise) | unpaired "
                             "(motions and recordings of the same activities: noise and scale by distribution "
                             "matching)"),
    output: str = typer.Option(..., "-o", "--output", help="the profile to write, .json"),
    motion: Optional[list[str]] = typer.Option(None, "--motion", help="motions: files or folders (paired: they "
                                               "pair with the recordings by file stem; repeatable)"),
    pairs: Optional[str] = typer.Option(None, "--pairs", help="paired: a CSV with columns real,motion instead"),
    format: Optional[str] = typer.Option(None, "--format", help="the recordings' reader (imusim_jax.io.readers"
                                         "('imu')); default: by file suffix"),
    mount: MountOption = None,
    wrist: WristOption = None,
    cutoff: CutoffOption = None,
    name: Optional[str] = typer.Option(None, "--name", help="the profile's name (default: the output's stem)"),
    plot: Optional[str] = typer.Option(None, "--plot", help="a report figure: Allan curves, spectra, waveforms "
                                       "before and after"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="a progress bar over the fit"),
    fit: Optional[str] = typer.Option(None, "--fit", help="unpaired: the parameters to fit, comma-separated, of "
                                      "noise, scale, bias, smoothing, contact_time (default noise,scale,smoothing; "
                                      "contact_time: simulated against real falls)"),
):
    """Fit the simulator to real sensors by gradient descent: a sensor profile for --profile / --noise / --mount."""
    from imusim_jax._cutoff import cutoff_arg
    from imusim_jax.io import check_writable
    from imusim_jax.workflows.calibrate import MODES, calibrate_files

    mode = mode.strip().lower()
    if mode not in MODES:
        fail(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if not output.lower().endswith(".json"):
        fail(f"-o {output!r} must end in .json (a sensor profile)")
    if plot:
        check_plot(plot)
    for path in (output, plot):
        if path:
            check_writable(path)
    m = resolve_mount(mount, wrist)
    fit_names = None
    if fit is not None:
        from imusim_jax.calibrate.unpaired import FIT_PARAMETERS

        fit_names = [f.strip().lower() for f in fit.split(",") if f.strip()]
        bad = [f for f in fit_names if f not in FIT_PARAMETERS]
        if bad or not fit_names:
            fail(f"--fit takes {', '.join(FIT_PARAMETERS)} (comma-separated), got {fit!r}")
    with one_line_warnings():
        profile, data = calibrate_files(mode, real, motion=motion, pairs_csv=pairs, format=format, mount=m,
                                        cutoff_hz=None if cutoff is None else cutoff_arg(cutoff, "--cutoff"), progress=progress,
                                        name=name or os.path.splitext(os.path.basename(output))[0], fit=fit_names)
    profile.save(output)
    if plot:
        from imusim_jax.plotting import plot_calibration

        plot_calibration(mode, profile, data, plot)
    fit = profile.fit
    typer.echo(f"wrote {output} ({mode}: {fit.get('steps', '?')} steps, "
               f"{'converged' if fit.get('converged') else 'not converged'}, loss {fit.get('loss', float('nan')):.4g})"
               + (f" and {plot}" if plot else ""))
