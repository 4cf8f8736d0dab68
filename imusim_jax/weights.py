"""The ONNX weights manifest, the weights folder, and ``fetch`` / ``verify``.

Where weights live (``weights_dir()``), first match wins:

1. ``$IMUSIM_WEIGHTS`` when set;
2. ``onnx_weights/`` at the repository root, when the package runs from a source checkout (an editable install):
   the folder beside ``imusim_jax/`` that holds ``manifest.json``;
3. ``$XDG_CACHE_HOME/imusim_jax/onnx_weights`` (default ``~/.cache/imusim_jax/onnx_weights``) otherwise.

The manifest is ``manifest.json`` in the weights folder when it has one, else the repository's
``onnx_weights/manifest.json``. Each entry names the ONNX ``file``, where it comes from (``url`` of a ready ONNX
file, or the official ``checkpoint`` plus the ``export`` command that turns it into ONNX), its ``sha256`` (``null``
when it cannot be known in advance: see ``sha256_note``), its input/output signature, preprocessing and licence.

``fetch(name)`` downloads over HTTP(S) with the standard library into ``NAME.part`` beside the target, resumes an
interrupted download with an HTTP ``Range`` request, checks the sha256 and only then renames the file into place.
A file whose sha256 does not match is moved aside to ``FILE.corrupt`` and an ``InputError`` is raised. When the
manifest has no sha256 for a download, ``fetch`` refuses unless ``verify=False`` (``--no-verify``) or an expected
``sha256`` is passed; it prints the sha256 it computed either way.
"""
from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import os
import pathlib
import shutil
import urllib.error
import urllib.request
from typing import Any, Optional, Union

from imusim_jax._motion import InputError

__all__ = ["weights_dir", "manifest_path", "load_manifest", "model_names", "list_models", "model_path",
           "name_for_file", "fetch", "verify", "sha256_file", "ModelInfo", "VerifyResult"]

PathLike = Union[str, os.PathLike]
_REPO_WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "onnx_weights"
_CHUNK = 1 << 20


def weights_dir() -> pathlib.Path:
    """The folder that holds the ONNX files (see the module docstring for the order)."""
    env = os.environ.get("IMUSIM_WEIGHTS")
    if env:
        return pathlib.Path(env).expanduser()
    if (_REPO_WEIGHTS / "manifest.json").is_file():
        return _REPO_WEIGHTS
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(cache) / "imusim_jax" / "onnx_weights"


def manifest_path() -> pathlib.Path:
    """``manifest.json`` of the weights folder when present, else the repository's."""
    own = weights_dir() / "manifest.json"
    return own if own.is_file() else _REPO_WEIGHTS / "manifest.json"


def load_manifest(manifest: Optional[PathLike] = None) -> dict[str, dict[str, Any]]:
    """The manifest's models, name -> entry."""
    path = pathlib.Path(manifest) if manifest is not None else manifest_path()
    if not path.is_file():
        raise InputError(f"weights manifest not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"weights manifest {path} is not valid JSON: {e}") from None
    models = data.get("models")
    if not isinstance(models, dict):
        raise InputError(f"weights manifest {path} has no 'models' table")
    return models


def model_names(manifest: Optional[PathLike] = None) -> list[str]:
    try:
        return list(load_manifest(manifest))
    except InputError:
        return []


def _entry(name: str, manifest: Optional[PathLike]) -> dict[str, Any]:
    models = load_manifest(manifest)
    if name not in models:
        raise InputError(f"unknown model {name!r}; known: {', '.join(models)}")
    return models[name]


def name_for_file(filename: str, manifest: Optional[PathLike] = None) -> Optional[str]:
    """The manifest name whose ONNX ``file`` is ``filename``, if any."""
    try:
        models = load_manifest(manifest)
    except InputError:
        return None
    return next((n for n, e in models.items() if e.get("file") == filename), None)


def model_path(name: str, dest_dir: Optional[PathLike] = None, manifest: Optional[PathLike] = None
               ) -> pathlib.Path:
    """The path of model ``name``'s ONNX file; ``InputError`` naming the fetch command when it is absent."""
    entry = _entry(name, manifest)
    path = pathlib.Path(dest_dir or weights_dir()) / entry["file"]
    if not path.is_file():
        raise InputError(f"model {name} not found at {path}; fetch it with `imusim-jax weights fetch {name}`")
    return path


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """A manifest entry as listed: ``name``, ONNX ``path``, whether it is ``present``, its ``task`` and
    ``description``, whether a sha256 is known, and how it is obtained (``download`` or ``export``)."""

    name: str
    path: pathlib.Path
    present: bool
    task: str
    description: str
    sha256_known: bool
    source: str


def list_models(dest_dir: Optional[PathLike] = None, manifest: Optional[PathLike] = None) -> list[ModelInfo]:
    folder = pathlib.Path(dest_dir or weights_dir())
    out = []
    for name, e in load_manifest(manifest).items():
        p = folder / e["file"]
        out.append(ModelInfo(name, p, p.is_file(), e.get("task", ""), e.get("description", ""),
                             bool(e.get("sha256")), "download" if e.get("url") else "export"))
    return out


def sha256_file(path: PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """``status`` is ``ok``, ``mismatch``, ``missing`` or ``unknown`` (no sha256 in the manifest)."""

    name: str
    path: pathlib.Path
    status: str
    expected: Optional[str]
    actual: Optional[str]


def verify(name: str, dest_dir: Optional[PathLike] = None, manifest: Optional[PathLike] = None) -> VerifyResult:
    """Compare model ``name``'s file with the manifest's sha256."""
    entry = _entry(name, manifest)
    path = pathlib.Path(dest_dir or weights_dir()) / entry["file"]
    expected = (entry.get("sha256") or None)
    if not path.is_file():
        return VerifyResult(name, path, "missing", expected, None)
    actual = sha256_file(path)
    if expected is None:
        return VerifyResult(name, path, "unknown", None, actual)
    return VerifyResult(name, path, "ok" if actual == expected.lower() else "mismatch", expected, actual)


def _download(url: str, part: pathlib.Path, progress: bool, timeout_s: float) -> None:
    """Download ``url`` into ``part``, resuming from its current size with an HTTP Range request."""
    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "imusim-jax"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout_s)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the part file is complete
            return
        raise InputError(f"download failed: HTTP {e.code} {e.reason} for {url}") from None
    except (urllib.error.URLError, OSError) as e:
        raise InputError(f"download failed for {url}: {getattr(e, 'reason', e)}") from None
    with resp:
        status = getattr(resp, "status", 200)
        if status == 206:
            start = int(resp.headers.get("Content-Range", "bytes 0-").split()[1].split("-")[0])
            if start != have:
                raise InputError(f"server resumed {url} at byte {start}, expected {have}; delete {part} and retry")
            mode = "ab"
        else:  # the server ignored the Range header: start over
            have, mode = 0, "wb"
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        got = have
        with open(part, mode) as f, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                         disable=not progress, desc=part.name[:-5]) as bar:
            try:
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    f.write(block)
                    got += len(block)
                    bar.update(len(block))
            except (OSError, ValueError, http.client.HTTPException) as e:  # reset, timeout, IncompleteRead
                raise InputError(f"download of {url} interrupted after {got} bytes ({type(e).__name__}); run the "
                                 "same command again to resume") from None
    if total is not None and got < total:
        raise InputError(f"download of {url} interrupted after {got} of {total} bytes; run the same command again "
                         "to resume")


