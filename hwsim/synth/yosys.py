"""Synthesize an ``rtl/`` block with yosys to generic gates: cell breakdown and NAND2 equivalents.

Flow (yosys 0.23, Debian): ``read_verilog``; ``hierarchy -chparam`` (the parameters);
``synth -flatten``; ``dfflegalize -cell $_DFF_P_ x`` (flip-flops with enable or synchronous reset
become plain rising-edge flip-flops plus their gates, so every block counts alike);
``abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX`` (technology mapping to a two-input gate set
plus MUX2); ``opt_clean``; ``stat``. The NAND2-equivalent count weights each
cell type by the area of its X1 cell in the NanGate FreePDK45 Open Cell Library divided by the
area of NAND2_X1 (0.798 um^2): INV 0.532, NAND2/NOR2 0.798, AND2/OR2 1.064, XOR2/XNOR2 1.596,
MUX2 1.862, DFF 4.522 um^2. ANDNOT (a & ~b) and ORNOT (a | ~b) have no cell of their own there and
count as INV + NOR2 and INV + NAND2. This is the usual "gate equivalent" (GE) measure of area.

Standard cells (:func:`synth_liberty`): the same ``synth -flatten``, then ``dfflibmap -liberty`` and
``abc -liberty`` map to the OSU 0.18 um library (``osu018_stdcells.lib``, Debian qflow-tech-osu018),
``stat -liberty`` gives the cell breakdown and the area in um^2, and ``write_verilog -noattr`` the
netlist OpenSTA times (:mod:`hwsim.synth.sta`). Before ``stat``, ``opt_clean -purge`` drops the
flattened hierarchy's alias wires and ``insbuf -buf`` puts a buffer cell of the liberty on every
remaining wire-to-wire or constant connection of an output port: the Debian OpenSTA (2.0.17) reads
no ``assign`` with a concatenation (``assign y = {a, b[3:1]};``, a syntax error there), which yosys
writes for such connections, so the netlist OpenSTA reads is cells only. ``stat`` runs before
``insbuf``: those buffers are an artifact of the netlist format (a constant output bit would be tied
off, a pass-through is a wire), so the area leaves them out; OpenSTA times and powers them (a
constant never toggles; a pass-through buffer is one cell delay). :func:`buffer_cell` picks the
liberty's smallest buffer.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hwsim.errors import HwsimError
from hwsim.synth.tools import find_tool, missing_tool, rtl_source, tool_env, tool_version

__all__ = ["GateCount", "CellMapping", "NAND2_WEIGHTS", "GATE_SET", "synth_generic", "synth_liberty", "parse_stat",
           "parse_liberty_stat", "buffer_cell"]

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


def _run_yosys(block: str, params: tuple[tuple[str, int], ...], top: str, sources: tuple[str, ...],
               mapping: str, tmp: Path) -> str:
    """Elaborate ``top`` from ``sources`` with ``params``, run ``mapping`` (yosys commands that may
    write into ``tmp``) and return the text of ``stat`` (``<tmp>/stat.txt``)."""
    missing = missing_tool("yosys")
    if missing:
        raise HwsimError(missing)
    srcs = " ".join(str(s) for s in (sources or (str(rtl_source(block)),)))
    chparams = " ".join(f"-chparam {k} {v}" for k, v in params)
    stat = tmp / "stat.txt"
    script = (f"read_verilog {srcs}; hierarchy -check -top {top} {chparams}; synth -flatten -top {top}; "
              f"{mapping}")
    exe = find_tool("yosys")
    assert exe is not None  # missing_tool checked it
    timeout = float(os.environ.get("HWSIM_YOSYS_TIMEOUT", "7200"))
    try:
        out = subprocess.run([exe, "-q", "-p", script], capture_output=True, text=True, env=tool_env(),
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise HwsimError(f"yosys on {block} {dict(params)} ran past {timeout:g} s "
                         f"($HWSIM_YOSYS_TIMEOUT sets the limit)") from None
    if out.returncode != 0 or not stat.exists():
        raise HwsimError(f"yosys failed on {block} {dict(params)}:\n{(out.stderr or out.stdout)[-3000:]}")
    return stat.read_text()


@functools.cache
def _synth(block: str, params: tuple[tuple[str, int], ...], top: str, sources: tuple[str, ...] = ()) -> GateCount:
    with tempfile.TemporaryDirectory(prefix="hwsim-yosys-") as tmp:
        text = _run_yosys(block, params, top, sources,
                          f"dfflegalize -cell $_DFF_P_ x; abc -g {GATE_SET}; opt_clean; "
                          f"tee -q -o {Path(tmp) / 'stat.txt'} stat", Path(tmp))
        cells = parse_stat(text)
    unknown = sorted(set(cells) - set(NAND2_WEIGHTS))
    if unknown:
        raise HwsimError(f"yosys mapped {block} to cells without a NAND2 weight: {unknown}")
    nand2 = sum(NAND2_WEIGHTS[c] * n for c, n in cells.items())
    return GateCount(block, dict(params), cells, round(nand2, 2), tool_version("yosys"))


def synth_generic(block: str, parameters: Mapping[str, int] | None = None, top: str | None = None,
                  sources: Sequence[str | Path] = ()) -> GateCount:
    """Synthesize ``rtl/<block>.v`` (or ``sources``; top module ``top``, default the block name) with
    the given parameters to the generic gate set; raises HwsimError when yosys is missing or fails
    (illegal parameters included)."""
    params = tuple(sorted((k, int(v)) for k, v in (parameters or {}).items()))
    return _synth(block, params, top or block, tuple(str(s) for s in sources))


@dataclass(frozen=True)
class CellMapping:
    """A block parameterization mapped to a liberty's standard cells."""

    block: str
    parameters: dict[str, int]
    cells: dict[str, int]  #: liberty cell name -> count
    area_um2: float  #: ``stat -liberty`` chip area
    netlist: str  #: structural Verilog (``write_verilog -noattr``) for OpenSTA
    tool: str  #: yosys version line

    @property
    def n_cells(self) -> int:
        return sum(self.cells.values())


