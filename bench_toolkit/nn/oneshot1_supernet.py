"""NAS-Bench-1Shot1's one-shot model (Zela et al., ICLR 2020, Sec. 3; the reference
``optimizers/darts/model_search.py``), a cell of Bender et al.'s choice blocks built so that every
architecture it holds is an NB101 cell.

A cell reads one input ``s``. Choice block i (i = 0 .. B-1, NB101 vertex i + 1) sums its candidate
inputs -- a 1x1 projection of ``s`` and the outputs of blocks 0 .. i-1 -- weighted by the softmax of
its input weights where it has a choice (block 0 has one input; in space 1 block 1 takes both of
its two), then applies the mix of NB101's three ops (conv3x3-bn-relu, conv1x1-bn-relu,
maxpool3x3) weighted by the softmax of its row of alpha. The cell's output is a projection of ``s``
times the first output weight plus the concatenation of the blocks' outputs, each times its output
weight (softmax over B + 1). The network: a 3x3 conv-BN-ReLU stem, ``cells`` cells in three stacks
(channels doubled and a 2x2 max-pool between stacks), a 1x1 ReLU-conv-BN to C_last channels, global
average pooling, a linear classifier.

With ``partial_channels`` K > 1 each block mixes its ops on C/K channels (PC-DARTS); the input
weights already normalise the edges into each block, so PC-DARTS's own edge normalisation is these.

``alpha`` is ``(B, 3)``; ``beta`` holds every input-weight vector and then the output weights, flat
(:func:`beta_groups` says which entries belong together); :meth:`OneShot1Supernet.edge_weights`
is their softmax per group.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench_toolkit.nn.supernet import ArchitectureParameters, Mixing, channel_shuffle, checked_options
from bench_toolkit.spaces import nb101, oneshot1


class ConvBnRelu(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=False))


def make_op(name: str, channels: int) -> nn.Module:
    return {"conv3x3-bn-relu": lambda: ConvBnRelu(channels, channels, 3),
            "conv1x1-bn-relu": lambda: ConvBnRelu(channels, channels, 1),
            "maxpool3x3": lambda: nn.MaxPool2d(3, 1, 1)}[name]()


def beta_groups(space: int) -> list[tuple[int, int]]:
    """``(block or -1 for the output, number of candidates)`` of each input-weight vector in beta,
    in order: the blocks with a choice of inputs, then the output's B + 1 weights."""
    parents = oneshot1.checked_space(space)
    groups = [(block, block + 1) for block in range(oneshot1.blocks(space)) if parents[block + 1] < block + 1]
    return groups + [(-1, oneshot1.blocks(space) + 1)]


class Cell(nn.Module):
    def __init__(self, space: int, c_in: int, channels: int, ops: Sequence[str], partial_channels: int = 1):
        super().__init__()
        self.blocks = oneshot1.blocks(space)
        self.partial_channels = partial_channels
        self.choosing = {block: index for index, (block, _) in enumerate(beta_groups(space)[:-1])}
        self.projections = nn.ModuleList(ConvBnRelu(c_in, channels, 1) for _ in range(self.blocks))
        self.output_projection = ConvBnRelu(c_in, channels * self.blocks, 1)
        self.ops = nn.ModuleList(nn.ModuleList(make_op(name, channels // partial_channels) for name in ops)
                                 for _ in range(self.blocks))

    def _mix(self, x: torch.Tensor, weights: torch.Tensor, ops: nn.ModuleList) -> torch.Tensor:
        """The ops' weighted sum; with partial channels K (PC-DARTS Sec. 3.2) on the first C/K
        channels only, the others passed through, then the channels shuffled in K groups."""
        k = self.partial_channels
        part = x[:, : x.shape[1] // k] if k > 1 else x
        mixed = sum(w * op(part) for w, op in zip(weights, ops))
        return channel_shuffle(torch.cat([mixed, x[:, part.shape[1]:]], dim=1), k) if k > 1 else mixed

    def forward(self, s: torch.Tensor, op_weights: torch.Tensor, input_weights: list[torch.Tensor],
                output_weights: torch.Tensor) -> torch.Tensor:
        states: list[torch.Tensor] = []
        for block in range(self.blocks):
            inputs = [self.projections[block](s), *states]
            if block in self.choosing:
                weights = input_weights[self.choosing[block]]
                inputs = [w * x for w, x in zip(weights, inputs)]
            states.append(self._mix(sum(inputs[1:], inputs[0]), op_weights[block], self.ops[block]))
        return output_weights[0] * self.output_projection(s) + torch.cat(
            [w * x for w, x in zip(output_weights[1:], states)], dim=1)


class OneShot1Supernet(ArchitectureParameters, nn.Module):
    """The one-shot model of one NAS-Bench-1Shot1 space (module docstring)."""

    def __init__(self, num_classes: int, space: int = 1, channels: int = 16, cells: int = 9,
                 ops: Sequence[str] = nb101.OPS, alpha_init_std: float = 1e-3, partial_channels: int = 1):
        super().__init__()
        self.space = space
        self.ops = checked_options(ops, nb101.OPS, channels, partial_channels)
        blocks = oneshot1.blocks(space)
        self.stem = ConvBnRelu(3, channels, 3)
        self.reductions = {cells // 3, 2 * cells // 3}
        self.cells = nn.ModuleList()
        c_prev, c = channels, channels
        for index in range(cells):
            if index in self.reductions:
                c *= 2
            self.cells.append(Cell(space, c_prev if index == 0 else c_prev * blocks, c, self.ops, partial_channels))
            c_prev = c
        self.pool = nn.MaxPool2d(2, 2, padding=1)
        self.postprocess = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(c * blocks, c, 1, bias=False),
                                         nn.BatchNorm2d(c, affine=False))
        self.classifier = nn.Linear(c, num_classes)
        self.groups = beta_groups(space)
        self.alpha = nn.Parameter(alpha_init_std * torch.randn(blocks, len(self.ops)))
        self.beta = nn.Parameter(alpha_init_std * torch.randn(sum(size for _, size in self.groups)))

    def edge_weights(self) -> torch.Tensor:
        """The softmax of each input-weight vector and of the output weights, flat as ``beta``."""
        return torch.cat([part.softmax(dim=0) for part in self.beta.split([size for _, size in self.groups])])

    def forward(self, x: torch.Tensor, mixing: Mixing) -> torch.Tensor:
        weights = (mixing.edge_weights if mixing.edge_weights is not None else self.edge_weights()).split(
            [size for _, size in self.groups])
        inputs, output = list(weights[:-1]), weights[-1]
        s = self.stem(x)
        for index, cell in enumerate(self.cells):
            if index in self.reductions:
                s = self.pool(s)
            s = cell(s, mixing.weights, inputs, output)
        return self.classifier(self.postprocess(s).mean(dim=(2, 3)))
