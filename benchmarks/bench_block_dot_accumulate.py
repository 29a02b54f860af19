"""Cost of ``accumulate="block_dot"`` (each Linear output as OCP MX DotGeneral, bit for bit) vs the
default accumulation (exact products summed in float64, rounded once) on SmolLM2-sized GEMMs.

One bias-free ``nn.Linear`` (weights encoded once at simulate() time, not timed) runs a forward on
an activation of M rows; the time includes quantizing / encoding the activation. Operands are
N(0,1) activations and N(0, 0.02^2) weights, and a heavy-tailed variant (a few channels 100x, as
LLM activations have) that gives E5M2 blocks wide enough for the exact fallback. Best of
``--repeat`` runs, one torch thread by default (the machines share 2 cores). For E5M2 the number of
block pairs that took the exact ``block_dot`` path is printed too.

Usage: python benchmarks/bench_block_dot_accumulate.py [--repeat 3] [--threads 1] [--device cpu|cuda]
       [--shapes 512x576x1536,512x1536x576]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn

from hwsim.bridge import block_accumulate as ba
from hwsim.bridge import simulate

FORMATS = ("mxfp4", "mxfp8_e4m3", "mxfp8_e5m2")


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _time(sim, x: torch.Tensor, repeat: int, device: str) -> float:
    """Best time of ``sim(x)`` after one warm-up call (numba / torch caches, allocator)."""
    sim(x)
    best = float("inf")
    for _ in range(repeat):
        _sync(device)
        t = time.perf_counter()
        sim(x)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--shapes", default="512x576x1536,512x1536x576", help="MxKxN,...")
    p.add_argument("--formats", default=",".join(FORMATS))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dev = args.device
    g = torch.Generator().manual_seed(0)
    print(f"device {dev}, {torch.get_num_threads()} thread(s), best of {args.repeat}")
    print(f"{'format':<12}{'M x K x N':>18}{'data':>8}{'default s':>11}{'block_dot s':>13}{'ratio':>8}"
          f"{'exact pairs':>14}")
    for shape in args.shapes.split(","):
        M, K, N = (int(v) for v in shape.split("x"))
        lin = nn.Linear(K, N, bias=False)
        with torch.no_grad():
            lin.weight.copy_(torch.randn(N, K, generator=g) * 0.02)
        lin = lin.to(dev)
        x = torch.randn(M, K, generator=g)
        heavy = x.clone()
        heavy[:, torch.randperm(K, generator=g)[: max(1, K // 100)]] *= 100.0
        for name in args.formats.split(","):
            default = simulate(lin, name, name)
            bdot = simulate(lin, name, name, accumulate="block_dot")
            for label, xin in (("normal", x.to(dev)), ("heavy", heavy.to(dev))):
                with torch.inference_mode():
                    t0 = _time(default, xin, args.repeat, dev)
                    pairs = []
                    exact = ba._exact_pairs

                    def counted(*a, _exact=exact, _pairs=pairs):
                        out = _exact(*a)
                        _pairs.append(len(out))
                        return out

                    ba._exact_pairs = counted
                    try:
                        t1 = _time(bdot, xin, args.repeat, dev)
                    finally:
                        ba._exact_pairs = exact
                runs = args.repeat + 1
                n_exact = sum(pairs) // runs
                total = M * N * -(-K // default.model.gemm.weights.block_size)
                print(f"{name:<12}{shape:>18}{label:>8}{t0:>11.3f}{t1:>13.3f}{t1 / t0:>7.1f}x"
                      f"{n_exact:>8} / {total}")


if __name__ == "__main__":
    main()
