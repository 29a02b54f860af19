"""study.toml: validation (every problem, with its key and the closest name), grid expansion
(zips, exclusions, defaults) against an independent itertools expansion, and point keys."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from hwsim.study.spec import StudyError, block_keys, keys_to_u64, load_study, point_key

GOOD = """
description = "test"
metrics = ["cost"]
[axes]
workload = ["bert-base", "resnet50"]
weights = ["mxfp4", "int8_g32"]
activations = ["mxfp8_e4m3"]
accelerator = ["mx-systolic-32"]
dataflow = ["ws", "os"]
rows = [8, 16, 32]
cols = [8, 16, 32]
ifmap_sram_kib = [64, 256]
[[zip]]
axes = ["rows", "cols"]
[[exclude]]
weights = "int8_g32"
dataflow = "os"
[[exclude]]
workload = "resnet50"
rows = 32
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "study.toml").write_text(text)
    return tmp_path


def test_grid_equals_an_independent_expansion(tmp_path):
    study = load_study(write(tmp_path, GOOD))
    got = sorted((p["workload"], p["weights"], p["dataflow"], p["rows"], p["cols"], p["ifmap_sram_kib"])
                 for p in study.points())
    want = sorted((w, f, d, r, c, s)
                  for w, f, d, (r, c), s in itertools.product(["bert-base", "resnet50"], ["mxfp4", "int8_g32"],
                                                               ["ws", "os"], [(8, 8), (16, 16), (32, 32)], [64, 256])
                  if not (f == "int8_g32" and d == "os") and not (w == "resnet50" and r == 32))
    assert got == want
    assert study.size() == len(want) == 30  # 48 - 12 (int8_g32 on os) - 6 (resnet50 at 32x32)
    assert all(p["activations"] == "mxfp8_e4m3" for p in study.points())


def test_same_activations_resolve_to_the_weight_format(tmp_path):
    text = """
metrics = ["accuracy"]
[axes]
model = ["digits-mlp"]
weights = ["mxfp4", "nvfp4"]
"""
    pts = list(load_study(write(tmp_path, text)).points())
    assert [(p["weights"], p["activations"]) for p in pts] == [("mxfp4", "mxfp4"), ("nvfp4", "nvfp4")]
    assert all(p["kv_cache"] == "activations" and p["eval_size"] == "ci" and p["accumulate"] == "exact" for p in pts)


def test_every_problem_is_reported_with_its_key_and_closest_name(tmp_path):
    bad = """
metrics = ["cost", "acuracy"]
colour = 1
[axes]
workload = ["bert-bse"]
weights = ["mxfp4", "mxfp44"]
accelerator = ["mx-systolic-23"]
dataflow = ["ws", "xs"]
rows = [8, 16]
cols = [8, 16, 32]
seed = ["a"]
[[zip]]
axes = ["rows", "cols"]
[[exclude]]
wieghts = "mxfp4"
"""
    with pytest.raises(StudyError) as info:
        load_study(write(tmp_path, bad))
    msgs = info.value.messages
    text = "\n".join(msgs)
    assert "metrics[1]: unknown metric 'acuracy' (did you mean 'accuracy'?)" in text
    assert "study.toml:colour: unknown key" in text
    assert "axes.workload[0]: unknown workload 'bert-bse' (did you mean 'bert-base'?)" in text
    assert "axes.weights[1]: unknown format 'mxfp44' (did you mean 'mxfp4'?)" in text
    assert "axes.accelerator[0]: unknown accelerator 'mx-systolic-23'" in text
    assert "axes.dataflow[1]: unknown dataflow 'xs'" in text
    assert "zip[0]: zipped axes need equal lengths (rows: 2, cols: 3)" in text
    assert "axes.seed[0]: expected a int, got str 'a'" in text
    assert "exclude[0].wieghts: not an axis (did you mean 'weights'?)" in text
    assert len(msgs) == 9, msgs


def test_override_values_are_checked_by_the_catalog_rules(tmp_path):
    text = GOOD.replace("ifmap_sram_kib = [64, 256]", "ifmap_sram_kib = [64, -1]\nrowz = [1]")
    with pytest.raises(StudyError) as info:
        load_study(write(tmp_path, text))
    text = "\n".join(info.value.messages)
    assert "axes.ifmap_sram_kib:" in text and "-1" in text
    assert "axes.rowz:" in text and "'rows'" in text


def test_metric_requirements(tmp_path):
    with pytest.raises(StudyError) as info:
        load_study(write(tmp_path, 'metrics = ["qsnr", "accuracy", "layers"]\n[axes]\nseed = [0, 1]\n'))
    text = "\n".join(info.value.messages)
    for need in ("axes.weights: missing", "axes.data: missing", "axes.model: missing",
                 "`layers` breaks down `cost`", "seed only applies to sampled `data`"):
        assert need in text


def test_an_empty_grid_is_an_error(tmp_path):
    text = GOOD + '[[exclude]]\nweights = "mxfp4"\n[[exclude]]\ndataflow = "ws"\n'
    with pytest.raises(StudyError, match="grid is empty"):
        load_study(write(tmp_path, text))


def test_point_keys_depend_on_every_field_and_only_on_values():
    base = {"workload": "bert-base", "weights": "mxfp4", "rows": 32, "cols": 16}
    k = point_key(base, ["rows", "cols"])
    assert len(k) == 16 and int(k, 16) >= 0
    assert point_key({**base, "rows": 32.0}, ["rows", "cols"]) == k  # one design point
    assert point_key(dict(reversed(list(base.items()))), ["rows", "cols"]) == k  # order-free
    others = [point_key({**base, f: v}, ["rows", "cols"])
              for f, v in (("workload", "resnet50"), ("weights", "nvfp4"), ("rows", 16), ("cols", 32))]
    assert len({k, *others}) == 5
    # swapping rows and cols is another point
    assert point_key({**base, "rows": 16, "cols": 32}, ["rows", "cols"]) != k
    # the same value on another axis is another point (axis names are hashed with the values)
    assert (point_key({"w": "mxfp4", "ifmap_sram_kib": 64}, ["ifmap_sram_kib"])
            != point_key({"w": "mxfp4", "filter_sram_kib": 64}, ["filter_sram_kib"]))


def test_block_keys_match_point_keys_and_round_trip_through_hex():
    rows = np.array([8, 16, 32, 64])
    cols = np.array([8, 8, 16, 16])
    keys = block_keys({"w": "mxfp4"}, {"rows": rows, "cols": cols})
    assert list(keys) == [point_key({"w": "mxfp4", "rows": int(r), "cols": int(c)}, ["rows", "cols"])
                          for r, c in zip(rows, cols, strict=True)]
    assert [int(k, 16) for k in keys] == keys_to_u64(keys).tolist()
    import pyarrow as pa

    assert keys_to_u64(pa.array(list(keys))).tolist() == keys_to_u64(keys).tolist()


def test_star_means_every_catalog_format(tmp_path):
    from hwsim.catalog import format_names

    text = 'metrics = ["qsnr"]\n[axes]\nweights = ["*"]\ndata = ["gaussian"]\n'
    study = load_study(write(tmp_path, text))
    assert [p["weights"] for p in study.points()] == list(format_names())


def test_model_names_are_the_bridge_models():
    from hwsim.bridge import models
    from hwsim.study.names import MODEL_NAMES

    assert MODEL_NAMES == tuple(models.names())
