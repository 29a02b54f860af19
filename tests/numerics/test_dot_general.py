"""hwsim.numerics.dot.dot_general (OCP MX v1.0 §6.2 DotGeneral) against a reference written here.

The reference reads every element and scale code with the element's own scalar ``decode_code``,
sums each block's products exactly in ``fractions.Fraction``, rounds each block sum to float32 with
Python's exact ``round`` of a Fraction (ties to even) and then adds the block results in block
order with numpy float32 additions starting from +0.0, as docs/numerics.md ("Dot product over a
whole axis") fixes the precision; NVFP4's tensor scales multiply the sum afterwards, ``a``'s first.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.dot import dot_general
from hwsim.numerics.encoded import Encoded

FORMATS = ("mxfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp8_e4m3", "mxfp8_e5m2", "mxint8", "nvfp4", "msfp12",
           "msfp16", "bfp12_b32")
F32_QNAN = 0x7FC00000


def to_f32(q: Fraction) -> np.float32:
    """The float32 nearest to ``q`` (ties to even), overflowing to +-Inf: Python's ``round`` of a
    Fraction is exact and rounds half to even."""
    if q == 0:
        return np.float32(0.0)
    mag = abs(q)
    e = mag.numerator.bit_length() - mag.denominator.bit_length()  # 2^e <= mag < 2^(e+2)
    while Fraction(2) ** (e + 1) <= mag:
        e += 1
    while Fraction(2) ** e > mag:
        e -= 1
    ulp = Fraction(2) ** (max(e, -126) - 23)
    r = round(mag / ulp) * ulp
    if r >= Fraction(2) ** 128 - Fraction(2) ** 103:  # above FP32 max (2^128 - 2^104) after rounding
        out = math.inf
    else:
        out = float(r)  # exactly a float32 value, hence exact in float64
    return np.float32(-out if q < 0 else out)


def value(el, code: int) -> Fraction | float:
    v = el.decode_code(int(code))
    return Fraction(v) if math.isfinite(v) else v


def scale_value(fmt, code: int) -> Fraction | float:
    if fmt.scale_rule.value == "pow2":
        return math.nan if code == 0xFF else Fraction(2) ** (int(code) - 127)
    return value(fmt.scale_element, code)


def ref_block(fmt_a, ca, sa, fmt_b, cb, sb) -> np.float32:
    """One block pair: exact sum of the products of decoded values, one rounding; the specials of
    OCP MX v1.0 §5.2 / OFP8 §4 by plain float arithmetic on the special products."""
    xa, xb = scale_value(fmt_a, sa), scale_value(fmt_b, sb)
    if isinstance(xa, float) or isinstance(xb, float):
        return np.float32(math.nan)
    total, special = Fraction(0), []
    for i in range(len(ca)):
        pa, pb = value(fmt_a.element, ca[i]), value(fmt_b.element, cb[i])
        if isinstance(pa, float) or isinstance(pb, float):  # NaN or Inf involved: IEEE product
            special.append(float(pa) * float(xa) * float(pb) * float(xb))
        else:
            total += pa * xa * pb * xb
    if special:  # any NaN, or Infs of both signs -> NaN; else the Inf
        if any(math.isnan(v) for v in special) or len({v > 0 for v in special}) == 2:
            return np.float32(math.nan)
        return np.float32(special[0])
    return to_f32(total)


def ref_dot_general(fmt_a, a: Encoded, fmt_b, b: Encoded) -> np.ndarray:
    """Rows of codes (n, K) along axis 1 with scales (n, ceil(K/B)): one float32 per row."""
    B = fmt_a.block_size
    ca, cb = np.asarray(a.codes), np.asarray(b.codes)
    sa, sb = np.asarray(a.scales), np.asarray(b.scales)
    out = np.zeros(ca.shape[0], np.float32)
    for r in range(ca.shape[0]):
        acc = np.float32(0.0)
        for j in range(sa.shape[1]):
            d = ref_block(fmt_a, ca[r, j * B:(j + 1) * B], sa[r, j], fmt_b, cb[r, j * B:(j + 1) * B], sb[r, j])
            with np.errstate(invalid="ignore", over="ignore"):
                acc = np.float32(acc + d)
        with np.errstate(invalid="ignore", over="ignore"):
            for ts in (a.tensor_scale, b.tensor_scale):
                if ts is not None:
                    acc = np.float32(acc * np.float32(ts))
        out[r] = acc
    return out


def assert_bits(got: np.ndarray, want: np.ndarray) -> None:
    got, want = np.asarray(got, np.float32).reshape(-1), np.asarray(want, np.float32).reshape(-1)
    assert got.shape == want.shape
    ok = (got.view(np.uint32) == want.view(np.uint32)) | (np.isnan(got) & np.isnan(want))
    bad = np.flatnonzero(~ok)
    assert not bad.size, [(int(i), float(got[i]), float(want[i])) for i in bad[:8]]
    assert np.all(got.view(np.uint32)[np.isnan(got)] == F32_QNAN)


def random_operand(fmt, rows: int, k: int, rng: np.random.Generator, *, specials: bool = True) -> Encoded:
    """Random element codes (every code, NaN/Inf included unless ``specials=False``) and scale codes
    near 2^0 with the extremes (E8M0 0x00, 0xFE, 0xFF; E4M3 0x00) mixed in; a tensor scale when the
    format has one."""
    B = fmt.block_size
    nb = -(-k // B)
    codes = rng.integers(0, 1 << fmt.element.bits, size=(rows, k))
    if not specials:
        vals = np.array([fmt.element.decode_code(int(c)) for c in range(1 << fmt.element.bits)])
        finite = np.flatnonzero(np.isfinite(vals))
        codes = finite[rng.integers(0, len(finite), size=(rows, k))]
    if fmt.scale_rule.value == "pow2":
        scales = rng.integers(110, 145, size=(rows, nb))
        pick = rng.random((rows, nb))
        if specials:
            scales = np.where(pick < 0.03, 0x00, np.where(pick < 0.06, 0xFE, np.where(pick < 0.08, 0xFF, scales)))
    else:
        scales = rng.integers(0x20, 0x50, size=(rows, nb))  # E4M3 2^-3 .. 2^3
        if specials:
            scales = np.where(rng.random((rows, nb)) < 0.05, 0x00, scales)
    ts = np.float32(rng.uniform(1e-3, 1e3)) if fmt.tensor_scale else None
    return Encoded(codes=codes.astype(fmt.code_dtype), scales=scales.astype(np.uint8), tensor_scale=ts,
                   axis=1, format=fmt.name)


def fmt_of(name: str):
    return hwsim.format(name, tensor_scale=True) if name == "nvfp4" else hwsim.format(name)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("specials", [False, True])
def test_random_codes_match_the_reference(name: str, specials: bool) -> None:
    fmt = fmt_of(name)
    rng = np.random.default_rng(sum(map(ord, name)) + specials)
    k = 5 * fmt.block_size - 3  # a partial last block
    a, b = random_operand(fmt, 60, k, rng, specials=specials), random_operand(fmt, 60, k, rng, specials=specials)
    got = dot_general(fmt, a, fmt, b)
    assert got.shape == (60,) and got.dtype == np.float32
    assert_bits(got, ref_dot_general(fmt, a, fmt, b))


def test_mixed_mxfp8_x_mxfp4() -> None:
    rng = np.random.default_rng(5)
    for n8 in ("mxfp8_e4m3", "mxfp8_e5m2"):
        f8, f4 = hwsim.format(n8), hwsim.format("mxfp4")
        a, b = random_operand(f8, 50, 100, rng), random_operand(f4, 50, 100, rng)
        assert_bits(dot_general(f8, a, f4, b), ref_dot_general(f8, a, f4, b))


def test_encoded_gaussian_rows_on_any_axis() -> None:
    """hwsim-encoded N(0,1) operands: axis 0 and axis -1 agree, and a 1-d vector gives a 0-d result."""
    rng = np.random.default_rng(1)
    for name in ("mxfp4", "mxfp8_e5m2", "nvfp4"):
        fmt = fmt_of(name)
        x = rng.standard_normal((7, 200)).astype(np.float32)
        y = rng.standard_normal((7, 200)).astype(np.float32)
        rows = dot_general(fmt, fmt.encode(x), fmt, fmt.encode(y))
        cols = dot_general(fmt, fmt.encode(x.T.copy(), axis=0), fmt, fmt.encode(y.T.copy(), axis=0))
        assert_bits(rows, cols)
        one = dot_general(fmt, fmt.encode(x[3]), fmt, fmt.encode(y[3]))
        assert one.shape == ()
        if not fmt.tensor_scale:  # a tensor scale depends on the whole tensor encoded
            assert one.view(np.uint32) == rows[3].view(np.uint32)
        ea, eb = fmt.encode(x), fmt.encode(y)
        assert_bits(rows, ref_dot_general(fmt, ea, fmt, eb))
        # close to the float64 dot product of the decoded values (a sanity bound, not the contract)
        approx = (fmt.decode(ea).astype(np.float64) * fmt.decode(eb).astype(np.float64)).sum(axis=1)
        np.testing.assert_allclose(rows, approx, rtol=1e-5, atol=1e-5)


def _hand(name: str, block_values_a, block_values_b, scales_a, scales_b) -> tuple:
    """Operands of one row from per-block element values (E5M2 / E4M3 exact) and scale codes."""
    fmt = hwsim.format(name)
    cast = hwsim.format({"mxfp8_e5m2": "fp8_e5m2", "mxfp8_e4m3": "fp8_e4m3"}[name], saturate=False)
    B = fmt.block_size

    def codes(blocks):
        v = np.zeros(len(blocks) * B, np.float32)
        for j, vals in enumerate(blocks):
            v[j * B:j * B + len(vals)] = vals
        enc = cast.encode(v)
        assert np.array_equal(cast.decode(enc), v, equal_nan=True)
        return enc.codes.reshape(1, -1)

    a = Encoded(codes=codes(block_values_a), scales=np.array([scales_a], np.uint8), axis=1)
    b = Encoded(codes=codes(block_values_b), scales=np.array([scales_b], np.uint8), axis=1)
    return fmt, a, b


@pytest.mark.parametrize(("va", "vb", "sa", "sb", "expected"), [
    # block order is visible: 2^24, then +1 (tie -> 2^24), then +1 again (2^24). A float64 sum
    # or the reverse order (1 + 1 + 2^24) gives 2^24 + 2.
    ([[2.0**12], [1.0], [1.0]], [[2.0**12], [1.0], [1.0]], [127] * 3, [127] * 3, 2.0**24),
    # the sum of the exact block results is not rounded once: 2^24 + 1 + 1 in one block is 2^24 + 2
    ([[2.0**12, 1.0, 1.0]], [[2.0**12, 1.0, 1.0]], [127], [127], 2.0**24 + 2),
    # +0.0 start: -0.0 block results (an underflow) sum to +0.0
    ([[-1.0], [1.0]], [[1.0], [-1.0]], [0, 0], [0, 0], 0.0),
    # a NaN scale in one block makes the row NaN; +Inf and -Inf in two blocks -> NaN
    ([[1.0], [1.0]], [[1.0], [1.0]], [127, 0xFF], [127, 127], math.nan),
    ([[math.inf], [-math.inf]], [[1.0], [1.0]], [127, 127], [127, 127], math.nan),
    ([[math.inf], [2.0]], [[1.0], [-3.0]], [127, 127], [127, 127], math.inf),
    # two finite blocks of 2^127 each overflow FP32 in the accumulator; zero blocks add nothing
    ([[2.0**15], [2.0**15], [0.0]], [[2.0**15], [2.0**15], [3.0]], [224, 224, 127], [127, 127, 127], math.inf),
    ([[0.0], [0.0]], [[5.0], [7.0]], [127, 127], [127, 127], 0.0),
])
def test_hand_cases(va, vb, sa, sb, expected) -> None:
    fmt, a, b = _hand("mxfp8_e5m2", va, vb, sa, sb)
    got = dot_general(fmt, a, fmt, b)
    assert_bits(got, ref_dot_general(fmt, a, fmt, b))
    want = np.float32(expected)
    if math.isnan(expected):
        assert np.isnan(got)
    else:
        assert got.view(np.uint32) == want.view(np.uint32), (got, want)


def test_nvfp4_tensor_scales_follow_decode_for_one_element() -> None:
    """``a`` times a unit vector e_i (element 1.0, scale 1.0, tensor scale 1) is ``decode(a)[i]``
    (and e_i times ``a`` too):
    the rule fp32(fp32(acc * ts_a) * ts_b) agrees with decode's single rounding of e * s * ts."""
    fmt = hwsim.format("nvfp4", tensor_scale=True)
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((1, 48)) * 1e4).astype(np.float32)
    a = fmt.encode(x)
    decoded = fmt.decode(a)[0]
    one_e2m1 = next(c for c in range(16) if fmt.element.decode_code(c) == 1.0)
    one_e4m3 = next(c for c in range(256) if fmt.scale_element.decode_code(c) == 1.0)
    for i in range(48):
        codes = np.zeros((1, 48), np.uint8)
        codes[0, i] = one_e2m1
        unit = Encoded(codes=codes, scales=np.full((1, 3), one_e4m3, np.uint8), tensor_scale=np.float32(1.0),
                       axis=1, format=fmt.name)
        # bit for bit, except that a zero is +0.0 (the block accumulator has no signed zero)
        want = decoded[i] if decoded[i] != 0 else np.float32(0.0)
        got = dot_general(fmt, a, fmt, unit)[0]
        assert got.view(np.uint32) == want.view(np.uint32), (i, got, decoded[i])
        got_ba = dot_general(fmt, unit, fmt, a)[0]
        assert got_ba.view(np.uint32) == want.view(np.uint32)


