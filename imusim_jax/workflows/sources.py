"""Source adapters of the dataset builder (``imusim_jax.workflows.dataset``): one registered *source type* per
kind of input a manifest's ``sources`` entry names with ``type:``.

A source type does two things, kept apart so that the builder can plan before any heavy work:

* ``enumerate(entry)`` lists cheap ``ClipRef``s: a stable ``clip_id`` (from the file's path or name, never from the
  order files are found in), the path, and what the name tells (``subject``, ``trial``, the source's own label,
  ``placement``), without reading the file's contents (a zip's member list, a folder listing, a labels CSV);
* ``load(ref, entry)`` reads one reference into ``Item``s: ``Motion``s to simulate (``kind`` ``synthetic``) or
  real ``ImuRecording``s to copy in (``kind`` ``real``). One reference may give several items: every body of an NTU
  file, every tracked person of a video, every recording of an UP-Fall CSV. Their ``person`` numbers them.

Labels come from the file names where the dataset codes them (NTU ``A043``, UTD-MHAD ``a13``, SmartFallMM ``A10``,
WEDA-FALL ``F01``, UP-Fall ``A1``), from the source's own label column (UP-Fall's ``Activity``), or from a
``labels`` CSV (``video_folder``, ``motion_folder``, ``imu_folder``: columns ``file`` and ``label``, optional
``subject``). Each type names the taxonomy source its labels map through (``imusim_jax.datasets.taxonomy``); the
folder types take the entry's ``taxonomy:`` (a taxonomy source such as ``ntu120``), or, without it, read their
labels as taxonomy activity names. ``label_columns`` turns a label into the row's label columns; a class without a
taxonomy counterpart keeps its ``source_label`` with ``activity``, ``safety`` and ``severity`` null (the builder
lists such classes in ``dataset.json``; ``unmapped: skip`` drops their rows instead, also listed).

Source types (``SOURCE_TYPES``; ``signal`` picks the route where a dataset has both):

==================  ==========  ===========================================================================
type                signal      reads
==================  ==========  ===========================================================================
ntu_skeleton        simulated   ``*.skeleton`` under ``path`` (NTU RGB+D; every body a person; ``A043`` ->
                                ``ntu120``)
utd_mhad            both        ``path/Skeleton/*_skeleton.mat`` (simulated) or ``path/Inertial/
                                *_inertial.mat`` (real; right wrist for actions 1-21, right thigh 22-27)
smartfallmm         both        ``path/<group>/skeleton/SxxAyyTzz.csv.gz`` (simulated; Azure Kinect, 32
                                joints, mm, camera y down) or ``path/<group>/accelerometer/<device>/...``
                                (real; ``device: watch`` left wrist, ``meta_wrist`` right wrist)
upfall_mediapipe    simulated   UP-Fall's MediaPipe landmark CSVs ``C<cam>S<subject>A<act>T<trial>.csv``
                                (in ``SUBJECT*.zip`` files or a folder), lifted to metres with Stage 1's
                                world model (``imusim_jax.pose.world.to_world_motion``)
video_folder        simulated   videos under ``path`` plus a ``labels`` CSV, through Stage 1
                                (``imusim_jax.pose.video_to_motions``): every tracked person a person
motion_folder       simulated   the ``.npz``/``.csv`` (any registered motion format) under ``path`` plus a
                                ``labels`` CSV
weda_fall           real        ``U<u>_R<r>_accel.csv`` (+ ``_gyro.csv``) under ``path``
upfall              real        UP-Fall's wrist columns: ``CompleteDataSet.csv``, ``Subject*Activity*Trial*.csv``,
                                the falls export ``upfall_falls_wrist.csv`` (a file or a folder of them)
imu_folder          real        any registered IMU file under ``path`` plus a ``labels`` CSV
==================  ==========  ===========================================================================

A new source type is a ``register_source`` call (``enumerate`` and ``load`` functions) in this module or in a
module the caller imports before building.
"""
from __future__ import annotations

import csv
import dataclasses
import io as _io
import os
import re
import zipfile
from typing import Any, Callable, Optional

import numpy as np

from imusim_jax._errors import InputError

