"""Backend-neutral planning of one encode / decode / quantize call (shared by both codecs).

The numba codec (:mod:`hwsim.numerics.codec`) and the torch codec
(:mod:`hwsim.numerics.torch_codec`) run different kernels on the same plan: the checks on the
input, the encode axis, the block layout ``(outer, L, inner)`` with ``nblk`` blocks of ``B``
elements along the axis, the divisors in the odd-significand form ``S * 2**e`` that the exact
kernels divide by, how block scales are stored and decoded, and the shape checks of decode.
Everything here is plain Python on shapes and the fields of a :class:`CodecFormat` (the part of a
:class:`~hwsim.numerics.format.Format` the codecs read): no numpy kernels, no torch. The host-side
helpers every numpy path shares live here too: :func:`is_torch`, :func:`check_axis` and the
row layout :func:`to_rows` / :func:`from_rows` (the axis moved last, one row per axis slice),
used by the numba codec and by the format families (:mod:`hwsim.numerics._family`).
Rules: docs/numerics.md; OCP MX v1.0 §6.3 (pow2 scale), NVFP4 (arXiv 2509.25149 App. B:
amax / (scale_max * elem_max) fp32 tensor scale).
"""

from __future__ import annotations

import math
import numbers
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics.elements import Element, FloatElement
from hwsim.numerics.rounding import odd_significand
from hwsim.numerics.transpose import swap_last2
from hwsim.numerics.types import RULE_CODE, RoundMode, ScaleRule

__all__ = ["CodecFormat", "Layout", "layout", "check_axis", "is_torch", "as_array", "to_rows", "from_rows",
           "check_no_nan",
           "dtype_error", "check_code_range", "check_scale_codes", "check_wide_scales", "check_tensor_scale",
           "check_block_size",
           "check_scales_shape", "needs_nan_check", "tensor_divisor", "element_divisor",
           "scale_storage", "code_bits_dtype", "rule_code", "SCALE_POW2", "SCALE_WIDE", "SCALE_TABLE"]

#: how block scales are stored and decoded: E8M0 bytes (2**(byte - 127), 0xFF NaN), float32
#: values (scale elements wider than 16 bits, e.g. fp32), codes of a narrow scale element
#: (value table lookup, e.g. E4M3 / UE5M3)
SCALE_POW2, SCALE_WIDE, SCALE_TABLE = "pow2", "wide", "table"


class CodecFormat(Protocol):
    """What the codecs (:mod:`~hwsim.numerics.codec`, :mod:`~hwsim.numerics.torch_codec`) and this
    plan read of a format: exactly these fields of :class:`~hwsim.numerics.format.Format`, so
    that the codecs do not depend on the class that calls them."""

    @property
    def name(self) -> str: ...
    @property
    def element(self) -> Element: ...
    @property
    def block_size(self) -> int | None: ...
    @property
    def scale_rule(self) -> ScaleRule | None: ...
    @property
    def scale_element(self) -> FloatElement | None: ...
    @property
    def tensor_scale(self) -> bool: ...
    @property
    def rounding(self) -> RoundMode: ...
    @property
    def saturate(self) -> bool: ...
    @property
    def seed(self) -> int: ...
    @property
    def is_scaled(self) -> bool: ...
    @property
    def scale_bits(self) -> int: ...


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


def rule_code(fmt: CodecFormat) -> int:
    """Kernel code of the format's scale rule (``RULE_NONE`` for plain and tensor-only scales)."""
    return RULE_CODE[fmt.scale_rule]


def layout(fmt: CodecFormat, shape: tuple[int, ...], ax: int) -> Layout:
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


