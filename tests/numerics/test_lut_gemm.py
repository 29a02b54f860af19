"""Table-lookup GEMM (hwsim.numerics.lut_gemm) against references written here independently:

- the weights' levels, scales and zero points against each format's own ``decode``;
- full-precision tables against a plain-numpy GEMM of the integer weights in the stated group
  order, against an exact integer (Python ``int``) reference when the scales are powers of two,
  and against the dequantized MAC GEMM where the dequantized weights are exact;
- float32 tables against numpy float32 sums in T-MAC's ``lut_ctor`` order;
- int8 tables against a vectorized numpy transcription of T-MAC's AVX2 ``lut_ctor_g4_int8_impl``
  and ``partial_max_g4_int8_k8`` (``microsoft/T-MAC python/t_mac/intrins/lut_ctor.cc``), and the
  int8 GEMM against a numpy GEMM of those tables plus an error bound from the table step;
- mirror consolidation: identical results in every table format.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.lut_gemm import TABLE_FORMATS, fp_tables, lut_gemm, lut_weights, tmac_int8_tables

#: every catalog weight format the LUT emulation takes, 1 to 4 bits and INT8
LUT_FORMATS = ["int1_g64", "int2_g64", "int3_g64", "int4_g64", "int2_asym_g64", "int3_asym_g64", "int4_asym_g64",
               "int4_g32", "int4_g128", "int4_asym_g128", "int3_asym_g128", "ternary", "ternary_tq2", "int4",
               "int8_g32", "int8_channel"]


def _weights(name: str, n: int = 12, k: int = 256, seed: int = 0):
    fmt = hwsim.format(name)
    w = np.random.default_rng(seed).standard_normal((n, k)).astype(np.float32)
    enc = fmt.encode(w, axis=-1)
    return fmt, enc, lut_weights(fmt, enc)


def _dyadic(m: int, k: int, seed: int = 1) -> np.ndarray:
    """Activations on a common dyadic grid (i / 16, |i| < 1024): every float64 sum is exact."""
    return (np.random.default_rng(seed).integers(-1023, 1024, (m, k)) / 16).astype(np.float32)


def _group_reference(a: np.ndarray, lw) -> np.ndarray:
    """fp32(sum_G s_G (a_G . (q_G - z_G))): float64, groups in order (the stated order)."""
    n, k = lw.shape
    G = lw.group_size
    y = np.zeros((a.shape[0], n))
    for gi, s0 in enumerate(range(0, k, G)):
        wint = lw.q[:, s0:s0 + G].astype(np.float64) - lw.zero[:, gi:gi + 1]
        y += lw.scales[:, gi] * (a[:, s0:s0 + G].astype(np.float64) @ wint.T)
    return y.astype(np.float32)


# ------------------------------------------------------------------------------------------------
# weights
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", LUT_FORMATS)
def test_levels_scales_zero_points_decode_like_the_format(name):
    """fp32(s (q - z)) is the format's own decoded weight, bit for bit; levels fit in b bits."""
    fmt, enc, lw = _weights(name)
    assert lw.q.max() < (1 << lw.bits) and lw.bits <= fmt.element_bits
    np.testing.assert_array_equal(lw.dequantized().astype(np.float32), fmt.decode(enc))


def test_weight_bits_and_offsets():
    """T-MAC's level maps: symmetric INT b -> q = k + 2^(b-1); ternary -> t + 1; sign -> (t + 1) / 2."""
    assert [_weights(n)[2].bits for n in ("int1_g64", "int2_g64", "int3_g64", "int4_g64", "ternary")] == [1, 2, 3, 4, 2]
    assert set(_weights("int4_g64")[2].zero.ravel()) == {8.0}
    assert set(_weights("ternary")[2].zero.ravel()) == {1.0}
    assert set(_weights("int1_g64")[2].zero.ravel()) == {0.5}


