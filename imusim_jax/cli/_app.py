"""The ``imusim-jax`` application object, its one-line error handling and the process set-up every command shares
(float64, the persistent compilation cache). Commands live one per module beside this one and add themselves to
``app`` when ``imusim_jax.cli`` is imported."""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import NoReturn, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Video and 3D motion to wrist-worn IMU signals (accelerometer m/s^2, gyroscope rad/s).")


def fail(msg: str, code: int = 2) -> NoReturn:
    """Print ``error: msg`` on stderr and exit with ``code`` (2: bad input or usage)."""
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(code)


def finish_many(wrote: str, skipped: str = "", failed: str = "") -> None:
    """The closing line of a command over many inputs (``wrote ...[, skipped ...][; failed ...]``); exits 2 when
    ``failed`` says something (each failure had its own ``error:`` line before)."""
    typer.echo(wrote + (f", {skipped}" if skipped else "") + (f"; {failed}" if failed else ""))
    if failed:
        raise typer.Exit(2)


@contextlib.contextmanager
def one_line_warnings(label: Optional[str] = None):
    """The library's ``UserWarning``s as one ``warning:`` line each on stderr (each text once), in the command
    line's spelling; other warnings as Python shows them. A ``ForearmWarning`` of one clip is worded with
    ``label`` (the file's name) in front."""
    seen: set = set()
    show = warnings.showwarning

    def one_line(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, UserWarning):
            return show(message, category, filename, lineno, file, line)
        lengths = getattr(message, "lengths_m", ())
        text = message.text(f"{label}: ", lengths[0]) if label and len(lengths) == 1 else str(message)
        text = text.replace("cutoff_hz=", "--cutoff ")
        if text not in seen:
            seen.add(text)
            typer.echo(f"warning: {text}", err=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = one_line
        yield


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
    set it to ``0`` to turn this off): ``prepare`` buckets its shapes, so later files of similar length skip
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
    except Exception:  # noqa: BLE001 - a read-only home or an old jax: run without the cache
        pass


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of the console script. Every failure is one line on stderr: a usage error (an unknown option, a
    value of the wrong type, a missing ``-o``) and bad input exit 2 (``error: ...``), anything unexpected exits 1
    (``IMUSIM_DEBUG=1`` shows the traceback). ``--help`` and a run without arguments print the help."""
    from imusim_jax._errors import InputError

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
