"""Encode time of the outlier / mixture / low-bit formats on a 4096x4096 weight (issue #5).

For every format: the time of ``fmt.encode(W, axis=-1)`` (searches included: ANT/OliVe clipping
and type search, BitMoD per-group datatype selection, LLM-FP4 bias search, ShiftAddLLM
alternation) and the NMSE it reaches on the same N(0,1) weight, next to the official PyTorch
implementations run on the CPU in the same process where they can run there:

- BitMoD (abdelfattah-lab/BitMoD-HPCA-25 ``bitmod_quant/quant_utils/quant_weight.py``:
  ``search_datatype`` mixed_bitmod 4/3-bit, ``quant_int_asym``, ``quant_datatype`` fp4) if
  ``BITMOD_PATH`` points at a checkout; it is plain torch (fp16 math, as in their code).
- ANT / OliVe (clevercool/ANT-Quantization ``olive_quantization/antquant/quant_modules.py``
  ``Quantizer`` in mode ``ant-int-flint``) if ``ANT_PATH`` points at a checkout. Their nearest-grid
  step is a CUDA extension (``quant_cuda``); here it is replaced by a CPU torch function with the
  same semantics (per element, the last grid entry at the smallest |x - g|: the kernel's ``<=``
  loop), so the timing is their search on the CPU, not their GPU kernel.

Neither repository is on PyPI; get them with ``git clone`` (paths above). hwsim runs its numba
kernels on all cores; torch gets the same thread count.

Usage: python benchmarks/bench_lowbit.py [--rows 4096] [--cols 4096] [--formats a,b] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import types
from pathlib import Path

import numpy as np

import hwsim

FORMATS = ["int4_g128", "int4_asym_g128", "fp4_g128", "bitmod4", "bitmod3", "ant4", "flint4", "pot4",
           "olive4", "olive8", "ternary", "denseshift4", "shiftadd3", "llmfp4_e2m1", "mxfp4_ue5m3"]


def nmse(w: np.ndarray, q: np.ndarray) -> float:
    w64 = w.astype(np.float64)
    return float(np.sum((w64 - np.asarray(q, np.float64)) ** 2) / np.sum(w64 ** 2))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def bitmod_official(w: np.ndarray) -> list[tuple[str, str, float, float]]:
    root = os.environ.get("BITMOD_PATH")
    if not root:
        return []
    import torch

    qw = _load_module(Path(root) / "bitmod_quant/quant_utils/quant_weight.py", "bitmod_quant_weight")
    wt = torch.from_numpy(w).half()  # their functions take fp16 weights (w_fp16)
    runs = [("bitmod4", lambda: qw.search_datatype(wt, 4, "mixed_bitmod", 128)),
            ("bitmod3", lambda: qw.search_datatype(wt, 3, "mixed_bitmod", 128)),
            ("int4_asym_g128", lambda: qw.quant_int_asym(wt, 4, 128)),
            ("fp4_g128", lambda: qw.quant_datatype(wt, 4, "fp4", 128))]
    out = []
    for name, fn in runs:
        secs, q = timed(fn)
        out.append((name, "BitMoD official (torch CPU, fp16)", secs, nmse(w, q.float().numpy())))
    return out


def _quant_cuda_cpu():
    """CPU stand-in for ANT's ``quant_cuda.quant(x, grid)``: nearest grid value, ties to the last
    entry (the CUDA kernel's ``if (sub_v <= sub_min)`` loop), float32 math; chunked for memory."""
    import torch

    def quant(x, grid):
        out = torch.empty_like(x)
        g = grid.flip(0)
        for i in range(0, x.numel(), 1 << 20):
            xs = x[i:i + (1 << 20)]
            idx = (xs[:, None] - g[None, :]).abs().argmin(dim=1)  # first min of the flipped grid
            out[i:i + (1 << 20)] = g[idx]
        return out, out

    mod = types.ModuleType("quant_cuda")
    mod.__dict__["quant"] = quant
    return mod


def olive_official(w: np.ndarray) -> list[tuple[str, str, float, float]]:
    root = os.environ.get("ANT_PATH")
    if not root:
        return []
    import torch

    sys.modules.setdefault("quant_cuda", _quant_cuda_cpu())
    qm = _load_module(Path(root) / "olive_quantization/antquant/quant_modules.py", "olive_quant_modules")
    args = types.SimpleNamespace(w_up=250, a_up=250, w_low=75, a_low=75, percent=100, search=True,
                                 no_outlier=False)
    wt = torch.from_numpy(w)
    out = []
    for bits, name in ((4, "olive4"),):
        q = qm.Quantizer(mode="ant-int-flint", bit=bits, is_signed=True, is_enable=True, args=args)
        q.name = "bench"
        t0 = time.perf_counter()
        q._init_quant_para(wt, None)  # type search + per-channel clipping search, as their layers do
        qt = q._forward(wt)
        secs = time.perf_counter() - t0
        out.append((name, f"OliVe official search (torch CPU, quant_cuda shim), {q.mode}", secs,
                    nmse(w, qt.numpy())))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--rows", type=int, default=4096)
    p.add_argument("--cols", type=int, default=4096)
    p.add_argument("--formats", default=",".join(FORMATS))
    p.add_argument("--csv")
    args = p.parse_args(argv)
    import torch

    threads = int(os.environ.get("NUMBA_NUM_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    w = np.random.default_rng(0).standard_normal((args.rows, args.cols)).astype(np.float32)
    rows = []
    names = [n for n in args.formats.split(",") if n]
    known = set(hwsim.formats())
    for name in names:
        if name not in known:
            print(f"{name:16s} (not in the catalog: skipped)")
            continue
        fmt = hwsim.format(name)
        fmt.encode(w[:64, :256])  # compile the kernels outside the timing
        secs, enc = timed(lambda fmt=fmt: fmt.encode(w, axis=-1))
        q = fmt.decode(enc)
        rows.append((name, "hwsim", secs, nmse(w, q)))
        print(f"{name:16s} hwsim {secs:8.2f} s  NMSE {rows[-1][3]:.5f}  ({fmt.bits_per_element:g} bits/el)",
              flush=True)
    for name, impl, secs, err in bitmod_official(w) + olive_official(w):
        rows.append((name, impl, secs, err))
        ours = next((r for r in rows if r[0] == name and r[1] == "hwsim"), None)
        ratio = f"  official / hwsim time = {secs / ours[2]:.2f}" if ours and ours[2] > 0 else ""
        print(f"{name:16s} {impl}: {secs:8.2f} s  NMSE {err:.5f}{ratio}", flush=True)
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows, columns=["format", "implementation", "encode_s", "nmse"]).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    print(f"\n{args.rows}x{args.cols} float32 N(0,1), encode along the last axis, {threads} threads")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
