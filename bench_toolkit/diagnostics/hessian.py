"""The largest eigenvalue of the Hessian of a loss w.r.t. one (small) parameter tensor.

Zela et al. (ICLR 2020, "Understanding and Robustifying DARTS") track the dominant eigenvalue of
the Hessian of the validation loss w.r.t. the architecture weights alpha; DARTS-ES stops on its
growth. Their reference computes the full Hessian and takes its largest eigenvalue (not the
largest in magnitude, which power iteration would find). alpha is small (NB201: 6 x 5 = 30), so
the Hessian is built exactly from one Hessian-vector product per coordinate (``H e_i`` is the
gradient of ``<grad L, e_i>``, Pearlmutter, 1994), symmetrised, and solved with ``eigvalsh``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def hessian(loss_fn: Callable[[], torch.Tensor], param: torch.Tensor) -> torch.Tensor:
    """The symmetric ``(n, n)`` Hessian of ``loss_fn()`` w.r.t. ``param`` (n = its number of elements)."""
    (grad,) = torch.autograd.grad(loss_fn(), [param], create_graph=True)
    flat = grad.reshape(-1)
    columns = [torch.autograd.grad(flat[i], [param], retain_graph=True)[0].reshape(-1) for i in range(flat.numel())]
    matrix = torch.stack(columns, dim=1).detach().double()
    return (matrix + matrix.T) / 2


def largest_eigenvalue(loss_fn: Callable[[], torch.Tensor], param: torch.Tensor) -> float:
    """The largest (algebraic) eigenvalue of the Hessian of ``loss_fn()`` w.r.t. ``param``."""
    return float(torch.linalg.eigvalsh(hessian(loss_fn, param).cpu())[-1])
