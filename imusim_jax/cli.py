"""The ``imusim-jax`` command line.

  imusim-jax simulate INPUT --mount watch-left --rate 50 --noise none|<preset>|profile.json --seed 0 -o OUT
  imusim-jax simulate --trajectory FILE.csv --mount body -o OUT
  imusim-jax batch INPUTS... --out-dir DIR [--format csv|npz|parquet] [simulate's options]
  imusim-jax video2imu VIDEO --pose mediapipe|vitpose --mount watch-left --rate 50 -o OUTDIR
  imusim-jax weights fetch NAME | list | verify
  imusim-jax noise bmi160 [-o profile.json]
  imusim-jax sample -o fall.npz
  imusim-jax mounts --plot mounts.png

Bad input exits with status 2 and one line on stderr (``error: ...``); set ``IMUSIM_DEBUG=1`` for tracebacks.
"""
from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Video and 3D motion to wrist-worn IMU signals (accelerometer m/s^2, gyroscope rad/s).")


def _fail(msg: str, code: int = 2):
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def _resolve_mount(mount: str, wrist: Optional[str]):
    from imusim_jax._mounting import MOUNTS, get_mount

    name = mount.strip().lower()
    if wrist is not None:
        wrist = wrist.strip().lower()
        if wrist not in ("left", "right"):
            _fail(f"--wrist must be left or right, got {wrist!r}")
        if name in ("watch", "band", "phone"):
            name = f"{name}-{wrist}"
        elif name in MOUNTS and name != "body" and not name.endswith(wrist):
            _fail(f"--wrist {wrist} contradicts --mount {mount} (the mount implies the wrist)")
        elif name == "body":
            return get_mount(name).replace(side=wrist)
    return get_mount(name)


@app.command()
def simulate(
    input: Optional[str] = typer.Argument(None, help="Motion .npz (joints (T,J,3) m z-up, fps, joint_set), .csv, "
                                          "NTU RGB+D .skeleton (30 fps, the body in most frames) or UTD-MHAD "
                                          "*_skeleton.mat (fps from the Inertial/ file beside it, else 30)"),
    trajectory: Optional[str] = typer.Option(None, "--trajectory", help="rigid-body CSV t,x,y,z,qw,qx,qy,qz "
                                             "instead of a skeleton"),
    mount: Optional[str] = typer.Option(None, "--mount", help="watch-left (default for skeletons)|watch-right|"
                                        "band-left|band-right|phone-left|phone-right|body (default for "
                                        "--trajectory: the sensor is the tracked body)"),
    wrist: Optional[str] = typer.Option(None, "--wrist", help="left|right (implied by the mount)"),
    rate: float = typer.Option(50.0, "--rate", help="IMU output rate, Hz"),
    noise: str = typer.Option("none", "--noise", help="none, a preset (bmi160, bmi270, lsm6dso) or profile.json"),
    seed: int = typer.Option(0, "--seed", help="PRNG seed for the noise"),
    output: str = typer.Option(..., "-o", "--output", help="OUT.csv | OUT.npz | OUT.parquet"),
    plot: Optional[str] = typer.Option(None, "--plot", help="also draw the six channels to FILE.png"),
    cutoff: str = typer.Option("auto", "--cutoff", help="low-pass cut-off in Hz, 'auto' (residual analysis) "
                               "or 'none'"),
    fps: Optional[float] = typer.Option(None, "--fps", help="override the input's frame rate"),
    joint_set: Optional[str] = typer.Option(None, "--joint-set", help="override: coco17|h36m17|ntu25|mediapipe33"),
    roll: str = typer.Option("auto", "--roll", help="forearm roll from auto|hand|hinge"),
    body: Optional[int] = typer.Option(None, "--body", help="NTU .skeleton with several people: the body by "
                                       "order of appearance (0 = first; default: the one in most frames)"),
):
    """Simulate a wrist IMU from a 3D skeleton (or a rigid-body trajectory)."""
    import jax

    from imusim_jax import io as iio
    from imusim_jax._motion import load_motion, load_trajectory
    from imusim_jax._simulate import simulate as sim

    if (input is None) == (trajectory is None):
        _fail("give exactly one of INPUT (a skeleton) or --trajectory FILE.csv")
    if os.path.splitext(output)[1].lower() not in (".csv", ".npz", ".parquet"):
        _fail(f"output {output!r} must end in .csv, .npz or .parquet")
    cut = _cutoff(cutoff)
    _check_seed(seed)
    if plot:
        _check_plot(plot)
    for path in (output, plot):  # before the simulation, not after it
        if path:
            iio.check_writable(path)
    if trajectory is not None:
        src = load_trajectory(trajectory, fps=fps)
        m = _resolve_mount(mount or "body", wrist)
    else:
        src = load_motion(input, fps=fps, joint_set=joint_set, body=body)
        if src.batched:
            _fail(f"{input} holds a batch of {src.joints.shape[0]} clips and simulate writes one; use "
                  f"'imusim-jax batch {input} --out-dir DIR' (one output per clip)")
        m = _resolve_mount(mount or ("watch" if wrist else "watch-left"), wrist)  # --wrist alone: its watch
        _check_forearm(src, m.side, input)
    key = jax.random.key(seed)
    with _one_line_warnings():
        signal = sim(src, m, noise, key=key, rate_hz=rate, cutoff_hz=cut, roll=roll)
    iio.write_signal(signal, output, mount=m.name, noise=noise, seed=seed)
    if plot:
        from imusim_jax.plotting import plot_imu

        plot_imu(signal, plot, title=f"{os.path.basename(input or trajectory)}: {m.name}, noise {noise}")
    typer.echo(f"wrote {output} ({signal.num_samples} samples at {rate:g} Hz)" + (f" and {plot}" if plot else ""))


