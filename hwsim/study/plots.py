"""Plots of a study, drawn from its results store alone (``hwsim plot studies/<name>``).

Every plot is a function of the store's tables (:meth:`hwsim.study.store.ResultsStore.points`
and :meth:`~hwsim.study.store.ResultsStore.layers`) that returns a matplotlib
:class:`~matplotlib.figure.Figure` (object API with its own Agg canvas: library code never
touches pyplot's global state or picks a backend), or raises :class:`PlotError` when the study's
data cannot support it (a cost-only study has no accuracy front):

- :func:`pareto_figure`: a metric against a cost (accuracy vs array area, accuracy vs energy,
  energy vs latency) with the Pareto front, the non-dominated points of "less cost, better metric"
  (Deb, *Multi-Objective Optimization using Evolutionary Algorithms*, 2001, def. 2.5), drawn as a
  staircase line and ringed markers; colour = weight format, marker = dataflow / accelerator.
- :func:`qsnr_figure`: QSNR against bits per element, one series (colour) per data source, with
  each series' front; front points are named by labels placed with an overlap check (a label
  that finds no free place is left out: the legend and the report's table still name it).
- :func:`layer_energy_figure`: per-layer energy, stacked MAC / register file / SRAM / DRAM, for one
  point per weight format at one representative design point (the largest array that runs the
  most formats).
- :func:`roofline_figure`: attained MAC/cycle against arithmetic intensity (MAC per DRAM byte)
  with the compute roof (``peak_macs_per_cycle``) and the bandwidth roof (``dram_bytes_per_cycle``
  times intensity) of each design (Williams, Waterman & Patterson, "Roofline", CACM 52(4), 2009).

Failed points (``status != "ok"``) are left out of every plot. :func:`study_figures` makes every
plot the data supports; :func:`plot_study` writes each as PNG and PDF (atomically,
:func:`hwsim.files.atomic_path`).
"""

from __future__ import annotations

import itertools
import math
import os
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hwsim.errors import HwsimError
from hwsim.files import atomic_path
from hwsim.study.spec import ACCURACY_AXES, DESIGN_AXES, OTHER_AXES

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PlotError", "StudyPlots", "pareto_mask", "pareto_figure", "qsnr_figure", "layer_energy_figure",
           "roofline_figure", "metric_figure", "representative_points", "study_figures", "plot_study", "PLOTS",
           "METRIC_COLUMNS", "BOOK_COLUMNS", "config_columns"]


class PlotError(HwsimError):
    """The study's results cannot support this plot (the message says which columns are missing)."""


#: bookkeeping columns of a points row (:mod:`hwsim.study.store`)
BOOK_COLUMNS = ("key", "status", "error", "hwsim_version", "task_wall_s", "task_points", "finished_at")
#: metric columns of a points row, by metric (``qsnr``, ``accuracy``, ``cost``)
METRIC_COLUMNS = ("qsnr_db", "nmse", "w_bits_per_element", "metric_name", "metric", "baseline_metric",
                  "higher_is_better", "delta_pct", "tokens", "cycles", "latency_s", "energy_pj", "energy_mac_pj",
                  "energy_rf_pj", "energy_sram_pj", "energy_dram_pj", "macs", "dram_bytes", "utilization",
                  "area_um2", "peak_macs_per_cycle", "dram_bytes_per_cycle", "a_bits_per_element")
#: energy components of the layer breakdown: column, legend name, colour
ENERGY_PARTS = (("energy_mac_pj", "MAC datapath", "#4c72b0"), ("energy_rf_pj", "register files", "#55a868"),
                ("energy_sram_pj", "on-chip SRAM", "#dd8452"), ("energy_dram_pj", "DRAM", "#c44e52"))
#: above this many points, scatter markers are rasterized in vector files (PDF stays small and
#: fast; axes, lines and text stay vectors)
RASTER_POINTS = 5000
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
_WORKLOAD_AXES = ("model", "workload")


def config_columns(points: pd.DataFrame) -> list[str]:
    """The columns of ``points`` that are the point's configuration (its study's axes)."""
    skip = set(BOOK_COLUMNS) | set(METRIC_COLUMNS)
    return [c for c in points.columns if c not in skip and not str(c).startswith("_")]


def _design_columns(points: pd.DataFrame) -> list[str]:
    """Configuration columns of the accelerator design point (accelerator, dataflow, overrides)."""
    named = set(ACCURACY_AXES) | set(OTHER_AXES)
    return [c for c in config_columns(points) if c not in named]


def _ok(points: pd.DataFrame, need: Sequence[str]) -> Any:
    """The ``ok`` rows of ``points`` with a finite value in every ``need`` column.

    Raises:
        PlotError: a ``need`` column is missing, or no row has them all.
    """
    missing = [c for c in need if c not in points.columns]
    if missing:
        raise PlotError(f"the results have no {', '.join(missing)} column (a metric the study does not compute)")
    df: Any = points if "status" not in points.columns else points[points["status"] == "ok"]
    for c in need:
        values: Any = pd.to_numeric(df[c], errors="coerce")
        df = df[np.isfinite(values.to_numpy(np.float64))]
    if not len(df):
        raise PlotError(f"no finished point has {', '.join(need)}")
    return df


