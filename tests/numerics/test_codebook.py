"""CodebookFormat against an independent reference written from its contract (docs/numerics.md,
"Codebook formats"; the module docstring of hwsim/numerics/codebook.py).

The reference below uses none of codebook.py. It finds the nearest value by brute-force comparison
with exact midpoints (checked with ``fractions.Fraction``), applies the tie rules exactly as the
contract states them, and runs the search with plain loops. Data that makes ties likely puts
inputs exactly on midpoints (power-of-two scales) and one ulp on either side of them.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from hwsim.errors import FormatError
from hwsim.numerics.codebook import Codebook, CodebookFormat, grid_of, nearest_codes
from tests.numerics.numerics_helpers import assert_same_f32

# ----------------------------------------------------------------------------------------------
# the reference
# ----------------------------------------------------------------------------------------------
F32_MAX = float(np.finfo(np.float32).max)


class Ambiguous(Exception):
    """The contract does not say which neighbour a tie picks (tests avoid such grids)."""


def ref_grid(table):
    """Sorted distinct values and their codes: lowest code wins, +0 before -0 (rule 3)."""
    best: dict[float, int] = {}
    for code, v in enumerate(table):
        if math.isnan(v):
            continue
        k = v + 0.0
        if k not in best:
            best[k] = code
        elif k == 0.0 and math.copysign(1.0, table[best[k]]) < 0 < math.copysign(1.0, v):
            best[k] = code
    values = sorted(best)
    return values, [best[v] for v in values]


def ref_tie_up(lo: float, hi: float, ties: str, mags: list[float]) -> bool:
    """True if a value exactly between lo < hi goes to hi (contract rule 2)."""
    if ties == "up":
        return True
    if ties == "down":
        return False
    if abs(lo) == abs(hi):
        raise Ambiguous(f"{ties} tie between {lo} and {hi}")
    if ties == "zero":
        return abs(hi) < abs(lo)
    if ties == "away":
        return abs(hi) > abs(lo)
    rank_lo, rank_hi = mags.index(abs(lo)), mags.index(abs(hi))
    if rank_lo % 2 == rank_hi % 2:
        raise Ambiguous(f"even tie between {lo} and {hi}: ranks {rank_lo}, {rank_hi}")
    return rank_hi % 2 == 0


def ref_nearest(y: np.ndarray, table, ties: str) -> np.ndarray:
    """Index into ref_grid(table) values of the nearest value to each float64 y (brute force)."""
    values, _ = ref_grid(table)
    mids_q = [(Fraction(a) + Fraction(b)) / 2 for a, b in zip(values, values[1:], strict=False)]
    mids = np.array([float(m) for m in mids_q])
    assert all(Fraction(float(m)) == m for m in mids_q), "midpoints must be exact in float64"
    y = np.asarray(y, np.float64).reshape(-1)
    idx = (y[:, None] > mids[None, :]).sum(axis=1)  # midpoints strictly below y
    mags = sorted({abs(v) for v in values})
    for j in np.nonzero((y[:, None] == mids[None, :]).any(axis=1))[0]:
        i = int(idx[j])  # y == mids[i]: between values[i] and values[i + 1]
        idx[j] = i + 1 if ref_tie_up(values[i], values[i + 1], ties, mags) else i
    return idx


def ref_slices(x: np.ndarray, axis: int, group_size):
    """List of (row, start, stop) of the moved-axis 2-D view, or None for the whole tensor."""
    moved = np.moveaxis(x, axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    if group_size is None:
        return moved, rows, [(None, 0, moved.size)]
    L = rows.shape[1]
    B = L if group_size == 0 or group_size >= L else group_size
    return moved, rows, [(r, g, min(g + B, L)) for r in range(rows.shape[0]) for g in range(0, L, B)]


def ref_base(v: np.ndarray, rule: str, center: str) -> float:
    a = np.abs(v.astype(np.float64))
    if rule == "absmean":
        return float(a.sum() / max(v.size, 1))
    if center == "3sigma":
        x = v.astype(np.float64)
        n = max(x.size, 1)
        mean = x.sum() / n
        sd = math.sqrt(float(((x - mean) ** 2).sum()) / max(n - 1, 1))
        return max(abs(mean + 3 * sd), abs(mean - 3 * sd))
    return float(a.max()) if a.size else 0.0


def ref_encode(fmt_kw: dict, x: np.ndarray, axis: int = -1):
    """(codes, values, scales, selector, alpha) by the contract, for CodebookFormat(**fmt_kw)."""
    types = fmt_kw["types"]
    gs = fmt_kw.get("group_size", 0)
    rule = fmt_kw.get("scale_rule", "absmax")
    center = fmt_kw.get("center", "absmax")
    select = fmt_kw.get("select", "tensor")
    storage = fmt_kw.get("scale_storage", "fp32")
    lo, hi, step = fmt_kw.get("search", (100, 101, 1))
    factors = [k / 100 for k in range(lo, hi, step)] if rule == "mse" else [1.0]
    ax = axis % x.ndim
    moved, rows, groups = ref_slices(x, ax, gs)
    data = [moved.reshape(-1) if r is None else rows[r, a:b] for r, a, b in groups]
    bases = [1.0 if rule == "unit" else ref_base(d, rule, center) for d in data]
    if storage == "int8":  # per channel = per row of the moved view
        for r in {g[0] for g in groups}:
            members = [i for i, g in enumerate(groups) if g[0] == r]
            bmax = max(bases[i] for i in members)
            stp = float(np.float32(bmax / 127))
            for i in members:  # RNE of the exact quotient base / step (Fraction round: half-even)
                code = min(max(round(Fraction(bases[i]) / Fraction(stp)), 0), 127) if stp > 0 else 0
                bases[i] = float(np.float32(code * stp))
    finite = [[v for v in cb.table if not math.isnan(v)] for cb in types]
    gmax = [max(abs(v) for v in f) if cb.denominator == "absmax" else max(f)
            for f, cb in zip(finite, types, strict=False)]
    best = []  # best[g][t] = (err, scale, factor)
    for d, base in zip(data, bases, strict=False):
        xd = d.astype(np.float64)
        per_type = []
        for t, cb in enumerate(types):
            values = np.array(ref_grid(cb.table)[0])
            cands = []
            for f in factors:
                s = 1.0 if rule == "unit" else float(np.float32(min(base * f / gmax[t], F32_MAX)))
                if s == 0.0 or not math.isfinite(s):
                    err = sum(float(v) * float(v) for v in xd)
                else:
                    q = values[ref_nearest(xd / s, cb.table, cb.ties)] * s
                    err = 0.0
                    for e in q - xd:
                        err += float(e) * float(e)
                cands.append((err, s, f))
            per_type.append(min(cands, key=lambda c: c[0]))  # first k wins a tie
        best.append(per_type)
    T = len(types)
    if T == 1:
        sel = [0] * len(data)
    elif select == "tensor":
        totals = [math.fsum(b[t][0] for b in best) for t in range(T)]
        sel = [min(range(T), key=lambda t: totals[t])] * len(data)
    else:
        sel = [min(range(T), key=lambda t: b[t][0]) for b in best]
    codes_m = np.zeros(moved.shape, np.uint8).reshape(-1, moved.shape[-1])
    vals_m = np.zeros(moved.shape, np.float32).reshape(-1, moved.shape[-1])
    flat_codes = np.zeros(moved.size, np.uint8)
    flat_vals = np.zeros(moved.size, np.float32)
    scales, alphas = [], []
    for (r, a, b), d, base, bt, t in zip(groups, data, bases, best, sel, strict=False):
        cb = types[t]
        values, codes = ref_grid(cb.table)
        s = bt[t][1]
        y = np.zeros(d.size) if s == 0.0 else d.astype(np.float64) / s
        i = ref_nearest(y, cb.table, cb.ties)
        c = np.array(codes, np.uint8)[i]
        v = (np.array(values)[i] * s).astype(np.float32)
        if r is None:
            flat_codes[:], flat_vals[:] = c, v
        else:
            codes_m[r, a:b], vals_m[r, a:b] = c, v
        scales.append(np.float32(s))
        alphas.append(np.float32(base * bt[t][2]))
    if gs is None:
        codes_out = np.moveaxis(flat_codes.reshape(moved.shape), -1, ax)
        vals_out = np.moveaxis(flat_vals.reshape(moved.shape), -1, ax)
        gshape: tuple[int, ...] = ()
    else:
        codes_out = np.moveaxis(codes_m.reshape(moved.shape), -1, ax)
        vals_out = np.moveaxis(vals_m.reshape(moved.shape), -1, ax)
        n_groups = len(groups) // rows.shape[0]
        gshape = tuple(n_groups if i == ax else n for i, n in enumerate(x.shape))
    def per_group(a):  # groups come row by row (the other axes in order, then the group index)
        if gs is None:
            return a.reshape(())
        return np.moveaxis(a.reshape(moved.shape[:-1] + (gshape[ax],)), -1, ax)

    return (codes_out, vals_out, per_group(np.array(scales, np.float32)),
            per_group(np.array(sel, np.uint8)), per_group(np.array(alphas, np.float32)))


# ----------------------------------------------------------------------------------------------
# codebooks used by the tests (written out by hand)
# ----------------------------------------------------------------------------------------------
def cb(name, table, ties="even", denominator="absmax"):
    return Codebook(name=name, bits=max(len(table) - 1, 1).bit_length(), table=tuple(table), ties=ties,
                    denominator=denominator)


INT4 = [0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1]
INT4_SYM = [0, 1, 2, 3, 4, 5, 6, 7, "nan", -7, -6, -5, -4, -3, -2, -1]
E2M1 = [0, .5, 1, 1.5, 2, 3, 4, 6, -0.0, -.5, -1, -1.5, -2, -3, -4, -6]
E2M1_ER = [0, .5, 1, 1.5, 2, 3, 4, 6, 5, -.5, -1, -1.5, -2, -3, -4, -6]
E2M1_EA_NEG = [0, .5, 1, 1.5, 2, 3, 4, 6, -8, -.5, -1, -1.5, -2, -3, -4, -6]
POT = [0, 1, 2, 4, 8, 16, 32, 64, -0.0, -1, -2, -4, -8, -16, -32, -64]
FLINT = [0, 1, 2, 3, 16, 8, 4, 6, -0.0, -1, -2, -3, -16, -8, -4, -6]
TERNARY = [0, 1, "nan", -1]


def nan_table(t):
    return [math.nan if v == "nan" else float(v) for v in t]


def rand(shape, seed, heavy=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_t(2, size=shape) if heavy else rng.standard_normal(shape)
    return x.astype(np.float32)


def dyadic(shape, seed):
    """Multiples of 1/64 in [-4, 4]: sums of a few hundred are exact in any order."""
    return (np.random.default_rng(seed).integers(-256, 257, size=shape) / 64).astype(np.float32)


CONFIGS = {
    # name: (CodebookFormat kwargs, input maker, axis)
    "tensor_absmax_even": (dict(types=(cb("int4", INT4),), group_size=None), lambda: rand((6, 20), 1), -1),
    "channel_mse_tensor_up": (dict(types=(cb("int4s", nan_table(INT4_SYM), "up"), cb("flint", FLINT, "up")),
                                   group_size=0, scale_rule="mse", search=(75, 150, 1), select="tensor"),
                              lambda: rand((5, 24), 2, heavy=True), -1),
    "channel_mse_denominator_max": (dict(types=(cb("int4", INT4, "up", "max"), cb("uint", list(range(16)), "up",
                                                                                   "max")),
                                         group_size=0, scale_rule="mse", search=(75, 150, 1), select="group"),
                                    lambda: np.abs(rand((6, 24), 13)) - np.float32(0.3), -1),
    "channel_mse_tensor_pot": (dict(types=(cb("pot", POT, "up"), cb("flint", FLINT, "up")), group_size=0,
                                    scale_rule="mse", search=(80, 121, 3), select="tensor"),
                               lambda: rand((4, 32), 3, heavy=True), -1),
    "group_absmax_select_down_int8": (dict(types=(cb("er", E2M1_ER, "down"), cb("ea", E2M1_EA_NEG, "down"),
                                                  cb("e2m1", E2M1, "down")),
                                           group_size=8, select="group", scale_storage="int8", scale_bits=8),
                                      lambda: rand((4, 40), 4), -1),
    "group_absmax_axis0_short": (dict(types=(cb("e2m1", E2M1, "even"),), group_size=5),
                                 lambda: rand((13, 3, 2), 5), 0),
    "group_absmean_zero": (dict(types=(cb("tern", nan_table(TERNARY), "zero"),), group_size=16,
                                scale_rule="absmean"), lambda: dyadic((3, 48), 6), -1),
    "group_absmean_away": (dict(types=(cb("tern", nan_table(TERNARY), "away"),), group_size=16,
                                scale_rule="absmean"), lambda: dyadic((3, 48), 7), -1),
    "group_3sigma_mse": (dict(types=(cb("int4s", nan_table(INT4_SYM), "up"),), group_size=16, scale_rule="mse",
                              center="3sigma", search=(75, 250, 2)), lambda: dyadic((3, 64), 8), -1),
    "unit_select_group": (dict(types=(cb("pot", POT, "down"), cb("int4", INT4, "up")), group_size=4,
                               scale_rule="unit", select="group"),
                          lambda: (rand((3, 16), 9) * 6).astype(np.float32), -1),
    "tensor_mse_select_tensor": (dict(types=(cb("e2m1", E2M1, "down"), cb("pot", POT, "away")), group_size=None,
                                      scale_rule="mse", search=(90, 111, 1), select="tensor"),
                                 lambda: rand((7, 9), 10, heavy=True), 1),
    "group_mse_int8_select_group": (dict(types=(cb("er", E2M1_ER, "down"), cb("ea", E2M1_EA_NEG, "down")),
                                         group_size=8, scale_rule="mse", search=(90, 111, 2), select="group",
                                         scale_storage="int8", scale_bits=8),
                                    lambda: rand((3, 32), 11), -1),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_matches_reference(name):
    kw, make, axis = CONFIGS[name]
    x = make()
    fmt = CodebookFormat(name=name, **kw)
    codes, values, scales, sel, alpha = ref_encode(kw, x, axis)
    enc = fmt.encode(x, axis=axis)
    np.testing.assert_array_equal(enc.codes, codes)
    assert enc.codes.dtype == np.uint8
    assert_same_f32(np.asarray(enc.scales, np.float32), scales, f"{name} scales")
    np.testing.assert_array_equal(np.asarray(enc.meta["selector"]).reshape(sel.shape), sel)
    if kw.get("scale_rule") == "mse":
        assert_same_f32(np.asarray(enc.meta["alpha"]).reshape(alpha.shape), alpha, f"{name} alpha")
    assert_same_f32(fmt.quantize(x, axis=axis), values, f"{name} values")
    assert_same_f32(fmt.decode(enc), values, f"{name} decode")


def tie_heavy(table, shape, seed):
    """Groups whose absmax is max|table| * 2^e (so the absmax scale is 2^e) filled with grid values,
    exact midpoints and their float32 neighbours, times 2^e."""
    rng = np.random.default_rng(seed)
    values = np.array(ref_grid(table)[0])
    mids = (values[:-1] + values[1:]) / 2
    pool = np.concatenate([values, mids, np.nextafter(mids.astype(np.float32), np.float32(np.inf)),
                           np.nextafter(mids.astype(np.float32), np.float32(-np.inf))])
    gmax = np.max(np.abs(values))
    pool = pool[np.abs(pool) <= gmax]
    e = np.exp2(rng.integers(-3, 4, size=shape[:-1] + (1,)))
    x = rng.choice(pool, size=shape) * e
    x[..., 0] = gmax * e[..., 0] * rng.choice([-1, 1], size=shape[:-1])
    return x.astype(np.float32)


@pytest.mark.parametrize("ties", ["even", "up", "down", "zero", "away"])
@pytest.mark.parametrize("table", ["INT4", "E2M1", "POT", "FLINT"])
def test_ties_match_reference(ties, table):
    """Every tie rule on inputs exactly on midpoints and one float32 ulp around them."""
    t = globals()[table]
    x = tie_heavy(t, (6, 8), seed=len(ties) * 7 + len(table))
    kw = dict(types=(cb(table, t, ties),), group_size=0)
    codes, values, scales, _, _ = ref_encode(kw, x)
    fmt = CodebookFormat(name="ties", **kw)
    enc = fmt.encode(x)
    assert np.all(np.log2(scales) == np.round(np.log2(scales)))  # power-of-two scales: exact ties
    np.testing.assert_array_equal(enc.codes, codes)
    assert_same_f32(fmt.quantize(x), values, f"{table} {ties}")


@pytest.mark.parametrize("ties", ["even", "up", "down", "zero", "away"])
def test_nearest_codes_unit_scale(ties):
    """nearest_codes on midpoints, their float64 neighbours, far outside and subnormal inputs."""
    table = [float(v) for v in E2M1]
    values = np.array(ref_grid(table)[0])
    mids = (values[:-1] + values[1:]) / 2
    y = np.concatenate([values, mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                        [1e300, -1e300, 5e-324, -5e-324, 0.0, -0.0, 7.0, -7.0, 6.0000001, 2.4999999999]])
    c = cb("e2m1", table, ties)
    want = np.array(ref_grid(table)[1], np.uint8)[ref_nearest(y, table, ties)]
    np.testing.assert_array_equal(nearest_codes(c, y), want)


def test_hand_worked_ties():
    """Hand-worked: 2.5 between 2 and 3 of E2M1; -0.25 between -0.5 and 0; 5 between 4 and 6."""
    y = np.array([2.5, -0.25, 5.0, -5.0, 0.75])
    want = {  # values picked, worked out by hand
        "even": [2, 0, 4, -4, 1],   # ranks of 0,.5,1,1.5,2,3,4,6 are 0..7: even rank wins
        "up": [3, 0, 6, -4, 1],
        "down": [2, -0.5, 4, -6, 0.5],
        "zero": [2, 0, 4, -4, 0.5],
        "away": [3, -0.5, 6, -6, 1],
    }
    for ties, vals in want.items():
        c = cb("e2m1", [float(v) for v in E2M1], ties)
        got = np.array(c.table)[nearest_codes(c, y)]
        np.testing.assert_array_equal(got, vals, err_msg=ties)


def test_grid_codes_lowest_and_positive_zero():
    """A value several codes share takes the lowest code; +0 beats a lower -0 code; NaN codes skipped."""
    c = Codebook(name="dup", bits=3, table=(-0.0, 1.0, 1.0, math.nan, 0.0, -1.0, 2.0, 2.0))
    g = grid_of(c)
    assert list(g.values) == [-1.0, 0.0, 1.0, 2.0]
    assert list(g.codes) == [5, 4, 1, 6]
    assert list(nearest_codes(c, np.array([0.0, -0.0, 1.0, 2.2, -3.0]))) == [4, 4, 1, 6, 5]


def test_never_produces_nan_codes():
    c = cb("int4s", nan_table(INT4_SYM), "even")
    fmt = CodebookFormat(name="t", types=(c,), group_size=8, scale_rule="mse", search=(75, 150, 5))
    enc = fmt.encode(rand((16, 64), 12, heavy=True))
    assert not np.isnan(np.array(c.table)[enc.codes]).any()
    bad = enc.codes.copy()
    bad[0, 0] = 8  # the NaN pattern
    with pytest.raises(FormatError, match="never produces"):
        fmt.decode(type(enc)(codes=bad, scales=enc.scales, axis=enc.axis, format=enc.format, meta=enc.meta))


def test_rejects_nonfinite_input():
    fmt = CodebookFormat(name="t", types=(cb("int4", INT4),))
    with pytest.raises(FormatError, match="Inf/NaN"):
        fmt.encode(np.array([1.0, np.nan], np.float32))


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    kw, make, axis = CONFIGS["group_absmax_select_down_int8"]
    x = make()
    fmt = CodebookFormat(name="t", **kw)
    q = fmt.quantize(torch.from_numpy(x), axis=axis)
    assert isinstance(q, torch.Tensor) and q.dtype == torch.float32
    assert_same_f32(q.numpy(), ref_encode(kw, x, axis)[1])
    enc = fmt.encode(torch.from_numpy(x), axis=axis)
    assert isinstance(enc.codes, torch.Tensor) and enc.codes.dtype == torch.uint8
    assert_same_f32(fmt.decode(enc).numpy(), ref_encode(kw, x, axis)[1])


# ----------------------------------------------------------------------------------------------
# edge cases of the contract found while writing the reference
# ----------------------------------------------------------------------------------------------
def test_int8_scale_code_rounding_contract():
    # channel of two groups of 4 along the axis: group bases 1.0 and 0.011811024 (float32)
    small = np.float32(0.011811024)
    x = np.array([[1.0, 0.5, 0, 0, small, 0, 0, 0]], np.float32)
    fmt = CodebookFormat(name="t", types=(cb("int4", INT4),), group_size=4, scale_storage="int8", scale_bits=8)
    # contract: code = RNE(base / step), step = fp32(1 / 127): the exact quotient, by Fraction
    step = Fraction(float(np.float32(1 / 127)))
    q = Fraction(float(small)) / step
    assert q == Fraction(3, 2)  # an exact tie: RNE gives 2 (127 * base / base_max alone gives 1.4999..)
    enc = fmt.encode(x)
    np.testing.assert_array_equal(enc.meta["scale_codes"].reshape(-1), [127, 2])


def test_scale_overflow_gives_finite_values():
    fmt = CodebookFormat(name="t", types=(cb("half", [0, 0.25, 0.5, -0.5]),), group_size=0)
    q = fmt.quantize(np.array([[3e38, 1e38, 0.0]], np.float32))
    assert np.all(np.isfinite(q))


def test_denominator_max_needs_a_positive_value():
    with pytest.raises(FormatError, match="denominator"):
        Codebook(name="neg", bits=2, table=(0.0, -1.0, -2.0, -3.0), denominator="max")


def test_group_scales_follow_the_input_layout_on_any_axis():
    """Groups of 2 along axis 0 of a 4x3 tensor: scales[g, j] belongs to rows 2g, 2g+1 of column j."""
    x = (np.arange(12, dtype=np.float32).reshape(4, 3) + 1)
    fmt = CodebookFormat(name="t", types=(cb("int4", INT4),), group_size=2)
    enc = fmt.encode(x, axis=0)
    absmax = np.array([[4, 5, 6], [10, 11, 12]], np.float32)  # by hand: max of rows (0,1) and (2,3)
    np.testing.assert_array_equal(enc.scales, (absmax.astype(np.float64) / 8).astype(np.float32))  # max|INT4| = 8
    np.testing.assert_array_equal(fmt.decode(enc), fmt.quantize(x, axis=0))


def test_guards_of_the_contract():
    """Finite inputs never decode to Inf (values saturate at the float32 max); calibration must lay
    out the same groups; inconsistent fields are FormatErrors naming the field; a mixture of code
    widths decodes."""
    import hwsim
    from hwsim.catalog import load_codebooks

    q = hwsim.format("pot4").quantize(np.array([[-3.4e38, 1e38, 2e37, -1e37]], np.float32))
    assert np.all(np.isfinite(q)) and q[0, 0] == -np.finfo(np.float32).max
    x = np.random.default_rng(1).standard_normal((4, 8)).astype(np.float32)
    with pytest.raises(FormatError, match="calibration shape"):
        hwsim.format("bitmod4", group_size=4).quantize(x, calibration=np.ones((2, 16), np.float32))
    assert hwsim.format("ant4").quantize(x, calibration=x[:, :3]).shape == x.shape  # per channel: any axis length
    for kw, field in (({"packing": 5}, "packing"), ({"scale_bits": -1}, "scale_bits"),
                      ({"search": (0.5, 1.5, 0.1)}, "search"), ({"types": ("ant_int4",)}, "types")):
        with pytest.raises(FormatError, match=field):
            hwsim.format("ant4", **kw)
    cbs = load_codebooks()
    mix = CodebookFormat(name="mix", types=(cbs["bitmod_fp3"], cbs["bitmod_fp4"]), group_size=8, select="group")
    assert np.array_equal(mix.decode(mix.encode(x)), mix.quantize(x))
