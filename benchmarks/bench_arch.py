"""Speed of hwsim's cost models against SCALE-Sim and ZigZag, side by side in one run.

    python benchmarks/bench_arch.py            # recorded SCALE-Sim / ZigZag timings from the fixtures
    SCALESIM_PYTHON=/tmp/scalesim-venv/bin/python python benchmarks/bench_arch.py   # run SCALE-Sim live

Three measurements:
1. per GEMM: one scalar ``SystolicArray.gemm`` call vs one SCALE-Sim 3.0.0 run of the same GEMM,
   array and dataflow (cycles must be identical; the ratio is the speed-up);
2. vectorized: ``Accelerator.gemm`` (compute + memory + energy) over 10,000 design points x the
   layers of BERT-base and ResNet-50 in one call, in (layer x design point) evaluations per second;
3. energy of one layer vs ZigZag's recorded run time (tests/arch/data/zigzag_reference.json).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

import hwsim.arch as arch

DATA = Path(__file__).resolve().parent.parent / "tests" / "arch" / "data"
GEMMS = [(32, 32, "ws", 256, 256, 256), (32, 32, "os", 256, 256, 256), (32, 32, "is", 256, 256, 256),
         (128, 128, "ws", 3136, 576, 64)]  # last: a ResNet conv layer (56x56x64, 3x3 -> 64) as GEMM

_DRIVER = textwrap.dedent("""
    import sys, time, glob, csv, os
    from scalesim.scale_sim import scalesim
    cfg, topo, out = sys.argv[1:4]
    t0 = time.perf_counter()
    s = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo, input_type_gemm=False)
    s.run_scale(top_path=out)
    dt = time.perf_counter() - t0
    rep = glob.glob(os.path.join(out, "**", "COMPUTE_REPORT.csv"), recursive=True)[0]
    row = list(csv.reader(open(rep)))[1]
    print(dt, row[1].strip(), row[2].strip())
