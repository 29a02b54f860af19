"""Regenerate tests/arch/data/zigzag_reference.json by running the real ZigZag (zigzag-dse) on one layer.

Run it with the interpreter of a throw-away venv (ZigZag is never a repo dependency):

    python3 -m venv /tmp/zigzag-venv
    /tmp/zigzag-venv/bin/pip install zigzag-dse six    # zigzag-dse 3.9.1 imports `six` without declaring it
    /tmp/zigzag-venv/bin/python benchmarks/reference/make_zigzag_reference.py

The layer is our GEMM A[M,K] @ W[K,N] with (M, K, N) = (3136, 576, 64): the im2col form of the
ResNet-50 conv2_x 3x3 convolution (56x56 outputs, 64 -> 64 channels), the same layer that
benchmarks/bench_arch.py times. It is given to ZigZag's public API
(`zigzag.api.get_hardware_performance_zigzag`) as a yaml workload with equation
O[b][k] += I[b][c] * W[c][k], i.e. ZigZag B = our M, C = our K (reduction), ZigZag K = our N.
The hardware is ZigZag's own shipped example `inputs/hardware/tpu_like.yaml` with its shipped
mapping `inputs/mapping/tpu_like.yaml`, both read from the installed package (not copied here).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import re
import shutil
import statistics
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "arch" / "data" / "zigzag_reference.json"

M, K, N = 3136, 576, 64
WORKLOAD = f"""- id: 0
  name: resnet50_conv2x_3x3_gemm
  operator_type: Gemm
  equation: O[b][k]+=I[b][c]*W[c][k]
  loop_dims: [B, C, K]
  loop_sizes: [{M}, {K}, {N}]
  operand_precision:
    I: 8
    W: 8
    O: 16
    O_final: 8
  operand_source:
    I: 0
