"""Issue 10, items 6 and 7: two rules that now follow the data / the hardware by default.

- item 6: INT-asym does not clamp its scale to BitMoD's fp16 guard [1e-5, 1e4]; the official
  behaviour is the named variant ``int4_asym_g128_fp16guard`` (``clamp_scale=True``).
- item 7: an NVFP4 block scale that rounds to 0 is stored as 0x00 and the block decodes to zeros,
  as TransformerEngine's NVFP4 quantizer (E4M3 cast of amax/6 x S_enc without a clamp); the
  numba kernels, the torch kernels and the Fraction oracle agree.
"""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.numerics import _reference as R
from tests.numerics.numerics_helpers import assert_same_f32, bits_of


def _nmse(x, q):
    x64 = np.asarray(x, np.float64)
    return float(np.sum((x64 - np.asarray(q, np.float64)) ** 2) / np.sum(x64 ** 2))


# ------------------------------------------------------------------------------------------------
# item 6
# ------------------------------------------------------------------------------------------------
def test_asym_tiny_tensor_is_not_flushed_to_zero():
    x = np.random.default_rng(1).standard_normal((8, 256)).astype(np.float32)
    fmt = hwsim.format("int4_asym_g128")
    q_tiny = fmt.quantize(x * np.float32(1e-6))
    assert np.count_nonzero(q_tiny) > q_tiny.size // 2
    # scale-invariant: the error of the scaled tensor is the error of the tensor
    assert _nmse(x * np.float32(1e-6), q_tiny) == pytest.approx(_nmse(x, fmt.quantize(x)), rel=1e-3)


def test_asym_huge_values_are_not_clipped():
    q = hwsim.format("int4_asym_g128").quantize(np.array([3e38, 0, 1], np.float32))
    assert q[0] == pytest.approx(3e38, rel=1e-6) and q[1] == 0


def test_asym_constant_and_zero_groups():
    fmt = hwsim.format("int4_asym_g128")
    for c in (5.0, -5.0, 1e-30, 0.0):
        x = np.full(7, c, np.float32)
        np.testing.assert_allclose(fmt.quantize(x), x, rtol=1e-6)
        np.testing.assert_allclose(fmt.decode(fmt.encode(x)), x, rtol=1e-6)


def test_asym_fp16guard_variant_keeps_the_official_clamp():
    guard = hwsim.format("int4_asym_g128_fp16guard")
    assert guard.clamp_scale and not hwsim.format("int4_asym_g128").clamp_scale
    assert "[1e-5, 1e4]" in guard.operand.scale_rule
    np.testing.assert_array_equal(guard.quantize(np.array([3e38, 0, 1], np.float32)), [150000, 0, 0])
    x = np.random.default_rng(1).standard_normal((2, 128)).astype(np.float32) * np.float32(1e-6)
    assert not np.any(guard.quantize(x))
    assert np.any(hwsim.format("int4_asym_g128").quantize(x))


# ------------------------------------------------------------------------------------------------
# item 7
# ------------------------------------------------------------------------------------------------
def _impls(fmt, x):
    """(codes, scales, values) of the numba path and, when torch is there, of the torch kernels."""
    enc = fmt.encode(x)
    out = [("numpy", np.asarray(enc.codes), np.asarray(enc.scales), fmt.decode(enc), fmt.quantize(x))]
    try:
        import torch

        from hwsim.numerics.torch_codec import torch_kernels
    except ImportError:  # pragma: no cover
        return out
    with torch_kernels():
        t = torch.from_numpy(x)
        e = fmt.encode(t)
        out.append(("torch", e.codes.numpy(), e.scales.numpy(), fmt.decode(e).numpy(), fmt.quantize(t).numpy()))
    return out


def test_nvfp4_block_scale_underflow_stores_zero():
    """amax 0.005, no tensor scale: 0.005 / 6 = 8.3e-4 < 2^-10 (half E4M3's smallest subnormal
    2^-9): scale byte 0x00 and zeros (was: 0x01 = 2^-9 and values 0.0059)."""
    fmt = hwsim.format("nvfp4")
    assert not fmt.tensor_scale
    x = np.concatenate([np.full(16, 0.005), -np.full(16, 0.005), [0.005, -0.0] + [0.0] * 14,
                        np.linspace(-6, 6, 16)]).astype(np.float32).reshape(4, 16)
    codes, scales, ts = R.ref_encode(fmt, x)
    assert scales[:3, 0].tolist() == [0, 0, 0] and scales[3, 0] == 0x38
    want = R.ref_quantize(fmt, x)
    assert not np.any(want[:3]) and np.signbit(want[1]).all()  # signed zeros
    for impl, c, s, dec, q in _impls(fmt, x):
        np.testing.assert_array_equal(c, codes, err_msg=impl)
        np.testing.assert_array_equal(s, scales, err_msg=impl)
        assert_same_f32(dec, want, impl)
        assert_same_f32(q, want, impl)
    assert bits_of(want)[1].tolist() == [0x80000000] * 16


def test_nvfp4_tensor_scale_block_underflow_stores_zero():
    """With the tensor scale: a block whose amax / 6 / ts rounds below 2^-10 stores 0x00."""
    fmt = hwsim.format("nvfp4", tensor_scale=True)
    x = np.zeros((2, 16), np.float32)
    x[0, 0] = 2688.0  # ts = 2688 / (448 * 6) = 1
    x[1, :] = 1e-4    # 1e-4 / 6 < 2^-10: zero scale
    codes, scales, ts = R.ref_encode(fmt, x)
    assert ts == np.float32(1.0) and scales.tolist() == [[0x7E], [0x00]]
    want = R.ref_quantize(fmt, x)
    assert not np.any(want[1])
    for impl, c, s, dec, q in _impls(fmt, x):
        np.testing.assert_array_equal(c, codes, err_msg=impl)
        np.testing.assert_array_equal(s, scales, err_msg=impl)
        assert_same_f32(dec, want, impl)
        assert_same_f32(q, want, impl)


def test_all_zero_nvfp4_block_has_scale_zero():
    enc = hwsim.format("nvfp4").encode(np.zeros((2, 16), np.float32))
    assert enc.scales.tolist() == [[0], [0]]


def test_fp32_scale_underflow_keeps_smallest_positive():
    """fp32 scale elements keep the clamp: amax 1e-45 (int8: 1e-45 / 127 rounds to 0) -> 2^-149."""
    enc = hwsim.format("int8_g32").encode(np.full(32, 1e-45, np.float32))
    assert enc.scales[0] == np.float32(2.0**-149)
