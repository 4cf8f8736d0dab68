"""Calibration from files: the real recordings (and, for the paired and unpaired modes, the motions) read by
their registered readers, paired where the mode needs pairs, fitted (``imusim_jax.calibrate``) and written as a
``SensorProfile`` (``imusim-jax calibrate``).

Pairing (``pair_files``): a recording and a motion pair up by file stem once the dataset's own suffixes are
removed: every extension (``.csv.gz``, ``.mat``, ...) and a trailing ``_inertial``, ``_skeleton``, ``_accel``,
``_gyro``, ``_imu``, ``_motion`` or ``_watch`` (UTD-MHAD's ``a1_s1_t1_inertial.mat`` with ``a1_s1_t1_skeleton.mat``;
SmartFallMM's ``accelerometer/watch/S31A10T01.csv.gz`` with ``skeleton/S31A10T01.csv.gz``); or they are listed in
a CSV with the columns ``real`` and ``motion`` (paths relative to the CSV's folder, or absolute).
"""
from __future__ import annotations

import csv
import os
import re
from typing import Optional, Sequence

from imusim_jax._errors import InputError

__all__ = ["pair_stem", "pair_files", "read_pairs_csv", "MODES"]

MODES = ("stationary", "paired", "unpaired")

_DATASET_SUFFIXES = re.compile(r"[_-](inertial|skeleton|accel|accelerometer|gyro|gyroscope|imu|motion|watch)$",
                               re.IGNORECASE)


def pair_stem(path: str | os.PathLike) -> str:
    """A file's name without its extensions and its dataset suffix (see the module docstring), lower case."""
    name = os.path.basename(os.fspath(path))
    while True:
        stem, ext = os.path.splitext(name)
        if not ext or not re.fullmatch(r"\.[A-Za-z][A-Za-z0-9]{0,7}", ext):
            break
        name = stem
    return _DATASET_SUFFIXES.sub("", name).lower()


def pair_files(real: Sequence[str], motions: Sequence[str]) -> list[tuple[str, str]]:
    """``(real, motion)`` pairs by ``pair_stem``, in the real files' order. Files without a partner are left out;
    no pair at all, or a stem shared by two files of one side, is a one-line ``InputError``."""
    def by_stem(files, what):
        out: dict = {}
        for f in files:
            s = pair_stem(f)
            if s in out:
                raise InputError(f"two {what} files pair as {s!r}: {out[s]} and {f}; list the pairs in a --pairs CSV")
            out[s] = f
        return out

    r, m = by_stem(real, "real"), by_stem(motions, "motion")
    pairs = [(r[s], m[s]) for s in r if s in m]
    if not pairs:
        raise InputError(f"no real recording pairs with a motion by file name ({len(real)} real, {len(motions)} "
                         f"motion files; e.g. {pair_stem(real[0])!r} and {pair_stem(motions[0])!r}): name them alike "
                         "or list the pairs in a --pairs CSV (columns real,motion)")
    return pairs


