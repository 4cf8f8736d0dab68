"""Host-side helpers for running compiled work on a CPU: thread counts, one shared thread pool, shape buckets."""
from __future__ import annotations

import concurrent.futures
import os

__all__ = ["cpu_threads", "thread_pool", "bucket"]


def cpu_threads() -> int:
    """Threads that run parts of a CPU batch at once: ``$IMUSIM_CPU_THREADS``, else the usable cores (at most 8)."""
    env = os.environ.get("IMUSIM_CPU_THREADS")
    if env:
        return max(1, int(env))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 8))


_POOL: list = []  # [(threads, ThreadPoolExecutor)]: one pool, kept between calls
if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads: it starts its own pool
    os.register_at_fork(after_in_child=_POOL.clear)


def thread_pool(threads: int) -> concurrent.futures.ThreadPoolExecutor:
    """The process's one pool of ``threads`` threads (made again when another count is asked for)."""
    if not _POOL or _POOL[0][0] != threads:
        if _POOL:
            _POOL.pop()[1].shutdown(wait=False)
        _POOL.append((threads, concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="imusim-jax")))
    return _POOL[0][1]


def bucket(n: int, step: int) -> int:
    """``n`` rounded up to a multiple of ``step`` (static sizes shared by clips of similar length)."""
    return int(-(-n // step) * step)
