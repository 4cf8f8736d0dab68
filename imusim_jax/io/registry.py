"""Readers by file format: a new format is one new module that calls ``register_reader``, not an edit to a
switch.

Two kinds of reader: ``motion`` (a file -> ``imusim_jax.Motion``; ``load_motion`` dispatches on them) and ``imu``
(a file -> its ``imusim_jax.ImuRecording``s; ``read_recordings`` and ``read_signal``). A reader is found by the
longest of its ``suffixes`` that ends the file's name (``"_skeleton.mat"`` before ``".mat"``; among equal ones,
the first registered), or by its name (``format=``). ``search`` holds the endings a folder search takes
(``imusim-jax batch DIR``): by default the suffixes; a reader whose files share a suffix with other things may
narrow it (UTD-MHAD's ``*_skeleton.mat`` beside ``*_inertial.mat``).

Built-in readers register when ``imusim_jax`` is imported: the package's own files (``imusim_jax.io``) and the
source datasets (``imusim_jax.datasets``).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, Optional, Sequence

from imusim_jax._artefacts import repair_artefacts
from imusim_jax._errors import InputError

__all__ = ["Reader", "register_reader", "find_reader", "readers", "search_patterns", "motion_patterns", "find_files",
           "load_motion"]

KINDS = ("motion", "imu")


@dataclasses.dataclass(frozen=True)
class Reader:
    """A registered reader.

    Attributes:
      kind: ``motion`` or ``imu``.
      name: its format name (``npz``, ``csv``, ``ntu-skeleton``, ...), unique within its kind.
      suffixes: lower-case file name endings it reads.
      read: ``read(path, **options)`` -> a ``Motion`` (kind ``motion``) or a list of ``ImuRecording`` (kind
        ``imu``: a file may hold several); errors are one-line ``InputError``s.
      search: the endings a folder search takes as this format.
      options: the keyword options ``read`` accepts (``fps``, ``joint_set``, ``body``, ...).
      description: one line for listings and errors.
    """

    kind: str
    name: str
    suffixes: tuple
    read: Callable
    search: tuple
    options: tuple
    description: str


_READERS: dict[str, dict[str, Reader]] = {k: {} for k in KINDS}


def register_reader(kind: str, name: str, suffixes: Sequence[str], read: Callable, *,
                    search: Optional[Sequence[str]] = None, options: Sequence[str] = (),
                    description: str = "") -> Reader:
    """Register ``read`` for files ending in ``suffixes`` (a second registration of ``name`` replaces the first).
    Returns the ``Reader``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    sfx = tuple(s.lower() for s in suffixes)
    r = Reader(kind, name, sfx, read, sfx if search is None else tuple(s.lower() for s in search), tuple(options),
               description)
    _READERS[kind][name] = r
    return r


def readers(kind: str = "motion") -> list[Reader]:
    """The registered readers of ``kind``, in order of registration."""
    return list(_READERS[kind].values())


def search_patterns(kind: str = "motion") -> tuple:
    """The file name endings a folder search takes as ``kind`` (every such reader's ``search``)."""
    return tuple(dict.fromkeys(s for r in readers(kind) for s in r.search))


def motion_patterns() -> tuple:
    """The file name endings a folder search takes as motions (``search_patterns("motion")``)."""
    return search_patterns("motion")


def find_files(paths, kind: str = "motion", format: Optional[str] = None) -> list[str]:
    """Every file of ``kind`` in ``paths``: files as given, folders searched recursively for
    ``search_patterns(kind)`` (or, with ``format``, for that reader's ``search``); sorted absolute paths. One-line
    ``InputError`` for a path that does not exist or when nothing is found."""
    patterns = search_patterns(kind) if format is None else find_reader("x", kind, format).search
    files = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                files += [os.path.join(root, n) for n in names if n.lower().endswith(patterns)]
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise InputError(f"no such file or directory: {p}")
    files = sorted({os.path.abspath(f) for f in files})
    if not files:
        raise InputError(f"no {kind} files found (looked for " + ", ".join("*" + e for e in patterns) + ")")
    return files


def find_reader(path: str | os.PathLike, kind: str = "motion", format: Optional[str] = None) -> Reader:
    """The reader for ``path``: by ``format`` (a reader's name) if given, else by the longest matching suffix.
    One-line ``InputError`` when none fits."""
    if format is not None:
        r = _READERS[kind].get(str(format).strip().lower())
        if r is None:
            raise InputError(f"unknown {kind} format {format!r}; known: {', '.join(_READERS[kind])}")
        return r
    name = os.path.basename(os.fspath(path)).lower()
    best = max(((len(s), r) for r in readers(kind) for s in r.suffixes if name.endswith(s)), default=None,
               key=lambda x: x[0])
    if best is None:
        known = ", ".join(f"{' or '.join(r.suffixes)} ({r.name})" for r in readers(kind))
        raise InputError(f"unsupported {kind} file {os.fspath(path)!r}: expected {known}")
    return best[1]


def _read(kind: str, path, format: Optional[str], options: dict):
    path = os.fspath(path)
    r = find_reader(path, kind, format)
    if not os.path.exists(path):
        raise InputError(f"no such file: {path}")
    given = {k: v for k, v in options.items() if v is not None}
    unused = sorted(set(given) - set(r.options))
    if unused:
        raise InputError(f"{r.name} files take no {unused[0]}= ({os.path.basename(path)}; its options: "
                         f"{', '.join(r.options) or 'none'})")
    return r.read(path, **given)


def load_motion(path: str | os.PathLike, *, format: Optional[str] = None, fps: float | None = None,
                joint_set: str | None = None, body: int | None = None, repair: bool = True, **options):
    """Read a ``Motion`` from a file with the registered reader of its format (``find_reader``: by suffix, or
    ``format=``); errors are one-line ``InputError``s. Built in:

    * ``.npz``: arrays ``joints`` (T, J, 3) in metres in the z-up world, ``fps``, ``joint_set``[, ``confidence``].
    * ``.csv``/``.txt`` (metres, z-up world): wide (``t`` and ``<joint>_x,_y,_z``), long (``frame,joint,x,y,z``) or
      numbers only (``imusim_jax.io.motion_files.read_csv_motion``).
    * ``.skeleton``: NTU RGB+D text (``imusim_jax.datasets.ntu``; ``body`` picks a person).
    * ``*_skeleton.mat``: UTD-MHAD (``imusim_jax.datasets.utd_mhad``).

    ``fps`` overrides the file's (or the dataset's) frame rate; ``joint_set`` overrides an ``.npz``/``.csv``
    file's, and for a dataset must name its own set; other keyword options go to the reader, which refuses those
    it does not take.

    ``repair`` (default): the tracker's artefacts (held frames, jumps no body makes) are treated as missing and
    interpolated over time (``imusim_jax.repair_artefacts``; their confidence becomes 0); ``False`` keeps the
    file's frames as they are.
    """
    motion = _read("motion", path, format, dict(fps=fps, joint_set=joint_set, body=body, **options))
    if repair:
        motion = repair_artefacts(motion)[0]
    return motion
