"""Ternary weights, BitNet b1.58 (catalog kind ``ternary``): ``gamma = mean|W|`` per tensor,
``Wq = clamp(round(W / max(gamma, 1e-5)), -1, 1)``, value ``Wq * max(gamma, 1e-5)`` (Ma et al.,
arXiv 2402.17764 §2; the official ``weight_quant``: ``scale = 1 / w.abs().mean().clamp_(min=1e-5)``,
``(w * scale).round().clamp_(-1, 1) / scale``; "The Era of 1-bit LLMs: Training Tips, Code and FAQ").

Codes are 2-bit two's complement (``00`` = 0, ``01`` = +1, ``11`` = -1; ``10`` is never produced),
packed 5 trits per byte (:func:`pack_trits`, llama.cpp TQ1_0's base-3 byte code, 1.6 bits/weight)
or 4 codes per byte (TQ2_0 style, 2 bits/weight). BitNet's activation quantizer (per-token absmax
INT8) is the core ``scaled`` kind: catalog entry ``bitnet_a8`` (``formats/lowbit.toml``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics._family import FamilyFormat, back_like, catalog_common, to_host, to_numpy_codes
from hwsim.numerics.codebook import TIE_ROUNDING, Codebook, codebooks_named, nearest_codes
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.protocol import KindSpec, OperandSpec, fp32_scale

__all__ = ["TernaryFormat", "pack_trits", "unpack_trits", "pack_2bit", "unpack_2bit", "TERNARY_TABLE", "PACKINGS",
           "CATALOG_KINDS"]


#: ternary code -> value (2-bit two's complement; code 0b10 never produced)
TERNARY_TABLE = (0.0, 1.0, math.nan, -1.0)
_CODE_TO_DIGIT = np.array([1, 2, 255, 0], dtype=np.uint8)  # digit = trit + 1
_DIGIT_TO_CODE = np.array([3, 0, 1], dtype=np.uint8)
_POW3_MSB_FIRST = np.array([81, 27, 9, 3, 1], dtype=np.int64)
_POW3_LSB_FIRST = np.array([1, 3, 9, 27, 81], dtype=np.int64)


def _ternary_codes(codes: Any) -> np.ndarray:
    c = to_host(codes).reshape(-1)
    if c.dtype.kind not in "ui":
        raise FormatError(f"ternary codes must be integers, got {c.dtype}")
    if c.size and (c.min() < 0 or c.max() > 3 or np.any(c == 2)):
        raise FormatError("ternary codes must be 0 (0), 1 (+1) or 3 (-1); code 2 is never produced")
    return c.astype(np.intp)


def pack_trits(codes: Any) -> np.ndarray:
    """Pack ternary codes (C order) 5 per byte with llama.cpp TQ1_0's byte encoding
    (``quantize_row_tq1_0_ref``: base-3 digits, ``ceil(q 256 / 243)``), but five *consecutive*
    elements per byte: TQ1_0 itself interleaves element ``m + 32 n`` into byte ``m`` of a 256-weight
    block, a memory layout for its SIMD kernels, not a different code. The bytes are therefore not
    TQ1_0 files; the bits per weight (1.6) and the decoder arithmetic are the same.

    Digit ``d = trit + 1`` (-1 -> 0, 0 -> 1, +1 -> 2); the group of 5 consecutive elements
    ``(t0..t4)`` is the base-3 number ``q = d0 3^4 + d1 3^3 + d2 3^2 + d3 3 + d4`` (first element most
    significant), stored as ``byte = ceil(q 256 / 243)`` so that ``(byte 3^j mod 256) * 3 >> 8`` is
    digit j (:func:`unpack_trits`). A short last group is padded with zeros (digit 1). Returns
    ``ceil(n / 5)`` uint8.
    """
    d = _CODE_TO_DIGIT[_ternary_codes(codes)].astype(np.int64)
    pad = -d.size % 5
    if pad:
        d = np.concatenate([d, np.ones(pad, np.int64)])
    q = d.reshape(-1, 5) @ _POW3_MSB_FIRST
    return ((q * 256 + 242) // 243).astype(np.uint8)


def unpack_trits(data: Any, n: int) -> np.ndarray:
    """Inverse of :func:`pack_trits`: the first ``n`` ternary codes (uint8 0 / 1 / 3)."""
    b = np.asarray(data, dtype=np.uint8).reshape(-1)
    if b.size != -(-n // 5):
        raise FormatError(f"unpack_trits: {b.size} bytes hold {5 * b.size} trits; {n} need {-(-n // 5)} bytes")
    digits = (((b[:, None].astype(np.int64) * _POW3_LSB_FIRST) & 0xFF) * 3) >> 8
    return _DIGIT_TO_CODE[digits.reshape(-1)[:n]]


def pack_2bit(codes: Any) -> np.ndarray:
    """Pack 2-bit codes (C order) 4 per byte, element j of a group in bits ``2j, 2j + 1`` (lowest
    first, as TQ2_0's ``qs``). A short last group is padded with code 0."""
    c = _ternary_codes(codes).astype(np.uint8)
    pad = -c.size % 4
    if pad:
        c = np.concatenate([c, np.zeros(pad, np.uint8)])
    c = c.reshape(-1, 4)
    return (c[:, 0] | (c[:, 1] << 2) | (c[:, 2] << 4) | (c[:, 3] << 6)).astype(np.uint8)


def unpack_2bit(data: Any, n: int) -> np.ndarray:
    """Inverse of :func:`pack_2bit`: the first ``n`` codes."""
    b = np.asarray(data, dtype=np.uint8).reshape(-1)
    if b.size != -(-n // 4):
        raise FormatError(f"unpack_2bit: {b.size} bytes hold {4 * b.size} codes; {n} need {-(-n // 4)} bytes")
    return ((b[:, None] >> np.array([0, 2, 4, 6], np.uint8)) & 3).reshape(-1)[:n].astype(np.uint8)


PACKINGS = {"trit5": (pack_trits, unpack_trits, 8 / 5), "bit2": (pack_2bit, unpack_2bit, 2.0)}


@dataclass(frozen=True, slots=True, kw_only=True)
class TernaryFormat(FamilyFormat):
    """BitNet b1.58 weights (arXiv 2402.17764 §2; official ``weight_quant``): one absmean scale per
    tensor, floored at ``scale_floor``.

    Exact semantics: ``gamma = mean|x|`` (float64 sum / n), ``s = fp32(max(gamma, scale_floor))``,
    ``y = x / s`` (float64), code = the nearest value of ``codebook`` (-1, 0, 1) with the codebook's
    tie rule (``even``: 0.5 -> 0, torch.round's half-to-even), value ``table[code] * s``. With
    ``gamma >= scale_floor`` this is exactly the ``codebook`` kind with ``scale_rule = "absmean"``
    per tensor; the floor is what this class adds (all-zero and near-zero tensors). The official
    code multiplies by ``fp32(1 / s)`` and divides by it again; hwsim divides by ``s`` exactly (the
    two differ only for ``|x|`` within float32 rounding of ``0.5 s``) and decodes to ``Wq * s``.

    Fields:
        codebook: the {-1, 0, 1} codebook with codes :data:`TERNARY_TABLE` (``[codebooks.ternary]``).
        scale_floor: lower bound of the scale (BitNet: 1e-5).
        packing: ``trit5`` (5 consecutive trits per byte in TQ1_0's base-3 byte code, :func:`pack_trits`;
            1.6 bits/weight) or ``bit2`` (4 two-bit codes per byte, TQ2_0 style; 2 bits/weight).
            ``encode(...).meta["packed"]`` holds the packed bytes of the codes in C order.
    """

    name: str
    codebook: Codebook
    scale_floor: float = 1e-5
    packing: str = "trit5"
    reference: str = ""
    description: str = ""

    #: the scale floor changes the stored scale, packing only meta["packed"]
    ENCODE_ONLY = frozenset({"scale_floor", "packing"})

    def __post_init__(self) -> None:
        tab = tuple(self.codebook.table)
        if len(tab) != 4 or any(not (math.isnan(a) and math.isnan(b)) and a != b
                                for a, b in zip(tab, TERNARY_TABLE, strict=False)):
            raise FormatError(f"format {self.name!r}: codebook {self.codebook.name!r} must map codes "
                              f"0, 1, 2, 3 to 0, +1, never, -1 (got {list(tab)})")
        if self.packing not in PACKINGS:
            raise FormatError(f"format {self.name!r}: packing {self.packing!r} not one of {list(PACKINGS)}")
        if not (isinstance(self.scale_floor, int | float) and self.scale_floor >= 0):
            raise FormatError(f"format {self.name!r}: scale_floor {self.scale_floor!r} must be a number >= 0")

    element_bits = 2
    block_size = None
    is_scaled = True
    is_float_element = False
    exp_bits = 0
    man_bits = 1
    max = 1.0

    @property
    def bits_per_element(self) -> float:
        return PACKINGS[self.packing][2]

    @property
    def operand(self) -> OperandSpec:
        """2-bit codes (1.6 or 2 stored bits) and one fp32 absmean scale per tensor."""
        rule = f"max(mean|W|, {self.scale_floor:g}) (BitNet b1.58 weight_quant)"
        return OperandSpec(self.element_bits, self.bits_per_element, False, 0, self.man_bits,
                           (fp32_scale(None, rule),), TIE_ROUNDING[self.codebook.ties])

    def values(self) -> np.ndarray:
        return self.codebook.values()

    def describe(self) -> str:
        return f"ternary {{-1, 0, 1}} ({self.packing})"

    def _run(self, x: Any, axis: int, calibration: Any) -> tuple[np.ndarray, Encoded]:
        """Codes (uint8, shape of x), the fp32 scale (0-d ``scales``), ``meta["packed"]``."""
        a, ax = self._prepare(x, axis)
        gamma = float(np.abs(a, dtype=np.float64).sum() / a.size) if a.size else 0.0
        s = np.float32(max(gamma, float(self.scale_floor)))
        codes = nearest_codes(self.codebook, a.astype(np.float64) / np.float64(s)) if a.size else \
            np.zeros(a.shape, np.uint8)
        values = np.asarray(np.asarray(TERNARY_TABLE)[codes] * np.float64(s), dtype=np.float32)
        meta = {"packed": PACKINGS[self.packing][0](codes), "gamma": np.float32(gamma),
                "types": [self.codebook.name]}
        enc = Encoded(codes=back_like(x, codes), scales=back_like(x, np.asarray(s, np.float32)),
                      axis=ax, format=self.name, meta=meta)
        return values, enc

    def _decode(self, enc: Encoded) -> Any:
        codes = to_numpy_codes(self.name, enc.codes, 2)
        if np.any(codes == 2):
            raise FormatError(f"format {self.name!r}: code 2 (0b10) is never produced by ternary encode")
        s = np.float64(np.float32(to_host(enc.scales).reshape(())))
        return back_like(enc.codes, np.asarray(np.asarray(TERNARY_TABLE)[codes.astype(np.intp)] * s, dtype=np.float32))


def _build_ternary(name: str, table: Any, codebooks: Any) -> TernaryFormat:
    (cb,) = codebooks_named(name, [table["codebook"]], codebooks, key="codebook")
    kw = {k: table[k] for k in ("scale_floor", "packing") if k in table}
    return TernaryFormat(name=name, codebook=cb, **kw, **catalog_common(name, table))


CATALOG_KINDS = {"ternary": KindSpec(schema={"codebook": str, "scale_floor": (float, int), "packing": str},
                                     required=("codebook",), allowed={"packing": tuple(PACKINGS)},
                                     build=_build_ternary)}
