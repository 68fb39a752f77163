"""The multi-level hypergradient of interleaving learning: exact (autograd through the unrolled
stages) and the papers' finite-difference approximation, both against a brute-force derivative of
the whole unrolled objective on a tiny problem; the transfer terms (IL's L2, IMTNAS's MMD hinge)
by hand."""

from __future__ import annotations

import pytest
import torch

from bench_toolkit.search.multilevel.hypergradient import (
    MultiLevel, exact_hypergradient, finite_difference_hypergradient, objective, stage_order,
)
from bench_toolkit.search.multilevel.transfer import (
    cosine_similarities, embedding_l2, l2_transfer, mmd, mmd_hinge, mmd_hinge_vanishes, pairwise_mmd, rbf,
)



@pytest.fixture(autouse=True)
def double_precision():
    """Float64 in this module only (the brute-force derivative needs it), restored afterwards."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _problem(K: int = 2, M: int = 2, lam: float = 0.7, head_at_unrolled: bool = False, seed: int = 0) -> MultiLevel:
    """Each learner: features relu(A_0 x W1) + A_1 (x W2)^2 -- an architecture of two mixed ops --
    then a linear head; cross-entropy on its own small random batch; IL's L2 coupling."""
    g = torch.Generator().manual_seed(seed)
    d, c, n = 3, 2, 5
    data = {k: (torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g),
                torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)) for k in range(K)}
    stages = stage_order(K, M)
    weights = {s: {"w1": torch.randn(d, d, generator=g).requires_grad_(), "w2": torch.randn(d, d, generator=g).requires_grad_()}
               for s in stages}
    heads = {s: {"h": torch.randn(d, c, generator=g).requires_grad_()} for s in stages}

    def logits(A, W, H, x):
        return (A[0] * torch.relu(x @ W["w1"]) + A[1] * (x @ W["w2"]) ** 2) @ H["h"]

    def train_loss(A, W, H, k):
        x, y = data[k][0], data[k][1]
        return torch.nn.functional.cross_entropy(logits(A, W, H, x), y)

    def val_loss(A, W, H, k):
        x, y = data[k][2], data[k][3]
        return torch.nn.functional.cross_entropy(logits(A, W, H, x), y)

    return MultiLevel(stages, weights, heads, train_loss, l2_transfer(lam), val_loss, eta=0.05, head_at_unrolled=head_at_unrolled)


def _brute_force(problem: MultiLevel, A: torch.Tensor, h: float = 1e-5) -> torch.Tensor:
    grad = torch.zeros_like(A)
    for i in range(A.numel()):
        step = torch.zeros_like(A)
        step.view(-1)[i] = h
        grad.view(-1)[i] = (objective(problem, (A + step).requires_grad_()) - objective(problem, (A - step).requires_grad_())) / (2 * h)
    return grad


@pytest.mark.parametrize("head_at_unrolled", [False, True])
@pytest.mark.parametrize("K, M", [(2, 2), (3, 1), (2, 3)])
def test_exact_and_finite_difference_hypergradients_match_brute_force(K, M, head_at_unrolled):
    problem = _problem(K, M, head_at_unrolled=head_at_unrolled)
    A = torch.tensor([0.8, 0.3], requires_grad=True)
    brute = _brute_force(problem, A.detach())
    value, exact = exact_hypergradient(problem, A)
    assert torch.allclose(exact, brute, rtol=1e-6, atol=1e-9)
    approx_value, approx = finite_difference_hypergradient(problem, A, radius=1e-4)
    assert float(approx_value) == pytest.approx(float(value), rel=1e-12)
    assert torch.allclose(approx, brute, rtol=1e-4, atol=1e-7)
    # the chain matters: without the stages' second derivatives the gradient is visibly different
    direct = torch.autograd.grad(sum(problem.val_loss(A, {n: w.detach() for n, w in problem.unroll(A, graph=False)[s].items()},
                                                      problem.heads[s], s[1]) for s in problem.final), [A])[0]
    assert not torch.allclose(direct, brute, rtol=1e-2)


