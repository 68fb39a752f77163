"""What one forward pass costs: FLOPs counted by ``torch.utils.flop_counter`` (convolutions and
matrix products; a multiply-add is two FLOPs), in eval mode, without gradients."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_flops(model: nn.Module, x: torch.Tensor) -> int:
    """FLOPs of ``model(x)``; the model's train/eval mode is restored afterwards."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    model.train(was_training)
    return counter.get_total_flops()
