"""Many motion files in, one IMU file out per clip: the batched simulator from the command line
(``imusim-jax batch``) or from Python (``simulate_files``).

Inputs are files or folders (searched recursively for every registered motion format:
``imusim_jax.io.motion_patterns()``). A clip's output goes to ``OUT_DIR`` at its input's path relative to the
inputs' common folder (a folder argument counts as itself, a file as the folder it is in: ``batch data/ -o out``
writes ``data/a/x.npz`` to ``out/a/x.csv``), with the output format's extension; a file holding a batch of clips
(``joints`` ``(B, T, J, 3)``) gives ``<name>_<i>`` per clip. Files are simulated ``batch_size`` at a time
(grouped by joint set, padded to a fixed batch size so that every batch reuses one compiled simulator per length
bucket), and each output is written atomically.

Resuming: ``OUT_DIR/imusim_batch.json`` records the options and library version of the run and, per output, the
input it came from (size and modification time). A rerun with the same options skips the outputs whose input is
unchanged and redoes the rest; a rerun with other options, or into a folder whose outputs it did not make, is
refused in one line (``overwrite`` redoes everything). Temporary files an interrupted run left are removed.
A file that cannot be read, or a clip that cannot be simulated, is reported in one line and the others go on.

Noise keys: clip ``name`` (its output path relative to ``OUT_DIR``, without the extension, ``/``-separated)
gets ``jax.random.fold_in(jax.random.key(seed), crc32(name))``, so its noise does not depend on which other
files were in the run or in its batch.
"""
from __future__ import annotations

import dataclasses
import json
import os
import warnings
import zlib
from typing import Callable, Optional, Sequence

import numpy as np

from imusim_jax._constants import DEFAULT_RATE_HZ
from imusim_jax._errors import InputError
from imusim_jax.io.files import remove_temporaries

__all__ = ["find_inputs", "clip_key", "clip_keys", "simulate_files", "BatchReport", "MANIFEST", "failure_reason",
           "failure_line"]

MANIFEST = "imusim_batch.json"
"""The file in ``OUT_DIR`` that records how its outputs were made (see the module docstring)."""


@dataclasses.dataclass
class BatchReport:
    """What ``simulate_files`` did: outputs written, skipped (made before with the same options from the same
    input) and inputs that failed (``(path, one-line reason)``)."""

    written: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)


def find_inputs(paths: Sequence[str | os.PathLike]) -> list[tuple[str, str]]:
    """``(path, name)`` for every motion file in ``paths`` (files as given, folders searched recursively for the
    registered motion formats), sorted; ``name`` is the path relative to the inputs' common folder (a folder
    argument counts as itself, a file as its folder) without its extension. Raises ``InputError`` for a path
    that does not exist or when nothing is found."""
    from imusim_jax.io import find_files

    files = find_files(paths, "motion")
    roots = [os.path.abspath(p) if os.path.isdir(p) else os.path.dirname(os.path.abspath(p))
             for p in map(os.fspath, paths)]  # a folder argument counts as itself, a file as its folder
    base = os.path.commonpath(roots)
    return [(f, os.path.splitext(os.path.relpath(f, base))[0].replace(os.sep, "/")) for f in files]


def clip_keys(seed: int, names: Sequence[str]):
    """The noise keys ``(len(names),)`` of clips ``names``: ``fold_in(key(seed), crc32(name))`` each (see the
    module docstring), in one call."""
    import jax
    import jax.numpy as jnp

    codes = jnp.asarray([zlib.crc32(n.encode("utf-8")) & 0x7FFFFFFF for n in names], jnp.uint32)
    return jax.vmap(lambda c: jax.random.fold_in(jax.random.key(seed), c))(codes)


def clip_key(seed: int, name: str):
    """The noise key of clip ``name`` (``clip_keys``)."""
    return clip_keys(seed, [name])[0]


def _stamp(path: str) -> list:
    st = os.stat(path)
    return [int(st.st_size), int(st.st_mtime_ns)]


