"""The dataset builder behind ``imusim-jax build-dataset MANIFEST.yaml -o DATASET_DIR``: many sources (motions to
simulate, real IMU recordings to copy in) into Parquet shards of labelled wrist-IMU clips, resumable, deterministic
and parallel.

Manifest (YAML)::

    rate_hz: 50                       # the IMU rate of every row (real recordings are resampled to it)
    seed: 0                           # the global seed (--seed overrides)
    mounts: [watch-left, watch-right] # presets or mount/profile JSON files (imusim-jax mounts NAME -o FILE.json)
    mount_sampling: all               # all: one row per mount; sample: one mount drawn per variant
    profiles: [bmi160, lsm6dso, calibrated.json]   # noise presets, 'none', or sensor profile JSON: drawn per row;
                                      # a profile's fitted mount replaces the row's mount
    variants: 1                       # simulated copies of each person (each draws its own profile, stretch, jitter)
    time_stretch: [0.9, 1.1]          # null, a factor, or [low, high] drawn per row (frame rate / factor)
    mount_jitter_deg: 3               # std of a random rotation (per axis, degrees) composed with the mount
    cutoff_hz: auto                   # the simulator's low-pass cut-off (auto, a number, or none)
    roll: auto                        # the forearm roll source (auto, hand, hinge)
    contact_time_s: [0.04, 0.1]       # the contact model's contact time, s (default 0.06; [low, high]: drawn per
                                      #   row; off: no contact model; imusim_jax.ImpactModel)
    unmapped: keep                    # classes without a taxonomy counterpart: keep (activity null) or skip
    shard_size: 64                    # clips per shard (a clip: one file or trial; its rows stay together)
    batch_size: 64                    # rows simulated per call (padded to it: one compilation serves all shards)
    sources:
      - name: ntu                     # the rows' 'source'
        type: ntu_skeleton            # a source type (imusim_jax.workflows.sources)
        path: data/ntu                # relative to the manifest's folder; $VARS and ~ expanded
      - {name: utd_imu, type: utd_mhad, signal: real, path: utd}
      - name: utd_sim
        type: utd_mhad
        signal: simulated
        path: utd
        mounts: [watch-right]         # any global key (but shard_size, batch_size) may be overridden per source
        include: {activity: [throwing, waving]}    # or a list of activities; keys activity, source_label,
        exclude: {subject: [s4]}                  #   subject, trial, clip_id
      - {name: vids, type: video_folder, path: videos, labels: videos/labels.csv, taxonomy: ucf101}

Each source type may read more keys (``sources.SOURCE_TYPES[...].options``: a SmartFallMM ``device``, a video
folder's ``pose`` settings, ...); a key nobody reads is an error, so a typo does not pass silently.

Output::

    DATASET_DIR/shards/part-00000.parquet ...   # the rows (ROW_SCHEMA), in a fixed order
    DATASET_DIR/dataset.json                    # the resolved manifest, library version, counts per source,
                                                # unmapped classes, failures, skipped persons, warnings, shards
    DATASET_DIR/_build/plan.json, ledger.jsonl  # the build's record (what resumption reads)

How it works:

* **Plan.** Every source lists cheap clip references (``sources``); filters by subject, trial, clip and label apply
  there when the name tells them. Clips are sorted by ``(source, clip_id)`` and cut into shards of ``shard_size``
  clips, so a shard's clips do not depend on the worker count. A clip's rows stay in its shard.
* **Seeds.** Row ``(source, clip_id, person, variant)`` gets ``seed`` = the first 63 bits of
  ``sha256(f"{global seed}|{source}|{clip_id}|{person}|{variant}")``; its mount (``mount_sampling: sample``), profile,
  time stretch, mount jitter and contact time are drawn from ``numpy.random.default_rng(seed)`` in that order, and its noise from
  ``jax.random.key(seed)``. So a row does not depend on the other clips, the shard size or the worker count, and
  ``imusim_jax.simulate(motion, mount, noise, key=jax.random.key(seed), impact=ImpactModel.create(contact_time_s))``
  (float64) reproduces it. (``batch``'s
  ``clip_key`` is not used: its 31-bit CRC of the name collides within a few ten thousand rows.)
* **Simulation.** A shard's synthetic rows are grouped by (joint set, arm, roll), sorted by length and simulated
  ``batch_size`` at a time through ``imusim_jax.simulate`` with one mount, noise model, key and time offset per row,
  padded to ``batch_size`` as ``workflows.batch`` pads, so one compiled program serves every shard of similar
  lengths. A batch the simulator refuses is redone row by row and the refused rows reported. Real recordings are
  resampled to ``rate_hz`` (``_to_rate``).
* **Determinism.** The Parquet writer's options are fixed (``_PARQUET``: zstd, fixed row groups, no timestamps;
  the column order of ``ROW_SCHEMA``), rows are in a fixed order (clips sorted, then person, variant), and every
  worker process computes alone (``IMUSIM_CPU_THREADS=1``, one XLA thread) in the parent's precision (float64 from
  the command line), so a shard's bytes are the same on one worker or many, locally or on Ray (on one kind of CPU).
* **Resumption.** Workers return a shard's bytes; the parent alone writes it (a temporary file, fsync, rename,
  fsync of the folder) and then appends its line to ``_build/ledger.jsonl`` (fsync). A rerun skips a shard whose
  file exists with the ledger's size and sha256 and whose inputs (paths, sizes, modification times) are unchanged,
  rebuilds the rest, removes temporaries a killed run left, and refuses in one line a folder built with other
  options (``overwrite`` rebuilds everything). Killed at any point (SIGKILL included), a rerun finishes with every
  clip exactly once and no corrupt shard.
* **Parallelism.** ``engine="local"``: a ``ProcessPoolExecutor`` of ``workers`` spawned processes (JAX is not
  fork-safe), one shard per task; ``engine="ray"``: the same shard function as Ray tasks (``ray.init`` of a local
  instance, or ``address``). A progress bar over clips with its ETA (on a terminal).
* **Bad input.** A manifest error (an unknown key or source type, a missing path) is one ``InputError`` line before
  anything runs. A file that cannot be read or simulated is reported in one line (``failures`` in
  ``dataset.json``) and the rest is built; ``BuildReport.failed`` says so (the command exits 2).
"""
from __future__ import annotations

import dataclasses
import hashlib
import io as _io
import json
import os
import re
import sys
import warnings
from typing import Any, Callable, Optional

import numpy as np

from imusim_jax._constants import DEFAULT_RATE_HZ
from imusim_jax._errors import InputError
from imusim_jax.io.files import remove_temporaries

__all__ = ["ROW_SCHEMA", "BuildReport", "split_placement", "load_manifest", "resolve_manifest", "plan_shards", "build_dataset",
           "build_shard", "row_seed", "noise_keys", "SHARDS", "DATASET_JSON", "FORMAT"]

FORMAT = "imusim-jax/dataset"
FORMAT_VERSION = 1
SHARDS = "shards"
DATASET_JSON = "dataset.json"
_BUILD = "_build"
_PLAN = "plan.json"
_LEDGER = "ledger.jsonl"

GLOBAL_DEFAULTS: dict = {
    "rate_hz": float(DEFAULT_RATE_HZ), "seed": 0, "mounts": ["watch-left"], "mount_sampling": "all",
    "profiles": ["none"], "variants": 1, "time_stretch": None, "mount_jitter_deg": 0.0, "cutoff_hz": "auto",
    "roll": "auto", "unmapped": "keep", "shard_size": 64, "batch_size": 64, "contact_time_s": 0.06,
}
"""Global manifest keys and their defaults (see the module docstring)."""
_GLOBAL_ONLY = ("shard_size", "batch_size")
_TOP_KEYS = set(GLOBAL_DEFAULTS) | {"sources", "name", "description"}
_ENTRY_KEYS = {"name", "type", "path", "signal", "labels", "include", "exclude", "placement", "taxonomy"}
_FILTER_KEYS = ("activity", "source_label", "subject", "trial", "clip_id")


