"""IF-NAS (Tian et al.): the supernet's node formula, the interleaving-free phases, the Eq. 3
regulariser by hand, pruning that never revives and stops at the multiply-add bound, the search
schedule, and the method end to end with resume."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench_toolkit.cli import main
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.data.batches import PairedBatches
from bench_toolkit.data.images import ImageSet
from bench_toolkit.nn.lchain_network import LChainStage, LChainSupernet
from bench_toolkit.nn.supernet import Mixing
from bench_toolkit.search.differentiable import config_for, get_method
from bench_toolkit.search.differentiable.interleaving_free import InterleavingFree, discretisation_loss
from bench_toolkit.spaces import lchain
from resume_check import assert_resume_is_exact

STAGES, L = (6, 6, 6), 3


def _data(resolution: int = 8) -> PairedBatches:
    rng = np.random.default_rng(0)
    images = ImageSet(rng.integers(0, 255, (20, resolution, resolution, 3), dtype=np.uint8), np.arange(20) % 10,
                      tuple(str(k) for k in range(10)), "random")
    return PairedBatches(images, images, 10)


def _policy(**kwargs) -> tuple[InterleavingFree, LChainSupernet]:
    settings = {"warmup_epochs": 1, "alpha_delay": 1, "step_iterations": 2, "epochs": 5, "channels": 4, **kwargs}
    policy = InterleavingFree(STAGES, L, **settings)
    model = LChainSupernet(10, STAGES, L, 4)
    policy.bind(model, _data())
    return policy, model


def test_a_node_is_two_over_m_times_its_weighted_connections():
    torch.manual_seed(0)
    stage = LChainStage(3, [(0, 1, lchain.OPS), (0, 2, lchain.OPS), (1, 2, lchain.OPS)], 4, 4, first=True).eval()
    x = torch.randn(2, 4, 5, 5)
    weights, edges = torch.rand(3, 2), torch.rand(3)
    skip_only = [[False, True]] * 3
    x0 = stage.entry(x)
    node1 = 2 / 1 * edges[0] * weights[0, 1] * x0
    node2 = 2 / 2 * (edges[1] * weights[1, 1] * x0 + edges[2] * weights[2, 1] * node1)
    assert torch.allclose(stage(x, weights, edges, skip_only), node2, atol=1e-6)
    # with sep_conv_3x3 alive as well, the op's output enters with its weight
    both = [[True, True], [False, True], [False, True]]
    node1 = 2 * edges[0] * (weights[0, 0] * stage.ops[0][0](x0) + weights[0, 1] * x0)
    node2 = edges[1] * weights[1, 1] * x0 + edges[2] * weights[2, 1] * node1
    assert torch.allclose(stage(x, weights, edges, both), node2, atol=1e-6)


def test_the_channels_last_supernet_computes_what_the_plain_one_does():
    """``fast`` (the default) builds the supernet channels-last: the same loss and gradients, to
    float rounding, as the plain memory order, from the same initial weights."""
    torch.manual_seed(0)
    plain = LChainSupernet(10, STAGES, L, 4)
    fast = LChainSupernet(10, STAGES, L, 4, channels_last=True)
    fast.load_state_dict(plain.state_dict())
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in fast.parameters() if w.dim() == 4)
    x, y = torch.randn(6, 3, 8, 8), torch.arange(6)
    alive = torch.rand(len(plain.alpha), 2) > 0.3
    for model in (plain, fast):
        mixing = Mixing(weights=model.alpha.sigmoid(), alive=alive)
        torch.nn.functional.cross_entropy(model(x, mixing), y).backward()
    for (name, a), b in zip(plain.named_parameters(), fast.parameters()):
        if a.grad is None:  # a pruned op's weights
            assert b.grad is None, name
        else:
            assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-6), name
    assert sum(p.grad is not None for p in fast.parameters()) > len(list(fast.parameters())) // 2


def test_regulariser_by_hand():
    w = torch.tensor([0.2, 0.6])
    expected = math.log(1 + 0.2 / 0.4) + math.log(1 + 0.6 / 0.4)  # ln 1.5 + ln 2.5
    assert float(discretisation_loss([w])) == pytest.approx(expected, rel=1e-6)
    assert float(discretisation_loss([w, torch.tensor([0.9])])) == pytest.approx(expected, rel=1e-6)  # one member: left out
    # equal weights maximise it (ln 2 each): the penalty pushes weights apart, towards 0 and 1
    assert float(discretisation_loss([torch.tensor([0.4, 0.4])])) == pytest.approx(2 * math.log(2))
    assert float(discretisation_loss([torch.tensor([0.4, 0.4])])) > expected


def test_regulariser_of_the_policy_sums_nodes_and_connections():
    policy, model = _policy(sampling="none", mu1=1.0, mu2=1.0, mu_start=0, mu_ramp=1)
    with torch.no_grad():
        model.beta.normal_()
        model.alpha.normal_()
    g_beta, g_alpha = model.beta.sigmoid(), model.alpha.sigmoid()
    nodes = [g_beta[rows] for rows in policy.node_rows]
    connections = [g_alpha[r] for r in range(len(policy.links))]
    expected = (discretisation_loss(nodes) + discretisation_loss(connections)).detach()
    assert float(policy.regulariser(model.alpha, model.beta, epoch=1).detach()) == pytest.approx(float(expected), rel=1e-6)
    assert policy.mu(0) == (0.0, 0.0) and policy.mu(1) == (1.0, 1.0)


def test_phases_cycle_warm_up_then_each_group_and_hold_no_interleaved_pair():
    policy, _ = _policy()
    phases = []
    for step in range(10):
        policy.before_step(step, epoch=1)
        phases.append(policy.phase())
    assert phases == [-1, -1, 0, 0, 1, 1, 2, 2, -1, -1]  # L + 1 = 4 steps of 2 iterations
    policy.before_step(0, epoch=0)
    assert policy.phase() is None  # the warm-up epochs train the whole supernet
    for group in range(L):
        active, trained = policy.rows(group)
        for k in range(len(STAGES)):
            links = [(a, b) for (s, a, b), on in zip(policy.links, active) if on and s == k]
            assert lchain.count_interleaved(links) == 0
            assert sorted(links) == sorted(lchain.sub_supernet(STAGES[k], L, group))
        assert all(lchain.group_of(b, L) == group for (_, _, b), on in zip(policy.links, trained) if on)


def test_a_sub_supernet_moves_only_its_groups_architecture():
    policy, model = _policy()
    policy.before_step(2, epoch=3)  # phase 0, alpha and beta both released (epoch >= 1 + 1)
    _, trained = policy.rows(policy.phase())
    x = torch.randn(4, 3, 8, 8)
    model(x, policy(model.alpha, torch.Generator(), 3)).sum().backward()
    policy.adjust_arch_gradients(3)
    moved = (model.beta.grad != 0).numpy()
    assert moved[trained].all() and not moved[~trained].any()
    assert (model.alpha.grad.abs().sum(dim=1) != 0).numpy().tolist() == trained.tolist()
    policy.before_step(0, epoch=3)
    assert policy.arch_frozen(3)  # the loop's warm-up step
    model.alpha.grad = torch.ones_like(model.alpha)
    policy.adjust_arch_gradients(epoch=1)  # beta released at 1, alpha only from 2
    assert model.alpha.grad is None


def test_pruning_removes_the_weak_never_revives_and_keeps_an_input_per_node():
    policy, model = _policy(threshold=0.3)
    with torch.no_grad():
        model.beta.fill_(-5.0)  # every connection far below the threshold
        model.alpha.fill_(2.0)
        model.alpha[:, 1] = -5.0  # every skip_connect below it
    policy.after_epoch(model.alpha, epoch=2)
    arch = policy.arch()
    assert all(len(pairs) == 1 for stage in arch.stages for pairs in stage if pairs)  # one input, one op each
    assert all(op == "sep_conv_3x3" for stage in arch.stages for pairs in stage for op, _ in pairs)
    before = policy.alive.copy()
    with torch.no_grad():
        model.beta.fill_(5.0)
        model.alpha.fill_(5.0)
    policy.after_epoch(model.alpha, epoch=3)
    assert np.array_equal(policy.alive, before)  # strong again, still gone
    assert policy.columns(3)["live_connections"] == sum(len(links) for links in arch.links())


def test_pruning_stops_at_the_multiply_add_bound_and_ends_the_search():
    policy, model = _policy(threshold=0.3)
    full = policy.retained_madds
    bound = full * 0.9
    policy.madds_bound = bound
    with torch.no_grad():
        model.beta.fill_(-5.0)
        model.alpha.fill_(-5.0)
    policy.after_epoch(model.alpha, epoch=2)
    assert policy.finished() and policy.retained_madds <= bound
    assert policy.alive.sum() > policy.arch().stages[0].__len__()  # stopped early: far from one op per node
    # without gradual pruning nothing goes until the last epoch, which then cuts down to the bound
    lazy, model = _policy(threshold=0.3, gradual=False, madds_bound=bound)
    with torch.no_grad():
        model.beta.fill_(-5.0)
    lazy.after_epoch(model.alpha, epoch=4)
    assert lazy.alive.all() and not lazy.finished()
    lazy.after_epoch(model.alpha, epoch=5)
    assert lazy.finished()


@pytest.mark.parametrize("sampling", ["interleaving-free", "reference"])
def test_if_nas_searches_end_to_end_and_resumes_exactly(tmp_path, sampling):
    method = get_method("if-nas")
    config = config_for("smoke", method.defaults, {
        "images_per_class": 8, "resolution": 8, "channels": 4, "batch_size": 16, "epochs": 3, "warmup_epochs": 1,
        "if_alpha_delay": 1, "if_step_iterations": 1, "if_mu_start": 1, "if_mu_ramp": 1, "if_threshold": 0.5,
        "if_sampling": sampling})
    assert config.stage_nodes == (8, 4, 4) and config.single_level and config.alpha_init_std == 1e-5
    history = assert_resume_is_exact("if-nas", config, tmp_path, seed=0)
    assert {"madds_m", "depth", "live_connections", "interleaved_pairs"} <= set(history.columns)
    assert history["arch"].map(lambda text: lchain.parse_arch(text).depth()).tolist() == history["depth"].tolist()
    assert history["live_ops"].iloc[-1] < history["live_ops"].iloc[0]  # threshold 0.5: about half go


def test_the_space_and_the_method_refuse_each_other_otherwise(tmp_path, capsys):
    assert main(["search", "--algo", "darts-v1", "--space", "lchain", "--scale", "smoke", "--out", str(tmp_path / "a")]) == 2
    assert "searched by if-nas" in capsys.readouterr().err
    assert main(["search", "--algo", "if-nas", "--space", "nb201", "--scale", "smoke", "--out", str(tmp_path / "b")]) == 2
    assert "lchain space only" in capsys.readouterr().err
    assert main(["search", "--algo", "if-nas", "--scale", "smoke", "--set", "if_sampling=\"sometimes\"",
                 "--out", str(tmp_path / "c")]) == 2
    assert "if_sampling must be one of" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_table_5_adds_interleaved_connections_to_each_sub_supernet():
    policy, _ = _policy(interleaved=2)
    for group in range(L):
        active, trained = policy.rows(group)
        for k in range(len(STAGES)):
            links = [(a, b) for (s, a, b), on in zip(policy.links, active) if on and s == k]
            added = lchain.interleaving_additions(STAGES[k], L, group, 2)
            assert len(added) == 2 and set(added) <= set(links)
            assert lchain.count_interleaved(links) >= 2  # each addition interleaves with the sub-supernet
        assert trained.sum() > _policy()[0].rows(group)[1].sum()  # the additions train with the group


def test_one_input_per_node_keeps_the_strongest_and_random_draws_any():
    stages = (4, 4, 4)
    rows = len(lchain.row_names(stages, 2))
    alive = np.ones((rows, 2), dtype=bool)
    beta = np.zeros(rows)
    alpha = np.zeros((rows, 2))
    names = lchain.row_names(stages, 2)
    beta[names.index("s1.1->3")] = 1.0  # node 3 of stage 1 prefers its pre-2 input...
    alpha[names.index("s1.1->3"), 1] = 1.0  # ... through skip_connect
    arch = lchain.one_input_per_node(stages, 2, alive, beta, alpha)
    assert arch.stages[0][2] == (("skip_connect", 1),)
    assert all(len(pairs) == 1 for stage in arch.stages for pairs in stage if pairs)
    draws = {lchain.random_one_input(stages, 2, np.random.default_rng(seed)).stages[0][2] for seed in range(40)}
    assert draws == {(("sep_conv_3x3", 1),), (("skip_connect", 1),), (("sep_conv_3x3", 2),), (("skip_connect", 2),)}


def test_the_probe_trains_only_the_candidates_of_one_node_beside_the_chain():
    # Fig. 1d: node 7 of stage 1 chooses among nodes 6, 4 and 1; (1, 4), (2, 6), (3, 7) added
    stages = (10, 4, 4)
    policy = InterleavingFree(stages, 6, "probe", warmup_epochs=1, channels=4,
                              probe=(1, 7, (6, 4, 1), (1, 4, 2, 6, 3, 7)))
    model = LChainSupernet(10, stages, 6, 4)
    policy.bind(model, _data())
    active, trained = policy.rows(policy.phase())
    on = {(k + 1, a, b) for (k, a, b), flag in zip(policy.links, active) if flag}
    chain = {(k + 1, n - 1, n) for k, n_nodes in enumerate(stages) for n in range(1, n_nodes)}
    assert on == chain | {(1, 4, 7), (1, 1, 7), (1, 1, 4), (1, 2, 6), (1, 3, 7)}
    assert {(k + 1, a, b) for (k, a, b), flag in zip(policy.links, trained) if flag} == {(1, 6, 7), (1, 4, 7), (1, 1, 7)}
    model(torch.randn(2, 3, 8, 8), policy(model.alpha, torch.Generator(), 2)).sum().backward()
    assert ((model.beta.grad != 0).numpy() == trained).all()
    with pytest.raises(BenchToolkitError, match=r"\(0, 7\) in stage 1 is not a connection"):
        config_for("smoke", get_method("if-nas").defaults, {"if_sampling": "probe", "L": 6, "stage_nodes": [10, 4, 4],
                                                            "if_probe_sources": [6, 0]})


def test_pc_darts_in_the_space_mixes_a_quarter_of_the_channels_and_shuffles():
    from bench_toolkit.nn.supernet import channel_shuffle

    torch.manual_seed(0)
    stage = LChainStage(2, [(0, 1, lchain.OPS)], 8, 8, first=True, partial_channels=4).eval()
    assert stage.ops[0][0][0][1].in_channels == 2  # sep_conv_3x3 on C/K = 2 channels
    x = torch.randn(2, 8, 5, 5)
    weights, edges = torch.rand(1, 2), torch.rand(1)
    x0 = stage.entry(x)
    mixed = weights[0, 0] * stage.ops[0][0](x0[:, :2]) + weights[0, 1] * x0[:, :2]
    expected = 2 * edges[0] * channel_shuffle(torch.cat([mixed, x0[:, 2:]], dim=1), 4)
    assert torch.allclose(stage(x, weights, edges, [[True, True]]), expected, atol=1e-6)
