"""One declarative checker for every catalog table (formats, codebooks, format families, accelerators).

STYLE P8 (after ZigZag's ``accelerator_validator.py`` SCHEMA, but keeping the messages): a
:class:`Schema` maps each key of a TOML table to a :class:`Field` (accepted types, required or not,
allowed values, lower bound). :meth:`Schema.check` appends one message per problem, each of the
form ``file:table.key: message``, to a caller's list, so a loader reports every problem of every
file in one :class:`~hwsim.errors.CatalogError`; an unknown key names the closest known key.
Cross-field rules (one of two keys, a citation per number, ...) stay with the loader that owns them.

Sits beside :mod:`hwsim.errors` at the bottom of the layers: imports nothing from hwsim.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Field", "Schema", "at", "typename"]

Types = type | tuple[type, ...]


def at(where: str, key: str) -> str:
    """``file:table.key``; ``file:key`` when ``where`` is a file's top level (ends in ``:``)."""
    return f"{where}{key}" if where.endswith(":") else f"{where}.{key}"


def typename(types: Types) -> str:
    """``int`` or ``int or float``."""
    return types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)


@dataclass(frozen=True, slots=True)
class Field:
    """One key of a table.

    ``types``: the accepted Python types (a TOML boolean is accepted only where ``bool`` is listed,
    although ``bool`` subclasses ``int``); ``allowed``: the accepted values, if a closed set;
    ``minimum``: lower bound of a numeric value (``inclusive``: the bound itself is accepted).
    A float must be finite (TOML 1.0 writes ``nan`` and ``inf`` as floats) unless ``finite`` is off."""

    types: Types
    required: bool = False
    allowed: tuple[Any, ...] | None = None
    minimum: float | None = None
    inclusive: bool = False
    finite: bool = True

    def problem(self, value: Any, *, arrays: bool = False) -> str | None:
        """What is wrong with ``value`` (None: nothing). ``arrays``: a numeric field may also hold
        a numpy scalar or array (keyword overrides that sweep design points); every element is
        then checked (a number, finite, in range, integral for an ``int`` field)."""
        wants = self.types if isinstance(self.types, tuple) else (self.types,)
        if arrays and _is_numeric_field(wants) and _is_array_like(value):
            return self._array_problem(value, wants)
        if (isinstance(value, bool) and bool not in wants) or not isinstance(value, wants):
            return f"expected {typename(self.types)}, got {type(value).__name__} {value!r}"
        if isinstance(value, float) and self.finite and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if self.minimum is not None and isinstance(value, int | float) and not isinstance(value, bool):
            if value < self.minimum or (value == self.minimum and not self.inclusive):
                return f"must be {'>=' if self.inclusive else '>'} {self.minimum:g}, got {value!r}"
        if self.allowed is not None and value not in self.allowed:
            return f"{value!r} not one of {list(self.allowed)}"
        return None

    def _array_problem(self, value: Any, wants: tuple[type, ...]) -> str | None:
        """:meth:`problem` for a numpy scalar, array or list of numbers."""
        import numpy as np

        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as exc:  # ragged lists
            return f"expected {typename(self.types)} or an array of them, got {value!r} ({exc})"
        if arr.dtype == bool or arr.dtype.kind not in "iuf":
            return f"expected {typename(self.types)} or an array of them, got {arr.dtype} {value!r}"
        if arr.size == 0:
            return "expected at least one value, got an empty array"
        values = arr.astype(np.float64)
        if self.finite and not np.all(np.isfinite(values)):
            return f"every value must be a finite number, got {float(values[~np.isfinite(values)].flat[0])!r}"
        if float not in wants and arr.dtype.kind == "f" and not np.all(values == np.round(values)):
            return f"every value must be an integer, got {float(values[values != np.round(values)].flat[0])!r}"
        if self.minimum is not None:
            bad = values < self.minimum if self.inclusive else values <= self.minimum
            if np.any(bad):
                return (f"every value must be {'>=' if self.inclusive else '>'} {self.minimum:g}, "
                        f"got {arr[bad].flat[0].item()!r}")
        return None


def _is_numeric_field(wants: tuple[type, ...]) -> bool:
    return (int in wants or float in wants) and bool not in wants


def _is_array_like(value: Any) -> bool:
    """A numpy scalar/array or a list (not a Python number: those take the scalar checks)."""
    return hasattr(value, "dtype") or isinstance(value, list | tuple)


@dataclass(frozen=True, slots=True)
class Schema:
    """The keys of one kind of table; ``label`` ("kind 'float'", "a codebook") names the table
    kind in unknown-key and missing-key messages."""

    fields: Mapping[str, Field]
    label: str = ""

    def check(self, where: str, table: Any, errors: list[str], *, required: bool = True) -> dict[str, Any]:
        """Append a message to ``errors`` for each unknown, mistyped, out-of-range or disallowed key
        of ``table`` (then, if ``required``, each missing required key); return the keys that passed."""
        if not isinstance(table, dict):
            errors.append(f"{where}: expected a table, got {type(table).__name__}")
            return {}
        good = {}
        for key, value in table.items():
            spec = self.fields.get(key)
            problem = self._unknown(key) if spec is None else spec.problem(value)
            if problem is None:
                good[key] = value
            else:
                errors.append(f"{at(where, key)}: {problem}")
        if required:
            for key in self.missing(table):
                errors.append(f"{at(where, key)}: missing (required{self._for()})")
        return good

    def missing(self, table: Mapping[str, Any]) -> list[str]:
        """Required keys absent from ``table``."""
        return [key for key, spec in self.fields.items() if spec.required and key not in table]

    def _for(self) -> str:
        return f" for {self.label}" if self.label else ""

    def _unknown(self, key: str) -> str:
        close = difflib.get_close_matches(key, list(self.fields), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key{hint}; allowed keys{self._for()}: {', '.join(sorted(self.fields))}"
