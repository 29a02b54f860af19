"""Plots of a study from its results store alone (issue 13, "Plots from the store alone"):
checked on the matplotlib objects, not on pixels: units in axis labels, a legend entry for every
colour and marker, the highlighted front is exactly the non-dominated set (computed here by brute
force), failed points are left out, and no two drawn texts overlap."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwsim.study.plots import (
    PlotError,
    layer_energy_figure,
    metric_figure,
    pareto_figure,
    pareto_mask,
    plot_study,
    qsnr_figure,
    representative_points,
    roofline_figure,
    study_figures,
)
from hwsim.study.store import ResultsStore


def _brute_front(x: np.ndarray, y: np.ndarray, higher_is_better: bool) -> set[int]:
    """Indices of the non-dominated points, by the definition (O(n^2))."""
    s = y if higher_is_better else -y
    out = set()
    for i in range(len(x)):
        dominated = any(x[j] <= x[i] and s[j] >= s[i] and (x[j] < x[i] or s[j] > s[i]) for j in range(len(x)))
        if not dominated:
            out.add(i)
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("higher", [True, False])
def test_pareto_mask_is_the_definition(seed: int, higher: bool) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    x = rng.integers(0, 12, n).astype(float)  # many ties in cost and in metric
    y = rng.integers(0, 8, n).astype(float)
    got = set(np.flatnonzero(pareto_mask(x, y, higher_is_better=higher)).tolist())
    assert got == _brute_front(x, y, higher)


def _ok(points: pd.DataFrame) -> pd.DataFrame:
    return points[points["status"] == "ok"]


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def _drawn_texts(fig) -> list:
    """The Text artists the renderer actually draws (hidden tick labels are never drawn)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    drawn = []
    original = renderer.draw_text

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if mtext is not None and s.strip():
            drawn.append(mtext)
        return original(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    try:
        fig.draw(renderer)
    finally:
        del renderer.draw_text
    return drawn


def _assert_no_text_overlap(fig) -> None:
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _drawn_texts(fig)]
    assert boxes, "nothing drawn"
    for (ta, a), (tb, b) in itertools.combinations(boxes, 2):
        a2, b2 = a.shrunk(0.98, 0.9), b.shrunk(0.98, 0.9)  # touching edges are fine
        assert not a2.overlaps(b2), f"texts overlap: {ta!r} at {a.bounds} and {tb!r} at {b.bounds}"


# ---- Pareto fronts --------------------------------------------------------------------------
@pytest.mark.parametrize(("x", "divisor"), [("area_um2", 1e6), ("energy_pj", None)])
def test_pareto_front_is_exactly_the_non_dominated_points(llm_study: Path, x: str, divisor: float | None) -> None:
    points = ResultsStore.of(llm_study).points()
    fig = pareto_figure(points, x=x, y="metric")
    ok = _ok(points)
    xv, yv = ok[x].to_numpy(float), ok["metric"].to_numpy(float)
    if divisor is None:  # the energy axis picks its unit: recover the divisor from its label
        unit = fig.axes[0].get_xlabel().split("[")[1].rstrip("]")
        divisor = {"pJ": 1.0, "nJ": 1e3, "µJ": 1e6, "mJ": 1e9, "J": 1e12}[unit]
    want = {(round(xv[i] / divisor, 9), round(yv[i], 9)) for i in _brute_front(xv, yv, higher_is_better=False)}
    (ax,) = fig.axes
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "pareto-front"]
    got = {(round(a, 9), round(b, 9)) for a, b in line.get_xydata()}
    assert got == want
    assert len(line.get_xydata()) == len(want)
    (rings,) = [c for c in ax.collections if c.get_gid() == "pareto-front-points"]
    assert {(round(a, 9), round(b, 9)) for a, b in rings.get_offsets()} == want
    # the front's line runs left to right through the points, cost ascending
    assert np.all(np.diff(line.get_xdata()) >= 0)


def test_pareto_leaves_out_failed_points_and_labels_everything(llm_study: Path) -> None:
    points = ResultsStore.of(llm_study).points()
    assert (points["status"] == "failed").sum() == 1
    fig = pareto_figure(points, x="area_um2", y="metric")
    (ax,) = fig.axes
    plotted = sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() is None)
    assert plotted == len(_ok(points)) == 31
    assert ax.get_xlabel() == "array area [mm²]"
    assert ax.get_ylabel() == "perplexity (lower is better)"
    assert ax.get_title() == "smollm2 · perplexity"
    texts = _legend_texts(fig)
    for fmt in sorted(set(_ok(points)["weights"])):
        assert fmt in texts
    assert {"dataflow: ws", "dataflow: os", "Pareto front", "fp32 model (baseline)"} <= set(texts)
    (base,) = [ln for ln in ax.get_lines() if ln.get_gid() == "baseline"]
    assert base.get_ydata()[0] == pytest.approx(19.9)
    _assert_no_text_overlap(fig)


