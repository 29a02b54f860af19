"""The units of work of a sweep, and the function a worker runs on each.

A sweep never runs one task per design point. :func:`plan` groups the pending points:

* ``model`` tasks: every point that needs the same model evaluation (same
  :data:`~hwsim.study.spec.ACCURACY_AXES`: model, formats, accumulator, evaluation size) is one
  task. The model runs once (or not at all: a run recorded by an earlier sweep in the store's
  ``runs/`` is re-priced), then its recorded GEMMs are priced on all of the task's accelerator
  design points in one vectorized call per (accelerator, dataflow, operand pair).
* ``cost`` tasks (no accuracy): blocks of design points, up to ``options.batch_points`` each,
  priced vectorized.
* ``qsnr`` tasks: the formats of one data source and seed, up to 8 per task (one load of the
  data).

:func:`run_task` executes one task and commits its rows itself (one part per table, named by the
task's digest, :class:`~hwsim.study.store.ResultsStore`), so workers never send results through
the scheduler, and a task that runs twice replaces its own part. A point that fails is stored
with its error; the task goes on with the others.
"""

from __future__ import annotations

import datetime as _dt
import functools
import subprocess
import time
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hwsim.study.spec import Block, Study, accuracy_key, hex_keys
from hwsim.study.store import STATUS_FAILED, STATUS_OK, ResultsStore, part_digest

__all__ = ["Task", "TaskResult", "plan", "run_task", "hwsim_version", "DEFAULT_BATCH_POINTS"]

#: design points per cost task: large enough that per-task overhead vanishes, small enough that a
#: killed task loses seconds of work
DEFAULT_BATCH_POINTS = 250_000
QSNR_FORMATS_PER_TASK = 8


@functools.cache
def hwsim_version() -> str:
    """The package version, plus the git commit when hwsim runs from a checkout (``0.1.0+b632a2e``,
    ``-dirty`` when it has uncommitted changes)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("hwsim")
    except PackageNotFoundError:  # pragma: no cover - always installed by `make`
        base = "0+unknown"
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return base
    try:
        rev = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty", "--abbrev=7"],
                             capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return base
    return f"{base}+{rev}" if rev else base


@dataclass(frozen=True)
class Task:
    """One unit of work: its kind, its blocks (each with the pending points' design arrays and
    keys), the study's metrics and options, and where to commit the rows."""

    kind: str  #: "model", "cost" or "qsnr"
    blocks: tuple[tuple[Block, Any], ...]  #: (block, keys [P]) pairs
    metrics: tuple[str, ...]
    options: Mapping[str, Any]
    store: str  #: absolute path of the results store
    digest: str = ""

    @property
    def points(self) -> int:
        return sum(len(keys) for _, keys in self.blocks)


@dataclass(frozen=True)
class TaskResult:
    digest: str
    ok: int
    failed: int
    wall_s: float
    errors: tuple[str, ...] = field(default_factory=tuple)


def _digest(blocks: list[tuple[Block, Any]]) -> str:
    """The task's part name: :func:`~hwsim.study.store.part_digest` of all its keys."""
    return part_digest(np.concatenate([np.asarray(k, dtype=str) for _, k in blocks]))


def plan(study: Study, store: ResultsStore | None = None, *, retry_failed: bool = False
         ) -> tuple[list[Task], int, int]:
    """The tasks of the points still to do. Returns ``(tasks, total points, skipped points)``:
    points with a stored ``ok`` row are skipped, and ``failed`` ones too unless ``retry_failed``."""
    store = store or ResultsStore.of(study.folder)
    stored, ok = store.key_status()
    done = pd.Index(stored if not retry_failed else stored[ok])  # unique keys: one hash table
    total = skipped = 0
    pending: list[tuple[Block, Any]] = []
    for block in study.blocks():
        keys64 = block.keys64()
        total += len(keys64)
        keep = done.get_indexer(keys64) < 0 if len(done) else np.ones(len(keys64), dtype=bool)
        skipped += int(len(keys64) - keep.sum())
        if keep.any():
            sub = block if keep.all() else Block(block.config, {k: v[keep] for k, v in block.design.items()})
            pending.append((sub, hex_keys(keys64[keep])))
    root = str(store.root.resolve())
    opts = dict(study.options)
    tasks = [Task(kind, tuple(group), study.metrics, opts, root, _digest(group))
             for kind, group in _groups(study, pending)]
    return tasks, total, skipped