def split_placement(text: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """``"right wrist"`` -> ``("wrist", "right")``; ``"wrist (side not stated)"`` -> ``("wrist", None)``; the body
    part in lower case, so ``--filter placement=wrist`` keeps every wrist whatever its side."""
    if text is None or not str(text).strip():
        return None, None
    words = re.sub(r"\(.*?\)", " ", str(text).lower()).replace("-", " ").replace("_", " ").split()
    side = next((w for w in words if w in ("left", "right")), None)
    part = " ".join(w for w in words if w not in ("left", "right"))
    return (part or None), side


def _schema():
    import pyarrow as pa

    vec = pa.list_(pa.list_(pa.float64()))
    return pa.schema([
        ("source", pa.string()), ("dataset", pa.string()), ("clip_id", pa.string()), ("person", pa.int64()),
        ("subject", pa.string()), ("trial", pa.string()), ("activity", pa.string()), ("source_label", pa.string()),
        ("safety", pa.string()), ("severity", pa.int64()), ("kind", pa.string()), ("placement", pa.string()),
        ("side", pa.string()), ("mount", pa.string()), ("profile", pa.string()), ("seed", pa.int64()), ("variant", pa.int64()),
        ("rate_hz", pa.float64()), ("native_rate_hz", pa.float64()), ("time_stretch", pa.float64()),
        ("mount_jitter_deg", pa.float64()), ("contact_time_s", pa.float64()), ("quality", pa.float64()),
        ("num_samples", pa.int64()),
        ("accel", vec), ("gyro", vec),
    ])


ROW_SCHEMA = (
    ("source", "string", "the manifest entry's name"),
    ("dataset", "string", "the entry's source type (ntu_skeleton, smartfallmm, ...)"),
    ("clip_id", "string", "stable within the source (path without extension, or the dataset's trial name)"),
    ("person", "int64", "body / tracked person / recording number within the clip"),
    ("subject", "string", "the source's subject id as it spells it (P001, s1, S31, U01), null where none"),
    ("trial", "string", "the source's trial / repetition (R001, t1, T01, R01), null where none"),
    ("activity", "string", "taxonomy activity, null for a class without a counterpart"),
    ("source_label", "string", "the source's own class (its class-list line, e.g. 'A043 falling')"),
    ("safety", "string", "safe / unsafe (taxonomy), null where unmapped"),
    ("severity", "int64", "0-4 (taxonomy), null where unmapped"),
    ("kind", "string", "synthetic (simulated) or real (a recorded IMU)"),
    ("placement", "string", "where the dataset's real sensor sat for this clip, without the side (wrist, thigh, "
                            "waist, ...; on its simulated copies too), null where the dataset has none"),
    ("side", "string", "left / right: the side of that sensor, null where unknown"),
    ("mount", "string", "the simulated mount's name (null for real rows)"),
    ("profile", "string", "the sensor profile / noise preset (null for real rows)"),
    ("seed", "int64", "the row's seed (null for real rows): jax.random.key(seed) is its noise key"),
    ("variant", "int64", "the row's number among the person's simulated copies (0 for real rows)"),
    ("rate_hz", "float64", "the signal's sampling rate, Hz (the manifest's rate_hz)"),
    ("native_rate_hz", "float64", "real: the recording's rate before resampling; synthetic: the motion's frame "
                                  "rate after time stretch"),
    ("time_stretch", "float64", "the factor the motion's time axis was stretched by (null for real rows)"),
    ("mount_jitter_deg", "float64", "the angle of the random mounting rotation, degrees (null for real rows)"),
    ("contact_time_s", "float64", "the contact model's contact time, s (imusim_jax.ImpactModel; null: the model off, "
                                  "and for real rows)"),
    ("quality", "float64", "how much of the motion was measured: Stage 1's quality score for video persons (pose "
                           "found x mean confidence); for skeleton files the share of joint-frames the tracker "
                           "measured (held frames and jumps repaired: imusim_jax.repair_artefacts); null for real "
                           "rows"),
    ("num_samples", "int64", "T, the signal's length"),
    ("accel", "list<list<float64>>", "T x 3 specific force, m/s^2, sensor frame"),
    ("gyro", "list<list<float64>>", "T x 3 angular rate, rad/s, sensor frame"),
)
"""The row schema, in column order: ``(column, Arrow type, meaning)``. A contract for readers of the shards."""

_PARQUET = dict(compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True,
                data_page_size=1 << 20, write_page_index=False, store_schema=True)
_ROW_GROUP = 256


@dataclasses.dataclass
class BuildReport:
    """What ``build_dataset`` did: shards ``written`` and ``skipped`` (made before, verified), ``failed`` files
    (``(path, one-line reason)``, over the whole build, including shards made before), rows and clips."""

    written: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)
    rows: int = 0
    clips: int = 0
    out_dir: str = ""


# ---------------------------------------------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------------------------------------------

def load_manifest(path: str | os.PathLike, *, seed: Optional[int] = None) -> dict:
    """Read and resolve a manifest file (``resolve_manifest``); ``seed`` overrides its ``seed``."""
    import yaml

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"no such manifest: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read manifest {path}: {e}".splitlines()[0]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise InputError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', None) or e}".splitlines()[0]) \
            from None
    return resolve_manifest(data, base_dir=os.path.dirname(os.path.abspath(path)), seed=seed, where=path)


def _path(value, base_dir: str) -> str:
    p = os.path.expanduser(os.path.expandvars(str(value)))
    return os.path.normpath(p if os.path.isabs(p) else os.path.join(base_dir, p))