class _Manifest:
    """``OUT_DIR/imusim_batch.json``: the run's options and, per output (relative path), its input and stamp."""

    def __init__(self, out_dir: str, options: dict, overwrite: bool):
        self.path = os.path.join(out_dir, MANIFEST)
        self.options = options
        self.outputs: dict = {}
        old = None
        if os.path.exists(self.path):
            try:
                with open(self.path) as f:
                    old = json.load(f)
            except (OSError, ValueError) as e:
                raise InputError(f"cannot read {self.path}: {e}; remove it or pass --overwrite".splitlines()[0]) \
                    from None
        if old is not None and not overwrite:
            before = old.get("options", {})
            changed = [k for k in sorted(set(before) | set(options)) if before.get(k) != options.get(k)]
            if changed:
                what = ", ".join(f"{k} {before.get(k)!r} (now {options.get(k)!r})" for k in changed[:3])
                raise InputError(f"{out_dir} holds outputs made with other options: {what}; pass --overwrite to "
                                 "redo them, or choose another --out-dir")
            self.outputs = dict(old.get("outputs", {}))

    def done(self, rel: str, out: str, path: str) -> bool:
        """Whether output ``rel`` exists and was made from ``path`` as it is now (with these options)."""
        rec = self.outputs.get(rel)
        return rec is not None and os.path.exists(out) and rec.get("input") == path and rec.get("stamp") == \
            _stamp(path)

    def foreign(self, rel: str, out: str) -> bool:
        """Whether ``out`` exists but this folder's record does not say it made it."""
        return os.path.exists(out) and rel not in self.outputs

    def record(self, rel: str, path: str) -> None:
        self.outputs[rel] = {"input": path, "stamp": _stamp(path)}

    def save(self) -> None:
        from imusim_jax.io import atomic_path

        with atomic_path(self.path) as tmp:
            with open(tmp, "w") as f:
                json.dump({"written_by": "imusim-jax batch", "options": self.options, "outputs": self.outputs}, f,
                          indent=1)