""")

_CFG = """[general]
run_name = bench
[architecture_presets]
ArrayHeight: {r}
ArrayWidth: {c}
IfmapSramSzkB: 1048576
FilterSramSzkB: 1048576
OfmapSramSzkB: 1048576
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : 1000000
Dataflow : {df}
MemoryBanks: 1
ReadRequestBuffer: 32
WriteRequestBuffer: 32
[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2
[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40
[run_presets]
InterfaceBandwidth: USER
UseRamulatorTrace: False
"""


def time_hwsim_one(r: int, c: int, df: str, m: int, k: int, n: int) -> tuple[float, int]:
    """Median seconds of one scalar SystolicArray.gemm call (object construction included)."""
    reps, times = 2000, []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(reps):
            cycles = arch.SystolicArray(rows=r, cols=c, dataflow=df).gemm(m, k, n).cycles
        times.append((time.perf_counter() - t0) / reps)
    return float(np.median(times)), cycles


def run_scalesim(py: str, r: int, c: int, df: str, m: int, k: int, n: int) -> tuple[float, int] | str:
    """(seconds inside SCALE-Sim, compute cycles) from a live run, or an error string."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg, topo, drv = Path(tmp, "a.cfg"), Path(tmp, "t.csv"), Path(tmp, "drv.py")
        cfg.write_text(_CFG.format(r=r, c=c, df=df))
        # GEMM as a 1x1 convolution: IFMAP m x 1 with k channels, n filters (im2col M=m, K=k, N=n)
        topo.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                        f"Channels, Num Filter, Strides,\ng, {m}, 1, 1, 1, {k}, {n}, 1,\n")
        drv.write_text(_DRIVER)
        proc = subprocess.run([py, str(drv), str(cfg), str(topo), tmp], capture_output=True, text=True,
                              timeout=3600)
        if proc.returncode != 0:
            return f"SCALE-Sim failed: {proc.stderr.strip().splitlines()[-1:]}"
        secs, total, stall = proc.stdout.split()[-3:]
        return float(secs), int(float(total)) - int(float(stall))


def recorded_scalesim() -> dict[tuple, float]:
    """Seconds per GEMM recorded in the SCALE-Sim fixture, if it has a timing column."""
    f = DATA / "scalesim_reference.csv"
    if not f.exists():
        return {}
    out = {}
    for row in csv.DictReader(open(f)):
        col = next((c for c in ("scalesim_seconds", "wall_s", "seconds", "runtime_s") if row.get(c)), None)
        if col:
            key = (int(row["array_rows"]), int(row["array_cols"]), row["dataflow"], int(row["m"]),
                   int(row["k"]), int(row["n"]))
            out[key] = float(row[col])
    return out


def bench_per_gemm() -> list[str]:
    py = os.environ.get("SCALESIM_PYTHON")
    recorded = recorded_scalesim()
    gemms = list(GEMMS) + [g for g in recorded if g not in GEMMS][:6]
    lines = [f"{'array':>9} {'df':>3} {'GEMM (m,k,n)':>18} {'hwsim s':>10} {'SCALE-Sim s':>12} "
             f"{'speed-up':>10} {'cycles hwsim / SCALE-Sim':>26}"]
    for g in gemms:
        t, cyc = time_hwsim_one(*g)
        ref: tuple[float, int | None] | str | None = None
        if py:
            ref = run_scalesim(py, *g)
        elif g in recorded:
            ref = (recorded[g], None)
        if isinstance(ref, tuple):
            ss = f"{ref[0]:12.3f}"
            ratio = f"{ref[0] / t:10.3g}"
            cmp = f"{cyc} / {ref[1] if ref[1] is not None else '(fixture)'}"
        else:
            ss, ratio, cmp = f"{'n/a':>12}", f"{'n/a':>10}", f"{cyc} / {ref or 'no SCALE-Sim timing'}"
        lines.append(f"{g[0]:>4}x{g[1]:<4} {g[2]:>3} {str(g[3:]):>18} {t:10.2e} {ss} {ratio} {cmp:>26}")
    return lines


def bench_vectorized(points: int = 10_000) -> list[str]:
    lines = []
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
        best = min(_timed(lambda: acc.gemm(w["m"], w["k"], w["n"])) for _ in range(3))
        evals = points * len(w["m"])
        lines.append(f"{wname:>10}: {points} design points x {len(w['m'])} layers = {evals:,} evaluations "
                     f"(compute + memory + energy) in {best * 1e3:.1f} ms = {evals / best:,.0f} eval/s")
    return lines


def bench_zigzag() -> list[str]:
    f = DATA / "zigzag_reference.json"
    acc = arch.accelerator("tpu-v1-like")
    m, k, n = 3136, 576, 64
    ref = json.loads(f.read_text()) if f.exists() else {}
    if ref:
        m, k, n = int(ref.get("m", m)), int(ref.get("k", k)), int(ref.get("n", n))
        acc = arch.accelerator(ref.get("hwsim_accelerator", "tpu-v1-like"))
    reps = 2000
    t = _timed(lambda: [acc.gemm(m, k, n) for _ in range(reps)]) / reps
    e = acc.gemm(m, k, n).energy_pj
    zz = next((float(ref[c]) for c in ("zigzag_seconds", "seconds", "wall_s", "runtime_s") if c in ref), None)
    line = f"energy of one layer ({m}x{k}x{n}) on {acc.name}: hwsim {t * 1e6:.1f} us, {e:.4g} pJ"
    if zz is not None:
        line += f"; ZigZag {zz:.2f} s, {float(ref['energy_pj']):.4g} pJ -> {zz / t:,.0f}x faster, " \
                f"energy ratio hwsim/ZigZag {e / float(ref['energy_pj']):.2f}"
    else:
        line += "; no ZigZag timing recorded (tests/arch/data/zigzag_reference.json absent)"
    return [line]


def _timed(fn) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    print("== per GEMM: hwsim SystolicArray.gemm vs SCALE-Sim 3.0.0 ==")
    print("\n".join(bench_per_gemm()))
    print("\n== vectorized path ==")
    print("\n".join(bench_vectorized()))
    print("\n== energy of one layer vs ZigZag ==")
    print("\n".join(bench_zigzag()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
