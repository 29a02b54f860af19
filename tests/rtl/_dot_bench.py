"""Shared driver of the block dot-product benches (tests/rtl/test_{mx,nvfp4,bfp}_dot.py).

Every block format runs through the one generic unit rtl/mx_dot.v (parameters from
:func:`hwsim.synth.params.mx_dot_params`) and its bench rtl/tb/mx_dot/bench_mx_dot.py, whose golden
model is hwsim.numerics.dot.block_dot.
"""

from __future__ import annotations

import os

import pytest

import hwsim
from hwsim.synth.params import mx_dot_params
from hwsim.synth.sim import SimResult, run_bench
from hwsim.synth.tools import bench_dir, missing_tool, rtl_source

#: dot units side by side in the bench wrapper (one cocotb step checks UNITS block pairs); per
#: simulator because a step costs most on Icarus and the C++ compile time grows with the model on
#: Verilator (2 units on Verilator were not measurably faster to build, and 4x slower to drive)
UNITS = {"icarus": 8, "verilator": 8}
#: Verilog sources of the unit (one module per file)
SOURCES = ("mx_dot", "fp_mul", "int_mul", "adder_tree", "fp32_round")
#: random block pairs per (format, simulator) run
BLOCKS = {"icarus": int(os.environ.get("HWSIM_DOT_BLOCKS_ICARUS", "2000")),
          "verilator": int(os.environ.get("HWSIM_DOT_BLOCKS_VERILATOR", "100000"))}


#: the simulators of every dot test: Verilator (100,000 random blocks per format) is ``slow`` because
#: its first C++ build of a dot unit takes minutes on two cores; Icarus (fewer blocks) covers every
#: format in ``make test``
SIMS = ("icarus", pytest.param("verilator", marks=pytest.mark.slow))


def run_dot_bench(fmt_name: str, sim: str, blocks: int, seed: int = 1) -> SimResult:
    """Build (cached) and run the mx_dot bench for one format on one simulator."""
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    params = {**mx_dot_params(hwsim.format(fmt_name)), "UNITS": UNITS[sim]}
    result = _run(fmt_name, sim, params, blocks, seed)  # (hwsim.synth.sim sets Verilator's PCH flag)
    assert result.tests == 1 and result.failed == 0
    assert result.bench["random_blocks"] == blocks and result.bench["mismatches"] == 0
    return result


def _run(fmt_name: str, sim: str, params: dict[str, int], blocks: int, seed: int) -> SimResult:
    return run_bench("mx_dot", params, sim, toplevel="mx_dot_units",
                     sources=[rtl_source(s) for s in SOURCES] + [bench_dir("mx_dot") / "mx_dot_units.v"],
                     bench_module="bench_mx_dot",
                     extra_env={"HWSIM_FORMAT": fmt_name, "HWSIM_UNITS": str(params["UNITS"]),
                                "HWSIM_BLOCKS": str(blocks), "HWSIM_SEED": str(seed)},
                     run_name=f"run-{fmt_name}-{blocks}-{seed}")


def check_classes(fmt_name: str, result: SimResult) -> None:
    """The run reached the result classes its format can produce (so the rules were exercised):
    NaN, +0 and normals always; with E8M0 scales also FP32 subnormals and Inf."""
    classes = result.bench["classes"]
    assert isinstance(classes, dict)
    assert all(classes[c] > 0 for c in ("nan", "zero", "normal")), classes
    if hwsim.format(fmt_name).scale_rule.value == "pow2":
        assert classes["subnormal"] > 0 and classes["inf"] > 0, classes
