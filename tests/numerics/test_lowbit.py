"""Low-bit formats (hwsim.numerics.ternary, shift, bcq, llmfp; formats/lowbit.toml, formats/fp4_scaled.toml).

Expected values come from hand-worked examples (worked out in the comments), exhaustive
enumeration (all 243 five-trit groups, every UE5M3 byte, every LLM-FP code), independent scalar
references written here from the papers' formulas (LLM-FP4 with Fraction/Decimal, BitNet's and
llama.cpp's integer rules) and the repository's Fraction oracle for the UE5M3 blocks.
"""

from __future__ import annotations

import itertools
import math
from decimal import Decimal, getcontext
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

import hwsim
from hwsim.catalog import load_formats
from hwsim.errors import CatalogError, FormatError
from hwsim.numerics import Encoded, Specials
from hwsim.numerics import _reference as R
from hwsim.numerics.codebook import CodebookFormat
from hwsim.numerics.bcq import BcqFormat
from hwsim.numerics.llmfp import LlmFpFormat
from hwsim.numerics.shift import denseshift_table
from hwsim.numerics.ternary import pack_2bit, pack_trits, unpack_2bit, unpack_trits
from hwsim.numerics.protocol import NumberFormat
from tests.numerics.numerics_helpers import assert_same_f32

LOWBIT = ["ternary", "ternary_tq2", "bitnet_a8", "denseshift3", "denseshift4", "shiftadd2", "shiftadd3",
          "shiftadd4", "llmfp4_e2m1", "llmfp4_e3m0", "mxfp4_ue5m3", "fp4_ue5m3_b16"]
TRIT_CODE = {0: 0, 1: 1, -1: 3}  # two's complement 2-bit codes