def test_stage_order_runs_rounds_in_turn_in_the_task_order():
    assert stage_order(2, 2) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert stage_order(3, 1, [2, 0, 1]) == [(0, 2), (0, 0), (0, 1)]
    with pytest.raises(ValueError, match="each of the 2 learners once"):
        stage_order(2, 1, [0, 0])


# -- transfer terms -----------------------------------------------------------------------------

import math  # noqa: E402


def test_mmd_is_equation_3_by_hand():
    # two sets of C = 2 one-dimensional embeddings: {0, 1} and {0, 3}; gamma = 0.1
    z_i, z_j = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [3.0]])
    k = lambda a, b: math.exp(-0.1 * (a - b) ** 2)  # noqa: E731
    within_i = (k(0, 1) + k(1, 0)) / 2
    within_j = (k(0, 3) + k(3, 0)) / 2
    across = (k(0, 0) + k(0, 3) + k(1, 0) + k(1, 3)) / 4
    assert float(mmd(z_i, z_j)) == pytest.approx(within_i + within_j - 2 * across, rel=1e-12)
    assert float(mmd(z_i, z_i)) == pytest.approx(2 * within_i - 2 * (2 + 2 * k(0, 1)) / 4, rel=1e-12)
    far = torch.tensor([[100.0], [100.5]])
    assert float(mmd(z_i, far)) <= 2.0  # a kernel in (0, 1]: the MMD is at most 2 (module docstring)
    sets = torch.stack([z_i, z_j, far])
    assert torch.allclose(pairwise_mmd(sets), torch.stack([mmd(z_i, z_j), mmd(z_i, far), mmd(z_j, far)]))


def test_rbf_matches_explicit_differences_with_two_derivatives_even_far_from_the_origin():
    # rbf expands ||a - b||^2 through one matrix product; the reference builds every difference.
    # Tight float32 clusters 1e3 from the origin: a float32 expansion would lose the distances.
    g = torch.Generator().manual_seed(2)
    f32 = {"generator": g, "dtype": torch.float32}  # this module's tests run in float64 by default
    centre = 1e3 * torch.randn(1, 4, **f32)
    a = (centre + 0.3 * torch.randn(7, 4, **f32)).requires_grad_(True)
    b = (centre + 0.3 * torch.randn(5, 4, **f32)).requires_grad_(True)
    explicit = lambda x, y: torch.exp(-0.1 * (x.double()[:, None] - y.double()[None]).pow(2).sum(-1))  # noqa: E731
    weights = torch.linspace(-1, 1, 35, dtype=torch.float64).view(7, 5)

    def value_gradient_second(kernel):
        value = kernel(a, b).double()
        (grad,) = torch.autograd.grad((weights * value).sum(), a, create_graph=True)
        (second,) = torch.autograd.grad(grad.pow(2).sum(), b)
        return value.detach(), grad.detach(), second

    ours, reference = value_gradient_second(lambda x, y: rbf(x, y, 0.1)), value_gradient_second(explicit)
    assert rbf(a, b, 0.1).dtype == torch.float32 and 0.2 < float(reference[0].min())  # distances that matter
    for mine, theirs in zip(ours, reference):
        assert torch.allclose(mine, theirs, rtol=1e-5, atol=1e-7)
    assert float(rbf(a, a, 0.1).detach().max()) <= 1.0  # rounding never lifts the kernel above 1


def test_pairwise_mmd_is_equation_3_on_every_pair_with_its_first_and_second_derivatives():
    # pairwise_mmd takes all pairs from one kernel matrix; mmd is Eq. 3 on one pair: values, the
    # gradient and a second derivative (the hypergradient differentiates through it twice) agree
    sets = torch.randn(6, 5, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64).requires_grad_(True)
    looped = lambda z: torch.stack([mmd(z[i], z[j]) for i in range(6) for j in range(i + 1, 6)])  # noqa: E731
    weights = torch.linspace(-1, 1, 15, dtype=torch.float64)

    def value_gradient_second(f):
        value = f(sets)
        (grad,) = torch.autograd.grad((weights * value).sum(), sets, create_graph=True)
        (second,) = torch.autograd.grad(grad.pow(2).sum(), sets)
        return value.detach(), grad.detach(), second

    for ours, reference in zip(value_gradient_second(pairwise_mmd), value_gradient_second(looped)):
        assert torch.allclose(ours, reference, rtol=1e-10, atol=1e-12)