def test_pareto_respects_higher_is_better(llm_study: Path) -> None:
    points = ResultsStore.of(llm_study).points()
    ok = _ok(points).copy()
    ok["metric"] = 100 - ok["metric"]  # an accuracy-like metric
    ok["metric_name"] = "top1_agreement"
    ok["higher_is_better"] = True
    fig = pareto_figure(ok, x="area_um2", y="metric")
    (ax,) = fig.axes
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "pareto-front"]
    xv, yv = ok["area_um2"].to_numpy(float) / 1e6, ok["metric"].to_numpy(float)
    want = {(round(xv[i], 9), round(yv[i], 9)) for i in _brute_front(xv, yv, higher_is_better=True)}
    assert {(round(a, 9), round(b, 9)) for a, b in line.get_xydata()} == want
    assert ax.get_ylabel() == "top1_agreement (higher is better)"


def test_pareto_one_panel_per_model_and_metric(llm_study: Path) -> None:
    points = _ok(ResultsStore.of(llm_study).points())
    other = points.copy()
    other["model"] = "minilm"
    other["metric_name"] = "spearman"
    other["higher_is_better"] = True
    other["key"] = [f"f{k[1:]}" for k in other["key"]]
    fig = pareto_figure(pd.concat([points, other], ignore_index=True), x="energy_pj", y="metric")
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == ["minilm · spearman", "smollm2 · perplexity"]
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_visible()] == [
        "spearman (higher is better)", "perplexity (lower is better)"]
    _assert_no_text_overlap(fig)


def test_pareto_needs_its_columns(qsnr_study: Path) -> None:
    points = ResultsStore.of(qsnr_study).points()
    with pytest.raises(PlotError, match="area_um2"):
        pareto_figure(points, x="area_um2", y="metric")


# ---- QSNR, layers, roofline -----------------------------------------------------------------
def test_qsnr_figure(qsnr_study: Path) -> None:
    points = ResultsStore.of(qsnr_study).points()
    fig = qsnr_figure(points)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "weight bits per element [bit] (block scales amortized)"
    assert ax.get_ylabel() == "QSNR [dB] (higher is better)"
    assert set(_legend_texts(fig)) == {"gaussian", "laplace"}
    for src in ("gaussian", "laplace"):
        part = points[points["data"] == src]
        (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == f"pareto-front:{src}"]
        xv, yv = part["w_bits_per_element"].to_numpy(float), part["qsnr_db"].to_numpy(float)
        want = {(xv[i], round(yv[i], 9)) for i in _brute_front(xv, yv, higher_is_better=True)}
        assert {(a, round(b, 9)) for a, b in line.get_xydata()} == want
    # front points are named only where a label fits, and only front formats are named
    names = {t.get_text() for t in ax.texts}
    assert names and names <= set(points["weights"])
    _assert_no_text_overlap(fig)


def test_qsnr_labels_never_overlap_when_crowded(qsnr_study: Path) -> None:
    points = ResultsStore.of(qsnr_study).points()
    rows = []
    for i in range(40):  # 40 formats on one front, crowded on a few bits
        rows.append({"key": f"{i:016x}", "status": "ok", "weights": f"format_with_long_name_{i}",
                     "data": "gaussian", "qsnr_db": 10.0 + i * 0.8, "w_bits_per_element": 4.0 + i * 0.05})
    fig = qsnr_figure(pd.concat([points, pd.DataFrame(rows)], ignore_index=True))
    assert 0 < len(fig.axes[0].texts) < 40
    _assert_no_text_overlap(fig)


def test_representative_points_one_per_format_at_one_design(llm_study: Path) -> None:
    store = ResultsStore.of(llm_study)
    rep = representative_points(store.points(), store.layers())
    assert sorted(rep["weights"]) == ["fp16", "int8_g32", "mxfp4", "nvfp4"]
    assert rep[["accelerator", "dataflow", "rows", "cols"]].drop_duplicates().shape[0] == 1
    assert rep["rows"].iloc[0] == 64  # the largest array that runs every format
    assert (rep["status"] == "ok").all()


