"""Regularized evolution, REA (Real et al., AAAI 2019, Algorithm 1), the NB201 paper's REA baseline."""

from __future__ import annotations

import collections
import random

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search.evaluator import Evaluator
from bench_toolkit.spaces import SearchSpace


def regularized_evolution(
    space: SearchSpace, evaluate: Evaluator, rng: random.Random, population_size: int = 10, sample_size: int = 3
) -> None:
    """Aging evolution: fill a population of random cells; then each cycle draws ``sample_size``
    members at random, mutates the best of them (one edge, :meth:`SearchSpace.mutate`), adds the
    child and removes the *oldest* member. Defaults are the NB201/NATS-Bench settings (10, 3)."""
    if not 1 <= sample_size <= population_size:
        raise BenchToolkitError(
            f"REA needs 1 <= sample_size <= population_size, got sample_size={sample_size}, "
            f"population_size={population_size}"
        )
    population: collections.deque[tuple[tuple[str, ...], float]] = collections.deque()
    while len(population) < population_size and not evaluate.exhausted:
        arch = space.sample(rng)
        population.append((arch, evaluate(arch)))
    while not evaluate.exhausted:
        parent, _ = max(rng.sample(list(population), sample_size), key=lambda member: member[1])
        child = space.mutate(parent, rng)
        population.append((child, evaluate(child)))
        population.popleft()
