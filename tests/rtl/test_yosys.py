"""Generic-gate synthesis of rtl/fp_mul.v (hwsim.synth.yosys): ordering and plausible sizes.

Not a golden copy of the numbers (they move with yosys/abc versions): the FP4 multiplier must be
smaller than every FP6 one, every FP6 one smaller than every FP8 one, each within a plausible range
for a 2x2 .. 4x4-bit significand multiplier plus exponent adder, and a rerun must give the same count.
"""

from __future__ import annotations

import pytest

import hwsim
from hwsim.errors import HwsimError
from hwsim.synth import yosys
from hwsim.synth.params import fp_mul_params
from hwsim.synth.tools import missing_tool
from hwsim.synth.yosys import NAND2_WEIGHTS, parse_stat, synth_generic

pytestmark = pytest.mark.rtl

WIDTHS = {"fp4_e2m1": 4, "fp6_e2m3": 6, "fp6_e3m2": 6, "fp8_e4m3": 8, "fp8_e5m2": 8}
#: plausible NAND2-equivalent ranges per element width (a few tens of gates for FP4, ~100-200 for FP8)
RANGES = {4: (10, 60), 6: (40, 200), 8: (80, 300)}


@pytest.fixture(scope="module")
def counts() -> dict[str, float]:
    missing = missing_tool("yosys")
    if missing:
        pytest.skip(missing)
    return {f: synth_generic("fp_mul", fp_mul_params(hwsim.format(f))).nand2_eq for f in WIDTHS}


def test_fp4_smaller_than_fp6_smaller_than_fp8(counts: dict[str, float]) -> None:
    by_width = {w: [counts[f] for f in WIDTHS if WIDTHS[f] == w] for w in (4, 6, 8)}
    assert max(by_width[4]) < min(by_width[6]) and max(by_width[6]) < min(by_width[8]), counts
    for fmt, n in counts.items():
        lo, hi = RANGES[WIDTHS[fmt]]
        assert lo <= n <= hi, (fmt, n)


def test_synthesis_is_stable(counts: dict[str, float]) -> None:
    params = fp_mul_params(hwsim.format("fp8_e4m3"))
    fresh = yosys._synth.__wrapped__("fp_mul", tuple(sorted(params.items())), "fp_mul")  # bypass the cache
    assert fresh.nand2_eq == counts["fp8_e4m3"]
    assert set(fresh.cells) <= set(NAND2_WEIGHTS) and fresh.n_cells > 0


def test_illegal_parameters_fail_synthesis() -> None:
    if missing_tool("yosys"):
        pytest.skip(missing_tool("yosys"))
    with pytest.raises(HwsimError, match="ILLEGAL_SPECIALS"):
        synth_generic("fp_mul", {"EXP_BITS": 4, "MAN_BITS": 3, "SPECIALS": 2})


def test_parse_stat_reads_the_last_module() -> None:
    text = "=== a ===\n     $_AND_  3\n=== fp_mul ===\n   Number of cells: 5\n     $_NAND_   4\n     $_XOR_ 1\n"
    assert parse_stat(text) == {"$_NAND_": 4, "$_XOR_": 1}
