"""Backend-neutral planning of one encode / decode / quantize call (shared by both codecs).

The numba codec (:mod:`hwsim.numerics.codec`) and the torch codec
(:mod:`hwsim.numerics.torch_codec`) run different kernels on the same plan: the checks on the
input, the encode axis, the block layout ``(outer, L, inner)`` with ``nblk`` blocks of ``B``
elements along the axis, the divisors in the odd-significand form ``S * 2**e`` that the exact
kernels divide by, how block scales are stored and decoded, and the shape checks of decode.
Everything here is plain Python on shapes and :class:`~hwsim.numerics.format.Format` fields: no
numpy kernels, no torch. Rules: docs/numerics.md; OCP MX v1.0 §6.3 (pow2 scale), NVFP4
(arXiv 2509.25149 App. B: amax / (scale_max * elem_max) fp32 tensor scale).
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, NamedTuple

from hwsim.errors import FormatError
from hwsim.numerics.rounding import odd_significand
from hwsim.numerics.types import RULE_CODE, ScaleRule

if TYPE_CHECKING:  # pragma: no cover
    from hwsim.numerics.format import Format

__all__ = ["Layout", "layout", "check_axis", "check_no_nan", "dtype_error", "check_code_range",
           "check_scales_shape", "needs_nan_check", "tensor_divisor", "element_divisor",
           "scale_storage", "code_bits_dtype", "rule_code", "SCALE_POW2", "SCALE_WIDE", "SCALE_TABLE"]

#: how block scales are stored and decoded: E8M0 bytes (2**(byte - 127), 0xFF NaN), float32
#: values (scale elements wider than 16 bits, e.g. fp32), codes of a narrow scale element
#: (value table lookup, e.g. E4M3 / UE5M3)
SCALE_POW2, SCALE_WIDE, SCALE_TABLE = "pow2", "wide", "table"


class Layout(NamedTuple):
    """An input of ``shape`` seen as ``(outer, L, inner)`` around the encode axis ``ax``, the
    axis cut into ``nblk`` blocks of ``B`` elements (the last one possibly short)."""

    shape: tuple[int, ...]
    ax: int
    outer: int
    L: int
    inner: int
    B: int
    nblk: int

    @property
    def rows(self) -> int:
        """Number of axis slices (``outer * inner``)."""
        return self.outer * self.inner

    def scales_shape(self) -> tuple[int, ...]:
        """Shape of the block scales: the input's shape with ``nblk`` along the axis."""
        shape = list(self.shape)
        shape[self.ax] = self.nblk
        return tuple(shape)


def rule_code(fmt: Format) -> int:
    """Kernel code of the format's scale rule (``RULE_NONE`` for plain and tensor-only scales)."""
    return RULE_CODE[fmt.scale_rule]


def layout(fmt: Format, shape: tuple[int, ...], ax: int) -> Layout:
    """Block layout of an input of ``shape`` encoded along (normalized) axis ``ax``.

    ``block_size=0`` and formats without block scales use one block per axis slice (``B = L``);
    without block scales there is always one (possibly empty) block.
    """
    L = shape[ax]
    outer = math.prod(shape[:ax])
    inner = math.prod(shape[ax + 1:])
    if fmt.scale_rule is None:
        return Layout(tuple(shape), ax, outer, L, inner, max(L, 1), 1)
    B = fmt.block_size or max(L, 1)
    return Layout(tuple(shape), ax, outer, L, inner, B, -(-L // B))


def check_axis(fmt: Format, axis: object, ndim: int) -> int:
    """The encode axis normalized to ``0..ndim-1``; a clear error for a non-int or out of range."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):  # numpy ints are Integral
        raise FormatError(f"format {fmt.name!r}: axis must be an int, got {type(axis).__name__}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise FormatError(f"format {fmt.name!r}: axis {axis} out of range for a {ndim}-d input "
                          f"(valid: {-ndim}..{ndim - 1})")
    return axis % ndim


def dtype_error(fmt: Format, dtype: object) -> FormatError:
    """The error for an input that is not a floating-point array."""
    return FormatError(f"format {fmt.name!r}: input dtype {dtype} is not a float type "
                       f"(expected float16/bfloat16/float32/float64)")


def needs_nan_check(fmt: Format) -> bool:
    """Plain casts to an element without a NaN code reject NaN inputs (scaled blocks turn NaN)."""
    return not fmt.is_scaled and not fmt.element.has_nan


def check_no_nan(fmt: Format, has_nan: bool) -> None:
    if has_nan:
        raise FormatError(f"format {fmt.name!r} has no NaN encoding ({fmt.element.describe()}); "
                          f"the input holds NaN")


def check_code_range(fmt: Format, top: int) -> None:
    """``top``, the largest code handed to decode, fits in the element's width."""
    if top >= 1 << fmt.element.bits:
        raise FormatError(f"format {fmt.name!r}: code {top} does not fit in {fmt.element.bits} bits")


def check_scales_shape(fmt: Format, lay: Layout, scales_shape: tuple[int, ...] | None) -> None:
    """Decode's check that an Encoded carries one scale per block of its codes."""
    if scales_shape is None:
        raise FormatError(f"format {fmt.name!r}: Encoded has no scales")
    want = lay.scales_shape()
    if tuple(scales_shape) != want:
        raise FormatError(f"format {fmt.name!r}: scales shape {tuple(scales_shape)} does not match "
                          f"codes shape {lay.shape} (block size {lay.B} on axis {lay.ax}: "
                          f"expected {want})")


def tensor_divisor(fmt: Format) -> tuple[int, int]:
    """(S odd, e) of the divisor of the per-tensor scale ``ts = fp32(amax / divisor)``:
    ``scale_max * elem_max`` with block scales, ``elem_max`` for a tensor scale alone."""
    divisor = fmt.element.max * (fmt.scale_element.max if fmt.block_size is not None else 1.0)
    return odd_significand(divisor)


def element_divisor(fmt: Format) -> tuple[int, int]:
    """(S odd, e) of the element's largest value, the divisor of the amax scale rule."""
    return odd_significand(fmt.element.max)


def scale_storage(fmt: Format) -> str | None:
    """How the format's block scales are stored: ``SCALE_*`` (None without block scales)."""
    if fmt.scale_rule is ScaleRule.POW2:
        return SCALE_POW2
    if fmt.scale_rule is ScaleRule.AMAX:
        assert fmt.scale_element is not None
        return SCALE_WIDE if fmt.scale_element.bits > 16 else SCALE_TABLE
    return None


def code_bits_dtype(bits: int) -> str:
    """Name of the unsigned dtype that holds ``bits``-bit codes (same name in numpy and torch)."""
    return "uint8" if bits <= 8 else "uint16" if bits <= 16 else "uint32"

