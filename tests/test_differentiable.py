"""Differentiable search: DARTS-V2 hypergradient, derivation, recorder values, GDAS sampling,
resume equality, and an end-to-end smoke-scale search."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from bench_toolkit.diagnostics.recorder import derive, edge_softmax, normalized_entropy, operation_magnitudes
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.nn.supernet import Mixing, NB201Supernet
from bench_toolkit.search.differentiable import SearchConfig, config_for, resume_supernet_search, run_supernet_search
from bench_toolkit.search.differentiable.architect import unrolled
from bench_toolkit.search.differentiable.mixing import GumbelMixing, MixingPolicy
from bench_toolkit.spaces import nb201
from resume_check import assert_resume_is_exact


def _tiny_supernet(ops=nb201.OPS, edge_normalisation: bool = False) -> NB201Supernet:
    torch.manual_seed(0)
    model = NB201Supernet(num_classes=3, ops=ops, channels=2, cells_per_stage=1,
                          edge_normalisation=edge_normalisation).double()
    with torch.no_grad():
        for param in model.arch_parameters():
            param.normal_(0, 0.5)
    return model


def _batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(6, 3, 8, 8, generator=g, dtype=torch.float64), torch.randint(0, 3, (6,), generator=g)


@pytest.mark.parametrize("edge_normalisation", [False, True], ids=["alpha", "alpha+beta"])
def test_darts_v2_hypergradient_matches_finite_differences(edge_normalisation):
    """d/d(alpha, beta) of L_val(w - xi (mu b + grad_w L_train(w, alpha) + lambda w), alpha), by
    central differences: the reference's virtual step, momentum included; with PC-DARTS's edge
    normalisation, beta gets the same hypergradient."""
    model = _tiny_supernet(edge_normalisation=edge_normalisation)
    train, valid = _batch(1), _batch(2)
    xi, wd, mu = 0.05, 5e-4, 0.9
    mix = lambda a: MixingPolicy()(a, None, 0)  # noqa: E731
    optimizer = torch.optim.SGD(model.weights(), lr=xi, momentum=mu, weight_decay=wd, nesterov=True)
    x, y = _batch(4)
    F.cross_entropy(model(x, mix(model.alpha.detach())), y).backward()
    optimizer.step()  # one weight step, so the momentum buffers the virtual step uses exist
    model.zero_grad()
    arch_names = [n for n, _ in model.named_parameters() if n in ("alpha", "beta")]
    names = [n for n, _ in model.named_parameters() if n not in arch_names]
    buffers = {n: optimizer.state[p]["momentum_buffer"].clone() for n, p in model.named_parameters() if n in names}
    # a small radius: at DARTS's 0.01 the difference also measures ReLU kinks (see unrolled's docstring)
    unrolled(model, train, valid, mix, optimizer, fd_radius=1e-6)
    ours = {n: p.grad.clone() for n, p in model.named_parameters() if n in arch_names}

    weights0 = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
    arch0 = {n: p.detach().clone() for n, p in model.named_parameters() if n in arch_names}

    def unrolled_val_loss(arch: dict[str, torch.Tensor]) -> float:
        params = {n: w.clone().requires_grad_(True) for n, w in weights0.items()}
        out = torch.func.functional_call(model, {**params, **arch}, (train[0], mix(arch["alpha"])))
        grads = torch.autograd.grad(F.cross_entropy(out, train[1]), [params[n] for n in names])
        stepped = {n: (params[n] - xi * (g + wd * params[n] + mu * buffers[n])).detach() for n, g in zip(names, grads)}
        out = torch.func.functional_call(model, {**stepped, **arch}, (valid[0], mix(arch["alpha"])))
        return float(F.cross_entropy(out, valid[1]))

    h = 1e-5
    for name in arch_names:
        numeric = torch.zeros_like(arch0[name])
        for index in np.ndindex(*numeric.shape):
            plus, minus = arch0[name].clone(), arch0[name].clone()
            plus[index] += h
            minus[index] -= h
            numeric[index] = (unrolled_val_loss({**arch0, name: plus}) - unrolled_val_loss({**arch0, name: minus})) / (2 * h)
        assert torch.allclose(ours[name], numeric, rtol=1e-3, atol=1e-6), (name, (ours[name] - numeric).abs().max())
        assert ours[name].abs().max() > 1e-3  # a non-trivial gradient
    assert SearchConfig().unrolled_fd_radius == 0.01  # the DARTS paper's radius is the default
    from bench_toolkit.search.differentiable import get_method

    assert config_for("paper", get_method("darts-v2").defaults, {}).alpha_first  # the references' order


def test_derivation_by_hand():
    alpha = np.array([[3.0, 1, 0, 0, 0], [0, 0, 0, 2, 0], [0, 0, 0, 0, 1], [5, 0, 4, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0]])
    assert derive(alpha, nb201.OPS) == ("none", "nor_conv_3x3", "avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1")
    assert derive(alpha, nb201.OPS, exclude_none=True) == (
        "skip_connect", "nor_conv_3x3", "avg_pool_3x3", "nor_conv_1x1", "skip_connect", "nor_conv_1x1")
    no_skip = tuple(op for op in nb201.OPS if op != "skip_connect")
    assert derive(np.eye(6, 4), no_skip)[:4] == no_skip
    with pytest.raises(BenchToolkitError, match="no candidate op"):
        derive(np.zeros((6, 1)), ("none",), exclude_none=True)


def test_recorder_values_on_hand_made_alpha():
    uniform = edge_softmax(np.full((6, 5), 0.7))
    assert normalized_entropy(uniform) == pytest.approx(np.ones(6))
    assert operation_magnitudes(uniform, nb201.OPS) == pytest.approx({op: 0.2 for op in nb201.OPS})
    # two ops at 1/2 each on every edge: entropy ln 2 / ln 5
    half = np.zeros((6, 5))
    half[:, :2] = 0.5
    assert normalized_entropy(half) == pytest.approx(np.full(6, math.log(2) / math.log(5)))
    # Eq. 11 by hand: conv3x3 wins 3 of 6 edges with weight 0.9 (others 0.025 each)
    weights = np.full((6, 5), 0.2)
    weights[:3] = [0.025, 0.025, 0.025, 0.9, 0.025]
    m = operation_magnitudes(weights, nb201.OPS)
    assert m["nor_conv_3x3"] == pytest.approx((3 * 0.9 + 3 * 0.2) / 6)
    assert m["none"] == pytest.approx((3 * 0.025 + 3 * 0.2) / 6)
    assert normalized_entropy(np.eye(5)[[0, 1, 2, 3, 4, 0]]) == pytest.approx(np.zeros(6), abs=1e-12)


def test_gdas_temperature_and_straight_through_sampling():
    gumbel = GumbelMixing(epochs=250)
    assert gumbel.temperature(0) == 10.0 and gumbel.temperature(249) == pytest.approx(0.1)
    assert gumbel.temperature(124) == pytest.approx(10 - 9.9 * 124 / 249)
    alpha = torch.zeros(6, 5, requires_grad=True)
    mixing = gumbel(alpha, torch.Generator().manual_seed(0), 0)
    assert torch.allclose(mixing.weights.detach().sum(-1), torch.ones(6))
    assert torch.equal(mixing.weights.detach().argmax(-1), mixing.index)
    assert set(mixing.weights.detach().flatten().tolist()) <= {0.0, 1.0}  # forward value is one-hot
    (mixing.weights * torch.arange(5.0)).sum().backward()
    assert alpha.grad.abs().sum() > 0  # gradient reaches alpha through the soft part
    # sampling is uniform over ops for uniform alpha
    g = torch.Generator().manual_seed(1)
    picks = torch.cat([gumbel(torch.zeros(6, 5), g, 100).index for _ in range(500)])
    assert (torch.bincount(picks, minlength=5).float() / len(picks) - 0.2).abs().max() < 0.03


def test_supernet_on_an_op_subset_and_its_batchnorm():
    ops = ("none", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    model = NB201Supernet(num_classes=10, ops=ops, channels=4, cells_per_stage=2)
    assert model.alpha.shape == (6, 4) and model.alpha.abs().max() < 0.01  # 1e-3 * N(0, 1)
    out = model(torch.randn(2, 3, 16, 16), MixingPolicy()(model.alpha, None, 0))
    assert out.shape == (2, 10)
    cell_bns = [m for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d) and "edges" in name]
    assert cell_bns and all(not bn.affine for bn in cell_bns)
    assert sum(1 for _ in model.weights()) == sum(1 for _ in model.parameters()) - 1


PROXY = {"epochs": 2, "images_per_class": 24, "resolution": 8, "channels": 4, "batch_size": 16}


def test_end_to_end_smoke_search_writes_the_history_contract(tmp_path):
    config = config_for("smoke", {}, PROXY)
    history = run_supernet_search("darts-v1", config, "digits", "analog", [0, 1], tmp_path / "run", scale="smoke")
    assert len(history) == 4 and history.groupby("seed")["epoch"].apply(list).tolist() == [[1, 2], [1, 2]]
    required = ["seed", "epoch", "arch", "entropy", *[f"magnitude.{op}" for op in nb201.OPS], "cifar10.test_acc",
                "train_loss", "valid_loss", "train_acc", "valid_acc", "epoch_seconds", "torch_threads"]
    assert set(required) <= set(history.columns)
    assert (history["torch_threads"] == torch.get_num_threads()).all()  # the CPU results depend on it: on file
    assert np.allclose(history[[f"magnitude.{op}" for op in nb201.OPS]].sum(axis=1), 1.0)
    from bench_toolkit.benchmarks import load_benchmark

    bench = load_benchmark("analog")
    assert all(row["cifar10.test_acc"] == bench.query(row["arch"]) for _, row in history.iterrows())
    saved = pd.read_parquet(tmp_path / "run" / "history.parquet")
    pd.testing.assert_frame_equal(saved, history)
    alphas = pd.read_parquet(tmp_path / "run" / "alphas.parquet")
    assert len(alphas) == 2 * 2 * 6 * 5
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    assert [s["arch"] for s in final["per_seed"]] == history.groupby("seed")["arch"].last().tolist()
    assert config_json_spec(tmp_path / "run") == "analog"  # specs without a path stay as given
    with pytest.raises(BenchToolkitError, match="already holds a run; continue it with --resume"):
        run_supernet_search("darts-v1", config, "digits", "analog", [0], tmp_path / "run")


def config_json_spec(run_dir):
    return json.loads((run_dir / "config.json").read_text())["benchmark"]


def test_file_specs_are_stored_absolute_so_resume_works_from_anywhere(tmp_path, monkeypatch):
    from bench_toolkit.fileio import write_table

    table = write_table(tmp_path / "bench.csv", pd.DataFrame({"arch": [nb201.format_arch(a) for a in nb201.enumerate_archs()],
                                                              "cifar10.test_acc": 50.0}))
    monkeypatch.chdir(tmp_path)
    config = config_for("smoke", {}, {**PROXY, "epochs": 1})
    run_supernet_search("darts-v1", config, "digits", "table:bench.csv", [0], tmp_path / "run")
    assert config_json_spec(tmp_path / "run") == f"table:{table.resolve()}"
    monkeypatch.chdir("/")
    resume_supernet_search(tmp_path / "run")  # finished: reloads the benchmark by its absolute path


def test_recording_every_k_steps(tmp_path):
    per_epoch = (24 * 10 // 2) // 16  # (images per class * classes / 2 halves) // batch size = 7
    for k, expected in [(2, [2, 4, 6, 8, 10, 12, 14]), (1, list(range(1, 15)))]:
        config = config_for("smoke", {}, {**PROXY, "record_every_steps": k})
        history = run_supernet_search("darts-v1", config, "digits", None, [0], tmp_path / f"every{k}")
        steps = pd.read_parquet(tmp_path / f"every{k}" / "steps.parquet")
        assert steps["step"].tolist() == expected
    # the step that ends epoch 1 saw the same alpha as epoch 1's history row
    end_of_epoch = steps[steps["step"] == per_epoch].iloc[0]
    for column in ("arch", "entropy", "magnitude.nor_conv_3x3", "magnitude.none"):
        assert end_of_epoch[column] == history.iloc[0][column]
    assert end_of_epoch["epoch"] == 1


@pytest.mark.parametrize("algo", ["darts-v1", "gdas"])
def test_a_killed_and_resumed_run_equals_an_uninterrupted_one(tmp_path, algo):
    config = config_for("smoke", {}, {**PROXY, "epochs": 3, "record_every_steps": 3})
    assert_resume_is_exact(algo, config, tmp_path, seed=5)
    assert (tmp_path / "killed" / "steps.parquet").exists()  # the step table was compared too


def test_settings_are_checked_and_layered():
    config = config_for("mini", {"epochs": 250}, {"a_lr": 0.001})
    assert (config.epochs, config.a_lr, config.channels, config.w_lr) == (250, 0.001, 8, 0.025)
    assert config_for("paper", {}, {}).channels == 16
    with pytest.raises(BenchToolkitError, match="epochs must be a positive integer"):
        config_for("paper", {}, {"epochs": 0})
    with pytest.raises(BenchToolkitError, match="ops must be a non-empty subset"):
        config_for("paper", {}, {"ops": ["conv_7x7"]})
    with pytest.raises(BenchToolkitError, match="unknown scale 'huge'"):
        config_for("huge", {}, {})


def _loss_and_grads(fast: bool, ops=nb201.OPS, alive=None) -> tuple[float, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    model = NB201Supernet(num_classes=10, ops=ops, channels=4, cells_per_stage=2, fast=fast).double()
    with torch.no_grad():
        model.alpha.normal_(0, 1)
    x, y = _batch(3)
    y = y * 3  # labels over 10 classes
    weights = model.alpha.softmax(-1) * (1 if alive is None else alive)
    loss = F.cross_entropy(model(x, Mixing(weights, alive=alive)), y)
    loss.backward()
    return float(loss.detach()), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}, model.state_dict()


@pytest.mark.parametrize("case", ["all ops", "pruned ops", "op subset"])
def test_fast_supernet_computes_the_plain_function_in_float64(case):
    """nn/fused.py shares work between edges and keeps tensors channels-last; in float64 its loss,
    every gradient (alpha's included) and the updated BN running statistics equal the plain
    per-edge loop's to rounding."""
    ops, alive = nb201.OPS, None
    if case == "pruned ops":
        alive = torch.rand(6, 5, generator=torch.Generator().manual_seed(3)) > 0.4
        alive[2] = False  # an edge with nothing left: zero, as in the plain path
    if case == "op subset":
        ops = ("none", "nor_conv_3x3", "avg_pool_3x3")
    plain, fast = _loss_and_grads(False, ops, alive), _loss_and_grads(True, ops, alive)
    assert fast[0] == pytest.approx(plain[0], abs=1e-12)
    assert plain[1].keys() == fast[1].keys() and "alpha" in plain[1]
    for name in plain[1]:
        assert torch.allclose(fast[1][name], plain[1][name], atol=1e-12, rtol=1e-9), name
    assert plain[2].keys() == fast[2].keys()
    for name in plain[2]:  # running means/vars copied back into every edge's BN, batches counted
        assert torch.allclose(fast[2][name].double(), plain[2][name].double(), atol=1e-12), name


def _search_steps(algo: str, fast: bool, dtype: torch.dtype) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """One epoch of the engine's iterations (weight and alpha steps) on the digits proxy in
    ``dtype``: the per-iteration losses and accuracies, alpha before and alpha after."""
    from bench_toolkit.data.batches import PairedBatches
    from bench_toolkit.data.readers import read_data
    from bench_toolkit.data.images import balanced_halves
    from bench_toolkit.search.differentiable import SupernetSearch, get_method

    data = PairedBatches(*balanced_halves(read_data("digits", 20)), 16, 8)
    for name in ("train_x", "valid_x", "mean", "std"):
        setattr(data, name, getattr(data, name).to(dtype))
    config = config_for("smoke", {}, {**PROXY, "a_lr": 0.01, "fast": fast})
    search = SupernetSearch(get_method(algo), config, data, None, seed=0)
    search.model.to(dtype)  # in place: the optimisers keep the same parameter objects
    start = search.model.alpha.detach().clone()
    stats = [search.train_step(train, valid) for train, valid in data.epoch(torch.Generator().manual_seed(0))]
    return np.array(stats), start, search.model.alpha.detach()


@pytest.mark.parametrize("algo", ["darts-v1", "gdas"])
def test_fast_and_plain_search_steps_agree_in_float32(algo):
    """A few iterations of the engine (weight and alpha steps) on both paths: the same losses and
    alpha within float32 tolerance, and alpha has moved far more than that tolerance. (ASAP and
    DARTS-V2 are checked in float64 below: on their trajectories float32 rounding alone moves the
    plain path across a kink of the loss, see there.)"""
    (plain, start, plain_alpha), (fast, _, fast_alpha) = (_search_steps(algo, f, torch.float32) for f in (False, True))
    assert np.allclose(fast, plain, rtol=1e-4, atol=1e-4)
    moved = (plain_alpha - start).abs().max()
    assert moved > 0.02
    assert torch.allclose(fast_alpha, plain_alpha, atol=moved.item() * 1e-2)


@pytest.mark.parametrize("algo", ["asap", "darts-v2"])
def test_fast_and_plain_search_steps_agree_in_float64(algo):
    """The same iterations in float64, to 1e-9. Float32 cannot check these two: on ASAP's
    trajectory (T0 = 1.3), at the 4th iteration one ReLU input of the second cell lies 2e-7 from
    zero, so float32 rounding (1e-7) decides its sign, and the weight gradient jumps by 1.6e-2 --
    the plain path itself jumps by that much when its float64 weights are moved by 1e-7 (measured
    2026-11-24); DARTS-V2's finite-difference Hessian-vector product amplifies such sign changes.
    In float64 the two paths agree to 1e-15 there, far from any kink."""
    (plain, start, plain_alpha), (fast, _, fast_alpha) = (_search_steps(algo, f, torch.float64) for f in (False, True))
    assert np.allclose(fast, plain, rtol=1e-9, atol=1e-9)
    moved = (plain_alpha - start).abs().max()
    assert moved > 0.02
    assert torch.allclose(fast_alpha, plain_alpha, rtol=0, atol=1e-9)


def test_bf16_precision_autocasts_the_steps_and_keeps_float32_state():
    """``precision='bf16'``: the same first iteration as fp32 to bf16 accuracy (8 bits of mantissa:
    the losses within 2%), parameters, alpha and optimiser state stay float32; other values refused."""
    from bench_toolkit.data.batches import PairedBatches
    from bench_toolkit.data.images import balanced_halves
    from bench_toolkit.data.readers import read_data
    from bench_toolkit.search.differentiable import SupernetSearch, get_method

    data = PairedBatches(*balanced_halves(read_data("digits", 20)), 16, 8)
    train, valid = next(data.epoch(torch.Generator().manual_seed(0)))
    losses = {}
    for precision in ("fp32", "bf16"):
        search = SupernetSearch(get_method("darts-v1"), config_for("smoke", {}, {**PROXY, "precision": precision}),
                                data, None, seed=0)
        losses[precision] = search.train_step(train, valid)[[0, 2]]
        assert all(p.dtype == torch.float32 for p in search.model.parameters())
        assert search.model.alpha.grad.dtype == torch.float32 and torch.isfinite(search.model.alpha.grad).all()
    assert np.allclose(losses["bf16"], losses["fp32"], rtol=0.02)
    assert not np.array_equal(losses["bf16"], losses["fp32"])  # bf16 did run
    with pytest.raises(BenchToolkitError, match="precision must be one of fp32, bf16"):
        config_for("paper", {}, {"precision": "fp16"})


def test_gdas_edge_gives_every_op_a_gradient_as_the_reference_forward_gdas():
    """One edge, op k sampled: output = w_k * op_k(x) + sum_{j != k} w_j, whose values w_j are 0
    (hard one-hot) and whose gradient is 1 each; so d sum(out) / d w_j = number of output elements
    for j != k (the reference's broadcast scalar), and sampling `none` still moves alpha."""
    from bench_toolkit.nn.supernet import MixedOp

    torch.manual_seed(0)
    edge = MixedOp(nb201.OPS, channels=2, affine=False, track=True)
    x = torch.randn(3, 2, 4, 4)
    alpha = torch.zeros(5, requires_grad=True)
    for k, op in enumerate(nb201.OPS):
        soft = alpha.softmax(-1)
        hard = torch.zeros(5)
        hard[k] = 1.0
        weights = hard - soft.detach() + soft
        weights.retain_grad()
        out = edge(x, weights, index=k)
        expected = edge.ops[k](x)
        assert torch.equal(out.detach(), expected.detach())  # the other terms add exactly 0
        out.sum().backward()
        others = [j for j in range(5) if j != k]
        assert torch.allclose(weights.grad[others], torch.full((4,), float(x.numel())))
        assert torch.allclose(weights.grad[k], expected.sum().detach())
        if op == "none":
            assert alpha.grad.abs().sum() > 0  # before the fix: no gradient at all
        alpha.grad = None


def test_a_run_directory_in_use_is_refused_and_a_killed_runs_leftovers_are_cleared(tmp_path):
    import subprocess

    from resume_check import Killed

    config = config_for("smoke", {}, {**PROXY, "epochs": 2})
    out = tmp_path / "run"
    out.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (out / ".lock").write_text(str(sleeper.pid))  # another live process holds the directory
        with pytest.raises(BenchToolkitError, match=f"is in use by process {sleeper.pid}"):
            run_supernet_search("darts-v1", config, "digits", None, [0], out)
        assert not (out / "config.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    (out / ".lock").write_text(str(sleeper.pid))  # its process is gone: a stale lock is taken over

    def kill(search, row):
        raise Killed

    with pytest.raises(Killed):
        run_supernet_search("darts-v1", config, "digits", None, [0], out, callbacks=[kill])
    assert not (out / ".lock").exists()  # released however the run ended
    stray = out / ".history.parquet.x1y2.tmp"
    stray.write_bytes(b"half a file")  # what a kill -9 in the middle of a write leaves
    resume_supernet_search(out)
    assert not stray.exists() and not (out / ".lock").exists()
    assert len(pd.read_parquet(out / "history.parquet")) == 2
