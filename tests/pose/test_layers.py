"""The layering rule of Stage 1: ``imusim_jax.pose`` turns videos into ``Motion``s and knows nothing of IMUs.

No module under ``imusim_jax/pose`` imports the simulator, the IMU file formats, plotting, the workflows or the
command line, at module level or inside a function (an ``ast`` scan of every import statement). What it may use
of the core: ``_motion``, ``_joints``, ``_errors``, ``_constants``, ``_gaps`` and ``weights``.
"""
from __future__ import annotations

import ast
import dataclasses
import pathlib

import pytest

POSE = pathlib.Path(__file__).resolve().parents[2] / "imusim_jax" / "pose"

FORBIDDEN = ("imusim_jax._simulate", "imusim_jax._noise", "imusim_jax._mounting", "imusim_jax._kinematics",
             "imusim_jax._orientation", "imusim_jax._signal", "imusim_jax._cutoff", "imusim_jax.io",
             "imusim_jax.plotting", "imusim_jax.workflows", "imusim_jax.cli")
ALLOWED_CORE = ("imusim_jax._motion", "imusim_jax._joints", "imusim_jax._errors", "imusim_jax._constants",
                "imusim_jax._gaps", "imusim_jax.weights")


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """``(line, module)`` for every import in ``source`` (the code of ``module``, a dotted name), relative imports
    resolved; ``from X import name`` counts as importing ``X.name`` too (``from imusim_jax import io``)."""
    package = module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def _violations(source: str, module: str) -> list[str]:
    """One line per import statement of ``source`` that breaks the rule."""
    bad = {}
    for line, name in imported_modules(source, module):
        if line in bad or name.startswith("imusim_jax.pose") or not name.startswith("imusim_jax."):
            continue
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
            bad[line] = f"{module}:{line} imports {name}"
        elif not any(name == a or name.startswith(a + ".") for a in ALLOWED_CORE):
            bad[line] = f"{module}:{line} imports {name}, which is not on Stage 1's list of allowed core modules"
    return list(bad.values())


def _pose_modules():
    return sorted(POSE.rglob("*.py"))


@pytest.mark.parametrize("path", _pose_modules(), ids=lambda p: p.name)
def test_pose_imports_nothing_of_the_simulator(path):
    # a package's __init__ as "imusim_jax.pose.__init__": its relative imports start at the package itself
    module = "imusim_jax." + ".".join(path.relative_to(POSE.parent).with_suffix("").parts)
    assert _violations(path.read_text(), module) == []


def test_the_scan_sees_imports_inside_functions_and_from_the_package():
    src = ("import numpy as np\n"
           "from imusim_jax._motion import Motion\n"
           "def f():\n"
           "    from imusim_jax import io\n"
           "    import imusim_jax._simulate\n"
           "    from ...workflows.video2imu import video2imu\n"
           "    from imusim_jax import simulate\n")
    bad = _violations(src, "imusim_jax.pose.sub.mod")
    assert len(bad) == 4, bad
    assert any("imusim_jax.io" in b for b in bad) and any("imusim_jax._simulate" in b for b in bad)
    assert any("imusim_jax.workflows" in b for b in bad)
    assert any("imusim_jax.simulate" in b for b in bad)  # the public simulate is the simulator too


def test_stage1_config_holds_no_simulation_setting():
    from imusim_jax.pose import PoseConfig
    from imusim_jax.workflows.video2imu import Video2ImuConfig

    sim = {"mount", "rate_hz", "noise", "seed", "cutoff_hz", "roll"}
    assert not sim & {f.name for f in dataclasses.fields(PoseConfig)}
    assert sim <= {f.name for f in dataclasses.fields(Video2ImuConfig)}
    assert isinstance(Video2ImuConfig(), PoseConfig)  # the workflow passes its config to Stage 1 as it is
