"""rtl/mx_dot.v (the generic block dot-product unit) against hwsim.numerics.dot.block_dot.

One simulation per (format, simulator) checks edge cases and random block pairs
(rtl/tb/mx_dot/bench_mx_dot.py) on UNITS units side by side (mx_dot_units.v); builds are cached
per parameterization (hwsim.synth.sim). A missing simulator skips with a message naming it.
The MX formats are here; NVFP4 and BFP/MSFP (the same unit, other parameters) are in
test_nvfp4_dot.py and test_bfp_dot.py.
"""

from __future__ import annotations

import os

import pytest

import hwsim
from hwsim.synth.params import mx_dot_params
from hwsim.synth.sim import SimResult, run_bench
from hwsim.synth.tools import bench_dir, missing_tool, rtl_source

pytestmark = pytest.mark.rtl

MX_FORMATS = ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8")
UNITS = 8
SOURCES = ("mx_dot", "fp_mul", "int_mul", "adder_tree", "fp32_round")
#: random block pairs per (format, simulator) run
BLOCKS = {"icarus": int(os.environ.get("HWSIM_DOT_BLOCKS_ICARUS", "10000")),
          "verilator": int(os.environ.get("HWSIM_DOT_BLOCKS_VERILATOR", "100000"))}


def run_dot_bench(fmt_name: str, sim: str, blocks: int, seed: int = 1) -> SimResult:
    """Build (cached) and run the mx_dot bench for one format on one simulator."""
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    params = {**mx_dot_params(hwsim.format(fmt_name)), "UNITS": UNITS}
    result = run_bench("mx_dot", params, sim, toplevel="mx_dot_units",
                       sources=[rtl_source(s) for s in SOURCES] + [bench_dir("mx_dot") / "mx_dot_units.v"],
                       bench_module="bench_mx_dot",
                       extra_env={"HWSIM_FORMAT": fmt_name, "HWSIM_UNITS": str(UNITS),
                                  "HWSIM_BLOCKS": str(blocks), "HWSIM_SEED": str(seed)},
                       run_name=f"run-{fmt_name}-{blocks}-{seed}")
    assert result.tests == 1 and result.failed == 0
    assert result.bench["random_blocks"] == blocks and result.bench["mismatches"] == 0
    return result


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.parametrize("fmt", MX_FORMATS)
def test_mx_dot_matches_block_dot(fmt: str, sim: str) -> None:
    result = run_dot_bench(fmt, sim, BLOCKS[sim])
    classes = result.bench["classes"]
    assert isinstance(classes, dict)
    assert all(classes[c] > 0 for c in ("nan", "zero", "normal")), classes
    if hwsim.format(fmt).scale_rule.value == "pow2":  # E8M0 scales reach FP32's subnormals and Inf
        assert classes["subnormal"] > 0 and classes["inf"] > 0, classes


def test_params_come_from_the_format() -> None:
    assert mx_dot_params(hwsim.format("mxfp8_e5m2"))["EXP_BIAS"] == 15
    p = mx_dot_params(hwsim.format("mxint8"))
    assert (p["ELEM_KIND"], p["INT_BITS"], p["INT_ENCODING"], p["INT_FRAC"], p["K"]) == (1, 8, 0, 6, 32)
    p = mx_dot_params(hwsim.format("nvfp4"))
    assert (p["SCALE_KIND"], p["K"], p["EXP_BITS"], p["MAN_BITS"]) == (1, 16, 2, 1)
    p = mx_dot_params(hwsim.format("msfp12"))
    assert (p["ELEM_KIND"], p["INT_BITS"], p["INT_ENCODING"], p["INT_FRAC"], p["K"]) == (1, 4, 1, 2, 16)
