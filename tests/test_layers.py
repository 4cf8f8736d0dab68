"""The package's layers (``pyproject.toml``'s import-linter contracts, docs/architecture.md): the core imports
nothing above it, Stage 1 nothing of the simulator, and the rest downward only. A change that brings an import
cycle or a reach upward back fails here."""
import os
import pathlib
import shutil
import subprocess
import sys
import tomllib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")


def _lint(root: pathlib.Path) -> subprocess.CompletedProcess:
    if LINT is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run([LINT, "--no-cache", str(REPO / "pyproject.toml")], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_import_contracts_hold():
    r = _lint(REPO)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "3 kept, 0 broken" in r.stdout


CORE_PUBLIC = {"imusim_jax.stats", "imusim_jax.calibrate"}  # the core's public modules besides the package's own


def test_every_core_module_is_in_the_core_contract():
    """A new private module of the core cannot escape the contract: each ``imusim_jax/_*.py`` is listed, and so
    are the core's public modules."""
    with open(REPO / "pyproject.toml", "rb") as f:
        contracts = tomllib.load(f)["tool"]["importlinter"]["contracts"]
    core = next(c for c in contracts if c["id"] == "core")
    listed = set(core["source_modules"])
    present = {f"imusim_jax.{p.stem}" for p in (REPO / "imusim_jax").glob("_*.py") if p.stem != "__init__"}
    assert present | CORE_PUBLIC == listed


def test_a_reach_upward_breaks_the_contracts(tmp_path):
    """The contracts can fail: the core reaching into io, and Stage 1 into the simulator from inside a function."""
    shutil.copytree(REPO / "imusim_jax", tmp_path / "imusim_jax", ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "imusim_jax" / "_motion.py", "a") as f:
        f.write("\nfrom imusim_jax.io import load_motion  # noqa\n")
    with open(tmp_path / "imusim_jax" / "pose" / "world.py", "a") as f:
        f.write("\ndef _reach():\n    from imusim_jax._simulate import simulate  # noqa\n")
    r = _lint(tmp_path)
    assert r.returncode != 0 and "2 broken" in r.stdout, r.stdout[-3000:]
    assert "imusim_jax._motion -> imusim_jax.io" in r.stdout and "imusim_jax.pose.world -> imusim_jax._simulate" \
        in r.stdout, r.stdout[-3000:]


def test_every_package_is_installed_and_the_models_under_the_package():
    """``pyproject.toml`` names every package folder (a new one cannot be left out of the wheel), and the HAR
    models (the repository folder ``models/``) install as ``imusim_jax.models``: no top-level ``models``."""
    with open(REPO / "pyproject.toml", "rb") as f:
        setup = tomllib.load(f)["tool"]["setuptools"]
    folders = {"imusim_jax" + ("." + ".".join(p.parent.relative_to(REPO / "imusim_jax").parts) if
                               p.parent != REPO / "imusim_jax" else "")
               for p in (REPO / "imusim_jax").rglob("__init__.py") if "__pycache__" not in p.parts}
    folders |= {"imusim_jax.models" + "".join("." + x for x in p.parent.relative_to(REPO / "models").parts)
                for p in (REPO / "models").rglob("__init__.py")}
    assert set(setup["packages"]) == folders
    assert setup["package-dir"] == {"imusim_jax.models": "models"}
    code = "import imusim_jax.models, importlib.util as u; print(u.find_spec('models') is None)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the installed package, not a source tree
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/", env=env)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stderr[-2000:]
