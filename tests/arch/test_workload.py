"""Workloads: im2col mapping, attention matmuls, built-in layer tables."""

from __future__ import annotations

import pytest

import hwsim.arch as arch
from hwsim.arch.workload import attention, conv2d


def test_conv_im2col_by_hand() -> None:
    # ResNet conv1: 224x224x3, 7x7/2 pad 3, 64 filters -> 112x112 outputs
    layer = conv2d("c", h=224, w=224, c_in=3, c_out=64, r=7, stride=2, pad=3)
    assert (layer.m, layer.k, layer.n) == (112 * 112, 7 * 7 * 3, 64)
    # batch multiplies M; 'valid' 3x3 on 5x5 -> 3x3 outputs
    layer = conv2d("c", h=5, w=5, c_in=2, c_out=4, r=3, pad=0, batch=2)
    assert (layer.m, layer.k, layer.n) == (2 * 9, 18, 4)


def test_attention_by_hand() -> None:
    qk, pv = attention("a", seq=128, hidden=768, heads=12)
    assert (qk.m, qk.k, qk.n, qk.count) == (128, 64, 128, 12)
    assert (pv.m, pv.k, pv.n, pv.count) == (128, 128, 64, 12)


@pytest.mark.parametrize("name,gmacs,rel", [
    ("resnet18", 1.814, 0.01),  # He et al. CVPR'16 Table 1: 1.8 GFLOPs (multiply-adds)
    ("resnet50", 4.09, 0.01),  # torchvision ResNet-50 v1.5: 4.09 GMACs
    # BERT-base, seq 128: 12 x [128 x (768*2304 + 768*768 + 2*768*3072) + 12 x 2 x 128*64*128]
    ("bert-base", 12 * (128 * (768 * 2304 + 768 * 768 + 2 * 768 * 3072) + 24 * 128 * 64 * 128) / 1e9, 1e-12),
    # Llama-2-7B block, seq 512: 512 x (4096*12288 + 4096*4096 + 4096*22016 + 11008*4096)
    #   + 32 heads x 2 x 512*128*512
    ("llama-block", (512 * (4096 * 12288 + 4096 * 4096 + 4096 * 22016 + 11008 * 4096)
                     + 64 * 512 * 128 * 512) / 1e9, 1e-12),
])
def test_builtin_macs(name: str, gmacs: float, rel: float) -> None:
    assert arch.workload(name).macs / 1e9 == pytest.approx(gmacs, rel=rel)


def test_names_and_params() -> None:
    assert arch.workloads() == ["bert-base", "llama-block", "resnet18", "resnet50"]
    assert arch.workload("bert-base", seq=256).layers[0].m == 256
    assert arch.workload("resnet18", batch=4).layers[0].m == 4 * 112 * 112
    with pytest.raises(ValueError, match="unknown workload 'bert'.*Did you mean 'bert-base'"):
        arch.workload("bert")
    with pytest.raises(ValueError, match="unknown parameter"):
        arch.workload("resnet18", seq=5)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(h=0, w=5, c_in=1, c_out=1, r=3), "h must be a positive integer"),
    (dict(h=2, w=2, c_in=1, c_out=1, r=5, pad=0), "does not fit"),
])
def test_bad_layers(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        conv2d("x", **kwargs)
    with pytest.raises(ValueError, match="not divisible"):
        attention("a", seq=4, hidden=10, heads=3)
    with pytest.raises(ValueError, match="m must be a positive integer"):
        arch.gemm("g", 0, 1, 1)


def test_custom_layer_list_runs() -> None:
    df = arch.accelerator("tpu-v1-like").run([arch.gemm("g", 64, 64, 64, count=3)])
    assert list(df["layer"]) == ["g"] and df.at[0, "total_cycles"] == 3 * df.at[0, "cycles"]
