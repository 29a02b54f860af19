"""`hwsim train`: one recipe, a comparison with its files, and bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hwsim.cli import main


def test_compare_writes_curves_summary_costs_plot(tmp_path: Path, capsys) -> None:
    rc = main(["train", "--model", "digits-mlp", "--compare", "fp32,mxfp4-sr", "--steps", "4", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "mxfp4-sr" in out and "energy_step_uj" in out
    summary = pd.read_csv(tmp_path / "digits-mlp_summary.csv")
    assert list(summary["recipe"]) == ["fp32", "mxfp4-sr"] and summary["gap_to_fp32"][0] == 0
    curves = pd.read_csv(tmp_path / "digits-mlp_curves.csv")
    assert len(curves) == 8
    costs = pd.read_csv(tmp_path / "digits-mlp_step_cost.csv")
    assert set(costs["role"]) == {"forward", "dgrad", "wgrad"}
    assert (tmp_path / "digits-mlp_loss.png").stat().st_size > 1000


def test_single_recipe_and_errors(capsys) -> None:
    assert main(["train", "--model", "digits-cnn", "--recipe", "dfp16", "--steps", "2"]) == 0
    assert main(["train", "--model", "digits-mlp", "--recipe", "nope"]) == 2
    assert "unknown recipe 'nope'" in capsys.readouterr().err
    assert main(["train", "--model", "resnet", "--recipe", "fp32"]) == 2


def test_accumulate_and_batch_size_options(capsys, monkeypatch) -> None:
    """--accumulate and --batch-size reach the training loop (spied), bad values exit 2."""
    import hwsim.train.loop as loop

    seen: dict = {}
    real = loop.train

    def spy(model, recipe_name, **kw):
        seen.update(kw, tokens=model.tokens_per_step)
        return real(model, recipe_name, **kw)

    monkeypatch.setattr(loop, "train", spy)
    assert main(["train", "--model", "digits-mlp", "--recipe", "mxfp8", "--steps", "2", "--batch-size", "16",
                 "--accumulate", "float64"]) == 0
    assert seen["accumulate"] == "float64" and seen["tokens"] == 16
    assert main(["train", "--model", "digits-mlp", "--recipe", "fp32", "--accumulate", "fp16"]) == 2
    assert "invalid choice: 'fp16'" in capsys.readouterr().err
