"""``imusim-jax build-dataset``: sources in their exact layouts (written here), the row schema and labels, a build
killed mid-way and resumed equals an uninterrupted one byte for byte, one worker equals two, Ray equals local,
bad input; the source adapters on the real files in ``../shared/realdata`` when present.

Builds run the command line (float64, as users run it) in a subprocess where a build is killed or compared with the
first, otherwise its ``main`` in this process; one persistent compilation cache for the module
(``IMUSIM_JAX_CACHE``), so only the first build compiles the simulator."""
from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "pose"))

# ---------------------------------------------------------------------------------------------------------------
# Files in the sources' own layouts
# ---------------------------------------------------------------------------------------------------------------


def _body(frames: int, fps: float, shift_x: float = 0.0, phase: float = 0.0) -> np.ndarray:
    """A standing ntu25 body (world, metres) waving both forearms: ``(T, 25, 3)``."""
    from imusim_jax import get_joint_set
    from imusim_jax.pose.world import anthropometric_skeleton

    js = get_joint_set("ntu25")
    base = anthropometric_skeleton("ntu25")
    t = np.arange(frames) / fps
    X = np.repeat(base[None], frames, 0) + np.array([shift_x, 0.0, 0.0])
    for side in ("left", "right"):
        elbow = js.index(f"{side}_elbow")
        for j in ("wrist", "hand", "hand_tip", "thumb"):
            k = js.index(f"{side}_{j}")
            r = base[k] - base[elbow]
            a = 0.8 * np.sin(2 * np.pi * 1.2 * t + phase)  # forearm swung forward about the elbow
            X[:, k, 1] += np.sin(a) * np.linalg.norm(r)
            X[:, k, 2] = base[elbow, 2] - np.cos(a) * np.linalg.norm(r)
    X[:, :, 1] += 0.2 * t[:, None]  # walking slowly forward
    return X


def _ntu_text(bodies: list[np.ndarray]) -> str:
    """NTU RGB+D .skeleton text of ``bodies`` (world ntu25 ``(T, 25, 3)`` each): camera = (-x, z, y + 3 m)."""
    T = len(bodies[0])
    out = [str(T)]
    for f in range(T):
        out.append(str(len(bodies)))
        for b, X in enumerate(bodies):
            out.append(f"7205759403793164{b} 0 1 1 1 1 0 -0.1159187 0.1413209 2")
            out.append("25")
            for x, y, z in X[f].tolist():
                out.append(f"{-x!r} {z!r} {y + 3.0!r} 276.1 190.1 1032.3 514.1 -0.17 0.04 0.97 -0.16 2")
    return "\n".join(out) + "\n"


