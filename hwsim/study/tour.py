"""The format tour: QSNR of every core-family catalog format (element + scaling) on the same data, and its plot.

QSNR (quantization signal-to-noise ratio, dB) = 10 log10(sum x^2 / sum (x - q(x))^2), the figure
of merit of the MX paper (Rouhani et al., arXiv 2310.10537, §6) and of the BitMoD/ANT studies.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from hwsim.catalog import core_formats
from hwsim.numerics.format import Format
from hwsim.study.names import DISTRIBUTIONS

__all__ = ["qsnr_db", "format_tour", "plot_tour", "DISTRIBUTIONS"]



def qsnr_db(x: np.ndarray, q: np.ndarray) -> float:
    """10 log10(||x||^2 / ||x - q||^2); +inf for an exact representation."""
    x64 = np.asarray(x, dtype=np.float64)
    err = float(np.sum((x64 - np.asarray(q, dtype=np.float64)) ** 2))
    sig = float(np.sum(x64 ** 2))
    return math.inf if err == 0.0 else 10.0 * math.log10(sig / err)


def sample(distribution: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """float32 test data: ``gaussian`` N(0,1), ``laplace`` (heavier tails), ``student-t`` (nu=3,
    outliers like LLM activations)."""
    rng = np.random.default_rng(seed)
    if distribution == "gaussian":
        x = rng.standard_normal(shape)
    elif distribution == "laplace":
        x = rng.laplace(size=shape)
    elif distribution == "student-t":
        x = rng.standard_t(3, size=shape)
    else:
        from hwsim.errors import HwsimError, unknown_name

        raise HwsimError(unknown_name("distribution", distribution, DISTRIBUTIONS))
    return x.astype(np.float32)


def format_tour(formats: list[Format] | None = None, distribution: str = "gaussian",
                shape: tuple[int, int] = (1024, 1024), seed: int = 0) -> pd.DataFrame:
    """One row per format: bits/element, block, scale, max, smallest subnormal, QSNR (dB).

    Plain casts on unit scale see the data as it is (no scaling), exactly as a user gets them.
    """
    x = sample(distribution, shape, seed)
    rows = []
    for fmt in formats if formats is not None else core_formats():
        q = fmt.quantize(x, axis=-1)
        rows.append({
            "format": fmt.name,
            "bits_per_element": fmt.bits_per_element,
            "element": fmt.element.describe(),
            "block": fmt.block_size if fmt.block_size else ("axis" if fmt.block_size == 0 else "-"),
            "scale": _scale_name(fmt),
            "max": fmt.max,
            "smallest_subnormal": fmt.smallest_subnormal,
            "dynamic_range_binades": math.log2(fmt.max / fmt.smallest_subnormal),
            f"qsnr_db_{distribution}": qsnr_db(x, q),
        })
    return pd.DataFrame(rows)


def _scale_name(fmt: Format) -> str:
    parts = []
    if fmt.scale_rule is not None:
        parts.append("E8M0 pow2" if fmt.scale_rule.value == "pow2" else
                     f"amax->{_short(fmt.scale_element)}")
    if fmt.tensor_scale:
        parts.append("fp32 tensor")
    return " + ".join(parts) if parts else "-"


def _short(el) -> str:
    return "fp32" if el.bits == 32 else f"E{el.exp_bits}M{el.man_bits}"


def plot_tour(table: pd.DataFrame, path: Path, title: str = "") -> Path:
    """QSNR vs bits per element (each format's front named where a label fits, never over
    another label, point or line) from a :func:`format_tour` table: the study plot
    :func:`hwsim.study.plots.qsnr_figure` on the tour's rows."""
    from hwsim.study.plots import qsnr_figure

    qcol = next(c for c in table.columns if c.startswith("qsnr_db"))
    finite = np.isfinite(table[qcol].to_numpy(np.float64))
    points = pd.DataFrame({"weights": table.loc[finite, "format"].astype(str),
                           "data": qcol.removeprefix("qsnr_db_"),
                           "qsnr_db": table.loc[finite, qcol].to_numpy(np.float64),
                           "w_bits_per_element": table.loc[finite, "bits_per_element"].to_numpy(np.float64),
                           "status": "ok"})
    fig = qsnr_figure(points)
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=11)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
