"""The results store: atomic digest-named parts, newest row per key, temporary files ignored,
compaction without loss, the uint64 fast path agreeing with the pandas path."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from hwsim.study.spec import keys_to_u64
from hwsim.study.store import ResultsStore, StoreError, part_digest


def rows(keys, status="ok", t="2026-01-01T00:00:00", value=1.0):
    return pd.DataFrame({"key": keys, "status": status, "error": "" if status == "ok" else "boom",
                         "finished_at": t, "metric": value})


def test_same_keys_replace_their_part_instead_of_duplicating(tmp_path):
    store = ResultsStore(tmp_path)
    a = store.write(rows(["00000000000000aa", "00000000000000bb"]))
    b = store.write(rows(["00000000000000bb", "00000000000000aa"], value=2.0))  # same set, other order
    assert a == b and store.parts() == [a]
    assert store.points()["metric"].tolist() == [2.0, 2.0]
    assert a.name == f"part-{part_digest(['00000000000000aa', '00000000000000bb'])}.parquet"


def test_newest_row_of_a_key_wins_and_ok_wins_a_tie(tmp_path):
    store = ResultsStore(tmp_path)
    store.write(rows(["00000000000000aa", "00000000000000bb"], "failed", "2026-01-01T00:00:00"))
    store.write(rows(["00000000000000aa"], "ok", "2026-01-02T00:00:00", 5.0))
    store.write(rows(["00000000000000bb"], "ok", "2026-01-01T00:00:00", 7.0), digest="tie")
    df = store.points()
    assert df["key"].tolist() == ["00000000000000aa", "00000000000000bb"]
    assert df["status"].tolist() == ["ok", "ok"] and df["metric"].tolist() == [5.0, 7.0]
    keys, ok = store.key_status()
    assert keys.tolist() == sorted(keys_to_u64(np.array(["00000000000000aa", "00000000000000bb"])).tolist())
    assert ok.tolist() == [True, True]


def test_key_status_fast_path_without_duplicates(tmp_path):
    store = ResultsStore(tmp_path)
    keys = [f"{i:016x}" for i in (5, 3, 9)]
    store.write(rows(keys[:2]))
    store.write(rows(keys[2:], "failed"))
    k, ok = store.key_status()
    assert k.tolist() == [3, 5, 9] and ok.tolist() == [True, True, False]
    assert store.status() == {keys[0]: "ok", keys[1]: "ok", keys[2]: "failed"}


def test_temporary_files_of_killed_writers_are_ignored_and_cleaned(tmp_path):
    store = ResultsStore(tmp_path)
    store.write(rows(["00000000000000aa"]))
    torn = tmp_path / "points" / ".part-deadbeef.x1.tmp.parquet"
    torn.write_bytes(b"PAR1 half a file")
    assert len(store.points()) == 1
    assert store.clean_temporary() == 0  # young: maybe a concurrent writer's
    old = time.time() - 7200
    os.utime(torn, (old, old))
    assert store.clean_temporary() == 1 and not torn.exists()


def test_a_damaged_part_is_named(tmp_path):
    store = ResultsStore(tmp_path)
    (tmp_path / "points").mkdir(parents=True)
    (tmp_path / "points" / "part-bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(StoreError, match="part-bad.parquet"):
        store.points()


def test_compact_keeps_every_point_once(tmp_path):
    store = ResultsStore(tmp_path)
    for i in range(5):
        store.write(rows([f"{i:016x}", f"{i + 100:016x}"], value=float(i)))
    before = store.points()
    part = store.compact()
    assert store.parts() == [part]
    pd.testing.assert_frame_equal(store.points(), before)


def test_layers_of_points_not_committed_are_left_out(tmp_path):
    store = ResultsStore(tmp_path)
    lay = pd.DataFrame({"key": ["00000000000000aa", "00000000000000bb"], "layer": "l", "kind": "linear",
                        "m": 1, "k": 2, "n": 3, "cycles": [1, 2]})
    store.write(lay, "layers", digest="t1")
    store.write(rows(["00000000000000aa"]), digest="t1")
    assert store.layers()["key"].tolist() == ["00000000000000aa"]


def test_recorded_runs_round_trip(tmp_path):
    store = ResultsStore(tmp_path)
    assert store.load_run("abc") is None
    store.save_run("abc", {"metric": 1.5, "layers": []})
    assert store.load_run("abc") == {"metric": 1.5, "layers": []}
