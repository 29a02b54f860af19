"""Bit-exact number formats: value objects, the catalog vocabulary and the codec.

Import-light: numba kernels load on first use of ``encode``/``decode``/``quantize``.
"""

from hwsim.numerics.encoded import Encoded
from hwsim.numerics.format import Element, FloatElement, Format, IntElement
from hwsim.numerics.types import RoundMode, ScaleRule, Specials

__all__ = ["Encoded", "Element", "FloatElement", "IntElement", "Format", "RoundMode", "ScaleRule", "Specials"]
