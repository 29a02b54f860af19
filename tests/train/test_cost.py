"""The step cost: three GEMMs per layer priced on an accelerator of hwsim.arch."""

from __future__ import annotations

import pytest

import hwsim
from hwsim.arch.config import accelerator
from hwsim.train.cost import cost_summary, step_cost
from hwsim.train.loop import train


@pytest.fixture(scope="module")
def runs():
    return {n: train("digits-mlp", n, steps=1, n_threads=1) for n in ("fp32", "mxfp8", "mxfp4-sr", "dfp16")}


def test_three_gemms_per_layer(runs) -> None:
    t = step_cost(runs["mxfp8"].gemms)
    assert len(t) == 3 * 3 - 1  # the first layer has no dgrad
    first = t[t["site"] == "0"]
    assert set(first["role"]) == {"forward", "wgrad"}
    fwd = t[(t["site"] == "2") & (t["role"] == "forward")].iloc[0]
    dgr = t[(t["site"] == "2") & (t["role"] == "dgrad")].iloc[0]
    wgr = t[(t["site"] == "2") & (t["role"] == "wgrad")].iloc[0]
    assert (fwd.m, fwd.k, fwd.n) == (64, 256, 256)  # tokens x in x out
    assert (dgr.m, dgr.k, dgr.n) == (64, 256, 256)  # tokens x out x in
    assert (wgr.m, wgr.k, wgr.n) == (256, 64, 256)  # in x tokens x out
    assert (fwd.a_format, fwd.b_format) == ("mxfp8_e4m3", "mxfp8_e4m3")
    assert (dgr.a_format, wgr.b_format) == ("mxfp8_e5m2", "mxfp8_e5m2")
    acc = accelerator("mx-systolic-32")
    want = acc.gemm(64, 256, 256, hwsim.format("mxfp8_e5m2"), hwsim.format("mxfp8_e4m3"))
    assert dgr.energy_pj == pytest.approx(float(want.energy_pj))


def test_summary_orders_formats(runs) -> None:
    e = {n: cost_summary(step_cost(r.gemms), r.tokens_per_step)["energy_step_uj"] for n, r in runs.items()}
    assert e["fp32"] > e["dfp16"] > e["mxfp8"] > e["mxfp4-sr"]
    s = cost_summary(step_cost(runs["fp32"].gemms), 64)
    assert s["energy_step_uj"] == pytest.approx(s["energy_forward_uj"] + s["energy_dgrad_uj"] + s["energy_wgrad_uj"])
    assert s["energy_token_nj"] == pytest.approx(s["energy_step_uj"] * 1e3 / 64)
