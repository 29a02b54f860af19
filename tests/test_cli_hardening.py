"""The CLI never hands back a lost file, a wrong file name or a traceback (issue 10, items 9-18).

Each ``test_item<N>_...`` pins one numbered item of the issue; ``test_every_verb_refuses_bad_arguments``
is its "a test that keeps it this way": each verb with bad arguments exits 2 with one line on
stderr, no traceback and no file left behind.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import hwsim
from hwsim.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder as the working directory, with an input array, an empty file, an archive."""
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((4, 64)).astype(np.float32))
    (tmp_path / "empty.npy").write_bytes(b"")
    np.savez(tmp_path / "z.npz", a=np.ones(3, np.float32))
    (tmp_path / "folder").mkdir()
    (tmp_path / "plain.txt").write_text("x")
    return tmp_path


@pytest.fixture
def no_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    """`hwsim run` must refuse bad input before any model is trained or evaluated."""
    import hwsim.bridge.evaluate as ev

    def boom(*args, **kwargs):
        raise AssertionError("evaluated a model before checking the arguments")
    monkeypatch.setattr(ev, "run", boom)
    monkeypatch.setattr(ev, "compare", boom)


# --- a test that keeps it this way ----------------------------------------------------------------
BAD_ARGUMENTS = [
    ["formats", "bogus"],
    ["formats", "show"],
    ["formats", "show", "mxfp5"],
    ["formats", "compare", "--formats", "mxfp4", "--rows", "0"],
    ["formats", "compare", "--formats", "mxfp4", "--cols", "0"],
    ["formats", "compare", "--formats", ","],
    ["formats", "compare", "--formats", "mxfp4", "--data", "empty.npy"],
    ["formats", "compare", "--formats", "mxfp4", "--data", "z.npz"],
    ["formats", "compare", "--formats", "mxfp4", "--rows", "4", "--cols", "32", "--csv", "folder"],
    ["quantize", "--format", "mxfp4", "missing.npy", "o.npy"],
    ["quantize", "--format", "mxfp4", "empty.npy", "o.npy"],
    ["quantize", "--format", "mxfp4", "z.npz", "o.npy"],
    ["quantize", "--format", "mxfp5", "x.npy", "o.npy"],
    ["quantize", "--format", "mxfp4", "x.npy", "folder"],
    ["quantize", "--format", "mxfp4", "x.npy", "plain.txt/o.npy"],
    ["quantize", "--format", "mxfp4", "--rounding", "up", "x.npy", "o.npy"],
    ["quantize", "--format", "mxfp4", "--axis", "7", "x.npy", "o.npy"],
    ["tour", "--rows", "0"],
    ["tour", "--cols", "0", "--out", "t"],
    ["tour", "--rows", "-3", "--out", "t"],
    ["tour", "--distribution", "cauchy"],
    ["tour", "--rows", "8", "--cols", "32", "--out", "plain.txt"],
    ["accelerators", "extra"],
    ["gemm", "--accelerator", "tpu-v1-like", "-m", "0", "-k", "8", "-n", "8"],
    ["gemm", "--accelerator", "tpu-v1-like", "-m", "x", "-k", "8", "-n", "8"],
    ["gemm", "--accelerator", "tpu9", "-m", "8", "-k", "8", "-n", "8"],
    ["gemm", "--accelerator", "tpu-v1-like", "-m", "8", "-k", "8", "-n", "8", "--a-format", "mxfp5"],
    ["gemm", "--accelerator", "tpu-v1-like", "-m", "8", "-k", "8", "-n", "8", "--csv", "folder"],
    ["workload", "bert-huge", "--accelerator", "mx-systolic-32"],
    ["workload", "bert-base", "--accelerator", "mx-systolic-32", "--csv", "plain.txt/w.csv"],
    ["run", "--model", "gpt5"],
    ["run", "--model", "digits-mlp", "--threads", "-1"],
    ["run", "--model", "digits-mlp", "--threads", "0"],
    ["run", "--model", "digits-mlp", "--compare", ","],
    ["run", "--model", "digits-mlp", "--size", "huge"],
    ["run", "--model", "digits-mlp", "--weights", "mxfp3"],
    ["run", "--model", "digits-mlp", "--accelerator", "tpu9"],
    ["run", "--model", "digits-mlp", "--json", "folder"],
    ["run", "--model", "digits-mlp", "--compare", "fp16", "--plot", "plain.txt/p.png"],
]


@pytest.mark.parametrize("argv", BAD_ARGUMENTS, ids=lambda a: " ".join(a))
def test_every_verb_refuses_bad_arguments(argv, work: Path, no_evaluation, capsys) -> None:
    if argv[0] == "run":
        pytest.importorskip("torch")
    before = _files(work)
    assert main(argv) == 2  # an exception would escape here as a traceback
    err = capsys.readouterr().err.strip()
    assert err.startswith("hwsim") and ": error: " in err
    assert "\n" not in err, err
    assert "Traceback" not in err
    assert _files(work) == before


