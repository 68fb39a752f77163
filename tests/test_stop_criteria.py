"""Stop criteria on hand-made histories with known answers, online and post hoc; the Hessian
eigenvalue of a known quadratic; presets; an online stop inside a real search."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from bench_toolkit.analysis.stops import apply_criteria, summarise_selections
from bench_toolkit.cli import main
from bench_toolkit.diagnostics.hessian import largest_eigenvalue
from bench_toolkit.diagnostics.stop import (
    BestEpoch, EigenvalueGrowth, FinalEpoch, MagnitudePeak, RankingStable, Selection, SkipCount, Trace, parse_criterion,
)
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search.differentiable import config_for, run_supernet_search
from bench_toolkit.search.differentiable.presets import PRESETS, get_preset
from bench_toolkit.spaces import nb201

OPS = nb201.OPS
NO_SKIP = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ONE_SKIP = NO_SKIP.replace("nor_conv_3x3~2", "skip_connect~2")
TWO_SKIPS = ONE_SKIP.replace("|nor_conv_3x3~0|+", "|skip_connect~0|+", 1)


def trace(archs=None, magnitudes=None, eig=None, alphas=None) -> Trace:
    n = len(next(x for x in (archs, magnitudes, eig, alphas) if x is not None))
    rows = pd.DataFrame({"seed": 0, "epoch": np.arange(1, n + 1), "arch": archs or [NO_SKIP] * n})
    for k, op in enumerate(OPS):
        rows[f"magnitude.{op}"] = [m[k] for m in magnitudes] if magnitudes else 0.2
    if eig is not None:
        rows["hessian_eig"] = eig
    return Trace(rows, np.zeros((n, 6, 5)) if alphas is None else np.asarray(alphas, float), OPS)


def test_skip_count_fires_at_the_first_cell_with_k_skips():
    t = trace(archs=[NO_SKIP, ONE_SKIP, ONE_SKIP, TWO_SKIPS, NO_SKIP])
    assert SkipCount(2).first_fire(t) == Selection(epoch=4, fired_at=4)
    assert SkipCount(1).first_fire(t) == Selection(epoch=2, fired_at=2)
    assert SkipCount(3).first_fire(t) is None
    assert SkipCount(3).rollback(t) == Selection(epoch=5, fired_at=None)  # never fired: final cell


def test_ranking_stable_counts_unchanged_epochs_over_learnable_ops():
    conv1, conv3 = OPS.index("nor_conv_1x1"), OPS.index("nor_conv_3x3")

    def alpha(conv3_first_on_edge0: bool, noise: float) -> np.ndarray:
        a = np.full((6, 5), noise)  # non-learnable ops change freely: they must not matter
        a[:, conv3], a[:, conv1] = 1.0, 0.5
        if not conv3_first_on_edge0:
            a[0, conv3], a[0, conv1] = 0.5, 1.0
        return a

    flips = [True, False, True, True, True, False, False, False]
    t = trace(alphas=[alpha(f, noise=k) for k, f in enumerate(flips)])
    # rankings change at epochs 2, 3, 6; unchanged for 2 epochs first at epoch 5 (4 == 3, 5 == 4)
    assert RankingStable(2).first_fire(t) == Selection(5, 5)
    assert RankingStable(3).first_fire(t) is None
    assert RankingStable(1).first_fire(t) == Selection(4, 4)
    with pytest.raises(BenchToolkitError, match="two or more learnable ops"):
        RankingStable(2).first_fire(Trace(t.rows, t.alphas[:, :, :2], OPS[:2]))


def test_darts_es_as_the_robustdarts_reference_by_hand():
    """LA(u) = mean eig over u-2..u+2; at epoch t (u = t - 2) fire when LA(u) / LA(u - 4) > 1.3,
    selecting epoch u - 4 >= 11 (the reference's 0-based 10)."""
    eig = [1.0] * 16 + [3.0] * 8  # epochs 1..24, the eigenvalue triples from epoch 17 on
    # LA(15) = (1+1+1+1+3)/5 = 1.4 over LA(11) = 1 -> 1.4 > 1.3, known at t = 17; selects 11
    assert EigenvalueGrowth().first_fire(trace(eig=eig)) == Selection(epoch=11, fired_at=17)
    # a rise at epoch 8 is over before a stop may be selected: from t = 17 on LA(u) / LA(u - 4) = 1
    early = [1.0] * 7 + [3.0] * 17
    assert EigenvalueGrowth().first_fire(trace(eig=early)) is None
    # a slow rise (x 1.05 per epoch: LA grows x 1.22 over 4 epochs) never fires; a faster one does
    assert EigenvalueGrowth().first_fire(trace(eig=[1.05**k for k in range(30)])) is None
    fast = EigenvalueGrowth().first_fire(trace(eig=[1.08**k for k in range(30)]))  # LA x 1.36 over 4 epochs
    assert fast == Selection(epoch=11, fired_at=17)
    assert EigenvalueGrowth().rollback(trace(eig=[1.0] * 20)) == Selection(20, None)
    with pytest.raises(BenchToolkitError, match="hessian_every=1"):
        EigenvalueGrowth().first_fire(trace(archs=[NO_SKIP] * 3))


def _magnitudes(conv3):
    rest = [(1 - c) / 4 for c in conv3]
    return [(r, r, r, c, r) for c, r in zip(conv3, rest)]


def test_magnitude_peak_online_and_rollback():
    conv3 = [0.2, 0.3, 0.4, 0.35, 0.5, 0.6, 0.3, 0.25]
    t = trace(magnitudes=_magnitudes(conv3))
    peak = MagnitudePeak("nor_conv_3x3")
    assert peak.first_fire(t) == Selection(epoch=3, fired_at=4)  # Algorithm 1: first fall after a peak
    assert MagnitudePeak("nor_conv_3x3", patience=2).first_fire(t) == Selection(epoch=6, fired_at=8)
    assert MagnitudePeak("nor_conv_3x3", patience=2).first_fire(t.upto(7)) is None
    assert peak.rollback(t) == Selection(epoch=6, fired_at=None)  # Algorithm 2: the global peak
    residual = MagnitudePeak("nor_conv_3x3", residual=True)
    # Eq. 13 = sum_j (m_i - m_j) = 5 m_i - 1 when the magnitudes sum to 1: same peak as Eq. 12
    np.testing.assert_allclose(residual.scores(t).to_numpy(), 5 * np.array(conv3) - 1)
    assert residual.rollback(t) == peak.rollback(t)
    assert MagnitudePeak("nor_conv_3x3").first_fire(trace(magnitudes=_magnitudes([0.1, 0.2, 0.3]))) is None
    with pytest.raises(BenchToolkitError, match="not in this run's search space"):
        MagnitudePeak("skip_connect").rollback(Trace(t.rows.drop(columns="magnitude.skip_connect"), t.alphas, OPS))


def test_final_and_optimal_are_post_hoc_references(tmp_path):
    t = trace(archs=[NO_SKIP, ONE_SKIP, TWO_SKIPS, TWO_SKIPS])
    t.rows["cifar10.test_acc"] = [90.0, 94.0, 93.0, 60.0]
    t.rows["cifar100.test_acc"] = [75.0, 70.0, 72.0, 40.0]
    assert FinalEpoch().rollback(t) == Selection(epoch=4, fired_at=None)
    assert BestEpoch().rollback(t) == Selection(epoch=2, fired_at=None)  # CIFAR-10 test decides, not CIFAR-100
    with pytest.raises(BenchToolkitError, match="post-hoc reference"):
        BestEpoch().first_fire(t)
    with pytest.raises(BenchToolkitError, match="needs benchmark answers"):
        BestEpoch().rollback(trace(archs=[NO_SKIP]))
    assert not parse_criterion("optimal").online and not parse_criterion("final").online and parse_criterion("sc_2").online
    with pytest.raises(BenchToolkitError, match="'optimal' is a post-hoc reference.*`bench-toolkit stop`"):
        run_supernet_search("darts-v1", config_for("smoke", {}, TINY), "digits", "analog", [0], tmp_path / "r",
                            stop={"criterion": "optimal"})
    assert not (tmp_path / "r" / "config.json").exists()


def test_parse_criterion():
    assert parse_criterion("sc_2").name == "sc_2" and parse_criterion("rt_10").k == 10
    assert parse_criterion("ss-residual", "nor_conv_1x1").name == "ss-residual(nor_conv_1x1)"
    with pytest.raises(BenchToolkitError, match="unknown stop criterion 'stop-early'"):
        parse_criterion("stop-early")


@pytest.mark.parametrize("spectrum, largest", [([4.0, -1.5, 1.0, 0.5, 2.5], 4.0), ([-6.0, 1.0, 2.0], 2.0)])
def test_largest_hessian_eigenvalue_of_a_known_quadratic(spectrum, largest):
    """The largest eigenvalue, not the largest in magnitude (power iteration would give -6)."""
    torch.manual_seed(0)
    n = len(spectrum)
    q, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64))
    matrix = q @ torch.diag(torch.tensor(spectrum, dtype=torch.float64)) @ q.T
    x = torch.randn(n, dtype=torch.float64, requires_grad=True)
    value = largest_eigenvalue(lambda: 0.5 * x @ matrix @ x + 3 * x.sum(), x)
    assert value == pytest.approx(largest, abs=1e-9)