def _stamp(t0: dt.datetime, s: float) -> str:
    return (t0 + dt.timedelta(seconds=float(s))).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def write_sources(root: pathlib.Path) -> pathlib.Path:
    """NTU (one file with two bodies), WEDA-FALL and SmartFallMM real IMU files, a motion folder with its labels CSV,
    and a manifest over them; returns the manifest's path."""
    from imusim_jax import Motion

    ntu = root / "ntu"
    ntu.mkdir(parents=True)
    (ntu / "S001C001P001R001A043.skeleton").write_text(_ntu_text([_body(48, 30.0)]))
    (ntu / "S001C002P002R002A050.skeleton").write_text(_ntu_text([_body(48, 30.0), _body(48, 30.0, 1.0, 1.0)]))
    weda = root / "weda" / "50Hz"
    for code, rep in (("F01", 1), ("D01", 2)):
        d = weda / code
        d.mkdir(parents=True)
        t = np.arange(0, 4.0, 0.02)
        (d / f"U03_R{rep:02d}_accel.csv").write_text("accel_time_list,accel_x_list,accel_y_list,accel_z_list\n"
                                                      + "".join(f"{s:.3f},0.5,9.8,{np.sin(s):.4f}\n" for s in t))
        (d / f"U03_R{rep:02d}_gyro.csv").write_text("gyro_time_list,gyro_x_list,gyro_y_list,gyro_z_list\n"
                                                     + "".join(f"{s:.3f},0.1,0.0,-0.2\n" for s in t))
    t0 = dt.datetime(2022, 7, 22, 10, 22, 12)
    for modality, row in (("accelerometer", "0.1,0.2,9.7"), ("gyroscope", "0.01,-0.02,0.03")):
        p = root / "smartfallmm" / "young" / modality / "watch" / "S31A10T01.csv.gz"
        p.parent.mkdir(parents=True)
        with gzip.open(p, "wt") as f:
            f.write("".join(f"{_stamp(t0, s)},{row}\n" for s in np.arange(0, 4.0, 0.02)))
    motions = root / "motions"
    motions.mkdir()
    for name, phase in (("walk_a", 0.0), ("wave_b", 0.5)):
        Motion.create(_body(48, 30.0, phase=phase), 30.0, "ntu25").save_npz(motions / f"{name}.npz")
    (motions / "labels.csv").write_text("file,label,subject\nwalk_a.npz,walking,7\nwave_b,juggling knives,8\n")
    manifest = root / "manifest.yaml"
    manifest.write_text(
        "rate_hz: 50\nseed: 5\nshard_size: 1\nbatch_size: 8\ncutoff_hz: 6\nvariants: 2\n"
        "mounts: [watch-left, watch-right]\nmount_sampling: sample\nprofiles: [bmi160, none]\n"
        "time_stretch: [0.9, 1.1]\nmount_jitter_deg: 2\ncontact_time_s: [0.02, 0.05]\n"
        "sources:\n"
        "  - {name: ntu, type: ntu_skeleton, path: ntu}\n"
        "  - {name: weda, type: weda_fall, path: weda}\n"
        "  - {name: sfmm_watch, type: smartfallmm, signal: real, path: smartfallmm}\n"
        "  - {name: moves, type: motion_folder, path: motions, labels: motions/labels.csv, variants: 1,\n"
        "     mounts: [watch-right], placement: right wrist}\n")
    return manifest


def cli(*args, cache, env=None, timeout=600, popen=False):
    e = {**os.environ, "IMUSIM_JAX_CACHE": str(cache), "PYTHONPATH": os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]), **(env or {})}
    cmd = [sys.executable, "-m", "imusim_jax.cli", "build-dataset", *map(str, args), "--no-progress"]
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e, cwd=REPO,
                                start_new_session=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=REPO)


def cli_here(*args):
    """``build-dataset ARGS`` through the command line's ``main`` in this process (``test_cli.run``: float64, one-line
    errors and exit status as the subprocess gives them); its workers are still spawned processes. Saves a
    subprocess's start-up (importing JAX) where nothing kills the build."""
    from test_cli import run

    return run("build-dataset", *args, "--no-progress", check=False)


def shard_bytes(d: pathlib.Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted((d / "shards").glob("*.parquet"))}


