"""The safety taxonomy and the source label maps (imusim_jax.datasets.taxonomy): the data files validate, every
mapped label is a class of its source and every mapped activity is in the taxonomy, the class lists have their
published sizes, lookups are tolerant, unmapped classes are reported, and the files ship with the package."""
from __future__ import annotations

import csv
import fnmatch
import pathlib
import re
import tomllib
from importlib import resources

import pytest
import yaml

from imusim_jax._errors import InputError
from imusim_jax.datasets import taxonomy as T

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = REPO / "imusim_jax" / "datasets" / "taxonomy"
SEVEN = {"falling": "fall", "losing_balance": "losing_balance", "fighting": "fighting", "shoving": "shoving",
         "dragging": "dragging", "jumping_from_height": "jumping_from_height", "fainting": "fainting"}
COUNTS = {"kinetics700": 700, "ucf101": 101, "violent_flows": 2, "fineaction": 106, "ucf_crime": 14,
          "xd_violence": 7, "upfall": 11, "le2i": 2, "ntu60": 60, "ntu120": 120, "vidimu": 13, "utd_mhad": 27,
          "smartfallmm": 14, "weda_fall": 19}


@pytest.fixture(scope="module")
def tax():
    return T.load_taxonomy()


def raw_taxonomy() -> dict:
    return yaml.safe_load((DATA / "taxonomy.yaml").read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------------------- taxonomy
def test_the_taxonomy_validates(tax):
    raw = raw_taxonomy()
    names = [a["name"] for a in raw["activities"]]
    assert len(names) == len(set(names)) == len(tax)
    levels = [s.level for s in tax.severity_levels]
    assert levels == list(range(len(levels))) and tax.max_severity >= 3
    assert all(s.meaning and s.name for s in tax.severity_levels)
    for a in tax.activities.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", a.name)
        assert a.safety in {"safe", "unsafe"}
        assert type(a.severity) is int and 0 <= a.severity <= tax.max_severity
        if a.severity == 0:
            assert a.safety == "safe", a.name
        if a.severity >= 2:
            assert a.safety == "unsafe", a.name
        assert a.group in tax.groups and a.description
        assert all(c in tax.activities and c != a.name for c in a.confused_with)
        assert a.parent is None or a.parent in tax.activities
        for p in tax.ancestors(a.name):
            assert not (tax.get(p).unsafe and not a.unsafe)


def test_the_seven_behaviours_are_present_and_unsafe(tax):
    assert dict(tax.behaviours) == SEVEN
    for b, n in SEVEN.items():
        assert tax.safety(n) == "unsafe" and tax.severity(n) >= 1
        assert tax.behaviour(n) == b
        for child in tax.children(n):
            assert tax.get(child).unsafe and tax.behaviour(child) == b
    assert tax.behaviour("fall_forward") == "falling" and tax.behaviour("stumble") == "losing_balance"
    assert tax.behaviour("walking") is None
    assert set(tax.children("fall")) >= {"fall_forward", "fall_backward", "fall_sideways", "fall_from_sitting"}


def test_the_routine_activities_of_the_issue_are_present_and_safe(tax):
    for n in ["walking", "jogging", "running", "sitting_down", "standing_up", "lying_down", "picking_up", "jumping",
              "hugging", "handshaking", "clapping", "waving", "sitting", "standing", "lying", "drinking", "kicking",
              "throwing"]:
        assert tax.safety(n) == "safe" and tax.severity(n) == 0, n
    assert tax.get("punching").unsafe and tax.get("stumble").parent == "losing_balance"


def test_the_medical_events_carry_a_medical_note(tax):
    for code, act in [("A041", "sneezing_coughing"), ("A042", "staggering"), ("A043", "fall"),
                      ("A044", "headache"), ("A045", "chest_pain"), ("A046", "back_pain"), ("A047", "neck_pain"),
                      ("A048", "nausea_vomiting"), ("A049", "fanning_self"), ("A103", "yawning"),
                      ("A104", "stretching"), ("A105", "blowing_nose")]:
        assert T.map_label("ntu120", code) == act
        assert tax.get(act).medical, act
    assert tax.get("fainting").medical and tax.severity("fainting") == tax.max_severity


def test_get_is_tolerant_and_unknown_names_fail_on_one_line(tax):
    assert tax.get("Fall Forward").name == "fall_forward" and tax.get("fall-forward").name == "fall_forward"
    assert "FALL_FORWARD" in tax and "flying" not in tax
    with pytest.raises(InputError, match="unknown activity 'fal_forward'.*fall_forward") as e:
        tax.get("fal_forward")
    assert "\n" not in str(e.value)
    assert tax.severity_level(0).name == "routine"
    with pytest.raises(InputError):
        tax.severity_level(99)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["activities"][0].update(safety="maybe"), "safety must be safe or unsafe"),
    (lambda d: d["activities"][0].update(severity=9), "severity must be an integer"),
    (lambda d: d["activities"][0].update(severity=1.5), "severity must be an integer"),
    (lambda d: d["activities"][0].update(severity=0), "unsafe activity needs severity 1"),
    (lambda d: d["activities"].append(dict(d["activities"][0])), "used twice"),
    (lambda d: d["activities"][0].update(confused_with=["moonwalking"]), "unknown activity 'moonwalking'"),
    (lambda d: d["activities"][0].update(parent="fall_forward"), "the parent chain loops"),
    (lambda d: d["activities"][1].update(parent="flying"), "unknown parent 'flying'"),
    (lambda d: d["behaviours"].update(falling="walking"), "must be unsafe"),
    (lambda d: d["activities"][0].update(name="Fall"), "not snake_case"),
    (lambda d: d["severity_levels"].pop(0), "numbered 0, 1, 2"),
    (lambda d: d["activities"][0].update(group="nope"), "unknown group"),
])
def test_a_broken_taxonomy_is_refused_on_one_line(edit, message):
    d = raw_taxonomy()
    edit(d)
    with pytest.raises(InputError, match=message) as e:
        T.Taxonomy.from_yaml(yaml.safe_dump(d), origin="t.yaml")
    assert "\n" not in str(e.value)


