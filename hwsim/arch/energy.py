"""Energy per operation / per access, and area, as functions of operand *bit widths*.

MAC cost is looked up from a format's element kind and bit widths (never from its name), so a
new catalog format gets a cost without touching this file.

Default reference figures: M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014 (45 nm, 0.9 V), energy table and the area figures of the same talk:

=================  ==========  ===========
operation          energy pJ   area um^2
=================  ==========  ===========
8b int add         0.03        36
32b int add        0.1         137
8b int mult        0.2         282
32b int mult       3.1         3495
16b fp add         0.4         1360
32b fp add         0.9         4184
16b fp mult        1.1         1640
32b fp mult        3.7         7700
8 KB SRAM, 64b rd  10
1 MB SRAM, 64b rd  100
DRAM, 64b          1300-2600
=================  ==========  ===========

Model (each term is a two-point power law ``y = y1 * (x / x1) ** beta`` through two of the
reference points above, so it reproduces them exactly and stays positive for narrow formats):

* integer adder of ``w`` bits: through the 8b and 32b int adds;
* significand multiplier of ``p_a x p_w`` bits (array multiplier, cost ~ partial products
  ``p_a * p_w``): through the 8x8 and 32x32 int mults; significand = mantissa + hidden bit
  for minifloats, all bits for integers;
* floating-point multiplier = significand multiplier + exponent adder (``max(e_a, e_w) + 1``
  bits) + normalize/round logic, the latter a power law in ``p_a + p_w`` fitted so that fp16
  and fp32 mults come out at Horowitz's 1.1 / 3.7 pJ (1640 / 7700 um^2);
* floating-point adder (accumulator) of significand ``p``: through fp16 (p=11) and fp32 (p=24);
* block scales, priced from the scale element's bits (never the format name), once per block
  pair per output and amortized over the smaller block B (a new pair of scales starts every B
  products; OCP MX v1.0 §6: the dot product of two blocks is scaled by the product of their
  scales), see :func:`block_scale_cost`:

  - power-of-two scales (E8M0, BFP/MSFP shared exponents): one integer adder of the scale's
    exponent width adds the two exponents (8 bits for E8M0), whatever the other scale is;
  - every scale with mantissa bits (E4M3, UE5M3, fp32, an integer step) needs a multiplier of its
    own width per block dot product: one multiplier ``S x S`` of the scale element (a float
    multiplier of the model above, or an integer multiplier for integer scales). Two such scales
    (NVFP4 x NVFP4) cost two multipliers: one forms ``s_a * s_w``, one applies it to the block's
    partial sum;
* channel and tensor scales (NVFP4's fp32 tensor scale, per-channel steps) are applied once per
  *output*, outside the dot product, by the same rule (:func:`output_scale_cost`; the accelerator
  charges it per output element, ``m x n``, in the MAC energy term);
* SRAM per-bit access energy ~ size**beta through the 8 KB and 1 MB points (CACTI-like
  sqrt-ish growth from wire length);
* register traffic per MAC (``a_bits + w_bits + acc_bits``: two operands in, one partial sum
  out) at ``rf_pj_per_bit``. Default: a PE pipeline register, one bit costing about one
  full-adder bit, 0.1 pJ / 32 = 0.0031 pJ/bit (assumption on Horowitz's 32b add). Arrays with
  real register files override it: Eyeriss' normalized cost "RF = 1x MAC" (Chen et al., JSSC
  2017 / ISSCC 2016) applied to a 16-bit int MAC of this model is
  (0.785 pJ mult + 0.1 pJ 32b add) / 16 bits = 0.055 pJ/bit (eyeriss-like.toml);
* DRAM per bit: DDR3 1.3 nJ / 64 b = 20.3 pJ/bit (Horowitz, lower end of 1.3-2.6 nJ);
  HBM2 3.9 pJ/bit (O'Connor et al., "Fine-Grained DRAM", MICRO 2017, §2).
* technology scaling: first order, energy ~ node (switched capacitance at fixed voltage) and
  area ~ node**2 relative to the table's 45 nm.
* SRAM area: Intel 45 nm 6T bitcell 0.346 um^2 (Mistry et al., IEDM 2007) over 70 % array
  efficiency (assumed) = 8192 * 0.346 / 0.7 = 4049 um^2 per KiB.

Any field of :class:`EnergyTable` can be overridden by a catalog entry (``[energy]`` table);
``mac_cost`` can instead come from synthesized RTL via :func:`mac_cost_from_gates`.

Calibration hook (block scales): the scale rule above is a table model. A
:data:`MacCostSource` receives :class:`OperandBits` with their :attr:`~OperandBits.block_scale`,
so costs synthesized from the RTL block dot units (NVFP4 dot-16 with E4M3 scales vs MXFP4 dot-32
with E8M0 scales) can replace the whole per-MAC cost of a block-scaled pair, scale hardware
included; until they land, the table rule is the fallback. The per-output scale term
(:func:`output_scale_cost`) is charged outside the MAC and stays table-modelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics.protocol import NumberFormat, OperandSpec, ScaleSpec

__all__ = [
    "OperandBits", "OperandLike", "operand_bits", "EnergyTable", "MacCost", "MacCostSource", "mac_cost",
    "mac_cost_from_gates", "sram_pj_per_bit", "sram_area_um2", "DEFAULT_TABLE", "block_scale_cost",
    "output_scale_cost",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OperandBits:
    """What the cost model needs to know about an operand format: only bit widths."""

    is_float: bool  #: element is a minifloat ExMy (else an integer)
    exp_bits: int  #: exponent bits of the element (0 for integers)
    man_bits: int  #: stored mantissa bits (integers: bits - 1)
    element_bits: int  #: bits of one element code
    bits_per_element: float  #: storage bits per element, shared scales amortized
    block_size: int | None = None  #: elements sharing one scale (None/0: no block scale)
    #: the innermost block/group scale (None: none, or an inline table, priced as E8M0)
    block_scale: ScaleSpec | None = None
    #: channel and tensor scales, applied once per output outside the dot product
    output_scales: tuple[ScaleSpec, ...] = ()
    #: the format object it was read from (None for inline tables): bit-serial units with
    #: ``w_cycles_per_weight = "terms"`` decompose its codes (hwsim.numerics.bitserial)
    source: NumberFormat | None = field(default=None, compare=False)

    @property
    def significand_bits(self) -> int:
        """Multiplier input width: mantissa + hidden bit (floats) or the whole code (integers)."""
        return self.man_bits + 1


#: what :func:`operand_bits` takes: a number format (its typed :attr:`~NumberFormat.operand`), an
#: :class:`~hwsim.numerics.protocol.OperandSpec` of an operand no format object describes (a
#: GEMM-level scheme such as LLM.int8), :class:`OperandBits` as they are, or an inline table
OperandLike = NumberFormat | OperandSpec | OperandBits | Mapping[str, Any]


def operand_bits(fmt: OperandLike) -> OperandBits:
    """:class:`OperandBits` of a number format, an operand description or an inline table.

    Accepted: any format family (``hwsim.format("mxfp4")``), read through its typed
    :attr:`~hwsim.numerics.protocol.NumberFormat.operand` (element width and kind, storage per
    element, and the block size of its innermost block/group scale); an
    :class:`~hwsim.numerics.protocol.OperandSpec`; an :class:`OperandBits`; or a mapping
    ``{"kind": "int", "bits": 32}`` / ``{"kind": "float", "exp_bits": 8, "man_bits": 23}`` (used
    for accumulators wider than the format catalog's integers). Format *names* are resolved where
    they enter (``hwsim.format``, the accelerator catalog, the CLI), never here.

    Raises:
        FormatError: the object has none of these shapes (a name included), or a mapping is
            incomplete.
    """
    if isinstance(fmt, OperandBits):
        return fmt
    if isinstance(fmt, str):
        raise FormatError(f"operand format {fmt!r} is a name: the cost model takes format objects "
                          f"(resolve it first, e.g. hwsim.format({fmt!r}))")
    if isinstance(fmt, Mapping):
        return _table_bits(fmt)
    if isinstance(fmt, OperandSpec):
        return _spec_bits(fmt, None)
    try:
        spec = fmt.operand
    except AttributeError:
        spec = None
    if not isinstance(spec, OperandSpec):
        raise FormatError(f"not a number format (no typed `operand` description, "
                          f"hwsim.numerics.protocol.OperandSpec): {fmt!r}")
    return _spec_bits(spec, fmt)


def _spec_bits(spec: OperandSpec, source: NumberFormat | None) -> OperandBits:
    """The bit widths of ``spec``; the block size is the group size of its innermost block or
    group scale (channel and tensor scales are applied outside the dot product)."""
    inner = next((s for s in spec.scales if s.granularity in ("block", "group")), None)
    block = inner.group_size if inner is not None else None
    return OperandBits(is_float=spec.is_float, exp_bits=spec.exp_bits, man_bits=spec.man_bits,
                       element_bits=spec.element_bits, bits_per_element=float(spec.bits_per_element),
                       block_size=block or None, block_scale=inner if block else None,
                       output_scales=tuple(s for s in spec.scales if s.granularity in ("channel", "tensor")),
                       source=source)


def _table_bits(table: Mapping[str, Any]) -> OperandBits:
    """An inline ``{"kind": "int", "bits": B}`` / ``{"kind": "float", "exp_bits": E, "man_bits": M}``."""
    kind = table.get("kind")
    try:
        if kind == "int":
            bits = int(table["bits"])
            return OperandBits(is_float=False, exp_bits=0, man_bits=bits - 1,
                               element_bits=bits, bits_per_element=float(bits))
        if kind == "float":
            e, m = int(table["exp_bits"]), int(table["man_bits"])
            return OperandBits(is_float=True, exp_bits=e, man_bits=m, element_bits=1 + e + m,
                               bits_per_element=float(1 + e + m))
    except KeyError as exc:
        raise FormatError(f"operand format {dict(table)!r} lacks {exc.args[0]!r}") from None
    raise FormatError(f"operand format {dict(table)!r}: kind must be 'int' or 'float'")


@dataclass(frozen=True, slots=True, kw_only=True)
class EnergyTable:
    """Reference energies (pJ) and areas (um^2) at ``node_nm``; every field overridable.

    Defaults: Horowitz ISSCC 2014 (45 nm) unless noted; see the module docstring.
    """

    node_nm: float = 45.0
    int_add_8b_pj: float = 0.03
    int_add_32b_pj: float = 0.1
    int_mult_8b_pj: float = 0.2
    int_mult_32b_pj: float = 3.1
    fp16_add_pj: float = 0.4
    fp32_add_pj: float = 0.9
    fp16_mult_pj: float = 1.1
    fp32_mult_pj: float = 3.7
    int_add_8b_um2: float = 36.0
    int_add_32b_um2: float = 137.0
    int_mult_8b_um2: float = 282.0
    int_mult_32b_um2: float = 3495.0
    fp16_add_um2: float = 1360.0
    fp32_add_um2: float = 4184.0
    fp16_mult_um2: float = 1640.0
    fp32_mult_um2: float = 7700.0
    sram_8kib_pj_per_64b: float = 10.0
    sram_1mib_pj_per_64b: float = 100.0
    #: PE pipeline register ~ one full-adder bit: 0.1 pJ / 32 (module docstring)
    rf_pj_per_bit: float = 0.0031
    #: Intel 45 nm bitcell 0.346 um^2 / 0.7 array efficiency * 8192 bits
    sram_um2_per_kib: float = 4049.0
    #: DDR3: Horowitz 1.3 nJ / 64 b
    dram_ddr3_pj_per_bit: float = 20.3
    #: HBM2: O'Connor et al. MICRO 2017
    dram_hbm2_pj_per_bit: float = 3.9

    def replace(self, **changes: float) -> EnergyTable:
        """A copy with some reference figures overridden (catalog ``[energy]`` table)."""
        return replace(self, **changes)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def dram_pj_per_bit(self, technology: str) -> float:
        """Access energy of DRAM ``technology`` (``ddr3`` / ``hbm2``)."""
        return float(getattr(self, f"dram_{technology}_pj_per_bit"))

    @staticmethod
    def dram_technologies() -> tuple[str, ...]:
        return tuple(f.name[5:-11] for f in fields(EnergyTable)
                     if f.name.startswith("dram_") and f.name.endswith("_pj_per_bit"))


DEFAULT_TABLE = EnergyTable()


class MacCost(NamedTuple):
    """Energy of one multiply-accumulate and area of one MAC unit, at the table's node."""

    energy_pj: float
    area_um2: float


#: A source of per-format MAC costs, e.g. built from synthesized RTL. Returns ``None`` to fall
#: back to the table model for a format pair it does not know.
MacCostSource = Callable[[OperandBits, OperandBits, OperandBits], "MacCost | None"]


def _power_law(x: float, x1: float, y1: float, x2: float, y2: float) -> float:
    """``y1 * (x / x1) ** beta`` with beta chosen so that the curve passes (x2, y2)."""
    beta = math.log(y2 / y1) / math.log(x2 / x1)
    return y1 * (x / x1) ** beta


def _int_add(w: float, t: EnergyTable, unit: str) -> float:
    return _power_law(w, 8, getattr(t, f"int_add_8b_{unit}"), 32, getattr(t, f"int_add_32b_{unit}"))


def _sig_mult(pp: float, t: EnergyTable, unit: str) -> float:
    """Significand multiplier with ``pp`` partial-product bits (``p_a * p_w``)."""
    return _power_law(pp, 64, getattr(t, f"int_mult_8b_{unit}"), 1024,
                      getattr(t, f"int_mult_32b_{unit}"))


def _fp_norm(psum: float, t: EnergyTable, unit: str) -> float:
    """Normalize/round part of an fp multiplier with input significands summing to ``psum``."""
    def rest(p: int, e: int, total: float) -> float:
        return total - _sig_mult(p * p, t, unit) - _int_add(e + 1, t, unit)

    r16 = rest(11, 5, getattr(t, f"fp16_mult_{unit}"))
    r32 = rest(24, 8, getattr(t, f"fp32_mult_{unit}"))
    return _power_law(psum, 22, r16, 48, r32)


def _fp_add(p: float, t: EnergyTable, unit: str) -> float:
    return _power_law(p, 11, getattr(t, f"fp16_add_{unit}"), 24, getattr(t, f"fp32_add_{unit}"))


def _mult(a: OperandBits, w: OperandBits, t: EnergyTable, unit: str) -> float:
    pa, pw = a.significand_bits, w.significand_bits
    cost = _sig_mult(pa * pw, t, unit)
    if a.is_float or w.is_float:
        cost += _int_add(max(a.exp_bits, w.exp_bits) + 1, t, unit) + _fp_norm(pa + pw, t, unit)
    return cost


def _accumulate(acc: OperandBits, t: EnergyTable, unit: str) -> float:
    if acc.is_float:
        return _fp_add(acc.significand_bits, t, unit)
    return _int_add(acc.element_bits, t, unit)


#: exponent width of a block scale that no ScaleSpec describes (inline tables): E8M0
_E8M0_EXP_BITS = 8


def _scale_bits(scale: ScaleSpec) -> OperandBits:
    """A scale element as a multiplier operand: a float ``E<e>M<m>`` or an integer of ``bits``."""
    if scale.exp_bits:
        return OperandBits(is_float=True, exp_bits=scale.exp_bits, man_bits=scale.man_bits,
                           element_bits=scale.bits, bits_per_element=float(scale.bits))
    return OperandBits(is_float=False, exp_bits=0, man_bits=scale.bits - 1, element_bits=scale.bits,
                       bits_per_element=float(scale.bits))


def _combine_scales(scales: list[ScaleSpec], t: EnergyTable, unit: str) -> float:
    """Hardware applying ``scales`` once: one exponent adder (widest power-of-two scale) if any
    scale is a power of two, plus one ``S x S`` multiplier per scale with mantissa bits."""
    pow2 = [s.exp_bits for s in scales if s.is_pow2]
    cost = _int_add(max(pow2), t, unit) if pow2 else 0.0
    for s in scales:
        if not s.is_pow2:
            sb = _scale_bits(s)
            cost += _mult(sb, sb, t, unit)
    return cost


def _block_scale(a: OperandBits, w: OperandBits, t: EnergyTable, unit: str) -> float:
    """Per-MAC share of the block-scale hardware, paid once per block pair (the smaller block)."""
    blocks = [b for b in (a.block_size, w.block_size) if b]
    if not blocks:
        return 0.0
    scales = [x.block_scale for x in (a, w) if x.block_size and x.block_scale is not None]
    if len(scales) < sum(1 for x in (a, w) if x.block_size):  # an inline table: an E8M0 exponent add
        scales.append(ScaleSpec("block", min(blocks), 8, True, _E8M0_EXP_BITS, 0, "E8M0 (assumed)"))
    return _combine_scales(scales, t, unit) / min(blocks)


def block_scale_cost(a_format: Any, w_format: Any, table: EnergyTable = DEFAULT_TABLE, *,
                     node_nm: float | None = None) -> MacCost:
    """The per-MAC share of the block-scale hardware of ``a_format x w_format`` (included in
    :func:`mac_cost`; zero when neither operand has a block/group scale). Rule in the module
    docstring: E8M0 -> exponent add; a scale with mantissa bits -> a multiplier of its width."""
    a, w = operand_bits(a_format), operand_bits(w_format)
    e_scale, a_scale = _node_scale(table, node_nm)
    return MacCost(_block_scale(a, w, table, "pj") * e_scale, _block_scale(a, w, table, "um2") * a_scale)


def output_scale_cost(a_format: Any, w_format: Any, table: EnergyTable = DEFAULT_TABLE, *,
                      node_nm: float | None = None) -> MacCost:
    """Energy per *output element* (and area of one unit) of applying the channel and tensor
    scales of both operands outside the dot product, by the rule of the block scales (an exponent
    add for power-of-two scales, an ``S x S`` multiplier per scale with mantissa bits)."""
    a, w = operand_bits(a_format), operand_bits(w_format)
    scales = [*a.output_scales, *w.output_scales]
    e_scale, a_scale = _node_scale(table, node_nm)
    return MacCost(_combine_scales(scales, table, "pj") * e_scale, _combine_scales(scales, table, "um2") * a_scale)


def mac_cost(a_format: Any, w_format: Any, acc_format: Any, table: EnergyTable = DEFAULT_TABLE,
             *, w_bits_per_pass: int | None = None, node_nm: float | None = None,
             source: MacCostSource | None = None) -> MacCost:
    """Energy of one MAC and area of one MAC unit for ``a_format x w_format`` into ``acc_format``.

    Args:
        a_format, w_format, acc_format: Format-like objects or inline tables
            (see :func:`operand_bits`).
        table: reference figures.
        w_bits_per_pass: bit-serial units (BitMoD/Stripes) multiply by ``w_bits_per_pass``
            weight bits per cycle: the multiplier is ``p_a x w_bits_per_pass`` wide (integer
            shift-add) and one "MAC" here is one pass; callers multiply by the pass count.
        node_nm: scale from ``table.node_nm`` (energy ~ node, area ~ node**2); default: none.
        source: optional synthesized-RTL cost source tried first (:func:`mac_cost_from_gates`).
    """
    a, w, acc = operand_bits(a_format), operand_bits(w_format), operand_bits(acc_format)
    e_scale, a_scale = _node_scale(table, node_nm)
    if source is not None:
        got = source(a, w, acc)
        if got is not None:
            return MacCost(got.energy_pj * e_scale, got.area_um2 * a_scale)
    if w_bits_per_pass is not None:
        w = OperandBits(is_float=False, exp_bits=0, man_bits=w_bits_per_pass - 1,
                        element_bits=w_bits_per_pass, bits_per_element=float(w_bits_per_pass))
    parts = [(_mult(a, w, table, u) + _accumulate(acc, table, u) + _block_scale(a, w, table, u))
             for u in ("pj", "um2")]
    return MacCost(parts[0] * e_scale, parts[1] * a_scale)


def _node_scale(table: EnergyTable, node_nm: float | None) -> tuple[float, float]:
    if node_nm is None:
        return 1.0, 1.0
    s = float(node_nm) / table.node_nm
    return s, s * s


def mac_cost_from_gates(nand2_equivalents: float, a_format: Any, w_format: Any, acc_format: Any,
                        *, table: EnergyTable = DEFAULT_TABLE, nand2_um2: float = 0.798) -> MacCost:
    """MAC cost from a synthesized gate count (``hwsim.synth`` / yosys ``stat``), at ``table.node_nm``.

    Area = NAND2-equivalents x NAND2 area (default 0.798 um^2: NanGate 45 nm Open Cell Library
    NAND2_X1). Energy is the table model's energy scaled by the area ratio (switched capacitance
    grows with cell area to first order), so synthesized and table costs stay comparable.
    """
    area = float(nand2_equivalents) * nand2_um2
    model = mac_cost(a_format, w_format, acc_format, table)
    return MacCost(model.energy_pj * area / model.area_um2, area)


def sram_pj_per_bit(size_kib: Any, table: EnergyTable = DEFAULT_TABLE,
                    node_nm: float | None = None) -> np.ndarray:
    """Per-bit access energy of an SRAM of ``size_kib`` (vectorized), power law through 8 KB / 1 MB."""
    size = np.asarray(size_kib, dtype=np.float64)
    beta = math.log(table.sram_1mib_pj_per_64b / table.sram_8kib_pj_per_64b) / math.log(1024 / 8)
    e = table.sram_8kib_pj_per_64b / 64.0 * (size / 8.0) ** beta
    return e * _node_scale(table, node_nm)[0]


def sram_area_um2(size_kib: Any, table: EnergyTable = DEFAULT_TABLE,
                  node_nm: float | None = None) -> np.ndarray:
    """Area of ``size_kib`` of SRAM (vectorized)."""
    return np.asarray(size_kib, dtype=np.float64) * table.sram_um2_per_kib * _node_scale(table, node_nm)[1]