__all__ = ["ClipRef", "Item", "SourceType", "SOURCE_TYPES", "register_source", "source_type", "label_columns",
           "read_labels_csv", "upfall_landmarks_motion", "VIDEO_SUFFIXES"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg")
"""The file endings a ``video_folder`` search takes."""


@dataclasses.dataclass(frozen=True)
class ClipRef:
    """A cheap reference to one clip of a source, listed before anything heavy runs.

    Attributes:
      clip_id: stable within its source (a path relative to the source's ``path`` or the dataset's trial name).
      path: the file to read (``ZIP::MEMBER`` for a member of a zip file).
      kind: ``synthetic`` (a motion to simulate) or ``real`` (an IMU recording to copy in).
      label: the source's own class as the name codes it (``A043``), from a labels CSV, or ``None`` when only the
        file's contents tell (UP-Fall's ``Activity`` column).
      subject, trial: as the source spells them (``P001``, ``s1``, ``S31``, ``U01``), or ``None``.
      placement: where the dataset's real sensor sat for this clip (``right wrist``), or ``None``.
      extra: reader details, ``(key, value)`` pairs (hashable).
    """

    clip_id: str
    path: str
    kind: str
    label: Optional[str] = None
    subject: Optional[str] = None
    trial: Optional[str] = None
    placement: Optional[str] = None
    extra: tuple = ()

    def get(self, key: str, default=None):
        return dict(self.extra).get(key, default)


@dataclasses.dataclass
class Item:
    """One loaded person or recording of a ``ClipRef``.

    Attributes:
      person: its number within the reference (NTU body index, video person id, recording index).
      data: a ``Motion`` (synthetic) or an ``ImuRecording`` (real).
      label, subject, trial, placement: override the reference's where the contents tell more (``None``: keep).
      clip_suffix: appended to the reference's ``clip_id`` as ``/SUFFIX`` where one file holds several clips
        (an UP-Fall CSV's trials).
      quality: Stage 1's quality score (video persons), else ``None``.
      roll: the forearm roll source this item wants (video persons: from the hand's size), else ``None``.
    """

    person: int
    data: Any
    label: Optional[str] = None
    subject: Optional[str] = None
    trial: Optional[str] = None
    placement: Optional[str] = None
    clip_suffix: Optional[str] = None
    quality: Optional[float] = None
    roll: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class SourceType:
    """A registered source type (see the module docstring).

    Attributes:
      name: the manifest's ``type:``.
      dataset: the ``dataset`` column's value (the type's name by default).
      signals: the routes it offers, ``("simulated",)``, ``("real",)`` or both (an entry then must choose
        ``signal:``).
      taxonomy: the taxonomy source its labels map through; ``None``: the entry's ``taxonomy:`` (or activity
        names).
      enumerate: ``enumerate(entry) -> list[ClipRef]``; ``entry`` is the resolved manifest entry (a dict).
      load: ``load(ref, entry) -> list[Item]``.
      options: the entry keys this type reads beyond the builder's own.
      description: one line.
    """

    name: str
    signals: tuple
    taxonomy: Optional[str]
    enumerate: Callable
    load: Callable
    options: tuple = ()
    description: str = ""


SOURCE_TYPES: dict[str, SourceType] = {}


def register_source(name: str, signals, taxonomy: Optional[str], enumerate: Callable, load: Callable, *,
                    options=(), description: str = "") -> SourceType:
    """Register a source type (a second registration of ``name`` replaces the first)."""
    st = SourceType(name, tuple(signals), taxonomy, enumerate, load, tuple(options), description)
    SOURCE_TYPES[name] = st
    return st


def source_type(name: str) -> SourceType:
    """The source type ``name``; a one-line ``InputError`` naming the known ones otherwise."""
    st = SOURCE_TYPES.get(str(name))
    if st is None:
        raise InputError(f"unknown source type {name!r}; known: {', '.join(sorted(SOURCE_TYPES))}")
    return st


# ---------------------------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------------------------

def label_columns(taxonomy_source: Optional[str], label: Optional[str]) -> dict:
    """The label columns of a row: ``activity``, ``source_label``, ``safety``, ``severity``, plus ``mapped``
    (whether the class has a taxonomy counterpart).

    With a taxonomy source, ``label`` is one of its classes (a code such as ``A043`` or a name, as
    ``taxonomy.label_row`` takes it): ``source_label`` is the class-list line (``A043 falling``). A class without
    a counterpart keeps that line with null ``activity``/``safety``/``severity``; a label that is no class of the
    source keeps the label as given, also unmapped. Without a taxonomy source, ``label`` is read as a taxonomy
    activity name (any spelling ``taxonomy`` tolerates)."""
    from imusim_jax.datasets import taxonomy

    none = {"activity": None, "source_label": None if label is None else str(label), "safety": None,
            "severity": None, "mapped": False}
    if label is None or str(label).strip() == "":
        return none
    label = str(label).strip()
    if taxonomy_source is None:
        tax = taxonomy.load_taxonomy()
        key = re.sub(r"[^0-9a-z]+", "", label.casefold())
        for name, act in tax.activities.items():
            if re.sub(r"[^0-9a-z]+", "", name.casefold()) == key:
                return {"activity": act.name, "source_label": label, "safety": act.safety,
                        "severity": int(act.severity), "mapped": True}
        return none
    row = taxonomy.label_row(taxonomy_source, label, strict=False)
    if row is not None:
        return {**row, "severity": int(row["severity"]), "mapped": True}
    c = taxonomy.label_map(taxonomy_source).find(label)
    return {**none, "source_label": c.label if c is not None else label}


def read_labels_csv(path: str) -> dict[str, dict]:
    """A labels CSV (header with at least ``file`` and ``label``; optional ``subject`` and ``trial``) as
    ``{file: {"label", "subject", "trial"}}``, ``file`` as written (``/``-separated, relative to the source's
    ``path``; with or without its extension). One-line ``InputError`` naming the file and line otherwise."""
    if not os.path.isfile(path):
        raise InputError(f"no such labels file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read labels file {path}: {e}".splitlines()[0]) from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{path}: empty labels file; expected a header with file,label[,subject]")
    head = [h.strip().lower() for h in rows[0]]
    if "file" not in head or "label" not in head:
        raise InputError(f"{path}: the labels file's header must name the columns file and label (got "
                         f"{','.join(rows[0])[:80]})")
    col = {k: head.index(k) for k in ("file", "label", "subject", "trial") if k in head}
    out: dict = {}
    for i, r in enumerate(rows[1:], 2):
        cell = lambda k: (r[col[k]].strip() or None) if k in col and col[k] < len(r) else None  # noqa: E731
        name = cell("file")
        if name is None:
            raise InputError(f"{path}: line {i}: no file name")
        name = name.replace("\\", "/").lstrip("./") if name.startswith("./") else name.replace("\\", "/")
        if name in out:
            raise InputError(f"{path}: line {i}: {name!r} is listed twice")
        out[name] = {"label": cell("label"), "subject": cell("subject"), "trial": cell("trial")}
    return out


def _labels_for(entry: dict, files: list[str]) -> dict[str, dict]:
    """The labels CSV's row of each of ``files`` (paths relative to the source's path, ``/``-separated): by the
    relative path, then without its extension, then by the base name. Files without a row get ``{}``."""
    labels_path = entry.get("labels")
    if not labels_path:
        return {f: {} for f in files}
    table = read_labels_csv(labels_path)
    stems = {}
    for k, v in table.items():
        stems.setdefault(_strip_ext(k), v)
        stems.setdefault(os.path.basename(k), v)
        stems.setdefault(_strip_ext(os.path.basename(k)), v)
    out = {}
    for f in files:
        out[f] = table.get(f) or stems.get(_strip_ext(f)) or stems.get(os.path.basename(f)) or \
            stems.get(_strip_ext(os.path.basename(f))) or {}
    return out


def _strip_ext(name: str) -> str:
    for s in (".csv.gz", ".tar.gz"):
        if name.lower().endswith(s):
            return name[: -len(s)]
    return os.path.splitext(name)[0]


# ---------------------------------------------------------------------------------------------------------------
# Folder helpers
# ---------------------------------------------------------------------------------------------------------------

def _need_path(entry: dict, folder: bool = False) -> str:
    path = entry["path"]
    if not os.path.exists(path):
        raise InputError(f"source {entry['name']!r}: no such file or directory: {path}")
    if folder and not os.path.isdir(path):
        raise InputError(f"source {entry['name']!r}: {path} is not a folder")
    return path


def _walk(root: str, accept: Callable[[str], bool]) -> list[str]:
    """Files under ``root`` (recursively; ``root`` itself if a file) whose base name ``accept`` takes; sorted
    paths relative to ``root`` (``/``-separated), or ``[basename]`` for a file."""
    if os.path.isfile(root):
        return [os.path.basename(root)] if accept(os.path.basename(root)) else []
    out = []
    for d, dirs, names in os.walk(root):
        dirs.sort()
        for n in names:
            if not n.startswith(".") and accept(n):
                out.append(os.path.relpath(os.path.join(d, n), root).replace(os.sep, "/"))
    return sorted(out)


def _join(root: str, rel: str) -> str:
    return root if os.path.isfile(root) else os.path.join(root, *rel.split("/"))


def _none_found(entry: dict, what: str) -> InputError:
    return InputError(f"source {entry['name']!r}: no {what} under {entry['path']}")


# ---------------------------------------------------------------------------------------------------------------
# NTU RGB+D
# ---------------------------------------------------------------------------------------------------------------

_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})", re.IGNORECASE)


