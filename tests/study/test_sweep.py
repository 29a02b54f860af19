"""hwsim sweep end to end: resume, failures stored and retried, kill -9 mid-sweep, local pool vs
serial vs Dask rows, a Dask worker killed mid-sweep, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hwsim.cli import main
from hwsim.study.runner import sweep
from hwsim.study.spec import load_study
from hwsim.study.store import ResultsStore

ROOT = Path(__file__).resolve().parents[2]

COST = """
metrics = ["cost", "layers"]
[axes]
workload = ["bert-base"]
weights = ["mxfp4", "int8_g32"]
activations = ["mxfp8_e4m3"]
accelerator = ["mx-systolic-32"]
dataflow = ["ws", "os"]
rows = [8, 16, 32]
"""
MODEL = """
metrics = ["accuracy", "cost"]
[axes]
model = ["digits-mlp"]
weights = ["mxfp4", "int8_g32", "nvfp4", "fp8_e4m3"]
activations = ["fp16"]
accelerator = ["mx-systolic-32"]
rows = [8, 32]
"""
#: columns whose values depend on when and where a point ran, not on what it computed
VOLATILE = ["task_wall_s", "task_points", "finished_at", "hwsim_version"]


def study_dir(tmp_path: Path, text: str, name: str = "s") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "study.toml").write_text(text)
    return d


def physical_keys(store: ResultsStore) -> list[str]:
    """Every key in every committed part (duplicates included)."""
    import pyarrow.parquet as pq

    return [k for p in store.parts() for k in pq.read_table(p, columns=["key"]).column("key").to_pylist()]


def stable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=VOLATILE).sort_values("key").reset_index(drop=True)


def test_resume_skips_finished_points(tmp_path):
    d = study_dir(tmp_path, COST)
    study = load_study(d)
    first = sweep(study, executor="serial")
    assert (first.total, first.ok, first.failed, first.skipped) == (12, 12, 0, 0)
    again = sweep(study, executor="serial")
    assert (again.ok, again.skipped, again.tasks) == (0, 12, 0)
    store = ResultsStore.of(d)
    df = store.points()
    assert len(df) == 12 and df["key"].is_unique and (df["status"] == "ok").all()
    assert sorted(physical_keys(store)) == sorted(df["key"])
    assert set(df.columns) >= {"key", "status", "error", "hwsim_version", "task_wall_s", "finished_at", "workload",
                               "weights", "rows", "dataflow", "cycles", "energy_pj", "area_um2"}
    layers = store.layers()
    assert len(layers) == 12 * 6 and set(layers["key"]) == set(df["key"])
    # a grown grid runs only the new points
    (d / "study.toml").write_text(COST.replace("rows = [8, 16, 32]", "rows = [8, 16, 32, 64]"))
    grown = sweep(load_study(d), executor="serial")
    assert (grown.ok, grown.skipped) == (4, 12)


def test_failing_points_are_stored_with_their_error_and_retried(tmp_path):
    data = tmp_path / "w.npy"
    d = study_dir(tmp_path, f"""
