"""``imusim-jax dataset-card``: the HTML page of a dataset (shards written here in the builder's row schema, and
its ``dataset.json``) names every activity with its counts, links PNGs that exist, draws synthetic beside real,
lists the unmapped classes and the failures, escapes text; reads only the example rows' signals; bad folders are
one line."""
from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

# (source, kind, clip_id, activity, source_label, T): ntu_sim synthetic, weda real
_ROWS = [
    ("ntu_sim", "synthetic", "S001C001P001R001A043", "fall", "A043 falling", 100),
    ("ntu_sim", "synthetic", "S001C001P001R001A008", "sitting_down", "A008 sitting down", 150),
    ("ntu_sim", "synthetic", "S001C001P002R001A099", "walking", "A099 walking", 200),
    ("ntu_sim", "synthetic", "S001C001P003R001A099", "walking", "A099 walking", 250),
    ("ntu_sim", "synthetic", "S001C001P001R001A103", None, "A103 yawn <odd & label>", 120),
    ("weda", "real", "D01/U03_R01", "walking", "D01 walking", 300),
    ("weda", "real", "F01/U03_R01", "fall", "F01 fall", 200),
    ("weda", "real", "F01/U04_R01", "fall", "F01 fall", 220),
]


def _signal(T: int, k: int) -> list:
    t = np.arange(T) / 50.0
    return np.stack([np.sin(t + k), np.cos(t), 9.81 + 0 * t], 1).tolist()


