"""Synthesized RTL costs as data: the committed CSV ``hwsim/synth/data/rtl_costs.csv`` and the
scaling of its 180 nm figures to other technology nodes.

This module imports nothing but the standard library, numpy, :mod:`hwsim.errors` and
:mod:`hwsim.files` (atomic writes), so
:mod:`hwsim.arch` (a peer layer) reads it for ``mac_cost = "rtl"`` without pulling in the tools.
:mod:`hwsim.synth.flow` writes the CSV (``hwsim rtl synth``); users without yosys read it as is.

Scaling (:func:`scale_from_180nm`). The issue asks for Stillmaker & Baas, "Scaling equations for the
accurate prediction of CMOS device performance from 180 nm to 7 nm", Integration, the VLSI Journal 58
(2017) 74-81: per-node polynomials in Vdd for delay, energy and power (their energy coefficients are
in Table 5, per the authors' corrigendum) and an area-factor table. We could check only two rows of
those coefficient tables (65 nm and HP 32 nm energy, quoted in the authors' corrigendum), not the 180
nm row every conversion here starts from, and 28 nm is not one of the paper's nodes. So we do **not**
use their coefficients. We use, clearly labeled, two first-order rules instead:

1. 180 nm -> 45 nm, generalized constant-field scaling (R. H. Dennard et al., "Design of
   ion-implanted MOSFET's with very small physical dimensions", IEEE JSSC SC-9(5), 1974, Table I:
   dimensions and capacitance scale by 1/k; here with the real supply voltages instead of V/k):
   area x (45/180)^2, energy per operation = C V^2 x (45/180) x (0.9/1.8)^2. 1.8 V is the nominal
   voltage of the OSU 0.18 um liberty (``nom_voltage``); 0.9 V is the supply of Horowitz's 45 nm
   table (ISSCC 2014), the reference node of :class:`hwsim.arch.energy.EnergyTable`.
2. 45 nm -> the entry's node: the rule every table value of :mod:`hwsim.arch.energy` already obeys
   (energy ~ node at fixed voltage, area ~ node^2), so RTL and table costs scale alike.

Both rules are first order; at 7 nm rule 2 overestimates energy (supplies kept falling below 45 nm)
and underestimates area (wires and cell heights did not shrink with the node name). Delays are not
scaled: the critical path is reported at 180 nm only.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from hwsim.errors import HwsimError
from hwsim.files import atomic_write

__all__ = ["RtlCost", "COSTS_CSV", "read_costs", "write_costs", "scale_from_180nm", "element_key",
           "SOURCE_NODE_NM", "SOURCE_VDD", "REFERENCE_NODE_NM", "REFERENCE_VDD"]

#: the committed results file
COSTS_CSV = Path(__file__).resolve().parent / "data" / "rtl_costs.csv"

SOURCE_NODE_NM = 180.0  #: OSU 0.18 um (osu018_stdcells.lib)
SOURCE_VDD = 1.8  #: osu018_stdcells.lib ``nom_voltage``
REFERENCE_NODE_NM = 45.0  #: Horowitz ISSCC 2014, hwsim.arch.energy.EnergyTable's node
REFERENCE_VDD = 0.9  #: Horowitz ISSCC 2014: "45 nm, 0.9 V"


@dataclass(frozen=True)
class RtlCost:
    """One synthesized block instance: a row of ``rtl_costs.csv`` (figures at 180 nm)."""

    block: str
    instance: str
    format: str  #: hwsim format the instance implements
    element: str  #: element key (:func:`element_key`): ``e4m3``, ``int8`` ...
    block_size: int  #: block-scale size of the format (0: none)
    covers: str  #: mul | mac | dot (rtl/blocks.toml)
    macs_per_cycle: float
    parameters: str  #: ``NAME=value;...`` sorted
    cells: int  #: standard cells (OSU 0.18 um)
    nand2_eq: float  #: generic-gate NAND2 equivalents (hwsim.synth.yosys)
    area_um2: float  #: ``stat -liberty`` area at 180 nm
    critical_path_ns: float  #: OpenSTA worst path at 180 nm
    fmax_mhz: float  #: 1000 / critical_path_ns
    power_mw: float  #: OpenSTA total power at fmax
    energy_pj_per_mac: float  #: power / fmax / macs_per_cycle, at 180 nm (N(0,1) operands)
    power_mw_smollm2: float  #: OpenSTA total power at fmax with SmolLM2 weights as operands
    energy_pj_per_mac_smollm2: float  #: the same energy per MAC with SmolLM2 weights as operands
    activity: str  #: where the switching activity came from
    cell_breakdown: str  #: ``CELL:count`` of the liberty netlist
    liberty: str  #: liberty file name and content hash
    yosys: str
    opensta: str
    source_sha: str  #: hash of the Verilog sources

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        """Cache key: (block, parameters, sources, liberty, yosys, opensta)."""
        return (self.block, self.parameters, self.source_sha, self.liberty, self.yosys, self.opensta)

    def scaled(self, node_nm: Any) -> tuple[Any, Any]:
        """(area um^2, pJ/MAC) at ``node_nm`` (:func:`scale_from_180nm`)."""
        return scale_from_180nm(self.area_um2, self.energy_pj_per_mac, node_nm)


_TYPES = {f.name: f.type for f in fields(RtlCost)}


def element_key(is_float: bool, exp_bits: int, man_bits: int, element_bits: int) -> str:
    """``e<E>m<M>`` for a minifloat element, ``int<bits>`` for an integer one."""
    return f"e{exp_bits}m{man_bits}" if is_float else f"int{element_bits}"


def format_element_key(fmt: Any) -> str:
    """The key a cost row and an operand are matched by: :func:`element_key` of the element for the
    core element + scale family (``hwsim.numerics.format.Format``: any int8 format reads its codes as
    int8), but ``format:<name>`` for every other family (OliVe pairs, codebooks, mixtures): their
    codes mean something only to their own decoder, so an OliVe lane never prices a plain int4 GEMM."""
    from hwsim.numerics.format import Format

    op = fmt.operand
    if isinstance(fmt, Format):
        return element_key(op.is_float, op.exp_bits, op.man_bits, op.element_bits)
    return f"format:{fmt.name}"


def scale_from_180nm(area_um2: Any, energy_pj: Any, node_nm: Any) -> tuple[Any, Any]:
    """Area (um^2) and energy (pJ) synthesized at 180 nm / 1.8 V, at ``node_nm`` (vectorized).

    First-order rules, not Stillmaker & Baas's fitted polynomials (module docstring says why):
    180 -> 45 nm by generalized constant-field scaling (Dennard et al. 1974, Table I; capacitance ~
    feature size, energy = C V^2 with 1.8 V -> 0.9 V), then 45 nm -> ``node_nm`` as
    :mod:`hwsim.arch.energy` scales its tables (energy ~ node, area ~ node^2).
    """
    node = np.asarray(node_nm, dtype=np.float64)
    if np.any(node <= 0):
        raise HwsimError(f"node_nm must be > 0, got {node_nm!r}")
    k = REFERENCE_NODE_NM / SOURCE_NODE_NM
    to_ref_area = k * k
    to_ref_energy = k * (REFERENCE_VDD / SOURCE_VDD) ** 2
    s = node / REFERENCE_NODE_NM
    area = np.asarray(area_um2, dtype=np.float64) * to_ref_area * s * s
    energy = np.asarray(energy_pj, dtype=np.float64) * to_ref_energy * s
    if area.ndim == 0 and energy.ndim == 0:
        return float(area), float(energy)
    return area, energy


def _parse(value: str, typ: Any, where: str) -> Any:
    try:
        if typ in (int, "int"):
            return int(value)
        if typ in (float, "float"):
            return float(value)
    except ValueError:
        raise HwsimError(f"{where}: {value!r} is not a number") from None
    return value


def read_costs(path: str | Path | None = None) -> list[RtlCost]:
    """Every row of the costs CSV (default :data:`COSTS_CSV`).

    Raises:
        HwsimError: the file is missing, lacks a column, or holds a non-number where a number goes.
    """
    file = Path(path) if path is not None else COSTS_CSV
    try:
        with open(file, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in _TYPES if c not in (reader.fieldnames or [])]
            if missing:
                raise HwsimError(f"{file}: missing columns {missing}")
            return [RtlCost(**{k: _parse(row[k], _TYPES[k], f"{file}:{i + 2}:{k}") for k in _TYPES})
                    for i, row in enumerate(reader)]
    except OSError as exc:
        raise HwsimError(f"cannot read RTL costs {file}: {exc} (run `hwsim rtl synth`)") from None


def write_costs(rows: Iterable[RtlCost], path: str | Path | None = None) -> Path:
    """Write ``rows`` (sorted by block, then instance order as given) to the CSV; returns its path."""
    file = Path(path) if path is not None else COSTS_CSV
    file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(file, "w", encoding="utf-8") as fh:  # a crash leaves the old file whole
        writer = csv.DictWriter(fh, fieldnames=list(_TYPES), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))
    return file