def resolve_manifest(data: Any, *, base_dir: str = ".", seed: Optional[int] = None, where: str = "manifest") -> dict:
    """Check a manifest (the parsed YAML) and resolve it: paths made absolute (relative to ``base_dir``), every
    source entry with every global key (its own overrides), mounts and profiles read and recorded as JSON. Returns
    ``{"name", "description", "globals", "sources": [entry, ...]}``. One-line ``InputError`` naming ``where`` and
    the entry for anything wrong (an unknown key or source type, a missing path, a bad value)."""
    from imusim_jax.workflows.sources import source_type

    if not isinstance(data, dict):
        raise InputError(f"{where}: a manifest is a YAML mapping with a 'sources' list")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    sources = data.get("sources")
    if not isinstance(sources, list) or not sources:
        raise InputError(f"{where}: 'sources' must be a non-empty list of entries (name, type, path)")
    glob = {k: data.get(k, v) for k, v in GLOBAL_DEFAULTS.items()}
    if seed is not None:
        glob["seed"] = seed
    glob = _check_globals(glob, base_dir, where)
    out, names = [], set()
    for i, e in enumerate(sources):
        if not isinstance(e, dict):
            raise InputError(f"{where}: sources[{i}] must be a mapping with name, type and path")
        for k in ("name", "type", "path"):
            if e.get(k) in (None, ""):
                raise InputError(f"{where}: sources[{i}] has no {k!r}")
        name = str(e["name"])
        here = f"{where}: source {name!r}"
        if not all(c.isalnum() or c in "_-." for c in name):
            raise InputError(f"{here}: a name is letters, digits, '_', '-' and '.'")
        if name in names:
            raise InputError(f"{here} is named twice")
        names.add(name)
        st = source_type(e["type"]) if str(e["type"]) in _known_types() else None
        if st is None:
            raise InputError(f"{here}: unknown source type {e['type']!r}; known: {', '.join(sorted(_known_types()))}")
        allowed = _ENTRY_KEYS | (set(GLOBAL_DEFAULTS) - set(_GLOBAL_ONLY)) | set(st.options)
        unknown = sorted(set(e) - allowed)
        if unknown:
            hint = " (a global key only)" if unknown[0] in _GLOBAL_ONLY else ""
            raise InputError(f"{here}: unknown key {unknown[0]!r}{hint} (known for {st.name}: "
                             f"{', '.join(sorted(allowed))})")
        signal = e.get("signal")
        if signal is None:
            if len(st.signals) > 1:
                raise InputError(f"{here}: type {st.name} has both signals: choose signal: simulated or real")
            signal = st.signals[0]
        if signal not in st.signals:
            raise InputError(f"{here}: type {st.name} has no {signal!r} signal (it has {', '.join(st.signals)})")
        entry = {"name": name, "type": st.name, "path": _path(e["path"], base_dir), "signal": signal}
        if not os.path.exists(entry["path"]):
            raise InputError(f"{here}: no such file or directory: {entry['path']}")
        if e.get("labels"):
            entry["labels"] = _path(e["labels"], base_dir)
            if not os.path.isfile(entry["labels"]):
                raise InputError(f"{here}: no such labels file: {entry['labels']}")
        taxonomy = e.get("taxonomy", st.taxonomy)
        if taxonomy is not None:
            from imusim_jax.datasets import taxonomy as tx

            try:
                taxonomy = tx.source(str(taxonomy)).name
            except InputError as err:
                raise InputError(f"{here}: {err}") from None
        entry["taxonomy"] = taxonomy
        for k in ("include", "exclude"):
            entry[k] = _check_filter(e.get(k), f"{here}: {k}")
        if e.get("placement") is not None:
            entry["placement"] = str(e["placement"])
        for k in st.options:
            if k in e and k != "taxonomy":
                entry[k] = e[k]
        own = {k: e[k] for k in GLOBAL_DEFAULTS if k in e and k not in _GLOBAL_ONLY}
        merged = _check_globals({**glob, **own}, base_dir, here) if own else dict(glob)
        for k in GLOBAL_DEFAULTS:
            if k not in _GLOBAL_ONLY:
                entry[k] = merged[k]
        entry["_sides"] = sorted({m["side"] for m in entry["mounts"]})
        out.append(entry)
    return {"name": str(data.get("name") or "imusim-jax dataset"), "description": data.get("description"),
            "globals": glob, "sources": out}


def _known_types() -> set:
    from imusim_jax.workflows.sources import SOURCE_TYPES

    return set(SOURCE_TYPES)


def _check_globals(g: dict, base_dir: str, where: str) -> dict:
    """Validated global (or per-source) keys, mounts and profiles resolved to JSON-able records."""
    from imusim_jax._cutoff import cutoff_arg

    g = dict(g)

    def number(k, lo=None, integer=False, positive=False):
        v = g[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
            raise InputError(f"{where}: {k} must be a {'whole ' if integer else ''}number, got {v!r}")
        if not np.isfinite(v) or (positive and v <= 0) or (lo is not None and v < lo):
            raise InputError(f"{where}: {k} must be {'positive' if positive else f'at least {lo}'}, got {v!r}")
        return int(v) if integer else float(v)

    g["rate_hz"] = number("rate_hz", positive=True)
    g["seed"] = number("seed", lo=0, integer=True)
    g["variants"] = number("variants", lo=1, integer=True)
    g["shard_size"] = number("shard_size", lo=1, integer=True)
    g["batch_size"] = number("batch_size", lo=1, integer=True)
    g["mount_jitter_deg"] = number("mount_jitter_deg", lo=0)
    if g["mount_sampling"] not in ("all", "sample"):
        raise InputError(f"{where}: mount_sampling must be all or sample, got {g['mount_sampling']!r}")
    if g["unmapped"] not in ("keep", "skip"):
        raise InputError(f"{where}: unmapped must be keep or skip, got {g['unmapped']!r}")
    if g["roll"] not in ("auto", "hand", "hinge"):
        raise InputError(f"{where}: roll must be auto, hand or hinge, got {g['roll']!r}")
    try:
        g["cutoff_hz"] = cutoff_arg(g["cutoff_hz"])
    except InputError as e:
        raise InputError(f"{where}: {e}") from None
    ts = g["time_stretch"]
    if ts is not None:
        lohi = [ts, ts] if isinstance(ts, (int, float)) and not isinstance(ts, bool) else ts
        if not (isinstance(lohi, (list, tuple)) and len(lohi) == 2 and
                all(isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x) and x > 0
                    for x in lohi) and lohi[0] <= lohi[1]):
            raise InputError(f"{where}: time_stretch must be null, a positive factor or [low, high], got {ts!r}")
        g["time_stretch"] = [float(lohi[0]), float(lohi[1])]
    g["contact_time_s"] = _contact_times(g["contact_time_s"], where)
    g["mounts"] = [_resolve_mount(m, base_dir, where) for m in _listed(g["mounts"], "mounts", where)]
    g["profiles"] = [_resolve_profile(p, base_dir, where) for p in _listed(g["profiles"], "profiles", where)]
    return g


def _contact_times(v, where: str) -> Optional[list]:
    """``contact_time_s``: ``off`` (or null), a number of seconds, or ``[low, high]`` (drawn per row) ->
    ``None`` or ``[low, high]``."""
    from imusim_jax._impact import ImpactModel

    if v is None or (isinstance(v, str) and v.strip().lower() == "off"):
        return None
    lohi = [v, v] if isinstance(v, (int, float)) and not isinstance(v, bool) else v
    if not (isinstance(lohi, (list, tuple)) and len(lohi) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in lohi) and lohi[0] <= lohi[1]):
        raise InputError(f"{where}: contact_time_s must be off, seconds or [low, high], got {v!r}")
    try:
        ImpactModel.create(np.asarray(lohi, np.float64))
    except InputError as e:
        raise InputError(f"{where}: {e}") from None
    return [float(lohi[0]), float(lohi[1])]


def _listed(v, key: str, where: str) -> list:
    v = [v] if isinstance(v, (str, dict)) else v
    if not isinstance(v, list) or not v:
        raise InputError(f"{where}: {key} must be a non-empty list")
    return v


def _resolve_mount(m, base_dir: str, where: str) -> dict:
    """A mount preset name or a profile/mount JSON path as ``{"name", "side", "q_fs", "lever_f"}``; a record
    already resolved (a dict with ``q_fs``) passes through."""
    from imusim_jax._mounting import Mount, get_mount

    if isinstance(m, dict) and "q_fs" in m and "side" in m:
        return {"name": str(m.get("name", "custom")), "side": m["side"], "q_fs": [float(x) for x in m["q_fs"]],
                "lever_f": [float(x) for x in m.get("lever_f", (0, 0, 0))]}
    text = str(m)
    try:
        mount = get_mount(_path(text, base_dir) if text.lower().endswith(".json") else text)
    except InputError as e:
        raise InputError(f"{where}: mounts: {e}") from None
    assert isinstance(mount, Mount)
    return _mount_record(mount)


def _mount_record(mount, name: Optional[str] = None) -> dict:
    """A ``Mount`` as the manifest's JSON record ``{"name", "side", "q_fs", "lever_f"}``."""
    d = mount.to_dict()
    return {"name": str(name or d["name"]), "side": d["side"], "q_fs": [float(x) for x in d["q_fs"]],
            "lever_f": [float(x) for x in d["lever_f"]]}


