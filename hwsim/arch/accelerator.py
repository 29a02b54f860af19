"""An accelerator = compute unit + memories + energy table, and what a GEMM costs on it.

:class:`Accelerator` combines the closed forms of the other modules: compute cycles and SRAM
traffic from the unit (:mod:`~hwsim.arch.units`), DRAM traffic and stalls from
:mod:`~hwsim.arch.memory`, per-MAC and per-access energy and area from :mod:`~hwsim.arch.energy`.
All of it is vectorized: GEMM dimensions and any numeric field (``rows``, ``ifmap_sram_kib``,
``dram_gb_per_s``...) may be numpy arrays that broadcast together.

Energy of one GEMM (pJ)::

    mac  = MACs x e_mac(a_format, w_format, acc_format)          (x weight passes if bit-serial)
           + m x n x e_out(a_format, w_format)   (channel/tensor scales, once per output element;
                                                  energy.output_scale_cost, table model only)
    rf   = MACs x (a_bits + w_bits + acc_bits) x rf_pj_per_bit   (operand + psum register traffic)
    sram = ifmap reads x a_bits x e_sram(ifmap_sram_kib) + filter reads x w_bits x e_sram(...)
           + (ofmap writes - drain writes) x acc_bits x e_sram(ofmap_sram_kib)
    dram = DRAM bytes x 8 x dram_pj_per_bit

A LUT unit (``kind = "lut"``, :mod:`hwsim.arch.lut`) replaces the ``mac`` term by lookups x
e_lookup + table entries x e_entry + plane aggregations x e_aggregate and has no ``rf`` term (its
table reads and writes are inside those energies).

``drain writes`` are SCALE-Sim's os drain accounting (:func:`hwsim.arch.dataflow.ofmap_drain_writes`):
counted in ``sram_writes_ofmap`` to match SCALE-Sim, but no data moves, so they cost nothing.
Static (leakage) energy is not modelled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwsim.arch._util import ShapeError, check_broadcast, counts, exact_difference, exact_maximum, floats, out
from hwsim.arch.energy import (
    EnergyTable,
    MacCostSource,
    OperandBits,
    mac_cost,
    operand_bits,
    output_scale_cost,
    sram_area_um2,
    sram_pj_per_bit,
)
from hwsim.arch.lut import lut_op_costs
from hwsim.arch.memory import (
    MEMORY_MODELS,
    bus_dram_cycles,
    cheaper_operand_refetch,
    dram_traffic,
    memory_bound_cycles,
    operand_bytes,
)
from hwsim.arch.units import LUT_TABLE_FORMATS, BitSerialUnit, LutUnit, Unit
from hwsim.arch.workload import Layer, Workload
from hwsim.arch.workload import workload as _workload
from hwsim.schema import Field

__all__ = ["MemorySpec", "Accelerator", "GemmCost"]


def _float64(value: Any) -> Any:
    """``value`` (a design number or an array of them) as float64: a float for a scalar. Integer
    design fields (``ifmap_sram_kib = 2**62``, ``e_mac_pj = 2005`` in a sweep) are summed and
    multiplied in float64, where int64 arithmetic would wrap around to negative areas/energies."""
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


@dataclass(frozen=True, slots=True, kw_only=True)
class MemorySpec:
    """On-chip buffers and the DRAM interface.

    ``model``: ``"hwsim"`` (default: per-fold re-reads, output buffer spills, double buffering;
    :func:`hwsim.arch.memory.dram_traffic`) or ``"bitmod"`` (the official BitMoD simulator's rules:
    a weight and an input buffer, no output buffer (``ofmap_sram_kib`` may be 0), the cheaper operand
    re-read when neither fits, a bus of ``bus_bytes_per_cycle`` and ``max(compute, DRAM)`` per
    layer; :mod:`hwsim.arch.memory`)."""

    ifmap_sram_kib: Any  #: activation (A operand) buffer, KiB
    filter_sram_kib: Any  #: weight (W operand) buffer, KiB
    ofmap_sram_kib: Any  #: output / accumulator buffer, KiB (0 only with model "bitmod")
    dram_gb_per_s: Any  #: DRAM bandwidth, 1e9 bytes/s
    dram: str  #: DRAM technology, a key of EnergyTable ``dram_<tech>_pj_per_bit``
    dram_pj_per_bit: Any = None  #: overrides the technology's access energy when set
    double_buffered: bool = True
    model: str = "hwsim"  #: memory model, one of :data:`hwsim.arch.memory.MEMORY_MODELS`
    #: DRAM bytes per clock cycle; None: ``dram_gb_per_s`` at the clock (``"bitmod"``: 32, its DDR bus)
    bus_bytes_per_cycle: Any = None


#: the design-point numbers that may be 0 (every other one must be > 0)
_ZERO_OK = frozenset({"pipeline_latency_cycles"})
_POSITIVE = Field((int, float), minimum=0)
#: boolean design fields (memory double buffering; a LUT unit's mirror tables and parallel precompute)
_BOOL_FIELDS = frozenset({"double_buffered", "mirror", "precompute_parallel"})
_NONNEGATIVE = Field((int, float), minimum=0, inclusive=True)


def _is_number(value: Any) -> bool:
    """A number or numeric array of a design point (bools, names, formats and tables are not)."""
    if isinstance(value, bool | np.bool_):
        return True  # checked, and refused, as a number
    if isinstance(value, int | float | np.generic):
        return True
    return isinstance(value, np.ndarray | list)


@dataclass(frozen=True, slots=True)
class GemmCost:
    """Cost of one GEMM (or array of GEMMs). Scalars are plain int/float; sweeps are arrays."""

    cycles: Any  #: total cycles, memory stalls included
    compute_cycles: Any  #: cycles with an ideal memory system
    stall_cycles: Any  #: cycles - compute_cycles
    time_us: Any  #: cycles / clock
    macs: Any
    utilization: Any  #: macs / (cycles x peak MACs per cycle)
    sram_reads_ifmap: Any
    sram_reads_filter: Any
    sram_writes_ofmap: Any  #: as SCALE-Sim counts them (os: incl. its R + C drain writes per fold)
    dram_read_bytes: Any
    dram_write_bytes: Any
    energy_mac_pj: Any
    energy_rf_pj: Any
    energy_sram_pj: Any
    energy_dram_pj: Any
    energy_pj: Any  #: sum of the four ``energy_*_pj`` terms
    area_um2: Any  #: MAC array + SRAM area for these operand formats

    def energy_breakdown(self) -> dict[str, Any]:
        """``{"mac": ..., "rf": ..., "sram": ..., "dram": ...}`` in pJ."""
        return {"mac": self.energy_mac_pj, "rf": self.energy_rf_pj,
                "sram": self.energy_sram_pj, "dram": self.energy_dram_pj}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Accelerator:
    """A design point from the catalog (``hwsim.accelerator(name)``) or built in code."""

    name: str
    reference: str
    description: str
    clock_mhz: Any
    node_nm: Any
    a_format: Any  #: default activation format (name, Format or inline table)
    w_format: Any  #: default weight format
    acc_format: Any  #: accumulator format
    unit: Unit
    memory: MemorySpec
    energy: EnergyTable = EnergyTable()
    e_mac_pj: Any = None  #: fixed MAC energy overriding the format model
    mac_area_um2: Any = None  #: fixed MAC-unit area overriding the format model
    mac_cost_source: MacCostSource | None = None  #: synthesized-RTL MAC costs (tried first)
    sources: tuple[tuple[str, str], ...] = ()  #: ("section.key", citation) for every number
    path: Path | None = None  #: catalog file it came from

    def __post_init__(self) -> None:
        """Every number of the design point (top level, unit, memory, energy table; scalars or
        arrays) is finite and > 0 (``pipeline_latency_cycles`` >= 0), however it was built: from
        the catalog, with overrides, in code, or with :func:`dataclasses.replace`.

        Raises:
            ShapeError: naming the accelerator, the field and the first bad value.
        """
        if self.memory.model not in MEMORY_MODELS:
            raise ShapeError(f"accelerator {self.name!r}: model: {self.memory.model!r} not one of "
                             f"{list(MEMORY_MODELS)}")
        zero_ok = _ZERO_OK | ({"ofmap_sram_kib"} if self.memory.model == "bitmod" else set())
        for part in (self, self.unit, self.memory, self.energy):
            for f in fields(part):
                value = getattr(part, f.name)
                if f.name in _BOOL_FIELDS or not _is_number(value):  # the boolean fields
                    continue
                problem = (_NONNEGATIVE if f.name in zero_ok else _POSITIVE).problem(value, arrays=True)
                if problem is not None:
                    raise ShapeError(f"accelerator {self.name!r}: {f.name}: {problem}")

    # ---- costs ---------------------------------------------------------------------------
    def _bits(self, a_format: Any, w_format: Any) -> tuple[OperandBits, OperandBits, OperandBits]:
        return (operand_bits(self.a_format if a_format is None else a_format),
                operand_bits(self.w_format if w_format is None else w_format),
                operand_bits(self.acc_format))

    def _lut_costs(self, a: OperandBits, acc: OperandBits) -> Any:
        """A LUT unit's per-operation energy and per-lane area (:func:`hwsim.arch.lut.lut_op_costs`)."""
        u = self.unit
        assert isinstance(u, LutUnit)
        bits, int_tables = LUT_TABLE_FORMATS[u.table_format]
        return lut_op_costs(a, acc, g=int(np.max(u.g)), mirror=u.mirror, table_bits=bits, int_tables=int_tables,
                            lookups_per_cycle=float(np.max(u.lookups_per_cycle)),
                            precompute_per_cycle=float(np.max(u.precompute_per_cycle)),
                            table_kib=float(np.max(u.table_kib)), t=self.energy, node_nm=float(self.node_nm))

    def _mac(self, a: OperandBits, w: OperandBits, acc: OperandBits) -> tuple[float, float]:
        if isinstance(self.unit, LutUnit) and self.e_mac_pj is None and self.mac_area_um2 is None:
            return 0.0, self._lut_costs(a, acc).lane_area_um2  # a LUT lane: priced per operation
        bpc = self.unit.w_bits_per_cycle if isinstance(self.unit, BitSerialUnit) else None
        cost = mac_cost(a, w, acc, self.energy, node_nm=self.node_nm,
                        w_bits_per_pass=None if bpc is None else int(np.max(bpc)),
                        source=self.mac_cost_source)
        scale = float(self.node_nm) / self.energy.node_nm
        # overrides may be Python or numpy integers (a sweep): price in float64, never in int64
        e = cost.energy_pj if self.e_mac_pj is None else _float64(self.e_mac_pj)
        area = cost.area_um2 if self.mac_area_um2 is None else _float64(self.mac_area_um2) * scale * scale
        return e, area

    def area_um2(self, a_format: Any = None, w_format: Any = None) -> Any:
        """MAC units x MAC area + SRAM area, for an array built for these formats."""
        a, w, acc = self._bits(a_format, w_format)
        _, mac_area = self._mac(a, w, acc)
        return out(self.unit.mac_units * mac_area + self._sram_area_um2())

    def _sram_area_um2(self) -> Any:
        """Area of the three SRAMs (sizes summed in float64: integer sizes never wrap around)."""
        mem = self.memory
        return sram_area_um2(_float64(mem.ifmap_sram_kib) + _float64(mem.filter_sram_kib)
                             + _float64(mem.ofmap_sram_kib), self.energy, self.node_nm)

    def _check_design_broadcast(self, **dims: Any) -> None:
        """Raise :class:`ShapeError` unless the design point's array fields (a sweep) broadcast with
        the GEMM dimensions, naming the first field that does not."""
        shape = np.broadcast_shapes(*(np.shape(v) for v in dims.values()))
        for part in (self, self.unit, self.memory, self.energy):
            for f in fields(part):
                value = getattr(part, f.name)
                if isinstance(value, np.ndarray | list) and np.ndim(value):
                    try:
                        shape = np.broadcast_shapes(shape, np.shape(value))
                    except ValueError:
                        raise ShapeError(f"accelerator {self.name!r}: {f.name} of shape {np.shape(value)} does "
                                         f"not broadcast with the GEMM dimensions and the other swept fields "
                                         f"(shape {shape})") from None

    def dram_bytes_per_cycle(self) -> Any:
        """DRAM bytes per clock cycle: the memory's ``bus_bytes_per_cycle``, else its bandwidth at
        the accelerator's clock (``dram_gb_per_s * 1e3 / clock_mhz``)."""
        mem = self.memory
        if mem.bus_bytes_per_cycle is not None:
            return mem.bus_bytes_per_cycle
        return np.asarray(mem.dram_gb_per_s, dtype=np.float64) * 1e3 / np.asarray(self.clock_mhz, dtype=np.float64)

    def gemm(self, m: Any, k: Any, n: Any, a_format: Any = None, w_format: Any = None, *,
             batch: Any = 1, a_k: Any = None) -> GemmCost:
        """Cycles (with stalls), traffic, energy breakdown and area of ``A[m,k] @ W[k,n]``.

        ``a_format``/``w_format`` default to the catalog entry's formats. With the ``"bitmod"``
        memory model, ``batch`` GEMMs of this shape run as one operator sharing the buffers (the
        official simulator's batch and KV-head axis) and the costs are those of all of them;
        ``a_k`` is the input row width its DRAM bytes are charged with
        (:func:`hwsim.arch.memory.operand_bytes`). The ``"hwsim"`` model prices one GEMM and takes
        neither.

        Raises:
            ShapeError: non-positive dimensions, or shapes of m, k, n that do not broadcast.
            FormatError: unknown or unsupported format.
        """
        check_broadcast(m=m, k=k, n=n)
        self._check_design_broadcast(m=m, k=k, n=n)
        a, w, acc = self._bits(a_format, w_format)
        res = self.unit.compute(m, k, n, a, w)
        mem = self.memory
        if mem.model == "bitmod":
            return self._bitmod_gemm(res, m, k, n, a, w, acc, batch, a_k)
        if np.any(np.asarray(batch) != 1) or a_k is not None:
            raise ShapeError("batch= and a_k= belong to the 'bitmod' memory model")
        ba, bw, bacc = a.bits_per_element / 8, w.bits_per_element / 8, acc.element_bits / 8
        traffic = dram_traffic(m, k, n, res.operand_passes, (ba, bw, ba), bacc,
                               (mem.ifmap_sram_kib, mem.filter_sram_kib, mem.ofmap_sram_kib),
                               res.psum_live_words)
        reads = traffic.read_bytes
        writes = traffic.write_bytes
        timing = memory_bound_cycles(res.compute_cycles, res.folds, reads + writes, self.dram_bytes_per_cycle(),
                                     mem.double_buffered)
        # counts are exact integers (int64, or Python ints past int64); the roofline total is a
        # float64 ceiling, never below the exact compute cycles (docs/cost-models.md, "Exact counts")
        compute_cycles = counts(res.compute_cycles)
        cycles = exact_maximum(counts(timing.cycles), compute_cycles)
        return self._priced(res, m, n, a, w, acc, cycles, compute_cycles, timing.cycles, reads, writes)

    def _bitmod_gemm(self, res: Any, m: Any, k: Any, n: Any, a: OperandBits, w: OperandBits,
                     acc: OperandBits, batch: Any, a_k: Any) -> GemmCost:
        """The official BitMoD simulator's memory model (:mod:`hwsim.arch.memory`): operand bytes,
        cheaper-operand refetch, bus cycles, ``max(compute, DRAM)``; ``batch`` copies as one
        operator (``bitmod_sim/accelerator.py: Accelerator.calc_cycle``)."""
        mem = self.memory
        b = np.asarray(batch, dtype=np.int64)
        w_bytes, a_bytes, o_bytes = operand_bytes(m, k, n, a.bits_per_element, w.bits_per_element,
                                                  a.bits_per_element, b, a_k)
        kib = 1024
        fetch_w, fetch_a = cheaper_operand_refetch(w_bytes, a_bytes, np.asarray(mem.filter_sram_kib) * kib,
                                                   np.asarray(mem.ifmap_sram_kib) * kib)
        bpc = self.dram_bytes_per_cycle()
        dram = bus_dram_cycles(w_bytes, a_bytes, o_bytes, fetch_w, fetch_a, bpc)
        batched = replace(res, compute_cycles=np.asarray(res.compute_cycles, dtype=np.int64) * b,
                          macs=np.asarray(res.macs, dtype=np.int64) * b,
                          sram_reads_ifmap_words=res.sram_reads_ifmap_words * b,
                          sram_reads_filter_words=res.sram_reads_filter_words * b,
                          sram_writes_ofmap_words=res.sram_writes_ofmap_words * b)
        compute_cycles = counts(batched.compute_cycles)
        cycles = exact_maximum(counts(dram), compute_cycles)
        reads = (w_bytes * fetch_w + a_bytes * fetch_a).astype(np.float64)
        return self._priced(batched, np.asarray(m) * b, n, a, w, acc, cycles, compute_cycles,
                            np.asarray(cycles, dtype=np.float64), reads, o_bytes.astype(np.float64))

    def _priced(self, res: Any, m: Any, n: Any, a: OperandBits, w: OperandBits, acc: OperandBits,
                cycles: Any, compute_cycles: Any, timing_cycles: Any, reads: Any, writes: Any) -> GemmCost:
        """The :class:`GemmCost` of a schedule and its DRAM traffic: energy, utilization, area."""
        mem = self.memory
        e_mac, area_mac = self._mac(a, w, acc)
        macs = res.macs
        t = self.energy
        e_mac_total = floats(macs * e_mac * res.weight_passes)
        if res.lut is not None and self.e_mac_pj is None:  # LUT unit: lookups, table precompute, shift-adds
            op = self._lut_costs(a, acc)
            e_mac_total = (floats(res.lut.lookups) * op.lookup_pj + floats(res.lut.entries) * op.entry_pj
                           + floats(res.lut.aggregates) * op.aggregate_pj)
        elif self.e_mac_pj is None:  # a fixed MAC energy stands for the whole datapath
            e_out = output_scale_cost(a, w, t, node_nm=self.node_nm).energy_pj
            e_mac_total = e_mac_total + np.asarray(m, dtype=np.float64) * np.asarray(n, dtype=np.float64) * e_out
        rf_bits = a.element_bits + w.element_bits + acc.element_bits
        e_rf = floats(macs * rf_bits * t.rf_pj_per_bit * (float(self.node_nm) / t.node_nm))
        if res.lut is not None:  # table reads/writes are in the LUT operation energies
            e_rf = floats(macs * 0.0)
        e_sram = (floats(res.sram_reads_ifmap_words * a.bits_per_element)
                  * sram_pj_per_bit(mem.ifmap_sram_kib, t, self.node_nm)
                  + floats(res.sram_reads_filter_words * w.bits_per_element)
                  * sram_pj_per_bit(mem.filter_sram_kib, t, self.node_nm)
                  + floats((res.sram_writes_ofmap_words - res.ofmap_drain_writes_words) * acc.element_bits)
                  * sram_pj_per_bit(mem.ofmap_sram_kib, t, self.node_nm))
        dram_pj_bit = (t.dram_pj_per_bit(mem.dram) if mem.dram_pj_per_bit is None
                       else np.asarray(mem.dram_pj_per_bit, dtype=np.float64))
        e_dram = (reads + writes) * 8 * dram_pj_bit
        total_e = e_mac_total + e_rf + e_sram + e_dram
        sram_area = self._sram_area_um2()
        util = (floats(res.utilization) * np.maximum(np.asarray(res.compute_cycles, dtype=np.float64), 1)
                / np.maximum(timing_cycles, 1))
        return GemmCost(  # (stalls dilute the utilization)
            cycles=out(cycles),
            compute_cycles=out(compute_cycles),
            stall_cycles=out(exact_difference(cycles, compute_cycles)),
            time_us=out(np.asarray(cycles, dtype=np.float64) / np.asarray(self.clock_mhz, dtype=np.float64)),
            macs=out(macs),
            utilization=out(util),
            sram_reads_ifmap=out(res.sram_reads_ifmap_words),
            sram_reads_filter=out(res.sram_reads_filter_words),
            sram_writes_ofmap=out(res.sram_writes_ofmap_words),
            dram_read_bytes=out(reads),
            dram_write_bytes=out(writes),
            energy_mac_pj=out(e_mac_total),
            energy_rf_pj=out(e_rf),
            energy_sram_pj=out(e_sram),
            energy_dram_pj=out(e_dram),
            energy_pj=out(total_e),
            area_um2=out(self.unit.mac_units * area_mac + sram_area),
        )

    def run(self, workload: str | Workload | list[Layer], a_format: Any = None,
            w_format: Any = None, *, kv_format: Any = None, **workload_params: int) -> pd.DataFrame:
        """Per-layer costs of a workload: one row per layer, one vectorized call per operand format.

        Columns: ``layer, m, k, n, count`` then every :class:`GemmCost` field *per instance*
        of the layer; ``total_cycles``/``total_energy_pj`` multiply by ``count``.

        ``kv_format``: the format of the K/V cache, the "weight" operand of the attention layers
        (``kind == "attention"``: ``Q K^T`` and ``P V``); by default they use ``w_format`` like every
        other layer. With the ``"bitmod"`` memory model a layer's ``count`` copies run as one batched
        operator (:meth:`gemm` ``batch=``, the official BitMoD simulator's KV-head axis): its row
        holds the costs of all of them and ``total_* = *``.
        """
        wl = _workload(workload, **workload_params)
        arr = wl.arrays()
        bitmod = self.memory.model == "bitmod"
        attn = np.array([layer.kind == "attention" for layer in wl], dtype=bool)
        groups = [(np.ones(len(wl), dtype=bool), w_format)] if kv_format is None else [
            (~attn, w_format), (attn, kv_format)]
        df = pd.DataFrame({"layer": [layer.name for layer in wl], "kind": [layer.kind for layer in wl],
                           **arr})
        a_k = np.array([layer.k if layer.a_k is None else layer.a_k for layer in wl], dtype=np.int64)
        columns: dict[str, np.ndarray] = {}
        for rows, fmt in groups:
            if not rows.any():
                continue
            extra = {"batch": arr["count"][rows], "a_k": a_k[rows]} if bitmod else {}
            cost = self.gemm(arr["m"][rows], arr["k"][rows], arr["n"][rows], a_format, fmt, **extra)
            for f in fields(cost):
                value = np.broadcast_to(getattr(cost, f.name), (int(rows.sum()),))
                if rows.all():
                    columns[f.name] = value
                    continue
                old = columns.get(f.name)
                dtype = value.dtype if old is None else np.result_type(old, value)
                merged = np.zeros(len(wl), dtype=dtype) if old is None else old.astype(dtype)
                merged[rows] = value
                columns[f.name] = merged
        for name, value in columns.items():
            df[name] = value
        per_copy = 1 if bitmod else df["count"]
        df["total_cycles"] = df["cycles"] * per_copy
        df["total_energy_pj"] = df["energy_pj"] * per_copy
        return df

    # ---- convenience ---------------------------------------------------------------------
    def replace(self, **changes: Any) -> Accelerator:
        """A copy with top-level fields replaced (use :func:`hwsim.arch.accelerator` overrides
        for unit / memory / energy fields)."""
        return replace(self, **changes)
