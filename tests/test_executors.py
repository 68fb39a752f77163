"""Where seeds run: a local worker pool and SLURM (through submitit's LocalExecutor: real
subprocesses, real pickling). Each seed's tables equal its serial run's; a killed run continues
from its checkpoints; a failed job is reported with its seed, configuration and log while the
others finish."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import submitit

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.executors import default_threads, run_in_processes
from bench_toolkit.executors.local import LocalPool
from bench_toolkit.executors.slurm import SlurmExecutor
from bench_toolkit.search.differentiable import config_for, resume_supernet_search, run_supernet_search
from bench_toolkit.search.differentiable.run import execute, prepare_run

SMALL = {"epochs": 2, "images_per_class": 20, "resolution": 8, "channels": 4, "batch_size": 16, "record_every_steps": 3}
TABLES = ("history.parquet", "alphas.parquet", "steps.parquet")


def _slurm(tmp_path) -> SlurmExecutor:
    return SlurmExecutor(tmp_path / "logs", backend=submitit.LocalExecutor(tmp_path / "logs"), poll_seconds=0.2)


def _assert_same_tables(a, b) -> None:
    for name in TABLES:
        left, right = pd.read_parquet(a / name), pd.read_parquet(b / name)
        columns = [c for c in left.columns if c != "epoch_seconds"]  # wall time is the one thing that differs
        pd.testing.assert_frame_equal(left[columns], right[columns], check_exact=True)


def test_seeds_in_worker_processes_equal_their_serial_run(tmp_path):
    """Same threads per seed (CPU results depend on the thread count in the last bits), so the
    tables are bit-identical, whichever process ran which seed."""
    config = config_for("smoke", {}, SMALL)
    run_supernet_search("darts-v1", config, "digits", "analog", [0, 1, 2], tmp_path / "serial", threads=1)
    run_supernet_search("darts-v1", config, "digits", "analog", [0, 1, 2], tmp_path / "pool", executor=LocalPool(2, 1))
    _assert_same_tables(tmp_path / "serial", tmp_path / "pool")
    final = json.loads((tmp_path / "pool" / "final.json").read_text())
    assert final["complete"] and [s["seed"] for s in final["per_seed"]] == [0, 1, 2]


class _Killed(Exception):
    pass


def test_slurm_jobs_continue_a_killed_run_from_its_checkpoints(tmp_path):
    """A run killed after one epoch, resumed through the SLURM executor: each job loads its seed's
    checkpoint in a fresh process and ends with the tables of an uninterrupted run."""
    config = config_for("smoke", {}, {**SMALL, "epochs": 3})
    run_supernet_search("gdas", config, "digits", "analog", [0, 1], tmp_path / "straight", threads=1)

    def kill_after_first_epoch(search, row):
        if search.seed == 1 and search.epoch == 1:
            raise _Killed

    with pytest.raises(_Killed):
        run_supernet_search("gdas", config, "digits", "analog", [0, 1], tmp_path / "killed", threads=1,
                            callbacks=[kill_after_first_epoch])
    assert not json.loads((tmp_path / "killed" / "final.json").read_text())["complete"]
    resume_supernet_search(tmp_path / "killed", executor=_slurm(tmp_path), threads=1)
    _assert_same_tables(tmp_path / "straight", tmp_path / "killed")
    assert json.loads((tmp_path / "killed" / "final.json").read_text())["complete"]


@pytest.mark.parametrize("kind", ["local", "slurm"])
def test_a_failed_job_is_reported_and_the_others_finish(tmp_path, kind):
    config = config_for("smoke", {}, {**SMALL, "epochs": 1})
    good = prepare_run("darts-v1", config, "digits", None, [0], tmp_path / "good", threads=1)
    bad = prepare_run("darts-v1", config, "digits", None, [4], tmp_path / "bad", threads=1)
    bad.jobs[0].checkpoint.parent.mkdir(parents=True)
    bad.jobs[0].checkpoint.write_bytes(b"not a checkpoint")  # the job fails when it loads it
    executor = LocalPool(2, 1) if kind == "local" else _slurm(tmp_path)
    with pytest.raises(BenchToolkitError) as error:
        execute([good, bad], executor)
    message = str(error.value)
    assert "1 job(s) failed" in message and f"seed 4 of bad ({tmp_path / 'bad'})" in message
    assert "UnpicklingError" in message  # the job's own error, from its log
    assert json.loads((tmp_path / "good" / "final.json").read_text())["complete"]
    assert not (tmp_path / "bad" / "history.parquet").exists()


WORKER_PARENT = '''
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from bench_toolkit.executors import exit_when_orphaned

def record_pid_and_wait(path):
    with open(path + ".tmp", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(120)

if __name__ == "__main__":
    with ProcessPoolExecutor(1, multiprocessing.get_context("spawn"), exit_when_orphaned, (0.1,)) as pool:
        pool.submit(record_pid_and_wait, sys.argv[1])
        time.sleep(120)
'''


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit may wait for a reaper that never comes here)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_a_worker_ends_when_the_process_that_started_it_is_killed(tmp_path):
    """SIGKILL the pool's parent (no chance to stop its pool): its worker must not train on,
    writing into run directories whose lock died with the parent."""
    script, pid_file = tmp_path / "parent.py", tmp_path / "worker.pid"
    script.write_text(WORKER_PARENT)
    parent = subprocess.Popen([sys.executable, str(script), str(pid_file)])
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists():
            assert parent.poll() is None and time.monotonic() < deadline, "the worker never started"
            time.sleep(0.1)
        worker = int(pid_file.read_text())
        assert _running(worker)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(worker), "the worker outlived its parent by 10 s"
    finally:
        parent.kill()
        if pid_file.exists() and _running(int(pid_file.read_text())):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _write_square(path: str, x: int, threads: int) -> tuple[int, int]:
    """A call for ``run_in_processes``: fails on a negative number, else leaves a file behind."""
    if x < 0:
        raise ValueError(f"negative: {x}")
    with open(path, "w") as handle:
        handle.write(str(x * x))
    return x * x, threads


def test_calls_in_processes_return_by_name_and_a_failure_does_not_stop_the_others(tmp_path):
    calls = [(f"call-{x}", _write_square, (str(tmp_path / f"{x}.txt"), x)) for x in (3, 4)]
    assert run_in_processes(calls, workers=2) == {"call-3": (9, default_threads(2)), "call-4": (16, default_threads(2))}
    assert run_in_processes(calls, workers=1, threads=3) == {"call-3": (9, 3), "call-4": (16, 3)}  # here, in order
    with pytest.raises(BenchToolkitError, match=r"1 of 3 run\(s\) failed(.|\n)*- call--2: negative: -2"):
        run_in_processes([*calls, ("call--2", _write_square, (str(tmp_path / "never.txt"), -2))], workers=2, threads=1)
    assert not (tmp_path / "never.txt").exists()
