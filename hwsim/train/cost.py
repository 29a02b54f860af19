"""The cost of one training step on an accelerator from :mod:`hwsim.arch`.

A step runs three GEMMs per layer (forward, dgrad, wgrad; the first layer has no dgrad because its
input needs no gradient), each with its own operand formats (:class:`~hwsim.train.autograd.GemmShape`,
recorded during the first step). Each is priced with ``Accelerator.gemm(m, k, n, a_format,
w_format)`` (the left operand in the activation slot, the right one in the weight slot; an
unquantized operand as the catalog's ``fp32``) and multiplied by its batch count (attention's
per-head matmuls). Not priced: element-wise work (softmax, LayerNorm, GELU, the optimizer), the
quantization passes themselves and the random Hadamard transform.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hwsim.catalog import get_format
from hwsim.train.autograd import GemmShape

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["step_cost", "cost_summary", "DEFAULT_ACCELERATOR"]

DEFAULT_ACCELERATOR = "mx-systolic-32"


def step_cost(gemms: Sequence[GemmShape], accelerator: Any = DEFAULT_ACCELERATOR) -> pd.DataFrame:
    """One row per GEMM of the step: ``site, kind, role, batch, m, k, n, a_format, b_format, macs,
    cycles, energy_pj`` and the energy breakdown (``energy_mac_pj`` ...), all for ``batch`` GEMMs."""
    import pandas as pd

    from hwsim.arch.config import accelerator as catalog_accelerator

    acc = catalog_accelerator(accelerator) if isinstance(accelerator, str) else accelerator
    fp32 = get_format("fp32")
    rows = []
    for g in gemms:
        fa, fb = g.a_format or fp32, g.b_format or fp32
        c = acc.gemm(g.m, g.k, g.n, fa, fb)
        rows.append({"site": g.site, "kind": g.kind, "role": g.role, "batch": g.batch, "m": g.m, "k": g.k,
                     "n": g.n, "a_format": fa.name, "b_format": fb.name,
                     "macs": int(c.macs) * g.batch, "cycles": int(c.cycles) * g.batch,
                     "energy_pj": float(c.energy_pj) * g.batch,
                     **{f"energy_{k}_pj": float(v) * g.batch for k, v in c.energy_breakdown().items()}})
    return pd.DataFrame(rows)


def cost_summary(table: pd.DataFrame, tokens_per_step: int) -> dict[str, Any]:
    """Totals of a :func:`step_cost` table: energy and cycles per step, energy per token, and the
    share of each role (``energy_forward_uj`` ...)."""
    energy = table["energy_pj"].to_numpy(dtype=float)
    roles = table["role"].to_numpy()
    out = {"energy_step_uj": energy.sum() / 1e6,
           "energy_token_nj": energy.sum() / 1e3 / max(1, tokens_per_step),
           "cycles_step": int(table["cycles"].to_numpy().sum()), "macs_step": int(table["macs"].to_numpy().sum())}
    for role in ("forward", "dgrad", "wgrad"):
        out[f"energy_{role}_uj"] = energy[roles == role].sum() / 1e6
    return out
