"""The three quantized GEMMs of a layer as one autograd function.

:func:`qmatmul` computes ``a @ b`` (``a [..., M, K]``, ``b [..., K, N]`` or a shared ``[K, N]``)
on the simulated training datapath of a :class:`~hwsim.train.recipe.Recipe`:

- forward ``Y = Q(a) @ Q(b)``: ``a`` quantized along ``K`` (axis -1), ``b`` along ``K`` (axis -2);
- dgrad ``dA = Q(dY) @ Q(b)^T``: ``dY`` and ``b`` quantized along ``N`` (both axis -1);
- wgrad ``dB = Q(a)^T @ Q(dY)``: ``a`` and ``dY`` quantized along ``M``, after the random
  Hadamard transform along ``M`` when the recipe has ``rht_block``; for a shared ``b`` every leading
  dimension of ``a`` and ``dY`` joins ``M`` (a Linear layer's weight gradient sums over all tokens).
  Both are quantized in the layout this GEMM reads them, ``[..., C, M]`` with ``M`` contiguous
  (:func:`~hwsim.train.hadamard.rht_transposed` writes that layout; without RHT a transposed
  copy): blocks along ``M`` are the same either way, and a stochastic rounding draw's element
  index is the flat index in this layout.

Each operand is re-quantized from its fp32 value for each GEMM (the MX training axis rule: the same
tensor is blocked along different axes in forward and backward, Rouhani et al. arXiv 2310.10537
§4). Where the axis cannot matter (an elementwise format such as bf16, or a DFP tensor with one
exponent per tensor) and the rounding is deterministic, the operand quantized for the forward GEMM
is the one the backward GEMM reads (bit-identical to quantizing again, and what hardware that
stores the quantized tensor does), so ``x``, ``w`` and ``dy`` are each quantized once per step.

How the quantized operands are multiplied (:attr:`TrainState.accumulate`):

- ``"fp32"`` (default): torch's fp32 matmul, the fp32 accumulator of the training hardware these
  recipes come from (tensor cores, MX/NVFP4 units accumulate in fp32). Its summation order depends
  on the BLAS blocking and thread count, so with ``TrainState.deterministic`` (default) every GEMM
  runs on one intra-op thread, and so does the rest of torch's step under
  :func:`hwsim.train.loop.train` (its other CPU reductions, e.g. LayerNorm's weight gradient, are
  thread-dependent too); the quantization kernels are thread-independent by construction, so the
  same recipe and seed give the same bits at any thread count. ``deterministic=False`` lets the
  GEMM use every thread (faster on many cores; last bits vary).
- ``"float64"``: the products (exact in float64 for these formats) summed in float64 and rounded
  once to fp32, as the inference bridge's :func:`hwsim.bridge.gemm.matmul`: an idealized accumulator,
  2-3x slower on CPU.

The DFP recipes always run the exact integer datapath of :mod:`hwsim.train.dfp`.

Stochastic rounding (the recipe's gradient operands) draws its bits from the format's seeded hash
of the element index (docs/numerics.md); the seed of every quantization is derived from the
recipe's seed, the training step, the layer and the operand slot (:meth:`GemmSite.seed`), so a run
is reproducible bit for bit and no two GEMMs reuse the same random bits.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from hwsim.errors import HwsimError
from hwsim.numerics.format import Format
from hwsim.numerics.types import RoundMode
from hwsim.train import dfp
from hwsim.train.hadamard import rht_transposed
from hwsim.train.recipe import ROLES, SLOTS, Recipe

__all__ = ["TrainState", "GemmSite", "GemmShape", "qmatmul", "derive_seed", "ACCUMULATORS"]

#: a quantized GEMM operand: fp32 values, or the integers of a DFP tensor
Operand = torch.Tensor | dfp.DfpTensor

#: how :meth:`GemmSite.gemm` sums the products of quantized operands (module docstring)
ACCUMULATORS = ("fp32", "float64")


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` inside (a no-op when it already is)."""
    n0 = torch.get_num_threads()
    if n0 == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(n0)


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
    #: fp32 GEMMs on one intra-op thread (the same bits at any thread count, the default); False:
    #: on every thread (faster on many cores; the last bits depend on BLAS blocking and threads)
    deterministic: bool = True
    #: ``"fp32"`` (torch's fp32 matmul) or ``"float64"`` (exact products summed in float64, rounded once)
    accumulate: str = "fp32"
    gemms: list[GemmShape] = field(default_factory=list)
    overflows: dict[tuple[str, str], int] = field(default_factory=dict)
    outputs: dict[tuple[str, str], int] = field(default_factory=dict)  #: integer GEMM outputs computed

    def __post_init__(self) -> None:
        if self.accumulate not in ACCUMULATORS:
            raise HwsimError(f"TrainState.accumulate: {self.accumulate!r} not one of {list(ACCUMULATORS)}")

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

    def quantize(self, x: torch.Tensor, role: str, operand: str, axis: int, call: int) -> Operand:
        """``x`` quantized for one operand slot: along ``axis``, or as a :class:`~hwsim.train.dfp.DfpTensor`
        (one exponent per tensor) on the integer datapath."""
        fmt = self.format(role, operand)
        if fmt is None:
            return x
        if fmt.rounding is RoundMode.STOCHASTIC:
            fmt = fmt.replace(seed=self.seed(SLOTS.index((role, operand)), call))
        if self.state.recipe.integer:
            return dfp.encode_tensor(fmt, x)
        return fmt.quantize(x.detach(), axis=axis)

    def gemm(self, a: Operand, b: Operand, role: str) -> torch.Tensor:
        """``a @ b`` of quantized operands (:attr:`TrainState.accumulate`), or the DFP integer GEMM."""
        recipe = self.state.recipe
        if isinstance(a, dfp.DfpTensor) and isinstance(b, dfp.DfpTensor):
            y, over = dfp.dfp_gemm(a, b, recipe.overflow_handling)
            self.state.count_overflow(self.name, role, over, y.numel())
            return y
        assert isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)  # both DFP or neither
        if self.state.accumulate == "float64":
            return torch.matmul(a.double(), b.double()).to(torch.float32)
        if not self.state.deterministic:
            return torch.matmul(a, b)
        with _torch_threads(1):
            return torch.matmul(a, b)

    def reusable(self, first: tuple[str, str], second: tuple[str, str]) -> bool:
        """Whether slot ``second`` quantizes a tensor exactly as slot ``first`` did, whatever the
        axis: the same format, deterministic rounding, and no axis in the format (elementwise, or
        a DFP tensor with one exponent per tensor)."""
        fa, fb = self.format(*first), self.format(*second)
        if fa is None or fa != fb or fa.rounding is RoundMode.STOCHASTIC:
            return False
        return self.state.recipe.integer or not fa.is_scaled

    def record(self, role: str, lead: tuple[int, ...], m: int, k: int, n: int) -> None:
        if self.state.recording:
            fa, fb = (self.format(role, op) for op in ROLES[role])
            self.state.gemms.append(GemmShape(self.name, self.kind, role, math.prod(lead), m, k, n, fa, fb))

    def rht_block(self) -> int:
        return self.state.recipe.rht_block if self.format("wgrad", "dy") is not None else 0


