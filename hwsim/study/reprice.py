"""Re-price a recorded run on other accelerators without re-running the model.

Accuracy depends on the formats, not on the array, so a run saved with ``hwsim run --json`` (one
:class:`~hwsim.bridge.report.Report` as JSON, or the list ``--compare`` writes) holds everything a
cost needs: each distinct GEMM ``(layer, kind, m, k, n, a_format, w_format, count)`` and each
operand's typed description (``operands``: :class:`~hwsim.numerics.protocol.OperandSpec` fields).
:func:`reprice` rebuilds the GEMM records and prices them with
:func:`hwsim.bridge.report.cost_gemms`, the function a live run uses, so the result equals the cost
a real run on that accelerator records.

An operand whose name is a catalog format with the same recorded description is priced on the
catalog object (bit-serial ``w_cycles_per_weight = "terms"`` decomposes its codes); any other
(user formats, overrides, GEMM-level schemes such as LLM.int8) on its recorded description.

:func:`compare_table` and :func:`plot_compare` turn reports of several formats on several
accelerators into one table and one plot (colour = format, marker = accelerator), with the
energy of quantized GEMMs and of GEMMs kept fp32 apart (``hwsim run --compare --accelerator a,b``,
``hwsim cost``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hwsim.bridge.records import GemmRecord, Operand, RunSummary, Unsupported
from hwsim.bridge.report import Report, build_report
from hwsim.catalog import get_format
from hwsim.errors import FormatError, HwsimError
from hwsim.numerics.protocol import OperandSpec, ScaleSpec

__all__ = ["load_runs", "run_records", "reprice", "reprice_all", "compare_table", "plot_compare", "TOP1_KEYS"]

#: metric names that mean "top-1 agreement with the fp32 model", per built-in model
TOP1_KEYS = ("top1_agreement", "agreement_with_fp32")


def load_runs(path: str | Path) -> list[dict[str, Any]]:
    """The run(s) a ``hwsim run --json`` file holds: one report object, or a list of them."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise HwsimError(f"cannot read {path}: {exc}") from None
    runs = data if isinstance(data, list) else [data]
    for i, run in enumerate(runs):
        if not isinstance(run, dict) or "layers" not in run or "operands" not in run:
            raise HwsimError(f"{path}: entry {i} is not a run written by `hwsim run --json` "
                             f"(it needs 'layers' and 'operands'; files from before re-pricing lack 'operands')")
    return runs


def _spec(d: Mapping[str, Any]) -> OperandSpec:
    return OperandSpec(**{**d, "scales": tuple(ScaleSpec(**s) for s in d["scales"])})


def _operand(name: str, desc: Mapping[str, Any] | None) -> Operand:
    """The catalog format ``name`` when its description matches the recorded one, else the
    recorded description itself."""
    spec = None if desc is None else _spec(desc)
    try:
        fmt = get_format(name)
    except FormatError:
        fmt = None
    if fmt is not None and (spec is None or fmt.operand == spec):
        return Operand(name, fmt)
    if spec is None:
        raise HwsimError(f"operand {name!r}: not in the catalog and the run records no description of it")
    return Operand(name, spec)


def run_records(run: Mapping[str, Any]) -> tuple[list[GemmRecord], RunSummary]:
    """The GEMM records and run summary of a recorded run (a ``hwsim run --json`` object), with
    operands resolved as the module docstring says."""
    descs = run.get("operands") or {}
    ops: dict[str, Operand] = {}

    def op(name: str) -> Operand:
        if name not in ops:
            ops[name] = _operand(name, descs.get(name))
        return ops[name]

    records = [GemmRecord(layer=r["name"], kind=r["kind"], m=int(r["m"]), k=int(r["k"]), n=int(r["n"]),
                          a=op(r["a_format"]), w=op(r["w_format"]), count=int(r["count"]))
               for r in run["layers"]]
    a_name, w_name = run.get("array_operands") or (run["activations"], run["weights"])
    summary = RunSummary(weights=run["weights"], activations=run["activations"], kv_cache=run["kv_cache"],
                         accumulate=run["accumulate"], a=op(a_name), w=op(w_name),
                         unsupported=tuple(Unsupported(**u) for u in run.get("unsupported", ())))
    return records, summary


