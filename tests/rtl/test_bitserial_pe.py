"""rtl/bitserial_pe.v against hwsim: exact dot products of BitMoD FP4 / INT4 weights x FP16
activations, and every dot product's measured cycles = hwsim.arch's bit-serial group formula.

One simulation per (LANES, simulator) runs dot products of 1-3 groups for several group sizes
(including sizes that are not multiples of LANES), back to back, from hwsim's own encodings
(rtl/tb/bitserial_pe/bench_bitserial_pe.py). This test checks the measured cycles against
``n_groups * hwsim.arch.bitserial.group_cycles(G, LANES, cycles_per_weight)`` with
``cycles_per_weight = weight_cycles(format)`` (lod2: 2 for BitMoD FP4; Booth: 2 for INT4).
"""

from __future__ import annotations

import subprocess

import pytest

import hwsim
from hwsim.arch.bitserial import group_cycles, weight_cycles
from hwsim.synth.sim import SimulationError, run_bench
from hwsim.synth.tools import find_tool, missing_tool, rtl_source, tool_env

pytestmark = pytest.mark.rtl


GROUPS = "8,30,32,128"
CASES = [(sim, lanes) for sim in ("icarus", "verilator") for lanes in (4, 1)]


def _run(sim: str, lanes: int, params: dict[str, int] | None = None) -> dict:
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    result = run_bench("bitserial_pe", params or {"LANES": lanes}, sim, toplevel="bitserial_pe",
                       sources=[rtl_source("bitserial_pe")], bench_module="bench_bitserial_pe",
                       extra_env={"HWSIM_LANES": str(lanes), "HWSIM_DOTS": "15", "HWSIM_GROUPS": GROUPS,
                                  "HWSIM_SEED": str(lanes)})
    assert result.tests == 1 and result.failed == 0
    return result.bench


@pytest.mark.parametrize(("sim", "lanes"), [pytest.param(s, n, id=f"{s}-lanes{n}") for s, n in CASES])
def test_dot_products_exact_and_cycles_match(sim: str, lanes: int) -> None:
    bench = _run(sim, lanes)
    assert bench["mismatches"] == 0
    cpw = {0: weight_cycles(hwsim.format("bitmod4")), 1: weight_cycles(hwsim.format("int4"))}
    assert cpw == {0: 2, 1: 2}
    wrong = [d for d in bench["dots"] if d[3] != d[2] * int(group_cycles(d[1], lanes, cpw[d[0]]))]
    assert not wrong, f"measured != hwsim.arch (mode, G, groups, measured): {wrong[:10]}"
    seen = {(mode, g) for mode, g, _, _ in bench["dots"]}
    assert seen == {(m, int(g)) for m in (0, 1) for g in GROUPS.split(",")}
    assert len(bench["dots"]) == 15 * len(GROUPS.split(",")) + 1  # + the Inf-activation dot


def test_bench_catches_a_wrong_product() -> None:
    """A PE built with too narrow accumulators wraps (GACC_W = 46 holds 4 weights of the largest
    activation x 16, DOT_W = 55; the bench's extreme dot products need ~60 bits): the bench must
    report wrong dot products rather than pass."""
    with pytest.raises(SimulationError, match="wrong dot products"):
        _run("icarus", 4, {"LANES": 4, "GACC_W": 46, "DOT_W": 55})


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_illegal_parameters_fail_elaboration(sim: str) -> None:
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    with pytest.raises(SimulationError, match="ILLEGAL_DOT_W"):
        run_bench("bitserial_pe", {"LANES": 4, "GACC_W": 56, "DOT_W": 60}, sim, toplevel="bitserial_pe",
                  sources=[rtl_source("bitserial_pe")], bench_module="bench_bitserial_pe")


def test_illegal_parameters_fail_yosys() -> None:
    missing = missing_tool("yosys")
    if missing:
        pytest.skip(missing)
    exe = find_tool("yosys")
    assert exe is not None
    out = subprocess.run([exe, "-q", "-p", f"read_verilog {rtl_source('bitserial_pe')}; "
                          "hierarchy -check -top bitserial_pe -chparam LANES 0"],
                         capture_output=True, text=True, env=tool_env(), timeout=120)
    assert out.returncode != 0 and "ILLEGAL_LANES" in out.stderr + out.stdout
