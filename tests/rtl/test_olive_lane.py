"""rtl/olive_lane.v (+ rtl/olive_decoder.v) against hwsim's OliVe codec, on Icarus and Verilator.

One simulation per (format, simulator) runs rtl/tb/olive_lane/bench_olive_lane.py: every pair word x
every normal type (256 words for olive4, 65,536 for olive8), and random N(0,1) tensors with injected
outliers end to end (hwsim encode -> packed bytes -> RTL dot product -> hwsim decode . activations).
Illegal parameters stop elaboration in all three tools.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import hwsim
from hwsim.errors import FormatError, HwsimError
from hwsim.synth.params import olive_flint_input, olive_lane_params
from hwsim.synth.sim import SimulationError, run_bench
from hwsim.synth.tools import bench_dir, missing_tool, rtl_source

pytestmark = pytest.mark.rtl

LANES = 128


def _sources() -> list[Path]:
    return [rtl_source("olive_decoder"), rtl_source("olive_lane"), bench_dir("olive_lane") / "olive_lanes.v"]


def _run(fmt: str, sim: str, params: dict[str, int] | None = None, dots: int = 256) -> dict[str, object]:
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    params = {**(params or olive_lane_params(hwsim.format(fmt))), "LANES": LANES}
    result = run_bench("olive_lane", params, sim, toplevel="olive_lanes", sources=_sources(),
                       bench_module="bench_olive_lane",
                       extra_env={"HWSIM_FORMAT": fmt, "HWSIM_LANES": str(LANES), "HWSIM_DOTS": str(dots)})
    assert result.tests == 2 and result.failed == 0
    return result.bench


def _case(fmt: str, sim: str) -> object:
    # olive8 on Verilator: 65,536 words through a fresh C++ build; Icarus runs it in `make test`
    slow = sim == "verilator" and fmt == "olive8"
    return pytest.param(fmt, sim, id=f"{fmt}-{sim}", marks=[pytest.mark.slow] if slow else [])


@pytest.mark.parametrize(("fmt", "sim"), [_case(f, s) for s in ("icarus", "verilator") for f in ("olive4", "olive8")])
def test_every_pair_word_and_random_dots(fmt: str, sim: str) -> None:
    bench = _run(fmt, sim)
    sweep, dots = bench["every_pair_word"], bench["random_tensors_end_to_end"]
    assert isinstance(sweep, dict) and isinstance(dots, dict)
    bits = hwsim.format(fmt).bits
    assert sweep["words"] == 1 << (2 * bits) and sweep["mismatches"] == 0
    assert sweep["illegal_words"] > 0  # the bad-pair flag was exercised
    assert dots["dots"] >= 256 and dots["outliers"] > 0 and dots["mismatches"] == dots["scaled_mismatches"] == 0
    if fmt == "olive4":
        assert sweep["types"] == ["int", "flint"] and set(dots["types"]) == {"int", "flint"}


def test_params_come_from_the_format() -> None:
    p4 = olive_lane_params(hwsim.format("olive4"))
    assert p4 == {"BITS": 4, "OUT_EXP_BITS": 2, "NORMALS": 3, "BIAS_INT": 2, "BIAS_FLINT": 3, "ACT_BITS": 8,
                  "ACC_BITS": 32}
    assert olive_lane_params(hwsim.format("olive8"))["BIAS_INT"] == 2
    assert olive_lane_params(hwsim.format("olive4_flint"))["NORMALS"] == 2
    assert olive_lane_params(hwsim.format("olive8", outlier_exp_bits=4))["ACC_BITS"] == 36  # E4M3: shift 19
    assert [olive_flint_input(hwsim.format("olive4"), s) for s in (0, 1)] == [0, 1]
    assert olive_flint_input(hwsim.format("olive4_flint"), 0) == 1
    with pytest.raises(FormatError, match="OliVe"):
        olive_lane_params(hwsim.format("int8_channel"))


ILLEGAL = [  # (block, parameter change from olive4, the rule the elaboration error names)
    ("olive_lane", {"BITS": 8, "NORMALS": 3}, "ILLEGAL_flint_normals_need_BITS_4"),
    ("olive_lane", {"BIAS_INT": 1}, "ILLEGAL_BIAS_INT_outliers_overlap"),
    ("olive_lane", {"BIAS_FLINT": 2}, "ILLEGAL_BIAS_FLINT_outliers_overlap"),
    ("olive_lane", {"ACC_BITS": 20}, "ILLEGAL_ACC_BITS"),
    ("olive_lane", {"ACT_BITS": 17}, "ILLEGAL_ACT_BITS"),
    ("olive_decoder", {"OUT_EXP_BITS": 4}, "ILLEGAL_OUT_EXP_BITS"),
    ("olive_decoder", {"BITS": 9, "NORMALS": 1}, "ILLEGAL_BITS"),
    ("olive_decoder", {"NORMALS": 0}, "ILLEGAL_NORMALS"),
]


@pytest.mark.parametrize(("block", "change", "rule"), ILLEGAL, ids=[r for _, _, r in ILLEGAL])
def test_illegal_parameters_fail_synthesis(block: str, change: dict[str, int], rule: str) -> None:
    if missing_tool("yosys"):
        pytest.skip(missing_tool("yosys"))
    from hwsim.synth.yosys import synth_generic

    params = {**olive_lane_params(hwsim.format("olive4")), **change}
    if block == "olive_decoder":
        params = {k: v for k, v in params.items() if k not in ("ACT_BITS", "ACC_BITS")}
    with pytest.raises(HwsimError, match=rule):
        synth_generic(block, params)


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
def test_illegal_parameters_fail_elaboration(sim: str) -> None:
    params = {**olive_lane_params(hwsim.format("olive4")), "BIAS_INT": 1}
    with pytest.raises(SimulationError, match="build failed"):
        _run("olive4", sim, params)


def _gates(block: str, params: dict[str, int]) -> float:
    if missing_tool("yosys"):
        pytest.skip(missing_tool("yosys"))
    from hwsim.synth.yosys import synth_generic

    return synth_generic(block, params).nand2_eq


def _decoder_params(fmt: str) -> dict[str, int]:
    return {k: v for k, v in olive_lane_params(hwsim.format(fmt)).items() if k not in ("ACT_BITS", "ACC_BITS")}


def test_decoder_gate_counts() -> None:
    """The OVP decoder is small: a few tens of NAND2-eq with int4 normals (OliVe ISCA'23 reports
    ~13.5 um^2 in 22 nm, i.e. some tens of NAND2), more with the flint LUT and the type mux.
    Ranges, not golden numbers (they move with yosys/abc versions)."""
    int4 = _gates("olive_decoder", _decoder_params("olive4_int"))
    both = _gates("olive_decoder", _decoder_params("olive4"))
    assert 20 <= int4 < both <= 300, (int4, both)


@pytest.mark.slow
def test_lane_gate_counts_against_the_int8_lane() -> None:
    """An olive4 lane (2 weights x 2 INT8 activations per cycle, one shifter, one accumulator)
    costs more than one INT8 MAC lane but less than two; the olive8 lane more than the olive4 one."""
    int8 = _gates("int8_mac", {"A_BITS": 8, "B_BITS": 8, "ACC_BITS": 32})
    o4 = _gates("olive_lane", olive_lane_params(hwsim.format("olive4")))
    o8 = _gates("olive_lane", olive_lane_params(hwsim.format("olive8")))
    assert int8 < o4 < 2 * int8 and o4 < o8, (int8, o4, o8)
