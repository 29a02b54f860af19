"""Tables for the CLI (``hwsim gemm`` / ``hwsim workload``): pandas DataFrames, nothing printed."""

from __future__ import annotations

import pandas as pd

from hwsim.arch.config import accelerator as _accelerator
from hwsim.arch.config import operand_format

__all__ = ["gemm_table", "workload_table"]


def gemm_table(accelerator: str, m: int, k: int, n: int, a_format: str | None,
               w_format: str | None) -> pd.DataFrame:
    """One row: every cost field of ``A[m,k] @ W[k,n]`` on ``accelerator``.

    ``None`` formats mean the catalog entry's defaults; names are resolved through the catalog.
    """
    acc = _accelerator(accelerator)
    cost = acc.gemm(m, k, n, operand_format(a_format), operand_format(w_format))
    row = {"accelerator": acc.name, "m": m, "k": k, "n": n,
           "a_format": _fmt_name(a_format if a_format is not None else acc.a_format),
           "w_format": _fmt_name(w_format if w_format is not None else acc.w_format),
           **cost.as_dict()}
    return pd.DataFrame([row])


def workload_table(workload: str, accelerator: str, a_format: str | None,
                   w_format: str | None) -> pd.DataFrame:
    """One row per layer of the built-in ``workload`` on ``accelerator``."""
    acc = _accelerator(accelerator)
    df = acc.run(workload, operand_format(a_format), operand_format(w_format))
    df.insert(0, "accelerator", acc.name)
    return df


def _fmt_name(fmt: object) -> str:
    if isinstance(fmt, str):
        return fmt
    if isinstance(fmt, dict):
        return f"{fmt.get('kind')}{fmt.get('bits', '')}"
    return str(getattr(fmt, "name", fmt))
