"""Plain minifloat casts (every catalog float element, plus a few built in code) vs the oracle.

STYLE P4/P6: every code of every <= 16-bit format round-trips; representable values, midpoints,
±1 float32 ulp around them and overflow ties are probed for each RoundMode with saturate on
and off, through numpy and torch; expected codes come from hwsim/numerics/_reference.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import hwsim
from hwsim.catalog import core_formats
from hwsim.errors import FormatError
from hwsim.numerics import _reference as R
from tests.numerics.impls import IMPLS, decode, encode, quantize
from tests.numerics.numerics_helpers import assert_same_f32

BUILT = [  # formats built in code: shapes the catalog lacks (E3M4 ieee, fn/fnuz variants, E5M0?)
    hwsim.format("fp", exp_bits=3, man_bits=4),
    hwsim.format("fp", exp_bits=4, man_bits=3, bias=11, specials="fnuz").replace(name="fp8_e4m3b11fnuz"),
    hwsim.format("fp", exp_bits=3, man_bits=2, specials="fn").replace(name="fp6_e3m2fn"),
    hwsim.format("fp", exp_bits=2, man_bits=1, specials="ieee").replace(name="fp4_e2m1_ieee"),
    hwsim.format("fp", exp_bits=6, man_bits=5),
]
FLOATS = [f for f in core_formats() if not f.is_scaled and f.element.is_float] + BUILT
MODES = ["even", "away", "zero", "stochastic"]
ids = lambda f: f.name  # noqa: E731


def every_code(fmt) -> np.ndarray:
    bits = fmt.element.bits
    if bits <= 16:
        return np.arange(1 << bits, dtype=fmt.code_dtype)
    c = np.arange(0, 1 << 32, 4099 * 4099 + 2, dtype=np.uint64)  # fp32: a stride
    special = [0, 1, 0x7F7FFFFF, 0x7F800000, 0x7FC00001, 0x80000000, 0x807FFFFF, 0xFF800000]
    return np.concatenate([c, np.array(special, np.uint64)]).astype(np.uint32)


def is_nan_code(fmt, c: int) -> bool:
    v = R.decode_element(fmt.element, int(c))
    return isinstance(v, float) and math.isnan(v)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fmt", FLOATS, ids=ids)
def test_decode_every_code_vs_oracle(fmt, impl: str) -> None:
    """Every code of <= 8-bit formats, every 7th of 16-bit ones (test_vs_ml_dtypes does all)."""
    codes = every_code(fmt)
    if fmt.element.bits > 8:
        codes = codes[::7]
    want = R.ref_decode(fmt, codes)
    got = decode(impl, fmt, hwsim.numerics.Encoded(codes, None, None, 0, fmt.name))
    assert_same_f32(got, want, f"{fmt.name} decode")


@pytest.mark.parametrize("saturate", [True, False], ids=["sat", "nosat"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", FLOATS, ids=ids)
def test_roundtrip_every_code(fmt, mode: str, saturate: bool) -> None:
    """encode(decode(c)) == c for every finite code; NaN codes re-encode to a NaN code; Inf codes
    to themselves (saturate=False) or to ±max (saturate=True)."""
    f = fmt.replace(rounding=mode, saturate=saturate)
    codes = every_code(fmt)
    vals = f.decode(hwsim.numerics.Encoded(codes, None, None, 0, f.name))
    back = f.encode(vals).codes
    assert back.dtype == codes.dtype
    nan = np.isnan(vals)
    want = codes.copy()
    if saturate:
        mx = R.encode_element(f.element, float(R.max_finite(f.element)))
        want[np.isinf(vals)] = np.where(vals[np.isinf(vals)] > 0, mx, mx | (1 << (f.element.bits - 1)))
    bad = ~nan & (back != want)
    assert not bad.any(), f"{f.name}: codes {codes[bad][:8]} -> {back[bad][:8]}"
    assert all(is_nan_code(f, c) for c in back[nan])


@np.errstate(over="ignore")
def probe_values(fmt) -> np.ndarray:
    """All finite values (<= 8 bits; a sample of wider formats), midpoints, ±1 ulp, overflow."""
    el = fmt.element
    codes = every_code(fmt)
    if el.bits > 8:
        codes = codes[:: max(1, codes.size // 700)]
    v = np.array([R.decode_element(el, int(c)) for c in codes], dtype=object)
    fin = sorted({abs(x) for x in v if not (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))})
    mx = R.max_finite(el)
    top = mx - max(x for x in fin if x < mx)
    fin = [x for x in fin] + [mx + top]
    mids = [(a + b) / 2 for a, b in zip(fin[:-1], fin[1:], strict=False)]
    mids32 = np.array([float(m) for m in mids], dtype=np.float64).astype(np.float32)
    inf = np.float32(np.inf)
    out = np.concatenate([np.array([float(x) for x in fin[:-1]], np.float32), mids32,
                          np.nextafter(mids32, inf), np.nextafter(mids32, -inf),
                          np.float32([float(mx) * 4, 1e38, 0.0, np.finfo(np.float32).tiny, 1e-45])])
    return np.concatenate([out, -out])


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("saturate", [True, False], ids=["sat", "nosat"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", FLOATS, ids=ids)
def test_probes_vs_oracle(fmt, mode: str, saturate: bool, impl: str) -> None:
    f = fmt.replace(rounding=mode, saturate=saturate, seed=3)
    x = probe_values(f).reshape(2, -1)  # 2-D: stochastic bits follow the C-order flat index
    want_codes, _, _ = R.ref_encode(f, x)
    enc = encode(impl, f, x)
    assert enc.scales is None and enc.tensor_scale is None
    assert enc.codes.dtype == want_codes.dtype and enc.codes.shape == x.shape
    wv = R.ref_decode(f, want_codes)
    nan = np.isnan(wv)
    bad = (enc.codes != want_codes) & ~nan
    assert np.array_equal(np.isnan(decode(impl, f, enc)), nan)
    if bad.any():
        xs, g, w = x[bad][:6], enc.codes[bad][:6], want_codes[bad][:6]
        raise AssertionError(f"{f.name} {mode} sat={saturate}: {int(bad.sum())} codes differ; "
                             + ", ".join(f"x={a!r} ({np.float32(a).view(np.uint32):#010x}): got "
                                         f"{int(b):#x} want {int(c):#x}" for a, b, c in zip(xs, g, w, strict=False)))
    assert_same_f32(quantize(impl, f, x), wv, f"{f.name} quantize")


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fmt", FLOATS, ids=ids)
def test_special_inputs(fmt, impl: str) -> None:
    """±0 keep their sign (fnuz: +0); ±Inf -> ±max (saturate) or the overflow code; NaN ->
    the canonical NaN (sign kept where the format has a signed NaN) or FormatError."""
    el = fmt.element
    sign = 1 << (el.bits - 1)
    mx_code = R.encode_element(el, float(R.max_finite(el)))
    x = np.float32([0.0, -0.0, np.inf, -np.inf])
    for saturate in (True, False):
        f = fmt.replace(saturate=saturate)
        got = encode(impl, f, x).codes
        want = [R.encode_element(el, float(v), saturate=saturate) for v in x]
        assert list(got) == want, (saturate, list(got), want)
        # hand-derived expectations, independent of the oracle
        assert got[0] == 0
        assert got[1] == (0 if el.specials.value == "fnuz" else sign)
        if saturate or el.specials.value == "finite":
            assert list(got[2:]) == [mx_code, mx_code | sign]
    if el.has_nan:
        got = encode(impl, fmt, np.float32([np.nan, -np.nan])).codes
        want = [R.nan_code(el, False), R.nan_code(el, el.specials.value != "fnuz")]
        assert list(got) == want
    else:
        with pytest.raises(FormatError, match="(?i)nan"):
            encode(impl, fmt, np.float32([1.0, np.nan]))


@pytest.mark.parametrize("fmt", FLOATS, ids=ids)
def test_input_dtypes(fmt) -> None:
    """float64 is first rounded to float32 (RNE), float16 / bfloat16 convert exactly."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(5)
    x64 = rng.normal(size=300) * 2.0 ** rng.integers(-20, 20, 300)
    q32 = fmt.quantize(x64.astype(np.float32))
    assert_same_f32(fmt.quantize(x64), q32, "float64 input")
    for dt in (np.float16, ml_dtypes.bfloat16):
        with np.errstate(over="ignore"):
            xs = x64.astype(dt)
        assert_same_f32(fmt.quantize(xs), fmt.quantize(xs.astype(np.float32)), str(dt))
    for bad in (np.arange(4), np.arange(4) > 1, np.ones(3, np.complex64)):
        with pytest.raises(FormatError, match=str(bad.dtype)):
            fmt.encode(bad)


def test_float64_double_rounding_is_documented() -> None:
    """2.5 + 2^-30 in float64 rounds to 2.5 in float32 first, then ties to even 2 in E2M1."""
    f = hwsim.format("fp4_e2m1")
    assert f.quantize(np.array([2.5 + 2.0**-30]))[0] == 2.0
    assert f.quantize(np.array([2.5 + 2.0**-20]))[0] == 3.0


@pytest.mark.parametrize("impl", IMPLS)
def test_shapes(impl: str) -> None:
    f = hwsim.format("fp8_e4m3")
    for shape in [(), (0,), (1,), (3, 0, 2), (2, 3, 4)]:
        x = np.full(shape, 1.1, np.float32)
        q = quantize(impl, f, x)
        assert q.shape == shape and q.dtype == np.float32
        assert np.all(q == np.float32(1.125))
        enc = encode(impl, f, x)
        assert enc.codes.shape == shape and enc.codes.dtype == np.uint8