def _groups(study: Study, pending: list[tuple[Block, Any]]) -> Iterator[tuple[str, list[tuple[Block, Any]]]]:
    if "accuracy" in study.metrics:
        by_eval: dict[str, list[tuple[Block, Any]]] = {}
        for item in pending:
            by_eval.setdefault(accuracy_key(item[0].config), []).append(item)
        for group in by_eval.values():
            yield "model", group
        return
    if "qsnr" in study.metrics:
        by_data: dict[tuple[Any, Any], list[tuple[Block, Any]]] = {}
        for item in pending:
            by_data.setdefault((item[0].config.get("data"), item[0].config.get("seed")), []).append(item)
        for group in by_data.values():
            for i in range(0, len(group), QSNR_FORMATS_PER_TASK):
                yield "qsnr", group[i:i + QSNR_FORMATS_PER_TASK]
        return
    limit = int(study.options.get("batch_points", DEFAULT_BATCH_POINTS))
    batch: list[tuple[Block, Any]] = []
    size = 0
    for block, keys in pending:
        for start in range(0, len(keys), limit):
            part = slice(start, start + limit)
            piece = (Block(block.config, {k: v[part] for k, v in block.design.items()}), keys[part])
            if size + len(piece[1]) > limit and batch:
                yield "cost", batch
                batch, size = [], 0
            batch.append(piece)
            size += len(piece[1])
    if batch:
        yield "cost", batch