def _ntu_enumerate(entry: dict) -> list[ClipRef]:
    root = _need_path(entry)
    files = _walk(root, lambda n: n.lower().endswith(".skeleton"))
    if not files:
        raise _none_found(entry, "*.skeleton files")
    refs = []
    for rel in files:
        stem = _strip_ext(os.path.basename(rel))
        m = _NTU_NAME.search(stem)
        refs.append(ClipRef(_strip_ext(rel), _join(root, rel), "synthetic",
                            label=f"A{m.group(5)}" if m else None, subject=f"P{m.group(3)}" if m else None,
                            trial=f"R{m.group(4)}" if m else None, placement=entry.get("placement"),
                            extra=(("setup", f"S{m.group(1)}"), ("camera", f"C{m.group(2)}")) if m else ()))
    return refs


def _ntu_load(ref: ClipRef, entry: dict) -> list[Item]:
    """Every body of the file, each a person (``read_ntu_skeleton(path, body=i)``, in order of first appearance).
    A body that cannot be made a motion (a spurious detection of a few frames) is left out with a note
    (``_skipped``); the file fails only when no body loads."""
    from imusim_jax.datasets.ntu import load_ntu_skeleton, read_ntu_skeleton

    first = read_ntu_skeleton(ref.path, body=0)
    m = re.search(r"of (\d+) bodies", first.note)
    n = int(m.group(1)) if m else 1
    from imusim_jax._motion import Motion

    items, skipped = [Item(0, Motion.create(first.joints, first.fps, first.joint_set,
                                            confidence=first.confidence))], []
    for b in range(1, n):
        try:
            items.append(Item(b, load_ntu_skeleton(ref.path, body=b)))
        except InputError as e:
            skipped.append((b, str(e)))
    return _with_skipped(items, skipped)


