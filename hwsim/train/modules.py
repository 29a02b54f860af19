"""Quantized training modules, and :func:`convert`, which returns a new module tree using them.

As in the inference bridge (ARCHITECTURE: "returns new modules, never patches torch"),
:func:`convert` never changes the model it is given: it deep-copies it (the copy's fp32 parameters
become the master weights that training updates) and swaps

- every ``nn.Linear`` for a :class:`QLinear` (``y = qmatmul(x, W^T) + b``, reduced over ``in_features``),
- every ``nn.Conv2d`` (groups 1, numeric padding) for a :class:`QConv2d`: its im2col GEMM
  (``F.unfold`` order: the reduction axis ``K = C_in * kh * kw`` runs channel-major, so MX blocks
  along ``K`` span taps and channels; the tokens ``M = batch * output pixels``),
- every :class:`MatMul` (the attention matmuls of the models in :mod:`hwsim.train.models`) for a
  :class:`QMatMul`,

each with a :class:`~hwsim.train.autograd.GemmSite` on one shared
:class:`~hwsim.train.autograd.TrainState`. Bias gradients are sums over tokens, not GEMMs: they
are computed in float64 and rounded once (thread-count independent), in fp32 storage.
"""

from __future__ import annotations

import copy
from typing import Any

import numba as nb
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from hwsim.errors import HwsimError
from hwsim.train.autograd import GemmSite, TrainState, qmatmul
from hwsim.train.recipe import Recipe

__all__ = ["MatMul", "QLinear", "QConv2d", "QMatMul", "convert", "add_bias"]


class MatMul(nn.Module):
    """``a @ b`` as a module, so that :func:`convert` can find activation x activation matmuls."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class _AddBias(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, y: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.bias_shape = bias.shape
        return y + bias

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        (g,) = grads
        return g, _bias_grad(g).reshape(ctx.bias_shape)


def _bias_grad(g: torch.Tensor) -> torch.Tensor:
    """Sum of ``g`` over every axis but the last: float64 running sums over the tokens in order,
    rounded once to ``g``'s dtype (the bits of ``g.double().reshape(-1, n).sum(0)``, torch's
    row-order sum, without the float64 copy of ``g``: a test checks both)."""
    g2 = g.detach().reshape(-1, g.shape[-1])
    if g.dtype != torch.float32 or g.device.type != "cpu":
        return g2.double().sum(0).to(g.dtype)
    out = torch.empty(g2.shape[-1], dtype=torch.float32)
    _column_sums(g2.contiguous().numpy(), out.numpy())
    return out


@nb.njit(cache=True)
def _column_sums(g, out):
    """``out[j] = fl32(sum_i g[i, j])``, the sum in float64, rows in order (vectorized over j)."""
    acc = np.zeros(g.shape[1], np.float64)
    for i in range(g.shape[0]):
        row = g[i]
        for j in range(g.shape[1]):
            acc[j] += np.float64(row[j])
    for j in range(g.shape[1]):
        out[j] = np.float32(acc[j])


def add_bias(y: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``y + bias`` whose bias gradient is a float64 sum over tokens rounded once."""
    if bias is None:
        return y
    out = _AddBias.apply(y, bias)
    assert isinstance(out, torch.Tensor)
    return out


class QLinear(nn.Module):
    """``nn.Linear`` whose three GEMMs run on the recipe's formats (:func:`~hwsim.train.autograd.qmatmul`)."""

    def __init__(self, linear: nn.Linear, site: GemmSite):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = linear.weight
        self.bias = linear.bias
        self.site = site

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        y = qmatmul(x.reshape(-1, self.in_features), self.weight.t(), self.site)
        return add_bias(y, self.bias).reshape(*lead, self.out_features)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, site={self.site.name}"


class QConv2d(nn.Module):
    """``nn.Conv2d`` (groups 1) as its im2col GEMM on the recipe's formats."""

    def __init__(self, conv: nn.Conv2d, site: GemmSite):
        super().__init__()
        if conv.groups != 1 or isinstance(conv.padding, str) or conv.padding_mode != "zeros":
            raise HwsimError(f"{site.name}: only Conv2d with groups=1 and numeric zero padding is simulated")
        self.weight, self.bias, self.site = conv.weight, conv.bias, site
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding: Any = conv.padding
        self.dilation = conv.dilation
        self.out_channels = conv.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        cols = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)  # [B, K, L]
        k = cols.shape[1]
        a = cols.transpose(1, 2).reshape(-1, k)  # [B * L, K]
        y = qmatmul(a, self.weight.reshape(self.out_channels, k).t(), self.site)
        y = add_bias(y, self.bias)
        return y.reshape(b, ho * wo, self.out_channels).transpose(1, 2).reshape(b, self.out_channels, ho, wo)


class QMatMul(nn.Module):
    """:class:`MatMul` (attention's ``QK^T`` and ``PV``) on the recipe's formats; the right operand
    (K^T, V) takes the weight slot's format."""

    def __init__(self, site: GemmSite):
        super().__init__()
        self.site = site

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return qmatmul(a, b, self.site)


def convert(model: nn.Module, recipe: Recipe, state: TrainState | None = None) -> tuple[nn.Module, TrainState]:
    """A new module tree (a deep copy of ``model``) whose Linear, Conv2d and :class:`MatMul`
    modules run on ``recipe``, and the :class:`TrainState` they share. Sites are numbered in
    ``named_modules`` order (the number feeds the stochastic-rounding seeds).

    Raises:
        HwsimError: a Conv2d that is not simulated (groups, string padding).
    """
    state = state or TrainState(recipe)
    new = copy.deepcopy(model)
    index = 0
    for parent_name, parent in list(new.named_modules()):
        for child_name, child in list(parent.named_children()):
            name = f"{parent_name}.{child_name}" if parent_name else child_name
            if isinstance(child, nn.Linear):
                setattr(parent, child_name, QLinear(child, GemmSite(name, index, "linear", state)))
            elif isinstance(child, nn.Conv2d):
                setattr(parent, child_name, QConv2d(child, GemmSite(name, index, "conv", state)))
            elif isinstance(child, MatMul):
                setattr(parent, child_name, QMatMul(GemmSite(name, index, "attention", state)))
            else:
                continue
            index += 1
    return new, state
