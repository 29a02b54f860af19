"""Integer element kernel: ``k * 2**-frac_bits`` with ``|k| <= qmax``, two's complement or
sign-magnitude codes (INTn; MXINT8, OCP MX v1.0 §5.3.3; MSFP mantissas, NeurIPS'20 §3).

Integers always saturate: they have no overflow encoding (docs/numerics.md, "Integers").
"""

from __future__ import annotations

import numba as nb

from hwsim.numerics.rounding import round_div, round_shift

__all__ = ["encode_int", "int_code"]


@nb.njit(cache=True, inline="always")
def int_code(sign: int, k: int, bits: int, sign_magnitude: int) -> int:
    """Code of the integer ``(-1)**sign * k`` (k >= 0); zero is always code 0."""
    if sign_magnitude:
        return ((sign & int(k != 0)) << (bits - 1)) | k
    return ((k ^ -sign) + sign) & ((1 << bits) - 1)  # branch-free: -k when sign == 1


@nb.njit(cache=True, inline="always")
def encode_int(sign: int, X: int, lX: int, ex: int, S: int, lS: int, es: int,
               frac_bits: int, qmax: int, bits: int, sign_magnitude: int, mode: int, r32: int) -> int:
    """Code of ``(-1)**sign * X * 2**ex / (S * 2**es)`` rounded to a multiple of 2**-frac_bits."""
    sh = ex - es + frac_bits  # value in units of 2**-frac_bits = X * 2**sh / S
    if lX - lS + sh > bits + 1:  # value >= 2**(bits+1) > qmax: saturate without big shifts
        k = qmax
    elif S == 1:
        k = round_shift(X, -sh, mode, r32)
    elif sh >= 0:
        k = round_div(X << sh, S, mode, r32)
    elif lS - sh > 61:
        k = 0
    else:
        k = round_div(X, S << -sh, mode, r32)
    k = min(k, qmax)
    return int_code(sign, k, bits, sign_magnitude)