def simulate_files(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *, mount="watch-left",
                   noise=None, noise_name: Optional[str] = None, seed: int = 0, rate_hz: float = DEFAULT_RATE_HZ,
                   cutoff_hz="auto", time_offset_s: float = 0.0, impact="on", fps: Optional[float] = None,
                   joint_set: Optional[str] = None,
                   roll: str = "auto", fmt: str = "csv", batch_size: int = 256, overwrite: bool = False,
                   progress: bool = True, warn: Optional[Callable[[str], None]] = None) -> BatchReport:
    """Simulate every motion file in ``inputs`` and write one ``OUT_DIR/<name>.<fmt>`` per clip.

    Args mirror ``imusim_jax.simulate`` (``mount`` a preset name, profile or ``Mount``, ``noise`` a preset,
    ``time_offset_s`` a sensor profile's clock offset,
    profile path or ``ImuNoise``; ``noise_name`` how to record it, default its name) and ``load_motion`` (``fps``,
    ``joint_set`` override the files'); ``fmt`` is ``csv``, ``npz`` or ``parquet``
    (``imusim_jax.io.write_signal``); ``batch_size`` files are read and simulated at a time; ``overwrite`` redoes
    every output; ``warn`` receives one-line warnings and per-file errors (default: stderr). Returns a
    ``BatchReport``. Raises ``InputError`` before anything is simulated for bad options, no inputs, or an
    ``out_dir`` whose outputs were made with other options (see the module docstring).
    """
    import sys

    import jax
    from tqdm.auto import tqdm

    from imusim_jax import __version__, get_mount, get_noise, load_motion, simulate, stack_motions
    from imusim_jax import io as iio
    from imusim_jax._cutoff import cutoff_arg
    from imusim_jax._impact import impact_label

    fmt = fmt.lower().lstrip(".")
    if fmt not in ("csv", "npz", "parquet"):
        raise InputError(f"format must be csv, npz or parquet, got {fmt!r}")
    if int(batch_size) < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    m = get_mount(mount)
    noise_model = get_noise(noise)  # bad noise names fail before any file is read
    noise_label = noise_name or (noise if isinstance(noise, str) else ("none" if noise is None else noise.name))
    cutoff_hz = cutoff_arg(cutoff_hz)
    out_dir = os.fspath(out_dir)
    files = find_inputs(inputs)
    options = {"mount": m.to_dict(), "noise": noise_label,
               "noise_model": None if noise_model is None else json.loads(_noise_json(noise_model)),
               "seed": int(seed), "rate_hz": float(rate_hz), "cutoff_hz": cutoff_hz, "roll": roll,
               "time_offset_s": float(time_offset_s), "impact": impact_label(impact),
               "fps": None if fps is None else float(fps), "joint_set": joint_set, "format": fmt,
               "dtype": str(np.dtype(jax.dtypes.canonicalize_dtype(np.float64))), "imusim_jax": __version__}
    options = json.loads(json.dumps(options))  # as the record will read back
    manifest = _Manifest(out_dir, options, overwrite)
    if not overwrite:  # outputs this folder's record did not make: refused before anything runs
        for path, name in files:
            out = os.path.join(out_dir, *name.split("/")) + "." + fmt
            if manifest.foreign(name + "." + fmt, out):
                raise InputError(f"{out} exists and {os.path.join(out_dir, MANIFEST)} does not say this command "
                                 "made it: pass --overwrite to replace it, or choose another --out-dir")
    stale = remove_temporaries(out_dir, ("." + fmt, ".json")) if os.path.isdir(out_dir) else 0
    if stale:
        warn(f"warning: removed {stale} temporary file(s) an interrupted run left in {out_dir}")
    report = BatchReport()
    meta = {"mount": m.name, "noise": noise_label, "seed": int(seed), "rate_hz": float(rate_hz)}

    def run(members):  # [(name, output, Motion, input path)] -> one batched ImuSignal; forearm warnings by file
        keys = clip_keys(seed, [c[0] for c in members]) if noise_model is not None else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            signal = simulate(stack_motions([c[2] for c in members]), m, noise_model, key=keys, rate_hz=rate_hz,
                              cutoff_hz=cutoff_hz, roll=roll, time_offset_s=time_offset_s, impact=impact)
        for w in caught:
            clips = getattr(w.message, "clips", None)
            if clips is not None:
                seen = set()
                for b, length in zip(clips, w.message.lengths_m):
                    if b < len(members) and members[b][3] not in seen:
                        seen.add(members[b][3])
                        warn("warning: " + w.message.text(os.path.basename(members[b][3]) + ": ", length))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return signal

    def write(members, signal):  # members may be fewer than the signal's clips (its padding is not written)
        for (name, out, _, path), one in zip(members, signal.unbatch(host=True)):
            iio.write_signal(one, out, clip=name, **meta)
            manifest.record(os.path.relpath(out, out_dir).replace(os.sep, "/"), path)
            report.written.append(out)

    def fail(path, e):
        msg = failure_reason(e)
        report.failed.append((path, msg))
        warn(failure_line(path, msg))

    # disable=None: no bar when stderr is not a terminal
    bar = tqdm(total=len(files), unit="file", desc="simulate", disable=None if progress else True)
    try:
        for start in range(0, len(files), batch_size):
            clips = []  # (name, output path, Motion, input path)
            for path, name in files[start:start + batch_size]:
                try:
                    motion = load_motion(path, fps=fps, joint_set=joint_set)
                except Exception as e:  # noqa: BLE001 - a file's failure stays that file's
                    fail(path, e)
                    continue
                parts = motion.unbatch() if motion.batched else [motion]
                for i, clip in enumerate(parts):
                    clip_name = f"{name}_{i:04d}" if motion.batched else name
                    out = os.path.join(out_dir, *clip_name.split("/")) + "." + fmt
                    rel = clip_name + "." + fmt
                    if not overwrite and manifest.done(rel, out, path):
                        report.skipped.append(out)
                        continue
                    if not overwrite and manifest.foreign(rel, out):
                        raise InputError(f"{out} exists and {os.path.join(out_dir, MANIFEST)} does not say this "
                                         "command made it: pass --overwrite to replace it, or choose another "
                                         "--out-dir")
                    clips.append((clip_name, out, clip, path))
            groups: dict = {}
            for c in clips:
                groups.setdefault(c[2].joint_set, []).append(c)
            for group in groups.values():
                # a run of several batches pads each to the batch size (the last clip repeated), so that they
                # share one compilation per length bucket
                padded = group + [group[-1]] * (batch_size - len(group)) if len(files) > batch_size else group
                try:
                    signal = run(padded)
                except Exception:  # noqa: BLE001 - a clip the simulator refuses: one by one, the refused reported
                    for c in group:
                        try:
                            one = run([c])
                        except Exception as e:  # noqa: BLE001
                            fail(c[3], e)
                            continue
                        write([c], one)
                    continue
                write(group, signal)
            if clips:
                manifest.save()
            bar.update(len(files[start:start + batch_size]))
    finally:
        bar.close()
    return report


def failure_reason(e: BaseException) -> str:
    """One line saying why an input failed: an ``InputError``'s message, else the exception's type and first
    line."""
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return msg if isinstance(e, InputError) else f"{type(e).__name__}: {msg}"


def failure_line(path: str, reason: str) -> str:
    """The line a many-file job prints for a failed input: ``error: <path>: <reason>`` (the path once)."""
    return f"error: {reason}" if path in reason else f"error: {path}: {reason}"


def _noise_json(noise) -> str:
    from imusim_jax._noise import noise_profile_json

    return noise_profile_json(noise)
