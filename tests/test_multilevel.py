"""The multi-level hypergradient of interleaving learning: exact (autograd through the unrolled
stages) and the papers' finite-difference approximation, both against a brute-force derivative of
the whole unrolled objective on a tiny problem."""

from __future__ import annotations

import pytest
import torch

from bench_toolkit.search.multilevel.hypergradient import (
    MultiLevel, exact_hypergradient, finite_difference_hypergradient, objective, stage_order,
)

torch.set_default_dtype(torch.float64)


def _problem(K: int = 2, M: int = 2, lam: float = 0.7, head_at_unrolled: bool = False, seed: int = 0) -> MultiLevel:
    """Each learner: features relu(A_0 x W1) + A_1 (x W2)^2 -- an architecture of two mixed ops --
    then a linear head; cross-entropy on its own small random batch; IL's L2 coupling."""
    g = torch.Generator().manual_seed(seed)
    d, c, n = 3, 2, 5
    data = {k: (torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g),
                torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)) for k in range(K)}
    stages = stage_order(K, M)
    weights = {s: {"w1": torch.randn(d, d, generator=g).requires_grad_(), "w2": torch.randn(d, d, generator=g).requires_grad_()}
               for s in stages}
    heads = {s: {"h": torch.randn(d, c, generator=g).requires_grad_()} for s in stages}

    def logits(A, W, H, x):
        return (A[0] * torch.relu(x @ W["w1"]) + A[1] * (x @ W["w2"]) ** 2) @ H["h"]

    def train_loss(A, W, H, k):
        x, y = data[k][0], data[k][1]
        return torch.nn.functional.cross_entropy(logits(A, W, H, x), y)

    def val_loss(A, W, H, k):
        x, y = data[k][2], data[k][3]
        return torch.nn.functional.cross_entropy(logits(A, W, H, x), y)

    def transfer(A, W, prev, k):
        return lam * sum(((W[n] - prev[n]) ** 2).sum() for n in W)

    return MultiLevel(stages, weights, heads, train_loss, transfer, val_loss, eta=0.05, head_at_unrolled=head_at_unrolled)


def _brute_force(problem: MultiLevel, A: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    grad = torch.zeros_like(A)
    for i in range(A.numel()):
        step = torch.zeros_like(A)
        step.view(-1)[i] = h
        grad.view(-1)[i] = (objective(problem, (A + step).requires_grad_()) - objective(problem, (A - step).requires_grad_())) / (2 * h)
    return grad


@pytest.mark.parametrize("head_at_unrolled", [False, True])
@pytest.mark.parametrize("K, M", [(2, 2), (3, 1), (2, 3)])
def test_exact_and_finite_difference_hypergradients_match_brute_force(K, M, head_at_unrolled):
    problem = _problem(K, M, head_at_unrolled=head_at_unrolled)
    A = torch.tensor([0.8, 0.3], requires_grad=True)
    brute = _brute_force(problem, A.detach())
    value, exact = exact_hypergradient(problem, A)
    assert torch.allclose(exact, brute, rtol=1e-6, atol=1e-9)
    approx_value, approx = finite_difference_hypergradient(problem, A, radius=1e-4)
    assert float(approx_value) == pytest.approx(float(value), rel=1e-12)
    assert torch.allclose(approx, brute, rtol=1e-4, atol=1e-7)
    # the chain matters: without the stages' second derivatives the gradient is visibly different
    direct = torch.autograd.grad(sum(problem.val_loss(A, {n: w.detach() for n, w in problem.unroll(A, graph=False)[s].items()},
                                                      problem.heads[s], s[1]) for s in problem.final), [A])[0]
    assert not torch.allclose(direct, brute, rtol=1e-2)


def test_stage_order_runs_rounds_in_turn_in_the_task_order():
    assert stage_order(2, 2) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert stage_order(3, 1, [2, 0, 1]) == [(0, 2), (0, 0), (0, 1)]
    with pytest.raises(ValueError, match="each of the 2 learners once"):
        stage_order(2, 1, [0, 0])
