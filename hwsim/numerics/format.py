"""Format value objects: primary parameters only; everything else is derived.

A :class:`Format` is an element type (:class:`~hwsim.numerics.elements.FloatElement` or
:class:`~hwsim.numerics.elements.IntElement`) plus
an optional scaling scheme (per block, per axis slice, per tensor). Plain casts (``fp8_e4m3``),
OCP MX formats, NVFP4, block floating point and absmax-scaled integers are all the same class
with different data (STYLE P1/P2): no per-format subclasses, no per-format code paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics import codec
from hwsim.numerics.elements import Element, FloatElement, IntElement
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.plan import check_block_size
from hwsim.numerics.protocol import OperandSpec, ScaleSpec, replace_fields
from hwsim.numerics.types import RoundMode, ScaleRule, Specials

__all__ = ["Format"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Format:
    """A number format: an element type plus an optional scaling scheme.

    - ``block_size=None``: a plain element cast on unit scale (``fp8_e4m3``, ``int8``).
    - ``block_size=B>0``: one scale per B consecutive elements along the encode axis
      (OCP MX: B=32, NVFP4: B=16, MSFP: B=16); ``0``: one scale per whole axis slice
      (per-channel scaling).
    - ``scale_rule``: :class:`ScaleRule` (POW2 = E8M0 shared exponent, AMAX = amax/elem_max
      rounded to ``scale_element``).
    - ``tensor_scale``: an extra FP32 per-tensor scale, NVIDIA's NVFP4 recipe
      ``amax_tensor / (scale_max * elem_max)`` (AMAX rule only).
    """

    name: str
    element: Element
    block_size: int | None = None
    scale_rule: ScaleRule | None = None
    scale_element: FloatElement | None = None
    tensor_scale: bool = False
    rounding: RoundMode = RoundMode.EVEN
    saturate: bool = True
    seed: int = 0
    reference: str = ""
    ml_dtypes: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise FormatError(f"format name must be a str, got {type(self.name).__name__}")
        if not isinstance(self.element, (FloatElement, IntElement)):
            raise FormatError(f"format {self.name!r}: element must be a FloatElement or IntElement, got "
                              f"{type(self.element).__name__}")
        if self.scale_element is not None and not isinstance(self.scale_element, FloatElement):
            raise FormatError(f"format {self.name!r}: scale_element must be a FloatElement or None, got "
                              f"{type(self.scale_element).__name__}")
        try:
            object.__setattr__(self, "rounding", RoundMode(self.rounding))
        except ValueError:
            raise FormatError(
                f"format {self.name!r}: rounding {self.rounding!r} not one of "
                f"{[m.value for m in RoundMode]}") from None
        if self.scale_rule is not None:
            try:
                object.__setattr__(self, "scale_rule", ScaleRule(self.scale_rule))
            except ValueError:
                raise FormatError(
                    f"format {self.name!r}: scale_rule {self.scale_rule!r} not one of "
                    f"{[m.value for m in ScaleRule]}") from None
        if (self.block_size is None) != (self.scale_rule is None) and not (
                self.block_size is None and self.tensor_scale):
            raise FormatError(
                f"format {self.name!r}: block_size and scale_rule go together "
                f"(got block_size={self.block_size}, scale_rule={self.scale_rule})")
        check_block_size(self.name, "block_size", self.block_size)
        if self.block_size is not None:
            object.__setattr__(self, "block_size", int(self.block_size))
        for key in ("tensor_scale", "saturate"):
            if not isinstance(getattr(self, key), (bool, np.bool_)):
                raise FormatError(f"format {self.name!r}: {key}={getattr(self, key)!r} must be True or False "
                                  f"(a bool; strings such as 'false' are not converted)")
            object.__setattr__(self, key, bool(getattr(self, key)))
        if self.scale_element is not None and not isinstance(self.scale_element, FloatElement):
            raise FormatError(f"format {self.name!r}: scale_element must be a FloatElement, got "
                              f"{type(self.scale_element).__name__} (hwsim.format accepts inline tables "
                              f"and float format names)")
        needs_scale_el = self.scale_rule is ScaleRule.AMAX or (self.tensor_scale and self.block_size is None)
        if needs_scale_el and self.scale_element is None:
            raise FormatError(f"format {self.name!r}: scale_rule 'amax' needs a scale_element")
        if self.tensor_scale and self.scale_rule is ScaleRule.POW2:
            raise FormatError(f"format {self.name!r}: tensor_scale needs scale_rule 'amax', not 'pow2'")
        if (self.tensor_scale and self.scale_rule is ScaleRule.AMAX and self.scale_element is not None
                and self.scale_element.man_bits > 10):
            # the exact kernel divides by (block-scale significand x fp32 tensor-scale significand);
            # with an fp32 block scale that is 48 bits, beyond its exact 64-bit integer arithmetic
            raise FormatError(
                f"format {self.name!r}: tensor_scale=True needs a narrow block-scale element "
                f"(at most 10 mantissa bits, e.g. fp8_e4m3); an fp32 block scale already carries "
                f"the tensor's range, so a second fp32 scale adds nothing")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise FormatError(f"format {self.name!r}: seed {self.seed!r} must be an int >= 0")
        if getattr(self.element, "specials", None) is Specials.FNU:
            raise FormatError(f"format {self.name!r}: element {self.element.describe()} is unsigned "
                              f"(specials 'fnu'): it serves only as a scale_element")

    # --- derived ------------------------------------------------------------------------------
    @property
    def element_bits(self) -> int:
        return self.element.bits

    @property
    def is_float_element(self) -> bool:
        return self.element.is_float

    @property
    def exp_bits(self) -> int:
        return self.element.exp_bits

    @property
    def man_bits(self) -> int:
        return self.element.man_bits

    @property
    def scale_bits(self) -> int:
        if self.scale_rule is ScaleRule.POW2:
            return 8
        if self.scale_rule is ScaleRule.AMAX:
            assert self.scale_element is not None
            return self.scale_element.bits
        return 0

    @property
    def bits_per_element(self) -> float:
        """Storage per element with block scales amortized (OCP MX Table 1: MXFP4 = 4.25).

        Per-axis (block_size=0) and per-tensor scales are not counted: their cost depends on
        the tensor shape.
        """
        if self.block_size:
            return self.element.bits + self.scale_bits / self.block_size
        return float(self.element.bits)

    @property
    def max(self) -> float:
        """Largest finite element value (before scaling)."""
        return self.element.max

    @property
    def emax(self) -> int:
        return self.element.emax

    @property
    def smallest_subnormal(self) -> float:
        return self.element.smallest_subnormal

    @property
    def smallest_normal(self) -> float:
        return self.element.smallest_normal

    @property
    def has_inf(self) -> bool:
        return self.element.has_inf and self.block_size is None and not self.tensor_scale

    @property
    def has_nan(self) -> bool:
        return self.element.has_nan or self.scale_rule is not None or self.tensor_scale

    @property
    def is_scaled(self) -> bool:
        return self.scale_rule is not None or self.tensor_scale

    @property
    def code_dtype(self) -> np.dtype:
        bits = self.element.bits
        return np.dtype(np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32)

    def values(self) -> np.ndarray:
        """Every distinct finite element value, sorted."""
        return self.element.values()

    def replace(self, **changes: Any) -> Format:
        """A copy with some fields changed (``hwsim.format(name, **overrides)`` uses this)."""
        return replace_fields(self, changes)

    # --- codec (implemented in hwsim.numerics.codec) ------------------------------------------
    def encode(self, x: Any, axis: int = -1) -> Encoded:
        """Real bit patterns: ``codes`` (uint8/uint16, shape of x), ``scales`` per block."""
        return codec.encode(self, x, axis)

    def decode(self, enc: Encoded) -> Any:
        """Values of an :class:`Encoded` as float32 (same array library and device)."""
        return codec.decode(self, enc)

    def quantize(self, x: Any, axis: int = -1) -> Any:
        """``decode(encode(x))`` in one fused pass: float32, same shape (and device for torch)."""
        return codec.quantize(self, x, axis)

    def __str__(self) -> str:
        return self.name

    @property
    def operand(self) -> OperandSpec:
        """:class:`~hwsim.numerics.protocol.OperandSpec`: the element code, then the block (or
        channel) scale and the fp32 tensor scale, as the cost model and the CLI read them."""
        el, se, B = self.element, self.scale_element, self.block_size
        where = ("block" if B else "channel", B or None)
        scales: list[ScaleSpec] = []
        if self.scale_rule is ScaleRule.POW2:
            scales.append(ScaleSpec(*where, 8, True, 8, 0, f"E8M0 2^(floor(log2 amax) - {self.emax}) "
                                    f"(OCP MX v1.0 §6.3)"))
        elif self.scale_rule is ScaleRule.AMAX and se is not None:
            scales.append(ScaleSpec(*where, se.bits, se.man_bits == 0, se.exp_bits, se.man_bits,
                                    f"amax / {self.max:g} rounded (RNE) to {se.describe()}"))
        if self.tensor_scale:
            if self.scale_rule is None and se is not None:
                scales.append(ScaleSpec("tensor", None, se.bits, se.man_bits == 0, se.exp_bits, se.man_bits,
                                        f"amax / {self.max:g} rounded (RNE) to {se.describe()}"))
            else:
                scales.append(ScaleSpec("tensor", None, 32, False, 8, 23, "fp32 amax_tensor / (block-scale max x "
                                        f"{self.max:g}) (NVIDIA NVFP4 two-level scaling, arXiv 2509.25149)"))
        return OperandSpec(el.bits, self.bits_per_element, el.is_float, el.exp_bits, el.man_bits,
                           tuple(scales), self.rounding.value)
