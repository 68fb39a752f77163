"""The NAS-Bench-201 weight-sharing supernet (Dong & Yang, ICLR 2020, Sec. 2.1 and App. B).

Stem 3x3 conv to C channels + BN; three stages of N search cells with C, 2C, 4C channels,
joined by residual reduction blocks; BN + ReLU, global average pooling, a linear classifier.
A search cell has 4 nodes; every edge ``i -> j`` is a :class:`MixedOp` over the candidate ops
(all five NB201 ops, or any subset); node ``j`` sums its incoming edges. All cells share one
architecture tensor alpha of shape ``(6, len(ops))``, initialised ``alpha_init_std * N(0, 1)``
(``1e-3``, as DARTS and NB201; 0 gives ASAP's all-zero start).

How alpha enters the mixed ops is the search method's business: :meth:`forward` takes a
:class:`Mixing` -- per-edge op weights, and optionally one sampled op index per edge (GDAS).

PC-DARTS (Xu et al., ICLR 2020) adds two options. ``partial_channels=K`` (Sec. 3.2): each edge
runs its mixed op on the first C/K channels of its input only, concatenates the other channels
unchanged and shuffles channels in K groups. ``edge_normalisation=True`` (Sec. 3.3): a second
architecture tensor ``beta`` (one value per edge, ``1e-3 * N(0, 1)``); node j sums its incoming
edges weighted by the softmax of their betas, whole edge outputs (bypassed channels included).

``fast=True`` computes the same function faster: the cells share work between edges that read
the same node (:mod:`bench_toolkit.nn.fused`), and activations and kernels are kept
channels-last; parameters, buffers and state dict are the same as the plain path's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from bench_toolkit.nn.fused import fused_cell_forward
from bench_toolkit.nn.ops import ResidualReduction, Zero, make_op
from bench_toolkit.spaces import nb201


@dataclass(frozen=True)
class Mixing:
    """Per-edge op weights ``(edges, n_ops)`` (NB201: 6 edges; DARTS: 28, normal then reduction
    cell); with ``index`` ``(edges,)`` only op ``index[e]`` runs on edge e; with ``alive`` (bool
    ``(edges, n_ops)``) pruned ops are not computed at all; ``skip_dropout``: dropout on the
    identity skip_connect's output in training (P-DARTS Sec. 3.3); ``edge_weights`` ``(edges,)``:
    each edge's weight where the method sets it (IF-NAS: ``g(beta)``, detached outside the group
    being searched), else the supernet's own (PC-DARTS's softmax of beta)."""

    weights: torch.Tensor
    index: torch.Tensor | None = None
    alive: torch.Tensor | None = None
    skip_dropout: float = 0.0
    edge_weights: torch.Tensor | None = None

    @classmethod
    def single_path(cls, index: torch.Tensor, n_ops: int, like: torch.Tensor) -> "Mixing":
        """Only op ``index[e]`` on edge e, weight 1, no gradient (RSPS, SETN, ENAS paths); on the
        dtype and device of ``like``."""
        index = index.to(like.device)
        return cls(torch.nn.functional.one_hot(index, n_ops).to(like.dtype), index)


class MixedOp(nn.Module):
    """Weighted sum of the candidate ops (DARTS Eq. 1), or, with a sampled ``index`` (GDAS), as
    the reference ``forward_gdas``: the sampled op's output times its weight plus every other
    op's weight itself -- value 0 in the straight-through one-hot, gradient 1 -- so the alpha of
    every op gets a gradient, even when the sampled op is ``none``."""

    def __init__(self, ops: Sequence[str], channels: int, affine: bool = False, track: bool = True,
                 partial_channels: int = 1, stride: int = 1, make: Callable[[str, int], nn.Module] | None = None):
        """``make(name, channels)`` builds one op (default: the NB201 op with ``affine``, ``track``);
        ``stride`` 2 is for reduction cells of other spaces, whose ``make`` builds strided ops."""
        super().__init__()
        self.partial_channels = partial_channels
        make = make or (lambda name, c: make_op(name, c, affine, track))
        self.ops = nn.ModuleList(make(name, channels // partial_channels) for name in ops)
        self.skip = [name == "skip_connect" and isinstance(op, nn.Identity) for name, op in zip(ops, self.ops)]
        # PC-DARTS's reduction edges: the bypassed channels are max-pooled to the new resolution
        self.bypass = nn.MaxPool2d(2, 2) if stride == 2 and partial_channels > 1 else nn.Identity()

    def forward(self, x: torch.Tensor, weights: torch.Tensor, index: int | None = None,
                alive: Sequence[bool] | None = None, skip_dropout: float = 0.0) -> torch.Tensor:
        if self.partial_channels > 1:  # PC-DARTS Sec. 3.2: mix C/K channels, pass the rest, shuffle
            k = self.partial_channels
            part = x.shape[1] // k
            mixed = self._mix(x[:, :part], weights, index, alive, skip_dropout)
            return channel_shuffle(torch.cat([mixed, self.bypass(x[:, part:])], dim=1), k)
        return self._mix(x, weights, index, alive, skip_dropout)

    def _op(self, k: int, x: torch.Tensor, skip_dropout: float) -> torch.Tensor:
        out = self.ops[k](x)
        return nn.functional.dropout(out, skip_dropout, self.training) if skip_dropout and self.skip[k] else out

    def _mix(self, x: torch.Tensor, weights: torch.Tensor, index: int | None,
             alive: Sequence[bool] | None, skip_dropout: float = 0.0) -> torch.Tensor:
        if index is not None:
            others = torch.cat([weights[:index], weights[index + 1:]]).sum()
            return self._op(index, x, skip_dropout) * weights[index] + others
        # 'none' and pruned ops contribute exactly zero (and zero gradient): skipping them saves time only
        live = alive if alive is not None else [True] * len(self.ops)
        terms = [w * self._op(k, x, skip_dropout) for k, (w, op, keep) in enumerate(zip(weights, self.ops, live))
                 if keep and not isinstance(op, Zero)]
        if terms:
            return sum(terms[1:], terms[0])
        zero = next((op for op in self.ops if isinstance(op, Zero)), None)
        return zero(x) if zero is not None else x.mul(0.0)  # a strided zero has the output's shape


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle (Zhang et al., CVPR 2018), as PC-DARTS applies it: channel
    ``g * (C/groups) + i`` moves to ``i * groups + g``."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class SearchCell(nn.Module):
    def __init__(self, ops: Sequence[str], channels: int, affine: bool, track: bool, fast: bool = False,
                 partial_channels: int = 1):
        super().__init__()
        self.ops = tuple(ops)
        # the fused path folds the mixing weight into an affine-free BN over whole inputs
        self.fast = fast and not affine and partial_channels == 1
        self.edges = nn.ModuleList(MixedOp(ops, channels, affine, track, partial_channels) for _ in nb201.EDGES)

    def forward(self, x: torch.Tensor, mixing: Mixing, edge_weights: torch.Tensor | None = None) -> torch.Tensor:
        index = None if mixing.index is None else mixing.index.tolist()
        alive = None if mixing.alive is None else mixing.alive.tolist()
        if self.fast and index is None and edge_weights is None:  # one sampled op per edge (GDAS): nothing to share
            return fused_cell_forward(self.edges, self.ops, x, mixing.weights, alive)
        nodes = [x]
        for target in range(1, nb201.NUM_NODES):
            total = None
            for e, (source, tgt) in enumerate(nb201.EDGES):
                if tgt != target:
                    continue
                out = self.edges[e](nodes[source], mixing.weights[e], None if index is None else index[e],
                                    None if alive is None else alive[e])
                if edge_weights is not None:
                    out = out * edge_weights[e]
                total = out if total is None else total + out
            nodes.append(total)
        return nodes[-1]


def checked_options(ops: Sequence[str], space_ops: Sequence[str], channels: int, partial_channels: int) -> tuple[str, ...]:
    """A supernet's op subset (non-empty, from ``space_ops``) and PC-DARTS's K (dividing the channels)."""
    if not ops or any(op not in space_ops for op in ops):
        raise ValueError(f"ops must be a non-empty subset of {tuple(space_ops)}, got {tuple(ops)}")
    if partial_channels < 1 or channels % partial_channels:
        raise ValueError(f"partial_channels must divide the channels ({channels}), got {partial_channels}")
    return tuple(ops)


def nb201_stages(channels: int, cells_per_stage: int, track: bool, cell: Callable[[int], nn.Module]) -> list[nn.Module]:
    """NB201's body (Sec. 2.1): three stages of ``cells_per_stage`` cells at C, 2C, 4C channels,
    joined by residual reduction blocks; ``cell(width)`` builds one cell (search or final)."""
    layers: list[nn.Module] = []
    for stage, width in enumerate((channels, 2 * channels, 4 * channels)):
        if stage > 0:
            layers.append(ResidualReduction(width // 2, width, affine=True, track=track))
        layers += [cell(width) for _ in range(cells_per_stage)]
    return layers


class ArchitectureParameters:
    """What the search loop asks every supernet: ``alpha`` (and ``beta``, None where absent) are
    parameters of their own; :meth:`weights` yields the rest."""

    alpha: nn.Parameter
    beta: nn.Parameter | None

    def weights(self) -> Iterator[nn.Parameter]:
        """The network weights w (everything but the architecture parameters)."""
        return (p for name, p in self.named_parameters() if name not in ("alpha", "beta"))  # type: ignore[attr-defined]

    def arch_parameters(self) -> list[nn.Parameter]:
        """alpha, and beta where edges are normalised (PC-DARTS)."""
        return [self.alpha] if self.beta is None else [self.alpha, self.beta]


class NB201Supernet(ArchitectureParameters, nn.Module):
    """The search network. ``alpha`` is a parameter of its own; :meth:`weights` yields the rest."""

    def __init__(self, num_classes: int, ops: Sequence[str] = nb201.OPS, channels: int = 16,
                 cells_per_stage: int = 5, affine: bool = False, track_running_stats: bool = True,
                 fast: bool = False, alpha_init_std: float = 1e-3, partial_channels: int = 1,
                 edge_normalisation: bool = False):
        super().__init__()
        self.ops = checked_options(ops, nb201.OPS, channels, partial_channels)
        self.fast = fast
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        self.layers = nn.ModuleList(nb201_stages(
            channels, cells_per_stage, track_running_stats,
            lambda width: SearchCell(self.ops, width, affine, track_running_stats, fast, partial_channels)))
        self.head = nn.Sequential(nn.BatchNorm2d(4 * channels), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * channels, num_classes)
        self.alpha = nn.Parameter(alpha_init_std * torch.randn(len(nb201.EDGES), len(self.ops)))
        self.beta = nn.Parameter(1e-3 * torch.randn(len(nb201.EDGES))) if edge_normalisation else None
        if fast:
            self.to(memory_format=torch.channels_last)

    def edge_weights(self) -> torch.Tensor | None:
        """PC-DARTS Eq. 4: per edge the softmax of beta over the edges entering the same node."""
        if self.beta is None:
            return None
        weights = torch.empty_like(self.beta)
        for target in range(1, nb201.NUM_NODES):
            incoming = [e for e, (_, t) in enumerate(nb201.EDGES) if t == target]
            weights[incoming] = self.beta[incoming].softmax(dim=0)
        return weights

    def forward(self, x: torch.Tensor, mixing: Mixing) -> torch.Tensor:
        if self.fast:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem(x)
        edge_weights = self.edge_weights()
        for layer in self.layers:
            x = layer(x, mixing, edge_weights) if isinstance(layer, SearchCell) else layer(x)
        return self.classifier(self.pool(self.head(x)).flatten(1))