def test_mmd_hinge_penalises_only_pairs_on_different_sides_of_tau():
    d_prev = torch.tensor([0.5, 3.0, 0.5, 3.0])
    d = torch.tensor([0.8, 4.0, 2.5, 0.5])
    # tau = 1: pairs 0 and 1 agree (no penalty); pair 2: -(0.5-1)(2.5-1) = 0.75; pair 3: -(3-1)(0.5-1) = 1.0
    assert float(mmd_hinge(d_prev, d, tau=1.0)) == pytest.approx(1.75)
    assert float(mmd_hinge(d_prev, d, tau=5.0)) == 0.0  # every MMD below tau: no pair is penalised


def test_mmd_hinge_vanishes_with_its_gradient_above_the_kernels_bound():
    """MMD <= 2 under the RBF kernel, so for tau > 2 Eq. 4 is 0 and passes no gradient -- for sets
    from identical (MMD 0) to far apart (MMD near 2, float32 and float64); below the bound it acts."""
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        # 30 sets of C = 4 embeddings in 3 dimensions: tight or loose sets around centres near or far apart
        centre_spread = torch.tensor([0.0, 1.0, 10.0, 1e3, 1e3], dtype=dtype)[:, None, None, None]
        set_spread = torch.tensor([1e-3, 1.0, 0.1, 1e-3, 1.0], dtype=dtype)[:, None, None, None]
        sets = (centre_spread * torch.randn(5, 6, 1, 3, generator=g, dtype=dtype)
                + set_spread * torch.randn(5, 6, 4, 3, generator=g, dtype=dtype)).flatten(0, 1).requires_grad_(True)
        d_prev = pairwise_mmd(sets.detach().flip(0))
        d = pairwise_mmd(sets)
        assert 2.0 - 1e-6 < float(d.detach().max()) <= 2.0 and float(d.detach().min()) < 1e-4
        for tau in (2.0 + 1e-6, 5.0, 100.0):
            assert mmd_hinge_vanishes(tau, gamma=0.1)
            hinge = mmd_hinge(d_prev, d, tau)
            (grad,) = torch.autograd.grad(hinge, sets, retain_graph=True)
            assert float(hinge.detach()) == 0.0 and not grad.any()
        hinge = mmd_hinge(d_prev, d, 1.0)
        (grad,) = torch.autograd.grad(hinge, sets)
        assert not mmd_hinge_vanishes(1.0, gamma=0.1) and float(hinge.detach()) > 0 and grad.any()
    assert not mmd_hinge_vanishes(2.0, gamma=0.1) and not mmd_hinge_vanishes(5.0, gamma=-0.1)  # unbounded kernel


def test_l2_transfer_is_lambda_times_the_squared_distance():
    W, prev = {"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([[3.0]])}, {"a": torch.tensor([0.0, 0.0]), "b": torch.tensor([[1.0]])}
    assert float(l2_transfer(100.0)(None, W, prev, 0)) == pytest.approx(100.0 * (1 + 4 + 4))


def test_table_6_couplings_by_hand():
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    z_prev = torch.tensor([[1.0, 1.0], [0.0, 0.0], [3.0, 4.0]])
    assert float(embedding_l2(z, z_prev)) == pytest.approx((1 + 4 + 0) / 3)
    # pairs (0,1), (0,2), (1,2): cosines 0, 3/5, 4/5
    assert cosine_similarities(z).tolist() == pytest.approx([0.0, 0.6, 0.8])
