"""The torch kernels (hwsim.numerics.torch_codec) against docs/numerics.md.

Three independent checks (STYLE P4/P5/P6):
- a small exact oracle written here from the doc with ``fractions.Fraction``;
- bit identity with the numba kernels (``fmt.quantize(np_array)``) over every catalog format,
  every RoundMode, saturate on/off, several axes, odd lengths and edge values;
- the fused ``quantize`` fast paths (float arithmetic) against ``decode(encode(x))`` (integer
  path), and CUDA against CPU when a GPU is present.
"""

from __future__ import annotations

import math
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import hwsim  # noqa: E402
from hwsim.catalog import core_formats  # noqa: E402
from hwsim.errors import FormatError  # noqa: E402
from hwsim.numerics import torch_codec as tn  # noqa: E402
from hwsim.numerics.elements import IntElement  # noqa: E402
from hwsim.numerics.rounding import hash32 as hash32_kernel  # noqa: E402
from hwsim.numerics.types import RoundMode, ScaleRule, Specials  # noqa: E402

pytestmark = pytest.mark.torch

FORMATS = core_formats()
MODES = list(RoundMode)
HAS_CUDA = torch.cuda.is_available()


def bits(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.cpu().numpy()
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


# ----------------------------------------------------------------------------------------------
# test data
# ----------------------------------------------------------------------------------------------
def edge_values() -> np.ndarray:
    f = np.float32
    vals = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, 3.5, 5.0, 7.0, 6.5, -6.5, 448.0, 464.0, 480.0,
            57344.0, 61440.0, 65504.0, 65520.0, 1e-45, -1e-45, 1e-40, 2.0 ** -126, 2.0 ** -127,
            2.0 ** -149 * 3, 1e38, -3.4e38, 3.4028235e38, 127.5, 126.5, -127.5, 0.25, 0.75,
            1.25, 1.75, 2.0 ** -7, 2.0 ** -9 * 1.5, 2.0 ** -10, 0.1, -0.3, 1 / 3]
    return np.array(vals, dtype=f)


def sample(rng, shape, with_specials: bool) -> np.ndarray:
    n = math.prod(shape)
    x = rng.standard_normal(n).astype(np.float32)
    x *= np.exp2(rng.integers(-12, 12, n)).astype(np.float32)
    e = edge_values()
    k = min(n, len(e))
    x[rng.choice(n, k, replace=False)] = e[:k]
    if with_specials:
        pos = rng.choice(n, 3, replace=False)
        x[pos] = [np.nan, np.inf, -np.inf]
    return x.reshape(shape)


def midpoints(fmt) -> np.ndarray:
    """Every value of the element, the midpoints between neighbours and points near them."""
    v = fmt.element.values()
    v = v[np.abs(v) <= 2.0 ** 126]
    mid = (v[1:] + v[:-1]) / 2
    out = np.concatenate([v, mid, np.nextafter(mid.astype(np.float32), np.float32(np.inf)).astype(np.float64),
                          np.nextafter(mid.astype(np.float32), np.float32(-np.inf)).astype(np.float64),
                          v * 1.25, [fmt.element.max * 2, fmt.element.max * 1.0001]])
    out = out[np.isfinite(out) & (np.abs(out) < 3e38)].astype(np.float32)
    return out


# ----------------------------------------------------------------------------------------------
# the exact oracle (docs/numerics.md transcribed with Fractions)
# ----------------------------------------------------------------------------------------------
def hash32(index: int, seed: int) -> int:
    """The random bits of element ``index``: the numba kernels' one definition (checked against
    an independent numpy transcription of the doc in test_reference.py)."""
    return int(hash32_kernel(index, seed & 0xFFFFFFFF))


def floor_log2(a: Fraction) -> int:
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    return e


def round_int(q: Fraction, mode: RoundMode, r: int) -> int:
    fl = math.floor(q)
    frac = q - fl
    if mode is RoundMode.EVEN:
        up = frac > Fraction(1, 2) or (frac == Fraction(1, 2) and fl % 2 == 1)
    elif mode is RoundMode.AWAY:
        up = frac >= Fraction(1, 2)
    elif mode is RoundMode.ZERO:
        up = False
    else:
        up = r < math.floor(frac * 2 ** 32)
    return fl + int(up)


