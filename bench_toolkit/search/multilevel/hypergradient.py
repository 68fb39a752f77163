"""The multi-level optimisation of interleaving learning (Xie et al., IL) and interleaving multi-task
NAS (IMTNAS): K learners x M rounds of learning stages sharing one architecture A, and the
gradient of the final validation losses with respect to A through every stage.

Stage ``s = (m, k)`` (learner k in round m; the stages run round by round, the learners in
``order``) approximates its optimal encoder weights by one gradient step (IL Eq. 6-7, IMTNAS
Eq. 13-17, 28)::

    W̄_s(A) = W_s - eta * grad_W [ L_tr(A, W_s, H_s) + T(A, W_s, W̄_{s-1}(A)) ]

where ``T`` couples it to the previous stage's weights (IL: ``lambda ||W - W̄_prev||^2``; IMTNAS:
the MMD hinge) and the first stage has no ``T``. Each final-round learner's head takes one step
too (IL Eq. 8: at its own weights ``W_k^(M)``; IMTNAS Eq. 20: at the unrolled ``W̄_k^(M)``,
``head_at_unrolled``), and A descends (IL Eq. 9)::

    F(A) = sum_k L_val(A, W̄_(M,k)(A), H̄_k(A)).

:func:`exact_hypergradient` differentiates F by autograd through the unrolled steps (second
derivatives included). :func:`finite_difference_hypergradient` is the papers' approximation
(IMTNAS Eq. 20-24, as DARTS Eq. 8): the chain rule run backwards over the stages, every
second-derivative-vector product ``grad^2_{x,W} J v`` replaced by the central difference
``(grad_x J(W + eps v) - grad_x J(W - eps v)) / (2 eps)``, ``eps = radius / ||v||``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch

Params = dict[str, torch.Tensor]
TrainLoss = Callable[[torch.Tensor, Params, Params, int], torch.Tensor]
"""``train_loss(A, W, H, learner)``: the learner's training loss on its current batch."""
Transfer = Callable[[torch.Tensor, Params, Params, int], torch.Tensor]
"""``transfer(A, W, W_prev, learner)``: the coupling to the previous stage's weights."""
ValLoss = Callable[[torch.Tensor, Params, Params, int], torch.Tensor]
"""``val_loss(A, W, H, learner)``: the learner's validation loss on its current batch."""

Stage = tuple[int, int]  # (round, learner)


def stage_order(learners: int, rounds: int, order: Sequence[int] | None = None) -> list[Stage]:
    """The learning stages: round by round, the learners in ``order`` (default 0 .. K-1) each round
    (IL Table 5 and IMTNAS Table 7 compare orders)."""
    order = list(range(learners)) if order is None else list(order)
    if sorted(order) != list(range(learners)):
        raise ValueError(f"the task order must list each of the {learners} learners once, got {order}")
    if rounds < 1:
        raise ValueError(f"the number of rounds must be at least 1, got {rounds}")
    return [(m, k) for m in range(rounds) for k in order]


@dataclass(frozen=True)
class MultiLevel:
    """The problem: its stages, the weights and heads of every stage, the losses, the step size."""

    stages: list[Stage]
    weights: dict[Stage, Params]
    heads: dict[Stage, Params]
    train_loss: TrainLoss
    transfer: Transfer
    val_loss: ValLoss
    eta: float
    head_at_unrolled: bool = False

    @property
    def final(self) -> list[Stage]:
        last = max(m for m, _ in self.stages)
        return [s for s in self.stages if s[0] == last]

    def stage_objective(self, A: torch.Tensor, s: Stage, W: Params, prev: Params | None) -> torch.Tensor:
        loss = self.train_loss(A, W, self.heads[s], s[1])
        return loss if prev is None else loss + self.transfer(A, W, prev, s[1])

    def unroll(self, A: torch.Tensor, graph: bool) -> dict[Stage, Params]:
        """``W̄_s`` of every stage; with ``graph`` as functions of A (and of the previous stages)."""
        unrolled: dict[Stage, Params] = {}
        prev: Params | None = None
        for s in self.stages:
            W = self.weights[s]
            grads = torch.autograd.grad(self.stage_objective(A, s, W, prev), list(W.values()), create_graph=graph,
                                        allow_unused=True)
            unrolled[s] = {n: w - self.eta * _or_zero(g, w) for (n, w), g in zip(W.items(), grads)}
            if not graph:
                unrolled[s] = {n: w.detach() for n, w in unrolled[s].items()}
            prev = unrolled[s]
        return unrolled

    def head_source(self, s: Stage, unrolled: dict[Stage, Params]) -> Params:
        return unrolled[s] if self.head_at_unrolled else self.weights[s]

    def head_step(self, A: torch.Tensor, s: Stage, W: Params, graph: bool) -> Params:
        """``H̄ = H - eta grad_H L_tr(A, W, H)`` (IL Eq. 8): the partial gradient in H at the given
        weights, even where those weights (the unrolled ``W̄``) were themselves made with H."""
        H = {n: h.detach().requires_grad_(True) for n, h in self.heads[s].items()}
        grads = torch.autograd.grad(self.train_loss(A, W, H, s[1]), list(H.values()), create_graph=graph)
        return {n: (h.detach() - self.eta * g) if graph else (h - self.eta * g).detach() for (n, h), g in zip(H.items(), grads)}


