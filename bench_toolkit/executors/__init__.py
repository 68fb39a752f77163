"""Where the jobs of a search or a study run (one job = one seed of one configuration).

- :class:`~bench_toolkit.executors.local.LocalPool` (``--workers N``): N worker processes on
  this machine, torch's threads divided among them; every epoch each worker reports its seed's
  progress, so the run directories and the progress bars stay current.
- :class:`~bench_toolkit.executors.slurm.SlurmExecutor` (``--executor slurm``): one SLURM job
  per seed through ``submitit``; results are collected as jobs finish.

An executor's :meth:`run` takes the jobs and a callback for their progress (called in this
process, which alone writes run directories) and returns one message per failed job; a failed job
never stops the others. Without an executor the seeds run one after another in this process.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bench_toolkit.errors import BenchToolkitError

if TYPE_CHECKING:  # this module stays light: the CLI builds its parser from it without torch
    from bench_toolkit.search.differentiable.jobs import SeedJob, SeedProgress

ProgressCallback = Callable[["SeedProgress"], None]
LOG_LINES = 15  # lines of a failed job's log quoted in its report


class Executor(Protocol):
    def run(self, jobs: Sequence[SeedJob], on_progress: ProgressCallback) -> list[str]:
        """Run ``jobs``; call ``on_progress`` in this process; return one report per failed job."""


def failure_report(job: SeedJob, log: str) -> str:
    """A failed job named by seed and configuration, with the last lines of its log."""
    tail = "\n".join("    " + line for line in log.rstrip().splitlines()[-LOG_LINES:])
    return f"- {job.describe()} failed; last lines of its log:\n{tail}"


def default_threads(workers: int) -> int:
    """torch threads per worker: this machine's cores divided among the workers (at least one)."""
    return max(1, (os.cpu_count() or 1) // workers)


def run_in_processes(calls: Sequence[tuple[str, Callable[..., Any], tuple]], workers: int,
                     threads: int | None = None) -> dict[str, Any]:
    """Each ``(name, function, arguments)`` call, as ``function(*arguments, threads=...)``; the
    results by name. With ``workers`` above 1, up to that many at once, each in a spawned process
    that ends when this one dies, torch's threads divided among them unless ``threads`` is given; a
    failed call does not stop the others, and when all are done the failures stop the caller with
    one line each. With one worker they run here, one after another (an error stops at once).
    For runs that are not seed jobs of the search engine (those go to an :class:`Executor`)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    workers = min(workers, len(calls))
    if workers <= 1:
        return {name: function(*arguments, threads=threads) for name, function, arguments in calls}
    threads = threads or default_threads(workers)
    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), exit_when_orphaned) as pool:
        futures = {name: pool.submit(function, *arguments, threads=threads) for name, function, arguments in calls}
    failed = [f"- {name}: {future.exception()}" for name, future in futures.items() if future.exception() is not None]
    if failed:
        raise BenchToolkitError(f"{len(failed)} of {len(calls)} run(s) failed; the others finished; rerun to continue "
                                "the failed ones:\n" + "\n".join(failed))
    return {name: future.result() for name, future in futures.items()}


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose where seeds run, shared by ``bench-toolkit search`` and the studies."""
    group = parser.add_argument_group("where seeds run")
    group.add_argument("--executor", default="local", choices=["local", "slurm"],
                       help="local: this machine (--workers processes); slurm: one cluster job per seed via submitit")
    group.add_argument("--workers", type=int, default=1, help="local: seeds run at once in separate processes (default 1)")
    group.add_argument("--threads", type=int, help="torch threads per seed (default: cores / workers; CPU results "
                                                   "depend on it in the last bits)")
    group.add_argument("--slurm-partition", help="slurm: partition")
    group.add_argument("--slurm-account", help="slurm: account to charge")
    group.add_argument("--slurm-gpus", type=int, default=1, help="slurm: GPUs per job (default 1)")
    group.add_argument("--slurm-cpus", type=int, default=8, help="slurm: CPU cores per job (default 8)")
    group.add_argument("--slurm-time", type=int, default=720, help="slurm: time limit per job in minutes (default 720); "
                                                                   "a job that hits it is requeued and continues")
    group.add_argument("--slurm-folder", help="slurm: folder for job scripts and logs (default: <runs>/slurm_logs)")


def executor_from_args(args: argparse.Namespace, default_folder: str) -> Executor | None:
    """The executor the parsed options ask for; None for one local process (run in this one)."""
    from bench_toolkit.executors.local import LocalPool

    if args.executor == "slurm":
        from bench_toolkit.executors.slurm import SlurmExecutor

        return SlurmExecutor(args.slurm_folder or default_folder, partition=args.slurm_partition,
                             account=args.slurm_account, gpus_per_job=args.slurm_gpus, cpus_per_job=args.slurm_cpus,
                             time_minutes=args.slurm_time)
    if args.workers < 1:
        raise BenchToolkitError(f"--workers must be at least 1, got {args.workers}")
    if args.threads is not None and args.threads < 1:
        raise BenchToolkitError(f"--threads must be at least 1, got {args.threads}")
    return LocalPool(args.workers, args.threads) if args.workers > 1 else None


def exit_when_orphaned(poll_seconds: float = 1.0) -> None:
    """A worker pool's initializer: end this worker process as soon as the process that started it
    is gone. A study killed with ``kill`` or SIGKILL (no chance to stop its pool) would otherwise
    leave its workers training on, writing checkpoints into run directories whose lock died with
    the parent, so that a restarted study would run the same seeds twice into the same files.
    Checkpoints are written atomically, so ending a worker at any moment loses at most its
    current epoch."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-when-orphaned", daemon=True).start()