def _resolve_profile(p, base_dir: str, where: str) -> dict:
    """A noise preset, ``none`` or a sensor profile JSON as ``{"name", "noise": JSON or None, "time_offset_s",
    "mount": a mount record or None}``. A profile with a mount (``calibrate --mode paired`` fits one: the sensor
    as it sat on the real wrist) simulates its rows with that mount in place of the one drawn from ``mounts``; the
    rows' ``mount`` column names it. A resolved record passes through."""
    from imusim_jax._noise import NOISE_PRESETS, noise_profile_json

    if isinstance(p, dict) and "noise" in p and "name" in p:
        return {"name": str(p["name"]), "noise": p["noise"], "time_offset_s": float(p.get("time_offset_s", 0.0)),
                "mount": p.get("mount")}
    text = str(p).strip()
    if text.lower() == "none":
        return {"name": "none", "noise": None, "time_offset_s": 0.0, "mount": None}
    if text.lower() in NOISE_PRESETS:
        return {"name": text.lower(), "noise": json.loads(noise_profile_json(NOISE_PRESETS[text.lower()])),
                "time_offset_s": 0.0, "mount": None}
    if text.lower().endswith(".json"):
        from imusim_jax._profile import SensorProfile

        try:
            prof = SensorProfile.load(_path(text, base_dir))
        except InputError as e:
            raise InputError(f"{where}: profiles: {e}") from None
        name = os.path.splitext(os.path.basename(text))[0]
        mount = None if prof.mount is None else _mount_record(prof.mount, f"{name}:{prof.mount.name}")
        return {"name": name, "noise": None if prof.noise is None else json.loads(noise_profile_json(prof.noise)),
                "time_offset_s": float(prof.time_offset_s), "mount": mount}
    raise InputError(f"{where}: profiles: unknown profile {p!r}; expected none, {', '.join(NOISE_PRESETS)} or a "
                     "profile .json")


def _check_filter(v, where: str) -> Optional[dict]:
    if v is None:
        return None
    if isinstance(v, (str, list)):
        v = {"activity": v}
    if not isinstance(v, dict):
        raise InputError(f"{where} must be a list of activities or a mapping of {', '.join(_FILTER_KEYS)}")
    bad = sorted(set(v) - set(_FILTER_KEYS))
    if bad:
        raise InputError(f"{where}: unknown key {bad[0]!r} (known: {', '.join(_FILTER_KEYS)})")
    out = {}
    for k, vals in v.items():
        vals = vals if isinstance(vals, list) else [vals]
        out[k] = [str(x) for x in vals]
    if "activity" in out:
        from imusim_jax.datasets import taxonomy

        acts = taxonomy.load_taxonomy().activities
        for a in out["activity"]:
            if a not in acts:
                raise InputError(f"{where}: unknown activity {a!r} (taxonomy.yaml's names)")
    return out


def _norm(s) -> str:
    import re

    return re.sub(r"[^0-9a-z]+", "", str(s).casefold())


def _filter_value(key: str, rec: dict) -> list:
    """The values of ``rec`` a filter key compares with (``source_label`` matches the raw label, the class line
    or its code)."""
    if key == "source_label":
        out = [rec.get("label"), rec.get("source_label")]
        if rec.get("source_label"):
            out.append(str(rec["source_label"]).split(" ")[0])
        return [_norm(x) for x in out if x is not None]
    v = rec.get(key)
    return [] if v is None else [_norm(v)]


def _passes(entry: dict, rec: dict, known: set) -> bool:
    """Whether a clip or row ``rec`` passes the entry's include/exclude on the keys in ``known`` (the others are
    checked later, when the contents tell them)."""
    inc, exc = entry.get("include"), entry.get("exclude")
    if inc:
        for k, vals in inc.items():
            if k in known and not set(_filter_value(k, rec)) & {_norm(x) for x in vals}:
                return False
    if exc:
        for k, vals in exc.items():
            if k in known and set(_filter_value(k, rec)) & {_norm(x) for x in vals}:
                return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------------------------

def _ref_dict(ref) -> dict:
    d = dataclasses.asdict(ref)
    d["extra"] = [list(x) for x in ref.extra]
    return d


def _ref_from(d: dict):
    from imusim_jax.workflows.sources import ClipRef

    return ClipRef(**{**d, "extra": tuple(tuple(x) for x in d.get("extra", ()))})


def _stamp(path: str) -> list:
    p = path.split("::", 1)[0]
    try:
        st = os.stat(p)
        return [int(st.st_size), int(st.st_mtime_ns)]
    except OSError:
        return [None, None]


def plan_shards(manifest: dict, *, warn: Optional[Callable[[str], None]] = None) -> list[list[tuple[str, dict]]]:
    """Every source's clip references (``sources``), filtered, sorted by ``(source, clip_id)`` and cut into shards
    of ``shard_size`` clips: ``[[(source name, ClipRef as a dict), ...], ...]``. Independent of the worker count."""
    from imusim_jax.workflows.sources import label_columns, source_type

    clips = []
    for entry in manifest["sources"]:
        refs = source_type(entry["type"]).enumerate(entry)
        seen = set()
        for ref in refs:
            if ref.clip_id in seen:
                raise InputError(f"source {entry['name']!r}: clip id {ref.clip_id!r} is listed twice ({ref.path})")
            seen.add(ref.clip_id)
            rec = {"clip_id": ref.clip_id, "subject": ref.subject, "trial": ref.trial, "label": ref.label}
            known = {"clip_id"} | {k for k in ("subject", "trial") if getattr(ref, k) is not None}
            if ref.label is not None:
                rec.update(label_columns(entry["taxonomy"], ref.label))
                known |= {"activity", "source_label"}
            if _passes(entry, rec, known):
                clips.append((entry["name"], _ref_dict(ref)))
    clips.sort(key=lambda c: (c[0], c[1]["clip_id"]))
    size = int(manifest["globals"]["shard_size"])
    return [clips[i:i + size] for i in range(0, len(clips), size)]


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# One shard (runs in a worker process)
# ---------------------------------------------------------------------------------------------------------------

def row_seed(seed: int, source: str, clip_id: str, person: int, variant: int) -> int:
    """The seed of a row: the first 63 bits of ``sha256(f"{seed}|{source}|{clip_id}|{person}|{variant}")``."""
    h = hashlib.sha256(f"{int(seed)}|{source}|{clip_id}|{int(person)}|{int(variant)}".encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") >> 1


def noise_keys(seeds) -> Any:
    """``jax.random.key(s)`` for each of ``seeds`` (63-bit integers), as one ``(B,)`` key array, whatever the
    precision setting: a threefry key of a 64-bit seed is ``(seed >> 32, seed & 0xFFFFFFFF)``."""
    import jax

    data = np.array([[(s >> 32) & 0xFFFFFFFF, s & 0xFFFFFFFF] for s in seeds], np.uint32)
    return jax.random.wrap_key_data(data, impl="threefry2x32")


def _qmul(a, b):
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                     w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])


def _draw(rng: np.random.Generator, entry: dict, mount_index: Optional[int]):
    """A row's draws, in a fixed order: mount (``sample`` mode), profile, time stretch, jitter rotation, contact
    time."""
    mounts, profiles = entry["mounts"], entry["profiles"]
    m = int(rng.integers(len(mounts))) if mount_index is None else mount_index
    p = int(rng.integers(len(profiles)))
    ts = entry["time_stretch"]
    stretch = 1.0 if ts is None else (ts[0] if ts[0] == ts[1] else float(rng.uniform(ts[0], ts[1])))
    sigma = float(entry["mount_jitter_deg"])
    rv = rng.normal(0.0, sigma, 3) if sigma > 0 else np.zeros(3)
    ct = entry["contact_time_s"]
    tau = None if ct is None else (ct[0] if ct[0] == ct[1] else float(rng.uniform(ct[0], ct[1])))
    return m, p, stretch, rv, tau


