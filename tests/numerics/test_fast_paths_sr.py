"""The numba codec's branch-free paths for stochastic rounding, fp32 tensor scales and
non-saturating casts, bit for bit against independent code.

Which block takes which path: ``hwsim.numerics.codec._encode_kernel`` (docstring). The cases here
are the ones that used to run the general per-element loop and now take a branch-free path:

- stochastic rounding (docs/numerics.md, "Stochastic rounding random bits"): up iff
  ``hash32(index, seed) < floor(frac * 2**32)``, index the element's C-order flat index, on the
  power-of-two path (MX) and the division path (NVFP4 scales, absmax integers);
- amax-scaled FP4 with an fp32 tensor scale (NVFP4 arXiv 2509.25149 App. B; E2M1 with UE5M3
  scales, arXiv 2509.17791): the comparison path in float64 (the scale is not a float32);
- non-saturating casts (IEEE overflow to Inf, FN/FNUZ to NaN) whose blocks cannot overflow, and
  bf16 (values below float32's normal range).

Oracles: the exact Fraction reference :mod:`hwsim.numerics._reference` (imports no kernel), the
torch kernels (:func:`hwsim.numerics.torch_codec.torch_kernels`, separate code) and, on large
inputs, the numba kernel's own general loop (``codec._FAST_PATHS = False``), which the rest of the
suite checks against the reference. Probes sit on and one float32 either side of every decision
point, at the stochastic threshold (seeds chosen by inverting the hash), next to the overflow
threshold, and in blocks with zeros, float32 subnormals, Inf, NaN and scales that round to 0.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import hwsim
from hwsim.numerics import _reference as R
from hwsim.numerics import codec
from tests.numerics import impls
from tests.numerics.numerics_helpers import assert_same_f32
from tests.numerics.test_stochastic_threshold import hash32, seed_for

SR = {"rounding": "stochastic"}

#: id -> format (the formats and modes whose blocks now take a branch-free path)
FORMATS = {
    "mxfp4_sr": hwsim.format("mxfp4", seed=1, **SR),
    "mxfp4_sr_bigseed": hwsim.format("mxfp4", seed=(7 << 32) + 5, **SR),
    "mxfp8_e4m3_sr": hwsim.format("mxfp8_e4m3", seed=2, **SR),
    "mxfp8_e5m2_sr": hwsim.format("mxfp8_e5m2", seed=3, **SR),
    "mxfp6_e2m3_sr": hwsim.format("mxfp6_e2m3", seed=4, **SR),
    "mxint8_sr": hwsim.format("mxint8", seed=5, **SR),
    "nvfp4_sr": hwsim.format("nvfp4", seed=6, **SR),
    "int8_g32_sr": hwsim.format("int8_g32", seed=7, **SR),
    "nvfp4_ts_even": hwsim.format("nvfp4", tensor_scale=True),
    "nvfp4_ts_away": hwsim.format("nvfp4", tensor_scale=True, rounding="away"),
    "nvfp4_ts_zero": hwsim.format("nvfp4", tensor_scale=True, rounding="zero"),
    "nvfp4_ts_sr": hwsim.format("nvfp4", tensor_scale=True, seed=8, **SR),
    "ue5m3_ts_even": hwsim.format("mxfp4_ue5m3", tensor_scale=True),
    "ue5m3_ts_sr": hwsim.format("mxfp4_ue5m3", tensor_scale=True, seed=9, **SR),
    "bf16_even": hwsim.format("bf16"),
    "bf16_sr": hwsim.format("bf16", seed=10, **SR),
    "bf16_nosat": hwsim.format("bf16", saturate=False),
    "fp16_nosat_even": hwsim.format("fp16", saturate=False),
    "fp16_nosat_away": hwsim.format("fp16", saturate=False, rounding="away"),
    "fp16_nosat_zero": hwsim.format("fp16", saturate=False, rounding="zero"),
    "fp16_nosat_sr": hwsim.format("fp16", saturate=False, seed=11, **SR),
    "e4m3_nosat_even": hwsim.format("fp8_e4m3", saturate=False),
    "e4m3_nosat_sr": hwsim.format("fp8_e4m3", saturate=False, seed=12, **SR),
    "e5m2_nosat_even": hwsim.format("fp8_e5m2", saturate=False),
    "e5m2_nosat_sr": hwsim.format("fp8_e5m2", saturate=False, seed=13, **SR),
    "e4m3fnuz_nosat_even": hwsim.format("fp8_e4m3fnuz", saturate=False),
    "e4m3fnuz_nosat_sr": hwsim.format("fp8_e4m3fnuz", saturate=False, seed=14, **SR),
}
IDS = list(FORMATS)


def _bits(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def _check_ref(fmt, x: np.ndarray, axis: int = -1, what: str = "") -> None:
    """encode (codes, scales, tensor scale) and quantize of numba == the Fraction reference."""
    codes, scales, ts = R.ref_encode(fmt, x, axis)
    enc = fmt.encode(x, axis=axis)
    msg = f"{fmt.name} {fmt.rounding} {what} axis {axis}"
    bad = np.asarray(enc.codes) != codes
    if bad.any():
        i = tuple(np.argwhere(bad)[0])
        raise AssertionError(f"{msg}: {int(bad.sum())} codes differ, first at {i}: x={x[i]!r} "
                             f"code {enc.codes[i]} want {codes[i]}")
    if scales is not None:
        got = np.asarray(enc.scales)
        if got.dtype == np.float32:  # fp32 scale elements: values (NaN compared as NaN)
            assert_same_f32(got, np.asarray(scales, np.float32), msg + " scales")
        else:
            np.testing.assert_array_equal(got, scales, err_msg=msg)
    if ts is not None:
        assert _bits(enc.tensor_scale) == _bits(ts) or (np.isnan(enc.tensor_scale) and np.isnan(ts)), msg
    assert_same_f32(fmt.quantize(x, axis=axis), R.ref_quantize(fmt, x, axis), msg)


def _edge_rows(fmt, n: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of whole blocks: random, all zeros, with a float32 subnormal, with Inf, with NaN, tiny
    (NVFP4's scale rounds to 0), huge, one near the element max, signed zeros among normals."""
    B = fmt.block_size or n
    base = rng.standard_normal(n).astype(np.float32)
    rows = [base, np.zeros(n, np.float32), base.copy(), base.copy(), base.copy(),
            (base * np.float32(1e-38)).astype(np.float32), (base * np.float32(1e30)).astype(np.float32),
            base.copy(), base.copy()]
    rows[2][1] = np.float32(3e-42)  # float32 subnormal in block 0
    rows[3][B // 2] = np.inf
    rows[4][min(B + 1, n - 1)] = np.nan
    rows[7][0] = np.float32(fmt.element.max) * np.float32(1.0001)  # around the overflow threshold
    rows[8][::3] = -0.0
    rows[8][1::3] = 0.0
    return np.stack(rows)


@pytest.mark.parametrize("name", IDS)
def test_random_and_edge_blocks_vs_reference(name: str) -> None:
    """Random and edge-case blocks, axis -1 and axis 0 (inner > 1: the hash index strides)."""
    fmt = FORMATS[name]
    rng = np.random.default_rng(abs(hash(name)) % 1000)
    n = 2 * (fmt.block_size or 32)
    x = (rng.standard_normal((6, n)) * np.exp(rng.uniform(-6, 6, (6, 1)))).astype(np.float32)
    _check_ref(fmt, x, -1, "random")
    _check_ref(fmt, np.ascontiguousarray(x.T), 0, "random")
    for axis in (-1, 0):
        e = _edge_rows(fmt, n, rng)
        if fmt.tensor_scale:  # one NaN / Inf makes the whole tensor NaN: check those rows apart
            finite = np.isfinite(e).all(axis=1)
            _check_ref(fmt, e[finite] if axis == -1 else np.ascontiguousarray(e[finite].T), axis, "edge")
            for row in e[~finite]:
                _check_ref(fmt, row[None, :] if axis == -1 else row[:, None].copy(), axis, "edge nonfinite")
        else:
            _check_ref(fmt, e if axis == -1 else np.ascontiguousarray(e.T), axis, "edge")


@pytest.mark.parametrize("name", IDS)
@pytest.mark.parametrize("axis", [-1, -2])
def test_large_vs_torch_and_general_loop(name: str, axis: int, monkeypatch) -> None:
    """[64, 256] N(0, 1) (the shape class of a training step): numba fast == numba general loop
    == torch kernels, codes and values."""
    torch = pytest.importorskip("torch")
    fmt = FORMATS[name]
    x = np.random.default_rng(1).standard_normal((64, 256)).astype(np.float32)
    x[3, 5] *= 1e5  # a row / block that may overflow a non-saturating element
    q_fast = fmt.quantize(x, axis=axis)
    c_fast = fmt.encode(x, axis=axis).codes
    monkeypatch.setattr(codec, "_FAST_PATHS", False)
    assert_same_f32(q_fast, fmt.quantize(x, axis=axis), f"{name}: fast vs general loop")
    np.testing.assert_array_equal(c_fast, fmt.encode(x, axis=axis).codes)
    monkeypatch.setattr(codec, "_FAST_PATHS", True)
    assert_same_f32(q_fast, impls.quantize("torch", fmt, x, axis), f"{name}: numba vs torch kernels")
    np.testing.assert_array_equal(c_fast, impls.encode("torch", fmt, x, axis).codes)
    # the torch-tensor entry point (what a training step calls) runs the same numba kernel
    assert_same_f32(fmt.quantize(torch.from_numpy(x), axis=axis).numpy(), q_fast, name)


# ------------------------------------------------------------------------------------------------
# decision points of the float64 comparison path (FP4 with an fp32 tensor scale)
# ------------------------------------------------------------------------------------------------
E2M1 = [Fraction(v) for v in ("0", "1/2", "1", "3/2", "2", "3", "4", "6")]  # OCP MX v1.0 §5.3.3
MIDS = [(a + b) / 2 for a, b in zip(E2M1, E2M1[1:], strict=False)]


def _f32_around(t: Fraction, k: int = 2) -> list[np.float32]:
    """float32 values within k floats of t (t itself when it is a float32)."""
    f = np.float32(float(t))
    out = {f}
    lo = hi = f
    for _ in range(k):
        lo = np.nextafter(lo, np.float32(0))
        hi = np.nextafter(hi, np.float32(np.inf))
        out |= {lo, hi}
    return sorted(out)


def _ts_with_odd_part(bits: int, divisor: Fraction, top: bool = False) -> tuple[np.float32, np.float32]:
    """A tensor amax (float32) whose fp32 tensor scale amax / divisor (docs/numerics.md: the
    scale element's max times the element's) has an odd significand of ``bits`` bits (``top``:
    one just below 2**bits, else just above 2**(bits - 1))."""
    for k in range(1, 1000, 2):
        odd = (1 << bits) - k if top else (1 << (bits - 1)) + k
        ts = Fraction(odd, 1 << (bits + 3))
        amax = np.float32(float(ts * divisor))
        if R.value_of(np.float32(float(R.value_of(amax) / divisor))) == ts:
            return amax, np.float32(float(ts))
    raise AssertionError("no such tensor scale")


@pytest.mark.parametrize("name", ["nvfp4", "mxfp4_ue5m3"])
@pytest.mark.parametrize("mode", ["even", "away", "zero"])
@pytest.mark.parametrize("ts_bits", [19, 20, 21, 24])
def test_tensor_scaled_fp4_decision_points(name: str, mode: str, ts_bits: int) -> None:
    """Every E2M1 midpoint (truncating: every grid value) times the block's scale s = scale * ts,
    with float32 inputs on it (an exact tie where s has few enough bits) and 1, 2 floats either
    side, in blocks whose maximum fixes the scale: codes and values equal the reference. The
    scale's odd part has 19 bits and more: the float32 and the float64 comparison paths."""
    fmt = hwsim.format(name, tensor_scale=True, rounding=mode)
    B = fmt.block_size
    amax, ts = _ts_with_odd_part(ts_bits, R.max_finite(fmt.scale_element) * 6)
    block_scales = ("1", "3/2", "1/4", "7/2")  # values of both E4M3 and UE5M3
    maxes = [np.float32(float(6 * Fraction(sc) * R.value_of(ts))) for sc in block_scales]
    skeleton = np.concatenate([np.full(B, m, np.float32) for m in maxes] + [np.full(B, amax, np.float32)])
    enc = fmt.encode(skeleton[None, :])
    assert enc.tensor_scale == ts
    svals = _scale_values(fmt, enc, -1, (1, skeleton.size))[0, ::B]
    cuts = MIDS if mode != "zero" else E2M1[1:]
    rows = []
    for m, s in zip(maxes, svals[:-1], strict=True):
        probes = [p for c in cuts for p in _f32_around(c * s) if p < m]
        for i in range(0, len(probes), B - 1):
            blk = np.full(B, m, np.float32)
            blk[1:1 + len(probes[i:i + B - 1])] = probes[i:i + B - 1]
            blk[1::2] *= -1
            rows.append(blk)
    x = np.concatenate(rows + [np.full(B, amax, np.float32)])[None, :]
    assert fmt.encode(x).tensor_scale == ts
    _check_ref(fmt, x, -1, f"decision points ts {ts_bits} bits")


# ------------------------------------------------------------------------------------------------
# the stochastic threshold on the branch-free paths, with seeds from the inverted hash
# ------------------------------------------------------------------------------------------------
def _grid(el) -> list[Fraction]:
    """Non-negative finite values of a <= 8-bit element from the reference decoder."""
    vals = set()
    for c in range(1 << el.bits):
        v = R.decode_element(el, c)
        if isinstance(v, Fraction) and v >= 0:
            vals.add(v)
    return sorted(vals)


THRESHOLD_FORMATS = ["mxfp4", "mxfp8_e4m3", "mxint8", "nvfp4", "nvfp4_ts", "ue5m3_ts", "e4m3_nosat", "int8_g32"]


def _threshold_fmt(name: str):
    return {"nvfp4_ts": lambda: hwsim.format("nvfp4", tensor_scale=True),
            "ue5m3_ts": lambda: hwsim.format("mxfp4_ue5m3", tensor_scale=True),
            "e4m3_nosat": lambda: hwsim.format("fp8_e4m3", saturate=False)}.get(
        name, lambda: hwsim.format(name))().replace(**SR)


@pytest.mark.parametrize("name", THRESHOLD_FORMATS)
@pytest.mark.parametrize("axis", [-1, 0])
def test_stochastic_threshold_on_fast_paths(name: str, axis: int) -> None:
    """For probes at several positions (and inner > 1 with axis 0): the seed whose hash at the
    probe's flat index is floor(frac * 2**32) - 1 rounds it up, the one giving exactly
    floor(frac * 2**32) rounds it down (``<``, not ``<=``), and frac = 0 never moves; the frac
    here is computed exactly from the block scale the encode reports and the element grid."""
    fmt = _threshold_fmt(name)
    el = fmt.element
    rng = np.random.default_rng(5)
    B = fmt.block_size or 32
    x = rng.standard_normal((4, 2 * B)).astype(np.float32)
    x[:, ::7] = x[:, ::7] * np.float32(3) + np.float32(0.5)  # blocks of several binades
    if axis == 0:
        x = np.ascontiguousarray(x.T)
    probe_sets = [(1, 3), (2, B + 5), (3, 2 * B - 1)] if axis == -1 else [(3, 1), (B + 5, 2), (2 * B - 1, 3)]
    grid = _grid(el)
    enc0 = fmt.encode(x, axis=axis)  # scales do not depend on the seed (scale rounding is RNE)
    sv = _scale_values(fmt, enc0, axis, x.shape)
    checked = 0
    for pos in probe_sets:
        v = R.value_of(x[pos]) / sv[pos]
        a = abs(v)
        if a >= grid[-1] or a == 0:
            continue
        i = max(j for j, g in enumerate(grid) if g <= a)
        frac = (a - grid[i]) / (grid[i + 1] - grid[i])
        F = (frac * (1 << 32)).numerator // (frac * (1 << 32)).denominator
        index = int(np.ravel_multi_index(pos, x.shape))
        cases = [(F, False)] + ([(F - 1, True)] if F > 0 else [])
        for r, up in cases:
            f = fmt.replace(seed=seed_for(index, r))
            assert hash32(index, f.seed) == r
            got = abs(R.decode_element(el, int(f.encode(x, axis=axis).codes[pos])))
            want = grid[i + 1] if up else grid[i]
            assert got == want or (grid[i] == a and got == a), (name, pos, r, F, got, want)
            _check_ref(f, x, axis, f"threshold r={r} F={F}")
            checked += 1
    assert checked >= 2


def _scale_values(fmt, enc, axis: int, shape) -> np.ndarray:
    """Exact (Fraction) scale of every element from the Encoded's scale codes and tensor scale,
    decoded by the reference."""
    out = np.empty(shape, dtype=object)
    ts = R.value_of(enc.tensor_scale) if enc.tensor_scale is not None else Fraction(1)
    if enc.scales is None:
        out[...] = ts
        return out
    B = fmt.block_size
    sc = np.moveaxis(np.asarray(enc.scales), axis, -1)
    o = np.moveaxis(out, axis, -1)
    for idx in np.ndindex(o.shape):
        code = sc[idx[:-1] + (idx[-1] // B,)]
        if sc.dtype == np.float32:  # fp32 scale elements: the value itself
            s = R.value_of(code)
        elif fmt.scale_element is None:  # E8M0 (OCP MX v1.0 §5.4.1)
            s = R.e8m0_decode(int(code))
        else:
            s = R.decode_element(fmt.scale_element, int(code))
        o[idx] = s * ts
    return out


# ------------------------------------------------------------------------------------------------
# non-saturating casts next to the overflow threshold
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp8_e4m3fnuz"])
@pytest.mark.parametrize("mode", ["even", "away", "zero", "stochastic"])
def test_overflow_threshold_non_saturating(name: str, mode: str) -> None:
    """max, the midpoint to the next binade value (a tie), 1 and 2 floats either side of both,
    with either sign, each in its own row among ordinary values: the rows that may overflow run
    the general loop (Inf / NaN as specified), the others the fast path; both equal the
    reference. Stochastic: each probe also alone with the seed whose hash at it is 0, so that any
    value above max rounds up (overflows)."""
    fmt = hwsim.format(name, saturate=False, rounding=mode, seed=21)
    el = fmt.element
    mx = R.max_finite(el)
    ulp = Fraction(2) ** (R.emax(el) - el.man_bits)  # spacing of the top binade
    rng = np.random.default_rng(2)
    rows = []
    for t in (mx, mx + ulp / 2):
        if float(t) > float(np.finfo(np.float32).max):
            continue
        for p in _f32_around(t):
            for sgn in (1, -1):
                row = rng.standard_normal(48).astype(np.float32)
                row[7] = sgn * p
                rows.append(row)
    x = np.stack(rows)
    _check_ref(fmt, x, -1, "overflow threshold")
    _check_ref(fmt, np.ascontiguousarray(x.T), 0, "overflow threshold")
    if mode == "stochastic":
        for row in x:
            _check_ref(fmt.replace(seed=seed_for(7, 0)), row[None, :], -1, f"r = 0 at {row[7]!r}")


# ------------------------------------------------------------------------------------------------
# stochastic FP4 with an fp32 tensor scale: block divisors with 28-bit odd parts
# ------------------------------------------------------------------------------------------------
def _odd_bits(v: Fraction) -> int:
    """Bits of the odd part of a dyadic rational's numerator."""
    n = v.numerator
    return (n >> ((n & -n).bit_length() - 1)).bit_length()


@pytest.mark.parametrize("name", ["nvfp4", "mxfp4_ue5m3"])
@pytest.mark.parametrize("path", ["comparison", "division"])
def test_stochastic_tensor_scaled_fp4_28_bit_divisors(name: str, path: str, monkeypatch) -> None:
    """Block scales 15/8, 13/8, 3/2, 1 times a tensor scale with a 24-bit odd part: divisors of up
    to 28 bits, the widest an E4M3 / UE5M3 scale times an fp32 tensor scale has. Both branch-free
    stochastic paths (the comparison path with its fused multiply-add test, and the division path,
    forced by hiding the grid) against the Fraction reference, for random seeds and, at probes,
    the seeds whose hash lands one below and exactly on floor(frac * 2**32)."""
    if path == "division":
        monkeypatch.setattr(codec, "_small_grid", lambda el, mode: codec._NO_GRID)
    fmt0 = hwsim.format(name, tensor_scale=True, **SR)
    B = fmt0.block_size
    amax, ts = _ts_with_odd_part(24, R.max_finite(fmt0.scale_element) * 6, top=True)
    rng = np.random.default_rng(7)
    rows = []
    for sc in ("15/8", "13/8", "3/2", "1"):
        m = np.float32(float(6 * Fraction(sc) * R.value_of(ts)))
        blk = (rng.uniform(-1, 1, B) * m).astype(np.float32)
        blk[0] = m  # fixes the block's scale
        rows.append(blk)
    x = np.concatenate(rows + [np.full(B, amax, np.float32)])[None, :]
    enc = fmt0.replace(seed=1).encode(x)
    assert enc.tensor_scale == ts
    sv = _scale_values(fmt0, enc, -1, x.shape)
    assert max(_odd_bits(sv[0, j * B]) for j in range(4)) == 28
    for seed in (1, 2, 3):
        _check_ref(fmt0.replace(seed=seed), x, -1, f"28-bit divisors seed {seed}")
    grid = _grid(fmt0.element)
    checked = 0
    for pos in [(0, 3), (0, B + 2), (0, 2 * B + 5), (0, 3 * B + 1)]:
        a = abs(R.value_of(x[pos]) / sv[pos])
        i = max(j for j, g in enumerate(grid) if g <= a)
        if a >= grid[-1] or a == grid[i]:
            continue
        frac = (a - grid[i]) / (grid[i + 1] - grid[i]) * (1 << 32)
        F = frac.numerator // frac.denominator
        index = int(np.ravel_multi_index(pos, x.shape))
        for r, up in [(F, False), (F - 1, True)]:
            f = fmt0.replace(seed=seed_for(index, r))
            got = abs(R.decode_element(f.element, int(f.encode(x).codes[pos])))
            assert got == (grid[i + 1] if up else grid[i]), (name, path, pos, r, F)
            _check_ref(f, x, -1, f"threshold r={r}")
            checked += 1
    assert checked >= 4
