"""Tables and the loss-curve plot of training runs (plain data in, DataFrames and a PNG out).

- :func:`summary`: one row per recipe: final train loss (mean of the last 10% of the steps),
  final validation loss and its gap to the ``fp32`` run when there is one, DFP overflows, seconds
  per step, and the step cost on an accelerator (:mod:`hwsim.train.cost`: energy per step and per
  token, the forward/dgrad/wgrad shares);
- :func:`curves`: every run's loss per step, stacked;
- :func:`step_costs`: the per-GEMM cost table of every run;
- :func:`plot_curves`: training loss (smoothed) and validation loss per recipe (matplotlib's
  object API with the Agg canvas: no global backend is chosen here).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hwsim.train.cost import DEFAULT_ACCELERATOR, cost_summary, step_cost
from hwsim.train.loop import TrainResult

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["summary", "curves", "step_costs", "plot_curves"]


def _tail_mean(values: Sequence[float]) -> float:
    n = max(1, len(values) // 10)
    tail = values[-n:]
    return float(sum(tail) / len(tail))


def summary(results: Sequence[TrainResult], accelerator: Any = DEFAULT_ACCELERATOR,
            baseline: str = "fp32") -> pd.DataFrame:
    import pandas as pd

    base = next((r for r in results if r.recipe == baseline and not r.diverged), None)
    base_val = base.final_val.get("val_loss") if base is not None else None
    rows = []
    for r in results:
        val = r.final_val.get("val_loss", float("nan"))
        row: dict[str, Any] = {"model": r.model, "recipe": r.recipe, "steps": len(r.train_loss),
                               "final_train_loss": _tail_mean(r.train_loss), "final_val_loss": val,
                               "gap_to_fp32": (val - base_val) if base_val is not None else float("nan")}
        if "val_top1" in r.final_val:
            row["val_top1"] = r.final_val["val_top1"]
        if "val_before" in r.extra:  # a fine-tune: the pretrained model's loss on this datapath
            row["val_loss_before"] = r.extra["val_before"]["val_loss"]
        outputs = sum(r.outputs.values())
        row.update({"overflows": r.total_overflows,
                    "overflow_fraction": r.total_overflows / outputs if outputs else 0.0,
                    "diverged": r.diverged, "seconds_per_step": r.seconds / max(1, len(r.train_loss))})
        row.update(cost_summary(step_cost(r.gemms, accelerator), r.tokens_per_step) if r.gemms else {})
        rows.append(row)
    return pd.DataFrame(rows)


def curves(results: Sequence[TrainResult]) -> pd.DataFrame:
    import pandas as pd

    return pd.concat([r.curves() for r in results], ignore_index=True)


def step_costs(results: Sequence[TrainResult], accelerator: Any = DEFAULT_ACCELERATOR) -> pd.DataFrame:
    import pandas as pd

    frames = []
    for r in results:
        t = step_cost(r.gemms, accelerator)
        t.insert(0, "recipe", r.recipe)
        t.insert(0, "model", r.model)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def plot_curves(table: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Training loss (moving average over 5% of the steps) and validation points per recipe."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.5))
    FigureCanvasAgg(fig)
    ax_t, ax_v = fig.subplots(1, 2)
    groups = list(table.groupby("recipe", sort=False))
    finals = {r: float(df["train_loss"].to_numpy(dtype=float)[-max(1, len(df) // 10):].mean()) for r, df in groups}
    best = min(finals.values())
    # a recipe that fails (final loss > 1.5x the best) would squeeze the others: cut the axes at
    # 1.3x the best final loss above the worst recipe that did not fail, and say so in the legend
    ok = [v for v in finals.values() if v <= 1.5 * best]
    top = max(ok) + 0.3 * best if len(ok) < len(finals) else None
    for recipe, df in groups:
        window = max(1, len(df) // 20)
        smooth = df["train_loss"].rolling(window, min_periods=1).mean()
        off = top is not None and finals[recipe] > top
        label = str(recipe) + (f" (off scale: {finals[recipe]:.2f})" if off else "")
        (line,) = ax_t.plot(df["step"], smooth, label=label, lw=1.2)
        if "val_loss" in df:
            v = df.dropna(subset=["val_loss"])
            ax_v.plot(v["step"], v["val_loss"], marker="o", ms=3, color=line.get_color(), label=str(recipe))
    ax_t.set_xlabel("step")
    ax_t.set_ylabel("training loss (moving average)")
    ax_v.set_xlabel("step")
    ax_v.set_ylabel("validation loss")
    ax_t.legend(fontsize=7)
    for ax in (ax_t, ax_v):
        ax.grid(alpha=0.3)
        if top is not None:
            ax.set_ylim(top=top, bottom=0.95 * best)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
