"""rtl/mx_dot.v (the generic block dot-product unit) against hwsim.numerics.dot.block_dot.

One simulation per (format, simulator) checks edge cases and random block pairs
(rtl/tb/mx_dot/bench_mx_dot.py) on UNITS units side by side (mx_dot_units.v); builds are cached
per parameterization (hwsim.synth.sim). A missing simulator skips with a message naming it.
The MX formats are here; NVFP4 and BFP/MSFP (the same unit, other parameters) are in
test_nvfp4_dot.py and test_bfp_dot.py.
"""

from __future__ import annotations

import pytest

import hwsim
from hwsim.errors import HwsimError
from hwsim.synth.params import mx_dot_params
from hwsim.synth.tools import missing_tool
from hwsim.synth.yosys import synth_generic
from tests.rtl._dot_bench import BLOCKS, SIMS, check_classes, run_dot_bench

pytestmark = pytest.mark.rtl

MX_FORMATS = ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8")


@pytest.mark.parametrize("sim", SIMS)
@pytest.mark.parametrize("fmt", MX_FORMATS)
def test_mx_dot_matches_block_dot(fmt: str, sim: str) -> None:
    check_classes(fmt, run_dot_bench(fmt, sim, BLOCKS[sim]))


def test_params_come_from_the_format() -> None:
    assert mx_dot_params(hwsim.format("mxfp8_e5m2"))["EXP_BIAS"] == 15
    p = mx_dot_params(hwsim.format("mxint8"))
    assert (p["ELEM_KIND"], p["INT_BITS"], p["INT_ENCODING"], p["INT_FRAC"], p["K"]) == (1, 8, 0, 6, 32)
    p = mx_dot_params(hwsim.format("nvfp4"))
    assert (p["SCALE_KIND"], p["K"], p["EXP_BITS"], p["MAN_BITS"]) == (1, 16, 2, 1)
    p = mx_dot_params(hwsim.format("msfp12"))
    assert (p["ELEM_KIND"], p["INT_BITS"], p["INT_ENCODING"], p["INT_FRAC"], p["K"]) == (1, 4, 1, 2, 16)


@pytest.mark.parametrize(("params", "rule"), [
    ({"SCALE_KIND": 2}, "ILLEGAL_SCALE_KIND"),
    ({"ELEM_KIND": 2}, "ILLEGAL_ELEM_KIND"),
    ({"EXP_BITS": 7}, "ILLEGAL_EXP_BITS"),
])
def test_illegal_parameters_fail_synthesis(params: dict[str, int], rule: str) -> None:
    missing = missing_tool("yosys")
    if missing:
        pytest.skip(missing)
    with pytest.raises(HwsimError, match=rule):
        synth_generic("mx_dot", params)
