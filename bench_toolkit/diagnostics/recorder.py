"""What the recorder computes from alpha each epoch (pure functions of the architecture weights)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bench_toolkit.benchmarks import Benchmark
from bench_toolkit.errors import BenchToolkitError


def edge_softmax(alpha: np.ndarray) -> np.ndarray:
    """Per-edge op distribution ``softmax(alpha)`` over the last axis."""
    z = np.exp(alpha - alpha.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def operation_magnitudes(weights: np.ndarray, ops: Sequence[str]) -> dict[str, float]:
    """Operation magnitude (degradation paper, Eq. 11): ``m(t, o) = sum_n [a_o^n]^t / N``, the mean
    over the N edges of op o's softmax weight at epoch t."""
    return {op: float(value) for op, value in zip(ops, weights.mean(axis=0))}


def normalized_entropy(weights: np.ndarray) -> np.ndarray:
    """Per-edge entropy of the op distribution divided by ``ln |O|`` (ASAP Sec. 4.5, Fig. 7):
    1 for a uniform edge, 0 for a one-hot edge."""
    if weights.shape[-1] < 2:
        return np.zeros(weights.shape[:-1])
    p = np.clip(weights, 1e-30, 1.0)
    return -(weights * np.log(p)).sum(axis=-1) / math.log(weights.shape[-1])


def derive(alpha: np.ndarray, ops: Sequence[str], exclude_none: bool = False,
           alive: np.ndarray | None = None) -> tuple[str, ...]:
    """The discrete cell: per edge the op of largest alpha (DARTS Sec. 2.4); with ``exclude_none``
    the argmax runs over the ops other than ``none``; with ``alive`` (bool, edges x ops) over the
    ops still alive on that edge (ASAP)."""
    cell = []
    for e, row in enumerate(alpha):
        allowed = [k for k, op in enumerate(ops)
                   if not (exclude_none and op == "none") and (alive is None or alive[e, k])]
        if not allowed:
            raise BenchToolkitError(f"cannot derive a cell: edge {e} has no candidate op left")
        cell.append(ops[allowed[int(np.argmax(row[allowed]))]])
    return tuple(cell)


def benchmark_answers(bench: Benchmark | None, arch: Sequence[str]) -> dict[str, float]:
    """``<dataset>.<metric>`` for every dataset the benchmark has, validation and test accuracy
    (default epochs), for the derived cell."""
    if bench is None:
        return {}
    answers = {}
    for dataset in bench.datasets:
        record = bench.record(arch, dataset)
        for metric in ("valid_acc", "test_acc"):
            if metric in bench.metrics_for(dataset):
                answers[f"{dataset}.{metric}"] = record[metric]
    return answers
