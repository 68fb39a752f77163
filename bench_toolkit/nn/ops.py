"""NAS-Bench-201 operations (Dong & Yang, ICLR 2020, Sec. 2.1): ReLU-Conv-BN convolutions, 3x3
average pooling, identity, zero; and the residual block that reduces resolution between stages.
BatchNorm has no affine parameters in the search supernet (``affine=False``), its running
statistics are kept or not (``track_running_stats``)."""

from __future__ import annotations

import torch
from torch import nn


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, affine: bool, track: bool):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track),
        )


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(name: str, channels: int, affine: bool, track: bool) -> nn.Module:
    """One NB201 op on ``channels`` channels, stride 1 (all cell edges keep resolution)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, affine, track)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, affine, track)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NB201 op {name!r}")


class ResidualReduction(nn.Module):
    """The NB201 residual block between stages: two ReLU-Conv-BN 3x3 (the first with stride 2)
    plus a shortcut of 2x2 average pooling and a 1x1 convolution."""

    def __init__(self, c_in: int, c_out: int, affine: bool, track: bool):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, affine, track)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, affine, track)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.shortcut(x)
