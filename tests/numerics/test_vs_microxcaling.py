"""hwsim's MX formats against Microsoft's reference emulator (microxcaling), STYLE P7.

microxcaling is not on PyPI: point ``MICROXCALING_PATH`` at a checkout of microsoft/microxcaling
(tested at 7bc4195) to run this; otherwise it skips. Both sides use the OCP MX floor scale and
saturate elements; microxcaling's ``round="nearest"`` is ties-away, ``"even"`` is RNE.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import hwsim

PATH = os.environ.get("MICROXCALING_PATH")
pytestmark = pytest.mark.skipif(not PATH, reason="MICROXCALING_PATH not set (microxcaling is not on PyPI)")

PAIRS = [("mxfp4", "fp4_e2m1"), ("mxfp6_e2m3", "fp6_e2m3"), ("mxfp6_e3m2", "fp6_e3m2"),
         ("mxfp8_e4m3", "fp8_e4m3"), ("mxfp8_e5m2", "fp8_e5m2"), ("mxint8", "int8")]


@pytest.mark.parametrize("rounding,mx_round", [("even", "even"), ("away", "nearest")])
@pytest.mark.parametrize("name,elem", PAIRS, ids=[p[0] for p in PAIRS])
def test_mx_matches_microxcaling(name, elem, rounding, mx_round) -> None:
    torch = pytest.importorskip("torch")
    sys.path.insert(0, PATH)
    from mx.mx_ops import quantize_mx_op
    from mx.specs import MxSpecs

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 256)) * np.exp(rng.standard_normal((64, 1)) * 4)).astype(np.float32)
    # exact ties of every element grid, scaled into blocks of their own
    fmt = hwsim.format(name, rounding=rounding)
    vals = fmt.values()
    mids = ((vals[1:] + vals[:-1]) / 2).astype(np.float32)
    tie_rows = np.resize(mids, (4, 256)).astype(np.float32)
    x = np.concatenate([x, tie_rows, -tie_rows])
    specs = MxSpecs()
    specs["block_size"] = 32
    specs["custom_cuda"] = False
    ref = quantize_mx_op(torch.from_numpy(x), specs, elem_format=elem, axes=[-1], round=mx_round).numpy()
    ours = fmt.quantize(x, axis=-1)
    assert np.array_equal(ours, ref), f"{(ours != ref).sum()} of {x.size} differ"
