"""Synthesize an ``rtl/`` block with yosys to generic gates: cell breakdown and NAND2 equivalents.

Flow (yosys 0.23, Debian): ``read_verilog``; ``hierarchy -chparam`` (the parameters);
``synth -flatten``; ``abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX`` (technology mapping to
a two-input gate set plus MUX2); ``opt_clean``; ``stat``. The NAND2-equivalent count weights each
cell type by the area of its X1 cell in the NanGate FreePDK45 Open Cell Library divided by the
area of NAND2_X1 (0.798 um^2): INV 0.532, NAND2/NOR2 0.798, AND2/OR2 1.064, XOR2/XNOR2 1.596,
MUX2 1.862, DFF 4.522 um^2. ANDNOT (a & ~b) and ORNOT (a | ~b) have no cell of their own there and
count as INV + NOR2 and INV + NAND2. This is the usual "gate equivalent" (GE) measure of area;
the real-library area (OSU 0.18 um liberty, ``stat -liberty``) comes with a later slice of issue 12.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hwsim.errors import HwsimError
from hwsim.synth.tools import find_tool, missing_tool, rtl_source, tool_env, tool_version

__all__ = ["GateCount", "NAND2_WEIGHTS", "GATE_SET", "synth_generic"]

#: the generic gate set the netlist is mapped to (abc -g)
GATE_SET = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"

_NAND2_UM2 = 0.798  # NanGate FreePDK45 OCL, NAND2_X1
#: NAND2 equivalents per yosys internal cell type (NanGate FreePDK45 OCL X1 areas / NAND2_X1 area)
NAND2_WEIGHTS: dict[str, float] = {
    "$_NOT_": 0.532 / _NAND2_UM2,
    "$_BUF_": 0.798 / _NAND2_UM2,
    "$_NAND_": 1.0,
    "$_NOR_": 1.0,
    "$_AND_": 1.064 / _NAND2_UM2,
    "$_OR_": 1.064 / _NAND2_UM2,
    "$_XOR_": 1.596 / _NAND2_UM2,
    "$_XNOR_": 1.596 / _NAND2_UM2,
    "$_ANDNOT_": (0.532 + 0.798) / _NAND2_UM2,
    "$_ORNOT_": (0.532 + 0.798) / _NAND2_UM2,
    "$_MUX_": 1.862 / _NAND2_UM2,
    "$_DFF_P_": 4.522 / _NAND2_UM2,
    "$_DFF_N_": 4.522 / _NAND2_UM2,
}


@dataclass(frozen=True)
class GateCount:
    """Generic-gate synthesis result of one block parameterization."""

    block: str
    parameters: dict[str, int]
    cells: dict[str, int]  #: yosys cell type (``$_NAND_``, ...) -> count
    nand2_eq: float  #: sum of cells x NAND2_WEIGHTS
    tool: str  #: yosys version line

    @property
    def n_cells(self) -> int:
        return sum(self.cells.values())


_CELL_LINE = re.compile(r"^\s+(\$_\w+_)\s+(\d+)\s*$")


def parse_stat(text: str) -> dict[str, int]:
    """Cell counts from the text of yosys ``stat`` (the last module printed)."""
    cells: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("=== "):
            cells = {}
        m = _CELL_LINE.match(line)
        if m:
            cells[m.group(1)] = int(m.group(2))
    return cells


@functools.cache
def _synth(block: str, params: tuple[tuple[str, int], ...], top: str) -> GateCount:
    missing = missing_tool("yosys")
    if missing:
        raise HwsimError(missing)
    src = rtl_source(block)
    chparams = " ".join(f"-chparam {k} {v}" for k, v in params)
    with tempfile.TemporaryDirectory(prefix="hwsim-yosys-") as tmp:
        stat = Path(tmp) / "stat.txt"
        script = (f"read_verilog {src}; hierarchy -check -top {top} {chparams}; synth -flatten -top {top}; "
                  f"abc -g {GATE_SET}; opt_clean; tee -q -o {stat} stat")
        exe = find_tool("yosys")
        assert exe is not None  # missing_tool checked it
        out = subprocess.run([exe, "-q", "-p", script], capture_output=True, text=True, env=tool_env(), timeout=600)
        if out.returncode != 0 or not stat.exists():
            raise HwsimError(f"yosys failed on {block} {dict(params)}:\n{(out.stderr or out.stdout)[-3000:]}")
        cells = parse_stat(stat.read_text())
    unknown = sorted(set(cells) - set(NAND2_WEIGHTS))
    if unknown:
        raise HwsimError(f"yosys mapped {block} to cells without a NAND2 weight: {unknown}")
    nand2 = sum(NAND2_WEIGHTS[c] * n for c, n in cells.items())
    return GateCount(block, dict(params), cells, round(nand2, 2), tool_version("yosys"))


def synth_generic(block: str, parameters: Mapping[str, int] | None = None, top: str | None = None) -> GateCount:
    """Synthesize ``rtl/<block>.v`` (top module ``top``, default the block name) with the given
    parameters to the generic gate set; raises HwsimError when yosys is missing or fails
    (illegal parameters included)."""
    params = tuple(sorted((k, int(v)) for k, v in (parameters or {}).items()))
    return _synth(block, params, top or block)
