"""Where ``generate`` runs its cases: worker processes (CPU) or threads beside on-device
rendering (GPU), with a bound on the cases in flight."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from typing import Any

from ...engine.compose import Recipe
from ...engine.threads import one_torch_thread
from .layouts import ExportCase
from .writer import Job, init_worker, render, run_case, write

Submit = Callable[[ExportCase], Future]


@contextlib.contextmanager
def process_pool(recipe: Recipe, job: Job, workers: int) -> Iterator[Submit]:
    """Render, encode and write in ``workers`` processes (one torch thread each).

    A worker that dies (killed, out of memory) fails the job with BrokenProcessPool instead
    of hanging it; on an error or Ctrl-C the workers are stopped at once.
    """
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(
        workers,
        mp_context=mp.get_context(method),
        initializer=init_worker,
        initargs=(job, os.getpid()),
    )
    try:
        pool.submit(int).result()  # start the workers now
        yield lambda case: pool.submit(run_case, case)
    except BaseException:
        _terminate(pool)
        raise
    pool.shutdown()


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now (writes are atomic: a killed worker leaves no partial file)."""
    if hasattr(pool, "terminate_workers"):  # Python >= 3.14
        pool.terminate_workers()
    else:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.terminate()
    pool.shutdown(cancel_futures=True)  # returns once no worker is left


@contextlib.contextmanager
def thread_pool(recipe: Recipe, job: Job, workers: int) -> Iterator[Submit]:
    """Render here on the job's device; ``workers`` threads compress and write."""
    with one_torch_thread(job.device), ThreadPoolExecutor(max_workers=workers) as pool:
        yield lambda case: pool.submit(write, job, render(recipe, job, case))


def bounded(submit: Submit, todo: list[ExportCase], limit: int) -> Iterator[dict[str, Any]]:
    """Submit cases in order, at most ``limit`` in flight; yield results as they finish."""
    pending: set[Future] = set()
    for case in todo:
        pending.add(submit(case))
        while len(pending) >= limit:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from _results(done)
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        yield from _results(done)


def _results(done: set[Future]) -> Iterator[dict[str, Any]]:
    """Results of finished futures, successes first (journaled), then the first error."""
    failed = [f for f in done if f.exception() is not None]
    yield from (f.result() for f in done if f.exception() is None)
    if failed:
        failed[0].result()
