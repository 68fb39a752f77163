"""DrNAS (Chen et al., ICLR 2021): Dirichlet samples with the right mean and a pathwise gradient,
the reported distribution, and the search end to end (Hessian included) with an exact resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from bench_toolkit.search.differentiable import config_for, get_method
from bench_toolkit.search.differentiable.mixing import DirichletMixing
from resume_check import assert_resume_is_exact

TINY = {"images_per_class": 8, "resolution": 8, "channels": 4, "batch_size": 16}


def test_dirichlet_samples_have_the_concentrations_mean():
    alpha = torch.tensor([[0.5, -0.5, 2.0, 0.0, -2.0]] * 6)
    beta = torch.where(alpha > 0, alpha + 1, torch.exp(alpha))  # elu(a) + 1, by cases
    torch.manual_seed(0)
    samples = torch.stack([DirichletMixing()(alpha, torch.Generator(), 0).weights for _ in range(4000)])
    assert torch.allclose(samples.sum(-1), torch.ones(4000, 6), atol=1e-5)  # on the simplex
    mean = beta / beta.sum(-1, keepdim=True)  # [0.2466, 0.0997, 0.4931, 0.1644, 0.0222] (hand: 1.5, .607, 3, 1, .135)
    assert torch.allclose(samples.mean(dim=(0, 1)), mean[0], atol=0.005)  # 24,000 draws per op
    assert np.allclose(DirichletMixing().distribution(alpha.double().numpy(), 0), mean.double().numpy())


def test_dirichlet_weights_carry_a_gradient_to_alpha():
    alpha = torch.zeros(6, 5, requires_grad=True)
    torch.manual_seed(1)
    weights = DirichletMixing()(alpha, torch.Generator(), 0).weights
    (weights[:, 2].sum()).backward()  # pushing op 2's weight up ...
    assert alpha.grad[:, 2].gt(0).all()  # ... raises its concentration: a pathwise gradient exists


def test_drnas_searches_and_resumes_exactly_with_the_hessian(tmp_path):
    method = get_method("drnas")
    assert (method.defaults["epochs"], method.defaults["alpha_first"]) == (100, True)
    config = config_for("smoke", method.defaults, {**TINY, "epochs": 2, "hessian_every": 1})
    straight = assert_resume_is_exact("drnas", config, tmp_path, seed=4)
    assert np.isfinite(straight["hessian_eig"]).all()
    alphas = pd.read_parquet(tmp_path / "straight" / "alphas.parquet")
    assert np.allclose(alphas.groupby(["epoch", "edge"])["weight"].sum(), 1.0)