def _with_skipped(items: list, skipped: list) -> list:
    """Attach the persons a loader left out (``[(person, reason)]``) to its list (``items.skipped``)."""
    out = _Items(items)
    out.skipped = list(skipped)
    return out


class _Items(list):
    skipped: list = []


# ---------------------------------------------------------------------------------------------------------------
# UTD-MHAD
# ---------------------------------------------------------------------------------------------------------------

_UTD_NAME = re.compile(r"^a(\d+)_s(\d+)_t(\d+)_(skeleton|inertial)\.mat$", re.IGNORECASE)


def _utd_placement(action: Optional[int]) -> Optional[str]:
    if action is None:
        return None
    return "right wrist" if action <= 21 else "right thigh"


def _utd_enumerate(entry: dict) -> list[ClipRef]:
    root = _need_path(entry, folder=True)
    real = entry["signal"] == "real"
    sub, suffix = ("Inertial", "_inertial.mat") if real else ("Skeleton", "_skeleton.mat")
    base = os.path.join(root, sub) if os.path.isdir(os.path.join(root, sub)) else root
    files = _walk(base, lambda n: n.lower().endswith(suffix))
    if not files:
        raise _none_found(entry, f"{sub}/*{suffix} files")
    refs = []
    for rel in files:
        name = os.path.basename(rel)
        m = _UTD_NAME.match(name)
        action = int(m.group(1)) if m else None
        refs.append(ClipRef(name[: -len(suffix)], _join(base, rel), "real" if real else "synthetic",
                            label=f"a{action}" if m else None, subject=f"s{int(m.group(2))}" if m else None,
                            trial=f"t{int(m.group(3))}" if m else None,
                            placement=entry.get("placement") or _utd_placement(action)))
    return refs


def _utd_load(ref: ClipRef, entry: dict) -> list[Item]:
    if ref.kind == "real":
        from imusim_jax.datasets.utd_mhad import read_utd_inertial

        return [Item(0, r) for r in read_utd_inertial(ref.path)]
    from imusim_jax.datasets.utd_mhad import load_utd_skeleton

    return [Item(0, load_utd_skeleton(ref.path))]


# ---------------------------------------------------------------------------------------------------------------
# SmartFallMM
# ---------------------------------------------------------------------------------------------------------------

_SFMM_TRIAL = re.compile(r"^S(\d+)A(\d+)T(\d+)$", re.IGNORECASE)
_SFMM_PLACEMENT = {"watch": "left wrist", "meta_wrist": "right wrist"}


def _sfmm_groups(root: str) -> list[str]:
    return sorted(g for g in os.listdir(root)
                  if os.path.isdir(os.path.join(root, g)) and
                  any(os.path.isdir(os.path.join(root, g, m)) for m in ("skeleton", "accelerometer")))