def check_axis(name: str, axis: object, ndim: int) -> int:
    """The encode axis normalized to ``0..ndim-1`` (a 0-d input counts as 1-d); a clear error
    naming format ``name`` for a non-int axis or one out of range."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):  # numpy ints are Integral
        raise FormatError(f"format {name!r}: axis must be an int, got {type(axis).__name__}")
    axis = int(axis)
    n = max(ndim, 1)
    if not -n <= axis < n:
        raise FormatError(f"format {name!r}: axis {axis} out of range for a {ndim}-d input "
                          f"(valid: {-n}..{n - 1})")
    return axis % n


def is_torch(x: Any) -> bool:
    """A torch tensor (checked by module name: torch is never imported for a numpy input)."""
    return type(x).__module__.startswith("torch")


def as_array(name: str, x: Any) -> np.ndarray:
    """``np.asarray(x)``, with a clear error for what numpy cannot make one array of (a ragged
    nested list, an object it cannot convert)."""
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"format {name!r}: input is not a rectangular array of numbers "
                          f"({type(x).__name__}: {exc})") from None


def _moved_view(a: np.ndarray, ax: int) -> np.ndarray | None:
    """``a`` with axis ``ax`` moved last, when that view is C-contiguous (``a`` is stored with
    ``ax`` innermost, e.g. the transpose of a C-contiguous matrix), else None."""
    moved = np.moveaxis(a, ax, -1)
    return moved if moved.flags.c_contiguous else None


def to_rows(a: np.ndarray, ax: int) -> np.ndarray:
    """``a`` (at least 1-d) as a C-contiguous ``(rows, L)`` array: axis ``ax`` moved last, one
    row per axis slice in C order of the other axes. A free view where ``a`` is stored with
    ``ax`` innermost; otherwise a copy (tiled transpose: :mod:`hwsim.numerics.transpose`)."""
    outer, inner = math.prod(a.shape[:ax]), math.prod(a.shape[ax + 1:])
    # explicit row count: reshape(-1, 0) is ambiguous for empty axes
    if ax == a.ndim - 1 or inner == 1:
        if a.ndim >= 2 and not a.flags.c_contiguous:
            swapped = np.swapaxes(a, -1, -2)
            if swapped.flags.c_contiguous:  # a transposed view (W.T): the tiled transpose, not numpy's copy
                return swap_last2(swapped.reshape(-1, *swapped.shape[-2:])).reshape(outer * inner, a.shape[ax])
        return np.ascontiguousarray(a).reshape(outer * inner, a.shape[ax])
    moved = _moved_view(a, ax)
    if moved is not None:
        return moved.reshape(outer * inner, a.shape[ax])
    return swap_last2(np.ascontiguousarray(a).reshape(outer, a.shape[ax], inner)).reshape(outer * inner, a.shape[ax])


def from_rows(flat: np.ndarray, shape: tuple[int, ...], ax: int, like: np.ndarray | None = None) -> np.ndarray:
    """Inverse of :func:`to_rows` for an output of the same rows (any row length): the row axis
    moved back to ``ax`` of ``shape``, C-contiguous; or, with ``like`` (the input, same shape)
    stored with ``ax`` innermost, a view of ``flat`` in ``like``'s memory layout (no transpose)."""
    outer, inner, length = math.prod(shape[:ax]), math.prod(shape[ax + 1:]), flat.shape[-1]
    out_shape = shape[:ax] + (length,) + shape[ax + 1:]
    if ax == len(shape) - 1 or inner == 1:
        return np.ascontiguousarray(flat).reshape(out_shape)
    if like is not None and like.shape == out_shape and _moved_view(like, ax) is not None:
        moved_shape = shape[:ax] + shape[ax + 1:] + (length,)
        return np.moveaxis(np.ascontiguousarray(flat).reshape(moved_shape), -1, ax)
    return swap_last2(flat.reshape(outer, inner, length)).reshape(out_shape)


def dtype_error(fmt: CodecFormat, dtype: object) -> FormatError:
    """The error for an input that is not a floating-point array."""
    return FormatError(f"format {fmt.name!r}: input dtype {dtype} is not a float type "
                       f"(expected float16/bfloat16/float32/float64)")


def needs_nan_check(fmt: CodecFormat) -> bool:
    """Plain casts to an element without a NaN code reject NaN inputs (scaled blocks turn NaN)."""
    return not fmt.is_scaled and not fmt.element.has_nan


def check_no_nan(fmt: CodecFormat, has_nan: bool) -> None:
    if has_nan:
        raise FormatError(f"format {fmt.name!r} has no NaN encoding ({fmt.element.describe()}); "
                          f"the input holds NaN")


def check_code_range(fmt: CodecFormat, top: int) -> None:
    """``top``, the largest code handed to decode, fits in the element's width."""
    if top >= 1 << fmt.element.bits:
        raise FormatError(f"format {fmt.name!r}: code {top} does not fit in {fmt.element.bits} bits")