def test_a_safe_kind_of_an_unsafe_activity_is_refused():
    d = raw_taxonomy()
    walking = next(a for a in d["activities"] if a["name"] == "walking")
    walking["parent"] = "fall"
    with pytest.raises(InputError, match="a kind of unsafe 'fall' must be unsafe"):
        T.Taxonomy.from_yaml(yaml.safe_dump(d))


# ---------------------------------------------------------------------------------------------- class lists, maps
def test_every_source_has_a_class_list_and_a_label_map():
    assert set(T.sources()) == set(COUNTS)
    assert {p.stem for p in (DATA / "classes").glob("*.txt")} == set(COUNTS)
    assert {p.stem for p in (DATA / "labelmaps").glob("*.csv")} == set(COUNTS)


@pytest.mark.parametrize("src", sorted(COUNTS))
def test_class_lists_have_their_published_size_and_unique_names(src):
    classes = T.class_list(src)
    assert len(classes) == COUNTS[src] == T.source(src).n_classes
    assert len({c.label for c in classes}) == len({c.name for c in classes}) == len(classes)
    if T.source(src).codes:
        assert all(c.code for c in classes) and len({c.code for c in classes}) == len(classes)
    else:
        assert all(c.code is None for c in classes)
    lm = T.label_map(src)
    for c in classes:                                 # every class is found by its line, its name and its code
        assert lm.find(c.label) == c and lm.find(c.name) == c and lm.find(c.name.upper()) == c
        if c.code is not None:
            assert lm.find(c.code) == c and lm.find(c.code.lower()) == c