def write_dataset(root: pathlib.Path, shard_rows: tuple = (5, 3)) -> pathlib.Path:
    """A dataset folder as ``build-dataset`` leaves it: two shards in the row schema and a ``dataset.json``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from imusim_jax.datasets import taxonomy
    from imusim_jax.workflows.dataset import _schema

    tax = taxonomy.load_taxonomy()
    recs = []
    for k, (src, kind, clip, act, lab, T) in enumerate(_ROWS):
        real = kind == "real"
        recs.append({
            "source": src, "dataset": "weda_fall" if real else "ntu_skeleton", "clip_id": clip, "person": 0,
            "subject": "U03" if real else "P001", "trial": "R01", "activity": act, "source_label": lab,
            "safety": tax.safety(act) if act else None, "severity": tax.severity(act) if act else None,
            "kind": kind, "placement": "left wrist" if real else None, "mount": None if real else "watch-left",
            "profile": None if real else "bmi160", "seed": None if real else 1000 + k, "variant": 0,
            "rate_hz": 50.0, "native_rate_hz": 50.0 if real else 30.0, "time_stretch": None if real else 1.0,
            "mount_jitter_deg": None if real else 0.5, "quality": None, "num_samples": T,
            "accel": _signal(T, k), "gyro": _signal(T, -k)})
    shards = root / "shards"
    shards.mkdir(parents=True)
    start = 0
    for i, n in enumerate(shard_rows):
        pq.write_table(pa.Table.from_pylist(recs[start:start + n], schema=_schema()), shards / f"part-{i:05d}.parquet",
                       row_group_size=2)
        start += n
    summary = {
        "format": "imusim-jax/dataset", "name": "card <test>", "description": "A tiny dataset & its card.",
        "imusim_jax": "0", "dtype": "float64", "complete": False, "rows": len(recs), "clips": len(recs),
        "sources": [
            {"name": "ntu_sim", "type": "ntu_skeleton", "signal": "simulated", "taxonomy": "ntu120",
             "clips": 5, "rows": 5, "unmapped_seen": {"A103 yawn <odd & label>": 1, "A104 stretch oneself": 2},
             "unmapped_policy": "keep",
             "taxonomy_unmapped_classes": list(taxonomy.label_map("ntu120").unmapped)},
            {"name": "weda", "type": "weda_fall", "signal": "real", "taxonomy": "weda_fall", "clips": 3, "rows": 3,
             "unmapped_seen": {}, "unmapped_policy": "keep", "taxonomy_unmapped_classes": []},
            {"name": "empty_src", "type": "motion_folder", "signal": "simulated", "taxonomy": None, "clips": 0,
             "rows": 0, "unmapped_seen": {}, "unmapped_policy": "skip", "taxonomy_unmapped_classes": None},
        ],
        "failures": [["/data/broken.skeleton", "broken.skeleton: not an NTU skeleton file"]],
        "skipped_persons": [], "warnings": ["warning: weda: 2 files without a gyroscope"],
    }
    (root / "dataset.json").write_text(json.dumps(summary))
    return root


def _cells(html: str, first: str) -> list:
    """The cells of the table row whose first cell is ``first`` (the first such row)."""
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.DOTALL):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.DOTALL)]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no table row {first!r}")


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    from imusim_jax.workflows.card import write_card

    d = write_dataset(tmp_path_factory.mktemp("card") / "ds")
    path = write_card(d)
    return d, pathlib.Path(path), pathlib.Path(path).read_text(encoding="utf-8")


def test_the_card_counts_every_activity_per_kind(card):
    d, path, html = card
    assert path == d / "card" / "index.html"
    assert "<title>Dataset card: card &lt;test&gt;</title>" in html and "A tiny dataset &amp; its card." in html
    # activity, safety, severity, synthetic, real, total
    assert _cells(html, "fall") == ["fall", "unsafe", "3", "1", "2", "3"]
    assert _cells(html, "walking") == ["walking", "safe", "0", "2", "1", "3"]
    assert _cells(html, "sitting_down")[3:] == ["1", "0", "1"]
    assert _cells(html, "(unmapped)")[-3:] == ["1", "0", "1"]
    assert _cells(html, "total")[-3:] == ["5", "3", "8"]
    assert _cells(html, "unsafe") == ["unsafe", "1", "2", "3"]
    assert _cells(html, "safe") == ["safe", "3", "1", "4"]
    assert _cells(html, "ntu_sim") == ["ntu_sim", "ntu_skeleton", "5", "0", "5"]
    assert _cells(html, "weda") == ["weda", "weda_fall", "0", "3", "3"]
    assert "empty_src" in html  # a source without rows is named
    assert re.search(r"<td>3 \([^)]*\)</td>", html)  # severity 3 with its level's name
    # durations per kind: T / rate
    assert _cells(html, "synthetic")[:5] == ["synthetic", "5", "2.00", "3.00", "5.00"]
    assert _cells(html, "real")[:5] == ["real", "3", "4.00", "4.40", "6.00"]


def test_the_linked_pngs_exist_and_examples_are_side_by_side(card):
    from PIL import Image

    _, path, html = card
    links = re.findall(r'<img src="([^"]+)"', html)
    assert "durations.png" in links and len(links) == 1 + 3  # durations and one per mapped activity
    for link in links:
        assert not os.path.isabs(link) and (path.parent / link).is_file(), link
        assert (path.parent / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    names = dict(re.findall(r'<h3 id="([^"]+)">.*?</h3>\s*<img src="([^"]+)"', html))
    assert list(names) == ["fall", "walking", "sitting_down"]  # the taxonomy's order
    assert re.search(r"fall <span[^>]*>\(synthetic, real\)</span>", html)
    assert re.search(r"sitting_down <span[^>]*>\(synthetic\)</span>", html)
    w_both = Image.open(path.parent / names["walking"]).size[0]
    w_one = Image.open(path.parent / names["sitting_down"]).size[0]
    assert w_both > 1.8 * w_one  # two columns: synthetic left, real right


def test_unmapped_classes_failures_and_warnings_are_listed(card):
    _, _, html = card
    section = html.split("Unmapped source classes")[1].split("Failures and warnings")[0]
    assert _cells(section, "A103 yawn &lt;odd &amp; label&gt;") == ["A103 yawn &lt;odd &amp; label&gt;", "1", "1"]
    assert _cells(section, "A104 stretch oneself") == ["A104 stretch oneself", "2", "0"]
    assert "<odd" not in html  # escaped everywhere
    assert "classes of its label map (ntu120) without a taxonomy counterpart" in section
    tail = html.split("Failures and warnings")[1]
    assert "broken.skeleton: not an NTU skeleton file" in tail and "2 files without a gyroscope" in tail


def test_examples_are_the_first_clips_and_signals_are_read_for_them_only(tmp_path, monkeypatch):
    from imusim_jax.workflows import card as card_mod

    d = write_dataset(tmp_path / "ds", shard_rows=(8,))
    read = []
    orig = card_mod._read_signals

    def spy(shards, rows, picks):
        read.extend((rows["source"][i], rows["clip_id"][i]) for i in picks)
        return orig(shards, rows, picks)

    monkeypatch.setattr(card_mod, "_read_signals", spy)
    out = tmp_path / "elsewhere"
    path = card_mod.write_card(d, out, max_examples_per_activity=1)
    assert pathlib.Path(path) == out / "index.html" and not (d / "card").exists()
    assert sorted(read) == sorted([("ntu_sim", "S001C001P001R001A043"), ("weda", "F01/U03_R01"),
                                   ("ntu_sim", "S001C001P001R001A008"), ("ntu_sim", "S001C001P002R001A099"),
                                   ("weda", "D01/U03_R01")])
    first = (out / "index.html").read_bytes()
    card_mod.write_card(d, out)
    assert (out / "index.html").read_bytes() == first  # deterministic
    card_mod.write_card(d, out, max_examples_per_activity=0)
    assert sorted(p.name for p in out.glob("*.png")) == ["durations.png"]  # earlier examples removed


def test_a_card_without_dataset_json(tmp_path):
    from imusim_jax.workflows.card import write_card

    d = write_dataset(tmp_path / "ds")
    (d / "dataset.json").unlink()
    html = pathlib.Path(write_card(d)).read_text()
    assert "Dataset card: ds" in html and _cells(html, "walking")[-3:] == ["2", "1", "3"]
    assert "A103 yawn &lt;odd &amp; label&gt;" in html  # unmapped from the rows alone


def _cli(*args, command="dataset-card"):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    return subprocess.run([sys.executable, "-m", "imusim_jax.cli", command, *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env, cwd=REPO)


def test_cli_writes_the_card_and_refuses_bad_folders_in_one_line(tmp_path):
    d = write_dataset(tmp_path / "ds")
    r = _cli(d, "-o", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "out" / "index.html") and (tmp_path / "out" / "index.html").is_file()
    r = _cli(tmp_path / "missing")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("error: no such dataset folder:"), r.stderr


def test_bad_folders_are_one_line_input_errors(tmp_path):
    from imusim_jax._errors import InputError
    from imusim_jax.workflows.card import write_card

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no shards"):
        write_card(tmp_path / "empty")
    (tmp_path / "bad" / "shards").mkdir(parents=True)
    (tmp_path / "bad" / "shards" / "part-00000.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="cannot read .*part-00000.parquet") as e:
        write_card(tmp_path / "bad")
    assert "\n" not in str(e.value)
    d = write_dataset(tmp_path / "ds")
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="cannot write"):
        write_card(d, tmp_path / "file")
    with pytest.raises(InputError, match="max_examples_per_activity"):
        write_card(d, max_examples_per_activity=-1)


def test_the_card_of_a_dataset_the_builder_made(tmp_path):
    """Real recordings only (nothing to simulate, so it is quick): the builder's own shards and dataset.json."""
    from test_build_dataset import write_sources

    write_sources(tmp_path / "src")
    manifest = tmp_path / "src" / "real.yaml"
    manifest.write_text("rate_hz: 50\nname: real only\nsources:\n  - {name: weda, type: weda_fall, path: weda}\n"
                        "  - {name: sfmm_watch, type: smartfallmm, signal: real, path: smartfallmm}\n")
    r = _cli(manifest, "-o", tmp_path / "ds", "--workers", "1", "--no-progress", command="build-dataset")
    assert r.returncode == 0, r.stderr
    from imusim_jax.workflows.card import write_card

    path = pathlib.Path(write_card(tmp_path / "ds"))
    html = path.read_text()
    assert "Dataset card: real only" in html
    import pyarrow.parquet as pq

    acts = pq.read_table(tmp_path / "ds" / "shards", columns=["activity"]).column("activity").to_pylist()
    assert acts and None not in acts
    for a in set(acts):
        assert _cells(html, a)[-2:] == [str(acts.count(a))] * 2  # real, total
        assert re.search(rf'<h3 id="{a}">{a} <span[^>]*>\(real\)</span></h3>\s*<img src="([^"]+)"', html)
    for link in re.findall(r'<img src="([^"]+)"', html):
        assert (path.parent / link).is_file()


def test_a_dataset_of_empty_shards_still_gets_a_card(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from imusim_jax.workflows.card import write_card
    from imusim_jax.workflows.dataset import _schema

    (tmp_path / "ds" / "shards").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([], schema=_schema()), tmp_path / "ds" / "shards" / "part-00000.parquet")
    html = pathlib.Path(write_card(tmp_path / "ds")).read_text()
    assert _cells(html, "rows") == ["rows", "0"] and (tmp_path / "ds" / "card" / "durations.png").is_file()
