"""The safety taxonomy and the label maps of the source datasets.

Data, not code: ``imusim_jax/datasets/taxonomy/`` holds the reviewed files this module reads and checks.

* ``taxonomy.yaml``: every activity a clip can be labelled with (``name``, ``description``, ``safety`` ``safe`` or
  ``unsafe``, an ordinal ``severity`` whose levels are defined in the file, ``group``, and optionally ``parent``,
  ``medical`` and ``confused_with``), and which of them are the seven safety-critical behaviours (falling, losing
  balance, fighting, shoving, dragging, jumping from height, fainting).
* ``sources.yaml``: the source datasets; ``classes/<source>.txt``: each one's class list, one class per line
  (``CODE name`` where the source has codes); ``labelmaps/<source>.csv``: ``source_label,activity,note`` for the
  classes with a taxonomy counterpart. A class missing from the map is *unmapped*: :func:`label_map` lists it, so
  it can be reported (the dataset card), never dropped silently. ``SOURCES.md`` says where each list comes from.

Typical use (one row of a dataset)::

    from imusim_jax.datasets import taxonomy
    taxonomy.map_label("ntu120", "A043")          # 'fall'  (also "a43", "falling", "A043 falling")
    taxonomy.label_row("weda_fall", "F06")        # {'activity': 'fainting', 'source_label': 'F06 Fall forward ...',
                                                  #  'safety': 'unsafe', 'severity': 4}
    taxonomy.label_map("kinetics700").unmapped    # the 630 Kinetics classes without a counterpart
    taxonomy.load_taxonomy().behaviour("fall_forward")   # 'falling'

Every lookup of a source, a class or an activity is tolerant of case, spaces, underscores, hyphens and other
punctuation, and of the source's codes (``A043``, ``A43``, ``a43`` and, where all codes share one letter, ``43``).
"""
from __future__ import annotations

import csv
import dataclasses
import difflib
import functools
import io
import re
import types
from collections.abc import Iterator, Mapping
from importlib import resources

import yaml

from imusim_jax._errors import InputError

__all__ = [
    "SAFETY", "SeverityLevel", "Activity", "Taxonomy", "Source", "SourceClass", "LabelMap",
    "load_taxonomy", "sources", "source", "class_list", "label_map", "map_label", "label_row", "coverage",
]

SAFETY = ("safe", "unsafe")
"""The values of ``safety``."""

_DATA = "taxonomy"
_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
_ACTIVITY_KEYS = {"name", "description", "safety", "severity", "group", "parent", "medical", "confused_with"}
_SOURCE_KEYS = {"title", "codes", "n_classes", "official", "caveat", "imu", "aliases", "provenance"}
_IMU = ("real", "video", "skeleton")


def _key(text: str) -> str:
    """The tolerant form of a name: case-folded, everything but letters and digits dropped."""
    return re.sub(r"[^0-9a-z]+", "", str(text).casefold())


def _code_key(text: str) -> tuple[str, int | None] | None:
    """``A043`` / ``a43`` -> ``('a', 43)``; ``B1`` -> ``('b', 1)``; ``G`` -> ``('g', None)``; ``7`` -> ``('', 7)``."""
    m = re.fullmatch(r"([a-z]*)(\d*)", str(text).strip().casefold())
    if m is None or not (m.group(1) or m.group(2)):
        return None
    return m.group(1), (int(m.group(2)) if m.group(2) else None)


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


def _read(*parts: str) -> str:
    path = resources.files("imusim_jax.datasets").joinpath(_DATA, *parts)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"the package data file imusim_jax/datasets/{_DATA}/{'/'.join(parts)} is missing "
                         "(a broken install?)") from None


# ------------------------------------------------------------------------------------------------------ taxonomy
@dataclasses.dataclass(frozen=True)
class SeverityLevel:
    """One level of the ordinal severity scale: ``level`` (0 = routine), a short ``name`` and its ``meaning``."""
    level: int
    name: str
    meaning: str