"""
LAYER_TO_MEM_OPERAND = {"I": "I1", "W": "I2", "O": "O"}  # memory_operand_links of tpu_like.yaml


def _instance_name(level: str) -> str:
    """The ``instance=NAME`` of one memory level's description."""
    found = re.search(r"instance=([^,]+)", level)
    if found is None:
        raise ValueError(f"no instance= in the memory level {level!r}")
    return found.group(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--accelerator", default="tpu_like", help="name of a yaml in zigzag/inputs/hardware")
    ap.add_argument("--opt", default="energy", choices=["energy", "latency", "EDP"])
    ap.add_argument("--repeat", type=int, default=3, help="runs to time; the median is recorded")
    args = ap.parse_args()

    import yaml  # ZigZag depends on PyYAML
    import zigzag  # pyright: ignore[reportMissingImports]  (optional reference tool)
    from zigzag.api import get_hardware_performance_zigzag  # pyright: ignore[reportMissingImports]

    logging.disable(logging.WARNING)
    if zigzag.__file__ is None:
        raise SystemExit("zigzag is installed as a namespace package; its inputs/ folder cannot be found")
    inputs = Path(zigzag.__file__).parent / "inputs"
    hw_file = inputs / "hardware" / f"{args.accelerator}.yaml"
    map_file = inputs / "mapping" / f"{args.accelerator}.yaml"
    if not map_file.exists():
        map_file = inputs / "mapping" / "default.yaml"
    hw = yaml.safe_load(hw_file.read_text())

    tmp = Path(tempfile.mkdtemp(prefix="zigzag_ref_"))
    try:
        wl = tmp / "workload.yaml"
        wl.write_text(WORKLOAD)
        times, results = [], set()
        for i in range(args.repeat):
            t0 = time.perf_counter()
            energy, latency, _ = get_hardware_performance_zigzag(
                workload=str(wl), accelerator=str(hw_file), mapping=str(map_file), opt=args.opt,
                dump_folder=str(tmp / f"out{i}"), loma_show_progress_bar=False)
            times.append(time.perf_counter() - t0)
            results.add((energy, latency))
        assert len(results) == 1, f"ZigZag is not deterministic here: {results}"
        seconds = statistics.median(times)
        layer_json = next((tmp / "out0").glob("*_complete.json"))
        res = json.loads(layer_json.read_text())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    outp, acc_in = res["outputs"], res["inputs"]["accelerator"]
    # per memory instance: sum the per-operand, per-level energies onto the instance names
    hier = {op: [_instance_name(s) for s in levels]
            for op, levels in acc_in["mem_hierarchy_dict"].items()}
    per_instance: dict[str, float] = {}
    per_operand: dict[str, dict[str, float]] = {}
    for op, levels in outp["energy"]["memory_energy_breakdown_per_level"].items():
        names = hier[LAYER_TO_MEM_OPERAND[op]]
        per_operand[op] = {}
        for name, e in zip(names, levels, strict=False):
            per_instance[name] = per_instance.get(name, 0.0) + e
            per_operand[op][name] = e

    memories = {}
    for name, mem in hw["memories"].items():
        memories[name] = {
            "size_bits": mem["size"], "r_cost_pj": mem["r_cost"], "w_cost_pj": mem["w_cost"],
            "operands": mem["operands"],
            "port_bandwidth_bits": sorted({p.get("bandwidth_max") for p in mem["ports"]}),
            "served_dimensions": mem["served_dimensions"],
        }
    op_arr = hw["operational_array"]

    ref = {
        "tool": "zigzag-dse",
        "tool_version": version("zigzag-dse"),
        "python": platform.python_version(),
        "command": "/tmp/zigzag-venv/bin/python benchmarks/reference/make_zigzag_reference.py",
        "api": f"zigzag.api.get_hardware_performance_zigzag(opt={args.opt!r}, temporal mapping search: LOMA, "
               "lpf_limit=6 (defaults))",
        "layer": "ResNet-50 conv2_x 3x3 conv (56x56 outputs, 64->64 channels) as im2col GEMM",
        "m": M, "k": K, "n": N,
        "macs": M * K * N,
        "zigzag_equation": "O[b][k]+=I[b][c]*W[c][k]",
        "zigzag_loop_sizes": {"B": M, "C": K, "K": N},
        "dimension_mapping": "ZigZag B = our M (rows of A), ZigZag C = our K (reduction), ZigZag K = our N",
        "operand_precision_bits": {"I": 8, "W": 8, "O_partial": 16, "O_final": 8},
        "accelerator_file": f"zigzag/inputs/hardware/{hw_file.name} (shipped with zigzag-dse)",
        "mapping_file": f"zigzag/inputs/mapping/{map_file.name} (shipped; operator 'Gemm' falls back "
                        "to its 'default' entry)",
        "accelerator": {
            "name": hw["name"],
            "array": op_arr["sizes"],
            "array_dimensions": op_arr["dimensions"],
            "mac_energy_pj": op_arr["unit_energy"],
            "memories": memories,
            "memory_hierarchy_per_operand": {op: hier[LAYER_TO_MEM_OPERAND[op]] for op in ("I", "W", "O")},
        },
        "hwsim_accelerator": "tpu-v1-like",
        "hwsim_accelerator_note": "closest hwsim preset by name only: ZigZag's tpu_like is a 32x32 array with "
                                  "a 2 MiB SRAM, hwsim's tpu-v1-like is 256x256 (ISCA'17); compare energies "
                                  "as orders of magnitude, not exactly",
        "energy_pj": outp["energy"]["energy_total"],
        "energy_breakdown_pj": {
            "mac": outp["energy"]["operational_energy"],
            "memory_total": outp["energy"]["memory_energy"],
            "per_memory": per_instance,
            "per_operand_per_memory": per_operand,
        },
        "latency_cycles": latency,
        "latency_breakdown_cycles": outp["latency"],
        "ideal_compute_cycles": M * K * N / (op_arr["sizes"][0] * op_arr["sizes"][1]),
        "mac_utilization": outp["spatial"]["mac_utilization"],
        "word_accesses": outp["memory"]["word_accesses"],
        "spatial_mapping": res["inputs"]["layer"]["user_spatial_mapping"],
        "temporal_mapping": res["inputs"]["temporal_mapping"],
        "zigzag_seconds": round(seconds, 3),
        "zigzag_seconds_all_runs": [round(t, 3) for t in times],
        "zigzag_seconds_note": "median wall clock of the get_hardware_performance_zigzag call (mapping search "
                               "+ cost model + its result files) over the runs, in one process; python startup "
                               "and imports excluded; the first run also pays lazy imports / caches",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(ref, indent=2) + "\n")
    print(f"ZigZag {ref['tool_version']}: {ref['energy_pj']:.6g} pJ, {latency:.0f} cycles, "
          f"{seconds:.2f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