def _jittered_q(q_fs, rv_deg) -> np.ndarray:
    """``q_j ⊗ q_fs``: the mount turned by the rotation vector ``rv_deg`` (degrees) in the forearm frame."""
    q = np.asarray(q_fs, np.float64)
    q = q / np.linalg.norm(q)
    ang = np.deg2rad(np.linalg.norm(rv_deg))
    if ang == 0:
        return q
    axis = np.asarray(rv_deg, np.float64) / np.linalg.norm(rv_deg)
    qj = np.concatenate([[np.cos(ang / 2)], np.sin(ang / 2) * axis])
    return _qmul(qj, q)


def _to_rate(accel: np.ndarray, gyro: np.ndarray, rate: float, target: float):
    """A uniform recording at ``rate`` resampled to ``target`` Hz on ``k / target`` (no later than its last
    sample): unchanged when the rates agree; above the target, low-passed first (zero-phase 4th-order Butterworth
    at 0.45 times the target rate) against aliasing; then linear interpolation."""
    X = np.column_stack([accel, gyro]).astype(np.float64)
    if abs(rate - target) <= 1e-9 * target:
        return X[:, :3], X[:, 3:]
    if rate > target:
        from scipy.signal import butter, sosfiltfilt

        sos = butter(4, 0.45 * target / (rate / 2), output="sos")
        if len(X) > 3 * (2 * len(sos) + 1):
            X = sosfiltfilt(sos, X, axis=0)
    n = int(np.floor((len(X) - 1) / rate * target + 1e-9)) + 1
    t_src = np.arange(len(X)) / rate
    t = np.arange(n) / target
    Y = np.column_stack([np.interp(t, t_src, X[:, c]) for c in range(6)])
    return Y[:, :3], Y[:, 3:]


def _one_line(e: BaseException) -> str:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return msg if isinstance(e, InputError) else f"{type(e).__name__}: {msg}"


_NOISE_CACHE: dict = {}


def _noise_model(rec: Optional[dict]):
    """The ``ImuNoise`` of a profile record (``None``: ideal), built once per process and record."""
    from imusim_jax._noise import ImuNoise, SensorNoise, get_noise

    if rec is None:
        return get_noise("ideal").replace(name="dataset")
    key = json.dumps(rec, sort_keys=True)
    if key not in _NOISE_CACHE:
        _NOISE_CACHE[key] = ImuNoise(SensorNoise.from_dict(rec["accel"], "accel"),
                                     SensorNoise.from_dict(rec["gyro"], "gyro"), "dataset")
    return _NOISE_CACHE[key]


def _stacked_noise(recs: list):
    """One batched ``ImuNoise`` for the rows' profile records: each distinct model made once, its leaves gathered
    per row in NumPy (``stack_noise`` stacks every row's leaves on the device: 64 rows cost more than simulating
    them)."""
    import jax

    uniq, idx = {}, []
    for r in recs:
        k = json.dumps(r, sort_keys=True)
        idx.append(uniq.setdefault(k, len(uniq)))
    models = [None] * len(uniq)
    for r in recs:
        models[uniq[json.dumps(r, sort_keys=True)]] = _noise_model(r)
    take = np.asarray(idx)
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs])[take], *models)


def build_shard(task: dict) -> dict:
    """Build one shard: load its clips, simulate the synthetic rows, copy in the real ones, and return the Parquet
    file's bytes with the shard's account (``rows``, ``clips``, ``failures``, ``skipped`` persons, ``warnings``,
    ``counts`` and ``unmapped`` per source). ``task``: ``{"index", "clips": [(source, ref dict)], "sources":
    {name: resolved entry}, "globals"}``. Pure: the result depends on the task only."""
    import time

    from imusim_jax.workflows.sources import label_columns, source_type

    t_start = time.perf_counter()
    timing = {"load_s": 0.0, "simulate_s": 0.0}
    sources, glob = task["sources"], task["globals"]
    rows: list = []
    sims: list = []      # (row index, Motion, mount record, q_fs, noise record, time offset, seed, roll)
    failures, skipped, warns = [], [], []
    counts: dict = {}
    unmapped: dict = {}
    clips_done = 0

    def warn(msg):
        if msg not in warns:
            warns.append(msg)

    for name, rd in task["clips"]:
        entry = sources[name]
        ref = _ref_from(rd)
        st = source_type(entry["type"])
        c = counts.setdefault(name, {"clips": 0, "rows": 0, "filtered_rows": 0, "unmapped_rows": 0,
                                     "failed_clips": 0})
        try:
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    items = st.load(ref, entry)
                finally:
                    timing["load_s"] += time.perf_counter() - t0
            for w in caught:
                warn(f"{ref.path}: {w.message}" if ref.path not in str(w.message) else str(w.message))
        except Exception as e:  # noqa: BLE001 - a file's failure stays that file's
            msg = _one_line(e)
            failures.append([ref.path, msg if ref.path.split("::")[0] in msg else f"{ref.path}: {msg}"])
            c["failed_clips"] += 1
            continue
        clips_done += 1
        c["clips"] += 1
        for person, why in getattr(items, "skipped", []):
            skipped.append([name, ref.clip_id, int(person), why])
        for item in items:
            label = item.label if item.label is not None else ref.label
            cols = label_columns(entry["taxonomy"], label)
            rec = {"clip_id": ref.clip_id + (f"/{item.clip_suffix}" if item.clip_suffix else ""),
                   "subject": item.subject or ref.subject, "trial": item.trial or ref.trial, "label": label,
                   **cols}
            if not _passes(entry, rec, set(_FILTER_KEYS)):
                c["filtered_rows"] += 1
                continue
            if not cols["mapped"]:
                key = cols["source_label"] or "(no label)"
                unmapped.setdefault(name, {}).setdefault(key, 0)
                if entry["unmapped"] == "skip":
                    unmapped[name][key] += 1
                    c["unmapped_rows"] += 1
                    continue
            base = {"source": name, "dataset": entry["type"], "clip_id": rec["clip_id"], "person": int(item.person),
                    "subject": None if rec["subject"] is None else str(rec["subject"]),
                    "trial": None if rec["trial"] is None else str(rec["trial"]),
                    "activity": cols["activity"], "source_label": cols["source_label"], "safety": cols["safety"],
                    "severity": cols["severity"], "kind": ref.kind,
                    **dict(zip(("placement", "side"), split_placement(item.placement or ref.placement))),
                    "rate_hz": float(entry["rate_hz"]),
                    "quality": item.quality}
            if ref.kind == "real":
                sig = item.data.signal
                a, g = _to_rate(np.asarray(sig.accel), np.asarray(sig.gyro), float(sig.rate_hz), entry["rate_hz"])
                rows.append({**base, "mount": None, "profile": None, "seed": None, "variant": 0,
                             "native_rate_hz": float(sig.rate_hz), "time_stretch": None, "mount_jitter_deg": None,
                             "contact_time_s": None, "accel": a, "gyro": g})
                if not cols["mapped"]:
                    unmapped[name][key] += 1
                continue
            motion = item.data
            if base["quality"] is None and motion.confidence is not None:  # a skeleton file: what was measured
                base["quality"] = float(np.mean(np.asarray(motion.confidence) > 0))
            plan = ([(v * len(entry["mounts"]) + m, m) for v in range(entry["variants"])
                     for m in range(len(entry["mounts"]))] if entry["mount_sampling"] == "all"
                    else [(v, None) for v in range(entry["variants"])])
            for variant, mi in plan:
                seed = row_seed(entry["seed"], name, rec["clip_id"], item.person, variant)
                m, p, stretch, rv, tau = _draw(np.random.default_rng(seed), entry, mi)
                mrec, prec = entry["mounts"][m], entry["profiles"][p]
                mrec = prec.get("mount") or mrec           # a calibrated profile's own mount
                fps = float(np.asarray(motion.fps)) / stretch
                rows.append({**base, "mount": mrec["name"], "profile": prec["name"], "seed": seed,
                             "variant": variant, "native_rate_hz": fps, "time_stretch": stretch,
                             "mount_jitter_deg": float(np.linalg.norm(rv)), "contact_time_s": tau,
                             "accel": None, "gyro": None})
                stretched = motion if stretch == 1.0 else motion.replace(
                    fps=np.asarray(fps, np.asarray(motion.fps).dtype))
                sims.append((len(rows) - 1, stretched, mrec,
                             _jittered_q(mrec["q_fs"], rv), prec, seed, item.roll or entry["roll"], entry, ref.path,
                             tau))
                if not cols["mapped"]:
                    unmapped[name][key] += 1
    _simulate_rows(rows, sims, int(glob["batch_size"]), failures, warn, timing)
    rows = [r for r in rows if r["accel"] is not None]
    for r in rows:
        counts[r["source"]]["rows"] += 1
    t0 = time.perf_counter()
    data = _parquet_bytes(rows)
    timing["write_s"] = time.perf_counter() - t0
    timing["total_s"] = time.perf_counter() - t_start
    timing["pid"] = os.getpid()
    return {"index": task["index"], "bytes": data, "rows": len(rows), "clips": clips_done,
            "failures": failures, "skipped": skipped, "warnings": warns, "counts": counts, "unmapped": unmapped,
            "timing": timing}


