"""``gemm="lut"``: a Linear layer's GEMM by bit-plane table lookup (T-MAC, arXiv 2407.00088 §3).

The weight is encoded once along K with its format and kept as T-MAC stores it: ``b``-bit level
codes plus a scale and zero point per group (:func:`hwsim.numerics.lut_gemm.lut_weights`). Each
call quantizes the input with the activation format (as the MAC path does), builds the tables of
every token and runs :func:`hwsim.numerics.lut_gemm.lut_gemm` (tables of ``g = 4`` activations;
``lut_table``: ``None`` full-precision entries, ``"fp32"`` float32 entries, ``"int8"`` T-MAC's
table quantization with one table scale per 64 activations, T-MAC's default ``act_group_size``).

With full-precision tables the result is the dequantized GEMM of the exact weights
``s (q - z)`` summed in float64 and rounded once -- the MAC path's arithmetic, except that the MAC
path multiplies the weights as ``fp32(s (q - z))`` (see the numerics module): both paths give the
same perplexity to the digits the reports print where those roundings vanish (measured in
docs/lut-gemm.md). A bias is added to the float32 result in one float32 addition (T-MAC's kernels
add it after the GEMM; SmolLM2's Linears have none). Runs on the host (numba); the result goes
back to the input's device.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from hwsim.bridge.gemm import Gemm, GemmContext
from hwsim.bridge.records import Operand
from hwsim.errors import HwsimError
from hwsim.numerics.lut_gemm import TABLE_FORMATS, LutWeights, lut_gemm, lut_weights

__all__ = ["GEMM_MODES", "LUT_TABLES", "LUT_ACT_GROUP", "LutGemm", "check_gemm_mode"]

#: how a Linear layer's GEMM runs: multiply-accumulate (the default) or table lookup
GEMM_MODES = ("mac", "lut")
#: table formats of ``gemm="lut"`` (None: full-precision entries)
LUT_TABLES = TABLE_FORMATS
#: activations sharing one int8 table scale (T-MAC ``QGeMMLUTBitsCodegen`` default act_group_size)
LUT_ACT_GROUP = 64


def check_gemm_mode(gemm: Any, lut_table: Any) -> None:
    """Raise :class:`HwsimError` for an unknown ``gemm`` mode or ``lut_table``."""
    if gemm not in GEMM_MODES:
        raise HwsimError(f"gemm={gemm!r} not one of {list(GEMM_MODES)}")
    if lut_table not in LUT_TABLES:
        raise HwsimError(f"lut_table={lut_table!r} not one of {list(LUT_TABLES)}")
    if lut_table is not None and gemm != "lut":
        raise HwsimError(f"lut_table={lut_table!r} needs gemm='lut'")


class LutGemm:
    """``y = lut_gemm(Q_a(x), W) + b`` with the weight held as LUT level codes (a GemmStrategy)."""

    __slots__ = ("weights", "activations", "a_operand", "weight_operand", "name", "table_format", "where")

    def __init__(self, weights: Any, activations: Any, a_operand: Operand, w_operand: Operand,
                 table_format: str | None = None, where: str = ""):
        if weights is None:
            raise HwsimError(f"{where or 'gemm=lut'}: table lookup needs quantized weights (an integer-grid "
                             "format such as int2_g64), not fp32")
        self.weights, self.activations = weights, activations
        self.a_operand, self.weight_operand = a_operand, w_operand
        self.table_format = table_format
        self.where = where
        self.name = w_operand.name

    def prepare(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        w = weight.detach().float().cpu().numpy()
        try:
            lw = lut_weights(self.weights, self.weights.encode(w, axis=-1))
        except HwsimError as exc:
            raise HwsimError(f"{self.where or 'gemm=lut'}: {exc}") from None
        return {"lut_q": torch.from_numpy(lw.q), "lut_scales": torch.from_numpy(lw.scales),
                "lut_zero": torch.from_numpy(lw.zero),
                "lut_shape": torch.tensor([lw.bits, lw.group_size], dtype=torch.int64)}

    def forward(self, x: torch.Tensor, buffers: Mapping[str, torch.Tensor], bias: torch.Tensor | None,
                ctx: GemmContext) -> tuple[torch.Tensor, list[Gemm]]:
        k = x.shape[-1]
        q = buffers["lut_q"]
        bits, group = (int(v) for v in buffers["lut_shape"].tolist())
        lw = LutWeights(q.numpy(), bits, group, buffers["lut_scales"].numpy(), buffers["lut_zero"].numpy(),
                        self.weights.name)
        gemms: list[Gemm] = [("", x.numel() // max(k, 1), k, q.shape[0], self.a_operand, self.weight_operand)]
        xq = ctx.quantize_activation(x, self.activations, -1)
        with ctx.inside():
            a = xq.detach().to("cpu", torch.float32).numpy()
            try:
                y = lut_gemm(a, lw, table_format=self.table_format, act_group=LUT_ACT_GROUP)
            except HwsimError as exc:
                raise HwsimError(f"{self.where or 'gemm=lut'}: {exc}") from None
            out = torch.from_numpy(np.ascontiguousarray(y)).to(device=x.device, dtype=x.dtype)
            if bias is not None:
                out = out + bias
        return out, gemms
