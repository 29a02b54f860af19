"""``mac_cost = "rtl"`` (hwsim.arch.rtl_cost): MAC costs from the committed synthesized-RTL CSV.

The expected energies are computed here from the CSV file read with the csv module and the rules
the docs state, not from hwsim.synth.costs: 180 nm -> 45 nm area x (45/180)^2 and energy x
(45/180)(0.9/1.8)^2, then energy x node/45 and area x (node/45)^2; a ``mul`` block adds Horowitz's
fp32 add (0.9 pJ, 4184 um^2 at 45 nm) and, for MX operands, the 8-bit scale add (0.03 pJ, 36 um^2)
over the block of 32.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import hwsim
from hwsim.arch.config import accelerator
from hwsim.arch.energy import DEFAULT_TABLE, mac_cost, operand_bits
from hwsim.arch.rtl_cost import RtlMacCosts
from hwsim.errors import CatalogError, FormatError
from hwsim.synth.costs import RtlCost

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "hwsim" / "synth" / "data" / "rtl_costs.csv"
ENTRY = ROOT / "accelerators" / "mx-systolic-32-rtl.toml"


def _csv_row(block: str, instance: str) -> dict[str, str]:
    with open(CSV, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["block"] == block and row["instance"] == instance:
                return row
    raise AssertionError(f"{block}/{instance} not in {CSV}")


def test_gemm_energy_uses_the_csv_row() -> None:
    """MX operands take the MX dot unit's row (covers "dot": products, adder tree, scales and the FP32
    rounding are all in it, nothing is added; area per MAC lane = unit area / 32); plain FP8 operands
    take the multiplier row plus the table's fp32 accumulator add."""
    acc = hwsim.accelerator("mx-systolic-32-rtl")
    node = 28.0
    dot = _csv_row("mx_dot", "MXFP8 E4M3")
    e_dot = float(dot["energy_pj_per_mac"]) * (45 / 180) * (0.9 / 1.8) ** 2 * node / 45
    a_dot = float(dot["area_um2"]) / 32 * (45 / 180) ** 2 * (node / 45) ** 2
    cost = acc.gemm(64, 256, 128)
    assert cost.macs == 64 * 256 * 128
    assert cost.energy_mac_pj == pytest.approx(cost.macs * e_dot, rel=1e-9)
    f = hwsim.format("mxfp8_e4m3")
    fp32 = hwsim.format("fp32")
    got = mac_cost(f, f, fp32, acc.energy, node_nm=node, source=acc.mac_cost_source)
    assert got.area_um2 == pytest.approx(a_dot, rel=1e-9) and got.energy_pj == pytest.approx(e_dot, rel=1e-9)

    row = _csv_row("fp_mul", "E4M3")
    e_mac = float(row["energy_pj_per_mac"]) * (45 / 180) * (0.9 / 1.8) ** 2 * node / 45 + 0.9 * node / 45
    a_mac = float(row["area_um2"]) * (45 / 180) ** 2 * (node / 45) ** 2 + 4184 * (node / 45) ** 2
    p = hwsim.format("fp8_e4m3")
    got = mac_cost(p, p, fp32, acc.energy, node_nm=node, source=acc.mac_cost_source)
    assert got.area_um2 == pytest.approx(a_mac, rel=1e-9) and got.energy_pj == pytest.approx(e_mac, rel=1e-9)


def test_dot_rows_match_only_their_own_block_scale() -> None:
    """NVFP4's dot-16 unit multiplies E4M3 block scales: it prices nvfp4, and neither an E2M1 format
    with E8M0 scales in blocks of 16 (the multiplier row) nor mxfp4 (its own dot-32 row)."""
    acc = hwsim.accelerator("mx-systolic-32-rtl")
    source = acc.mac_cost_source
    nv, mx = hwsim.format("nvfp4"), hwsim.format("mxfp4")
    pow2_16 = hwsim.format("mxfp4").replace(block_size=16, name="e2m1_e8m0_b16")
    assert source.row(operand_bits(nv), operand_bits(nv)).instance == "NVFP4"
    assert source.row(operand_bits(mx), operand_bits(mx)).instance == "MXFP4"
    # E8M0 scales in blocks of 16: not the NVFP4 unit; the E2M1 multiplier row (plus the table's
    # accumulator and scale add) prices it
    assert source.row(operand_bits(pow2_16), operand_bits(pow2_16)).block == "fp_mul"
    fp32 = hwsim.format("fp32")
    nv_cost = mac_cost(nv, nv, fp32, acc.energy, node_nm=28.0, source=source)
    row = _csv_row("mx_dot", "NVFP4")
    assert nv_cost.energy_pj == pytest.approx(float(row["energy_pj_per_mac"]) * (45 / 180) * 0.25 * 28 / 45, rel=1e-9)


