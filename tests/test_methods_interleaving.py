"""Interleaving learning (IL), interleaving multi-task NAS (IMTNAS) and the multi-task baseline as
searches: end to end with one history row per (seed, epoch, round, learner), bit-exact resume,
bad task specs refused in one line before anything is written."""

from __future__ import annotations

import json

import numpy as np
import torch
import pandas as pd
import pytest
from PIL import Image

from bench_toolkit.cli import main
from bench_toolkit.search.differentiable import config_for
from bench_toolkit.search.multilevel import engine
from bench_toolkit.search.multilevel.engine import MULTILEVEL_METHODS
from bench_toolkit.search.multilevel.hypergradient import exact_hypergradient
from bench_toolkit.search.multilevel.run import load_tasks, resume_interleaved, run_interleaved
from bench_toolkit.search.multilevel.transfer import pairwise_mmd
from bench_toolkit.spaces import nb201

TINY = {"images_per_class": 8, "resolution": 8, "channels": 4, "batch_size": 16, "epochs": 2, "mmd_examples": 2,
        "mmd_augmentations": 3}


class Killed(Exception):
    pass


@pytest.mark.parametrize("algo, rounds", [("il-darts", 2), ("imtnas-darts", 2), ("mtl-darts", 1), ("il-pc-darts", 2)])
def test_searches_run_and_resume_bit_exactly(algo, rounds, tmp_path, monkeypatch):
    # over PC-DARTS alpha and beta start stepping in the second epoch, not after its 15 warm-up epochs
    config = config_for("smoke", MULTILEVEL_METHODS[algo], {**TINY, **({"warmup_epochs": 1} if "pc-darts" in algo else {})})
    assert config.rounds == rounds
    history = _assert_resumes_exactly(algo, config, tmp_path, monkeypatch, benchmark="analog")
    final = json.loads((tmp_path / "straight" / "final.json").read_text())
    assert len(history) == 2 * 2 * rounds  # epochs x learners x rounds
    assert sorted(set(zip(history["round"], history["learner"]))) == [(m, k) for m in range(1, rounds + 1) for k in (0, 1)]
    assert final["complete"] and nb201.as_arch(final["per_seed"][0]["arch"])
    assert history["cifar10.test_acc"].notna().all()
    if algo.endswith("pc-darts"):  # the edges into each node share weight 1 (PC-DARTS Eq. 4)
        for target in range(1, nb201.NUM_NODES):
            incoming = [f"edge_weight.{name}" for name, (_, t) in zip(nb201.EDGE_NAMES, nb201.EDGES) if t == target]
            assert np.allclose(history[incoming].sum(axis=1), 1.0)


@pytest.fixture
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _first_batches_problem(search):
    """The multi-level problem over the search's first pair of batches, in float64."""
    pairs = next(zip(*[t.epoch(search.generator) for t in search.tasks]))
    search.batches = {k: ((tx.double(), ty), (vx.double(), vy)) for k, ((tx, ty), (vx, vy)) in enumerate(pairs)}
    return search.problem(eta=0.025)


def _assert_central_differences(problem, A, exact, entries, h=1e-5):
    """Each listed entry of the exact hypergradient equals the central difference of F(A)."""
    for entry in entries:
        step = torch.zeros_like(A)
        step[entry] = h
        values = [float(exact_hypergradient(problem, (A + sign * step).detach().requires_grad_())[0]) for sign in (1, -1)]
        assert float(exact[entry]) == pytest.approx((values[0] - values[1]) / (2 * h), rel=1e-5, abs=1e-9)


