"""The dataset card behind ``imusim-jax dataset-card DATASET_DIR``: one static HTML page (and its PNGs) that says
what a dataset built by ``imusim-jax build-dataset`` holds.

The page (``DATASET_DIR/card/index.html`` unless ``out`` says otherwise; PNGs beside it, linked relatively, CSS
inline, so the folder can be copied or served as it is):

* the manifest's name and description, and the totals (rows, clips, shards, rate, whether the build completed);
* counts of rows per activity (with its safety and severity), safety label, severity, source and kind
  (synthetic / real), each split by kind;
* a histogram of clip durations (``num_samples / rate_hz``) per kind;
* one example figure per activity: accelerometer and gyroscope against time, the synthetic example left and the
  real one right where the activity has both (the first rows by ``(source, clip_id, person, variant)``, so the
  same dataset gives the same examples);
* the source classes without a taxonomy counterpart: those seen (``dataset.json``'s ``unmapped_seen`` and the rows
  whose ``activity`` is null) and every one the source's label map leaves out (``taxonomy_unmapped_classes``);
* the failures, skipped persons and warnings ``dataset.json`` records.

Memory: the metadata columns of every row are read, the signals (``accel``, ``gyro``) only of the example rows,
one row group at a time.
"""
from __future__ import annotations

import collections
import html
import json
import os
import re
from typing import Any, Optional

import numpy as np

from imusim_jax._errors import InputError

__all__ = ["write_card", "CARD_DIR"]

CARD_DIR = "card"
"""The card's folder inside the dataset folder (the default output)."""
_SHARDS = "shards"
_DATASET_JSON = "dataset.json"
_KINDS = ("synthetic", "real")
_META = ("source", "dataset", "clip_id", "person", "variant", "subject", "activity", "source_label", "safety",
         "severity", "kind", "placement", "mount", "profile", "rate_hz", "num_samples")
_NEEDED = ("source", "clip_id", "activity", "kind", "rate_hz")
_UNMAPPED = "(unmapped)"
_FIG_PREFIXES = ("durations", "example-")


def write_card(dataset_dir: str | os.PathLike, out: Optional[str | os.PathLike] = None, *,
               max_examples_per_activity: int = 1) -> str:
    """Write the card of the dataset in ``dataset_dir`` (``shards/part-*.parquet`` and ``dataset.json``) to
    ``out/index.html`` (default ``dataset_dir/card``), its PNGs beside it; returns the HTML file's path.

    ``max_examples_per_activity``: example clips drawn per activity and kind (0: no example figures). Raises
    ``InputError`` (one line) for a missing folder, a folder without shards, or a shard that cannot be read."""
    dataset_dir = os.fspath(dataset_dir)
    n_examples = int(max_examples_per_activity)
    if n_examples < 0:
        raise InputError(f"max_examples_per_activity must be 0 or more, got {max_examples_per_activity}")
    if not os.path.isdir(dataset_dir):
        raise InputError(f"no such dataset folder: {dataset_dir}")
    shard_dir = os.path.join(dataset_dir, _SHARDS)
    shards = sorted(os.path.join(shard_dir, n) for n in (os.listdir(shard_dir) if os.path.isdir(shard_dir) else ())
                    if n.startswith("part-") and n.endswith(".parquet"))
    if not shards:
        raise InputError(f"{dataset_dir} holds no shards ({_SHARDS}/part-*.parquet): build it with "
                         "imusim-jax build-dataset")
    summary = _read_summary(dataset_dir)
    out = os.fspath(out) if out is not None else os.path.join(dataset_dir, CARD_DIR)
    from imusim_jax.io import check_writable

    check_writable(os.path.join(out, "index.html"))
    rows = _read_meta(shards)
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):  # figures of an earlier card (other activities): not this one's
        if name.endswith(".png") and name.startswith(_FIG_PREFIXES):
            os.remove(os.path.join(out, name))
    durations = _plot_durations(rows, os.path.join(out, "durations.png"))
    examples = _pick_examples(rows, n_examples)
    signals = _read_signals(shards, rows, [i for picks in examples.values() for k in picks for i in picks[k]])
    figures = {}
    for n, (activity, picks) in enumerate(examples.items()):
        figures[activity] = f"example-{n:03d}-{_slug(activity)}.png"
        _plot_example(activity, picks, rows, signals, os.path.join(out, figures[activity]))
    page = _page(dataset_dir, summary, rows, durations, figures, examples)
    from imusim_jax.io import atomic_path

    path = os.path.join(out, "index.html")
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    return path


