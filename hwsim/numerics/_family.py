"""What every format-family module shares: host/torch conversion, axis checks, the layout of
an input as rows of one scale group each, and the :class:`FamilyFormat` base class.

The families (:mod:`~hwsim.numerics.codebook`, ``mixture``, ``asym_int``, ``olive``, ``ternary``,
``bcq``, ``llmfp``) compute on the host in numpy/numba: a torch input is copied to the CPU as
float32 (:func:`to_numpy_f32`), and every result goes back as the caller's array type on the
caller's device (:func:`back_like`). Groups (``group_size``): None = the whole tensor, 0 = one
slice along the encode axis (a weight's output channel when encoded along its input axis),
B > 0 = B consecutive elements along the axis, the last group of a slice short
(:func:`to_slices`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from hwsim.errors import FormatError
from hwsim.numerics.encoded import Encoded, check_source, fingerprint, require_meta
from hwsim.numerics.plan import as_array, check_axis, from_rows, is_torch, to_rows
from hwsim.numerics.protocol import replace_fields

__all__ = ["FamilyFormat", "Slices", "to_host", "to_numpy_f32", "to_numpy_codes", "back_like",
           "check_calibration_shape", "to_slices", "from_slices", "rows_to_groups",
           "groups_to_rows", "slice_base", "SCALE_PER", "group_size_from", "catalog_common"]


def to_host(x: Any) -> np.ndarray:
    """A numpy array of ``x`` (a torch tensor on any device is copied to the host, unchanged dtype)."""
    return np.asarray(x.detach().cpu().numpy() if is_torch(x) else x)


def to_numpy_f32(name: str, x: Any) -> np.ndarray:
    """float32 numpy view/copy of a numpy array or torch tensor (any device); clear dtype error."""
    if is_torch(x):
        if not x.is_floating_point():
            raise FormatError(f"format {name!r}: input dtype {x.dtype} is not a float type")
        return to_host(x.float())
    a = as_array(name, x)
    if a.dtype.kind != "f":
        raise FormatError(f"format {name!r}: input dtype {a.dtype} is not a float type "
                          f"(float16/float32/float64 are accepted)")
    return a.astype(np.float32, copy=False)


def back_like(x: Any, a: np.ndarray) -> Any:
    """``a`` as the caller's array type (torch tensor on x's device)."""
    if is_torch(x):
        import torch

        a = np.asarray(a)  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        return torch.from_numpy(a if a.flags.c_contiguous else a.copy()).to(x.device)
    return a


def check_calibration_shape(name: str, group_size: int | None, shape: tuple[int, ...],
                            cal_shape: tuple[int, ...], axis: int) -> None:
    """A calibration tensor must lay out the same scale groups as the input: any shape for one
    scale per tensor, the same channels (every dimension but the axis) for per-channel scales,
    the same shape for groups along the axis."""
    if group_size is None:
        return
    if group_size == 0:
        ok = len(cal_shape) == len(shape) and all(a == b for i, (a, b) in enumerate(zip(shape, cal_shape, strict=False))
                                                  if i != axis)
        want = "the same size in every dimension but the encode axis"
    else:
        ok = tuple(cal_shape) == tuple(shape)
        want = "the input's shape (groups along the axis must hold the same elements)"
    if not ok:
        raise FormatError(f"format {name!r}: calibration shape {tuple(cal_shape)} does not match the input "
                          f"{tuple(shape)}: it needs {want}; per-tensor formats accept any shape")


@dataclass(frozen=True, slots=True)
class Slices:
    """An input laid out as rows of one scale group each: ``xs[s, :lens[s]]`` (zero padded)."""

    xs: np.ndarray
    lens: np.ndarray
    shape: tuple[int, ...]
    axis: int
    groups_shape: tuple[int, ...]  #: shape of the per-group arrays (scales, selectors)


def to_slices(x: np.ndarray, axis: int, group_size: int | None) -> Slices:
    """Rows = scale groups: the whole tensor (None), one axis slice (0), or B consecutive elements
    along the axis (B > 0, last group short)."""
    shape = x.shape
    if x.ndim == 0:
        x = x.reshape(1)
    rows = to_rows(x, axis % x.ndim)
    L = rows.shape[1]
    if group_size is None:
        xs = rows.reshape(1, -1)
        return Slices(xs, np.array([xs.shape[1]], dtype=np.int64), shape, axis, ())
    if group_size == 0 or group_size >= L:
        n_groups, B = 1, max(L, 1)
    else:
        B = group_size
        n_groups = -(-L // B)
    pad = n_groups * B - L
    if pad:
        rows = np.concatenate([rows, np.zeros((rows.shape[0], pad), np.float32)], axis=1)
    xs = np.ascontiguousarray(rows.reshape(-1, B))
    lens = np.full((rows.shape[0], n_groups), B, dtype=np.int64)
    if pad:
        lens[:, -1] = B - pad
    gshape = list(shape) if shape else [1]
    gshape[axis] = n_groups
    return Slices(xs, lens.reshape(-1), shape, axis, tuple(gshape))


def from_slices(sl: Slices, rows: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_slices` for an array shaped like ``sl.xs``."""
    if int(np.prod(sl.shape, dtype=np.int64)) == 0:
        return np.zeros(sl.shape, rows.dtype)
    shape = sl.shape if sl.shape else (1,)
    L = shape[sl.axis]
    if not sl.groups_shape:  # one row: the axis-moved tensor flattened
        flat = rows.reshape(-1)[: int(np.prod(shape))].reshape(-1, L)
    else:
        flat = rows.reshape(int(np.prod(shape, dtype=np.int64)) // L, -1)[:, :L]
    return from_rows(flat, shape, sl.axis % len(shape)).reshape(sl.shape)


def rows_to_groups(sl: Slices, rows: np.ndarray) -> np.ndarray:
    """Per-group values in :func:`to_slices` row order (the other axes, then the group index) as
    an array shaped like x with the axis length replaced by the group count (plus trailing dims
    of ``rows``); a per-tensor layout gives a 0-d array."""
    extra = rows.shape[1:] if rows.ndim > 1 else ()
    if not sl.groups_shape:
        return rows.reshape(extra)
    shape = sl.shape if sl.shape else (1,)
    lead = shape[:sl.axis] + shape[sl.axis + 1:]
    arr = rows.reshape(lead + (sl.groups_shape[sl.axis],) + extra)
    return np.moveaxis(arr, len(lead), sl.axis)


def groups_to_rows(name: str, sl: Slices, groups: np.ndarray, extra: tuple[int, ...] = ()) -> np.ndarray:
    """Inverse of :func:`rows_to_groups`; a single per-tensor value broadcasts to every row."""
    groups = np.asarray(groups)
    n = sl.xs.shape[0]
    if not sl.groups_shape or groups.size == int(np.prod(extra, dtype=np.int64)):
        return np.broadcast_to(groups.reshape((1,) + extra), (n,) + extra)
    want = tuple(sl.groups_shape) + extra
    if groups.shape != want:
        raise FormatError(f"format {name!r}: per-group array of shape {groups.shape}, the codes need {want}")
    return np.moveaxis(groups, sl.axis, len(sl.groups_shape) - 1).reshape((-1,) + extra)


def slice_base(sl: Slices, rule: str, center: str) -> np.ndarray:
    """Per-row base of the scale: absmax, mean |x| or OliVe's 3-sigma ``max|mean +- 3 std|``."""
    S = sl.xs.shape[0]
    mask = np.arange(sl.xs.shape[1])[None, :] < sl.lens[:, None]
    a = np.abs(sl.xs.astype(np.float64))
    n = np.maximum(sl.lens, 1)
    if rule == "absmean":
        return (a.sum(axis=1) / n).reshape(S)
    if center == "3sigma":
        x64 = sl.xs.astype(np.float64)
        mean = x64.sum(axis=1) / n
        var = (np.where(mask, x64 - mean[:, None], 0.0) ** 2).sum(axis=1) / np.maximum(n - 1, 1)
        sd = np.sqrt(var)
        return np.maximum(np.abs(mean + 3 * sd), np.abs(mean - 3 * sd))
    return a.max(axis=1) if a.size else np.zeros(S)


def to_numpy_codes(name: str, codes: Any, bits: int) -> np.ndarray:
    """Element codes as a host numpy array: unsigned integers that fit ``bits`` bits."""
    c = to_host(codes)
    if c.dtype.kind != "u":
        raise FormatError(f"format {name!r}: codes must be unsigned integers, got {c.dtype}")
    if c.size and int(c.max()) >= 1 << bits:
        raise FormatError(f"format {name!r}: code {int(c.max())} does not fit in {bits} bits")
    return c


#: the catalog values of ``scale_per`` (:func:`group_size_from`)
SCALE_PER = ("tensor", "channel", "group")


def group_size_from(name: str, table: Any, default: str = "channel") -> int | None:
    """A catalog entry's ``scale_per`` (tensor | channel | group, ``default`` when absent) and
    ``group_size`` -> the ``group_size`` field of a family format: None = one scale per tensor,
    0 = one per slice along the encode axis, B > 0 = groups of B along it."""
    per = table.get("scale_per", default)
    if per == "group":
        if "group_size" not in table:
            raise FormatError(f"format {name!r}: scale_per 'group' needs group_size")
        return int(table["group_size"])
    if "group_size" in table:
        raise FormatError(f"format {name!r}: group_size is only meaningful with scale_per = 'group'")
    return None if per == "tensor" else 0


#: core-format catalog keys that a family whose rounding its paper fixes does not take
_UNSUPPORTED = ("rounding", "saturate", "ml_dtypes")


def catalog_common(name: str, table: Any) -> dict[str, Any]:
    """``reference``/``description`` of a catalog entry of such a family (ternary, BCQ, LLM-FP);
    a core-format key it cannot honour is an error."""
    bad = [k for k in _UNSUPPORTED if k in table]
    if bad:
        raise FormatError(f"format {name!r}: {bad[0]} is not a parameter of this kind (its rounding is "
                          f"fixed by the paper's algorithm)")
    return {k: table[k] for k in ("reference", "description") if k in table}



class FamilyFormat:
    """The members a family class shares (ANT/BitMoD codebooks, INT-asym, OliVe, ternary, BCQ,
    LLM-FP). A subclass is a frozen dataclass with ``name`` and implements
    ``_run(x, axis, calibration) -> (values, Encoded)`` on the host array of :meth:`_prepare`;
    ``encode``, ``quantize`` (``decode(encode(x))`` bit for bit, computed in the same pass),
    ``replace`` and ``str`` come from here. ``calibration`` is accepted only where the family
    searches its scales (``takes_calibration``)."""

    __slots__ = ()
    #: the family searches scales / types, which ``calibration`` may choose on another tensor
    takes_calibration = False
    #: decode reads ``Encoded.scales``
    reads_scales = True
    #: fields that change only how values are encoded, not how bits are read (beyond
    #: :data:`~hwsim.numerics.encoded.ENCODE_ONLY_FIELDS`): left out of the format's fingerprint
    ENCODE_ONLY: frozenset[str] = frozenset()

    def _run(self, x: Any, axis: int, calibration: Any) -> tuple[np.ndarray, Encoded]:
        raise NotImplementedError

    def _prepare(self, x: Any, axis: int) -> tuple[np.ndarray, int]:
        """The float32 host array of ``x`` and the normalized axis; Inf/NaN inputs are an error
        (none of these papers defines an encoding for them, and their codes have none)."""
        name = self.name  # type: ignore[attr-defined]
        a = to_numpy_f32(name, x)
        ax = check_axis(name, axis, a.ndim)
        if a.size and not np.all(np.isfinite(a)):
            raise FormatError(f"format {name!r}: input holds Inf/NaN; {type(self).__name__} has no "
                              f"encoding for them")
        return a, ax

    def _checked(self, calibration: Any) -> Any:
        if calibration is not None and not self.takes_calibration:
            raise FormatError(f"format {self.name!r}: takes no calibration tensor "  # type: ignore[attr-defined]
                              f"(its scale is computed from the input itself)")
        return calibration

    def encode(self, x: Any, axis: int = -1, calibration: Any = None) -> Encoded:
        """Codes (uint8, shape of x), scales and the family's ``meta`` (see the class docstring).
        ``calibration``: the tensor the scales (and types) are chosen on, where the family searches."""
        enc = self._run(x, axis, self._checked(calibration))[1]
        return dataclasses.replace(enc, fingerprint=fingerprint(self))

    def decode_meta(self, enc: Encoded) -> tuple[str, ...]:
        """The ``meta`` keys the family's decoder reads for ``enc`` (none by default)."""
        return ()

    def decode(self, enc: Encoded) -> Any:
        """Values of an :class:`Encoded` of this format as float32 (same array type and device as
        its codes). Checked first, for every family alike: ``enc`` is an Encoded made by a format
        that reads bits as this one does (:func:`~hwsim.numerics.encoded.check_source`), holding
        the ``meta`` its decoder reads (:meth:`decode_meta`) and an axis valid for its codes."""
        check_source(self, enc)
        name = self.name  # type: ignore[attr-defined]
        require_meta(name, enc, self.decode_meta(enc))
        if enc.codes is None or not hasattr(enc.codes, "shape"):
            raise FormatError(f"format {name!r}: Encoded.codes must be an array, got {type(enc.codes).__name__}")
        if enc.scales is None and self.reads_scales:
            raise FormatError(f"format {name!r}: Encoded has no scales")
        check_axis(name, enc.axis, len(enc.codes.shape))
        if enc.scales is not None:
            s = to_host(enc.scales)
            if s.dtype.kind not in "fiu":
                raise FormatError(f"format {name!r}: scales must be a numeric array, got dtype {s.dtype}")
            if s.dtype.kind == "f" and s.size and not (np.isfinite(s).all() and (s >= 0).all()):
                raise FormatError(f"format {name!r}: scales must be finite and >= 0 (encode never writes "
                                  f"others)")
        return self._decode(enc)

    def _decode(self, enc: Encoded) -> Any:
        raise NotImplementedError

    def quantize(self, x: Any, axis: int = -1, calibration: Any = None) -> Any:
        """``decode(encode(x))`` as float32, same shape (and device, for torch)."""
        return back_like(x, self._run(x, axis, self._checked(calibration))[0])

    def replace(self, **changes: Any) -> Any:
        """A copy with fields changed (``hwsim.format(name, **overrides)``)."""
        return replace_fields(self, changes)

    def __str__(self) -> str:
        return self.name  # type: ignore[attr-defined]
