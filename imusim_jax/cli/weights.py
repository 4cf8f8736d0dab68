"""``imusim-jax weights fetch NAME | list | verify [NAME]``: the weights sub-command (a ``typer.Typer``).

Bad input exits with status 2 and one line on stderr (``error: ...``), as the main command line does; ``verify``
exits with status 1 when a file's sha256 does not match the manifest.
"""
from __future__ import annotations

from typing import Optional

import typer

from imusim_jax._errors import InputError
from imusim_jax.cli._app import app, fail

weights_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                          help="ONNX model weights: list, fetch (resumable, sha256-checked) and verify.")


@weights_app.command("fetch")
def fetch_cmd(
    name: str = typer.Argument(..., help="model name (see `imusim-jax weights list`)"),
    dest: Optional[str] = typer.Option(None, "--dest", help="target folder (default: the weights folder)"),
    url: Optional[str] = typer.Option(None, "--url", help="download from this URL instead of the manifest's"),
    sha256: Optional[str] = typer.Option(None, "--sha256", help="expected sha256 (overrides the manifest)"),
    no_verify: bool = typer.Option(False, "--no-verify", help="accept a file whose sha256 is not known"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
):
    """Download a model (resuming a partial download) and check its sha256."""
    from imusim_jax import weights

    try:
        weights.fetch(name, dest_dir=dest, url=url, progress=not quiet, verify=not no_verify, sha256=sha256)
    except InputError as e:
        fail(str(e))


@weights_app.command("list")
def list_cmd(dest: Optional[str] = typer.Option(None, "--dest", help="weights folder to look in")):
    """List the manifest's models and whether each is present."""
    from imusim_jax import weights

    try:
        infos = weights.list_models(dest)
    except InputError as e:
        fail(str(e))
    typer.echo(f"weights folder: {weights.weights_dir() if dest is None else dest}")
    for m in infos:
        mark = "present" if m.present else "missing"
        typer.echo(f"{m.name:22s} {mark:8s} {m.task:10s} {m.source:8s} {m.description}")


@weights_app.command("verify")
def verify_cmd(
    name: Optional[str] = typer.Argument(None, help="model name; all present models when omitted"),
    dest: Optional[str] = typer.Option(None, "--dest", help="weights folder to look in"),
):
    """Check files against the manifest's sha256 (exit 1 on a mismatch)."""
    from imusim_jax import weights

    try:
        names = [name] if name else [m.name for m in weights.list_models(dest) if m.present]
        results = [weights.verify(n, dest) for n in names]
    except InputError as e:
        fail(str(e))
    if not results:
        typer.echo("no model files present")
    for r in results:
        detail = {"ok": "sha256 ok", "mismatch": f"sha256 {r.actual} != manifest {r.expected}",
                  "missing": f"missing: `imusim-jax weights fetch {r.name}`",
                  "unknown": f"sha256 {r.actual} (none in the manifest)"}[r.status]
        typer.echo(f"{r.name:22s} {r.status:8s} {detail}")
    if name and results[0].status == "missing":
        raise typer.Exit(2)
    if any(r.status == "mismatch" for r in results):
        raise typer.Exit(1)


app.add_typer(weights_app, name="weights", help="List, fetch (with sha256 checks and resumption) and verify the ONNX "
              "models in onnx_weights/manifest.json.")
