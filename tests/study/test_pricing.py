"""The study's vectorized pricing equals the one-point paths: ``reprice`` of a recorded model run
(:mod:`hwsim.study.reprice`) and :meth:`hwsim.arch.Accelerator.run` of a workload."""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
import hwsim.arch
from hwsim.study.pricing import price_design_points, records_table, workload_table
from hwsim.study.reprice import reprice, run_records

pytest.importorskip("torch")

DESIGN = {"rows": np.array([8, 16, 32, 12]), "cols": np.array([8, 32, 16, 20]),
          "ifmap_sram_kib": np.array([32, 64, 256, 8]), "clock_mhz": np.array([500.0, 1000.0, 700.0, 1500.0])}


@pytest.fixture(scope="module")
def recorded_run():
    from hwsim.bridge.evaluate import run

    # the last Linear kept fp32 (skip pattern "4"), as SmolLM2 keeps lm_head: totals include it,
    # the *_quantized columns do not
    rec = run("digits-mlp", "mxfp4", "fp16", "mx-systolic-32", skip=["4"]).as_dict()
    assert {layer["precision"] for layer in rec["layers"]} == {"fp32", "quantized"}
    return rec


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_model_run_totals_equal_reprice_on_each_design_point(recorded_run, dataflow):
    table = records_table(*run_records(recorded_run))
    got, layers = price_design_points(table, "mx-systolic-32", dataflow, DESIGN, per_layer=True)
    assert layers is not None
    for i in range(len(DESIGN["rows"])):
        acc = hwsim.accelerator("mx-systolic-32", dataflow=dataflow, **{k: v[i].item() for k, v in DESIGN.items()})
        rep = reprice(recorded_run, acc)
        assert int(got["cycles"][i]) == rep.cycles
        assert int(got["macs"][i]) == rep.macs
        assert got["energy_pj"][i] == pytest.approx(rep.energy_pj, rel=1e-12)
        for part, value in rep.energy_breakdown_pj.items():
            assert got[f"energy_{part}_pj"][i] == pytest.approx(value, rel=1e-12)
        assert got["dram_bytes"][i] == pytest.approx(rep.bytes_moved, rel=1e-12)
        assert got["area_um2"][i] == rep.area_um2
        assert got["latency_s"][i] == pytest.approx(rep.latency_s, rel=1e-15)
        assert got["utilization"][i] == pytest.approx(rep.utilization, rel=1e-12)
        assert got["energy_quantized_pj"][i] == pytest.approx(rep.energy_split_pj["quantized"], rel=1e-12)
        quantized = (rep.layers["precision"] == "quantized").to_numpy()
        assert int(got["cycles_quantized"][i]) == int(rep.layers["cycles_total"][quantized].sum())
        # per-layer rows are the report's rows
        assert layers["cycles"][i].tolist() == rep.layers["cycles_total"].tolist()


@pytest.mark.parametrize("workload", ["bert-base", "resnet50"])
def test_workload_totals_equal_accelerator_run(workload):
    a, w = hwsim.format("mxfp8_e4m3"), hwsim.format("mxfp4")
    table = workload_table(hwsim.arch.workload(workload), a, w)
    got, _ = price_design_points(table, "mx-systolic-32", "os", DESIGN)
    for i in range(len(DESIGN["rows"])):
        acc = hwsim.accelerator("mx-systolic-32", dataflow="os", **{k: v[i].item() for k, v in DESIGN.items()})
        df = acc.run(workload, a, w)
        assert int(got["cycles"][i]) == int(df["total_cycles"].sum())
        assert got["energy_pj"][i] == pytest.approx(float(df["total_energy_pj"].sum()), rel=1e-12)
        assert got["area_um2"][i] == pytest.approx(float(acc.area_um2(a, w)), rel=1e-15)


def test_kv_cache_format_prices_the_attention_layers():
    a, w, kv = hwsim.format("mxfp8_e4m3"), hwsim.format("mxfp4"), hwsim.format("fp16")
    wl = hwsim.arch.workload("bert-base")
    got, _ = price_design_points(workload_table(wl, a, w, kv), "mx-systolic-32", None, {})
    df = hwsim.accelerator("mx-systolic-32").run(wl, a, w, kv_format=kv)
    assert int(got["cycles"][0]) == int(df["total_cycles"].sum())
    assert got["energy_pj"][0] == pytest.approx(float(df["total_energy_pj"].sum()), rel=1e-12)
    plain, _ = price_design_points(workload_table(wl, a, w), "mx-systolic-32", None, {})
    assert plain["energy_pj"][0] != got["energy_pj"][0]
