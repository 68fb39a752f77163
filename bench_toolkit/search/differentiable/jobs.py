"""One seed of one search configuration as a self-contained job: what an executor hands to a
process (this one, a local worker, or a SLURM node) and what comes back after every epoch.

A job checkpoints after every epoch and always starts from its checkpoint when one exists, so a
killed, pre-empted or timed-out job that is run again continues from its last finished epoch.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from bench_toolkit.benchmarks import Benchmark, load_benchmark
from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.data.images import balanced_halves
from bench_toolkit.data.readers import read_data
from bench_toolkit.diagnostics.stop import parse_criterion
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.search.differentiable.engine import SupernetSearch, get_method, trace_of

StopSpec = dict[str, str]
"""An online stop criterion as config.json keeps it: ``{"criterion": "sc_2", "op": "nor_conv_3x3"}``."""
EpochCallback = Callable[[SupernetSearch, dict[str, Any]], None]


@dataclass(frozen=True)
class SeedJob:
    """Everything one process needs to run (or continue) one seed; picklable."""

    algo: str
    config: SearchConfig
    data_spec: str
    benchmark_spec: str | None
    seed: int
    checkpoint: Path
    stop: StopSpec | None = None
    device: str = "cpu"
    threads: int | None = None  # torch intra-op threads of the process running it (None: unchanged)
    label: str = ""  # how failures name the configuration

    def describe(self) -> str:
        return f"seed {self.seed} of {self.label or self.algo} ({self.checkpoint.parent.parent})"


@dataclass
class SeedProgress:
    """One seed's part of the run directory after its latest epoch."""

    seed: int
    epoch: int
    history: list[dict[str, Any]]
    alphas: pd.DataFrame
    step_rows: list[dict[str, Any]] = field(default_factory=list)
    selected_epoch: int | None = None
    finished: bool = False
    checkpoint: Path | None = None


def load_search_data(data_spec: str, config: SearchConfig) -> PairedBatches:
    """The NB201 search protocol's paired halves of the training images, at the configured size;
    with ``single_level`` both sides of a pair come from all of them (GAEA-ERM's reference: the
    training set twice, shuffled independently)."""
    images = read_data(data_spec, config.images_per_class)
    if config.single_level:
        return PairedBatches(images, images, config.batch_size, config.resolution, config.augment)
    train, valid = balanced_halves(images)
    return PairedBatches(train, valid, config.batch_size, config.resolution, config.augment)


def alpha_table(search: SupernetSearch) -> pd.DataFrame:
    """Alpha and the method's op distribution per (seed, epoch, edge, op), each epoch's as it
    was then (for pruning methods: with that epoch's alive mask)."""
    rows = []
    for epoch, (alpha, weights) in enumerate(zip(search.alphas, search.distributions), start=1):
        for e, edge in enumerate(search.space.edge_names):
            for k, op in enumerate(search.config.ops):
                rows.append({"seed": search.seed, "epoch": epoch, "edge": edge, "op": op,
                             "alpha": float(alpha[e, k]), "weight": float(weights[e, k])})
    return pd.DataFrame(rows)


def progress_of(search: SupernetSearch, checkpoint: Path, finished: bool = False) -> SeedProgress:
    return SeedProgress(search.seed, search.epoch, list(search.history), alpha_table(search), list(search.step_rows),
                        search.selected_epoch, finished, checkpoint)


def _done(search: SupernetSearch) -> bool:
    return search.epoch >= search.config.epochs or search.selected_epoch is not None or search.mixing.finished()


def run_seed(job: SeedJob, on_epoch: Callable[[SeedProgress], None] = lambda progress: None,
             data: PairedBatches | None = None, bench: Benchmark | None = None,
             callbacks: Sequence[EpochCallback] = (), show_batches: bool = True) -> SeedProgress:
    """Run ``job`` to its end from its checkpoint (if any), saving the checkpoint and calling
    ``on_epoch`` after every epoch; ``data`` and ``bench`` may be passed in to share them between
    seeds of one process. With ``job.stop``, the seed ends when the criterion fires (online)."""
    threads = torch.get_num_threads()
    if job.threads:
        torch.set_num_threads(job.threads)
    try:
        return _run(job, on_epoch, data, bench, callbacks, show_batches)
    finally:
        torch.set_num_threads(threads)


def _report(job: SeedJob, search: SupernetSearch, row: dict) -> None:
    """One line per finished epoch on stderr (terminal or log file alike): where the run is and
    how its derived cell does."""
    answer = next((f" | {key} {row[key]:.2f}" for key in ("cifar10.test_acc", "cifar10-valid.valid_acc") if key in row), "")
    tqdm.write(f"{job.label} seed {job.seed} epoch {search.epoch}/{job.config.epochs}: train loss "
               f"{row['train_loss']:.3f} acc {row['train_acc']:.1f} | valid acc {row['valid_acc']:.1f}{answer} | "
               f"{row['epoch_seconds']:.1f} s", file=sys.stderr)


def _run(job: SeedJob, on_epoch: Callable[[SeedProgress], None], data: PairedBatches | None, bench: Benchmark | None,
         callbacks: Sequence[EpochCallback], show_batches: bool) -> SeedProgress:
    data = data if data is not None else load_search_data(job.data_spec, job.config)
    if bench is None and job.benchmark_spec:
        bench = load_benchmark(job.benchmark_spec)
    criterion = parse_criterion(job.stop["criterion"], job.stop.get("op", "nor_conv_3x3")) if job.stop else None
    search = SupernetSearch(get_method(job.algo), job.config, data, bench, job.seed, job.device)
    if job.checkpoint.exists():
        search.load(job.checkpoint)
    while not _done(search):
        row = search.train_epoch(show_batches)
        # on CPU the last bits, and so a collapse-prone search's cells, depend on the thread count: keep it on file
        row["torch_threads"] = torch.get_num_threads()
        if criterion is not None:
            selection = criterion.first_fire(trace_of(search))
            if selection is not None and selection.fired_at == search.epoch:
                search.selected_epoch = selection.epoch
        search.save(job.checkpoint)
        _report(job, search, row)
        on_epoch(progress_of(search, job.checkpoint, _done(search)))
        for callback in callbacks:
            callback(search, row)
    return progress_of(search, job.checkpoint, finished=True)
