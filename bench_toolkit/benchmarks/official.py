"""Read records out of the official NB201 / NATS-Bench result objects.

``nas_201_api`` and ``nats_bench`` share one result model: per architecture index and
hyper-parameter set (``'12'`` or ``'200'`` training epochs) an ``ArchResults`` holding, per
dataset and seed, a ``ResultsCount`` of one training run. We read every trial through those
public classes and add one mean-over-seeds row per (cell, dataset, epochs), exactly the
average the official ``get_metrics(..., is_random=False)`` returns.

Which evaluation set is "valid" and "test" follows the NB201 paper (Sec. 3.2) and the official
``get_more_info``: ``cifar10-valid`` is validated on ``x-valid`` and tested on ``ori-test``;
``cifar10`` (trained on train+valid) has only ``ori-test``; CIFAR-100 and ImageNet16-120 use
``x-valid`` and ``x-test``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from tqdm import tqdm

from bench_toolkit.benchmarks.base import MEAN_SEED, METRICS
from bench_toolkit.spaces import nb201

EVAL_SETS: dict[str, dict[str, str]] = {
    "cifar10-valid": {"valid": "x-valid", "test": "ori-test"},
    "cifar10": {"test": "ori-test"},
    "cifar100": {"valid": "x-valid", "test": "x-test"},
    "ImageNet16-120": {"valid": "x-valid", "test": "x-test"},
}


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def trial_metrics(trial: Any, dataset: str) -> dict[str, float]:
    """The metrics of one training run (a ``ResultsCount``) after its last epoch."""
    train = trial.get_train()
    times = trial.train_times
    latency = _number(trial.get_latency())
    row = {
        "train_acc": _number(train["accuracy"]),
        "train_loss": _number(train["loss"]),
        "params": _number(trial.params),
        "flops": _number(trial.flop),
        "latency": latency if latency > 0 else math.nan,  # the API's -1 means "not measured"
        "train_time": sum(float(t) for t in times.values()) if isinstance(times, dict) and times else math.nan,
    }
    evaluated = set(trial.get_eval_set())
    for split, eval_name in EVAL_SETS.get(dataset, {}).items():
        if eval_name in evaluated:
            result = trial.get_eval(eval_name)
            row[f"{split}_acc"] = _number(result["accuracy"])
            row[f"{split}_loss"] = _number(result["loss"])
    return row


def _mean_over_seeds(trials: list[dict[str, float]]) -> dict[str, float]:
    """Per metric, the mean over the seeds that recorded it (NaN-skipping, as the official API)."""
    metrics = dict.fromkeys(m for t in trials for m in t if m != "seed")
    means = {}
    for metric in metrics:
        values = [t[metric] for t in trials if not math.isnan(t.get(metric, math.nan))]
        means[metric] = math.fsum(values) / len(values) if values else math.nan
    return means


def records_from_results(
    meta_archs: Sequence[str], results: Iterable[tuple[int, dict[str, Any]]], total: int, description: str
) -> pd.DataFrame:
    """Records from ``(official_index, {hp: ArchResults})`` pairs; ``meta_archs[i]`` is cell i's string."""
    rows: list[dict[str, Any]] = []
    for idx, by_hp in tqdm(results, total=total, desc=description, unit="arch", leave=False):
        code = nb201.index(meta_archs[idx])
        for hp, arch_results in by_hp.items():
            for dataset in arch_results.get_dataset_names():
                trials = [
                    {"seed": int(seed), **trial_metrics(arch_results.query(dataset, seed), dataset)}
                    for seed in arch_results.dataset_seed[dataset]
                ]
                trials.append({"seed": MEAN_SEED, **_mean_over_seeds(trials)})
                for trial in trials:
                    rows.append({"code": code, "official_index": idx, "dataset": dataset, "epochs": int(hp), **trial})
    frame = pd.DataFrame(rows)
    for metric in METRICS:
        if metric not in frame.columns:
            frame[metric] = math.nan
    return frame
