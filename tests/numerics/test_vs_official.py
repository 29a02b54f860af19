"""The mixture/outlier formats next to the papers' official PyTorch code (opt-in).

Neither repository is on PyPI; point the environment at checkouts to run these:
``BITMOD_PATH`` = abdelfattah-lab/BitMoD-HPCA-25 (``bitmod_quant/quant_utils/quant_weight.py``),
``ANT_PATH`` = clevercool/ANT-Quantization (``olive_quantization/antquant/quant_modules.py``; its
CUDA nearest-grid kernel is replaced by a CPU function with the kernel's tie rule, as in
``benchmarks/bench_lowbit.py``).

The official code computes in fp16 (BitMoD) or float32 on the GPU (OliVe); hwsim's contract is
fp32 scales and float64 ``x / s`` (docs/numerics.md), so elements may differ where the two
arithmetics round a value near a decision point differently. The checks: the same chosen
datatypes, nearly every element identical, and the same NMSE to 0.5 %.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import hwsim

torch = pytest.importorskip("torch")

BITMOD = os.environ.get("BITMOD_PATH")
ANT = os.environ.get("ANT_PATH")


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _nmse(w, q):
    w64 = np.asarray(w, np.float64)
    return float(np.sum((w64 - np.asarray(q, np.float64)) ** 2) / np.sum(w64 ** 2))


def _weights(shape, seed):
    # fp16-representable, so that both sides start from the same numbers
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float16).astype(np.float32)


@pytest.mark.skipif(not BITMOD, reason="set BITMOD_PATH to a checkout of abdelfattah-lab/BitMoD-HPCA-25")
@pytest.mark.parametrize("bits,name", [(4, "bitmod4"), (3, "bitmod3")])
def test_bitmod_search_datatype_matches_official(bits, name):
    qw = _load(Path(BITMOD) / "bitmod_quant/quant_utils/quant_weight.py", "bitmod_quant_weight")
    w = _weights((128, 1024), 7)
    ref = qw.search_datatype(torch.from_numpy(w).half(), bits, "mixed_bitmod", 128).float().numpy()
    fmt = hwsim.format(name, scale_storage="fp32", scale_bits=16)  # the official code keeps fp16 scales
    ours = fmt.quantize(w)
    same = np.isclose(ours, ref, rtol=2e-3, atol=0)
    assert same.mean() > 0.995, f"{1 - same.mean():.4%} of elements differ"
    assert _nmse(w, ours) == pytest.approx(_nmse(w, ref), rel=5e-3)


@pytest.mark.skipif(not BITMOD, reason="set BITMOD_PATH to a checkout of abdelfattah-lab/BitMoD-HPCA-25")
def test_int_asym_matches_official():
    qw = _load(Path(BITMOD) / "bitmod_quant/quant_utils/quant_weight.py", "bitmod_quant_weight")
    w = _weights((128, 1024), 8)
    ref = qw.quant_int_asym(torch.from_numpy(w).half(), 4, 128).float().numpy()
    # the official code's fp16 guard (scale clamped to [1e-5, 1e4]) is hwsim's named variant
    ours = hwsim.format("int4_asym_g128_fp16guard").quantize(w)
    assert np.isclose(ours, ref, rtol=2e-3, atol=1e-6).mean() > 0.995
    assert _nmse(w, ours) == pytest.approx(_nmse(w, ref), rel=5e-3)


def _quant_cuda_cpu():
    def quant(x, grid):
        g = grid.flip(0)  # the kernel keeps the LAST grid entry at the smallest distance
        idx = (x[:, None] - g[None, :]).abs().argmin(dim=1)
        return g[idx], g[idx]

    return types.SimpleNamespace(quant=quant)


@pytest.mark.skipif(not ANT, reason="set ANT_PATH to a checkout of clevercool/ANT-Quantization")
def test_olive4_matches_official_search():
    sys.modules.setdefault("quant_cuda", _quant_cuda_cpu())
    qm = _load(Path(ANT) / "olive_quantization/antquant/quant_modules.py", "olive_quant_modules")
    args = types.SimpleNamespace(w_up=250, a_up=250, w_low=75, a_low=75, percent=100, search=True,
                                 no_outlier=False)
    w = np.random.default_rng(9).standard_normal((48, 256)).astype(np.float32)
    w[::7, 5] *= 12  # planted outliers
    q = qm.Quantizer(mode="ant-int-flint", bit=4, is_signed=True, is_enable=True, args=args)
    q.name = "test"
    q._init_quant_para(torch.from_numpy(w), None)
    ref = q._forward(torch.from_numpy(w)).numpy()
    enc = hwsim.format("olive4").encode(w)
    ours = hwsim.format("olive4").decode(enc)
    assert enc.meta["types"][int(np.asarray(enc.meta["selector"]).reshape(-1)[0])].startswith(q.mode)
    assert np.isclose(ours, ref, rtol=1e-5, atol=1e-7).mean() > 0.995
    assert _nmse(w, ours) == pytest.approx(_nmse(w, ref), rel=5e-3)