def test_layer_energy_figure(llm_study: Path) -> None:
    store = ResultsStore.of(llm_study)
    layers = store.layers()
    fig = layer_energy_figure(store.points(), layers)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert sorted(ax.get_title() for ax in axes) == ["fp16", "int8_g32", "mxfp4", "nvfp4"]
    assert all(ax.get_xlabel().startswith("energy [") and ax.get_xlabel().endswith("J]") for ax in axes)
    assert set(_legend_texts(fig)) == {"MAC datapath", "register files", "on-chip SRAM", "DRAM"}
    # the bars of each panel add up to that point's per-layer energy
    rep = representative_points(store.points(), layers)
    unit = axes[0].get_xlabel().split("[")[1].rstrip("]")
    div = {"pJ": 1.0, "nJ": 1e3, "µJ": 1e6, "mJ": 1e9, "J": 1e12}[unit]
    for ax in axes:
        key = rep.loc[rep["weights"] == ax.get_title(), "key"].iloc[0]
        want = layers.loc[layers["key"] == key, ["energy_mac_pj", "energy_rf_pj", "energy_sram_pj",
                                                 "energy_dram_pj"]].to_numpy().sum() / div
        assert sum(p.get_width() for p in ax.patches) == pytest.approx(want, rel=1e-9)
    _assert_no_text_overlap(fig)


def test_layer_energy_groups_repeated_blocks(llm_study: Path) -> None:
    store = ResultsStore.of(llm_study)
    fig = layer_energy_figure(store.points(), store.layers(), max_layers=3)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["lm_head", "model.layers.*.mlp.up_proj", "model.layers.*.self_attn.q_proj"]
    fig = layer_energy_figure(store.points(), store.layers(), max_layers=2)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["lm_head", "other (2 layers)"]
    fig = layer_energy_figure(store.points(), store.layers())
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == 5 and "model.layers.1.mlp.up_proj" in labels  # few layers: each its own bar


def test_roofline_figure(llm_study: Path) -> None:
    store = ResultsStore.of(llm_study)
    fig = roofline_figure(store.points(), store.layers())
    ax = fig.axes[0]
    assert ax.get_xlabel() == "arithmetic intensity [MAC/byte of DRAM traffic]"
    assert ax.get_ylabel() == "attained throughput [MAC/cycle]"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    roofs = [ln for ln in ax.get_lines() if str(ln.get_gid()).startswith("roof:")]
    assert [ln.get_gid() for ln in roofs] == ["roof:4096:64"]
    xs, ys = roofs[0].get_data()
    assert np.allclose(ys, np.minimum(4096, np.asarray(xs) * 64))
    texts = _legend_texts(fig)
    assert {"fp16", "int8_g32", "mxfp4", "nvfp4", "roof: 4096 MAC/cycle, 64 B/cycle"} <= set(texts)
    # every layer point sits under its roof
    for c in ax.collections:
        off = c.get_offsets()
        assert np.all(off[:, 1] <= np.minimum(4096, off[:, 0] * 64) * (1 + 1e-9))
    _assert_no_text_overlap(fig)


def test_roofline_per_point_without_layers(llm_study: Path) -> None:
    points = ResultsStore.of(llm_study).points()
    fig = roofline_figure(points, None)
    ax = fig.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(_ok(points))
    roofs = sorted(ln.get_gid() for ln in ax.get_lines())
    assert roofs == ["roof:1024:64", "roof:256:64", "roof:4096:64", "roof:64:64"]
    assert {"dataflow: ws", "dataflow: os"} <= set(_legend_texts(fig))
    _assert_no_text_overlap(fig)


# ---- the study's plots ------------------------------------------------------------------------
def test_study_figures_make_what_the_data_supports(llm_study: Path, qsnr_study: Path) -> None:
    store = ResultsStore.of(llm_study)
    plots = study_figures(store.points(), store.layers())
    assert list(plots.figures) == ["pareto_area", "pareto_energy", "metric_by_format", "energy_vs_latency",
                                   "layer_energy", "roofline"]
    assert set(plots.skipped) == {"qsnr_vs_bits"}
    for fig in plots.figures.values():
        _assert_no_text_overlap(fig)
    q = ResultsStore.of(qsnr_study)
    plots = study_figures(q.points(), q.layers())
    assert list(plots.figures) == ["qsnr_vs_bits"]