def _simulate_rows(rows: list, sims: list, batch_size: int, failures: list, warn, timing: dict) -> None:
    """Simulate ``sims`` in batches of one (joint set, arm, roll, rate, cut-off), longest-sorted, padded to
    ``batch_size``; write each result into its row (``accel``, ``gyro``). A batch the simulator refuses is redone
    row by row; a refused row is reported and left without a signal (dropped). ``timing["simulate_s"]`` adds the
    time inside ``imusim_jax.simulate`` (the rest of the shard's time is the builder's and the readers')."""
    groups: dict = {}
    for s in sims:
        e = s[7]
        key = (s[1].joint_set, s[2]["side"], s[6], float(e["rate_hz"]), json.dumps(e["cutoff_hz"]), s[9] is None)
        groups.setdefault(key, []).append(s)
    for key in sorted(groups, key=lambda k: json.dumps(k)):
        # by output length, then frames: neighbouring batches share the simulator's static shapes (its output
        # and frame counts, rounded up to 32), so a worker loads or compiles fewer programs
        rate = key[3]
        group = sorted(groups[key], key=lambda s: (
            int(np.floor((int(s[1].num_frames) - 1) / float(np.asarray(s[1].fps)) * rate + 1e-6)),
            int(s[1].num_frames), s[0]))
        for start in range(0, len(group), batch_size):
            part = group[start:start + batch_size]
            padded = part + [part[-1]] * (batch_size - len(part))
            try:
                outs = _run(padded, key, warn, timing)
            except Exception:  # noqa: BLE001 - redo one by one, report the refused
                outs = []
                for s in part:
                    try:
                        outs.append(_run([s], key, warn, timing)[0])
                    except Exception as e:  # noqa: BLE001
                        msg = _one_line(e)
                        failures.append([s[8], f"{s[8]}: {rows[s[0]]['clip_id']} person {rows[s[0]]['person']}: "
                                                f"{msg}"])
                        outs.append(None)
            for s, out in zip(part, outs):
                if out is not None:
                    rows[s[0]]["accel"], rows[s[0]]["gyro"] = out


def _run(batch: list, key: tuple, warn, timing: dict) -> list:
    """Simulate one batch (rows of one group): ``[(accel, gyro)]`` per row, float64 NumPy."""
    import jax.numpy as jnp

    from imusim_jax import simulate
    from imusim_jax._impact import ImpactModel
    from imusim_jax._mounting import Mount

    joint_set, side, roll, rate, _, off = key
    e = batch[0][7]
    motion = _stack([s[1] for s in batch])
    mount = Mount(jnp.asarray(np.stack([s[3] for s in batch]), jnp.float32),
                  jnp.asarray(np.stack([s[2]["lever_f"] for s in batch]), jnp.float32), side, "dataset")
    noise, keys = None, None
    if any(s[4]["noise"] is not None for s in batch):
        noise = _stacked_noise([s[4]["noise"] for s in batch])
        keys = noise_keys([s[5] for s in batch])
    offsets = np.array([float(s[4]["time_offset_s"]) for s in batch])
    import time

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sig = simulate(motion, mount, noise, key=keys, rate_hz=rate, cutoff_hz=e["cutoff_hz"], roll=roll,
                           time_offset_s=offsets if offsets.any() else 0.0,
                           impact=None if off else ImpactModel.create(np.array([s[9] for s in batch])))
            sig.accel.block_until_ready()
        finally:
            timing["simulate_s"] += time.perf_counter() - t0
    for w in caught:
        clips = getattr(w.message, "clips", None)
        if clips is not None:
            for b, length in zip(clips, w.message.lengths_m):
                if b < len(batch):
                    warn("warning: " + w.message.text(f"{batch[b][8]}: ", length))
        else:
            warn(f"warning: {w.message}")
    out = []
    for one in sig.unbatch(host=True)[:len(batch)]:
        out.append((np.asarray(one.accel, np.float64), np.asarray(one.gyro, np.float64)))
    return out


def _stack(motions: list):
    """``stack_motions``'s batch (each clip padded with its last frame, confidence 0 past its end, its own frame
    rate and length), filled into one preallocated array: rows share motions (variants), so each is copied to
    the host once (``stack_motions`` pads each row's copy with ``np.pad``: a fifth of a batch's time)."""
    from imusim_jax import Motion

    host: dict = {}
    for m in motions:
        if id(m) not in host:
            host[id(m)] = (np.asarray(m.joints), None if m.confidence is None else np.asarray(m.confidence))
    T = max(int(m.num_frames) for m in motions)
    first = host[id(motions[0])][0]
    J = np.empty((len(motions), T) + first.shape[1:], first.dtype)
    has_conf = any(host[id(m)][1] is not None for m in motions)
    C = np.zeros((len(motions), T, first.shape[1])) if has_conf else None
    for b, m in enumerate(motions):
        x, c = host[id(m)]
        n = len(x)
        J[b, :n] = x
        J[b, n:] = x[-1]
        if has_conf:
            C[b, :n] = 1.0 if c is None else c
    fps = np.array([float(np.asarray(m.fps)) for m in motions])
    return Motion.create(J, fps, motions[0].joint_set, confidence=C,
                         lengths=np.array([int(m.num_frames) for m in motions]))