@pytest.mark.parametrize("src", sorted(COUNTS))
def test_every_mapped_label_is_a_class_and_every_activity_is_in_the_taxonomy(src, tax):
    lines = [ln for ln in (DATA / "classes" / f"{src}.txt").read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("#")]
    with open(DATA / "labelmaps" / f"{src}.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and list(rows[0]) == ["source_label", "activity", "note"]
    labels = [r["source_label"] for r in rows]
    assert len(labels) == len(set(labels))
    for r in rows:
        assert r["source_label"] in lines, r
        assert r["activity"] in tax.activities, r
    lm = T.label_map(src)
    assert set(lm.mapped) == set(labels) and set(lm.mapped) | set(lm.unmapped) == set(lines)
    assert not set(lm.mapped) & set(lm.unmapped)
    assert sorted(lm.mapped + lm.unmapped) == sorted(lines)


def test_the_official_lists_and_the_caveats():
    for src in COUNTS:
        s = T.source(src)
        assert s.official or s.caveat, src
        assert s.provenance
    assert not T.source("vidimu").official and "not confirmed" in T.source("vidimu").caveat
    text = (DATA / "SOURCES.md").read_text(encoding="utf-8")
    for src in COUNTS:
        assert f"`{src}`" in text, src


def test_ntu60_is_the_first_half_of_ntu120_and_maps_the_same():
    n60, n120 = T.class_list("ntu60"), T.class_list("ntu120")
    assert n60 == n120[:60]
    assert dict(T.label_map("ntu60").mapping) == {k: v for k, v in T.label_map("ntu120").mapping.items()
                                                   if int(k[1:4]) <= 60}
    assert n120[42] == T.SourceClass("A043", "falling") and n120[119].code == "A120"


def test_the_sources_with_real_imu_are_fully_mapped_where_they_should_be():
    for src in ("upfall", "smartfallmm", "weda_fall"):
        assert T.label_map(src).unmapped == (), src
    assert T.map_label("weda_fall", "F06") == "fainting" and T.map_label("weda_fall", "D07") == "stumble"
    assert T.map_label("smartfallmm", "A14") == "fall_rotational" and T.map_label("upfall", "5") == \
        "fall_sitting_down"
    assert T.map_label("utd_mhad", "a18") == "pushing" and T.map_label("utd_mhad", "a1") is None


# ------------------------------------------------------------------------------------------------- map_label
def test_map_label_on_codes_and_names():
    for q in ("A043", "A43", "a043", "a43", "43", "falling", "Falling", "A043 falling", "a43 FALLING", " falling. "):
        assert T.map_label("ntu120", q) == "fall", q
    assert T.map_label("NTU RGB+D 120", "punching/slapping other person") == "punching"
    assert T.map_label("ntu120", "punching slapping other person") == "punching"
    assert T.map_label("ntu120", "grab other person's stuff") is None          # curly apostrophe in the list
    assert T.map_label("ucf101", "BoxingPunchingBag") == T.map_label("ucf101", "boxing_punching_bag") == \
        T.map_label("ucf101", "17") == "combat_sport"
    assert T.map_label("ucf101", "HandStandPushups") is None                   # the other spelling is found
    assert T.map_label("kinetics700", "hugging (not baby)") == T.map_label("Kinetics-700", "hugging_not_baby") \
        == "hugging"
    assert T.map_label("xd_violence", "B1") == "fighting" and T.map_label("xd", "A") == "routine_unspecified"
    assert T.map_label("weda_fall", "f1") == "fall_forward" and T.map_label("WEDA-FALL", "D01") == "walking"
    assert T.map_label("utd_mhad", "a24") == T.map_label("utd_mhad", "24") == "standing_up"
    assert T.map_label("up-fall", "Falling backwards") == "fall_backward"
    assert T.map_label("le2i", "No Fall") == "routine_unspecified"


def test_map_label_refuses_unknown_sources_and_labels_on_one_line():
    with pytest.raises(InputError, match="unknown source dataset 'kinetix'") as e:
        T.map_label("kinetix", "jogging")
    assert "\n" not in str(e.value) and "kinetics700" in str(e.value)
    with pytest.raises(InputError, match="not a class of NTU RGB\\+D 120"):
        T.map_label("ntu120", "A121")
    with pytest.raises(InputError, match="not a class of WEDA-FALL"):
        T.map_label("weda_fall", "1")                  # F and D codes: a bare number is ambiguous
    assert T.map_label("ntu120", "A121", strict=False) is None
    with pytest.raises(InputError):
        T.label_map("nope")


def test_label_row_carries_what_the_builder_writes():
    assert T.label_row("ntu120", "a52") == {"activity": "shoving", "source_label": "A052 pushing other person",
                                            "safety": "unsafe", "severity": 2}
    r = T.label_row("weda_fall", "F08")
    assert r["activity"] == "fainting" and r["safety"] == "unsafe" and r["severity"] == 4
    assert r["source_label"].startswith("F08 Lateral fall while sitting")
    assert T.label_row("ntu120", "A003") is None                                # unmapped
    assert T.label_row("ntu120", "nothing", strict=False) is None
    with pytest.raises(InputError):
        T.label_row("ntu120", "nothing")


def test_unmapped_classes_are_reported():
    lm = T.label_map("ntu120")
    assert "A003 brushing teeth" in lm.unmapped and "A043 falling" in lm.mapped
    assert len(lm.mapped) + len(lm.unmapped) == 120
    cov = T.coverage()
    assert set(cov) == set(COUNTS)
    for src, c in cov.items():
        assert len(c["mapped"]) + len(c["unmapped"]) == c["n_classes"] == COUNTS[src]
        assert c["mapped"], src                                             # every source contributes something
    assert "Arson" in cov["ucf_crime"]["unmapped"] and "Fighting" in cov["ucf_crime"]["mapped"]
    assert len(cov["kinetics700"]["unmapped"]) > 500


def test_a_label_map_naming_a_missing_class_is_refused(monkeypatch):
    real = T._read

    def fake(*parts):
        text = real(*parts)
        return text + "A043 fallen,fall,\n" if parts == ("labelmaps", "ntu60.csv") else text
    monkeypatch.setattr(T, "_read", fake)
    T._label_map.cache_clear()
    try:
        with pytest.raises(InputError, match="'A043 fallen' is not a line of classes/ntu60.txt"):
            T.label_map("ntu60")
    finally:
        monkeypatch.undo()
        T._label_map.cache_clear()
    assert T.map_label("ntu60", "A043") == "fall"


# ---------------------------------------------------------------------------------------------- package data
def test_the_data_files_are_package_data():
    root = resources.files("imusim_jax.datasets") / "taxonomy"
    assert (root / "taxonomy.yaml").is_file() and (root / "sources.yaml").is_file()
    assert (root / "classes" / "ntu120.txt").is_file() and (root / "labelmaps" / "weda_fall.csv").is_file()
    with open(REPO / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)
    patterns = project["tool"]["setuptools"]["package-data"]["imusim_jax.datasets"]
    files = [p.relative_to(DATA.parent).as_posix() for p in DATA.rglob("*") if p.is_file()
             and "__pycache__" not in p.parts]
    assert files
    for f in files:                                   # every data file is matched, so every one is installed
        assert any(fnmatch.fnmatch(f, p) for p in patterns), f
    assert any(d.lower().startswith("pyyaml") for d in project["project"]["dependencies"])


# ---------------------------------------------------------------------------------------------- real data
@pytest.mark.realdata
def test_the_realdata_file_names_map(realdata):
    weda = realdata / "weda_fall" / "50Hz"
    if weda.is_dir():
        codes = {p.name for p in weda.iterdir() if p.is_dir()}
        assert codes and all(T.map_label("weda_fall", c) for c in codes)
    sf = realdata / "smartfallmm" / "young" / "skeleton"
    if sf.is_dir():
        acts = {re.match(r"S\d+(A\d+)T\d+", p.name).group(1) for p in sf.glob("S*A*T*.csv.gz")}
        assert acts and all(T.map_label("smartfallmm", a) for a in acts)
    utd = realdata / "utd_mhad" / "Inertial"
    if utd.is_dir():
        acts = {p.name.split("_")[0] for p in utd.glob("a*_s*_t*_inertial.mat")}
        assert len(acts) == 27 and all(T.label_map("utd_mhad").find(a) for a in acts)
    up = realdata / "upfall" / "upfall_falls_wrist.csv"
    if up.is_file():
        with open(up, newline="") as f:
            acts = {r["Activity"] for r in csv.DictReader(f) if r.get("Activity")}
        assert acts and all(T.label_row("upfall", str(int(float(a))))["safety"] == "unsafe" for a in acts)
