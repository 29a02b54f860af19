"""``hwsim sweep``: plan the pending points of a study and run its tasks on an executor.

Executors:

* ``serial``: the tasks one after the other in this process (tests, profiling; what ``local``
  does by itself when there is one task or one worker).
* ``local`` (default): a process pool of ``workers`` processes (default: every core), started
  with ``spawn`` (a fork of a process that has started numba's or torch's thread pools can
  deadlock).
* ``dask``: a Dask distributed cluster: ``scheduler="tcp://host:8786"`` connects to a running
  one, without it a ``LocalCluster`` of ``workers`` one-thread processes is started for the sweep.
  Each task is a Dask task keyed by its digest, with retries, so the task of a worker that dies
  runs again on another; its part files have the same names and replace any it wrote before.

Every worker commits its own rows (:func:`hwsim.study.tasks.run_task`); the scheduler only sees
small :class:`~hwsim.study.tasks.TaskResult` objects.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field

from hwsim.errors import HwsimError
from hwsim.study.spec import Study
from hwsim.study.store import ResultsStore
from hwsim.study.tasks import Task, TaskResult, plan, run_task

__all__ = ["sweep", "SweepSummary", "EXECUTORS", "Progress"]

EXECUTORS = ("local", "serial", "dask")

#: progress(done points, failed points, skipped points, total points)
Progress = Callable[[int, int, int, int], None]


@dataclass
class SweepSummary:
    """What a sweep did: point counts, tasks and wall time."""

    total: int
    skipped: int
    ok: int = 0
    failed: int = 0
    tasks: int = 0
    wall_s: float = 0.0
    executor: str = "local"
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.ok + self.failed


def sweep(study: Study, *, executor: str = "local", workers: int | None = None, scheduler: str | None = None,
          retry_failed: bool = False, progress: Progress | None = None) -> SweepSummary:
    """Run every pending point of ``study``, committing each task's rows as it finishes.

    Raises:
        HwsimError: an unknown executor or a bad worker count (before anything runs).
    """
    if executor not in EXECUTORS:
        from hwsim.errors import unknown_name

        raise HwsimError(unknown_name("executor", executor, EXECUTORS))
    if scheduler is not None and executor != "dask":
        executor = "dask"
    if workers is not None and workers < 1:
        raise HwsimError(f"workers must be >= 1, got {workers}")
    t0 = time.perf_counter()
    store = ResultsStore.of(study.folder)
    store.clean_temporary()
    tasks, total, skipped = plan(study, store, retry_failed=retry_failed)
    summary = SweepSummary(total=total, skipped=skipped, tasks=len(tasks), executor=executor)

    def record(result: TaskResult) -> None:
        summary.ok += result.ok
        summary.failed += result.failed
        summary.errors.extend(e for e in result.errors if e not in summary.errors)
        if progress is not None:
            progress(summary.ok, summary.failed, skipped, total)

    if progress is not None:
        progress(0, 0, skipped, total)
    n_workers = workers or os.cpu_count() or 1
    if executor == "dask":
        _run_dask(tasks, record, n_workers, scheduler)
    elif executor == "serial" or len(tasks) <= 1 or n_workers == 1:
        for task in tasks:
            record(run_task(task))
    else:
        _run_pool(tasks, record, n_workers)
    summary.wall_s = time.perf_counter() - t0
    return summary


def _largest_first(tasks: Iterable[Task]) -> list[Task]:
    """Model evaluations first, then the biggest tasks: the pool's tail stays short."""
    order = {"model": 0, "qsnr": 1, "cost": 2}
    return sorted(tasks, key=lambda t: (order[t.kind], -t.points))


def _run_pool(tasks: list[Task], record: Callable[[TaskResult], None], workers: int) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
        pending = {pool.submit(run_task, t) for t in _largest_first(tasks)}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                record(fut.result())


def _run_dask(tasks: list[Task], record: Callable[[TaskResult], None], workers: int,
              scheduler: str | None) -> None:
    """The tasks on the Dask scheduler at ``scheduler``, or on a LocalCluster of ``workers``."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise HwsimError("--executor dask needs Dask distributed: pip install 'dask[distributed]'") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)  # pyright: ignore[reportArgumentType]  (None: no dashboard)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise HwsimError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
    try:
        ordered = _largest_first(tasks)
        futures = client.map(run_task, ordered, key=[f"hwsim-task-{t.digest}" for t in ordered], retries=3,
                             pure=False)
        for fut in as_completed(futures):
            record(fut.result())  # pyright: ignore[reportAttributeAccessIssue]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
