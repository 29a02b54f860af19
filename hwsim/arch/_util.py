"""Small helpers shared by the cost models: input checking and scalar/array outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwsim.errors import HwsimError

__all__ = ["ShapeError", "positive_int", "positive_float", "out", "ceil_div", "exact", "largest", "floats",
           "counts", "MAX_COUNT", "exact_maximum", "exact_difference", "check_broadcast"]


class ShapeError(HwsimError, ValueError):
    """A GEMM dimension or hardware size is not a positive number."""


#: largest GEMM dimension or hardware count accepted (int64's maximum, 2**63 - 1)
MAX_COUNT = 2**63 - 1
#: above this bound on the counts a closed form computes, int64 arrays could overflow: the
#: inputs are widened to Python ints (object arrays) so every count stays exact
_INT64_SAFE = float(2**62)


def positive_int(name: str, value: Any) -> Any:
    """``value`` as exact positive integers: a Python ``int`` stays one, anything else becomes an
    int64 array (scalar or any shape), or an object array of Python ints where a value does not fit
    int64. Every element is in ``[1, 2**63 - 1]``.

    Raises:
        ShapeError: naming ``name`` and the first offending value (bools, NaN, inf, fractions,
            non-numbers, values < 1 or > 2**63 - 1).
    """
    if type(value) is int:  # fast path: plain Python ints stay ints (scalar calls ~10x faster)
        if value < 1:
            raise ShapeError(f"{name} must be >= 1, got {value}")
        if value > MAX_COUNT:
            raise ShapeError(f"{name} must be <= 2**63 - 1 (int64), got {value}")
        return value
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise ShapeError(f"{name} must be a positive integer (or an array of them), got {value!r}: {exc}") from None
    if arr.dtype == object:
        return _object_ints(name, value, arr)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or (np.issubdtype(arr.dtype, np.floating)
                                     and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))):
        raise ShapeError(f"{name} must be a positive integer (or an array of them), got {value!r}")
    if arr.size and np.issubdtype(arr.dtype, np.floating) and np.any(np.abs(arr) > MAX_COUNT):
        raise ShapeError(f"{name} must be <= 2**63 - 1 (int64), got {arr[np.abs(arr) > MAX_COUNT].flat[0]!r}")
    if arr.size and np.issubdtype(arr.dtype, np.unsignedinteger) and int(arr.max()) > MAX_COUNT:
        raise ShapeError(f"{name} must be <= 2**63 - 1 (int64), got {int(arr.max())}")
    arr = arr.astype(np.int64)
    bad = arr < 1
    if np.any(bad):
        raise ShapeError(f"{name} must be >= 1, got {arr[bad].flat[0]}")
    return arr


def _object_ints(name: str, value: Any, arr: np.ndarray) -> np.ndarray:
    """An object array (Python ints too large for int64 in a list) as checked Python ints."""
    items = list(arr.flat)
    for v in items:
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer):
            raise ShapeError(f"{name} must be a positive integer (or an array of them), got {v!r} in {value!r}")
        if not 1 <= int(v) <= MAX_COUNT:
            raise ShapeError(f"{name} must be in [1, 2**63 - 1], got {int(v)}")
    return _pyints(items, arr.shape)


def largest(x: Any) -> float:
    """The largest value of ``x`` as a float (0 for an empty array): for overflow bounds."""
    if type(x) is int:
        return float(x)
    arr = np.asarray(x)
    return float(np.max(arr.astype(np.float64))) if arr.size else 0.0


def exact(bound: float, *values: Any) -> tuple[Any, ...]:
    """``values`` unchanged when ``bound`` (an upper bound of every count computed from them) fits
    int64 with a factor-2 margin; else each as Python ints (object arrays), so products stay exact."""
    if bound < _INT64_SAFE:
        return values
    return tuple(np.asarray(v).astype(object) if type(v) is not int else np.asarray(v, dtype=object)
                 for v in values)


def floats(x: Any) -> Any:
    """Object arrays (the exact-count path) as float64; anything else unchanged."""
    if isinstance(x, np.ndarray) and x.dtype == object:
        return x.astype(np.float64)
    return x


def counts(x: Any) -> Any:
    """Integral counts as exact integers: int64 where every value fits, else Python ints (object
    array, or a plain int for a 0-d value); floats (ceilings already applied) are converted."""
    if type(x) is int:
        return x
    arr = np.asarray(x)
    if arr.dtype == object:
        return _pyints(arr.flat, arr.shape)
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64)
    if arr.size == 0 or float(np.max(np.abs(arr))) < 2.0**63:
        return arr.astype(np.int64)
    return _pyints(arr.flat, arr.shape)


def _pyints(values: Any, shape: tuple[int, ...]) -> np.ndarray:
    """An object array of ``shape`` holding ``values`` as Python ints."""
    out_arr = np.empty(shape, dtype=object)
    out_arr.flat[:] = [int(v) for v in values]
    return out_arr


def positive_float(name: str, value: Any, *, allow_zero: bool = False) -> np.ndarray:
    """``value`` as a float64 array, every element > 0 (or >= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or (isinstance(value, np.ndarray | np.generic) and np.asarray(value).dtype == bool):
        raise ShapeError(f"{name} must be a number (or an array of numbers), got {value!r}")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ShapeError(f"{name} must be a number (or an array of numbers), got {value!r}") from None
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        rule = ">= 0" if allow_zero else "> 0"
        raise ShapeError(f"{name} must be finite and {rule}, got {arr[bad].flat[0]}")
    return arr


def ceil_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact integer ceiling of ``a / b`` for positive int arrays."""
    return -(-a // b)


def out(x: Any) -> Any:
    """0-d results become plain Python ``int``/``float``; arrays stay arrays."""
    if type(x) in (int, float):
        return x
    arr = np.asarray(x)
    if arr.ndim == 0:
        return arr.item()
    return arr


def _exact(op: Any, a: Any, b: Any) -> Any:
    """``op(a, b)`` of two exact counts (:func:`counts`), where one may hold Python ints past int64
    and the other int64 (numpy cannot mix them: ``OverflowError``): then in Python ints."""
    try:
        return op(a, b)
    except OverflowError:
        return counts(op(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))


def exact_maximum(a: Any, b: Any) -> Any:
    """Element-wise maximum of two exact counts (see :func:`_exact`)."""
    return _exact(np.maximum, a, b)


def exact_difference(a: Any, b: Any) -> Any:
    """``a - b`` of two exact counts with ``a >= b`` (see :func:`_exact`)."""
    return _exact(np.subtract, a, b)


def check_broadcast(**dims: Any) -> None:
    """Raise :class:`ShapeError` unless the GEMM dimensions broadcast together (numpy rules),
    naming each dimension's shape."""
    try:
        np.broadcast_shapes(*(np.shape(v) for v in dims.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in dims.items())
        raise ShapeError(f"GEMM dimensions must broadcast together (numpy rules); got shapes {shapes}") from None