def test_table_entry_differs_and_overrides_follow() -> None:
    rtl = hwsim.accelerator("mx-systolic-32-rtl")
    f = hwsim.format("mxfp8_e4m3")
    table = hwsim.accelerator("mx-systolic-32").gemm(32, 64, 32, f, f)
    assert rtl.gemm(32, 64, 32).energy_mac_pj != table.energy_mac_pj
    p = hwsim.format("fp8_e4m3")  # a multiplier row: the table's accumulator add is added to it
    more = accelerator("mx-systolic-32-rtl", fp32_add_pj=1.8)  # the table part follows [energy] overrides
    delta = more.gemm(32, 64, 32, p, p).energy_mac_pj - rtl.gemm(32, 64, 32, p, p).energy_mac_pj
    assert delta == pytest.approx(32 * 64 * 32 * 0.9 * 28 / 45, rel=1e-9)


def test_missing_format_is_named_with_what_the_csv_has(tmp_path: Path) -> None:
    strict = ENTRY.read_text().replace('"mx-systolic-32-rtl"', '"strict-rtl"')
    strict = strict.replace('mac_cost_fallback = "table"', "")
    (tmp_path / "strict.toml").write_text(strict)
    acc = accelerator("strict-rtl", path=tmp_path)
    with pytest.raises(FormatError) as info:
        acc.gemm(16, 32, 16, hwsim.format("mxfp8_e4m3"), hwsim.format("mxint8"))
    msg = str(info.value)
    assert "mxint8 (int8)" in msg and "fp_mul/E4M3 (fp8_e4m3: e4m3" in msg and "hwsim rtl synth" in msg


def test_fallback_gives_pairs_without_a_block_the_table_cost() -> None:
    """mx-systolic-32-rtl says mac_cost_fallback = "table": fp32 GEMMs (layers a run keeps) cost as
    on the table entry with the same array."""
    fp32 = hwsim.format("fp32")
    rtl = hwsim.accelerator("mx-systolic-32-rtl").gemm(16, 32, 16, fp32, fp32)
    table = hwsim.accelerator("mx-systolic-32").gemm(16, 32, 16, fp32, fp32)
    assert rtl.energy_mac_pj == table.energy_mac_pj and rtl.area_um2 == table.area_um2


def test_catalog_rejects_rtl_entry_without_a_block(tmp_path: Path) -> None:
    # int4 x int4: no block of rtl/blocks.toml implements it (int8_mac covers int8 only)
    text = ENTRY.read_text().replace('"mx-systolic-32-rtl"', '"int4-rtl"').replace('"mxfp8_e4m3"', '"int4"')
    text = text.replace('mac_cost_fallback = "table"', "")  # strict: no table fallback
    (tmp_path / "int4-rtl.toml").write_text(text)
    with pytest.raises(CatalogError, match=r"int4-rtl.toml:mac_cost: .*a=int4 \(int4\) x w=int4 \(int4\)"):
        accelerator("int4-rtl", path=tmp_path)


def test_catalog_rejects_unknown_mac_cost_mode(tmp_path: Path) -> None:
    text = ENTRY.read_text().replace('"mx-systolic-32-rtl"', '"x-rtl"')
    text = text.replace('mac_cost = "rtl"', 'mac_cost = "gates"')
    (tmp_path / "x.toml").write_text(text)
    with pytest.raises(CatalogError, match="mac_cost"):
        accelerator("x-rtl", path=tmp_path)


def _row(block: str, element: str, covers: str, block_size: int = 0, area: float = 1600.0,
         energy: float = 16.0, macs: float = 1.0, fmt: str = "f") -> RtlCost:
    return RtlCost(block=block, instance="I", format=fmt, element=element, block_size=block_size, covers=covers,
                   macs_per_cycle=macs, parameters="", cells=1, nand2_eq=1.0, area_um2=area,
                   critical_path_ns=1.0, fmax_mhz=1000.0, power_mw=1.0, energy_pj_per_mac=energy,
                   power_mw_smollm2=1.0, energy_pj_per_mac_smollm2=energy, activity="",
                   cell_breakdown="", liberty="", yosys="", opensta="", source_sha="")


def test_lookup_prefers_the_most_covering_block_and_checks_block_size() -> None:
    mx = operand_bits(hwsim.format("mxfp4"))
    plain = operand_bits(hwsim.format("fp4_e2m1"))
    fp32 = operand_bits(hwsim.format("fp32"))
    src = RtlMacCosts(DEFAULT_TABLE, (_row("mul", "e2m1", "mul"),
                                      _row("dot", "e2m1", "dot", 32, macs=32.0, fmt="mxfp4")))
    assert src.row(mx, mx).block == "dot"
    assert src.row(plain, plain).block == "mul"  # the 32-block dot unit does not serve unscaled operands
    dot = src(mx, mx, fp32)  # covers everything: the scaled block alone, area per MAC lane
    assert dot.energy_pj == pytest.approx(16 / 16) and dot.area_um2 == pytest.approx(1600 / 16 / 32)
    mul = src(plain, plain, fp32)
    assert mul.energy_pj == pytest.approx(1 + 0.9) and mul.area_um2 == pytest.approx(100 + 4184)
    with pytest.raises(FormatError, match="no rows"):
        RtlMacCosts(DEFAULT_TABLE, ())(plain, plain, fp32)
