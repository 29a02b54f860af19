"""Cost models never hand back a silent wrong number (issue 10, items 4 and 5, and the fuzz test).

Item 4: every numeric field of a design point (scalar or array; from the catalog, an override or
code) is finite and in range, and the error names the field. Item 5: counts are exact integers for
any shape a user can type (int64, then Python ints past int64), or the call refuses it. The fuzz
test draws hostile design points and shapes and accepts only a correct result or a HwsimError.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hwsim
import hwsim.arch as arch
from hwsim.arch.dataflow import Dataflow
from hwsim.errors import CatalogError, HwsimError

# --- item 4 ---------------------------------------------------------------------------------------
NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("name, key, value", [
    ("mx-systolic-32", "clock_mhz", NAN),
    ("mx-systolic-32", "clock_mhz", INF),
    ("mx-systolic-32", "dram_gb_per_s", NAN),
    ("mx-systolic-32", "e_mac_pj", NAN),
    ("mx-systolic-32", "node_nm", -INF),
    ("mx-systolic-32", "ifmap_sram_kib", np.array([64.0, NAN])),
    ("mx-systolic-32", "rows", np.array([8, 0])),
    ("mx-systolic-32", "rows", True),
    ("mx-systolic-32", "rows", np.array([8.5])),
    ("mx-systolic-32", "fp16_mult_pj", INF),
    ("mx-systolic-32", "dram_pj_per_bit", -1.0),
    ("mx-systolic-32", "dram", "sdram"),
    ("tensorcore-sm-like", "mma_cycles", NAN),
    ("tensorcore-sm-like", "pipeline_latency_cycles", -1),
    ("tensorcore-sm-like", "throughput", {"8": NAN}),
    ("bitmod-like", "w_bits_per_cycle", np.float64(NAN)),
])
def test_item04_every_override_is_finite_and_in_range(name, key, value) -> None:
    with pytest.raises(HwsimError, match=key):
        arch.accelerator(name, **{key: value})


def test_item04_code_built_design_points_are_checked_too() -> None:
    acc = arch.accelerator("mx-systolic-32")
    with pytest.raises(HwsimError, match="clock_mhz: must be a finite number, got nan"):
        replace(acc, clock_mhz=NAN)
    with pytest.raises(HwsimError, match="cols: must be > 0, got 0"):
        replace(acc, unit=replace(acc.unit, cols=0))
    with pytest.raises(HwsimError, match="rf_pj_per_bit"):
        replace(acc, energy=acc.energy.replace(rf_pj_per_bit=INF))
    assert arch.accelerator("tensorcore-sm-like", pipeline_latency_cycles=0).gemm(8, 8, 8).cycles > 0


def test_item04_catalog_numbers_must_be_finite(tmp_path: Path) -> None:
    src = arch.accelerator("mx-systolic-32").path
    assert src is not None
    text = src.read_text().replace('name = "mx-systolic-32"', 'name = "nan-clock"')
    lines = [("clock_mhz = nan" if line.strip().startswith("clock_mhz") else line) for line in text.splitlines()]
    (tmp_path / "nan.toml").write_text("\n".join(lines) + "\n")
    with pytest.raises(CatalogError, match=r"nan\.toml:compute\.clock_mhz: must be a finite number, got nan"):
        arch.load_accelerators(path=tmp_path)


# --- item 5 ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def acc() -> arch.Accelerator:
    return arch.accelerator("mx-systolic-32")


def test_item05_counts_are_exact_past_int64(acc) -> None:
    c = acc.gemm(np.array([2**24]), 2**20, 2**20)
    assert int(c.macs[0]) == 2**64
    assert int(c.sram_reads_ifmap[0]) == 2**44 * -(-(2**20) // 32)  # ws: A re-read per column fold
    c = acc.gemm(np.int64(10**7), np.int64(10**7), np.int64(10**7))
    assert c.macs == 10**21 and type(c.macs) is int
    c = acc.gemm(np.array([2**40]), 2**40, 2**40)
    assert int(c.macs[0]) == 2**120 and int(c.cycles[0]) > 0
    assert c.cycles[0] >= c.compute_cycles[0] and c.stall_cycles[0] == c.cycles[0] - c.compute_cycles[0]
    c = acc.gemm(10**12, 10**12, 10**12)
    assert c.macs == 10**36 and isinstance(c.cycles, int) and c.cycles >= c.compute_cycles > 0
    assert math.isfinite(c.energy_pj) and c.energy_pj > 0 and 0 < c.utilization <= 1


def test_exact_path_agrees_with_the_int64_path(acc) -> None:
    """The same GEMM through int64 (a small shape) and through Python ints (forced by a second,
    huge shape in the same call) gives identical counts."""
    small = acc.gemm(512, 768, 3072)
    both = acc.gemm(np.array([512, 2**40]), 768, 3072)
    for field in ("cycles", "compute_cycles", "stall_cycles", "macs", "sram_reads_ifmap", "sram_reads_filter",
                  "sram_writes_ofmap"):
        assert int(np.broadcast_to(np.asarray(getattr(both, field)), (2,))[0]) == getattr(small, field), field
    assert float(both.energy_pj[0]) == pytest.approx(small.energy_pj, rel=1e-12)


@pytest.mark.parametrize("name", ["mx-systolic-32", "tensorcore-sm-like", "bitmod-like"])
def test_item05_every_unit_kind_counts_macs_exactly(name) -> None:
    a = arch.accelerator(name)
    assert a.gemm(10**12, 10**12, 10**12).macs == 10**36
    assert int(a.gemm(np.array([10**12]), 10**12, 10**12).macs[0]) == 10**36


@pytest.mark.parametrize("m", [2**63, 10**30, np.uint64(2**63), np.array([1e19]), np.array([10**30], dtype=object)])
def test_item05_dimensions_past_int64_are_refused(acc, m) -> None:
    with pytest.raises(HwsimError, match=r"m must be .*2\*\*63 - 1"):
        acc.gemm(m, 8, 8)


# --- the fuzz test --------------------------------------------------------------------------------
HOSTILE = st.one_of(
    st.integers(min_value=-3, max_value=2**70),
    st.sampled_from([0, 1, 7, 2**31, 2**53 + 1, 2**62, 2**63 - 1, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([NAN, INF, -INF, -0.0, 0.5, 3.0, True, False, "8", None]),
    st.lists(st.integers(min_value=-2, max_value=2**66), min_size=1, max_size=3).map(np.array),
    st.lists(st.integers(min_value=1, max_value=4096), min_size=1, max_size=3).map(
        lambda v: np.array(v, dtype=np.int64)),
    st.integers(min_value=-2, max_value=2**62).map(np.int64),
    st.lists(st.booleans(), min_size=1, max_size=2).map(np.array),
)
DESIGN_KEYS = ["rows", "cols", "clock_mhz", "dram_gb_per_s", "ifmap_sram_kib", "ofmap_sram_kib", "e_mac_pj",
               "dram_pj_per_bit", "node_nm", "rf_pj_per_bit", "mac_area_um2"]


def _ints(x) -> list[int] | None:
    """``x`` as a flat list of exact ints, or None if a valid GEMM dimension could not come from it."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError):
        return None
    if arr.dtype == bool or arr.size == 0:
        return None
    if arr.dtype == object or arr.dtype.kind in "iu":
        vals = [int(v) for v in arr.flat]
    elif arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        vals = [int(v) for v in arr.flat]
    else:
        return None
    return vals if all(1 <= v <= 2**63 - 1 for v in vals) else None


