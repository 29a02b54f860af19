"""The RTL cost table (``hwsim rtl synth``, README "RTL blocks"): one row per synthesized instance.

Columns: cells (OSU 0.18 um standard cells), NAND2 equivalents (generic gates), area at 180 nm and
scaled to the catalog's nodes, critical path and maximum clock at 180 nm, energy per MAC at 180 nm
and scaled (:func:`hwsim.synth.costs.scale_from_180nm`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hwsim.synth.costs import RtlCost

__all__ = ["NODES_NM", "cost_table", "markdown_table"]

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
