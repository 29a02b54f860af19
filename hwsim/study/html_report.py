"""A study's shareable report: one self-contained ``report.html`` (``hwsim report studies/<name>``).

Built from the study folder alone (its ``study.toml`` and results store): title and description,
summary counts (finished / failed points, hwsim versions, task wall time), every plot of
:mod:`hwsim.study.plots` as an embedded PNG (``data:`` URI), a sortable and filterable table of
every point, the failed points with their errors, the study's TOML, and the versions of hwsim and
of the Python stack that made it. Nothing is fetched: no CDN, no web font, no network; the table's
script is inline vanilla JavaScript, and the points travel as one JSON block (``<`` ``>`` ``&``
written as ``\\u003c``-style escapes so no value can close the script element). Every text from the
study or the store goes through :func:`html.escape` or the DOM's ``textContent``.

Large studies: the table holds at most ``max_rows`` points (default 20 000, with a note naming the
total and ``hwsim results --csv`` for all of them); the script filters over every row it holds and
draws one page of 100 rows at a time, so 10\\ :sup:`4`-row tables sort and filter interactively.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import platform
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hwsim.files import write_text
from hwsim.study.plots import BOOK_COLUMNS, METRIC_COLUMNS, StudyPlots, config_columns, study_figures

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["write_report", "report_html", "table_payload", "MAX_ROWS"]

#: rows the report's table holds at most (the rest: ``hwsim results <study> --csv``)
MAX_ROWS = 20_000
_PAGE = 100


def _versions() -> dict[str, str]:
    """Versions of hwsim and the stack that drew the report."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"Python": platform.python_version()}
    for name in ("hwsim", "numpy", "pandas", "matplotlib", "pyarrow"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _study_info(study_dir: Path) -> tuple[str, str, str, int | None]:
    """Name, description, TOML text and grid size of the study; a file that no longer validates
    (a catalog name changed since the sweep) still gives its name, description and text."""
    from hwsim.study.spec import StudyError, load_study

    path = study_dir / "study.toml"
    try:
        study = load_study(path)
    except StudyError:
        try:
            text = path.read_text()
        except OSError:
            return study_dir.name, "", "", None
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            doc = {}
        return str(doc.get("name", study_dir.name)), str(doc.get("description", "")), text, None
    bound = math.prod(len(v) for v in study.axes.values())
    return study.name, study.description, study.text, study.size() if bound <= 200_000 else None


def _column_order(points: pd.DataFrame) -> list[str]:
    first = [c for c in ("key", "status") if c in points.columns]
    config = config_columns(points)
    metrics = [c for c in METRIC_COLUMNS if c in points.columns]
    book = [c for c in BOOK_COLUMNS if c in points.columns and c not in first]
    rest = [c for c in points.columns if c not in set(first + config + metrics + book)]
    return first + config + metrics + rest + book


def _cell(value: Any) -> Any:
    """A JSON value for one table cell (floats to 6 significant digits, NaN as null)."""
    if value is None or (isinstance(value, float | np.floating) and not math.isfinite(float(value))):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(f"{float(value):.6g}")
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def table_payload(points: pd.DataFrame, max_rows: int = MAX_ROWS) -> dict[str, Any]:
    """The table the report's script draws: ``columns``, ``numeric`` and ``integer`` (per
    column), ``rows`` (at most ``max_rows``, in the store's key order) and ``total`` (rows in
    the store)."""
    cols = _column_order(points)
    frame: Any = points[cols].head(max_rows)
    numeric = [bool(pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]))
               for c in cols]
    integer = [bool(pd.api.types.is_integer_dtype(frame[c])) for c in cols]
    columns = [[_cell(v) for v in frame[c].tolist()] for c in cols]
    rows = [list(r) for r in zip(*columns, strict=True)] if cols else []
    return {"columns": cols, "numeric": numeric, "integer": integer, "rows": rows, "total": int(len(points))}