def test_over_pc_darts_the_hypergradient_reaches_beta_and_matches_brute_force(float64):
    """il-pc-darts: A is alpha with beta as one more column; the exact hypergradient through both
    unrolled rounds equals central differences of the objective F(A) in float64, for beta (which
    must matter: the edges into nodes 2 and 3 compete) and for one alpha."""
    config = config_for("smoke", MULTILEVEL_METHODS["il-pc-darts"], TINY)
    assert config.partial_channels == 4 and config.edge_normalisation and config.warmup_epochs == 15
    search = engine.InterleavedSearch("il-pc-darts", config, load_tasks(["digits", "digits"], config), ["a", "b"], None, 0)
    A = search.architecture
    assert A.shape == (len(nb201.EDGES), len(config.ops) + 1)
    problem = _first_batches_problem(search)
    _, exact = exact_hypergradient(problem, A)
    beta = exact[:, -1]
    assert beta.abs().max() > 1e-6 and beta[0].abs() < 1e-12  # node 1 has one input: its weight is always 1
    _assert_central_differences(problem, A, exact, [(e, len(config.ops)) for e in range(len(nb201.EDGES))] + [(2, 1)])


def test_the_l2_coupling_pulls_the_second_learner_toward_the_first(tmp_path):
    """With lambda large the second learner's encoder stays near the first's; without coupling it does not."""
    distances = {}
    for lam in (0.0, 100.0):
        config = config_for("smoke", MULTILEVEL_METHODS["il-darts"], {**TINY, "rounds": 1, "il_lambda": lam, "epochs": 1,
                                                                      "warmup_epochs": 1})
        search = engine.InterleavedSearch("il-darts", config, load_tasks(["digits", "digits"], config), ["a", "b"], None, 0)
        search.train_epoch()
        first, second = (search.weights[s] for s in search.stages)
        distances[lam] = sum(float(((first[n] - second[n]) ** 2).sum().detach()) for n in first)
    assert distances[100.0] < distances[0.0] / 2


def _folder(root, classes, size):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_bad_task_specs_are_one_line_before_anything_is_written(tmp_path, capsys):
    one_class = _folder(tmp_path / "one", ["only"], 8)
    larger = _folder(tmp_path / "larger", ["cat", "dog"], 32)  # the digits are 16 x 16
    for argv, message in [
        (["--task", "digits"], "needs two or more tasks"),
        (["--task", "digits", "--task", f"imagefolder:{one_class}"], "holds 1 class folder(s)"),
        (["--task", "digits", "--task", f"imagefolder:{larger}", "--set", "resolution=null", "--set", "images_per_class=4"],
         "the tasks' images differ in size"),
        (["--task", "digits", "--task", "digits", "--set", 'transfer="kl"'], "transfer must be one of l2, mmd, embedding-l2, similarity, none"),
        (["--task", "digits", "--task", "digits", "--data", "digits"], "reads its images from the --task specs"),
        (["--task", "digits", "--task", "digits", "--set", 'stage_weights="hypernetwork"', "--set",
          'multilevel_gradient="finite-difference"'], "use multilevel_gradient=exact with stage_weights=hypernetwork"),
        (["--task", "digits", "--task", "digits", "--set", 'mtl_sharing="hard"'],
         "variant of the MTL baselines (mtl-darts, mtl-pc-darts, mtl-pdarts)"),
        (["--task", "digits", "--task", "digits", "--workers", "2"], "runs its seeds one after another in this process"),
    ]:
        out = tmp_path / "out"
        assert main(["search", "--algo", "il-darts", "--scale", "smoke", *argv, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert not out.exists()


def test_threads_reach_the_search_and_its_resume(tmp_path, monkeypatch):
    calls = []
    set_threads = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n) or set_threads(n))
    sizes = [arg for k, v in {**TINY, "epochs": 1}.items() for arg in ("--set", f"{k}={v}")]
    out = str(tmp_path / "run")
    assert main(["search", "--algo", "il-darts", "--task", "digits", "--task", "digits", "--scale", "smoke", *sizes,
                 "--threads", "1", "--out", out]) == 0
    assert calls[0] == 1 and len(calls) == 2  # set for the search, then given back
    calls.clear()
    assert main(["search", "--resume", out, "--threads", "1"]) == 0
    assert calls[0] == 1 and len(calls) == 2


