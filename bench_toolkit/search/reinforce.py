"""REINFORCE (Williams, 1992) over a factorised categorical policy, the NB201 paper's RL baseline.

The policy holds one logit vector per decision (for NB201: per edge, over the five ops). Each
step samples a cell ``a``, gets reward ``R`` (the selection score in [0, 1]), keeps an
exponential-moving-average baseline ``b <- m b + (1 - m) R`` and ascends
``(R - b) * grad log pi(a)``, where for a softmax ``grad_theta_k log pi(a) = onehot(a_k) - softmax(theta_k)``.
The step is Adam (Kingma & Ba, 2015), as in the reference NB201/NATS-Bench code; defaults:
learning rate 0.01, EMA momentum 0.9.
"""

from __future__ import annotations

import random

import numpy as np

from bench_toolkit.search.evaluator import Evaluator
from bench_toolkit.spaces import SearchSpace


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def reinforce(
    space: SearchSpace, evaluate: Evaluator, rng: random.Random, learning_rate: float = 0.01,
    ema_momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
) -> None:
    """Run the policy-gradient loop until the budget is spent."""
    width = max(len(options) for options in space.decisions)
    # one logit row per decision, padded with -inf where a decision has fewer options (NB101: edges have 2)
    logits = np.array([[0.0] * len(options) + [-np.inf] * (width - len(options)) for options in space.decisions])
    first, second = np.zeros_like(logits), np.zeros_like(logits)
    baseline: float | None = None
    step = 0
    while not evaluate.exhausted:
        probs = _softmax(logits)
        choices = [rng.choices(range(len(p)), weights=p)[0] for p in probs]
        arch = space.from_choices(choices)
        # a sample that is no architecture of the space (NB101: disconnected, or more than 9 edges)
        # is rewarded 0 and costs no query
        reward = evaluate(arch) / 100.0 if space.is_valid(arch) else 0.0
        baseline = reward if baseline is None else ema_momentum * baseline + (1 - ema_momentum) * reward
        grad_log_prob = -probs
        grad_log_prob[np.arange(len(choices)), choices] += 1.0
        gradient = (reward - baseline) * grad_log_prob  # ascent direction
        step += 1
        first = betas[0] * first + (1 - betas[0]) * gradient
        second = betas[1] * second + (1 - betas[1]) * gradient**2
        corrected = first / (1 - betas[0] ** step), second / (1 - betas[1] ** step)
        logits += learning_rate * corrected[0] / (np.sqrt(corrected[1]) + eps)
