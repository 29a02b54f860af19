"""rtl/systolic_ws.v against numpy and hwsim.arch: every output exact, every GEMM's cycles = the model.

One simulation per (array size, simulator) runs fixed edge-case GEMMs (m = 1, single elements, one
past the array size, -128 x -128 extremes) and then random GEMMs (m, k, n up to 3x the array size,
most not multiples of it) fold by fold through the bench controller rtl/tb/systolic_ws/
systolic_ws_tb.v. The bench checks every partial sum against numpy's int64 product and the sum of
each GEMM's folds against ``A @ W``; this test checks the measured cycles of every GEMM (first input
edge to last output edge) against ``hwsim.arch.SystolicArray(R, C, "ws").gemm(m, k, n).cycles``,
computed here. The suite runs 10,000 random tiles on Verilator and 3,000 on Icarus.
"""

from __future__ import annotations

import subprocess

import pytest

from hwsim.arch import SystolicArray
from hwsim.errors import HwsimError
from hwsim.synth.params import systolic_ws_params
from hwsim.synth.sim import SimulationError, run_bench
from hwsim.synth.tools import bench_dir, find_tool, missing_tool, rtl_source, tool_env

pytestmark = pytest.mark.rtl


#: (rows, cols, random tiles) per simulator: 10,000 on Verilator (fast), 3,000 more on Icarus
SIZES = {"icarus": ((4, 4, 2000), (8, 8, 500), (3, 5, 500)),
         "verilator": ((4, 4, 7000), (8, 8, 2000), (3, 5, 1000))}
#: (rows, cols, random tiles) of the MXFP8 variant (PE = 1; ROWS divides the 32-element MX block)
MX_SIZES = {"icarus": ((4, 4, 300),), "verilator": ((4, 4, 1000), (8, 8, 300))}
SOURCES = ("fp_mul", "pe_int8", "pe_mxfp8", "systolic_ws")


def _sources() -> list:
    return [rtl_source(s) for s in SOURCES] + [bench_dir("systolic_ws") / "systolic_ws_tb.v"]


def _run(sim: str, rows: int, cols: int, tiles: int, seed: int = 1, pe: int = 0, **knobs: int) -> dict:
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    acc_w = 48 if pe else 32
    params = {"ROWS": rows, "COLS": cols, "MAX_T": 32, **({"PE": 1, "ACC_W": acc_w} if pe else {}), **knobs}
    result = run_bench("systolic_ws", params, sim, toplevel="systolic_ws_tb", sources=_sources(),
                       bench_module="bench_systolic_ws",
                       extra_env={"HWSIM_ROWS": str(rows), "HWSIM_COLS": str(cols), "HWSIM_TILES": str(tiles),
                                  "HWSIM_SEED": str(seed), "HWSIM_MAX_T": "32", "HWSIM_PE": str(pe),
                                  "HWSIM_ACC_W": str(acc_w)})
    assert result.tests == 1 and result.failed == 0
    return result.bench


@pytest.mark.parametrize(("sim", "rows", "cols", "tiles"),
                         [pytest.param(s, r, c, t, id=f"{s}-{r}x{c}") for s in SIZES for r, c, t in SIZES[s]])
def test_outputs_and_cycles_match(sim: str, rows: int, cols: int, tiles: int) -> None:
    bench = _run(sim, rows, cols, tiles)
    assert bench["mismatches"] == 0 and bench["late_outputs"] == 0
    assert bench["tiles"] >= tiles and bench["max_gap"] == 1
    model = SystolicArray(rows, cols, "ws")
    wrong = [(m, k, n, c) for m, k, n, c in bench["gemms"] if c != model.gemm(m, k, n).cycles]
    assert not wrong, f"measured != hwsim.arch (m, k, n, measured): {wrong[:10]}"
    shapes = {(m, k, n) for m, k, n, _ in bench["gemms"]}
    assert (1, 1, 1) in shapes and any(m == 1 and k > rows for m, k, _ in shapes)
    assert any(k % rows and n % cols and m > 1 for m, k, n in shapes)


@pytest.mark.parametrize(("sim", "rows", "cols", "tiles"),
                         [pytest.param(s, r, c, t, id=f"{s}-{r}x{c}-mxfp8")
                          for s in MX_SIZES for r, c, t in MX_SIZES[s]])
def test_mxfp8_variant(sim: str, rows: int, cols: int, tiles: int) -> None:
    """PE = 1: MXFP8 E4M3 operands encoded by hwsim (and random codes / E8M0 scales incl. NaN),
    every partial sum exact against hwsim's element table and, scaled by the fold's E8M0 scales,
    equal to the sum of hwsim-decoded products; same cycle counts as the INT8 array."""
    bench = _run(sim, rows, cols, tiles, seed=2, pe=1)
    assert bench["mismatches"] == 0 and bench["late_outputs"] == 0 and bench["tiles"] >= tiles
    model = SystolicArray(rows, cols, "ws")
    assert all(c == model.gemm(m, k, n).cycles for m, k, n, c in bench["gemms"])