# ---- figure plumbing ------------------------------------------------------------------------
def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _grid(n: int, *, panel: tuple[float, float] = (5.2, 4.0), extra_width: float = 2.6,
          sharex: bool = False, sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure of ``n`` panels (at most three a row) with room on the right for the legend."""
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig = _figure(panel[0] * cols + extra_width, panel[1] * rows + 0.4)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=sharex, sharey=sharey).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _legend(fig: Figure, handles: list[Any], title: str | None = None) -> None:
    """One legend, outside the panels on the right (it never covers data or labels)."""
    if handles:
        fig.legend(handles=handles, loc="outside right upper", fontsize=8, title=title, title_fontsize=8,
                   ncols=2 if len(handles) > 22 else 1, frameon=False)


def _suptitle(fig: Figure, text: str, *, fontsize: float = 11, legend_width: float = 2.6) -> None:
    """The figure's title, left-aligned and wrapped to the panels' width (the figure's width
    less ``legend_width`` inches), so it never reaches the legend on the right."""
    width_in = fig.get_figwidth() - legend_width
    chars = max(20, int(width_in * 72 / (fontsize * 0.62)))
    fig.suptitle("\n".join(textwrap.wrap(text, chars)), x=0.01, ha="left", fontsize=fontsize)


def _scale(values: np.ndarray, unit: str, steps: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """A divisor and unit name that bring the median of ``values`` to a readable size."""
    finite = values[np.isfinite(values) & (values > 0)]
    ref = float(np.median(finite)) if len(finite) else 1.0
    best = (1.0, unit)
    for div, name in steps:
        if ref >= div:
            best = (div, name)
    return best


_ENERGY_UNITS = ((1.0, "pJ"), (1e3, "nJ"), (1e6, "µJ"), (1e9, "mJ"), (1e12, "J"))
_TIME_UNITS = ((1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s"))


@dataclass(frozen=True)
class _Axis:
    """How a points column is shown: its label, unit scaling and direction (smaller is better
    for costs)."""

    label: str
    divisor: float = 1.0
    log_ok: bool = True


def _axis(column: str, values: np.ndarray) -> _Axis:
    if column == "area_um2":
        return _Axis("array area [mm²]", 1e6)
    if column.startswith("energy") and column.endswith("_pj"):
        div, unit = _scale(values, "pJ", _ENERGY_UNITS)
        return _Axis(f"energy [{unit}]", div)
    if column == "latency_s":
        div, unit = _scale(values, "s", _TIME_UNITS)
        return _Axis(f"latency [{unit}]", div)
    known = {"cycles": "cycles [cycles]", "macs": "MACs [MAC]", "dram_bytes": "DRAM traffic [bytes]",
             "qsnr_db": "QSNR [dB]", "w_bits_per_element": "weight bits per element [bit] (block scales amortized)",
             "a_bits_per_element": "activation bits per element [bit]", "utilization": "array utilization [fraction]",
             "peak_macs_per_cycle": "peak throughput [MAC/cycle]", "delta_pct": "metric change vs fp32 [%]"}
    return _Axis(known.get(column, column))


def _log_if_wide(ax: Axes, which: str, values: np.ndarray, ratio: float) -> None:
    """A log scale when ``values`` span more than ``ratio``. Under two decades, matplotlib labels
    minor ticks (2, 3, 4, ... x 10^k) when fewer than two powers of ten are in view, and those
    labels collide; there the ticks are 1, 2, 5 x 10^k in plain numbers, minor ticks unlabelled."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    v = values[np.isfinite(values)]
    if not (len(v) and v.min() > 0 and v.max() / v.min() > ratio):
        return
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    if v.max() / v.min() < 100:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
        axis.set_minor_formatter(NullFormatter())


def _format_labels(df: Any) -> Any:
    """The colour key of each row: its weight format, or ``W w / A a`` when activations vary
    independently of weights."""
    if "weights" not in df.columns:
        return pd.Series(["all points"] * len(df), index=df.index)
    w = df["weights"].astype(str)
    if "activations" in df.columns:
        a = df["activations"].astype(str)
        if (a != w).any() and df.groupby(w)["activations"].nunique().max() > 1:
            return w.where(a == w, "W " + w + " / A " + a)
    return w


def _marker_labels(df: Any) -> tuple[Any, str]:
    """The marker key of each row (the design axes among accelerator and dataflow that vary) and
    its name ("" when neither varies: one marker, no marker legend)."""
    cols = [c for c in DESIGN_AXES if c in df.columns and df[c].nunique() > 1]
    if not cols:
        return pd.Series([""] * len(df), index=df.index), ""
    labels = df[cols[0]].astype(str)
    for c in cols[1:]:
        labels = labels + " · " + df[c].astype(str)
    return labels, " · ".join(cols)


def _colours(labels: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {lab: cmap(i % cmap.N) for i, lab in enumerate(labels)}


def _handles(colours: dict[str, Any], markers: dict[str, str], marker_name: str) -> list[Any]:
    from matplotlib.lines import Line2D

    out = [Line2D([], [], color=c, marker="o", ls="", label=lab) for lab, c in colours.items()]
    if marker_name:
        out += [Line2D([], [], color="0.25", marker=m, mfc="none", ls="", label=f"{marker_name}: {lab}")
                for lab, m in markers.items()]
    return out


def _scatter_style(colour: Any, hollow: bool, size: float, alpha: float) -> dict[str, Any]:
    """Filled markers, or hollow ones when markers tell designs apart: two designs at the same
    point (a square over a circle) then both stay visible."""
    if hollow:
        return {"facecolors": "none", "edgecolors": [colour], "linewidths": 1.1, "s": size * 1.3, "alpha": alpha}
    return {"color": colour, "linewidths": 0, "s": size, "alpha": alpha}


def _groups(df: pd.DataFrame, by: Sequence[str]) -> list[tuple[str, Any]]:
    """``df`` split by the columns ``by`` it has (the panel title of each part)."""
    cols = [c for c in by if c in df.columns]
    if not cols:
        return [("", df)]
    out = []
    for key, part in df.groupby(cols, sort=True, dropna=False):
        values = key if isinstance(key, tuple) else (key,)
        out.append((" · ".join(str(v) for v in values), part))
    return out


# ---- Pareto fronts --------------------------------------------------------------------------
def pareto_mask(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, *,
                higher_is_better: bool) -> np.ndarray:
    """Which points are non-dominated when ``x`` is a cost (smaller is better) and ``y`` a metric.

    Point p is dominated when another point q is no worse in both (``q.x <= p.x`` and ``q.y``
    at least as good as ``p.y``) and strictly better in one; identical points do not dominate each
    other. O(n log n): sort by cost, then keep each cost's best metric if it beats every cheaper
    point's."""
    x = np.asarray(x, dtype=np.float64)
    s = np.asarray(y, dtype=np.float64) * (1.0 if higher_is_better else -1.0)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=bool)
    order = np.lexsort((-s, x))
    xs, ss = x[order], s[order]
    new = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    best_in_group = ss[starts][group]
    running = np.maximum.accumulate(ss)
    before = np.r_[-np.inf, running[starts[1:] - 1]]
    on_front = (ss == best_in_group) & (best_in_group > before[group])
    mask = np.empty(n, dtype=bool)
    mask[order] = on_front
    return mask


def _direction(df: pd.DataFrame, y: str, higher_is_better: bool | None) -> bool:
    if higher_is_better is not None:
        return higher_is_better
    if y == "metric" and "higher_is_better" in df.columns:
        return bool(df["higher_is_better"].iloc[0])
    return y in ("qsnr_db", "utilization", "metric")


def pareto_figure(points: pd.DataFrame, x: str = "area_um2", y: str = "metric", *,
                  higher_is_better: bool | None = None, group_by: Sequence[str] | None = None,
                  title: str | None = None) -> Figure:
    """``y`` against the cost ``x``, one panel per model (and metric), front highlighted.

    ``higher_is_better`` (default: the points' ``higher_is_better`` column for ``y = "metric"``,
    else True for QSNR and utilization and False for costs) says which way ``y`` improves;
    ``x`` always improves downwards. Colour = weight format, marker = dataflow / accelerator;
    the fp32 baseline of an accuracy metric is a dashed line.

    Raises:
        PlotError: no finished point has both columns.
    """
    from matplotlib.lines import Line2D

    df = _ok(points, [x, y])
    if group_by is None:
        group_by = [*_WORKLOAD_AXES, "metric_name"] if y == "metric" else list(_WORKLOAD_AXES)
    groups = _groups(df, group_by)
    fmt = _format_labels(df)
    mark, mark_name = _marker_labels(df)
    colours = _colours(list(dict.fromkeys(sorted(fmt))))
    markers = {lab: _MARKERS[i % len(_MARKERS)] for i, lab in enumerate(dict.fromkeys(sorted(mark)))}
    fig, axes = _grid(len(groups))
    xa = _axis(x, df[x].to_numpy(np.float64))
    extra: list[Any] = []
    size, alpha = (30, 0.85) if len(df) <= 500 else (10, 0.5)  # thousands of points: small, see-through
    raster = len(df) > RASTER_POINTS
    for ax, (name, part) in zip(axes, groups, strict=True):
        hib = _direction(part, y, higher_is_better)
        xv = part[x].to_numpy(np.float64) / xa.divisor
        ya = _axis(y, part[y].to_numpy(np.float64))
        yv = part[y].to_numpy(np.float64) / ya.divisor
        pf, pm = fmt.loc[part.index].to_numpy(), mark.loc[part.index].to_numpy()
        for lab in colours:
            for mlab, m in markers.items():
                sel = (pf == lab) & (pm == mlab)
                if sel.any():
                    ax.scatter(xv[sel], yv[sel], marker=m, zorder=2, rasterized=raster,
                               **_scatter_style(colours[lab], bool(mark_name), size, alpha))
        front = pareto_mask(xv, yv, higher_is_better=hib)
        order = np.argsort(xv[front], kind="stable")
        fx, fy = xv[front][order], yv[front][order]
        ax.plot(fx, fy, color="black", lw=1.1, drawstyle="steps-post", zorder=3, gid="pareto-front")
        ax.scatter(fx, fy, s=95, facecolors="none", edgecolors="black", linewidths=1.1, zorder=4,
                   gid="pareto-front-points")
        metric_name = str(part["metric_name"].iloc[0]) if y == "metric" and "metric_name" in part else ""
        if y == "metric" and "baseline_metric" in part.columns:
            base: Any = pd.to_numeric(part["baseline_metric"], errors="coerce")
            base = base.dropna()
            if len(base):
                ax.axhline(float(base.iloc[0]), color="0.45", ls="--", lw=1, zorder=1, gid="baseline")
                if not extra:
                    extra.append(Line2D([], [], color="0.45", ls="--", label="fp32 model (baseline)"))
        _log_if_wide(ax, "x", xv, 20)
        if not hib:
            _log_if_wide(ax, "y", yv, 4)
        ax.set_xlabel(xa.label)
        better = "higher is better" if hib else "lower is better"
        ax.set_ylabel(f"{metric_name or ya.label} ({better})")
        if name:
            ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3, which="major")
    handles = _handles(colours, markers, mark_name)
    handles.append(Line2D([], [], color="black", lw=1.1, marker="o", mfc="none", ms=9, label="Pareto front"))
    _legend(fig, handles + extra, title="colour: weight format")
    _suptitle(fig, title or f"{_axis(y, np.ones(1)).label if y != 'metric' else 'accuracy'} vs {xa.label}")
    return fig


