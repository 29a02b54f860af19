"""Cross-check plain casts against ml_dtypes (STYLE P6/P7), exhaustively for <= 16-bit elements.

Every catalog entry that names an external twin (``ml_dtypes = "float8_e4m3fn"``) is tested; the
twin is read from that field (ml_dtypes types, or numpy's for ``float16``/``float32``/``int8``).

- decode: every code (fp32: a stride) decodes to the twin's value of the same bits;
- encode (rounding even): every representable value, every midpoint between neighbours, one
  float32 ulp either side of each midpoint, overflow ties, ±Inf and NaN give the twin's RNE cast
  (saturate=False: ml_dtypes' casts do not saturate; saturate=True: np.clip to ±max first).
  NaN results are compared by NaN-ness. ml_dtypes' float4/float6 have no NaN/Inf: there it
  saturates Inf and maps NaN to a zero; the spec raises FormatError for NaN, so NaN inputs are
  compared only where the format has a NaN;
- away/zero/stochastic: the same probes against the Fraction oracle.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import hwsim
from hwsim.catalog import core_formats
from hwsim.errors import FormatError
from hwsim.numerics import Encoded
from hwsim.numerics import _reference as R
from tests.numerics.numerics_helpers import assert_same_f32

#: formats built in code whose layout ml_dtypes also implements: more shapes of the one kernel
BUILT_TWINS = [
    hwsim.format("fp", exp_bits=4, man_bits=3, bias=11, specials="fnuz").replace(
        name="fp8_e4m3b11fnuz", ml_dtypes="float8_e4m3b11fnuz"),
    hwsim.format("fp", exp_bits=3, man_bits=4).replace(name="fp8_e3m4", ml_dtypes="float8_e3m4"),
    hwsim.format("fp", exp_bits=4, man_bits=3).replace(name="fp8_e4m3_ieee", ml_dtypes="float8_e4m3"),
]
TWINNED = [f for f in core_formats() if f.ml_dtypes] + BUILT_TWINS
FLOAT_TWINS = [f for f in TWINNED if f.element.is_float]
INT_TWINS = [f for f in TWINNED if not f.element.is_float]


def twin_type(name: str) -> type:
    t = getattr(ml_dtypes, name, None)
    return t if t is not None else np.dtype(name).type


def code_dtype(bits: int) -> type:
    return {8: np.uint8, 16: np.uint16, 32: np.uint32}[max(8, 1 << (bits - 1).bit_length())]


def codes_of(fmt) -> np.ndarray:
    """Every code (<= 16 bits), a stride of 65537 plus the special codes for fp32."""
    bits = fmt.element.bits
    if bits <= 16:
        return np.arange(1 << bits, dtype=code_dtype(bits))
    c = np.arange(0, 1 << 32, 65537, dtype=np.uint64)
    extra = [0, 1, 0x7F7FFFFF, 0x7F800000, 0x7FC00000, 0x80000000, 0x80800000, 0xFF800000, 0x00800000]
    return np.unique(np.concatenate([c, np.array(extra, np.uint64)])).astype(np.uint32)


def twin_values(fmt, codes: np.ndarray) -> np.ndarray:
    """float32 value of each code according to the twin (sub-byte types sit in a uint8)."""
    t = twin_type(fmt.ml_dtypes)
    return codes.view(t).astype(np.float32) if np.dtype(t).itemsize == codes.itemsize else \
        codes.astype(np.uint8).view(t).astype(np.float32)


@pytest.mark.parametrize("fmt", TWINNED, ids=lambda f: f.name)
def test_decode_every_code(fmt) -> None:
    codes = codes_of(fmt)
    if fmt.element.bits <= 8:
        codes = codes.astype(np.uint8)
    got = fmt.decode(Encoded(codes, None, None, 0, fmt.name))
    want = codes.view(np.int8).astype(np.float32) if not fmt.element.is_float else twin_values(fmt, codes)
    if not fmt.element.is_float:
        # two's complement: code 0x80 decodes to -128 (docs/numerics.md, never written by encode)
        assert want.min() == -128
    assert_same_f32(got, want, f"{fmt.name} decode")


@np.errstate(over="ignore", invalid="ignore")
def probes(fmt) -> np.ndarray:
    """Representable values, midpoints, ±1 float32 ulp around each midpoint, overflow probes."""
    codes = codes_of(fmt)
    vals = twin_values(fmt, codes).astype(np.float64)
    v = np.unique(vals[np.isfinite(vals)])
    v = v[v >= 0]
    if fmt.element.bits > 16:  # fp32: the values themselves and their float32 neighbours
        v32 = v.astype(np.float32)
        out = np.concatenate([v32, np.nextafter(v32, np.float32(np.inf))])
        return np.concatenate([out, -out, np.float32([np.inf, -np.inf, np.nan])])
    top_ulp = v[-1] - v[-2]
    v = np.append(v, v[-1] + top_ulp)  # the first value past max: its midpoint is the overflow tie
    mids = ((v[1:] + v[:-1]) / 2).astype(np.float32)
    assert np.all(mids.astype(np.float64) == (v[1:] + v[:-1]) / 2), "midpoints exact in float32"
    inf = np.float32(np.inf)
    out = np.concatenate([v[:-1].astype(np.float32), mids, np.nextafter(mids, inf),
                          np.nextafter(mids, -inf), np.float32([2 * v[-1], 1e30, 3.4e38])])
    out = np.concatenate([out, -out, np.float32([np.inf, -np.inf, np.nan, -np.nan])])
    return out


def twin_cast_codes(fmt, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, float32 values) of the twin's RNE cast of float32 x."""
    t = twin_type(fmt.ml_dtypes)
    with np.errstate(over="ignore", invalid="ignore"):
        y = x.astype(t)
    vals = y.astype(np.float32)
    raw = y.view(code_dtype(8 * np.dtype(t).itemsize))
    return raw.astype(fmt.code_dtype if fmt.element.bits <= 16 else np.uint32), vals