def oracle_elem(el, a: Fraction, mode: RoundMode, r: int) -> Fraction:
    """Round a magnitude a >= 0 to the element (before overflow handling)."""
    if a == 0:
        return Fraction(0)
    if isinstance(el, IntElement):
        return Fraction(min(round_int(a * 2 ** el.frac_bits, mode, r), el.qmax), 2 ** el.frac_bits)
    t = max(floor_log2(a), el.emin)
    quantum = Fraction(2) ** (t - el.man_bits)
    return round_int(a / quantum, mode, r) * quantum


def oracle_cast(el, v: float, mode: RoundMode, saturate: bool, r: int = 0) -> float:
    """Plain cast of one float32 value (docs 'Rounding a real value v to a minifloat' / 'Integers')."""
    neg = math.copysign(1.0, v) < 0
    sgn = -1.0 if neg else 1.0
    if isinstance(el, IntElement):
        if math.isinf(v):
            return sgn * el.max
        res = oracle_elem(el, abs(Fraction(v)), mode, r)
        return 0.0 if res == 0 else sgn * float(res)
    fnuz = el.specials is Specials.FNUZ
    if math.isnan(v):
        return math.nan
    if math.isinf(v):
        if saturate or el.specials is Specials.FINITE:
            return sgn * el.max
        return sgn * math.inf if el.specials is Specials.IEEE else math.nan
    res = oracle_elem(el, abs(Fraction(v)), mode, r)
    if res > Fraction(el.max):
        if saturate or el.specials is Specials.FINITE or (
                el.specials is Specials.IEEE and mode is RoundMode.ZERO):
            return sgn * el.max
        return sgn * math.inf if el.specials is Specials.IEEE else math.nan
    if res == 0:
        return 0.0 if fnuz else sgn * 0.0
    return sgn * float(res)


def oracle_block(fmt, x: np.ndarray) -> np.ndarray:
    """1-d input, axis 0: pow2 / amax blocks (no tensor scale), element modes incl. stochastic."""
    el = fmt.element
    B = fmt.block_size or len(x)
    out = np.empty(len(x), np.float32)
    for j in range(0, len(x), B):
        blk = x[j:j + B]
        if not np.all(np.isfinite(blk)):
            out[j:j + B] = np.nan
            continue
        amax = max(abs(Fraction(float(v))) for v in blk)
        if fmt.scale_rule is ScaleRule.POW2:
            se = -127 if amax == 0 else max(floor_log2(amax) - el.emax, -127)
            if se > 127:
                out[j:j + B] = np.nan
                continue
            scale = Fraction(2) ** se
        else:
            sel = fmt.scale_element
            s = min(oracle_elem(sel, amax / Fraction(el.max), RoundMode.EVEN, 0), Fraction(sel.max))
            if s == 0 and sel.bits <= 16:  # a narrow scale rounding to 0: zeros (issue 10, TransformerEngine)
                zero_neg = not (isinstance(el, IntElement) or el.specials is Specials.FNUZ)
                out[j:j + B] = [-0.0 if zero_neg and math.copysign(1.0, float(v)) < 0 else 0.0 for v in blk]
                continue
            scale = s if s > 0 else Fraction(sel.smallest_subnormal)
        for i, v in enumerate(blk):
            r = hash32(j + i, fmt.seed)
            a = min(oracle_elem(el, abs(Fraction(float(v))) / scale, fmt.rounding, r), Fraction(el.max))
            neg = math.copysign(1.0, float(v)) < 0
            val = float(a * scale)  # exactly representable for the catalog formats
            keep_neg = neg and not (a == 0 and (isinstance(el, IntElement) or el.specials is Specials.FNUZ))
            with np.errstate(over="ignore"):  # 127 * fp32(amax/127) may exceed FLT_MAX -> inf
                out[j + i] = -val if keep_neg else val
    return out