def normal(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def nmse(x, q):
    x64 = np.asarray(x, np.float64)
    return float(np.sum((np.asarray(q, np.float64) - x64) ** 2) / np.sum(x64 ** 2))


# ----------------------------------------------------------------------------------------------
# catalog and protocol
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", LOWBIT)
def test_catalog_entries_follow_the_protocol(name):
    f = hwsim.format(name)
    assert isinstance(f, NumberFormat) and f.reference.strip()
    assert f == hwsim.format(name) and hash(f) == hash(hwsim.format(name))
    x = normal((3, 40), seed=1)
    q = f.quantize(x)
    assert q.dtype == np.float32 and q.shape == x.shape
    assert_same_f32(np.asarray(f.decode(f.encode(x))), q, f"{name} decode(encode) == quantize")
    assert f.max > 0 and np.asarray(f.values()).size >= 2
    if not isinstance(f, hwsim.Format):  # core formats encode NaN blocks (test_block.py)
        with pytest.raises(FormatError, match="Inf/NaN"):
            f.quantize(np.float32([1.0, np.nan, 2.0]))


@pytest.mark.parametrize("name", LOWBIT)
def test_torch_in_torch_out(name):
    torch = pytest.importorskip("torch")
    f = hwsim.format(name)
    x = normal((4, 48), seed=2)
    qt = f.quantize(torch.from_numpy(x))
    assert isinstance(qt, torch.Tensor) and qt.dtype == torch.float32
    assert_same_f32(qt.numpy(), np.asarray(f.quantize(x)), f"{name} torch == numpy")
    enc = f.encode(torch.from_numpy(x))
    assert isinstance(enc.codes, torch.Tensor)
    assert_same_f32(f.decode(enc).numpy(), qt.numpy(), f"{name} torch decode(encode)")


@pytest.mark.parametrize("name,bits", [("ternary", 1.6), ("ternary_tq2", 2.0), ("denseshift3", 3.0),
                                       ("denseshift4", 4.0), ("shiftadd2", 2 + 2 * 8 / 128),
                                       ("shiftadd3", 3 + 3 * 8 / 128), ("shiftadd4", 4.25),
                                       ("llmfp4_e2m1", 5.0), ("mxfp4_ue5m3", 4.25), ("fp4_ue5m3_b16", 4.5)])
def test_bits_per_element(name, bits):
    """Ternary: 8/5 (TQ1_0 bytes) or 2; BCQ q + 8q/g; LLM-FP 1 + E + M + 1 extension bit;
    UE5M3 blocks 4 + 8/32 and 4 + 8/16."""
    assert hwsim.format(name).bits_per_element == pytest.approx(bits, abs=0, rel=0)


def test_catalog_kind_errors(tmp_path):
    (tmp_path / "bad.toml").write_text(
        '[codebooks.t3]\nbits = 2\ntable = [0, 1, "nan", -1]\nreference = "x"\n'
        '[bad_pack]\nkind = "ternary"\ncodebook = "t3"\npacking = "trit6"\nreference = "x"\n'
        '[bad_bits]\nkind = "bcq"\nbits = 9\nscale_per = "group"\ngroup_size = 8\nreference = "x"\n'
        '[bad_fp]\nkind = "llmfp"\nexp_bits = 0\nman_bits = 1\nreference = "x"\n'
        '[bad_se]\nkind = "scaled"\nelement = "fp4_e2m1"\nblock_size = 4\nscale_rule = "amax"\n'
        'scale_element = { kind = "int", bits = 8 }\nreference = "x"\n')
    with pytest.raises(CatalogError) as info:
        load_formats([hwsim.catalog.format_dirs()[0], tmp_path])
    text = str(info.value)
    assert "bad_pack.packing: 'trit6' not one of" in text
    assert "bad_bits" in text and "bits=9" in text
    assert "bad_fp" in text and "exp_bits=0" in text
    assert "bad_se.scale_element.kind: 'int' not one of ['float']" in text


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


# ----------------------------------------------------------------------------------------------
# DenseShift
# ----------------------------------------------------------------------------------------------
def test_denseshift_grids():
    """code s << (b-1) | p -> (-1)^s 2^-p: 3-bit +-{1, 1/2, 1/4, 1/8}, 4-bit +-{1 .. 1/128}; no zero."""
    assert denseshift_table(3) == [1, 0.5, 0.25, 0.125, -1, -0.5, -0.25, -0.125]
    t4 = denseshift_table(4)
    assert t4 == [2.0**-p for p in range(8)] + [-(2.0**-p) for p in range(8)]
    for name, table in (("denseshift3", denseshift_table(3)), ("denseshift4", t4)):
        cb = hwsim.format(name).types[0]
        assert list(cb.table) == table and 0.0 not in cb.table
        assert sorted(cb.values().tolist()) == sorted(table)
    with pytest.raises(FormatError):
        denseshift_table(1)


def test_denseshift_zero_and_ties_by_hand():
    """Scale = absmax = 1 (absmax rule): grid [-1, -.5, -.25, -.125, .125, .25, .5, 1], ties up.
    0 and -0 lie on the midpoint of -1/8 and +1/8 -> +1/8 (code 3); 0.0625 -> 1/8; 0.75 (mid of
    1/2 and 1) -> 1; -0.75 -> -1/2; 0.1875 (mid of 1/8 and 1/4) -> 1/4; -0.1875 -> -1/8."""
    f = hwsim.format("denseshift3", scale_rule="absmax")
    x = np.float32([[1.0, 0.0, -0.0, 0.0625, 0.75, -0.75, 0.1875, -0.1875]])
    enc = f.encode(x)
    assert float(enc.scales.reshape(-1)[0]) == 1.0
    assert enc.codes.tolist() == [[0, 3, 3, 3, 0, 5, 2, 7]]
    assert f.quantize(x).tolist() == [[1.0, 0.125, 0.125, 0.125, 1.0, -0.5, 0.25, -0.125]]
    assert np.all(f.quantize(np.zeros((2, 5), np.float32)) == 0)  # an all-zero channel: scale 0


def test_denseshift_mse_search_brute_force():
    """The per-channel scale is the first alpha = absmax k / 100 (k = 50..100) with the smallest
    squared error, recomputed here with a plain nearest-value search (ties up)."""
    f = hwsim.format("denseshift3")
    grid = np.array(sorted(denseshift_table(3)))
    x = normal((3, 50), seed=5)
    enc = f.encode(x)
    for r in range(3):
        row = x[r].astype(np.float64)
        best = None
        for k in range(50, 101):
            s = float(np.float32(np.abs(row).max() * k / 100))
            y = row / s
            idx = [max(i for i in range(8) if abs(v - grid[i]) == np.abs(v - grid).min()) for v in y]
            err = float(np.sum((grid[idx] * s - row) ** 2))
            if best is None or err < best[0]:
                best = (err, s)
        assert float(enc.scales.reshape(-1)[r]) == best[1]


# ----------------------------------------------------------------------------------------------
# ShiftAddLLM BCQ
# ----------------------------------------------------------------------------------------------
def test_bcq_by_hand_q1_and_zero_tie():
    """q = 1, w = [1, -2, 3, -4]: b = sign(w), alpha = mean|w| = 2.5; 2.5 / 2 = 1.25 < sqrt 2, so
    the nearest power of two in the log domain is 2 (e = 1): values [2, -2, 2, -2], codes
    [1, 0, 1, 0]. w = [1, 1, 1, -1, 0]: alpha = 0.8 -> 0.8 = 1.6 / 2, 1.6 >= sqrt 2 -> 1; the 0
    lies on the midpoint of -1 and +1 -> the larger level (code 1)."""
    f = BcqFormat(name="b1", bits=1, group_size=0)
    enc = f.encode(np.float32([1, -2, 3, -4]))
    assert enc.codes.tolist() == [1, 0, 1, 0] and enc.scales.reshape(-1).tolist() == [1]
    assert f.quantize(np.float32([1, -2, 3, -4])).tolist() == [2, -2, 2, -2]
    enc = f.encode(np.float32([1, 1, 1, -1, 0]))
    assert enc.codes.tolist() == [1, 1, 1, 0, 1] and enc.scales.reshape(-1).tolist() == [0]


def test_bcq_by_hand_q2():
    """q = 2, w = [3, 1, -1, -3]: greedy b1 = [+, +, -, -], alpha1 = 2, r = [1, -1, 1, -1],
    b2 = [+, -, +, -], alpha2 = 1, r = 0. Least squares: B B^T = 4 I, B w = [8, 4] -> alpha = [2, 1]
    (powers of two already). Levels by code (bit 0 = plane 1): 0: -3, 1: 1, 2: -1, 3: 3 -> codes
    [3, 1, 2, 0], exponents [1, 0], exact."""
    f = BcqFormat(name="b2", bits=2, group_size=4)
    w = np.float32([3, 1, -1, -3])
    enc = f.encode(w)
    assert enc.codes.tolist() == [3, 1, 2, 0]
    assert enc.scales.tolist() == [[1, 0]]
    assert f.quantize(w).tolist() == w.tolist()
    np.testing.assert_array_equal(enc.meta["planes"], [[1, 1, -1, -1], [1, -1, 1, -1]])


def test_bcq_error_decreases_with_planes_and_alphas_are_powers_of_two():
    x = normal((32, 512), seed=6)
    errs = []
    for name in ("shiftadd2", "shiftadd3", "shiftadd4"):
        f = hwsim.format(name)
        enc = f.encode(x)
        q = f.quantize(x)
        errs.append(nmse(x, q))
        e = enc.scales.astype(np.int64)  # int8 exponents, groups + (q,)
        assert enc.scales.dtype == np.int8 and e.shape == (32, 4, f.bits)
        assert np.all(np.diff(e, axis=-1) <= 0)  # |alpha| sorted descending
        alpha = np.where(e == -128, 0.0, np.ldexp(1.0, e))
        planes = enc.meta["planes"].astype(np.float64)  # (q, 32, 512) of +-1
        assert set(np.unique(planes)) <= {-1.0, 1.0}
        a = np.repeat(alpha, 128, axis=1)  # (32, 512, q)
        rebuilt = sum(a[..., i] * planes[i] for i in range(f.bits))
        assert_same_f32(rebuilt.astype(np.float32), q, f"{name}: sum_i 2^e_i b_i")
        for i in range(f.bits):  # code bit i <-> plane i+1
            np.testing.assert_array_equal((enc.codes >> i) & 1, planes[i] > 0)
    assert errs[0] > errs[1] > errs[2]
    assert errs[1] < 0.06 and errs[2] < 0.035  # N(0, 1): 3 planes ~0.043, 4 planes ~0.023


def test_bcq_axes_tails_and_zero_groups():
    f = BcqFormat(name="b3g8", bits=3, group_size=8)
    x = normal((5, 21), seed=7)  # 21 = 8 + 8 + 5: a short last group
    x[2] = 0.0
    a = f.encode(x, axis=-1)
    b = f.encode(np.ascontiguousarray(x.T), axis=0)
    np.testing.assert_array_equal(a.codes, b.codes.T)
    assert a.scales.shape == (5, 3, 3) and b.scales.shape == (3, 5, 3)
    np.testing.assert_array_equal(a.scales, b.scales.transpose(1, 0, 2))
    assert np.all(a.scales[2] == -128) and not f.decode(a)[2].any()
    assert_same_f32(f.decode(b), f.quantize(np.ascontiguousarray(x.T), axis=0), "axis 0")


# ----------------------------------------------------------------------------------------------
# LLM-FP4: an independent scalar reference from the formula
# ----------------------------------------------------------------------------------------------
getcontext().prec = 60


def f32_of_pow2(y: Fraction, factor: Fraction = Fraction(1)) -> Fraction:
    """fp32_RNE(factor 2^y), y a dyadic rational, via 60-digit Decimal (then exact RNE)."""
    v = Decimal(factor.numerator) / Decimal(factor.denominator) * (
        Decimal(2) ** (Decimal(y.numerator) / Decimal(y.denominator)))
    return Fraction(float(R.to_float32(Fraction(v))))


def ref_llmfp(x: float, b: np.float32, E: int, M: int) -> np.float32:
    """LLM-FP4 get_scale: maxval = (2 - 2^-M) 2^(2^E - 1 - b); x_c = clamp(x, +-maxval);
    ls = max(floor(log2|x_c|) + b, 1); scale = 2^(ls - M - b); q = round_half_even(x_c / scale).
    maxval and the subnormal scale 2^(1 - M - b) rounded to float32 (the official float32 tensors)."""
    bf = Fraction(float(b))
    maxval = f32_of_pow2((1 << E) - 1 - bf, Fraction(2) - Fraction(1, 1 << M))
    sub = max(f32_of_pow2(1 - M - bf), Fraction(1, 1 << 149))
    a = min(abs(Fraction(float(x))), maxval)
    if a == 0:
        return np.float32(math.copysign(0.0, x))
    n = math.floor(math.log2(a))  # exact enough for a float32: checked below
    n = n - 1 if Fraction(2) ** n > a else (n + 1 if Fraction(2) ** (n + 1) <= a else n)
    ls = max(n + bf, Fraction(1))
    scale = Fraction(2) ** (n - M) if ls == n + bf else sub  # 2^(ls - M - b)
    q = R.round_int(a / scale, "even")
    v = R.to_float32(q * scale)
    return np.float32(-v) if x < 0 or (x == 0 and math.copysign(1, x) < 0) else v


@pytest.mark.parametrize("name", ["llmfp4_e2m1", "llmfp4_e3m0"])
def test_llmfp_values_follow_the_formula(name):
    """Random weights with their searched per-channel biases, and values around the binade,
    subnormal and clamp boundaries of each bias: bit-identical to the scalar reference."""
    f = hwsim.format(name)
    E, M = f.exp_bits, f.man_bits
    x = normal((6, 40), seed=8, scale=0.05)
    x[1] *= 100  # a different range per channel
    enc = f.encode(x)
    bias = enc.meta["bias"].reshape(-1)
    assert enc.meta["bias"].shape == (6, 1) and bias.dtype == np.float32
    assert len(set(bias.tolist())) > 1 and any(b != math.floor(b) for b in bias)
    q = f.quantize(x)
    for r in range(6):
        want = [ref_llmfp(float(v), bias[r], E, M) for v in x[r]]
        assert_same_f32(q[r], np.array(want, np.float32), f"{name} row {r} b={bias[r]}")
        # probes: powers of two and midpoints around the first normal binade and the clamp
        B = math.floor(bias[r])
        edges = [2.0 ** (1 - B), 2.0 ** ((1 << E) - 1 - float(bias[r]))]
        probes = np.array([e * k for e in edges for k in (0.49, 0.7, 0.999, 1.0, 1.03, 1.25, 1.5, 1.75, 2.2)],
                          np.float32)
        probes = np.concatenate([probes, -probes])
        got = f.decode(Encoded(_encode_with_bias(f, probes, bias[r]), None, None, 0, name,
                               {"bias": np.full((1,), bias[r], np.float32)}))
        want = np.array([ref_llmfp(float(v), bias[r], E, M) for v in probes], np.float32)
        assert_same_f32(got, want, f"{name} probes b={bias[r]}")


def _encode_with_bias(f: LlmFpFormat, x: np.ndarray, b: np.float32) -> np.ndarray:
    """Codes of the 1-d x under a given bias (the format's encoder; checked against the reference by decode)."""
    enc = f.encode_with_bias(np.asarray(x, np.float32), np.float32(b))
    assert enc.meta["bias"].tolist() == [np.float32(b)]
    return enc.codes


def test_llmfp_codes_by_hand():
    """E2M1. b = 1 (integer): codes are OCP FP4 E2M1 (value of code c == fp4_e2m1's), no extension
    codes. b = 0.5: subnormal quantum 2^-0.5 below 2 (first normal binade 2^(1 - floor b) = 2), so
    the levels are q 2^-0.5 for q = 0..3 (0, 0.707, 1.414, 2.121) then 2, 3, 4, 6 and 8: maxval =
    1.5 2^2.5 = 8.485 rounds to 8 in its binade (12 is never reached). Codes: 0 -> 0, 0.707 -> 1,
    1.414 -> 0b1000 (extension, q = 2), 2.121 -> 0b1001 (q = 3), 2 -> 0b010, 3 -> 0b011,
    4 -> 0b100, 6 -> 0b101, 8 -> 0b110 (exponent field n + floor(b) = 3)."""
    f = hwsim.format("llmfp4_e2m1")
    fp4 = hwsim.format("fp4_e2m1").element.table()
    c4 = np.arange(16)
    codes = ((c4 & 7) | ((c4 >> 3) << 4)).astype(np.uint8)  # the sign sits above the extension bit
    got = f.decode(Encoded(codes, None, None, 0, f.name, {"bias": np.float32([1.0])}))
    assert_same_f32(got, fp4.astype(np.float32), "b = 1 is OCP E2M1")
    r2 = math.sqrt(2)
    x = np.float32([0.3, 0.75, 1.5, 1.9, 2.05, 3.1, 4.2, 5.9, 100.0, -1.5])
    want_vals = np.float32([0.0, 1 / r2, r2, 1.5 * r2, 2.0, 3.0, 4.0, 6.0, 8.0, -r2])
    want_codes = [0, 1, 8, 9, 2, 3, 4, 5, 6, 16 | 8]
    codes = _encode_with_bias(f, x, np.float32(0.5))
    assert codes.tolist() == want_codes
    got = f.decode(Encoded(codes, None, None, 0, f.name, {"bias": np.float32([0.5])}))
    np.testing.assert_allclose(got, want_vals, rtol=2e-7)
    assert_same_f32(got, np.array([ref_llmfp(float(v), np.float32(0.5), 2, 1) for v in x], np.float32),
                    "b = 0.5")
    assert not np.any((_encode_with_bias(f, x, np.float32(1.0)) >> 3) & 1)  # integer b: no extension


@pytest.mark.parametrize("E,M", [(2, 1), (3, 0), (1, 2), (2, 2)])
def test_llmfp_every_code_and_bias(E, M):
    """For many biases: every code decodes to a reference value, encode(decode(code)) keeps it,
    codes fit E + M + 2 bits and the extension bit appears only for non-integer biases."""
    f = LlmFpFormat(name=f"e{E}m{M}", exp_bits=E, man_bits=M)
    rng = np.random.default_rng(E * 10 + M)
    for b in np.concatenate([np.float32([0, 1, 2, -1, 0.5, 0.999]), rng.uniform(-3, 6, 6).astype(np.float32)]):
        x = np.concatenate([normal(150, seed=int(b * 100) % 1000, scale=2.0 ** (2 - float(b))),
                            np.float32([0.0, -0.0, 1e30, -1e30])])
        codes = _encode_with_bias(f, x, b)
        assert codes.max() < 1 << (E + M + 2)
        if b == math.floor(b):
            assert not np.any((codes >> (E + M)) & 1), b
        vals = f.decode(Encoded(codes, None, None, 0, f.name, {"bias": np.float32([b])}))
        want = np.array([ref_llmfp(float(v), b, E, M) for v in x], np.float32)
        assert_same_f32(vals, want, f"E{E}M{M} b={b}")
        again = _encode_with_bias(f, vals, b)
        if b == math.floor(b):  # an ExMy grid: every value is a fixed point
            np.testing.assert_array_equal(again, codes)
        else:  # only the extension levels that lie in the normal range's span may move
            moved = again != codes
            assert np.all((codes[moved] >> (E + M)) & 1)


def test_llmfp_is_not_idempotent_for_a_real_bias():
    """E2M1, b = 0.5: 1.9 -> q = round(1.9 / 2^-0.5) = 3 -> 2.1213 (subnormal path, floor(log2 1.9)
    + 0.5 < 1); quantizing 2.1213 again takes the normal path (floor(log2) + 0.5 = 1.5) -> 2.
    Also non-monotone: 1.9 -> 2.1213 but 2.05 -> 2."""
    f = hwsim.format("llmfp4_e2m1")
    once = f.decode(Encoded(_encode_with_bias(f, np.float32([1.9, 2.05]), np.float32(0.5)), None, None, 0,
                            f.name, {"bias": np.float32([0.5])}))
    assert once[0] == np.float32(3 / math.sqrt(2)) and once[1] == 2.0
    twice = f.decode(Encoded(_encode_with_bias(f, once[:1], np.float32(0.5)), None, None, 0, f.name,
                             {"bias": np.float32([0.5])}))
    assert twice[0] == 2.0


def test_llmfp_search_is_argmin_of_the_reference_error():
    """b_init = fp32(2^E - log2 amax + log2(2 - 2^-M) - 1); candidates fp32(fp32(0.01 + k 0.0119)
    b_init), k = 0..100; the chosen bias is the first with the smallest reference error."""
    f = hwsim.format("llmfp4_e2m1")
    x = normal((2, 24), seed=9)
    bias = f.encode(x).meta["bias"].reshape(-1)
    for r in range(2):
        amax = float(np.abs(x[r]).max())
        init = np.float32(4 - math.log2(amax) + math.log2(1.5) - 1)
        best = None
        for k in range(101):
            b = np.float32(np.float32(0.01 + k * (1.2 - 0.01) / 100) * init)
            err = sum((Fraction(float(ref_llmfp(float(v), b, 2, 1))) - Fraction(float(v))) ** 2 for v in x[r])
            if best is None or err < best[0]:
                best = (err, b)
        assert bias[r] == best[1]


def test_llmfp_per_tensor_and_axes():
    f = hwsim.format("llmfp4_e2m1", scale_per="tensor")
    x = normal((4, 30), seed=10)
    enc = f.encode(x)
    assert enc.meta["bias"].shape == () and f.block_size is None
    assert_same_f32(f.decode(enc), f.quantize(x), "per tensor")
    g = hwsim.format("llmfp4_e2m1")
    a, b = g.encode(x, axis=-1), g.encode(np.ascontiguousarray(x.T), axis=0)
    np.testing.assert_array_equal(a.codes, b.codes.T)
    assert b.meta["bias"].shape == (1, 4)
    np.testing.assert_array_equal(a.meta["bias"].reshape(-1), b.meta["bias"].reshape(-1))


# ----------------------------------------------------------------------------------------------
# UE5M3-scaled FP4 blocks
# ----------------------------------------------------------------------------------------------
def ue5m3_by_hand(code: int) -> float:
    """Unsigned E5M3, bias 15: e = code >> 3, m = code & 7; e = 0: m 2^-17; else (8 + m) 2^(e - 18);
    0xFF NaN."""
    e, m = code >> 3, code & 7
    if code == 0xFF:
        return math.nan
    return m * 2.0**-17 if e == 0 else (8 + m) * 2.0 ** (e - 18)


def test_ue5m3_scale_bytes():
    """Every scale byte, decoded through a block of E2M1 ones: min subnormal 2^-17 (0x01), min normal
    2^-14 (0x08), 1.0 (0x78), max 1.75 2^16 = 114688 (0xFE), NaN (0xFF)."""
    for name in ("mxfp4_ue5m3", "fp4_ue5m3_b16"):
        f = hwsim.format(name)
        se = f.scale_element
        assert se.bits == 8 and se.specials is Specials.FNU and se.bias == 15
        assert (se.max, se.smallest_subnormal, se.smallest_normal) == (114688.0, 2.0**-17, 2.0**-14)
        B = f.block_size
        scales = np.arange(256, dtype=np.uint8)
        codes = np.full(256 * B, 2, np.uint8)  # E2M1 code 2 = 1.0
        got = f.decode(Encoded(codes, scales, None, 0, name)).reshape(256, B)
        want = np.array([ue5m3_by_hand(c) for c in range(256)], np.float32)
        for j in (0, B - 1):
            assert_same_f32(got[:, j], want, f"{name} scale bytes")
        assert want[1] == 2.0**-17 and want[8] == 2.0**-14 and want[0x78] == 1.0 and want[0xFE] == 114688.0


def test_ue5m3_block_by_hand():
    """amax 6 -> s = 1 (0x78), elements as is. amax 7 -> 7/6 = 1.1667 -> UE5M3 1.125 (0x79: 1.1667
    is 0.0417 from 1.125, 0.0833 from 1.25); 7 / 1.125 = 6.22 saturates to 6 -> 6.75; 1 / 1.125 =
    0.889 -> 1 -> 1.125. amax 1e6 -> 1e6/6 > 114688: s saturates to 0xFE, elements clamp to 6.
    amax 1e-7 -> 1.7e-8 rounds below half of 2^-17: s = 2^-17 (code 1, never zero)."""
    f = hwsim.format("mxfp4_ue5m3")
    for x, s_code, q in (([6.0, -3.0, 0.5], 0x78, [6.0, -3.0, 0.5]),
                         ([7.0, 1.0, -0.0], 0x79, [6.75, 1.125, -0.0]),
                         ([1e6, 1.0], 0xFE, [688128.0, 0.0]),
                         ([1e-7, 0.0], 0x01, [0.0, 0.0])):
        x = np.float32(x)
        enc = f.encode(x)
        assert enc.scales.tolist() == [s_code] and enc.scales.dtype == np.uint8
        assert_same_f32(f.quantize(x), np.float32(q), f"{x}")


UE_FORMATS = ["mxfp4_ue5m3", "fp4_ue5m3_b16"]


@pytest.mark.parametrize("impl", ["numpy", "torch"])
@pytest.mark.parametrize("tensor_scale", [False, True])
@pytest.mark.parametrize("name", UE_FORMATS)
def test_ue5m3_blocks_vs_fraction_oracle(name, tensor_scale, impl):
    """Codes, scale bytes, tensor scale and values equal the Fraction oracle (which reads the
    unsigned scale as 'fnu'), and, independently of that, equal the oracle run with the scale as
    a signed 9-bit E5M3 FN element: its positive codes are the unsigned bytes."""
    from tests.numerics.impls import decode, encode

    f = hwsim.format(name, tensor_scale=tensor_scale)
    signed = SimpleNamespace(element=f.element, block_size=f.block_size, scale_rule=f.scale_rule,
                             scale_element=R.FloatTraits(5, 3, 15, Specials.FN),
                             tensor_scale=f.tensor_scale, rounding=f.rounding, saturate=f.saturate,
                             seed=f.seed)
    rng = np.random.default_rng(11)
    for x in (normal((3, 70), seed=12), rng.integers(-64, 65, (2, 64)).astype(np.float32) / 8,
              normal((2, 64), seed=13) * np.float32(2.0**-20), normal((2, 64), seed=14) * np.float32(1e6),
              (normal((2, 96), seed=15) * 2.0 ** rng.integers(-30, 30, (2, 96))).astype(np.float32)):
        want_c, want_s, want_ts = R.ref_encode(f, x)
        enc = encode(impl, f, x)
        np.testing.assert_array_equal(enc.codes, want_c)
        assert enc.scales.dtype == want_s.dtype == np.uint8
        np.testing.assert_array_equal(enc.scales, want_s)
        if tensor_scale:
            assert_same_f32(np.float32(enc.tensor_scale), want_ts, "tensor scale")
        assert_same_f32(decode(impl, f, enc), R.ref_decode(f, want_c, want_s, want_ts), f"{name} decode")
        sc, ss, _ = R.ref_encode(signed, x)
        np.testing.assert_array_equal(sc, want_c)
        np.testing.assert_array_equal(ss.astype(np.int64), want_s.astype(np.int64))


@pytest.mark.parametrize("E,M", [(1, 0), (1, 3), (2, 1), (3, 0), (3, 3), (4, 2)])
def test_llmfp_search_fast_path_is_exact(E, M):
    """The bias search scores candidates with a float32-bit fast path; its squared errors equal
    those of the encoder's general path for every candidate, including float32 subnormal inputs,
    clamped values and extreme biases."""
    f = LlmFpFormat(name="t", exp_bits=E, man_bits=M)
    rng = np.random.default_rng(E * 7 + M)
    x = (rng.standard_normal((3, 200)) * 2.0 ** rng.integers(-140, 20, (3, 200))).astype(np.float32)
    x[:, :4] = np.float32([0.0, -0.0, 1e-45, -3e38])
    cands = np.concatenate([np.float32([[0, 1, -5, 0.5, 120.25, 150.0, -120.5]]).repeat(3, 0),
                            rng.uniform(-10, 40, (3, 20)).astype(np.float32)], axis=1)
    err = f.bias_errors(x, cands)
    assert err.shape == cands.shape
    for k in range(cands.shape[1]):
        enc = f.encode_with_bias(x, cands[:, k:k + 1])  # one bias per row (channel)
        vals = f.decode(enc)
        for s in range(3):
            want = sum((float(v) - float(xv)) ** 2 for v, xv in zip(vals[s], x[s]))
            assert err[s, k] == want or (math.isinf(want) and math.isinf(err[s, k])), (s, cands[s, k])


@pytest.mark.parametrize("name", [n for n in LOWBIT if n not in ("bitnet_a8", "mxfp4_ue5m3", "fp4_ue5m3_b16")])
def test_scalar_and_empty_inputs(name):
    f = hwsim.format(name)
    for x in (np.float32(0.7), np.zeros((3, 0), np.float32), np.zeros((0, 5), np.float32)):
        q = f.quantize(x)
        assert q.shape == np.shape(x)
        assert_same_f32(np.asarray(f.decode(f.encode(x)), np.float32).reshape(q.shape), q, name)


def test_llmfp_calibration_tensor_sets_the_bias():
    """encode(x, calibration=c) searches the per-channel bias on c and applies it to x: the same
    bias as encoding c itself, and x quantized with it."""
    fmt = hwsim.format("llmfp4_e2m1")
    rng = np.random.default_rng(4)
    c = rng.standard_normal((6, 64)).astype(np.float32)
    x = (c * 0.5).astype(np.float32)
    enc = fmt.encode(x, calibration=c)
    np.testing.assert_array_equal(enc.meta["bias"], fmt.encode(c).meta["bias"])
    np.testing.assert_array_equal(fmt.decode(enc), fmt.quantize(x, calibration=c))
    with pytest.raises(FormatError, match="calibration"):
        fmt.encode(x, calibration=c[:3])


def test_llmfp_huge_inputs_stay_finite():
    """Bias candidates whose range overflows float32 are never chosen (their error is undefined)."""
    q = hwsim.format("llmfp4_e2m1").quantize(np.array([[1e34, 1.0]], np.float32))
    assert np.all(np.isfinite(q)) and q[0, 0] > 5e33
