"""Each experiment of IF-NAS (Tian et al., "Exploring Complicated Search Spaces with
Interleaving-Free Sampling") as a function of the parsed study arguments; the ``table*.py`` and
``fig1_*.py`` scripts beside this file call one each.

The searches share their run directories: IF-NAS (``if-nas``) serves Tables 2-5, "w/o IF"
(``if_sampling=none``, the same settings otherwise) Tables 3 and 4, DARTS in the L-chain space
(no sampling, no gradual pruning) Tables 2 and 3, and 1-3 added interleaved connections
(``if_interleaved``) Table 5. Table 4 also holds both searches at the reference code's pruning
threshold 0.1 (``if_threshold``; the paper's 0.01 is the default), the test of whether a higher
threshold lets the gradual pruning act during the search (at mini it pruned 3 of 180 ops), and
IF-NAS with ten times the reference code's regulariser weights mu1, mu2 at the paper's threshold,
the test of whether a stronger push toward discrete weights lets it act (a departure from both the
paper and the reference code, marked so in the table). At ``mini`` the multiply-add bound is 1.15 times the
plain chain's (every node one sep_conv_3x3 from its predecessor), the paper's ratio of its 600M
mobile bound to its 520M chain (Sec. 3.3); at ``paper`` it is 600M on 224 x 224 images with the
ImageNet stem.

What mini tests is the search side of each claim -- the depth and the interleaving of what each
search keeps. The paper's accuracies come from training every found network for 100-250 ImageNet
epochs (``bench-toolkit train ARCH --recipe lchain-imagenet``), which the CPU studies do not do.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from bench_toolkit.nn.lchain_network import MaddsTable
from bench_toolkit.search.differentiable import config_for, get_method
from bench_toolkit.search.differentiable.config import SearchConfig
from bench_toolkit.spaces import darts, lchain
from bench_toolkit.study import (StudyRun, complete, curve_figure, figure_dir, labelled_history, may_redraw, method_run,
                                 table_rows, per_seed, write_outputs)

PAPER_COUNTS = {"DARTS": "1.1e+18", "4-chain": "1.8e+116", "6-chain": "7.5e+163", "8-chain": "1.6e+204"}
PAPER_TABLE4 = {"w/o IF": "22.5 ± 2.0", "w/ IF": "43 ± 3"}  # depth, IF-NAS Table 4 (ImageNet, 4 searches each)
PAPER_TABLE5 = {0: "41.5 ± 2.5", 1: "26.0 ± 3.0", 2: "24.5 ± 2.5", 3: "24.0 ± 3.0"}  # depth by interleaved connections


def _scale_settings(args: argparse.Namespace) -> dict:
    """The multiply-add bound (and stem, image size) of the scale (module docstring)."""
    if args.scale == "paper":
        return {"stem": "imagenet", "resolution": 224, "if_madds_bound": 600.0}
    config = config_for(args.scale, get_method("if-nas").defaults, {})
    chain = lchain.LChainArch(config.L, tuple(tuple((("sep_conv_3x3", node - 1),) for node in range(1, n))
                                              for n in config.stage_nodes))
    table = MaddsTable(config.stage_nodes, config.L, config.channels, 10, config.stem, config.resolution or 32)
    return {"if_madds_bound": round(1.15 * table(chain) / 1e6, 4)}


def runs(args: argparse.Namespace, labels: list[str]) -> dict[str, StudyRun]:
    base = _scale_settings(args)
    every = {"w/ IF": method_run("if-nas", base, "if-nas"),
             "w/o IF": method_run("if-nas", {**base, "if_sampling": "none"}, "if-nas-without-if"),
             # Table 2's baselines: the same settings, no sampling, weak parts removed only after the search
             "DARTS": method_run("if-nas", {**base, "if_sampling": "none", "if_gradual_prune": False}, "lchain-darts"),
             "PC-DARTS": method_run("if-nas", {**base, "if_sampling": "none", "if_gradual_prune": False,
                                               "partial_channels": 4}, "lchain-pc-darts"),
             **{f"IC {k}": method_run("if-nas", {**base, "if_interleaved": k}, f"if-nas-ic{k}") for k in (1, 2, 3)},
             # the reference code's pruning threshold in place of the paper's 0.01
             "w/ IF (threshold 0.1)": method_run("if-nas", {**base, "if_threshold": 0.1}, "if-nas-threshold-0.1"),
             "w/o IF (threshold 0.1)": method_run("if-nas", {**base, "if_sampling": "none", "if_threshold": 0.1},
                                                 "if-nas-without-if-threshold-0.1"),
             # ten times the reference's regulariser weights (Eq. 3), the paper's threshold
             "w/ IF (mu x10)": method_run("if-nas", {**base, "if_mu1": 10 * SearchConfig.if_mu1,
                                                                "if_mu2": 10 * SearchConfig.if_mu2}, "if-nas-mu-x10")}
    return {label: every[label] for label in labels}


# Fig. 1: node 7 of the first stage chooses among its pre-1, pre-3 and pre-6 inputs (L = 6) while
# 0-3 connections are added across them; only the candidates' weights train, none is pruned or
# regularised; 20 warm-up epochs (the paper's), then 30
FIG1_EXTRA = {"(a) interleaving-free": (), "(b) + (3,7)": (3, 7), "(c) + (1,4), (3,7)": (1, 4, 3, 7),
              "(d) + (1,4), (2,6), (3,7)": (1, 4, 2, 6, 3, 7)}
FIG1_SOURCES = {6: "pre-1", 4: "pre-3", 1: "pre-6"}


def probe_runs() -> dict[str, StudyRun]:
    base = {"if_sampling": "probe", "L": 6, "epochs": 50, "if_probe_node": (1, 7), "if_probe_sources": tuple(FIG1_SOURCES),
            "if_mu1": 0.0, "if_mu2": 0.0, "if_threshold": 0.0}
    return {label: method_run("if-nas", {**base, "if_probe_extra": extra}, f"if-nas-probe-{len(extra) // 2}")
            for label, extra in FIG1_EXTRA.items()}


def probe_curves(run_dirs: dict[str, Path]) -> pd.DataFrame:
    """The histories with only the candidates' weights, named by their distance (pre-1, pre-3, pre-6)."""
    history = labelled_history(run_dirs)
    renames = {f"edge_weight.s1.{source}->7": name for source, name in FIG1_SOURCES.items()}
    keep = [c for c in history.columns if not c.startswith("edge_weight.")] + list(renames)
    return history[keep].rename(columns={old: f"edge_weight.{new}" for old, new in renames.items()})


