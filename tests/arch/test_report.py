"""Tables behind `hwsim gemm` / `hwsim workload`."""

from __future__ import annotations

import hwsim.arch as arch
from hwsim.arch.report import gemm_table, workload_table


def test_gemm_table_one_row() -> None:
    df = gemm_table("tpu-v1-like", 128, 768, 3072, None, None)
    assert len(df) == 1
    for col in ("cycles", "compute_cycles", "stall_cycles", "utilization", "energy_pj", "area_um2",
                "energy_mac_pj", "energy_dram_pj", "a_format", "w_format"):
        assert col in df.columns
    assert df.at[0, "a_format"] == "int8"
    assert df["cycles"][0] == arch.accelerator("tpu-v1-like").gemm(128, 768, 3072).cycles


def test_workload_table_rows_match_layers() -> None:
    df = workload_table("bert-base", "mx-systolic-32", "mxfp8_e4m3", "mxfp4")
    wl = arch.workload("bert-base")
    assert list(df["layer"]) == [layer.name for layer in wl]
    one = arch.accelerator("mx-systolic-32").gemm(wl.layers[-1].m, wl.layers[-1].k, wl.layers[-1].n)
    assert df["energy_pj"].iloc[-1] == one.energy_pj
