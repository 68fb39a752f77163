"""Run a black-box search over many seeds and write its run directory.

Run directory (the contract with :mod:`bench_toolkit.analysis`)::

    DIR/config.json      everything needed to rerun (algorithm, parameters, protocol, budget, seeds)
    DIR/history.parquet  one row per (seed, query step): see ``HISTORY_COLUMNS``
    DIR/result.json      per seed the chosen cell and its reported test accuracy, plus mean and std
"""

from __future__ import annotations

import inspect
import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench_toolkit import __version__
from bench_toolkit.benchmarks import Benchmark
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import output_directory, write_json, write_table
from bench_toolkit.benchmarks.nb101 import NB101Benchmark
from bench_toolkit.search.evaluator import Budget, Evaluator, Protocol
from bench_toolkit.search.random_search import random_search
from bench_toolkit.search.rea import regularized_evolution
from bench_toolkit.search.reinforce import reinforce
from bench_toolkit.spaces import get_space

ALGORITHMS: dict[str, Callable[..., None]] = {
    "random": random_search,
    "rea": regularized_evolution,
    "reinforce": reinforce,
}
"""Algorithm name -> ``algorithm(space, evaluator, rng, **params)``."""


def get_algorithm(name: str) -> Callable[..., None]:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise BenchToolkitError(f"unknown black-box algorithm '{name}'; choose one of: {', '.join(ALGORITHMS)}") from None


@dataclass(frozen=True)
class BlackBoxRun:
    """One search configuration: algorithm, its parameters, the protocol, the budget and the seeds."""

    algo: str
    protocol: Protocol
    budget: Budget
    seeds: tuple[int, ...]
    space: str = "nb201"
    params: dict[str, Any] = field(default_factory=dict)

    def config(self, benchmark: str) -> dict[str, Any]:
        return {
            "kind": "blackbox", "algo": self.algo, "space": self.space, "benchmark": benchmark,
            "params": self.params, "protocol": self.protocol.as_dict(),
            "budget": {"queries": self.budget.queries, "seconds": self.budget.seconds},
            "seeds": list(self.seeds), "bench_toolkit_version": __version__,
        }


def search_one_seed(run: BlackBoxRun, bench: Benchmark, seed: int) -> pd.DataFrame:
    """The history of one seeded search."""
    space = get_space(run.space)
    evaluator = Evaluator(bench, run.protocol, run.budget, seed, space.canonical)
    get_algorithm(run.algo)(space, evaluator, random.Random(seed), **run.params)
    return evaluator.history()


def check_params(algo: str, params: dict[str, Any]) -> None:
    """Refuse parameters the algorithm does not take, naming the ones it does."""
    signature = inspect.signature(get_algorithm(algo))
    accepted = list(signature.parameters)[3:]  # after (space, evaluator, rng)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise BenchToolkitError(
            f"algorithm '{algo}' does not take parameter(s) {', '.join(unknown)}; it takes: {', '.join(accepted)}"
        )


def summarise(history: pd.DataFrame) -> dict[str, Any]:
    """Per seed the final chosen cell and its reported test accuracy; mean and std over seeds."""
    final = history.sort_values("step").groupby("seed").tail(1).sort_values("seed")
    accs = final["best_test_acc"].tolist()
    return {
        "per_seed": [
            {"seed": int(r.seed), "arch": r.best_arch, "score": r.best_score, "test_acc": r.best_test_acc,
             "queries": int(r.step)}
            for r in final.itertuples()
        ],
        "test_acc_mean": statistics.fmean(accs),
        "test_acc_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
    }


def run_blackbox(
    run: BlackBoxRun, bench: Benchmark, out_dir: str | Path | None = None,
    progress: Callable[[Iterable[int]], Iterable[int]] = iter,
) -> pd.DataFrame:
    """Search once per seed; write the run directory when ``out_dir`` is given; return the history."""
    check_params(run.algo, run.params)  # fail on bad input before any work
    answers_nb101 = isinstance(bench, NB101Benchmark)
    if (run.space == "nb101") != answers_nb101:
        raise BenchToolkitError(f"benchmark '{bench.name}' answers for {'NB101' if answers_nb101 else 'NB201'} cells, "
                                f"not the {run.space} space; " + ("add --space nb101" if answers_nb101 else
                                                                  "give --benchmark nb101:PATH (an official NB101 file)"))
    Evaluator.check(bench, run.protocol, run.budget)
    if out_dir is not None and (output_directory(out_dir) / "config.json").exists():
        raise BenchToolkitError(f"'{out_dir}' already holds a run; choose a new --out (a black-box search reruns in "
                                "seconds, so it is not resumed)")
    history = pd.concat([search_one_seed(run, bench, seed) for seed in progress(run.seeds)], ignore_index=True)
    if out_dir is not None:
        out = Path(out_dir)
        write_json(out / "config.json", run.config(bench.name))
        write_table(out / "history.parquet", history)
        write_json(out / "result.json", summarise(history))
    return history
