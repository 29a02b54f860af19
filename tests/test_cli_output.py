"""CLI output (issue 17 items 8, 10, 12): per-subcommand help, no internal references in the
top-level help, whole format names, workload units in the column names, workloads from a
model config, `run` summary first and `--quiet`."""

from __future__ import annotations

import csv
import json

import pytest

from hwsim.cli import main


def _help(argv: list[str], capsys) -> str:
    assert main([*argv, "--help"]) == 0  # main returns argparse's exit code (issue 10: no SystemExit)
    return capsys.readouterr().out


def test_formats_compare_has_its_own_help(capsys):
    text = _help(["formats", "compare"], capsys)
    assert text.startswith("usage: hwsim formats compare")
    assert "--formats" in text and "clamped" in text
    assert "--all" not in text  # `show`'s option belongs to `show`
    assert "--all" in _help(["formats", "show"], capsys)


def test_top_level_help_is_for_users(capsys):
    text = _help([], capsys)
    assert "STYLE" not in text and "P10" not in text
    assert "cost" in text and "workload" in text


def test_formats_prints_long_names_whole(capsys):
    assert main(["formats"]) == 0
    text = capsys.readouterr().out
    for name in ("mxfp4_ue5m3", "fp4_ue5m3_b16", "olive4_tensor", "int4_asym_g128"):
        assert f" {name} " in text
    assert "…" not in text.split("\n")[2]  # header row: no column name cut


def test_workload_columns_carry_units(tmp_path, capsys):
    out = tmp_path / "w.csv"
    assert main(["workload", "bert-base", "--accelerator", "mx-systolic-32", "--csv", str(out)]) == 0
    row = next(csv.DictReader(out.open()))
    for key in ("cycles_per_call", "energy_pj_per_call", "cycles_total", "energy_pj_total"):
        assert key in row
    assert "energy_pj" not in row and "total_cycles" not in row
    assert float(row["energy_pj_total"]) == pytest.approx(float(row["energy_pj_per_call"]) * int(row["count"]))
    text = capsys.readouterr().out
    assert text.index("total") < text.index("qkv")  # summary before the table


def test_workload_from_a_config_file(tmp_path, capsys):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "llama", "hidden_size": 32, "num_attention_heads": 4,
                               "num_key_value_heads": 2, "intermediate_size": 48, "num_hidden_layers": 1,
                               "vocab_size": 64}))
    out = tmp_path / "w.csv"
    assert main(["workload", str(cfg), "--accelerator", "mx-systolic-32", "--seq", "5", "--batch", "3",
                 "--csv", str(out)]) == 0
    rows = {r["layer"]: r for r in csv.DictReader(out.open())}
    assert len(rows) == 10
    qk = rows["model.layers.0.self_attn.qk"]
    assert (int(qk["m"]), int(qk["k"]), int(qk["n"]), int(qk["count"])) == (5, 8, 5, 12)
    assert int(rows["lm_head"]["m"]) == 15


def test_workload_errors(capsys):
    assert main(["workload", "no-such-model", "--accelerator", "mx-systolic-32"]) == 2
    assert "Known models" in capsys.readouterr().err


def test_cost_rejects_a_file_without_operands(tmp_path, capsys):
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps({"model": "x", "layers": []}))
    assert main(["cost", str(bad), "--accelerator", "tpu-v1-like"]) == 2
    assert "operands" in capsys.readouterr().err


def test_run_prints_summary_first_and_quiet(capsys):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    argv = ["run", "--model", "digits-mlp", "--weights", "mxfp4", "--activations", "mxfp8_e4m3"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.index("fp32 baseline") < text.index("per-layer cost")
    assert "energy of quantized GEMMs" in text and "kept fp32" in text
    assert main([*argv, "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert "fp32 baseline" in quiet and "per-layer cost" not in quiet
