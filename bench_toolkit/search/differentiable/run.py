"""Many seeds of a differentiable search, its run directory, and resume.

Run directory::

    DIR/config.json        method, data and benchmark specs, scale, seeds, every setting
    DIR/history.parquet    one row per (seed, epoch): see SupernetSearch._record
    DIR/alphas.parquet     alpha and softmax weight per (seed, epoch, edge, op)
    DIR/steps.parquet      with record_every_steps=k: cell, entropy, magnitudes every k iterations
    DIR/final.json         per seed the chosen cell (final, or the one an online stop criterion
                           selected) and its benchmark answers; mean and std; ``complete``
    DIR/checkpoints/seed_<k>.pt   the latest epoch of seed k (model, optimisers, schedule, RNG, rows)

Seeds are :class:`~.jobs.SeedJob` s. They run one after another in this process, or are handed
to an executor (:mod:`bench_toolkit.executors`: a local worker pool, or SLURM). Either way this
process alone writes the tables, atomically, from the progress each seed reports; a job writes
only its own checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from bench_toolkit import __version__
from bench_toolkit.benchmarks import Benchmark, NB101Benchmark, load_benchmark
from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.data.readers import absolute_spec
from bench_toolkit.devices import checked_device
from bench_toolkit.diagnostics.stop import parse_criterion
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import (
    lock_run_directory, output_directory, read_json, remove_stray_temporaries, unlock_run_directory, write_json,
    write_table,
)
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.search.differentiable.engine import get_method
from bench_toolkit.search.differentiable.jobs import (
    EpochCallback, SeedJob, SeedProgress, StopSpec, load_search_data, run_seed,
)
from bench_toolkit.search.differentiable.spaces import get_supernet_space

if TYPE_CHECKING:
    from bench_toolkit.executors import Executor


def summary_of(progress: Sequence[SeedProgress], datasets: Sequence[str]) -> dict[str, Any]:
    """Per seed the chosen cell (the final epoch's, or the one an online stop criterion selected)
    and its benchmark answers; mean and std of each answer over seeds."""
    chosen = []
    for seed in progress:
        epoch = seed.selected_epoch or seed.epoch
        chosen.append({**next(r for r in seed.history if r["epoch"] == epoch), "stopped": seed.selected_epoch is not None})
    answer_keys = [k for k in chosen[0] if k.split(".")[0] in datasets]
    summary: dict[str, Any] = {
        "per_seed": [{k: r[k] for k in ("seed", "epoch", "arch", "stopped", *answer_keys)} for r in chosen]
    }
    for key in answer_keys:
        values = [r[key] for r in chosen]
        summary[key] = {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0}
    return summary


@dataclass
class RunWriter:
    """Keeps each seed's latest progress and rewrites the run directory's tables from it."""

    out: Path
    seeds: list[int]
    datasets: tuple[str, ...]
    progress: dict[int, SeedProgress] = field(default_factory=dict)

    def update(self, seed_progress: SeedProgress) -> None:
        self.progress[seed_progress.seed] = seed_progress
        self.write()

    def write(self) -> None:
        seeds = [self.progress[s] for s in self.seeds if s in self.progress and self.progress[s].history]
        if not seeds:
            return
        write_table(self.out / "history.parquet", pd.DataFrame([row for s in seeds for row in s.history]))
        write_table(self.out / "alphas.parquet", pd.concat([s.alphas for s in seeds], ignore_index=True))
        step_rows = [row for s in seeds for row in s.step_rows]
        if step_rows:
            write_table(self.out / "steps.parquet", pd.DataFrame(step_rows))
        complete = len(seeds) == len(self.seeds) and all(s.finished for s in seeds)
        write_json(self.out / "final.json", {**summary_of(seeds, self.datasets), "complete": complete})

    def history(self) -> pd.DataFrame:
        return pd.DataFrame([row for s in self.seeds if s in self.progress for row in self.progress[s].history])


@dataclass
class PreparedRun:
    """A run directory with its config.json written, and the jobs that fill it."""

    out: Path
    jobs: list[SeedJob]
    writer: RunWriter
    lock: Path
    bench: Benchmark | None = None  # loaded once here, shared by the seeds that run in this process
    data: PairedBatches | None = None


def prepare_run(algo: str, config: SearchConfig, data_spec: str, benchmark_spec: str | None, seeds: Sequence[int],
                out_dir: str | Path, scale: str = "paper", resume: bool = False, device: str = "cpu",
                stop: StopSpec | None = None, threads: int | None = None, label: str = "") -> PreparedRun:
    """Check the arguments (the data and benchmark are loaded: a bad one fails here, before
    anything is written), write ``config.json`` and return the run's jobs (one per seed)."""
    checked_device(device)
    # the method's alpha optimiser checks its settings (e.g. GAEA refuses an L2 term) before anything is written
    method = get_method(algo)
    method.alpha_optimizer([torch.nn.Parameter(torch.zeros(1))], config)
    space = get_supernet_space(config.space)
    if space.methods is not None and algo not in space.methods:
        raise BenchToolkitError(f"the {space.name} space is searched by {', '.join(space.methods)} (its relaxation "
                                f"is their own), not {algo}; choose --algo {space.methods[0]}")
    if method.spaces is not None and config.space not in method.spaces:
        raise BenchToolkitError(f"{algo} searches the {', '.join(method.spaces)} space only; drop --space {config.space}")
    source = method.selector(config).source if method.selector is not None else None
    if source == "controller" and space.controller is None:
        raise BenchToolkitError(f"{algo}'s controller samples one op per edge, which is not an architecture of the "
                                f"{space.name} space (its controller for genotypes is not built); choose rsps or setn")
    if (source is not None or method.weight_mixing is not None) and space.paths_use_none and "none" not in config.ops:
        raise BenchToolkitError(f"{algo} samples single paths, which leave unused edges at none; keep none in ops")
    if benchmark_spec and not space.has_benchmark:
        raise BenchToolkitError(f"no tabular benchmark answers for the {space.name} space; drop --benchmark "
                                "(the derived architectures are recorded without accuracies)")
    if method.architect is None and config.edge_normalisation:
        raise BenchToolkitError(f"{algo} has no architecture step, so edge normalisation's beta would never be trained; "
                                "drop edge_normalisation or choose a gradient method (e.g. pc-darts)")
    if method.architect is None and config.hessian_every:
        raise BenchToolkitError(f"{algo} has no architecture parameters, so hessian_every has nothing to measure; drop it")
    out = output_directory(out_dir)
    if not resume and (out / "config.json").exists():
        raise BenchToolkitError(f"'{out}' already holds a run; continue it with --resume {out}, or choose a new --out")
    if stop and not parse_criterion(stop["criterion"], stop.get("op", "nor_conv_3x3")).online:
        raise BenchToolkitError(f"'{stop['criterion']}' is a post-hoc reference, not a stop criterion; "
                                "apply it to the finished run with `bench-toolkit stop`")
    bench = load_benchmark(benchmark_spec) if benchmark_spec else None
    if bench is not None and (space.benchmark_kind == "nb101") != isinstance(bench, NB101Benchmark):
        raise BenchToolkitError(f"benchmark '{bench.name}' does not answer for the {space.name} space's architectures; "
                                + ("give --benchmark nb101:PATH (an official NB101 file)" if space.benchmark_kind == "nb101"
                                   else "give an NB201 benchmark"))
    # read before anything is written: a bad path or layout must not leave a config.json behind
    data = load_search_data(data_spec, config)
    data_spec, benchmark_spec = absolute_spec(data_spec), absolute_spec(benchmark_spec)
    lock = lock_run_directory(out)  # released by execute
    if resume:
        remove_stray_temporaries(out)
    write_json(out / "config.json", {
        "kind": "supernet", "algo": algo, "data": data_spec, "benchmark": benchmark_spec, "scale": scale,
        "seeds": list(seeds), "config": config.as_dict(), "stop": stop, "bench_toolkit_version": __version__,
    })
    jobs = [SeedJob(algo, config, data_spec, benchmark_spec, seed, out / "checkpoints" / f"seed_{seed}.pt", stop, device,
                    threads, label or out.name) for seed in seeds]
    return PreparedRun(out, jobs, RunWriter(out, list(seeds), bench.datasets if bench else ()), lock, bench, data)


def execute(runs: Sequence[PreparedRun], executor: Executor | None = None, callbacks: Sequence[EpochCallback] = ()) -> None:
    """Run every job of ``runs``: here, one after another (``executor=None``; the data and
    benchmark :func:`prepare_run` loaded are shared), or through ``executor`` (each job loads its
    own). Each run directory is rewritten after every
    epoch a seed reports. Jobs that fail do not stop the others; they are reported together at
    the end, each with its seed, configuration and the last lines of its log. The run
    directories' locks are released at the end, however it ends."""
    try:
        failures = _execute(runs, executor, callbacks)
    finally:
        for run in runs:
            unlock_run_directory(run.lock)
    if failures:
        raise BenchToolkitError(f"{len(failures)} job(s) failed; the others finished and are written; "
                                "rerun the same command to continue them:\n" + "\n".join(failures))


def _execute(runs: Sequence[PreparedRun], executor: Executor | None, callbacks: Sequence[EpochCallback]) -> list[str]:
    if executor is None:
        for run in runs:
            for job in run.jobs:
                run.writer.update(run_seed(job, run.writer.update, run.data, run.bench, callbacks))
        return []
    if callbacks:
        raise BenchToolkitError("epoch callbacks run only in this process: leave out the executor (or --workers)")
    writers = {job.checkpoint: run.writer for run in runs for job in run.jobs}
    failures = executor.run([job for run in runs for job in run.jobs], lambda p: writers[p.checkpoint].update(p))
    for run in runs:
        run.writer.write()
    return failures


def run_supernet_search(
    algo: str, config: SearchConfig, data_spec: str, benchmark_spec: str | None, seeds: Sequence[int],
    out_dir: str | Path, scale: str = "paper", resume: bool = False, callbacks: Sequence[EpochCallback] = (),
    device: str = "cpu", stop: StopSpec | None = None, executor: Executor | None = None, threads: int | None = None,
) -> pd.DataFrame:
    """Search once per seed, writing the run directory after every epoch; return the history.
    With ``stop`` (criterion name and op), a seed ends when the criterion fires (online); with
    ``executor``, seeds run as parallel jobs (:mod:`bench_toolkit.executors`); ``threads`` sets
    torch's threads for each seed (results on CPU depend on it in the last bits)."""
    run = prepare_run(algo, config, data_spec, benchmark_spec, seeds, out_dir, scale, resume, device, stop, threads)
    execute([run], executor, callbacks)
    return run.writer.history()


def resume_supernet_search(out_dir: str | Path, callbacks: Sequence[EpochCallback] = (), device: str = "cpu",
                           executor: Executor | None = None, threads: int | None = None) -> pd.DataFrame:
    """Continue the run in ``out_dir`` from its checkpoints, with the settings it was started with."""
    saved = read_run_config(out_dir)
    config = SearchConfig().updated(saved["config"])
    return run_supernet_search(saved["algo"], config, saved["data"], saved["benchmark"], saved["seeds"], out_dir,
                               saved["scale"], resume=True, callbacks=callbacks, device=device, stop=saved.get("stop"),
                               executor=executor, threads=threads)


def read_run_config(out_dir: str | Path) -> dict[str, Any]:
    """The config.json of a differentiable run directory; a clear error for anything else."""
    path = Path(out_dir) / "config.json"
    if not path.is_file():
        raise BenchToolkitError(f"'{out_dir}' holds no config.json: it is not a run directory to resume")
    saved = read_json(path)
    if saved.get("kind") != "supernet":
        raise BenchToolkitError(f"'{out_dir}' is a {saved.get('kind')} run; only differentiable searches resume")
    return saved