def test_suite_runs_ten_thousand_tiles() -> None:
    assert sum(t for _, _, t in SIZES["verilator"]) >= 10_000
    assert all(sum(t for _, _, t in sizes) >= 3_000 for sizes in SIZES.values())


@pytest.mark.parametrize("knob", ["BREAK_SKEW", "BREAK_DRAIN"])
def test_a_broken_schedule_fails(knob: str) -> None:
    """The bench catches an activation skew off by one (wrong sums) and a drain one cycle too long
    (cycles != hwsim.arch): the rules above are tested, not assumed."""
    with pytest.raises(SimulationError, match="wrong outputs" if knob == "BREAK_SKEW" else "differ from hwsim"):
        _run("icarus", 4, 4, 20, **{knob: 1})


# ---- illegal parameters stop elaboration on every tool ---------------------------------------------
ILLEGAL = [({"ROWS": 4, "COLS": 4, "ACC_W": 18}, "ILLEGAL_ACC_W"),  # 8 + 8 + clog2(4) + 1 = 19 > 18
           ({"ROWS": 0, "COLS": 4}, "ILLEGAL_ROWS"),
           ({"ROWS": 4, "COLS": 4, "PE": 1, "ACC_W": 32}, "ILLEGAL_ACC_W"),  # MXFP8 needs 39 + 2
           ({"ROWS": 4, "COLS": 4, "PE": 2}, "ILLEGAL_PE")]


@pytest.mark.parametrize("sim", ["icarus", "verilator"])
@pytest.mark.parametrize(("params", "rule"), ILLEGAL)
def test_illegal_parameters_fail_elaboration(sim: str, params: dict[str, int], rule: str) -> None:
    missing = missing_tool(sim)
    if missing:
        pytest.skip(missing)
    with pytest.raises(SimulationError, match=rule):
        run_bench("systolic_ws", params, sim, toplevel="systolic_ws", bench_module="bench_systolic_ws",
                  sources=[rtl_source(s) for s in SOURCES])


def _yosys_elaborate(params: dict[str, int]) -> subprocess.CompletedProcess:
    missing = missing_tool("yosys")
    if missing:
        pytest.skip(missing)
    exe = find_tool("yosys")
    assert exe is not None
    # `chparam` before `hierarchy` (yosys 0.23's `hierarchy -chparam` trips an internal assertion
    # on a top with parameterized submodules, which would make every case "fail")
    sets = " ".join(f"-set {k} {v}" for k, v in params.items())
    files = " ".join(str(rtl_source(s)) for s in SOURCES)
    return subprocess.run([exe, "-q", "-p", f"read_verilog {files}; chparam {sets} systolic_ws; "
                           "hierarchy -check -top systolic_ws"],
                          capture_output=True, text=True, env=tool_env(), timeout=120)


@pytest.mark.parametrize(("params", "rule"), ILLEGAL + [({"ROWS": 4, "COLS": 4, "A_W": 1}, "ILLEGAL_A_W")])
def test_illegal_parameters_fail_yosys(params: dict[str, int], rule: str) -> None:
    out = _yosys_elaborate(params)
    assert out.returncode != 0 and rule in (out.stderr + out.stdout)


@pytest.mark.parametrize(("rows", "pe"), [(4, "int8"), (5, "int8"), (1, "int8"), (8, "mxfp8"), (3, "mxfp8")])
def test_params_helper_agrees_with_the_verilog(rows: int, pe: str) -> None:
    """hwsim.synth.params.systolic_ws_params accepts the narrowest ACC_W the Verilog elaborates and
    rejects one bit less, as the Verilog does."""
    need = next(w for w in range(8, 65) if _accepts(rows, pe, w))
    assert _yosys_elaborate(systolic_ws_params(rows, 3, pe, need)).returncode == 0
    bad = {**systolic_ws_params(rows, 3, pe, need), "ACC_W": need - 1}
    assert _yosys_elaborate(bad).returncode != 0


def _accepts(rows: int, pe: str, width: int) -> bool:
    try:
        systolic_ws_params(rows, 3, pe, width)
    except HwsimError:
        return False
    return True


def test_model_counts_the_documented_schedule() -> None:
    """The closed form the bench is compared with, spelled out: per fold ROWS (load) + T (stream) +
    ROWS - 1 (input skew) + COLS - 1 (output skew) cycles, folds back to back, last edge index."""
    for rows, cols, m, k, n in [(4, 4, 1, 1, 1), (4, 4, 5, 9, 5), (8, 8, 3, 17, 9), (3, 5, 7, 4, 11)]:
        folds = -(-k // rows) * -(-n // cols)
        assert SystolicArray(rows, cols, "ws").gemm(m, k, n).cycles == folds * (2 * rows + cols + m - 2) - 1
    with pytest.raises(HwsimError):
        SystolicArray(0, 4, "ws")
