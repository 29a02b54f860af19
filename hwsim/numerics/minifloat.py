"""The one generic ExMy conversion kernel (STYLE P3): every minifloat, driven by its parameters.

A value arrives as ``(sign, X, lX, ex)`` meaning ``(-1)**sign * X * 2**ex`` (X a positive integer
of bit length lX, the float32 significand) together with a scale ``S * 2**es`` to divide by (S odd,
S = 1 for power-of-two scales). The kernel finds the exact binade, rounds the exact quotient
(:mod:`hwsim.numerics.rounding`) and assembles the code ``sign << (E+M) | exp_field << M | man``
(IEEE 754-2019 §3.4; OCP OFP8 v1.0 §4; OCP MX v1.0 §5.3). Special values: docs/numerics.md.

The assembly uses that minifloat codes are monotone in magnitude: with ``t`` the binade
(>= emin) and ``q`` the rounded significand at quantum ``2**(t-M)``, the magnitude code is
``((t + bias - 1) << M) + q`` in every case: subnormal (t = emin, q < 2**M), normal, and a
rounding carry into the next binade (q = 2**(M+1)). Overflow is then one comparison with the
code of max.
"""

from __future__ import annotations

import numba as nb

from hwsim.numerics.rounding import round_div, round_shift
from hwsim.numerics.types import MODE_ZERO, SPECIALS_FINITE, SPECIALS_FNUZ, SPECIALS_IEEE

__all__ = ["encode_float", "nan_code", "inf_code", "float_significand"]


@nb.njit(cache=True, inline="always")
def nan_code(sign: int, M: int, bits: int, specials: int) -> int:
    """Canonical NaN: ieee quiet NaN (top mantissa bit), fn all ones, fnuz the sign bit alone."""
    if specials == SPECIALS_FNUZ:
        return 1 << (bits - 1)
    all_exp = ((1 << (bits - 1 - M)) - 1) << M
    if specials == SPECIALS_IEEE:
        return (sign << (bits - 1)) | all_exp | ((1 << (M - 1)) if M > 0 else 0)
    return (sign << (bits - 1)) | all_exp | ((1 << M) - 1)


@nb.njit(cache=True, inline="always")
def inf_code(sign: int, M: int, bits: int) -> int:
    return (sign << (bits - 1)) | (((1 << (bits - 1 - M)) - 1) << M)


@nb.njit(cache=True, inline="always")
def encode_float(sign: int, X: int, lX: int, ex: int, S: int, lS: int, es: int,
                 M: int, emin: int, bias: int, max_mag: int, specials: int, bits: int,
                 mode: int, r32: int, saturate: bool) -> int:
    """Code of ``(-1)**sign * X * 2**ex / (S * 2**es)`` (X >= 1; S odd >= 1, lS its bit length).

    ``max_mag`` is the magnitude code of the largest finite value. Overflow: saturate -> +-max;
    else ieee -> +-Inf (mode 'zero' -> +-max, IEEE 754 §7.4), fn/fnuz -> NaN, finite -> +-max.
    """
    if S == 1:
        E = lX - 1 + ex - es
        t = E if E > emin else emin
        q = round_shift(X, t - M - ex + es, mode, r32)
    else:
        # floor(log2 X/S) from the normalized significands (both in [1, 2))
        E = lX - lS + ex - es - int((X << (lS - 1)) < (S << (lX - 1)))
        t = E if E > emin else emin
        sh = ex - es - (t - M)  # value / quantum = X * 2**sh / S
        if sh >= 0:
            q = round_div(X << sh, S, mode, r32)
        elif lS - sh > 61:  # far below half a quantum in every mode
            q = 0
        else:
            q = round_div(X, S << -sh, mode, r32)
    # q == 0 implies t == emin (any larger binade keeps q >= 2**M), so mag == 0 there
    mag = ((t + bias - 1) << M) + q
    if specials == SPECIALS_FNUZ and mag == 0:
        return 0  # FNUZ has no negative zero
    if mag > max_mag:
        if saturate or specials == SPECIALS_FINITE or (specials == SPECIALS_IEEE and mode == MODE_ZERO):
            mag = max_mag
        elif specials == SPECIALS_IEEE:
            return inf_code(sign, M, bits)
        else:
            return nan_code(sign, M, bits, specials)
    return (sign << (bits - 1)) | mag


@nb.njit(cache=True, inline="always")
def float_significand(code: int, M: int, bias: int, emin: int):
    """(S, es) with value(code) = S * 2**es for a positive finite nonzero code, S odd."""
    efield = code >> M
    man = code & ((1 << M) - 1)
    if efield == 0:
        S = man
        es = emin - M
    else:
        S = man | (1 << M)
        es = efield - bias - M
    while (S & 1) == 0:
        S >>= 1
        es += 1
    return S, es
