"""What a simulated run cost: every recorded GEMM priced on the accelerator (:mod:`hwsim.arch`).

One vectorized ``Accelerator.gemm`` call per distinct (activation format, weight format) pair
prices all the shapes that ran with it. The per-layer table has one row per distinct executed GEMM
``(layer, kind, m, k, n, a_format, w_format)`` with its execution ``count``; per-instance cost
columns come from :class:`hwsim.arch.GemmCost` and ``total_*`` columns multiply by ``count``.

Totals: ``cycles`` = sum of ``total_cycles`` (GEMMs run one after the other on the one array),
``latency_s`` = cycles / clock, ``energy_pj`` = sum of ``total_energy_pj`` (so the report's energy
*is* the sum of its rows), ``area_um2`` = the area of the array built for the run's weight and
activation formats (``Accelerator.area_um2``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from hwsim.bridge.records import GemmRecord, RunSummary

__all__ = ["Report", "build_report", "cost_gemms", "RECORD_COLUMNS"]

#: the columns of a GEMM record table (``Simulation.records()``)
RECORD_COLUMNS = ["layer", "kind", "m", "k", "n", "a_format", "w_format", "count"]

#: per-instance cost columns copied from GemmCost
_COST = ["cycles", "compute_cycles", "stall_cycles", "utilization", "macs", "energy_mac_pj", "energy_rf_pj",
         "energy_sram_pj", "energy_dram_pj", "energy_pj", "dram_read_bytes", "dram_write_bytes",
         "sram_reads_ifmap", "sram_reads_filter", "sram_writes_ofmap", "area_um2"]
_TOTALS = ["cycles", "energy_pj", "energy_mac_pj", "energy_rf_pj", "energy_sram_pj", "energy_dram_pj",
           "macs", "dram_read_bytes", "dram_write_bytes"]


def record_table(records: Sequence[GemmRecord]) -> pd.DataFrame:
    """The GEMM records as a table: ``layer, kind, m, k, n, a_format, w_format, count``."""
    return pd.DataFrame([(r.layer, r.kind, r.m, r.k, r.n, r.a.name, r.w.name, r.count) for r in records],
                        columns=RECORD_COLUMNS)


def cost_gemms(records: Sequence[GemmRecord], accelerator: Any) -> pd.DataFrame:
    """The record table of ``records`` with cost columns added: one vectorized
    ``accelerator.gemm`` call per distinct operand pair, on the operands' own format objects."""
    df = record_table(records)
    costs = {col: np.zeros(len(df), dtype=np.float64) for col in _COST}
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
        for col in _COST:
            costs[col][rows] = np.broadcast_to(np.asarray(getattr(cost, col), dtype=np.float64), (len(idx),))
    for col in _COST:
        df[col] = costs[col]
    for col in ("cycles", "compute_cycles", "stall_cycles", "macs"):
        df[col] = df[col].astype(np.int64)
    df["bytes_moved"] = df["dram_read_bytes"] + df["dram_write_bytes"]
    for col in _TOTALS + ["bytes_moved"]:
        df[f"total_{col}"] = df[col] * df["count"]
    return df


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

    # ---- totals ---------------------------------------------------------------------------
    def _column(self, name: str) -> pd.Series:
        """One column of :attr:`layers` (a str key selects a Series)."""
        return cast(pd.Series, self.layers[name])

    def _sum(self, col: str) -> float:
        return float(self._column(f"total_{col}").sum()) if len(self.layers) else 0.0

    @property
    def cycles(self) -> int:
        return int(self._column("total_cycles").sum()) if len(self.layers) else 0

    @property
    def latency_s(self) -> float:
        return self.cycles / (self.clock_mhz * 1e6)

    @property
    def energy_pj(self) -> float:
        return self._sum("energy_pj")

    @property
    def energy_breakdown_pj(self) -> dict[str, float]:
        return {k: self._sum(f"energy_{k}_pj") for k in ("mac", "rf", "sram", "dram")}

    @property
    def bytes_moved(self) -> float:
        return self._sum("bytes_moved")

    @property
    def macs(self) -> int:
        return int(self._column("total_macs").sum()) if len(self.layers) else 0

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
        w = self.layers["total_macs"].to_numpy(np.float64)
        return float(np.average(self.layers["utilization"], weights=w)) if w.sum() else 0.0

    @property
    def metric_delta(self) -> float | None:
        """Relative change of the metric vs the fp32 baseline (0.05 = +5 %)."""
        if self.metric is None or not self.baseline_metric:
            return None
        return self.metric / self.baseline_metric - 1.0

    def totals(self) -> dict[str, Any]:
        return {"cycles": self.cycles, "latency_s": self.latency_s, "energy_pj": self.energy_pj,
                "area_um2": self.area_um2, "macs": self.macs, "bytes_moved": self.bytes_moved,
                "utilization": self.utilization,
                **{f"energy_{k}_pj": v for k, v in self.energy_breakdown_pj.items()}}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: run settings, metric, totals, ``layers`` (one object per GEMM row)."""
        layers = []
        for row in self.layers.to_dict(orient="records"):
            # cycles / energy / bytes are totals over the row's executions, so the run's totals
            # are the sums of the rows; per_call_* are one execution's
            obj = {"name": row["layer"], **{k: _py(row[k]) for k in ("kind", "m", "k", "n", "a_format",
                                                                       "w_format", "count")}}
            obj.update({k: _py(row[f"total_{k}"]) for k in _TOTALS + ["bytes_moved"]})
            obj.update(utilization=_py(row["utilization"]), area_um2=_py(row["area_um2"]),
                       per_call_cycles=_py(row["cycles"]), per_call_energy_pj=_py(row["energy_pj"]))
            layers.append(obj)
        return {"model": self.model, "weights": self.weights, "activations": self.activations,
                "kv_cache": self.kv_cache, "accumulate": self.accumulate, "accelerator": self.accelerator,
                "clock_mhz": self.clock_mhz, "metric_name": self.metric_name, "metric": self.metric,
                "baseline_metric": self.baseline_metric, "metric_delta": self.metric_delta,
                "metrics": {k: _py(v) for k, v in self.metrics.items()},
                **{k: _py(v) for k, v in self.totals().items()},
                "unsupported": self.unsupported, "notes": self.notes, "layers": layers}

    def to_json(self, path: str | Path) -> Path:
        from hwsim.files import write_text  # atomic: a failed write keeps the old file

        return write_text(path, json.dumps(self.as_dict(), indent=2))

    def to_csv(self, path: str | Path) -> Path:
        from hwsim.files import atomic_write

        with atomic_write(path, "w", encoding="utf-8") as fh:
            self.layers.to_csv(fh, index=False)
        return Path(path)

    def by_layer(self) -> pd.DataFrame:
        """Rows summed per layer name (over shapes): the compact table the CLI prints."""
        if not len(self.layers):
            return self.layers
        g = self.layers.groupby("layer", sort=False)
        out = g.agg(kind=("kind", "first"), m=("m", "max"), k=("k", "first"), n=("n", "max"),
                    a_format=("a_format", "first"), w_format=("w_format", "first"), count=("count", "sum"),
                    cycles=("total_cycles", "sum"), energy_pj=("total_energy_pj", "sum"),
                    bytes_moved=("total_bytes_moved", "sum"), macs=("total_macs", "sum")).reset_index()
        cyc = g.apply(lambda d: float(np.average(d["utilization"], weights=d["total_macs"]))
                      if d["total_macs"].sum() else 0.0, include_groups=False)
        out.insert(list(out.columns).index("energy_pj"), "utilization", cyc.to_numpy())
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
                  array_area_um2=float(np.max(acc.area_um2(run.a.format, run.w.format))))