def _sfmm_enumerate(entry: dict) -> list[ClipRef]:
    root = _need_path(entry, folder=True)
    device = entry.get("device") or "watch"
    from imusim_jax.datasets.smartfallmm import DEVICES

    if device not in DEVICES:
        raise InputError(f"source {entry['name']!r}: device must be one of {', '.join(DEVICES)}, got {device!r}")
    groups = entry.get("groups") or _sfmm_groups(root)
    real = entry["signal"] == "real"
    refs = []
    for g in groups:
        folder = os.path.join(root, g, "accelerometer", device) if real else os.path.join(root, g, "skeleton")
        if not os.path.isdir(folder):
            continue
        for n in sorted(os.listdir(folder)):
            trial = _strip_ext(n)
            m = _SFMM_TRIAL.match(trial)
            if not m or not n.lower().endswith((".csv.gz", ".csv")):
                continue
            refs.append(ClipRef(f"{g}/{trial.upper()}", os.path.join(folder, n), "real" if real else "synthetic",
                                label=f"A{int(m.group(2)):02d}", subject=f"S{int(m.group(1))}",
                                trial=f"T{int(m.group(3)):02d}",
                                placement=entry.get("placement") or _SFMM_PLACEMENT[device],
                                extra=(("group", g), ("device", device))))
    if not refs:
        raise _none_found(entry, "SmartFallMM <group>/" + (f"accelerometer/{device}" if real else "skeleton")
                          + "/SxxAyyTzz.csv.gz files")
    return refs


def _sfmm_load(ref: ClipRef, entry: dict) -> list[Item]:
    from imusim_jax.datasets.smartfallmm import read_smartfallmm

    if ref.kind == "real":
        if ref.path.lower().endswith(".gz"):
            recs = read_smartfallmm(ref.path)
        else:
            from imusim_jax.io import read_recordings

            recs = read_recordings(ref.path, format="smartfallmm")
        return [Item(i, r) for i, r in enumerate(recs)]
    from imusim_jax.io import load_motion

    # through load_motion: the tracker's held frames and jumps repaired, as for every motion file
    return [Item(0, load_motion(ref.path, format="smartfallmm-skeleton"))]


# ---------------------------------------------------------------------------------------------------------------
# UP-Fall: MediaPipe landmarks (simulated) and the wrist IMU (real)
# ---------------------------------------------------------------------------------------------------------------

_UPMP_NAME = re.compile(r"^C(\d+)_?S(\d+)_?A(\d+)_?T(\d+)\.csv$", re.IGNORECASE)
UPFALL_VIDEO_FPS = 18.4
"""UP-Fall's camera rate as its published CSV keeps it (the IMUs were synchronised to the frames), fps."""
UPFALL_IMAGE_SIZE = (640, 480)
"""UP-Fall's camera image size (width, height), pixels."""


def _upmp_enumerate(entry: dict) -> list[ClipRef]:
    root = _need_path(entry)
    refs = []
    zips = _walk(root, lambda n: n.lower().endswith(".zip"))
    csvs = _walk(root, lambda n: bool(_UPMP_NAME.match(n)))
    for rel in zips:
        zpath = _join(root, rel)
        try:
            with zipfile.ZipFile(zpath) as z:
                members = sorted(n for n in z.namelist() if _UPMP_NAME.match(os.path.basename(n)))
        except (OSError, zipfile.BadZipFile) as e:
            raise InputError(f"cannot read {zpath} as a zip file: {e}".splitlines()[0]) from None
        refs += [_upmp_ref(entry, f"{zpath}::{m}", os.path.basename(m)) for m in members]
    refs += [_upmp_ref(entry, _join(root, rel), os.path.basename(rel)) for rel in csvs]
    if not refs:
        raise _none_found(entry, "UP-Fall landmark CSVs (C<cam>S<subject>A<act>T<trial>.csv, in zips or a folder)")
    seen: dict = {}
    for r in refs:
        if r.clip_id in seen:
            raise InputError(f"source {entry['name']!r}: clip {r.clip_id} is both {seen[r.clip_id]} and {r.path}")
        seen[r.clip_id] = r.path
    return refs


def _upmp_ref(entry: dict, path: str, name: str) -> ClipRef:
    cam, subject, act, trial = (int(g) for g in _UPMP_NAME.match(name).groups())
    return ClipRef(f"C{cam}S{subject}A{act}T{trial}", path, "synthetic", label=str(act), subject=f"S{subject}",
                   trial=f"T{trial}", placement=entry.get("placement") or "left wrist", extra=(("camera", cam),))


def _read_member(path: str) -> str:
    """The text of ``path``, or of a zip member ``ZIP::MEMBER``."""
    try:
        if "::" in path:
            zpath, member = path.split("::", 1)
            with zipfile.ZipFile(zpath) as z:
                return z.read(member).decode("utf-8-sig")
        with open(path, encoding="utf-8-sig") as f:
            return f.read()
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}".splitlines()[0]) from None