# ----------------------------------------------------------------------------------------------
# oracle tests (always run)
# ----------------------------------------------------------------------------------------------
PLAIN = [f for f in FORMATS if not f.is_scaled]
POW2 = [f for f in FORMATS if f.scale_rule is ScaleRule.POW2]
AMAX_BLOCK = [f for f in FORMATS if f.scale_rule is ScaleRule.AMAX and not f.tensor_scale]


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("fmt", PLAIN, ids=lambda f: f.name)
def test_plain_cast_vs_oracle(fmt, mode):
    rng = np.random.default_rng(1)
    x = np.concatenate([midpoints(fmt)[:400], edge_values(), sample(rng, (24,), False)])
    specials = [np.inf, -np.inf] + ([np.nan] if fmt.element.has_nan else [])
    x = np.concatenate([x, np.array(specials, np.float32)])
    for sat in (True, False):
        f = fmt.replace(rounding=mode, saturate=sat, seed=11)
        got = tn.quantize(f, torch.from_numpy(x))
        r = [hash32(i, 11) for i in range(len(x))]
        want = np.array([oracle_cast(f.element, float(v), mode, sat, r[i]) for i, v in enumerate(x)],
                        np.float32)
        want_bits = bits(want)
        want_bits[np.isnan(want)] = 0x7FC00000
        bad = np.nonzero(bits(got) != want_bits)[0]
        assert bad.size == 0, (f"{f.name} {mode.value} sat={sat}: x={x[bad][:5]} "
                               f"want={want[bad][:5]} got={got.numpy()[bad][:5]}")
        # the integer path (encode/decode) agrees with the fused quantize
        dec = tn.decode(f, tn.encode(f, torch.from_numpy(x)))
        assert np.array_equal(bits(dec), bits(got))


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("fmt", POW2 + AMAX_BLOCK, ids=lambda f: f.name)
def test_block_vs_oracle(fmt, mode):
    rng = np.random.default_rng(2)
    f = fmt.replace(rounding=mode, seed=5)
    B = f.block_size or 37
    x = np.concatenate([sample(rng, (2 * B + 5,), False), midpoints(f)[:B] * np.float32(2.0 ** -20),
                        np.zeros(B, np.float32), np.array([1e-45, -3e-44] + [0.0] * (B - 2), np.float32),
                        np.array([np.nan] + [1.0] * (B - 1), np.float32)])
    got = tn.quantize(f, torch.from_numpy(x), 0)
    want = oracle_block(f, x)
    want_bits = bits(want)
    want_bits[np.isnan(want)] = 0x7FC00000
    bad = np.nonzero(bits(got) != want_bits)[0]
    assert bad.size == 0, f"{f.name}: x={x[bad][:5]} want={want[bad][:5]} got={got.numpy()[bad][:5]}"
    dec = tn.decode(f, tn.encode(f, torch.from_numpy(x), 0))
    assert np.array_equal(bits(dec), bits(got))


def test_hash32_matches_numba():
    """The torch hash kernel and the numba one give the same bits (index reduced mod 2**32)."""
    idx = torch.tensor([0, 1, 2, 12345, 2 ** 32 - 1, 2 ** 32 + 7, 2 ** 40 + 3], dtype=torch.int64)
    for seed in (0, 1, 0xDEADBEEF):
        got = tn.hash32(idx, seed).tolist()
        assert got == [hash32(int(i), seed) for i in idx]


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.tensor_scale], ids=lambda f: f.name)
def test_binary32_tensor_scale_matches_numba(fmt):
    """The torch kernels round the fp32 tensor scale to binary32 (IEEE 754-2019 §3.6) as the
    numba kernels do, at the edges of binary32: subnormal, smallest normal, largest finite amax."""
    for amax in (1e-45, 1e-40, 2.0 ** -126, 2.0 ** -127 * 3, 1.0, 1 / 3, 2688.0, 1e38, 3.4028235e38):
        x = (np.float32(amax) * np.array([1.0, -0.5, 0.25, 0.1] * 8, np.float32)).reshape(2, 16)
        want = fmt.encode(x)
        got = tn.encode(fmt, torch.from_numpy(x))
        assert bits(np.float32(want.tensor_scale)) == bits(got.tensor_scale.reshape(1)), amax
        assert (np.asarray(want.codes) == got.codes.numpy()).all(), amax


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.element.bits <= 8 and not f.is_scaled],
                         ids=lambda f: f.name)
