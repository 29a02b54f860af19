"""DenseShift codebooks (``[codebooks.*] generator = "denseshift"``): zero-free sign + power-of-two
weights (Li et al., "DenseShift: Towards Accurate and Efficient Low-Bit Power-of-Two
Quantization", ICCV'23, §3), run by the generic ``codebook`` kind (``formats/lowbit.toml``).
"""

from __future__ import annotations

import math

from hwsim.errors import FormatError

__all__ = ["denseshift_table", "CODEBOOK_GENERATORS"]


def denseshift_table(bits: int) -> list[float]:
    """DenseShift (Li et al., ICCV'23, §3): zero-free power-of-two weights, 1 sign bit + a
    (bits-1)-bit shift ``p``: code ``s << (bits-1) | p`` -> ``(-1)^s 2^-p``, ``p = 0 .. 2^(bits-1) - 1``
    (3-bit: +-{1, 1/2, 1/4, 1/8}; 4-bit: +-{1 .. 2^-7}).

    The exact range is not in the sources we could read (UNVERIFIED); we take all
    2^(bits-1) shifts below 1 because DenseShift's point is that no code is spent on zero, and the
    per-channel scale carries the magnitude (catalog: ``scale_rule = "mse"``). With no zero code an
    exact 0 lies on the midpoint between -2^-pmax and +2^-pmax: the catalog codebooks use
    ``ties = "up"`` (the later grid value, as ANT's PoT type), so 0 (and -0) -> +2^-pmax, the
    value of the +0 sign bit.
    """
    if not isinstance(bits, int) or isinstance(bits, bool) or not 2 <= bits <= 8:
        raise FormatError(f"denseshift: bits={bits!r} out of range [2, 8]")
    half = 1 << (bits - 1)
    return [math.ldexp(1.0 if c < half else -1.0, -(c % half)) for c in range(1 << bits)]


CODEBOOK_GENERATORS = {"denseshift": denseshift_table}
