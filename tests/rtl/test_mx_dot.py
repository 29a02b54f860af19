"""rtl/mx_dot.v (the generic block dot-product unit) against hwsim.numerics.dot.block_dot.

One simulation per (format, simulator) checks edge cases and random block pairs
(rtl/tb/mx_dot/bench_mx_dot.py) on UNITS units side by side (mx_dot_units.v); builds are cached
per parameterization (hwsim.synth.sim). A missing simulator skips with a message naming it.
The MX formats are here; NVFP4 and BFP/MSFP (the same unit, other parameters) are in
test_nvfp4_dot.py and test_bfp_dot.py.
"""

from __future__ import annotations

import os
import subprocess

import pytest

import hwsim
from hwsim.synth.params import mx_dot_params
from hwsim.synth.tools import find_tool, missing_tool, rtl_source, tool_env
from tests.rtl._dot_bench import BLOCKS, SIMS, SOURCES, check_classes, run_dot_bench

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


@pytest.mark.parametrize("tool", ["yosys", "icarus", "verilator"])
@pytest.mark.parametrize(("param", "rule"), [
    ("SCALE_KIND=2", "mx_dot_ILLEGAL_SCALE_KIND"),
    ("ELEM_KIND=2", "mx_dot_ILLEGAL_ELEM_KIND"),
    ("EXP_BITS=7", "mx_dot_ILLEGAL_EXP_BITS"),
])
def test_illegal_parameters_stop_elaboration(tool: str, param: str, rule: str) -> None:
    """Each tool refuses an illegal parameterization and names the broken rule."""
    missing = missing_tool(tool)
    if missing:
        pytest.skip(missing)
    srcs = [str(rtl_source(s)) for s in SOURCES]
    name, value = param.split("=")
    if tool == "yosys":
        cmd = [str(find_tool("yosys")), "-q", "-p",
               f"read_verilog {' '.join(srcs)}; hierarchy -check -top mx_dot -chparam {name} {value}"]
    elif tool == "icarus":
        cmd = [str(find_tool("iverilog")), "-g2012", "-o", os.devnull, "-s", "mx_dot", f"-Pmx_dot.{param}", *srcs]
    else:
        cmd = [str(find_tool("verilator")), "--lint-only", "--top-module", "mx_dot", f"-G{param}", *srcs]
    out = subprocess.run(cmd, capture_output=True, text=True, env=tool_env(), timeout=300)
    assert out.returncode != 0 and rule in out.stdout + out.stderr, (out.stdout + out.stderr)[-2000:]