# ---------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------

def _read_summary(dataset_dir: str) -> dict:
    """``dataset.json`` (``{}`` when there is none; one line for one that is not JSON)."""
    path = os.path.join(dataset_dir, _DATASET_JSON)
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path}: {e}".splitlines()[0]) from None
    return data if isinstance(data, dict) else {}


def _read_meta(shards: list) -> dict:
    """The metadata columns of every row: ``{column: numpy array}`` plus ``_shard``, ``_group`` and ``_row`` (where
    the row lies: shard index, row group, row within the group); ``num_samples`` from the signals' lengths in a
    shard without that column."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    cols: dict = {c: [] for c in (*_META, "_shard", "_group", "_row")}
    for s, path in enumerate(shards):
        try:
            pf = pq.ParquetFile(path)
            names = set(pf.schema_arrow.names)
            missing = [c for c in _NEEDED if c not in names]
            if missing:
                raise InputError(f"{path}: not a dataset shard (no column {missing[0]!r})")
            want = [c for c in _META if c in names]
            for g in range(pf.metadata.num_row_groups):
                t = pf.read_row_group(g, columns=want)
                n = t.num_rows
                for c in _META:
                    if c in names:
                        cols[c].append(t.column(c).to_numpy(zero_copy_only=False))
                    elif c == "num_samples" and "accel" in names:
                        a = pf.read_row_group(g, columns=["accel"]).column("accel")
                        cols[c].append(pc.list_value_length(a).to_numpy(zero_copy_only=False))
                    else:
                        cols[c].append(np.full(n, None, dtype=object))
                cols["_shard"].append(np.full(n, s))
                cols["_group"].append(np.full(n, g))
                cols["_row"].append(np.arange(n))
        except InputError:
            raise
        except Exception as e:  # noqa: BLE001 - a torn or foreign file: one line naming it
            raise InputError(f"cannot read {path}: {e}".splitlines()[0]) from None
    out = {c: np.concatenate(v) if v else np.zeros(0, dtype=object) for c, v in cols.items()}
    n = len(out["_shard"])
    rate = np.array([np.nan if r is None else float(r) for r in out["rate_hz"]], dtype=float)
    ns = np.array([np.nan if v is None else float(v) for v in out["num_samples"]], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["_duration"] = np.where(rate > 0, ns / rate, np.nan) if n else np.zeros(0)
    return out


def _read_signals(shards: list, rows: dict, picks: list) -> dict:
    """``{row index: (accel, gyro)}`` of the picked rows, reading one row group at a time."""
    import pyarrow.parquet as pq

    by_group: dict = collections.defaultdict(list)
    for i in sorted(set(picks)):
        by_group[(int(rows["_shard"][i]), int(rows["_group"][i]))].append(i)
    out = {}
    for (s, g), idx in sorted(by_group.items()):
        try:
            t = pq.ParquetFile(shards[s]).read_row_group(g, columns=["accel", "gyro"])
        except Exception as e:  # noqa: BLE001
            raise InputError(f"cannot read the signals of {shards[s]}: {e}".splitlines()[0]) from None
        for i in idx:
            r = int(rows["_row"][i])
            out[i] = tuple(np.asarray(t.column(c)[r].as_py() or np.zeros((0, 3)), dtype=float).reshape(-1, 3)
                           for c in ("accel", "gyro"))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Counting and choosing
# ---------------------------------------------------------------------------------------------------------------

def _kinds(rows: dict) -> list:
    present = {str(k) for k in rows["kind"]}
    return [k for k in _KINDS if k in present] + sorted(present - set(_KINDS))


def _crosstab(keys, kinds_of_rows) -> dict:
    """``{key: Counter(kind -> rows)}``."""
    tab: dict = collections.defaultdict(collections.Counter)
    for k, kind in zip(keys, kinds_of_rows):
        tab[k][str(kind)] += 1
    return tab


def _order(rows: dict) -> np.ndarray:
    """Row indices sorted by ``(source, clip_id, person, variant)``: the examples' order."""
    n = len(rows["_shard"])
    return np.array(sorted(range(n), key=lambda i: (str(rows["source"][i]), str(rows["clip_id"][i]),
                                                     _int(rows["person"][i]), _int(rows["variant"][i]))), dtype=int)