def read_rows(d: pathlib.Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa.concat_tables([pq.read_table(p) for p in sorted((d / "shards").glob("*.parquet"))])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sources, the manifest and one uninterrupted build with two workers."""
    root = tmp_path_factory.mktemp("build")
    manifest = write_sources(root / "src")
    cache = os.environ.get("IMUSIM_JAX_CACHE") or root / "xla"   # the run's shared cache (conftest)
    out = root / "ref"
    r = cli(manifest, "-o", out, "--workers", "2", cache=cache)
    assert r.returncode == 0, r.stderr
    return {"root": root, "manifest": manifest, "cache": cache, "out": out, "stdout": r.stdout}


# ---------------------------------------------------------------------------------------------------------------
# The dataset
# ---------------------------------------------------------------------------------------------------------------

def test_rows_schema_and_labels(built):
    from imusim_jax.workflows.dataset import ROW_SCHEMA

    t = read_rows(built["out"])
    assert t.column_names == [c for c, _, _ in ROW_SCHEMA]
    types = {f.name: str(f.type) for f in t.schema}
    assert types["accel"] == types["gyro"] == "list<element: list<element: double>>"
    assert types["person"] == types["severity"] == types["seed"] == "int64" and types["rate_hz"] == "double"
    rows = t.drop_columns(["accel", "gyro"]).to_pylist()
    ntu = [r for r in rows if r["source"] == "ntu"]
    # 2 variants per person: one person in the first file, two in the second (every body a person)
    assert sorted((r["clip_id"], r["person"], r["variant"]) for r in ntu) == [
        ("S001C001P001R001A043", 0, 0), ("S001C001P001R001A043", 0, 1), ("S001C002P002R002A050", 0, 0),
        ("S001C002P002R002A050", 0, 1), ("S001C002P002R002A050", 1, 0), ("S001C002P002R002A050", 1, 1)]
    fall = [r for r in ntu if r["clip_id"].endswith("A043")][0]
    assert (fall["activity"], fall["source_label"], fall["safety"], fall["severity"]) == ("fall", "A043 falling",
                                                                                          "unsafe", 3)
    assert fall["subject"] == "P001" and fall["trial"] == "R001" and fall["dataset"] == "ntu_skeleton"
    assert {r["activity"] for r in ntu if r["clip_id"].endswith("A050")} == {"punching"}
    for r in ntu:
        assert r["kind"] == "synthetic" and r["mount"] in ("watch-left", "watch-right")
        assert r["profile"] in ("bmi160", "none") and 0.9 <= r["time_stretch"] <= 1.1 and r["seed"] > 0
        assert r["native_rate_hz"] == pytest.approx(30.0 / r["time_stretch"]) and r["rate_hz"] == 50.0
        assert 0 < r["mount_jitter_deg"] < 15 and r["placement"] is None and r["side"] is None
        assert 0 < r["quality"] <= 1  # the share of joint-frames the Kinect measured
        assert 0.02 <= r["contact_time_s"] <= 0.05
    assert len({r["seed"] for r in ntu}) == len(ntu) and len({r["contact_time_s"] for r in ntu}) == len(ntu)
    weda = {r["clip_id"]: r for r in rows if r["source"] == "weda"}
    assert set(weda) == {"F01/U03_R01", "D01/U03_R02"}
    assert weda["F01/U03_R01"]["activity"] == "fall_forward" and weda["D01/U03_R02"]["activity"] == "walking"
    for r in weda.values():
        assert r["kind"] == "real" and r["subject"] == "U03" and r["mount"] is None and r["seed"] is None
        assert (r["placement"], r["side"]) == ("wrist", None) and r["rate_hz"] == 50.0
    sf = [r for r in rows if r["source"] == "sfmm_watch"]
    assert len(sf) == 1 and sf[0]["clip_id"] == "young/S31A10T01" and sf[0]["activity"] == "fall_backward"
    assert (sf[0]["placement"], sf[0]["side"]) == ("wrist", "left")
    assert sf[0]["subject"] == "S31" and sf[0]["dataset"] == "smartfallmm"
    moves = {r["clip_id"]: r for r in rows if r["source"] == "moves"}
    assert moves["walk_a"]["activity"] == "walking" and moves["walk_a"]["subject"] == "7"
    assert moves["wave_b"]["activity"] is None and moves["wave_b"]["source_label"] == "juggling knives"
    assert {r["mount"] for r in moves.values()} == {"watch-right"}
    assert (moves["walk_a"]["placement"], moves["walk_a"]["side"]) == ("wrist", "right")
    # the signals: T x 3 in SI units, num_samples = T; a real recording keeps its values
    for i, r in enumerate(rows):
        a, g = np.asarray(t["accel"][i].as_py()), np.asarray(t["gyro"][i].as_py())
        assert a.shape == g.shape == (r["num_samples"], 3) and np.isfinite(a).all() and np.isfinite(g).all()
        assert 5 < np.median(np.linalg.norm(a, axis=1)) < 15  # gravity, m/s^2
    i = rows.index(weda["D01/U03_R02"])
    np.testing.assert_allclose(np.asarray(t["gyro"][i].as_py()), np.tile([0.1, 0.0, -0.2], (rows[i]["num_samples"],
                                                                                              1)), atol=1e-9)
    meta = json.loads((built["out"] / "dataset.json").read_text())
    assert meta["complete"] and meta["rows"] == len(rows) and meta["clips"] == 7 and not meta["failures"]
    src = {s["name"]: s for s in meta["sources"]}
    assert src["moves"]["unmapped_seen"] == {"juggling knives": 1} and src["ntu"]["clips"] == 2
    assert "A003 brushing teeth" in src["ntu"]["taxonomy_unmapped_classes"]
    assert [s["file"] for s in meta["shards"]] == [f"shards/part-{i:05d}.parquet" for i in range(7)]
    assert meta["manifest"]["globals"]["seed"] == 5 and meta["dtype"] == "float64"
    assert "rows from 7 clips in 7 shards" in built["stdout"]


def test_one_worker_equals_two_and_a_rerun_skips(built):
    out = built["root"] / "one"
    r = cli_here(built["manifest"], "-o", out, "--workers", "1")
    assert r.returncode == 0, r.stderr
    assert shard_bytes(out) == shard_bytes(built["out"])
    r = cli_here(built["manifest"], "-o", out, "--workers", "1")
    assert r.returncode == 0 and "(7 built before)" in r.stdout
    r = cli_here(built["manifest"], "-o", out, "--seed", "6")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "seed 5, now 6" in r.stderr and "--overwrite" in r.stderr


def test_killed_build_resumes_to_the_same_shards(built):
    out = built["root"] / "killed"
    ledger = out / "_build" / "ledger.jsonl"
    p = cli(built["manifest"], "-o", out, "--workers", "1", cache=built["cache"], popen=True)
    deadline = time.time() + 300
    while time.time() < deadline and p.poll() is None:
        if ledger.exists() and ledger.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert p.poll() is None, "the build ended before it could be killed"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    done = shard_bytes(out)
    assert 2 <= len(done) < 7 and not (out / "dataset.json").exists()
    # what a kill may leave: a temporary beside the shards, and a torn last line in the ledger
    (out / "shards" / ".tmp-abc123.parquet").write_bytes(b"PAR1 half a shard")
    with open(ledger, "ab") as f:
        f.write(b'{"shard": 5, "file": "part-000')
    # a shard damaged after it was written is found and rebuilt
    first = sorted((out / "shards").glob("part-*.parquet"))[0]
    first.write_bytes(first.read_bytes()[:100])
    r = cli(built["manifest"], "-o", out, "--workers", "2", cache=built["cache"])
    assert r.returncode == 0, r.stderr
    assert "removed 1 temporary file" in r.stderr
    assert shard_bytes(out) == shard_bytes(built["out"])
    assert not list((out / "shards").glob(".tmp-*"))
    meta = json.loads((out / "dataset.json").read_text())
    ref = json.loads((built["out"] / "dataset.json").read_text())
    assert meta["rows"] == ref["rows"] and meta["shards"] == ref["shards"] and meta["complete"]


def test_ray_gives_the_same_shards(built):
    pytest.importorskip("ray")
    out = built["root"] / "ray"
    r = cli(built["manifest"], "-o", out, "--engine", "ray", "--workers", "2", cache=built["cache"],
            env={"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"})
    assert r.returncode == 0, r.stderr
    assert shard_bytes(out) == shard_bytes(built["out"])


def test_bad_input_is_one_line_and_a_bad_file_is_skipped(built, tmp_path):
    src = built["root"] / "src"

    def manifest(text):
        p = tmp_path / f"m{len(list(tmp_path.glob('m*.yaml')))}.yaml"
        p.write_text(text)
        return p

    def one_line_error(r, *words):
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
        for w in words:
            assert w in lines[0], lines[0]

    # manifest errors: one line before anything runs (the command line prints it as ``error: ...``, exit 2; tested
    # in-process here, and through the command line for the bad file below)
    from imusim_jax import InputError
    from imusim_jax.workflows.dataset import build_dataset

    def refused(path, *words):
        with pytest.raises(InputError) as e:
            build_dataset(path, tmp_path / "o", progress=False)
        assert "\n" not in str(e.value)
        for w in words:
            assert w in str(e.value), str(e.value)

    refused(manifest(f"sources:\n  - {{name: a, type: ntu_skeleton, path: {tmp_path}/nowhere}}\n"),
            "no such file or directory", "nowhere")
    refused(manifest(f"sources:\n  - {{name: a, type: kinetics, path: {src}}}\n"), "unknown source type 'kinetics'",
            "ntu_skeleton")
    refused(manifest(f"rate: 50\nsources:\n  - {{name: a, type: ntu_skeleton, path: {src}/ntu}}\n"),
            "unknown key 'rate'")
    refused(manifest(f"sources:\n  - {{name: a, type: utd_mhad, path: {src}}}\n"), "signal: simulated or real")
    refused(tmp_path / "none.yaml", "no such manifest")
    refused(manifest("sources: [\n"), "not valid YAML")
    assert not (tmp_path / "o").exists()
    # a file that does not parse: reported in one line naming it, skipped, the rest built, exit status 2
    ntu = tmp_path / "ntu"
    ntu.mkdir()
    (ntu / "S001C001P001R001A043.skeleton").write_text((src / "ntu" / "S001C001P001R001A043.skeleton").read_text())
    (ntu / "S001C001P003R001A043.skeleton").write_text("48\n1\nnot a body\n")
    m = manifest(f"shard_size: 1\ncutoff_hz: 6\nbatch_size: 8\nsources:\n  - {{name: a, type: ntu_skeleton, "
                 f"path: {ntu}}}\n")
    r = cli_here(m, "-o", tmp_path / "o7")
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert r.returncode == 2 and len(errors) == 1 and "S001C001P003R001A043.skeleton" in errors[0], r.stderr
    assert "1 failed" in r.stdout
    meta = json.loads((tmp_path / "o7" / "dataset.json").read_text())
    assert meta["rows"] == 1 and len(meta["failures"]) == 1 and "P003" in meta["failures"][0][0]
    # a rerun skips the built shards and still says a file failed
    r = cli_here(m, "-o", tmp_path / "o7")
    assert r.returncode == 2 and "built before" in r.stdout
    # a folder holding other things is refused
    (tmp_path / "o8").mkdir()
    (tmp_path / "o8" / "notes.txt").write_text("mine")
    one_line_error(cli_here(m, "-o", tmp_path / "o8"), "did not make", "notes.txt")


# ---------------------------------------------------------------------------------------------------------------
# Pieces
# ---------------------------------------------------------------------------------------------------------------

def test_row_seed_and_noise_keys():
    import jax

    from imusim_jax.workflows.dataset import noise_keys, row_seed

    s = row_seed(0, "ntu", "S001C001P001R001A043", 1, 2)
    assert s == row_seed(0, "ntu", "S001C001P001R001A043", 1, 2) and 0 < s < 2 ** 63
    assert len({row_seed(0, "ntu", "c", p, v) for p in range(3) for v in range(3)}) == 9
    with jax.enable_x64(True):
        want = jax.random.key_data(jax.random.key(s))
    np.testing.assert_array_equal(jax.random.key_data(noise_keys([s]))[0], want)


def test_real_recordings_are_resampled_to_the_rate():
    from imusim_jax.workflows.dataset import _to_rate

    t = np.arange(0, 4, 1 / 40.0)
    a = np.column_stack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * t), np.ones_like(t)])
    a50, g50 = _to_rate(a, a, 40.0, 50.0)
    assert len(a50) == 199 and np.abs(a50[:, 0] - np.sin(2 * np.pi * np.arange(199) / 50)).max() < 0.01
    a25, _ = _to_rate(a, a, 40.0, 25.0)
    assert len(a25) == 100 and np.abs(a25[10:-10, 0] - np.sin(2 * np.pi * np.arange(100) / 25)[10:-10]).max() < 0.03
    same, _ = _to_rate(a, a, 50.0, 50.0)
    np.testing.assert_array_equal(same, a)


def test_manifest_resolution_and_overrides(tmp_path):
    from imusim_jax._errors import InputError
    from imusim_jax.workflows.dataset import resolve_manifest

    (tmp_path / "utd" / "Skeleton").mkdir(parents=True)
    m = resolve_manifest({"mounts": ["watch-left", "band-left"], "profiles": ["bmi160"], "seed": 3,
                          "sources": [{"name": "u", "type": "utd_mhad", "signal": "simulated", "path": "utd",
                                       "mounts": ["watch-right"], "include": ["throwing"]}]}, base_dir=str(tmp_path))
    e = m["sources"][0]
    assert [x["name"] for x in e["mounts"]] == ["watch-right"] and m["globals"]["mounts"][1]["name"] == "band-left"
    assert e["seed"] == 3 and e["taxonomy"] == "utd_mhad" and e["include"] == {"activity": ["throwing"]}
    assert e["path"] == str(tmp_path / "utd") and e["profiles"][0]["noise"]["accel"]
    for bad, words in (({"shard_size": 2}, "global key only"), ({"variants": 0}, "variants"),
                       ({"include": ["flying"]}, "unknown activity"), ({"time_stretch": [1.2, 0.8]}, "time_stretch"),
                       ({"mounts": ["wrist-cam"]}, "unknown mount"), ({"profiles": ["bmi999"]}, "unknown profile")):
        with pytest.raises(InputError, match=words):
            resolve_manifest({"sources": [{"name": "u", "type": "utd_mhad", "signal": "real", "path": "utd",
                                           **bad}]}, base_dir=str(tmp_path))


def test_utd_placement_by_action_and_the_upfall_landmarks(tmp_path):
    """UTD-MHAD's placement: right wrist for actions 1-21, right thigh for 22-27, on simulated and real clips
    alike; an UP-Fall MediaPipe landmark CSV inside a zip becomes a metric world motion of a human's size."""
    import scipy.io

    from imusim_jax.workflows.dataset import plan_shards, resolve_manifest
    from imusim_jax.workflows.sources import source_type

    for sub, suffix in (("Skeleton", "skeleton"), ("Inertial", "inertial")):
        (tmp_path / "utd" / sub).mkdir(parents=True)
        for a in (5, 24):
            scipy.io.savemat(tmp_path / "utd" / sub / f"a{a}_s2_t1_{suffix}.mat",
                             {"d_skel": np.zeros((20, 3, 5))} if sub == "Skeleton" else {"d_iner": np.zeros((5, 6))})
    for signal in ("simulated", "real"):
        m = resolve_manifest({"sources": [{"name": "u", "type": "utd_mhad", "signal": signal, "path": "utd"}]},
                             base_dir=str(tmp_path))
        refs = [r for shard in plan_shards(m) for _, r in shard]
        assert [(r["clip_id"], r["placement"], r["label"], r["subject"]) for r in refs] == [
            ("a24_s2_t1", "right thigh", "a24", "s2"), ("a5_s2_t1", "right wrist", "a5", "s2")]
    m = resolve_manifest({"sources": [{"name": "u", "type": "utd_mhad", "signal": "real", "path": "utd",
                                       "exclude": {"activity": ["standing_up"]}}]}, base_dir=str(tmp_path))
    assert [r["clip_id"] for shard in plan_shards(m) for _, r in shard] == ["a5_s2_t1"]

    from imusim_jax.pose.world import anthropometric_skeleton

    X = anthropometric_skeleton("mediapipe33")  # world z up, metres: seen by a level camera 3 m away
    T = 40
    rows = []
    for k in range(T):
        P = X + np.array([0.3 * k / T, 0.0, 0.0])
        u = 0.5 + 500 * P[:, 0] / (3.0 * 640)
        v = 0.5 - 500 * (P[:, 2] - 0.9) / (3.0 * 480)
        z = -P[:, 1] * 500 / (3.0 * 640)
        rows.append(",".join(f"{a:.6f},{b:.6f},{c:.6f}" for a, b, c in zip(u, v, z)) + ",0")
    head = ",".join(f"Joint{j}_{a}" for j in range(1, 34) for a in "XYZ") + ",LABEL"
    with zipfile.ZipFile(tmp_path / "SUBJECT9.zip", "w") as z:
        z.writestr("C1S9A3T2.csv", head + "\n" + "\n".join(rows) + "\n")
        z.writestr("C2S9_A3_T2.csv", head + "\n" + "\n".join(rows) + "\n")
    entry = resolve_manifest({"sources": [{"name": "up", "type": "upfall_mediapipe", "path": "."}]},
                             base_dir=str(tmp_path))["sources"][0]
    st = source_type("upfall_mediapipe")
    refs = st.enumerate(entry)
    assert [(r.clip_id, r.label, r.subject, r.trial, r.placement) for r in refs] == [
        ("C1S9A3T2", "3", "S9", "T2", "left wrist"), ("C2S9A3T2", "3", "S9", "T2", "left wrist")]
    (item,) = st.load(refs[0], entry)
    J = np.asarray(item.data.joints)
    assert item.data.joint_set == "mediapipe33" and float(item.data.fps) == pytest.approx(18.4)
    height = J[0, :, 2].max() - J[0, :, 2].min()
    assert 1.3 < height < 1.9 and np.isfinite(J).all()


# ---------------------------------------------------------------------------------------------------------------
# A video folder (Stage 1)
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.mediapipe
def test_video_folder(built, tmp_path):
    pytest.importorskip("mediapipe")
    pytest.importorskip("skimage")
    from pose_videos import astronaut_video, write_video

    frames, _ = astronaut_video(t=16)
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "astro.avi", frames, fps=30)
    (tmp_path / "videos" / "labels.csv").write_text("file,label,subject\nastro.avi,waving,1\n")
    m = tmp_path / "m.yaml"
    m.write_text("cutoff_hz: 6\nbatch_size: 8\nsources:\n  - {name: v, type: video_folder, path: videos, labels: "
                 "videos/labels.csv, pose: {pose: mediapipe}}\n")
    r = cli(m, "-o", tmp_path / "out", "--workers", "1", cache=built["cache"])
    assert r.returncode == 0, r.stderr
    rows = read_rows(tmp_path / "out").drop_columns(["accel", "gyro"]).to_pylist()
    assert len(rows) >= 1
    r0 = rows[0]
    assert (r0["source"], r0["dataset"], r0["clip_id"], r0["person"], r0["activity"], r0["subject"]) == (
        "v", "video_folder", "astro", 0, "waving", "1")
    assert 0 < r0["quality"] <= 1 and r0["kind"] == "synthetic" and r0["num_samples"] > 10