@dataclasses.dataclass(frozen=True)
class Activity:
    """One activity of the taxonomy (see ``taxonomy.yaml`` for the meaning of each field)."""
    name: str
    description: str
    safety: str
    severity: int
    group: str
    parent: str | None = None
    medical: str | None = None
    confused_with: tuple[str, ...] = ()

    @property
    def unsafe(self) -> bool:
        return self.safety == "unsafe"


class Taxonomy:
    """The validated taxonomy: ``activities`` (name -> :class:`Activity`, in file order), ``severity_levels``,
    ``behaviours`` (the seven safety-critical behaviours: behaviour -> activity name) and ``groups``. Build it with
    :func:`load_taxonomy` (the package's file) or :meth:`from_yaml`; both raise :class:`InputError` on a file that
    breaks a rule."""

    def __init__(self, activities: Mapping[str, Activity], severity_levels: tuple[SeverityLevel, ...],
                 behaviours: Mapping[str, str], groups: Mapping[str, str]):
        self.activities: Mapping[str, Activity] = types.MappingProxyType(dict(activities))
        self.severity_levels: tuple[SeverityLevel, ...] = tuple(severity_levels)
        self.behaviours: Mapping[str, str] = types.MappingProxyType(dict(behaviours))
        self.groups: Mapping[str, str] = types.MappingProxyType(dict(groups))
        self._by_key = {_key(n): n for n in self.activities}

    @classmethod
    def from_yaml(cls, text: str, origin: str = "taxonomy") -> Taxonomy:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise InputError(f"{origin}: not valid YAML: {' '.join(str(e).split())}") from None
        return _parse_taxonomy(data, origin)

    # lookups
    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._by_key

    def __iter__(self) -> Iterator[str]:
        return iter(self.activities)

    def __len__(self) -> int:
        return len(self.activities)

    def __repr__(self) -> str:
        return f"Taxonomy({len(self)} activities, severity 0..{self.max_severity})"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.activities)

    @property
    def max_severity(self) -> int:
        return self.severity_levels[-1].level

    def get(self, name: str) -> Activity:
        """The activity called ``name`` (tolerant of case, spaces, hyphens); :class:`InputError` if there is none."""
        n = self._by_key.get(_key(name))
        if n is None:
            raise InputError(f"unknown activity {name!r}{_suggest(name, self.activities)}")
        return self.activities[n]

    def safety(self, name: str) -> str:
        return self.get(name).safety

    def severity(self, name: str) -> int:
        return self.get(name).severity

    def severity_level(self, level: int) -> SeverityLevel:
        for s in self.severity_levels:
            if s.level == level:
                return s
        raise InputError(f"severity {level!r} is not on the scale 0..{self.max_severity}")

    def ancestors(self, name: str) -> tuple[str, ...]:
        """The ``parent`` chain of an activity, nearest first (empty for a top-level activity)."""
        out, a = [], self.get(name)
        while a.parent is not None:
            out.append(a.parent)
            a = self.activities[a.parent]
        return tuple(out)

    def children(self, name: str) -> tuple[str, ...]:
        """The activities whose ``parent`` is ``name``."""
        n = self.get(name).name
        return tuple(a.name for a in self.activities.values() if a.parent == n)

    def behaviour(self, name: str) -> str | None:
        """Which of the seven safety-critical behaviours the activity is (itself or through its parents), as the
        behaviour's key (``'falling'``, ``'losing_balance'``, ...), or ``None``."""
        by_activity = {v: k for k, v in self.behaviours.items()}
        for n in (self.get(name).name,) + self.ancestors(name):
            if n in by_activity:
                return by_activity[n]
        return None


def _one_line(v) -> str:
    return " ".join(str(v).split())


