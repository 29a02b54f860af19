"""How a simulated ``nn.Linear`` computes its GEMM: a strategy chosen once per layer at build time.

The datapath (:mod:`hwsim.bridge.datapath`) never asks what a layer's scheme is; it calls the
layer's :class:`GemmStrategy`:

- :class:`QuantizedGemm` (the default): quantize the weight once and the input on every call,
  each along K with its format, then matmul (accumulating in fp32 or in a narrower format);
- :class:`hwsim.bridge.llm_int8.LlmInt8Gemm` (``weights="llm_int8"``): LLM.int8()'s vector-wise
  int8 GEMM plus the fp16 outlier-column GEMM (arXiv 2208.07339 §3).

Each returns the output and the GEMMs it ran (a layer-name suffix, ``m, k, n`` and the two
:class:`~hwsim.bridge.records.Operand` objects), which the datapath records.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from hwsim.bridge.records import Operand

__all__ = ["GemmContext", "GemmStrategy", "Gemm", "QuantizedGemm", "quantize", "accumulate"]

#: one executed GEMM: (layer-name suffix, m, k, n, activation operand, weight operand)
Gemm = tuple[str, int, int, int, Operand, Operand]


class GemmContext(Protocol):
    """What a strategy may use of the running simulation."""

    accumulate: Any  #: accumulator format (None: fp32)
    acc_block: int  #: products summed before each rounding into ``accumulate``

    def inside(self) -> AbstractContextManager[Any]:
        """Torch calls made inside bypass the simulation's GEMM interception."""
        ...

    def quantize_activation(self, x: torch.Tensor, fmt: Any, axis: int) -> torch.Tensor:
        """``fmt.quantize(x)`` along ``axis``, reusing the last result for the same tensor."""
        ...


@runtime_checkable
class GemmStrategy(Protocol):
    """The GEMM of one Linear layer on the simulated datapath (``weights=`` may be one, e.g.
    ``LlmInt8Gemm(threshold=4.0)``)."""

    name: str  #: what the weight column of the report shows
    weight_operand: Operand  #: the weight operand the array is built for (area)

    def prepare(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        """Buffers the layer keeps, computed once from the ``[N, K]`` weight."""
        ...

    def forward(self, x: torch.Tensor, buffers: Mapping[str, torch.Tensor], bias: torch.Tensor | None,
                ctx: GemmContext) -> tuple[torch.Tensor, list[Gemm]]:
        """``y = x @ W^T + bias`` for ``x [..., K]`` and the GEMMs that ran."""
        ...


def quantize(fmt: Any, x: torch.Tensor, axis: int) -> torch.Tensor:
    """``fmt.quantize`` on a torch tensor (float32 result cast back to x's dtype); None: x."""
    if fmt is None:
        return x
    y = fmt.quantize(x.detach(), axis=axis)
    return y if y.dtype == x.dtype else y.to(x.dtype)


def accumulate(a: torch.Tensor, b: torch.Tensor, acc: Any, block: int) -> torch.Tensor:
    """``a @ b`` with partial sums of ``block`` products rounded to ``acc`` and summed in ``acc``."""
    k = a.shape[-1]
    out = None
    for s in range(0, k, block):
        part = acc.quantize(torch.matmul(a[..., s:s + block], b[..., s:s + block, :]).float())
        out = part if out is None else acc.quantize(out + part)
    assert out is not None
    return out.to(a.dtype)


class QuantizedGemm:
    """The default: ``y = Q_a(x) @ Q_w(W)^T + b``, both quantized along K with their formats."""

    __slots__ = ("weights", "activations", "a_operand", "weight_operand", "name")

    def __init__(self, weights: Any, activations: Any, a_operand: Operand, w_operand: Operand):
        self.weights, self.activations = weights, activations
        self.a_operand, self.weight_operand = a_operand, w_operand
        self.name = w_operand.name

    def prepare(self, weight: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"weight": quantize(self.weights, weight, -1)}

    def forward(self, x: torch.Tensor, buffers: Mapping[str, torch.Tensor], bias: torch.Tensor | None,
                ctx: GemmContext) -> tuple[torch.Tensor, list[Gemm]]:
        k = x.shape[-1]
        weight = buffers["weight"]
        gemms: list[Gemm] = [("", x.numel() // max(k, 1), k, weight.shape[0], self.a_operand, self.weight_operand)]
        xq = ctx.quantize_activation(x, self.activations, -1)
        with ctx.inside():
            if ctx.accumulate is None:
                return F.linear(xq, weight, bias), gemms
            y = accumulate(xq, weight.t(), ctx.accumulate, ctx.acc_block)
            return (y if bias is None else y + bias), gemms
