"""NAS-Bench-1Shot1's one-shot model in the one search loop: its input weights by hand, the cell
derived as the reference evaluates DARTS, and DARTS-V1 end to end on official-format NB101 files
(every cell of space 1; in spaces 2 and 3 the cells a seeded search derives), Exp. 8 included."""

from __future__ import annotations

import base64
import itertools
import json
from argparse import Namespace

import numpy as np
import pytest
import pandas as pd
import torch

from bench_toolkit.benchmarks.nb101_tfrecord import write_record
from bench_toolkit.cli import main
from bench_toolkit.nn.oneshot1_supernet import OneShot1Supernet, beta_groups
from bench_toolkit.nn.supernet import Mixing
from bench_toolkit.search.differentiable.spaces import SUPERNET_SPACES, space_of
from bench_toolkit.search.differentiable import config_for, get_method
from bench_toolkit.spaces import nb101, oneshot1
from test_nb101_tfrecord import _metrics


def test_input_weight_groups_follow_the_reference():
    # space 1: blocks 3 and 4 choose (3 and 4 candidates), then the output's 5 weights
    assert beta_groups(1) == [(2, 3), (3, 4), (-1, 5)]
    assert beta_groups(3) == [(1, 2), (2, 3), (3, 4), (4, 5), (-1, 6)]
    model = OneShot1Supernet(10, 2, channels=4, cells=3)
    weights = model.edge_weights().detach()
    assert weights.shape == (2 + 3 + 4 + 5,)
    assert torch.allclose(torch.stack([p.sum() for p in weights.split([2, 3, 4, 5])]), torch.ones(4))
    logits = model(torch.randn(2, 3, 8, 8), Mixing(model.alpha.softmax(dim=-1)))
    assert logits.shape == (2, 10)
    logits.sum().backward()
    assert model.alpha.grad.abs().sum() > 0 and model.beta.grad.abs().sum() > 0


def test_the_derived_cell_takes_the_strongest_inputs_and_ops():
    space = space_of(config_for("smoke", {}, {"space": "nb101-1shot1", "oneshot_space": 1}))
    ops = nb101.OPS
    weights = np.zeros((4, 3))
    weights[:, 0] = 1.0  # conv3x3 everywhere ...
    weights[3] = [0, 0, 1]  # ... but block 4: maxpool3x3
    # block 3 reads 0 and 2 (of 0, 1, 2); block 4 reads 1 and 3; the output reads 3 and 4 (of 0..4)
    edge = np.array([0.5, 0.1, 0.4] + [0.1, 0.4, 0.1, 0.4] + [0.0, 0.1, 0.2, 0.3, 0.4])
    cell = json.loads(space.derive(weights, weights, ops, False, None, edge))
    expected = oneshot1.spec(1, [(0,), (0, 1), (0, 2), (1, 3), (3, 4)], ["conv3x3-bn-relu"] * 3 + ["maxpool3x3"])
    assert cell == {"matrix": [list(r) for r in expected.matrix], "ops": list(expected.ops)}


def _write_cells(path, cells):
    """An official-format file answering ``cells`` (pruned specs): test accuracy 0.79 + 0.02 x conv3x3s."""
    with open(path, "wb") as handle:
        for spec in {c.hash(): c for c in cells}.values():
            score = 0.80 + 0.02 * spec.ops.count("conv3x3-bn-relu")
            metrics = _metrics([(0.0, 0.0, 0.1, 0.1, 0.1), (108.0, 100.0, 1.0, score, score - 0.01)], 1000)
            adjacency = "".join(str(v) for row in spec.matrix for v in row)
            write_record(handle, json.dumps([spec.hash(), 108, adjacency, ",".join(spec.ops),
                                             base64.b64encode(metrics).decode()]).encode())
    return path


def _every_cell_of_space_1(path):
    return _write_cells(path, [nb101.Spec(graph, (nb101.INPUT, *ops, nb101.OUTPUT))
                               for graph in set(oneshot1.graphs(1).values())
                               for ops in itertools.product(nb101.OPS, repeat=len(graph) - 2)])


def test_darts_searches_space_1_and_every_epoch_is_answered(tmp_path):
    path = _every_cell_of_space_1(tmp_path / "ss1.tfrecord")
    out = tmp_path / "run"
    assert main(["search", "--algo", "darts-v1", "--space", "nb101-1shot1", "--scale", "smoke", "--epochs", "2",
                 "--set", "images_per_class=8", "--set", "channels=4", "--benchmark", f"nb101:{path}",
                 "--out", str(out)]) == 0
    history = pd.read_parquet(out / "history.parquet")
    assert history["cifar10.test_acc"].notna().all() and {"magnitude.maxpool3x3", "edge_weight.output<-0"} <= set(history.columns)
    cell = json.loads(history["arch"].iloc[-1])
    assert nb101.pruned(cell["matrix"], cell["ops"]).vertices <= 6