# ---- QSNR vs bits ---------------------------------------------------------------------------
def _step_path(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The vertices of the ``steps-post`` line through the points (sorted by ``x``)."""
    if len(x) < 2:
        return np.column_stack([x, y])
    xs = np.repeat(x, 2)[1:]
    ys = np.repeat(y, 2)[:-1]
    return np.column_stack([xs, ys])


def _sample(display: np.ndarray, step: float = 3.0) -> np.ndarray:
    """Points every ``step`` pixels along a polyline given in display coordinates."""
    out = [display[:1]]
    for a, b in itertools.pairwise(display):
        n = max(1, int(np.hypot(*(b - a)) / step))
        t = np.linspace(0.0, 1.0, n + 1)[1:, None]
        out.append(a + t * (b - a))
    return np.concatenate(out) if len(display) else np.zeros((0, 2))


def _place_labels(fig: Figure, ax: Axes, items: Sequence[tuple[float, float, str, Any]],
                  points: np.ndarray, paths: Sequence[np.ndarray] = ()) -> int:
    """Name points with text placed so no two labels overlap, none leaves the axes and none
    covers another point or a line of ``paths`` (vertices in data coordinates); a label with no
    free place among eight offsets is left out. Returns how many were placed. The figure's
    layout is frozen first (placement is in display space)."""
    fig.canvas.draw()
    fig.set_layout_engine("none")
    renderer = fig.canvas.get_renderer()  # pyright: ignore[reportAttributeAccessIssue]
    box = ax.get_window_extent(renderer)
    taken: list[Any] = []
    marks = ax.transData.transform(points) if len(points) else np.zeros((0, 2))
    lines = [_sample(ax.transData.transform(p)) for p in paths if len(p)]
    line_pts = np.concatenate(lines) if lines else np.zeros((0, 2))
    offsets = ((4, 4), (4, -11), (-4, 4), (-4, -11), (7, -4), (-7, -4), (0, 9), (0, -16))
    placed = 0

    def hits(pts: np.ndarray, bb: Any) -> bool:
        return bool(len(pts) and ((pts[:, 0] >= bb.x0) & (pts[:, 0] <= bb.x1)
                                  & (pts[:, 1] >= bb.y0) & (pts[:, 1] <= bb.y1)).any())

    for x, y, text, colour in items:
        here = ax.transData.transform((x, y))
        others = marks[np.abs(marks - here).sum(axis=1) > 0.5] if len(marks) else marks
        for dx, dy in offsets:
            t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=7, color=colour,
                            ha="left" if dx > 0 else "right" if dx < 0 else "center", va="bottom", zorder=5)
            bb = t.get_window_extent(renderer).expanded(1.06, 1.12)
            inside = bb.x0 >= box.x0 and bb.x1 <= box.x1 and bb.y0 >= box.y0 and bb.y1 <= box.y1
            if inside and not hits(others, bb) and not hits(line_pts, bb) and not any(bb.overlaps(o) for o in taken):
                taken.append(bb)
                placed += 1
                break
            t.remove()
    return placed


def qsnr_figure(points: pd.DataFrame, *, label_front: bool = True) -> Figure:
    """QSNR [dB] against weight bits per element, one colour per data source (mean over seeds),
    each source's front as a dashed line whose points are named where a label fits.

    Raises:
        PlotError: no finished point has ``qsnr_db`` and ``w_bits_per_element``.
    """
    from matplotlib.lines import Line2D

    df = _ok(points, ["qsnr_db", "w_bits_per_element"])
    series = "data" if "data" in df.columns else None
    name = "weights" if "weights" in df.columns else None
    keys = [c for c in (series, name) if c]
    agg = df.groupby(keys, sort=True)[["qsnr_db", "w_bits_per_element"]].mean().reset_index() if keys else df
    sources = list(dict.fromkeys(agg[series].astype(str))) if series else ["all points"]
    colours = _colours(sources)
    fig, (ax,) = _grid(1, panel=(7.5, 5.2))
    labels: dict[str, tuple[float, float, str, Any]] = {}
    paths: list[np.ndarray] = []
    for src in sources:
        part = agg[agg[series].astype(str) == src] if series else agg
        xv, yv = part["w_bits_per_element"].to_numpy(np.float64), part["qsnr_db"].to_numpy(np.float64)
        ax.scatter(xv, yv, color=colours[src], s=26, alpha=0.85, linewidths=0, zorder=2)
        front = pareto_mask(xv, yv, higher_is_better=True)
        order = np.argsort(xv[front], kind="stable")
        fx, fy = xv[front][order], yv[front][order]
        ax.plot(fx, fy, color=colours[src], lw=1, ls="--", drawstyle="steps-post", zorder=3,
                gid=f"pareto-front:{src}")
        paths.append(_step_path(fx, fy))
        if name and label_front:  # a format once, at its best front point (its bits are the same in every series)
            for a, b, c in zip(fx, fy, part[name].astype(str).to_numpy()[front][order], strict=True):
                if c not in labels or b > labels[c][1]:
                    labels[c] = (float(a), float(b), str(c), "0.15")
    ax.set_xlabel(_axis("w_bits_per_element", np.ones(1)).label)
    ax.set_ylabel("QSNR [dB] (higher is better)")
    ax.grid(True, alpha=0.3)
    handles = [Line2D([], [], color=colours[s], marker="o", ls="--", label=s) for s in sources]
    _legend(fig, handles, title="data source (dashed: its front;\nformats on a front are named where there is room)")
    _suptitle(fig, "QSNR of each weight format vs its storage cost")
    if labels:
        _place_labels(fig, ax, sorted(labels.values()), agg[["w_bits_per_element", "qsnr_db"]].to_numpy(np.float64),
                      paths)
    return fig


# ---- layer energy and roofline --------------------------------------------------------------
def representative_points(points: pd.DataFrame, layers: pd.DataFrame | None = None, *,
                          max_points: int = 6) -> Any:
    """One finished point per weight format at one design point, for per-layer views.

    Among the points with cost (and with layer rows, when ``layers`` is given) of the model or
    workload with most points, the design (accelerator, dataflow, overrides) that runs the most
    formats is chosen, the largest array (``peak_macs_per_cycle``) among ties; per format the
    point of least energy there. At most ``max_points`` rows, least energy first.

    Raises:
        PlotError: no finished point has a cost (or layer rows).
    """
    df = _ok(points, ["energy_pj"])
    if layers is not None:
        if not len(layers) or "key" not in layers.columns:
            raise PlotError("the results have no per-layer rows (the study's metrics lack `layers`)")
        df = df[df["key"].isin(layers["key"].drop_duplicates())]
        if not len(df):
            raise PlotError("no finished point has per-layer rows")
    for col in _WORKLOAD_AXES:
        if col in df.columns and df[col].nunique() > 1:
            df = df[df[col] == df[col].value_counts().index[0]]
    df = df.assign(_fmt=_format_labels(df))
    design = _design_columns(df)
    if design:
        peak = df["peak_macs_per_cycle"] if "peak_macs_per_cycle" in df.columns else pd.Series(0.0, index=df.index)
        stats = df.assign(_peak=peak).groupby(design, dropna=False).agg(n=("_fmt", "nunique"), peak=("_peak", "max"),
                                                                        e=("energy_pj", "min"))
        best = stats.sort_values(["n", "peak", "e"], ascending=[False, False, True]).index[0]
        best = best if isinstance(best, tuple) else (best,)
        sel = np.ones(len(df), dtype=bool)
        for col, value in zip(design, best, strict=True):
            sel &= (df[col] == value).to_numpy() | (df[col].isna().to_numpy() & pd.isna(value))
        df = df[sel]
    rep = df.sort_values("energy_pj", kind="stable").drop_duplicates("_fmt")
    return rep.head(max_points).drop(columns="_fmt")


def _design_text(row: pd.Series, columns: Sequence[str]) -> str:
    parts = [f"{c}={row[c]}" if c not in ("accelerator", "dataflow") else str(row[c]) for c in columns]
    return " ".join(parts)


_INDEX = re.compile(r"(?<=[._])\d+(?=[._]|$)")


def layer_energy_figure(points: pd.DataFrame, layers: pd.DataFrame, *, max_points: int = 6,
                        max_layers: int = 12) -> Figure:
    """Per-layer energy, stacked by component, of :func:`representative_points` (one panel each,
    shared axes). Layers that differ only in a block index (``model.layers.3.mlp``) are summed
    as one bar (``model.layers.*.mlp``) when there are more than ``max_layers`` names; beyond
    ``max_layers`` bars the rest are one "other" bar.

    Raises:
        PlotError: the study has no per-layer rows.
    """
    from matplotlib.patches import Patch

    rep = representative_points(points, layers, max_points=max_points)
    parts = [c for c, _, _ in ENERGY_PARTS]
    missing = [c for c in ("key", "layer", *parts) if c not in layers.columns]
    if missing:
        raise PlotError(f"the layers table has no {', '.join(missing)} column")
    lay: Any = layers
    rows = lay[lay["key"].isin(rep["key"])].copy()
    rows["layer"] = rows["layer"].astype(str)
    if "kind" in rows.columns:  # a bare index (nn.Sequential children: "3") says little: add the kind
        bare = rows["layer"].str.fullmatch(r"\d+").fillna(False).to_numpy(bool)
        rows.loc[bare, "layer"] = "layer " + rows.loc[bare, "layer"] + " (" + rows.loc[bare, "kind"].astype(str) + ")"
    collapsed = rows["layer"].nunique() > max_layers
    if collapsed:
        rows["layer"] = rows["layer"].map(lambda s: _INDEX.sub("*", s))
    totals = rows.groupby(["key", "layer"], sort=False)[parts].sum()
    by_layer = totals.sum(axis=1).groupby(level="layer").sum().sort_values(ascending=False)
    keep = list(by_layer.index[:max_layers - 1]) if len(by_layer) > max_layers else list(by_layer.index)
    other = [lay for lay in by_layer.index if lay not in keep]
    order = keep + ([f"other ({len(other)} layers)"] if other else [])
    div, unit = _scale(totals.sum(axis=1).to_numpy(np.float64), "pJ", _ENERGY_UNITS)
    design = [c for c in _design_columns(rep) if rep[c].nunique() >= 1]
    n = len(rep)
    fig, axes = _grid(n, panel=(4.4, 0.9 + 0.26 * len(order)), extra_width=2.2, sharex=True, sharey=True)
    fmt = _format_labels(rep)
    for ax, (_, row) in zip(axes, rep.iterrows(), strict=True):
        t = totals.loc[row["key"]]
        vals = t.reindex(keep).fillna(0.0)
        if other:
            vals.loc[order[-1]] = t.reindex(other).fillna(0.0).sum()
        yy = np.arange(len(order))
        left = np.zeros(len(order))
        for col, _, colour in ENERGY_PARTS:
            v = vals[col].to_numpy(np.float64) / div
            ax.barh(yy, v, left=left, color=colour, height=0.72)
            left += v
        ax.set_yticks(yy, order, fontsize=7)
        if ax is axes[0]:
            ax.invert_yaxis()  # biggest layer on top (the axis is shared by every panel)
        ax.set_title("\n".join(textwrap.wrap(str(fmt.loc[row.name]), 30)), fontsize=9)
        ax.set_xlabel(f"energy [{unit}]")
        ax.grid(True, axis="x", alpha=0.3)
    handles = [Patch(color=colour, label=name) for _, name, colour in ENERGY_PARTS]
    _legend(fig, handles, title="energy component")
    common = _design_text(rep.iloc[0], design)
    where = next((str(rep.iloc[0][c]) for c in _WORKLOAD_AXES if c in rep.columns), "")
    note = " (blocks summed over * = every index)" if collapsed else ""
    _suptitle(fig, f"per-layer energy of {where or 'the workload'} on {common}{note}", fontsize=10,
              legend_width=2.2)
    return fig


def roofline_figure(points: pd.DataFrame, layers: pd.DataFrame | None = None, *, max_points: int = 6) -> Figure:
    """Attained MAC/cycle against arithmetic intensity (MAC per DRAM byte) under each design's
    roofs: ``min(peak_macs_per_cycle, intensity x dram_bytes_per_cycle)``.

    With per-layer rows: every layer of :func:`representative_points` (colour = that point's
    format); without: every finished point (colour = weight format, marker = dataflow /
    accelerator). Rows without DRAM traffic (infinite intensity) are left out.

    Raises:
        PlotError: the results have no cost columns.
    """
    from matplotlib.lines import Line2D

    need = ["macs", "cycles", "dram_bytes", "peak_macs_per_cycle", "dram_bytes_per_cycle"]
    df = _ok(points, need)
    per_layer = (layers is not None and len(layers) > 0
                 and {"key", "macs", "cycles", "dram_bytes"} <= set(layers.columns))
    if per_layer:
        assert layers is not None
        try:
            rep = representative_points(df, layers, max_points=max_points)
        except PlotError:
            per_layer = False
    if per_layer:
        assert layers is not None
        rep = rep.assign(_fmt=_format_labels(rep))
        lay: Any = layers
        data = lay[lay["key"].isin(rep["key"])].merge(
            rep[["key", "_fmt", "peak_macs_per_cycle", "dram_bytes_per_cycle"]], on="key")
        mark: Any = pd.Series([""] * len(data), index=data.index)
        mark_name = ""
    else:
        data = df.assign(_fmt=_format_labels(df))
        mark, mark_name = _marker_labels(data)
    macs, cyc, byt = (data[c].to_numpy(np.float64) for c in ("macs", "cycles", "dram_bytes"))
    good = (byt > 0) & (cyc > 0) & (macs > 0)
    if not good.any():
        raise PlotError("no point moves DRAM data (every arithmetic intensity is infinite)")
    data, mark = data[good], mark[good]
    inten, attained = macs[good] / byt[good], macs[good] / cyc[good]
    fmt = data["_fmt"].astype(str).to_numpy()
    colours = _colours(list(dict.fromkeys(sorted(fmt))))
    markers = {lab: _MARKERS[i % len(_MARKERS)] for i, lab in enumerate(dict.fromkeys(sorted(mark)))}
    fig, (ax,) = _grid(1, panel=(7.0, 5.0), extra_width=3.0)
    pm = mark.to_numpy()
    for lab, c in colours.items():
        for mlab, m in markers.items():
            sel = (fmt == lab) & (pm == mlab)
            if sel.any():
                ax.scatter(inten[sel], attained[sel], marker=m, zorder=3, rasterized=len(inten) > RASTER_POINTS,
                           **_scatter_style(c, bool(mark_name), 26, 0.85))
    roofs = sorted(set(zip(data["peak_macs_per_cycle"].astype(float), data["dram_bytes_per_cycle"].astype(float),
                           strict=True)))
    lo, hi = float(inten.min()) / 4, float(inten.max()) * 4
    for peak, bw in roofs:
        lo = min(lo, peak / bw / 4)
        hi = max(hi, peak / bw * 4)
    grid = np.geomspace(lo, hi, 256)
    handles = _handles(colours, markers, mark_name)
    many = len(roofs) > 6
    for i, (peak, bw) in enumerate(roofs):
        style: dict[str, Any] = ({"color": "0.55", "lw": 0.7} if many else
                                 {"color": "0.15", "lw": 1.2, "ls": ("-", "--", ":", "-.")[i % 4]})
        ax.plot(grid, np.minimum(peak, grid * bw), zorder=2, gid=f"roof:{peak:g}:{bw:g}", **style)
        if not many:
            handles.append(Line2D([], [], label=f"roof: {peak:g} MAC/cycle, {bw:g} B/cycle", **style))
    if many:
        handles.append(Line2D([], [], color="0.55", lw=0.7, label=f"roofs of {len(roofs)} designs"))
    roof_y = np.concatenate([np.minimum(peak, grid * bw) for peak, bw in roofs])
    _log_if_wide(ax, "x", grid, 1.0)
    _log_if_wide(ax, "y", np.r_[attained, roof_y], 1.0)
    ax.set_xlabel("arithmetic intensity [MAC/byte of DRAM traffic]")
    ax.set_ylabel("attained throughput [MAC/cycle]")
    ax.grid(True, which="major", alpha=0.3)
    what = "each layer of one point per format" if per_layer else "each design point"
    _legend(fig, handles, title="colour: weight format")
    _suptitle(fig, f"roofline: {what}", legend_width=3.0)
    return fig


# ---- accuracy per format ----------------------------------------------------------------------
def metric_figure(points: pd.DataFrame) -> Figure:
    """The model's metric per format (one dot each, best on top, on a line from the fp32
    baseline), one panel per model and metric: the accuracy table of a study as a plot.

    A format's metric does not depend on the design point, so each (format, other accuracy axes
    that vary on their own, such as ``accumulate`` or ``eval_size``) is one dot.

    Raises:
        PlotError: no finished point has a ``metric``.
    """
    from matplotlib.lines import Line2D

    df = _ok(points, ["metric"])
    df = df.assign(_fmt=_format_labels(df))
    extra = [c for c in ACCURACY_AXES if c not in ("model", "weights", "activations") and c in df.columns
             and df.groupby("_fmt")[c].nunique().max() > 1]  # varies on its own, not with the format
    for c in extra:
        df["_fmt"] = df["_fmt"] + " · " + c + "=" + df[c].astype(str)
    groups = _groups(df, [*_WORKLOAD_AXES, "metric_name"])
    most = max(part["_fmt"].nunique() for _, part in groups)
    fig, axes = _grid(len(groups), panel=(5.0, 0.9 + 0.28 * most))
    colours = _colours(list(dict.fromkeys(sorted(_format_labels(df)))))
    has_base = False
    for ax, (name, part) in zip(axes, groups, strict=True):
        hib = _direction(part, "metric", None)
        per = part.groupby("_fmt", sort=False).agg(metric=("metric", "first"), colour=("weights", "first")
                                                   if "weights" in part.columns else ("_fmt", "first"))
        per = per.sort_values("metric", ascending=not hib)
        yy = np.arange(len(per))
        values = per["metric"].to_numpy(np.float64)
        base: Any = pd.to_numeric(part["baseline_metric"], errors="coerce") if "baseline_metric" in part.columns \
            else pd.Series([], dtype=np.float64)
        base = base.dropna()
        if len(base):  # a lollipop from the fp32 baseline to each format's metric
            ax.hlines(yy, float(base.iloc[0]), values, color="0.6", lw=1.2, zorder=1)
            ax.axvline(float(base.iloc[0]), color="0.3", ls="--", lw=1, gid="baseline")
            has_base = True
        ax.scatter(values, yy, s=45, zorder=3, color=[colours.get(str(c), "0.5") for c in per["colour"]],
                   gid="metric-points")
        ax.set_yticks(yy, [str(i) for i in per.index], fontsize=8)
        ax.set_ylim(len(per) - 0.5, -0.5)  # best on top
        metric_name = str(part["metric_name"].iloc[0]) if "metric_name" in part.columns else "metric"
        ax.set_xlabel(f"{metric_name} ({'higher' if hib else 'lower'} is better)")
        if not hib:
            _log_if_wide(ax, "x", values, 4)
        if name:
            ax.set_title(name, fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
    handles = [Line2D([], [], color="0.3", ls="--", label="fp32 model (baseline)")] if has_base else []
    _legend(fig, handles)
    _suptitle(fig, "model metric per format (best on top)")
    return fig


# ---- the study's plots ----------------------------------------------------------------------
#: the plots of a study: file stem, caption, and how to draw it from ``(points, layers)``
PLOTS: tuple[tuple[str, str, Callable[[pd.DataFrame, pd.DataFrame], Figure]], ...] = (
    ("pareto_area", "Accuracy vs array area, Pareto front highlighted",
     lambda p, lay: pareto_figure(p, "area_um2", "metric")),
    ("pareto_energy", "Accuracy vs energy, Pareto front highlighted",
     lambda p, lay: pareto_figure(p, "energy_pj", "metric")),
    ("metric_by_format", "The model's metric per format, best on top, against the fp32 baseline",
     lambda p, lay: metric_figure(p)),
    ("energy_vs_latency", "Energy vs latency of every design point, Pareto front highlighted",
     lambda p, lay: pareto_figure(p, "latency_s", "energy_pj", higher_is_better=False,
                                  title="energy vs latency")),
    ("qsnr_vs_bits", "QSNR vs weight bits per element, one series per data source",
     lambda p, lay: qsnr_figure(p)),
    ("layer_energy", "Per-layer energy breakdown of one point per weight format",
     lambda p, lay: layer_energy_figure(p, lay)),
    ("roofline", "Roofline: attained MAC/cycle vs arithmetic intensity",
     lambda p, lay: roofline_figure(p, lay)),
)


@dataclass
class StudyPlots:
    """The figures a study's data supports (file stem -> figure, in :data:`PLOTS` order), their
    captions, and why each other plot was not made."""

    figures: dict[str, Figure] = field(default_factory=dict)
    captions: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def study_figures(points: pd.DataFrame, layers: pd.DataFrame | None = None) -> StudyPlots:
    """Every plot of :data:`PLOTS` that ``points`` (and ``layers``) support."""
    layers = layers if layers is not None else pd.DataFrame(columns=["key"])
    out = StudyPlots()
    for name, caption, draw in PLOTS:
        try:
            out.figures[name] = draw(points, layers)
            out.captions[name] = caption
        except PlotError as exc:
            out.skipped[name] = str(exc)
    return out


def save_figure(fig: Figure, stem: str | os.PathLike[str], *, dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` atomically (reproducible PDF: no date)."""
    stem = Path(stem)
    out = []
    for suffix, meta in ((".png", {"Software": None}), (".pdf", {"CreationDate": None, "Producer": None})):
        path = stem.with_suffix(suffix)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, metadata=meta)
        out.append(path)
    return out


def plot_study(study_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Draw every plot the results of the study in ``study_dir`` support, from its results store
    alone, into ``out_dir`` (default ``<study_dir>/plots``) as PNG and PDF; returns the paths.

    Raises:
        PlotError: the store holds no finished point, or supports no plot.
    """
    from hwsim.study.store import ResultsStore

    study_dir = Path(study_dir)
    if study_dir.suffix == ".toml":
        study_dir = study_dir.parent
    store = ResultsStore.of(study_dir)
    points: Any = store.points()
    if not len(points) or not (points["status"] == "ok").any():
        raise PlotError(f"{store.root}: no finished point to plot (run `hwsim sweep` first)")
    plots = study_figures(points, store.layers())
    if not plots.figures:
        reasons = "; ".join(f"{k}: {v}" for k, v in plots.skipped.items())
        raise PlotError(f"{store.root}: the results support no plot ({reasons})")
    out = Path(out_dir) if out_dir is not None else study_dir / "plots"
    paths: list[Path] = []
    for name, fig in plots.figures.items():
        paths += save_figure(fig, out / name)
    return paths