def _check_forearm(motion, side: str, path: str) -> None:
    """Warn (one line on stderr) when the forearm (elbow to wrist, on the mount's arm) is degenerate in most
    frames, or far longer than a human's, which usually means the wrong units (``batch.forearm_warning``)."""
    from imusim_jax.batch import forearm_warning

    note = forearm_warning(motion, side, os.path.basename(path))
    if note:
        typer.echo(f"warning: {note}", err=True)


@contextlib.contextmanager
def _one_line_warnings():
    """The library's ``UserWarning``s as one ``warning:`` line each on stderr (each text once), in the command
    line's spelling; other warnings as Python shows them."""
    seen: set = set()
    show = warnings.showwarning

    def one_line(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, UserWarning):
            return show(message, category, filename, lineno, file, line)
        text = str(message).replace("cutoff_hz=", "--cutoff ")
        if text not in seen:
            seen.add(text)
            typer.echo(f"warning: {text}", err=True)

    from imusim_jax._simulate import ForearmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.simplefilter("ignore", ForearmWarning)  # the command line words its own, with the file and length
        warnings.showwarning = one_line
        yield


def _check_seed(seed: int) -> None:
    """``--seed`` must fit ``jax.random.key`` (a 64-bit signed integer)."""
    if not -2 ** 63 <= seed < 2 ** 63:
        _fail(f"--seed must be an integer from -2^63 to 2^63 - 1, got {seed}")