metrics = ["qsnr"]
[axes]
weights = ["mxfp4", "int8_g32"]
data = ["gaussian", "{data}"]
""")
    study = load_study(d)
    res = sweep(study, executor="serial")
    assert (res.ok, res.failed) == (2, 2)
    assert any("w.npy" in e for e in res.errors)
    df = ResultsStore.of(d).points()
    failed = df[df["status"] == "failed"]
    assert set(failed["data"]) == {str(data)} and failed["qsnr_db"].isna().all()
    assert failed["error"].str.contains("cannot read").all()
    assert sweep(study, executor="serial").skipped == 4  # failed points are not rerun by default
    np.save(data, np.random.default_rng(0).standard_normal((16, 64)).astype(np.float32))
    retry = sweep(study, executor="serial", retry_failed=True)
    assert (retry.ok, retry.failed, retry.skipped) == (2, 0, 2)
    df = ResultsStore.of(d).points()
    assert len(df) == 4 and (df["status"] == "ok").all() and df["qsnr_db"].notna().all()


@pytest.mark.torch
def test_local_pool_and_serial_store_the_same_rows(tmp_path):
    pytest.importorskip("torch")
    a, b = study_dir(tmp_path, MODEL, "a"), study_dir(tmp_path, MODEL, "b")
    sa = sweep(load_study(a), executor="serial")
    sb = sweep(load_study(b), executor="local", workers=2)
    assert (sa.ok, sb.ok, sb.tasks) == (8, 8, 4)
    pa, pb = ResultsStore.of(a).points(), ResultsStore.of(b).points()
    pd.testing.assert_frame_equal(stable(pa), stable(pb))
    assert (pa["task_points"] == 2).all()  # one model evaluation priced on both design points


def _cli(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "hwsim.cli", *args], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def _wait_for_part(store: ResultsStore, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    t0 = time.monotonic()
    while not store.parts():
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() - t0 < timeout, "no part written in time"
        time.sleep(0.02)


@pytest.mark.parametrize("executor", ["serial", "local", "dask"])
def test_kill_9_mid_sweep_loses_only_points_in_flight(tmp_path, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    formats = ["mxfp4", "nvfp4", "int4_g128", "int8_g32", "fp8_e4m3", "fp6_e2m3", "mxfp6_e3m2", "mxfp8_e5m2",
               "bfp12_b32", "msfp16", "int4", "fp4_e2m1", "olive4", "ant4", "bitmod4", "mxint8"]
    d = study_dir(tmp_path, f'metrics = ["qsnr"]\n[axes]\nweights = {formats}\ndata = ["gaussian", "laplace"]\n')
    store = ResultsStore.of(d)
    proc = _cli("sweep", str(d), "--quiet", "--executor", executor, "--workers", "2")
    _wait_for_part(store, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the machine dies: the sweep and every worker
    proc.wait()
    done = store.points()
    assert 0 < len(done) < 32 and done["key"].is_unique and (done["status"] == "ok").all()
    res = sweep(load_study(d), executor="serial")
    assert res.skipped == len(done) and res.ok == 32 - len(done)
    final = store.points()
    assert len(final) == 32 and sorted(physical_keys(store)) == sorted(final["key"])  # each point exactly once
    before = done.set_index("key")["qsnr_db"]
    assert (final.set_index("key").loc[before.index, "qsnr_db"] == before).all()


@pytest.mark.torch
def test_dask_gives_the_serial_rows_and_survives_a_killed_worker(tmp_path):
    pytest.importorskip("torch")
    distributed = pytest.importorskip("distributed")
    text = MODEL.replace('"fp8_e4m3"]', '"fp8_e4m3", "mxfp8_e4m3", "mxfp6_e2m3", "int4_g128", "bf16"]')
    serial, dask = study_dir(tmp_path, text, "serial"), study_dir(tmp_path, text, "dask")
    sweep(load_study(serial), executor="serial")
    store = ResultsStore.of(dask)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        client = distributed.Client(cluster)
        killed: list[int] = []

        def kill_one_worker() -> None:
            while not store.parts():
                time.sleep(0.02)
            pids = client.run(os.getpid)
            pid = sorted(pids.values())[0]
            os.kill(pid, signal.SIGKILL)  # the nanny restarts it; the scheduler reschedules its task
            killed.append(pid)

        killer = threading.Thread(target=kill_one_worker, daemon=True)
        killer.start()
        res = sweep(load_study(dask), scheduler=cluster.scheduler_address)
        killer.join(timeout=60)
        client.close()
    assert killed, "no worker was killed"
    assert res.executor == "dask" and res.failed == 0
    final = store.points()
    assert len(final) == 16 and sorted(physical_keys(store)) == sorted(final["key"])
    pd.testing.assert_frame_equal(stable(ResultsStore.of(serial).points()), stable(final))


def test_cli_sweep_results_and_errors(tmp_path, capsys):
    d = study_dir(tmp_path, COST)
    assert main(["sweep", str(d), "--quiet", "--executor", "serial"]) == 0
    out = capsys.readouterr().out
    assert "12 done, 0 failed, 0 skipped" in out
    csv = tmp_path / "out.csv"
    assert main(["results", str(d), "--csv", str(csv)]) == 0
    df = pd.read_csv(csv)
    assert len(df) == 12 and df["key"].is_unique
    assert main(["results", str(d), "--compact"]) == 0
    assert len(ResultsStore.of(d).parts()) == 1
    (d / "study.toml").write_text(COST.replace("bert-base", "bert-bse"))
    assert main(["sweep", str(d)]) == 2
    err = capsys.readouterr().err
    assert "axes.workload[0]: unknown workload 'bert-bse'" in err and "Traceback" not in err
    assert main(["sweep", str(tmp_path / "nowhere")]) == 2
    assert main(["sweep", str(d), "--executor", "dask", "--scheduler", "tcp://127.0.0.1:1"]) == 2


def test_design_axis_zipped_with_a_format_prices_its_own_array(tmp_path):
    """rows zipped with weights (a mixed zip) is still a design value: each point is priced on
    its own array, as Accelerator.run prices it."""
    import hwsim
    import hwsim.arch

    d = study_dir(tmp_path, """
metrics = ["cost"]
[axes]
workload = ["bert-base"]
weights = ["mxfp4", "int8_g32"]
activations = ["mxfp8_e4m3"]
accelerator = ["mx-systolic-32"]
rows = [8, 64]
[[zip]]
axes = ["weights", "rows"]
""")
    sweep(load_study(d), executor="serial")
    df = ResultsStore.of(d).points().set_index("weights")
    a = hwsim.format("mxfp8_e4m3")
    for w, rows in (("mxfp4", 8), ("int8_g32", 64)):
        want = hwsim.accelerator("mx-systolic-32", rows=rows).run("bert-base", a, hwsim.format(w))
        assert int(df.loc[w, "rows"]) == rows
        assert int(df.loc[w, "cycles"]) == int(want["total_cycles"].sum())
