"""The result of ``Format.encode``: real bit patterns plus the scales needed to decode them, and
the identity of the format that made them (:func:`fingerprint`), which decode checks
(:func:`check_source`) so that bits are never read by a format that reads them differently."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from hwsim.errors import FormatError

__all__ = ["Encoded", "fingerprint", "check_source", "require_meta", "ENCODE_ONLY_FIELDS"]


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
        fingerprint: :func:`fingerprint` of the format that produced it ("" for an Encoded built
            by hand: decode then checks ``format`` by name only).
    """

    codes: Any
    scales: Any = None
    tensor_scale: Any = None
    axis: int = -1
    format: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.codes.shape)


#: fields of any format (and of the element types / codebooks inside it) that change how values
#: are encoded but never how stored bits are read: formats differing only in these decode each
#: other's encodings bit for bit. A format class adds its own in ``ENCODE_ONLY`` (a class attribute).
ENCODE_ONLY_FIELDS = frozenset({"name", "reference", "description", "rounding", "saturate", "seed", "ml_dtypes"})
#: also encode-only inside nested values (a codebook's tie rule and scale denominator)
_NESTED_ENCODE_ONLY = ENCODE_ONLY_FIELDS | {"ties", "denominator"}


def _canon(v: Any, skip: frozenset[str]) -> Any:
    """A hashable, repr-stable description of a format field's value."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return (type(v).__name__,) + tuple((f.name, _canon(getattr(v, f.name), _NESTED_ENCODE_ONLY))
                                           for f in dataclasses.fields(v) if f.name not in skip)
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, np.ndarray):
        return ("ndarray", v.dtype.str, v.shape, hashlib.sha1(np.ascontiguousarray(v).tobytes()).hexdigest())
    if isinstance(v, (tuple, list)):
        return tuple(_canon(u, skip) for u in v)
    if isinstance(v, float):
        return float.hex(v)
    return repr(v)


#: fingerprints by id(format), keeping the format alive so that the id stays its own
_CACHE: dict[int, tuple[Any, str]] = {}


def fingerprint(fmt: Any) -> str:
    """16 hex digits identifying how ``fmt`` reads stored bits: a hash of its class and every field
    except :data:`ENCODE_ONLY_FIELDS` and the class's ``ENCODE_ONLY``. Computed once per format
    object (formats are immutable), so the check costs a dict lookup per call."""
    hit = _CACHE.get(id(fmt))
    if hit is not None and hit[0] is fmt:
        return hit[1]
    skip = ENCODE_ONLY_FIELDS | frozenset(getattr(fmt, "ENCODE_ONLY", ()))
    desc = _canon(fmt, skip)
    fp = hashlib.sha1(repr(desc).encode()).hexdigest()[:16]
    if len(_CACHE) >= 4096:
        _CACHE.clear()
    _CACHE[id(fmt)] = (fmt, fp)
    return fp


def decode_fields(fmt: Any) -> dict[str, Any]:
    """The fields of ``fmt`` that its fingerprint covers (for error messages)."""
    skip = ENCODE_ONLY_FIELDS | frozenset(getattr(fmt, "ENCODE_ONLY", ()))
    return {f.name: getattr(fmt, f.name) for f in dataclasses.fields(fmt) if f.name not in skip}


def check_source(fmt: Any, enc: Any) -> None:
    """Decode's check that ``enc`` is an :class:`Encoded` whose bits ``fmt`` reads as they were
    written: same :func:`fingerprint` (an Encoded built by hand, without one, must at least not
    name another format). Raises FormatError naming both formats."""
    name = fmt.name
    if not isinstance(enc, Encoded):
        raise FormatError(f"format {name!r}: decode takes the Encoded that encode returned, got "
                          f"{type(enc).__name__} (build one with hwsim.numerics.Encoded(codes=..., "
                          f"scales=..., axis=...) for raw codes)")
    if enc.fingerprint:
        if enc.fingerprint == fingerprint(fmt):
            return
        if enc.format == name:
            what = (f"format {name!r} with other parameters that change how its bits are read "
                    f"(this one has {_describe(fmt)})")
        else:
            what = f"format {enc.format!r}, which reads bits differently"
        raise FormatError(f"format {name!r} cannot decode an Encoded made by {what}: decode with the "
                          f"format that encoded it (fingerprints {enc.fingerprint} != {fingerprint(fmt)})")
    if enc.format and enc.format != name:
        raise FormatError(f"format {name!r} cannot decode an Encoded made by format {enc.format!r}: "
                          f"decode with the format that encoded it")


def _describe(fmt: Any) -> str:
    parts = []
    for k, v in decode_fields(fmt).items():
        describe = getattr(v, "describe", None)
        if dataclasses.is_dataclass(v) and callable(describe):
            v = describe()
        elif isinstance(v, Enum):
            v = v.value
        elif isinstance(v, tuple) and v and dataclasses.is_dataclass(v[0]):
            v = [getattr(u, "name", u) for u in v]
        parts.append(f"{k}={v}")
    return ", ".join(parts)


def require_meta(name: str, enc: Encoded, keys: tuple[str, ...]) -> None:
    """Decode's check that ``enc.meta`` holds every key the decoder reads (no silent defaults)."""
    meta = enc.meta if isinstance(enc.meta, dict) else None
    if meta is None:
        raise FormatError(f"format {name!r}: Encoded.meta must be a dict, got {type(enc.meta).__name__}")
    missing = [k for k in keys if k not in meta]
    if missing:
        raise FormatError(f"format {name!r}: Encoded.meta lacks {missing} (it holds {sorted(meta)}); decode "
                          f"reads them: pass the Encoded that encode returned")
