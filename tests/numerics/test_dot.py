"""hwsim.numerics.dot.block_dot against an exact ``fractions.Fraction`` reference written here.

The reference decodes each code with the element's own ``decode_code`` (a scalar reader of the
bit fields), multiplies and sums in Fractions, and rounds to FP32 with its own round-to-nearest-even
(:func:`fp32_rne`); the specials follow docs/numerics.md "Block dot product" (OCP MX v1.0 §5.2, §6.1).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.dot import block_dot
from hwsim.numerics.encoded import Encoded

FORMATS = ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp4", "mxint8", "nvfp4",
           "msfp12", "msfp16", "bfp12_b32")  # the last three: BFP/MSFP (integer elements, E8M0 exponents)
#: plain-cast format of each block format's element (to write element codes from values)
ELEMENT_CAST = {"mxfp8_e4m3": "fp8_e4m3", "mxfp8_e5m2": "fp8_e5m2", "mxfp4": "fp4_e2m1"}

FP32_MAX = Fraction(2**24 - 1) * Fraction(2) ** 104


def fp32_rne(q: Fraction) -> float:
    """Round an exact rational to the nearest float32 (ties to even), overflow to +-Inf."""
    if q == 0:
        return 0.0
    sign = -1.0 if q < 0 else 1.0
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    e = max(e, -126)  # subnormals share the quantum of the smallest normal binade
    quantum = Fraction(2) ** (e - 23)
    n = a / quantum
    fl = math.floor(n)
    frac = n - fl
    if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and fl % 2 == 1):
        fl += 1
    mag = fl * quantum
    if mag > FP32_MAX:
        return sign * math.inf
    return sign * float(mag)


def _value(el, code: int) -> Fraction | float:
    v = el.decode_code(int(code))
    return v if not math.isfinite(v) else Fraction(v)


def _scale(fmt, code: int) -> Fraction | float:
    if fmt.scale_rule.value == "pow2":
        return math.nan if code == 0xFF else Fraction(2) ** (int(code) - 127)
    return _value(fmt.scale_element, code)


def ref_dot(fmt_a, codes_a, scale_a, fmt_b, codes_b, scale_b) -> float:
    """Exact reference of one block pair."""
    xa, xb = _scale(fmt_a, scale_a), _scale(fmt_b, scale_b)
    if isinstance(xa, float) or isinstance(xb, float):  # a NaN scale
        return math.nan
    total = Fraction(0)
    infs = set()
    nan = False
    for ca, cb in zip(codes_a, codes_b, strict=True):
        va, vb = _value(fmt_a.element, ca), _value(fmt_b.element, cb)
        if isinstance(va, float) and math.isnan(va) or isinstance(vb, float) and math.isnan(vb):
            nan = True
            continue
        pa = va * xa if not isinstance(va, float) else (math.nan if xa == 0 else math.copysign(math.inf, va))
        pb = vb * xb if not isinstance(vb, float) else (math.nan if xb == 0 else math.copysign(math.inf, vb))
        if isinstance(pa, float) or isinstance(pb, float):
            if (isinstance(pa, float) and math.isnan(pa)) or (isinstance(pb, float) and math.isnan(pb)) \
                    or pa == 0 or pb == 0:
                nan = True
            else:
                infs.add((pa > 0) == (pb > 0))
            continue
        total += pa * pb
    if nan or len(infs) == 2:
        return math.nan
    if infs:
        return math.inf if True in infs else -math.inf
    return fp32_rne(total)


def _assert_same(got: np.ndarray, want: list[float]) -> None:
    want_arr = np.array(want, np.float64).astype(np.float32)
    got = np.asarray(got, np.float32).reshape(-1)
    assert got.shape == want_arr.shape
    both_nan = np.isnan(got) & np.isnan(want_arr)
    same_bits = got.view(np.uint32) == want_arr.view(np.uint32)
    bad = np.flatnonzero(~(both_nan | same_bits))
    assert not bad.size, [(int(i), float(got[i]), float(want_arr[i])) for i in bad[:10]]
    # NaN results are the canonical quiet NaN
    assert np.all(got.view(np.uint32)[np.isnan(got)] == 0x7FC00000)


def _check_against_reference(fmt_a, a: Encoded, fmt_b, b: Encoded) -> np.ndarray:
    got = block_dot(fmt_a, a, fmt_b, b)
    B = fmt_a.block_size
    ca, cb = np.asarray(a.codes).reshape(-1, B), np.asarray(b.codes).reshape(-1, B)
    sa, sb = np.asarray(a.scales).reshape(-1), np.asarray(b.scales).reshape(-1)
    want = [ref_dot(fmt_a, ca[j], sa[j], fmt_b, cb[j], sb[j]) for j in range(len(sa))]
    _assert_same(got, want)
    return got


def _random_codes(fmt, n: int, rng: np.random.Generator) -> Encoded:
    """n blocks of uniformly random element codes (every code, specials included) and scale codes
    (E8M0 extremes 0x00/0xFE/0xFF and NVFP4 0x00 made frequent)."""
    B = fmt.block_size
    codes = rng.integers(0, 1 << fmt.element.bits, size=(n, B)).astype(fmt.code_dtype)
    if fmt.scale_rule.value == "pow2":
        scales = rng.integers(100, 155, size=(n, 1))
        pick = rng.random((n, 1))
        scales = np.where(pick < 0.05, 0x00, np.where(pick < 0.10, 0xFE, np.where(pick < 0.13, 0xFF, scales)))
        scales = np.where((pick > 0.13) & (pick < 0.2), rng.integers(0, 256, size=(n, 1)), scales)
    else:
        scales = rng.integers(0, 256, size=(n, 1))
        scales = np.where(rng.random((n, 1)) < 0.05, 0x00, scales)
    return Encoded(codes=codes, scales=scales.astype(np.uint8), axis=1, format=fmt.name)


@pytest.mark.parametrize("name", FORMATS)
def test_random_codes_match_the_exact_reference(name: str) -> None:
    fmt = hwsim.format(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    a, b = _random_codes(fmt, 600, rng), _random_codes(fmt, 600, rng)
    got = _check_against_reference(fmt, a, fmt, b)
    assert got.shape == (600, 1)


@pytest.mark.parametrize("name", FORMATS)
def test_encoded_gaussian_blocks(name: str) -> None:
    """Realistic operands (hwsim-encoded N(0,1) x 2^k), several blocks per row, axis 0 too."""
    fmt = hwsim.format(name)
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((3 * fmt.block_size, 40)) * np.exp2(rng.integers(-30, 30, size=(1, 40)))).astype(
        np.float32)
    y = rng.standard_normal((3 * fmt.block_size, 40)).astype(np.float32)
    a, b = fmt.encode(x, axis=0), fmt.encode(y, axis=0)
    got = block_dot(fmt, a, fmt, b)
    assert got.shape == (3, 40)
    B = fmt.block_size
    ca = np.moveaxis(a.codes, 0, -1).reshape(-1, B)
    cb = np.moveaxis(b.codes, 0, -1).reshape(-1, B)
    sa, sb = np.moveaxis(a.scales, 0, -1).reshape(-1), np.moveaxis(b.scales, 0, -1).reshape(-1)
    want = [ref_dot(fmt, ca[j], sa[j], fmt, cb[j], sb[j]) for j in range(len(sa))]
    _assert_same(np.moveaxis(got, 0, -1), want)
    # and the decoded values agree with a float64 sum where that is exact enough to compare
    qa, qb = fmt.decode(a).astype(np.float64), fmt.decode(b).astype(np.float64)
    approx = (qa * qb).reshape(3, B, 40).sum(axis=1)
    np.testing.assert_allclose(got, approx, rtol=1e-6, atol=1e-30)


def test_mixed_element_types() -> None:
    """MXFP8 x MXFP4 (same block size, different elements)."""
    rng = np.random.default_rng(3)
    f8, f4 = hwsim.format("mxfp8_e4m3"), hwsim.format("mxfp4")
    _check_against_reference(f8, _random_codes(f8, 300, rng), f4, _random_codes(f4, 300, rng))


def _block(name: str, values_a, values_b, scale_a: int, scale_b: int, B: int = 32) -> tuple:
    """Encoded operands of one block from element values (padded with zeros) and scale codes."""
    fmt = hwsim.format(name)
    cast = hwsim.format(ELEMENT_CAST[name], saturate=False)  # Inf stays Inf
    def codes(values):
        v = np.zeros(B, np.float32)
        v[:len(values)] = values
        c = cast.encode(v).codes
        assert np.all(cast.decode(cast.encode(v)) == v)  # every value representable
        return c.reshape(1, B)
    a = Encoded(codes=codes(values_a), scales=np.array([[scale_a]], np.uint8), axis=1)
    b = Encoded(codes=codes(values_b), scales=np.array([[scale_b]], np.uint8), axis=1)
    return fmt, a, b


@pytest.mark.parametrize(("va", "vb", "sa", "sb", "expected"), [
    # exact ties at FP32's 24 bits: 2^24 + 1 -> 2^24 (even), 2^24 + 3 -> 2^24 + 4
    ([2.0**12, 1.0], [2.0**12, 1.0], 127, 127, 2.0**24),
    ([2.0**12, 3.0], [2.0**12, 1.0], 127, 127, 2.0**24 + 4),
    ([-(2.0**12), 3.0], [2.0**12, -1.0], 127, 127, -(2.0**24 + 4)),
    # a tie plus a far smaller term (sticky) rounds up
    ([2.0**12, 1.0, 2.0**-16], [2.0**12, 1.0, 2.0**-14], 127, 127, 2.0**24 + 2),
    # cancellation: the large terms cancel exactly, the tiny ones survive
    ([2.0**15, -(2.0**15), 2.0**-16], [2.0**15, 2.0**15, 2.0**-16], 127, 127, 2.0**-32),
    ([57344.0, 2.0**-16, -57344.0], [57344.0, 1.0, 57344.0], 127, 127, 2.0**-16),
    # overflow boundary: (2^25 - 1) 2^103 is the midpoint between FP32 max and 2^128 -> Inf (even)
    ([2.0**12, -1.0], [2.0**13, 1.0], 0xFE, 103, math.inf),
    # just under the midpoint: FP32 max
    ([2.0**12, -1.0, -(2.0**-16)], [2.0**13, 1.0, 2.0**-16], 0xFE, 103, float(np.finfo(np.float32).max)),
    # subnormal ties: 3 x 2^-150 -> 2^-148 (even), 1 x 2^-150 -> +0, 5 x 2^-150 -> 2^-148
    ([3.0], [1.0], 0, 104, 3 * 2.0**-150),
    ([1.0], [1.0], 0, 104, 0.0),
    ([5.0], [1.0], 0, 104, 2.0**-148),
    # E8M0 extremes: 0x00 x 0x00 underflows to +0; 0xFE x 0xFE overflows; 0xFF is NaN
    ([1.0], [1.0], 0x00, 0x00, 0.0),
    ([1.0], [1.0], 0xFE, 0xFE, math.inf),
    ([-1.0], [1.0], 0xFE, 0xFE, -math.inf),
    ([0.0], [1.0], 0xFF, 127, math.nan),
    ([1.0], [1.0], 127, 0xFF, math.nan),
    # Inf elements (E5M2): Inf x finite, Inf x 0, +Inf + -Inf
    ([math.inf, 1.0], [2.0, 1.0], 127, 127, math.inf),
    ([math.inf], [0.0], 127, 127, math.nan),
    ([math.inf, math.inf], [1.0, -1.0], 127, 127, math.nan),
])
def test_hand_cases_e5m2(va, vb, sa, sb, expected) -> None:
    fmt, a, b = _block("mxfp8_e5m2", va, vb, sa, sb)
    got = _check_against_reference(fmt, a, fmt, b)  # the reference agrees ...
    want = np.float32(expected)
    if math.isnan(expected):
        assert np.isnan(got[0, 0])
    else:  # ... and so do the hand-derived constants
        assert got[0, 0].view(np.uint32) == want.view(np.uint32), (got[0, 0], want)


def test_subnormal_tie_case_is_what_it_says() -> None:
    # 3 x 2^0 x 2^(0 - 127) x 2^(104 - 127) = 3 x 2^-150: the hand case above
    assert Fraction(3) * Fraction(2) ** (0 - 127) * Fraction(2) ** (104 - 127) == 3 * Fraction(2) ** -150
    assert fp32_rne(3 * Fraction(2) ** -150) == 2.0**-148 and fp32_rne(Fraction(2) ** -150) == 0.0


def test_e4m3_nan_element_and_nvfp4_zero_scale() -> None:
    rng = np.random.default_rng(11)
    fmt = hwsim.format("mxfp8_e4m3")
    a, b = _random_codes(fmt, 4, rng), _random_codes(fmt, 4, rng)
    codes = a.codes.copy()
    codes[:, :] = 0x38  # 1.0
    codes[0, 5] = 0x7F  # NaN element
    scales = np.full((4, 1), 127, np.uint8)
    a = Encoded(codes=codes, scales=scales, axis=1)
    b = Encoded(codes=np.zeros_like(codes), scales=scales, axis=1)  # times zeros
    got = _check_against_reference(fmt, a, fmt, b)
    assert np.isnan(got[0, 0]) and np.all(got[1:] == 0)
    nv = hwsim.format("nvfp4")
    c = np.full((2, 16), 0x7, np.uint8)  # 6.0
    a = Encoded(codes=c, scales=np.array([[0x00], [0x38]], np.uint8), axis=1)
    got = _check_against_reference(nv, a, nv, a)
    assert got[0, 0] == 0.0 and got[1, 0] == 16 * 36.0


def test_short_last_block_and_default_operand() -> None:
    fmt = hwsim.format("mxfp4")
    x = np.linspace(-6, 6, 70, dtype=np.float32).reshape(1, 70)
    enc = fmt.encode(x)
    got = block_dot(fmt, enc)  # a . a
    q = fmt.decode(enc).astype(np.float64)[0]
    want = [np.float32(np.sum(q[i:i + 32] ** 2)) for i in (0, 32, 64)]
    assert got.shape == (1, 3) and list(got[0]) == want


def test_rejects_mismatched_operands() -> None:
    f4, nv = hwsim.format("mxfp4"), hwsim.format("nvfp4")
    x = np.ones((2, 32), np.float32)
    with pytest.raises(FormatError, match="block sizes differ"):
        block_dot(f4, f4.encode(x), nv, nv.encode(x))
    with pytest.raises(FormatError, match="shapes differ"):
        block_dot(f4, f4.encode(x), f4, f4.encode(np.ones((3, 32), np.float32)))
    with pytest.raises(FormatError, match="not block-scaled"):
        block_dot(hwsim.format("fp8_e4m3"), hwsim.format("fp8_e4m3").encode(x))
