"""How a learning stage is coupled to the previous one (the ``transfer`` of
:class:`~bench_toolkit.search.multilevel.hypergradient.MultiLevel`).

- :func:`l2_transfer`: interleaving learning's ``lambda ||W - W̄_prev||^2`` (IL Eq. 5, 7; lambda = 100).
- :func:`mmd` and :func:`mmd_hinge`: interleaving multi-task NAS's distribution matching (IMTNAS
  Eq. 3-4). From each of a batch of examples, C augmentations form a set; for every pair of sets
  the MMD of their embeddings is computed under the previous stage's weights and under this
  stage's, and the hinge ``max(0, -(d_prev - tau)(d - tau))`` penalises the pairs the two put on
  different sides of the threshold tau.

IMTNAS Table 6's other couplings: ``embedding-l2`` (Romero et al. 2014: the squared distance of the
embeddings the two weights give the same images, :func:`embedding_l2`) and ``similarity``
(Chen et al. 2020a: the previous weights label each pair of images similar or not and this stage
fits the labels -- read here as the hinge of Eq. 4 on each pair's cosine similarity with threshold
``similarity_threshold``, :func:`cosine_similarities`; the paper gives no formula).

The paper's kernel is an RBF "with the scale parameter 0.1", read here as
``f(a, b) = exp(-gamma ||a - b||^2)``, gamma = 0.1. Such a kernel lies in (0, 1], so the MMD of
Eq. 3 is at most 2: at the paper's tau = 5 both MMDs are always below tau and the hinge is 0 for
every pair. The paper's remark that the embeddings' norm adapts the MMD's scale to tau (its
Table 10) cannot hold for a bounded kernel; thresholds below 2 are the ones that act.
"""

from __future__ import annotations

import torch


def l2_transfer(lam: float):
    """``T(A, W, W_prev, learner) = lam * sum ||W - W_prev||^2`` over the encoder's tensors."""

    def transfer(A: torch.Tensor, W: dict, prev: dict, learner: int) -> torch.Tensor:
        return lam * sum(((W[n] - prev[n]) ** 2).sum() for n in W)

    return transfer


def rbf(a: torch.Tensor, b: torch.Tensor, gamma: float) -> torch.Tensor:
    """``exp(-gamma ||a_i - b_j||^2)`` for every row of ``a`` (n, d) and of ``b`` (m, d), the squared
    distance expanded as ``||a_i||^2 + ||b_j||^2 - 2 a_i . b_j``: one matrix product, where explicit
    differences build an (n, m, d) tensor (and again in each derivative), and, unlike
    ``torch.cdist``, differentiable twice, as the hypergradient needs. The expansion cancels
    ``||a||^2`` against ``||a - b||^2``, so it runs in float64 (float32 embeddings of norm 1e3 lose
    the distance to 0.1), and rounding below 0 is cut to 0, so the kernel stays in (0, 1]
    (:data:`MMD_BOUND`); the result has ``a``'s dtype."""
    a64, b64 = a.double(), b.double()
    squared = a64.pow(2).sum(dim=1)[:, None] + b64.pow(2).sum(dim=1)[None, :] - 2 * a64 @ b64.T
    return torch.exp(-gamma * squared.clamp(min=0)).to(a.dtype)


def mmd(z_i: torch.Tensor, z_j: torch.Tensor, gamma: float = 0.1) -> torch.Tensor:
    """IMTNAS Eq. 3 between two sets of C embeddings each (``(C, d)``): the mean kernel within
    each set over distinct pairs, minus twice the mean kernel across them."""
    c = z_i.shape[0]
    if c < 2 or z_j.shape[0] != c:
        raise ValueError(f"Eq. 3 needs two sets of the same size C >= 2, got {z_i.shape[0]} and {z_j.shape[0]}")
    off = ~torch.eye(c, dtype=torch.bool, device=z_i.device)
    within_i = rbf(z_i, z_i, gamma)[off].sum() / (c * (c - 1))
    within_j = rbf(z_j, z_j, gamma)[off].sum() / (c * (c - 1))
    return within_i + within_j - 2 * rbf(z_i, z_j, gamma).mean()


def pairwise_mmd(sets: torch.Tensor, gamma: float = 0.1) -> torch.Tensor:
    """IMTNAS Eq. 3 (as :func:`mmd`) for every pair ``i < j`` of ``sets`` (``(S, C, d)``), in
    ``torch.triu_indices`` order, from one kernel matrix over all ``S * C`` embeddings: its ``C x C``
    blocks, summed, give each set's within-set sum (the diagonal block, self-pairs masked out) and
    each pair's cross sum. A few operations whatever S, where a loop over the S(S-1)/2 pairs ran
    thousands (a GPU launch each, and again in every derivative the hypergradient takes)."""
    s, c = sets.shape[0], sets.shape[1]
    if c < 2:
        raise ValueError(f"Eq. 3 needs sets of C >= 2 embeddings, got C = {c}")
    flat = sets.reshape(s * c, -1)
    off = ~torch.eye(s * c, dtype=torch.bool, device=sets.device)
    blocks = (rbf(flat, flat, gamma) * off).view(s, c, s, c).sum(dim=(1, 3))  # (S, S) block sums
    within = blocks.diagonal() / (c * (c - 1))
    rows, cols = torch.triu_indices(s, s, offset=1, device=sets.device)
    return within[rows] + within[cols] - 2 * blocks[rows, cols] / (c * c)


def mmd_hinge(d_prev: torch.Tensor, d: torch.Tensor, tau: float = 5.0) -> torch.Tensor:
    """IMTNAS Eq. 4: ``sum max(0, -(d_prev - tau)(d - tau))`` over the pairs."""
    return torch.clamp(-(d_prev - tau) * (d - tau), min=0).sum()


MMD_BOUND = 2.0
"""The largest MMD (Eq. 3) under a kernel with values in [0, 1]: two within-set means of at most 1
each, minus twice a non-negative cross mean. Floating point keeps it: a rounded mean of numbers
at most 1 is at most 1."""


def mmd_hinge_vanishes(tau: float, gamma: float) -> bool:
    """Whether Eq. 4's hinge is zero, with a zero gradient, whatever the embeddings: with the RBF
    kernel's values in (0, 1] (``gamma >= 0``) every MMD is at most :data:`MMD_BOUND`, so for
    ``tau > 2`` both factors of ``-(d_prev - tau)(d - tau)`` are negative, the clamp's input is
    below 0 and nothing passes it. The paper's tau = 5 is such a threshold."""
    return gamma >= 0 and tau > MMD_BOUND


def embedding_l2(z: torch.Tensor, z_prev: torch.Tensor) -> torch.Tensor:
    """The mean over images of ``||z - z_prev||^2`` (embeddings ``(n, d)`` of the same images)."""
    return (z - z_prev).pow(2).sum(dim=1).mean()


def cosine_similarities(z: torch.Tensor) -> torch.Tensor:
    """The cosine similarity of every pair ``i < j`` of the rows of ``z``, in ``torch.triu_indices`` order."""
    unit = torch.nn.functional.normalize(z, dim=1)
    rows, cols = torch.triu_indices(z.shape[0], z.shape[0], offset=1)
    return (unit[rows] * unit[cols]).sum(dim=1)
