"""Cost of many accelerator design points at once: the study's vectorized path.

A study prices the same GEMMs (a model run's recorded GEMMs, or a workload's layers) on hundreds
to millions of design points that differ in numeric catalog fields (``rows``, ``cols``, SRAM
sizes, clock, bandwidth). :func:`price_design_points` builds one :class:`hwsim.arch.Accelerator`
whose swept fields are ``[P, 1]`` arrays and calls :meth:`~hwsim.arch.Accelerator.gemm` once per
operand pair with ``[1, L]`` GEMM dimensions: ``P x L`` costs in one numpy evaluation instead of
``P`` calls. Totals follow :func:`hwsim.bridge.report.cost_gemms` and
:class:`~hwsim.bridge.report.Report` exactly (cycles per call as int64 times the call count,
energies per call times the count, area of the array built for the run's main operands;
``cycles_quantized``/``energy_quantized_pj``: the GEMMs with a quantized operand only, without the
ones a model keeps fp32 such as SmolLM2's ``lm_head``), so a point's totals equal
:func:`hwsim.study.reprice.reprice` on that single design point
(tests/study/test_pricing.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hwsim.bridge.report import FP32

__all__ = ["GemmTable", "price_design_points", "COST_COLUMNS", "LAYER_COLUMNS", "records_table", "workload_table"]

#: per-point cost columns (totals over the model's evaluation or one pass of the workload)
COST_COLUMNS = ("cycles", "latency_s", "energy_pj", "energy_mac_pj", "energy_rf_pj", "energy_sram_pj",
                "energy_dram_pj", "macs", "dram_bytes", "utilization", "area_um2", "peak_macs_per_cycle",
                "dram_bytes_per_cycle", "cycles_quantized", "energy_quantized_pj")
#: per-layer columns of the ``layers`` table
LAYER_COLUMNS = ("layer", "kind", "m", "k", "n", "count", "cycles", "energy_pj", "energy_mac_pj", "energy_rf_pj",
                 "energy_sram_pj", "energy_dram_pj", "macs", "dram_bytes")
_ENERGY = ("energy_pj", "energy_mac_pj", "energy_rf_pj", "energy_sram_pj", "energy_dram_pj")


@dataclass(frozen=True)
class GemmTable:
    """The GEMMs to price: per-GEMM arrays and, per GEMM, the index of its operand pair in
    ``operands`` ((activation format, weight format) objects or names)."""

    layer: np.ndarray
    kind: np.ndarray
    m: np.ndarray
    k: np.ndarray
    n: np.ndarray
    count: np.ndarray
    pair: np.ndarray
    operands: list[tuple[Any, Any]]
    array_operands: tuple[Any, Any]  #: the formats the array (its area) is built for
    #: per GEMM: a quantized operand (False: both operands kept fp32, e.g. SmolLM2's ``lm_head``;
    #: :func:`hwsim.bridge.report.cost_gemms`'s ``precision``)
    quantized: np.ndarray | None = None


def records_table(records: Sequence[Any], summary: Any) -> GemmTable:
    """A :class:`GemmTable` of recorded GEMMs (:class:`hwsim.bridge.records.GemmRecord`) and the
    run's summary, grouped by operand identity as :func:`~hwsim.bridge.report.cost_gemms` does."""
    index: dict[tuple[int, int], int] = {}
    operands: list[tuple[Any, Any]] = []
    pair = np.empty(len(records), dtype=np.int64)
    for i, r in enumerate(records):
        ident = (id(r.a), id(r.w))
        if ident not in index:
            index[ident] = len(operands)
            operands.append((r.a.format, r.w.format))
        pair[i] = index[ident]
    return GemmTable(layer=np.array([r.layer for r in records], dtype=object),
                     kind=np.array([r.kind for r in records], dtype=object),
                     m=np.array([r.m for r in records], dtype=np.int64),
                     k=np.array([r.k for r in records], dtype=np.int64),
                     n=np.array([r.n for r in records], dtype=np.int64),
                     count=np.array([r.count for r in records], dtype=np.int64), pair=pair, operands=operands,
                     array_operands=(summary.a.format, summary.w.format),
                     quantized=np.array([not (r.a.name == FP32 and r.w.name == FP32) for r in records], dtype=bool))


