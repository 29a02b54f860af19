"""Vocabulary of the numerics: rounding modes, special-value policies, scale rules.

Each member's ``#:`` comment states the rule it stands for and where it comes from.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["RoundMode", "Specials", "ScaleRule", "MODE_CODE", "MODE_EVEN", "MODE_AWAY", "MODE_ZERO",
           "MODE_STOCHASTIC", "SPECIALS_CODE", "SPECIALS_IEEE", "SPECIALS_FN", "SPECIALS_FNUZ",
           "SPECIALS_FINITE", "RULE_CODE", "RULE_NONE", "RULE_POW2", "RULE_AMAX", "E8M0_BIAS", "E8M0_NAN"]


class RoundMode(str, Enum):  # noqa: UP042 - StrEnum would change str(member), which messages print
    """How a value between two representable neighbours is resolved (IEEE 754-2019 §4.3)."""

    #: round to nearest, ties to the neighbour with an even significand (roundTiesToEven).
    EVEN = "even"
    #: round to nearest, ties away from zero (roundTiesToAway; microxcaling's "nearest").
    AWAY = "away"
    #: truncate the magnitude (roundTowardZero).
    ZERO = "zero"
    #: round the magnitude up with probability equal to the discarded fraction, using a
    #: 32-bit uniform integer per element from a counter-based hash of (seed, flat index):
    #: up iff ``r < floor(frac * 2**32)``. Reproducible for a given seed and shape.
    STOCHASTIC = "stochastic"


class Specials(str, Enum):  # noqa: UP042 - StrEnum would change str(member), which messages print
    """Which codes of a minifloat are Inf / NaN (naming follows ml_dtypes' suffixes)."""

    #: IEEE 754: all-ones exponent is Inf (mantissa 0) or NaN (mantissa != 0). E5M2, FP16, BF16.
    IEEE = "ieee"
    #: "FN", finite + NaN: no Inf; only S.1111.111 is NaN, the rest of the top binade is finite.
    #: OCP OFP8 v1.0 §4 (E4M3, max 448).
    FN = "fn"
    #: "FNUZ": no Inf, no negative zero; code 0x80 (sign bit alone) is the single NaN.
    FNUZ = "fnuz"
    #: every code is a finite number, no Inf, no NaN. OCP MX v1.0 §5.3.2 (FP6 E2M3/E3M2, FP4 E2M1).
    FINITE = "finite"
    #: "FNU", unsigned: no sign bit (codes are ``exp_field << M | man``, E + M bits), no Inf, the
    #: all-ones code is the only NaN (ml_dtypes ``float8_e8m0fnu``; PTX ``ue5m3``). Only for block
    #: scales, which are never negative (the UE5M3 scale of arXiv 2509.17791).
    FNU = "fnu"


class ScaleRule(str, Enum):  # noqa: UP042 - StrEnum would change str(member), which messages print
    """How a block (or tensor) scale is derived from the block's absolute maximum."""

    #: OCP MX v1.0 §6.3: X = 2**(floor(log2(amax)) - emax_elem), stored as an E8M0 byte
    #: (bias 127, 0xFF = NaN). Also the shared exponent of block floating point (MSFP).
    POW2 = "pow2"
    #: scale = amax / element_max rounded (RNE) to the scale format, saturating at its max; a
    #: scale that rounds to 0 is stored as 0 (the block decodes to zeros, TransformerEngine's NVFP4)
    #: for narrow scale elements and raised to the smallest positive value for fp32 scales.
    #: NVFP4 (E4M3 scale), absmax-scaled integers (FP32 scale).
    AMAX = "amax"


# ----------------------------------------------------------------------------------------------
# kernel codes: plain module-level ints (numba folds global ints into compile-time constants)
# ----------------------------------------------------------------------------------------------
#: rounding-mode codes, in RoundMode order
MODE_EVEN, MODE_AWAY, MODE_ZERO, MODE_STOCHASTIC = 0, 1, 2, 3
MODE_CODE = {RoundMode.EVEN: MODE_EVEN, RoundMode.AWAY: MODE_AWAY, RoundMode.ZERO: MODE_ZERO,
             RoundMode.STOCHASTIC: MODE_STOCHASTIC}

#: special-value policy codes of the element kernels (integers run as FINITE: no Inf, no NaN)
SPECIALS_IEEE, SPECIALS_FN, SPECIALS_FNUZ, SPECIALS_FINITE = 0, 1, 2, 3
#: the one specials table; FNU runs as FN (its codes are the positive codes of the signed layout)
SPECIALS_CODE = {Specials.IEEE: SPECIALS_IEEE, Specials.FN: SPECIALS_FN, Specials.FNUZ: SPECIALS_FNUZ,
                 Specials.FINITE: SPECIALS_FINITE, Specials.FNU: SPECIALS_FN}

#: OCP MX v1.0 §5.4.1: the E8M0 scale is an unsigned 8-bit exponent, bias 127, 0xFF = NaN.
E8M0_BIAS = 127
E8M0_NAN = 0xFF

#: scale-rule codes (no scale, OCP MX pow2 / E8M0, amax rounded to a scale element)
RULE_NONE, RULE_POW2, RULE_AMAX = 0, 1, 2
RULE_CODE = {None: RULE_NONE, ScaleRule.POW2: RULE_POW2, ScaleRule.AMAX: RULE_AMAX}