def compare_codes(fmt, x: np.ndarray, got: np.ndarray, want: np.ndarray, want_vals: np.ndarray,
                  what: str) -> None:
    nan = np.isnan(want_vals)
    got_vals = fmt.decode(Encoded(got, None, None, 0, fmt.name))
    assert np.array_equal(np.isnan(got_vals), nan), f"{what}: NaN-ness differs at " \
        f"{x[np.isnan(got_vals) != nan][:5]}"
    bad = ~nan & (got != want)
    if bad.any():
        i = np.flatnonzero(bad)[:6]
        raise AssertionError(f"{fmt.name} {what}: {int(bad.sum())}/{x.size} codes differ; x, got, want: "
                             + ", ".join(f"({x[j]!r}, {int(got[j]):#x}, {int(want[j]):#x})" for j in i))


@pytest.mark.parametrize("fmt", FLOAT_TWINS, ids=lambda f: f.name)
def test_encode_rne_no_saturation(fmt) -> None:
    x = probes(fmt)
    if not fmt.element.has_nan:
        x = x[~np.isnan(x)]
    f = fmt.replace(rounding="even", saturate=False)
    want, want_vals = twin_cast_codes(fmt, x)
    got = f.encode(x).codes
    assert got.dtype == want.dtype and got.shape == x.shape
    compare_codes(f, x, got, want, want_vals, "RNE saturate=False")
    # quantize agrees with the twin's value bit for bit (incl. -0)
    assert_same_f32(f.quantize(x), want_vals, f"{fmt.name} quantize")


@pytest.mark.parametrize("fmt", FLOAT_TWINS, ids=lambda f: f.name)
def test_encode_rne_saturating(fmt) -> None:
    x = probes(fmt)
    if not fmt.element.has_nan:
        x = x[~np.isnan(x)]
    f = fmt.replace(rounding="even", saturate=True)
    mx = np.float32(fmt.element.max)
    want, want_vals = twin_cast_codes(fmt, np.clip(x, -mx, mx))
    compare_codes(f, x, f.encode(x).codes, want, want_vals, "RNE saturate=True")


@pytest.mark.parametrize("fmt", [f for f in FLOAT_TWINS if not f.element.has_nan], ids=lambda f: f.name)
def test_nan_into_finite_format_raises(fmt) -> None:
    with pytest.raises(FormatError, match="(?i)nan"):
        fmt.encode(np.array([1.0, np.nan], np.float32))


@pytest.mark.parametrize("fmt", INT_TWINS, ids=lambda f: f.name)
def test_int_encode_matches_rint_clip(fmt) -> None:
    """Integers: RNE (np.rint) then clamp to ±qmax, the twin's bits (two's complement)."""
    q = fmt.element.qmax
    k = np.arange(-q - 3, q + 4, dtype=np.float64)
    x = np.concatenate([k, k + 0.5, k + 0.25, k + 0.75, np.nextafter(k + 0.5, np.inf),
                        np.nextafter(k + 0.5, -np.inf)]).astype(np.float32)
    x = np.concatenate([x, np.float32([np.inf, -np.inf, 1e30, -1e30])])
    with np.errstate(invalid="ignore"):
        want = np.clip(np.rint(x.astype(np.float64)), -q, q).astype(twin_type(fmt.ml_dtypes))
    got = fmt.replace(rounding="even").encode(x).codes
    np.testing.assert_array_equal(got, want.view(np.uint8))


MODES = ["away", "zero", "stochastic"]


def oracle_probes(fmt) -> np.ndarray:
    x = probes(fmt)
    if fmt.element.bits > 8:  # keep the Fraction oracle fast: a stride of the 16/32-bit probes
        x = np.concatenate([x[:: max(1, x.size // 1500)], x[-8:]])
    if not fmt.element.has_nan:
        x = x[~np.isnan(x)]
    return x


@pytest.mark.parametrize("saturate", [False, True], ids=["nosat", "sat"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fmt", FLOAT_TWINS, ids=lambda f: f.name)
def test_other_modes_vs_oracle(fmt, mode: str, saturate: bool) -> None:
    x = oracle_probes(fmt)
    f = fmt.replace(rounding=mode, saturate=saturate, seed=7)
    want, _, _ = R.ref_encode(f, x)
    got = f.encode(x).codes
    want_vals = R.ref_decode(f, want)
    compare_codes(f, x, got, want, want_vals, f"{mode} saturate={saturate}")


def test_every_twin_is_a_real_type() -> None:
    """P7: the catalog's twin names resolve (a typo would silently skip the checks above)."""
    assert FLOAT_TWINS, "no catalog entry names an ml_dtypes twin"
    for f in TWINNED:
        t = twin_type(f.ml_dtypes)
        assert np.dtype(t).itemsize * 8 >= f.element.bits, f.name
        if f.element.is_float and f.ml_dtypes not in ("float32",):
            fi = ml_dtypes.finfo(t)
            assert float(fi.max) == f.element.max, f.name
            assert float(fi.smallest_subnormal) == f.element.smallest_subnormal, f.name