def fetch(name: str, dest_dir: Optional[PathLike] = None, url: Optional[str] = None, progress: bool = True,
          verify: bool = True, sha256: Optional[str] = None, manifest: Optional[PathLike] = None,
          timeout_s: float = 60.0) -> pathlib.Path:
    """Download model ``name`` into ``dest_dir`` (default ``weights_dir()``) and return the file's path.

    Args:
      name: a manifest name (``imusim-jax weights list``).
      dest_dir: target folder, created if needed.
      url: download from this URL instead of the manifest's (a mirror, or your own export of the model).
      progress: show a tqdm progress bar.
      verify: check the sha256. With no sha256 known (manifest ``null`` and no ``sha256`` argument) the download is
        refused unless ``verify=False``.
      sha256: expected sha256 (hex), overriding the manifest's.
      timeout_s: socket timeout in seconds.

    What is downloaded: the ONNX file when the entry (or ``url``) gives one; otherwise the entry's official
    checkpoint when it has a direct link, after which the printed ``export`` command makes the ONNX file (the
    returned path is then the checkpoint's). An entry whose checkpoint has no direct link raises an ``InputError``
    that says where to get it by hand.
    """
    entry = _entry(name, manifest)
    folder = pathlib.Path(dest_dir or weights_dir())
    ckpt = entry.get("checkpoint") or {}
    if url is None and not entry.get("url"):
        if not (ckpt.get("url") and ckpt.get("direct")):
            where = ckpt.get("url") or entry.get("source", "its official source")
            raise InputError(f"{name} has no direct download: get {ckpt.get('file', 'the checkpoint')} by hand from "
                             f"{where}, then run `{entry.get('export', 'the export script in onnx_weights/')}`")
        target, src, expected = folder / ckpt["file"], ckpt["url"], sha256 or ckpt.get("sha256")
    else:
        target, src = folder / entry["file"], url or entry["url"]
        expected = sha256 or entry.get("sha256")
    if verify and not expected:
        note = entry.get("sha256_note", "") if target.name == entry["file"] else ckpt.get("sha256_note", "")
        raise InputError(f"no sha256 is known for {target.name}{' (' + note + ')' if note else ''}; pass "
                         "--sha256 HEX, or --no-verify to accept it unchecked")
    folder.mkdir(parents=True, exist_ok=True)
    if target.is_file():
        if not expected:
            _say(progress, f"{target} is already present (not verified; delete it to download it again)")
            return target
        if sha256_file(target) == expected.lower():
            _say(progress, f"{target} is already present and verified")
            return target
        _say(progress, f"{target} does not match sha256 {expected}: downloading it again")
    part = target.with_name(target.name + ".part")
    _download(src, part, progress, timeout_s)
    actual = sha256_file(part)
    if verify and actual != expected.lower():
        bad = target.with_name(target.name + ".corrupt")
        shutil.move(os.fspath(part), os.fspath(bad))
        raise InputError(f"checksum mismatch for {target.name}: expected sha256 {expected}, got {actual}; the "
                         f"download was moved to {bad}")
    os.replace(part, target)
    _say(progress, f"{target}  sha256 {actual}{'' if verify else ' (not verified)'}")
    if target.name != entry["file"] and entry.get("export"):
        _say(progress, f"now make the ONNX file: {entry['export']}")
    return target


def _say(enabled: bool, msg: str) -> None:
    if enabled:
        print(msg)
