"""File helpers every reader and writer shares: atomic writes, a writability check before long work, the
``.npz`` magic check, a commented CSV table, and a sampling rate from a time column."""
from __future__ import annotations

import csv
import io as _io
import os
import re
import tempfile
from typing import Optional

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._motion import MAX_FPS, MIN_FPS

__all__ = ["atomic_path", "remove_temporaries", "check_writable", "check_npz_magic", "read_csv_table", "read_text",
           "comment_lines", "is_number", "rate_from_time"]


_TMP_PREFIX = ".tmp-"


class atomic_path:
    """Context manager yielding a temporary path beside ``path``; renamed onto ``path`` on success only. A failure
    to write (a read-only or missing folder that cannot be made, a full disk) is an ``InputError`` naming
    ``path``, not the temporary file."""

    def __init__(self, path: str | os.PathLike, suffix: Optional[str] = None):
        self.path = os.fspath(path)
        self.suffix = suffix if suffix is not None else os.path.splitext(self.path)[1]

    def __enter__(self) -> str:
        d = os.path.dirname(os.path.abspath(self.path))
        self.tmp = None
        try:
            if os.path.isdir(self.path):
                raise IsADirectoryError(21, "it is a directory")
            os.makedirs(d, exist_ok=True)
            fd, self.tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=self.suffix, dir=d)
            os.close(fd)
        except OSError as e:
            raise _write_error(self.path, e) from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                mask = os.umask(0)  # mkstemp makes the file 0600; give it what open() would (0666 less the umask)
                os.umask(mask)
                os.chmod(self.tmp, 0o666 & ~mask)
                os.replace(self.tmp, self.path)
                return False
            if os.path.exists(self.tmp):
                os.remove(self.tmp)
        except OSError as e:
            raise _write_error(self.path, e) from None
        if isinstance(exc, OSError):
            raise _write_error(self.path, exc) from None
        return False


def remove_temporaries(folder: str | os.PathLike, suffixes: Optional[tuple[str, ...]] = None) -> int:
    """Delete the temporary files ``atomic_path`` makes (``.tmp-*``, ending in one of ``suffixes`` when given) below
    ``folder``: an interrupted write leaves no half file, but a killed process cannot remove its temporary. Returns
    how many were removed."""
    n = 0
    for root, _, names in os.walk(os.fspath(folder)):
        for name in names:
            if name.startswith(_TMP_PREFIX) and (suffixes is None or name.endswith(suffixes)):
                try:
                    os.remove(os.path.join(root, name))
                    n += 1
                except OSError:
                    pass
    return n


def _write_error(path: str, e: OSError) -> InputError:
    if isinstance(e, FileExistsError) and e.filename:  # os.makedirs met a file where a folder goes
        return InputError(f"cannot write {path}: {e.filename} is a file, not a folder")
    return InputError(f"cannot write {path}: {e.strerror or e}")