def read_pairs_csv(path: str | os.PathLike) -> list[tuple[str, str]]:
    """The ``(real, motion)`` pairs a CSV lists (columns ``real`` and ``motion``; relative paths from the CSV's
    folder)."""
    path = os.fspath(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    if not rows or not {"real", "motion"} <= set(rows[0]):
        raise InputError(f"{path}: a pairs CSV needs the columns real,motion and at least one row")
    base = os.path.dirname(os.path.abspath(path))
    out = []
    for i, row in enumerate(rows, start=2):
        pair = tuple(os.path.join(base, row[k].strip()) for k in ("real", "motion"))
        for p in pair:
            if not os.path.exists(p):
                raise InputError(f"{path}: row {i}: no such file: {p}")
        out.append(pair)
    return out


def calibrate_files(mode: str, real: Sequence[str], *, motion: Optional[Sequence[str]] = None,
                    pairs_csv: Optional[str] = None, format: Optional[str] = None, mount="watch-left",
                    cutoff_hz=None, progress: bool = True, name: Optional[str] = None,
                    fit: Optional[Sequence[str]] = None):
    """Fit a ``SensorProfile`` in ``mode`` (``stationary``, ``paired`` or ``unpaired``) to the recordings in
    ``real`` (files or folders, read by their registered ``imu`` readers, or by ``format``) and, for ``paired``
    and ``unpaired``, the motions in ``motion`` (or the pairs a ``pairs_csv`` lists). ``mount`` is the arm and the
    starting mount; ``cutoff_hz`` the joints' cut-off (``None``: the mode's default: ``"auto"`` for paired, a
    permissive one with a fitted smoothing for unpaired); ``progress`` shows a bar over the optimisation on a
    terminal; ``fit`` the unpaired mode's parameters (``calibrate.unpaired.FIT_PARAMETERS``; default its
    ``DEFAULT_FIT``). Returns ``(profile, data)``: ``data`` holds what was read (``recordings``, ``motions``,
    ``pairs``), for a report's plot."""
    from tqdm.auto import tqdm

    from imusim_jax import calibrate, load_motion
    from imusim_jax.io import find_files, read_recordings

    if mode not in MODES:
        raise InputError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "stationary" and (motion or pairs_csv):
        raise InputError("--mode stationary fits rest recordings alone: drop --motion / --pairs")
    if mode != "stationary" and not (motion or pairs_csv):
        raise InputError(f"--mode {mode} needs the motions: --motion PATH (or --pairs CSV for paired)")
    if fit is not None and mode != "unpaired":
        raise InputError("--fit chooses the unpaired mode's parameters; the other modes fit theirs")
    if mode == "unpaired" and pairs_csv:
        raise InputError("--pairs lists pairs for --mode paired; unpaired takes --motion PATH")
    bar = tqdm(desc=f"calibrate ({mode})", unit="step", disable=None if progress else True)

    def step(n, loss):
        bar.update(n - bar.n)
        bar.set_postfix(loss=f"{loss:.4g}")

    def recordings_of(paths):
        out = []
        for f in paths:
            out += read_recordings(f, format=format)
        return out

    data: dict = {}
    source = {"mode": mode}
    try:
        if mode == "paired":
            if pairs_csv:
                pairs = read_pairs_csv(pairs_csv)
            else:
                pairs = pair_files(find_files(real, "imu", format), find_files(motion, "motion"))
            loaded = []
            for r, m in pairs:
                recs = read_recordings(r, format=format)
                if len(recs) != 1:
                    raise InputError(f"{r} holds {len(recs)} recordings; paired calibration takes files of one "
                                     "recording each (list them in a --pairs CSV)")
                loaded.append((load_motion(m), recs[0]))
            data["pairs"] = loaded
            source["pairs"] = [[r, m] for r, m in pairs]
            profile = calibrate.fit_paired(loaded, mount=mount, cutoff_hz="auto" if cutoff_hz is None else cutoff_hz,
                                           progress=step, name=name, source=source)
        else:
            files = find_files(real, "imu", format)
            data["recordings"] = recordings_of(files)
            source["real"] = files
            if mode == "stationary":
                profile = calibrate.fit_stationary(data["recordings"], progress=step, name=name or "stationary")
            else:
                motion_files = find_files(motion, "motion")
                data["motions"] = [load_motion(f) for f in motion_files]
                source["motions"] = motion_files
                more = {} if fit is None else {"fit": tuple(fit)}
                result = calibrate.fit_unpaired(data["motions"], data["recordings"], mount=mount,
                                                cutoff_hz=cutoff_hz, progress=step, name=name or "unpaired", **more)
                profile, data["unpaired"] = result.profile, result
    finally:
        bar.close()
    profile.source = {**source, **profile.source}
    if name:
        profile.name = name
    return profile, data