def workload_table(workload: Any, activations: Any, weights: Any, kv_cache: Any = None) -> GemmTable:
    """A :class:`GemmTable` of a :class:`hwsim.arch.Workload` on these operand formats (format
    objects): attention layers take ``kv_cache`` as their weight operand (None: the weight
    format, as :meth:`hwsim.arch.Accelerator.run` does)."""
    kv = weights if kv_cache is None else kv_cache
    layers = list(workload)
    attn = np.array([layer.kind == "attention" for layer in layers], dtype=bool)
    operands = [(activations, weights), (activations, kv)]
    return GemmTable(layer=np.array([layer.name for layer in layers], dtype=object),
                     kind=np.array([layer.kind for layer in layers], dtype=object),
                     m=np.array([layer.m for layer in layers], dtype=np.int64),
                     k=np.array([layer.k for layer in layers], dtype=np.int64),
                     n=np.array([layer.n for layer in layers], dtype=np.int64),
                     count=np.array([layer.count for layer in layers], dtype=np.int64),
                     pair=attn.astype(np.int64), operands=operands, array_operands=(activations, weights))


def _design_accelerator(name: str, dataflow: str | None, design: Mapping[str, Any]) -> tuple[Any, int]:
    from hwsim.arch import accelerator

    sizes = {len(np.atleast_1d(v)) for v in design.values()}
    if len(sizes) > 1:
        lengths = {k: len(np.atleast_1d(v)) for k, v in design.items()}
        raise ValueError(f"design arrays of different lengths: {lengths}")
    points = sizes.pop() if sizes else 1
    kw: dict[str, Any] = {k: np.atleast_1d(np.asarray(v))[:, None] for k, v in design.items()}
    if dataflow is not None:
        kw["dataflow"] = dataflow
    return accelerator(name, **kw), points


def price_design_points(table: GemmTable, accelerator_name: str, dataflow: str | None,
                        design: Mapping[str, Any], *, per_layer: bool = False
                        ) -> tuple[pd.DataFrame, dict[str, np.ndarray] | None]:
    """Totals of ``table`` on every design point: ``accelerator_name`` with ``dataflow`` and the
    numeric overrides ``design`` (``key -> [P]`` values, all the same length; empty: one point).

    Returns ``(points, layers)``: a ``[P]``-row frame of :data:`COST_COLUMNS`, and with
    ``per_layer`` the ``[P, L]`` arrays of the per-layer columns (per GEMM row, summed over its
    ``count`` calls), else None.
    """
    acc, points = _design_accelerator(accelerator_name, dataflow, design)
    n_gemm = len(table.m)
    per_call = {c: np.zeros((points, n_gemm), dtype=np.float64)
                for c in ("cycles", *_ENERGY, "macs", "dram_bytes", "utilization")}
    for p, (a_fmt, w_fmt) in enumerate(table.operands):
        cols = np.flatnonzero(table.pair == p)
        if not len(cols):
            continue
        cost = acc.gemm(table.m[cols][None, :], table.k[cols][None, :], table.n[cols][None, :], a_fmt, w_fmt)
        shape = (points, len(cols))
        for c in ("cycles", *_ENERGY, "macs", "utilization"):
            per_call[c][:, cols] = np.broadcast_to(np.asarray(getattr(cost, c), dtype=np.float64), shape)
        per_call["dram_bytes"][:, cols] = np.broadcast_to(
            np.asarray(cost.dram_read_bytes, dtype=np.float64) + np.asarray(cost.dram_write_bytes, dtype=np.float64),
            shape)
    count = table.count[None, :]
    totals: dict[str, np.ndarray] = {
        "cycles": per_call["cycles"].astype(np.int64) * count,
        "macs": per_call["macs"].astype(np.int64) * count,
        **{c: per_call[c] * count for c in (*_ENERGY, "dram_bytes")}}
    out: dict[str, Any] = {c: v.sum(axis=1) for c, v in totals.items()}
    clock = np.broadcast_to(np.asarray(acc.clock_mhz, dtype=np.float64).reshape(-1), (points,))
    out["latency_s"] = out["cycles"] / (clock * 1e6)
    quantized = np.ones(n_gemm, dtype=bool) if table.quantized is None else table.quantized
    out["cycles_quantized"] = (totals["cycles"] * quantized[None, :]).sum(axis=1)
    out["energy_quantized_pj"] = (totals["energy_pj"] * quantized[None, :]).sum(axis=1)
    macs = totals["macs"].astype(np.float64)
    weight = macs.sum(axis=1)
    out["utilization"] = np.where(weight > 0, (per_call["utilization"] * macs).sum(axis=1) / np.maximum(weight, 1), 0.0)
    area = np.asarray(acc.area_um2(*table.array_operands), dtype=np.float64)
    out["area_um2"] = np.broadcast_to(area.reshape(-1), (points,))
    out["peak_macs_per_cycle"] = np.broadcast_to(np.asarray(acc.unit.mac_units, dtype=np.float64).reshape(-1),
                                                 (points,))
    out["dram_bytes_per_cycle"] = np.broadcast_to(
        np.asarray(acc.dram_bytes_per_cycle(), dtype=np.float64).reshape(-1), (points,))
    frame = pd.DataFrame({c: out[c] for c in COST_COLUMNS})
    return frame, (totals if per_layer else None)