# ---- execution ---------------------------------------------------------------------------------
def run_task(task: Task) -> TaskResult:
    """Execute ``task`` and commit its rows (``layers`` first, then ``points``: a point is finished
    exactly when its ``points`` part exists). Never raises for a failing point: it is stored with
    its error."""
    t0 = time.perf_counter()
    if task.kind == "model":
        _set_threads(int(task.options.get("threads", 1)))
    runner = {"model": _model_rows, "cost": _cost_rows, "qsnr": _qsnr_rows}[task.kind]
    frames, layers = runner(task)
    wall = time.perf_counter() - t0
    points = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    store = ResultsStore(Path(task.store))
    if layers:
        store.write(pd.concat(layers, ignore_index=True), "layers", digest=task.digest)
    points["hwsim_version"] = hwsim_version()
    points["task_wall_s"] = wall
    points["task_points"] = len(points)
    points["finished_at"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")
    store.write(points, "points", digest=task.digest)
    failed = (points["status"] == STATUS_FAILED).to_numpy()
    errors = tuple(dict.fromkeys(points.loc[failed, "error"].astype(str)))[:5]
    return TaskResult(task.digest, int((~failed).sum()), int(failed.sum()), wall, errors)


def _set_threads(threads: int) -> None:
    """Torch threads of a model evaluation: one by default (``options.threads``), because a pool
    of one-thread workers uses the cores better than threads inside each evaluation (the bridge's
    results do not depend on the thread count: ``deterministic=True``)."""
    import torch

    torch.set_num_threads(threads)


def _base_frame(block: Block, keys: Any) -> pd.DataFrame:
    cols: dict[str, Any] = {"key": np.asarray(keys, dtype=str)}
    n = len(keys)
    for k, v in block.config.items():
        cols[k] = np.full(n, v, dtype=object if isinstance(v, str) else None)
    for k, v in block.design.items():
        cols[k] = np.asarray(v)
    df = pd.DataFrame(cols)
    df["status"] = STATUS_OK
    df["error"] = ""
    return df


def _error_text(exc: BaseException) -> str:
    last = traceback.format_exception_only(type(exc), exc)[-1].strip()
    return last[:2000]


def _failed(df: pd.DataFrame, exc: BaseException) -> pd.DataFrame:
    df = df.copy()
    df["status"] = STATUS_FAILED
    df["error"] = _error_text(exc)
    return df


def _bits(fmt: Any) -> float:
    from hwsim.arch import operand_bits

    return float(operand_bits(fmt).bits_per_element)


def _priced(df: pd.DataFrame, table: Any, block: Block, metrics: tuple[str, ...]) -> tuple[pd.DataFrame, Any]:
    """``df`` with the cost columns of its design points (and the per-layer rows when asked)."""
    from hwsim.study.pricing import price_design_points

    cfg = block.config
    costs, per_layer = price_design_points(table, cfg["accelerator"], cfg.get("dataflow"), block.design,
                                           per_layer="layers" in metrics)
    for c in costs.columns:
        df[c] = costs[c].to_numpy()
    df["w_bits_per_element"] = _bits(table.array_operands[1])
    df["a_bits_per_element"] = _bits(table.array_operands[0])
    layers = None
    if per_layer is not None:
        n_points, n_gemm = per_layer["cycles"].shape
        layers = pd.DataFrame({
            "key": np.repeat(df["key"].to_numpy(), n_gemm),
            "layer": np.tile(table.layer, n_points), "kind": np.tile(table.kind, n_points),
            "m": np.tile(table.m, n_points), "k": np.tile(table.k, n_points), "n": np.tile(table.n, n_points),
            "count": np.tile(table.count, n_points),
            **{c: v.reshape(-1) for c, v in per_layer.items()}})
    return df, layers


def _cost_blocks(task: Task, table_of: Any, extra: Mapping[str, Any] | None = None
                 ) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    frames, layers = [], []
    for block, keys in task.blocks:
        df = _base_frame(block, keys)
        for k, v in (extra or {}).items():
            df[k] = v
        try:
            df, lay = _priced(df, table_of(block), block, task.metrics)
            if lay is not None:
                layers.append(lay)
        except Exception as exc:  # noqa: BLE001 - a failing point is stored with its error
            df = _failed(df, exc)
        frames.append(df)
    return frames, layers


def _workload_table(cfg: Mapping[str, Any]) -> Any:
    from hwsim.arch import workload
    from hwsim.study.pricing import workload_table

    params = {k: int(cfg[k]) for k in ("seq", "batch") if k in cfg}
    if "model" in cfg:
        from hwsim.study.model_workload import model_workload

        wl = model_workload(cfg["model"], **params)
    else:
        wl = workload(cfg["workload"], **params)
    from hwsim.catalog import get_format

    acts = cfg.get("activations", cfg["weights"])
    kv = cfg.get("kv_cache")
    return workload_table(wl, get_format(acts), get_format(cfg["weights"]),
                          None if kv is None else get_format(acts if kv == "activations" else kv))


def _cost_rows(task: Task) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    return _cost_blocks(task, lambda block: _workload_table(block.config))


def _qsnr_rows(task: Task) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    from hwsim.catalog import get_format
    from hwsim.study.compare import compare_formats
    from hwsim.study.sources import data_tensors

    frames = []
    tensors: list[tuple[str, np.ndarray]] | None = None
    for block, keys in task.blocks:
        df = _base_frame(block, keys)
        cfg = block.config
        try:
            if tensors is None:
                tensors = data_tensors(cfg["data"], seed=int(cfg.get("seed", 0)))
            row = compare_formats([get_format(cfg["weights"])], tensors).iloc[0]
            df["qsnr_db"] = float(row["qsnr_db"])
            df["nmse"] = float(row["nmse"])
            df["w_bits_per_element"] = float(row["bits_per_element"])
        except Exception as exc:  # noqa: BLE001
            df = _failed(df, exc)
        frames.append(df)
    return frames, []


def _model_rows(task: Task) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    cfg = task.blocks[0][0].config
    store = ResultsStore(Path(task.store))
    key = accuracy_key(cfg)
    try:
        run = store.load_run(key)
        if run is None:
            run = _evaluate(cfg, task)
            store.save_run(key, run)
        accuracy = _accuracy_columns(cfg["model"], run)
    except Exception as exc:  # noqa: BLE001 - every point of the evaluation fails with it
        return [_failed(_base_frame(b, k), exc) for b, k in task.blocks], []
    if "cost" not in task.metrics:
        frames = []
        for block, keys in task.blocks:
            df = _base_frame(block, keys)
            for k, v in accuracy.items():
                df[k] = v
            frames.append(df)
        return frames, []
    from hwsim.study.pricing import records_table
    from hwsim.study.reprice import run_records

    table = records_table(*run_records(run))
    return _cost_blocks(task, lambda block: table, accuracy)


def _evaluate(cfg: Mapping[str, Any], task: Task) -> dict[str, Any]:
    """One model evaluation on the simulated datapath (:func:`hwsim.bridge.run`) as a recorded run."""
    from hwsim.bridge.evaluate import run

    reference = task.options.get("reference_accelerator") or task.blocks[0][0].config.get("accelerator",
                                                                                        "mx-systolic-32")
    accumulate = cfg.get("accumulate", "exact")
    report = run(cfg["model"], cfg["weights"], cfg.get("activations", cfg["weights"]), reference,
                 size=cfg.get("eval_size", "ci"), kv_cache=cfg.get("kv_cache", "activations"),
                 accumulate=None if accumulate == "exact" else accumulate)
    return report.as_dict()


def _accuracy_columns(model: str, run: Mapping[str, Any]) -> dict[str, Any]:
    from hwsim.bridge import models

    spec = models.get(model)
    metric = run.get("metric")
    base = run.get("baseline_metric")
    delta = run.get("metric_delta")
    tokens = (run.get("metrics") or {}).get("tokens")
    return {"metric_name": run.get("metric_name") or spec.metric_name,
            "metric": np.nan if metric is None else float(metric),
            "baseline_metric": np.nan if base is None else float(base),
            "higher_is_better": bool(spec.higher_is_better),
            "delta_pct": np.nan if delta is None else 100.0 * float(delta),
            "tokens": np.nan if not tokens else float(tokens)}