def _check_plot(path: str) -> None:
    """``--plot``: a format matplotlib writes, checked before the simulation runs."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if ext not in formats:
        _fail(f"--plot {path!r} must end in one of .{', .'.join(sorted(formats))}")


def _cutoff(text: str):
    """``--cutoff``: ``none`` (None), ``auto`` or a number of Hz."""
    cut = text.strip().lower()
    return None if cut == "none" else ("auto" if cut == "auto" else _float(cut, "--cutoff"))


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        _fail(f"{what} must be a number, got {text!r}")


@app.command()
def batch(
    inputs: list[str] = typer.Argument(..., help="motion files and/or directories (searched recursively for "
                                       "*.npz, *.csv, *.skeleton, *_skeleton.mat)"),
    out_dir: str = typer.Option(..., "--out-dir", "-o", help="one output per clip goes here, under the input's "
                                "relative path"),
    fmt: str = typer.Option("csv", "--format", help="csv | npz | parquet (as simulate's -o)"),
    mount: Optional[str] = typer.Option(None, "--mount", help="watch-left (default)|watch-right|band-left|"
                                        "band-right|phone-left|phone-right"),
    wrist: Optional[str] = typer.Option(None, "--wrist", help="left|right (implied by the mount)"),
    rate: float = typer.Option(50.0, "--rate", help="IMU output rate, Hz"),
    noise: str = typer.Option("none", "--noise", help="none, a preset (bmi160, bmi270, lsm6dso) or profile.json"),
    seed: int = typer.Option(0, "--seed", help="PRNG seed; each clip's key is fold_in(key(seed), crc32(name))"),
    cutoff: str = typer.Option("auto", "--cutoff", help="low-pass cut-off in Hz, 'auto' or 'none'"),
    fps: Optional[float] = typer.Option(None, "--fps", help="override the inputs' frame rate"),
    joint_set: Optional[str] = typer.Option(None, "--joint-set", help="override the inputs' joint set"),
    roll: str = typer.Option("auto", "--roll", help="forearm roll from auto|hand|hinge"),
    batch_size: int = typer.Option(256, "--batch-size", help="files read and simulated at a time"),
    overwrite: bool = typer.Option(False, "--overwrite", help="redo outputs that exist (default: skip them, so "
                                   "an interrupted run resumes)"),
):
    """Simulate many motion files in batches: one IMU file per clip, resumable."""
    from imusim_jax.batch import simulate_files
    from imusim_jax.io import check_writable

    cut = _cutoff(cutoff)
    _check_seed(seed)
    check_writable(os.path.join(out_dir, "any.csv"))
    m = _resolve_mount(mount or ("watch" if wrist else "watch-left"), wrist)
    with _one_line_warnings():
        report = simulate_files(inputs, out_dir, mount=m, noise=noise, seed=seed, rate_hz=rate, cutoff_hz=cut,
                                fps=fps, joint_set=joint_set, roll=roll, fmt=fmt, batch_size=batch_size,
                                overwrite=overwrite, warn=lambda msg: typer.echo(msg, err=True))
    typer.echo(f"wrote {len(report.written)} files to {out_dir}"
               + (f", skipped {len(report.skipped)} that exist" if report.skipped else "")
               + (f"; {len(report.failed)} inputs failed (above)" if report.failed else ""))
    if report.failed:
        raise typer.Exit(2)


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
        _fail("'none' has no profile; name a preset (bmi160, bmi270, lsm6dso, ideal) or a .json file")
    if output:
        save_noise_json(model, output)
        typer.echo(f"wrote {output}")
    else:
        typer.echo(noise_profile_json(model))


@app.command()
def sample(output: str = typer.Option("fall_sample.npz", "-o", "--output", help="where to write the sample")):
    """Write the bundled sample (a forward fall, COCO-17, 30 fps) as a simulate-ready .npz."""
    import shutil

    from imusim_jax.sample import sample_path

    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    shutil.copyfile(sample_path(), output)
    typer.echo(f"wrote {output}")


@app.command()
def mounts(plot: Optional[str] = typer.Option(None, "--plot", help="draw the presets' axes to FILE.png")):
    """List the mounting presets (and draw their axes)."""
    import numpy as np

    from imusim_jax._mounting import MOUNTS

    for name, m in MOUNTS.items():
        typer.echo(f"{name:12s} {m.side:5s} q_fs={np.round(np.asarray(m.q_fs), 4).tolist()} "
                   f"lever_f={np.asarray(m.lever_f).tolist()} m")
    if plot:
        from imusim_jax.plotting import plot_mounts

        plot_mounts(plot)
        typer.echo(f"wrote {plot}")


def _register_optional_commands():
    """The weights commands and Stage 1's ``video2imu`` (their heavy imports happen only when they run)."""
    from imusim_jax.weights_cli import weights_app

    app.add_typer(weights_app, name="weights", help="List, fetch (with sha256 checks and resumption) and verify "
                  "the ONNX models in onnx_weights/manifest.json.")
    try:
        from imusim_jax.pose.cli import register
    except ImportError:
        return
    register(app)


_register_optional_commands()


def _enable_float64() -> None:
    """The command line computes in float64 (JAX's x64 mode) unless ``JAX_ENABLE_X64`` is set: one file costs
    the same either way, and float32 positions of a clip that travels far lose precision (a 4 s free fall,
    78 m, read 0.03 m/s^2 of specific force in float32 and 1e-4 in float64). The library itself follows the
    user's JAX setting (float32 by default)."""
    if "JAX_ENABLE_X64" in os.environ:
        return
    import jax

    jax.config.update("jax_enable_x64", True)


def _enable_compilation_cache() -> None:
    """Persist compiled XLA programs across runs (``$IMUSIM_JAX_CACHE``, default ``~/.cache/imusim_jax/xla``;
    set it to ``0`` to turn this off): ``simulate`` buckets its shapes, so later files of similar length skip
    the few seconds of compilation."""
    path = os.environ.get("IMUSIM_JAX_CACHE",
                          os.path.join(os.path.expanduser("~"), ".cache", "imusim_jax", "xla"))
    if path in ("", "0"):
        return
    try:
        import jax

        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    except Exception:  # a read-only home or an old jax: run without the cache
        pass


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of the console script. Every failure is one line on stderr: a usage error (an unknown option, a
    value of the wrong type, a missing ``-o``) and bad input exit 2 (``error: ...``), anything unexpected exits 1
    (``IMUSIM_DEBUG=1`` shows the traceback). ``--help`` and a run without arguments print the help."""
    from imusim_jax._motion import InputError

    debug = os.environ.get("IMUSIM_DEBUG", "") not in ("", "0")
    _enable_float64()
    _enable_compilation_cache()
    try:
        code = app(args=argv, prog_name="imusim-jax", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except InputError as e:
        if debug:
            raise
        typer.echo(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as e:
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):  # click's (vendored by typer) usage errors
            if not e.format_message():  # no arguments: the help was printed
                return int(e.exit_code)
            ctx = getattr(e, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            typer.echo(f"error: {' '.join(e.format_message().split())}{where}", err=True)
            return int(e.exit_code)
        if debug:
            raise
        msg = str(e).splitlines()[0] if str(e) else ""
        typer.echo(f"error: {type(e).__name__}: {msg} (IMUSIM_DEBUG=1 for a traceback)", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
