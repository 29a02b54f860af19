"""rtl/int8_mac.v (INT8 x INT8, 32-bit exact accumulation) on Icarus and Verilator.

rtl/tb/int8_mac/bench_int8_mac.py checks every 8-bit operand pair (65,536 single products), dot
products of hwsim int8_channel / int8_tensor codes and extreme-value dot products against the exact
integer dot product. Illegal parameters stop elaboration.
"""

from __future__ import annotations

import pytest

from hwsim.errors import HwsimError
from hwsim.synth.sim import run_bench
from hwsim.synth.tools import bench_dir, missing_tool, rtl_source

pytestmark = pytest.mark.rtl

LANES = 128
PARAMS = {"A_BITS": 8, "B_BITS": 8, "ACC_BITS": 32}


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_every_pair_and_dots(sim: str) -> None:
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    result = run_bench("int8_mac", {**PARAMS, "LANES": LANES}, sim, toplevel="int8_mac_lanes",
                       sources=[rtl_source("int8_mac"), bench_dir("int8_mac") / "int8_mac_lanes.v"],
                       bench_module="bench_int8_mac", extra_env={"HWSIM_LANES": str(LANES)})
    assert result.tests == 1 and result.failed == 0
    bench = result.bench
    assert bench["pairs"] == {"rows": 65536, "length": 1, "mismatches": 0}
    assert all(v["mismatches"] == 0 for k, v in bench.items() if k != "drive_s")


@pytest.mark.parametrize(("change", "rule"), [({"ACC_BITS": 15}, "ILLEGAL_ACC_BITS"),
                                              ({"A_BITS": 1}, "ILLEGAL_A_BITS_or_B_BITS")])
def test_illegal_parameters_fail_synthesis(change: dict[str, int], rule: str) -> None:
    if missing_tool("yosys"):
        pytest.skip(missing_tool("yosys"))
    from hwsim.synth.yosys import synth_generic

    with pytest.raises(HwsimError, match=rule):
        synth_generic("int8_mac", {**PARAMS, **change})
