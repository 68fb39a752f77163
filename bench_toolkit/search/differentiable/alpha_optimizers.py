"""How alpha moves once its gradient is known: one optimiser per method family.

Adam (DARTS, GDAS, ASAP, NB201 reference settings), the exponentiated-gradient update of GAEA,
which keeps each edge's op weights on the probability simplex, or SGD (IF-NAS).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search.differentiable.config import SearchConfig


class ExponentiatedGradient(torch.optim.Optimizer):
    """GAEA's architecture update (Li et al., "Geometry-Aware Gradient Algorithms for Neural
    Architecture Search", ICLR 2021, Sec. 3): mirror descent with the entropic mirror map on each
    edge's simplex, ``alpha <- alpha * exp(-lr * grad) / Z`` with ``Z`` the edge's sum -- a
    multiplicative step, then renormalisation (the last dimension of the parameter is the simplex).
    As the reference code (``architect_edarts.py``), weights are floored at ``floor`` before
    renormalising so that no op's weight reaches 0 and stays there."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, floor: float = 1e-5):
        if lr <= 0:
            raise BenchToolkitError(f"the exponentiated-gradient step needs a positive a_lr, got {lr}")
        super().__init__(params, {"lr": lr, "floor": floor})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 -- torch.optim.Optimizer's interface
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                p.mul_(torch.exp(-group["lr"] * p.grad)).clamp_(min=group["floor"])
                p.div_(p.sum(dim=-1, keepdim=True))
        return None


def adam(params: list[torch.Tensor], c: SearchConfig) -> torch.optim.Optimizer:
    """The NB201/DARTS alpha optimiser: Adam with L2 weight decay ``a_weight_decay``."""
    return torch.optim.Adam(params, lr=c.a_lr, betas=(c.a_beta1, c.a_beta2), weight_decay=c.a_weight_decay)


def exponentiated_gradient(params: list[torch.Tensor], c: SearchConfig) -> torch.optim.Optimizer:
    """GAEA: :class:`ExponentiatedGradient` at ``a_lr``. It has no L2 term (the reference's
    ``arch_weight_decay`` is an entropy penalty, 0 for NAS-Bench-201), so a non-zero
    ``a_weight_decay`` is refused rather than ignored."""
    if c.a_weight_decay:
        raise BenchToolkitError("a_weight_decay is Adam's L2 term; the exponentiated-gradient update (GAEA) has none: "
                                "set a_weight_decay=0")
    return ExponentiatedGradient(params, c.a_lr)


def sgd(params: list[torch.Tensor], c: SearchConfig) -> torch.optim.Optimizer:
    """IF-NAS (Sec. 4.1; reference ``train_search.py``): SGD at ``a_lr`` with the weights' momentum
    (the reference uses one momentum for both) and L2 weight decay ``a_weight_decay``."""
    return torch.optim.SGD(params, lr=c.a_lr, momentum=c.w_momentum, weight_decay=c.a_weight_decay)
