"""hwsim: one number-format definition drives the bit-exact emulator, the RTL golden model,
the cost model and the PyTorch run.

Public API::

    hwsim.formats()                       # catalog names
    hwsim.format("mxfp4", rounding="stochastic", seed=0)
    hwsim.format("fp", exp_bits=3, man_bits=4)   # a format built in code
"""

from __future__ import annotations

from typing import Any

from hwsim.catalog import format_names as _format_names
from hwsim.catalog import get_format as _get_format
from hwsim.errors import CatalogError, FormatError, HwsimError
from hwsim.numerics.format import Format
from hwsim.numerics.protocol import NumberFormat

__all__ = ["format", "formats", "accelerator", "accelerators", "Format", "NumberFormat", "HwsimError",
           "FormatError", "CatalogError", "__version__"]
__version__ = "0.1.0"


def format(name: str, /, **overrides: Any) -> NumberFormat:  # noqa: A001 - the public name the issues fix
    """The catalog format ``name`` (with fields overridden), or one built in code
    (``"fp"``, ``"int"``, ``"block"``): a :class:`~hwsim.numerics.Format` or a format-family
    object, both :class:`~hwsim.numerics.protocol.NumberFormat`."""
    return _get_format(name, **overrides)


def formats() -> list[str]:
    """Names of every catalog format."""
    return _format_names()


def accelerator(name: str, **overrides: Any) -> Any:
    """The catalog accelerator ``name`` (``accelerators/*.toml``) as an ``hwsim.arch.Accelerator``."""
    from hwsim.arch import accelerator as _accelerator

    return _accelerator(name, **overrides)


def accelerators() -> list[str]:
    """Names of every catalog accelerator."""
    from hwsim.arch import accelerators as _accelerators

    return _accelerators()
