"""The budgeted oracle a black-box search talks to: it answers, counts, and keeps the history.

Following the NB201 paper's protocol (Sec. 5), a search *selects* by one metric (by default the
validation accuracy of ``cifar10-valid`` after 12 epochs, where the benchmark has it) and
*reports* the test accuracy of the chosen cell (by default ``cifar10`` after 200 epochs).
Each query costs one step and, where the benchmark records it, the selection run's training
time (the "simulated time" budget of the NB201 paper).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from bench_toolkit.benchmarks import Benchmark
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import nb201

HISTORY_COLUMNS = (
    "seed", "step", "arch", "score", "test_acc", "train_time", "sim_time",
    "best_arch", "best_score", "best_test_acc",
)


@dataclass(frozen=True)
class Protocol:
    """What a search selects by and what it reports; every field resolved against a benchmark."""

    dataset: str
    metric: str
    epochs: int
    report_dataset: str
    report_epochs: int

    @classmethod
    def resolve(
        cls, bench: Benchmark, dataset: str | None = None, metric: str | None = None, epochs: int | None = None,
        report_dataset: str | None = None, report_epochs: int | None = None,
    ) -> "Protocol":
        """Fill unset fields with the NB201 protocol where the benchmark allows, else its defaults:
        select on ``cifar10-valid`` (else the default dataset) at the benchmark's ``SELECT_EPOCHS``
        (NB201: 12; NB101: 108, its paper's) where recorded (else the default),
        by ``valid_acc`` (else ``test_acc``); report ``test_acc`` of ``cifar10`` at the default epochs."""
        dataset = bench.resolve_dataset(dataset or ("cifar10-valid" if "cifar10-valid" in bench.datasets else None))
        if epochs is None and bench.SELECT_EPOCHS in bench.epochs_for(dataset):
            epochs = bench.SELECT_EPOCHS
        epochs = bench.resolve_epochs(epochs, dataset)
        if metric is None:
            metric = "valid_acc" if "valid_acc" in bench.metrics_for(dataset, epochs) else "test_acc"
        bench.check_metric(metric, dataset, epochs)
        report_dataset = bench.resolve_dataset(report_dataset)
        report_epochs = bench.resolve_epochs(report_epochs, report_dataset)
        bench.check_metric("test_acc", report_dataset, report_epochs)
        return cls(dataset, metric, epochs, report_dataset, report_epochs)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Budget:
    """Stop after ``queries`` queries and/or ``seconds`` of simulated training time."""

    queries: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.queries is None and self.seconds is None:
            raise BenchToolkitError("a search needs a budget: give a number of queries and/or simulated seconds")
        if (self.queries is not None and self.queries < 1) or (self.seconds is not None and self.seconds <= 0):
            raise BenchToolkitError(f"budget must be positive, got queries={self.queries}, seconds={self.seconds}")


class Evaluator:
    """Answers ``evaluator(arch) -> score`` from the benchmark and records one history row per query."""

    def __init__(self, bench: Benchmark, protocol: Protocol, budget: Budget, seed: int,
                 canonical: Callable[[Any], str] = nb201.canonical):
        """``canonical`` turns what the search proposes into the key the benchmark is asked with
        (the space's: an NB201 cell string, an NB101 module hash)."""
        self.has_time = self.check(bench, protocol, budget)
        self.bench, self.protocol, self.budget, self.seed, self.canonical = bench, protocol, budget, seed, canonical
        self.rows: list[dict[str, Any]] = []
        self.sim_time = 0.0
        self._best: tuple[float, str, float] | None = None  # (score, arch, test_acc)

    @staticmethod
    def check(bench: Benchmark, protocol: Protocol, budget: Budget) -> bool:
        """Refuse a time budget the benchmark cannot simulate; return whether it records train_time."""
        has_time = "train_time" in bench.metrics_for(protocol.dataset, protocol.epochs)
        if budget.seconds is not None and not has_time:
            raise BenchToolkitError(
                f"benchmark '{bench.name}' records no train_time for '{protocol.dataset}', so it cannot simulate "
                "time; give the budget as a number of queries instead"
            )
        return has_time

    @property
    def exhausted(self) -> bool:
        b = self.budget
        return (b.queries is not None and len(self.rows) >= b.queries) or (
            b.seconds is not None and self.sim_time >= b.seconds
        )

    def __call__(self, arch: Any) -> float:
        if self.exhausted:
            raise RuntimeError("query after the budget was exhausted: check evaluator.exhausted in the search loop")
        p = self.protocol
        key = self.canonical(arch)
        selected = self.bench.record(key, p.dataset, p.epochs)
        score = selected[p.metric]
        test_acc = self.bench.query(key, p.report_dataset, "test_acc", p.report_epochs)
        train_time = selected["train_time"] if self.has_time else math.nan
        if self.has_time:
            self.sim_time += train_time
        if self._best is None or score > self._best[0]:
            self._best = (score, key, test_acc)
        best_score, best_arch, best_test = self._best
        self.rows.append({
            "seed": self.seed, "step": len(self.rows) + 1, "arch": key, "score": score, "test_acc": test_acc,
            "train_time": train_time, "sim_time": self.sim_time if self.has_time else math.nan,
            "best_arch": best_arch, "best_score": best_score, "best_test_acc": best_test,
        })
        return score

    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(HISTORY_COLUMNS))
