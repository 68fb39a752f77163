"""Seeds as SLURM jobs through ``submitit``.

Each seed is one job: a node loads the data and benchmark from the paths in its job (the run
directory, data and benchmark files must be on a file system the nodes share), runs the seed
and returns its progress; this process collects the results as jobs finish and writes the run
directories. A job checkpoints every epoch: when SLURM pre-empts it or its time limit is
reached, submitit requeues it (up to ``max_requeues`` times) and it continues from its last
epoch; a job resubmitted by running the same command again does the same.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import submitit
from tqdm import tqdm

from bench_toolkit.executors import ProgressCallback, failure_report
from bench_toolkit.search.differentiable.jobs import SeedJob, SeedProgress, run_seed


class SeedTask(submitit.helpers.Checkpointable):
    """The callable a SLURM job runs. On pre-emption or timeout submitit calls ``checkpoint``,
    which resubmits the same call: the seed's own checkpoint makes it continue."""

    def __call__(self, job: SeedJob) -> SeedProgress:
        return run_seed(job, show_batches=False)


class SlurmExecutor:
    """One SLURM job per seed. ``backend`` replaces submitit's ``AutoExecutor`` (tests pass
    ``submitit.LocalExecutor``, which runs each job as a real subprocess with real pickling)."""

    def __init__(self, folder: str | Path, partition: str | None = None, account: str | None = None,
                 gpus_per_job: int = 1, cpus_per_job: int = 8, time_minutes: int = 720, max_requeues: int = 3,
                 backend: Any = None, poll_seconds: float = 10.0):
        self.folder = Path(folder)
        if backend is None:
            backend = submitit.AutoExecutor(folder=self.folder / "%j", slurm_max_num_timeout=max_requeues)
            extra = {"slurm_partition": partition, "slurm_account": account}
            backend.update_parameters(timeout_min=time_minutes, gpus_per_node=gpus_per_job, cpus_per_task=cpus_per_job,
                                      tasks_per_node=1, nodes=1,
                                      **{k: v for k, v in extra.items() if v is not None})
        else:
            backend.update_parameters(timeout_min=time_minutes)
        self.backend, self.poll_seconds = backend, poll_seconds

    def run(self, jobs: Sequence[SeedJob], on_progress: ProgressCallback) -> list[str]:
        submitted = []
        for job in jobs:
            self.backend.update_parameters(name=f"{job.label}-seed{job.seed}")
            submitted.append((job, self.backend.submit(SeedTask(), job)))
        print(f"submitted {len(submitted)} job(s): {', '.join(str(j.job_id) for _, j in submitted)}; "
              f"logs in {self.folder}", flush=True)
        failures: list[str] = []
        pending = dict(enumerate(submitted))
        with tqdm(total=len(submitted), desc="jobs finished", unit="job", disable=None) as bar:
            while pending:
                for key in [k for k, (_, j) in pending.items() if j.done()]:
                    job, handle = pending.pop(key)
                    bar.update(1)
                    try:
                        on_progress(handle.result())
                    except Exception as error:  # noqa: BLE001 -- reported with the job's log, the others go on
                        failures.append(failure_report(job, _log_of(handle) or str(error)))
                if pending:
                    time.sleep(self.poll_seconds)
        return failures


def _log_of(handle: Any) -> str:
    """What the job wrote to stderr (submitit keeps it beside the job), else stdout."""
    for read in (handle.stderr, handle.stdout):
        try:
            text = read()
        except OSError:
            text = None
        if text:
            return text
    return ""