def _reference_systolic(r: int, c: int, df: Dataflow, m: int, k: int, n: int) -> tuple[int, int]:
    """(compute cycles, MACs) from SCALE-Sim's schedule, in Python ints (hwsim.arch.systolic doc)."""
    rows_dim, cols_dim, t = {Dataflow.WS: (k, n, m), Dataflow.IS: (k, m, n), Dataflow.OS: (m, n, k)}[df]
    folds = -(-rows_dim // r) * -(-cols_dim // c)
    fill = 0 if df is Dataflow.OS else r
    return folds * (fill + (r - 1) + (c - 1) + t) - 1, m * k * n


FUZZ = dict(name=st.sampled_from(["mx-systolic-32", "tpu-v1-like", "tensorcore-sm-like", "bitmod-like"]),
            overrides=st.dictionaries(st.sampled_from(DESIGN_KEYS), HOSTILE, max_size=2),
            m=HOSTILE, k=HOSTILE, n=HOSTILE)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**FUZZ)
def test_gemm_fuzz_returns_a_correct_result_or_a_clear_error(name, overrides, m, k, n) -> None:
    """`make test`: a bounded number of examples."""
    check_gemm(name, overrides, m, k, n)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**FUZZ)
def test_gemm_fuzz_many_examples(name, overrides, m, k, n) -> None:
    """`make test-all`: the same property over many more examples."""
    check_gemm(name, overrides, m, k, n)