@pytest.mark.parametrize("space", [2, 3])
def test_darts_searches_spaces_2_and_3_on_an_official_format_file(tmp_path, space):
    """A first search (no benchmark) names the cells it derives; the same seeded search then runs
    against a file holding exactly those cells, and every epoch is answered with the file's value."""
    argv = ["search", "--algo", "darts-v1", "--space", "nb101-1shot1", "--set", f"oneshot_space={space}", "--scale",
            "smoke", "--epochs", "2", "--set", "images_per_class=8", "--set", "channels=4"]
    assert main([*argv, "--out", str(tmp_path / "first")]) == 0
    first = pd.read_parquet(tmp_path / "first" / "history.parquet")
    cells = [nb101.pruned(c["matrix"], c["ops"]) for c in map(json.loads, first["arch"])]
    path = _write_cells(tmp_path / f"ss{space}.tfrecord", cells)
    assert main([*argv, "--benchmark", f"nb101:{path}", "--out", str(tmp_path / "second")]) == 0
    second = pd.read_parquet(tmp_path / "second" / "history.parquet")
    assert list(second["arch"]) == list(first["arch"])
    expected = [100 * (0.79 + 0.02 * c.ops.count("conv3x3-bn-relu")) for c in cells]
    assert second["cifar10.test_acc"].to_numpy() == pytest.approx(expected)


def test_the_space_refuses_other_benchmarks_and_methods(tmp_path, capsys):
    base = ["search", "--space", "nb101-1shot1", "--scale", "smoke", "--out", str(tmp_path / "x")]
    assert main([*base, "--algo", "darts-v1", "--benchmark", "analog"]) == 2
    assert "give --benchmark nb101:PATH" in capsys.readouterr().err
    assert main([*base, "--algo", "rsps"]) == 2
    assert "searched by darts-v1" in capsys.readouterr().err
    assert main([*base, "--algo", "darts-v1", "--set", "oneshot_space=4"]) == 2
    assert "oneshot_space must be 1, 2 or 3" in capsys.readouterr().err
    assert "nb101-1shot1" in SUPERNET_SPACES and get_method("gdas")


def test_pc_darts_runs_in_space_2_on_a_quarter_of_the_channels(tmp_path):
    model = OneShot1Supernet(10, 2, channels=8, cells=3, partial_channels=4)
    assert model.cells[0].ops[0][0][0].in_channels == 2  # conv3x3 of block 1 sees C/K = 2 channels
    out = tmp_path / "pc"
    assert main(["search", "--algo", "pc-darts", "--space", "nb101-1shot1", "--set", "oneshot_space=2", "--scale", "smoke",
                 "--epochs", "1", "--set", "images_per_class=8", "--out", str(out)]) == 0
    cell = json.loads(pd.read_parquet(out / "history.parquet")["arch"].iloc[-1])
    assert nb101.pruned(cell["matrix"], cell["ops"]).vertices <= 6


def test_exp8_runs_on_an_official_format_file(tmp_path, monkeypatch):
    """The degradation study's Exp. 8 end to end on a supplied NB101 file (space 1's every cell):
    real searches, figures and table; only the 500 epochs are cut to 2 to keep the test fast."""
    from bench_toolkit import study as common
    from test_studies import _args, _study_experiments

    degradation = _study_experiments("darts_degradation")
    monkeypatch.setattr(degradation, "method_run",
                        lambda algo, settings, name: common.method_run(algo, {**settings, "epochs": 2}, name))
    path = _every_cell_of_space_1(tmp_path / "ss1.tfrecord")
    args = Namespace(**{**vars(_args(tmp_path, seeds=2)), "scale": "smoke", "only": ["space 1"],
                        "benchmark": f"nb101:{path}"})
    degradation.exp8(args)
    figures = common.figure_dir(args)
    assert {p.name for p in figures.glob("exp8_*")} == {"exp8_oneshot1_accuracy.png", "exp8_oneshot1_magnitude.png",
                                                       "exp8_oneshot1.csv"}
    table = pd.read_csv(figures / "exp8_oneshot1.csv")
    assert list(table["method"]) == ["space 1"] and table["seeds"].item() == 2
    # each final cell's answer is the file's: test accuracy = 0.79 + 0.02 x (number of conv3x3 vertices), in %
    history = pd.read_parquet(tmp_path / "smoke-digits" / "exp8-ss1" / "history.parquet")
    for seed, answer in zip((0, 1), table["cifar10.test_acc per seed"].item().split(", ")):
        cell = json.loads(history[(history.seed == seed) & (history.epoch == 2)]["arch"].item())
        pruned = nb101.pruned(cell["matrix"], cell["ops"])
        assert float(answer) == pytest.approx(100 * (0.79 + 0.02 * pruned.ops.count("conv3x3-bn-relu")), abs=0.006)
