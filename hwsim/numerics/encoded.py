"""The result of ``Format.encode``: real bit patterns plus the scales needed to decode them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Encoded"]


@dataclass(frozen=True, slots=True)
class Encoded:
    """Bit patterns of an encoded tensor (numpy arrays, or torch tensors on the input's device).

    Attributes:
        codes: element codes, uint8 (<= 8-bit elements) / uint16 / uint32 (fp32), shape of the input.
        scales: per-block scales, input shape with the axis length replaced by the block count;
            uint8 E8M0 bytes (pow2 rule), uint8 codes of the scale element (NVFP4: E4M3), or float32
            values (fp32 scale element). None for unscaled formats.
        tensor_scale: the fp32 per-tensor scale, or None.
        axis: the (non-negative) axis the blocks run along.
        format: name of the format that produced it.
        meta: format-specific extras (outlier masks, chosen types, ...).
    """

    codes: Any
    scales: Any = None
    tensor_scale: Any = None
    axis: int = -1
    format: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)
