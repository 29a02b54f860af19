"""``scale_element`` given in code (issue 17 item 11): an inline table, a FloatElement or a plain
float format name are accepted; a scaled format is rejected instead of lending its element."""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.elements import FloatElement
from hwsim.numerics.format import Format
from hwsim.numerics.types import Specials

UE5M3 = {"kind": "float", "exp_bits": 5, "man_bits": 3, "bias": 15, "specials": "fnu"}


def test_dict_scale_element_matches_the_catalog_entry() -> None:
    """A dict builds the same format as formats/fp4_scaled.toml's mxfp4_ue5m3 (same codes)."""
    built = hwsim.format("block", element="fp4_e2m1", block_size=32, scale_rule="amax", scale_element=UE5M3)
    cat = hwsim.format("mxfp4_ue5m3")
    assert built.scale_element == cat.scale_element
    x = np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32)
    np.testing.assert_array_equal(built.quantize(x), cat.quantize(x))
    # as an override of a catalog format too
    over = hwsim.format("nvfp4", scale_element=UE5M3)
    assert over.scale_element == FloatElement(exp_bits=5, man_bits=3, bias=15, specials=Specials.FNU)


def test_float_element_and_format_name_accepted() -> None:
    el = FloatElement(exp_bits=4, man_bits=3, bias=7, specials=Specials("fn"))
    a = hwsim.format("block", element="fp4_e2m1", block_size=16, scale_rule="amax", scale_element=el)
    b = hwsim.format("block", element="fp4_e2m1", block_size=16, scale_rule="amax", scale_element="fp8_e4m3")
    assert a.scale_element == b.scale_element == hwsim.format("nvfp4").scale_element


@pytest.mark.parametrize("bad", ["mxfp4_ue5m3", "nvfp4", "mxfp8_e4m3"])
def test_scaled_format_rejected_as_scale_element(bad: str) -> None:
    with pytest.raises(FormatError, match="is a scaled format"):
        hwsim.format("block", element="fp4_e2m1", block_size=32, scale_rule="amax", scale_element=bad)
    with pytest.raises(FormatError, match="is a scaled format"):
        hwsim.format("nvfp4", scale_element=bad)


def test_bad_tables_and_types_rejected_clearly() -> None:
    with pytest.raises(FormatError, match="lacks 'man_bits'"):
        hwsim.format("nvfp4", scale_element={"kind": "float", "exp_bits": 5})
    with pytest.raises(FormatError, match="kind = 'float'"):
        hwsim.format("nvfp4", scale_element={"kind": "int", "bits": 8})
    with pytest.raises(FormatError, match="not a float element"):
        hwsim.format("nvfp4", scale_element="int8")
    with pytest.raises(FormatError, match="must be a FloatElement"):
        Format(name="x", element=hwsim.format("fp4_e2m1").element, block_size=16, scale_rule="amax",
               scale_element=UE5M3)  # pyright: ignore[reportArgumentType]  (deliberately a dict)
