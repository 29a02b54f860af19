"""Regenerate tests/arch/data/scalesim_reference.csv by running the real SCALE-Sim 3.0.0.

Run it with the interpreter of a throw-away venv that has SCALE-Sim installed (never a repo dependency):

    python3 -m venv /tmp/scalesim-venv
    /tmp/scalesim-venv/bin/pip install "scalesim==3.0.0" "numpy<2.4"
    /tmp/scalesim-venv/bin/python benchmarks/reference/make_scalesim_reference.py            # all GEMMs
    /tmp/scalesim-venv/bin/python benchmarks/reference/make_scalesim_reference.py --dry-run  # list + cost

Each GEMM is ours: A[M,K] @ W[K,N] -> O[M,N]. It is handed to SCALE-Sim through its public API
(`scalesim.scale_sim.scalesim(..., input_type_gemm=True)`) as a GEMM topology row
`name, M, N, K,` -- SCALE-Sim's GEMM CSV column order is M, N, K, with M = rows of the input
(ofmap pixels), N = number of filters (output columns), K = reduction length; internally it becomes
a convolution with IFMAP M x K, a 1 x K filter, 1 channel and N filters. `--check-conv` reruns a few
GEMMs as 1x1 convolutions (IFMAP M x 1, K channels, N filters) and asserts identical reports.

The SRAMs are made huge (1 GiB each, everything prefetched before cycle 0) so there are no memory
stalls; the script asserts Stall Cycles == 0 and that the closed forms in tests/arch/data/README.md
reproduce every number written to the CSV.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import shutil
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "arch" / "data" / "scalesim_reference.csv"

SRAM_KB = 1048576  # 1 GiB per SRAM: whole operands fit, so no stalls
CONFIG = """[general]
run_name = ref
[architecture_presets]
ArrayHeight: {r}
ArrayWidth: {c}
IfmapSramSzkB: {sram}
FilterSramSzkB: {sram}
OfmapSramSzkB: {sram}
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

# (array_rows, array_cols) -> GEMMs (m, k, n); every one is run with ws, os and is.
CASES: dict[tuple[int, int], list[tuple[int, int, int]]] = {
    (8, 8): [(1, 1, 1), (3, 5, 2), (8, 8, 8), (9, 17, 33), (64, 64, 64), (100, 37, 77)],
    (16, 16): [(64, 64, 64), (100, 37, 77), (7, 300, 129), (49, 1152, 128)],
    (32, 32): [(64, 64, 64), (100, 37, 77), (256, 256, 256), (7, 300, 129), (49, 1152, 128),
               (1, 256, 1024)],
    (32, 16): [(64, 64, 64), (100, 37, 77), (7, 300, 129)],
    (16, 32): [(64, 64, 64), (100, 37, 77), (7, 300, 129)],
    (12, 20): [(50, 70, 90)],
    # last: ResNet-50 conv2_x 3x3 layer (56x56x64 -> 64) as an im2col GEMM, the benchmark's layer
    (128, 128): [(100, 37, 77), (49, 1152, 128), (1, 768, 3072), (3136, 576, 64)],
}
DATAFLOWS = ("ws", "os", "is")

COLUMNS = ["array_rows", "array_cols", "dataflow", "m", "k", "n",
           "compute_cycles", "total_cycles", "stall_cycles",
           "overall_util_pct", "mapping_efficiency_pct", "compute_util_pct",
           "ifmap_sram_reads", "filter_sram_reads", "ofmap_sram_writes",
           "scalesim_seconds"]


def closed_form(r: int, c: int, df: str, m: int, k: int, n: int) -> dict[str, float]:
    """What SCALE-Sim 3.0.0 reports, in closed form (derived from its source, checked on every row)."""
    if df == "ws":    # weights K x N pinned (K on rows, N on cols); A's M rows stream through
        sr, sc, t = k, n, m
        per_fold, util_den = 2 * r + c + t - 2, 2 * r + 2 * c + t - 3
    elif df == "is":  # inputs pinned (K on rows, M on cols); W's N columns stream through
        sr, sc, t = k, m, n
        per_fold, util_den = 2 * r + c + t - 2, 2 * r + 2 * c + t - 3
    else:             # os: outputs M x N pinned (M on rows, N on cols); K streams
        sr, sc, t = m, n, k
        per_fold = util_den = r + c + t - 2
    fr, fc = math.ceil(sr / r), math.ceil(sc / c)
    folds = fr * fc
    cycles = folds * per_fold - 1
    if df == "ws":
        reads_i, reads_f, writes_o = m * k * fc, k * n, m * n * fr
    elif df == "is":
        reads_i, reads_f, writes_o = m * k, k * n * fc, m * n * fr
    else:  # SCALE-Sim's OS adds (rows + cols) phantom ofmap writes per fold (systolic_compute_os.py)
        reads_i, reads_f, writes_o = m * k * fc, k * n * fr, m * n + folds * (r + c)
    return {
        "compute_cycles": cycles,
        "total_cycles": cycles,
        "stall_cycles": 0,
        "overall_util_pct": 100.0 * m * n * k / (cycles * r * c),
        "mapping_efficiency_pct": 100.0 * sr * sc / (folds * r * c),
        "compute_util_pct": 100.0 * sr * sc * t / (folds * r * c * util_den),
        "ifmap_sram_reads": reads_i,
        "filter_sram_reads": reads_f,
        "ofmap_sram_writes": writes_o,
    }