def test_presets_write_down_the_papers_settings():
    ex = get_preset("ex-darts").settings
    assert (ex["w_lr"], ex["a_lr"]) == (0.0003, 0.025) and ex["w_lr_min"] == pytest.approx(0.0003 * 0.001 / 0.025)
    assert get_preset("warmup-20").settings == {"warmup_epochs": 20, "epochs": 70, "warmup_schedule": "restart"}
    assert "skip_connect" not in get_preset("no-skip").settings["ops"]
    assert get_preset("long-500").settings["epochs"] == 500 and get_preset("alpha-wd-0.01").settings["a_weight_decay"] == 0.01
    for preset in PRESETS.values():
        config_for("paper", {}, preset.settings)  # every preset is a valid configuration
    with pytest.raises(BenchToolkitError, match="unknown preset"):
        get_preset("fast-darts")


TINY = {"images_per_class": 16, "resolution": 8, "channels": 4, "batch_size": 16}


def test_warmup_freezes_alpha(tmp_path):
    config = config_for("smoke", {}, {**TINY, "epochs": 3, "warmup_epochs": 2})
    run_supernet_search("darts-v1", config, "digits", None, [0], tmp_path / "run")
    alphas = pd.read_parquet(tmp_path / "run" / "alphas.parquet").pivot_table(index="epoch", columns=["edge", "op"], values="alpha")
    assert np.array_equal(alphas.loc[1].to_numpy(), alphas.loc[2].to_numpy())  # frozen during warm-up
    assert not np.array_equal(alphas.loc[2].to_numpy(), alphas.loc[3].to_numpy())