def test_every_code_round_trips(fmt):
    """STYLE P6: every code of a <= 8-bit format decodes and re-encodes to itself."""
    n = 1 << fmt.element.bits
    dt = torch.uint8
    codes = torch.arange(n, dtype=torch.int32).to(dt)
    table = fmt.element.table()
    vals = tn.decode(fmt, hwsim.numerics.encoded.Encoded(codes=codes, format=fmt.name))
    assert np.array_equal(bits(vals)[~np.isnan(table)], bits(table.astype(np.float32))[~np.isnan(table)])
    keep = np.isfinite(table) & ~((table == 0) & (np.arange(n) != 0) & ~np.signbit(table))
    if isinstance(fmt.element, IntElement):
        keep &= np.abs(table) <= fmt.element.max
        keep &= ~((table == 0) & (np.arange(n) != 0))
    enc = tn.encode(fmt, vals[torch.from_numpy(keep)])
    assert enc.codes.dtype == torch.uint8
    assert np.array_equal(enc.codes.numpy(), np.arange(n)[keep])


# ----------------------------------------------------------------------------------------------
# bit identity with the numpy path
# ----------------------------------------------------------------------------------------------
def _compare_encoded(en, et):
    assert str(np.asarray(en.codes).dtype) == str(et.codes.dtype).replace("torch.", "")
    assert np.array_equal(np.asarray(en.codes), et.codes.numpy())
    if en.scales is None:
        assert et.scales is None
    else:
        a, b = np.asarray(en.scales), et.scales.numpy()
        assert a.dtype == b.dtype and a.shape == b.shape
        if a.dtype == np.float32:
            a, b = bits(a), bits(b)
        assert np.array_equal(a, b)
    if en.tensor_scale is None:
        assert et.tensor_scale is None
    else:
        assert bits(np.float32(en.tensor_scale)) == bits(et.tensor_scale.reshape(1))
    assert en.axis == et.axis


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_bit_identical_with_numpy(fmt, mode):
    rng = np.random.default_rng(abs(hash((fmt.name, mode.value))) % 2 ** 32)
    specials = fmt.element.has_nan or fmt.is_scaled
    sats = (True, False) if not fmt.is_scaled else (True,)
    for sat in sats:
        f = fmt.replace(rounding=mode, saturate=sat, seed=3)
        for shape, axes in (((3, 45, 5), (-1, 1, 0)), ((67,), (0,)), ((2, 33), (0, -1))):
            x = sample(rng, shape, specials)
            if not specials:  # the Inf cases of finite formats
                x.reshape(-1)[:2] = [np.inf, -np.inf]
            for ax in axes:
                qn = f.quantize(x, axis=ax)
                qt = tn.quantize(f, torch.from_numpy(x), ax)
                assert qt.dtype == torch.float32 and tuple(qt.shape) == x.shape
                if not np.array_equal(bits(qn), bits(qt)):
                    bad = np.nonzero(bits(qn) != bits(qt))
                    raise AssertionError(f"{f.name} {mode.value} sat={sat} axis={ax}: x={x[bad][:4]} "
                                         f"numpy={qn[bad][:4]} torch={qt.numpy()[bad][:4]}")
                en = f.encode(x, axis=ax)
                et = tn.encode(f, torch.from_numpy(x), ax)
                _compare_encoded(en, et)
                assert np.array_equal(bits(tn.decode(f, et)), bits(f.decode(en)))


def _tensor_scale_variants(fmt):
    """The fp32 tensor-scale variant of an amax block format, where the format allows one
    (a narrow block-scale element such as E4M3); an fp32 block scale refuses it (FormatError)."""
    if fmt.scale_rule is not ScaleRule.AMAX or fmt.block_size is None:
        return []
    if fmt.scale_element.man_bits > 10:
        with pytest.raises(FormatError, match="tensor_scale"):
            fmt.replace(tensor_scale=True)
        return []
    return [fmt.replace(tensor_scale=True)]


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.is_scaled], ids=lambda f: f.name)
def test_tensor_scale_and_odd_axes_numpy(fmt):
    rng = np.random.default_rng(4)
    variants = [fmt] + _tensor_scale_variants(fmt)
    for f in variants:
        for scale in (1.0, 1e-30, 1e30):
            with np.errstate(over="ignore"):
                x = (sample(rng, (5, 19, 3), False) * np.float32(scale)).astype(np.float32)
            for ax in (0, 1, 2):
                qn, qt = f.quantize(x, axis=ax), tn.quantize(f, torch.from_numpy(x), ax)
                assert np.array_equal(bits(qn), bits(qt)), (f.name, scale, ax)
                _compare_encoded(f.encode(x, axis=ax), tn.encode(f, torch.from_numpy(x), ax))


