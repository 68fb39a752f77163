"""The differentiable-space seam: the one search loop, its recorders, run directories and stop
criteria in the DARTS CNN space, and the refusals where a space cannot answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from bench_toolkit.cli import main
from bench_toolkit.diagnostics.stop import SkipCount, Trace
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search.differentiable import config_for, get_method, run_supernet_search
from bench_toolkit.search.differentiable.spaces import get_supernet_space
from bench_toolkit.spaces import darts, nb201
from resume_check import assert_resume_is_exact

TINY = {"space": "darts", "images_per_class": 8, "resolution": 8, "channels": 4, "batch_size": 16, "epochs": 2}


def test_the_space_brings_its_ops_and_its_reference_settings():
    config = config_for("paper", get_method("darts-v1").defaults, {"space": "darts"})
    assert config.ops == darts.OPS and (config.w_weight_decay, config.w_nesterov) == (3e-4, False)
    assert config.cells_per_stage == 2  # 3 * 2 + 2 = the reference's 8 search cells
    nb = config_for("paper", get_method("darts-v1").defaults, {})
    assert (nb.space, nb.ops, nb.w_weight_decay, nb.cells_per_stage) == ("nb201", nb201.OPS, 5e-4, 5)
    with pytest.raises(BenchToolkitError, match="subset of the darts ops none, max_pool_3x3"):
        config_for("smoke", {}, {"space": "darts", "ops": ["nor_conv_3x3"]})
    with pytest.raises(BenchToolkitError, match="unknown differentiable search space 'nb101'; choose one of: nb201, darts"):
        config_for("smoke", {}, {"space": "nb101"})


def test_darts_v1_records_genotypes_per_epoch_and_resumes_exactly(tmp_path):
    config = config_for("smoke", get_method("darts-v1").defaults, TINY)
    history = assert_resume_is_exact("darts-v1", config, tmp_path, seed=0)
    assert len(history) == 2
    for arch in history["arch"]:
        genotype = darts.parse_genotype(arch)  # a genotype in the reference's text form
        assert len(genotype.normal) == len(genotype.reduce) == 8
    assert [c for c in history.columns if c.startswith("entropy.")] == [f"entropy.{e}" for e in darts.EDGE_NAMES]
    assert np.isclose(sum(history[f"magnitude.{op}"].iloc[-1] for op in darts.OPS), 1.0)
    alphas = pd.read_parquet(tmp_path / "straight" / "alphas.parquet")
    assert len(alphas) == 2 * 28 * 8 and alphas["edge"].iloc[0] == "normal.0->2"
    # the derived genotype is the one derive_genotype gives for the recorded distribution
    last = alphas[alphas["epoch"] == 2].pivot_table(index="edge", columns="op", values="weight", sort=False)
    assert str(darts.derive_genotype(last[list(darts.OPS)].to_numpy())) == history["arch"].iloc[-1]


ALPHA_METHODS = ["darts-v2", "gdas", "pc-darts", "asap", "drnas", "gaea-bilevel", "gaea-erm", "prune-magnitude",
                 "prune-accumgrad"]


def test_every_method_is_exercised_in_the_darts_space():
    from bench_toolkit.search.differentiable import METHODS

    covered = {"darts-v1", "pdarts", "rsps", "setn", "enas", *ALPHA_METHODS}  # pdarts: tests/test_pdarts.py
    own_space = {name for name, method in METHODS.items() if method.spaces is not None and "darts" not in method.spaces}
    assert own_space == {"if-nas"}  # searches only its L-chain space: tests/test_methods_ifnas.py
    assert covered == set(METHODS) - own_space


@pytest.mark.parametrize("algo", ALPHA_METHODS)
def test_other_alpha_methods_run_in_the_darts_space(algo, tmp_path):
    config = config_for("smoke", get_method(algo).defaults, {**TINY, "warmup_epochs": 0, "epochs": 1})
    history = run_supernet_search(algo, config, "digits", None, [0], tmp_path / algo)
    darts.parse_genotype(history["arch"].iloc[-1])
    if algo == "pc-darts":
        assert "edge_weight.reduce.0->2" in history.columns
    if algo == "asap":
        assert "live.reduce.3->5" in history.columns


def test_a_space_refuses_what_it_cannot_do_before_writing(tmp_path):
    with pytest.raises(BenchToolkitError, match="keep none in ops"):
        run_supernet_search("rsps", config_for("smoke", get_method("rsps").defaults,
                                               {**TINY, "ops": ["skip_connect", "sep_conv_3x3"]}), "digits", None, [0],
                            tmp_path / "a")
    with pytest.raises(BenchToolkitError, match="no tabular benchmark answers for the darts space"):
        run_supernet_search("darts-v1", config_for("smoke", {}, TINY), "digits", "analog", [0], tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert get_supernet_space("nb201").has_benchmark and not get_supernet_space("darts").has_benchmark


def test_skip_count_counts_the_normal_cell_in_the_darts_space():
    """DARTS+ sc_2 in the DARTS space: two skips in the normal cell (the reduction cell's do not count)."""
    v2, v1 = str(darts.PUBLISHED["DARTS_V2"]), str(darts.PUBLISHED["DARTS_V1"])  # 2 and 3 normal skips
    only_reduce = str(darts.Genotype(darts.PUBLISHED["PC_DARTS"].normal, (2, 3, 4, 5),
                                     (("skip_connect", 0),) * 8, (2, 3, 4, 5)))
    rows = pd.DataFrame({"epoch": [1, 2, 3], "arch": [only_reduce, v2, v1]})
    trace = Trace(rows, np.zeros((3, 28, 8)), darts.OPS, "darts")
    assert SkipCount(2).fires_at(trace) == (2, 2)
    assert SkipCount(3).fires_at(trace) == (3, 3)


def test_cli_searches_the_darts_space_without_a_benchmark(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["search", "--space", "darts", "--algo", "darts-v1", "--scale", "smoke", "--epochs", "1", "--out", str(out),
            "--set", "images_per_class=8", "--set", "resolution=8", "--threads", "1"]
    assert main(argv) == 0
    assert "no benchmark answers" in capsys.readouterr().out
    darts.parse_genotype(pd.read_parquet(out / "history.parquet")["arch"].iloc[0])
    assert main(["search", "--space", "darts", "--algo", "rsps", "--scale", "smoke", "--out", str(tmp_path / "e"),
                 "--set", "ops=[\"skip_connect\", \"sep_conv_3x3\"]"]) == 2
    assert "keep none in ops" in capsys.readouterr().err


def test_uniform_genotype_paths_use_two_inputs_per_node_and_no_none():
    space = get_supernet_space("darts")
    paths = space.uniform_paths(200, darts.OPS, torch.Generator().manual_seed(0))
    none = darts.OPS.index("none")
    for path in paths[:20]:
        genotype = darts.parse_genotype(space.path_arch(path, darts.OPS))  # validates two inputs per node
        assert all(op != "none" for op, _ in genotype.normal + genotype.reduce)
    used = paths != none
    assert used.sum(dim=1).tolist() == [16] * 200  # 2 inputs x 4 nodes x 2 cells
    # uniform: node 5 of the normal cell (5 inputs) uses each input 2/5 of the time
    node5 = [darts.EDGE_NAMES.index(f"normal.{s}->5") for s in range(5)]
    assert used[:, node5].float().mean(dim=0).sub(0.4).abs().max() < 0.1
    template = space.template_paths(torch.zeros(28, 8), 50, darts.OPS, torch.Generator().manual_seed(1))
    assert (template != none).sum(dim=1).tolist() == [16] * 50


def test_the_genotype_controller_samples_two_distinct_inputs_per_node_and_learns(tmp_path):
    from types import SimpleNamespace

    from bench_toolkit.search.differentiable.controller import ControllerPaths, GenotypeController

    torch.manual_seed(0)
    controller = GenotypeController(darts.OPS)
    space = get_supernet_space("darts")
    for seed in range(5):
        log_prob, entropy, path, drawn = controller(torch.Generator().manual_seed(seed))
        genotype = darts.parse_genotype(space.path_arch(path, darts.OPS))  # two inputs per node, valid sources
        for node in range(4):
            assert genotype.normal[2 * node][1] != genotype.normal[2 * node + 1][1]
        assert all(op != "none" for op, _ in genotype.normal + genotype.reduce)
        assert float(log_prob.detach()) < 0 and float(entropy.detach()) > 0 and len(drawn) == 16
    # REINFORCE: reward only the cells whose normal edge 1->2 runs sep_conv_3x3
    row, sep = darts.EDGE_NAMES.index("normal.1->2"), darts.OPS.index("sep_conv_3x3")

    class Toy(torch.nn.Module):
        ops, alpha = darts.OPS, torch.nn.Parameter(torch.zeros(28, 8))

        def forward(self, x, mixing):
            labels = x[:, 0, 0, 0].long()
            right = int(mixing.index[row]) == sep
            return torch.nn.functional.one_hot(labels if right else (labels + 1) % 2, 2).float()

    config = config_for("smoke", {}, {"space": "darts", "controller_train_steps": 60, "controller_num_aggregate": 5,
                                      "controller_lr": 0.02})
    policy = ControllerPaths(config)
    labels = torch.tensor([0, 1] * 4)
    data = SimpleNamespace(valid_batches=lambda generator, count: iter(
        [(labels.float().view(-1, 1, 1, 1).expand(-1, 3, 2, 2), labels)] * count))

    def rewarded_share() -> float:
        return float((policy.sample_cells(400, torch.Generator().manual_seed(9))[:, row] == sep).float().mean())

    before = rewarded_share()
    policy.train_between_epochs(Toy(), data, torch.Generator().manual_seed(0), 1)
    after = rewarded_share()
    # the first node always takes both inputs, so at the start the op alone decides: about 1/7
    # (measured: 0.19 before, 0.92 after)
    assert before < 0.25 and after > before + 0.1, (before, after)


@pytest.mark.parametrize("algo", ["rsps", "setn", "enas"])
def test_single_path_methods_select_genotypes_and_resume_exactly(algo, tmp_path):
    config = config_for("smoke", get_method(algo).defaults, {**TINY, "select_candidates": 5, "select_batch_size": 16,
                                                             "controller_train_steps": 2, "controller_num_aggregate": 2})
    history = assert_resume_is_exact(algo, config, tmp_path, seed=1)
    for arch in history["arch"]:
        darts.parse_genotype(arch)
    assert history["selected_valid_acc"].between(0, 100).all()