def _read_report(path: Path) -> dict[str, str]:
    rows = list(csv.reader(open(path)))
    return {h.strip(): v.strip() for h, v in zip(rows[0], rows[1], strict=False) if h.strip()}


def run_scalesim(r: int, c: int, df: str, m: int, k: int, n: int, conv: bool = False) -> dict:
    from scalesim.scale_sim import scalesim  # pyright: ignore[reportMissingImports]  (only the tool's venv has it)

    tmp = Path(tempfile.mkdtemp(prefix="scalesim_ref_"))
    try:
        cfg, topo, layout = tmp / "arch.cfg", tmp / "topo.csv", tmp / "layout.csv"
        cfg.write_text(CONFIG.format(r=r, c=c, df=df, sram=SRAM_KB))
        if conv:  # GEMM as a 1x1 convolution: IFMAP m x 1 with k channels, n filters
            topo.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                            f"Channels, Num Filter, Strides,\ng, {m}, 1, 1, 1, {k}, {n}, 1,\n")
        else:     # SCALE-Sim GEMM topology: name, M, N, K
            topo.write_text(f"Layer, M, N, K,\ng, {m}, {n}, {k},\n")
        # 3.0.0 always opens a layout file, even with custom layouts off; a header-only one is enough
        layout.write_text("Layer name, unused,\n")
        with contextlib.redirect_stdout(io.StringIO()):
            t0 = time.perf_counter()
            sim = scalesim(save_disk_space=True, verbose=False, config=str(cfg), topology=str(topo),
                           layout=str(layout), input_type_gemm=not conv)
            sim.run_scale(top_path=str(tmp / "out"))
            seconds = time.perf_counter() - t0
        rep = _read_report(tmp / "out" / "ref" / "COMPUTE_REPORT.csv")
        acc = _read_report(tmp / "out" / "ref" / "DETAILED_ACCESS_REPORT.csv")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = int(float(rep["Total Cycles"]))       # compute + stall (NOT "Total Cycles (incl. prefetch)")
    stall = int(float(rep["Stall Cycles"]))
    return {
        "array_rows": r, "array_cols": c, "dataflow": df, "m": m, "k": k, "n": n,
        "compute_cycles": total - stall,
        "total_cycles": total,
        "stall_cycles": stall,
        "overall_util_pct": float(rep["Overall Util %"]),
        "mapping_efficiency_pct": float(rep["Mapping Efficiency %"]),
        "compute_util_pct": float(rep["Compute Util %"]),
        "ifmap_sram_reads": int(float(acc["SRAM IFMAP Reads"])),
        "filter_sram_reads": int(float(acc["SRAM Filter Reads"])),
        "ofmap_sram_writes": int(float(acc["SRAM OFMAP Writes"])),
        "scalesim_seconds": round(seconds, 4),
    }


def check(row: dict) -> list[str]:
    want = closed_form(row["array_rows"], row["array_cols"], row["dataflow"], row["m"], row["k"], row["n"])
    bad = []
    for key, val in want.items():
        got = row[key]
        ok = math.isclose(got, val, rel_tol=1e-9, abs_tol=1e-9) if isinstance(val, float) else got == val
        if not ok:
            bad.append(f"{key}: scalesim {got} != closed form {val}")
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--dry-run", action="store_true", help="list the GEMMs and their cycle counts only")
    ap.add_argument("--check-conv", action="store_true",
                    help="also rerun a few GEMMs as 1x1 convolutions and require identical reports")
    args = ap.parse_args()

    jobs = [(r, c, df, *g) for (r, c), gemms in CASES.items() for g in gemms for df in DATAFLOWS]
    if args.dry_run:
        for j in jobs:
            print(*j, closed_form(*j)["compute_cycles"])
        print(len(jobs), "runs,", sum(closed_form(*j)["compute_cycles"] for j in jobs), "simulated cycles")
        return 0

    print(f"SCALE-Sim {version('scalesim')}, numpy {version('numpy')}, python {sys.version.split()[0]}")
    rows, failures = [], 0
    for j in jobs:
        row = run_scalesim(*j)
        bad = check(row)
        failures += bool(bad)
        print(f"{row['dataflow']} {row['array_rows']:>3}x{row['array_cols']:<3} "
              f"m={row['m']:<5} k={row['k']:<5} n={row['n']:<5} cycles={row['compute_cycles']:<7} "
              f"{row['scalesim_seconds']:7.2f} s  " + ("OK" if not bad else "MISMATCH " + "; ".join(bad)),
              flush=True)
        rows.append(row)

    if args.check_conv:
        for j in [(8, 8, "ws", 100, 37, 77), (16, 32, "os", 7, 300, 129), (32, 16, "is", 100, 37, 77)]:
            a, b = run_scalesim(*j), run_scalesim(*j, conv=True)
            a.pop("scalesim_seconds")
            b.pop("scalesim_seconds")
            print("GEMM-mode == 1x1-conv-mode for", j, ":", a == b)
            failures += a != b

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out}; closed-form mismatches: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
