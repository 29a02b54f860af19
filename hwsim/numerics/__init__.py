"""Bit-exact number formats: value objects, the catalog vocabulary and the codec.

Import-light: numba kernels load on first use of ``encode``/``decode``/``quantize``. The format
families live one per module (``codebook``, ``mixture``, ``asym_int``, ``olive``, ``ternary``,
``shift``, ``bcq``, ``llmfp``; shared plumbing in ``_family``), the LLM.int8() GEMM emulation in
``llm_int8`` and bit-serial term decomposition in ``bitserial``.
"""

from hwsim.numerics.elements import Element, FloatElement, IntElement
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.format import Format
from hwsim.numerics.protocol import NumberFormat, OperandSpec, ScaleSpec
from hwsim.numerics.types import RoundMode, ScaleRule, Specials

__all__ = ["Encoded", "Element", "FloatElement", "IntElement", "Format", "NumberFormat", "OperandSpec", "ScaleSpec",
           "RoundMode", "ScaleRule", "Specials"]