def fig1(args: argparse.Namespace) -> None:
    """Fig. 1/8: one node's choice among pre-1, pre-3, pre-6 with 0-3 interleaved connections added."""
    from bench_toolkit.analysis import epoch_plot

    run_dirs = complete(args, probe_runs())
    curves = probe_curves(run_dirs)
    epoch_plot(curves, "edge_weight", _out(args) / "fig1_interleaving_probe.png", "Fig. 1")
    last = _last_epochs(curves, list(run_dirs))
    rows = [{"setting": run, **{name: _mean_std(group[f"edge_weight.{name}"], 3) for name in FIG1_SOURCES.values()},
             "pre-1 strongest (seeds)": f"{int((group[[f'edge_weight.{n}' for n in FIG1_SOURCES.values()]].idxmax(axis=1) == 'edge_weight.pre-1').sum())}/{len(group)}"}
            for run, group in last.groupby("run", sort=False)]
    write_outputs(_out(args), "fig1_interleaving_probe", pd.DataFrame(rows))


def _out(args: argparse.Namespace) -> Path:
    return figure_dir(args)


def table1(args: argparse.Namespace) -> None:
    """Table 1: the number of architectures of the DARTS space and the 4-, 6-, 8-chain spaces."""
    ours = {"DARTS": darts.count_genotypes(), **{f"{L}-chain": lchain.count_architectures(L) for L in (4, 6, 8)}}
    table = pd.DataFrame([{"space": name, "the paper": PAPER_COUNTS[name], "ours": f"{count:.1e}",
                           "ours (exact digits)": len(str(count))} for name, count in ours.items()])
    write_outputs(Path(args.out_dir), "table1_counts", table)  # no data involved: one table for every scale


def final_architectures(run_dirs: dict[str, Path]) -> pd.DataFrame:
    """Per run and seed the retained architecture's depth, multiply-adds, connections and
    interleaved pairs, and the depth of the one-input-per-node architecture, at the last epoch."""
    last = _last_epochs(labelled_history(run_dirs), list(run_dirs))
    return last[["run", "seed", "epoch", "depth", "madds_m", "live_connections", "interleaved_pairs",
                 "depth_one_input"]].reset_index(drop=True)


def _last_epochs(history: pd.DataFrame, run_order: list[str]) -> pd.DataFrame:
    """Each (run, seed)'s last epoch, the runs in the table's order, then by seed."""
    last = history.sort_values("epoch", kind="stable").groupby(["run", "seed"]).tail(1)
    rank = {label: i for i, label in enumerate(run_order)}
    return last.sort_values(["run", "seed"], key=lambda column: column.map(rank) if column.name == "run" else column)


