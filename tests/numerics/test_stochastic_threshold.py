"""Stochastic rounding at its exact threshold, reached with adversarial seeds.

docs/numerics.md rule 2: in mode ``stochastic`` a value goes up iff ``r < floor(frac * 2^32)``, with
``r = hash32(seed, index)`` (lowbias32 of the element's C-order flat index and the seed). Random
seeds hit the threshold ``r == floor(frac * 2^32)`` about once in 2^32 elements, so a ``<`` turned
into ``<=`` would pass every random test. lowbias32 is a bijection of its 32-bit state (xor-shifts
and multiplications by odd constants), so we invert it here to pick, for element 0, the seed whose
``r`` is exactly 0 (a representable value, frac = 0, must stay put) or exactly 2^31 (a tie,
frac = 1/2: floor(frac * 2^32) = 2^31 = r, so it must stay down) or 2^31 - 1 (the tie goes up).
The hash is re-implemented here from the spec text, independently of hwsim.
"""

from __future__ import annotations

import numpy as np
import pytest

import hwsim

M32 = 0xFFFFFFFF
A, B, C = 0x9E3779B1, 0x85EBCA77, 0x165667B1
K1, K2 = 0x7FEB352D, 0x846CA68B


def hash32(index: int, seed: int) -> int:
    """lowbias32 as docs/numerics.md 'Stochastic rounding random bits' writes it."""
    h = ((index & M32) * A + (seed & M32) * B + C) & M32
    h ^= h >> 16
    h = (h * K1) & M32
    h ^= h >> 15
    h = (h * K2) & M32
    h ^= h >> 16
    return h


def _unxorshift(h: int, s: int) -> int:
    x = h
    for _ in range(32 // s + 1):
        x = h ^ (x >> s)
    return x & M32


def seed_for(index: int, r: int) -> int:
    """The seed (mod 2^32) whose hash32 at ``index`` equals ``r``: lowbias32 run backwards."""
    h = _unxorshift(r, 16)
    h = (h * pow(K2, -1, 1 << 32)) & M32
    h = _unxorshift(h, 15)
    h = (h * pow(K1, -1, 1 << 32)) & M32
    h = _unxorshift(h, 16)
    return ((h - index * A - C) * pow(B, -1, 1 << 32)) & M32


ZERO, HALF, BELOW_HALF = 0, 1 << 31, (1 << 31) - 1


def test_inversion() -> None:
    assert seed_for(0, 0) == 2970009321  # the seed issue 18 quotes
    for index in (0, 1, 31, 12345):
        for r in (ZERO, HALF, BELOW_HALF, M32):
            assert hash32(index, seed_for(index, r)) == r


def _paths():
    """(label, quantize(fmt, x) -> numpy, encode-then-decode(fmt, x) -> numpy) per implementation;
    the torch codec is called directly because CPU tensors otherwise take the numba kernel."""
    out = [("numba", lambda f, x: f.quantize(x), lambda f, x: f.decode(f.encode(x)))]
    try:
        import torch
    except ImportError:  # pragma: no cover
        return out
    from hwsim.numerics import torch_codec

    def tq(f, x):
        return torch_codec.quantize(f, torch.from_numpy(x)).numpy()

    def te(f, x):
        d = f.decode(torch_codec.encode(f, torch.from_numpy(x)))
        return d.numpy() if hasattr(d, "numpy") else np.asarray(d)

    out.append(("torch", tq, te))
    return out


PATHS = _paths()

# (format, x[0] exactly on the grid, x[0] exactly halfway, lower neighbour, upper neighbour, filler);
# x[1:] fills a block with representable values. Power-of-two quanta (round_shift) and an odd scale
# (round_div: int8_g32 with amax 381 has the fp32 scale exactly 3; fp8 elements with an fp32 absmax
# scale 1344 / 448 = 3 too).
CASES = {
    "fp8_e4m3": (lambda: hwsim.format("fp8_e4m3"), 1.0, 1.0625, 1.0, 1.125, None),
    "mxfp8_e4m3": (lambda: hwsim.format("mxfp8_e4m3"), 1.0, 1.0625, 1.0, 1.125, 448.0),
    "int8_g32": (lambda: hwsim.format("int8_g32"), 6.0, 7.5, 6.0, 9.0, 381.0),
    "fp8_e4m3_g32_absmax": (lambda: hwsim.format("int8_g32").replace(
        name="fp8_e4m3_g32_absmax", element=hwsim.format("fp8_e4m3").element), 3.0, 3.1875, 3.0, 3.375, 1344.0),
}


def _x(v0: float, filler: float | None, n: int = 32) -> np.ndarray:
    x = np.full(n, 2.0 if filler is None else 3.0, np.float32)
    x[0] = v0
    if filler is not None:
        x[1] = filler
    return x


@pytest.mark.parametrize("path", [p[0] for p in PATHS])
@pytest.mark.parametrize("name", list(CASES))
def test_threshold_with_adversarial_seeds(name: str, path: str) -> None:
    make, on_grid, tie, lo, hi, filler = CASES[name]
    _, quant, encdec = next(p for p in PATHS if p[0] == path)
    for run in (quant, encdec):
        # r = 0 and frac = 0: 0 < 0 is false, a representable value stays put
        fmt = make().replace(rounding="stochastic", seed=seed_for(0, ZERO))
        x = _x(on_grid, filler)
        got = run(fmt, x)
        assert got[0] == on_grid, f"{name} {path}: representable {on_grid} moved to {got[0]} (r = 0)"
        np.testing.assert_array_equal(got, x)  # every element of x is on the grid
        # r = 2^31 and frac = 1/2: 2^31 < 2^31 is false, the tie stays down
        fmt = make().replace(rounding="stochastic", seed=seed_for(0, HALF))
        got = run(fmt, _x(tie, filler))
        assert got[0] == lo, f"{name} {path}: tie {tie} with r = 2^31 gave {got[0]}, rule says {lo}"
        # r = 2^31 - 1: below floor(frac * 2^32), the tie goes up
        fmt = make().replace(rounding="stochastic", seed=seed_for(0, BELOW_HALF))
        got = run(fmt, _x(tie, filler))
        assert got[0] == hi, f"{name} {path}: tie {tie} with r = 2^31 - 1 gave {got[0]}, rule says {hi}"
        # the seed is honoured modulo 2^32 (docs/numerics.md)
        fmt = make().replace(rounding="stochastic", seed=seed_for(0, HALF) + (5 << 32))
        assert run(fmt, _x(tie, filler))[0] == lo


def test_issue_example_seed() -> None:
    """Issue 18: seed 2970009321 gives hash32(0) = 0; fp8_e4m3 must keep 1.0 (not 1.125)."""
    fmt = hwsim.format("fp8_e4m3", rounding="stochastic", seed=2970009321)
    assert fmt.quantize(np.array([1.0, 1.0], np.float32))[0] == 1.0
