"""Random search (Bergstra & Bengio, 2012), the NB201 paper's RS baseline."""

from __future__ import annotations

import random

from bench_toolkit.search.evaluator import Evaluator
from bench_toolkit.spaces import SearchSpace


def random_search(space: SearchSpace, evaluate: Evaluator, rng: random.Random) -> None:
    """Query uniformly sampled cells until the budget is spent; the evaluator keeps the best."""
    while not evaluate.exhausted:
        evaluate(space.sample(rng))