def _parse_taxonomy(data, origin: str) -> Taxonomy:
    if not isinstance(data, dict):
        raise InputError(f"{origin}: expected a mapping with severity_levels, behaviours, groups and activities")
    missing = {"severity_levels", "behaviours", "groups", "activities"} - set(data)
    if missing:
        raise InputError(f"{origin}: missing {', '.join(sorted(missing))}")

    levels = data["severity_levels"]
    if not isinstance(levels, list) or not levels:
        raise InputError(f"{origin}: severity_levels must be a non-empty list")
    sev: list[SeverityLevel] = []
    for i, lv in enumerate(levels):
        if not isinstance(lv, dict) or set(lv) != {"level", "name", "meaning"}:
            raise InputError(f"{origin}: severity_levels[{i}] needs exactly level, name and meaning")
        if type(lv["level"]) is not int or lv["level"] != i:
            raise InputError(f"{origin}: severity_levels must be numbered 0, 1, 2, ... in order; "
                             f"entry {i} has level {lv['level']!r}")
        if not str(lv["meaning"]).strip() or not str(lv["name"]).strip():
            raise InputError(f"{origin}: severity level {i} needs a name and a meaning")
        sev.append(SeverityLevel(i, str(lv["name"]), _one_line(lv["meaning"])))
    top = sev[-1].level

    groups = data["groups"]
    if not isinstance(groups, dict) or not groups:
        raise InputError(f"{origin}: groups must be a mapping of group name -> meaning")

    acts: dict[str, Activity] = {}
    raw = data["activities"]
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{origin}: activities must be a non-empty list")
    for i, a in enumerate(raw):
        where = f"{origin}: activities[{i}]"
        if not isinstance(a, dict):
            raise InputError(f"{where}: expected a mapping")
        name = a.get("name")
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise InputError(f"{where}: name {name!r} is not snake_case")
        where = f"{origin}: activity {name!r}"
        extra = set(a) - _ACTIVITY_KEYS
        if extra:
            raise InputError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        if name in acts or any(_key(name) == _key(n) for n in acts):
            raise InputError(f"{where}: the name is used twice")
        for f in ("description", "safety", "severity", "group"):
            if f not in a:
                raise InputError(f"{where}: missing {f}")
        if a["safety"] not in SAFETY:
            raise InputError(f"{where}: safety must be safe or unsafe, not {a['safety']!r}")
        s = a["severity"]
        if type(s) is not int or not 0 <= s <= top:
            raise InputError(f"{where}: severity must be an integer 0..{top}, not {s!r}")
        if s == 0 and a["safety"] == "unsafe":
            raise InputError(f"{where}: an unsafe activity needs severity 1 or more")
        if s >= 2 and a["safety"] == "safe":
            raise InputError(f"{where}: severity {s} ({sev[s].name}) is unsafe by definition")
        if a["group"] not in groups:
            raise InputError(f"{where}: unknown group {a['group']!r}")
        cw = a.get("confused_with") or []
        if not isinstance(cw, list) or not all(isinstance(c, str) for c in cw):
            raise InputError(f"{where}: confused_with must be a list of activity names")
        if not str(a["description"]).strip():
            raise InputError(f"{where}: empty description")
        medical = a.get("medical")
        acts[name] = Activity(name=name, description=_one_line(a["description"]), safety=a["safety"], severity=s,
                              group=a["group"], parent=a.get("parent"),
                              medical=None if medical is None else _one_line(medical), confused_with=tuple(cw))

    for act in acts.values():
        where = f"{origin}: activity {act.name!r}"
        for c in act.confused_with:
            if c not in acts:
                raise InputError(f"{where}: confused_with names unknown activity {c!r}{_suggest(c, acts)}")
            if c == act.name:
                raise InputError(f"{where}: confused with itself")
        if act.parent is not None:
            if act.parent not in acts:
                raise InputError(f"{where}: unknown parent {act.parent!r}{_suggest(act.parent, acts)}")
            seen, p = {act.name}, act.parent
            while p is not None:
                if p in seen:
                    raise InputError(f"{where}: the parent chain loops")
                seen.add(p)
                if acts[p].unsafe and not act.unsafe:
                    raise InputError(f"{where}: a kind of unsafe {p!r} must be unsafe too")
                p = acts[p].parent

    behaviours = data["behaviours"]
    if not isinstance(behaviours, dict) or not behaviours:
        raise InputError(f"{origin}: behaviours must be a mapping of behaviour -> activity name")
    for b, n in behaviours.items():
        if n not in acts:
            raise InputError(f"{origin}: behaviour {b!r} names unknown activity {n!r}")
        if not acts[n].unsafe:
            raise InputError(f"{origin}: behaviour {b!r} ({n!r}) must be unsafe")
    return Taxonomy(acts, tuple(sev), {str(k): str(v) for k, v in behaviours.items()},
                    {str(k): _one_line(v) for k, v in groups.items()})


