"""How a simulated ``nn.Linear`` computes its GEMM: a strategy chosen once per layer at build time.

The datapath (:mod:`hwsim.bridge.datapath`) never asks what a layer's scheme is; it calls the
layer's :class:`GemmStrategy`:

- :class:`QuantizedGemm` (the default): quantize the weight once and the input on every call,
  each along K with its format, then matmul (:func:`matmul`: products exact, summed in float64 and
  rounded once, so the result does not depend on BLAS threading; or in a narrower format);
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

__all__ = ["GemmContext", "GemmStrategy", "Gemm", "QuantizedGemm", "quantize", "accumulate", "matmul", "linear"]

#: one executed GEMM: (layer-name suffix, m, k, n, activation operand, weight operand)
Gemm = tuple[str, int, int, int, Operand, Operand]


class GemmContext(Protocol):
    """What a strategy may use of the running simulation."""

    accumulate: Any  #: accumulator format (None: float64 sum rounded once, see :func:`matmul`)
    acc_block: int  #: products summed before each rounding into ``accumulate``
    deterministic: bool  #: float64 accumulation (True) or torch's own fp32 matmul (False)

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


def matmul(a: torch.Tensor, b: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
    """``a @ b`` of quantized operands, rounded once to ``a``'s dtype.

    ``deterministic``: every product of two fp32 (or narrower) values is exact in float64 (24 + 24
    significant bits <= 53), the products are summed in float64 and the sum is rounded once. A
    float64 sum's error (at most ``K * 2**-53`` of the sum of magnitudes) lies ``2**29 / K`` times
    below fp32's resolution, so the fp32 result no longer depends on the order in which BLAS adds
    the products (threads, blocking, matrix-vector vs matrix-matrix kernels) unless the exact sum
    lies within that bound of an fp32 rounding boundary. ``False``: torch's own fp32 matmul (faster;
    its summation order, hence its last bits, depends on the thread count and on the shapes).
    """
    if not deterministic or a.dtype == torch.float64:
        return torch.matmul(a, b)
    return torch.matmul(a.double(), b.double()).to(a.dtype)


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
           deterministic: bool = True) -> torch.Tensor:
    """``x @ weight^T + bias`` as :func:`matmul`: with ``deterministic`` the bias joins the float64
    sum and the result is rounded once."""
    if not deterministic or x.dtype == torch.float64:
        return F.linear(x, weight, bias)
    return F.linear(x.double(), weight.double(), None if bias is None else bias.double()).to(x.dtype)


def accumulate(a: torch.Tensor, b: torch.Tensor, acc: Any, block: int, deterministic: bool = True) -> torch.Tensor:
    """``a @ b`` with partial sums of ``block`` products rounded to ``acc`` and summed in ``acc``
    (each partial sum as :func:`matmul`, then rounded into ``acc``)."""
    k = a.shape[-1]
    out = None
    for s in range(0, k, block):
        part = acc.quantize(matmul(a[..., s:s + block], b[..., s:s + block, :], deterministic).float())
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
                return linear(xq, weight, bias, ctx.deterministic), gemms
            y = accumulate(xq, weight.t(), ctx.accumulate, ctx.acc_block, ctx.deterministic)
            return (y if bias is None else y + bias), gemms