def check_writable(path: str | os.PathLike) -> None:
    """Raise ``InputError`` (one line) if ``path`` could not be written: it is a folder, or its nearest existing
    folder is a file or not writable. Run before a long computation, so that it fails at once."""
    shown = os.fspath(path)
    path = os.path.abspath(shown)
    if os.path.isdir(path):
        raise InputError(f"cannot write {shown}: it is a directory")
    d = os.path.dirname(path)
    while not os.path.exists(d) and os.path.dirname(d) != d:
        d = os.path.dirname(d)
    if not os.path.isdir(d):
        raise InputError(f"cannot write {shown}: {os.path.relpath(d)} is a file, not a folder")
    if not os.access(d, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {shown}: {os.path.relpath(d)} is not writable")


def check_npz_magic(path: str, arrays: str) -> None:
    """Refuse a file that is not a zip archive before ``np.load`` tries, whose next guess is unpickling (its error
    speaks of pickled data): one line saying what the file is, and how to write it (``arrays``, e.g.
    ``"joints=..., fps=..."``)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    if not magic.startswith(b"PK"):
        what = "a single .npy array" if magic == b"\x93NUMPY" else ("empty" if not magic else "not a zip archive")
        raise InputError(f"cannot read {path} as .npz: the file is {what}; write it with np.savez(path, {arrays})")


_COMMENT_KV = re.compile(r"#\s*([A-Za-z_]+)\s*[=:]\s*(\S+)")


def read_text(path: str) -> str:
    """A text file's contents (UTF-8, a byte-order mark dropped); one-line ``InputError`` if it cannot be read."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path}: not a text (UTF-8) CSV file") from None


def comment_lines(text: str) -> tuple[dict[str, str], list[str]]:
    """``# key = value`` comment lines as ``{key: value}`` (keys lower-cased), and the other non-empty lines."""
    meta, lines = {}, []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            m = _COMMENT_KV.match(line.strip())
            if m:
                meta[m.group(1).lower()] = m.group(2)
        elif line.strip():
            lines.append(line)
    return meta, lines


def is_number(s: str) -> bool:
    """``s`` parses as a float."""
    try:
        float(s)
        return True
    except ValueError:
        return False


def read_csv_table(path: str) -> tuple[list[str], np.ndarray, dict[str, str]]:
    meta, lines = comment_lines(read_text(path))
    if len(lines) < 2:
        raise InputError(f"{path} has no data rows")
    rows = list(csv.reader(_io.StringIO("\n".join(lines))))
    header = [h.strip() for h in rows[0]]
    str_cols = {}
    values = []
    for r_i, r in enumerate(rows[1:], start=2):
        if len(r) != len(header):
            raise InputError(f"{path}: row {r_i} has {len(r)} fields, the header has {len(header)}")
        vals = []
        for c, v in zip(header, r):
            try:
                vals.append(float(v) if v.strip() != "" else np.nan)
            except ValueError:
                if c.lower() in ("joint_set",):
                    str_cols[c.lower()] = v.strip()
                    vals.append(np.nan)
                else:
                    raise InputError(f"{path}: row {r_i}, column {c!r}: {v!r} is not a number") from None
        values.append(vals)
    meta.update(str_cols)
    return header, np.array(values, np.float64), meta


def rate_from_time(t: np.ndarray, path: str) -> float:
    """Frame rate from a time column (seconds): the mean step over the whole clip, so that timestamps rounded to
    a few decimals (``%.3f``: 0.033 s for 30 fps, a 1 % error step by step) give the rate to ``resolution /
    duration``; a common rate (a whole number, or an NTSC ``n * 1000 / 1001``) within that uncertainty is taken
    exactly, so that a 120 fps clip's last frame is at its true time and yields the IMU samples its NPZ would."""
    dt = np.diff(t)
    if len(dt) == 0 or not np.all(np.isfinite(dt)) or (dt <= 0).any():
        raise InputError(f"{path}: the time column must increase strictly")
    med = float(np.median(dt))
    if np.max(np.abs(dt - med)) > 0.25 * med:
        raise InputError(f"{path}: time steps vary by more than 25% (resample to a constant rate first)")
    span = float(t[-1] - t[0])
    fps = (len(t) - 1) / span
    # the timestamps' resolution: the coarsest power of ten that all of them are multiples of (1e-9 at most)
    res = next((10.0 ** -k for k in range(10)
                if np.allclose(t * 10 ** k, np.round(t * 10 ** k), rtol=0, atol=1e-6)), 1e-9)
    tol = fps * (res + 4 * np.finfo(np.float64).eps * float(np.abs(t).max())) / span
    if fps < MIN_FPS and MIN_FPS <= fps * 1000 <= MAX_FPS:
        raise InputError(f"{path}: the time column steps by {med:.4g}, {fps:.4g} samples a second: it looks like "
                         f"milliseconds; give it in seconds (or pass the rate: --fps {fps * 1000:.4g})")
    for nice in (round(fps), round(fps * 1.001) / 1.001):
        if nice > 0 and abs(nice - fps) <= tol:
            return float(nice)
    return float(fps)
