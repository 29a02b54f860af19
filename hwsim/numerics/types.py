"""Vocabulary of the numerics: rounding modes, special-value policies, scale rules.

Each member's ``#:`` comment states the rule it stands for and where it comes from.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["RoundMode", "Specials", "ScaleRule"]


class RoundMode(str, Enum):
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


class Specials(str, Enum):
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


class ScaleRule(str, Enum):
    """How a block (or tensor) scale is derived from the block's absolute maximum."""

    #: OCP MX v1.0 §6.3: X = 2**(floor(log2(amax)) - emax_elem), stored as an E8M0 byte
    #: (bias 127, 0xFF = NaN). Also the shared exponent of block floating point (MSFP).
    POW2 = "pow2"
    #: scale = amax / element_max rounded (RNE) to the scale format, clamped to
    #: [smallest positive, max] of that format. NVFP4 (E4M3 scale), absmax-scaled integers (FP32 scale).
    AMAX = "amax"
