"""ANT and BitMoD mixture-of-datatype formats (hwsim/numerics/mixture.py, formats/ant.toml,
formats/bitmod.toml); the generic API checks and the statistical anchors also run the INT-asym
baseline (its own tests: test_asym_int.py).

Expected values come from three places: tables written out by hand from the papers (ANT MICRO'22
§III-IV, BitMoD HPCA'25 §III Table IV), re-transcriptions of the official code's loops (ANT ``quant_modules.py`` value
generators and ``search_mse``; BitMoD ``quant_weight.py::quant_datatype/search_datatype``)
written here without hwsim, and hand-worked groups.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics.mixture import ant_flint, ant_float, ant_int, ant_pot, bitmod_fp
from tests.numerics.numerics_helpers import assert_same_f32, weights

ANT_FORMATS = ["ant4", "ant4_fipf", "ant_int4", "flint4", "pot4"]
BITMOD_FORMATS = ["bitmod4", "bitmod3", "fp4_er", "fp4_ea", "fp3", "fp3_er", "fp3_ea", "fp4_g128"]
ASYM_FORMATS = ["int4_asym_g128", "int3_asym_g128"]
ALL = ANT_FORMATS + BITMOD_FORMATS + ASYM_FORMATS


def signed_zero(v: float) -> tuple[float, bool]:
    return (v, math.copysign(1.0, v) < 0)


# ----------------------------------------------------------------------------------------------
# value tables, by hand
# ----------------------------------------------------------------------------------------------
def test_flint4_unsigned_table():
    """ANT MICRO'22 §IV-A (flint LZD decoder): 0000..0111 -> 0..7, then 64, 32, 16, 24, 8, 10, 12, 14."""
    assert ant_flint(4, signed=False) == [0, 1, 2, 3, 4, 5, 6, 7, 64, 32, 16, 24, 8, 10, 12, 14]


def test_flint4_unsigned_matches_lzd_formula():
    """Survey arXiv 2409.16694 Eq. 4 (bias 1), evaluated by hand per code:
    X = 2^(p-1) * 1.mant, p = 3 - LZD(b2b1b0) if b3 = 0 else 4 + LZD(b2b1b0)."""
    worked = {0b0001: 2**0 * 1, 0b0010: 2**1 * 1, 0b0011: 2**1 * 1.5, 0b0100: 2**2 * 1, 0b0101: 2**2 * 1.25,
              0b0110: 2**2 * 1.5, 0b0111: 2**2 * 1.75, 0b1000: 2**6 * 1, 0b1001: 2**5 * 1, 0b1010: 2**4 * 1,
              0b1011: 2**4 * 1.5, 0b1100: 2**3 * 1, 0b1101: 2**3 * 1.25, 0b1110: 2**3 * 1.5, 0b1111: 2**3 * 1.75}
    table = ant_flint(4, signed=False)
    assert {c: table[c] for c in worked} == worked


def test_flint4_signed_table():
    """1 sign + 3-bit flint magnitude 000->0, 001->1, 010->2, 011->3, 100->16, 101->8, 110->4, 111->6."""
    t = ant_flint(4, signed=True)
    assert t == [0, 1, 2, 3, 16, 8, 4, 6, 0, -1, -2, -3, -16, -8, -4, -6]
    assert signed_zero(t[8]) == (0.0, True)  # 1000 is -0 (never produced)


def test_ant_4bit_value_sets():
    """ANT MICRO'22 §III value sets (``Quantizer.*_value``; integer units of each type), written out by hand."""
    def vs(t):
        return sorted({v + 0.0 for v in t})

    assert ant_int(4, True) == [0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1]  # two's complement
    assert ant_int(4, False) == list(range(16))
    pot = [0, 1, 2, 4, 8, 16, 32, 64]
    assert ant_pot(4, True) == pot + [-v for v in pot]
    assert vs(ant_pot(4, True)) == sorted({0, *pot, *(-v for v in pot)})
    assert ant_pot(4, False) == [0] + [2.0**i for i in range(15)]
    assert vs(ant_float(4, True)) == sorted({0, *pot, *(-v for v in pot)})  # E3M0: same set as PoT
    assert ant_float(4, False) == [0, .5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96]
    assert vs(ant_flint(4, True)) == [-16, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 16]
    assert vs(ant_flint(4, False)) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 24, 32, 64]


