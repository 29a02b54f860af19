"""Dynamic Fixed Point (DFP) tensors and their INT16 x INT16 -> INT32 GEMM.

Das et al., "Mixed Precision Training of Convolutional Neural Networks using Integer Operations",
ICLR 2018 (arXiv 1802.00930). Its abstract states the two parts modelled here: "a shared exponent
representation of tensors" (the Dynamic Fixed Point scheme) and INT16 x INT16 fused multiply-adds
"accumulate results into an INT32 output", with "methods to handle overflow of the INT32
accumulator". Section numbers are not cited: the paper's full text was not available where this
was written (only its abstract and third-party summaries, which agree with the definition below).

- The DFP format: a DFP tensor is an integer tensor ``I`` with **one shared exponent** ``E_s`` for the whole
  tensor, value ``I * 2^E_s``; ``E_s`` follows the tensor's largest magnitude so that it fills the
  integer range. hwsim's catalog expresses this as ``dfp16`` / ``dfp8`` (``formats/dfp.toml``): an
  integer element with ``frac_bits = bits - 2`` under the MX pow2 rule with ``block_size = 0`` (one
  scale per encoded slice). :func:`quantize_tensor` encodes the flattened tensor as one slice, so the
  exponent is per tensor and the largest magnitude lands in ``[2^(bits-2), 2^(bits-1))``.
- The integer GEMM: INT16 x INT16 products are accumulated in INT32; a long reduction can overflow the INT32
  accumulator, so the reduction is split into pieces whose partial sums cannot overflow, and those
  partial sums are converted to fp32 and added. :func:`int_matmul` implements both sides:

  * ``overflow_handling=True``: the reduction is cut into chunks of
    ``L = floor((2^31 - 1) / (max|I_a| * max|I_b|))`` products (:func:`safe_chunk`; the maxima are
    known when the tensors are converted), so no chunk's INT32 sum can overflow. The chunk sums
    are integers, summed here exactly (float64 holds integers below ``2^53``, checked) and rounded
    once to fp32: the model of an accumulator that converts each chunk to fp32 without loss.
    Hence the result equals the exact integer dot product, rounded once.
  * ``overflow_handling=False``: the whole reduction runs in one two's-complement INT32
    accumulator. Addition modulo ``2^32`` is associative, so the final register holds the exact
    sum wrapped into ``[-2^31, 2^31)`` whatever the order; an output is counted as an **overflow**
    when that differs from the exact sum (a transient excursion that comes back in range gives
    the right answer with wrapping adders and is not counted).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np
import torch

from hwsim.errors import HwsimError
from hwsim.numerics.types import RoundMode

__all__ = ["quantize_tensor", "to_int", "DfpTensor", "encode_tensor", "safe_chunk", "int_matmul", "dfp_gemm",
           "dfp_matmul", "INT32_MAX"]

INT32_MAX = 2**31 - 1
_EXACT = 2**53


def _transposed_storage(x: torch.Tensor) -> bool:
    """``x`` is the transpose of a C-contiguous tensor (a weight read as ``W^T``)."""
    return x.dim() >= 2 and not x.is_contiguous() and x.mT.is_contiguous()


def quantize_tensor(fmt: Any, x: torch.Tensor) -> torch.Tensor:
    """``fmt.quantize`` of the flattened tensor (one shared exponent per tensor, Das et al.'s DFP).

    The element rule is the same for every element under the one exponent, so a transposed view
    is quantized in its storage order without a copy and the result is its transposed view (same
    values); stochastic rounding, whose random bits follow the flattened index, flattens a copy."""
    x = x.detach()
    if _transposed_storage(x) and fmt.rounding is not RoundMode.STOCHASTIC:
        return fmt.quantize(x.mT.reshape(1, -1), axis=-1).reshape(x.mT.shape).mT
    return fmt.quantize(x.reshape(1, -1), axis=-1).reshape(x.shape)


def _to_int(q: torch.Tensor, fmt: Any) -> tuple[torch.Tensor, int, int]:
    """:func:`to_int` and ``max |I|``: two passes over the float32 values in their storage order
    (their largest magnitude, then the float64 integers ``q * 2^-e``, a power-of-two factor:
    exact, |e| < 200 here); the integers have ``q``'s layout (a transposed view stays one)."""
    q = q.detach().to(torch.float32)
    flip = _transposed_storage(q)
    base = q.mT if flip else q.contiguous()
    flat = base.view(-1).numpy()
    amax = float(_abs_max(flat)) if flat.size else 0.0
    if math.isnan(amax):
        raise HwsimError(f"{fmt.name}: NaN in a DFP tensor (no integer represents it)")
    if amax == 0.0:
        return torch.zeros(q.shape, dtype=torch.float64), 0, 0
    e = math.frexp(amax)[1] - 1 - fmt.element.emax - fmt.element.frac_bits
    ints = torch.empty(base.shape, dtype=torch.float64)
    _scaled_f64(flat, ints.view(-1).numpy(), 2.0 ** -e)
    return ints.mT if flip else ints, e, int(math.ldexp(amax, -e))


@nb.njit(cache=True)
def _abs_max(x):
    """Largest |x| of a float32 vector, NaN if it holds one."""
    m = np.float32(0.0)
    nan = False
    for i in range(x.shape[0]):
        a = abs(x[i])
        m = a if a > m else m
        nan |= a != a
    return np.float32(np.nan) if nan else m


@nb.njit(cache=True)
def _scaled_f64(x, out, factor):
    """``out = float64(x) * factor`` (factor a power of two: exact)."""
    for i in range(x.shape[0]):
        out[i] = np.float64(x[i]) * factor


def to_int(q: torch.Tensor, fmt: Any) -> tuple[torch.Tensor, int]:
    """``(I, e)`` with ``q == I * 2^e`` exactly: ``I`` integer-valued float64, ``e`` the shared
    exponent of a tensor quantized by :func:`quantize_tensor` (pow2 scale ``2^(floor(log2 amax) -
    emax)``, element ``k * 2^-frac_bits``)."""
    ints, e, _ = _to_int(q, fmt)
    return ints, e


@dataclass(frozen=True)
class DfpTensor:
    """A DFP tensor as the integer datapath holds it: the integers ``ints`` (integer-valued float64)
    and the shared exponent ``exp`` (value ``ints * 2^exp``); ``max_int`` is ``max |ints|``, known
    when the tensor is converted (what :func:`safe_chunk` needs). ``transpose`` / ``reshape`` act
    on the integers, as a GEMM reads them."""

    ints: torch.Tensor
    exp: int
    max_int: int

    @property
    def shape(self) -> torch.Size:
        return self.ints.shape

    def transpose(self, dim0: int, dim1: int) -> DfpTensor:
        return DfpTensor(self.ints.transpose(dim0, dim1), self.exp, self.max_int)

    def reshape(self, *shape: Any) -> DfpTensor:
        return DfpTensor(self.ints.reshape(*shape), self.exp, self.max_int)


def encode_tensor(fmt: Any, x: torch.Tensor) -> DfpTensor:
    """``x`` as a DFP tensor of ``fmt``: :func:`quantize_tensor`, then its integers and exponent."""
    return DfpTensor(*_to_int(quantize_tensor(fmt, x), fmt))


def safe_chunk(max_a: int, max_b: int) -> int:
    """Longest reduction whose INT32 partial sum cannot overflow: ``floor((2^31-1) / (max_a max_b))``
    (at least 1: one INT16 x INT16 product always fits)."""
    prod = max(1, int(max_a) * int(max_b))
    return max(1, INT32_MAX // prod)


def _check_exact(k: int, max_a: int, max_b: int) -> None:
    if k * max_a * max_b >= _EXACT:
        raise HwsimError(f"integer GEMM with K={k}, max|a|={max_a}, max|b|={max_b} exceeds the exact float64 range")


def int_matmul(ia: torch.Tensor, ib: torch.Tensor, overflow_handling: bool = True,
               max_a: int | None = None, max_b: int | None = None) -> tuple[torch.Tensor, int, int]:
    """``ia @ ib`` of integer-valued float64 tensors on the INT32-accumulating datapath.

    ``max_a`` / ``max_b``: ``max |ia|`` / ``max |ib|`` when the caller knows them (else computed).
    Returns ``(result, overflows, chunk)``: the result as integer-valued float64 (exact sum with
    handling; INT32-wrapped without), the number of outputs whose INT32 accumulator overflowed
    (always 0 with handling) and the reduction chunk ``L`` (the whole ``K`` without handling).

    Raises:
        HwsimError: the exact sum could exceed 2^53 (the float64 model would no longer be exact).
    """
    k = ia.shape[-1]
    if max_a is None:
        max_a = int(ia.abs().max()) if ia.numel() else 0
    if max_b is None:
        max_b = int(ib.abs().max()) if ib.numel() else 0
    _check_exact(k, max_a, max_b)
    exact = torch.matmul(ia, ib).contiguous()
    if overflow_handling:
        return exact, 0, min(k, safe_chunk(max_a, max_b))
    # the wrapped register differs from the exact sum exactly where that sum leaves [-2^31, 2^31)
    flat = exact.view(-1).numpy()
    n_over = int(_register_out(flat, flat, 1.0, True))
    return exact, n_over, k


@nb.njit(cache=True, inline="always")
def _wrap_int32(v):
    """Two's complement INT32 wrap of an integer-valued float64 (|v| < 2^53),
    ``v - 2^32 * floor((v + 2^31) / 2^32)`` (exact: the quotient is a power-of-two scaling, the
    difference an integer below 2^53; ``np.floor`` stays in float64, which vectorizes, where
    ``math.floor`` returns an int)."""
    return v - 4294967296.0 * np.floor((v + 2147483648.0) * (1.0 / 4294967296.0))


@nb.njit(cache=True)
def _register_out(acc, out, factor, wrap):
    """``out[i] = acc[i]`` (INT32-wrapped when ``wrap``) times ``factor`` (a power of two: exact),
    converted to ``out``'s type (float32: one rounding); returns how many wrapped values changed
    (left [-2^31, 2^31)). One pass: the register contents and the converter of the datapath."""
    n = 0
    for i in range(acc.shape[0]):
        v = acc[i]
        if wrap:
            w = _wrap_int32(v)
            n += int(w != v)
            v = w
        out[i] = v * factor
    return n


def dfp_gemm(a: DfpTensor, b: DfpTensor, overflow_handling: bool = True) -> tuple[torch.Tensor, int]:
    """``a @ b`` of two DFP tensors: integers multiplied and accumulated as :func:`int_matmul` does
    (INT32-wrapped without handling), scaled by ``2^(e_a + e_b)`` and rounded once to float32, in
    one pass over the integer result. Returns ``(y, overflows)``."""
    _check_exact(a.ints.shape[-1], a.max_int, b.max_int)
    acc = torch.matmul(a.ints, b.ints).contiguous()
    y = torch.empty(acc.shape, dtype=torch.float32)
    overflows = int(_register_out(acc.view(-1).numpy(), y.view(-1).numpy(), 2.0 ** (a.exp + b.exp),
                                  not overflow_handling))
    return y, overflows


def dfp_matmul(aq: torch.Tensor, bq: torch.Tensor, fa: Any, fb: Any,
               overflow_handling: bool = True) -> tuple[torch.Tensor, int]:
    """``aq @ bq`` of two tensors quantized by :func:`quantize_tensor` with ``fa`` / ``fb``
    (:func:`dfp_gemm` of their integers)."""
    return dfp_gemm(DfpTensor(*_to_int(aq, fa)), DfpTensor(*_to_int(bq, fb)), overflow_handling)
