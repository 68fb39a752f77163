"""How alpha enters the mixed ops: one small policy per method family."""

from __future__ import annotations

import torch

from bench_toolkit.nn.supernet import Mixing


def softmax_mixing(alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
    """DARTS (Liu et al., ICLR 2019, Eq. 2): every op weighted by softmax over the edge's alpha."""
    return Mixing(alpha.softmax(dim=-1))


class GumbelMixing:
    """GDAS (Dong & Yang, CVPR 2019, Eq. 3-5): per edge, sample one op by Gumbel-max over
    ``log_softmax(alpha)`` at temperature tau; only that op runs, weighted by the straight-through
    one-hot ``hard - soft.detach() + soft``. tau falls linearly from ``tau_max`` to ``tau_min``
    over ``epochs`` (NB201 setting: 10 -> 0.1 over 250 epochs)."""

    def __init__(self, epochs: int, tau_max: float = 10.0, tau_min: float = 0.1):
        self.epochs, self.tau_max, self.tau_min = epochs, tau_max, tau_min

    def temperature(self, epoch: int) -> float:
        if self.epochs <= 1:
            return self.tau_min
        return self.tau_max - (self.tau_max - self.tau_min) * epoch / (self.epochs - 1)

    def __call__(self, alpha: torch.Tensor, generator: torch.Generator, epoch: int) -> Mixing:
        tau = self.temperature(epoch)
        # drawn on the CPU generator (whose state checkpoints save), then moved to alpha's device
        gumbels = -torch.empty(alpha.shape, dtype=alpha.dtype).exponential_(generator=generator).log().to(alpha.device)
        soft = ((alpha.log_softmax(dim=-1) + gumbels) / tau).softmax(dim=-1)
        index = soft.argmax(dim=-1)
        hard = torch.zeros_like(soft).scatter_(-1, index.unsqueeze(-1), 1.0)
        return Mixing(hard - soft.detach() + soft, index)
