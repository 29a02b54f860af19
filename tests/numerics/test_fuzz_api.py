"""Property-based fuzz of the public format API (issue 10, "A test that keeps it this way").

Hypothesis draws catalog format names, overrides (valid and hostile), shapes (empty included),
dtypes, axes (out of range included), special values (NaN, +-Inf, -0, subnormals, the float32
extremes) and corrupted :class:`Encoded` objects, and asserts that every public call either

- returns what the oracle says: the ``fractions.Fraction`` oracle (:mod:`hwsim.numerics._reference`)
  for the element-plus-scaling formats, ``decode(encode(x))`` bit for bit for the families, the
  uncorrupted decode for an Encoded whose corruption keeps its meaning; or
- raises a :class:`~hwsim.errors.HwsimError` subclass with a message,

never another exception type and never a silent mismatch. ``make test`` runs a bounded number of
examples (``HWSIM_FUZZ_EXAMPLES``, default 15 per property); the ``slow`` copies (``make test-all``)
run ten times as many.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import hwsim
from hwsim.errors import HwsimError
from hwsim.numerics import Encoded, Format
from hwsim.numerics import _reference as R
from hwsim.numerics.encoded import fingerprint
from tests.numerics.numerics_helpers import assert_same_f32

EXAMPLES = int(os.environ.get("HWSIM_FUZZ_EXAMPLES", "15"))
FAST = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large])
SLOW = settings(FAST, max_examples=10 * EXAMPLES, derandomize=False)

ALL = hwsim.formats()
CORE = [n for n in ALL if isinstance(hwsim.format(n), Format)]
# the Fraction oracle runs per element: keep to elements of at most 16 bits
ORACLE = [n for n in CORE if hwsim.format(n).element.bits <= 16]
FAMILY = [n for n in ALL if n not in CORE]

SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754944e-38, 3.4028235e38, -3.4028235e38,
            448.0, 6.0, 0.25, 2.0**-10, 65504.0, 1e-7]


def _expect_ok_or_hwsim(call: Callable[[], Any]) -> tuple[bool, Any]:
    """(True, result) or (False, the HwsimError); any other exception fails the test."""
    try:
        return True, call()
    except HwsimError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return False, exc


@st.composite
def arrays(draw, max_elems: int = 96, finite_only: bool = False):
    ndim = draw(st.integers(0, 3))
    dims = [draw(st.sampled_from([0, 1, 2, 3, 5, 16, 17, 33])) for _ in range(ndim)]
    while int(np.prod(dims, dtype=np.int64)) > max_elems:
        dims[int(np.argmax(dims))] //= 2
    n = int(np.prod(dims, dtype=np.int64))
    scale = draw(st.sampled_from([1.0, 1e-6, 1e-30, 1e4, 1e30]))
    seed = draw(st.integers(0, 2**16))
    x = (np.random.default_rng(seed).standard_normal(n) * scale).astype(np.float32)
    if n and draw(st.booleans()):  # plant special values
        specials = [v for v in SPECIALS if not (finite_only and not np.isfinite(v))]
        for _ in range(draw(st.integers(1, 4))):
            x[draw(st.integers(0, n - 1))] = draw(st.sampled_from(specials))
    dtype = draw(st.sampled_from([np.float32, np.float32, np.float16, np.float64]))
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    x = x.reshape(dims)
    axis = draw(st.one_of(st.integers(-max(ndim, 1), max(ndim, 1) - 1), st.sampled_from([5, -7])))
    return x, axis


CORE_OVERRIDES = st.fixed_dictionaries({}, optional={
    "rounding": st.sampled_from(["even", "away", "zero", "stochastic", "nearest"]),
    "saturate": st.sampled_from([True, False, "false", 1]),
    "seed": st.sampled_from([0, 7, 2**40, -1, 1.5]),
})


def _oracle_quantize(fmt, x, axis):
    ok, want = _expect_ok_or_hwsim(lambda: R.ref_quantize(fmt, x, axis))
    return ok, want


def _core_property(name: str, overrides: dict, xa) -> None:
    x, axis = xa
    ok, fmt = _expect_ok_or_hwsim(lambda: hwsim.format(name, **overrides))
    if not ok:
        return
    got_ok, got = _expect_ok_or_hwsim(lambda: fmt.quantize(x, axis=axis))
    want_ok, want = _oracle_quantize(fmt, x, axis)
    assert got_ok == want_ok, (f"{name} {overrides}: hwsim {'returned' if got_ok else 'raised ' + repr(got)}, "
                               f"oracle {'returned' if want_ok else 'raised ' + repr(want)}")
    if not got_ok:
        return
    want = np.asarray(want).reshape(np.shape(x))  # the oracle keeps a 0-d scaled input as (1,)
    assert_same_f32(got, want, f"{name} {overrides} quantize")
    ok, enc = _expect_ok_or_hwsim(lambda: fmt.encode(x, axis=axis))
    assert ok, f"{name}: quantize worked, encode raised {enc!r}"
    codes, scales, ts = R.ref_encode(fmt, x, axis)
    np.testing.assert_array_equal(enc.codes, np.asarray(codes).reshape(np.shape(x)))
    if scales is not None and fmt.scale_element is not None and fmt.scale_element.bits == 32:
        assert_same_f32(np.asarray(enc.scales).reshape(-1), np.asarray(scales).reshape(-1), f"{name} fp32 scales")
    elif scales is not None:
        nan_ts = ts is not None and np.isnan(ts)
        if not nan_ts:  # with a NaN tensor scale the block-scale codes are unspecified
            np.testing.assert_array_equal(np.asarray(enc.scales).reshape(-1), np.asarray(scales).reshape(-1))
    assert_same_f32(fmt.decode(enc), want, f"{name} {overrides} decode")


@FAST
@given(name=st.sampled_from(ORACLE), overrides=CORE_OVERRIDES, xa=arrays())
def test_fuzz_core_formats_match_oracle(name, overrides, xa):
    _core_property(name, overrides, xa)


@pytest.mark.slow
@SLOW
@given(name=st.sampled_from(ORACLE), overrides=CORE_OVERRIDES, xa=arrays())
def test_fuzz_core_formats_match_oracle_slow(name, overrides, xa):
    _core_property(name, overrides, xa)


def _family_property(name: str, xa) -> None:
    x, axis = xa
    fmt = hwsim.format(name)
    ok, q = _expect_ok_or_hwsim(lambda: fmt.quantize(x, axis=axis))
    ok2, enc = _expect_ok_or_hwsim(lambda: fmt.encode(x, axis=axis))
    assert ok == ok2, f"{name}: quantize {'ok' if ok else q!r} but encode {'ok' if ok2 else enc!r}"
    if not ok:
        return
    assert np.shape(q) == np.shape(x)
    assert_same_f32(fmt.decode(enc), q, f"{name} decode(encode) vs quantize")
    if x.size and np.all(np.isfinite(x)):
        assert np.all(np.isfinite(q)) or np.abs(x.astype(np.float64)).max() > 1e38, f"{name}: non-finite result"


@FAST
@given(name=st.sampled_from(FAMILY), xa=arrays(max_elems=128))
def test_fuzz_families_roundtrip(name, xa):
    _family_property(name, xa)


@pytest.mark.slow
@SLOW
@given(name=st.sampled_from(FAMILY), xa=arrays(max_elems=128))
def test_fuzz_families_roundtrip_slow(name, xa):
    _family_property(name, xa)


# ------------------------------------------------------------------------------------------------
# corrupted Encoded objects
# ------------------------------------------------------------------------------------------------
def _int_scales(enc: Encoded, change: Callable[[np.ndarray], np.ndarray]) -> Encoded:
    """``change`` applied to scales stored as integer codes (E8M0, E4M3, BCQ exponents); float
    scales are left alone (another valid float scale is a different number, not a corruption)."""
    if enc.scales is None or np.asarray(enc.scales).dtype.kind not in "ui":
        return enc
    return dataclasses.replace(enc, scales=change(np.asarray(enc.scales).astype(np.int64)))


def _codes_plus_width(enc: Encoded, fmt) -> Encoded:
    c = np.asarray(enc.codes)
    wide = c.astype(np.uint64) + np.uint64(1 << fmt.element_bits)
    return dataclasses.replace(enc, codes=wide)


CORRUPTIONS: dict[str, tuple[bool, Callable[[Encoded, Any, Any], Encoded]]] = {
    # name: (keeps the meaning: decode must equal the original when it does not raise, always)
    "other_format": (False, lambda e, f, o: dataclasses.replace(e, fingerprint=fingerprint(o), format=o.name)),
    "foreign_name": (False, lambda e, f, o: dataclasses.replace(e, fingerprint="", format=o.name)),
    "bad_fingerprint": (False, lambda e, f, o: dataclasses.replace(e, fingerprint="0" * 16)),
    "meta_empty": (False, lambda e, f, o: dataclasses.replace(e, meta={})),
    "codes_wide": (False, lambda e, f, o: _codes_plus_width(e, f)),
    "codes_signed": (False, lambda e, f, o: dataclasses.replace(e, codes=np.asarray(e.codes).astype(np.int16))),
    "codes_float": (False, lambda e, f, o: dataclasses.replace(e, codes=np.asarray(e.codes).astype(np.float32))),
    "codes_list": (False, lambda e, f, o: dataclasses.replace(e, codes=np.asarray(e.codes).tolist())),
    "scales_none": (False, lambda e, f, o: dataclasses.replace(e, scales=None)),
    "scales_short": (False, lambda e, f, o: dataclasses.replace(
        e, scales=None if e.scales is None else np.asarray(e.scales).reshape(-1)[:-1])),
    "scales_300": (False, lambda e, f, o: _int_scales(e, lambda s: s + 300)),
    "scales_neg": (False, lambda e, f, o: _int_scales(e, lambda s: s - 300)),
    "scales_nan_inf": (False, lambda e, f, o: dataclasses.replace(
        e, scales=None if e.scales is None else np.full(np.shape(e.scales), np.inf))),
    "scales_float": (False, lambda e, f, o: _int_scales(e, lambda s: s.astype(np.float64) + 0.5)),
    "tensor_scale_bad": (False, lambda e, f, o: dataclasses.replace(
        e, tensor_scale=None if e.tensor_scale is not None else np.float32(-2.0))),
    "axis_out_of_range": (False, lambda e, f, o: dataclasses.replace(e, axis=len(e.shape) + 3)),
    "not_encoded": (False, lambda e, f, o: (e.codes, e.scales)),  # type: ignore[return-value]
    # meaning-preserving: a wider integer dtype of the same scale codes / element codes
    "scales_int64": (True, lambda e, f, o: dataclasses.replace(
        e, scales=e.scales if e.scales is None or np.asarray(e.scales).dtype.kind == "f"
        else np.asarray(e.scales).astype(np.int64))),
    "codes_uint16": (True, lambda e, f, o: dataclasses.replace(
        e, codes=np.asarray(e.codes) if f.element_bits > 16 else np.asarray(e.codes).astype(np.uint16))),
}


def _corrupt_property(name: str, other: str, corruption: str, xa) -> None:
    x, _ = xa
    assume(x.size and np.all(np.isfinite(x)))
    x = x.astype(np.float32)
    fmt, oth = hwsim.format(name), hwsim.format(other)
    enc = fmt.encode(x, axis=-1)
    want = fmt.decode(enc)
    keeps, corrupt = CORRUPTIONS[corruption]
    bad = corrupt(enc, fmt, oth)
    ok, got = _expect_ok_or_hwsim(lambda: fmt.decode(bad))
    if ok:
        # a corruption that changes nothing the decoder reads may pass; the result must then be
        # the uncorrupted one, bit for bit (never a silent different number)
        assert_same_f32(np.asarray(got), np.asarray(want), f"{name} <- {corruption} ({other})")
    else:
        assert not keeps, f"{name}: a meaning-preserving change ({corruption}) was refused: {got!r}"


@FAST
@given(name=st.sampled_from(ALL), other=st.sampled_from(ALL), corruption=st.sampled_from(sorted(CORRUPTIONS)),
       xa=arrays(max_elems=200))
def test_fuzz_corrupted_encoded(name, other, corruption, xa):
    _corrupt_property(name, other, corruption, xa)


@pytest.mark.slow
@SLOW
@given(name=st.sampled_from(ALL), other=st.sampled_from(ALL), corruption=st.sampled_from(sorted(CORRUPTIONS)),
       xa=arrays(max_elems=200))
def test_fuzz_corrupted_encoded_slow(name, other, corruption, xa):
    _corrupt_property(name, other, corruption, xa)


# ------------------------------------------------------------------------------------------------
# hostile construction parameters
# ------------------------------------------------------------------------------------------------
HOSTILE = st.sampled_from([None, True, False, -1, 0, 1, 2, 3, 4, 8, 16, 33, 2**63, 1.5, 4.0, "32", "4", "false",
                           float("nan"), [1], {}, "even", "ieee", "fp8_e4m3", "bitmod4"])
KEYS = st.sampled_from(["block_size", "group_size", "exp_bits", "man_bits", "bits", "saturate", "rounding",
                        "seed", "tensor_scale", "scale_rule", "element", "scale_element", "bias", "specials",
                        "frac_bits", "encoding", "clamp_scale", "types", "normals", "search", "select"])


def _hostile_property(name: str, params: dict, x: np.ndarray) -> None:
    ok, fmt = _expect_ok_or_hwsim(lambda: hwsim.format(name, **params))
    if not ok:
        return
    ok, q = _expect_ok_or_hwsim(lambda: fmt.quantize(x))
    if ok:
        assert np.shape(q) == x.shape
        ok2, enc = _expect_ok_or_hwsim(lambda: fmt.encode(x))
        assert ok2, f"{name} {params}: quantize worked, encode raised {enc!r}"
        assert_same_f32(fmt.decode(enc), q, f"{name} {params}")


BUILDERS = st.sampled_from(["fp", "int", "block"] + ALL)


@FAST
@given(name=BUILDERS, params=st.dictionaries(KEYS, HOSTILE, max_size=3))
def test_fuzz_hostile_parameters(name, params):
    _hostile_property(name, params, np.linspace(-3, 3, 64, dtype=np.float32).reshape(2, 32))


@pytest.mark.slow
@SLOW
@given(name=BUILDERS, params=st.dictionaries(KEYS, HOSTILE, max_size=3))
def test_fuzz_hostile_parameters_slow(name, params):
    _hostile_property(name, params, np.linspace(-3, 3, 64, dtype=np.float32).reshape(2, 32))
