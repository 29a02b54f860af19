"""Small helpers shared by the cost models: input checking and scalar/array outputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from hwsim.errors import HwsimError

__all__ = ["ShapeError", "positive_int", "positive_float", "out", "ceil_div"]


class ShapeError(HwsimError, ValueError):
    """A GEMM dimension or hardware size is not a positive number."""


def positive_int(name: str, value: Any) -> np.ndarray:
    """``value`` as an int64 array (scalar or any shape), every element >= 1.

    Raises:
        ShapeError: naming ``name`` and the first offending value.
    """
    if type(value) is int:  # fast path: plain Python ints stay ints (scalar calls ~10x faster)
        if value < 1:
            raise ShapeError(f"{name} must be >= 1, got {value}")
        return value  # type: ignore[return-value]
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or (np.issubdtype(arr.dtype, np.floating)
                                     and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))):
        raise ShapeError(f"{name} must be a positive integer (or an array of them), got {value!r}")
    arr = arr.astype(np.int64)
    bad = arr < 1
    if np.any(bad):
        raise ShapeError(f"{name} must be >= 1, got {arr[bad].flat[0]}")
    return arr


def positive_float(name: str, value: Any, *, allow_zero: bool = False) -> np.ndarray:
    """``value`` as a float64 array, every element > 0 (or >= 0 with ``allow_zero``)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
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