def test_plot_study_writes_png_and_pdf(llm_study: Path, tmp_path: Path) -> None:
    paths = plot_study(llm_study)
    folder = llm_study / "plots"
    stems = ["pareto_area", "pareto_energy", "metric_by_format", "energy_vs_latency", "layer_energy", "roofline"]
    assert paths == [folder / f"{s}{ext}" for s in stems for ext in (".png", ".pdf")]
    for p in paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if p.suffix == ".png" else head.startswith(b"%PDF")
    assert sorted(x.name for x in folder.iterdir()) == sorted(p.name for p in paths)  # no temporary left
    other = plot_study(llm_study / "study.toml", tmp_path / "elsewhere")
    assert [p.name for p in other] == [p.name for p in paths]


def test_plot_study_of_an_empty_store(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(PlotError, match="no finished point"):
        plot_study(folder)


def test_many_points_are_rasterized_in_vector_files(llm_study: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hwsim.study.plots as plots

    points = ResultsStore.of(llm_study).points()
    fig = pareto_figure(points, x="area_um2", y="metric")
    assert not any(c.get_rasterized() for c in fig.axes[0].collections)
    monkeypatch.setattr(plots, "RASTER_POINTS", 10)
    fig = pareto_figure(points, x="area_um2", y="metric")
    data = [c for c in fig.axes[0].collections if c.get_gid() is None]
    assert data and all(c.get_rasterized() for c in data)
    assert not any(ln.get_rasterized() for ln in fig.axes[0].get_lines())  # the front stays a vector


def test_metric_figure_one_dot_per_format_best_on_top(llm_study: Path) -> None:
    points = ResultsStore.of(llm_study).points()
    fig = metric_figure(points)
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_xlabel() == "perplexity (lower is better)"
    names = [t.get_text() for t in ax.get_yticklabels()]
    ok = _ok(points)
    first = ok.groupby("weights")["metric"].first()
    assert names == list(first.sort_values().index)  # lower is better: least perplexity on top
    (dots,) = [c for c in ax.collections if c.get_gid() == "metric-points"]
    assert [round(x, 9) for x in dots.get_offsets()[:, 0]] == [round(first[n], 9) for n in names]
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # row 0 (the best) drawn at the top
    assert "fp32 model (baseline)" in _legend_texts(fig)
    _assert_no_text_overlap(fig)


def test_accuracy_only_study_gets_its_metric_plot(llm_study: Path) -> None:
    points = ResultsStore.of(llm_study).points()
    cost = ["cycles", "latency_s", "energy_pj", "energy_mac_pj", "energy_rf_pj", "energy_sram_pj", "energy_dram_pj",
            "macs", "dram_bytes", "utilization", "area_um2", "peak_macs_per_cycle", "dram_bytes_per_cycle"]
    plots = study_figures(points.drop(columns=cost), None)
    assert list(plots.figures) == ["metric_by_format"]
    assert "area_um2" in plots.skipped["pareto_area"]


@pytest.mark.parametrize("span", [25.0, 32.0, 60.0, 99.0, 300.0])
def test_log_axes_tick_labels_never_collide(llm_study: Path, span: float) -> None:
    """Under two decades matplotlib labels minor log ticks (3x10^2, 4x10^2, ...) that collide
    (seen on a real digits-cnn study: 250 ... 8000 uJ)."""
    points = _ok(ResultsStore.of(llm_study).points()).copy()
    rank = points["energy_pj"].rank(method="first").to_numpy() - 1
    points["energy_pj"] = 2.5e8 * span ** (rank / rank.max())  # 250 uJ ... 250*span uJ, log-spaced
    fig = pareto_figure(points, x="energy_pj", y="metric")
    assert fig.axes[0].get_xscale() == "log"
    _assert_no_text_overlap(fig)


@pytest.mark.parametrize("bw", [64.0, 4.0])
def test_roofline_tick_labels_never_collide(llm_study: Path, bw: float) -> None:
    points = _ok(ResultsStore.of(llm_study).points()).copy()
    points["dram_bytes_per_cycle"] = bw  # the ridge moves, and with it the axes' spans
    fig = roofline_figure(points, None)
    assert fig.axes[0].get_xscale() == fig.axes[0].get_yscale() == "log"
    _assert_no_text_overlap(fig)


def test_bare_index_layer_names_get_their_kind(llm_study: Path) -> None:
    store = ResultsStore.of(llm_study)
    layers = store.layers()
    names = {n: str(i) for i, n in enumerate(sorted(set(layers["layer"])))}  # as nn.Sequential names them
    layers["layer"] = layers["layer"].map(names)
    fig = layer_energy_figure(store.points(), layers)
    labels = {t.get_text() for t in fig.axes[0].get_yticklabels()}
    assert labels == {f"layer {i} (linear)" for i in names.values()}
