"""The ``hwsim`` command line: every subcommand runs, writes what it says, and fails cleanly."""

from __future__ import annotations

import numpy as np
import pytest

import hwsim
from hwsim.cli import main
from hwsim.numerics.format import Format


def test_formats_table_lists_every_catalog_name(capsys) -> None:
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    for name in hwsim.formats():
        assert name in out


def test_formats_show_prints_every_fp4_value(capsys) -> None:
    assert main(["formats", "show", "mxfp4"]) == 0
    out = capsys.readouterr().out
    # OCP MX v1.0 Table 5: the 15 distinct FP4 E2M1 values
    assert "-6 -4 -3 -2 -1.5 -1 -0.5 0 0.5 1 1.5 2 3 4 6" in out
    assert "E8M0" in out


def test_unknown_format_is_a_clean_error_with_suggestion(capsys) -> None:
    assert main(["formats", "show", "mxfp5"]) == 2
    err = capsys.readouterr().err
    assert "mxfp4" in err and "unknown format" in err


def test_quantize_roundtrip_through_files(tmp_path, capsys) -> None:
    x = np.random.default_rng(1).standard_normal((8, 64)).astype(np.float32)
    src, dst = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(src, x)
    assert main(["quantize", "--format", "mxfp4", str(src), str(dst)]) == 0
    y = np.load(dst)
    assert np.array_equal(y, hwsim.format("mxfp4").quantize(x))
    assert "QSNR" in capsys.readouterr().out


def test_quantize_codes_writes_bits(tmp_path) -> None:
    x = np.random.default_rng(2).standard_normal((3, 40)).astype(np.float32)
    src, dst = tmp_path / "x.npy", tmp_path / "c.npz"
    np.save(src, x)
    assert main(["quantize", "--format", "nvfp4", "--codes", str(src), str(dst)]) == 0
    data = np.load(dst)
    enc = hwsim.format("nvfp4").encode(x)
    assert np.array_equal(data["codes"], enc.codes) and np.array_equal(data["scales"], enc.scales)


def test_quantize_rejects_integer_input(tmp_path, capsys) -> None:
    src = tmp_path / "i.npy"
    np.save(src, np.arange(10))
    assert main(["quantize", "--format", "mxfp4", str(src), str(tmp_path / "o.npy")]) == 2
    assert "not a float type" in capsys.readouterr().err


