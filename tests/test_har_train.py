"""Training and evaluation on shards a test writes: the command line end to end (train, evaluate with the run and
with its ONNX file), resuming after an interruption, filters, unknown labels, windows, splits and metrics."""
from __future__ import annotations

import dataclasses
import json

import jax
import numpy as np
import pytest

import har_data as H
from imusim_jax import InputError
from imusim_jax.models.har import data as D
from imusim_jax.models.har.config import TrainConfig, config_from_dict, load_config
from imusim_jax.models.har.metrics import classification_report, recall_at_false_alarm
from imusim_jax.models.har.patchformer import PatchformerConfig
from test_cli import run

TINY_YAML = """
model: {channel_dim: 4, channel_heads: 2, patch_len: 8, patch_stride: 4, d_model: 16, depth: 1, heads: 2,
        dropout: 0.0}
window: {rate_hz: 25, length_s: 1.6, stride_s: 0.8}
optim: {batch_size: 16, lr: 0.003, epochs: 3}
"""
TINY = config_from_dict({
    "model": {"channel_dim": 4, "channel_heads": 2, "patch_len": 8, "patch_stride": 4, "d_model": 16, "depth": 1,
              "heads": 2, "dropout": 0.0},
    "window": {"rate_hz": 25, "length_s": 1.6, "stride_s": 0.8},
    "optim": {"batch_size": 16, "lr": 0.003, "epochs": 2}, "export_onnx": False})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("har")
    H.write_dataset(d / "ds", [H.rows(seed=0), H.rows(seed=1, kind="real", source="tiny_real", n_subjects=2)])
    return d


