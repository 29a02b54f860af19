"""``mac_cost = "rtl"``: per-format MAC area and energy from hwsim's synthesized RTL blocks.

An accelerator entry that says ``mac_cost = "rtl"`` gets a :class:`RtlMacCosts` as its
``mac_cost_source`` (:func:`hwsim.arch.energy.mac_cost` tries it first). It reads the committed
results of ``hwsim rtl synth`` (``hwsim/synth/data/rtl_costs.csv`` through
:mod:`hwsim.synth.costs`, a data module of the peer layer that imports no tool) and, for an operand
pair, picks the synthesized block whose element matches both operands:

* a row matches when both operands have its element (``e4m3``, ``int8``...; hwsim.synth.costs.element_key)
  and, for a row with a block size, both operands have that block size, and, for a ``dot`` row (a
  block dot-product unit multiplies its own block scales), both operands have its block scale
  (E8M0 vs an E4M3 scale: NVFP4's unit never prices an E2M1 format with E8M0 scales in blocks of
  16); among matches the row that
  covers the most wins (``dot`` > ``mac`` > ``mul``), then the first in the file;
* its area (per MAC unit: block area / max(1, MACs per cycle)) and energy per MAC are scaled from
  180 nm to the energy table's node by :func:`hwsim.synth.costs.scale_from_180nm` (``mac_cost``
  then scales to the entry's node as it does every table value);
* what the block does not cover comes from the table model: a ``mul`` block gets the accumulator
  add and the amortized block-scale add, a ``mac`` block the block-scale add.

No matching row is an error naming the operand formats and listing the rows the CSV has, unless
the entry also says ``mac_cost_fallback = "table"``: then such pairs (e.g. the fp32 GEMMs of layers
a model run keeps unquantized) take the table model's cost. The entry's own default formats must
have a block either way (checked when the catalog loads).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hwsim.arch.energy import EnergyTable, MacCost, OperandBits, _accumulate, _block_scale
from hwsim.errors import FormatError, HwsimError
from hwsim.synth.costs import COSTS_CSV, RtlCost, element_key, format_element_key, read_costs, scale_from_180nm

__all__ = ["RtlMacCosts", "MAC_COST_MODES", "MAC_COST_FALLBACKS"]

#: values of an accelerator entry's ``mac_cost`` key
MAC_COST_MODES = ("table", "rtl")
#: values of ``mac_cost_fallback``: what an operand pair without a synthesized block gets
MAC_COST_FALLBACKS = ("none", "table")
_RANK = {"dot": 0, "mac": 1, "mul": 2}


def _elem(op: OperandBits) -> str:
    if op.source is not None and getattr(op.source, "operand", None) is not None:
        return format_element_key(op.source)  # family formats match only rows of their own format
    return element_key(op.is_float, op.exp_bits, op.man_bits, op.element_bits)


def _scale_key(op: OperandBits) -> tuple[bool, int, int] | None:
    """What the hardware of a block scale is: (power of two, exponent bits, mantissa bits)."""
    sc = op.block_scale
    return None if sc is None else (sc.is_pow2, sc.exp_bits, sc.man_bits)


@functools.cache
def _row_scale(format_name: str) -> tuple[bool, int, int] | None:
    """The block-scale key of the format a ``dot`` row implements: a dot unit multiplies its own
    scales (E8M0 adds, NVFP4's E4M3 multiplies), so it serves only operands with that scale."""
    from hwsim.arch.energy import operand_bits
    from hwsim.catalog import get_format

    try:
        return _scale_key(operand_bits(get_format(format_name)))
    except HwsimError:  # a row of a format this catalog lacks serves no operand
        return (False, -1, -1)


def _name(op: OperandBits) -> str:
    src = op.source
    name = getattr(src, "name", None) if src is not None else None
    return f"{name} ({_elem(op)})" if name else _elem(op)


@dataclass(frozen=True)
class RtlMacCosts:
    """A :data:`~hwsim.arch.energy.MacCostSource` reading synthesized RTL costs (module docstring)."""

    table: EnergyTable
    rows: tuple[RtlCost, ...]
    path: Path = COSTS_CSV
    fallback: bool = False  #: pairs without a block fall back to the table model (``__call__`` -> None)

    @classmethod
    def load(cls, table: EnergyTable, path: str | Path | None = None, *, fallback: bool = False) -> RtlMacCosts:
        """From the CSV (default the committed one); HwsimError when it cannot be read."""
        file = Path(path) if path is not None else COSTS_CSV
        return cls(table, tuple(read_costs(file)), file, fallback)

    def with_table(self, table: EnergyTable) -> RtlMacCosts:
        return RtlMacCosts(table, self.rows, self.path, self.fallback)

    def row(self, a: OperandBits, w: OperandBits) -> RtlCost:
        """The synthesized block costing ``a x w``; FormatError naming both formats when none does."""
        ea, ew = _elem(a), _elem(w)
        matches = [r for r in self.rows if r.element == ea == ew
                   and (r.block_size == 0 or r.block_size == a.block_size == w.block_size)
                   and (r.covers != "dot" or _row_scale(r.format) == _scale_key(a) == _scale_key(w))]
        if not matches:
            have = ", ".join(f"{r.block}/{r.instance} ({r.format}: {r.element}"
                             f"{f' block {r.block_size}' if r.block_size else ''}, covers {r.covers})"
                             for r in self.rows) or "no rows"
            raise FormatError(f"mac_cost = 'rtl': no synthesized block for a={_name(a)} x w={_name(w)} in "
                              f"{self.path}; it has: {have}. Register a block for this element in "
                              f"rtl/blocks.toml and run `hwsim rtl synth`, or use mac_cost = 'table' "
                              f"(or mac_cost_fallback = 'table' for the pairs without a block)")
        return min(matches, key=lambda r: _RANK[r.covers])

    def __call__(self, a: OperandBits, w: OperandBits, acc: OperandBits) -> MacCost | None:
        """MAC energy (pJ) and MAC-unit area (um^2) at the table's node (None: use the table, when
        ``fallback`` and no block serves the pair)."""
        try:
            r = self.row(a, w)
        except FormatError:
            if self.fallback:
                return None
            raise
        area, energy = scale_from_180nm(r.area_um2 / max(1.0, r.macs_per_cycle), r.energy_pj_per_mac,
                                        self.table.node_nm)
        t = self.table
        extra_e = extra_a = 0.0
        if r.covers == "mul":
            extra_e += _accumulate(acc, t, "pj")
            extra_a += _accumulate(acc, t, "um2")
        if r.covers in ("mul", "mac"):
            extra_e += _block_scale(a, w, t, "pj")
            extra_a += _block_scale(a, w, t, "um2")
        return MacCost(float(energy) + extra_e, float(area) + extra_a)


def check_rtl_formats(source: RtlMacCosts, pairs: Sequence[tuple[OperandBits, OperandBits]]) -> list[str]:
    """Messages for the operand pairs ``source`` has no block for (catalog validation)."""
    errors = []
    for a, w in pairs:
        try:
            source.row(a, w)
        except FormatError as exc:
            errors.append(str(exc))
    return errors
