"""RTL simulation of the systolic array vs hwsim.arch's closed form, and generic-gate sizes of the PEs.

    python benchmarks/bench_rtl_vs_model.py                   # Icarus and Verilator when installed
    python benchmarks/bench_rtl_vs_model.py --sims icarus     # one simulator

Three measurements (issue 12, "Performance to report"):

1. The same GEMMs (SHAPES, on 4x4 and 8x8 INT8 arrays) simulated cycle by cycle through the cocotb
   bench of rtl/systolic_ws.v (rtl/tb/systolic_ws/) and costed by
   ``hwsim.arch.SystolicArray(N, N, "ws").gemm``. Cycles must be identical (exit status 1
   otherwise). Times: "sim" = the whole simulator process with a cached build (starting Python,
   cocotb and hwsim inside the simulator included), "drive" = the bench's stimulus loop alone, and
   the model's time per GEMM (scalar calls, best of 5). The ratio sim / model is the speed-up the
   closed form buys.
2. rtl/bitserial_pe.v: a few dot products through its bench (cycles against
   ``hwsim.arch.bitserial.group_cycles``), simulator time per dot product.
3. NAND2 equivalents (hwsim.synth.yosys.NAND2_WEIGHTS) of one PE: pe_int8, pe_mxfp8 (with its
   fp_mul), bitserial_pe (LANES 4 and 1), with yosys ``synth -flatten; dfflegalize`` (flip-flops
   with enable become DFF + logic) ``; abc -g`` the generic gate set of hwsim.synth.yosys.

Numbers depend on the machine and its load; the output says which simulator and tool versions ran.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hwsim.arch import SystolicArray
from hwsim.arch.bitserial import group_cycles
from hwsim.synth.sim import run_bench
from hwsim.synth.tools import bench_dir, find_tool, missing_tool, rtl_source, tool_env, tool_version
from hwsim.synth.yosys import GATE_SET, NAND2_WEIGHTS, parse_stat

#: GEMMs (m, k, n) run on each array size: small, not multiples of N, m = 1, and a few folds deep
SHAPES = [(1, 1, 1), (1, 64, 64), (16, 16, 16), (7, 13, 11), (32, 24, 24), (3, 40, 5), (32, 64, 64)]
ARRAYS = (4, 8)
ARRAY_SOURCES = ("fp_mul", "pe_int8", "pe_mxfp8", "systolic_ws")


def _model_seconds(n: int, shapes: list[tuple[int, int, int]]) -> float:
    """Best of 5 of the mean time of one scalar ``gemm`` call over ``shapes``."""
    arr = SystolicArray(n, n, "ws")
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for m, k, n_ in shapes:
            arr.gemm(m, k, n_)
        best = min(best, (time.perf_counter() - t0) / len(shapes))
    return best


def bench_array(sim: str) -> list[dict]:
    rows = []
    for n in ARRAYS:
        params = {"ROWS": n, "COLS": n, "MAX_T": 32}
        sources = [rtl_source(s) for s in ARRAY_SOURCES] + [bench_dir("systolic_ws") / "systolic_ws_tb.v"]
        env = {"HWSIM_ROWS": str(n), "HWSIM_COLS": str(n), "HWSIM_MAX_T": "32", "HWSIM_SHAPES": json.dumps(SHAPES)}
        run_bench("systolic_ws", params, sim, toplevel="systolic_ws_tb", sources=sources,
                  bench_module="bench_systolic_ws", extra_env=env)  # build (cached) outside the timing
        res = run_bench("systolic_ws", params, sim, toplevel="systolic_ws_tb", sources=sources,
                        bench_module="bench_systolic_ws", extra_env=env)
        model = SystolicArray(n, n, "ws")
        measured = [tuple(g) for g in res.bench["gemms"]]
        same = all(c == model.gemm(m, k, n_).cycles for m, k, n_, c in measured)
        rows.append({"sim": sim, "N": n, "gemms": len(measured), "tiles": res.bench["tiles"],
                     "cycles": int(sum(c for *_, c in measured)), "cycles_equal": same,
                     "sim_s": res.sim_s, "drive_s": float(res.bench["drive_s"]),
                     "model_s_per_gemm": _model_seconds(n, SHAPES)})
    return rows


def bench_bitserial(sim: str) -> dict:
    env = {"HWSIM_LANES": "4", "HWSIM_DOTS": "6", "HWSIM_GROUPS": "32,128"}
    args = {"toplevel": "bitserial_pe", "sources": [rtl_source("bitserial_pe")],
            "bench_module": "bench_bitserial_pe", "extra_env": env}
    run_bench("bitserial_pe", {"LANES": 4}, sim, **args)
    res = run_bench("bitserial_pe", {"LANES": 4}, sim, **args)
    dots = res.bench["dots"]
    same = all(c == g * int(group_cycles(gs, 4, 2)) for _, gs, g, c in dots)
    return {"sim": sim, "dots": len(dots), "cycles": int(sum(d[3] for d in dots)), "cycles_equal": same,
            "sim_s": res.sim_s, "drive_s": float(res.bench["drive_s"])}


def nand2_eq(files: list[str], top: str, params: dict[str, int]) -> tuple[float, int, float]:
    """(NAND2 equivalents, flip-flops, seconds) of ``top`` mapped to hwsim's generic gate set."""
    exe = find_tool("yosys")
    assert exe is not None
    chparams = " ".join(f"-chparam {k} {v}" for k, v in params.items())
    with tempfile.TemporaryDirectory() as tmp:
        stat = Path(tmp) / "stat.txt"
        script = (f"read_verilog {' '.join(files)}; hierarchy -check -top {top} {chparams}; "
                  f"synth -flatten -top {top}; dfflegalize -cell $_DFF_P_ x; abc -g {GATE_SET}; opt_clean; "
                  f"tee -q -o {stat} stat")
        t0 = time.perf_counter()
        out = subprocess.run([exe, "-q", "-p", script], capture_output=True, text=True, env=tool_env(), timeout=600)
        seconds = time.perf_counter() - t0
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        cells = parse_stat(stat.read_text())
    return sum(NAND2_WEIGHTS[c] * k for c, k in cells.items()), cells.get("$_DFF_P_", 0), seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", default="icarus,verilator")
    args = ap.parse_args(argv)
    ok = True
    print("systolic_ws (INT8) vs hwsim.arch.SystolicArray(N, N, 'ws').gemm, GEMMs:", SHAPES)
    print(f"{'sim':10} {'N':>2} {'gemms':>5} {'tiles':>5} {'cycles':>7} {'equal':>5} {'sim s':>7} "
          f"{'drive s':>7} {'model s/gemm':>12} {'sim/model':>10}")
    for sim in [s for s in args.sims.split(",") if s]:
        if missing_tool(sim):
            print(f"{sim}: skipped ({missing_tool(sim)})")
            continue
        for r in bench_array(sim):
            ok &= r["cycles_equal"]
            per_gemm = r["sim_s"] / r["gemms"]
            print(f"{sim:10} {r['N']:>2} {r['gemms']:>5} {r['tiles']:>5} {r['cycles']:>7} {str(r['cycles_equal']):>5} "
                  f"{r['sim_s']:7.2f} {r['drive_s']:7.3f} {r['model_s_per_gemm']:12.2e} "
                  f"{per_gemm / r['model_s_per_gemm']:10.2e}")
        b = bench_bitserial(sim)
        ok &= b["cycles_equal"]
        print(f"bitserial_pe LANES 4 on {sim}: {b['dots']} dot products, {b['cycles']} cycles, equal to "
              f"group_cycles: {b['cycles_equal']}, sim {b['sim_s']:.2f} s, drive {b['drive_s']:.3f} s")
        print(f"  ({tool_version(sim)})")
    if not missing_tool("yosys"):
        print(f"\nNAND2 equivalents of one PE ({tool_version('yosys')}; generic gates, DFF = 5.67):")
        pes = [("pe_int8", ["pe_int8"], {}), ("pe_mxfp8", ["fp_mul", "pe_mxfp8"], {}),
               ("bitserial_pe", ["bitserial_pe"], {"LANES": 4}), ("bitserial_pe", ["bitserial_pe"], {"LANES": 1})]
        for top, files, params in pes:
            eq, dffs, sec = nand2_eq([str(rtl_source(f)) for f in files], top, params)
            print(f"  {top:13} {json.dumps(params):14} {eq:9.1f} NAND2-eq ({dffs} flip-flops), yosys {sec:.1f} s")
    print("\ncycles equal to the model everywhere:", ok)
    return 0 if ok else 1


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