@functools.cache
def load_taxonomy() -> Taxonomy:
    """The package's taxonomy (``imusim_jax/datasets/taxonomy/taxonomy.yaml``), validated; cached."""
    return Taxonomy.from_yaml(_read("taxonomy.yaml"), origin="taxonomy.yaml")


# ------------------------------------------------------------------------------------------------------- sources
@dataclasses.dataclass(frozen=True)
class Source:
    """A source dataset (``sources.yaml``): ``name`` (its key here), ``title``, whether its classes have ``codes``,
    ``n_classes``, ``official`` (its own list, verbatim) with a ``caveat`` where not, ``imu`` (``real``: it has
    real IMU recordings; ``video`` / ``skeleton``: a motion source), ``aliases`` and ``provenance``."""
    name: str
    title: str
    codes: bool
    n_classes: int
    official: bool
    imu: str
    provenance: str
    caveat: str | None = None
    aliases: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class SourceClass:
    """One class of a source: its ``code`` (``None`` where the source has none) and ``name``; ``label`` is the
    line of the class list (``'A043 falling'``), the form ``source_label`` takes in the label maps and rows."""
    code: str | None
    name: str

    @property
    def label(self) -> str:
        return self.name if self.code is None else f"{self.code} {self.name}"


@functools.cache
def _sources() -> dict[str, Source]:
    try:
        data = yaml.safe_load(_read("sources.yaml"))
    except yaml.YAMLError as e:
        raise InputError(f"sources.yaml: not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict) or not isinstance(data.get("sources"), dict):
        raise InputError("sources.yaml: expected a mapping 'sources' of source name -> fields")
    out: dict[str, Source] = {}
    for name, f in data["sources"].items():
        where = f"sources.yaml: source {name!r}"
        if not isinstance(name, str) or not _NAME.fullmatch(name) or not isinstance(f, dict):
            raise InputError(f"{where}: expected a snake_case name with a mapping of fields")
        extra = set(f) - _SOURCE_KEYS
        if extra:
            raise InputError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
        need = {"title", "codes", "n_classes", "official", "imu", "provenance"} - set(f)
        if need:
            raise InputError(f"{where}: missing {', '.join(sorted(need))}")
        if type(f["n_classes"]) is not int or f["n_classes"] < 1:
            raise InputError(f"{where}: n_classes must be a positive integer")
        if f["imu"] not in _IMU:
            raise InputError(f"{where}: imu must be one of {', '.join(_IMU)}")
        if not f["official"] and not f.get("caveat"):
            raise InputError(f"{where}: a list that is not the official one needs a caveat")
        out[name] = Source(name=name, title=str(f["title"]), codes=bool(f["codes"]), n_classes=f["n_classes"],
                           official=bool(f["official"]), imu=f["imu"], provenance=_one_line(f["provenance"]),
                           caveat=None if f.get("caveat") is None else _one_line(f["caveat"]),
                           aliases=tuple(str(a) for a in f.get("aliases") or ()))
    keys: dict[str, str] = {}
    for s in out.values():
        for k in {_key(s.name), _key(s.title), *(_key(a) for a in s.aliases)}:
            if keys.setdefault(k, s.name) != s.name:
                raise InputError(f"sources.yaml: {k!r} names both {keys[k]!r} and {s.name!r}")
    return out


@functools.cache
def _source_keys() -> dict[str, str]:
    return {k: s.name for s in _sources().values() for k in (_key(s.name), _key(s.title), *map(_key, s.aliases))}


def sources() -> tuple[str, ...]:
    """The names of the source datasets with a class list and a label map."""
    return tuple(_sources())


def source(name: str) -> Source:
    """The source called ``name`` (its key, title or an alias: ``'ntu120'``, ``'NTU RGB+D 120'``, ``'UP-Fall'``);
    :class:`InputError` if there is none."""
    if isinstance(name, Source):
        return name
    n = _source_keys().get(_key(name))
    if n is None:
        raise InputError(f"unknown source dataset {name!r}{_suggest(name, _sources())}; "
                         f"known: {', '.join(_sources())}")
    return _sources()[n]


@functools.cache
def _class_list(name: str) -> tuple[SourceClass, ...]:
    src = _sources()[name]
    where = f"classes/{name}.txt"
    out: list[SourceClass] = []
    for i, line in enumerate(_read("classes", f"{name}.txt").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line != line.strip():
            raise InputError(f"{where}: line {i}: leading or trailing spaces")
        if src.codes:
            parts = line.split(" ", 1)
            if len(parts) != 2 or _code_key(parts[0]) is None or not parts[1].strip():
                raise InputError(f"{where}: line {i}: expected 'CODE name', got {line!r}")
            out.append(SourceClass(parts[0], parts[1]))
        else:
            out.append(SourceClass(None, line))
    if len(out) != src.n_classes:
        raise InputError(f"{where}: {len(out)} classes, sources.yaml says {src.n_classes}")
    return tuple(out)


def class_list(name: str) -> tuple[SourceClass, ...]:
    """The classes of a source, in the order of its class list."""
    return _class_list(source(name).name)


@dataclasses.dataclass(frozen=True)
class LabelMap:
    """A source's label map: its ``classes``, ``mapping`` (class label -> activity) and ``notes`` (class label ->
    note, where the map has one). ``mapped`` and ``unmapped`` list the class labels with and without a taxonomy
    counterpart, in class-list order."""
    source: Source
    classes: tuple[SourceClass, ...]
    mapping: Mapping[str, str]
    notes: Mapping[str, str]

    @property
    def mapped(self) -> tuple[str, ...]:
        return tuple(c.label for c in self.classes if c.label in self.mapping)

    @property
    def unmapped(self) -> tuple[str, ...]:
        return tuple(c.label for c in self.classes if c.label not in self.mapping)

    def find(self, label: str) -> SourceClass | None:
        """The class a label names: the class-list line, the name or the code, tolerant of case, spaces,
        underscores and punctuation, and of zero padding in codes (``A43`` is ``A043``); ``None`` if none."""
        return _find(self.source.name, str(label))

    def activity(self, label: str, *, strict: bool = True) -> str | None:
        """The taxonomy activity of a class, ``None`` for an unmapped class. A label that is no class of the source
        raises :class:`InputError` (``strict=False``: returns ``None``)."""
        c = self.find(label)
        if c is None:
            if strict:
                names = [x.label for x in self.classes]
                raise InputError(f"{label!r} is not a class of {self.source.title}{_suggest(label, names)}")
            return None
        return self.mapping.get(c.label)


@functools.cache
def _index(name: str):
    classes = _class_list(name)
    by_name: dict[str, SourceClass] = {}
    by_code: dict[tuple, SourceClass] = {}
    for c in classes:
        for k in {_key(c.label), _key(c.name)}:
            if by_name.setdefault(k, c) != c:
                raise InputError(f"classes/{name}.txt: {by_name[k].label!r} and {c.label!r} are the same name "
                                 "once case and punctuation are ignored")
        if c.code is not None:
            ck = _code_key(c.code)
            if by_code.setdefault(ck, c) != c:
                raise InputError(f"classes/{name}.txt: code {c.code!r} is used twice")
    prefixes = {k[0] for k in by_code}
    uniform = prefixes.pop() if len(prefixes) == 1 else None
    return by_name, by_code, uniform


def _find(name: str, label: str) -> SourceClass | None:
    by_name, by_code, uniform = _index(name)
    c = by_name.get(_key(label))
    if c is not None:
        return c
    ck = _code_key(label)
    if ck is not None:
        if ck in by_code:
            return by_code[ck]
        if ck[0] == "" and uniform is not None and (uniform, ck[1]) in by_code:
            return by_code[(uniform, ck[1])]
    head, _, rest = label.strip().partition(" ")
    ck = _code_key(head)
    if rest and ck is not None:                       # "a43 Falling": the code, and the name agreeing with it
        c = by_code.get(ck) or (by_code.get((uniform, ck[1])) if ck[0] == "" and uniform is not None else None)
        if c is not None and _key(rest) == _key(c.name):
            return c
    return None


@functools.cache
def _label_map(name: str) -> LabelMap:
    src = _sources()[name]
    classes = _class_list(name)
    labels = {c.label for c in classes}
    tax = load_taxonomy()
    where = f"labelmaps/{name}.csv"
    rows = list(csv.reader(io.StringIO(_read("labelmaps", f"{name}.csv"))))
    if not rows or rows[0][:2] != ["source_label", "activity"] or len(rows[0]) > 3 or \
            (len(rows[0]) == 3 and rows[0][2] != "note"):
        raise InputError(f"{where}: the header must be source_label,activity[,note]")
    mapping: dict[str, str] = {}
    notes: dict[str, str] = {}
    for i, r in enumerate(rows[1:], 2):
        if not r:
            continue
        if len(r) != len(rows[0]):
            raise InputError(f"{where}: line {i}: {len(r)} fields, the header has {len(rows[0])}")
        lab, act = r[0], r[1]
        if lab not in labels:
            near = _find(name, lab)
            hint = f" (the class list spells it {near.label!r})" if near else _suggest(lab, labels)
            raise InputError(f"{where}: line {i}: {lab!r} is not a line of classes/{name}.txt{hint}")
        if act not in tax.activities:
            raise InputError(f"{where}: line {i}: unknown activity {act!r}{_suggest(act, tax.activities)}")
        if lab in mapping:
            raise InputError(f"{where}: line {i}: {lab!r} is mapped twice")
        mapping[lab] = act
        if len(r) > 2 and r[2].strip():
            notes[lab] = r[2].strip()
    return LabelMap(src, classes, types.MappingProxyType(mapping), types.MappingProxyType(notes))


def label_map(name: str) -> LabelMap:
    """A source's validated label map, with its mapped and unmapped classes (:class:`LabelMap`)."""
    return _label_map(source(name).name)


def map_label(src: str, label: str, *, strict: bool = True) -> str | None:
    """The taxonomy activity of a source's class (by its name, code or class-list line), or ``None`` where the
    class has no counterpart. An unknown source, or (``strict``, the default) a label that is no class of the
    source, raises :class:`InputError`."""
    return label_map(src).activity(label, strict=strict)


def label_row(src: str, label: str, *, strict: bool = True) -> dict | None:
    """The label columns of a dataset row for a source's class: ``activity``, ``source_label`` (the class-list
    line), ``safety`` and ``severity``; ``None`` where the class is unmapped (or, with ``strict=False``, unknown)."""
    lm = label_map(src)
    c = lm.find(label)
    if c is None:
        lm.activity(label, strict=strict)             # raises when strict
        return None
    act = lm.mapping.get(c.label)
    if act is None:
        return None
    a = load_taxonomy().activities[act]
    return {"activity": a.name, "source_label": c.label, "safety": a.safety, "severity": a.severity}


def coverage() -> dict[str, dict]:
    """Per source: ``title``, ``n_classes``, ``mapped`` and ``unmapped`` (class labels), ``official`` and
    ``caveat``: what a dataset card lists so that no class is dropped silently."""
    out = {}
    for n in sources():
        lm = label_map(n)
        out[n] = {"title": lm.source.title, "n_classes": len(lm.classes), "mapped": lm.mapped,
                  "unmapped": lm.unmapped, "official": lm.source.official, "caveat": lm.source.caveat}
    return out