def test_planes_index_chunks_little_endian():
    """Bit t of a plane-i index is bit i of the chunk's weight t (numpy unpackbits 'little')."""
    _, _, lw = _weights("int3_asym_g64", n=3, k=64)
    idx = lw.planes(4)
    for i in range(lw.bits):
        bits = np.unpackbits(idx[i][..., None], axis=-1, bitorder="little", count=4).reshape(3, 64)
        np.testing.assert_array_equal(bits, (lw.q >> i) & 1)


@pytest.mark.parametrize("name", ["mxfp4", "fp8_e4m3", "nvfp4", "bitmod4", "shiftadd2"])
def test_non_integer_grid_formats_are_refused(name):
    fmt = hwsim.format(name)
    enc = fmt.encode(np.ones((2, 64), np.float32), axis=-1)
    with pytest.raises(FormatError, match="LUT GEMM|integer"):
        lut_weights(fmt, enc)


# ------------------------------------------------------------------------------------------------
# full-precision tables: the dequantized GEMM in the stated order
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", LUT_FORMATS)
def test_full_tables_equal_group_reference(name):
    """Dyadic activations (exact sums) and random normal ones: bit for bit the reference."""
    fmt, enc, lw = _weights(name)
    for a in (_dyadic(5, 256), np.random.default_rng(7).standard_normal((5, 256)).astype(np.float32)):
        np.testing.assert_array_equal(lut_gemm(a, enc, fmt), _group_reference(a, lw))


@pytest.mark.parametrize("name", ["ternary", "int4", "int1_g64", "int2_g64"])
def test_full_tables_equal_mac_gemm_where_weights_are_exact(name):
    """Where fp32(s (q - z)) == s (q - z) (checked), LUT equals the bridge's MAC GEMM (float64
    products and sum, rounded once) on random activations, bit for bit."""
    fmt, enc, lw = _weights(name, n=32)
    deq = fmt.decode(enc).astype(np.float64)
    assert np.array_equal(deq, lw.dequantized())
    a = np.random.default_rng(3).standard_normal((8, 256)).astype(np.float32)
    np.testing.assert_array_equal(lut_gemm(a, lw), (a.astype(np.float64) @ deq.T).astype(np.float32))


