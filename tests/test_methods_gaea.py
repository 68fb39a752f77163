"""GAEA (Li et al., ICLR 2021): the exponentiated-gradient step by hand, alpha on the simplex
mixing the ops directly, the single-level (ERM) data, and both variants end to end with resume."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search.differentiable import config_for, get_method, run_supernet_search
from bench_toolkit.search.differentiable.alpha_optimizers import ExponentiatedGradient
from bench_toolkit.search.differentiable.jobs import load_search_data
from bench_toolkit.search.differentiable.mixing import SimplexMixing
from resume_check import assert_resume_is_exact

TINY = {"images_per_class": 8, "resolution": 8, "channels": 4, "batch_size": 16}


def test_exponentiated_gradient_is_multiplicative_then_renormalised():
    alpha = torch.nn.Parameter(torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]]))
    alpha.grad = torch.tensor([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    ExponentiatedGradient([alpha], lr=0.1).step()
    unnormalised = [0.5 * math.exp(-0.1), 0.3, 0.2 * math.exp(0.1)]  # 0.45242, 0.3, 0.22103
    expected = [v / sum(unnormalised) for v in unnormalised]  # 0.46476, 0.30818, 0.22706
    assert alpha[0].tolist() == pytest.approx(expected, abs=1e-6)
    assert alpha[1].tolist() == pytest.approx([0.2, 0.2, 0.6], abs=1e-7)  # zero gradient: unchanged


def test_exponentiated_gradient_floors_weights_before_renormalising():
    alpha = torch.nn.Parameter(torch.tensor([[0.98, 0.01, 0.01]]))
    alpha.grad = torch.tensor([[0.0, 200.0, 0.0]])  # exp(-20) * 0.01 = 2e-11: below the floor
    ExponentiatedGradient([alpha], lr=0.1).step()
    total = 0.98 + 1e-5 + 0.01
    assert alpha[0].tolist() == pytest.approx([0.98 / total, 1e-5 / total, 0.01 / total], rel=1e-5)
    with pytest.raises(BenchToolkitError, match="positive a_lr"):
        ExponentiatedGradient([alpha], lr=0.0)


def test_simplex_mixing_starts_uniform_and_mixes_alpha_without_softmax():
    policy = SimplexMixing()
    alpha = torch.zeros(6, 5)
    policy.initialise(alpha)
    assert torch.equal(alpha, torch.full((6, 5), 0.2))
    alpha = torch.tensor([[0.7, 0.1, 0.1, 0.05, 0.05]] * 6)
    assert torch.equal(policy(alpha, torch.Generator(), 0).weights, alpha)
    assert np.allclose(policy.distribution(alpha.numpy() * 2, 0), alpha.numpy())


def test_single_level_pairs_draw_from_all_search_images():
    sizes = {**TINY, "images_per_class": 16}  # 80 + 80 images: 5 batches of 16 a half
    bilevel = load_search_data("digits", config_for("smoke", {}, sizes))
    erm = load_search_data("digits", config_for("smoke", {}, {**sizes, "single_level": True}))
    assert len(erm.train_y) == len(erm.valid_y) == 2 * len(bilevel.train_y)  # both sides: both halves
    assert len(erm) == 2 * len(bilevel)  # an epoch is one pass over all of them
    assert torch.equal(erm.train_y.sort().values, torch.cat([bilevel.train_y, bilevel.valid_y]).sort().values)


@pytest.mark.parametrize("algo", ["gaea-bilevel", "gaea-erm"])
def test_gaea_searches_stay_on_the_simplex_and_resume_exactly(tmp_path, algo):
    method = get_method(algo)
    assert method.defaults["a_lr"] == 0.1 and method.defaults["alpha_first"]
    assert method.defaults.get("single_level", False) == (algo == "gaea-erm")
    config = config_for("smoke", method.defaults, {**TINY, "epochs": 2})
    assert_resume_is_exact(algo, config, tmp_path, seed=1)
    alphas = pd.read_parquet(tmp_path / "straight" / "alphas.parquet")
    sums = alphas.groupby(["epoch", "edge"])["alpha"].sum()
    assert np.allclose(sums, 1.0, atol=1e-6) and (alphas["alpha"] >= 1e-5 / 1.0001).all()
    assert np.allclose(alphas["alpha"], alphas["weight"])  # the recorded distribution is alpha itself
    assert alphas["alpha"].std() > 1e-3  # alpha moved off the uniform start


def test_exponentiated_gradient_refuses_an_l2_term_before_writing(tmp_path):
    config = config_for("smoke", get_method("gaea-bilevel").defaults, {**TINY, "a_weight_decay": 1e-3})
    with pytest.raises(BenchToolkitError, match="set a_weight_decay=0"):
        run_supernet_search("gaea-bilevel", config, "digits", None, [0], tmp_path / "run")
    assert not (tmp_path / "run").exists()