def test_bad_arguments_print_no_traceback_in_a_real_process(work: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for argv in (["quantize", "--format", "mxfp4", "z.npz", "o.npy"], ["tour", "--rows", "0"],
                 ["gemm", "--accelerator", "tpu-v1-like", "-m", "8", "-k", "8", "-n", "8", "--csv", "/proc/x.csv"]):
        proc = subprocess.run([sys.executable, "-m", "hwsim.cli", *argv], capture_output=True, text=True, env=env,
                              cwd=work, timeout=300)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


# --- item 9: a failed write keeps the input and leaves no partial file -------------------------------
def test_item09_quantize_onto_its_own_input_under_a_file_size_limit_keeps_the_input(tmp_path: Path) -> None:
    x = np.random.default_rng(1).standard_normal((64, 256)).astype(np.float32)  # 64 KiB
    src = tmp_path / "x.npy"
    np.save(src, x)
    original = src.read_bytes()
    limit = 16 * 1024  # `ulimit -f 16`: the output cannot be written in full

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    warm = [sys.executable, "-m", "hwsim.cli", "quantize", "--format", "mxfp4", "x.npy", "warm.npy"]
    subprocess.run(warm, check=True, capture_output=True, env=env, cwd=tmp_path, timeout=300)  # numba's cache
    (tmp_path / "warm.npy").unlink()
    for out in ("x.npy", "y.npy"):
        proc = subprocess.run([sys.executable, "-m", "hwsim.cli", "quantize", "--format", "mxfp4", "x.npy", out],
                              capture_output=True, text=True, env=env, cwd=tmp_path, preexec_fn=small_files,
                              timeout=300)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and out in proc.stderr
        assert src.read_bytes() == original
        assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_item09_failed_write_leaves_the_old_output_intact(work: Path, monkeypatch, capsys) -> None:
    np.save(work / "old.npy", np.zeros(3))
    old = (work / "old.npy").read_bytes()

    def full_disk(fh, arr, *a, **k):
        fh.write(b"\x93NUMPY partial")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "save", full_disk)
    assert main(["quantize", "--format", "mxfp4", "x.npy", "old.npy"]) == 2
    assert "old.npy" in capsys.readouterr().err
    assert (work / "old.npy").read_bytes() == old
    assert _files(work) == ["empty.npy", "folder", "old.npy", "plain.txt", "x.npy", "z.npz"]


# --- item 10: outputs checked before the work; every output attempted; one line ---------------------
def test_item10_bad_output_paths_fail_before_computing(work: Path, monkeypatch, capsys) -> None:
    import hwsim.study.tour as tour

    def boom(*a, **k):
        raise AssertionError("computed before checking the output path")
    monkeypatch.setattr(tour, "format_tour", boom)
    assert main(["tour", "--out", "/proc/tour"]) == 2
    assert "/proc/tour" in capsys.readouterr().err
    gemm = ["gemm", "--accelerator", "tpu-v1-like", "-m", "8", "-k", "8", "-n", "8"]
    assert main([*gemm, "--csv", "nodir/sub/g.csv"]) == 0
    assert (work / "nodir" / "sub" / "g.csv").exists()  # a missing folder is created, as for --out


def test_item10_run_checks_json_before_training(work: Path, no_evaluation, capsys) -> None:
    pytest.importorskip("torch")
    assert main(["run", "--model", "digits-mlp", "--json", str(work / "folder"), "--csv", "run.csv"]) == 2
    err = capsys.readouterr().err
    assert "--json" in err and "folder" in err


def test_item10_a_failed_json_write_does_not_skip_the_csv(work: Path, monkeypatch, capsys) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import hwsim.cli as cli

    def no_space(path, text):
        raise OSError(28, "No space left on device", str(path))
    monkeypatch.setattr(cli, "write_text", no_space)
    assert main(["run", "--model", "digits-mlp", "--json", "r.json", "--csv", "run.csv"]) == 2
    err = capsys.readouterr().err
    assert "No space left" in err and "\n" not in err.strip()
    assert (work / "run.csv").read_text().count("\n") == 4
    assert not (work / "r.json").exists()


# --- item 11: exactly the path the user gave ----------------------------------------------------------
def test_item11_quantize_writes_exactly_the_given_path(work: Path, capsys) -> None:
    x = np.load(work / "x.npy")
    assert main(["quantize", "--format", "mxfp4", "x.npy", "out_noext"]) == 0
    assert "wrote out_noext" in capsys.readouterr().out
    assert np.array_equal(np.load(work / "out_noext"), hwsim.format("mxfp4").quantize(x))
    assert main(["quantize", "--format", "mxfp4", "--codes", "x.npy", "same4.npy"]) == 0
    assert np.array_equal(np.load(work / "same4.npy")["codes"], hwsim.format("mxfp4").encode(x).codes)
    assert not (work / "out_noext.npy").exists() and not (work / "same4.npy.npz").exists()


