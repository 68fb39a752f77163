"""ENAS (the NB201 reference's ENAS.py): the controller's sample and its log-probability by hand,
REINFORCE moves the controller towards a rewarded op, and the search end to end with an exact
resume."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from bench_toolkit.search.differentiable import config_for, get_method
from bench_toolkit.search.differentiable.controller import ControllerPaths, LSTMController
from resume_check import assert_resume_is_exact

TINY = {"images_per_class": 8, "resolution": 8, "channels": 4, "batch_size": 16, "select_candidates": 4,
        "select_batch_size": 16, "controller_train_steps": 2, "controller_num_aggregate": 3}


def test_controller_log_probability_and_entropy_by_hand():
    """A batch of cells, drawn at once, against each cell's path replayed alone, step by step."""
    torch.manual_seed(0)
    controller = LSTMController(n_ops=5)
    log_prob, entropy, cells = controller.sample(torch.Generator().manual_seed(1), count=4)
    assert cells.shape == (4, 6) and log_prob.shape == entropy.shape == (4,)
    assert len({tuple(c) for c in cells.tolist()}) > 1  # independent draws, not one cell repeated
    for cell, cell_log_prob, cell_entropy in zip(cells, log_prob, entropy):
        # the log-softmax of each step's logits at the op picked, summed; the entropies, summed
        step_input, state, expected_lp, expected_h = controller.start, None, 0.0, 0.0
        for pick in cell:
            logits, state = controller.logits(step_input, state)
            assert logits.abs().max() <= 2.5  # 2.5 * tanh(.)
            log_p = logits[0].detach().log_softmax(-1)
            expected_lp += float(log_p[pick])
            expected_h -= float((log_p.exp() * log_p).sum())
            step_input = controller.embed(pick.view(1)).view(1, 1, -1)
        assert float(cell_log_prob.detach()) == pytest.approx(expected_lp, abs=1e-5)
        assert float(cell_entropy.detach()) == pytest.approx(expected_h, abs=1e-5)


class _RewardOpThreeOnEdgeZero(torch.nn.Module):
    """Answers every image right exactly when edge 0 runs op 3, else wrong: a toy reward."""

    def __init__(self):
        super().__init__()
        self.ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
        self.alpha = torch.nn.Parameter(torch.zeros(6, 5))

    def forward(self, x, mixing):
        right = int(mixing.index[0]) == 3
        labels = x[:, 0, 0, 0].long()
        return torch.nn.functional.one_hot(labels if right else (labels + 1) % 2, 2).float()


def test_reinforce_raises_the_probability_of_the_rewarded_op():
    config = config_for("smoke", {}, {"controller_train_steps": 40, "controller_num_aggregate": 5,
                                      "controller_lr": 0.01})
    torch.manual_seed(0)
    policy = ControllerPaths(config)
    labels = torch.tensor([0, 1] * 4)
    data = SimpleNamespace(valid_batches=lambda generator, count: iter(
        [(labels.float().view(-1, 1, 1, 1).expand(-1, 3, 2, 2), labels)] * count))
    before = policy.distribution(None, 0)[0, 3]
    columns = policy.train_between_epochs(_RewardOpThreeOnEdgeZero(), data, torch.Generator().manual_seed(0), 1)
    after = policy.distribution(None, 0)[0, 3]
    assert before == pytest.approx(0.2, abs=0.05) and after > before + 0.05  # measured: 0.21 -> 0.31
    assert 0 < columns["controller_valid_acc"] < 100 and columns["controller_baseline"] > 0


def test_enas_searches_and_resumes_exactly(tmp_path):
    assert get_method("enas").defaults["epochs"] == 310
    config = config_for("smoke", get_method("enas").defaults, {**TINY, "epochs": 2})
    straight = assert_resume_is_exact("enas", config, tmp_path, seed=6)
    assert straight["controller_valid_acc"].between(0, 100).all() and straight["selected_valid_acc"].notna().all()
