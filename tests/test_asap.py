"""ASAP and the pruning baselines: schedules by hand, pruning for good, no compute and no gradient
for pruned ops, termination with one op per edge."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from bench_toolkit.diagnostics.recorder import normalized_entropy
from bench_toolkit.nn.supernet import MixedOp
from bench_toolkit.search.differentiable import config_for, run_supernet_search
from bench_toolkit.search.differentiable.mixing import AnnealPrune, ScheduledPruning
from bench_toolkit.spaces import nb201


def test_fixed_schedule_and_threshold_by_hand():
    asap = AnnealPrune(n_ops=5)
    assert asap.temperature(0) == 1.3
    assert asap.temperature(10) == pytest.approx(1.3 * 0.95**10)
    assert asap.temperature(50) == pytest.approx(0.1, abs=1e-4)  # "T ~ 0.1 at the end of the search" (Sec. 4.1)
    assert asap.threshold(0) == asap.threshold(40) == pytest.approx(0.08)  # 0.4 / N


def test_theorem_schedule_by_hand():
    """Theorem 2's t counts alpha steps after the grace cycles (Algorithm 1's iterations)."""
    asap = AnnealPrune(n_ops=5, grace_epochs=5, policy="theorem", eta=0.01, bound=2.0, delta=0.1, nu=0.1)
    uniform = torch.zeros(6, 5)  # Phi = 0.2 everywhere: above every threshold, nothing is pruned
    for epoch in (3, 4):  # grace cycles do not count
        asap.after_alpha_step(uniform, epoch)
    for _ in range(2):  # two alpha steps at epoch 7: the next one is the third
        asap.after_alpha_step(uniform, 7)
    t = 3
    rho = t / (t + math.log(1 / (5 * 0.1)))
    assert asap.temperature(7) == pytest.approx(0.01 * 2.0 * rho * math.sqrt(8 / t * math.log(math.pi**2 * 5 * t**2 / 0.3)))
    assert asap.threshold(30) == pytest.approx(0.1 * math.exp(-3))  # the epoch does not enter
    restored = AnnealPrune(n_ops=5, grace_epochs=5, policy="theorem")
    restored.load_state_dict(asap.state_dict())
    assert restored.alpha_steps == 2 and asap.alive.all()


def test_asap_defaults_are_its_papers_settings():
    """Supp. 6.2.1 and Algorithm 1: alpha starts at 0, Adam at a fixed 1e-3 with betas (0.5, 0.999),
    5 grace epochs; T0 = 1.3, beta = 0.95 (Sec. 4.1)."""
    from bench_toolkit.data.batches import PairedBatches
    from bench_toolkit.data.images import balanced_halves
    from bench_toolkit.data.readers import read_data
    from bench_toolkit.search.differentiable import SupernetSearch, get_method

    config = config_for("smoke", get_method("asap").defaults, {})
    assert (config.a_lr, config.a_beta1, config.a_beta2, config.warmup_epochs) == (1e-3, 0.5, 0.999, 5)
    assert (config.asap_t0, config.asap_beta) == (1.3, 0.95)
    data = PairedBatches(*balanced_halves(read_data("digits", 20)), 16, 8)
    search = SupernetSearch(get_method("asap"), config, data, None, seed=0)
    assert torch.count_nonzero(search.model.alpha) == 0
    darts = SupernetSearch(get_method("darts-v1"), config_for("smoke", {}, {}), data, None, seed=0)
    assert 0 < darts.model.alpha.abs().max() < 0.01  # DARTS: 1e-3 * N(0, 1)


def test_an_op_is_pruned_exactly_when_phi_drops_under_theta_and_never_returns():
    asap = AnnealPrune(n_ops=5, grace_epochs=1)
    alpha = torch.zeros(6, 5)
    # Phi at T = 1.3 * 0.95 (epoch 1): op 4 with alpha -x has Phi = e^{-x/T} / (4 + e^{-x/T})
    temperature = 1.3 * 0.95
    just_above = temperature * math.log(4 * 0.0801 / (1 - 0.0801))  # Phi = 0.0801
    just_below = temperature * math.log(4 * 0.0799 / (1 - 0.0799))  # Phi = 0.0799
    alpha[0, 4], alpha[1, 4] = just_above, just_below
    asap.after_alpha_step(alpha, epoch=0)  # grace cycle: nothing is pruned
    assert asap.alive.all()
    asap.after_alpha_step(alpha, epoch=1)
    assert asap.alive[0, 4] and not asap.alive[1, 4] and asap.alive.sum() == 29
    alpha[1, 4] = 10.0  # the op would now be the best one ...
    asap.after_alpha_step(alpha, epoch=1)
    assert not asap.alive[1, 4]  # ... but stays pruned
    mixing = asap(alpha, None, 1)
    assert mixing.weights[1, 4] == 0 and mixing.weights[1].sum() == pytest.approx(1.0)


def test_a_pruned_op_costs_no_compute_and_gets_no_gradient():
    op = MixedOp(nb201.OPS, channels=2, affine=False, track=True)
    calls = {name: 0 for name in nb201.OPS}
    for name, module in zip(nb201.OPS, op.ops):
        module.register_forward_hook(lambda m, i, o, name=name: calls.__setitem__(name, calls[name] + 1))
    asap = AnnealPrune(n_ops=5)
    asap.alive[0, nb201.OPS.index("nor_conv_3x3")] = False
    alpha = torch.zeros(6, 5, requires_grad=True)
    mixing = asap(alpha, None, 6)
    out = op(torch.randn(2, 2, 4, 4), mixing.weights[0], None, mixing.alive[0].tolist())
    out.sum().backward()
    assert calls["nor_conv_3x3"] == 0 and calls["nor_conv_1x1"] == 1
    assert alpha.grad[0, nb201.OPS.index("nor_conv_3x3")] == 0
    assert alpha.grad[0, nb201.OPS.index("nor_conv_1x1")] != 0


def test_uniform_alpha_has_entropy_one_under_the_asap_distribution():
    asap = AnnealPrune(n_ops=5)
    assert normalized_entropy(asap.distribution(np.zeros((6, 5)), 3)) == pytest.approx(np.ones(6))
    asap.alive[:, 1:] = False  # one op left everywhere: entropy 0
    assert normalized_entropy(asap.distribution(np.zeros((6, 5)), 3)) == pytest.approx(np.zeros(6))
    assert asap.finished()


def test_sparsity_schedule_of_the_pruning_baselines_by_hand():
    linear, cubic = ScheduledPruning(5, power=1, start=20, end=50), ScheduledPruning(5, power=3, start=20, end=50)
    assert linear.target_sparsity(10) == 0.0 and linear.target_sparsity(20) == 0.0
    assert linear.target_sparsity(35) == pytest.approx(0.8 * 0.5)  # s_f + (0 - s_f)(1 - 15/30)^1
    assert cubic.target_sparsity(35) == pytest.approx(0.8 * (1 - 0.5**3))
    assert linear.target_sparsity(50) == linear.target_sparsity(70) == pytest.approx(0.8)
    alpha = torch.arange(30, dtype=torch.float64).reshape(6, 5)
    linear.after_epoch(alpha, 35)
    assert linear.alive.size - linear.alive.sum() == round(0.4 * 30)
    assert (linear.alive.sum(axis=1) >= 1).all()
    linear.after_epoch(alpha, 50)
    assert (linear.alive.sum(axis=1) == 1).all()
    assert linear.alive[:, 4].all()  # the largest alpha of each edge survives magnitude pruning


TINY = {"images_per_class": 16, "resolution": 8, "channels": 4, "batch_size": 16}


def test_asap_search_ends_with_one_op_per_edge(tmp_path):
    settings = {**TINY, "epochs": 60, "a_lr": 0.3, "asap_t0": 0.3, "asap_beta": 0.8}  # fast annealing
    config = config_for("smoke", {"warmup_epochs": 1}, settings)
    history = run_supernet_search("asap", config, "digits", "analog", [0], tmp_path / "asap")
    live = history[[f"live.{i}->{j}" for i, j in nb201.EDGES]]
    assert (live.iloc[-1] == 1).all() and len(history) < 60  # ended early: one op per edge
    assert (live.diff().fillna(0) <= 0).all().all()  # ops only ever disappear
    assert history["sparsity"].iloc[-1] == pytest.approx(0.8) and history["sparsity"].iloc[0] == 0.0
    assert history["temperature"].tolist()[:2] == pytest.approx([0.3, 0.3 * 0.8])
    assert history["entropy"].iloc[-1] == pytest.approx(0.0, abs=1e-9)
    alphas = pd.read_parquet(tmp_path / "asap" / "alphas.parquet")
    assert alphas[alphas.epoch == history.epoch.max()].groupby("edge")["weight"].max().eq(1.0).all()
    # each epoch's weights under that epoch's alive mask: as many non-zero weights per edge as ops
    # were alive then (not the final mask applied to every past epoch), summing to 1
    nonzero = alphas.assign(alive=alphas["weight"] > 0).pivot_table(index="epoch", columns="edge", values="alive", aggfunc="sum")
    expected = history.set_index("epoch")[[f"live.{i}->{j}" for i, j in nb201.EDGES]]
    expected.columns = [c.removeprefix("live.") for c in expected.columns]
    pd.testing.assert_frame_equal(nonzero[expected.columns].astype(int), expected.astype(int), check_names=False)
    assert np.allclose(alphas.groupby(["epoch", "edge"])["weight"].sum(), 1.0)


def test_pruning_baseline_search_runs_its_schedule(tmp_path):
    config = config_for("smoke", {}, {**TINY, "epochs": 4, "prune_start": 1, "prune_end": 3, "prune_power": 3})
    history = run_supernet_search("prune-accumgrad", config, "digits", None, [0], tmp_path / "prune")
    assert history["sparsity"].tolist() == pytest.approx([0.0, round(0.8 * (1 - 0.5**3) * 30) / 30, 0.8])
