"""Small synthetic studies (a ``study.toml`` and a results store written with
:class:`hwsim.study.store.ResultsStore`) for the plot and report tests: no model runs, no pricing.

The values are made up but shaped like real results (area grows with the array, fewer bits cost
less energy and lose accuracy), so the plots have real fronts, roofs and breakdowns to draw."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwsim.study.store import ResultsStore

LLM_TOML = """\
name = "tiny-pareto"
description = "SmolLM2 perplexity vs area & energy <test> (synthetic results)"
metrics = ["accuracy", "cost", "layers"]

[axes]
model = ["smollm2"]
weights = ["mxfp4", "nvfp4", "int8_g32", "fp16"]
accelerator = ["mx-systolic-32"]
dataflow = ["ws", "os"]
rows = [8, 16, 32, 64]
cols = [8, 16, 32, 64]

[[zip]]
axes = ["rows", "cols"]
"""

QSNR_TOML = """\
name = "tiny-qsnr"
description = "QSNR of a few formats"
metrics = ["qsnr"]

[axes]
weights = ["mxfp4", "nvfp4", "int8_g32", "fp16", "mxfp6_e2m3", "mxfp8_e4m3"]
data = ["gaussian", "laplace"]
"""

BITS = {"mxfp4": 4.25, "nvfp4": 4.5, "int8_g32": 8.5, "fp16": 16.0, "mxfp6_e2m3": 6.25, "mxfp8_e4m3": 8.25}
PPL = {"mxfp4": 24.0, "nvfp4": 22.5, "int8_g32": 20.1, "fp16": 20.0}
LAYERS = [("model.layers.0.self_attn.q_proj", "linear", 64, 576, 576),
          ("model.layers.0.mlp.up_proj", "linear", 64, 576, 1536),
          ("model.layers.1.self_attn.q_proj", "linear", 64, 576, 576),
          ("model.layers.1.mlp.up_proj", "linear", 64, 576, 1536),
          ("lm_head", "linear", 64, 576, 49152)]


def _book(key: str, ok: bool, i: int) -> dict:
    return {"key": key, "status": "ok" if ok else "failed", "error": "" if ok else "HwsimError: <boom> & fail",
            "hwsim_version": "0.1.0", "task_wall_s": 2.0 + i % 3, "task_points": 4,
            "finished_at": f"2026-12-05T16:{i // 60:02d}:{i % 60:02d}+00:00"}


def write_llm_study(folder: Path, *, failed: int = 1) -> Path:
    """A 32-point accuracy + cost + layers study; the first ``failed`` points are failures."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.toml").write_text(LLM_TOML)
    rows, layer_rows = [], []
    grid = list(itertools.product(["mxfp4", "nvfp4", "int8_g32", "fp16"], ["ws", "os"], [8, 16, 32, 64]))
    for i, (w, df, n) in enumerate(grid):
        key = f"{i:016x}"
        ok = i >= failed
        bits = BITS[w]
        macs = 10**9
        peak = float(n * n)
        bw = 64.0
        dram = macs * bits / 64
        cycles = int(max(macs / peak / (0.9 if df == "ws" else 0.7), dram / bw)) + 1000  # under the roofs
        e_mac = macs * 0.05 * bits
        e_rf, e_sram, e_dram = macs * 0.01 * bits, macs * 0.02 * bits / (n / 8), 3e8 * bits
        row = {**_book(key, ok, i), "model": "smollm2", "weights": w, "activations": w, "kv_cache": w,
               "accumulate": "exact", "eval_size": "ci", "accelerator": "mx-systolic-32", "dataflow": df,
               "rows": n, "cols": n, "metric_name": "perplexity", "metric": PPL[w] + 0.001 * i,
               "baseline_metric": 19.9, "higher_is_better": False, "delta_pct": 100 * (PPL[w] / 19.9 - 1),
               "tokens": 4096.0, "cycles": cycles, "latency_s": cycles / 1e9,
               "energy_pj": e_mac + e_rf + e_sram + e_dram, "energy_mac_pj": e_mac, "energy_rf_pj": e_rf,
               "energy_sram_pj": e_sram, "energy_dram_pj": e_dram, "macs": macs, "dram_bytes": dram,
               "utilization": 0.8, "area_um2": peak * 900.0 * bits / 4 * (1.0 if df == "ws" else 1.05),
               "peak_macs_per_cycle": peak, "dram_bytes_per_cycle": bw, "w_bits_per_element": bits,
               "a_bits_per_element": bits}
        if not ok:
            for c in ("metric", "baseline_metric", "delta_pct", "tokens", "cycles", "latency_s", "energy_pj",
                      "energy_mac_pj", "energy_rf_pj", "energy_sram_pj", "energy_dram_pj", "macs", "dram_bytes",
                      "utilization", "area_um2", "peak_macs_per_cycle", "dram_bytes_per_cycle"):
                row[c] = np.nan
        rows.append(row)
        if ok:
            for j, (name, kind, m, k, nn) in enumerate(LAYERS):
                lm = m * k * nn
                traffic = (m * k + k * nn) * bits / 8
                layer_rows.append({"key": key, "layer": name, "kind": kind, "m": m, "k": k, "n": nn, "count": 2,
                                   "cycles": max(lm / peak, traffic / bw) * (1 + 0.3 * j), "energy_pj": lm * bits * 0.1,
                                   "energy_mac_pj": lm * bits * 0.05, "energy_rf_pj": lm * bits * 0.01,
                                   "energy_sram_pj": lm * bits * 0.02, "energy_dram_pj": lm * bits * 0.02,
                                   "macs": float(lm), "dram_bytes": float(traffic)})
    store = ResultsStore.of(folder)
    frame = pd.DataFrame(rows)
    store.write(frame.iloc[:16])
    store.write(frame.iloc[16:])
    store.write(pd.DataFrame(layer_rows), "layers")
    return folder


def write_qsnr_study(folder: Path) -> Path:
    """A 12-point QSNR study (6 formats x 2 data sources), every point finished."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "study.toml").write_text(QSNR_TOML)
    rows = []
    for i, (w, data) in enumerate(itertools.product(BITS, ["gaussian", "laplace"])):
        q = 6.02 * (BITS[w] - 0.5) - (1.5 if data == "laplace" else 0.0) - (2.0 if w.startswith("int") else 0.0)
        rows.append({**_book(f"{i + 100:016x}", True, i), "weights": w, "data": data, "seed": 0,
                     "qsnr_db": q, "nmse": 10 ** (-q / 10), "w_bits_per_element": BITS[w]})
    ResultsStore.of(folder).write(pd.DataFrame(rows))
    return folder


@pytest.fixture
def llm_study(tmp_path: Path) -> Path:
    return write_llm_study(tmp_path / "tiny-pareto")


@pytest.fixture
def qsnr_study(tmp_path: Path) -> Path:
    return write_qsnr_study(tmp_path / "tiny-qsnr")
