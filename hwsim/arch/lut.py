"""Closed-form cost of a table-lookup (LUT) GEMM unit: T-MAC on a CPU core, a LUT tensor core.

Mechanism (T-MAC, Wei et al., EuroSys'25, arXiv 2407.00088 §3; LUT Tensor Core, Mo et al.,
ISCA'25, arXiv 2408.06003 §3): for ``A[m, k] @ W[k, n]`` with ``b``-bit weights,

- **table precompute**: every token builds one table per ``g`` activations, ``2^g`` entries
  (``2^(g-1)`` with mirror consolidation), ``m * ceil(k/g) * E`` entries, each one add in the
  activation precision (T-MAC ``lut_ctor``: ``a0 +- a1 +- a2 +- a3``, the even half negated), plus,
  for int8 tables, one scale multiply and rounding per entry;
- **lookups**: every output reads one entry per weight bit plane per table and adds it:
  ``m * n * ceil(k/g) * b`` lookups (linear in the weight's bits: the claim the benchmark checks);
- **aggregation** (shift-add of the ``b`` planes, table and weight scales, zero points): one
  multiply-add per output, plane and weight group, ``m * n * ceil(k/G) * b``;
- **table storage**: ``ceil(k/g) * E * table_bits`` bits per token must sit next to the lookup
  lanes (CPU registers/L1; the LUT tensor core's table buffer, ``table_kib``); tokens whose tables
  do not fit are processed in tiles, and the weights are streamed once per tile;
- **weights** move as ``b`` bits plus their scales (``bits_per_element`` of the weight format),
  through the same memory model as every other unit (:mod:`hwsim.arch.memory`).

Cycles: ``lookups / (units x lookups_per_cycle)`` + the aggregation on the same lanes, plus the
precompute at ``precompute_per_cycle`` entries per unit and cycle, added (a CPU core builds its
tables with the same vector pipes) or overlapped (``precompute_parallel``: a LUT tensor core's
separate table generator); ``max`` with the DRAM time as for every unit.

Energy (:func:`lut_op_costs`, from the same :class:`~hwsim.arch.energy.EnergyTable` as the MAC
units so the comparison is like for like): a lookup = reading one ``table_bits`` entry from a
register-file-like table (``table_bits x rf_pj_per_bit``) plus an adder of the accumulator's
width (int adds for int tables, fp adds for float tables); a precomputed entry = one add in the
activation's precision plus its register write (plus a multiply for int8 tables); an aggregation
= one fp32 multiply-add. Area per lookup lane: its adder plus its share of the table storage
(``E x table_bits`` bits at the SRAM density, a lower bound for a register file) and the
precompute adders spread over the lanes. These are estimates from the table, stated as such in
docs/lut-gemm.md, not synthesized blocks.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from hwsim.arch._util import ceil_div, floats
from hwsim.arch.energy import EnergyTable, OperandBits

__all__ = ["LutCounts", "lut_counts", "lut_cycles", "table_bytes_per_token", "lut_op_costs", "LutOpCosts"]


class LutCounts(NamedTuple):
    """Operation counts of one LUT GEMM (arrays broadcast like the shapes)."""

    lookups: Any  #: table reads + adds, ``m n ceil(k/g) b``
    entries: Any  #: table entries precomputed, ``m ceil(k/g) E``
    aggregates: Any  #: plane/scale multiply-adds, ``m n ceil(k/G) b``
    bits: Any  #: weight bit planes b
    table_bits: Any  #: bits per table entry
    int_tables: bool  #: quantized (int) table entries


def _planes(w: OperandBits) -> Any:
    """Bit planes of a weight operand: its element code width (ternary: 2; INT4: 4)."""
    return w.element_bits


def _group(w: OperandBits, k: Any) -> Any:
    """Weights sharing one scale along K (the format's innermost group; the whole row if none)."""
    src = w.source
    scales = getattr(getattr(src, "operand", None), "scales", ()) if src is not None else ()
    for sc in scales:
        if sc.group_size:
            return sc.group_size
    return k


def lut_counts(m: Any, k: Any, n: Any, w: OperandBits, *, g: Any, mirror: bool, table_bits: Any,
               int_tables: bool) -> LutCounts:
    """Lookups, precomputed entries and aggregations of ``A[m, k] @ W[k, n]``."""
    m, k, n = (np.asarray(x, dtype=np.int64) for x in (m, k, n))
    g = np.asarray(g, dtype=np.int64)
    b = np.asarray(_planes(w), dtype=np.int64)
    chunks = ceil_div(k, g)
    per_table = np.left_shift(1, g - 1) if mirror else np.left_shift(1, g)
    groups = ceil_div(k, np.asarray(_group(w, k), dtype=np.int64))
    return LutCounts(lookups=m * n * chunks * b, entries=m * chunks * per_table,
                     aggregates=m * n * groups * b, bits=b, table_bits=table_bits, int_tables=int_tables)


def table_bytes_per_token(k: Any, g: Any, mirror: bool, table_bits: Any) -> Any:
    """Bytes of one token's tables: ``ceil(k/g) x E x table_bits / 8``."""
    g = np.asarray(g, dtype=np.int64)
    per_table = np.left_shift(1, g - 1) if mirror else np.left_shift(1, g)
    return floats(ceil_div(np.asarray(k, dtype=np.int64), g) * per_table * np.asarray(table_bits) / 8)


def lut_cycles(c: LutCounts, units: Any, lookups_per_cycle: Any, precompute_per_cycle: Any,
               precompute_parallel: bool) -> Any:
    """Compute cycles (exact integers): lookups and aggregation on the lookup lanes, precompute
    added or overlapped."""
    u = np.asarray(units, dtype=np.float64)
    look = (floats(c.lookups) + floats(c.aggregates)) / (u * np.asarray(lookups_per_cycle, dtype=np.float64))
    pre = floats(c.entries) / (u * np.asarray(precompute_per_cycle, dtype=np.float64))
    total = np.maximum(look, pre) if precompute_parallel else look + pre
    return np.ceil(total).astype(np.int64)


class LutOpCosts(NamedTuple):
    """Energy per operation (pJ) and area per lookup lane (um^2), at the accelerator's node."""

    lookup_pj: float
    entry_pj: float
    aggregate_pj: float
    lane_area_um2: float


def _int_add(bits: float, t: EnergyTable, unit: str) -> float:
    """An integer adder of ``bits`` (the table's power law between its 8- and 32-bit adders)."""
    lo, hi = getattr(t, f"int_add_8b_{unit}"), getattr(t, f"int_add_32b_{unit}")
    return float(lo * (bits / 8) ** (np.log(hi / lo) / np.log(4.0)))


def _fp_add(sig_bits: float, t: EnergyTable, unit: str) -> float:
    lo, hi = getattr(t, f"fp16_add_{unit}"), getattr(t, f"fp32_add_{unit}")
    return float(lo * (sig_bits / 11) ** (np.log(hi / lo) / np.log(24 / 11)))


def lut_op_costs(a: OperandBits, acc: OperandBits, *, g: int, mirror: bool, table_bits: int, int_tables: bool,
                 lookups_per_cycle: float, precompute_per_cycle: float, table_kib: float, t: EnergyTable,
                 node_nm: float) -> LutOpCosts:
    """Per-operation energy and per-lane area from the energy table (module docstring), scaled
    from the table's node to ``node_nm`` like the MAC costs (energy linear, area quadratic).

    A lane's area: its accumulator adder, its share of the precompute adders and of the table
    buffer (``table_kib`` per unit at the SRAM density; the entry multiplexers are not counted)."""
    s = float(node_nm) / t.node_nm
    rf = t.rf_pj_per_bit
    if int_tables:  # int8 entries summed in a 16-bit integer accumulator (T-MAC tbl.cc: int16 adds)
        acc_add_pj, acc_add_um2 = _int_add(16, t, "pj"), _int_add(16, t, "um2")
    else:  # float entries summed in the accumulator's float format
        acc_add_pj = _fp_add(acc.significand_bits, t, "pj")
        acc_add_um2 = _fp_add(acc.significand_bits, t, "um2")
    a_sig = a.significand_bits if a.is_float else 11
    entry_pj = _fp_add(a_sig, t, "pj") + table_bits * rf  # one add, one entry written
    if int_tables:
        entry_pj += t.fp16_mult_pj  # x 1/scale, round
    lookup_pj = table_bits * rf + acc_add_pj
    aggregate_pj = t.fp32_mult_pj + t.fp32_add_pj
    lanes = float(lookups_per_cycle)
    table_um2 = float(table_kib) * t.sram_um2_per_kib / lanes
    precompute_um2 = _fp_add(a_sig, t, "um2") * float(precompute_per_cycle) / lanes
    lane_um2 = acc_add_um2 + table_um2 + precompute_um2
    return LutOpCosts(lookup_pj * s, entry_pj * s, aggregate_pj * s, lane_um2 * s * s)