def _run(*args):
    """The command line's ``main`` in this process (``test_cli.run``: float64 as the command runs it, its
    settings put back after)."""
    r = run(*args, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_cli_train_then_evaluate_with_the_run_and_its_onnx_file(dataset):
    pytest.importorskip("onnx")
    (dataset / "tiny.yaml").write_text(TINY_YAML)
    run_dir = dataset / "run"
    r = _run("train", "--data", dataset / "ds", "-o", run_dir, "--filter", "kind=synthetic", "--filter",
             "subject=1,2,3,4", "--config", dataset / "tiny.yaml", "--seed", "0", "--no-progress")
    assert "IMU-Patchformer:" in r.stderr and "kind in {synthetic}: 36 of 54 rows kept" in r.stderr
    assert "validation: 9 clips, subjects tiny/" in r.stderr
    run = json.loads((run_dir / "run.json").read_text())
    assert run["classes"] == ["fall_forward", "walking", "waving"] and run["finished"]
    assert (run_dir / "params").is_dir() and (run_dir / "model.onnx").exists()
    assert len(run["history"]) == 3 and all("val_macro_f1" in h for h in run["history"])
    out = {}
    for name, model in (("jax", run_dir), ("onnx", run_dir / "model.onnx")):
        j = dataset / f"metrics_{name}.json"
        args = ["evaluate", model, "--data", dataset / "ds", "--filter", "kind=real", "--json", j]
        if name == "jax":
            args += ["--plot", dataset / "cm.png"]
        r = _run(*args)
        assert "wrote" in r.stdout
        out[name] = json.loads(j.read_text())
    m = out["jax"]
    for k in ("macro_f1", "accuracy", "n", "classes", "per_class", "confusion_matrix", "safety", "unknown"):
        assert k in m
    assert m["n"] == 18 and m["classes"] == run["classes"] and set(m["per_class"]) == set(run["classes"])
    assert {"precision", "recall"} <= set(m["per_class"]["walking"])
    assert m["safety"]["at_false_alarm"]["target_false_alarm_rate"] == 0.05
    assert m["macro_f1"] > 0.6                       # three easy classes, three epochs of a 7 k-parameter model
    assert out["onnx"]["predicted"] == m["predicted"] and abs(out["onnx"]["macro_f1"] - m["macro_f1"]) < 1e-9
    assert out["onnx"]["model"]["backend"] == "onnx"
    assert (dataset / "cm.png").stat().st_size > 5000


def test_resuming_after_an_interruption_takes_the_same_next_step(dataset, tmp_path):
    from imusim_jax.models.har.train import train

    cfg = dataclasses.replace(TINY, checkpoint=dataclasses.replace(TINY.checkpoint, every_steps=2))
    kw = dict(filters=["kind=synthetic"], config=cfg, progress=False, log=lambda s: None)
    straight = train(str(dataset / "ds"), str(tmp_path / "a"), max_steps=5, **kw)
    cut = train(str(dataset / "ds"), str(tmp_path / "b"), max_steps=3, **kw)      # "interrupted" after step 3
    assert cut.steps == 3 and not (tmp_path / "b" / "params").exists()
    resumed = train(str(dataset / "ds"), str(tmp_path / "b"), max_steps=5, **kw)
    assert resumed.resumed_from == 3 and resumed.steps == 5
    for a, b in zip(jax.tree_util.tree_leaves(straight.params), jax.tree_util.tree_leaves(resumed.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # and on to the end from there: the same history and parameters
    full = train(str(dataset / "ds"), str(tmp_path / "a"), **kw)
    done = train(str(dataset / "ds"), str(tmp_path / "b"), **kw)
    assert full.history == done.history and (tmp_path / "b" / "params").is_dir()
    for a, b in zip(jax.tree_util.tree_leaves(full.best_params), jax.tree_util.tree_leaves(done.best_params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # another config in the same folder is refused
    other = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, lr=0.01))
    with pytest.raises(InputError, match="another run"):
        train(str(dataset / "ds"), str(tmp_path / "b"), **{**kw, "config": other})


def test_unknown_labels_are_reported_and_left_out(dataset, tmp_path):
    from imusim_jax.models.har.evaluate import evaluate
    from imusim_jax.models.har.train import train

    train(str(dataset / "ds"), str(tmp_path / "run"), filters=["kind=synthetic", "activity=waving,walking"],
          label="source_label", config=TINY, progress=False, log=lambda s: None)
    lines = []
    m = evaluate(str(tmp_path / "run"), str(dataset / "ds"), filters=["kind=real"], json_path=str(tmp_path / "m.json"),
                 log=lines.append)
    assert m["classes"] == ["D01 Walking", "a3 right hand wave"]
    assert m["unknown"] == {"n": 6, "labels": {"A11 Frontfall": 6}} and m["n"] == 12
    assert any("left out 6 clip(s) whose source_label the model does not know: A11 Frontfall (6)" in s for s in lines)
    assert m["safety"]["n"] == 18                     # the safety head still scores every clip
    assert json.loads((tmp_path / "m.json").read_text())["unknown"]["n"] == 6


def test_filters_and_both_list_layouts(dataset):
    c = D.read_dataset(dataset / "ds")
    assert len(c) == 54 and c.imu[0].shape[1] == 6 and c.imu[0].dtype == np.float32
    assert {m["kind"] for m in c.meta} == {"synthetic", "real"} and c.columns[0] == "source"
    f = D.parse_filters(["kind=real", "subject=1, 2", "rate_hz=50"])
    assert f == [("kind", ("real",)), ("subject", ("1", "2")), ("rate_hz", ("50",))]
    r = D.read_dataset(dataset / "ds", f)
    assert len(r) == 18 and {m["subject"] for m in r.meta} == {"1", "2"}
    assert D.string_form(None) == "null" and D.string_form(True) == "true" and D.string_form(3) == "3"
    assert len(D.read_dataset(dataset / "ds", D.parse_filters(["quality=null", "severity=3"]))) == 18
    with pytest.raises(InputError, match="no column 'colour'"):
        D.read_dataset(dataset / "ds", D.parse_filters(["colour=red"]))
    with pytest.raises(InputError, match="COLUMN=VALUE"):
        D.parse_filters(["kind"])


def test_windows_resampling_and_subject_split(dataset):
    x = np.stack([np.sin(np.arange(200) / 10.0)] * 6, axis=1)
    y = D.resample_clip(x, 100.0, 50.0)
    assert y.shape == (100, 6)
    np.testing.assert_allclose(y[10:90, 0], np.sin(np.arange(10, 90) / 5.0), atol=2e-2)
    assert D.window_starts(10, 20, 5) == [0] and D.window_starts(45, 20, 10) == [0, 10, 20, 25]
    c = D.read_dataset(dataset / "ds", D.parse_filters(["kind=synthetic"]))
    w = D.make_windows(c, D.WindowConfig(rate_hz=25, length_s=1.6, stride_s=0.8))
    assert w.x.shape[1:] == (40, 6) and w.mask.shape == w.x.shape[:2] and w.clip.max() == len(c) - 1
    short = D.make_windows(c, D.WindowConfig(rate_hz=25, length_s=10.0, stride_s=1.0))
    assert len(short) == len(c) and not short.mask[:, -1].any() and not short.x[~short.mask].any()
    tr, va, groups = D.split_by_subject(c, 0.25, 0)
    assert len(groups) == 1 and len(tr) + len(va) == len(c)
    assert not {D.subject_key(c.meta[i]) for i in tr} & {D.subject_key(c.meta[i]) for i in va}
    tr, va, groups = D.split_by_subject(c, 0.2, 0, val_subjects=["2"])
    assert groups == ["tiny/2"] and len(va) == 9


def test_metrics_and_config():
    rep = classification_report([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert rep["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]] and rep["n"] == 5
    assert np.isclose(rep["accuracy"], 0.6) and np.isclose(rep["per_class"]["b"]["precision"], 2 / 3)
    assert np.isclose(rep["macro_f1"], (0.5 + 0.8 + 0.0) / 3)
    s = np.array([0.9, 0.8, 0.3, 0.7, 0.6, 0.2, 0.1, 0.05, 0.01, 0.0])
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    r = recall_at_false_alarm(s, y, 0.15)            # one false alarm of seven allowed: threshold 0.6
    assert r["threshold"] == 0.6 and np.isclose(r["recall"], 2 / 3) and np.isclose(r["false_alarm_rate"], 1 / 7)
    assert recall_at_false_alarm(s, y, 0.0)["recall"] == 2 / 3
    assert TrainConfig().model == PatchformerConfig()
    with pytest.raises(InputError, match="unknown key"):
        config_from_dict({"model": {"width": 3}})
    with pytest.raises(InputError, match="unknown section"):
        config_from_dict({"optimiser": {}})
    cfg = config_from_dict({"window": {"rate_hz": 20, "length_s": 1.0}})
    assert cfg.fitted().model.patch_len == 8 and load_config(None) == TrainConfig()
