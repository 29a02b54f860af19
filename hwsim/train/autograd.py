"""The three quantized GEMMs of a layer as one autograd function.

:func:`qmatmul` computes ``a @ b`` (``a [..., M, K]``, ``b [..., K, N]`` or a shared ``[K, N]``)
on the simulated training datapath of a :class:`~hwsim.train.recipe.Recipe`:

- forward ``Y = Q(a) @ Q(b)``: ``a`` quantized along ``K`` (axis -1), ``b`` along ``K`` (axis -2);
- dgrad ``dA = Q(dY) @ Q(b)^T``: ``dY`` and ``b`` quantized along ``N`` (both axis -1);
- wgrad ``dB = Q(a)^T @ Q(dY)``: ``a`` and ``dY`` quantized along ``M`` (axis -2), after the random
  Hadamard transform along ``M`` when the recipe has ``rht_block``; for a shared ``b`` every leading
  dimension of ``a`` and ``dY`` joins ``M`` (a Linear layer's weight gradient sums over all tokens).

Each operand is re-quantized from its fp32 value for each GEMM (the MX training axis rule: the same
tensor is blocked along different axes in forward and backward, Rouhani et al. arXiv 2310.10537
§4). The products of the quantized operands are exact in float64 and summed in float64, then
rounded once to fp32 (as :func:`hwsim.bridge.gemm.matmul`), so results do not depend on the BLAS
thread count; the DFP recipes run the integer datapath of :mod:`hwsim.train.dfp` instead.

Stochastic rounding (the recipe's gradient operands) draws its bits from the format's seeded hash
of the element index (docs/numerics.md); the seed of every quantization is derived from the
recipe's seed, the training step, the layer and the operand slot (:meth:`GemmSite.seed`), so a run
is reproducible bit for bit and no two GEMMs reuse the same random bits.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from hwsim.numerics.format import Format
from hwsim.numerics.types import RoundMode
from hwsim.train import dfp
from hwsim.train.hadamard import rht
from hwsim.train.recipe import ROLES, SLOTS, Recipe

__all__ = ["TrainState", "GemmSite", "GemmShape", "qmatmul", "derive_seed"]


def derive_seed(*parts: int) -> int:
    """A 31-bit seed from integers (blake2b of their decimal text): independent streams per
    (recipe seed, step, layer, slot, call)."""
    digest = hashlib.blake2b(",".join(str(int(p)) for p in parts).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class GemmShape:
    """One GEMM of a training step: ``batch`` GEMMs of ``A[m, k] @ B[k, n]`` for ``role`` of ``site``."""

    site: str
    kind: str
    role: str
    batch: int
    m: int
    k: int
    n: int
    a_format: Format | None
    b_format: Format | None


@dataclass
class TrainState:
    """What the quantized layers of one model share: the recipe, the current step, the DFP
    overflow counts and (while ``recording``) the shapes of the GEMMs that ran."""

    recipe: Recipe
    step: int = 0
    recording: bool = False
    #: float64 sums rounded once (thread-count independent, the default); False: torch's fp32
    #: matmul of the same quantized operands (faster; its last bits depend on BLAS blocking/threads)
    deterministic: bool = True
    gemms: list[GemmShape] = field(default_factory=list)
    overflows: dict[tuple[str, str], int] = field(default_factory=dict)
    outputs: dict[tuple[str, str], int] = field(default_factory=dict)  #: integer GEMM outputs computed

    def count_overflow(self, site: str, role: str, n: int, outputs: int) -> None:
        key = (site, role)
        self.overflows[key] = self.overflows.get(key, 0) + n
        self.outputs[key] = self.outputs.get(key, 0) + outputs

    @property
    def total_overflows(self) -> int:
        return sum(self.overflows.values())


class GemmSite:
    """One layer's GEMMs (a Linear, a Conv2d or an attention matmul) on the recipe's datapath."""

    def __init__(self, name: str, index: int, kind: str, state: TrainState):
        self.name, self.index, self.kind, self.state = name, index, kind, state
        self._step = -1
        self._calls = 0

    def format(self, role: str, operand: str) -> Format | None:
        if self.kind == "attention" and not self.state.recipe.attention:
            return None
        return self.state.recipe.format_of(role, operand)

    def begin_call(self) -> int:
        """The call number of this site within the current step (a layer used twice per step draws
        different stochastic bits each time)."""
        if self._step != self.state.step:
            self._step, self._calls = self.state.step, 0
        self._calls += 1
        return self._calls - 1

    def seed(self, slot: int, call: int) -> int:
        return derive_seed(self.state.recipe.seed, self.state.step, self.index, slot, call)

    def quantize(self, x: torch.Tensor, role: str, operand: str, axis: int, call: int) -> torch.Tensor:
        """``x`` quantized for one operand slot (per tensor for DFP, else along ``axis``)."""
        fmt = self.format(role, operand)
        if fmt is None:
            return x
        if fmt.rounding is RoundMode.STOCHASTIC:
            fmt = fmt.replace(seed=self.seed(SLOTS.index((role, operand)), call))
        if self.state.recipe.integer:
            return dfp.quantize_tensor(fmt, x)
        return fmt.quantize(x.detach(), axis=axis)

    def gemm(self, a: torch.Tensor, b: torch.Tensor, role: str) -> torch.Tensor:
        """``a @ b`` of quantized operands: float64 sum rounded once, or the DFP integer GEMM."""
        recipe = self.state.recipe
        fa, fb = (self.format(role, op) for op in ROLES[role])
        if recipe.integer and fa is not None and fb is not None:
            y, over = dfp.dfp_matmul(a, b, fa, fb, recipe.overflow_handling)
            self.state.count_overflow(self.name, role, over, y.numel())
            return y
        if not self.state.deterministic:
            return torch.matmul(a, b)
        return torch.matmul(a.double(), b.double()).to(torch.float32)

    def record(self, role: str, lead: tuple[int, ...], m: int, k: int, n: int) -> None:
        if self.state.recording:
            fa, fb = (self.format(role, op) for op in ROLES[role])
            self.state.gemms.append(GemmShape(self.name, self.kind, role, math.prod(lead), m, k, n, fa, fb))

    def rht_block(self) -> int:
        return self.state.recipe.rht_block if self.format("wgrad", "dy") is not None else 0


class _QMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor, site: GemmSite) -> torch.Tensor:  # type: ignore[override]
        call = site.begin_call()
        ctx.site, ctx.call = site, call
        ctx.save_for_backward(a, b)
        aq = site.quantize(a, "forward", "x", -1, call)
        bq = site.quantize(b, "forward", "w", -2, call)
        site.record("forward", tuple(a.shape[:-2]) if b.dim() > 2 else (), a.shape[-2] if b.dim() > 2 else
                    a.numel() // a.shape[-1], a.shape[-1], b.shape[-1])
        return site.gemm(aq, bq, "forward")

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        (g,) = grads
        a, b = ctx.saved_tensors
        site: GemmSite = ctx.site
        call = ctx.call
        ga = gb = None
        shared = b.dim() == 2
        k, n = b.shape[-2], b.shape[-1]
        if ctx.needs_input_grad[0]:
            gq = site.quantize(g, "dgrad", "dy", -1, call)
            bq = site.quantize(b, "dgrad", "w", -1, call)
            site.record("dgrad", () if shared else tuple(g.shape[:-2]), g.numel() // n if shared else g.shape[-2],
                        n, k)
            ga = site.gemm(gq, bq.transpose(-1, -2), "dgrad")
        if ctx.needs_input_grad[1]:
            a2 = a.reshape(-1, k) if shared else a
            g2 = g.reshape(-1, n) if shared else g
            block = site.rht_block()
            if block:
                seed = site.seed(len(SLOTS), call)  # the RHT signs: one draw shared by both operands
                a2, g2 = rht(a2, block, seed), rht(g2, block, seed)
            aq = site.quantize(a2, "wgrad", "x", -2, call)
            gq = site.quantize(g2, "wgrad", "dy", -2, call)
            site.record("wgrad", tuple(a2.shape[:-2]), k, a2.shape[-2], n)
            gb = site.gemm(aq.transpose(-1, -2), gq, "wgrad")
        return ga, gb, None


def qmatmul(a: torch.Tensor, b: torch.Tensor, site: GemmSite) -> torch.Tensor:
    """``a @ b`` with its forward, dgrad and wgrad GEMMs on ``site``'s recipe (see module doc)."""
    out = _QMatmul.apply(a, b, site)
    assert isinstance(out, torch.Tensor)
    return out
