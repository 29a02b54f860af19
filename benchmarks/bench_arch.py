"""Speed (and agreement) of hwsim's cost models against SCALE-Sim and ZigZag, in one run.

    python benchmarks/bench_arch.py            # SCALE-Sim timings/cycles recorded in the fixture
    SCALESIM_PYTHON=/tmp/scalesim-venv/bin/python python benchmarks/bench_arch.py   # run it live

(venv setup: tests/arch/data/README.md.) Three measurements:

1. per GEMM: one scalar ``SystolicArray.gemm`` call vs one SCALE-Sim 3.0.0 run of the same GEMM,
   array and dataflow. Live runs go through ``run_scalesim`` of
   ``benchmarks/reference/make_scalesim_reference.py`` (the fixture's generator: GEMM topology,
   header-only layout file, compute cycles = "Total Cycles" - "Stall Cycles") inside
   ``$SCALESIM_PYTHON``; without it the fixture's ``scalesim_seconds`` and cycles are used.
   Cycles and SRAM counts must be identical (exit status 1 otherwise); the time ratio is the
   speed-up (target >= 1e4).
2. vectorized: ``Accelerator.gemm`` (compute + memory + energy) over 10,000 design points x the
   layers of BERT-base and ResNet-50 in one call, in (layer x design point) evaluations per
   second (target >= 1e6).
3. energy of one layer vs ZigZag 3.9.1 (tests/arch/data/zigzag_reference.json): the full
   ``Accelerator.gemm`` on ``zigzag-tpu-like`` (ZigZag's tpu_like.yaml in hwsim's terms) vs
   ZigZag's recorded median run time (target >= 1e3 faster), and the energy ratio.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import hwsim.arch as arch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "arch" / "data"
GENERATOR_DIR = ROOT / "benchmarks" / "reference"

#: (rows, cols, dataflow, m, k, n); all are rows of the fixture, so the recorded fallback has them
GEMMS = [
    (32, 32, "ws", 256, 256, 256),
    (32, 32, "os", 256, 256, 256),
    (32, 32, "is", 256, 256, 256),
    (32, 32, "ws", 49, 1152, 128),      # a conv-like GEMM (7x7 outputs, 3x3x128 -> 128)
    (128, 128, "ws", 3136, 576, 64),    # ResNet-50 conv2_x 3x3 layer (56x56x64 -> 64) as im2col GEMM
]
#: SCALE-Sim column -> hwsim SystolicResult field, compared for equality
SAME = {"compute_cycles": "cycles", "ifmap_sram_reads": "sram_reads_ifmap",
        "filter_sram_reads": "sram_reads_filter", "ofmap_sram_writes": "sram_writes_ofmap"}

_DRIVER = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    from make_scalesim_reference import run_scalesim   # the fixture's generator, same conventions
    for job in json.loads(sys.argv[2]):
        print(json.dumps(run_scalesim(*job)), flush=True)
""")


def time_hwsim_one(r: int, c: int, df: str, m: int, k: int, n: int) -> tuple[float, arch.SystolicResult]:
    """Median seconds of one scalar ``SystolicArray.gemm`` call (object construction included)."""
    reps, times = 2000, []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            res = arch.SystolicArray(rows=r, cols=c, dataflow=df).gemm(m, k, n)
        times.append((time.perf_counter() - t0) / reps)
    return float(np.median(times)), res


def live_scalesim(py: str, jobs: Sequence[Sequence[Any]]) -> dict[tuple, dict]:
    """One SCALE-Sim 3.0.0 run per job inside ``py``; rows keyed like the fixture."""
    proc = subprocess.run([py, "-c", _DRIVER, str(GENERATOR_DIR), json.dumps(jobs)],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"SCALE-Sim run failed under {py}:\n{proc.stderr.strip()[-2000:]}")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return {_key(row): row for row in rows}


def recorded_scalesim() -> dict[tuple, dict]:
    """Fixture rows (81 real SCALE-Sim runs) keyed by (rows, cols, dataflow, m, k, n)."""
    with open(DATA / "scalesim_reference.csv", newline="") as fh:
        return {_key(row): row for row in csv.DictReader(fh)}


def _key(row: dict) -> tuple:
    return (int(row["array_rows"]), int(row["array_cols"]), row["dataflow"], int(row["m"]),
            int(row["k"]), int(row["n"]))