@pytest.mark.parametrize("schedule", ["restart", "span"])
def test_weight_lr_around_a_warm_up(tmp_path, schedule):
    """4 epochs, 2 of warm-up, cosine 0.025 -> 0.001 (lr_w is read at the end of each epoch).
    restart: 0.025 through the warm-up, then the cosine over the 2 joint epochs -- half-way
    (0.025 + 0.001) / 2 after epoch 3, 0.001 after epoch 4. span: one cosine over all 4 epochs,
    half-way after epoch 2."""
    config = config_for("smoke", {}, {**TINY, "epochs": 4, "warmup_epochs": 2, "warmup_schedule": schedule})
    lr = run_supernet_search("darts-v1", config, "digits", None, [0], tmp_path / schedule)["lr_w"].tolist()
    middle = (0.025 + 0.001) / 2
    expected = [0.025, 0.025, middle, 0.001] if schedule == "restart" else [None, middle, None, 0.001]
    for got, want in zip(lr, expected):
        if want is not None:
            assert got == pytest.approx(want, rel=1e-6)
    if schedule == "span":
        assert lr[0] < 0.025  # the cosine starts at once
    with pytest.raises(BenchToolkitError, match="warmup_schedule must be one of span, restart"):
        config_for("paper", {}, {"warmup_schedule": "linear"})


def test_online_stop_ends_the_seed_and_post_hoc_agrees(tmp_path):
    config = config_for("smoke", {}, {**TINY, "epochs": 6, "hessian_every": 1})
    run_supernet_search("darts-v1", config, "digits", "analog", [0, 1], tmp_path / "full")
    posthoc = apply_criteria(tmp_path / "full", [RankingStable(1)], mode="online")
    assert posthoc["fired_at"].notna().all()  # rt_1 fires: rankings hold still for an epoch somewhere
    run_supernet_search("darts-v1", config, "digits", "analog", [0, 1], tmp_path / "online", stop={"criterion": "rt_1"})
    history = pd.read_parquet(tmp_path / "online" / "history.parquet")
    final = json.loads((tmp_path / "online" / "final.json").read_text())
    for seed, row in posthoc.set_index("seed").iterrows():
        assert history[history.seed == seed]["epoch"].max() == row["fired_at"]  # training ended there
        chosen = next(s for s in final["per_seed"] if s["seed"] == seed)
        assert chosen["stopped"] and chosen["arch"] == row["arch"] and chosen["epoch"] == row["epoch"]
    assert history["hessian_eig"].notna().all()
    summary = summarise_selections(apply_criteria(tmp_path / "full", [SkipCount(2), MagnitudePeak("nor_conv_3x3")]))
    assert list(summary["criterion"]) == ["sc_2", "ss-peak(nor_conv_3x3)"]
    assert main(["stop", str(tmp_path / "full"), "--criterion", "sc_2", "--criterion", "darts-es"]) == 0
    assert main(["stop", str(tmp_path / "full"), "--criterion", "warp"]) == 2
