"""ms per ``quantize`` call of the numba codec for the cases a training step hits (issue 14).

Each case runs at ONE numba and torch thread on a float32 CPU torch tensor (default [512, 256],
``torch.randn``, seed 0), along axis -1 (and -2 where listed), the median of ``--repeat`` timed
loops. The cases: RNE MX formats (the fast paths' yardstick), stochastic rounding, amax-scaled
FP4 with an fp32 tensor scale (NVFP4, E2M1 with UE5M3 scales), and non-saturating plain casts.

``--base REV`` also times the same cases on the code of git revision REV (its ``hwsim`` package
exported to a temporary directory and run in a subprocess), so old and new paths are measured in
one run on the same machine; the table then shows both and their ratio.

Usage: python benchmarks/bench_codec_paths.py [--base main] [--shape 512,256] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: (label, catalog name, replace() overrides, axis)
CASES: list[tuple[str, str, dict, int]] = [
    ("mxfp4 RNE", "mxfp4", {}, -1),
    ("mxfp8_e4m3 RNE", "mxfp8_e4m3", {}, -1),
    ("mxfp4 SR", "mxfp4", {"rounding": "stochastic", "seed": 1}, -1),
    ("mxfp8_e4m3 SR", "mxfp8_e4m3", {"rounding": "stochastic", "seed": 1}, -1),
    ("mxfp4 SR axis -2", "mxfp4", {"rounding": "stochastic", "seed": 1}, -2),
    ("nvfp4+ts RNE", "nvfp4", {"tensor_scale": True}, -1),
    ("nvfp4+ts SR", "nvfp4", {"tensor_scale": True, "rounding": "stochastic", "seed": 1}, -1),
    ("mxfp4_ue5m3+ts RNE", "mxfp4_ue5m3", {"tensor_scale": True}, -1),
    ("mxfp4_ue5m3+ts SR", "mxfp4_ue5m3", {"tensor_scale": True, "rounding": "stochastic", "seed": 1}, -1),
    ("bf16", "bf16", {}, -1),
    ("fp16", "fp16", {}, -1),
    ("mxfp4 RNE axis -2", "mxfp4", {}, -2),
]


def measure(shape: tuple[int, ...], repeat: int) -> dict[str, float]:
    """label -> median ms per call on the hwsim importable now."""
    import numba
    import torch

    import hwsim

    numba.set_num_threads(1)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.randn(*shape)
    out = {}
    for label, name, over, axis in CASES:
        fmt = hwsim.format(name).replace(**over) if over else hwsim.format(name)
        fmt.quantize(x, axis=axis)  # compile / warm up
        n = max(1, int(0.2 / max(_once(fmt, x, axis), 1e-6)))
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(n):
                fmt.quantize(x, axis=axis)
            times.append((time.perf_counter() - t0) / n * 1e3)
        out[label] = statistics.median(times)
    return out


def _once(fmt, x, axis) -> float:
    t0 = time.perf_counter()
    fmt.quantize(x, axis=axis)
    return time.perf_counter() - t0


def measure_at(rev: str, shape: tuple[int, ...], repeat: int) -> dict[str, float]:
    """The same cases on git revision ``rev``'s hwsim, in a subprocess."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", rev, "hwsim", "formats"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        env = dict(os.environ, PYTHONPATH=tmp)
        res = subprocess.run([sys.executable, __file__, "--json", "--shape", ",".join(map(str, shape)),
                              "--repeat", str(repeat)], env=env, check=True, capture_output=True, text=True,
                             cwd=tmp)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", default="512,256")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--base", default=None, help="git revision to time as the old path")
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    shape = tuple(int(s) for s in args.shape.split(","))
    if args.json:
        print(json.dumps(measure(shape, args.repeat)))
        return
    old = measure_at(args.base, shape, args.repeat) if args.base else None
    new = measure(shape, args.repeat)
    print(f"quantize of a float32 {list(shape)} torch tensor, 1 thread, ms per call")
    head = f"{'case':24s} {'new':>8s}"
    if old:
        head += f" {args.base:>10s} {'speed-up':>9s}"
    print(head)
    for label, *_ in CASES:
        line = f"{label:24s} {new[label]:8.3f}"
        if old:
            line += f" {old[label]:10.3f} {old[label] / new[label]:8.1f}x"
        print(line)


if __name__ == "__main__":
    main()