def bench_per_gemm() -> tuple[list[str], bool, list[float]]:
    py = os.environ.get("SCALESIM_PYTHON")
    if py:
        t0 = time.perf_counter()
        ref = live_scalesim(py, [list(g) for g in GEMMS])
        source = f"live SCALE-Sim 3.0.0 ({py}; {time.perf_counter() - t0:.0f} s wall incl. start-up)"
    else:
        ref = recorded_scalesim()
        source = "recorded SCALE-Sim 3.0.0 runs (tests/arch/data/scalesim_reference.csv)"
    lines = [f"SCALE-Sim: {source}",
             f"{'array':>9} {'df':>3} {'GEMM (m,k,n)':>18} {'hwsim s':>9} {'SCALE-Sim s':>11} "
             f"{'speed-up':>9} {'cycles hwsim = SCALE-Sim':>26}  SRAM counts"]
    ok, speedups = True, []
    for g in GEMMS:
        t, res = time_hwsim_one(*g)
        row = ref[g]
        same = all(getattr(res, ours) == int(float(row[col])) for col, ours in SAME.items())
        ok &= same
        secs = float(row["scalesim_seconds"])
        speedups.append(secs / t)
        cyc = f"{res.cycles} {'==' if same else '!='} {int(float(row['compute_cycles']))}"
        lines.append(f"{g[0]:>4}x{g[1]:<4} {g[2]:>3} {str(g[3:]):>18} {t:9.2e} {secs:11.2f} "
                     f"{secs / t:9.3g} {cyc:>26}  {'identical' if same else 'MISMATCH'}")
    return lines, ok, speedups


def bench_vectorized(points: int = 10_000) -> tuple[list[str], list[float]]:
    lines, rates = [], []
    rng = np.random.default_rng(0)
    rows = rng.integers(4, 257, size=(points, 1))
    cols = rng.integers(4, 257, size=(points, 1))
    sram = rng.choice([64, 128, 256, 512, 1024], size=(points, 1))
    bw = rng.uniform(8, 256, size=(points, 1))
    for wname in ("bert-base", "resnet50"):
        w = arch.workload(wname).arrays()
        acc = arch.accelerator("mx-systolic-32", rows=rows, cols=cols, ifmap_sram_kib=sram,
                               filter_sram_kib=sram, dram_gb_per_s=bw)
        acc.gemm(w["m"], w["k"], w["n"])  # warm-up
        best = min(_timed(lambda acc=acc, w=w: acc.gemm(w["m"], w["k"], w["n"])) for _ in range(3))
        evals = points * len(w["m"])
        rates.append(evals / best)
        lines.append(f"{wname:>10}: {points} design points x {len(w['m'])} layers = {evals:,} evaluations "
                     f"(compute + memory + energy) in {best * 1e3:.1f} ms = {evals / best:,.0f} eval/s")
    return lines, rates


def bench_zigzag() -> tuple[list[str], float]:
    ref = json.loads((DATA / "zigzag_reference.json").read_text())
    m, k, n = int(ref["m"]), int(ref["k"]), int(ref["n"])
    acc = arch.accelerator("zigzag-tpu-like")
    reps = 2000
    t = min(_timed(lambda: [acc.gemm(m, k, n) for _ in range(reps)]) for _ in range(3)) / reps
    cost = acc.gemm(m, k, n)
    zz_s, zz_e = float(ref["zigzag_seconds"]), float(ref["energy_pj"])
    zz_b = ref["energy_breakdown_pj"]["per_memory"]
    ours = cost.energy_breakdown()
    lines = [
        f"layer {m}x{k}x{n} on {acc.name} (ZigZag {ref['tool_version']} tpu_like.yaml in hwsim terms)",
        f"  time  : hwsim {t * 1e6:.1f} us per Accelerator.gemm (compute + memory + energy); "
        f"ZigZag {zz_s:.2f} s (recorded median) -> {zz_s / t:,.0f}x faster",
        f"  energy: hwsim {cost.energy_pj:,.0f} pJ, ZigZag {zz_e:,.0f} pJ -> ratio hwsim/ZigZag "
        f"{cost.energy_pj / zz_e:.4f}",
        f"          mac {ours['mac']:,.0f} vs {ref['energy_breakdown_pj']['mac']:,.0f}; registers "
        f"{ours['rf']:,.0f} vs {zz_b['rf_128B'] + zz_b['rf_2B']:,.0f}; SRAM {ours['sram']:,.0f} vs "
        f"{zz_b['sram_2MB']:,.0f}; DRAM {ours['dram']:,.0f} vs {zz_b['dram']:,.0f}",
    ]
    return lines, zz_s / t


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _verdict(value: float, target: float) -> str:
    return f"{value:,.3g} (target >= {target:,.0g}: {'met' if value >= target else 'NOT met'})"


def main() -> int:
    t0 = time.perf_counter()
    print("== per GEMM: hwsim SystolicArray.gemm vs SCALE-Sim 3.0.0 ==")
    lines, same, speedups = bench_per_gemm()
    print("\n".join(lines))
    print("\n== vectorized path ==")
    vlines, rates = bench_vectorized()
    print("\n".join(vlines))
    print("\n== energy of one layer vs ZigZag ==")
    zlines, zz_speedup = bench_zigzag()
    print("\n".join(zlines))
    print("\n== summary ==")
    print(f"cycles and SRAM counts identical to SCALE-Sim on all {len(GEMMS)} GEMMs: {same}")
    print(f"per-GEMM speed-up vs SCALE-Sim, minimum: {_verdict(min(speedups), 1e4)}")
    print(f"vectorized evaluations/s, minimum: {_verdict(min(rates), 1e6)}")
    print(f"one-layer energy speed-up vs ZigZag: {_verdict(zz_speedup, 1e3)}")
    print(f"benchmark wall time: {time.perf_counter() - t0:.0f} s")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
