"""The fast forward of an NB201 search cell: the function of :class:`SearchCell`'s per-edge loop
(DARTS Eq. 1 on every edge, node j = sum of its incoming edges), computed with the work that
edges reading the same node can share done once.

For each source node i, its outgoing edges ``i -> j`` (three for the input node) share:

- one ReLU in front of every convolution (ReLU-Conv-BN reads ``relu(x_i)`` on every edge);
- one convolution per conv op: the edges' kernels stacked along the output channels,
  ``conv(relu(x_i), cat_j W_ij)`` (one call with ``k C`` outputs instead of k calls with C);
- one batch norm per conv op over those ``k C`` channels (BN is per channel, so this is each
  edge's own BN), with the mixing weight of each edge folded in as the BN scale:
  ``w_ij BN(z) = batch_norm(z, weight=w_ij)`` when the BN has no affine parameters of its own;
- one 3x3 average pooling, computed as a depthwise box-sum convolution divided by the number of
  in-image pixels of each window (``count_include_pad=False``), exact in floating point.

Parameters and running statistics stay those of the per-edge modules (the same state dict and
checkpoints as the plain path): stacked kernels are concatenated each forward, so gradients flow
back to each edge's own kernel, and updated running statistics are copied back into each edge's
BN. Sums run in another order than the plain loop, so results agree to float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench_toolkit.spaces import nb201

CONV_OPS = ("nor_conv_1x1", "nor_conv_3x3")


def box_mean_3x3(x: torch.Tensor) -> torch.Tensor:
    """``avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)`` as a depthwise 3x3
    box-sum convolution over the count of in-image pixels (oneDNN's depthwise path is several
    times faster than its average pooling, NCHW and channels-last alike)."""
    channels, height, width = x.shape[1], x.shape[-2], x.shape[-1]
    ones = torch.ones(channels, 1, 3, 3, dtype=x.dtype, device=x.device)
    count = F.conv2d(torch.ones(1, 1, height, width, dtype=x.dtype, device=x.device),
                     torch.ones(1, 1, 3, 3, dtype=x.dtype, device=x.device), padding=1)
    return F.conv2d(x, ones, padding=1, groups=channels) / count


def _grouped_batch_norm(z: torch.Tensor, norms: Sequence[nn.BatchNorm2d], scale: torch.Tensor) -> torch.Tensor:
    """Each of ``norms`` (affine=False) on its C-channel slice of ``z``, output times ``scale``;
    running statistics updated in the modules exactly as their own forward would."""
    first = norms[0]
    tracking = first.running_mean is not None
    training = first.training or not tracking
    if not tracking:
        return F.batch_norm(z, None, None, scale, None, True, first.momentum, first.eps)
    if len(norms) == 1:
        mean, var = first.running_mean, first.running_var
    else:
        mean = torch.cat([bn.running_mean for bn in norms])
        var = torch.cat([bn.running_var for bn in norms])
    out = F.batch_norm(z, mean, var, scale, None, training, first.momentum, first.eps)
    if training:
        with torch.no_grad():
            torch._foreach_add_([bn.num_batches_tracked for bn in norms], 1)
            if len(norms) > 1:
                channels = first.num_features
                torch._foreach_copy_([bn.running_mean for bn in norms], list(mean.split(channels)))
                torch._foreach_copy_([bn.running_var for bn in norms], list(var.split(channels)))
    return out


def fused_cell_forward(edges: nn.ModuleList, op_names: Sequence[str], x: torch.Tensor, weights: torch.Tensor,
                       alive: Sequence[Sequence[bool]] | None = None) -> torch.Tensor:
    """Output node of one NB201 search cell whose edge ``e`` is the mixed op ``edges[e]`` over
    ``op_names`` weighted by ``weights[e]``; ops with ``alive[e][k]`` false are left out."""
    nodes = [x]
    sums: dict[int, torch.Tensor] = {}

    def add(target: int, term: torch.Tensor) -> None:
        sums[target] = term if target not in sums else sums[target] + term

    def add_scaled(target: int, term: torch.Tensor, weight: torch.Tensor) -> None:
        sums[target] = term * weight if target not in sums else torch.addcmul(sums[target], term, weight)

    for source in range(nb201.NUM_NODES - 1):
        inputs = nodes[source]
        outgoing = [(e, target) for e, (s, target) in enumerate(nb201.EDGES) if s == source]
        rectified = pooled = None
        for k, name in enumerate(op_names):
            live = [(e, target) for e, target in outgoing if alive is None or alive[e][k]]
            if not live or name == "none":
                continue
            if name == "skip_connect":
                for e, target in live:
                    add_scaled(target, inputs, weights[e, k])
            elif name == "avg_pool_3x3":
                pooled = box_mean_3x3(inputs) if pooled is None else pooled
                for e, target in live:
                    add_scaled(target, pooled, weights[e, k])
            else:  # nor_conv_*: ReLU-Conv-BN
                rectified = inputs.relu() if rectified is None else rectified
                blocks = [edges[e].ops[k] for e, _ in live]
                kernel = torch.cat([block[1].weight for block in blocks]) if len(blocks) > 1 else blocks[0][1].weight
                z = F.conv2d(rectified, kernel, padding=kernel.shape[-1] // 2)
                channels = blocks[0][1].out_channels
                scale = weights[[e for e, _ in live], k].repeat_interleave(channels)
                normalised = _grouped_batch_norm(z, [block[2] for block in blocks], scale)
                # split, not slicing: one backward for all parts (slices would each zero-fill a full-size gradient)
                for (_, target), part in zip(live, normalised.split(channels, dim=1)):
                    add(target, part)
        nodes.append(sums.pop(source + 1) if source + 1 in sums else inputs.mul(0.0))  # all its edges pruned
    return nodes[-1]
