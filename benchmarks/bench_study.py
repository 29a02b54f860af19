"""Speed of ``hwsim sweep`` (issue 13's numbers), each measured in fresh processes on this machine.

    python benchmarks/bench_study.py                 # everything (the SmolLM2 part takes minutes)
    python benchmarks/bench_study.py --skip-model    # cost-only, resume and executors only

1. cost-only: a study of 10^6 design points (bert-base on mx-systolic-32: rows x cols x three SRAM
   sizes x bandwidth x clock x dataflow), run serially into a fresh store: points/s including
   planning, pricing and the Parquet writes (target >= 1e5).
2. resume: the same study run again (every point stored: the no-op rerun), and after deleting half
   of its parts (half the points to redo): wall time of each.
3. accuracy once: 8 formats x 200 accelerator design points x SmolLM2 (``ci`` evaluation) as one
   study, against the 8 model evaluations alone (``hwsim.bridge.evaluate.run`` per format in one
   process, like the study's one worker). Target: study / evaluations <= 1.2.
4. executors: the same 32-point QSNR study on the local pool and on a Dask LocalCluster, 2 workers
   each (process start-up included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMATS8 = ["fp16", "fp8_e4m3", "mxfp8_e4m3", "mxfp6_e2m3", "mxfp4", "nvfp4", "int8_g32", "int4_g128"]

COST_1M = """
metrics = ["cost"]
[axes]
workload = ["bert-base"]
weights = ["mxfp4"]
activations = ["mxfp8_e4m3"]
accelerator = ["mx-systolic-32"]
dataflow = ["ws", "os"]
rows = [4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256]
cols = [4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256]
ifmap_sram_kib = [64, 128, 256, 512, 1024]
filter_sram_kib = [64, 128, 256, 512, 1024]
ofmap_sram_kib = [64, 128, 256, 512, 1024]
dram_gb_per_s = [25.6, 51.2, 102.4, 204.8, 409.6]
clock_mhz = [500, 1000]
"""

SMOLLM2_200 = f"""
metrics = ["accuracy", "cost"]
[axes]
model = ["smollm2"]
weights = {FORMATS8}
activations = ["same"]
accelerator = ["mx-systolic-32"]
dataflow = ["ws", "os"]
rows = [8, 16, 32, 64, 128]
cols = [8, 16, 32, 64, 128]
ifmap_sram_kib = [64, 256]
filter_sram_kib = [64, 256]
"""

QSNR_32 = """
metrics = ["qsnr"]
[axes]
weights = ["mxfp4", "nvfp4", "int4_g128", "int8_g32", "fp8_e4m3", "fp6_e2m3", "mxfp6_e3m2", "mxfp8_e5m2",
           "bfp12_b32", "msfp16", "int4", "fp4_e2m1", "olive4", "ant4", "bitmod4", "mxint8"]
data = ["gaussian", "laplace"]
"""


def _python(code: str) -> float:
    """Wall seconds of ``code`` in a fresh interpreter (the repository on the path)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, cwd=ROOT, env=env)
    return time.perf_counter() - t0


def _sweep(folder: Path, *args: str) -> tuple[float, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "hwsim.cli", "sweep", str(folder), "--quiet", *args], check=False,
                         cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode not in (0, 1):
        raise SystemExit(f"sweep failed:\n{out.stdout}\n{out.stderr}")
    return wall, out.stdout.strip().splitlines()[-1]


def _study(tmp: Path, name: str, text: str) -> Path:
    d = tmp / name
    d.mkdir()
    (d / "study.toml").write_text(text)
    return d


def bench_cost(tmp: Path) -> dict[str, float]:
    d = _study(tmp, "cost1m", COST_1M)
    n = 2 * 20 * 20 * 5 * 5 * 5 * 5 * 2  # 10^6
    wall, line = _sweep(d, "--executor", "serial")
    print(f"cost-only: {n:,} points in {wall:.1f} s = {n / wall:,.0f} points/s including start-up and storage "
          f"({line})")
    noop, _ = _sweep(d, "--executor", "serial")
    print(f"resume, nothing to do: {noop:.1f} s ({noop / wall:.0%} of the sweep)")
    parts = sorted((d / "results" / "points").glob("part-*.parquet"))
    for p in parts[::2]:
        p.unlink()
    half, line = _sweep(d, "--executor", "serial")
    print(f"resume with every other part deleted: {half:.1f} s ({line})")
    return {"points": n, "wall_s": wall, "points_per_s": n / wall, "resume_noop_s": noop, "resume_half_s": half}


def bench_accuracy_once(tmp: Path) -> dict[str, float]:
    evals = _python(f"""
        import torch
        torch.set_num_threads(1)
        from hwsim.bridge.evaluate import run
        for f in {FORMATS8}:
            run("smollm2", f, f, "mx-systolic-32")
    """)
    d = _study(tmp, "smollm2", SMOLLM2_200 + '[options]\nthreads = 1\n')
    wall, line = _sweep(d, "--executor", "serial")
    print(f"accuracy once: 8 SmolLM2 evaluations alone {evals:.1f} s; study of 8 formats x 200 design points "
          f"{wall:.1f} s ({line}) -> ratio {wall / evals:.3f} (target <= 1.2)")
    return {"evaluations_s": evals, "study_s": wall, "ratio": wall / evals}


def bench_executors(tmp: Path) -> dict[str, float]:
    local, line_l = _sweep(_study(tmp, "qsnr_local", QSNR_32), "--executor", "local", "--workers", "2")
    dask, line_d = _sweep(_study(tmp, "qsnr_dask", QSNR_32), "--executor", "dask", "--workers", "2")
    print(f"executors, 32 QSNR points on 2 workers: local pool {local:.1f} s, Dask LocalCluster {dask:.1f} s "
          f"(ratio {dask / local:.2f})")
    return {"local_s": local, "dask_s": dask}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--skip-model", action="store_true", help="leave out the SmolLM2 accuracy-once part")
    ap.add_argument("--json", help="write the figures as JSON")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hwsim-bench-study-"))
    try:
        out = {"cost": bench_cost(tmp), "executors": bench_executors(tmp)}
        if not args.skip_model:
            out["accuracy_once"] = bench_accuracy_once(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