# ----------------------------------------------------------------------------------------------
# fast path == integer path; API behaviour
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_quantize_equals_decode_encode(fmt, mode):
    rng = np.random.default_rng(6)
    variants = [fmt.replace(rounding=mode, seed=9)]
    variants += _tensor_scale_variants(variants[0])
    for f in variants:
        for scale in (1.0, 2.0 ** -100, 2.0 ** 100):
            with np.errstate(over="ignore"):
                x = torch.from_numpy((sample(rng, (4, 70), f.element.has_nan or f.is_scaled)
                                      * np.float32(scale)).astype(np.float32))
            for ax in (-1, 0):
                q = tn.quantize(f, x, ax)
                d = tn.decode(f, tn.encode(f, x, ax))
                assert np.array_equal(bits(q), bits(d)), (f.name, scale, ax)


def test_dtypes_shapes_and_inputs():
    f = hwsim.format("nvfp4")
    x = torch.randn(3, 40)
    e = tn.encode(f, x)
    assert e.codes.dtype == torch.uint8 and e.scales.dtype == torch.uint8
    assert tuple(e.scales.shape) == (3, 3) and e.axis == 1 and e.tensor_scale is None
    e = tn.encode(f.replace(tensor_scale=True), x, 0)
    assert tuple(e.scales.shape) == (1, 40) and e.tensor_scale.dtype == torch.float32
    assert e.tensor_scale.dim() == 0
    assert tn.encode(hwsim.format("int8_g32"), x).scales.dtype == torch.float32
    assert tn.encode(hwsim.format("int8_channel"), x, 0).scales.shape == (1, 40)
    assert tn.encode(hwsim.format("fp16"), x).codes.dtype == torch.uint16
    assert tn.encode(hwsim.format("fp32"), x).codes.dtype == torch.uint32
    assert tn.encode(hwsim.format("int8_tensor"), x).scales is None
    # float16/bfloat16 exactly, float64 rounded to float32 first
    g = hwsim.format("fp8_e4m3")
    for dt in (torch.float16, torch.bfloat16):
        xh = x.to(dt)
        assert torch.equal(tn.quantize(g, xh), tn.quantize(g, xh.float()))
    xd = torch.tensor([1.0 + 2.0 ** -30, 1.0625 + 2.0 ** -40], dtype=torch.float64)
    assert torch.equal(tn.quantize(g, xd), tn.quantize(g, xd.float()))
    # 0-d and empty inputs
    s = tn.quantize(g, torch.tensor(1.3))
    assert s.shape == () and float(s) == 1.25
    assert tn.quantize(hwsim.format("mxfp4"), torch.zeros(0, 5)).shape == (0, 5)
    assert tn.quantize(hwsim.format("mxfp4"), torch.zeros(3, 0)).shape == (3, 0)
    # non-contiguous input
    xt = torch.randn(64, 48).t()
    assert torch.equal(tn.quantize(f, xt, 0), tn.quantize(f, xt.contiguous(), 0))


def test_errors():
    f = hwsim.format("mxfp4")
    with pytest.raises(FormatError, match="axis 2 out of range"):
        tn.encode(f, torch.zeros(2, 3), 2)
    with pytest.raises(FormatError, match="not a float type"):
        tn.quantize(f, torch.zeros(3, dtype=torch.int32))
    with pytest.raises(FormatError, match="not a float type"):
        tn.quantize(f, torch.zeros(3, dtype=torch.complex64))
    for name in ("fp4_e2m1", "int8"):
        with pytest.raises(FormatError, match="no NaN encoding"):
            tn.quantize(hwsim.format(name), torch.tensor([1.0, math.nan]))
    e = tn.encode(hwsim.format("fp4_e2m1"), torch.ones(4))
    bad = hwsim.numerics.encoded.Encoded(codes=e.codes + 16, format="fp4_e2m1")
    with pytest.raises(FormatError, match="does not fit"):
        tn.decode(hwsim.format("fp4_e2m1"), bad)
    e = tn.encode(f, torch.ones(2, 64))
    with pytest.raises(FormatError, match="scales shape"):
        tn.decode(f, hwsim.numerics.encoded.Encoded(codes=e.codes, scales=e.scales[:, :1], axis=1))


