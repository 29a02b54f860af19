"""Evaluate a model on the simulated datapath next to its fp32 baseline; compare formats; plot.

``run("smollm2", weights="mxfp4", activations="mxfp8_e4m3", accelerator="mx-systolic-32")`` loads
a built-in model (``hwsim.bridge.models``), evaluates the fp32 model and the simulated one, and
returns a :class:`~hwsim.bridge.report.Report`. Any ``nn.Module`` works too, with an evaluation
function ``evaluate(model) -> float | dict | EvalResult``. Library code: nothing is printed;
progress goes to the optional ``progress(done, total)`` callback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from hwsim.bridge.models import EvalResult
from hwsim.errors import HwsimError

__all__ = ["run", "compare", "plot_compare", "baseline"]

_BASELINES: dict[tuple[str, str], EvalResult] = {}


def _as_result(value: Any, metric_name: str) -> EvalResult:
    if isinstance(value, EvalResult):
        return value
    if isinstance(value, Mapping):
        if metric_name not in value:
            raise HwsimError(f"evaluation returned {sorted(value)}; it has no metric {metric_name!r}")
        return EvalResult(float(value[metric_name]), {k: float(v) for k, v in value.items()})
    return EvalResult(float(value), {metric_name: float(value)})


def _spec_and_model(model: Any, evaluate: Callable | None, metric_name: str | None):
    from hwsim.bridge import models

    if isinstance(model, str):
        spec = models.get(model)
        return spec, spec.load(), spec.name
    if evaluate is None:
        raise HwsimError("a user model needs an evaluation function: run(model, ..., evaluate=fn) "
                         "with fn(model) -> float | dict | EvalResult")
    name = metric_name or "metric"
    spec = models.ModelSpec(name=type(model).__name__, description="user model", metric_name=name,
                            higher_is_better=True, load=lambda: model,
                            evaluate=lambda m, **kw: _as_result(evaluate(m), name))
    return spec, model, spec.name


def baseline(model: Any, *, size: str = "ci", evaluate: Callable | None = None,
             metric_name: str | None = None, progress: Callable | None = None) -> EvalResult:
    """The fp32 evaluation (cached per process for built-in models)."""
    spec, module, _ = _spec_and_model(model, evaluate, metric_name)
    key = (spec.name, size)
    if isinstance(model, str) and key in _BASELINES:
        return _BASELINES[key]
    res = spec.evaluate(module, size=size, progress=progress)
    if isinstance(model, str):
        _BASELINES[key] = res
    return res


def run(model: Any, weights: Any = "mxfp4", activations: Any = "mxfp8_e4m3",
        accelerator: Any = "mx-systolic-32", *, evaluate: Callable | None = None,
        metric_name: str | None = None, size: str = "ci", progress: Callable | None = None,
        baseline_progress: Callable | None = None, skip: Iterable[str] | None = None,
        default_skip: bool = True, overrides: Mapping[str, Any] | None = None,
        kv_cache: Any = "activations", accumulate: Any = None, attention: bool = True,
        v_cache: Any = "kv_cache", ksort: bool = False, deterministic: bool = True,
        v_layout: str = "token", conv_layout: str = "channels", gemm: str = "mac", lut_table: str | None = None):
    """fp32 baseline + simulated evaluation + costs of every executed GEMM: a ``Report``.

    ``model``: a built-in name (``hwsim.bridge.models.names()``) or an ``nn.Module`` with
    ``evaluate``. ``skip`` adds module-name patterns to the model's default ones (SmolLM2:
    ``lm_head``) unless ``default_skip=False``. ``accumulate``: ``None`` (exact products summed in
    float64, rounded once), a narrower accumulator format, or the mode ``"block_dot"`` (every
    Linear output is OCP MX DotGeneral of its encoded rows, :func:`hwsim.numerics.dot.dot_general`,
    bit for bit). ``gemm="lut"`` (``lut_table``): Linears by table lookup. Other arguments as
    :func:`hwsim.bridge.simulate`.
    """
    from hwsim.bridge.datapath import SimConfig, Simulation

    spec, module, name = _spec_and_model(model, evaluate, metric_name)
    base = baseline(model, size=size, evaluate=evaluate, metric_name=metric_name, progress=baseline_progress)
    patterns = (tuple(spec.skip) if default_skip else ()) + tuple(skip or ())
    config = SimConfig(weights=weights, activations=activations, accelerator=accelerator, kv_cache=kv_cache,
                       v_cache=v_cache, accumulate=accumulate, skip=patterns, overrides=dict(overrides or {}),
                       attention=attention, ksort=ksort, deterministic=deterministic, v_layout=v_layout,
                       conv_layout=conv_layout, gemm=gemm, lut_table=lut_table)
    sim = Simulation(module, config)
    res = spec.evaluate(sim.model, size=size, progress=progress, reference=base.outputs)
    notes = list(spec.notes) + [f"evaluation size {size!r}: {spec.sizes.get(size, size)}"]
    if patterns:
        notes.append(f"kept fp32 (skip patterns): {', '.join(patterns)}")
    return sim.report(metric_name=spec.metric_name, metric=res.metric, baseline_metric=base.metric,
                      metrics=res.metrics, model_name=name, notes=notes)


def compare(model: Any, formats: Iterable[str], *, activations: Any = "same",
            accelerator: Any = "mx-systolic-32", progress: Callable | None = None, **kwargs: Any):
    """One :func:`run` per weight format (``activations="same"``: the same format for activations,
    K and V too). ``progress(label, done, total)``. Returns ``(table, reports)``; the table has one
    row per format: metric, baseline, Δ, cycles, latency, energy, area.
    """
    import pandas as pd

    reports, rows = [], []
    for fmt in formats:
        act = fmt if activations == "same" else activations
        cb = None if progress is None else (lambda d, t, _f=fmt: progress(_f, d, t))
        bcb = None if progress is None else (lambda d, t: progress("fp32 baseline", d, t))
        rep = run(model, fmt, act, accelerator, progress=cb, baseline_progress=bcb, **kwargs)
        reports.append(rep)
        rows.append({"weights": rep.weights, "activations": rep.activations, rep.metric_name: rep.metric,
                     "baseline": rep.baseline_metric, "delta_pct": 100 * (rep.metric_delta or 0.0),
                     "cycles": rep.cycles, "latency_s": rep.latency_s, "energy_uj": rep.energy_pj / 1e6,
                     "area_mm2": rep.area_um2 / 1e6})
    return pd.DataFrame(rows), reports


def plot_compare(table, path: str | Path, *, metric_name: str, title: str = "",
                 higher_is_better: bool = True) -> Path:
    """Accuracy vs energy: one point per format, the fp32 baseline as a dashed line."""
    # the OO API: a Figure with its own Agg canvas, so library code never picks a global backend
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(6.4, 4.4))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.scatter(table["energy_uj"], table[metric_name], color="C0", zorder=3)
    for _, row in table.iterrows():
        same = row["weights"] == row["activations"]
        label = row["weights"] if same else f"W {row['weights']} / A {row['activations']}"
        ax.annotate(label, (row["energy_uj"], row[metric_name]), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
    ax.axhline(float(table["baseline"].iloc[0]), color="gray", ls="--", lw=1, label="fp32 baseline")
    ax.set_xlabel("energy of the evaluation [µJ]")
    ax.set_ylabel(metric_name + (" (higher is better)" if higher_is_better else " (lower is better)"))
    if not higher_is_better and float(table[metric_name].max()) > 4 * float(table[metric_name].min()):
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path
