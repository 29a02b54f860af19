"""The synthesis flow: every registered block instance -> cells, area, critical path, energy per MAC.

For each instance of ``rtl/blocks.toml`` (:mod:`hwsim.synth.registry`):

1. yosys to generic gates -> NAND2 equivalents (:func:`hwsim.synth.yosys.synth_generic`);
2. yosys to the OSU 0.18 um standard cells -> cell breakdown, ``stat -liberty`` um^2, netlist
   (:func:`hwsim.synth.yosys.synth_liberty`);
3. switching activity of the operand ports from hwsim-encoded operands, twice: N(0, 1) samples and
   SmolLM2 weights (:mod:`hwsim.synth.activity`);
4. OpenSTA: critical path -> maximum clock, total power at that clock for each activity
   (:func:`hwsim.synth.sta.analyze`); energy per MAC = power x period / ``macs_per_cycle``
   (the N(0, 1) figure is the one ``mac_cost = "rtl"`` uses).

Results go to the committed CSV (:mod:`hwsim.synth.costs`), one row per instance, keyed by
(block, parameters, source hash, liberty hash, yosys version, OpenSTA version): a rerun with an
unchanged key reuses the row instead of synthesizing again (``force`` redoes it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

from hwsim.catalog import get_format
from hwsim.errors import HwsimError
from hwsim.synth.activity import DEFAULT_ACTIVITY, N_CYCLES, SOURCES, operand_activity
from hwsim.synth.costs import COSTS_CSV, RtlCost, format_element_key, read_costs, write_costs
from hwsim.synth.registry import Block, Instance, load_blocks
from hwsim.synth.sta import analyze
from hwsim.synth.tools import liberty_path, missing_tool, tool_version
from hwsim.synth.yosys import synth_generic, synth_liberty

__all__ = ["missing_synth_tools", "instance_key", "synthesize", "run_flow"]


def missing_synth_tools() -> str | None:
    """None when yosys, OpenSTA and the liberty are all present, else what is missing."""
    msgs = [m for m in (missing_tool("yosys"), missing_tool("opensta"), missing_tool("liberty")) if m]
    return "; ".join(msgs) or None


def _sha(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.name.encode() + b"\0" + p.read_bytes())
    return digest.hexdigest()[:12]


def _params(inst: Instance) -> str:
    return ";".join(f"{k}={v}" for k, v in sorted(inst.parameters.items()))


def instance_key(block: Block, inst: Instance, liberty: Path | None = None) -> tuple[str, str, str, str, str, str]:
    """The cache key a fresh synthesis of ``inst`` would have (:attr:`RtlCost.key`)."""
    lib = liberty or liberty_path()
    return (block.name, _params(inst), _sha(block.sources), f"{lib.name}:{_sha([lib])}",
            tool_version("yosys"), tool_version("opensta"))


def synthesize(block: Block, inst: Instance, liberty: Path | None = None) -> RtlCost:
    """Run the whole flow on one instance (HwsimError naming what failed or is missing)."""
    missing = missing_synth_tools()
    if missing:
        raise HwsimError(missing)
    lib = liberty or liberty_path()
    fmt = get_format(inst.format)
    spec = fmt.operand
    block_size = next((s.group_size for s in spec.scales if s.granularity in ("block", "group")), 0) or 0
    gates = synth_generic(block.name, inst.parameters, block.top, block.sources)
    cells = synth_liberty(block.name, inst.parameters, block.top, block.sources, lib)
    power = {}
    for source in SOURCES if block.operands else SOURCES[:1]:  # without operand ports: one analysis
        activity = operand_activity(cells.netlist, block.operands, inst.format, source=source) if block.operands else {}
        power[source] = analyze(cells.netlist, block.top, lib, clock=block.clock, activity=activity,
                                default_activity=DEFAULT_ACTIVITY, static=block.static)
    power.setdefault("smollm2", power["normal"])
    sta, sta_llm = power["normal"], power["smollm2"]
    if block.operands:
        label = (f"ports {'/'.join(sorted(block.operands))}: hwsim-encoded N(0,1) {inst.format} "
                 f"(SmolLM2 columns: SmolLM2 layer-0 weights), {N_CYCLES} cycles; "
                 f"other inputs {DEFAULT_ACTIVITY}" + (f", {'/'.join(block.static)} constant" if block.static else ""))
    else:
        label = f"default {DEFAULT_ACTIVITY} on every input (no operand ports registered)"
    key = instance_key(block, inst, lib)
    return RtlCost(
        block=block.name, instance=inst.name, format=inst.format,
        element=format_element_key(fmt),
        block_size=int(block_size), covers=block.covers, macs_per_cycle=block.macs(inst),
        parameters=key[1], cells=cells.n_cells, nand2_eq=gates.nand2_eq, area_um2=round(cells.area_um2, 3),
        critical_path_ns=round(sta.critical_path_ns, 4), fmax_mhz=round(sta.fmax_mhz, 2),
        power_mw=round(sta.power_w * 1e3, 5),
        energy_pj_per_mac=round(sta.energy_pj_per_cycle / block.macs(inst), 5),
        power_mw_smollm2=round(sta_llm.power_w * 1e3, 5),
        energy_pj_per_mac_smollm2=round(sta_llm.energy_pj_per_cycle / block.macs(inst), 5),
        activity=label, cell_breakdown=" ".join(f"{c}:{n}" for c, n in sorted(cells.cells.items())),
        liberty=key[3], yosys=key[4], opensta=key[5], source_sha=key[2])


def run_flow(blocks: Sequence[str] | None = None, *, csv_path: str | Path | None = None, force: bool = False,
             registry: str | Path | None = None) -> tuple[list[RtlCost], list[RtlCost]]:
    """Synthesize the instances of ``blocks`` (default: every registered block), merge them into the
    CSV (default :data:`~hwsim.synth.costs.COSTS_CSV`) and write it.

    Rows whose cache key is unchanged are reused unless ``force``; rows of other blocks are kept
    (unless the file has an older column layout, which is replaced). The CSV is rewritten
    (atomically) after every instance synthesized, so a failure or a kill loses only the instance in
    flight; the rows the file held for instances not yet redone stay until they are.
    Returns (every row written, the rows synthesized in this call).
    """
    registered = load_blocks(registry)
    names = list(registered) if blocks is None else list(blocks)
    for n in names:
        if n not in registered:
            raise HwsimError(f"unknown RTL block {n!r}; registered: {sorted(registered)}")
    path = Path(csv_path) if csv_path is not None else COSTS_CSV
    try:
        old = read_costs(path) if path.exists() else []
    except HwsimError:  # a CSV of an older column layout: nothing in it can be reused
        old = []
    cached = {r.key: r for r in old}
    fresh: list[RtlCost] = []
    new_rows: dict[tuple[str, str], RtlCost] = {}
    order = [b for b in registered] + sorted({r.block for r in old} - set(registered))

    def merged() -> list[RtlCost]:
        """Rows in registry order: this call's rows, else the file's row of the same instance."""
        rows: list[RtlCost] = []
        for b in order:
            if b in names:
                for i in registered[b].instances:
                    row = new_rows.get((b, i.name)) or next(
                        (r for r in old if r.block == b and r.instance == i.name), None)
                    rows += [row] if row is not None else []
            else:
                rows += [r for r in old if r.block == b]
        return rows

    for n in names:
        block = registered[n]
        for inst in block.instances:
            hit = None if force else cached.get(instance_key(block, inst))
            if hit is not None and hit.instance == inst.name and hit.format == inst.format:
                new_rows[(n, inst.name)] = hit
            else:
                new_rows[(n, inst.name)] = row = synthesize(block, inst)
                fresh.append(row)
                write_costs(merged(), path)  # every finished instance is kept if a later one fails
    rows = merged()
    write_costs(rows, path)
    return rows, fresh