def test_bridge_import_is_torch_free():
    code = "import sys, hwsim.bridge; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_numerics_is_torch_free():
    code = "import sys, hwsim.numerics; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", ["mxfp8_e4m3", "nvfp4", "int8_g32", "fp16", "fp32", "int8_tensor",
                                  "mxint8", "bf16"])
def test_cpu_tensors_same_kernels_choice(name):
    """A CPU tensor runs the numba kernels in encode, decode and quantize alike (the default), and
    gives the same tensors, dtypes and shapes as the forced torch kernels."""
    f = hwsim.format(name).replace(seed=4)
    x = torch.from_numpy(sample(np.random.default_rng(3), (3, 70), f.element.has_nan or f.is_scaled))
    assert tn.host_kernels(x)
    e = f.encode(x, 0)
    q = f.quantize(x, 0)
    d = f.decode(e)
    with tn.torch_kernels():
        assert not tn.host_kernels(x)
        e2, q2, d2 = f.encode(x, 0), f.quantize(x, 0), f.decode(e)
    assert tn.host_kernels(x)  # the setting is restored
    for a, b in ((e.codes, e2.codes), (e.scales, e2.scales), (e.tensor_scale, e2.tensor_scale)):
        assert (a is None) == (b is None)
        if a is not None:
            assert isinstance(a, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
            assert np.array_equal(bits(a) if a.dtype == torch.float32 else a.numpy(),
                                  bits(b) if b.dtype == torch.float32 else b.numpy())
    assert e.axis == e2.axis == 0
    for a, b in ((q, q2), (d, d2), (q, d)):
        assert isinstance(a, torch.Tensor) and a.dtype == torch.float32 and a.shape == x.shape
        assert np.array_equal(bits(a), bits(b))
    # the numba results are independent of the torch kernels: numpy in, same bits out
    assert np.array_equal(bits(f.quantize(x.numpy(), 0)), bits(q))


def test_use_torch_kernels_returns_previous():
    assert tn.use_torch_kernels(True) is False
    try:
        assert tn.use_torch_kernels(True) is True
    finally:
        tn.use_torch_kernels(False)


# ----------------------------------------------------------------------------------------------
# CUDA
# ----------------------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.value)
@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.name)
def test_cuda_matches_cpu(fmt, mode):
    rng = np.random.default_rng(8)
    variants = [fmt.replace(rounding=mode, seed=2)]
    if not fmt.is_scaled:
        variants.append(variants[0].replace(saturate=False))
    if fmt.scale_rule is ScaleRule.AMAX and fmt.block_size is not None:
        variants.append(variants[0].replace(tensor_scale=True))
    for f in variants:
        x = torch.from_numpy(sample(rng, (5, 77, 3), f.element.has_nan or f.is_scaled))
        for ax in (-1, 1, 0):
            qc, qg = tn.quantize(f, x, ax), tn.quantize(f, x.cuda(), ax)
            assert qg.device.type == "cuda"
            assert np.array_equal(bits(qc), bits(qg)), (f.name, ax)
            ec, eg = tn.encode(f, x, ax), tn.encode(f, x.cuda(), ax)
            assert eg.codes.device.type == "cuda"
            assert torch.equal(ec.codes.long(), eg.codes.cpu().long())
            if ec.scales is not None:
                sc, sg = ec.scales, eg.scales.cpu()
                if sc.dtype == torch.float32:
                    sc, sg = sc.view(torch.int32), sg.view(torch.int32)
                assert torch.equal(sc.long(), sg.long())
            assert np.array_equal(bits(tn.decode(f, eg)), bits(qc))
