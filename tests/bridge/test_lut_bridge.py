"""``gemm="lut"`` (hwsim.bridge.lut_gemm): Linears by bit-plane table lookup on the datapath.

References: the MAC path itself (``gemm="mac"``), and the dequantized weights as the format's
decode gives them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

import hwsim
from hwsim.bridge import simulate
from hwsim.errors import HwsimError


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(128, 256, bias=False), nn.GELU(), nn.Linear(256, 64))


@pytest.mark.parametrize("weights", ["ternary", "int4", "int1_g64"])
def test_full_tables_equal_the_mac_path_where_weights_are_exact(weights):
    """Weights whose dequantized values are exact fp32 (unit / tensor / power-of-two-free cases
    checked below): the LUT run is the MAC run bit for bit (activations fp32; the bias is added in
    float32 after the LUT sum, so only a bias-free model is compared bit for bit)."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(128, 256, bias=False), nn.ReLU(), nn.Linear(256, 64, bias=False))
    x = torch.randn(3, 7, 128)
    with torch.no_grad():
        mac = simulate(model, weights, None)(x)
        lut = simulate(model, weights, None, gemm="lut")(x)
    assert lut.shape == mac.shape and lut.dtype == mac.dtype
    assert torch.equal(lut, mac)


def test_full_tables_within_weight_rounding_of_the_mac_path():
    """fp32 absmax scales: MAC multiplies fp32(s k), LUT s k exactly (scale after the sum);
    outputs agree to a few fp32 ulps."""
    model = _model()
    x = torch.randn(4, 128)
    with torch.no_grad():
        mac = simulate(model, "int4_g64", "int8_channel")(x)
        lut = simulate(model, "int4_g64", "int8_channel", gemm="lut")(x)
        lut_m = simulate(model, "int4_g64", "int8_channel", gemm="lut", lut_table="fp32")(x)
    torch.testing.assert_close(lut, mac, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(lut_m, lut, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("weights", ["int4_asym_g64", "int3_g64"])
def test_full_tables_equal_a_mac_gemm_of_the_exact_grid_weights(weights):
    """With fp32 scales times |q - z| >= 3 the MAC path multiplies fp32(s (q - z)); the LUT path is
    the MAC arithmetic (float64 products and sum, one rounding) of the exact weights s (q - z)."""
    torch.manual_seed(3)
    lin = nn.Linear(256, 48, bias=False)
    x = torch.randn(5, 256)
    sim = simulate(nn.Sequential(lin), weights, None, gemm="lut")
    with torch.no_grad():
        got = sim(x)
    layer = sim.model[0]
    bits, group = layer.lut_shape.tolist()
    s = np.repeat(layer.lut_scales.numpy(), group, axis=1)
    z = np.repeat(layer.lut_zero.numpy(), group, axis=1)
    exact_w = torch.from_numpy(s * (layer.lut_q.numpy().astype(np.float64) - z))
    want = (x.double() @ exact_w.T).float()
    assert torch.equal(got, want)
    mac = simulate(nn.Sequential(lin), weights, None)(x)
    assert not torch.equal(mac, want)  # the rounded weights do show


def test_int8_tables_cost_accuracy_but_stay_close():
    model = _model(2)
    x = torch.randn(8, 128)
    with torch.no_grad():
        full = simulate(model, "int2_asym_g64", None, gemm="lut")(x)
        q8 = simulate(model, "int2_asym_g64", None, gemm="lut", lut_table="int8")(x)
    assert not torch.equal(full, q8)
    rel = float((q8 - full).norm() / full.norm())
    assert 0 < rel < 0.02


def test_lut_layers_record_the_same_gemms():
    model = _model()
    x = torch.randn(2, 5, 128)
    mac, lut = simulate(model, "int2_g64", "mxfp8_e4m3"), simulate(model, "int2_g64", "mxfp8_e4m3", gemm="lut")
    with torch.no_grad():
        mac(x)
        lut(x)
    assert mac.records().equals(lut.records())


def test_weights_kept_as_level_codes():
    sim = simulate(_model(), "int3_asym_g64", None, gemm="lut")
    lin = sim.model[0]
    assert lin.lut_q.dtype == torch.uint8 and int(lin.lut_q.max()) <= 7
    fmt = hwsim.format("int3_asym_g64")
    w = _model()[0].weight.detach().numpy()
    deq = fmt.decode(fmt.encode(w, axis=-1))
    bits, group = lin.lut_shape.tolist()
    s = np.repeat(lin.lut_scales.numpy(), group, axis=1)
    z = np.repeat(lin.lut_zero.numpy(), group, axis=1)
    np.testing.assert_array_equal((s * (lin.lut_q.numpy() - z)).astype(np.float32), deq)


def test_errors():
    model = _model()
    with pytest.raises(HwsimError, match="gemm="):
        simulate(model, "int4_g64", None, gemm="tmac")
    with pytest.raises(HwsimError, match="lut_table"):
        simulate(model, "int4_g64", None, gemm="lut", lut_table="fp16")
    with pytest.raises(HwsimError, match="needs gemm='lut'"):
        simulate(model, "int4_g64", None, lut_table="int8")
    with pytest.raises(HwsimError, match=r"layer '0'.*mxfp4"):
        simulate(model, "mxfp4", None, gemm="lut")
    with pytest.raises(HwsimError, match="accumulate"):
        simulate(model, "int4_g64", None, gemm="lut", accumulate="fp16")
    # a skipped layer runs fp32 on the MAC path
    y = simulate(model, "int4_g64", None, gemm="lut", skip=["2"])(torch.randn(2, 128))
    assert y.shape == (2, 64)


def test_cli_runs_lut(capsys):
    pytest.importorskip("sklearn")
    from hwsim.cli import main

    assert main(["run", "--model", "digits-mlp", "--weights", "int4_g64", "--activations", "int8_channel",
                 "--gemm", "lut", "--lut-table", "int8", "--quiet"]) == 0
    assert "int4_g64" in capsys.readouterr().out