def _mean_std(values: pd.Series, digits: int = 1) -> str:
    """Mean ± sample std; one value alone, without a spread it does not have."""
    if len(values) == 1:
        return f"{values.iloc[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def summary(finals: pd.DataFrame, column: str, paper: dict, scale: str) -> pd.DataFrame:
    """One row per search: the paper's value, the number of seeds, ``column`` at ``scale`` as mean ±
    std and per seed, the interleaved pairs and multiply-adds of the kept networks."""
    rows = []
    for run, group in finals.groupby("run", sort=False):
        rows.append({"search": run, "the paper": paper.get(run, "—"), "seeds": len(group), f"{column} ({scale})": _mean_std(group[column]),
                     "per seed": per_seed(group[column], decimals=0),
                     "interleaved pairs kept": _mean_std(group["interleaved_pairs"]),
                     "MAdds (M)": f"{group['madds_m'].mean():.3f}"})
    return pd.DataFrame(rows)


def table2(args: argparse.Namespace) -> None:
    """Table 2 (search side): DARTS, PC-DARTS and IF-NAS at L = 4 -- the found networks' depth,
    multiply-adds and interleaved connections (the paper's column is top-1 error after ImageNet
    training: DARTS 25.3, PC-DARTS 24.7, IF-NAS 24.3)."""
    labels = ["DARTS", "PC-DARTS", "w/ IF"]
    run_dirs = table_rows(args, runs(args, labels))
    write_outputs(_out(args), "table2_methods", summary(final_architectures(run_dirs), "depth", {}, args.scale), rows_of=("search", labels))


def table3(args: argparse.Namespace) -> None:
    """Table 3: one input per node -- random vs DARTS vs w/o IF vs IF-NAS (depth of the architectures;
    the paper's third column, GOLD-NAS, is one-level gradual pruning, nearest to w/o IF here)."""
    labels = ["DARTS", "w/o IF", "w/ IF"]
    run_dirs = table_rows(args, runs(args, labels))
    finals = final_architectures(run_dirs)
    config = config_for(args.scale, get_method("if-nas").defaults, {})
    rng = np.random.default_rng(0)
    random_depths = pd.Series([lchain.random_one_input(config.stage_nodes, config.L, rng).depth() for _ in range(100)])
    rows = [{"search": "random (100 draws)", "seeds": pd.NA, "depth": _mean_std(random_depths)}]
    rows += [{"search": run, "seeds": len(group), "depth": _mean_std(group["depth_one_input"]),
              "per seed": per_seed(group["depth_one_input"], decimals=0)}
             for run, group in finals.groupby("run", sort=False)]
    write_outputs(_out(args), "table3_one_input", pd.DataFrame(rows).astype({"seeds": "Int64"}),
                  rows_of=("search", ["random (100 draws)", *labels]))


def table4(args: argparse.Namespace) -> None:
    """Table 4: w/ and w/o interleaving-free sampling -- depth of the retained networks."""
    labels = ["w/o IF", "w/ IF", "w/o IF (threshold 0.1)", "w/ IF (threshold 0.1)", "w/ IF (mu x10)"]
    _depth_table(args, 4, "if_sampling", labels, PAPER_TABLE4)


def table5(args: argparse.Namespace) -> None:
    """Table 5: 0-3 interleaved connections allowed in each sub-supernet -- depth."""
    paper = {"w/ IF": PAPER_TABLE5[0], **{f"IC {k}": PAPER_TABLE5[k] for k in (1, 2, 3)}}
    _depth_table(args, 5, "interleaved", ["w/ IF", "IC 1", "IC 2", "IC 3"], paper)


def _depth_table(args: argparse.Namespace, number: int, topic: str, labels: list[str], paper: dict) -> None:
    """Complete the rows ``labels``, write ``table<number>_<topic>`` (the retained networks' depth
    beside the paper's) and, unless rows come from the CSV alone, ``table<number>_depth.png``."""
    run_dirs = table_rows(args, runs(args, labels))
    table = write_outputs(_out(args), f"table{number}_{topic}", summary(final_architectures(run_dirs), "depth", paper, args.scale),
                          rows_of=("search", labels))
    figure = _out(args) / f"table{number}_depth.png"
    if may_redraw(table, "search", run_dirs, [figure]):
        curve_figure(run_dirs, "depth", figure, f"IF-NAS Table {number}")

