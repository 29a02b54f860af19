"""LLM-FP4 floating point with a per-channel exponent bias (hwsim.numerics.llmfp, formats/lowbit.toml).

Expected values come from hand-worked codes, exhaustive enumeration (every LLM-FP code and bias) and
an independent scalar reference written here from the paper's formula (Fraction/Decimal).
"""

from __future__ import annotations

import math
from decimal import Decimal, getcontext
from fractions import Fraction

import numpy as np
import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics import Encoded
from hwsim.numerics import _reference as R
from hwsim.numerics.llmfp import LlmFpFormat
from tests.numerics.numerics_helpers import assert_same_f32, normal

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
            want = sum((float(v) - float(xv)) ** 2 for v, xv in zip(vals[s], x[s], strict=False))
            assert err[s, k] == want or (math.isinf(want) and math.isinf(err[s, k])), (s, cands[s, k])


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
