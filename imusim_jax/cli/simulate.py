"""``imusim-jax simulate``: one motion file (or a rigid-body trajectory) in, one IMU file out."""
from __future__ import annotations

import os
from typing import Optional

import typer

from imusim_jax.cli._app import app, fail, one_line_warnings
from imusim_jax.cli._options import (ContactTimeOption, ImpactOption, ProfileOption, CutoffOption, FpsOption,
                                     JointSetOption, MountOption, NoiseOption,
                                     RateOption, RollOption, SeedOption, WristOption, check_plot, simulation)


@app.command()
def simulate(
    input: Optional[str] = typer.Argument(None, help="Motion .npz (joints (T,J,3) m z-up, fps, joint_set), .csv, "
                                          "NTU RGB+D .skeleton (30 fps, the body in most frames) or UTD-MHAD "
                                          "*_skeleton.mat (fps from the Inertial/ file beside it)"),
    output: str = typer.Option(..., "-o", "--output", help="OUT.csv | OUT.npz | OUT.parquet"),
    trajectory: Optional[str] = typer.Option(None, "--trajectory", help="rigid-body CSV t,x,y,z,qw,qx,qy,qz "
                                             "instead of a skeleton (default mount: body)"),
    mount: MountOption = None,
    wrist: WristOption = None,
    rate: RateOption = None,
    noise: NoiseOption = None,
    profile: ProfileOption = None,
    seed: SeedOption = 0,
    cutoff: CutoffOption = None,
    roll: RollOption = "auto",
    impact: ImpactOption = None,
    contact_time: ContactTimeOption = None,
    fps: FpsOption = None,
    joint_set: JointSetOption = None,
    plot: Optional[str] = typer.Option(None, "--plot", help="also draw the six channels to FILE.png"),
    body: Optional[int] = typer.Option(None, "--body", help="NTU .skeleton with several people: the body by "
                                       "order of appearance (0 = first; default: the one in most frames)"),
):
    """Simulate a wrist IMU from a 3D skeleton (or a rigid-body trajectory)."""
    import jax

    from imusim_jax import io as iio
    from imusim_jax import load_motion, load_trajectory
    from imusim_jax import simulate as sim

    if (input is None) == (trajectory is None):
        fail("give exactly one of INPUT (a skeleton) or --trajectory FILE.csv")
    if os.path.splitext(output)[1].lower() not in (".csv", ".npz", ".parquet"):
        fail(f"output {output!r} must end in .csv, .npz or .parquet")
    opts = simulation(mount=mount, wrist=wrist, rate=rate, noise=noise, seed=seed, cutoff=cutoff, roll=roll,
                      profile=profile, impact=impact, contact_time=contact_time,
                      default_mount="body" if trajectory is not None else "watch-left")
    if plot:
        check_plot(plot)
    for path in (output, plot):  # before the simulation, not after it
        if path:
            iio.check_writable(path)
    with one_line_warnings(os.path.basename(input or trajectory)):
        if trajectory is not None:
            src = load_trajectory(trajectory, fps=fps)
        else:
            src = load_motion(input, fps=fps, joint_set=joint_set, body=body)
            if src.batched:
                fail(f"{input} holds a batch of {src.joints.shape[0]} clips and simulate writes one; use "
                     f"'imusim-jax batch {input} --out-dir DIR' (one output per clip)")
        signal = sim(src, opts.mount, opts.noise, key=jax.random.key(opts.seed), rate_hz=opts.rate_hz,
                     cutoff_hz=opts.cutoff_hz, roll=opts.roll, time_offset_s=opts.time_offset_s,
                     impact=opts.impact if trajectory is None else None)
    iio.write_signal(signal, output, **opts.metadata())
    if plot:
        from imusim_jax.plotting import plot_imu

        plot_imu(signal, plot,
                 title=f"{os.path.basename(input or trajectory)}: {opts.mount.name}, noise {opts.noise_name}")
    typer.echo(f"wrote {output} ({signal.num_samples} samples at {opts.rate_hz:g} Hz)" + (f" and {plot}" if plot
                                                                                            else ""))
