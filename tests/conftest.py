"""Strict test settings (as diffrax's conftest): rank promotion raises, warnings from our code fail tests.

Real recordings are read from ``../shared/realdata`` (or ``$IMUSIM_REALDATA``); tests that need them skip cleanly
when they are absent.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

REPO = pathlib.Path(__file__).resolve().parents[1]


def pytest_configure(config):
    """One XLA compilation cache for the whole run, shared by the xdist workers and every command-line subprocess
    (``$IMUSIM_JAX_CACHE``): a program compiles once per run, never comes from an earlier run's cache, and nothing
    is written to ``~/.cache``. The controller makes the folder; the workers inherit it."""
    if not os.environ.get("IMUSIM_TEST_XLA_CACHE"):
        folder = tempfile.mkdtemp(prefix="imusim-test-xla-")
        os.environ["IMUSIM_TEST_XLA_CACHE"] = folder
        config._imusim_xla_cache = folder
    os.environ["IMUSIM_JAX_CACHE"] = os.environ["IMUSIM_TEST_XLA_CACHE"]
    # the tests in this process use it too: a program one worker compiled, the other loads
    jax.config.update("jax_compilation_cache_dir", os.environ["IMUSIM_TEST_XLA_CACHE"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def pytest_unconfigure(config):
    folder = getattr(config, "_imusim_xla_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


def realdata_dir() -> pathlib.Path | None:
    env = os.environ.get("IMUSIM_REALDATA")
    cand = [pathlib.Path(env)] if env else []
    cand += [REPO.parent / "shared" / "realdata", REPO / ".." / "shared" / "realdata"]
    for c in cand:
        if c.is_dir():
            return c.resolve()
    return None


@pytest.fixture(scope="session")
def realdata() -> pathlib.Path:
    d = realdata_dir()
    if d is None:
        pytest.skip("../shared/realdata is absent")
    return d


@pytest.fixture
def getkey():
    """A fresh, deterministic PRNG key per call: ``k1 = getkey(); k2 = getkey()``."""
    state = {"key": jax.random.key(1234)}

    def _next():
        state["key"], sub = jax.random.split(state["key"])
        return sub

    return _next


@pytest.fixture
def compiles():
    """A context manager that collects the XLA compilations inside it (jax's public ``jax.log_compiles``):
    ``with compiles() as c: ...; assert not c``."""
    import contextlib
    import logging

    @contextlib.contextmanager
    def collect():
        found: list = []

        class _Handler(logging.Handler):
            def emit(self, record):
                msg = record.getMessage()
                if msg.startswith("Compiling "):
                    found.append(msg)

        handler, logger = _Handler(), logging.getLogger("jax")
        logger.addHandler(handler)
        try:
            with jax.log_compiles(True):
                yield found
        finally:
            logger.removeHandler(handler)

    return collect
