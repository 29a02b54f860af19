"""BitNet b1.58 ternary weights and absmax-int8 activations (hwsim.numerics.ternary,
formats/lowbit.toml).

Expected values come from hand-worked examples, exhaustive enumeration (all 243 five-trit groups
of llama.cpp's TQ1_0 packing) and BitNet's and llama.cpp's integer rules written here.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.codebook import CodebookFormat
from hwsim.numerics.ternary import pack_2bit, pack_trits, unpack_2bit, unpack_trits
from tests.numerics.numerics_helpers import assert_same_f32, normal

TRIT_CODE = {0: 0, 1: 1, -1: 3}  # two's complement 2-bit codes


# ----------------------------------------------------------------------------------------------
# trit packing
# ----------------------------------------------------------------------------------------------
def tq1_unpack_byte(byte: int) -> list[int]:
    """llama.cpp dequantize_row_tq1_0, written out: q = byte * 3^j (uint8), trit = (q * 3 >> 8) - 1."""
    return [((((byte * 3**j) & 0xFF) * 3) >> 8) - 1 for j in range(5)]


def test_trit_packing_exhaustive():
    """All 3^5 = 243 groups: distinct bytes, order-preserving, decoded by llama.cpp's rule and by
    unpack_trits."""
    groups = list(itertools.product((-1, 0, 1), repeat=5))  # lexicographic = base-3 order
    codes = np.array([TRIT_CODE[t] for g in groups for t in g], np.uint8)
    packed = pack_trits(codes)
    assert packed.dtype == np.uint8 and packed.size == 243
    assert np.all(np.diff(packed.astype(int)) > 0)  # base-3 number order, all distinct
    assert [tuple(tq1_unpack_byte(int(b))) for b in packed] == groups
    np.testing.assert_array_equal(unpack_trits(packed, codes.size), codes)


def test_trit_packing_by_hand():
    """(+1, 0, -1, 0, +1): digits (2, 1, 0, 1, 2), q = 2*81 + 27 + 0 + 3 + 2 = 194,
    byte = ceil(194 * 256 / 243) = ceil(204.38) = 205; decode 205: (205*3)>>8 = 2 -> +1,
    (205*3 mod 256 = 103)*3 >> 8 = 1 -> 0, ..."""
    codes = np.array([1, 0, 3, 0, 1], np.uint8)
    assert pack_trits(codes).tolist() == [205]
    assert tq1_unpack_byte(205) == [1, 0, -1, 0, 1]
    assert pack_trits(np.zeros(5, np.uint8)).tolist() == [(121 * 256 + 242) // 243]  # all digits 1


@pytest.mark.parametrize("n", list(range(1, 13)) + [243, 1001])
def test_trit_packing_tails(n):
    rng = np.random.default_rng(n)
    codes = rng.choice(np.array([0, 1, 3], np.uint8), size=n)
    packed = pack_trits(codes)
    assert packed.size == -(-n // 5)
    np.testing.assert_array_equal(unpack_trits(packed, n), codes)
    full = unpack_trits(packed, 5 * packed.size)  # the padding is trit 0 (code 0)
    assert not full[n:].any()
    p2 = pack_2bit(codes)
    assert p2.size == -(-n // 4)
    np.testing.assert_array_equal(unpack_2bit(p2, n), codes)


def test_2bit_packing_by_hand():
    """Codes (1, 3, 0, 1) -> bits 01 | 11 << 2 | 00 << 4 | 01 << 6 = 0b01001101 = 77."""
    assert pack_2bit(np.array([1, 3, 0, 1], np.uint8)).tolist() == [0b01001101]


def test_packing_rejects_bad_codes():
    with pytest.raises(FormatError, match="code 2"):
        pack_trits(np.array([0, 2, 1], np.uint8))
    with pytest.raises(FormatError, match="bytes"):
        unpack_trits(np.zeros(2, np.uint8), 11)


# ----------------------------------------------------------------------------------------------
# BitNet b1.58
# ----------------------------------------------------------------------------------------------
def test_ternary_by_hand():
    """W = [[0.5, -1.2, 0.05, 2.0]] (float32): gamma = (0.5 + 1.2000000477 + 0.0500000007 + 2) / 4
    = 0.93750001 -> fp32 0.9375. W / gamma = [0.533, -1.28, 0.053, 2.133] -> round [1, -1, 0, 2]
    -> clamp [1, -1, 0, 1]: codes [01, 11, 00, 01], values [0.9375, -0.9375, 0, 0.9375].
    Packed with a zero pad: digits (2, 0, 1, 2, 1), q = 162 + 0 + 9 + 6 + 1 = 178,
    byte = ceil(178 * 256 / 243) = ceil(187.52) = 188."""
    f = hwsim.format("ternary")
    W = np.float32([[0.5, -1.2, 0.05, 2.0]])
    enc = f.encode(W)
    assert enc.codes.tolist() == [[1, 3, 0, 1]]
    assert float(enc.scales) == 0.9375
    assert f.quantize(W).tolist() == [[0.9375, -0.9375, 0.0, 0.9375]]
    assert enc.meta["packed"].tolist() == [188]
    assert hwsim.format("ternary_tq2").encode(W).meta["packed"].tolist() == [0b01001101]


def test_ternary_ties_to_even():
    """W = [1, 3]: gamma = 2, W / gamma = [0.5, 1.5]: torch.round -> [0, 2] -> clamp [0, 1]."""
    f = hwsim.format("ternary")
    assert f.encode(np.float32([1.0, 3.0])).codes.tolist() == [0, 1]
    assert f.quantize(np.float32([-1.0, -3.0])).tolist() == [0.0, -2.0]


def test_ternary_scale_floor():
    """gamma = (1e-7 + 3e-6 + 6e-6) / 3 = 3.03e-6 < 1e-5: the scale is fp32(1e-5), so W / s =
    [0.01, -0.3, 0.6] -> [0, 0, 1]; without the floor (the plain absmean codebook) the codes would
    be round([0.033, -0.99, 1.98]) = [0, -1, 1]. An all-zero tensor -> all codes 0."""
    f = hwsim.format("ternary")
    W = np.float32([1e-7, -3e-6, 6e-6])
    enc = f.encode(W)
    assert float(enc.scales) == float(np.float32(1e-5))
    assert enc.codes.tolist() == [0, 0, 1]
    plain = CodebookFormat(name="absmean", types=(f.codebook,), group_size=None, scale_rule="absmean")
    assert plain.encode(W).codes.tolist() == [0, 3, 1]
    z = f.encode(np.zeros((2, 3), np.float32))
    assert not z.codes.any() and not f.decode(z).any()


def test_ternary_matches_bitnet_formula_and_absmean_codebook():
    """Random weights (gamma >> 1e-5): BitNet's rule clamp(round(W / gamma), -1, 1) * gamma
    (numpy rint = torch.round) and the absmean codebook format give the same codes and values."""
    f = hwsim.format("ternary")
    W = normal((64, 96), seed=3, scale=0.02)
    gamma = np.float32(np.abs(W.astype(np.float64)).mean())
    k = np.clip(np.rint(W.astype(np.float64) / np.float64(gamma)), -1, 1)
    enc = f.encode(W)
    np.testing.assert_array_equal(np.asarray([0, 1, 2, -1])[enc.codes], k)
    # + 0.0: BitNet's round() keeps -0.0 for small negatives; a ternary code has no -0
    assert_same_f32(f.quantize(W), (k * np.float64(gamma) + 0.0).astype(np.float32), "BitNet formula")
    plain = CodebookFormat(name="absmean", types=(f.codebook,), group_size=None, scale_rule="absmean")
    np.testing.assert_array_equal(plain.encode(W).codes, enc.codes)
    np.testing.assert_array_equal(unpack_trits(enc.meta["packed"], W.size), enc.codes.reshape(-1))


def test_bitnet_a8_is_per_token_absmax_int8():
    """BitNet activation_quant: s = 127 / max|x| per token, clamp(round(x s), -128, 127); the codes
    equal hwsim's (two's complement int8), and -128 never occurs (|x s| <= 127)."""
    f = hwsim.format("bitnet_a8")
    x = normal((16, 64), seed=4, scale=3.0)
    s = 127.0 / np.abs(x.astype(np.float64)).max(axis=1, keepdims=True)
    want = np.clip(np.rint(x * s), -128, 127).astype(np.int64)
    got = f.encode(x).codes.astype(np.int64)
    got = np.where(got >= 128, got - 256, got)
    np.testing.assert_array_equal(got, want)
    assert want.min() >= -127
    assert_same_f32(f.quantize(x), hwsim.format("int8_channel").quantize(x), "bitnet_a8 == int8_channel")
