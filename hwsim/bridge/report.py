"""What a simulated run cost: every recorded GEMM priced on the accelerator (:mod:`hwsim.arch`).

One vectorized ``Accelerator.gemm`` call per distinct (activation format, weight format) pair
prices all the shapes that ran with it. The per-layer table has one row per distinct executed GEMM
``(layer, kind, m, k, n, a_format, w_format)`` with its execution ``count``.

Units are in the names, everywhere (tables, JSON, CSV): ``<quantity>_per_call`` is one execution
of the row's GEMM (a :class:`hwsim.arch.GemmCost` field) and ``<quantity>_total`` = per call x
``count``; ``utilization`` and ``area_um2`` are not additive and carry no suffix.

Totals: ``cycles_total`` = sum of the rows' ``cycles_total`` (GEMMs run one after the other on the
one array), ``latency_s`` = cycles / clock, ``energy_pj_total`` = sum of the rows'
``energy_pj_total`` (so the report's energy *is* the sum of its rows), ``area_um2`` = the area of
the array built for the run's weight and activation formats (``Accelerator.area_um2``).

What dominates: a row is ``precision = "fp32"`` when both its operands stayed fp32 (skip patterns
such as SmolLM2's tied ``lm_head``, ``attention=False``), else ``"quantized"``;
``energy_quantized_pj_total`` and ``energy_fp32_pj_total`` split the energy between them, and
``*_per_token`` divide by the tokens the evaluation scored (``metrics["tokens"]``, when the model
reports it).

The JSON also records each operand's typed description (``operands``: name ->
:class:`~hwsim.numerics.protocol.OperandSpec` fields), so a saved run can be re-priced on another
accelerator without re-running the model (:mod:`hwsim.study.reprice`, ``hwsim cost``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from hwsim.bridge.records import GemmRecord, Operand, RunSummary
from hwsim.numerics.protocol import OperandSpec

__all__ = ["Report", "build_report", "cost_gemms", "RECORD_COLUMNS", "ADDITIVE", "operand_spec_dict"]

#: the columns of a GEMM record table (``Simulation.records()``)
RECORD_COLUMNS = ["layer", "kind", "m", "k", "n", "a_format", "w_format", "count"]

#: per-call cost fields copied from GemmCost (additive: each gets ``_per_call`` and ``_total``)
_GEMM_FIELDS = ["cycles", "compute_cycles", "stall_cycles", "macs", "energy_mac_pj", "energy_rf_pj",
                "energy_sram_pj", "energy_dram_pj", "energy_pj", "dram_read_bytes", "dram_write_bytes",
                "sram_reads_ifmap", "sram_reads_filter", "sram_writes_ofmap"]
#: additive quantities of a row: ``<q>_per_call`` and ``<q>_total`` columns
ADDITIVE = [*_GEMM_FIELDS, "bytes_moved"]
_INT = ("cycles", "compute_cycles", "stall_cycles", "macs")
#: the quantities the JSON lists per layer and sums for the run
_JSON = ["cycles", "energy_pj", "energy_mac_pj", "energy_rf_pj", "energy_sram_pj", "energy_dram_pj",
         "macs", "dram_read_bytes", "dram_write_bytes", "bytes_moved"]
#: the operand name of a GEMM input left unquantized
FP32 = "fp32"


def record_table(records: Sequence[GemmRecord]) -> pd.DataFrame:
    """The GEMM records as a table: ``layer, kind, m, k, n, a_format, w_format, count``."""
    return pd.DataFrame([(r.layer, r.kind, r.m, r.k, r.n, r.a.name, r.w.name, r.count) for r in records],
                        columns=RECORD_COLUMNS)


def cost_gemms(records: Sequence[GemmRecord], accelerator: Any) -> pd.DataFrame:
    """The record table of ``records`` with cost columns added: one vectorized
    ``accelerator.gemm`` call per distinct operand pair, on the operands' own format objects."""
    df = record_table(records)
    costs = {col: np.zeros(len(df), dtype=np.float64) for col in [*_GEMM_FIELDS, "utilization", "area_um2"]}
    groups: dict[tuple[int, int], list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault((id(r.a), id(r.w)), []).append(i)
    for idx in groups.values():
        first = records[idx[0]]
        rows = np.asarray(idx, dtype=np.int64)
        cost = accelerator.gemm(np.asarray([records[i].m for i in idx], dtype=np.int64),
                                np.asarray([records[i].k for i in idx], dtype=np.int64),
                                np.asarray([records[i].n for i in idx], dtype=np.int64),
                                first.a.format, first.w.format)
        for col in costs:
            costs[col][rows] = np.broadcast_to(np.asarray(getattr(cost, col), dtype=np.float64), (len(idx),))
    df["precision"] = np.where((df["a_format"] == FP32) & (df["w_format"] == FP32), "fp32", "quantized")
    df["utilization"] = costs["utilization"]
    df["area_um2"] = costs["area_um2"]
    costs["bytes_moved"] = costs["dram_read_bytes"] + costs["dram_write_bytes"]
    count = df["count"].to_numpy(np.int64)
    for col in ADDITIVE:
        per = costs[col].astype(np.int64) if col in _INT else costs[col]
        df[f"{col}_per_call"] = per
        df[f"{col}_total"] = per * count
    return df


def operand_spec_dict(fmt: Any) -> dict[str, Any] | None:
    """The typed operand description of ``fmt`` as plain JSON data (None when it has none)."""
    spec = fmt if isinstance(fmt, OperandSpec) else getattr(fmt, "operand", None)
    return dataclasses.asdict(spec) if isinstance(spec, OperandSpec) else None


def _operands(records: Sequence[GemmRecord], run: RunSummary) -> dict[str, dict[str, Any]]:
    """name -> operand description of every operand of the run (first one of a name wins)."""
    out: dict[str, dict[str, Any]] = {}
    ops: list[Operand] = [run.a, run.w]
    for r in records:
        ops += [r.a, r.w]
    for op in ops:
        if op.name not in out:
            spec = operand_spec_dict(op.format)
            if spec is not None:
                out[op.name] = spec
    return out


@dataclass
class Report:
    """Accuracy and cost of one simulated run.

    ``layers``: one row per distinct executed GEMM (see module docstring). ``unsupported``: layers
    and ops that ran in fp32 because hwsim cannot simulate them (never dropped silently).
    """

    model: str
    weights: str
    activations: str
    kv_cache: str
    accumulate: str
    accelerator: str
    clock_mhz: float
    layers: pd.DataFrame
    metric_name: str = ""
    metric: float | None = None
    baseline_metric: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    unsupported: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: area of the array built for the run's main weight/activation formats (skipped fp32 layers
    #: are costed on the same array as if it had an fp32 mode)
    array_area_um2: float | None = None
    #: operand name -> OperandSpec fields (what a re-pricing needs; :mod:`hwsim.study.reprice`)
    operands: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: names of the run's main (activation, weight) operands: the array the area is quoted for
    array_operands: tuple[str, str] | None = None

    # ---- totals ---------------------------------------------------------------------------
    def _column(self, name: str) -> pd.Series:
        """One column of :attr:`layers` (a str key selects a Series)."""
        return cast(pd.Series, self.layers[name])

    def _sum(self, col: str, precision: str | None = None) -> float:
        if not len(self.layers):
            return 0.0
        values = self._column(f"{col}_total")
        if precision is not None:
            values = values[self._column("precision") == precision]
        return float(values.sum())

    @property
    def cycles(self) -> int:
        """Cycles of the whole evaluation (the JSON's ``cycles_total``)."""
        return int(self._column("cycles_total").sum()) if len(self.layers) else 0

    @property
    def latency_s(self) -> float:
        return self.cycles / (self.clock_mhz * 1e6)

    @property
    def energy_pj(self) -> float:
        """Energy of the whole evaluation (the JSON's ``energy_pj_total``)."""
        return self._sum("energy_pj")

    @property
    def energy_split_pj(self) -> dict[str, float]:
        """``{"quantized": ..., "fp32": ...}``: energy of the GEMMs with a quantized operand and
        of the GEMMs kept fp32 (they sum to :attr:`energy_pj`)."""
        return {"quantized": self._sum("energy_pj", "quantized"), "fp32": self._sum("energy_pj", "fp32")}

    @property
    def tokens(self) -> float | None:
        """Tokens the evaluation scored (``metrics["tokens"]``), or None for non-LM models."""
        t = self.metrics.get("tokens")
        return float(t) if t else None

    def per_token(self, value: float) -> float | None:
        """``value / tokens`` (None when the model reports no token count)."""
        return None if self.tokens is None else value / self.tokens

    @property
    def energy_breakdown_pj(self) -> dict[str, float]:
        return {k: self._sum(f"energy_{k}_pj") for k in ("mac", "rf", "sram", "dram")}

    @property
    def bytes_moved(self) -> float:
        return self._sum("bytes_moved")

    @property
    def macs(self) -> int:
        return int(self._column("macs_total").sum()) if len(self.layers) else 0

    @property
    def area_um2(self) -> float:
        if self.array_area_um2 is not None:
            return self.array_area_um2
        return float(self._column("area_um2").max()) if len(self.layers) else 0.0

    @property
    def utilization(self) -> float:
        """MAC-weighted mean utilization."""
        if not len(self.layers):
            return 0.0
        w = self.layers["macs_total"].to_numpy(np.float64)
        return float(np.average(self.layers["utilization"], weights=w)) if w.sum() else 0.0

    @property
    def metric_delta(self) -> float | None:
        """Relative change of the metric vs the fp32 baseline (0.05 = +5 %)."""
        if self.metric is None or not self.baseline_metric:
            return None
        return self.metric / self.baseline_metric - 1.0

    def totals(self) -> dict[str, Any]:
        """The run's totals, units in the names (``*_total`` over the evaluation, ``*_per_token``)."""
        split = self.energy_split_pj
        out: dict[str, Any] = {
            "cycles_total": self.cycles, "latency_s": self.latency_s, "energy_pj_total": self.energy_pj,
            **{f"energy_{k}_pj_total": v for k, v in self.energy_breakdown_pj.items()},
            "energy_quantized_pj_total": split["quantized"], "energy_fp32_pj_total": split["fp32"],
            "area_um2": self.area_um2, "macs_total": self.macs, "bytes_moved_total": self.bytes_moved,
            "utilization": self.utilization, "tokens": self.tokens}
        for key in ("energy_pj", "energy_quantized_pj", "energy_fp32_pj"):
            out[f"{key}_per_token"] = self.per_token(out[f"{key}_total"])
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: run settings, metric, totals, ``layers`` (one object per GEMM row, each
        quantity as ``<q>_total`` over its executions and ``<q>_per_call``), ``operands``."""
        layers = []
        for row in self.layers.to_dict(orient="records"):
            obj = {"name": row["layer"], **{k: _py(row[k]) for k in ("kind", "m", "k", "n", "a_format",
                                                                       "w_format", "count", "precision")}}
            for q in _JSON:
                obj[f"{q}_total"] = _py(row[f"{q}_total"])
                obj[f"{q}_per_call"] = _py(row[f"{q}_per_call"])
            obj.update(utilization=_py(row["utilization"]), area_um2=_py(row["area_um2"]))
            layers.append(obj)
        return {"model": self.model, "weights": self.weights, "activations": self.activations,
                "kv_cache": self.kv_cache, "accumulate": self.accumulate, "accelerator": self.accelerator,
                "clock_mhz": self.clock_mhz, "metric_name": self.metric_name, "metric": self.metric,
                "baseline_metric": self.baseline_metric, "metric_delta": self.metric_delta,
                "metrics": {k: _py(v) for k, v in self.metrics.items()},
                **{k: _py(v) for k, v in self.totals().items()},
                "unsupported": self.unsupported, "notes": self.notes,
                "array_operands": list(self.array_operands) if self.array_operands else None,
                "operands": self.operands, "layers": layers}

    def to_json(self, path: str | Path) -> Path:
        from hwsim.files import write_text  # atomic: a failed write keeps the old file

        return write_text(path, json.dumps(self.as_dict(), indent=2))

    def to_csv(self, path: str | Path) -> Path:
        from hwsim.files import atomic_write

        with atomic_write(path, "w", encoding="utf-8") as fh:
            self.layers.to_csv(fh, index=False)
        return Path(path)

    def by_layer(self) -> pd.DataFrame:
        """Rows summed per layer name (over shapes): the compact table the CLI prints (totals over
        the evaluation, ``*_total``)."""
        if not len(self.layers):
            return self.layers
        g = self.layers.groupby("layer", sort=False)
        out = g.agg(kind=("kind", "first"), m=("m", "max"), k=("k", "first"), n=("n", "max"),
                    a_format=("a_format", "first"), w_format=("w_format", "first"), count=("count", "sum"),
                    cycles_total=("cycles_total", "sum"), energy_pj_total=("energy_pj_total", "sum"),
                    bytes_moved_total=("bytes_moved_total", "sum"), macs_total=("macs_total", "sum")).reset_index()
        cyc = g.apply(lambda d: float(np.average(d["utilization"], weights=d["macs_total"]))
                      if d["macs_total"].sum() else 0.0, include_groups=False)
        out.insert(list(out.columns).index("energy_pj_total"), "utilization", cyc.to_numpy())
        return out


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def build_report(records: Sequence[GemmRecord], run: RunSummary, accelerator: Any, *, metric_name: str = "",
                 metric: float | None = None, baseline_metric: float | None = None,
                 metrics: dict[str, float] | None = None, model_name: str = "",
                 notes: Sequence[str] = ()) -> Report:
    """Cost ``records`` on ``accelerator`` and wrap them with the run's summary and metrics."""
    acc = accelerator
    layers = cost_gemms(records, acc)
    return Report(model=model_name, weights=run.weights, activations=run.activations, kv_cache=run.kv_cache,
                  accumulate=run.accumulate, accelerator=acc.name, clock_mhz=float(np.max(acc.clock_mhz)),
                  layers=layers, metric_name=metric_name, metric=metric, baseline_metric=baseline_metric,
                  metrics=dict(metrics or {}),
                  unsupported=[{"name": u.name, "op": u.op, "reason": u.reason} for u in run.unsupported],
                  notes=list(notes),
                  array_area_um2=float(np.max(acc.area_um2(run.a.format, run.w.format))),
                  operands=_operands(records, run), array_operands=(run.a.name, run.w.name))
