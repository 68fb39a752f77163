"""P-DARTS: the search space approximation, the skip limit, skip dropout and its schedule, and the
three stages end to end through the one engine."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from bench_toolkit.nn.darts_ops import make_search_op
from bench_toolkit.nn.supernet import MixedOp
from bench_toolkit.search.differentiable import config_for, get_method
from bench_toolkit.search.differentiable.mixing import ProgressiveStage
from bench_toolkit.search.differentiable.progressive import keep_strongest, limit_skips, resume_pdarts, run_pdarts
from bench_toolkit.spaces import darts

OPS = darts.OPS


def test_each_edge_keeps_its_strongest_alive_ops():
    weights = np.array([[0.05, 0.3, 0.1, 0.2, 0.15, 0.1, 0.05, 0.05]] * 28)
    alive = np.ones_like(weights, dtype=bool)
    alive[0, OPS.index("max_pool_3x3")] = False  # a dropped op never comes back
    kept = keep_strongest(weights, alive, 3)
    assert [OPS[k] for k in np.flatnonzero(kept[1])] == ["max_pool_3x3", "skip_connect", "sep_conv_3x3"]
    # row 0: without max_pool the next three; avg_pool and sep_conv_5x5 tie at 0.1, the earlier op wins
    assert [OPS[k] for k in np.flatnonzero(kept[0])] == ["avg_pool_3x3", "skip_connect", "sep_conv_3x3"]
    assert kept.sum(axis=1).tolist() == [3] * 28


def test_the_normal_cell_keeps_at_most_two_skips():
    weights = np.full((28, len(OPS)), 0.01)
    alive = np.ones_like(weights, dtype=bool)
    skip, conv = OPS.index("skip_connect"), OPS.index("sep_conv_3x3")
    strong = {("normal", 0, 2): 0.9, ("normal", 1, 2): 0.8, ("normal", 0, 3): 0.7, ("normal", 1, 3): 0.3}
    for (cell, source, target), w in strong.items():
        weights[darts.EDGE_NAMES.index(f"{cell}.{source}->{target}"), skip] = w
    weights[darts.EDGE_NAMES.index("normal.1->3"), conv] = 0.2  # the runner-up on the weakest skip's edge
    weights[darts.EDGE_NAMES.index("normal.0->2"), conv] = 0.1
    before = darts.derive_genotype(weights, OPS, alive)
    assert sum(op == "skip_connect" for op, _ in before.normal[:4]) == 4
    after = limit_skips(weights, alive, OPS)
    assert sum(op == "skip_connect" for op, _ in after.normal) == 2
    # the two weakest skips went (1->3 at 0.3, then 0->3 at 0.7); 1->3 falls back to its convolution
    assert after.normal[:2] == (("skip_connect", 0), ("skip_connect", 1))
    assert ("sep_conv_3x3", 1) in after.normal[2:4]
    assert after.reduce == before.reduce


def test_skip_dropout_schedule_and_where_it_applies():
    stage = ProgressiveStage(np.ones((28, 8), dtype=bool), darts.EDGE_NAMES, 0.4, epochs=25, frozen=10)
    assert stage.skip_dropout(0) == pytest.approx(0.4 * 24 / 25)
    assert stage.skip_dropout(9) == pytest.approx(0.4 * 15 / 25)
    assert stage.skip_dropout(10) == pytest.approx(0.4)
    assert stage.skip_dropout(15) == pytest.approx(0.4 * math.exp(-1.0))
    torch.manual_seed(0)
    edge = MixedOp(("skip_connect", "avg_pool_3x3"), 4, make=lambda name, c: make_search_op(name, c, 1))
    x, weights = torch.ones(64, 4, 4, 4), torch.tensor([1.0, 0.0])
    edge.train()
    out = edge(x, weights, skip_dropout=0.5)
    assert set(out.unique().tolist()) == {0.0, 2.0} and abs(float((out == 0).float().mean()) - 0.5) < 0.05
    assert torch.equal(edge.eval()(x, weights, skip_dropout=0.5), x)  # no dropout in evaluation
    strided = MixedOp(("skip_connect",), 4, stride=2, make=lambda name, c: make_search_op(name, c, 2))
    assert strided.skip == [False]  # a reduction edge's skip is a factorised reduction: never dropped


def test_three_stages_shrink_the_ops_and_deepen_the_network(tmp_path, monkeypatch):
    """... and the run stores its data spec absolute, so it resumes from any working directory."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("cat", "dog", "eel"):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "pets" / name / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    config = config_for("smoke", get_method("pdarts").defaults,
                        {"epochs": 2, "warmup_epochs": 1, "images_per_class": 8, "resolution": 8})
    final = run_pdarts(config, "imagefolder:pets", [0], tmp_path / "run")
    saved_data = json.loads((tmp_path / "run" / "config.json").read_text())["data"]
    assert saved_data == f"imagefolder:{(tmp_path / 'pets').resolve()}"
    for stage, (ops_per_edge, cells) in enumerate([(8, 1), (5, 3), (3, 5)], start=1):
        stage_dir = tmp_path / "run" / "seed-0" / f"stage-{stage}"
        saved = json.loads((stage_dir / "config.json").read_text())["config"]
        assert saved["cells_per_stage"] == cells  # 5, 11, 17 search cells
        alphas = pd.read_parquet(stage_dir / "alphas.parquet")
        last = alphas[alphas["epoch"] == 2]
        assert (last.groupby("edge")["weight"].apply(lambda w: int((w > 0).sum())) == ops_per_edge).all()
        history = pd.read_parquet(stage_dir / "history.parquet")
        assert history["skip_dropout"].tolist() == pytest.approx([(0.1, 0.4, 0.7)[stage - 1] * 1 / 2,
                                                                  (0.1, 0.4, 0.7)[stage - 1]])
    limited = darts.parse_genotype(final["per_seed"]["0"]["genotype_max_2_skips"])
    assert sum(op == "skip_connect" for op, _ in limited.normal) <= 2
    # a run killed before its last stage continues there and ends the same
    shutil.rmtree(tmp_path / "run" / "seed-0" / "stage-3")
    (tmp_path / "run" / "final.json").unlink()
    monkeypatch.chdir("/")
    assert resume_pdarts(tmp_path / "run") == final

