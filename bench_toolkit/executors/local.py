"""Seeds in worker processes on this machine (``--workers N``); see :mod:`bench_toolkit.executors`."""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import traceback
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import replace

from tqdm import tqdm

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.executors import ProgressCallback, default_threads, exit_when_orphaned, failure_report
from bench_toolkit.search.differentiable.jobs import SeedJob, SeedProgress, run_seed

_progress_queue: multiprocessing.Queue | None = None


def _init_worker(progress_queue: multiprocessing.Queue) -> None:
    global _progress_queue
    _progress_queue = progress_queue
    exit_when_orphaned()


def _run_in_worker(job: SeedJob) -> SeedProgress:
    try:
        return run_seed(job, _progress_queue.put, show_batches=False)
    except BaseException as error:  # the traceback as text: the parent reports it with the job
        raise RuntimeError(traceback.format_exc()) from error


class LocalPool:
    """``workers`` processes (spawned, so each starts with a fresh torch), ``threads`` torch
    threads each (default: the cores divided among the workers); each ends when this process
    dies (:func:`~bench_toolkit.executors.exit_when_orphaned`)."""

    def __init__(self, workers: int, threads: int | None = None):
        if workers < 1:
            raise BenchToolkitError(f"--workers must be at least 1, got {workers}")
        self.workers, self.threads = workers, threads or default_threads(workers)

    def run(self, jobs: Sequence[SeedJob], on_progress: ProgressCallback) -> list[str]:
        jobs = [replace(job, threads=job.threads or self.threads) for job in jobs]
        context = multiprocessing.get_context("spawn")
        progress_queue = context.Queue()
        bars = {job.checkpoint: tqdm(total=job.config.epochs, desc=job.describe(), unit="epoch", position=i, leave=True,
                                     disable=None) for i, job in enumerate(jobs)}
        failures: list[str] = []

        def report(progress: SeedProgress) -> None:
            bar = bars[progress.checkpoint]
            bar.update(progress.epoch - bar.n)
            on_progress(progress)

        def drain() -> None:
            while True:
                try:
                    report(progress_queue.get(timeout=0.05))
                except queue_module.Empty:
                    return

        with ProcessPoolExecutor(min(self.workers, len(jobs)) or 1, context, _init_worker, (progress_queue,)) as pool:
            pending: dict[Future, SeedJob] = {pool.submit(_run_in_worker, job): job for job in jobs}
            while pending:
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                drain()
                for future in done:
                    job = pending.pop(future)
                    error = future.exception()
                    if error is None:
                        report(future.result())
                    else:
                        failures.append(failure_report(job, str(error)))
        drain()
        for bar in bars.values():
            bar.close()
        return failures