# ---------------------------------------------------------------------------------------------------------------
# The real files
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_sources_on_the_real_files(realdata):
    """Every source type enumerates the shared real files and loads its first clip (no simulation here)."""
    from imusim_jax import ImuRecording, Motion
    from imusim_jax.workflows.dataset import resolve_manifest
    from imusim_jax.workflows.sources import label_columns, source_type

    cases = [
        ({"type": "ntu_skeleton", "path": "ntu_skeleton"}, Motion, "ntu120", 2),
        ({"type": "utd_mhad", "signal": "simulated", "path": "utd_mhad"}, Motion, "utd_mhad", 400),
        ({"type": "utd_mhad", "signal": "real", "path": "utd_mhad"}, ImuRecording, "utd_mhad", 400),
        ({"type": "smartfallmm", "signal": "simulated", "path": "smartfallmm"}, Motion, "smartfallmm", 160),
        ({"type": "smartfallmm", "signal": "real", "path": "smartfallmm"}, ImuRecording, "smartfallmm", 160),
        ({"type": "weda_fall", "path": "weda_fall"}, ImuRecording, "weda_fall", 200),
        ({"type": "upfall_mediapipe", "path": "upfall"}, Motion, "upfall", 60),
        ({"type": "upfall", "path": "upfall/upfall_falls_wrist.csv"}, ImuRecording, "upfall", 1),
    ]
    for spec, kind, tax, at_least in cases:
        if not (realdata / spec["path"]).exists():
            continue
        entry = resolve_manifest({"sources": [{"name": "s", **spec}]}, base_dir=str(realdata))["sources"][0]
        st = source_type(entry["type"])
        refs = st.enumerate(entry)
        assert len(refs) >= at_least, spec
        assert len({r.clip_id for r in refs}) == len(refs)
        items = st.load(refs[0], entry)
        assert items and all(isinstance(i.data, kind) for i in items), spec
        label = items[0].label or refs[0].label
        assert label_columns(tax, label)["source_label"], spec
        if entry["type"] == "upfall":
            assert {i.clip_suffix for i in items} >= {"A1R1"} and all(i.label for i in items)
        if kind is Motion:
            J = np.asarray(items[0].data.joints)
            assert np.isfinite(J).all() and 1.0 < np.ptp(J[0, :, 2]) < 2.2, spec  # a standing human's height