# transcription of ANT quant_modules.py value generators (value sets, normalized to max 1)
def ant_code_values(kind: str, bit: int, signed: bool) -> list[float]:
    B = bit - 1 if signed else bit
    values: list[float] = []

    def add(v):
        values.append(v)
        if signed:
            values.append(-v)

    if kind == "int":
        values.append(0.0)
        for i in range(1, 2**B):
            add(float(i))
        if signed:
            values.append(-(2.0**B))
    elif kind == "pot":
        values.append(0.0)
        for i in range(0, 2**B - 1):
            add(2.0**i)
    elif kind == "float":
        exp_bit, man_bit = (2, 0) if B == 2 else (3, B - 3)
        first, sub = True, True
        for i in range(2**exp_bit):
            for j in range(2**man_bit):
                if first:
                    values.append(0.0)
                    first = False
                elif sub:
                    add(2.0**i * (j * 2.0**-man_bit))
                else:
                    add(2.0 ** (i - 1) * (1 + j * 2.0**-man_bit))
            sub = False
    else:  # flint, exp_base 0
        values.append(0.0)
        for i in range(0, B):  # negative exponents
            eb = i + 2
            mb = B - eb
            for j in range(int(2.0**mb)):
                add(2.0 ** -(eb - 1) * (1 + 2.0**-mb * j))
        for j in range(int(2.0 ** (B - 2))):  # exponent zero
            add(1 + 2.0 ** -(B - 2) * j)
        for i in range(1, B - 1):  # positive exponents
            mb = B - i - 2
            for j in range(int(2.0**mb)):
                add(2.0**i * (1 + 2.0**-mb * j))
        add(2.0 ** (B - 1))
    if len(values) < 2**bit:
        values.append(0.0)
    assert len(values) == 2**bit
    top = max(values)
    return sorted(v / top for v in values)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("bits", [3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("kind,gen", [("int", ant_int), ("pot", ant_pot), ("float", ant_float), ("flint", ant_flint)])
def test_generators_match_ant_code(kind, gen, bits, signed):
    """Every width the official code defines: same multiset of values (up to ANT's scaling)."""
    if kind == "float" and (bits - signed) < 3 and (bits - signed) != 2:
        pytest.skip("ANT float needs a >= 2-bit magnitude")
    table = gen(bits, signed)
    assert len(table) == 2**bits
    top = max(table)
    assert sorted(v / top + 0.0 for v in table) == ant_code_values(kind, bits, signed)


def test_bitmod_tables_by_hand():
    """Code -> value (paper Table IV; -0 code 1000 / 100 replaced by the special value)."""
    fp4 = [0, .5, 1, 1.5, 2, 3, 4, 6]
    neg4 = [-.5, -1, -1.5, -2, -3, -4, -6]
    assert bitmod_fp(2, 1) == fp4 + [0] + neg4 and signed_zero(bitmod_fp(2, 1)[8]) == (0.0, True)
    assert bitmod_fp(2, 1, 5.0) == fp4 + [5] + neg4
    assert bitmod_fp(2, 1, -5.0) == fp4 + [-5] + neg4
    assert bitmod_fp(2, 1, 8.0) == fp4 + [8] + neg4
    assert bitmod_fp(2, 1, -8.0) == fp4 + [-8] + neg4
    assert bitmod_fp(2, 0) == [0, 1, 2, 4, 0, -1, -2, -4]
    assert bitmod_fp(2, 0, 3.0) == [0, 1, 2, 4, 3, -1, -2, -4]
    assert bitmod_fp(2, 0, -3.0) == [0, 1, 2, 4, -3, -1, -2, -4]
    assert bitmod_fp(2, 0, 6.0) == [0, 1, 2, 4, 6, -1, -2, -4]
    assert bitmod_fp(2, 0, -6.0) == [0, 1, 2, 4, -6, -1, -2, -4]


# quant_weight.py lists (code units = 2 x real for FP4), copied by hand
BITMOD_LISTS = {
    "bitmod_fp4": [-12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12],
    "bitmod_fp4_er_pos": [-12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 10, 12],
    "bitmod_fp4_er_neg": [-12, -10, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12],
    "bitmod_fp4_ea_pos": [-12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12, 16],
    "bitmod_fp4_ea_neg": [-16, -12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 3, 4, 6, 8, 12],
    "bitmod_fp3": [-4, -2, -1, 0, 1, 2, 4],
    "bitmod_fp3_er_pos": [-4, -2, -1, 0, 1, 2, 3, 4],
    "bitmod_fp3_er_neg": [-4, -3, -2, -1, 0, 1, 2, 4],
    "bitmod_fp3_ea_pos": [-4, -2, -1, 0, 1, 2, 4, 6],
    "bitmod_fp3_ea_neg": [-6, -4, -2, -1, 0, 1, 2, 4],
}


def catalog_codebooks():
    return {cb.name: cb for f in hwsim.catalog.all_formats() for cb in getattr(f, "types", ())}


def test_catalog_codebooks_match_bitmod_code_lists():
    cbs = catalog_codebooks()
    for name, lst in BITMOD_LISTS.items():
        unit = 2.0 if "fp4" in name else 1.0
        assert list(cbs[name].values()) == [v / unit for v in lst], name
        assert cbs[name].ties == "down"
        assert cbs[name].max == max(abs(v) for v in lst) / unit  # quant_datatype's qmax


def test_catalog_ant_codebooks():
    cbs = catalog_codebooks()
    assert cbs["ant_flint4"].table == tuple(ant_flint(4, True))
    assert cbs["ant_int4"].table == tuple(ant_int(4, True))
    assert cbs["ant_pot4"].table == tuple(ant_pot(4, True))
    assert cbs["ant_float4"].table == tuple(ant_float(4, True))
    for n in ("ant_flint4", "ant_int4", "ant_pot4", "ant_float4"):
        assert cbs[n].ties == "up"


def test_catalog_entries():
    """bits/element and the rules of every entry (paper accounting: 4 + (8 + 2)/128 etc.)."""
    want = {"bitmod4": 4 + 10 / 128, "bitmod3": 3 + 10 / 128, "fp4_er": 4 + 9 / 128, "fp4_ea": 4 + 9 / 128,
            "fp3_er": 3 + 9 / 128, "fp3_ea": 3 + 9 / 128, "fp3": 3 + 16 / 128, "fp4_g128": 4 + 16 / 128,
            "int4_asym_g128": 4 + 20 / 128, "int3_asym_g128": 3 + 19 / 128,
            "ant4": 4, "ant4_fipf": 4, "ant_int4": 4, "flint4": 4, "pot4": 4}
    for name, bpe in want.items():
        assert hwsim.format(name).bits_per_element == bpe, name
    b4 = hwsim.format("bitmod4")
    assert [t.name for t in b4.types] == ["bitmod_fp4_er_pos", "bitmod_fp4_er_neg", "bitmod_fp4_ea_pos",
                                          "bitmod_fp4_ea_neg"]
    assert (b4.group_size, b4.select, b4.scale_rule, b4.scale_storage) == (128, "group", "absmax", "int8")
    a4 = hwsim.format("ant4")
    assert [t.name for t in a4.types] == ["ant_int4", "ant_flint4", "ant_pot4"]
    assert (a4.group_size, a4.select, a4.scale_rule, a4.search) == (0, "tensor", "mse", (75, 150, 1))
    assert round(hwsim.format("bitmod4").bits_per_element, 3) == 4.078


# ----------------------------------------------------------------------------------------------
# generic API properties over the entries of this module
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ALL)
def test_decode_encode_is_quantize(name):
    fmt = hwsim.format(name)
    w = weights(seed=len(name))
    enc = fmt.encode(w)
    assert enc.codes.dtype == np.uint8 and enc.codes.shape == w.shape
    assert int(enc.codes.max()) < 1 << fmt.element_bits
    assert_same_f32(fmt.decode(enc), fmt.quantize(w), name)
    tables = [np.array(cb.table) for cb in getattr(fmt, "types", ())]
    for t in tables:
        assert not np.isnan(t).any()
    if tables:  # the -0 pattern of a sign-magnitude table without a special value is never produced
        sel = np.asarray(enc.meta["selector"])
        layout = fmt.group_size or w.shape[-1]
        per_elem = np.repeat(sel.reshape(w.shape[0], -1), layout, axis=1)[:, : w.shape[1]]
        for t_idx, cb in enumerate(fmt.types):
            neg_zero = [c for c, v in enumerate(cb.table) if v == 0 and math.copysign(1, v) < 0]
            assert not np.isin(enc.codes[per_elem == t_idx], neg_zero).any(), (name, cb.name)


@pytest.mark.parametrize("name", ["ant4", "bitmod4", "int4_asym_g128"])
def test_torch_in_torch_out(name):
    torch = pytest.importorskip("torch")
    fmt = hwsim.format(name)
    w = weights(seed=3)
    q = fmt.quantize(torch.from_numpy(w))
    assert isinstance(q, torch.Tensor) and q.dtype == torch.float32
    assert_same_f32(q.numpy(), fmt.quantize(w), name)
    enc = fmt.encode(torch.from_numpy(w))
    assert isinstance(enc.codes, torch.Tensor)
    assert_same_f32(fmt.decode(enc).numpy(), fmt.quantize(w), name)


# ----------------------------------------------------------------------------------------------
# ANT: per-channel search and per-tensor type selection vs a transcription of search_mse
# ----------------------------------------------------------------------------------------------
def ant_reference(w, tables, denominator="posmax", search=(75, 150, 1)):
    """quant_modules.py ``search_mse`` (per output channel, weights) + ``search_adaptive_numeric_type``
    in the codebook arithmetic (fp32 scale, float64 x / s). ``tables``: code tables in the code's
    candidate order. ANT divides alpha by ``max(grid)`` (``posmax``); ``absmax`` is the codebook rule.
    The factor is k / 100 as in the contract (the code writes ``i * 0.01``, which differs from it
    in the last bit for some k). Returns (values, chosen type index)."""
    x = w.astype(np.float64)
    absmax = np.abs(x).max(axis=1)
    results = []
    for table in tables:
        grid = np.sort(np.array(table, np.float64) + 0.0)  # ANT appends +0. as the duplicate zero
        den = grid.max() if denominator == "posmax" else np.abs(grid).max()
        best_err = np.full(x.shape[0], np.inf)
        best_q = np.zeros_like(x, dtype=np.float32)
        for k in range(*search):
            alpha = absmax * (k / 100)
            s = (alpha / den).astype(np.float32).astype(np.float64)
            y = x / s[:, None]
            d = np.abs(y[..., None] - grid)  # the CUDA loop: `<=` keeps the LAST minimum
            idx = grid.size - 1 - np.argmin(d[..., ::-1], axis=-1)
            q = grid[idx] * s[:, None]
            err = ((q - x) ** 2).mean(axis=1)
            better = err < best_err
            best_err[better] = err[better]
            best_q[better] = q[better].astype(np.float32)
        results.append((best_err.sum(), best_q))
    t = int(np.argmin([r[0] for r in results]))
    return results[t][1], t


def ant_types(name):
    return [list(cb.table) for cb in hwsim.format(name).types]


@pytest.mark.parametrize("name", ["flint4", "pot4", "ant4_sym"])
@pytest.mark.parametrize("heavy", [False, True])
def test_ant_matches_search_mse(name, heavy):
    """Symmetric grids: ANT's posmax rule = the codebook's absmax rule, so bit-exact."""
    w = weights((6, 96), seed=11 + heavy, heavy=heavy)
    if name == "ant4_sym":  # type selection among the symmetric candidates, in ANT's order
        fmt = hwsim.format("ant4_fipf").replace(types=hwsim.format("ant4_fipf").types[1:])
    else:
        fmt = hwsim.format(name)
    want, t = ant_reference(w, [list(cb.table) for cb in fmt.types])
    enc = fmt.encode(w)
    assert int(np.asarray(enc.meta["selector"]).reshape(-1)[0]) == t
    assert np.all(np.asarray(enc.meta["selector"]) == t)
    assert_same_f32(fmt.quantize(w), want, name)


def test_ant_type_selection_varies():
    """Gaussian weights pick flint, heavy tails pick PoT among (flint, pot, float); ant4 on
    Gaussian weights picks int."""
    fmt = hwsim.format("ant4_fipf").replace(types=hwsim.format("ant4_fipf").types[1:])
    picks = set()
    for _heavy, w in ((False, weights((6, 96), 1)),
                      (True, (np.random.default_rng(2).standard_cauchy((6, 96)) * 0.02).astype(np.float32))):
        _, t = ant_reference(w, [list(cb.table) for cb in fmt.types])
        assert np.all(np.asarray(fmt.encode(w).meta["selector"]) == t)
        picks.add(fmt.types[t].name)
    assert picks == {"ant_flint4", "ant_pot4"}
    a4 = hwsim.format("ant4")
    w = weights((6, 96), 4)
    want, t = ant_reference(w, ant_types("ant4"))
    assert a4.types[t].name == "ant_int4"
    assert np.all(np.asarray(a4.encode(w).meta["selector"]) == t)
    assert_same_f32(a4.quantize(w), want, "ant4")


def test_ant_hand_worked():
    """PoT weights are exact for pot4 (k = 100, s = 1); 3 sits between 2 and 4 and ties UP to 4;
    flint weights are exact for flint4."""
    pot = hwsim.format("pot4")
    w = np.array([[64, 3, -2, 0, -32, 16], [-64, 1, 8, 4, -1, 2]], np.float32)
    np.testing.assert_array_equal(pot.quantize(w), [[64, 4, -2, 0, -32, 16], [-64, 1, 8, 4, -1, 2]])
    enc = pot.encode(w)
    np.testing.assert_array_equal(enc.codes[0], [7, 3, 0b1010, 0, 0b1110, 5])
    assert_same_f32(np.asarray(enc.meta["alpha"]).reshape(-1), np.array([64, 64], np.float32))
    fl = hwsim.format("flint4")
    w = np.array([[16, -6, 3, 8, -1, 0, 4, 2]], np.float32)
    np.testing.assert_array_equal(fl.quantize(w), w)
    np.testing.assert_array_equal(fl.encode(w).codes, [[0b0100, 0b1111, 0b0011, 0b0101, 0b1001, 0, 0b0110, 0b0010]])


def test_ant_int4_matches_search_mse():
    w = weights((6, 96), seed=5)
    want, _ = ant_reference(w, ant_types("ant_int4"))
    assert_same_f32(hwsim.format("ant_int4").quantize(w), want, "ant_int4")


def test_ant_int4_exact_on_integers():
    w = np.tile(np.arange(-7, 8, dtype=np.float32), (2, 3))
    np.testing.assert_array_equal(hwsim.format("ant_int4").quantize(w), w)


# ----------------------------------------------------------------------------------------------
# BitMoD: quant_datatype / search_datatype transcribed
# ----------------------------------------------------------------------------------------------
def bitmod_reference(w, lists, group=128, int8=False):
    """search_datatype: per group, per datatype s = absmax / qmax, nearest with ``x <= mid`` ->
    lower, error = mean squared, strict ``<`` update (first candidate wins ties). fp32 scales and
    float64 x / s (hwsim arithmetic) instead of fp16. ``int8``: paper §III-C group absmax stored
    as INT8 codes of the channel step fp32(max / 127). Returns (values, selector)."""
    K, C = w.shape
    x = w.astype(np.float64).reshape(K, C // group, group)
    amax = np.abs(x).max(axis=-1)
    if int8:
        step = (amax.max(axis=1) / 127).astype(np.float32).astype(np.float64)
        code = np.rint(amax / step[:, None])
        amax = (code * step[:, None]).astype(np.float32).astype(np.float64)
    best = np.full(amax.shape, np.inf)
    out = np.zeros_like(x, dtype=np.float32)
    sel = np.zeros(amax.shape, np.uint8)
    for t, allow in enumerate(lists):
        allow = np.array(allow, np.float64)
        mid = (allow[:-1] + allow[1:]) / 2
        s = (amax / np.abs(allow).max()).astype(np.float32).astype(np.float64)
        y = x / s[..., None]
        q = np.zeros_like(y)
        for i, v in enumerate(allow):
            if i == 0:
                m = y <= mid[0]
            elif i == len(allow) - 1:
                m = y > mid[-1]
            else:
                m = (mid[i - 1] < y) & (y <= mid[i])
            q += np.where(m, v, 0.0)
        deq = q * s[..., None]
        err = ((deq - x) ** 2).mean(axis=-1)
        upd = err < best
        best[upd] = err[upd]
        out[upd] = deq[upd].astype(np.float32)
        sel[upd] = t
    return out.reshape(K, C), sel


BITMOD_CANDIDATES = {
    "bitmod4": ["bitmod_fp4_er_pos", "bitmod_fp4_er_neg", "bitmod_fp4_ea_pos", "bitmod_fp4_ea_neg"],
    "bitmod3": ["bitmod_fp3_er_pos", "bitmod_fp3_er_neg", "bitmod_fp3_ea_pos", "bitmod_fp3_ea_neg"],
    "fp4_er": ["bitmod_fp4_er_pos", "bitmod_fp4_er_neg"], "fp4_ea": ["bitmod_fp4_ea_pos", "bitmod_fp4_ea_neg"],
    "fp3_er": ["bitmod_fp3_er_pos", "bitmod_fp3_er_neg"], "fp3_ea": ["bitmod_fp3_ea_pos", "bitmod_fp3_ea_neg"],
    "fp4_g128": ["bitmod_fp4"], "fp3": ["bitmod_fp3"],
}


@pytest.mark.parametrize("int8", [False, True])
@pytest.mark.parametrize("name", sorted(BITMOD_CANDIDATES))
def test_bitmod_matches_search_datatype(name, int8):
    fmt = hwsim.format(name)
    if fmt.scale_storage == "int8" and not int8:
        fmt = fmt.replace(scale_storage="fp32")
    elif fmt.scale_storage == "fp32" and int8:
        fmt = fmt.replace(scale_storage="int8")
    w = weights((8, 1024), seed=21 + int8)
    lists = [[v / (2.0 if "fp4" in n else 1.0) for v in BITMOD_LISTS[n]] for n in BITMOD_CANDIDATES[name]]
    want, sel = bitmod_reference(w, lists, int8=int8)
    enc = fmt.encode(w)
    assert_same_f32(fmt.quantize(w), want, name)
    np.testing.assert_array_equal(np.asarray(enc.meta["selector"]).reshape(sel.shape), sel if len(lists) > 1
                                  else np.zeros_like(sel))
    if len(lists) == 4:
        assert set(np.unique(sel)) == {0, 1, 2, 3}  # every candidate wins somewhere


def bitmod_group(*vals):
    g = np.zeros(128, np.float32)
    g[: len(vals)] = vals
    return g


# hand-built groups (scale = absmax / qmax): which candidate reproduces them exactly
HAND_GROUPS = [
    # er_pos: absmax +6 with +5 (5/6 of the max): s = 1, 5 is the special value, error 0
    (bitmod_group(6, 5, -4, 1.5, -0.5), 0),
    # er_neg: the largest magnitude is negative and -5 sits at 5/6 of it
    (bitmod_group(-6, -5, 4, -1.5, 0.5), 1),
    # ea_pos: absmax +8 (the special value) over a group that also uses +6 and -6
    (bitmod_group(8, 6, -6, 3, -2), 2),
    # ea_neg: absmax -8
    (bitmod_group(-8, -6, 6, -3, 2), 3),
]


@pytest.mark.parametrize("group,want", HAND_GROUPS)
def test_bitmod4_hand_groups(group, want):
    w = (group * np.float32(0.25))[None]
    for storage in ("fp32", "int8"):
        fmt = hwsim.format("bitmod4").replace(scale_storage=storage)
        enc = fmt.encode(w)
        assert int(np.asarray(enc.meta["selector"]).reshape(-1)[0]) == want, storage
    exact = hwsim.format("bitmod4").replace(scale_storage="fp32")
    np.testing.assert_array_equal(exact.quantize(w), w)  # s = 0.25: the winning type is exact
    special = exact.encode(w).codes[0, 1 if want < 2 else 0]
    assert special == 0b1000  # the special value uses the -0 code


def test_bitmod_ties_down():
    """fp4_g128, group absmax 6 (s = 1): 2.5 -> 2, 3.5 -> 3, 5 -> 4, -2.5 -> -3, -0.25 -> -0.5."""
    w = bitmod_group(6, 2.5, 3.5, 5, -2.5, -0.25, 0.25)[None]
    q = hwsim.format("fp4_g128").quantize(w)
    np.testing.assert_array_equal(q[0, :7], [6, 2, 3, 4, -3, -0.5, 0])


# ----------------------------------------------------------------------------------------------
# statistical anchors (BitMoD paper setting: N(0,1) weights, group 128)
# ----------------------------------------------------------------------------------------------
ANCHORS = {"int4_g128": 0.0138, "fp4_g128": 0.0119, "int4_asym_g128": 0.0101, "bitmod4": 0.0096,
           "bitmod3": 0.038}


@pytest.fixture(scope="module")
def gaussian_weight():
    return np.random.default_rng(2024).standard_normal((512, 4096)).astype(np.float32)


def nmse(q, w):
    w = w.astype(np.float64)
    return float(np.mean((np.asarray(q, np.float64) - w) ** 2) / np.mean(w**2))


def test_nmse_anchors(gaussian_weight):
    w = gaussian_weight
    got = {name: nmse(hwsim.format(name).quantize(w), w) for name in ANCHORS}
    for name, want in ANCHORS.items():
        assert got[name] == pytest.approx(want, rel=0.05), (name, got[name])
    assert got["bitmod4"] < got["int4_asym_g128"] < got["fp4_g128"] < got["int4_g128"]
    for name in ("bitmod4", "bitmod3"):  # INT8 second-level scales cost (almost) nothing (Table V)
        fp32 = nmse(hwsim.format(name).replace(scale_storage="fp32").quantize(w), w)
        assert got[name] == pytest.approx(fp32, rel=0.01)


# ----------------------------------------------------------------------------------------------
# errors name the bad field
# ----------------------------------------------------------------------------------------------
def test_generator_and_catalog_errors(tmp_path):
    with pytest.raises(FormatError, match="bits=1"):
        ant_int(1)
    with pytest.raises(FormatError, match="exp_bits=4"):
        ant_float(4, True, exp_bits=4)
    with pytest.raises(FormatError, match="special"):
        bitmod_fp(2, 1, math.inf)
    (tmp_path / "bad.toml").write_text(
        '[a]\nkind = "asym_int"\nscale_per = "group"\ngroup_size = 64\nreference = "x"\n'
        '[b]\nkind = "asym_int"\nbits = 12\nreference = "x"\n'
        '[codebooks.c]\ngenerator = "ant_flint"\nparams = { bits = 9 }\nreference = "x"\n')
    with pytest.raises(hwsim.errors.CatalogError) as info:
        hwsim.catalog.load_formats([tmp_path])
    msg = "\n".join(info.value.messages)
    assert "bad.toml:a.bits: missing" in msg
    assert "bad.toml:b" in msg and "bits=12" in msg
    assert "codebooks.c" in msg and "bits=9" in msg
