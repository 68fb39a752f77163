"""Networks of IF-NAS's L-chain space (Tian et al., "Exploring Complicated Search Spaces with
Interleaving-Free Sampling", Sec. 3.2, Fig. 2; the reference code's ``model_search.py``): a stem,
three stages of chained nodes at C, 2C and 4C channels, a head.

- **Stem**: ``cifar``, a 3x3 convolution to C channels and BN; ``imagenet``, a stride-2 3x3
  convolution to 32 channels and BN, then two downsampling blocks (to 48, then C channels), so
  the first stage sees 1/8 of the image side.
- **Stage input** (node 0): in the first stage the stem's output plus a separable convolution of
  it; in the others a separable convolution to twice the channels and a stride-2 max-pool, plus a
  stride-2 1x1 convolution and BN (the reference's transition).
- **Nodes**: node ``n`` reads nodes ``n - L .. n - 1`` through sep_conv_3x3 (the DARTS op: a
  separable convolution applied twice) and/or skip_connect. In the search supernet every
  connection carries both ops and node ``n`` is ``(2 / m) sum_j g(beta_j) sum_o g(alpha_jo) o(x_j)``
  over its m active connections (``g`` the sigmoid; IF-NAS Sec. 3.5, the reference
  ``Stage.forward``); a final network sums its chosen ops.
- **Head**: a separable convolution to 16C channels, ReLU, global average pooling, a linear layer.

:func:`madds` counts multiply-adds with ``torch.utils.flop_counter`` (a multiply-add is two FLOPs);
:class:`MaddsTable` gives any architecture's count without building it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench_toolkit.nn.cost import count_flops
from bench_toolkit.nn.darts_ops import DilConv, SepConv
from bench_toolkit.nn.supernet import ArchitectureParameters, Mixing, channel_shuffle
from bench_toolkit.spaces import lchain

def _separable(c_in: int, c_out: int) -> nn.Module:
    """ReLU, depthwise 3x3, pointwise 1x1, BN (the reference's ``SeparableConv2d``)."""
    return DilConv(c_in, c_out, 3, 1, 1, 1)


class Downsample(nn.Module):
    """Halve the resolution and change the width: separable convolution(s) then a stride-2 max-pool,
    plus a stride-2 1x1 convolution and BN on the shortcut."""

    def __init__(self, c_in: int, c_out: int, convs: int = 1):
        super().__init__()
        layers = [_separable(c_in, c_out)] + [_separable(c_out, c_out) for _ in range(convs - 1)]
        self.main = nn.Sequential(*layers, nn.MaxPool2d(3, 2, 1))
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, 2, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.shortcut(x)


class Residual(nn.Module):
    """``x + f(x)``: the first stage's input node."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = _separable(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def make_stem(kind: str, channels: int) -> nn.Module:
    if kind == "cifar":
        return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
    if kind == "imagenet":
        return nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32),
                             Downsample(32, 48, convs=2), Downsample(48, channels, convs=2))
    raise ValueError(f"stem must be one of {', '.join(lchain.STEMS)}, got {kind!r}")


def _op(name: str, channels: int) -> nn.Module:
    return SepConv(channels, channels, 3, 1, 1) if name == "sep_conv_3x3" else nn.Identity()


class LChainStage(nn.Module):
    """One stage: its input node, then nodes computed from ``pairs`` -- per row (a connection of
    the supernet, or one chosen pair of a final network) its source, target and ops."""

    def __init__(self, n_nodes: int, rows: Sequence[tuple[int, int, tuple[str, ...]]], c_in: int, c_out: int, first: bool,
                 partial_channels: int = 1):
        super().__init__()
        self.n_nodes = n_nodes
        self.rows = tuple((source, target) for source, target, _ in rows)
        self.entry = Residual(c_out) if first else Downsample(c_in, c_out)
        self.partial_channels = partial_channels
        width = c_out // partial_channels
        self.ops = nn.ModuleList(nn.ModuleList(_op(name, width) for name in names) for _, _, names in rows)
        self.by_target = {t: [r for r, (_, target) in enumerate(self.rows) if target == t] for t in range(1, n_nodes)}

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None, edge_weights: torch.Tensor | None = None,
                alive: Sequence[Sequence[bool]] | None = None) -> torch.Tensor:
        """Without weights: each node sums its ops. With ``weights`` ``(rows, ops)``, ``edge_weights``
        ``(rows,)`` and ``alive``: the supernet's node (module docstring) over the rows with a live op."""
        nodes: dict[int, torch.Tensor] = {0: self.entry(x)}
        for target in range(1, self.n_nodes):
            terms = []
            for r in self.by_target[target]:
                source = self.rows[r][0]
                if source not in nodes:
                    continue  # a node without inputs (absent in a final network)
                if weights is None:
                    terms += [op(nodes[source]) for op in self.ops[r]]
                    continue
                live = [k for k in range(len(self.ops[r])) if alive is None or alive[r][k]]
                if live:
                    terms.append(edge_weights[r] * self._mix(nodes[source], weights[r], self.ops[r], live))
            if terms:
                total = sum(terms[1:], terms[0])
                nodes[target] = total if weights is None else total * (2.0 / len(terms))
        return nodes[self.n_nodes - 1]

    def _mix(self, x: torch.Tensor, weights: torch.Tensor, ops: nn.ModuleList, live: list[int]) -> torch.Tensor:
        """``sum_o g(alpha_o) o(x)``; with partial channels K (PC-DARTS Sec. 3.2) on the first C/K
        channels only, the others passed through, then the channels shuffled in K groups."""
        k = self.partial_channels
        part = x[:, : x.shape[1] // k] if k > 1 else x
        mixed = sum(weights[o] * ops[o](part) for o in live)
        return channel_shuffle(torch.cat([mixed, x[:, part.shape[1]:]], dim=1), k) if k > 1 else mixed


class _Body(nn.Module):
    def __init__(self, stem: str, channels: int, num_classes: int):
        super().__init__()
        self.stem = make_stem(stem, channels)
        self.head = nn.Sequential(_separable(4 * channels, 16 * channels), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(16 * channels, num_classes)

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(x).flatten(1))


WIDTHS = (1, 2, 4)


class LChainSupernet(ArchitectureParameters, _Body):
    """The search network: every connection of every stage with both ops. ``alpha`` holds one row
    per connection (:func:`lchain.stage_connections` order) and one column per op, ``beta`` one
    value per connection; both start at ``alpha_init_std * N(0, 1)`` (the reference: 1e-5).
    ``partial_channels`` K > 1: PC-DARTS's partial channel connections on every connection (its
    baseline in IF-NAS Table 2; beta already weights each connection). ``channels_last``: weights and
    activations in channels-last memory order (the same numbers up to the last bits; faster on CPU,
    see ``benchmarks/``)."""

    def __init__(self, num_classes: int, stages: Sequence[int] = lchain.IMAGENET_STAGES, L: int = 4,
                 channels: int = 16, stem: str = "cifar", ops: Sequence[str] = lchain.OPS, alpha_init_std: float = 1e-5,
                 partial_channels: int = 1, channels_last: bool = False):
        super().__init__(stem, channels, num_classes)
        if tuple(ops) != lchain.OPS:
            raise ValueError(f"the L-chain supernet searches both of {lchain.OPS}, got {tuple(ops)}")
        self.ops = tuple(ops)
        links = lchain.stage_connections(stages, L)
        self.row_slices = []
        start = 0
        self.stages = nn.ModuleList()
        for k, (n, stage_links) in enumerate(zip(stages, links)):
            rows = [(a, b, self.ops) for a, b in stage_links]
            self.stages.append(LChainStage(n, rows, channels * WIDTHS[max(k - 1, 0)], channels * WIDTHS[k], k == 0,
                                           partial_channels))
            self.row_slices.append(slice(start, start + len(rows)))
            start += len(rows)
        self.alpha = nn.Parameter(alpha_init_std * torch.randn(start, len(self.ops)))
        self.beta = nn.Parameter(alpha_init_std * torch.randn(start))
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def edge_weights(self) -> torch.Tensor:
        """Each connection's weight ``g(beta)`` (the sigmoid)."""
        return self.beta.sigmoid()

    def forward(self, x: torch.Tensor, mixing: Mixing) -> torch.Tensor:
        """``mixing.weights``: the op weights ``(rows, 2)``; ``mixing.edge_weights``: the connection
        weights (default: :meth:`edge_weights`); ``mixing.alive``: the ops computed (default: all)."""
        edge_weights = mixing.edge_weights if mixing.edge_weights is not None else self.edge_weights()
        alive = None if mixing.alive is None else mixing.alive.tolist()
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.stem(x)
        for stage, rows in zip(self.stages, self.row_slices):
            x = stage(x, mixing.weights[rows], edge_weights[rows], None if alive is None else alive[rows])
        return self.classify(x)


class LChainNetwork(_Body):
    """A final network of the space: the architecture's chosen ops, nodes that feed nothing dropped."""

    def __init__(self, arch: lchain.LChainArch, channels: int, num_classes: int, stem: str = "cifar"):
        super().__init__(stem, channels, num_classes)
        if len(arch.stages) != len(WIDTHS):
            raise ValueError(f"an L-chain network has {len(WIDTHS)} stages, the architecture {len(arch.stages)}")
        self.arch = arch.used()
        self.stages = nn.ModuleList()
        for k, stage in enumerate(self.arch.stages):
            rows = [(source, node, (op,)) for node, pairs in enumerate(stage, start=1) for op, source in pairs]
            self.stages.append(LChainStage(len(stage) + 1, rows, channels * WIDTHS[max(k - 1, 0)], channels * WIDTHS[k], k == 0))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        """The logits (and no auxiliary logits, as the trainer's networks return them)."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.classify(x), None


def madds(model: nn.Module, resolution: int) -> int:
    """Multiply-adds of one forward pass of ``model`` on a 3-channel ``resolution`` x ``resolution``
    image (:func:`~bench_toolkit.nn.cost.count_flops` / 2: convolutions and the linear layer)."""
    return count_flops(model, torch.zeros(1, 3, resolution, resolution)) // 2


class MaddsTable:
    """Multiply-adds of any architecture of one space and input size, without building it: the
    network with only skip_connect ops, plus one sep_conv_3x3's count per sep_conv_3x3 in each stage
    (node sums are additions, which multiply-add counts leave out). Both parts are measured once
    with :func:`madds`; the sum equals :func:`madds` of the built network."""

    def __init__(self, stages: Sequence[int], L: int, channels: int, num_classes: int, stem: str, resolution: int):
        def chain(sep_stage: int | None) -> lchain.LChainArch:
            return lchain.LChainArch(L, tuple(
                tuple(((("sep_conv_3x3" if k == sep_stage and node == 1 else "skip_connect"), node - 1),)
                      for node in range(1, n)) for k, n in enumerate(stages)))

        def count(arch: lchain.LChainArch) -> int:
            return madds(LChainNetwork(arch, channels, num_classes, stem), resolution)

        self.base = count(chain(None))
        self.per_sep_conv = tuple(count(chain(k)) - self.base for k in range(len(stages)))

    def __call__(self, arch: lchain.LChainArch) -> int:
        used = arch.used()
        return self.base + sum(cost * sum(op == "sep_conv_3x3" for node in stage for op, _ in node)
                               for cost, stage in zip(self.per_sep_conv, used.stages))