def test_a_calibrated_profiles_mount_replaces_the_rows_mount(tmp_path):
    """A profile with a mount (``calibrate --mode paired`` fits one) simulates with it: a sensor turned 180 degrees
    about y reads (-x, y, -z) of the preset's."""
    from imusim_jax import Motion
    from imusim_jax.workflows.dataset import build_dataset

    (tmp_path / "m").mkdir()
    Motion.create(_body(60, 30.0), 30.0, "ntu25").save_npz(tmp_path / "m" / "walk.npz")
    (tmp_path / "m" / "labels.csv").write_text("file,label\nwalk.npz,walking\n")
    (tmp_path / "turned.json").write_text(json.dumps({"format": "imusim-jax/profile", "version": 1, "mount": {
        "preset": "watch-right", "turn_deg": [0, 180, 0]}}))
    (tmp_path / "manifest.yaml").write_text(
        "rate_hz: 50\ncutoff_hz: 6\nmounts: [watch-right]\nsources:\n"
        "  - {name: plain, type: motion_folder, path: m, labels: m/labels.csv, profiles: [none]}\n"
        "  - {name: turned, type: motion_folder, path: m, labels: m/labels.csv, profiles: [turned.json]}\n")
    build_dataset(tmp_path / "manifest.yaml", tmp_path / "out", workers=1, progress=False)
    t = read_rows(tmp_path / "out")
    rows = {r["source"]: (r, np.asarray(a), np.asarray(g)) for r, a, g in zip(
        t.drop(["accel", "gyro"]).to_pylist(), t["accel"].to_pylist(), t["gyro"].to_pylist())}
    assert rows["plain"][0]["mount"] == "watch-right" and rows["turned"][0]["mount"].startswith("turned:")
    assert rows["turned"][0]["profile"] == "turned"
    flip = np.array([-1.0, 1.0, -1.0])
    np.testing.assert_allclose(rows["turned"][1], rows["plain"][1] * flip, atol=1e-4)
    np.testing.assert_allclose(rows["turned"][2], rows["plain"][2] * flip, atol=1e-4)
    assert np.abs(rows["plain"][1][:, 0]).max() > 0.5              # not trivially zero on the flipped axes
