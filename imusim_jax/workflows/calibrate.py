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
from typing import Sequence

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
