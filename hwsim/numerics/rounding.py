"""Rounding of exact values on integer significands, and the stochastic-rounding bits.

Every element conversion in hwsim reduces to one question: the exact value is ``N / den`` units of
the target quantum (``N``, ``den`` positive integers; ``den`` a power of two unless the scale is
not); which integer ``q`` does it round to? Both routines here decide exactly, branch-free on the
hot path: the power-of-two case with shifts and masks (ml_dtypes' RoundBitsToNearestEven idea),
the general case with a float64 quotient whose floor is provably exact (N < 2**53, q < 2**20)
followed by an integer remainder. Modes: IEEE 754-2019 §4.3 (roundTiesToEven, roundTiesToAway,
roundTowardZero) and stochastic rounding as defined in docs/numerics.md.
"""

from __future__ import annotations

import math

import numba as nb

from hwsim.numerics.types import MODE_AWAY, MODE_EVEN, MODE_ZERO

__all__ = ["hash32", "bitlen", "round_shift", "round_div", "odd_significand"]

#: more dropped bits than this and the value is below 2**-16 quanta: 0 in every mode (X < 2**24)
MAX_DROP = 40


@nb.njit(cache=True, inline="always")
def hash32(index: int, seed: int) -> int:
    """32-bit uniform integer for element ``index`` (C-order flat index) under ``seed``.

    lowbias32 (C. Wellons, "Prospecting for hash functions", 2018) of an affine mix of index and
    seed; all arithmetic mod 2**32 (docs/numerics.md, "Stochastic rounding random bits").
    """
    h = ((index & 0xFFFFFFFF) * 0x9E3779B1 + (seed & 0xFFFFFFFF) * 0x85EBCA77 + 0x165667B1) & 0xFFFFFFFF
    h ^= h >> 16
    h = (h * 0x7FEB352D) & 0xFFFFFFFF
    h ^= h >> 15
    h = (h * 0x846CA68B) & 0xFFFFFFFF
    h ^= h >> 16
    return h


@nb.njit(cache=True, inline="always")
def bitlen(v: int) -> int:
    """Number of bits of a non-negative int (``int.bit_length``)."""
    n = 0
    if v >= 1 << 32:
        v >>= 32
        n += 32
    if v >= 1 << 16:
        v >>= 16
        n += 16
    if v >= 1 << 8:
        v >>= 8
        n += 8
    while v:
        v >>= 1
        n += 1
    return n


@nb.njit(cache=True, inline="always")
def round_shift(X: int, d: int, mode: int, r32: int) -> int:
    """Round ``X / 2**d`` (X >= 0, X < 2**24 when d > 0) to an integer.

    ``mode``: a ``MODE_*`` code of :mod:`hwsim.numerics.types`; stochastic rounds up iff
    ``r32 < floor(frac * 2**32)``.
    """
    if d <= 0:
        return X << -d
    if d > MAX_DROP:
        d = MAX_DROP
    if mode == MODE_EVEN:  # add half - 1 plus the lsb of the kept part: ties go to even
        return (X + (1 << (d - 1)) - 1 + ((X >> d) & 1)) >> d
    if mode == MODE_AWAY:
        return (X + (1 << (d - 1))) >> d
    if mode == MODE_ZERO:
        return X >> d
    rem = X & ((1 << d) - 1)
    frac32 = rem << (32 - d) if d <= 32 else rem >> (d - 32)
    return (X >> d) + int(r32 < frac32)


@nb.njit(cache=True, inline="always")
def round_div(N: int, den: int, mode: int, r32: int) -> int:
    """Round ``N / den`` (0 <= N < 2**53, 1 <= den < 2**62, quotient < 2**30) to an integer.

    floor(float64(N) / float64(den)) is the exact floor: a correctly rounded quotient can only
    reach the next integer k if N/den > k - k*2**-53, i.e. k*den - N < k*den*2**-53 < 1.
    """
    q = int(float(N) / float(den))
    rem = N - q * den
    twice = rem << 1
    if mode == MODE_EVEN:  # branch-free: up if past half, or exactly half and q odd
        return q + (int(twice > den) | (int(twice == den) & (q & 1)))
    if mode == MODE_AWAY:
        return q + int(twice >= den)
    if mode == MODE_ZERO:
        return q
    # stochastic: floor(rem * 2**32 / den) by long division (rem < den < 2**62)
    frac32 = 0
    for _ in range(32):
        rem <<= 1
        frac32 <<= 1
        if rem >= den:
            rem -= den
            frac32 |= 1
    return q + int(r32 < frac32)


def odd_significand(value: float) -> tuple[int, int]:
    """(S, e) with S odd and ``value == S * 2**e``, for a positive finite float (exact).

    The integer form in which scales and element maxima enter the exact division kernels.
    """
    m, e = math.frexp(value)
    S = int(m * (1 << 53))
    tz = (S & -S).bit_length() - 1  # trailing zero bits
    return S >> tz, e - 53 + tz
