"""Dominant eigenvalue of a loss Hessian by power iteration on Hessian-vector products.

Zela et al. (ICLR 2020, "Understanding and Robustifying DARTS") track the dominant eigenvalue of
the Hessian of the validation loss w.r.t. the architecture weights alpha; DARTS-ES stops on its
growth. ``H v`` is the gradient of ``<grad L, v>`` (Pearlmutter, 1994), so the Hessian is never
formed. Power iteration converges to the eigenvalue of largest magnitude.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def dominant_eigenvalue(loss_fn: Callable[[], torch.Tensor], param: torch.Tensor, iterations: int = 20,
                        seed: int = 0) -> float:
    """The Rayleigh quotient ``v^T H v`` after ``iterations`` power steps ``v <- H v / ||H v||``,
    from a start vector drawn with ``seed`` (its own generator: the search's RNG is untouched)."""
    (grad,) = torch.autograd.grad(loss_fn(), [param], create_graph=True)
    start = torch.randn(param.shape, generator=torch.Generator().manual_seed(seed), dtype=param.dtype)
    v = (start / start.norm()).to(param.device)
    eigenvalue = torch.zeros((), dtype=param.dtype)
    for _ in range(iterations):
        (hv,) = torch.autograd.grad(grad, [param], grad_outputs=v, retain_graph=True)
        eigenvalue = (v * hv).sum()
        norm = hv.norm()
        if norm == 0:
            break
        v = hv / norm
    return float(eigenvalue)
