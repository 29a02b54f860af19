"""Speed of hwsim's quantize vs the anchors, on the same data in one run (issue #3).

Anchors, timed on the same 4096x4096 float32 tensor:
  - numpy copy of the array: the memory-bandwidth ceiling (one read + one write per element);
  - torchao CPU round trip: ``to_mx`` + ``to_dtype`` (MX formats, FLOOR scale = OCP), and
    ``NVFP4Tensor.to_nvfp4`` + ``dequantize`` (NVFP4), if torchao is installed (`make bench`
    installs it);
  - microxcaling's ``quantize_mx_op`` if ``MICROXCALING_PATH`` points at a checkout of
    microsoft/microxcaling (not installed by default: it is not on PyPI).
hwsim runs its numba kernels on all cores (numba's default); torch gets the same thread count.

Usage: python benchmarks/bench_formats.py [--size 4096] [--repeat 5] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
import warnings

import numpy as np

import hwsim

FORMATS = ["mxfp4", "mxfp6_e2m3", "mxfp8_e4m3", "nvfp4"]
TARGET_VS_TORCHAO = {"mxfp4": 20.0, "mxfp6_e2m3": 10.0, "mxfp8_e4m3": 2.0, "nvfp4": 10.0}
TARGET_COPY_FRACTION = 0.20


def torchao_fns(x_np: np.ndarray):
    """name -> callable running torchao's CPU quantize + dequantize round trip."""
    if importlib.util.find_spec("torchao") is None:
        return {}
    import torch

    warnings.filterwarnings("ignore")
    from torchao.prototype.mx_formats.constants import DTYPE_FP6_E2M3  # pyright: ignore[reportMissingImports]  (optional reference tool, not in the venv)
    from torchao.prototype.mx_formats.mx_tensor import to_dtype, to_mx  # pyright: ignore[reportMissingImports]  (optional reference tool, not in the venv)
    from torchao.prototype.mx_formats.nvfp4_tensor import NVFP4Tensor  # pyright: ignore[reportMissingImports]  (optional reference tool, not in the venv)

    x = torch.from_numpy(x_np)
    elem = {"mxfp4": torch.float4_e2m1fn_x2, "mxfp6_e2m3": DTYPE_FP6_E2M3,
            "mxfp8_e4m3": torch.float8_e4m3fn}

    def mx(name):
        def run():
            scale, data = to_mx(x, elem[name], 32)
            return to_dtype(data, scale, elem[name], 32, torch.float32)
        return run

    fns = {name: mx(name) for name in elem}
    fns["nvfp4"] = lambda: NVFP4Tensor.to_nvfp4(x, block_size=16).dequantize(torch.float32)
    return fns


def microxcaling_fns(x_np: np.ndarray):
    path = os.environ.get("MICROXCALING_PATH")
    if not path:
        return {}
    sys.path.insert(0, path)
    import torch
    from mx.mx_ops import quantize_mx_op  # pyright: ignore[reportMissingImports]  (optional reference tool, not in the venv)
    from mx.specs import MxSpecs  # pyright: ignore[reportMissingImports]  (optional reference tool, not in the venv)

    x = torch.from_numpy(x_np)
    elem = {"mxfp4": "fp4_e2m1", "mxfp6_e2m3": "fp6_e2m3", "mxfp8_e4m3": "fp8_e4m3"}

    def mx(name):
        specs = MxSpecs()
        specs["block_size"] = 32
        specs["round"] = "even"
        specs["custom_cuda"] = False
        return lambda: quantize_mx_op(x, specs, elem_format=elem[name], axes=[-1], round="even")

    return {name: mx(name) for name in elem}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--csv")
    args = ap.parse_args(argv)

    import numba

    threads = numba.get_num_threads()
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.size, args.size)).astype(np.float32)
    n = x.size
    tao = torchao_fns(x)
    mxc = microxcaling_fns(x)
    # every implementation is warmed up first (kernel compilation, first-touch page faults of the
    # output buffers), then timed in interleaved rounds so that a burst of load from other work on
    # the machine hits all of them alike; each keeps its best round
    fmts = {name: hwsim.format(name) for name in FORMATS}
    impls = {}
    for name in FORMATS:
        impls[("hwsim", name)] = (lambda f: lambda: f.quantize(x, axis=-1))(fmts[name])
        if name in tao:
            impls[("torchao", name)] = tao[name]
        if name in mxc:
            impls[("microxcaling", name)] = mxc[name]
    impls[("copy", "")] = lambda: x.copy()
    best = {key: float("inf") for key in impls}
    for fn in impls.values():
        fn()
    for _ in range(args.repeat):
        for key, fn in impls.items():
            t0 = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - t0)
    t_copy = best[("copy", "")]
    rows = []
    for name in FORMATS:
        t_h = best[("hwsim", name)]
        t_t = best.get(("torchao", name), float("nan"))
        t_m = best.get(("microxcaling", name), float("nan"))
        rows.append({
            "format": name,
            "hwsim_Melem_s": n / t_h / 1e6,
            "torchao_Melem_s": n / t_t / 1e6,
            "microxcaling_Melem_s": n / t_m / 1e6,
            "copy_Melem_s": n / t_copy / 1e6,
            "x_vs_torchao": t_t / t_h,
            "target_x_vs_torchao": TARGET_VS_TORCHAO[name],
            "x_vs_microxcaling": t_m / t_h,
            "fraction_of_copy": t_copy / t_h,
        })
    import pandas as pd

    df = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print(f"quantize of a {args.size}x{args.size} float32 tensor, {threads} thread(s), best of {args.repeat}")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if args.csv:
        df.to_csv(args.csv, index=False)
    ok_copy = (df["fraction_of_copy"] >= TARGET_COPY_FRACTION).all()
    ok_tao = all(r["x_vs_torchao"] >= r["target_x_vs_torchao"] for r in rows if r["x_vs_torchao"] == r["x_vs_torchao"])
    print(f"every format >= {TARGET_COPY_FRACTION:.0%} of copy: {ok_copy}; torchao ratio targets met: {ok_tao}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