def test_hypernetwork_generates_every_stage_and_resumes_bit_exactly(tmp_path, monkeypatch):
    from bench_toolkit.search.multilevel.hypernetwork import CHUNK, WeightHypernetwork

    config = config_for("smoke", MULTILEVEL_METHODS["imtnas-darts"], {**TINY, "stage_weights": "hypernetwork"})
    search = engine.InterleavedSearch("imtnas-darts", config, load_tasks(["digits", "digits"], config), ["a", "b"], None, 0)
    net = search.hypernetwork
    assert isinstance(net, WeightHypernetwork) and not search.weights
    assert net.chunks == -(-net.total // CHUNK) and net.mlp[0].out_features == 30 and net.mlp[2].out_features == 50
    first, second = (net(search.architecture, k, 0) for k in (0, 1))
    assert first.keys() == {n for n, _ in search.encoder.named_parameters() if n not in ("alpha", "beta")}
    assert any(not torch.equal(first[n], second[n]) for n in first)  # the task index changes the weights
    stored = sum(p.numel() for p in net.parameters())
    assert stored < sum(w.numel() for w in first.values())  # fewer numbers stored than one stage's weights
    assert _assert_resumes_exactly("imtnas-darts", config, tmp_path, monkeypatch)["epoch"].max() == 2


def test_progress_names_each_learner_once_then_reports_losses_per_learner_and_round(tmp_path, capsys):
    config = config_for("smoke", MULTILEVEL_METHODS["il-darts"], {**TINY, "epochs": 1})
    run_interleaved("il-darts", config, ["digits", "digits"], None, [0], tmp_path / "run", "smoke")
    err = capsys.readouterr().err
    assert "run: learners k1 = digits, k2 = digits; train loss per learner k and round m" in err
    epoch_line = next(line for line in err.splitlines() if "epoch 1/1" in line)
    assert [word for word in epoch_line.split() if word[:1] == "k"] == ["k1m1", "k2m1", "k1m2", "k2m2"]


def test_task_specs_are_stored_absolute_so_resume_works_from_anywhere(tmp_path, monkeypatch):
    _folder(tmp_path / "pets", ("cat", "dog", "eel"), 8)
    monkeypatch.chdir(tmp_path)
    config = config_for("smoke", MULTILEVEL_METHODS["il-darts"], {**TINY, "epochs": 1})
    run_interleaved("il-darts", config, ["imagefolder:pets#0-1", "imagefolder:pets#cat,eel"], None, [0],
                    tmp_path / "run", "smoke")
    pets = (tmp_path / "pets").resolve()
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["tasks"] == [f"imagefolder:{pets}#0-1", f"imagefolder:{pets}#cat,eel"]
    monkeypatch.chdir("/")
    assert resume_interleaved(tmp_path / "run")["complete"]  # finished: reloads its tasks by their absolute paths


def test_history_keeps_the_task_loss_and_the_transfer_term_apart(monkeypatch):
    """train_loss is the stage's task cross-entropy alone; transfer_loss is the term it adds toward
    the previous stage (here a constant 7, so any mixing of the two shows), 0 in the very first stage."""
    config = config_for("smoke", MULTILEVEL_METHODS["il-darts"], {**TINY, "epochs": 1})
    search = engine.InterleavedSearch("il-darts", config, load_tasks(["digits", "digits"], config), ["a", "b"], None, 0)
    monkeypatch.setattr(search, "transfer", lambda A, W, prev, learner: torch.tensor(7.0))
    rows = pd.DataFrame(search.train_epoch())
    assert rows["transfer_loss"].tolist() == [0.0, 7.0, 7.0, 7.0]  # stages (1, a), (1, b), (2, a), (2, b)
    assert (rows["train_loss"] < np.log(10) + 1).all()  # 10-class cross-entropy near its start, not 7 more


def test_imtnas_at_the_papers_tau_is_the_uncoupled_search_bit_for_bit(tmp_path, monkeypatch):
    """At tau = 5 the MMD hinge is zero with a zero gradient (transfer.mmd_hinge_vanishes), so it is
    not computed: the run equals IMTNAS without transfer (Table 8's C = 0, its head step kept). At
    tau = 1 the hinge is computed."""
    calls = []
    monkeypatch.setattr(engine, "pairwise_mmd", lambda *a: calls.append(1) or pairwise_mmd(*a))
    histories = {}
    for name, settings in (("tau5", {}), ("none", {"transfer": "none"}), ("tau1", {"mmd_tau": 1.0})):
        config = config_for("smoke", MULTILEVEL_METHODS["imtnas-darts"], {**TINY, **settings})
        assert config.head_step == "unrolled"  # IMTNAS Eq. 20, whatever the transfer
        run_interleaved("imtnas-darts", config, ["digits", "digits"], None, [0], tmp_path / name, "smoke")
        histories[name] = pd.read_parquet(tmp_path / name / "history.parquet").drop(columns="epoch_seconds")
        if name == "none":
            assert not calls  # tau = 5 never embedded an augmentation set
    pd.testing.assert_frame_equal(histories["tau5"], histories["none"], check_exact=True)
    assert calls and (histories["tau1"]["train_loss"] != histories["none"]["train_loss"]).any()


@pytest.mark.parametrize("transfer", ["embedding-l2", "similarity"])
def test_table_6_couplings_run(transfer, tmp_path):
    config = config_for("smoke", MULTILEVEL_METHODS["il-darts"], {**TINY, "epochs": 1, "transfer": transfer})
    final = run_interleaved("il-darts", config, ["digits", "digits"], None, [0], tmp_path / transfer, "smoke")
    history = pd.read_parquet(tmp_path / transfer / "history.parquet")
    assert final["complete"] and len(history) == 4 and history["train_loss"].notna().all()


@pytest.mark.parametrize("sharing", ["hard", "soft"])
def test_mtl_with_shared_weights_runs_resumes_and_shares(sharing, tmp_path, monkeypatch):
    config = config_for("smoke", MULTILEVEL_METHODS["mtl-darts"], {**TINY, "mtl_sharing": sharing, "il_lambda": 1.0})
    search = engine.JointMultiTask("mtl-darts", config, load_tasks(["digits", "digits"], config), ["a", "b"], None, 0)
    (W,) = search.weights.values()
    encoder_size = sum(w.numel() for w in search._task(W, {}, 0)[0].values())
    assert sum(w.numel() for w in W.values()) == encoder_size * (1 if sharing == "hard" else 2)
    # the joint lower level is the sum of the tasks' losses (and, soft, the coupling)
    search.batches = {k: pair for k, pair in enumerate(next(zip(*[t.epoch(search.generator) for t in search.tasks])))}
    (H,) = search.heads.values()
    separate = sum(engine.InterleavedSearch.train_loss(search, search.architecture, *search._task(W, H, k), k) for k in (0, 1))
    assert float(search.train_loss(search.architecture, W, H, 0).detach()) == pytest.approx(float(separate.detach()))
    if sharing == "soft":  # the copies start equal; moving one by 0.1 costs il_lambda * 0.1^2 per number
        name = next(n for n in W if n.startswith("1/"))
        with torch.no_grad():
            W[name] += 0.1
        assert float(search._coupling(W).detach()) == pytest.approx(1.0 * 0.01 * W[name].numel(), rel=1e-4)
        with torch.no_grad():
            W[name] -= 0.1
    straight = _assert_resumes_exactly("mtl-darts", config, tmp_path, monkeypatch)
    assert len(straight) == 2 * 2 and straight["task"].tolist() == ["digits"] * 4


def _assert_resumes_exactly(algo, config, tmp_path, monkeypatch, benchmark=None) -> pd.DataFrame:
    """Run straight; run again killed after epoch 1 and resume: equal histories but for wall time."""
    run_interleaved(algo, config, ["digits", "digits"], benchmark, [0], tmp_path / "straight", "smoke")
    original = engine.InterleavedSearch.train_epoch

    def killed_after_first(self):
        rows = original(self)
        if self.epoch == 2:
            raise Killed
        return rows

    monkeypatch.setattr(engine.InterleavedSearch, "train_epoch", killed_after_first)
    with pytest.raises(Killed):
        run_interleaved(algo, config, ["digits", "digits"], benchmark, [0], tmp_path / "killed", "smoke")
    monkeypatch.setattr(engine.InterleavedSearch, "train_epoch", original)
    assert pd.read_parquet(tmp_path / "killed" / "history.parquet")["epoch"].max() == 1
    resume_interleaved(tmp_path / "killed")
    straight, resumed = (pd.read_parquet(tmp_path / d / "history.parquet") for d in ("straight", "killed"))
    columns = [c for c in straight.columns if c != "epoch_seconds"]
    pd.testing.assert_frame_equal(resumed[columns], straight[columns], check_exact=True)
    return straight


def test_interleaving_searches_the_darts_cell_as_its_encoder(tmp_path):
    """IL over the DARTS CNN space (IL and IMTNAS report there): the shared alpha covers both cells
    and the result is a genotype in the reference's text form."""
    from bench_toolkit.spaces import darts

    config = config_for("smoke", MULTILEVEL_METHODS["il-darts"], {**TINY, "space": "darts", "cells_per_stage": 1, "epochs": 1, "rounds": 1})
    final = run_interleaved("il-darts", config, ["digits", "digits"], None, [0], tmp_path / "il", "smoke")
    genotype = darts.parse_genotype(final["per_seed"][0]["arch"])
    assert len(genotype.normal) == len(genotype.reduce) == 8
    history = pd.read_parquet(tmp_path / "il" / "history.parquet")
    assert sorted(zip(history["round"], history["learner"])) == [(1, 0), (1, 1)]


def _pdarts_config(**settings):
    """il-pdarts at smoke size: one round, the DARTS space's first stage (5 cells) unless set."""
    return config_for("smoke", MULTILEVEL_METHODS["il-pdarts"], {**TINY, "rounds": 1, **settings})


def test_over_pdarts_pruned_ops_get_no_weight_and_no_hypergradient(float64):
    """One P-DARTS stage under IL: alpha's softmax runs over the ops each edge still has, so a
    dropped op has weight exactly 0 and hypergradient exactly 0, and the kept ops' hypergradient
    equals float64 central differences of F(A)."""
    from bench_toolkit.spaces import darts

    kept = ("skip_connect", "sep_conv_3x3", "avg_pool_3x3")
    config = _pdarts_config(edge_ops=[list(kept)] * len(darts.EDGE_NAMES))
    assert MULTILEVEL_METHODS["il-pdarts"] | {"epochs": 25, "warmup_epochs": 10, "space": "darts"} == MULTILEVEL_METHODS["il-pdarts"]
    search = engine.InterleavedSearch("il-pdarts", config, load_tasks(["digits", "digits"], config), ["a", "b"], None, 0)
    alive = torch.tensor([[op in kept for op in config.ops]] * len(darts.EDGE_NAMES))
    weights = search.mixing(search.architecture, search.generator, 0).weights
    assert torch.all(weights[~alive] == 0) and torch.allclose(weights.sum(dim=1), torch.ones(len(weights)))
    problem = _first_batches_problem(search)
    A = search.architecture
    _, exact = exact_hypergradient(problem, A)
    assert torch.all(exact[~alive] == 0) and exact[alive].abs().max() > 1e-6
    _assert_central_differences(problem, A, exact, [(0, config.ops.index("sep_conv_3x3")), (20, config.ops.index("skip_connect"))])


def test_a_pdarts_stage_with_skip_dropout_resumes_bit_exactly(tmp_path, monkeypatch):
    """Skip dropout draws from torch's generator, which the checkpoint carries (the resumed epoch 2
    drops at 0.4 / 3); the history reports the stage's scheduled rate (P-DARTS: p (E - e - 1) / E
    while alpha is frozen -- here throughout, to keep the test fast)."""
    config = _pdarts_config(epochs=3, warmup_epochs=3, skip_dropout=0.4, images_per_class=4)
    straight = _assert_resumes_exactly("il-pdarts", config, tmp_path, monkeypatch)
    assert straight["skip_dropout"].tolist() == pytest.approx([0.4 * 2 / 3] * 2 + [0.4 * 1 / 3] * 2 + [0.0] * 2)


def test_il_over_pdarts_runs_three_stages_and_continues_a_killed_run(tmp_path, capsys):
    """``search --algo il-pdarts``: 5, 11, 17 cells with 8, 5, 3 ops an edge, the stages' skip
    dropout 0.1, 0.4, 0.7, a genotype with at most two skips; a run killed before its last stage
    continues there (``--resume``) and ends the same. (Alpha frozen throughout, to keep the test
    fast: the stages then keep the ops of largest initial alpha; the hypergradient is tested above,
    the skip dropout's schedule below.)"""
    import shutil

    from bench_toolkit.spaces import darts

    sizes = ["--set", "images_per_class=4", "--set", "resolution=8", "--set", "channels=4", "--set", "batch_size=16",
             "--set", "rounds=1", "--set", "epochs=1", "--set", "warmup_epochs=1"]
    main(["search", "--algo", "il-pdarts", "--task", "digits", "--task", "digits", "--scale", "smoke", *sizes,
          "--out", str(tmp_path / "run")])
    final = json.loads((tmp_path / "run" / "final.json").read_text())
    def config_of(stage_dir):
        return json.loads((stage_dir / "config.json").read_text())["config"]

    for stage, (ops_per_edge, cells, rate) in enumerate([(8, 1, 0.1), (5, 3, 0.4), (3, 5, 0.7)], start=1):
        stage_dir = tmp_path / "run" / "seed-0" / f"stage-{stage}"
        assert config_of(stage_dir)["cells_per_stage"] == cells
        alphas = pd.read_parquet(stage_dir / "alphas.parquet")
        assert (alphas.groupby("edge")["weight"].apply(lambda w: int((w > 0).sum())) == ops_per_edge).all()
        history = pd.read_parquet(stage_dir / "history.parquet")
        assert sorted(zip(history["round"], history["learner"])) == [(1, 0), (1, 1)]
        assert config_of(stage_dir)["skip_dropout"] == rate
    limited = darts.parse_genotype(final["per_seed"]["0"]["genotype_max_2_skips"])
    assert sum(op == "skip_connect" for op, _ in limited.normal) <= 2
    assert "seed 0 genotype_max_2_skips: Genotype(" in capsys.readouterr().out
    shutil.rmtree(tmp_path / "run" / "seed-0" / "stage-3")
    (tmp_path / "run" / "final.json").unlink()
    main(["search", "--resume", str(tmp_path / "run")])
    assert json.loads((tmp_path / "run" / "final.json").read_text()) == final


def test_il_over_pdarts_refuses_another_space_and_a_benchmark_in_one_line(tmp_path, capsys):
    for extra, message in ((["--space", "nb201"], "il-pdarts searches the DARTS space, as P-DARTS"),
                           (["--benchmark", "analog"], "no tabular benchmark answers for the darts space")):
        out = tmp_path / "run"
        assert main(["search", "--algo", "il-pdarts", "--task", "digits", "--task", "digits", "--scale", "smoke", *extra,
                     "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
        assert not out.exists()
