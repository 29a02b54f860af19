"""`hwsim run`: metric next to the baseline, costs, JSON/CSV, --compare with a plot, bad names."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from hwsim.cli import main  # noqa: E402


def test_run_digits_writes_json_and_csv(tmp_path, capsys):
    out, csv = tmp_path / "o.json", tmp_path / "l.csv"
    assert main(["run", "--model", "digits-mlp", "--weights", "mxfp4", "--activations", "mxfp8_e4m3",
                 "--accelerator", "mx-systolic-32", "--json", str(out), "--csv", str(csv)]) == 0
    text = capsys.readouterr().out
    assert "fp32 baseline" in text and "latency" in text and "area" in text
    data = json.loads(out.read_text())
    assert data["model"] == "digits-mlp" and data["weights"] == "mxfp4"
    assert data["metric_name"] == "top1" and data["metric"] > 0.9 and data["baseline_metric"] > 0.9
    assert [layer["name"] for layer in data["layers"]] == ["0", "2", "4"]
    assert [(layer["m"], layer["k"], layer["n"]) for layer in data["layers"]] == [(180, 64, 256), (180, 256, 256),
                                                                                   (180, 256, 10)]
    assert sum(layer["energy_pj_total"] for layer in data["layers"]) == pytest.approx(data["energy_pj_total"])
    assert csv.read_text().count("\n") == 4


def test_run_compare_writes_a_plot(tmp_path, capsys):
    plot = tmp_path / "p.png"
    assert main(["run", "--model", "digits-cnn", "--compare", "fp16,mxfp8_e4m3,mxfp4", "--plot", str(plot),
                 "--csv", str(tmp_path / "c.csv")]) == 0
    text = capsys.readouterr().out
    assert plot.stat().st_size > 10_000 and "plot:" in text
    assert (tmp_path / "c.csv").read_text().count("\n") == 4


@pytest.mark.parametrize("argv, needle", [
    (["--model", "gpt5"], "Known models"),
    (["--model", "digits-mlp", "--weights", "mxfp3"], "Known formats"),
    (["--model", "digits-mlp", "--accelerator", "tpu9"], "Known accelerators"),
])
def test_unknown_names(argv, needle, capsys):
    assert main(["run", *argv]) == 2
    assert needle in capsys.readouterr().err