def test_tour_writes_table_and_plot(tmp_path, capsys) -> None:
    assert main(["tour", "--rows", "32", "--cols", "64", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "qsnr_gaussian.csv").exists()
    assert (tmp_path / "qsnr_vs_bits_gaussian.png").stat().st_size > 10_000


def test_tour_qsnr_ranks_formats_like_their_precision() -> None:
    from hwsim.study.tour import format_tour

    names = ("mxfp4", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp8_e4m3")
    fmts = [f for f in map(hwsim.format, names) if isinstance(f, Format)]
    assert len(fmts) == len(names)
    tour = format_tour(fmts, shape=(64, 256))
    t = {str(n): float(q) for n, q in zip(tour["format"], tour["qsnr_db_gaussian"], strict=True)}
    # QSNR follows the mantissa width (1, 2, 3, 3 bits): each extra bit is worth ~6 dB, and on
    # Gaussian data E2M3 and E4M3 (both 3 mantissa bits) land within 1 dB of each other
    assert t["mxfp4"] + 4 < t["mxfp6_e3m2"] < t["mxfp8_e4m3"] - 4
    assert abs(t["mxfp6_e2m3"] - t["mxfp8_e4m3"]) < 1.0
    assert 15 < t["mxfp4"] < 20 and 28 < t["mxfp8_e4m3"] < 34


@pytest.mark.parametrize("argv", [
    ["gemm", "--accelerator", "tpu-v1-like", "-m", "128", "-k", "768", "-n", "3072"],
    ["workload", "bert-base", "--accelerator", "mx-systolic-32"],
    ["accelerators"],
])
def test_arch_commands_run(argv, capsys) -> None:
    assert main(argv) == 0
    assert capsys.readouterr().out.strip()


def test_gemm_rejects_nonpositive_dimension(capsys) -> None:
    assert main(["gemm", "--accelerator", "tpu-v1-like", "-m", "0", "-k", "8", "-n", "8"]) == 2
    assert capsys.readouterr().err.strip()


def test_formats_show_codebook_prints_its_code_table(capsys) -> None:
    assert main(["formats", "show", "flint4"]) == 0
    out = capsys.readouterr().out
    # ANT's signed flint4: 1 sign + the 3-bit flint magnitudes {0,1,2,3,4,6,8,16}
    assert "0 1 2 3 4 6 8 16" in out and "1000:-0" in out


def test_formats_compare_table_and_csv(tmp_path, capsys) -> None:
    x = np.random.default_rng(3).standard_normal((16, 256)).astype(np.float32)
    src, csv = tmp_path / "w.npy", tmp_path / "cmp.csv"
    np.save(src, x)
    assert main(["formats", "compare", "--data", str(src), "--formats", "int4_g128,mxfp4,bitmod4",
                 "--csv", str(csv)]) == 0
    import pandas as pd

    table = pd.read_csv(csv)
    assert list(table["format"]) == ["int4_g128", "mxfp4", "bitmod4"]
    # independent check of one row: NMSE of mxfp4 recomputed here
    q = hwsim.format("mxfp4").quantize(x)
    want = float(np.sum((x.astype(np.float64) - q) ** 2) / np.sum(x.astype(np.float64) ** 2))
    assert table.loc[1, "nmse"] == pytest.approx(want, rel=1e-12)
    assert table.loc[2, "bits_per_element"] == pytest.approx(4 + 10 / 128)
    assert main(["formats", "compare", "--data", "gaussain", "--formats", "mxfp4"]) == 2
    assert "gaussian" in capsys.readouterr().err


def test_quantize_codes_keep_what_decode_needs(tmp_path) -> None:
    """--codes writes the format's array-valued meta too (BitMoD selectors, OliVe pair bytes...), so
    the file alone decodes to the quantized values."""
    from hwsim.numerics.encoded import Encoded

    x = np.random.default_rng(2).standard_normal((4, 256)).astype(np.float32)
    src, dst = tmp_path / "x.npy", tmp_path / "c.npz"
    np.save(src, x)
    for name in ("bitmod4", "int4_asym_g128", "llmfp4_e2m1"):
        assert main(["quantize", "--format", name, "--codes", str(src), str(dst)]) == 0
        z = np.load(dst)
        meta = {k.removeprefix("meta_"): z[k] for k in z.files if k.startswith("meta_")}
        fmt = hwsim.format(name)
        enc = Encoded(codes=z["codes"], scales=z["scales"] if "scales" in z.files else None, axis=1, meta=meta)
        assert np.array_equal(fmt.decode(enc), fmt.quantize(x)), name


def test_formats_table_scale_column_is_the_typed_scale_rule() -> None:
    """Every family's scale column is read from its typed ``operand`` description: formats built in
    code (an E5M3 block scale, a codebook with an absmean group scale, an asymmetric integer)
    show their own rules, not a dash."""
    from hwsim.cli import _format_rows
    from hwsim.numerics.codebook import Codebook, CodebookFormat

    table3 = (0.0, 1.0, 2.0, 3.0, float("nan"), -1.0, -2.0, -3.0)
    coded = CodebookFormat(name="cb3_absmean_g64", types=(Codebook(name="sym3", bits=3, table=table3),),
                           group_size=64, scale_rule="absmean")
    fmts = [hwsim.format("mxfp4_ue5m3"), coded, hwsim.format("int4_asym_g128"), hwsim.format("olive4")]
    for fmt, row in zip(fmts, _format_rows(fmts), strict=True):
        assert fmt.operand.scales, fmt.name
        for scale in fmt.operand.scales:
            assert scale.rule in row["scale"], (fmt.name, row["scale"])
    rows = _format_rows(fmts)
    assert "E5M3" in rows[0]["scale"] and rows[0]["scale"].endswith("per block 32")
    assert "mean|x|" in rows[1]["scale"] and rows[1]["scale"].endswith("per group 64")
    assert _format_rows([hwsim.format("fp16")])[0]["scale"] == "-"


def test_formats_table_prints_a_user_format_scale_rule(tmp_path, monkeypatch, capsys) -> None:
    """A codebook format added through HWSIM_FORMATS_PATH shows its scale rule in `hwsim formats`
    (printed as text: brackets in a rule are not rich markup)."""
    (tmp_path / "mine.toml").write_text(
        '[codebooks.sym3]\nbits = 3\ntable = [0, 1, 2, 3, "nan", -1, -2, -3]\nreference = "test"\n\n'
        '[cb3_absmean]\nkind = "codebook"\ntypes = ["sym3"]\nscale_per = "tensor"\nscale_rule = "absmean"\n'
        'reference = "test"\n')
    monkeypatch.setenv("HWSIM_FORMATS_PATH", str(tmp_path))
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "cb3_absmean" in line)
    assert "mean|x|" in row
    assert "[lo, hi, n]" in " ".join(out.split())  # llmfp4's rule, as written
