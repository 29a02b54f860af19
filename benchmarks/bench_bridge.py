"""Simulated vs plain fp32 inference time of the bridge's real models (issue #6; target <= 2x).

For each model the same inputs run through the fp32 model and through ``hwsim.bridge.simulate``
(weights quantized once at simulate() time, not timed; every activation quantized on every
forward in one fused pass; attention QK^T / PV on quantized operands). Times are the best of
``--repeat`` runs, one torch thread by default (the machines share 2 cores), CPU, and CUDA when a
GPU is present (``--device cuda``).

  SmolLM2-135M: 4 x 128-token chunks of the Lee corpus (the CI evaluation slice), batch 1
  MiniLM-L6:    the 50 Lee documents, batches of 25

Usage: python benchmarks/bench_bridge.py [--repeat 3] [--threads 1] [--device cpu|cuda] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch

from hwsim.bridge import simulate
from hwsim.bridge.models import minilm, smollm2

VARIANTS = [("mxfp4", None), ("mxfp4", "mxfp8_e4m3"), ("mxfp8_e4m3", "mxfp8_e4m3"), ("mxfp4", "mxfp4"),
            ("nvfp4", "nvfp4"), ("int8_g32", "int8_g32")]
TARGET = 2.0


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time(fn, repeat: int, device: str) -> float:
    fn()  # warm-up (numba/torch caches, allocator)
    best = float("inf")
    for _ in range(repeat):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def _smollm2(device: str) -> tuple[Any, Callable[[Any], Callable[[], None]], dict[str, Any]]:
    model = smollm2.load().to(device)  # pyright: ignore[reportArgumentType]  (transformers types Module.to's self)
    chunks = [c.to(device) for c in smollm2.chunks("ci")]

    def make(m):
        def f():
            with torch.inference_mode():
                for c in chunks:
                    m(input_ids=c[None])
        return f
    return model, make, {"skip": ["lm_head"]}


def _minilm(device: str) -> tuple[Any, Callable[[Any], Callable[[], None]], dict[str, Any]]:
    model = minilm.load().to(device)
    tok = minilm.load_tokenizer()
    docs = minilm.data()["docs"]
    batches = [{k: v.to(device) for k, v in tok(docs[i:i + 25], padding=True, truncation=True, max_length=256,
                                                return_tensors="pt").items()} for i in range(0, len(docs), 25)]

    def make(m):
        def f():
            with torch.inference_mode():
                for b in batches:
                    m(**b)
        return f
    return model, make, {}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--csv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name, setup in (("smollm2", _smollm2), ("minilm", _minilm)):
        model, make, kw = setup(args.device)
        base = _time(make(model), args.repeat, args.device)
        rows.append((name, "fp32", "fp32", base, 1.0, 0.0))
        for w, a in VARIANTS:
            t = time.perf_counter()
            sim = simulate(model, w, a, **kw)
            build = time.perf_counter() - t
            s = _time(make(sim.model), args.repeat, args.device)
            rows.append((name, w, a or "fp32", s, s / base, build))
    print(f"device {args.device}, {args.threads} thread(s), best of {args.repeat}; target <= {TARGET:g}x fp32")
    print(f"{'model':8s} {'weights':11s} {'activations':11s} {'time_s':>8s} {'vs fp32':>8s} {'build_s':>8s}")
    for r in rows:
        flag = "" if r[4] <= TARGET else "  (over target)"
        print(f"{r[0]:8s} {r[1]:11s} {r[2]:11s} {r[3]:8.3f} {r[4]:7.2f}x {r[5]:8.2f}{flag}")
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows, columns=["model", "weights", "activations", "time_s", "ratio_vs_fp32",
                                    "simulate_build_s"]).to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
