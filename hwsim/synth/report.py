"""The RTL cost table (``hwsim rtl synth``, README "RTL blocks"): one row per synthesized instance.

Columns: cells (OSU 0.18 um standard cells), NAND2 equivalents (generic gates), area at 180 nm and
scaled to the catalog's nodes, critical path and maximum clock at 180 nm, energy per MAC at 180 nm
(N(0, 1) operands, and SmolLM2 weights as operands) and scaled (:func:`hwsim.synth.costs.scale_from_180nm`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hwsim.synth.costs import RtlCost

__all__ = ["NODES_NM", "cost_table", "markdown_table", "readme_table"]

#: the technology nodes of the accelerator catalog
NODES_NM = (45, 28, 7)


def cost_table(rows: Sequence[RtlCost], nodes: Sequence[float] = NODES_NM) -> pd.DataFrame:
    """The table of ``rows`` (block x format), figures scaled to every node of ``nodes``."""
    out = []
    for r in rows:
        rec: dict[str, object] = {"block": r.block, "instance": r.instance, "format": r.format,
                                  "covers": r.covers, "cells": r.cells, "nand2_eq": r.nand2_eq,
                                  "um2_180nm": r.area_um2}
        for n in nodes:
            rec[f"um2_{n:g}nm"] = round(r.scaled(n)[0], 2)
        rec["critical_path_ns"] = r.critical_path_ns
        rec["fmax_mhz"] = r.fmax_mhz
        rec["pj_mac_180nm"] = r.energy_pj_per_mac
        rec["pj_mac_180nm_smollm2"] = r.energy_pj_per_mac_smollm2
        for n in nodes:
            rec[f"pj_mac_{n:g}nm"] = round(r.scaled(n)[1], 4)
        out.append(rec)
    return pd.DataFrame(out)


def markdown_table(df: pd.DataFrame) -> str:
    """``df`` as a GitHub markdown table (numbers right-aligned; no tabulate dependency)."""
    cols = list(df.columns)
    num = [df[c].dtype.kind in "iuf" for c in cols]
    lines = ["| " + " | ".join(cols) + " |",
             "|" + "|".join("---:" if k else "---" for k in num) + "|"]
    for _, row in df.iterrows():
        cells = (f"{row[c]:g}" if k else str(row[c]) for c, k in zip(cols, num, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _num(x: float) -> str:
    """A table number: thousands separators from 1,000, four significant digits below."""
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def readme_table(rows: Sequence[RtlCost], node_nm: float = 28.0) -> str:
    """The README's "RTL blocks" table (markdown): per instance its MACs per cycle, cells, NAND2
    equivalents, area at 180 nm and per MAC lane at ``node_nm``, critical path, energy per MAC at
    180 nm with N(0, 1) operands and with SmolLM2 weights, and at ``node_nm``.
    tests/rtl/test_synth_flow.py checks that README.md holds exactly this table for the committed CSV."""
    head = ["block", "instance", "format", "MACs/cycle", "cells", "NAND2-eq", "µm² 180 nm",
            f"µm²/MAC {node_nm:g} nm", "critical path ns", "pJ/MAC 180 nm", "pJ/MAC 180 nm SmolLM2",
            f"pJ/MAC {node_nm:g} nm"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|" + "---:|" * (len(head) - 3)]
    for r in rows:
        area, energy = r.scaled(node_nm)
        per_mac = area / max(1.0, r.macs_per_cycle)
        cells = [r.block, r.instance, f"`{r.format}`", f"{r.macs_per_cycle:g}", f"{r.cells:,}", _num(r.nand2_eq),
                 _num(r.area_um2), _num(per_mac), _num(r.critical_path_ns), _num(r.energy_pj_per_mac),
                 _num(r.energy_pj_per_mac_smollm2), _num(energy)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