def _wgrad_operand(site: GemmSite, x_t: torch.Tensor | None, x: torch.Tensor, operand: str, call: int) -> Operand:
    """A wgrad operand as ``[..., C, M]``, quantized along ``M``: ``x_t`` (the RHT's output, already
    in that layout) or ``x [..., M, C]`` copied into it (C-contiguous, so the codec quantizes its
    last axis without transposing there and back); an unquantized ``x`` as a transposed view."""
    if x_t is not None:
        return site.quantize(x_t, "wgrad", operand, -1, call)
    if site.format("wgrad", operand) is None:
        return x.transpose(-1, -2)
    return site.quantize(x.detach().transpose(-1, -2).contiguous(), "wgrad", operand, -1, call)


class _QMatmul(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor, site: GemmSite) -> torch.Tensor:  # type: ignore[override]
        call = site.begin_call()
        ctx.site, ctx.call = site, call
        ctx.save_for_backward(a, b)
        aq = site.quantize(a, "forward", "x", -1, call)
        bq = site.quantize(b, "forward", "w", -2, call)
        # kept for the backward GEMMs where quantizing again would give the same bits
        ctx.aq = aq if not site.rht_block() and site.reusable(("forward", "x"), ("wgrad", "x")) else None
        ctx.bq = bq if site.reusable(("forward", "w"), ("dgrad", "w")) else None
        site.record("forward", tuple(a.shape[:-2]) if b.dim() > 2 else (), a.shape[-2] if b.dim() > 2 else
                    a.numel() // a.shape[-1], a.shape[-1], b.shape[-1])
        return site.gemm(aq, bq, "forward")

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        (g,) = grads
        a, b = ctx.saved_tensors
        site: GemmSite = ctx.site
        call = ctx.call
        ga = gb = gq_dgrad = None
        shared = b.dim() == 2
        k, n = b.shape[-2], b.shape[-1]
        if ctx.needs_input_grad[0]:
            gq_dgrad = site.quantize(g, "dgrad", "dy", -1, call)
            bq = ctx.bq if ctx.bq is not None else site.quantize(b, "dgrad", "w", -1, call)
            site.record("dgrad", () if shared else tuple(g.shape[:-2]), g.numel() // n if shared else g.shape[-2],
                        n, k)
            ga = site.gemm(gq_dgrad, bq.transpose(-1, -2), "dgrad")
        if ctx.needs_input_grad[1]:
            a2 = a.reshape(-1, k) if shared else a
            g2 = g.reshape(-1, n) if shared else g
            block = site.rht_block()
            a_t = g_t = None  # the operands as [..., C, M]: RHT output (M padded), else transposed
            if block:  # the RHT signs: one draw shared by both operands
                seed = site.seed(len(SLOTS), call)
                a_t, g_t = rht_transposed(a2, block, seed), rht_transposed(g2, block, seed)
            if ctx.aq is not None:
                aq_t = ctx.aq.reshape(a2.shape).transpose(-1, -2)
            else:
                aq_t = _wgrad_operand(site, a_t, a2, "x", call)
            if gq_dgrad is not None and not block and site.reusable(("dgrad", "dy"), ("wgrad", "dy")):
                gq = gq_dgrad.reshape(g2.shape)
            else:
                gq = _wgrad_operand(site, g_t, g2, "dy", call).transpose(-1, -2)
            site.record("wgrad", tuple(a2.shape[:-2]), k, aq_t.shape[-1], n)
            gb = site.gemm(aq_t, gq, "wgrad")
        ctx.aq = ctx.bq = None
        return ga, gb, None


def qmatmul(a: torch.Tensor, b: torch.Tensor, site: GemmSite) -> torch.Tensor:
    """``a @ b`` with its forward, dgrad and wgrad GEMMs on ``site``'s recipe (see module doc)."""
    out = _QMatmul.apply(a, b, site)
    assert isinstance(out, torch.Tensor)
    return out
