"""The NAS-Bench-201 weight-sharing supernet (Dong & Yang, ICLR 2020, Sec. 2.1 and App. B).

Stem 3x3 conv to C channels + BN; three stages of N search cells with C, 2C, 4C channels,
joined by residual reduction blocks; BN + ReLU, global average pooling, a linear classifier.
A search cell has 4 nodes; every edge ``i -> j`` is a :class:`MixedOp` over the candidate ops
(all five NB201 ops, or any subset); node ``j`` sums its incoming edges. All cells share one
architecture tensor alpha of shape ``(6, len(ops))``, initialised ``alpha_init_std * N(0, 1)``
(``1e-3``, as DARTS and NB201; 0 gives ASAP's all-zero start).

How alpha enters the mixed ops is the search method's business: :meth:`forward` takes a
:class:`Mixing` -- per-edge op weights, and optionally one sampled op index per edge (GDAS).

``fast=True`` computes the same function faster: the cells share work between edges that read
the same node (:mod:`bench_toolkit.nn.fused`), and activations and kernels are kept
channels-last; parameters, buffers and state dict are the same as the plain path's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from bench_toolkit.nn.fused import fused_cell_forward
from bench_toolkit.nn.ops import ResidualReduction, Zero, make_op
from bench_toolkit.spaces import nb201


@dataclass(frozen=True)
class Mixing:
    """Per-edge op weights ``(6, n_ops)``; with ``index`` ``(6,)`` only op ``index[e]`` runs on edge e;
    with ``alive`` (bool ``(6, n_ops)``) pruned ops are not computed at all."""

    weights: torch.Tensor
    index: torch.Tensor | None = None
    alive: torch.Tensor | None = None


class MixedOp(nn.Module):
    """Weighted sum of the candidate ops (DARTS Eq. 1), or, with a sampled ``index`` (GDAS), as
    the reference ``forward_gdas``: the sampled op's output times its weight plus every other
    op's weight itself -- value 0 in the straight-through one-hot, gradient 1 -- so the alpha of
    every op gets a gradient, even when the sampled op is ``none``."""

    def __init__(self, ops: Sequence[str], channels: int, affine: bool, track: bool):
        super().__init__()
        self.ops = nn.ModuleList(make_op(name, channels, affine, track) for name in ops)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, index: int | None = None,
                alive: Sequence[bool] | None = None) -> torch.Tensor:
        if index is not None:
            others = torch.cat([weights[:index], weights[index + 1:]]).sum()
            return self.ops[index](x) * weights[index] + others
        # 'none' and pruned ops contribute exactly zero (and zero gradient): skipping them saves time only
        live = alive if alive is not None else [True] * len(self.ops)
        terms = [w * op(x) for w, op, keep in zip(weights, self.ops, live) if keep and not isinstance(op, Zero)]
        return sum(terms[1:], terms[0]) if terms else x.mul(0.0)


class SearchCell(nn.Module):
    def __init__(self, ops: Sequence[str], channels: int, affine: bool, track: bool, fast: bool = False):
        super().__init__()
        self.ops = tuple(ops)
        self.fast = fast and not affine  # the fused path folds the mixing weight into an affine-free BN
        self.edges = nn.ModuleList(MixedOp(ops, channels, affine, track) for _ in nb201.EDGES)

    def forward(self, x: torch.Tensor, mixing: Mixing) -> torch.Tensor:
        index = None if mixing.index is None else mixing.index.tolist()
        alive = None if mixing.alive is None else mixing.alive.tolist()
        if self.fast and index is None:  # one sampled op per edge (GDAS) has nothing to share
            return fused_cell_forward(self.edges, self.ops, x, mixing.weights, alive)
        nodes = [x]
        for target in range(1, nb201.NUM_NODES):
            total = None
            for e, (source, tgt) in enumerate(nb201.EDGES):
                if tgt != target:
                    continue
                out = self.edges[e](nodes[source], mixing.weights[e], None if index is None else index[e],
                                    None if alive is None else alive[e])
                total = out if total is None else total + out
            nodes.append(total)
        return nodes[-1]


class NB201Supernet(nn.Module):
    """The search network. ``alpha`` is a parameter of its own; :meth:`weights` yields the rest."""

    def __init__(self, num_classes: int, ops: Sequence[str] = nb201.OPS, channels: int = 16,
                 cells_per_stage: int = 5, affine: bool = False, track_running_stats: bool = True,
                 fast: bool = False, alpha_init_std: float = 1e-3):
        super().__init__()
        unknown = [op for op in ops if op not in nb201.OPS]
        if unknown or not ops:
            raise ValueError(f"ops must be a non-empty subset of {nb201.OPS}, got {tuple(ops)}")
        self.ops = tuple(ops)
        self.fast = fast
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        layers: list[nn.Module] = []
        c_prev = channels
        for stage, width in enumerate((channels, 2 * channels, 4 * channels)):
            if stage > 0:
                layers.append(ResidualReduction(c_prev, width, affine=True, track=track_running_stats))
            layers += [SearchCell(self.ops, width, affine, track_running_stats, fast) for _ in range(cells_per_stage)]
            c_prev = width
        self.layers = nn.ModuleList(layers)
        self.head = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)
        self.alpha = nn.Parameter(alpha_init_std * torch.randn(len(nb201.EDGES), len(self.ops)))
        if fast:
            self.to(memory_format=torch.channels_last)

    def weights(self) -> Iterator[nn.Parameter]:
        """The network weights w (everything but alpha)."""
        return (p for name, p in self.named_parameters() if name != "alpha")

    def forward(self, x: torch.Tensor, mixing: Mixing) -> torch.Tensor:
        if self.fast:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x, mixing) if isinstance(layer, SearchCell) else layer(x)
        return self.classifier(self.pool(self.head(x)).flatten(1))