# --- item 12 (CLI part): no QSNR of an empty matrix ----------------------------------------------------
@pytest.mark.parametrize("argv", [["tour", "--rows", "0", "--out", "t"], ["tour", "--cols", "0", "--out", "t"],
                                  ["formats", "compare", "--formats", "mxfp4,int8_g32", "--rows", "0"],
                                  ["formats", "compare", "--formats", "mxfp4", "--cols", "0", "--csv", "c.csv"]])
def test_item12_empty_synthetic_data_is_refused(argv, work: Path, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert ("--rows" in err or "--cols" in err) and ">= 1" in err
    assert not (work / "t").exists() and not (work / "c.csv").exists()


# --- item 13 (CLI part): one clear message naming the argument ------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["--threads", "-1"], "--threads: must be an integer >= 1, got -1"),
    (["--threads", "0"], "--threads: must be an integer >= 1, got 0"),
    (["--compare", ","], "--compare ',': no format name"),
    (["--size", "huge"], "--size huge: not an evaluation size of digits-mlp; known: ci, full"),
])
def test_item13_run_arguments_are_checked(argv, needle, work: Path, no_evaluation, capsys) -> None:
    pytest.importorskip("torch")
    assert main(["run", "--model", "digits-mlp", *argv]) == 2
    assert needle in capsys.readouterr().err


@pytest.mark.parametrize("name, needle", [("empty.npy", "the file is empty"),
                                          ("z.npz", "is an .npz archive (arrays a)")])
def test_item13_unreadable_inputs_are_named(name, needle, work: Path, capsys) -> None:
    assert main(["quantize", "--format", "mxfp4", name, "o.npy"]) == 2
    assert main(["formats", "compare", "--formats", "mxfp4", "--data", name]) == 2
    err = capsys.readouterr().err
    assert err.count(needle) == 2 and err.count(name) == 2


# --- item 15: every name checked before the first evaluation -------------------------------------------
def test_item15_run_reports_every_bad_name_before_evaluating(work: Path, no_evaluation, capsys) -> None:
    pytest.importorskip("torch")
    assert main(["run", "--model", "digits-mlp", "--compare", "a1,fp16,mxfp5", "--accelerator", "tpu9"]) == 2
    err = capsys.readouterr().err
    assert "3 problems" in err and "'a1'" in err and "'mxfp5'" in err and "'tpu9'" in err
    assert "--compare fp16" not in err
    assert main(["run", "--model", "digits-mlp", "--weights", "mxfp4", "--accelerator", "tpu9"]) == 2
    assert "Known accelerators" in capsys.readouterr().err
    assert main(["run", "--model", "digits-mlp", "--weights", "llm_int8", "--kv-cache", "int9"]) == 2
    err = capsys.readouterr().err
    assert "--kv-cache int9" in err and "llm_int8" not in err


# --- item 16: fp32 has too many values to list ---------------------------------------------------------
def test_item16_formats_show_fp32_prints_its_range(capsys) -> None:
    assert main(["formats", "show", "fp32"]) == 0
    out = capsys.readouterr().out
    assert "0 distinct" not in out
    assert "2^32 codes: too many element values to list" in out and "3.40282e+38" in out and "1.4013e-45" in out


# --- item 17: encode time without numba compilation ----------------------------------------------------
def test_item17_formats_compare_times_encoding_after_a_warm_up(work: Path, monkeypatch) -> None:
    """A format whose first encode costs 0.5 s (a numba compile) reports only its steady time."""
    real = hwsim.format("mxfp4")

    class FirstCallCompiles:
        name, bits_per_element = real.name, real.bits_per_element
        compiled = False

        def encode(self, x, axis=-1):
            if not self.compiled:
                time.sleep(0.5)
                self.compiled = True
            return real.encode(x, axis=axis)

        def decode(self, enc):
            return real.decode(enc)

    monkeypatch.setattr(hwsim, "format", lambda name, **kw: FirstCallCompiles())
    assert main(["formats", "compare", "--formats", "mxfp4", "--rows", "8", "--cols", "64", "--csv", "c.csv"]) == 0
    import pandas as pd

    assert float(pd.read_csv(work / "c.csv")["encode_s"].iloc[0]) < 0.25


# --- item 18: which extra to install -------------------------------------------------------------------
def test_item18_missing_bridge_dependency_names_the_extra(work: Path, monkeypatch, capsys) -> None:
    pytest.importorskip("torch")
    for name in ["sklearn", *(m for m in list(sys.modules) if m.startswith("sklearn."))]:
        monkeypatch.setitem(sys.modules, name, None)  # `import sklearn...` now fails as if not installed
    assert main(["run", "--model", "digits-mlp", "--weights", "mxfp4"]) == 2
    err = capsys.readouterr().err
    assert "'sklearn'" in err and "pip install 'hwsim[bridge]'" in err and "\n" not in err.strip()
