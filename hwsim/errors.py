"""Exceptions raised by hwsim library code.

Library code raises these with the offending value, the allowed range or set,
and the format / file it concerns; only :mod:`hwsim.cli` turns them into exit codes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["HwsimError", "FormatError", "CatalogError", "unknown_name"]


class HwsimError(Exception):
    """Base class of every error hwsim raises on purpose."""


class FormatError(HwsimError, ValueError):
    """Bad input to a number format: unknown name, bad axis/dtype/shape, unencodable value."""


class CatalogError(HwsimError, ValueError):
    """A catalog file (formats/*.toml, accelerators/*.toml) is malformed.

    ``messages`` holds every problem found, each as ``file:table.key: message``.
    """

    def __init__(self, messages: Iterable[str]):
        self.messages = list(messages)
        super().__init__(
            f"{len(self.messages)} catalog error(s):\n  " + "\n  ".join(self.messages)
        )


def unknown_name(kind: str, name: str, known: Iterable[str]) -> str:
    """Message for an unknown catalog name: lists the known names and the closest match."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.0)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(known)}"
