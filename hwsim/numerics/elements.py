"""Element types: the code of one number without its scale.

:class:`FloatElement` (a signed minifloat ExMy, IEEE 754-2019 §3.4, OCP OFP8 v1.0 §4, OCP MX v1.0
§5.3) and :class:`IntElement` (a scaled integer, OCP MX v1.0 §5.3.3), each with its derived limits
(gfloat / numpy finfo vocabulary), its decode table and the plain-int :class:`ElementParams` the
numba kernels are driven by. A :class:`~hwsim.numerics.format.Format` is one of these plus a
scaling scheme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics.types import SPECIALS_CODE, SPECIALS_FINITE, Specials

__all__ = ["FloatElement", "IntElement", "Element", "ElementParams"]

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



def _check_ints(el: Any, *keys: str) -> None:
    """Integer parameters of an element type are ints (numpy ints accepted and converted); bools,
    floats and strings are refused, not converted (``exp_bits=4.0`` would read as a float)."""
    import numbers

    for key in keys:
        v = getattr(el, key)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise FormatError(f"{type(el).__name__}: {key}={v!r} must be an int, got {type(v).__name__}")
        object.__setattr__(el, key, int(v))


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
        _check_ints(self, "exp_bits", "man_bits", "bias")
        if not 1 <= self.exp_bits <= 8:
            raise FormatError(f"exp_bits={self.exp_bits} out of range [1, 8]")
        if not 0 <= self.man_bits <= 23:
            raise FormatError(f"man_bits={self.man_bits} out of range [0, 23]")
        if self.bits > 32:
            raise FormatError(f"1 + exp_bits + man_bits = {self.bits} > 32: wider than fp32")
        if not -256 <= self.bias <= 256:
            raise FormatError(f"bias={self.bias} out of range [-256, 256]")
        try:
            object.__setattr__(self, "specials", Specials(self.specials))
        except ValueError:
            raise FormatError(f"specials {self.specials!r} not one of {[m.value for m in Specials]}") from None
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
        return _params(self)

    def _params(self) -> ElementParams:
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
        _check_ints(self, "bits", "frac_bits")
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
        return _params(self)

    def _params(self) -> ElementParams:
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


@lru_cache(maxsize=256)
def _params(el: Element) -> ElementParams:
    """The kernels' parameter tuple of an element, built once per element (every codec call
    reads it; the element is a frozen value)."""
    return el._params()


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
