"""Re-pricing a saved run (issue 17 item 8): ``hwsim cost run.json --accelerator ...`` equals the
cost a real run on that accelerator records; ``run --compare --accelerator a,b`` prices every
format on every accelerator in one table and one plot; the report splits quantized-GEMM and
kept-fp32 energy (item 9) with units in every key (item 10)."""

from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

import hwsim  # noqa: E402
from hwsim.bridge.evaluate import run  # noqa: E402
from hwsim.cli import main  # noqa: E402
from hwsim.study.reprice import reprice  # noqa: E402

QUANT = ("energy_pj", "cycles", "macs", "bytes_moved")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    import torch

    torch.set_num_threads(1)


def _same_costs(got: dict, want: dict) -> None:
    assert got["accelerator"] == want["accelerator"]
    for key in ("cycles_total", "energy_pj_total", "energy_quantized_pj_total", "energy_fp32_pj_total",
                "area_um2", "macs_total", "bytes_moved_total", "latency_s", "utilization"):
        assert got[key] == pytest.approx(want[key], rel=1e-12), key
    assert len(got["layers"]) == len(want["layers"])
    for g, w in zip(got["layers"], want["layers"], strict=True):
        assert g["name"] == w["name"] and g["count"] == w["count"]
        for q in QUANT:
            assert g[f"{q}_total"] == pytest.approx(w[f"{q}_total"], rel=1e-12)
            assert g[f"{q}_per_call"] == pytest.approx(w[f"{q}_per_call"], rel=1e-12)
    assert got["metric"] == want["metric"]


def test_cost_cli_equals_a_real_run(tmp_path, capsys):
    recorded, real_tpu, out = tmp_path / "mx.json", tmp_path / "tpu.json", tmp_path / "re.json"
    base = ["run", "--model", "digits-mlp", "--weights", "nvfp4", "--activations", "mxfp8_e4m3", "--quiet"]
    assert main([*base, "--accelerator", "mx-systolic-32", "--json", str(recorded)]) == 0
    assert main([*base, "--accelerator", "tpu-v1-like", "--json", str(real_tpu)]) == 0
    capsys.readouterr()
    assert main(["cost", str(recorded), "--accelerator", "tpu-v1-like,mx-systolic-32", "--json", str(out),
                 "--csv", str(tmp_path / "c.csv")]) == 0
    text = capsys.readouterr().out
    assert "re-priced 1 run(s)" in text and "no model run" in text
    repriced = json.loads(out.read_text())
    _same_costs(repriced[0], json.loads(real_tpu.read_text()))
    _same_costs(repriced[1], json.loads(recorded.read_text()))  # same accelerator: unchanged
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    assert [r["accelerator"] for r in rows] == ["tpu-v1-like", "mx-systolic-32"]


def test_reprice_uses_the_recorded_operand_when_the_name_lies():
    """A run with an overridden format under a catalog name (mxfp4 with 16-element blocks) is
    re-priced on the recorded description, not on the catalog's mxfp4."""
    w = hwsim.format("mxfp4", block_size=16)
    rep = run("digits-mlp", w, "mxfp8_e4m3", "mx-systolic-32")
    data = rep.as_dict()
    assert data["operands"]["mxfp4"]["scales"][0]["group_size"] == 16
    acc = hwsim.accelerator("tpu-v1-like")
    real = run("digits-mlp", w, "mxfp8_e4m3", acc).as_dict()
    _same_costs(reprice(data, acc).as_dict(), real)
    cat = run("digits-mlp", "mxfp4", "mxfp8_e4m3", acc).as_dict()
    assert cat["energy_pj_total"] != pytest.approx(real["energy_pj_total"], rel=1e-9)


def test_kept_fp32_energy_is_reported_apart():
    """--no-default-skip off / skip patterns: a layer kept fp32 is counted in energy_fp32_pj_total."""
    rep = run("digits-mlp", "mxfp4", "mxfp8_e4m3", "mx-systolic-32", skip=["4"])
    d = rep.as_dict()
    fp32_rows = [layer for layer in d["layers"] if layer["precision"] == "fp32"]
    assert [layer["name"] for layer in fp32_rows] == ["4"]
    assert fp32_rows[0]["a_format"] == fp32_rows[0]["w_format"] == "fp32"
    assert d["energy_fp32_pj_total"] == pytest.approx(fp32_rows[0]["energy_pj_total"], rel=1e-12)
    assert d["energy_quantized_pj_total"] + d["energy_fp32_pj_total"] == pytest.approx(d["energy_pj_total"],
                                                                                       rel=1e-12)
    assert d["energy_pj_per_token"] is None  # digits counts images, not tokens
    # no key without its unit: totals say _total, per-call values say _per_call
    assert "energy_pj" not in d and "cycles" not in d
    assert all("energy_pj" not in layer and "cycles" not in layer for layer in d["layers"])


def test_run_compare_on_two_accelerators(tmp_path, capsys):
    plot, table = tmp_path / "p.png", tmp_path / "c.csv"
    assert main(["run", "--model", "digits-mlp", "--compare", "fp16,mxfp4", "--accelerator",
                 "mx-systolic-32,tpu-v1-like", "--plot", str(plot), "--csv", str(table)]) == 0
    capsys.readouterr()
    rows = list(csv.DictReader(table.open()))
    assert [(r["accelerator"], r["weights"]) for r in rows] == [
        ("mx-systolic-32", "fp16"), ("mx-systolic-32", "mxfp4"), ("tpu-v1-like", "fp16"), ("tpu-v1-like", "mxfp4")]
    for r in rows:  # accuracy does not depend on the array; top-1 agreement is in the CSV
        assert 0.0 <= float(r["top1_agreement"]) <= 1.0
        assert float(r["energy_uj_total"]) == pytest.approx(
            float(r["energy_quantized_uj_total"]) + float(r["energy_fp32_uj_total"]), rel=1e-9)
    assert rows[0]["top1"] == rows[2]["top1"] and rows[0]["energy_uj_total"] != rows[2]["energy_uj_total"]
    assert plot.stat().st_size > 10_000