def _json_script(payload: Any) -> str:
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _png_uri(fig: Figure, dpi: int = 100) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _summary(points: Any) -> list[tuple[str, str]]:
    n = len(points)
    status = points["status"].astype(str) if "status" in points.columns else pd.Series([], dtype=str)
    ok = int((status == "ok").sum())
    items = [("points in the store", f"{n}"), ("finished", f"{ok}"), ("failed", f"{n - ok}")]
    if "hwsim_version" in points.columns and n:
        counts = points["hwsim_version"].astype(str).value_counts()
        items.append(("hwsim version(s) of the points", ", ".join(f"{v} ({c})" for v, c in counts.items())))
    if {"task_wall_s", "task_points"} <= set(points.columns) and n:
        wall = np.asarray(pd.to_numeric(points["task_wall_s"], errors="coerce"), dtype=np.float64)
        size = np.asarray(pd.to_numeric(points["task_points"], errors="coerce"), dtype=np.float64)
        per_point = wall / np.maximum(size, 1.0)  # a task's wall time, shared by its points
        items.append(("task wall time, summed", f"{float(np.nansum(per_point)):.1f} s"))
    if "finished_at" in points.columns and n:
        times = points["finished_at"].astype(str)
        items.append(("finished between", f"{times.min()} and {times.max()}"))
    return items


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem auto;max-width:1400px;
 padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.desc{color:#444;margin-top:0}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}
dl.summary dt{font-weight:600}dl.summary dd{margin:0}
figure{margin:1rem 0;border:1px solid #e4e4e4;padding:.5rem;border-radius:4px}
figure img{max-width:100%;height:auto;display:block}
figcaption{color:#333;font-size:.95rem;margin-top:.3rem}
.controls{display:flex;gap:1rem;align-items:center;flex-wrap:wrap;margin:.5rem 0}
#filter{font-size:1rem;padding:.3rem .5rem;min-width:22rem}
.scroll{overflow:auto;max-height:75vh;border:1px solid #ddd}
table{border-collapse:collapse;font-size:.82rem;white-space:nowrap}
th,td{border-bottom:1px solid #eee;padding:.2rem .45rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
thead th{position:sticky;top:0;background:#f4f4f4;cursor:pointer;user-select:none}
thead th:hover{background:#e8e8ff}
tr.failed td{background:#fff0f0}
pre{background:#f7f7f7;padding:.8rem;overflow:auto;border:1px solid #e4e4e4}
.note{color:#7a4b00}
"""

_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("points-data").textContent);
  var cols = data.columns, rows = data.rows, numeric = data.numeric, integer = data.integer, PAGE = %(page)d;
  var hay = rows.map(function (r) {
    return r.map(function (v) { return v === null ? "" : String(v); }).join("\\u0001").toLowerCase();
  });
  var view = rows.map(function (_, i) { return i; });
  var sortCol = -1, sortDir = 1, page = 0;
  var table = document.getElementById("points"), tbody = table.tBodies[0];
  var countEl = document.getElementById("count"), filterEl = document.getElementById("filter");
  var prevEl = document.getElementById("prev"), nextEl = document.getElementById("next");
  var statusCol = cols.indexOf("status");

  function show(v, c) {
    if (v === null) { return ""; }
    if (!numeric[c] || integer[c] || typeof v !== "number") { return String(v); }
    if (v !== 0 && (Math.abs(v) >= 1e7 || Math.abs(v) < 1e-4)) { return v.toExponential(4); }
    return String(Number(v.toPrecision(5)));
  }
  function compare(a, b) {
    var x = rows[a][sortCol], y = rows[b][sortCol];
    if (x === null && y === null) { return a - b; }
    if (x === null) { return 1; }
    if (y === null) { return -1; }
    var d = numeric[sortCol] ? (x - y) : String(x).localeCompare(String(y), undefined, {numeric: true});
    return d !== 0 ? sortDir * d : a - b;
  }
  function render() {
    var pages = Math.max(1, Math.ceil(view.length / PAGE));
    page = Math.min(page, pages - 1);
    var start = page * PAGE, stop = Math.min(view.length, start + PAGE);
    var frag = document.createDocumentFragment();
    for (var i = start; i < stop; i++) {
      var r = rows[view[i]], tr = document.createElement("tr");
      if (statusCol >= 0 && r[statusCol] !== "ok") { tr.className = "failed"; }
      for (var c = 0; c < cols.length; c++) {
        var td = document.createElement("td");
        td.textContent = show(r[c], c);
        if (numeric[c]) { td.className = "num"; }
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    countEl.textContent = view.length === 0 ? "no matching rows" :
      "rows " + (start + 1) + "\\u2013" + stop + " of " + view.length + " matching (" + rows.length +
      " in the table)";
    countEl.setAttribute("data-matching", String(view.length));
    prevEl.disabled = page === 0;
    nextEl.disabled = page >= pages - 1;
  }
  function applyFilter() {
    var terms = filterEl.value.toLowerCase().split(/\\s+/).filter(function (t) { return t.length > 0; });
    view = [];
    for (var i = 0; i < rows.length; i++) {
      var h = hay[i], keep = true;
      for (var t = 0; t < terms.length; t++) { if (h.indexOf(terms[t]) < 0) { keep = false; break; } }
      if (keep) { view.push(i); }
    }
    if (sortCol >= 0) { view.sort(compare); }
    page = 0;
    render();
  }
  function sortBy(c) {
    sortDir = sortCol === c ? -sortDir : 1;
    sortCol = c;
    view.sort(compare);
    var ths = table.tHead.rows[0].cells;
    for (var i = 0; i < ths.length; i++) {
      ths[i].setAttribute("aria-sort", i === c ? (sortDir > 0 ? "ascending" : "descending") : "none");
      ths[i].querySelector(".arrow").textContent = i === c ? (sortDir > 0 ? " \\u25b2" : " \\u25bc") : "";
    }
    page = 0;
    render();
  }
  var head = document.createElement("tr");
  cols.forEach(function (name, c) {
    var th = document.createElement("th");
    th.textContent = name;
    th.setAttribute("data-col", name);
    th.setAttribute("aria-sort", "none");
    th.tabIndex = 0;
    th.title = "sort by " + name;
    var arrow = document.createElement("span");
    arrow.className = "arrow";
    th.appendChild(arrow);
    th.addEventListener("click", function () { sortBy(c); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(c); } });
    head.appendChild(th);
  });
  table.tHead.appendChild(head);
  filterEl.addEventListener("input", applyFilter);
  prevEl.addEventListener("click", function () { page -= 1; render(); });
  nextEl.addEventListener("click", function () { page += 1; render(); });
  render();
})();
"""


def _dl(items: Sequence[tuple[str, str]]) -> str:
    return "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items)


def _failures(points: Any, limit: int = 200) -> str:
    if "status" not in points.columns:
        return ""
    failed = points[points["status"].astype(str) != "ok"]
    if not len(failed):
        return ""
    err = failed["error"].astype(str) if "error" in failed.columns else pd.Series([""] * len(failed))
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td><code>{html.escape(e)}</code></td></tr>"
                   for k, e in zip(failed["key"].head(limit), err.head(limit), strict=True))
    more = f"<p class='note'>{len(failed) - limit} more failed points not listed.</p>" if len(failed) > limit else ""
    return (f"<h2 id='failures'>Failed points ({len(failed)})</h2><details><summary>errors</summary>"
            f"<table class='failures'><thead><tr><th>key</th><th>error</th></tr></thead><tbody>{rows}</tbody>"
            f"</table>{more}</details>")


def _plots_html(plots: StudyPlots) -> str:
    parts = ["<h2 id='plots'>Plots</h2>"]
    if not plots.figures:
        parts.append("<p class='note'>The results support no plot yet.</p>")
    for name, fig in plots.figures.items():
        caption = html.escape(plots.captions.get(name, name))
        parts.append(f"<figure id='plot-{html.escape(name)}'><img class='plot' alt='{caption}' "
                     f"src='{_png_uri(fig)}'><figcaption>{caption} <code>({html.escape(name)})</code>"
                     f"</figcaption></figure>")
    if plots.skipped:
        items = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in plots.skipped.items())
        parts.append(f"<details><summary>plots the results do not support ({len(plots.skipped)})</summary>"
                     f"<ul>{items}</ul></details>")
    return "".join(parts)


def report_html(study_dir: str | os.PathLike[str], *, max_rows: int = MAX_ROWS) -> str:
    """The report of the study in ``study_dir`` as one HTML document (see the module docstring)."""
    from hwsim.study.store import ResultsStore

    folder = Path(study_dir)
    if folder.suffix == ".toml":
        folder = folder.parent
    name, description, toml_text, grid = _study_info(folder)
    store = ResultsStore.of(folder)
    points: Any = store.points()
    layers = store.layers()
    plots = study_figures(points, layers) if len(points) else StudyPlots()
    payload = table_payload(points, max_rows)
    summary = _summary(points)
    if grid is not None:
        summary.insert(0, ("design points in the study's grid", f"{grid}"))
    cap = ""
    if payload["total"] > len(payload["rows"]):
        cap = (f"<p class='note'>The table holds the first {len(payload['rows'])} of {payload['total']} points "
               f"(in key order); every point: <code>hwsim results {html.escape(str(folder))} --csv</code>.</p>")
    versions = _versions()
    esc = html.escape
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{esc(name)}: hwsim study report</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{esc(name)}</h1>
<p class="desc">{esc(description)}</p>
</header>
<nav><a href="#summary">summary</a> · <a href="#plots">plots</a> · <a href="#table">points</a> ·
<a href="#toml">study.toml</a> · <a href="#versions">versions</a></nav>
<h2 id="summary">Summary</h2>
<dl class="summary">{_dl(summary)}</dl>
{_plots_html(plots)}
<h2 id="table">Points</h2>
{cap}
<div class="controls">
<label for="filter">Filter (every word must appear in the row):</label>
<input id="filter" type="search" placeholder="e.g. mxfp4 ws" autocomplete="off">
<button id="prev" type="button">&larr; previous</button><button id="next" type="button">next &rarr;</button>
<span id="count" aria-live="polite"></span>
</div>
<p>Click a column header to sort (again: reverse). Failed points are shaded.</p>
<div class="scroll"><table id="points"><thead></thead><tbody></tbody></table></div>
{_failures(points)}
<h2 id="toml">study.toml</h2>
<pre id="study-toml">{esc(toml_text)}</pre>
<h2 id="versions">Versions</h2>
<dl class="summary">{_dl([(k, v) for k, v in versions.items()])}</dl>
<p>Drawn from <code>{esc(str(store.root))}</code> by <code>hwsim report</code>; this file needs no network.</p>
<script id="points-data" type="application/json">{_json_script(payload)}</script>
<script>{_JS % {"page": _PAGE}}</script>
</body>
</html>
"""


def write_report(study_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, *,
                 max_rows: int = MAX_ROWS) -> Path:
    """Write :func:`report_html` of ``study_dir`` to ``out`` (default ``<study_dir>/report.html``),
    atomically; returns the path."""
    folder = Path(study_dir)
    if folder.suffix == ".toml":
        folder = folder.parent
    path = Path(out) if out is not None else folder / "report.html"
    return write_text(path, report_html(folder, max_rows=max_rows))
