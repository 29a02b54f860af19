"""Compute units of an accelerator, as typed frozen data: systolic, bit-serial, tensor core, LUT.

Each unit turns a GEMM and the operand bit widths into compute cycles and operand traffic by
calling the closed forms of :mod:`hwsim.arch.systolic`, :mod:`hwsim.arch.bitserial` or
:mod:`hwsim.arch.tensorcore`. Accelerators are data (``accelerators/*.toml``); these three
classes are the only kinds of compute unit, not per-accelerator subclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hwsim.arch._util import ShapeError, ceil_div, exact, floats
from hwsim.arch.bitserial import SCHEDULES, bitserial_gemm, tile_count, weight_cycles, weight_passes
from hwsim.arch.dataflow import Dataflow, mapping, operand_passes
from hwsim.arch.energy import OperandBits
from hwsim.arch.lut import lut_counts, lut_cycles, table_bytes_per_token
from hwsim.arch.systolic import SystolicResult, count_bound, systolic_gemm
from hwsim.arch.tensorcore import tensorcore_gemm, throughput_factor
from hwsim.errors import FormatError

__all__ = ["UnitCost", "SystolicUnit", "BitSerialUnit", "TensorCoreUnit", "LutUnit", "Unit", "LUT_TABLE_FORMATS"]


@dataclass(frozen=True, slots=True)
class UnitCost:
    """What a compute unit reports for a GEMM (arrays broadcast like the inputs): its schedule and
    the operand traffic the memory and energy models price (:class:`hwsim.arch.Accelerator`)."""

    compute_cycles: Any  #: cycles with an ideal memory system
    macs: Any  #: useful multiply-accumulates, ``M * K * N``
    folds: Any  #: tiles the unit executes one after the other (double-buffering granularity)
    utilization: Any  #: macs / (compute cycles x MAC units)
    sram_reads_ifmap_words: Any  #: A elements read from the ifmap SRAM
    sram_reads_filter_words: Any  #: W elements read from the filter SRAM
    sram_writes_ofmap_words: Any  #: output words written (SCALE-Sim's count, os drain included)
    ofmap_drain_writes_words: Any  #: of those, os drain accounting that moves no data
    #: SRAM passes over (ifmap, filter, ofmap): an operand that does not fit is re-fetched per pass
    operand_passes: tuple[Any, Any, Any]
    psum_live_words: Any  #: partial sums live at once while the passes accumulate
    weight_passes: Any = 1  #: cycles per weight of a bit-serial PE (its MAC energy is paid per pass)
    #: a LUT unit's operation counts (:class:`hwsim.arch.lut.LutCounts`), priced instead of MACs
    lut: Any = None


def _array_cost(res: SystolicResult, dataflow: Dataflow, rows: Any, cols: Any, m: Any, k: Any, n: Any,
                weight_passes: Any = 1) -> UnitCost:
    """A systolic schedule plus its SRAM passes per operand and the live partial-sum count."""
    rows, cols, m, k, n = exact(count_bound(rows, cols, m, k, n), *(np.asarray(v) for v in (rows, cols, m, k, n)))
    mp = mapping(dataflow, m, k, n)
    passes = operand_passes(dataflow, ceil_div(mp.rows_dim, rows), ceil_div(mp.cols_dim, cols))
    return UnitCost(compute_cycles=res.cycles, macs=res.macs, folds=res.folds, utilization=res.utilization,
                    sram_reads_ifmap_words=res.sram_reads_ifmap, sram_reads_filter_words=res.sram_reads_filter,
                    sram_writes_ofmap_words=res.sram_writes_ofmap,
                    ofmap_drain_writes_words=res.ofmap_drain_writes, operand_passes=passes,
                    psum_live_words=mp.time_dim * np.minimum(mp.cols_dim, cols),
                    weight_passes=weight_passes)


def _i64(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def _one_lane(lanes: Any) -> bool:
    """One multiplier per PE (the default), as a scalar: the paths that predate ``lanes``."""
    return np.ndim(lanes) == 0 and lanes == 1


def _check_schedule(schedule: str) -> None:
    if schedule not in SCHEDULES:
        raise ShapeError(f"schedule {schedule!r} not one of {list(SCHEDULES)}")


def _tile_cost(rows: Any, cols: Any, lanes: Any, m: Any, k: Any, n: Any, weight_passes: Any = 1) -> UnitCost:
    """The official BitMoD simulator's tile schedule (:func:`hwsim.arch.bitserial.tile_count`):
    ``tiles x weight passes`` cycles, no fill/skew/drain. Each tile reads ``rows x lanes`` weights
    and ``cols x lanes`` inputs; outputs are written once. The simulator states no loop order, so
    for hwsim's memory model each input is taken as re-read per output-channel fold and each weight
    per token fold (``operand_passes``); its own memory model ignores passes."""
    tiles = tile_count(rows, cols, m, k, n, lanes)
    row_folds = ceil_div(np.asarray(n, dtype=np.int64), np.asarray(rows, dtype=np.int64))
    col_folds = ceil_div(np.asarray(m, dtype=np.int64), np.asarray(cols, dtype=np.int64))
    macs = np.asarray(m, dtype=np.int64) * np.asarray(k, dtype=np.int64) * np.asarray(n, dtype=np.int64)
    cycles = tiles * np.asarray(weight_passes, dtype=np.int64)
    pes = (np.asarray(rows, dtype=np.float64) * np.asarray(cols, dtype=np.float64)
           * np.asarray(lanes, dtype=np.float64))
    return UnitCost(compute_cycles=cycles, macs=macs, folds=row_folds * col_folds,
                    utilization=floats(macs / (cycles * pes)),
                    sram_reads_ifmap_words=tiles * _i64(cols) * _i64(lanes),
                    sram_reads_filter_words=tiles * _i64(rows) * _i64(lanes),
                    sram_writes_ofmap_words=np.asarray(m, dtype=np.int64) * np.asarray(n, dtype=np.int64),
                    ofmap_drain_writes_words=0, operand_passes=(row_folds, col_folds, np.ones_like(row_folds)),
                    psum_live_words=0, weight_passes=weight_passes)


@dataclass(frozen=True, slots=True, kw_only=True)
class SystolicUnit:
    """``rows x cols`` MAC array, one MAC per PE per cycle whatever the operand format.

    ``schedule``: ``"systolic"`` (default, hwsim's physical schedule with fill, skew and drain) or
    ``"tiles"`` (the official BitMoD simulator's count for its baselines, output channels on the
    rows and tokens on the columns, no fill; :func:`hwsim.arch.bitserial.tile_count`). ``lanes``:
    the dot-product width of a PE (multipliers per PE), used by the ``"tiles"`` schedule."""

    rows: Any
    cols: Any
    dataflow: Dataflow
    lanes: Any = 1
    schedule: str = "systolic"

    kind = "systolic"

    def __post_init__(self) -> None:
        _check_schedule(self.schedule)

    @property
    def mac_units(self) -> Any:
        """PEs x lanes, as float64 (an area multiplier; no int64 overflow for any array size)."""
        units = np.asarray(self.rows, dtype=np.float64) * np.asarray(self.cols, dtype=np.float64)
        return units if _one_lane(self.lanes) else units * np.asarray(self.lanes, dtype=np.float64)

    def compute(self, m: Any, k: Any, n: Any, a: OperandBits, w: OperandBits) -> UnitCost:
        if self.schedule == "tiles":
            return _tile_cost(self.rows, self.cols, self.lanes, m, k, n)
        res = systolic_gemm(self.rows, self.cols, self.dataflow, m, k, n)
        return _array_cost(res, self.dataflow, self.rows, self.cols, m, k, n)


@dataclass(frozen=True, slots=True, kw_only=True)
class BitSerialUnit:
    """``rows x cols`` array whose PEs take ``w_bits_per_cycle`` weight bits per cycle, or
    ``w_cycles_per_weight`` cycles per weight when set: a number, or ``"terms"`` = the worst-case
    term count of each GEMM's weight format (:func:`hwsim.arch.bitserial.weight_cycles`: Booth
    digits for integers, one-bits for minifloats/codebooks; 2 for BitMoD's FP4/FP3 types).
    Weights given as inline bit-width tables have no codes to decompose and keep the width rule.

    ``lanes``: the PE's dot-product width (BitMoD's PE multiplies 4 weights per cycle, §IV-B, the
    official simulator's ``pe_dp_size``); the reduction dimension ``k`` advances ``lanes`` per step.
    ``schedule``: ``"systolic"`` (default, hwsim's physical schedule, fill/skew/drain counted) or
    ``"tiles"`` (the official simulator's count: ``tiles x cycles per weight``, no fill;
    :func:`hwsim.arch.bitserial.tile_count`). docs/cost-models.md compares the two."""

    rows: Any
    cols: Any
    dataflow: Dataflow
    w_bits_per_cycle: Any
    w_cycles_per_weight: Any = None
    lanes: Any = 1
    schedule: str = "systolic"

    kind = "bitserial"

    def __post_init__(self) -> None:
        _check_schedule(self.schedule)

    @property
    def mac_units(self) -> Any:
        """PEs x lanes, as float64 (an area multiplier; no int64 overflow for any array size)."""
        units = np.asarray(self.rows, dtype=np.float64) * np.asarray(self.cols, dtype=np.float64)
        return units if _one_lane(self.lanes) else units * np.asarray(self.lanes, dtype=np.float64)

    def compute(self, m: Any, k: Any, n: Any, a: OperandBits, w: OperandBits) -> UnitCost:
        cpw = self.w_cycles_per_weight
        if isinstance(cpw, str):  # "terms": the weight format's own worst-case term count
            cpw = _terms_or_width(w)
        if self.schedule == "tiles":
            passes = (weight_passes(w.element_bits, self.w_bits_per_cycle) if cpw is None
                      else np.asarray(cpw, dtype=np.int64))
            return _tile_cost(self.rows, self.cols, self.lanes, m, k, n, passes)
        if _one_lane(self.lanes):
            res = bitserial_gemm(self.rows, self.cols, self.dataflow, m, k, n, w.element_bits,
                                 self.w_bits_per_cycle, cycles_per_weight=cpw)
            return _array_cost(res.array, self.dataflow, self.rows, self.cols, m, k, n, res.weight_passes)
        # lanes-wide PEs: the systolic schedule runs over ceil(k / lanes) reduction steps
        k_steps = ceil_div(np.asarray(k, dtype=np.int64), np.asarray(self.lanes, dtype=np.int64))
        res = bitserial_gemm(self.rows, self.cols, self.dataflow, m, k_steps, n, w.element_bits,
                             self.w_bits_per_cycle, cycles_per_weight=cpw)
        cost = _array_cost(res.array, self.dataflow, self.rows, self.cols, m, k_steps, n, res.weight_passes)
        macs = np.asarray(m, dtype=np.int64) * np.asarray(k, dtype=np.int64) * np.asarray(n, dtype=np.int64)
        lanes = np.asarray(self.lanes, dtype=np.int64)
        return replace(cost, macs=macs, utilization=floats(cost.utilization * (macs / (cost.macs * lanes))),
                       sram_reads_ifmap_words=cost.sram_reads_ifmap_words * lanes,
                       sram_reads_filter_words=cost.sram_reads_filter_words * lanes)


def _terms_or_width(w: OperandBits) -> int | None:
    """Worst-case terms of the weight format, or None (the width rule) when it has no codes to
    decompose: inline bit-width tables, fp32 (wider than any code table), GEMM-level schemes."""
    if w.source is None:
        return None
    try:
        return weight_cycles(w.source)
    except (FormatError, ValueError):
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorCoreUnit:
    """``units`` tensor cores executing ``mma_m x mma_n x mma_k`` instructions."""

    mma_m: Any
    mma_n: Any
    mma_k: Any
    units: Any
    mma_cycles: Any
    pipeline_latency_cycles: Any
    block_m: Any
    block_n: Any
    #: (element bits, MAC-rate multiplier) pairs, e.g. ((16, 1.0), (8, 2.0), (4, 4.0))
    throughput: tuple[tuple[int, float], ...]

    kind = "tensorcore"

    @property
    def mac_units(self) -> Any:
        """Multipliers per unit at 1x throughput: ``m*n*k / mma_cycles`` per tensor core."""
        return (np.asarray(self.units, dtype=np.float64) * np.asarray(self.mma_m, dtype=np.float64)
                * np.asarray(self.mma_n, dtype=np.float64) * np.asarray(self.mma_k, dtype=np.float64)
                / np.asarray(self.mma_cycles, dtype=np.float64))

    def compute(self, m: Any, k: Any, n: Any, a: OperandBits, w: OperandBits) -> UnitCost:
        speed = throughput_factor(dict(self.throughput), a, w)
        res = tensorcore_gemm(m, k, n, mma_m=self.mma_m, mma_n=self.mma_n, mma_k=self.mma_k,
                              units=self.units, mma_cycles=self.mma_cycles, speedup=speed,
                              pipeline_latency_cycles=self.pipeline_latency_cycles,
                              block_m=self.block_m, block_n=self.block_n)
        return UnitCost(compute_cycles=res.cycles, macs=res.macs, folds=res.folds, utilization=res.utilization,
                        sram_reads_ifmap_words=res.sram_reads_ifmap, sram_reads_filter_words=res.sram_reads_filter,
                        sram_writes_ofmap_words=res.sram_writes_ofmap, ofmap_drain_writes_words=0,
                        operand_passes=res.operand_passes, psum_live_words=res.psum_live)


#: table entry formats of a LUT unit: bits per entry, integer (quantized) entries
LUT_TABLE_FORMATS = {"int8": (8, True), "fp16": (16, False), "fp32": (32, False)}


@dataclass(frozen=True, slots=True, kw_only=True)
class LutUnit:
    """``units`` table-lookup engines (T-MAC CPU cores, LUT tensor cores; :mod:`hwsim.arch.lut`).

    Each unit performs ``lookups_per_cycle`` table lookups (read one entry, add it) per cycle and
    builds ``precompute_per_cycle`` table entries per cycle, after or alongside
    (``precompute_parallel``) the lookups; tables of ``g`` activations in ``table_format``
    entries, half stored with ``mirror``; a token's tables must fit ``table_kib`` per unit, else
    the tokens run in tiles and the weights are streamed once per tile."""

    units: Any
    lookups_per_cycle: Any
    precompute_per_cycle: Any
    table_kib: Any
    g: Any = 4
    table_format: str = "int8"
    mirror: bool = True
    precompute_parallel: bool = False

    kind = "lut"

    def __post_init__(self) -> None:
        if self.table_format not in LUT_TABLE_FORMATS:
            raise ShapeError(f"table_format {self.table_format!r} not one of {list(LUT_TABLE_FORMATS)}")

    @property
    def mac_units(self) -> Any:
        """Lookup lanes (an area multiplier: the catalog prices one lane, see :mod:`hwsim.arch.lut`)."""
        return np.asarray(self.units, dtype=np.float64) * np.asarray(self.lookups_per_cycle, dtype=np.float64)

    def compute(self, m: Any, k: Any, n: Any, a: OperandBits, w: OperandBits) -> UnitCost:
        table_bits, int_tables = LUT_TABLE_FORMATS[self.table_format]
        m, k, n = (np.asarray(x, dtype=np.int64) for x in (m, k, n))
        c = lut_counts(m, k, n, w, g=self.g, mirror=self.mirror, table_bits=table_bits, int_tables=int_tables)
        cycles = lut_cycles(c, self.units, self.lookups_per_cycle, self.precompute_per_cycle,
                            self.precompute_parallel)
        per_token = table_bytes_per_token(k, self.g, self.mirror, table_bits)
        fit = np.maximum(np.floor(np.asarray(self.table_kib, dtype=np.float64) * 1024 / per_token), 1)
        token_tiles = ceil_div(m, fit.astype(np.int64))
        lanes = np.maximum(np.asarray(self.units, dtype=np.int64) * np.asarray(self.lookups_per_cycle, np.int64), 1)
        # double-buffering granularity: weights arrive per output tile and per 64-activation group
        # (T-MAC's act_group_size / kfactor tile), so each fold's weights load under the last fold's lookups
        folds = token_tiles * ceil_div(n, lanes) * ceil_div(k, np.asarray(64, dtype=np.int64))
        macs = m * k * n
        util = floats(c.lookups + c.aggregates) / (np.maximum(floats(cycles), 1) * floats(self.mac_units))
        return UnitCost(compute_cycles=cycles, macs=macs, folds=folds, utilization=util,
                        sram_reads_ifmap_words=m * k, sram_reads_filter_words=k * n * token_tiles,
                        sram_writes_ofmap_words=m * n, ofmap_drain_writes_words=0,
                        operand_passes=(np.ones_like(token_tiles), token_tiles, np.ones_like(token_tiles)),
                        psum_live_words=0, lut=c)


Unit = SystolicUnit | BitSerialUnit | TensorCoreUnit | LutUnit
