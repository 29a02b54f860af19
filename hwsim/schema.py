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
    ``minimum``: lower bound of a numeric value (``inclusive``: the bound itself is accepted)."""

    types: Types
    required: bool = False
    allowed: tuple[Any, ...] | None = None
    minimum: float | None = None
    inclusive: bool = False

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (None: nothing)."""
        wants = self.types if isinstance(self.types, tuple) else (self.types,)
        if (isinstance(value, bool) and bool not in wants) or not isinstance(value, wants):
            return f"expected {typename(self.types)}, got {type(value).__name__} {value!r}"
        if self.minimum is not None and isinstance(value, int | float) and not isinstance(value, bool):
            if value < self.minimum or (value == self.minimum and not self.inclusive):
                return f"must be {'>=' if self.inclusive else '>'} {self.minimum:g}, got {value!r}"
        if self.allowed is not None and value not in self.allowed:
            return f"{value!r} not one of {list(self.allowed)}"
        return None


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
