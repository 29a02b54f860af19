"""Bit-serial term decomposition: Booth digits, bit planes, one-bits, CSD and BitMoD's decoder.

References are independent of the code under test: codes are decoded to integers / Fractions here
from the bit-level definitions, Booth digits come from a scalar transcription of the radix-4 rule,
the minimal signed-digit weight from a recursion, and the hand examples are worked out below.
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hwsim
from hwsim.errors import FormatError
from hwsim.numerics import bitserial as bs
from hwsim.numerics.codebook import Codebook, CodebookFormat
from hwsim.numerics.elements import FloatElement, IntElement

# ---------------------------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------------------------


def twos(code: int, n: int) -> int:
    """Integer of an n-bit two's complement code."""
    return code - (1 << n) if code >> (n - 1) else code


def sign_mag(code: int, n: int) -> int:
    mag = code & ((1 << (n - 1)) - 1)
    return -mag if code >> (n - 1) else mag


def booth_ref(k: int, n: int) -> list[int]:
    """Radix-4 Booth digits, LSB first: d_j = -2 b(2j+1) + b(2j) + b(2j-1) of n-bit two's complement k
    (Python's >> on negative ints sign-extends, as the recoder's sign extension does)."""
    b = [(k >> i) & 1 for i in range(n + 2)]
    digits = []
    for j in range((n + 1) // 2):
        lo = b[2 * j - 1] if j else 0
        digits.append(-2 * b[2 * j + 1] + b[2 * j] + lo)
    return digits


@cache
def min_signed_weight(m: int) -> int:
    """Fewest non-zero digits of any {-1, 0, 1} radix-2 representation of m >= 0."""
    if m <= 1:
        return m
    if m % 2 == 0:
        return min_signed_weight(m // 2)
    return 1 + min(min_signed_weight((m - 1) // 2), min_signed_weight((m + 1) // 2))


def value_of(terms: bs.Terms) -> list[Fraction]:
    """Exact sum of terms with Fractions, element by element (flattened)."""
    sign = terms.sign.reshape(-1, terms.slots)
    shift = terms.shift.reshape(-1, terms.slots)
    return [sum((Fraction(int(s)) * Fraction(2) ** int(e) for s, e in zip(srow, erow, strict=False)), Fraction(0))
            for srow, erow in zip(sign, shift, strict=False)]


# BitMoD datatypes, HPCA'25 §III-A Table IV: FP4 E2M1 / FP3 value tables with the -0 code (1000 / 100)
# replaced by the special value
FP4_POS = [0, 0.5, 1, 1.5, 2, 3, 4, 6]
FP3_POS = [0, 1, 2, 4]


def fp4_table(special: float | None) -> list[float]:
    return FP4_POS + [-0.0 if special is None else special] + [-v for v in FP4_POS[1:]]


def fp3_table(special: float | None) -> list[float]:
    return FP3_POS + [-0.0 if special is None else special] + [-v for v in FP3_POS[1:]]


BITMOD = ([Codebook(name=f"fp4_{n}", bits=4, table=fp4_table(s))
           for n, s in (("plain", None), ("er_pos", 5), ("er_neg", -5), ("ea_pos", 8), ("ea_neg", -8))]
          + [Codebook(name=f"fp3_{n}", bits=3, table=fp3_table(s))
             for n, s in (("plain", None), ("er_pos", 3), ("er_neg", -3), ("ea_pos", 6), ("ea_neg", -6))])


# ---------------------------------------------------------------------------------------------
# integers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", range(2, 9))
@pytest.mark.parametrize("encoding", ["twos_complement", "sign_magnitude"])
def test_booth_every_code(n: int, encoding: str) -> None:
    el = IntElement(bits=n, encoding=encoding)
    codes = np.arange(1 << n, dtype=np.uint16)
    t = bs.decompose(el, codes)
    assert t.method == "booth" and t.slots == (n + 1) // 2
    assert np.all(t.count == (n + 1) // 2)  # one cycle per digit, zero digits included
    decode = twos if encoding == "twos_complement" else sign_mag
    ks = [decode(c, n) for c in range(1 << n)]
    assert value_of(t) == [Fraction(k) for k in ks]  # exact reconstruction
    assert np.array_equal(bs.reconstruct(t), np.array(ks, dtype=np.float64))
    digits = bs.booth_digits(ks, n)
    assert digits.min() >= -2 and digits.max() <= 2
    assert digits.tolist() == [booth_ref(k, n) for k in ks]
    # slot j is digit j: sign(d_j) * 2**(2j + [|d_j| = 2])
    j = np.arange(t.slots)
    nz = digits != 0
    assert np.array_equal(t.sign, np.sign(digits))
    assert np.array_equal(t.shift[nz], (2 * j + (np.abs(digits) == 2))[nz])


def test_booth_hand_examples() -> None:
    # -128 = 1000_0000: only d3 = -2*b7 + b6 + b5 = -2  ->  -2 * 4**3 = -128
    # 127 = 0111_1111: d0 = -2*b1 + b0 = -1; d1 = -2*b3 + b2 + b1 = 0; d2 = 0; d3 = -2*b7 + b6 + b5 = 2
    #      -> 2 * 64 - 1 = 127
    # 0b0111_0111 = 119: b = 1,1,1,0,1,1,1,0 (LSB first): d0 = -2+1 = -1, d1 = 0+1+1 = 2,
    #      d2 = -2+1+0 = -1, d3 = 0+1+1 = 2  ->  -1 + 8 - 16 + 128 = 119
    assert bs.booth_digits([-128, 127, 0b01110111, 0, -1], 8).tolist() == [
        [0, 0, 0, -2], [-1, 0, 0, 2], [-1, 2, -1, 2], [0, 0, 0, 0], [-1, 0, 0, 0]]
    t = bs.terms_of_values([0b01110111], "booth", bits=8)
    assert t.sign.tolist() == [[-1, 1, -1, 1]] and t.shift.tolist() == [[0, 3, 4, 7]]  # -1 + 8 - 16 + 128


def test_booth_paper_term_counts() -> None:
    """BitMoD §IV-A: INT8 = 4 Booth terms, INT6 = 3 (2 weight bits per cycle)."""
    assert bs.max_terms(hwsim.format("int8")) == 4
    assert bs.max_terms(IntElement(bits=6)) == 3


@pytest.mark.parametrize("n", range(2, 9))
def test_bitplanes_every_code(n: int) -> None:
    codes = np.arange(1 << n)
    t = bs.decompose(IntElement(bits=n), codes, "bitplane")
    assert t.slots == n and np.all(t.count == n)
    assert value_of(t) == [Fraction(twos(c, n)) for c in range(1 << n)]
    # plane j holds bit j of the code; the MSB plane weighs -2**(n-1)
    bits = (codes[:, None] >> np.arange(n)) & 1
    assert np.array_equal(np.abs(t.sign), bits)
    assert np.all(t.sign[:, -1] <= 0) and np.all(t.sign[:, :-1] >= 0)


def test_frac_bits_fold_into_shift() -> None:
    """MXINT8 element k/64: the Booth digits of k, shifted by -6."""
    el = hwsim.format("mxint8").element
    t = bs.decompose(hwsim.format("mxint8"), np.arange(256))
    assert value_of(t) == [Fraction(twos(c, 8), 64) for c in range(256)]
    assert np.all(t.count == 4) and el.frac_bits == 6


# ---------------------------------------------------------------------------------------------
# dyadic values: one-bits and CSD
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", range(2, 9))
def test_csd_every_integer(n: int) -> None:
    ks = np.arange(-(1 << (n - 1)), 1 << (n - 1))
    t = bs.terms_of_values(ks, "csd")
    assert value_of(t) == [Fraction(int(k)) for k in ks]
    for row_sign, row_shift, cnt, k in zip(t.sign, t.shift, t.count, ks, strict=False):
        used = sorted(int(e) for s, e in zip(row_sign, row_shift, strict=False) if s)
        assert len(used) == cnt
        assert all(b - a >= 2 for a, b in zip(used, used[1:], strict=False))  # no two adjacent non-zero digits
        assert cnt == min_signed_weight(abs(int(k)))  # NAF has the minimal weight
    # hand example: 7 = 8 - 1 (2 terms), 119 = 128 - 8 - 1 (3 terms: 0111_0111 -> 1000_-100_-1)
    t = bs.terms_of_values([7, 119], "csd")
    assert t.sign.tolist() == [[1, -1, 0], [1, -1, -1]] and t.shift[:, :2].tolist() == [[3, 0], [7, 3]]


@settings(max_examples=200, deadline=None)
@given(st.integers(-(2**52), 2**52), st.integers(-30, 30))
def test_onebits_and_csd_any_dyadic(m: int, e: int) -> None:
    v = Fraction(m) * Fraction(2) ** e
    for method in ("onebits", "csd"):
        t = bs.terms_of_values([float(v)], method)
        assert value_of(t) == [v]
        shifts = [int(s) for s, g in zip(t.shift[0], t.sign[0], strict=False) if g]
        assert shifts == sorted(shifts, reverse=True)  # MSB first
    assert bs.terms_of_values([float(v)], "onebits").count[0] == bin(abs(m)).count("1")
    assert bs.terms_of_values([float(v)], "csd").count[0] == min_signed_weight(abs(m))


def test_onebits_hand_examples() -> None:
    t = bs.terms_of_values([6.0, -1.5, 0.0, 5.0], "onebits")
    # 6 = 4 + 2; -1.5 = -(1 + 1/2); 0: no term; 5 = 4 + 1
    assert t.count.tolist() == [2, 2, 0, 2]
    assert t.sign.tolist() == [[1, 1], [-1, -1], [0, 0], [1, 1]]
    assert t.shift[[0, 1, 3]].tolist() == [[2, 1], [0, -1], [2, 0]]


# ---------------------------------------------------------------------------------------------
# FP4 / FP3 and BitMoD's special values
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("cb", BITMOD, ids=lambda cb: cb.name)
@pytest.mark.parametrize("method", ["onebits", "csd", "lod2"])
def test_bitmod_types_two_terms(cb: Codebook, method: str) -> None:
    codes = np.arange(1 << cb.bits)
    t = bs.decompose(cb, codes, method)
    assert value_of(t) == [Fraction(v) for v in cb.table]
    assert t.nonzero.max() <= 2  # BitMoD §IV-B: at most 2 one-bits -> 2 cycles
    # FP3 without a special value is {0, +-1, +-2, +-4}: one term each
    assert bs.max_terms(cb, method) == (1 if cb.name == "fp3_plain" and method != "lod2" else 2)
    if method == "lod2":
        assert np.all(t.count == 2)


def test_fp4_e2m1_every_code() -> None:
    fmt = hwsim.format("fp4_e2m1")
    t = bs.decompose(fmt, np.arange(16))
    # E2M1 magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6 -> one-bits 0, 1, 1, 2, 1, 2, 1, 2
    assert t.count.tolist() == [0, 1, 1, 2, 1, 2, 1, 2] * 2
    assert value_of(t) == [Fraction(v) for v in fp4_table(None)]
    # element codes of the block formats
    assert bs.max_terms(hwsim.format("mxfp4")) == bs.max_terms(hwsim.format("nvfp4")) == 2


def test_lod2_fixed_point_hand_examples() -> None:
    # 1.5 = I0 + F0: first LOD (I3..I0) finds I0 (2**0), second (I2..F0) finds F0 (2**-1)
    # 0.5 = F0 alone: first LOD finds nothing, second finds F0; 8 = I3 alone
    t = bs.terms_of_values([1.5, 0.5, 8.0, -6.0], "lod2")
    assert t.sign.tolist() == [[1, 1], [0, 1], [1, 0], [-1, -1]]
    assert t.shift.tolist() == [[0, -1], [0, -1], [3, 0], [2, 1]]
    with pytest.raises(FormatError, match="more than 2 one-bits"):
        bs.terms_of_values([7.0], "lod2")
    with pytest.raises(FormatError, match="fixed-point"):
        bs.terms_of_values([0.25], "lod2")
    with pytest.raises(FormatError, match="fixed-point"):
        bs.terms_of_values([16.0], "lod2")


def test_minifloat_worst_case_is_significand_width() -> None:
    """Worst-case one-bits of a normal ExMy value = man_bits + 1 (hidden bit + all-ones mantissa)."""
    for name in ("fp4_e2m1", "fp6_e2m3", "fp6_e3m2", "fp8_e4m3", "fp8_e5m2"):
        fmt = hwsim.format(name)
        assert bs.max_terms(fmt) == fmt.man_bits + 1, name
    # CSD: 1.111 (E2M3 mantissa all ones) = 2 - 1/8 -> 2 terms; E2M3's worst is 1.011 -> 3
    assert bs.terms_of_values([1.875], "csd").count[0] == 2
    assert bs.max_terms(hwsim.format("fp6_e2m3"), "csd") == 3


# ---------------------------------------------------------------------------------------------
# API: codebook formats, counts, errors
# ---------------------------------------------------------------------------------------------
def test_mixture_with_selector() -> None:
    er_pos, ea_neg = BITMOD[1], BITMOD[4]
    fmt = CodebookFormat(name="mix", types=(er_pos, ea_neg), group_size=4, select="group")
    codes = np.array([[8, 8, 1, 15], [8, 8, 1, 15]], dtype=np.uint8)
    sel = np.array([[0], [1]])
    t = bs.decompose(fmt, codes, selector=sel)
    assert bs.reconstruct(t).tolist() == [[5, 5, 0.5, -6], [-8, -8, 0.5, -6]]
    assert bs.term_counts(fmt).shape == (2, 16)
    with pytest.raises(FormatError, match="needs a selector"):
        bs.decompose(fmt, codes)


def test_term_counts_and_means() -> None:
    counts = bs.term_counts(hwsim.format("fp4_e2m1"))
    assert counts.dtype == np.int16 and counts.shape == (16,)
    # uniform over the 16 codes: (0+1+1+2+1+2+1+2) * 2 / 16 = 1.25
    assert bs.mean_terms(hwsim.format("fp4_e2m1"), probabilities=np.full(16, 1 / 16)) == 1.25
    assert bs.mean_terms(hwsim.format("fp4_e2m1"), codes=np.array([3, 3, 0, 1])) == 1.25  # (2+2+0+1)/4
    nan_cb = Codebook(name="with_nan", bits=2, table=(0.0, 1.0, float("nan"), -3.0))
    assert bs.term_counts(nan_cb).tolist() == [0, 1, -1, 2]
    with pytest.raises(FormatError, match="never produced"):
        bs.decompose(nan_cb, np.array([2]))
    with pytest.raises(FormatError, match="never produces"):
        bs.mean_terms(nan_cb, probabilities=[0.25] * 4)


def test_torch_codes_and_shapes() -> None:
    torch = pytest.importorskip("torch")
    codes = torch.tensor([[0, 127], [128, 255]], dtype=torch.uint8)
    t = bs.decompose(hwsim.format("int8"), codes)
    assert t.sign.shape == (2, 2, 4) and t.count.shape == (2, 2)
    assert bs.reconstruct(t).tolist() == [[0, 127], [-128, -1]]


def test_errors() -> None:
    with pytest.raises(FormatError, match="not one of"):
        bs.terms_of_values([1.0], "radix8")
    with pytest.raises(FormatError, match="not one"):  # booth needs integers
        bs.decompose(hwsim.format("fp4_e2m1"), np.arange(16), "booth")
    with pytest.raises(FormatError, match="does not fit"):
        bs.terms_of_values([200], "booth", bits=8)
    with pytest.raises(FormatError, match="finite"):
        bs.terms_of_values([float("inf")], "onebits")
    with pytest.raises(FormatError, match=r"not in \[0, 2\*\*4\)"):
        bs.decompose(hwsim.format("int4"), np.array([16]))
    with pytest.raises(FormatError, match="at most 16"):
        bs.decompose(FloatElement(exp_bits=8, man_bits=23, bias=127), np.array([0]))
    with pytest.raises(FormatError, match="got str"):  # names are resolved by the caller (hwsim.format)
        bs.decompose("int8", np.array([0]))