def _exact_integer_reference(a: np.ndarray, lw) -> np.ndarray:
    """Python-int arithmetic: a = i / 16, s = p / 2^r (power of two), 2 (q - z) integer."""
    n, k = lw.shape
    G = lw.group_size
    ai = (a.astype(np.float64) * 16).astype(np.int64)
    out = np.zeros((a.shape[0], n), np.float32)
    for m in range(a.shape[0]):
        for j in range(n):
            num, R = 0, 0
            terms = []
            for gi, s0 in enumerate(range(0, k, G)):
                p, q2 = float(lw.scales[j, gi]).as_integer_ratio()
                wi = [int(2 * (int(lw.q[j, t]) - lw.zero[j, gi])) for t in range(s0, min(k, s0 + G))]
                inner = sum(int(ai[m, t]) * w for t, w in zip(range(s0, s0 + len(wi)), wi, strict=True))  # / (16 * 2)
                terms.append((p * inner, q2 * 32))
                R = max(R, q2 * 32)
            num = sum(t * (R // d) for t, d in terms)
            assert abs(num) < 2**53  # float(num) / R is then exact; one rounding to float32
            out[m, j] = np.float32(float(num) / R)
    return out


@pytest.mark.parametrize("name", ["int4_g32", "int2_g64", "int3_g64"])
def test_full_tables_equal_exact_integer_reference(name):
    """Power-of-two scales (the format's E8M0-style ``pow2`` rule): every value is dyadic, and the
    LUT result is the exact result rounded once to float32."""
    fmt = hwsim.format(name, scale_rule="pow2")
    w = np.random.default_rng(5).standard_normal((6, 128)).astype(np.float32)
    enc = fmt.encode(w, axis=-1)
    lw = lut_weights(fmt, enc)
    a = _dyadic(3, 128, seed=4)
    np.testing.assert_array_equal(lut_gemm(a, lw), _exact_integer_reference(a, lw))


@given(st.integers(0, 2**31 - 1), st.sampled_from(["int1_g64", "int2_asym_g64", "int3_g64", "ternary"]),
       st.sampled_from([1, 2, 3, 4, 5, 8]))
def test_any_g_gives_the_same_full_precision_result(seed, name, g):
    """The table width g changes the lookups, not the (exact, dyadic) result (a g that does not
    divide the 64-groups is refused: a chunk would straddle two scales)."""
    _, _, lw = _weights(name, n=4, k=128, seed=seed % 1000)
    if lw.group_size % g and lw.group_size < 128:
        with pytest.raises(FormatError, match="multiple of g"):
            lut_gemm(_dyadic(2, 128), lw, g=g)
        return
    a = _dyadic(2, 128, seed=seed)
    np.testing.assert_array_equal(lut_gemm(a, lw, g=g), _group_reference(a, lw))


def test_k_not_a_multiple_of_g_and_batched_activations():
    fmt, enc, lw = _weights("int4", n=5, k=70)
    a = _dyadic(6, 70).reshape(2, 3, 70)
    y = lut_gemm(a, lw, g=4)
    assert y.shape == (2, 3, 5)
    np.testing.assert_array_equal(y.reshape(6, 5), _group_reference(a.reshape(6, 70), lw))


# ------------------------------------------------------------------------------------------------
# float32 tables: T-MAC's float lut_ctor order
# ------------------------------------------------------------------------------------------------
def _fp32_tables_reference(a: np.ndarray, g: int) -> np.ndarray:
    """Entry j = s_0 a_0 + s_1 a_1 + ... left to right in numpy float32, s_t = +1 if bit t of j."""
    m, k = a.shape
    ch = a.reshape(m, k // g, g)
    out = np.zeros((m, k // g, 1 << g), np.float32)
    for j in range(1 << g):
        sign = np.where((j >> np.arange(g)) & 1, np.float32(1), np.float32(-1)).astype(np.float32)
        acc = sign[0] * ch[..., 0]
        for t in range(1, g):
            acc = (acc + sign[t] * ch[..., t]).astype(np.float32)
        out[..., j] = acc
    return out


@pytest.mark.parametrize("g", [2, 4])
def test_fp32_tables_match_reference(g):
    a = np.random.default_rng(11).standard_normal((3, 64)).astype(np.float32) * np.float32(1e3)
    np.testing.assert_array_equal(fp_tables(a, g, "fp32"), _fp32_tables_reference(a, g))
    half = fp_tables(a, g, "fp32", mirror=True)
    np.testing.assert_array_equal(half, _fp32_tables_reference(a, g)[..., 1::2])


# ------------------------------------------------------------------------------------------------
# int8 tables: T-MAC lut_ctor_g4_int8_impl (AVX2) + partial_max_g4_int8_k8, transcribed in numpy
# ------------------------------------------------------------------------------------------------
def _tmac_int8_reference(a: np.ndarray, act_group: int):
    f32 = np.float32
    m, k = a.shape
    ch = a.reshape(m, k // 4, 4).astype(f32)
    ab = np.abs(ch)
    abssum = ((ab[..., 0] + ab[..., 1]).astype(f32) + (ab[..., 2] + ab[..., 3]).astype(f32)).astype(f32)
    per = act_group // 4
    scales = (abssum.reshape(m, -1, per).max(axis=-1) / f32(127)).astype(f32)
    with np.errstate(divide="ignore"):
        t = np.where(scales != 0, (f32(1) / scales).astype(f32), f32(0)).astype(f32)
    lut = np.zeros((m, k // 4, 16), f32)
    for j in range(1, 16, 2):
        v = ch[..., 0]
        for bit in range(1, 4):
            v = (v + ch[..., bit]).astype(f32) if (j >> bit) & 1 else (v - ch[..., bit]).astype(f32)
        lut[..., j] = v
    for j in range(0, 16, 2):
        lut[..., j] = -lut[..., 15 - j]
    tt = np.repeat(t, per, axis=1)[..., None]
    qlut = np.clip(np.rint((lut * tt).astype(f32)), -128, 127).astype(np.int8)
    l0 = lut[..., 0].reshape(m, k // act_group, act_group // 32, 8)
    r = [(l0[..., i] + l0[..., i + 4]).astype(f32) for i in range(4)]
    block = ((r[0] + r[2]).astype(f32) + (r[1] + r[3]).astype(f32)).astype(f32)
    biases = np.zeros((m, k // act_group), f32)
    for b in range(act_group // 32):
        biases = (biases + block[..., b]).astype(f32)
    return qlut, scales, biases


@given(st.integers(0, 2**31 - 1), st.sampled_from([32, 64, 128]), st.sampled_from(["normal", "ties", "zeros"]))
def test_int8_tables_match_tmac_reference(seed, act_group, kind):
    rng = np.random.default_rng(seed)
    if kind == "normal":
        a = (rng.standard_normal((3, 256)) * 10.0 ** rng.integers(-3, 3)).astype(np.float32)
    elif kind == "ties":  # small integers: entries * t land on many exact halves
        a = rng.integers(-3, 4, (3, 256)).astype(np.float32)
    else:  # an all-zero group: scale 0, t = 0, codes 0
        a = rng.standard_normal((3, 256)).astype(np.float32)
        a[:, :act_group] = 0
    t8 = tmac_int8_tables(a, act_group)
    qlut, scales, biases = _tmac_int8_reference(a, act_group)
    np.testing.assert_array_equal(t8.qlut, qlut)
    np.testing.assert_array_equal(t8.scales, scales)
    np.testing.assert_array_equal(t8.biases, biases)
    np.testing.assert_array_equal(tmac_int8_tables(a, act_group, mirror=True).qlut, qlut[..., 1::2])


def test_int8_table_scale_is_table_absmax_and_codes_reach_127():
    a = np.random.default_rng(2).standard_normal((2, 64)).astype(np.float32)
    t8 = tmac_int8_tables(a, 64)
    assert np.abs(t8.qlut).max() == 127 and t8.qlut.min() >= -127
    np.testing.assert_allclose(t8.scales[:, 0], np.abs(a.reshape(2, 16, 4)).sum(-1).max(-1) / 127, rtol=1e-6)
    np.testing.assert_allclose(t8.biases[:, 0], -a.sum(-1), rtol=1e-5)


def _int8_gemm_reference(a, lw, act_group):
    """numpy GEMM of the reference tables, in the stated order (integer sums per activation group
    and plane; x table scale; groups in order; beta A; x s; weight groups in order)."""
    qlut, ls, biases = _tmac_int8_reference(a, act_group)
    m, k = a.shape
    n = lw.shape[0]
    idx = lw.planes(4)
    cpa = act_group // 4
    G = min(lw.group_size, k)
    beta = ((1 << lw.bits) - 1) / 2 - lw.zero
    y = np.zeros((m, n))
    for gi, g0 in enumerate(range(0, k, G)):
        inner = np.zeros((m, n))
        for s0 in range(g0 // 4, (g0 + G) // 4, cpa):
            seg = np.zeros((m, n))
            for i in range(lw.bits):
                look = np.zeros((m, n), np.int64)
                for c in range(s0, s0 + cpa):
                    look += qlut[:, c, :][:, idx[i, :, c]].astype(np.int64)
                seg += 2.0 ** (i - 1) * look
            inner += ls[:, s0 // cpa, None].astype(np.float64) * seg
        A = -biases[:, g0 // act_group:(g0 + G) // act_group].astype(np.float64).sum(axis=1)
        inner += beta[None, :, gi] * A[:, None]
        y += lw.scales[None, :, gi] * inner
    return y.astype(np.float32)


@pytest.mark.parametrize("name,act_group", [("int4_asym_g64", 64), ("int2_g64", 32), ("ternary", 64),
                                            ("int1_g64", 64), ("int3_asym_g128", 64)])
def test_int8_gemm_matches_reference_and_error_bound(name, act_group):
    fmt, enc, lw = _weights(name, n=10)
    a = np.random.default_rng(9).standard_normal((4, 256)).astype(np.float32)
    y8 = lut_gemm(a, lw, table_format="int8", act_group=act_group)
    np.testing.assert_array_equal(y8, _int8_gemm_reference(a, lw, act_group))
    # each lookup is off by at most half a table step (plus the float32 table's own rounding)
    exact = _group_reference(a, lw)
    ls = tmac_int8_tables(a, act_group).scales.astype(np.float64)
    per_lookup = 0.5 * ls.max(axis=1) * (1 + 1e-5) + 1e-6 * np.abs(a).max()
    chunks = 256 // 4
    alphas = sum(2.0 ** (i - 1) for i in range(lw.bits))
    bound = per_lookup[:, None] * chunks * alphas * np.abs(lw.scales).max(axis=1)[None, :] + 1e-6
    assert np.all(np.abs(y8.astype(np.float64) - exact) <= bound)


def test_int8_act_group_none_is_one_scale_per_row():
    _, _, lw = _weights("ternary", n=4, k=128)
    a = np.random.default_rng(1).standard_normal((2, 128)).astype(np.float32)
    np.testing.assert_array_equal(lut_gemm(a, lw, table_format="int8", act_group=None),
                                  _int8_gemm_reference(a, lw, 128))


# ------------------------------------------------------------------------------------------------
# mirror consolidation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table_format", TABLE_FORMATS)
@pytest.mark.parametrize("name", ["int1_g64", "int2_asym_g64", "int3_g64", "int4_asym_g64", "ternary"])
def test_mirror_never_changes_the_result(name, table_format):
    _, _, lw = _weights(name, n=9)
    a = np.random.default_rng(4).standard_normal((3, 256)).astype(np.float32)
    np.testing.assert_array_equal(lut_gemm(a, lw, table_format=table_format, mirror=True),
                                  lut_gemm(a, lw, table_format=table_format))


def test_mirror_stores_half_the_table():
    a = np.ones((1, 8), np.float32)
    assert fp_tables(a, 4).shape == (1, 2, 16) and fp_tables(a, 4, mirror=True).shape == (1, 2, 8)


# ------------------------------------------------------------------------------------------------
# input checks
# ------------------------------------------------------------------------------------------------
def test_bad_arguments_raise_format_errors():
    fmt, enc, lw = _weights("int4_g64", n=2, k=128)
    a = np.ones((1, 128), np.float32)
    with pytest.raises(FormatError, match="table_format"):
        lut_gemm(a, lw, table_format="fp16")
    with pytest.raises(FormatError, match="g="):
        lut_gemm(a, lw, g=9)
    with pytest.raises(FormatError, match="g = 4"):
        lut_gemm(a, lw, g=2, table_format="int8")
    with pytest.raises(FormatError, match="act_group"):
        lut_gemm(a, lw, table_format="int8", act_group=48)
    with pytest.raises(FormatError, match="act_group"):
        lut_gemm(a, lw, table_format="int8", act_group=128)  # does not nest in the 64-groups
    with pytest.raises(FormatError, match="K="):
        lut_gemm(np.ones((1, 64), np.float32), lw)
    with pytest.raises(FormatError, match="float32 values"):
        lut_gemm(np.full((1, 128), 0.1), lw)
    with pytest.raises(FormatError, match="floats"):
        lut_gemm(np.ones((1, 128), np.int32), lw)
    with pytest.raises(FormatError, match="axis 1"):
        lut_weights(fmt, fmt.encode(np.ones((2, 128), np.float32), axis=0))
