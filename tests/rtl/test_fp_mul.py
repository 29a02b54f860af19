"""rtl/fp_mul.v against hwsim: every operand pair of each minifloat, on Icarus and Verilator.

One simulation per (format, simulator) checks all pairs (rtl/tb/fp_mul/bench_fp_mul.py); builds are
cached per parameterization (hwsim.synth.sim). A missing simulator skips with a message naming it.
"""

from __future__ import annotations

import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.synth.params import fp_mul_params
from hwsim.synth.sim import run_bench
from hwsim.synth.tools import bench_dir, missing_tool, rtl_source

pytestmark = pytest.mark.rtl

FORMATS = ("fp4_e2m1", "fp6_e2m3", "fp6_e3m2", "fp8_e4m3", "fp8_e5m2")
LANES = 32


def _case(fmt: str, sim: str) -> object:
    # exhaustive FP8 on Verilator: 65,536 pairs through a C++ model; Icarus runs every case in `make test`
    slow = sim == "verilator" and fmt.startswith("fp8")
    return pytest.param(fmt, sim, id=f"{fmt}-{sim}", marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize(("fmt", "sim"), [_case(f, s) for s in ("icarus", "verilator") for f in FORMATS])
def test_every_operand_pair(fmt: str, sim: str) -> None:
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    el = hwsim.format(fmt).element
    params = {**fp_mul_params(el), "LANES": LANES}
    result = run_bench("fp_mul", params, sim, toplevel="fp_mul_lanes",
                       sources=[rtl_source("fp_mul"), bench_dir("fp_mul") / "fp_mul_lanes.v"],
                       bench_module="bench_fp_mul", extra_env={"HWSIM_FORMAT": fmt, "HWSIM_LANES": str(LANES)})
    assert result.tests == 1 and result.failed == 0
    assert result.bench["pairs"] == (1 << el.bits) ** 2 and result.bench["mismatches"] == 0


def test_params_come_from_the_element() -> None:
    assert fp_mul_params(hwsim.format("fp8_e4m3")) == {"EXP_BITS": 4, "MAN_BITS": 3, "SPECIALS": 1}
    assert fp_mul_params(hwsim.format("fp8_e5m2")) == {"EXP_BITS": 5, "MAN_BITS": 2, "SPECIALS": 0}
    assert fp_mul_params(hwsim.format("mxfp4")) == {"EXP_BITS": 2, "MAN_BITS": 1, "SPECIALS": 3}
    with pytest.raises(FormatError, match="minifloat"):
        fp_mul_params(hwsim.format("mxint8"))
