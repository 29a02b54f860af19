"""Helpers shared by the numerics tests (bit-exact float32 comparison, code ranges)."""

from __future__ import annotations

import numpy as np


def normal(shape, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    """float32 samples of N(0, scale**2) from a seeded generator."""
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def weights(shape=(6, 300), seed: int = 0, heavy: bool = False) -> np.ndarray:
    """float32 weight-like samples: 0.02 x N(0, 1), or 0.02 x Student-t(3) (``heavy`` tails)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_t(3, size=shape) if heavy else rng.standard_normal(shape)
    return (w * 0.02).astype(np.float32)


def all_codes(bits: int) -> np.ndarray:
    """Every code of a <= 16-bit element, in the dtype encode writes."""
    return np.arange(1 << bits, dtype=np.uint8 if bits <= 8 else np.uint16)


def bits_of(a: np.ndarray) -> np.ndarray:
    """float32 bit patterns (compare -0.0 and +0.0 as different)."""
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def assert_same_f32(got: np.ndarray, want: np.ndarray, msg: str = "") -> None:
    """Bit-exact float32 equality of hwsim's output ``got`` with ``want``; NaNs compared by
    NaN-ness, and every NaN hwsim returns must be the quiet NaN 0x7FC00000 (docs/numerics.md)."""
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.dtype == np.float32, f"{msg} dtype {got.dtype} != float32"
    assert got.shape == want.shape, f"{msg} shape {got.shape} != {want.shape}"
    gn, wn = np.isnan(got), np.isnan(want)
    odd_nan = gn & (bits_of(got) != 0x7FC00000)
    assert not odd_nan.any(), f"{msg} NaN outputs not 0x7FC00000: {np.unique(bits_of(got)[odd_nan])[:4]}"
    bad = (gn != wn) | (~gn & ~wn & (bits_of(got) != bits_of(want)))
    if bad.any():
        i = np.argwhere(bad)[:5]
        details = "; ".join(f"at {tuple(j)}: got {got[tuple(j)]!r} want {want[tuple(j)]!r}" for j in i)
        raise AssertionError(f"{msg} {int(bad.sum())} mismatches: {details}")


def hash32_numpy(seed: int, index: np.ndarray) -> np.ndarray:
    """A second transcription of docs/numerics.md's hash32 in numpy uint32 arithmetic."""
    with np.errstate(over="ignore"):
        h = (index.astype(np.uint32) * np.uint32(0x9E3779B1) + np.uint32(seed * 0x85EBCA77 % 2**32)
             + np.uint32(0x165667B1))
        h ^= h >> np.uint32(16)
        h *= np.uint32(0x7FEB352D)
        h ^= h >> np.uint32(15)
        h *= np.uint32(0x846CA68B)
        h ^= h >> np.uint32(16)
    return h
