"""Format value objects: primary parameters only; everything else is derived.

A :class:`Format` is an element type (:class:`FloatElement` or :class:`IntElement`) plus
an optional scaling scheme (per block, per axis slice, per tensor). Plain casts (``fp8_e4m3``),
OCP MX formats, NVFP4, block floating point and absmax-scaled integers are all the same class
with different data (STYLE P1/P2): no per-format subclasses, no per-format code paths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics.types import E8M0_BIAS, SPECIALS_CODE, SPECIALS_FINITE, RoundMode, ScaleRule, Specials

if TYPE_CHECKING:  # pragma: no cover
    from hwsim.numerics.encoded import Encoded

__all__ = ["FloatElement", "IntElement", "Element", "Format", "ElementParams", "E8M0_BIAS"]


class ElementParams(NamedTuple):
    """Plain ints handed to the numba kernels (STYLE P3: one kernel driven by traits)."""

    is_int: int  #: 1 for integer elements, 0 for minifloats
    man_bits: int  #: stored mantissa bits (minifloat) / magnitude bits - 1 (integer)
    emin: int  #: exponent of the smallest normal binade (1 - bias)
    bias: int
    max_exp_field: int  #: largest exponent field holding finite values
    max_man_top: int  #: largest mantissa field in that binade
    specials: int  #: a SPECIALS_* code of :mod:`hwsim.numerics.types` (integers: SPECIALS_FINITE)
    code_bits: int  #: width of one code
    frac_bits: int  #: integers: value = k * 2**-frac_bits
    qmax: int  #: integers: largest magnitude k
    sign_magnitude: int  #: integers: 1 = sign-magnitude codes, 0 = two's complement
    max_mag: int  #: minifloats: magnitude code (code without sign) of the largest finite value



@dataclass(frozen=True, slots=True, kw_only=True)
class FloatElement:
    """A signed minifloat ExMy: 1 sign bit, ``exp_bits`` exponent, ``man_bits`` mantissa.

    Value of a finite code (IEEE 754-2019 §3.4, OCP OFP8 v1.0 §4, OCP MX v1.0 §5.3):
    normal ``(-1)^s 2^(e-bias) (1 + m/2^M)``, subnormal (e = 0) ``(-1)^s 2^(1-bias) (m/2^M)``.
    ``specials='fnu'`` drops the sign bit (unsigned, E + M bits; FN's NaN and max otherwise): a
    block-scale element only (UE5M3), a Format rejects it as its element.
    """

    exp_bits: int
    man_bits: int
    bias: int
    specials: Specials = Specials.IEEE

    def __post_init__(self) -> None:
        if not 1 <= self.exp_bits <= 8:
            raise FormatError(f"exp_bits={self.exp_bits} out of range [1, 8]")
        if not 0 <= self.man_bits <= 23:
            raise FormatError(f"man_bits={self.man_bits} out of range [0, 23]")
        if self.bits > 32:
            raise FormatError(f"1 + exp_bits + man_bits = {self.bits} > 32: wider than fp32")
        if not -256 <= self.bias <= 256:
            raise FormatError(f"bias={self.bias} out of range [-256, 256]")
        object.__setattr__(self, "specials", Specials(self.specials))
        if self.specials is Specials.IEEE and (self.exp_bits < 2 or self.man_bits < 1):
            raise FormatError("specials='ieee' needs exp_bits >= 2 and man_bits >= 1 (the top binade "
                              "holds Inf and NaN; with no mantissa bit there is no NaN code)")

    # --- derived (gfloat FormatInfo / numpy finfo vocabulary) -------------------------------
    @property
    def bits(self) -> int:
        return int(self.specials is not Specials.FNU) + self.exp_bits + self.man_bits

    @property
    def is_float(self) -> bool:
        return True

    @property
    def max_exp_field(self) -> int:
        top = (1 << self.exp_bits) - 1
        if self.specials is Specials.IEEE or (self._fn_like and self.man_bits == 0):
            return top - 1
        return top

    @property
    def _fn_like(self) -> bool:
        """FN and FNU: only the all-ones code (per sign) is NaN."""
        return self.specials in (Specials.FN, Specials.FNU)

    @property
    def max_man_top(self) -> int:
        full = (1 << self.man_bits) - 1
        if self._fn_like and self.man_bits > 0:
            return full - 1  # S.1111.111 is NaN
        return full

    @property
    def emax(self) -> int:
        """Exponent of the largest finite binade (OCP MX 'emax' of the element type)."""
        return self.max_exp_field - self.bias

    @property
    def emin(self) -> int:
        return 1 - self.bias

    @property
    def max(self) -> float:
        return math.ldexp(1 + self.max_man_top / (1 << self.man_bits), self.emax)

    @property
    def smallest_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def smallest_subnormal(self) -> float:
        return math.ldexp(1.0, self.emin - self.man_bits)

    @property
    def has_inf(self) -> bool:
        return self.specials is Specials.IEEE

    @property
    def has_nan(self) -> bool:
        return self.specials is not Specials.FINITE

    @property
    def has_negative_zero(self) -> bool:
        return self.specials not in (Specials.FNUZ, Specials.FNU)

    def params(self) -> ElementParams:
        # kernel code width: the signed layout (an FNU code is the positive code of that layout)
        return ElementParams(0, self.man_bits, self.emin, self.bias, self.max_exp_field,
                             self.max_man_top, SPECIALS_CODE[self.specials],
                             1 + self.exp_bits + self.man_bits, 0, 0, 0,
                             (self.max_exp_field << self.man_bits) | self.max_man_top)

    def decode_code(self, code: int) -> float:
        """Value of one code (reads the bit fields; used to build :meth:`table`)."""
        if not 0 <= code < (1 << self.bits):
            raise FormatError(f"code {code} not in [0, 2**{self.bits})")
        sign = -1.0 if self.specials is not Specials.FNU and code >> (self.bits - 1) else 1.0
        e = (code >> self.man_bits) & ((1 << self.exp_bits) - 1)
        m = code & ((1 << self.man_bits) - 1)
        top = (1 << self.exp_bits) - 1
        if self.specials is Specials.FNUZ and code == 1 << (self.bits - 1):
            return math.nan
        if self.specials is Specials.IEEE and e == top:
            return sign * math.inf if m == 0 else math.nan
        if self._fn_like and e == top and m == (1 << self.man_bits) - 1:
            return math.nan
        if e == 0:
            return sign * math.ldexp(m, self.emin - self.man_bits)
        return sign * math.ldexp((1 << self.man_bits) + m, e - self.bias - self.man_bits)

    def table(self) -> np.ndarray:
        """float64 value of every code, indexed by code (decode lookup table)."""
        return _table(self)

    def values(self) -> np.ndarray:
        """Every distinct finite value, sorted (-0 and +0 count once)."""
        t = self.table()
        return np.unique(t[np.isfinite(t)] + 0.0)  # + 0.0 folds -0 into +0

    def describe(self) -> str:
        return f"E{self.exp_bits}M{self.man_bits} bias {self.bias} ({self.specials.value})"


@dataclass(frozen=True, slots=True, kw_only=True)
class IntElement:
    """A signed integer code ``k`` with value ``k * 2**-frac_bits``, ``|k| <= 2**(bits-1) - 1``.

    The symmetric range (no -2**(bits-1)) follows OCP MX v1.0 §5.3.3 as implemented by the
    reference emulator (microxcaling clamps MXINT8 to +-127/64), LLM.int8 and the usual
    symmetric integer quantizers. ``encoding`` is two's complement (INTn, MXINT8) or
    sign-magnitude (block floating point mantissas, MSFP).
    """

    bits: int
    frac_bits: int = 0
    encoding: str = "twos_complement"

    def __post_init__(self) -> None:
        if not 2 <= self.bits <= 16:
            raise FormatError(f"integer bits={self.bits} out of range [2, 16]")
        if not 0 <= self.frac_bits <= 30:
            raise FormatError(f"frac_bits={self.frac_bits} out of range [0, 30]")
        if self.encoding not in ("twos_complement", "sign_magnitude"):
            raise FormatError(
                f"integer encoding {self.encoding!r} not one of 'twos_complement', 'sign_magnitude'")

    @property
    def is_float(self) -> bool:
        return False

    @property
    def exp_bits(self) -> int:
        return 0

    @property
    def man_bits(self) -> int:
        return self.bits - 1

    @property
    def qmax(self) -> int:
        return (1 << (self.bits - 1)) - 1

    @property
    def max(self) -> float:
        return math.ldexp(self.qmax, -self.frac_bits)

    @property
    def emax(self) -> int:
        """floor(log2(max)): OCP MX uses 0 for MXINT8 (max 127/64)."""
        return self.qmax.bit_length() - 1 - self.frac_bits

    @property
    def smallest_subnormal(self) -> float:
        return math.ldexp(1.0, -self.frac_bits)

    smallest_normal = smallest_subnormal
    has_inf = False
    has_nan = False
    has_negative_zero = False

    def params(self) -> ElementParams:
        return ElementParams(1, self.bits - 1, 0, 0, 0, 0, SPECIALS_FINITE, self.bits, self.frac_bits,
                             self.qmax, int(self.encoding == "sign_magnitude"), 0)

    def decode_code(self, code: int) -> float:
        if not 0 <= code < (1 << self.bits):
            raise FormatError(f"code {code} not in [0, 2**{self.bits})")
        sign_bit = 1 << (self.bits - 1)
        if self.encoding == "sign_magnitude":
            k = -(code & (sign_bit - 1)) if code & sign_bit else code
        else:
            k = code - (1 << self.bits) if code & sign_bit else code
        return math.ldexp(k, -self.frac_bits)

    def table(self) -> np.ndarray:
        return _table(self)

    def values(self) -> np.ndarray:
        t = self.table()
        return np.unique(t[np.abs(t) <= self.max])

    def describe(self) -> str:
        frac = f" x 2^-{self.frac_bits}" if self.frac_bits else ""
        return f"INT{self.bits}{frac} ({self.encoding})"


Element = FloatElement | IntElement

_TABLES: dict[Any, np.ndarray] = {}


def _table(el: Element) -> np.ndarray:
    t = _TABLES.get(el)
    if t is None and el.bits > 16:
        t = np.full(1, np.nan)  # fp32 elements decode by bit view, not by table
    elif t is None:
        bits = el.bits
        t = np.array([el.decode_code(c) for c in range(1 << bits)], dtype=np.float64)
        t.setflags(write=False)
        _TABLES[el] = t
    return t


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
        if self.block_size is not None and self.block_size < 0:
            raise FormatError(f"format {self.name!r}: block_size={self.block_size} must be >= 0")
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
        from hwsim.numerics.protocol import replace_fields

        return replace_fields(self, changes)

    # --- codec (implemented in hwsim.numerics.codec) ------------------------------------------
    def encode(self, x: Any, axis: int = -1) -> Encoded:
        """Real bit patterns: ``codes`` (uint8/uint16, shape of x), ``scales`` per block."""
        from hwsim.numerics import codec

        return codec.encode(self, x, axis)

    def decode(self, enc: Encoded) -> Any:
        """Values of an :class:`Encoded` as float32 (same array library and device)."""
        from hwsim.numerics import codec

        return codec.decode(self, enc)

    def quantize(self, x: Any, axis: int = -1) -> Any:
        """``decode(encode(x))`` in one fused pass: float32, same shape (and device for torch)."""
        from hwsim.numerics import codec

        return codec.quantize(self, x, axis)

    def __str__(self) -> str:
        return self.name

    @property
    def operand(self) -> Any:
        """:class:`~hwsim.numerics.protocol.OperandSpec`: the element code, then the block (or
        channel) scale and the fp32 tensor scale, as the cost model and the CLI read them."""
        from hwsim.numerics.protocol import OperandSpec, ScaleSpec

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