def check_scale_codes(fmt: CodecFormat, kind: str, dtype: object, lo: float, hi: float) -> None:
    """Decode's check of stored block scales (``kind``: the numpy dtype kind of the scales, ``lo``
    / ``hi`` their smallest / largest value; unread for fp32 scales, see :func:`check_wide_scales`):
    E8M0 bytes are integers in 0..255 (OCP MX v1.0 §5.4.1), codes of a narrow scale element (E4M3)
    integers below ``2**bits``, fp32 scales float values."""
    storage = scale_storage(fmt)
    if storage == SCALE_WIDE:
        if kind != "f":
            raise FormatError(f"format {fmt.name!r}: scales must be float values (fp32 scale element), "
                              f"got dtype {dtype}")
        return
    what, top = (("E8M0 bytes", 255) if storage == SCALE_POW2
                 else (f"{fmt.scale_bits}-bit scale codes", (1 << fmt.scale_bits) - 1))
    if kind not in ("u", "i"):
        raise FormatError(f"format {fmt.name!r}: scales must be {what} (unsigned integers 0..{top}), "
                          f"got dtype {dtype}")
    if lo < 0 or hi > top:
        bad = lo if lo < 0 else hi
        raise FormatError(f"format {fmt.name!r}: scale {int(bad)} is not one of the {what} 0..{top}")


def check_wide_scales(fmt: CodecFormat, n_bad: int) -> None:
    """fp32 block scales are positive and finite, or NaN (a block that held Inf/NaN): ``n_bad``
    counts the others (zero, negative, infinite), which encode never writes."""
    if n_bad:
        raise FormatError(f"format {fmt.name!r}: {n_bad} fp32 scale(s) are zero, negative or infinite; "
                          f"encode writes positive finite scales (NaN for a block holding Inf/NaN)")


def check_tensor_scale(fmt: CodecFormat, ts: object) -> float | None:
    """The Encoded's tensor scale as a float: required (a positive finite float or NaN) exactly
    when the format has one."""
    if not fmt.tensor_scale:
        if ts is not None:
            raise FormatError(f"format {fmt.name!r} has no tensor scale, but the Encoded carries "
                              f"tensor_scale={ts!r}")
        return None
    if ts is None:
        raise FormatError(f"format {fmt.name!r}: Encoded has no tensor_scale (the format has an fp32 "
                          f"per-tensor scale)")
    try:
        v = float(ts)  # type: ignore[arg-type]  # numpy / torch 0-d or 1-element values
    except (TypeError, ValueError):
        raise FormatError(f"format {fmt.name!r}: tensor_scale must be one float, got "
                          f"{type(ts).__name__}") from None
    if not math.isnan(v) and not 0 < v < math.inf:
        raise FormatError(f"format {fmt.name!r}: tensor_scale {v!r} must be a positive finite float "
                          f"(or NaN for a tensor holding Inf/NaN)")
    return v


#: the largest block size accepted: block arithmetic runs in int64
_MAX_BLOCK = 1 << 40


def check_block_size(name: str, key: str, value: object, none_ok: bool = True) -> None:
    """``block_size`` / ``group_size``: None (where ``none_ok``) or an int in 0..2**40 (0 = one
    block per axis slice); bools, floats and strings are refused, not converted."""
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) <= _MAX_BLOCK:
        allowed = "None or an int" if none_ok else "an int"
        raise FormatError(f"format {name!r}: {key}={value!r} must be {allowed} in 0..2**40 "
                          f"(0 = one scale per axis slice)")


def check_scales_shape(fmt: CodecFormat, lay: Layout, scales_shape: tuple[int, ...] | None) -> None:
    """Decode's check that an Encoded carries one scale per block of its codes."""
    if scales_shape is None:
        raise FormatError(f"format {fmt.name!r}: Encoded has no scales")
    want = lay.scales_shape()
    if tuple(scales_shape) != want:
        raise FormatError(f"format {fmt.name!r}: scales shape {tuple(scales_shape)} does not match "
                          f"codes shape {lay.shape} (block size {lay.B} on axis {lay.ax}: "
                          f"expected {want})")


def tensor_divisor(fmt: CodecFormat) -> tuple[int, int]:
    """(S odd, e) of the divisor of the per-tensor scale ``ts = fp32(amax / divisor)``:
    ``scale_max * elem_max`` with block scales, ``elem_max`` for a tensor scale alone."""
    if fmt.block_size is not None:
        assert fmt.scale_element is not None  # a tensor scale over block scales: the AMAX rule
        return _max_divisor(fmt.element, fmt.scale_element)
    return _max_divisor(fmt.element, None)


def element_divisor(fmt: CodecFormat) -> tuple[int, int]:
    """(S odd, e) of the element's largest value, the divisor of the amax scale rule."""
    return _max_divisor(fmt.element, None)


@lru_cache(maxsize=256)
def _max_divisor(el: Any, scale_el: Any) -> tuple[int, int]:
    """(S odd, e) of ``el.max`` (times ``scale_el.max``), once per element pair (every call reads it)."""
    return odd_significand(el.max * (1.0 if scale_el is None else scale_el.max))


def scale_storage(fmt: CodecFormat) -> str | None:
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

