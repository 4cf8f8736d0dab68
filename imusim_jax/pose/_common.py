"""Small helpers the Stage 1 backends share: a progress bar over a video's frames, model file checksums."""
from __future__ import annotations

import os
from typing import Optional


def progress(iterable, total: int, desc: str, enabled: bool):
    """``iterable`` with a tqdm progress bar on stderr (frames) when ``enabled``."""
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="frame", leave=False, disable=None)


def sha256(path) -> Optional[str]:
    """SHA-256 of a model file, or ``None`` when there is no such file."""
    if path is None or not os.path.isfile(path):
        return None
    from imusim_jax.weights import sha256_file

    return sha256_file(path)
