"""Asymmetric (min/max) integer quantization with a zero point per group: BitMoD's INT-asym
baseline (catalog kind ``asym_int``), which the codebook family cannot express.

Source: Chen et al., "BitMoD: Bit-serial Mixture-of-Datatype LLM Acceleration", HPCA'25
(arXiv 2411.11745) §V-A; official code ``abdelfattah-lab/BitMoD-HPCA-25`` @ e445a5f,
``bitmod_quant/quant_utils/quant_weight.py::quant_int_asym``. Catalog entries: ``formats/bitmod.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba as nb
import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics._family import (
    SCALE_PER,
    FamilyFormat,
    back_like,
    from_slices,
    group_size_from,
    groups_to_rows,
    rows_to_groups,
    to_host,
    to_numpy_codes,
    to_slices,
)
from hwsim.numerics.codebook import SCALE_FLOAT_FIELDS
from hwsim.numerics.encoded import Encoded
from hwsim.numerics.protocol import GroupedIntCodes, KindSpec, OperandSpec, ScaleSpec, fp32_scale
from hwsim.numerics.types import RoundMode

__all__ = ["AsymIntFormat", "SCALE_CLAMP", "CATALOG_KINDS"]

#: ``quant_int_asym`` clamps the scale to [1e-5, 1e4], a guard for its fp16 arithmetic (the lower
#: bound also makes an all-zero group encode to zeros rather than divide by zero). Applied only by
#: ``clamp_scale=True`` (catalog: ``int4_asym_g128_fp16guard``): on fp32 data it flushes small
#: tensors to zero and clips large ones (docs/numerics.md, Guarantees).
SCALE_CLAMP = (float(np.float32(1e-5)), float(np.float32(1e4)))


@nb.njit(cache=True, parallel=True)
def _asym_kernel(xs, lens, qmax, clamp, s_lo, s_hi, s32, z, codes, vals):
    """quant_int_asym per row (group): s = fp32((max - min) / qmax) (clamped to [s_lo, s_hi] when
    ``clamp``), z = clamp(RNE(-min / s)), q = clamp(RNE(x / s) + z, 0, qmax), value fp32((q - z) s);
    float64 arithmetic on fp32 inputs. Without the clamp, a group whose range is zero (all values
    equal, c) takes s = fp32(|c| / qmax), the range widened to include 0; an all-zero group
    (s = 0) stores codes, zero point and scale 0 and decodes to zeros."""
    for r in nb.prange(xs.shape[0]):
        n = lens[r]
        if n == 0:
            s32[r] = np.float32(s_lo) if clamp else np.float32(0.0)
            continue
        mn = np.float64(xs[r, 0])
        mx = mn
        for j in range(1, n):
            v = np.float64(xs[r, j])
            mn = min(mn, v)
            mx = max(mx, v)
        if clamp:
            sc = np.float32(min(max(np.float64(np.float32((mx - mn) / qmax)), s_lo), s_hi))
        else:
            sc = np.float32((mx - mn) / qmax)
            if sc == 0:
                sc = np.float32(max(abs(mn), abs(mx)) / qmax)
            if sc == 0:
                s32[r] = sc
                z[r] = 0.0
                for j in range(n):
                    codes[r, j] = 0
                    vals[r, j] = 0.0
                continue
        s32[r] = sc
        s = np.float64(sc)
        zr = min(max(np.rint(-mn / s), 0.0), qmax)
        z[r] = zr
        for j in range(n):
            q = min(max(np.rint(np.float64(xs[r, j]) / s) + zr, 0.0), qmax)
            codes[r, j] = np.uint8(q)
            vals[r, j] = np.float32((q - zr) * s)


@dataclass(frozen=True, slots=True, kw_only=True)
class AsymIntFormat(FamilyFormat, GroupedIntCodes):
    """Asymmetric (min/max) integer quantization with a zero point per group: BitMoD's INT-asym
    baseline (HPCA'25 §V-A; ``quant_weight.py::quant_int_asym``), which is also AWQ/GPTQ's
    default weight quantizer.

    For each group (``group_size``: None = tensor, 0 = axis slice, B = groups of B along the axis):

    - ``s = fp32((max - min) / (2^b - 1))`` (float64 operands); with ``clamp_scale=True`` clamped
      to [1e-5, 1e4] as in the code (its fp16 guard; off by default: on fp32 data it flushes a
      group of N(0, 1e-6) values to zero and caps a group's range at 1.5e5); without it a zero
      range takes ``fp32(max(|min|, |max|) / (2^b - 1))`` and an all-zero group the scale 0;
    - zero point ``z = clamp(RNE(-min / s), 0, 2^b - 1)``;
    - code ``q = clamp(RNE(x / s) + z, 0, 2^b - 1)`` (``torch.round`` is half-to-even);
    - value ``fp32((q - z) * s)``.

    With ``clamp_scale``, as in the code, a group whose values are all equal (e.g. a 1-element last
    group of a row whose length is not a multiple of ``group_size``) gets the 1e-5 floor scale and
    keeps only values within ``(2^b - 1) * 1e-5`` of its minimum's zero point: such a group is not
    representable by a min/max range and the official code never meets one (it requires whole groups).

    Deviations: the official code works in fp16, this one uses fp32 scales and float64 quotients
    (the codebook contract). ``encode`` returns ``codes`` (uint8 q), ``scales`` (float32 s) and
    ``meta["zero_point"]`` (uint8 z, same shape as the scales).
    """

    name: str
    bits: int = 4
    group_size: int | None = 128
    scale_bits: int = 16
    clamp_scale: bool = False
    reference: str = ""
    description: str = ""

    #: the scale's storage width is a cost-model field; decode reads the stored float32 scales
    ENCODE_ONLY = frozenset({"scale_bits", "clamp_scale"})

    def decode_meta(self, enc: Encoded) -> tuple[str, ...]:
        return ("zero_point",)

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int) or not 2 <= self.bits <= 8:
            raise FormatError(f"format {self.name!r}: bits={self.bits!r} out of range [2, 8]")
        if self.group_size is not None and (isinstance(self.group_size, bool) or not isinstance(self.group_size, int)
                                            or self.group_size < 0):
            raise FormatError(f"format {self.name!r}: group_size={self.group_size!r} must be None or an int >= 0")
        if isinstance(self.scale_bits, bool) or not isinstance(self.scale_bits, int) or self.scale_bits < 0:
            raise FormatError(f"format {self.name!r}: scale_bits={self.scale_bits!r} must be an int >= 0")
        if not isinstance(self.clamp_scale, bool):
            raise FormatError(f"format {self.name!r}: clamp_scale={self.clamp_scale!r} must be True or False")

    # --- NumberFormat members ----------------------------------------------------------------
    @property
    def element_bits(self) -> int:
        return self.bits

    @property
    def qmax(self) -> int:
        return (1 << self.bits) - 1

    @property
    def bits_per_element(self) -> float:
        """Code bits plus, for group formats, the scale and the ``bits``-wide zero point per group."""
        return self.bits + ((self.scale_bits + self.bits) / self.group_size if self.group_size else 0.0)

    @property
    def is_scaled(self) -> bool:
        return True

    @property
    def max(self) -> float:
        return float(self.qmax)

    def values(self) -> np.ndarray:
        """The unsigned codes ``0 .. 2^b - 1`` (element values before the zero point and scale)."""
        return np.arange(self.qmax + 1, dtype=np.float64)

    def describe(self) -> str:
        return f"UINT{self.bits} codes with a per-group zero point"

    @property
    def operand(self) -> OperandSpec:
        """``bits``-bit codes (counted as sign + magnitude, as the other integer families) and a
        min/max scale per group (``scale_bits`` wide; fp16 in the official code) or an fp32 scale
        per channel / tensor; the ``bits``-wide zero point per group is in ``bits_per_element``."""
        clamp = " clamped to [1e-5, 1e4]" if self.clamp_scale else ""
        rule = (f"s = (max - min) / (2^b - 1){clamp}, zero point RNE(-min / s) "
                "(BitMoD HPCA'25 quant_int_asym)")
        if self.group_size:
            e, m = SCALE_FLOAT_FIELDS.get(self.scale_bits, (8, max(self.scale_bits - 9, 0)))
            scale = ScaleSpec("group", self.group_size, self.scale_bits, False, e, m, rule)
        else:
            scale = fp32_scale(self.group_size, rule)
        return OperandSpec(self.bits, self.bits_per_element, False, 0, self.man_bits, (scale,),
                           RoundMode.EVEN.value)

    # --- codec --------------------------------------------------------------------------------
    def _run(self, x: Any, axis: int, calibration: Any) -> tuple[np.ndarray, Encoded]:
        """Codes ``q`` (uint8, shape of x), float32 ``scales`` per group and ``meta["zero_point"]``."""
        a, ax = self._prepare(x, axis)
        sl = to_slices(a, ax, self.group_size)
        S = sl.xs.shape[0]
        s32 = np.zeros(S, np.float32)
        z = np.zeros(S, np.float64)
        codes = np.zeros(sl.xs.shape, np.uint8)
        vals = np.zeros(sl.xs.shape, np.float32)
        if sl.xs.size:
            _asym_kernel(sl.xs, sl.lens, self.qmax, self.clamp_scale, SCALE_CLAMP[0], SCALE_CLAMP[1], s32, z,
                         codes, vals)
        scales = rows_to_groups(sl, s32)
        zp = rows_to_groups(sl, z.astype(np.uint8))
        enc = Encoded(codes=back_like(x, from_slices(sl, codes)), scales=back_like(x, scales), axis=ax,
                      format=self.name, meta={"zero_point": back_like(x, zp)})
        return from_slices(sl, vals), enc

    def _decode(self, enc: Encoded) -> Any:
        """``fp32((q - z) * s)`` per group (same array type and device as the codes)."""
        codes = to_numpy_codes(self.name, enc.codes, self.bits)
        if codes.ndim == 0:  # encode treats a 0-d input as one element
            one = Encoded(codes=codes.reshape(1), scales=enc.scales, axis=0, format=enc.format, meta=enc.meta)
            return back_like(enc.codes, np.asarray(self._decode(one)).reshape(()))

        if "zero_point" not in enc.meta:
            raise FormatError(f"format {self.name!r}: Encoded.meta has no 'zero_point'")
        sl = to_slices(codes.astype(np.float32), enc.axis, self.group_size)
        scales = groups_to_rows(self.name, sl, to_host(enc.scales).astype(np.float32)).astype(np.float64)
        zp_host = to_host(enc.meta["zero_point"])
        if zp_host.dtype.kind not in "ui" or (zp_host.size and not 0 <= int(zp_host.min()) <= int(zp_host.max())
                                               <= self.qmax):
            raise FormatError(f"format {self.name!r}: meta['zero_point'] must hold integers in 0..{self.qmax}, "
                              f"got dtype {zp_host.dtype}")
        zp = groups_to_rows(self.name, sl, zp_host).astype(np.float64)
        if scales.size != sl.xs.shape[0] or zp.size != sl.xs.shape[0]:
            raise FormatError(f"format {self.name!r}: scales/zero_point hold {scales.size}/{zp.size} groups, "
                              f"the codes need {sl.xs.shape[0]}")
        out = ((sl.xs.astype(np.float64) - zp[:, None]) * scales[:, None]).astype(np.float32)
        return back_like(enc.codes, from_slices(sl, out))


def _build_asym_int(name: str, table: Any, codebooks: Any) -> AsymIntFormat:
    kw = {k: table[k] for k in ("bits", "scale_bits", "clamp_scale", "reference", "description") if k in table}
    return AsymIntFormat(name=name, group_size=group_size_from(name, table), **kw)


def _catalog_kinds() -> dict[str, KindSpec]:
    return {"asym_int": KindSpec(
        schema={"bits": int, "scale_per": str, "group_size": int, "scale_bits": int, "clamp_scale": bool},
        required=("bits",), allowed={"scale_per": SCALE_PER}, build=_build_asym_int)}


CATALOG_KINDS = _catalog_kinds()