def test_nvfp4_tensor_scales_apply_a_first() -> None:
    """fp32(fp32(acc * ts_a) * ts_b): the order shows in the last bit for these scales."""
    fmt = hwsim.format("nvfp4", tensor_scale=True)
    six = next(c for c in range(8) if fmt.element.decode_code(c) == 6.0)
    s1 = next(c for c in range(256) if fmt.scale_element.decode_code(c) == 1.0)
    codes = np.zeros((1, 16), np.uint8)
    codes[0, 0] = six  # acc = 36
    ts_a, ts_b = np.uint32(1072488769).view(np.float32), np.uint32(1070696438).view(np.float32)
    a = Encoded(codes=codes, scales=np.array([[s1]], np.uint8), tensor_scale=ts_a, axis=1)
    b = Encoded(codes=codes, scales=np.array([[s1]], np.uint8), tensor_scale=ts_b, axis=1)
    a_first = to_f32(Fraction(float(to_f32(36 * Fraction(float(ts_a))))) * Fraction(float(ts_b)))
    b_first = to_f32(Fraction(float(to_f32(36 * Fraction(float(ts_b))))) * Fraction(float(ts_a)))
    assert a_first != b_first
    assert dot_general(fmt, a, fmt, b)[0] == a_first
    assert dot_general(fmt, b, fmt, a)[0] == b_first