def _int(v) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return -1


def _activity_order(rows: dict) -> list:
    """The activities present, in the taxonomy's order (others after, sorted); unmapped rows last."""
    present = {a for a in rows["activity"] if a is not None}
    try:
        from imusim_jax.datasets.taxonomy import load_taxonomy

        names = list(load_taxonomy().names)
    except Exception:  # noqa: BLE001 - the card does not need the taxonomy to be readable
        names = []
    return [a for a in names if a in present] + sorted(present - set(names))


def _pick_examples(rows: dict, n: int) -> dict:
    """``{activity: {kind: [row index, ...]}}``: the first ``n`` rows of each activity and kind in ``_order``."""
    if n <= 0:
        return {}
    picks: dict = {a: {} for a in _activity_order(rows)}
    for i in _order(rows):
        a = rows["activity"][i]
        if a is None:
            continue
        got = picks[a].setdefault(str(rows["kind"][i]), [])
        if len(got) < n:
            got.append(int(i))
    kinds = _kinds(rows)
    return {a: {k: p[k] for k in kinds if k in p} for a, p in picks.items()}


# ---------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------

def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, and the Agg canvas draws the PNG

    return Figure(figsize=(width, height), dpi=90, layout="constrained")


def _save(fig, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    from imusim_jax.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _plot_durations(rows: dict, path: str) -> str:
    kinds = _kinds(rows)
    d = rows["_duration"]
    finite = d[np.isfinite(d)]
    edges = np.histogram_bin_edges(finite, bins=min(40, max(5, int(np.sqrt(len(finite)))))) if len(finite) \
        else np.linspace(0, 1, 6)
    fig = _figure(4.2 * max(1, len(kinds)), 3.0)
    axes = fig.subplots(1, max(1, len(kinds)), sharex=True, squeeze=False)[0]
    colors = {"synthetic": "tab:blue", "real": "tab:orange"}
    for ax, kind in zip(axes, kinds):
        dk = d[(rows["kind"] == kind) & np.isfinite(d)]
        ax.hist(dk, bins=edges, color=colors.get(kind, "tab:gray"), edgecolor="white", linewidth=0.5)
        ax.set_title(f"{kind} ({len(dk)} rows)")
        ax.set_xlabel("duration (s)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("rows")
    _save(fig, path)
    return os.path.basename(path)


def _plot_example(activity: str, picks: dict, rows: dict, signals: dict, path: str) -> None:
    kinds = list(picks)
    n = max(len(v) for v in picks.values())
    fig = _figure(5.5 * len(kinds), 2.0 * 2 * n + 0.4)
    axes = fig.subplots(2 * n, len(kinds), squeeze=False)
    colors = ("tab:red", "tab:green", "tab:blue")
    for c, kind in enumerate(kinds):
        for e in range(n):
            ax_a, ax_g = axes[2 * e, c], axes[2 * e + 1, c]
            if e >= len(picks[kind]):
                ax_a.set_axis_off()
                ax_g.set_axis_off()
                continue
            i = picks[kind][e]
            accel, gyro = signals[i]
            rate = rows["rate_hz"][i]
            t = np.arange(len(accel)) / float(rate) if rate else np.arange(len(accel))
            for k in range(3):
                ax_a.plot(t, accel[:, k], color=colors[k], lw=0.9, label="xyz"[k])
                ax_g.plot(t, gyro[:, k], color=colors[k], lw=0.9, label="xyz"[k])
            ax_a.set_title(_row_title(rows, i), fontsize=8)
            ax_a.set_ylabel("accel (m/s²)", fontsize=8)
            ax_g.set_ylabel("gyro (rad/s)", fontsize=8)
            ax_g.set_xlabel("time (s)", fontsize=8)
            ax_a.legend(loc="upper right", fontsize=6, ncol=3)
            for ax in (ax_a, ax_g):
                ax.grid(alpha=0.3)
                ax.tick_params(labelsize=7)
    fig.suptitle(activity, fontsize=10)
    _save(fig, path)


def _row_title(rows: dict, i: int) -> str:
    what = f"{rows['kind'][i]}: {rows['source'][i]} / {rows['clip_id'][i]}"
    if _int(rows["person"][i]) > 0:
        what += f" / person {rows['person'][i]}"
    extra = [str(rows[c][i]) for c in ("mount", "profile", "placement") if rows[c][i] is not None]
    return what + (f"\n{', '.join(extra)}" if extra else "")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:60] or "activity"


# ---------------------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------------------

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; background: #f4f4f4; }
.unsafe { color: #b00; } .muted { color: #777; }
img { max-width: 100%; border: 1px solid #eee; }
details { margin: 0.3em 0 1em; } code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _table(head: list, body: list, numeric_from: int, total: Optional[list] = None) -> str:
    def cell(tag, j, v):
        cls = ' class="n"' if j >= numeric_from else ""
        return f"<{tag}{cls}>{v}</{tag}>"

    out = ["<table>", "<tr>" + "".join(cell("th", j, _e(h)) for j, h in enumerate(head)) + "</tr>"]
    for r in body:
        out.append("<tr>" + "".join(cell("td", j, v) for j, v in enumerate(r)) + "</tr>")
    if total is not None:
        out.append('<tr class="total">' + "".join(cell("td", j, v) for j, v in enumerate(total)) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _by_kind(title: str, keys, rows: dict, kinds: list, order: list, label=None, extra=None) -> str:
    """A table of rows per key (in ``order``) and kind, with a total column and row."""
    tab = _crosstab(keys, rows["kind"])
    extra = extra or (lambda k: [])
    head = [title] + [h for h, _ in extra(None)] + kinds + ["total"]
    body = []
    for k in order:
        c = tab.get(k, collections.Counter())
        body.append([(label or _e)(k)] + [v for _, v in extra(k)] + [str(c[kind]) for kind in kinds]
                    + [str(sum(c.values()))])
    col = collections.Counter()
    for c in tab.values():
        col.update(c)
    total = ["total"] + ["" for _ in extra(None)] + [str(col[kind]) for kind in kinds] + [str(sum(col.values()))]
    return _table(head, body, 1 + len(extra(None)), total)


def _page(dataset_dir: str, summary: dict, rows: dict, durations: str, figures: dict, examples: dict) -> str:
    from imusim_jax import __version__

    try:
        from imusim_jax.datasets.taxonomy import load_taxonomy

        tax = load_taxonomy()
    except Exception:  # noqa: BLE001
        tax = None
    kinds = _kinds(rows)
    n = len(rows["_shard"])
    name = summary.get("name") or os.path.basename(os.path.abspath(dataset_dir))
    head = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>Dataset card: {_e(name)}</title>\n<style>{_CSS}</style>\n</head>\n<body>")
    parts = [head, f"<h1>Dataset card: {_e(name)}</h1>"]
    if summary.get("description"):
        parts.append(f"<p>{_e(summary['description'])}</p>")
    # -- totals
    clips = len({(s, c) for s, c in zip(rows["source"], rows["clip_id"])})
    rates = sorted({float(r) for r in rows["rate_hz"] if r is not None})
    d = rows["_duration"][np.isfinite(rows["_duration"])]
    facts = [("folder", _e(os.path.abspath(dataset_dir))), ("rows", str(n)), ("clips", str(clips)),
             ("shards", str(len(set(rows["_shard"].tolist())))),
             ("rate (Hz)", _e(", ".join(f"{r:g}" for r in rates))),
             ("duration", f"{d.sum() / 3600:.2f} h in all" if len(d) else "")]
    if summary:
        facts += [("build complete", _e(summary.get("complete"))),
                  ("built by", _e(f"imusim-jax {summary.get('imusim_jax', '?')} ({summary.get('dtype', '?')})"))]
    else:
        facts.append(("dataset.json", '<span class="muted">none: counts from the shards alone</span>'))
    parts.append("<h2>Summary</h2>")
    parts.append("<table>\n" + "\n".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in facts)
                 + "\n</table>")
    # -- counts
    parts.append("<h2>Counts (rows)</h2>")
    acts = _activity_order(rows) + ([None] if any(a is None for a in rows["activity"]) else [])

    def act_extra(a):
        if a is None and tax is None:
            return []
        if a is None:
            return [("safety", ""), ("severity", "")]
        if tax is not None and a in tax:
            s = tax.safety(a)
            return [("safety", f'<span class="{_e(s)}">{_e(s)}</span>'), ("severity", str(tax.severity(a)))]
        return [("safety", ""), ("severity", "")]

    parts.append("<h3>Activity</h3>")
    parts.append(_by_kind("activity", rows["activity"], rows, kinds, acts,
                          label=lambda a: _e(_UNMAPPED) if a is None else _e(a),
                          extra=act_extra if tax is not None else None))
    parts.append("<h3>Safety label</h3>")
    safety = [None if s is None else str(s) for s in rows["safety"]]
    s_order = [s for s in ("safe", "unsafe") if s in safety] + sorted({s for s in safety if s is not None}
                                                                       - {"safe", "unsafe"})
    s_order += [None] if None in safety else []
    parts.append(_by_kind("safety", safety, rows, kinds, s_order,
                          label=lambda s: _e(_UNMAPPED) if s is None else f'<span class="{_e(s)}">{_e(s)}</span>'))
    parts.append("<h3>Severity</h3>")
    sev = [None if v is None or (isinstance(v, float) and np.isnan(v)) else int(v) for v in rows["severity"]]
    levels = {lv.level: lv.name for lv in tax.severity_levels} if tax is not None else {}
    v_order = sorted({v for v in sev if v is not None}) + ([None] if None in sev else [])
    parts.append(_by_kind("severity", sev, rows, kinds, v_order,
                          label=lambda v: _e(_UNMAPPED) if v is None else _e(
                              f"{v} ({levels[v]})" if v in levels else v)))
    parts.append("<h3>Source</h3>")
    src_info = {s.get("name"): s for s in summary.get("sources", []) if isinstance(s, dict)}
    present = list(dict.fromkeys(str(s) for s in rows["source"]))
    src_order = [s for s in src_info if s in present] + sorted(set(present) - set(src_info))
    types = {}
    for s, t in zip(rows["source"], rows["dataset"]):
        types.setdefault(str(s), t)
    parts.append(_by_kind("source", [str(s) for s in rows["source"]], rows, kinds, src_order,
                          extra=lambda s: [("type", "")] if s is None else
                          [("type", _e(src_info.get(s, {}).get("type") or types.get(s)))]))
    empty = [s for s in src_info if s not in present]
    if empty:
        parts.append(f"<p class=\"muted\">Sources without rows: {_e(', '.join(empty))}.</p>")
    # -- durations
    parts.append("<h2>Durations</h2>")
    parts.append(f'<img src="{_e(durations)}" alt="clip durations per kind">')
    body = []
    for kind in kinds:
        dk = rows["_duration"][(rows["kind"] == kind) & np.isfinite(rows["_duration"])]
        if len(dk):
            body.append([_e(kind), str(len(dk))] + [f"{v:.2f}" for v in (dk.min(), np.median(dk), dk.max())]
                        + [f"{dk.sum() / 60:.1f}"])
    parts.append(_table(["kind", "rows", "min (s)", "median (s)", "max (s)", "total (min)"], body, 1))
    # -- examples
    parts.append("<h2>Examples</h2>")
    if examples:
        parts.append("<p>Accelerometer and gyroscope of the first clip of each activity (by source, clip, person), "
                     "synthetic left and real right where the activity has both.</p>")
        for a, picks in examples.items():
            parts.append(f"<h3 id=\"{_e(_slug(a))}\">{_e(a)} <span class=\"muted\">({_e(', '.join(picks))})</span>"
                         f"</h3>")
            parts.append(f'<img src="{_e(figures[a])}" alt="{_e(a)}: {_e(", ".join(picks))} example">')
    else:
        parts.append('<p class="muted">None drawn.</p>')
    # -- unmapped classes
    parts.append("<h2>Unmapped source classes</h2>")
    parts.append("<p>Source classes without a taxonomy counterpart: their rows have a null activity (kept) or were "
                 "left out (the manifest's <code>unmapped: skip</code>).</p>")
    seen_rows: dict = collections.defaultdict(collections.Counter)
    for s, a, lab in zip(rows["source"], rows["activity"], rows["source_label"]):
        if a is None:
            seen_rows[str(s)]["(no label)" if lab is None else str(lab)] += 1
    any_unmapped = False
    for s in src_order + [x for x in src_info if x not in src_order]:
        info = src_info.get(s, {})
        seen = {str(k): int(v) for k, v in (info.get("unmapped_seen") or {}).items()}
        in_rows = seen_rows.get(s, {})
        listed = info.get("taxonomy_unmapped_classes") or []
        if not seen and not in_rows and not listed:
            continue
        any_unmapped = True
        policy = info.get("unmapped_policy")
        parts.append(f"<h3>{_e(s)}" + (f" <span class=\"muted\">(unmapped: {_e(policy)})</span>" if policy else "")
                     + "</h3>")
        labels = list(dict.fromkeys(list(seen) + list(in_rows)))
        if labels:
            body = [[_e(lab), str(seen[lab]) if lab in seen else "", str(in_rows.get(lab, 0))]
                    for lab in labels]
            parts.append(_table(["source class", "seen (dataset.json)", "rows with null activity"], body, 1))
        if listed:
            parts.append(f"<details><summary>The {len(listed)} classes of its label map "
                         f"({_e(info.get('taxonomy'))}) without a taxonomy counterpart</summary>"
                         f"<p>{_e('; '.join(map(str, listed)))}</p></details>")
    if not any_unmapped:
        parts.append('<p class="muted">None.</p>')
    # -- failures, skipped persons, warnings
    failures = summary.get("failures") or []
    skipped = summary.get("skipped_persons") or []
    warns = summary.get("warnings") or []
    parts.append("<h2>Failures and warnings</h2>")
    if not (failures or skipped or warns):
        parts.append('<p class="muted">None recorded.</p>')
    for title, items in (("Failures", failures), ("Skipped persons", skipped), ("Warnings", warns)):
        if items:
            parts.append(f"<h3>{title} ({len(items)})</h3><ul>")
            parts += [f"<li>{_e(_item(x))}</li>" for x in items]
            parts.append("</ul>")
    parts.append(f'<p class="muted">Written by imusim-jax {_e(__version__)} dataset-card.</p>\n</body>\n</html>\n')
    return "\n".join(parts)


def _item(x: Any) -> str:
    if isinstance(x, (list, tuple)):
        return ": ".join(str(v) for v in x)
    if isinstance(x, dict):
        return ", ".join(f"{k}={v}" for k, v in x.items())
    return str(x)
