"""The asymmetric-integer baseline INT-asym (hwsim/numerics/asym_int.py, formats/bitmod.toml).

Expected values come from a re-transcription of BitMoD's ``quant_weight.py::quant_int_asym``
written here without hwsim, and from hand-worked groups.
"""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.asym_int import AsymIntFormat
from tests.numerics.numerics_helpers import assert_same_f32, weights


def asym_reference(w, bits, group):
    K, C = w.shape
    x = w.astype(np.float64).reshape(K, -1, group)
    qmax = 2**bits - 1
    mn, mx = x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)
    s = np.clip(((mx - mn) / qmax).astype(np.float32), np.float32(1e-5), np.float32(1e4)).astype(np.float64)
    z = np.clip(np.rint(-mn / s), 0, qmax)
    q = np.clip(np.rint(x / s) + z, 0, qmax)
    return ((q - z) * s).astype(np.float32).reshape(K, C), q.astype(np.uint8).reshape(K, C), z.reshape(K, -1)


@pytest.mark.parametrize("bits", [3, 4])
def test_asym_matches_quant_int_asym(bits):
    fmt = hwsim.format(f"int{bits}_asym_g128")
    w = weights((4, 384), seed=bits, heavy=True)
    want, codes, z = asym_reference(w, bits, 128)
    enc = fmt.encode(w)
    np.testing.assert_array_equal(enc.codes, codes)
    np.testing.assert_array_equal(enc.meta["zero_point"], z)
    assert enc.scales.shape == (4, 3) and enc.scales.dtype == np.float32
    assert_same_f32(fmt.quantize(w), want)
    assert_same_f32(fmt.decode(enc), want)


def test_asym_hand_worked():
    """2-bit, group [-1, 0, 0.5, 2]: s = 3/3 = 1, z = RNE(1) = 1, q = RNE(x) + 1 = [0, 1, 1, 3]
    (RNE(0.5) = 0), values [-1, 0, 0, 2]. All-zero group: s = 1e-5 with the code's fp16 clamp
    (``clamp_scale=True``), z = 0, zeros. Group [0.3, 0.6] (min > 0; 0.6f = 2 * 0.3f): s = 0.3f/15,
    z = clamp(RNE(-15)) = 0, q = clamp([15, 30]) = [15, 15]: the code's zero-point clamp loses the
    top of an all-positive group (both decode to 0.3)."""
    fmt = AsymIntFormat(name="a2", bits=2, group_size=4, clamp_scale=True)
    enc = fmt.encode(np.array([[-1, 0, 0.5, 2, 0, 0, 0, 0]], np.float32))
    np.testing.assert_array_equal(enc.codes, [[0, 1, 1, 3, 0, 0, 0, 0]])
    np.testing.assert_array_equal(enc.meta["zero_point"], [[1, 0]])
    np.testing.assert_array_equal(fmt.decode(enc), [[-1, 0, 0, 2, 0, 0, 0, 0]])
    assert enc.scales[0, 1] == np.float32(1e-5)
    f4 = AsymIntFormat(name="a4", bits=4, group_size=2)
    enc = f4.encode(np.array([[0.3, 0.6]], np.float32))
    assert enc.scales[0, 0] == np.float32(float(np.float32(0.3)) / 15)
    assert int(enc.meta["zero_point"][0, 0]) == 0
    np.testing.assert_array_equal(enc.codes, [[15, 15]])


def test_asym_layouts_and_errors():
    fmt = hwsim.format("int4_asym_g128")
    w = weights((3, 200), 7)  # short last group (72)
    want = np.concatenate([asym_reference(w[:, :128], 4, 128)[0], asym_reference(w[:, 128:], 4, 72)[0]], axis=1)
    assert_same_f32(fmt.quantize(w), want)
    assert_same_f32(fmt.replace(group_size=0).quantize(w.T, axis=0), asym_reference(w, 4, 200)[0].T)
    with pytest.raises(FormatError, match="bits"):
        AsymIntFormat(name="bad", bits=9)
    with pytest.raises(FormatError, match="Inf/NaN"):
        fmt.encode(np.array([np.inf], np.float32))
    with pytest.raises(FormatError, match="unknown field"):
        fmt.replace(zero=1)
