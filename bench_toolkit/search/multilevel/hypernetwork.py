"""IMTNAS's weight hypernetwork (Sec. 3.3, after Ha et al. 2016): instead of storing every stage's
encoder weights W_k^(m), one small network V generates them from the architecture, the task and
the round. All encoder weights form one long vector of dimension D, cut into ``ceil(D / 100)``
chunks; the hypernetwork -- two hidden layers of 30 and 50 units -- maps (A, task k, round m,
chunk index d) to that chunk's 100 values. A enters as its importance weights (the softmax of
each edge's alpha), k and m one-hot, d as ``d / chunks``.

Each generated tensor is scaled by the standard deviation of the encoder's own initial values for
it (1 where those are constant), so that generated weights start at the encoder's usual scale --
a choice of ours; the paper does not say how it scales them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

CHUNK = 100
HIDDEN = (30, 50)


class WeightHypernetwork(nn.Module):
    def __init__(self, initial: dict[str, torch.Tensor], arch_size: int, learners: int, rounds: int):
        super().__init__()
        self.names = list(initial)
        self.shapes = [tuple(initial[n].shape) for n in self.names]
        self.sizes = [initial[n].numel() for n in self.names]
        self.total = sum(self.sizes)
        self.chunks = math.ceil(self.total / CHUNK)
        self.learners, self.rounds = learners, rounds
        inputs = arch_size + learners + rounds + 1
        self.mlp = nn.Sequential(nn.Linear(inputs, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]), nn.ReLU(),
                                 nn.Linear(HIDDEN[1], CHUNK))
        scales = [float(initial[n].std()) if initial[n].numel() > 1 and float(initial[n].std()) > 0 else 1.0 for n in self.names]
        self.register_buffer("scale", torch.cat([torch.full((size,), s) for size, s in zip(self.sizes, scales)]))
        self.register_buffer("position", (torch.arange(self.chunks, dtype=torch.float32) / self.chunks).unsqueeze(1))

    def forward(self, alpha: torch.Tensor, learner: int, round_: int) -> dict[str, torch.Tensor]:
        """The encoder weights of learner ``learner`` in round ``round_`` for architecture ``alpha``."""
        importance = alpha.softmax(dim=-1).flatten()
        task = nn.functional.one_hot(torch.tensor(learner), self.learners).to(importance)
        stage = nn.functional.one_hot(torch.tensor(round_), self.rounds).to(importance)
        fixed = torch.cat([importance, task, stage]).expand(self.chunks, -1)
        vector = self.mlp(torch.cat([fixed, self.position.to(importance)], dim=1)).flatten()[: self.total] * self.scale
        return {n: piece.view(shape) for n, piece, shape in zip(self.names, vector.split(self.sizes), self.shapes)}
