"""The recipe catalog: every recipe loads and cites its source; errors are collected."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwsim.errors import CatalogError, HwsimError
from hwsim.numerics.types import RoundMode
from hwsim.train.recipe import GRADIENT_SLOTS, SLOTS, load_recipes, recipe, recipe_names

REQUIRED = ["fp32", "bf16", "mxfp8", "mxfp4-rne", "mxfp4-sr", "fp4-ue5m3-sr-rht", "nvfp4-sr-rht", "dfp16",
            "dfp16-no-overflow-handling"]


def test_catalog_has_the_issue_recipes() -> None:
    assert set(REQUIRED) <= set(recipe_names())


@pytest.mark.parametrize("name", REQUIRED)
def test_recipe_fields(name: str) -> None:
    r = recipe(name)
    assert r.reference.strip()
    for slot in SLOTS:
        fmt = r.format_of(*slot)
        if fmt is None:
            continue
        want = r.gradient_rounding if slot in GRADIENT_SLOTS else RoundMode.EVEN
        assert fmt.rounding is want, (name, slot)
        if r.tensor_scale:
            assert fmt.tensor_scale


def test_paper_recipes() -> None:
    mx = recipe("mxfp8")
    assert mx.format_of("forward", "x").name == "mxfp8_e4m3"
    assert mx.format_of("dgrad", "dy").name == "mxfp8_e5m2"
    fp4 = recipe("fp4-ue5m3-sr-rht")
    assert fp4.rht_block == 32 and fp4.gradient_rounding is RoundMode.STOCHASTIC and fp4.tensor_scale
    assert fp4.format_of("wgrad", "dy").scale_element.exp_bits == 5
    assert recipe("dfp16").integer and recipe("dfp16").overflow_handling
    assert not recipe("dfp16-no-overflow-handling").overflow_handling
    assert recipe("mxfp4-sr", seed=5).seed == 5


def test_unknown_recipe() -> None:
    with pytest.raises(HwsimError, match="unknown recipe 'nope'.*Known recipes: .*mxfp8"):
        recipe("nope")


def test_every_error_collected(tmp_path: Path) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text("""
[a]
reference = ""
forward = { x = "mxfp4", w = "no_such_format" }
dgrad = { dy = "mxfp4" }
wgrad = { x = "mxfp4", dy = "mxfp4" }
rht_block = 12
tensor_scale = true
color = "red"
""")
    with pytest.raises(CatalogError) as info:
        load_recipes(bad)
    msg = str(info.value)
    for part in ("a.reference", "no_such_format", "a.dgrad: needs exactly", "rht_block", "tensor_scale needs amax",
                 "unknown key(s) ['color']"):
        assert part in msg, part
