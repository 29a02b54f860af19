"""rtl/fp16_mac.v (FP16 x FP16, FP32 RNE accumulation) against numpy / hwsim, on Icarus and Verilator.

One simulation per simulator runs rtl/tb/fp16_mac/bench_fp16_mac.py: every pair of binary16 operand
classes (zeros, subnormals, normals, max, Inf, NaN), dot products mixing them, random finite
products and random-code / N(0,1) dot products, bit-exact against numpy float32 accumulation.
Verilator runs 32,768 random products and 2 x 256 dot products (~1 s of stimulus); Icarus, ~25x
slower per step on this block, a quarter to an eighth of that (same bench, same checks).
"""

from __future__ import annotations

import pytest

from hwsim.synth.sim import run_bench
from hwsim.synth.tools import bench_dir, missing_tool, rtl_source

pytestmark = pytest.mark.rtl

LANES = 32


#: stimulus sizes per simulator: (random products, dot products per kind, class-mixing dot products)
SIZES = {"icarus": (4096, 64, 512), "verilator": (32768, 256, 2048)}


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_fp16_products_and_fp32_accumulation(sim: str) -> None:
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    result = run_bench("fp16_mac", {"LANES": LANES}, sim, toplevel="fp16_mac_lanes",
                       sources=[rtl_source("fp16_mac"), bench_dir("fp16_mac") / "fp16_mac_lanes.v"],
                       bench_module="bench_fp16_mac",
                       extra_env={"HWSIM_LANES": str(LANES), "HWSIM_PAIRS": str(SIZES[sim][0]),
                                  "HWSIM_DOTS": str(SIZES[sim][1]), "HWSIM_MIXED": str(SIZES[sim][2])})
    assert result.tests == 2 and result.failed == 0
    classes, rand = result.bench["operand_classes"], result.bench["random_pairs_and_dots"]
    assert isinstance(classes, dict) and isinstance(rand, dict)
    assert classes["mismatches"] == 0 and classes["checked"] >= 22 * 22
    assert rand["pairs"]["rows"] == SIZES[sim][0]
    assert all(v["mismatches"] == 0 for k, v in rand.items() if k != "drive_s")