def upfall_landmarks_motion(path: str, *, fps: float = UPFALL_VIDEO_FPS, image_size=UPFALL_IMAGE_SIZE,
                            subject_height_m: float = 1.70):
    """One UP-Fall MediaPipe landmark CSV (``Joint1_X, Joint1_Y, Joint1_Z, ..., Joint33_Z[, LABEL]``: x and y
    normalised image coordinates, y down; z MediaPipe's relative depth, on x's scale) as a metric world ``Motion``
    (``mediapipe33``) and Stage 1's report.

    Lifting (``imusim_jax.pose.world.to_world_motion``, Stage 1's world model): the landmarks become pixels of a
    nominal ``image_size`` image (x times the width, y times the height, z times the width, MediaPipe's convention
    for z), the 3D pose is taken relative to the hips' midpoint, ``metric_scale`` sizes it to a subject
    ``subject_height_m`` tall, the root's depth comes from the 2D track and a pinhole camera of the default field
    of view, and the camera is taken as level. Rows with an empty or non-finite landmark get confidence 0 there.
    ``path`` may be ``ZIP::MEMBER``."""
    from imusim_jax.pose.world import WorldConfig, to_world_motion

    text = _read_member(path)
    rows = [r for r in csv.reader(_io.StringIO(text)) if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise InputError(f"{path}: no landmark rows")
    head = [h.strip().lower() for h in rows[0]]
    try:
        cols = [head.index(f"joint{j}_{a}") for j in range(1, 34) for a in "xyz"]
    except ValueError:
        raise InputError(f"{path}: expected UP-Fall's landmark columns Joint1_X ... Joint33_Z") from None
    try:
        X = np.array([[float(r[c]) if c < len(r) and r[c].strip() else np.nan for c in cols] for r in rows[1:]],
                     np.float64).reshape(-1, 33, 3)
    except ValueError:
        raise InputError(f"{path}: a landmark value is not a number") from None
    ok = np.isfinite(X).all(-1)
    if ok.sum(0).min(initial=0) == 0 and not ok.any():
        raise InputError(f"{path}: no finite landmark")
    W, H = (float(v) for v in image_size)
    px = np.stack([X[..., 0] * W, X[..., 1] * H, X[..., 2] * W], -1)
    from imusim_jax._joints import get_joint_set

    js = get_joint_set("mediapipe33")
    hips = [js.index("left_hip"), js.index("right_hip")]
    root = np.nanmean(px[:, hips], axis=1, keepdims=True)
    rel = np.where(ok[..., None], px - root, np.nan)
    conf = ok.astype(np.float64)
    kp = np.concatenate([np.nan_to_num(px[..., :2]), conf[..., None]], -1)
    motion, report = to_world_motion(np.nan_to_num(rel), kp, fps=fps, image_size=(W, H), joint_set3d="mediapipe33",
                                     joint_set2d="mediapipe33", conf3d=conf,
                                     config=WorldConfig(subject_height_m=subject_height_m))
    return motion, report


def _upmp_load(ref: ClipRef, entry: dict) -> list[Item]:
    size = entry.get("image_size") or UPFALL_IMAGE_SIZE
    motion, _ = upfall_landmarks_motion(ref.path, fps=float(entry.get("fps") or UPFALL_VIDEO_FPS),
                                        image_size=tuple(size),
                                        subject_height_m=float(entry.get("subject_height_m") or 1.70))
    return [Item(0, motion)]


def _upfall_enumerate(entry: dict) -> list[ClipRef]:
    root = _need_path(entry)
    name_ok = re.compile(r"(completedataset\.csv|upfall_falls_wrist\.csv|subject\d+activity\d+trial\d+\.csv)$",
                         re.IGNORECASE)
    files = _walk(root, lambda n: bool(name_ok.search(n)))
    if not files:
        raise _none_found(entry, "UP-Fall CSVs (CompleteDataSet.csv, Subject*Activity*Trial*.csv, "
                          "upfall_falls_wrist.csv)")
    return [ClipRef(_strip_ext(rel), _join(root, rel), "real", placement=entry.get("placement") or "left wrist")
            for rel in files]


def _upfall_load(ref: ClipRef, entry: dict) -> list[Item]:
    """Every recording of the file; each its own clip ``FILE/S<subject>A<act>T<trial>`` (published layout) or
    ``FILE/A<act>R<run>`` (the falls export: a run of rows of one activity), labelled by its ``Activity``."""
    from imusim_jax.datasets.upfall import read_upfall

    items = []
    for i, r in enumerate(read_upfall(ref.path)):
        m = r.meta
        act = m.get("activity")
        if m.get("run") is not None:
            suffix = f"A{act}R{m['run']}"
        else:
            suffix = f"S{m.get('subject')}A{act}T{m.get('trial')}"
        items.append(Item(0, r, label=None if act is None else str(act),
                          subject=None if m.get("subject") is None else f"S{m['subject']}",
                          trial=None if m.get("trial") is None else f"T{m['trial']}", clip_suffix=suffix))
    return items


# ---------------------------------------------------------------------------------------------------------------
# WEDA-FALL
# ---------------------------------------------------------------------------------------------------------------

_WEDA_NAME = re.compile(r"^U(\d+)_R(\d+)_accel\.csv$", re.IGNORECASE)


def _weda_enumerate(entry: dict) -> list[ClipRef]:
    root = _need_path(entry, folder=True)
    files = _walk(root, lambda n: bool(_WEDA_NAME.match(n)))
    refs = []
    for rel in files:
        code = os.path.basename(os.path.dirname(_join(root, rel))).upper()
        m = _WEDA_NAME.match(os.path.basename(rel))
        label = code if re.fullmatch(r"[FD]\d\d", code) else None
        refs.append(ClipRef(f"{code}/U{int(m.group(1)):02d}_R{int(m.group(2)):02d}", _join(root, rel), "real",
                            label=label, subject=f"U{int(m.group(1)):02d}", trial=f"R{int(m.group(2)):02d}",
                            placement=entry.get("placement") or "wrist (side not stated)"))
    if not refs:
        raise _none_found(entry, "WEDA-FALL <code>/U<user>_R<rep>_accel.csv files")
    return refs


def _weda_load(ref: ClipRef, entry: dict) -> list[Item]:
    from imusim_jax.datasets.weda_fall import read_weda_fall

    return [Item(0, r) for r in read_weda_fall(ref.path)]


# ---------------------------------------------------------------------------------------------------------------
# Folders with a labels CSV: motions, videos, IMU files
# ---------------------------------------------------------------------------------------------------------------

def _folder_refs(entry: dict, files: list[str], kind: str, what: str) -> list[ClipRef]:
    if not files:
        raise _none_found(entry, what)
    root = entry["path"]
    labels = _labels_for(entry, files)
    return [ClipRef(_strip_ext(rel), _join(root, rel), kind, label=labels[rel].get("label"),
                    subject=labels[rel].get("subject"), trial=labels[rel].get("trial"),
                    placement=entry.get("placement")) for rel in files]


def _motion_folder_enumerate(entry: dict) -> list[ClipRef]:
    from imusim_jax.io import motion_patterns

    _need_path(entry)
    pats = motion_patterns()
    files = _not_labels(entry, _walk(entry["path"], lambda n: n.lower().endswith(pats)))
    return _folder_refs(entry, files, "synthetic", "motion files (" + ", ".join("*" + p for p in pats) + ")")


def _not_labels(entry: dict, files: list[str]) -> list[str]:
    """``files`` without the entry's labels CSV (it may sit in the folder it labels)."""
    labels = entry.get("labels")
    if not labels:
        return files
    labels_abs = os.path.abspath(labels)
    return [f for f in files if os.path.abspath(_join(entry["path"], f)) != labels_abs]


def _motion_folder_load(ref: ClipRef, entry: dict) -> list[Item]:
    from imusim_jax.io import load_motion

    m = load_motion(ref.path, fps=entry.get("fps"), joint_set=entry.get("joint_set"))
    return [Item(i, c) for i, c in enumerate(m.unbatch() if m.batched else [m])]


def _video_folder_enumerate(entry: dict) -> list[ClipRef]:
    _need_path(entry)
    return _folder_refs(entry, _walk(entry["path"], lambda n: n.lower().endswith(VIDEO_SUFFIXES)), "synthetic",
                        "videos (" + ", ".join("*" + s for s in VIDEO_SUFFIXES) + ")")


def _video_folder_load(ref: ClipRef, entry: dict) -> list[Item]:
    """Stage 1 on the video (``video_to_motions`` with the entry's ``pose`` settings, ``PoseConfig`` fields):
    every person it reconstructs. A person too small in the picture (``video2imu.MIN_STATURE_PX``) is left out
    with a note, as ``video2imu`` does; the forearm's roll comes from the hand landmarks where the hand is at
    least ``video2imu.MIN_HAND_PX`` long (``roll: auto``). ``quality``: the fraction of the person's frames in
    which the pose model found them times the mean confidence of their 2D keypoints there."""
    from imusim_jax.pose import PoseConfig, video_to_motions
    from imusim_jax.workflows.video2imu import MIN_HAND_PX, MIN_STATURE_PX, hand_px, stage1_quality

    pose = dict(entry.get("pose") or {})
    pose.setdefault("pose", "mediapipe")
    pose["progress"] = False
    known = {f.name for f in dataclasses.fields(PoseConfig)}
    bad = sorted(set(pose) - known)
    if bad:
        raise InputError(f"source {entry['name']!r}: pose has no setting {bad[0]!r} (known: {', '.join(sorted(known))})")
    if "smoothing" in pose:
        raise InputError(f"source {entry['name']!r}: pose.smoothing cannot be set from a manifest")
    vm = video_to_motions(ref.path, PoseConfig(**pose))
    items, skipped = [], [(r["person"], r["why"]) for r in vm.rejected]
    sides = entry.get("_sides") or ("left",)
    for p in vm:
        st = p.stature_px
        if st is not None and st < MIN_STATURE_PX:
            skipped.append((p.id, f"stature {st:.0f} px in the picture, under {MIN_STATURE_PX:.0f}"))
            continue
        quality = stage1_quality(p.frame_quality)
        roll = None
        if entry.get("roll", "auto") == "auto":
            hands = [hand_px(p.track, s) for s in sides]
            roll = "hand" if all(h is not None and h >= MIN_HAND_PX for h in hands) else "hinge"
        items.append(Item(int(p.id), p.motion, quality=round(float(quality), 6), roll=roll))
    if not items:
        why = "; ".join(f"person {k}: {w}" for k, w in skipped[:2]) or "no person found"
        raise InputError(f"{ref.path}: no usable person ({why})")
    return _with_skipped(items, skipped)


def _imu_folder_enumerate(entry: dict) -> list[ClipRef]:
    from imusim_jax.io import search_patterns

    _need_path(entry)
    fmt = entry.get("format")
    if fmt:
        from imusim_jax.io import find_reader

        pats = find_reader("x", "imu", fmt).search
    else:
        pats = search_patterns("imu")
    files = _not_labels(entry, _walk(entry["path"], lambda n: n.lower().endswith(pats)))
    return _folder_refs(entry, files, "real", "IMU files (" + ", ".join("*" + p for p in pats) + ")")


def _imu_folder_load(ref: ClipRef, entry: dict) -> list[Item]:
    from imusim_jax.io import read_recordings

    opts = dict(entry.get("reader_options") or {})
    return [Item(i, r) for i, r in enumerate(read_recordings(ref.path, format=entry.get("format"), **opts))]


register_source("ntu_skeleton", ("simulated",), "ntu120", _ntu_enumerate, _ntu_load,
                description="NTU RGB+D .skeleton files: every body a person, the action from the name (A043)")
register_source("utd_mhad", ("simulated", "real"), "utd_mhad", _utd_enumerate, _utd_load,
                description="UTD-MHAD Skeleton/*_skeleton.mat (simulated) or Inertial/*_inertial.mat (real)")
register_source("smartfallmm", ("simulated", "real"), "smartfallmm", _sfmm_enumerate, _sfmm_load,
                options=("device", "groups"),
                description="SmartFallMM <group>/skeleton (simulated) or <group>/accelerometer/<device> (real)")
register_source("upfall_mediapipe", ("simulated",), "upfall", _upmp_enumerate, _upmp_load,
                options=("fps", "image_size", "subject_height_m"),
                description="UP-Fall MediaPipe landmark CSVs (zips or a folder), lifted with Stage 1's world model")
register_source("video_folder", ("simulated",), None, _video_folder_enumerate, _video_folder_load,
                options=("taxonomy", "pose"), description="videos plus a labels CSV, through Stage 1")
register_source("motion_folder", ("simulated",), None, _motion_folder_enumerate, _motion_folder_load,
                options=("taxonomy", "fps", "joint_set"), description="motion files (.npz/.csv/...) plus a labels CSV")
register_source("weda_fall", ("real",), "weda_fall", _weda_enumerate, _weda_load,
                description="WEDA-FALL <code>/U<u>_R<r>_accel.csv (+ _gyro.csv)")
register_source("upfall", ("real",), "upfall", _upfall_enumerate, _upfall_load,
                description="UP-Fall wrist IMU: CompleteDataSet.csv, Subject*Activity*Trial*.csv, the falls export")
register_source("imu_folder", ("real",), None, _imu_folder_enumerate, _imu_folder_load,
                options=("taxonomy", "format", "reader_options"),
                description="any registered IMU file plus a labels CSV")