def _or_zero(grad: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(like) if grad is None else grad


def objective(problem: MultiLevel, A: torch.Tensor) -> torch.Tensor:
    """``F(A)``, built with the graph through every unrolled step."""
    unrolled = problem.unroll(A, graph=True)
    return sum(problem.val_loss(A, unrolled[s], problem.head_step(A, s, problem.head_source(s, unrolled), graph=True), s[1])
               for s in problem.final)


def exact_hypergradient(problem: MultiLevel, A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``F(A)`` and ``dF/dA`` by autograd through the unrolled stages."""
    value = objective(problem, A)
    (grad,) = torch.autograd.grad(value, [A])
    return value.detach(), grad


def _central(f: Callable[[Params], tuple[torch.Tensor, ...]], at: Params, v: Params, radius: float) -> tuple[torch.Tensor, ...]:
    """``(f(at + eps v) - f(at - eps v)) / (2 eps)`` per output, ``eps = radius / ||v||``."""
    norm = torch.sqrt(sum((x * x).sum() for x in v.values())).clamp_min(1e-12)
    eps = radius / norm
    plus = f({n: at[n].detach() + eps * v[n] for n in at})
    minus = f({n: at[n].detach() - eps * v[n] for n in at})
    return tuple((p - q) / (2 * eps) for p, q in zip(plus, minus))


def finite_difference_hypergradient(problem: MultiLevel, A: torch.Tensor, radius: float = 0.01
                                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``F(A)`` and the papers' approximation of ``dF/dA`` (module docstring)."""
    A = A.detach().requires_grad_(True)
    unrolled = problem.unroll(A, graph=False)
    grad_A = torch.zeros_like(A)
    v: dict[Stage, Params] = {s: {n: torch.zeros_like(w) for n, w in unrolled[s].items()} for s in problem.stages}
    value = torch.zeros(())
    eta = problem.eta
    for s in problem.final:
        source = problem.head_source(s, unrolled)
        head = problem.head_step(A, s, source, graph=False)
        W = {n: w.detach().requires_grad_(True) for n, w in unrolled[s].items()}
        H = {n: h.requires_grad_(True) for n, h in head.items()}
        loss = problem.val_loss(A, W, H, s[1])
        value = value + loss.detach()
        grads = torch.autograd.grad(loss, [A, *W.values(), *H.values()], allow_unused=True)
        grad_A += _or_zero(grads[0], A)
        for (n, w), g in zip(W.items(), grads[1:1 + len(W)]):
            v[s][n] += _or_zero(g, w)
        v_H = {n: _or_zero(g, h) for (n, h), g in zip(H.items(), grads[1 + len(W):])}

        # the head step H̄ = H - eta grad_H L_tr(A, source, H): (dH̄/dx)^T v_H = -eta grad^2_{x,H} L_tr v_H for
        # x = A (and x = W̄ where the head steps at the unrolled weights), by the H-direction difference quotient
        terms = _central(partial(_grad_x, problem, A, source, s=s), problem.heads[s], v_H, radius)
        grad_A -= eta * terms[0]
        if problem.head_at_unrolled:
            for n, t in zip(source, terms[1:]):
                v[s][n] -= eta * t
    for index in range(len(problem.stages) - 1, -1, -1):
        s = problem.stages[index]
        prev = unrolled[problem.stages[index - 1]] if index > 0 else None
        if all(not bool(x.any()) for x in v[s].values()):
            continue

        def stage_grads(W_at: Params, s: Stage = s, prev: Params | None = prev) -> tuple[torch.Tensor, ...]:
            P = None if prev is None else {n: p.detach().requires_grad_(True) for n, p in prev.items()}
            loss = problem.stage_objective(A, s, W_at, P)
            inputs = [A] if P is None else [A, *P.values()]
            grads = torch.autograd.grad(loss, inputs, allow_unused=True)
            return tuple(_or_zero(g, x) for g, x in zip(grads, inputs))

        terms = _central(stage_grads, problem.weights[s], v[s], radius)
        grad_A -= eta * terms[0]
        if prev is not None:
            before = problem.stages[index - 1]
            for n, t in zip(prev, terms[1:]):
                v[before][n] -= eta * t
    return value, grad_A


def _grad_x(problem: MultiLevel, A: torch.Tensor, W: Params, H: Params, *, s: Stage) -> tuple[torch.Tensor, ...]:
    """``grad_A L_tr(A, W, H)`` and ``grad_W L_tr`` at the given head (for the head step's difference quotient)."""
    W_req = {n: w.detach().requires_grad_(True) for n, w in W.items()}
    grads = torch.autograd.grad(problem.train_loss(A, W_req, H, s[1]), [A, *W_req.values()], allow_unused=True)
    return tuple(_or_zero(g, x) for g, x in zip(grads, [A, *W_req.values()]))