def test_errors_name_the_field() -> None:
    f4, nv = hwsim.format("mxfp4"), hwsim.format("nvfp4")
    x = np.ones((2, 32), np.float32)
    with pytest.raises(FormatError, match="block sizes differ"):
        dot_general(f4, f4.encode(x), nv, nv.encode(x))
    with pytest.raises(FormatError, match="shapes differ"):
        dot_general(f4, f4.encode(x), f4, f4.encode(np.ones((3, 32), np.float32)))
    with pytest.raises(FormatError, match="not block-scaled"):
        dot_general(hwsim.format("fp8_e4m3"), hwsim.format("fp8_e4m3").encode(x))
    nvt = hwsim.format("nvfp4", tensor_scale=True)
    with pytest.raises(FormatError, match="tensor_scale"):
        dot_general(nv, nvt.encode(x))  # an operand with a tensor scale read by a format without one
    with pytest.raises(FormatError, match="tensor_scale"):
        dot_general(nvt, nv.encode(x))
    with pytest.raises(FormatError, match="tensor_scale"):
        dot_general(nvt, Encoded(codes=np.zeros((1, 16), np.uint8), scales=np.zeros((1, 1), np.uint8),
                                 tensor_scale=np.float32(-1.0), axis=1))


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(FORMATS), rows=st.integers(1, 4), k=st.integers(1, 70), seed=st.integers(0, 2**32 - 1),
       specials=st.booleans())
def test_property_matches_reference(name: str, rows: int, k: int, seed: int, specials: bool) -> None:
    fmt = fmt_of(name)
    rng = np.random.default_rng(seed)
    a, b = random_operand(fmt, rows, k, rng, specials=specials), random_operand(fmt, rows, k, rng, specials=specials)
    got = dot_general(fmt, a, fmt, b)
    assert_bits(got, ref_dot_general(fmt, a, fmt, b))
    if not fmt.tensor_scale:  # each block product and the FP32 sum are symmetric in a and b
        assert_bits(dot_general(fmt, b, fmt, a), got)