_LIB_CELL_LINE = re.compile(r"^\s+([A-Za-z_][\w]*)\s+(\d+)\s*$")
_AREA_LINE = re.compile(r"Chip area for (?:module|top module) .*:\s*([0-9.eE+-]+)")


def parse_liberty_stat(text: str) -> tuple[dict[str, int], float]:
    """Cell counts and chip area from the text of yosys ``stat -liberty`` (the last module printed)."""
    cells: dict[str, int] = {}
    area = float("nan")
    for line in text.splitlines():
        if line.startswith("=== "):
            cells, area = {}, float("nan")
        m = _LIB_CELL_LINE.match(line)
        if m and not line.strip().startswith("Number"):
            cells[m.group(1)] = int(m.group(2))
        a = _AREA_LINE.search(line)
        if a:
            area = float(a.group(1))
    return cells, area


_CELL = re.compile(r"\bcell\s*\(\s*\"?([A-Za-z_]\w*)\"?\s*\)")
_PIN = re.compile(r"\bpin\s*\(\s*\"?([A-Za-z_]\w*)\"?\s*\)\s*\{([^{}]*)")
_CELL_AREA = re.compile(r"\barea\s*:\s*([0-9.eE+-]+)")


@functools.cache
def buffer_cell(liberty: str | Path) -> tuple[str, str, str]:
    """(cell, input pin, output pin) of the smallest non-inverting buffer of a liberty file: a cell
    with one input pin and one output pin whose ``function`` is that input (OSU018: BUFX2 A -> Y).
    HwsimError when the liberty has none."""
    text = Path(liberty).read_text(errors="replace")
    starts = [(m.start(), m.group(1)) for m in _CELL.finditer(text)]
    best: tuple[float, tuple[str, str, str]] | None = None
    for i, (pos, name) in enumerate(starts):
        body = text[pos:starts[i + 1][0] if i + 1 < len(starts) else len(text)]
        inputs, outputs = [], []
        for pin, attrs in _PIN.findall(body):
            if re.search(r"direction\s*:\s*\"?input", attrs):
                inputs.append(pin)
            elif (fn := re.search(r"function\s*:\s*\"\s*\(?\s*(\w+)\s*\)?\s*\"", attrs)) and \
                    re.search(r"direction\s*:\s*\"?output", attrs):
                outputs.append((pin, fn.group(1)))
        if len(inputs) == 1 and len(outputs) == 1 and outputs[0][1] == inputs[0]:
            area = _CELL_AREA.search(body)
            key = float(area.group(1)) if area else float("inf")
            if best is None or key < best[0]:
                best = (key, (name, inputs[0], outputs[0][0]))
    if best is None:
        raise HwsimError(f"{liberty}: no buffer cell (one input, one output with function = the input)")
    return best[1]


def synth_liberty(block: str, parameters: Mapping[str, int], top: str, sources: Sequence[str | Path],
                  liberty: str | Path) -> CellMapping:
    """Synthesize ``top`` from ``sources`` with ``parameters`` and map it to the standard cells of
    ``liberty`` (``dfflibmap`` + ``abc -liberty``; alias wires purged and port connections buffered,
    see the module docstring); HwsimError when yosys is missing or fails, or when the netlist still
    has an ``assign`` OpenSTA could not read."""
    params = tuple(sorted((k, int(v)) for k, v in parameters.items()))
    buf, buf_in, buf_out = buffer_cell(liberty)
    with tempfile.TemporaryDirectory(prefix="hwsim-yosys-") as tmp:
        net = Path(tmp) / "netlist.v"
        mapping = (f"dfflibmap -liberty {liberty}; abc -liberty {liberty}; opt_clean -purge; "
                   f"tee -q -o {Path(tmp) / 'stat.txt'} stat -liberty {liberty}; "
                   f"insbuf -buf {buf} {buf_in} {buf_out}; opt_clean -purge; "
                   f"write_verilog -noattr -noexpr {net}")
        text = _run_yosys(block, params, top, tuple(str(s) for s in sources), mapping, Path(tmp))
        netlist = net.read_text()
    cells, area = parse_liberty_stat(text)
    if not cells or area != area:
        raise HwsimError(f"yosys stat -liberty of {block} {dict(params)} gave no cells or no area:\n{text[-2000:]}")
    left = [ln.strip() for ln in netlist.splitlines() if ln.lstrip().startswith("assign ")]
    if left:
        raise HwsimError(f"netlist of {block} {dict(params)} keeps {len(left)} assign statement(s) after "
                         f"insbuf, which the Debian OpenSTA may not read: {left[:3]}")
    return CellMapping(block, dict(params), cells, area, netlist, tool_version("yosys"))
