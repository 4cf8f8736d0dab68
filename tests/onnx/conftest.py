"""Fixtures for the ONNX Stage 1 tests: the tiny models of ``onnx_weights/export_tiny.py``, exported once per
session into a temporary folder, and the export scripts loaded as modules (they live outside the package)."""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def load_script(name: str):
    """Import ``onnx_weights/<name>.py`` as a module."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "onnx_weights" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def export_tiny():
    return load_script("export_tiny")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory, export_tiny) -> dict[str, pathlib.Path]:
    """name -> path of every tiny model (detector_tiny, vitpose_tiny, videopose3d_tiny, ...)."""
    return export_tiny.export_all(tmp_path_factory.mktemp("tiny_onnx"))


def red_scene(h: int = 480, w: int = 640, rects=((200, 100, 320, 400),), background=(40, 90, 40),
              colour=(255, 0, 0)) -> np.ndarray:
    """An RGB uint8 frame with solid red rectangles filling ``img[y0:y1, x0:x1]`` for each (x0, y0, x1, y1)."""
    img = np.empty((h, w, 3), np.uint8)
    img[:] = background
    for x0, y0, x1, y1 in rects:
        img[y0:y1, x0:x1] = colour
    return img


@pytest.fixture(scope="session")
def scene():
    """The ``red_scene`` frame factory."""
    return red_scene


@pytest.fixture(scope="session")
def script():
    """The ``load_script`` importer of onnx_weights/*.py."""
    return load_script
