"""Many motion files in, one IMU file out per clip: the batched simulator from the command line
(``imusim-jax batch``) or from Python (``simulate_files``).

Inputs are files or directories (searched recursively for ``*.npz``, ``*.csv``, NTU ``*.skeleton`` and UTD-MHAD
``*_skeleton.mat``). Each clip's output goes to ``OUT_DIR`` under the input's path relative to the inputs' common
folder, with the output format's extension; a file holding a batch of clips (``joints`` ``(B, T, J, 3)``) gives
``<name>_<i>`` per clip. Files are simulated ``batch_size`` at a time (grouped by joint set, padded to a fixed
batch size so that every batch reuses one compiled simulator per length bucket), each output is written
atomically, and outputs that exist are skipped unless ``overwrite``: an interrupted run resumes where it stopped.
A file that cannot be read is reported (one line) and the others go on.

Noise keys: clip ``name`` (its output path relative to ``OUT_DIR``, without the extension, ``/``-separated)
gets ``jax.random.fold_in(jax.random.key(seed), crc32(name))``, so its noise does not depend on which other
files were in the run or in its batch.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
import zlib
from typing import Callable, Optional, Sequence

import numpy as np

from imusim_jax._errors import InputError
from imusim_jax._simulate import MAX_FOREARM_M, MIN_FOREARM_M, ForearmWarning, forearm_text

__all__ = ["find_inputs", "clip_key", "clip_keys", "simulate_files", "BatchReport", "MOTION_PATTERNS"]

MOTION_PATTERNS = (".npz", ".csv", ".skeleton", "_skeleton.mat")
"""File name endings a directory search takes as motions (explicitly named files may be any ``load_motion``
format)."""


@dataclasses.dataclass
class BatchReport:
    """What ``simulate_files`` did: outputs written, skipped (they existed) and inputs that failed
    (``(path, one-line reason)``)."""

    written: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    failed: list = dataclasses.field(default_factory=list)


def find_inputs(paths: Sequence[str | os.PathLike]) -> list[tuple[str, str]]:
    """``(path, name)`` for every motion file in ``paths`` (files as given, directories searched recursively
    for ``MOTION_PATTERNS``), sorted; ``name`` is the path relative to the inputs' common folder without its
    extension. Raises ``InputError`` for a path that does not exist or when nothing is found."""
    files = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                files += [os.path.join(root, n) for n in names if n.lower().endswith(MOTION_PATTERNS)]
        elif os.path.isfile(p):
            files.append(p)
        else:
            raise InputError(f"no such file or directory: {p}")
    files = sorted({os.path.abspath(f) for f in files})
    if not files:
        raise InputError("no motion files found (looked for " + ", ".join("*" + e for e in MOTION_PATTERNS) + ")")
    base = os.path.commonpath([os.path.dirname(f) for f in files])
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


def simulate_files(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, *, mount="watch-left",
                   noise=None, noise_name: Optional[str] = None, seed: int = 0, rate_hz: float = 50.0, cutoff_hz="auto", fps: Optional[float] = None,
                   joint_set: Optional[str] = None, roll: str = "auto", fmt: str = "csv", batch_size: int = 256,
                   overwrite: bool = False, progress: bool = True,
                   warn: Optional[Callable[[str], None]] = None) -> BatchReport:
    """Simulate every motion file in ``inputs`` and write one ``OUT_DIR/<name>.<fmt>`` per clip.

    Args mirror ``imusim_jax.simulate`` (``mount`` a preset name or ``Mount``, ``noise`` a preset, profile path or
    ``ImuNoise``) and ``load_motion`` (``fps``, ``joint_set`` override the files'); ``fmt`` is ``csv``, ``npz``
    or ``parquet`` (``imusim_jax.io.write_signal``); ``batch_size`` files are read and simulated at a time;
    ``warn`` receives one-line warnings and per-file errors (default: stderr). Returns a ``BatchReport``.
    """
    import sys

    from tqdm.auto import tqdm

    from imusim_jax import io as iio
    from imusim_jax._motion import load_motion, stack_motions
    from imusim_jax._mounting import get_mount
    from imusim_jax._noise import get_noise
    from imusim_jax._simulate import simulate

    fmt = fmt.lower().lstrip(".")
    if fmt not in ("csv", "npz", "parquet"):
        raise InputError(f"format must be csv, npz or parquet, got {fmt!r}")
    if int(batch_size) < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    m = get_mount(mount)
    noise_model = get_noise(noise)  # bad noise names fail before any file is read
    noise_label = noise_name or (noise if isinstance(noise, str) else ("none" if noise is None else noise.name))
    out_dir = os.fspath(out_dir)
    report = BatchReport()
    files = find_inputs(inputs)

    def run(members):  # (name, output path, Motion, input path) -> one batched ImuSignal
        keys = clip_keys(seed, [c[0] for c in members]) if noise_model is not None else None
        with warnings.catch_warnings():  # each file's forearm is reported below, by name and measured length
            warnings.simplefilter("ignore", ForearmWarning)
            return simulate(stack_motions([c[2] for c in members]), m, noise_model, key=keys, rate_hz=rate_hz,
                            cutoff_hz=cutoff_hz, roll=roll)

    def write(members, signal):  # members may be fewer than the signal's clips (its padding is not written)
        for (name, out, _, _), one in zip(members, signal.unbatch(host=True)):
            os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
            iio.write_signal(one, out, mount=m.name, noise=noise_label, seed=seed, clip=name)
            report.written.append(out)

    # disable=None: no bar when stderr is not a terminal
    bar = tqdm(total=len(files), unit="file", desc="simulate", disable=None if progress else True)
    for start in range(0, len(files), batch_size):
        clips = []  # (name, output path, Motion, input path)
        for path, name in files[start:start + batch_size]:
            try:
                motion = load_motion(path, fps=fps, joint_set=joint_set)
            except InputError as e:
                report.failed.append((path, str(e)))
                warn(f"error: {e}" if path in str(e) else f"error: {path}: {e}")
                continue
            parts = motion.unbatch() if motion.batched else [motion]
            for i, clip in enumerate(parts):
                clip_name = f"{name}_{i:04d}" if motion.batched else name
                out = os.path.join(out_dir, *clip_name.split("/")) + "." + fmt
                if os.path.exists(out) and not overwrite:
                    report.skipped.append(out)
                    continue
                note = forearm_warning(clip, m.side, os.path.basename(path))
                if note:
                    warn(f"warning: {note}")
                clips.append((clip_name, out, clip, path))
        groups: dict = {}
        for c in clips:
            groups.setdefault(c[2].joint_set, []).append(c)
        for group in groups.values():
            # a run of several batches pads each to the batch size (the last clip repeated), so that they share
            # one compilation per length bucket
            padded = group + [group[-1]] * (batch_size - len(group)) if len(files) > batch_size else group
            try:
                signal = run(padded)
            except InputError:  # a clip the simulator refuses: simulate them one by one, report the refused
                for c in group:
                    try:
                        one = run([c])
                    except InputError as e:
                        report.failed.append((c[3], str(e)))
                        warn(f"error: {c[3]}: {e}")
                        continue
                    write([c], one)
                continue
            write(group, signal)
        bar.update(len(files[start:start + batch_size]))
    bar.close()
    return report


def forearm_warning(motion, side: str, label: str) -> Optional[str]:
    """A one-line warning when the forearm (elbow to wrist, on ``side``) of a single clip is degenerate in most
    frames or far longer than a human's (the joints are probably not in metres); ``None`` when it looks human."""
    from imusim_jax._joints import ARM_JOINTS, get_joint_set

    js = get_joint_set(motion.joint_set)
    j = np.asarray(motion.joints)
    names = ARM_JOINTS[side]
    wi, ei = js.index(names["wrist"]), js.index(names["elbow"])
    length = np.linalg.norm(j[:, wi] - j[:, ei], axis=-1)
    if motion.confidence is not None:  # frames where both joints were seen (missing ones are filled, not measured)
        c = np.asarray(motion.confidence)
        seen = (c[:, wi] > 0) & (c[:, ei] > 0)
        if not seen.any():
            return None  # nothing measured: simulate refuses a rig joint missing everywhere, in its own words
        length = length[seen]
    med = float(np.median(length))
    if med < MIN_FOREARM_M:
        return forearm_text(f"{label}: ", side, True, f"{med * 100:.1f} cm long in most frames")
    if med > MAX_FOREARM_M:
        return forearm_text(f"{label}: ", side, False, f"{med:.3g} m long")
    return None