def check_gemm(name, overrides, m, k, n) -> None:
    """``hwsim.accelerator(name, **overrides).gemm(m, k, n)`` raises a HwsimError with a message, or
    returns exact counts (MACs = m*k*n in Python ints, SCALE-Sim's compute cycles for a systolic
    array), cycles >= compute cycles, and finite positive energy, time and area."""
    try:
        acc = hwsim.accelerator(name, **overrides)
        cost = acc.gemm(m, k, n)
    except HwsimError as exc:
        assert str(exc).strip(), "an error without a message"
        return
    # a result: every dimension and design number was valid, and the counts are exact
    dims = [_ints(v) for v in (m, k, n)]
    assert all(d is not None for d in dims), f"accepted an invalid shape {(m, k, n)!r}"
    for key, value in overrides.items():
        arr = np.asarray(value)
        assert arr.dtype != bool and arr.dtype.kind in "iuf", f"accepted {key}={value!r}"
        assert np.all(np.isfinite(arr.astype(np.float64))) and np.all(arr > 0), f"accepted {key}={value!r}"
    shape = np.broadcast_shapes(*(np.shape(v) for v in (m, k, n)),
                                *(np.shape(v) for v in overrides.values()))
    fields = {f: np.broadcast_to(np.asarray(getattr(cost, f), dtype=object if f in (
        "macs", "cycles", "compute_cycles", "stall_cycles") else np.float64), shape)
        for f in ("macs", "cycles", "compute_cycles", "stall_cycles", "energy_pj", "time_us", "utilization",
                  "area_um2")}
    mm, kk, nn = (np.broadcast_to(np.array(d, dtype=object).reshape(np.shape(v)), shape)
                  for d, v in zip(dims, (m, k, n), strict=True))
    unit = acc.unit
    for idx in np.ndindex(shape):
        macs = int(mm[idx]) * int(kk[idx]) * int(nn[idx])
        assert int(fields["macs"][idx]) == macs
        cycles, compute = int(fields["cycles"][idx]), int(fields["compute_cycles"][idx])
        assert cycles >= compute >= 1 and int(fields["stall_cycles"][idx]) == cycles - compute
        for f in ("energy_pj", "time_us", "area_um2"):
            assert math.isfinite(fields[f][idx]) and fields[f][idx] > 0, f
        assert 0 < fields["utilization"][idx] <= 1 + 1e-12
        if isinstance(unit, arch.SystolicUnit) and not isinstance(unit, arch.BitSerialUnit):
            r = int(np.broadcast_to(np.asarray(unit.rows), shape)[idx])
            c = int(np.broadcast_to(np.asarray(unit.cols), shape)[idx])
            want, _ = _reference_systolic(r, c, unit.dataflow, int(mm[idx]), int(kk[idx]), int(nn[idx]))
            assert compute == want


@pytest.mark.parametrize("overrides, shape", [
    ({"ifmap_sram_kib": 2**63 - 1}, (4, 4, 4)),  # int64 sum of the three SRAM sizes wrapped: negative area
    ({"e_mac_pj": 2005}, (2**40, 2**10, 2**12)),  # int MAC energy x 2^62 MACs wrapped: negative energy
    ({"e_mac_pj": 2**63, "mac_area_um2": 2**63}, (4, 4, 4)),  # beyond int64
])
def test_integer_design_overrides_price_in_float64(overrides, shape) -> None:
    """Integer design numbers (as a sweep passes them) never wrap around in int64: the energy and
    area equal the same design with the values given as floats."""
    ints = hwsim.accelerator("mx-systolic-32", **overrides).gemm(*shape)
    flts = hwsim.accelerator("mx-systolic-32", **{k: float(v) for k, v in overrides.items()}).gemm(*shape)
    assert ints.energy_pj > 0 and ints.area_um2 > 0
    assert ints.energy_pj == pytest.approx(flts.energy_pj, rel=1e-12)
    assert ints.area_um2 == pytest.approx(flts.area_um2, rel=1e-12)