def _parquet_bytes(rows: list) -> bytes:
    """The rows as one Parquet file's bytes, ``_PARQUET``'s options, ``ROW_SCHEMA``'s column order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema()
    cols = {}
    for f in schema:
        if f.name in ("accel", "gyro"):
            offsets = np.zeros(len(rows) + 1, np.int32)
            offsets[1:] = np.cumsum([len(r[f.name]) for r in rows])
            flat = np.concatenate([np.asarray(r[f.name], np.float64).reshape(-1) for r in rows]) if rows else \
                np.zeros(0)
            inner = pa.ListArray.from_arrays(pa.array(np.arange(0, len(flat) + 1, 3, dtype=np.int32)),
                                             pa.array(flat, pa.float64()))
            cols[f.name] = pa.ListArray.from_arrays(pa.array(offsets), inner)
        elif f.name == "num_samples":
            cols[f.name] = pa.array([len(r["accel"]) for r in rows], pa.int64())
        else:
            cols[f.name] = pa.array([r[f.name] for r in rows], f.type)
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
            "units": "accel: m/s^2 (specific force), gyro: rad/s; sensor frame; rate_hz: Hz"}
    table = pa.Table.from_arrays([cols[f.name] for f in schema], schema=schema.with_metadata(meta))
    buf = _io.BytesIO()
    pq.write_table(table, buf, row_group_size=_ROW_GROUP, **_PARQUET)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------------------------------------------

def _init_worker(x64: bool, cache_dir: Optional[str]) -> None:
    """A worker process's settings, before its first computation: one CPU thread for the simulator's batches
    (``IMUSIM_CPU_THREADS=1``) and for XLA (processes are the parallelism; a batch's result then does not depend on
    the machine's core count), the parent's precision, and its persistent compilation cache."""
    os.environ["IMUSIM_CPU_THREADS"] = "1"
    flags = os.environ.get("XLA_FLAGS", "")
    if "intra_op_parallelism_threads" not in flags:
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                                   "intra_op_parallelism_threads=1").strip()
    import jax

    jax.config.update("jax_enable_x64", bool(x64))
    if cache_dir:
        try:
            jax.config.update("jax_compilation_cache_dir", cache_dir)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
        except Exception:  # noqa: BLE001 - run without the cache
            pass


def _worker_shard(task: dict, x64: bool, cache_dir: Optional[str]) -> dict:
    _init_worker(x64, cache_dir)
    return build_shard(task)


def _parent_settings() -> tuple[bool, Optional[str]]:
    import jax

    x64 = bool(jax.config.jax_enable_x64)
    cache = getattr(jax.config, "jax_compilation_cache_dir", None)
    return x64, cache or None


def _run_local(tasks: list, workers: int, settings: tuple, on_result: Callable) -> None:
    import concurrent.futures as cf
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=max(1, min(workers, len(tasks))), mp_context=ctx,
                                initializer=_init_worker, initargs=settings) as pool:
        futures = {pool.submit(build_shard, t): t["index"] for t in tasks}
        for f in cf.as_completed(futures):
            try:
                on_result(f.result())
            except cf.process.BrokenProcessPool:
                raise InputError("a worker process died (out of memory?): rerun to resume, or use fewer --workers")
            except InputError:
                raise
            except Exception as e:  # noqa: BLE001 - a shard's bug is that shard's: reported, retried on a rerun
                on_result({"index": futures[f], "error": _one_line(e)})


def _run_ray(tasks: list, workers: int, settings: tuple, on_result: Callable, address: Optional[str]) -> None:
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray needs ray: pip install 'imusim-jax[ray]' (ray's plain package)") from None
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        else:
            ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=1)(_worker_shard)
        pending = {remote.remote(t, *settings): t["index"] for t in tasks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                index = pending.pop(ref)
                try:
                    on_result(ray.get(ref))
                except InputError:
                    raise
                except Exception as e:  # noqa: BLE001
                    on_result({"index": index, "error": _one_line(e)})
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------------------------------------------------------
# Files: the plan, the ledger, shards
# ---------------------------------------------------------------------------------------------------------------

def _fsync_dir(d: str) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomic(path: str, data: bytes) -> None:
    """``data`` to ``path``: a temporary file beside it (``.tmp-*``), fsync, rename, fsync of the folder."""
    from imusim_jax.io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=False, default=_json_default) + "\n").encode("utf-8")


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _read_ledger(path: str) -> dict:
    """The ledger's last record per shard index; a torn or unparsable line (a killed append) is ignored."""
    out: dict = {}
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        for line in f:
            try:
                rec = json.loads(line)
                out[int(rec["shard"])] = rec
            except (ValueError, KeyError, TypeError):
                continue
    return out


def _end_line(path: str) -> None:
    """End a torn last line (an append a kill cut short) so that the next record starts a line of its own."""
    if os.path.exists(path) and os.path.getsize(path):
        with open(path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")


def _append_ledger(path: str, rec: dict) -> None:
    line = json.dumps(rec, separators=(",", ":"), default=_json_default) + "\n"
    with open(path, "ab") as f:
        f.write(line.encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())


def _sha256_file(path: str) -> Optional[str]:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return None
    return h.hexdigest()


def shard_name(i: int) -> str:
    return f"part-{i:05d}.parquet"


def _options_record(manifest: dict) -> dict:
    """What makes the shards' bytes: the resolved manifest, the library, precision and Parquet writer."""
    import jax
    import pyarrow

    from imusim_jax import __version__

    srcs = [{k: v for k, v in e.items()} for e in manifest["sources"]]
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "imusim_jax": __version__,
            "pyarrow": pyarrow.__version__, "jax": jax.__version__,
            "dtype": "float64" if jax.config.jax_enable_x64 else "float32",
            "globals": dict(manifest["globals"]), "sources": srcs}


def build_dataset(manifest: dict | str | os.PathLike, out_dir: str | os.PathLike, *, workers: Optional[int] = None,
                  engine: str = "local", seed: Optional[int] = None, overwrite: bool = False,
                  ray_address: Optional[str] = None, progress: bool = True,
                  warn: Optional[Callable[[str], None]] = None) -> BuildReport:
    """Build (or resume) the dataset of ``manifest`` (a path or ``resolve_manifest``'s result) in ``out_dir``.

    Args:
      workers: processes (local) or Ray CPUs (a local Ray instance); default: the usable cores.
      engine: ``local`` or ``ray``.
      seed: overrides the manifest's seed (a path manifest only).
      overwrite: rebuild everything (a folder built with other options is otherwise refused).
      ray_address: an existing Ray cluster's address (``ray.init(address=...)``); default a local instance.
      progress: a progress bar over clips on stderr (when it is a terminal).
      warn: receives one-line warnings and per-file errors (default: stderr).
    Returns a ``BuildReport``; ``failed`` lists the files that were reported and skipped. Raises ``InputError``
    (one line) for a bad manifest or an output folder it may not use, before any shard is built.
    """
    from tqdm.auto import tqdm

    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    if engine not in ("local", "ray"):
        raise InputError(f"engine must be local or ray, got {engine!r}")
    if not isinstance(manifest, dict):
        manifest = load_manifest(manifest, seed=seed)
    elif seed is not None:
        raise InputError("seed= goes with a manifest path; set it in the resolved manifest's globals")
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if int(workers) < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    out_dir = os.fspath(out_dir)
    options = _options_record(manifest)
    options_digest = _digest(options)
    build_dir, shard_dir = os.path.join(out_dir, _BUILD), os.path.join(out_dir, SHARDS)
    plan_path, ledger_path = os.path.join(build_dir, _PLAN), os.path.join(build_dir, _LEDGER)
    _check_out_dir(out_dir, options_digest, overwrite, options)
    shards = plan_shards(manifest, warn=warn)
    if not shards:
        raise InputError("the manifest's sources hold no clip (after include/exclude)")
    os.makedirs(shard_dir, exist_ok=True)
    os.makedirs(build_dir, exist_ok=True)
    stale = remove_temporaries(out_dir)   # what a killed run left (shards/, _build/, the folder)
    if stale:
        warn(f"warning: removed {stale} temporary file(s) an interrupted run left in {out_dir}")
    inputs = [_digest([[n, r["clip_id"], r["path"], _stamp(r["path"])] for n, r in s]) for s in shards]
    plan = {"written_by": "imusim-jax build-dataset", "options_digest": options_digest, "options": options,
            "shards": [{"file": shard_name(i), "clips": len(s), "inputs": inputs[i]} for i, s in enumerate(shards)]}
    _write_atomic(plan_path, _json_bytes(plan))
    if overwrite and os.path.exists(ledger_path):
        os.remove(ledger_path)
    ledger = _read_ledger(ledger_path)
    _end_line(ledger_path)
    planned = {shard_name(i) for i in range(len(shards))}
    for name in os.listdir(shard_dir):  # shard files of an earlier plan (other inputs): not this dataset's
        if name.endswith(".parquet") and name not in planned:
            os.remove(os.path.join(shard_dir, name))
    report = BuildReport(out_dir=out_dir)
    todo = []
    for i in range(len(shards)):
        path = os.path.join(shard_dir, shard_name(i))
        rec = ledger.get(i)
        ok = (rec is not None and not overwrite and rec.get("inputs") == inputs[i] and os.path.exists(path)
              and os.path.getsize(path) == rec.get("bytes") and _sha256_file(path) == rec.get("sha256"))
        if ok:
            report.skipped.append(path)
        else:
            ledger.pop(i, None)
            todo.append(i)
    sources = {e["name"]: e for e in manifest["sources"]}
    tasks = [{"index": i, "clips": shards[i], "sources": sources, "globals": manifest["globals"]} for i in todo]
    total = sum(len(s) for s in shards)
    bar = tqdm(total=total, initial=total - sum(len(shards[i]) for i in todo), unit="clip", desc="build-dataset",
               disable=None if progress else True, smoothing=0.1)
    errors = []

    def on_result(res: dict) -> None:
        i = res["index"]
        if "error" in res:
            errors.append((i, res["error"]))
            warn(f"error: shard {shard_name(i)}: {res['error']}")
            bar.update(len(shards[i]))
            return
        path = os.path.join(shard_dir, shard_name(i))
        data = res.pop("bytes")
        _write_atomic(path, data)
        rec = {"shard": i, "file": shard_name(i), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
               "inputs": inputs[i], **res}
        _append_ledger(ledger_path, rec)
        ledger[i] = rec
        report.written.append(path)
        for path_, msg in res["failures"]:
            warn(f"error: {msg}")
        for msg in res["warnings"]:
            warn(msg if msg.startswith("warning:") else f"warning: {msg}")
        bar.update(len(shards[i]))

    try:
        if tasks:
            settings = _parent_settings()
            if engine == "local":
                _run_local(tasks, int(workers), settings, on_result)
            else:
                _run_ray(tasks, int(workers), settings, on_result, ray_address)
    finally:
        bar.close()
    summary = _summary(manifest, options, ledger, len(shards), errors)
    _write_atomic(os.path.join(out_dir, DATASET_JSON), _json_bytes(summary))
    report.failed = [tuple(f) for f in summary["failures"]] + [(f"shard {shard_name(i)}", e) for i, e in errors]
    report.rows, report.clips = summary["rows"], summary["clips"]
    return report


def _check_out_dir(out_dir: str, digest: str, overwrite: bool, now: dict) -> None:
    """Refuse, in one line, a folder that holds something else or a dataset built with other options; with
    ``overwrite``, remove this command's files (never anything else)."""
    import shutil

    from imusim_jax.io import check_writable

    check_writable(os.path.join(out_dir, DATASET_JSON))
    if not os.path.isdir(out_dir) or not os.listdir(out_dir):
        return
    plan_path = os.path.join(out_dir, _BUILD, _PLAN)
    ours = os.path.exists(plan_path)
    if not ours:
        theirs = sorted(set(os.listdir(out_dir)) - {SHARDS, _BUILD, DATASET_JSON})
        full = [d for d in (SHARDS, _BUILD) if os.path.isdir(os.path.join(out_dir, d))
                and os.listdir(os.path.join(out_dir, d))]  # empty ones: a run killed before its plan was written
        if theirs or full:
            theirs = theirs or full
            raise InputError(f"{out_dir} holds files this command did not make ({theirs[0]}); "
                             "choose an empty or new folder")
        return
    if overwrite:
        for sub in (SHARDS, _BUILD):
            shutil.rmtree(os.path.join(out_dir, sub), ignore_errors=True)
        if os.path.exists(os.path.join(out_dir, DATASET_JSON)):
            os.remove(os.path.join(out_dir, DATASET_JSON))
        return
    try:
        with open(plan_path) as f:
            old = json.load(f)
    except (OSError, ValueError):
        return  # a torn plan (killed while writing it is not possible: atomic) - rebuilt below
    if old.get("options_digest") != digest:
        raise InputError(f"{out_dir} holds a dataset built with other options{_what_changed(old.get('options', {}), now)}"
                         "; pass --overwrite to rebuild it, or choose another folder")


def _what_changed(before: dict, now: dict) -> str:
    """`` (seed 0, now 1)``: the first option that differs, in words."""
    for k in ("imusim_jax", "dtype", "pyarrow", "jax"):
        if before.get(k) != now.get(k):
            return f" ({k} {before.get(k)!r}, now {now.get(k)!r})"
    bg, ng = before.get("globals", {}), now.get("globals", {})
    for k in sorted(set(bg) | set(ng)):
        if bg.get(k) != ng.get(k):
            return f" ({k} {json.dumps(bg.get(k))[:40]}, now {json.dumps(ng.get(k))[:40]})"
    bs = {s.get("name"): s for s in before.get("sources", [])}
    ns = {s.get("name"): s for s in now.get("sources", [])}
    for name in sorted(set(bs) | set(ns)):
        if bs.get(name) != ns.get(name):
            return f" (source {name!r})"
    return ""


def _summary(manifest: dict, options: dict, ledger: dict, n_shards: int, errors: list) -> dict:
    """``dataset.json``: the resolved manifest, counts per source, unmapped classes, failures, skipped persons,
    warnings and the shards, from the ledger (so a resumed build reports every shard, old and new)."""
    from imusim_jax.datasets import taxonomy

    counts: dict = {}
    unmapped: dict = {}
    failures, skipped, warns, shard_list = [], [], [], []
    rows = clips = 0
    for i in range(n_shards):
        rec = ledger.get(i)
        if rec is None:
            continue
        shard_list.append({"file": f"{SHARDS}/{rec['file']}", "rows": rec["rows"], "clips": rec["clips"],
                           "bytes": rec["bytes"], "sha256": rec["sha256"]})
        rows += rec["rows"]
        clips += rec["clips"]
        for name, c in rec["counts"].items():
            tot = counts.setdefault(name, {})
            for k, v in c.items():
                tot[k] = tot.get(k, 0) + v
        for name, m in rec["unmapped"].items():
            for lab, n in m.items():
                unmapped.setdefault(name, {}).setdefault(lab, 0)
                unmapped[name][lab] += n
        failures += rec["failures"]
        skipped += rec["skipped"]
        warns += [w for w in rec["warnings"] if w not in warns]
    per_source = []
    for e in manifest["sources"]:
        tax = e.get("taxonomy")
        per_source.append({
            "name": e["name"], "type": e["type"], "signal": e["signal"], "taxonomy": tax,
            **counts.get(e["name"], {"clips": 0, "rows": 0}),
            "unmapped_seen": dict(sorted(unmapped.get(e["name"], {}).items())),
            "unmapped_policy": e["unmapped"],
            "taxonomy_unmapped_classes": list(taxonomy.label_map(tax).unmapped) if tax else None,
        })
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "name": manifest["name"],
            "description": manifest.get("description"), "imusim_jax": options["imusim_jax"],
            "dtype": options["dtype"], "complete": not errors and len(shard_list) == n_shards,
            "rows": rows, "clips": clips, "shards": shard_list,
            "schema": [{"column": c, "type": t, "meaning": m} for c, t, m in ROW_SCHEMA],
            "sources": per_source, "failures": failures, "skipped_persons": skipped, "warnings": warns,
            "manifest": {"globals": manifest["globals"], "sources": manifest["sources"]}}