def reprice(run: Mapping[str, Any], accelerator: Any) -> Report:
    """The :class:`~hwsim.bridge.report.Report` of the recorded ``run`` (a ``hwsim run --json``
    object) with every GEMM priced on ``accelerator`` (an :class:`hwsim.arch.Accelerator`)."""
    records, summary = run_records(run)
    notes = [n for n in run.get("notes", ()) if not n.startswith("re-priced from")]
    if run.get("accelerator") != accelerator.name:
        notes.append(f"re-priced from a run recorded on {run.get('accelerator')}")
    return build_report(records, summary, accelerator, metric_name=run.get("metric_name", ""),
                        metric=run.get("metric"), baseline_metric=run.get("baseline_metric"),
                        metrics=run.get("metrics") or {}, model_name=run.get("model", ""), notes=notes)


def _nan(v: float | None) -> float:
    return math.nan if v is None else float(v)


def compare_table(reports: Iterable[Report]) -> pd.DataFrame:
    """One row per (accelerator, format) report: metric, baseline, delta, top-1 agreement with
    fp32, cycles and energy of the whole evaluation, the energy of quantized GEMMs and of GEMMs
    kept fp32 apart, energy per token, array area."""
    rows = []
    for rep in reports:
        split = rep.energy_split_pj
        top1 = next((rep.metrics[k] for k in TOP1_KEYS if k in rep.metrics), None)
        rows.append({
            "accelerator": rep.accelerator, "weights": rep.weights, "activations": rep.activations,
            rep.metric_name or "metric": rep.metric, "baseline": rep.baseline_metric,
            "delta_pct": 100 * (rep.metric_delta or 0.0), "top1_agreement": _nan(top1),
            "cycles_total": rep.cycles, "latency_s": rep.latency_s,
            "energy_uj_total": rep.energy_pj / 1e6, "energy_quantized_uj_total": split["quantized"] / 1e6,
            "energy_fp32_uj_total": split["fp32"] / 1e6,
            "energy_uj_per_token": _nan(rep.per_token(rep.energy_pj / 1e6)),
            "area_mm2": rep.area_um2 / 1e6})
    return pd.DataFrame(rows)


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def _label(row: Mapping[str, Any]) -> str:
    w, a = row["weights"], row["activations"]
    return w if w == a else f"W {w} / A {a}"


def plot_compare(table: pd.DataFrame, path: str | Path, *, metric_name: str, title: str = "",
                 higher_is_better: bool = True) -> Path:
    """Metric vs energy, colour = format, marker = accelerator; left: the whole evaluation's
    energy, right: the energy of the quantized GEMMs only (GEMMs kept fp32 left out)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(11, 4.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    rows: list[dict[str, Any]] = table.to_dict(orient="records")  # pyright: ignore[reportAssignmentType]
    labels = list(dict.fromkeys(_label(r) for r in rows))
    accs = list(dict.fromkeys(table["accelerator"]))
    colour = {lab: f"C{i % 10}" for i, lab in enumerate(labels)}
    marker = {acc: _MARKERS[i % len(_MARKERS)] for i, acc in enumerate(accs)}
    for ax, col, xlabel in ((axes[0], "energy_uj_total", "energy of the evaluation [µJ]"),
                            (axes[1], "energy_quantized_uj_total", "energy of the quantized GEMMs [µJ]")):
        for row in rows:
            ax.scatter(row[col], row[metric_name], color=colour[_label(row)], marker=marker[row["accelerator"]],
                       s=42, zorder=3)
        ax.axhline(float(rows[0]["baseline"]), color="gray", ls="--", lw=1)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
        if col == "energy_quantized_uj_total":
            fp32 = max(float(r["energy_fp32_uj_total"]) for r in rows)
            ax.set_title(f"kept fp32: up to {fp32:.3g} µJ, excluded" if fp32 else "no GEMM kept fp32", fontsize=9)
    axes[0].set_ylabel(metric_name + (" (higher is better)" if higher_is_better else " (lower is better)"))
    metric = [float(r[metric_name]) for r in rows]
    if not higher_is_better and max(metric) > 4 * min(metric):
        axes[0].set_yscale("log")
    handles = [Line2D([], [], color=colour[lab], marker="o", ls="", label=lab) for lab in labels]
    handles += [Line2D([], [], color="k", marker=marker[a], ls="", label=a) for a in accs]
    handles.append(Line2D([], [], color="gray", ls="--", label="fp32 baseline"))
    axes[1].legend(handles=handles, fontsize=7, loc="best")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def reprice_all(runs: Sequence[Mapping[str, Any]], accelerators: Sequence[Any]) -> list[Report]:
    """Every run on every accelerator, accelerator-major (the order of ``compare_table``'s rows)."""
    return [reprice(run, acc) for acc in accelerators for run in runs]
