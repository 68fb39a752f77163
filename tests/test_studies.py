"""The study machinery: scales change sizes only, as in the CLI; reuse refuses a changed run and
grows a finished one by more seeds."""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench_toolkit import study as common
from bench_toolkit.analysis import plots
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search.differentiable import config_for, get_method, run_supernet_search
from bench_toolkit.spaces import nb201
from bench_toolkit.search.differentiable.presets import get_preset


def test_a_scale_changes_sizes_only_and_studies_use_the_cli_definition(tmp_path, monkeypatch):
    """mini shrinks data, resolution, width and depth; the epochs, warm-up, schedules, decays and
    pruning windows of a preset or method stay the paper's, exactly as `bench-toolkit search`
    builds them; the retired proxy scale is refused with the names of the scales that exist."""
    seen = {}
    monkeypatch.setattr(common, "execute", lambda runs, executor: seen.update(config=runs[0].jobs[0].config))
    args = _args(tmp_path, seeds=1)
    common.complete(args, {"warm-up 100": common.preset_run("warmup-100")})
    assert seen["config"] == config_for("mini", {}, get_preset("warmup-100").settings)
    assert (seen["config"].epochs, seen["config"].warmup_epochs, seen["config"].channels) == (150, 100, 8)
    common.complete(args, {"ASAP": common.method_run("asap", {}, "asap")})
    assert seen["config"] == config_for("mini", get_method("asap").defaults, {})
    assert (seen["config"].asap_beta, seen["config"].prune_start, seen["config"].prune_end) == (0.95, 20, 50)
    paper, mini = config_for("paper", {}, {}), config_for("mini", {}, {})
    changed = {k for k, v in paper.as_dict().items() if mini.as_dict()[k] != v}
    assert changed == {"images_per_class", "resolution", "channels", "cells_per_stage"}
    with pytest.raises(BenchToolkitError, match="unknown scale 'proxy'; choose one of: smoke, mini, paper"):
        config_for("proxy", {}, {})


def test_a_run_directory_with_other_settings_is_not_silently_reused(tmp_path):
    args = _args(tmp_path, seeds=2)
    assert common.scale_folder(args) == "mini-digits"  # smoke-data runs never share real-data folders
    assert common.scale_folder(Namespace(**{**vars(args), "data": "cifar10:x"})) == "mini"
    run_dir = tmp_path / "mini-digits" / "ex-darts"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"config": {"epochs": 3}, "seeds": [0, 1]}))
    with pytest.raises(SystemExit, match="holds a run with other settings"):
        common.complete(args, {"EX-DARTS": common.preset_run("ex-darts")})


def test_a_study_asked_for_more_seeds_keeps_the_finished_ones_and_adds_the_rest(tmp_path):
    """A run made over seed 0 and then asked for 2 seeds runs seed 1 alone (seed 0's checkpoint says
    it is done, its rows stay byte for byte); the grown run is then reused; fewer seeds than a run
    holds, or seeds it does not start with, stop the study with one line."""
    tiny = {"images_per_class": 8, "resolution": 8, "channels": 4, "batch_size": 16, "epochs": 2}
    rows = {"DARTS-V1": common.method_run("darts-v1", tiny, "tiny")}
    args = Namespace(**{**vars(_args(tmp_path, seeds=1)), "scale": "smoke", "benchmark": None})
    run_dir = common.complete(args, rows)["DARTS-V1"]
    first = pd.read_parquet(run_dir / "history.parquet")
    checkpoint = (run_dir / "checkpoints" / "seed_0.pt").stat().st_mtime_ns
    args.seeds = 2
    assert not common.finished_run(run_dir, [0, 1]) and common.finished_run(run_dir, [0])
    common.complete(args, rows)
    grown = pd.read_parquet(run_dir / "history.parquet")
    assert sorted(set(grown["seed"])) == [0, 1] and json.loads((run_dir / "final.json").read_text())["complete"]
    pd.testing.assert_frame_equal(grown[grown.seed == 0].reset_index(drop=True), first)
    assert (run_dir / "checkpoints" / "seed_0.pt").stat().st_mtime_ns == checkpoint  # not trained again
    stamp = (run_dir / "final.json").stat().st_mtime_ns
    assert list(common.table_rows(args, rows)) == ["DARTS-V1"]
    assert (run_dir / "final.json").stat().st_mtime_ns == stamp  # finished: reused
    args.seeds = 1
    with pytest.raises(SystemExit, match=r"holds the run over seeds \[0, 1\]: ask for --seeds 2 or more"):
        common.complete(args, rows)
    saved = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**saved, "data": "digits#0-4"}))
    args.seeds = 3  # never grown by seeds searched on other images
    with pytest.raises(SystemExit, match=r"holds a run on other data \(digits#0-4\); delete it"):
        common.complete(args, rows)


def test_tables_give_per_seed_values_and_the_best_epoch(tmp_path):
    """final_table: the final cells per seed (as final.json) and the best any epoch reached (the
    history's maximum); criteria_table: the epoch each criterion chose and its answer per seed."""
    config = config_for("smoke", {}, {"images_per_class": 16, "resolution": 8, "channels": 4, "batch_size": 16, "epochs": 4})
    run_supernet_search("darts-v1", config, "digits", "table:" + str(_table(tmp_path)), [0, 1], tmp_path / "run")
    history = pd.read_parquet(tmp_path / "run" / "history.parquet")
    row = common.final_table({"DARTS-V1": tmp_path / "run"}).iloc[0]
    finals = history[history.epoch == 4].sort_values("seed")["cifar10.test_acc"]
    best = history.groupby("seed")["cifar10.test_acc"].max()
    assert row["cifar10.test_acc per seed"] == ", ".join(f"{v:.2f}" for v in finals)
    assert row["optimal cifar10.test_acc per seed"] == ", ".join(f"{v:.2f}" for v in best)
    assert row["optimal cifar10.test_acc"] == f"{best.mean():.2f} ± {best.std(ddof=1):.2f}"
    table = common.criteria_table(tmp_path / "run", ["final", "optimal"], "lr").set_index("criterion")
    assert table.loc["final", "epoch per seed"] == "4, 4"
    best_epochs = history.loc[history.groupby("seed")["cifar10.test_acc"].idxmax(), "epoch"]
    assert table.loc["optimal", "epoch per seed"] == ", ".join(str(e) for e in best_epochs)
    assert table.loc["optimal", "cifar10.test_acc per seed"] == row["optimal cifar10.test_acc per seed"]


def test_only_restricts_a_table_to_named_rows():
    runs = {"DARTS-V1": common.preset_run("darts-v1"), "GDAS": common.preset_run("gdas")}
    parse = common.parser("test", "test").parse_args
    assert list(common.only(parse([]), runs)) == ["DARTS-V1", "GDAS"]
    assert list(common.only(parse(["--only", "GDAS"]), runs)) == ["GDAS"]
    with pytest.raises(SystemExit, match="no row 'RSPS' here; rows: DARTS-V1, GDAS"):
        common.only(parse(["--only", "GDAS,RSPS"]), runs)
    with pytest.raises(ValueError, match="hold a comma"):
        common.only(parse([]), {"w/ IF, threshold 0.1": common.preset_run("gdas")})


def test_a_table_keeps_its_finished_rows_when_only_some_are_run(tmp_path, monkeypatch):
    """--only runs the rows it names; the table also shows every other row whose run finished
    with the same settings, in the table's order, and leaves out rows unfinished, absent or made
    with other settings or on other data; a finished row over fewer seeds stays (its tables say how
    many)."""
    rows = {label: common.preset_run(preset) for label, preset in
            (("DARTS-V1", "darts-v1"), ("EX-DARTS", "ex-darts"), ("GDAS", "gdas"), ("Exp.7", "long-500"),
             ("no skip", "no-skip"), ("warm-up", "warmup-100"))}
    args = Namespace(**{**vars(_args(tmp_path, seeds=2)), "only": ["GDAS"]})

    def save(label: str, finished: bool, settings: dict | None = None, data: str = "digits", seeds=(0, 1)) -> None:
        run = rows[label]
        run_dir = tmp_path / common.scale_folder(args) / run.name
        run_dir.mkdir(parents=True)
        config = config_for(args.scale, get_method(run.algo).defaults, {**run.settings, **(settings or {})})
        (run_dir / "config.json").write_text(json.dumps({"config": config.as_dict(), "seeds": list(seeds), "data": data}))
        (run_dir / "final.json").write_text(json.dumps({"complete": finished}))

    save("DARTS-V1", finished=True, seeds=[0])  # fewer seeds so far: shown, its seeds column says one
    save("EX-DARTS", finished=False)
    save("GDAS", finished=True)
    save("no skip", finished=True, settings={"epochs": 7})
    save("warm-up", finished=True, data="digits#0-4")
    ran = []
    monkeypatch.setattr(common, "execute", lambda pending, executor: ran.extend(p.out.name for p in pending))
    assert list(common.table_rows(args, rows)) == ["DARTS-V1", "GDAS"]
    assert ran == []  # GDAS has finished: reused, nothing runs
    args.only = ["Exp.7"]
    assert list(common.table_rows(args, rows)) == ["DARTS-V1", "GDAS", "Exp.7"]
    assert ran == ["long-500"]
    # every finished run here got a record beside the tables; with the run gone (another machine)
    # the row is read from its record, and a record with other settings is not taken for the row
    import shutil

    records = common.figure_dir(args) / "runs"
    assert sorted(p.name for p in records.iterdir()) == ["darts-v1", "gdas"]
    for label in ("DARTS-V1", "GDAS"):
        run_dir = tmp_path / common.scale_folder(args) / rows[label].name
        assert (records / run_dir.name / "config.json").read_bytes() == (run_dir / "config.json").read_bytes()
        shutil.rmtree(run_dir)
    shutil.copytree(tmp_path / common.scale_folder(args) / "no-skip", records / "no-skip")
    shutil.rmtree(tmp_path / common.scale_folder(args) / "no-skip")
    args.only = ["GDAS"]
    ran.clear()
    found = common.table_rows(args, rows)
    assert ran == ["gdas"] and list(found) == ["DARTS-V1", "GDAS"]  # asked for: run again here
    assert found["DARTS-V1"] == records / "darts-v1"


def test_a_record_holds_for_the_same_data_under_another_root_while_a_run_directory_needs_the_same_files(tmp_path):
    """A record committed from a machine whose data lay under /work/shared is taken for a checkout
    whose data lies elsewhere under the same folder and file names and classes; not for other
    classes, another file or another folder name. A run directory (resumed from its checkpoints)
    still needs the very same files."""
    import shutil

    run = common.preset_run("darts-v1")
    config = config_for("mini", get_method(run.algo).defaults, run.settings)
    made_on = "imagefolder:/work/shared/data/cifar10-jpeg/train.zip#0-4"
    run_dir, tables = tmp_path / "runs" / run.name, tmp_path / "figures"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"config": config.as_dict(), "seeds": [0, 1], "data": made_on}))
    (run_dir / "final.json").write_text(json.dumps({"complete": True}))
    common.keep_records([run_dir], tables)
    record = common.record_dir(run_dir, tables)
    elsewhere = str(tmp_path / "home" / "data" / "cifar10-jpeg" / "train.zip")

    def found(data: str) -> Path | None:
        return common.finished_here_or_recorded(run_dir, tables, config, [0, 1], [data])

    assert found(made_on) == run_dir  # the same files: the run directory itself
    assert found(f"imagefolder:{elsewhere}#0-4") == record  # other files: the record, not the run directory
    with pytest.raises(SystemExit, match="holds a run on other data"):  # nor is it resumed on them
        common.holds_this_run(run_dir, config, [0, 1], [f"imagefolder:{elsewhere}#0-4"])
    shutil.rmtree(run_dir)  # made on the other machine: only its record came with the checkout
    assert found(made_on) == record
    assert found(f"imagefolder:{elsewhere}#0-4") == record
    assert found(f"imagefolder:{elsewhere}#5-9") is None
    assert found(f"imagefolder:{elsewhere.replace('train.zip', 'test.zip')}#0-4") is None
    assert found(f"imagefolder:{elsewhere.replace('cifar10-jpeg', 'cifar100-jpeg')}#0-4") is None
    assert found(f"cifar10:{elsewhere}#0-4") is None


def test_a_rewritten_table_keeps_the_committed_rows_whose_runs_are_not_here(tmp_path):
    """Rows from runs of another session stay in the CSV; a row run here replaces its old one;
    labels outside the table's are dropped; the rows follow the paper's order."""
    labels = ["DARTS-V1", "GDAS", "RSPS", "EX-DARTS"]
    pd.DataFrame({"method": ["DARTS-V1", "RSPS", "EX-DARTS", "retired"], "acc": ["1", "old", "4", "9"]}).to_csv(
        tmp_path / "t.csv", index=False)
    common.write_outputs(tmp_path, "t", pd.DataFrame({"method": ["RSPS", "GDAS"], "acc": ["3", "2"]}),
                         rows_of=("method", labels))
    written = pd.read_csv(tmp_path / "t.csv", dtype=str)
    assert written.values.tolist() == [["DARTS-V1", "1"], ["GDAS", "2"], ["RSPS", "3"], ["EX-DARTS", "4"]]
    common.write_outputs(tmp_path, "fresh", pd.DataFrame({"method": ["RSPS", "GDAS"], "acc": ["3", "2"]}),
                         rows_of=("method", labels))  # no CSV before: only the rows run, in order
    assert pd.read_csv(tmp_path / "fresh.csv", dtype=str)["method"].tolist() == ["GDAS", "RSPS"]


def test_a_rewritten_table_keeps_seed_counts_whole(tmp_path):
    """A kept row's count, read back as a float beside a row without one, is written as a whole
    number again, a row without a count stays empty, and the columns follow the new table's order."""
    pd.DataFrame({"seeds": [None, 1.0], "search": ["random", "w/o IF"]}).to_csv(tmp_path / "t.csv", index=False)
    common.write_outputs(tmp_path, "t", pd.DataFrame({"search": ["w/ IF"], "seeds": [2]}),
                         rows_of=("search", ["random", "w/o IF", "w/ IF"]))
    assert (tmp_path / "t.csv").read_text().splitlines() == ["search,seeds", "random,", "w/o IF,1", "w/ IF,2"]


def _table(tmp_path) -> Path:
    """A benchmark table with a distinct CIFAR-10 accuracy for every NB201 cell (the index / 200)."""
    path = tmp_path / "table.csv"
    archs = [nb201.format_arch(a) for a in nb201.enumerate_archs()]
    pd.DataFrame({"arch": archs, "cifar10.test_acc": np.arange(len(archs)) / 200.0}).to_csv(path, index=False)
    return path


def _args(tmp_path, seeds: int, **executor) -> Namespace:
    """Study arguments as the study parser gives them (executor options at their defaults)."""
    parsed = common.parser("test", "test").parse_args([])
    return Namespace(**{**vars(parsed), "seeds": seeds, "data": "digits", "runs_dir": str(tmp_path),
                        "out_dir": str(tmp_path / "figs"), **executor})


def test_training_fidelity_picks_cells_across_the_table_and_reports_tau(tmp_path, nb201_csv):
    import subprocess
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "studies" / "training_fidelity"))
    from fidelity import spanning_cells

    from bench_toolkit.benchmarks import load_benchmark
    from bench_toolkit.spaces import nb201

    cells = spanning_cells(load_benchmark(f"table:{nb201_csv}").frame(), 20)
    accuracies = cells["cifar10.test_acc"].tolist()
    assert len({nb201.iso_key(a) for a in cells["arch"]}) == 20 and accuracies == sorted(accuracies)
    assert accuracies[0] < 50 and accuracies[-1] > 94 and max(np.diff(accuracies)) < 10  # the whole range, no big gap
    script = Path(__file__).resolve().parents[1] / "studies" / "training_fidelity" / "fidelity.py"
    done = subprocess.run([sys.executable, str(script), "--scale", "smoke", "--cells", "3", "--epochs", "1", "--workers", "2",
                           "--benchmark", f"table:{nb201_csv}", "--runs-dir", str(tmp_path / "runs"),
                           "--out-dir", str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    table = pd.read_csv(tmp_path / "out" / "smoke-digits" / "fidelity-1ep.csv")  # digits: never beside real-data results
    assert len(table) == 3 and table["our_top1"].between(0, 100).all() and "Kendall tau" in done.stdout
    # two cells span the range otherwise (cell-1 is the best cell, not the middle one): that folder is refused
    other = subprocess.run([sys.executable, str(script), "--scale", "smoke", "--cells", "2", "--epochs", "1",
                            "--benchmark", f"table:{nb201_csv}", "--runs-dir", str(tmp_path / "runs"),
                            "--out-dir", str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert other.returncode != 0 and "fidelity-1ep/cell-1' holds the training of another cell or recipe" in other.stderr


def test_if_nas_study_tables_read_depths_from_the_runs(tmp_path):
    """The IF-NAS study's Table 4/5 rows: each seed's last depth equals its final architecture's
    depth; the mini bound is 1.15 times the plain chain's multiply-adds."""
    if_nas = _study_experiments("if_nas")

    from bench_toolkit.nn.lchain_network import MaddsTable
    from bench_toolkit.spaces import lchain

    settings = {"images_per_class": 8, "resolution": 8, "channels": 4, "batch_size": 16, "epochs": 3, "warmup_epochs": 1,
                "if_alpha_delay": 1, "if_step_iterations": 1, "if_threshold": 0.5}
    for name, extra in (("with", {}), ("without", {"if_sampling": "none"})):
        config = config_for("smoke", get_method("if-nas").defaults, {**settings, **extra})
        run_supernet_search("if-nas", config, "digits", None, [0, 1], tmp_path / name)
    finals = if_nas.final_architectures({"w/o IF": tmp_path / "without", "w/ IF": tmp_path / "with"})
    for _, row in finals.iterrows():
        final = json.loads((tmp_path / ("with" if row["run"] == "w/ IF" else "without") / "final.json").read_text())
        arch = next(s["arch"] for s in final["per_seed"] if s["seed"] == row["seed"])
        assert row["depth"] == lchain.parse_arch(arch).depth() and row["epoch"] == 3
    table = if_nas.summary(finals, "depth", if_nas.PAPER_TABLE4, "smoke")
    assert list(zip(table["search"], table["the paper"])) == [("w/o IF", "22.5 ± 2.0"), ("w/ IF", "43 ± 3")]  # the table's order
    depths = finals[finals["run"] == "w/ IF"]["depth"]
    assert table.loc[1, "depth (smoke)"] == f"{depths.mean():.1f} ± {depths.std(ddof=1):.1f}" and table.loc[1, "seeds"] == 2
    assert if_nas._mean_std(pd.Series([17.0])) == "17.0"  # one seed: no spread shown
    threshold_rows = ["w/o IF (threshold 0.1)", "w/ IF (threshold 0.1)"]
    args = common.parser("test", "if_nas", has_benchmark=False).parse_args(["--scale", "smoke", "--only", threshold_rows[1]])
    chosen = common.only(args, if_nas.runs(args, ["w/ IF", *threshold_rows]))
    assert list(chosen) == threshold_rows[1:] and chosen[threshold_rows[1]].settings["if_threshold"] == 0.1
    bound = if_nas._scale_settings(Namespace(scale="smoke"))["if_madds_bound"]
    config = config_for("smoke", get_method("if-nas").defaults, {})
    chain = lchain.LChainArch(config.L, tuple(tuple((("sep_conv_3x3", n - 1),) for n in range(1, k)) for k in config.stage_nodes))
    table = MaddsTable(config.stage_nodes, config.L, config.channels, 10, "cifar", config.resolution)
    assert bound == pytest.approx(1.15 * table(chain) / 1e6, abs=1e-4)


def test_if_nas_probe_curves_name_the_candidates_and_plot(tmp_path):
    if_nas = _study_experiments("if_nas")

    from bench_toolkit.analysis import epoch_plot

    run = if_nas.probe_runs()["(d) + (1,4), (2,6), (3,7)"]
    tiny = common.StudyRun(run.algo, {**run.settings, "images_per_class": 8, "resolution": 8, "channels": 4,
                                      "batch_size": 16, "epochs": 3, "warmup_epochs": 1}, run.name)
    # the study's own options: the L-chain has no benchmark, and the smoke scale holds the probed node 7
    args = common.parser("test", "if_nas", has_benchmark=False).parse_args(
        ["--scale", "smoke", "--seeds", "1", "--runs-dir", str(tmp_path)])
    run_dirs = common.complete(args, {"(d)": tiny})
    curves = if_nas.probe_curves(run_dirs)
    weights = [c for c in curves.columns if c.startswith("edge_weight.")]
    assert weights == ["edge_weight.pre-1", "edge_weight.pre-3", "edge_weight.pre-6"]
    history = pd.read_parquet(run_dirs["(d)"] / "history.parquet")
    assert curves["edge_weight.pre-6"].tolist() == history["edge_weight.s1.1->7"].tolist()
    untrained = history["edge_weight.s1.0->1"]  # a chain connection: computed, never trained
    assert untrained.nunique() == 1
    assert epoch_plot(curves, "edge_weight", tmp_path / "fig1.png", "Fig. 1").exists()


def _interleaving_args(tmp_path, **executor) -> Namespace:
    return Namespace(**{**vars(_args(tmp_path, seeds=1)), "scale": "smoke", "second_task": "digits", "benchmark": "analog",
                        "out_dir": str(tmp_path / "figures"), **executor})


def test_interleaving_configurations_run_in_worker_processes_as_in_one(tmp_path):
    """--workers 2: two configurations at once, each in its own process, give what one process gives."""
    interleaving = _study_experiments("interleaving")
    tiny = {"images_per_class": 8, "channels": 4, "batch_size": 16, "epochs": 1}
    runs = {"IL": interleaving.MultilevelRun("il-darts", tiny), "MTL": interleaving.MultilevelRun("mtl-darts", tiny)}
    parallel = interleaving.complete_multilevel(_interleaving_args(tmp_path / "a", workers=2, threads=1), runs)
    serial = interleaving.complete_multilevel(_interleaving_args(tmp_path / "b", workers=1, threads=1), runs)
    for label in runs:
        a, b = (pd.read_parquet(d[label] / "history.parquet") for d in (parallel, serial))
        assert len(a) == len(b) > 0
        pd.testing.assert_frame_equal(a.drop(columns="epoch_seconds"), b.drop(columns="epoch_seconds"))
    with pytest.raises(SystemExit, match="drop --executor slurm"):
        interleaving.complete_multilevel(_interleaving_args(tmp_path / "c", executor="slurm"), runs)


def test_interleaving_study_runs_reuse_and_tabulate_the_cells(tmp_path):
    interleaving = _study_experiments("interleaving")

    args = _interleaving_args(tmp_path)
    tiny = {"images_per_class": 8, "channels": 4, "batch_size": 16, "epochs": 1}
    runs = interleaving.complete_multilevel(args, {"MTL (Eq. 10)": interleaving.MultilevelRun("mtl-darts", tiny)})
    table = interleaving.cell_table(runs, interleaving.PAPER_IL)
    final = json.loads((runs["MTL (Eq. 10)"] / "final.json").read_text())
    assert table.loc[0, "cifar10.test_acc"] == f"{final['cifar10.test_acc']['mean']:.2f} ± 0.00"
    assert table.loc[0, "the paper"] == "CIFAR-100 18.92 ± 0.17, CIFAR-10 2.91 ± 0.12"
    stamp = (runs["MTL (Eq. 10)"] / "final.json").stat().st_mtime_ns
    interleaving.complete_multilevel(args, {"MTL (Eq. 10)": interleaving.MultilevelRun("mtl-darts", tiny)})  # finished: reused, not rerun
    assert (runs["MTL (Eq. 10)"] / "final.json").stat().st_mtime_ns == stamp
    first = pd.read_parquet(runs["MTL (Eq. 10)"] / "history.parquet")
    interleaving._table(args, "il", {"MTL (Eq. 10)": interleaving.MultilevelRun("mtl-darts", tiny)}, interleaving.PAPER_IL,
                        "IL Tables 2-3")  # the finished run: tabulated and drawn
    tables = interleaving.task_pair_dir(tmp_path / "figures", args)
    assert pd.read_csv(tables / "il.csv")["search"].tolist() == ["MTL (Eq. 10)"]
    for figure in ("il_accuracy.png", "il_magnitude.png"):
        assert (tables / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (runs["MTL (Eq. 10)"] / "final.json").stat().st_mtime_ns == stamp
    more_seeds = Namespace(**{**vars(args), "seeds": 2})  # seed 0 kept as it is, seed 1 added
    interleaving.complete_multilevel(more_seeds, {"MTL (Eq. 10)": interleaving.MultilevelRun("mtl-darts", tiny)})
    grown = pd.read_parquet(runs["MTL (Eq. 10)"] / "history.parquet")
    assert sorted(set(grown["seed"])) == [0, 1]
    pd.testing.assert_frame_equal(grown[grown.seed == 0].reset_index(drop=True), first)
    with pytest.raises(SystemExit, match=r"holds the run over seeds \[0, 1\]: ask for --seeds 2 or more"):
        interleaving.complete_multilevel(args, {"MTL (Eq. 10)": interleaving.MultilevelRun("mtl-darts", tiny)})


def test_interleaving_runs_of_another_task_pair_get_their_own_folder_and_are_never_reused(tmp_path):
    """The fair pair (one source split by class) neither reuses nor overwrites the default pair's
    runs and tables; a directory holding a run on other tasks stops the study."""
    interleaving = _study_experiments("interleaving")
    tiny = {"images_per_class": 8, "channels": 4, "batch_size": 16, "epochs": 1}
    pair = Namespace(**{**vars(_interleaving_args(tmp_path)), "data": "digits#0-4", "second_task": "digits#5-9"})
    runs = interleaving.complete_multilevel(pair, {"IL": interleaving.MultilevelRun("il-darts", tiny)})
    assert runs["IL"].parent.name == "tasks-digits-classes-0-4+digits-classes-5-9"
    assert interleaving.task_pair_dir(Path("figures"), pair) == Path("figures") / pair.scale / runs["IL"].parent.name
    assert interleaving.task_pair_dir(Path("figures"), _interleaving_args(tmp_path)) == Path("figures/smoke-digits")
    saved = json.loads((runs["IL"] / "config.json").read_text())
    assert saved["tasks"] == ["digits#0-4", "digits#5-9"]
    (runs["IL"] / "config.json").write_text(json.dumps({**saved, "tasks": ["digits#0-4", "digits#6-9"]}))
    with pytest.raises(SystemExit, match=r"holds a run on other data \(digits#0-4, digits#6-9\)"):
        interleaving.complete_multilevel(pair, {"IL": interleaving.MultilevelRun("il-darts", tiny)})


def test_interleaving_only_runs_the_rows_named_and_shows_the_others_once_finished(tmp_path):
    interleaving = _study_experiments("interleaving")
    tiny = {"images_per_class": 8, "channels": 4, "batch_size": 16, "epochs": 1}
    runs = {"IL": interleaving.MultilevelRun("il-darts", tiny), "MTL": interleaving.MultilevelRun("mtl-darts", tiny)}
    args = vars(_interleaving_args(tmp_path))
    first = interleaving.complete_multilevel(Namespace(**{**args, "only": ["MTL"]}), runs)
    assert list(first) == ["MTL"] and [d.name for d in first["MTL"].parent.iterdir()] == [first["MTL"].name]
    both = interleaving.complete_multilevel(Namespace(**{**args, "only": ["IL"]}), runs)
    assert list(both) == ["IL", "MTL"] and both["MTL"] == first["MTL"]
    with pytest.raises(SystemExit, match="--only: no row 'ILL' here; rows: IL, MTL"):
        interleaving.complete_multilevel(Namespace(**{**args, "only": ["ILL"]}), runs)


def test_interleaving_rows_where_the_mmd_hinge_cannot_act_share_the_uncoupled_run(tmp_path):
    """IMTNAS at tau = 5, at any C, and without transfer are one search (bit for bit:
    test_methods_interleaving), so they get one run directory; at tau = 1 the hinge acts."""
    interleaving = _study_experiments("interleaving")
    tiny = {"images_per_class": 8, "channels": 4, "batch_size": 16, "epochs": 1, "mmd_examples": 2}
    runs = {label: interleaving.MultilevelRun("imtnas-darts", {**tiny, **settings}) for label, settings in (
        ("tau 5", {}), ("C 3", {"mmd_augmentations": 3}), ("tau 25", {"mmd_tau": 25.0}), ("none", {"transfer": "none"}),
        ("tau 1", {"mmd_tau": 1.0, "mmd_augmentations": 3}))}
    dirs = interleaving.complete_multilevel(_interleaving_args(tmp_path), runs)
    assert dirs["tau 5"] == dirs["C 3"] == dirs["tau 25"] == dirs["none"] != dirs["tau 1"]
    assert dirs["none"].name.endswith("-transfernone") and len(list(dirs["none"].parent.iterdir())) == 2
    assert json.loads((dirs["none"] / "config.json").read_text())["config"]["transfer"] == "none"


def test_interleaving_single_task_baseline_searches_the_first_task_alone(tmp_path):
    interleaving = _study_experiments("interleaving")
    args = _interleaving_args(tmp_path)
    tiny = {"images_per_class": 8, "channels": 4, "batch_size": 16, "epochs": 1}
    runs = interleaving.complete_multilevel(args, {"single": interleaving.MultilevelRun("mtl-darts", tiny, tasks=1)})
    assert runs["single"].name.endswith("-single-task")
    assert json.loads((runs["single"] / "config.json").read_text())["tasks"] == ["digits"]
    history = pd.read_parquet(runs["single"] / "history.parquet")
    assert set(history["learner"]) == {0} and set(history["round"]) == {1}


def test_interleaving_studies_run_the_papers_settings(tmp_path, monkeypatch):
    """Each IMTNAS ablation changes only the setting its table varies; configurations two studies
    share (IMTNAS at its defaults) get one run directory."""
    interleaving = _study_experiments("interleaving")
    seen = {}
    monkeypatch.setattr(interleaving, "complete_multilevel", lambda args, runs: seen.update(runs) or {})
    monkeypatch.setattr(interleaving, "write_outputs", lambda *a, **k: pd.DataFrame({"search": []}))
    monkeypatch.setattr(interleaving, "cell_table", lambda *a, **k: None)
    args = _interleaving_args(tmp_path)
    for study in ("imtnas_vs_mtl", "transfer_ablation", "task_order", "augmentations_sweep", "tau_sweep", "il_vs_mtl",
                  "lambda_sweep", "rounds_sweep", "imtnas_rounds"):
        getattr(interleaving, study)(args)

    def config(label):
        run = seen[label]
        return config_for("mini", interleaving.MULTILEVEL_METHODS[run.algo], run.settings)

    assert [config(f"C = {c}").mmd_augmentations for c in (3, 10, 20, 30, 40)] == [3, 10, 20, 30, 40]
    assert config("C = 0 (no transfer)").transfer == "none"
    imtnas_rows = ["C = 0 (no transfer)", "L2-Weights", "L2-Embedding", "Example-Similarity", "tau = 0.1", "IMTNAS-Pcdarts"]
    assert {config(label).head_step for label in imtnas_rows} == {"unrolled"}  # the ablations keep IMTNAS's Eq. 20
    assert config("IL (DARTS-2nd)").head_step == config("MTL (Eq. 10)").head_step == "own"  # IL Eq. 8
    assert [config(f"tau = {t}").mmd_tau for t in ("0.1", "1", "5", "25", "100")] == [0.1, 1.0, 5.0, 25.0, 100.0]
    assert [config(label).transfer for label in ("Ours (MMD hinge)", "L2-Weights", "L2-Embedding", "Example-Similarity")] == [
        "mmd", "l2", "embedding-l2", "similarity"]
    assert not [label for label in seen if "," in label]  # --only can name every row
    for run in ("IL (DARTS-2nd)", "IMTNAS-Darts2nd"):
        first, second = seen[f"{run}: first task first"], seen[f"{run}: second task first"]
        assert first == seen[run] and second.algo == first.algo  # the default order is the main tables' run
        assert config(f"{run}: second task first").task_order == (1, 0) and config(f"{run}: first task first").task_order == ()
    assert [config(f"MTL-{k}-Darts2nd").mtl_sharing for k in ("SAO", "HWS", "SWS")] == ["none", "hard", "soft"]
    assert seen["Darts2nd (single task)"].tasks == 1 and seen["MTL (Eq. 10)"].tasks == 2
    assert (seen["IMTNAS-Darts2nd"] == seen["Ours (MMD hinge)"] == seen["C = 20"] == seen["tau = 5"]
            == seen["2 rounds x 50 epochs (main study)"])
    assert (config("20 rounds x 5 epochs").rounds, config("20 rounds x 5 epochs").epochs) == (20, 5)  # IMTNAS Table 9
    assert seen["20 rounds x 5 epochs"].algo == "imtnas-darts" and config("IMTNAS-Darts2nd").epochs == 50
    pc = [config(label) for label in ("IL-PCDARTS", "MTL-PCDARTS", "IMTNAS-Pcdarts", "MTL-HWS-Pcdarts")]
    assert all(c.partial_channels == 4 and c.edge_normalisation for c in pc) and pc[3].mtl_sharing == "hard"
    assert seen["PC-DARTS (single task)"].tasks == seen["Pcdarts (single task)"].tasks == 1
    assert "CIFAR-100 20.71" in interleaving.PAPER_IMTNAS["C = 0 (no transfer)"]
    assert [config(f"lambda {lam}").il_lambda for lam in ("0.01", "1", "100", "1000")] == [0.01, 1.0, 100.0, 1000.0]
    assert [config(f"M = {m}").rounds for m in (1, 2, 3)] == [1, 2, 3]
    assert seen["lambda 100"] == seen["M = 2"] == seen["IL (DARTS-2nd)"]  # IL at its defaults: one run for three rows


def test_interleaving_figure_groups_are_drawn_each_when_its_own_rows_have_runs_or_records_here(tmp_path, monkeypatch,
                                                                                             capsys):
    """IL Tables 2-3 and IMTNAS Table 3 draw one pair of epoch figures per base method: a group
    whose rows all have runs here, or the records of runs made elsewhere, is drawn (titled with its
    group) while another group's figures, a row of which has neither (a run made before records
    were kept: its CSV row alone), are left as they are and that row is named."""
    interleaving = _study_experiments("interleaving")
    tiny = {"images_per_class": 8, "channels": 4, "batch_size": 16, "epochs": 1}
    runs = {"MTL": interleaving.MultilevelRun("mtl-darts", tiny), "MTL-PCDARTS": interleaving.MultilevelRun("mtl-pc-darts", tiny)}
    groups = {"": ["MTL"], "PC-DARTS": ["MTL-PCDARTS"]}
    args = _interleaving_args(tmp_path)
    drawn = []
    monkeypatch.setattr(interleaving, "curve_figure", lambda dirs, kind, path, title: drawn.append((sorted(dirs), path.name, title)))
    run_dirs, _ = interleaving._table(args, "il_vs_mtl", runs, {}, "IL Tables 2-3", groups)
    for name in common.RECORD_FILES:  # each finished run's record, byte for byte
        record = interleaving.task_pair_dir(tmp_path / "figures", args) / "runs" / run_dirs["MTL"].name / name
        assert record.read_bytes() == (run_dirs["MTL"] / name).read_bytes()
    assert sorted(drawn) == [(["MTL"], "il_vs_mtl_accuracy.png", "IL Tables 2-3"), (["MTL"], "il_vs_mtl_magnitude.png", "IL Tables 2-3"),
                             (["MTL-PCDARTS"], "il_vs_mtl_pcdarts_accuracy.png", "IL Tables 2-3, PC-DARTS group"),
                             (["MTL-PCDARTS"], "il_vs_mtl_pcdarts_magnitude.png", "IL Tables 2-3, PC-DARTS group")]
    import shutil

    shutil.rmtree(run_dirs["MTL"])  # made on another machine, whose record was committed with the tables
    drawn.clear()
    rerun = Namespace(**{**vars(args), "only": ["MTL-PCDARTS"]})
    recorded, _ = interleaving._table(rerun, "il_vs_mtl", runs, {}, "IL Tables 2-3", groups)
    assert recorded["MTL"] == interleaving.task_pair_dir(tmp_path / "figures", args) / "runs" / run_dirs["MTL"].name
    assert sorted(p.name for p in recorded["MTL"].iterdir()) == sorted(common.RECORD_FILES)  # no checkpoints
    assert len(drawn) == 4 and (["MTL"], "il_vs_mtl_accuracy.png", "IL Tables 2-3") in drawn
    shutil.rmtree(recorded["MTL"])  # made before records were kept: only its CSV row is here
    drawn.clear()
    capsys.readouterr()
    interleaving._table(rerun, "il_vs_mtl", runs, {}, "IL Tables 2-3", groups)
    assert "il_vs_mtl_accuracy.png and il_vs_mtl_magnitude.png not redrawn: no runs here for MTL" in capsys.readouterr().out
    assert sorted(name for _, name, _ in drawn) == ["il_vs_mtl_pcdarts_accuracy.png", "il_vs_mtl_pcdarts_magnitude.png"]


def test_interleaving_sweep_figure_puts_each_seeds_final_cell_at_its_setting(tmp_path, monkeypatch):
    """IL Fig. 2's analogue: the points are the final.json answers per seed at each lambda; the
    figure has one panel per answer, a thin line per seed across the settings and the mean."""
    interleaving = _study_experiments("interleaving")
    finals = {"lambda 0.01": [90.0, 80.0], "lambda 100": [54.3, 70.9]}
    run_dirs = {}
    for label, accuracies in finals.items():
        run_dirs[label] = tmp_path / label
        run_dirs[label].mkdir()
        cells = [{"seed": seed, "epoch": 50, "arch": "|skip_connect~0|", "cifar10.test_acc": a, "cifar100.test_acc": a / 2}
                 for seed, a in enumerate(accuracies)]
        (run_dirs[label] / "final.json").write_text(json.dumps({"complete": True, "per_seed": cells}))
    points = interleaving.sweep_points(run_dirs, "lambda", {"lambda 0.01": 0.01, "lambda 100": 100.0}, "IL")
    assert points[["lambda", "seed", "cifar10.test_acc", "cifar100.test_acc"]].values.tolist() == [
        [0.01, 0, 90.0, 45.0], [0.01, 1, 80.0, 40.0], [100.0, 0, 54.3, 27.15], [100.0, 1, 70.9, 35.45]]
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    drawn = {}
    real_save = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, out: drawn.setdefault("axes", fig.axes) and real_save(fig, out))
    out = plots.sweep_plot(points, "lambda", ["cifar10.test_acc", "cifar100.test_acc"], tmp_path / "il_lambda.png",
                           "IL Fig. 2", log_x=True)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plt.get_fignums() == open_before  # closed once saved
    left = drawn["axes"][0]
    assert left.get_xscale() == "log" and [t.get_text() for t in left.get_xticklabels()] == ["0.01", "100"]
    lines = {(tuple(line.get_xdata()), tuple(np.round(line.get_ydata(), 6))) for line in left.get_lines()}
    assert lines == {((0.01, 100.0), (90.0, 54.3)), ((0.01, 100.0), (80.0, 70.9)), ((0.01, 100.0), (85.0, 62.6))}
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["IL (mean of 2 seeds)"]


def test_interleaving_sweep_rows_run_elsewhere_are_drawn_from_their_cells_and_keep_the_epoch_figures(tmp_path, monkeypatch,
                                                                                                     capsys):
    """A sweep continued on another machine (one row's run and record gone, its row kept in the CSV): the
    sweep figure still has that row's seeds, answered by the benchmark from the CSV's cells exactly
    as final.json answered them; the epoch figures, which need every row's history, are left as
    they were and the missing row is named."""
    interleaving = _study_experiments("interleaving")
    tiny = {"images_per_class": 8, "channels": 4, "batch_size": 16, "epochs": 1}
    runs = {"lambda 0.01": interleaving.MultilevelRun("il-darts", {**tiny, "il_lambda": 0.01}),
            "lambda 100": interleaving.MultilevelRun("il-darts", tiny)}
    values = {"lambda 0.01": 0.01, "lambda 100": 100.0}
    drawn = []
    monkeypatch.setattr(interleaving, "sweep_plot", lambda points, *a, **k: drawn.append(points))
    args = Namespace(**{**vars(_interleaving_args(tmp_path)), "seeds": 2})
    interleaving._sweep(args, "il_lambda", "lambda", values, runs, "IL Fig. 2", log_x=True)
    tables = interleaving.task_pair_dir(tmp_path / "figures", args)
    run_dirs, _ = interleaving._table(Namespace(**{**vars(args), "only": ["lambda 100"]}), "il_lambda", runs, {}, "")
    figures = {kind: (tables / f"il_lambda_{kind}.png").read_bytes() for kind in ("accuracy", "magnitude")}
    before = interleaving.sweep_points(run_dirs, "lambda", values, "IL (DARTS-2nd)")
    import shutil

    shutil.rmtree(run_dirs["lambda 0.01"])  # made on another machine before records were kept: only its CSV row is here
    shutil.rmtree(tables / "runs" / run_dirs["lambda 0.01"].name)
    capsys.readouterr()
    interleaving._sweep(Namespace(**{**vars(args), "only": ["lambda 100"]}), "il_lambda", "lambda", values, runs,
                        "IL Fig. 2", log_x=True)
    assert "il_lambda_accuracy.png and il_lambda_magnitude.png not redrawn: no runs here for lambda 0.01" in capsys.readouterr().out
    assert {kind: (tables / f"il_lambda_{kind}.png").read_bytes() for kind in figures} == figures
    assert pd.read_csv(tables / "il_lambda.csv")["search"].tolist() == ["lambda 0.01", "lambda 100"]
    order = ["lambda", "seed"]
    pd.testing.assert_frame_equal(drawn[-1].sort_values(order, ignore_index=True)[before.columns],
                                  before.sort_values(order, ignore_index=True), check_dtype=False)
    assert len(drawn[-1]) == 4 and drawn[-1]["cifar10.test_acc"].notna().all()
    capsys.readouterr()
    interleaving._sweep(Namespace(**{**vars(args), "only": ["lambda 100"], "benchmark": None}), "il_lambda", "lambda",
                        values, runs, "IL Fig. 2", log_x=True)
    assert "il_lambda.png not redrawn: its rows lambda 0.01 have no runs here; pass --benchmark" in capsys.readouterr().out
    assert len(drawn) == 2


def _study_experiments(study: str, script: str = "experiments"):
    """``studies/<study>/<script>.py`` as a module of its own name (several studies have an
    ``experiments`` module; one ``import experiments`` would serve the first one to every test)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "studies" / study / f"{script}.py"
    spec = importlib.util.spec_from_file_location(f"{study}_{script}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_exp8_needs_an_nb101_file_and_runs_darts_500_epochs_in_each_space(tmp_path, monkeypatch):
    degradation = _study_experiments("darts_degradation")
    args = _args(tmp_path, seeds=1)
    with pytest.raises(SystemExit, match="pass --benchmark nb101:PATH"):
        degradation.exp8(args)
    seen = {}
    monkeypatch.setattr(degradation, "table_rows", lambda args, runs: seen.update(runs) or {})
    monkeypatch.setattr(degradation, "curve_figure", lambda *a, **k: None)
    monkeypatch.setattr(degradation, "write_outputs", lambda *a, **k: pd.DataFrame({"method": []}))
    monkeypatch.setattr(degradation, "final_table", lambda runs: None)
    degradation.exp8(Namespace(**{**vars(args), "benchmark": "nb101:/data/nasbench_full.tfrecord"}))
    configs = {label: config_for("mini", get_method(run.algo).defaults, run.settings) for label, run in seen.items()}
    assert {(c.space, c.oneshot_space, c.epochs, c.cells_per_stage) for c in configs.values()} == {
        ("nb101-1shot1", k, 500, 1) for k in (1, 2, 3)}


def _runs_here_only(study, here: dict, monkeypatch) -> list:
    """Stand ``here`` (label -> run directory; a label deleted later is a run made elsewhere) for a
    comparison study's runs, each row's final table a placeholder naming it; returns the list that
    records each figure drawn as (kind, rows)."""
    monkeypatch.setattr(study, "table_rows", lambda args, runs: {k: here[k] for k in runs if k in here})
    monkeypatch.setattr(study, "final_table",
                        lambda runs: pd.DataFrame({"method": list(runs), "acc": [f"{label} here" for label in runs]}))
    drawn = []
    monkeypatch.setattr(study, "curve_figure", lambda runs, kind, out, *a, **k: drawn.append((kind, list(runs))))
    return drawn


def test_a_comparison_run_in_part_keeps_the_other_rows_and_its_figures(tmp_path, monkeypatch, capsys):
    """The degradation paper's comparisons (Exp.1-7) rerun with some rows' runs absent here (made
    on another machine): their table rows stay in the CSV, and the per-epoch figures, which need
    every row's history, are left as they were -- not replaced by figures of fewer rows -- and the
    missing rows are named."""
    degradation = _study_experiments("darts_degradation")
    here = {"DARTS-V1": tmp_path / "v1", "EX-DARTS": tmp_path / "ex"}
    drawn = _runs_here_only(degradation, here, monkeypatch)
    args = _args(tmp_path, seeds=1)
    degradation.exp5(args)
    assert drawn == [("accuracy", ["DARTS-V1", "EX-DARTS"]), ("magnitude", ["DARTS-V1", "EX-DARTS"])]
    del here["DARTS-V1"]
    capsys.readouterr()
    degradation.exp5(args)
    assert len(drawn) == 2
    assert ("exp5_ex_darts_accuracy.png and exp5_ex_darts_magnitude.png not redrawn: no runs here for DARTS-V1"
            in capsys.readouterr().out)
    table = pd.read_csv(common.figure_dir(args) / "exp5_ex_darts.csv")
    assert table.values.tolist() == [["DARTS-V1", "DARTS-V1 here"], ["EX-DARTS", "EX-DARTS here"]]


def test_degradation_table3_keeps_the_rows_of_weight_lrs_run_elsewhere(tmp_path, monkeypatch):
    """Table 3's rows are table rows (``--only``, records) like Table 2's: rerun with one weight
    lr's run absent here, its row of the CSV stays, in the paper's order."""
    degradation = _study_experiments("darts_degradation")
    here = {f"weight lr {lr}": tmp_path / str(lr) for lr in (0.003, 0.009, 0.015)}
    _runs_here_only(degradation, here, monkeypatch)
    monkeypatch.setattr(degradation, "criteria_table", lambda run_dir, names, label, **kw: pd.DataFrame(
        {"setting": [label] * 2, "criterion": ["sc_2", "final"], "acc": [f"{run_dir.name} sc_2", f"{run_dir.name} final"]}))
    args = _args(tmp_path, seeds=1)
    degradation.table3(args)
    written = pd.read_csv(common.figure_dir(args) / "table3_lr_resilience.csv", dtype=str)
    del here["weight lr 0.009"]
    here["weight lr 0.015"] = tmp_path / "rerun"
    degradation.table3(args)
    table = pd.read_csv(common.figure_dir(args) / "table3_lr_resilience.csv", dtype=str)
    assert table["setting"].tolist() == written["setting"].tolist() == [
        f"weight lr {lr}" for lr in (0.003, 0.009, 0.015) for _ in range(2)]
    assert table["acc"].tolist() == ["0.003 sc_2", "0.003 final", "0.009 sc_2", "0.009 final", "rerun sc_2", "rerun final"]


def test_asap_curves_with_a_method_run_elsewhere_keep_its_row_and_the_figure(tmp_path, monkeypatch, capsys):
    """ASAP Fig. 6 and 7 draw every method; rerun where one method's runs are absent (made on
    another machine) they keep its row of the final-cells CSV and leave the figure as it is."""
    asap = _study_experiments("asap")
    here = {"DARTS-V1": tmp_path / "v1", "ASAP": tmp_path / "asap"}
    drawn = _runs_here_only(asap, here, monkeypatch)
    args = _args(tmp_path, seeds=1)
    asap.fig6(args)
    asap.fig7(args)
    assert drawn == [("accuracy", ["DARTS-V1", "ASAP"]), ("entropy", ["DARTS-V1", "ASAP"])]
    del here["ASAP"]
    capsys.readouterr()
    asap.fig6(args)
    assert len(drawn) == 2
    assert "fig6_accuracy.png not redrawn: no runs here for ASAP" in capsys.readouterr().out
    table = pd.read_csv(common.figure_dir(args) / "table_final_cells.csv")
    assert table.values.tolist() == [["DARTS-V1", "DARTS-V1 here"], ["ASAP", "ASAP here"]]


def test_asap_figures_are_drawn_from_the_runs(tmp_path, monkeypatch):
    """ASAP Fig. 3's table is ASAP's epoch time over its first epoch and 1 - sparsity, averaged
    over seeds; Fig. 6 and 7 are drawn from the same runs."""
    asap = _study_experiments("asap")
    settings = {"images_per_class": 8, "resolution": 8, "channels": 4, "batch_size": 16, "epochs": 3,
                "prune_start": 1, "prune_end": 3}
    runs = {}
    for label, algo in (("DARTS-V1", "darts-v1"), ("ASAP", "asap")):
        run_supernet_search(algo, config_for("smoke", get_method(algo).defaults, settings), "digits",
                            "table:" + str(_table(tmp_path)), [0, 1], tmp_path / algo)
        runs[label] = tmp_path / algo
    # the runs above stand for the study's
    monkeypatch.setattr(asap, "table_rows", lambda args, wanted: {label: runs[label] for label in wanted if label in runs})
    args = Namespace(**{**vars(_args(tmp_path, seeds=2)), "scale": "smoke", "only": ["DARTS-V1", "ASAP"]})
    for figure in (asap.fig3, asap.fig6, asap.fig7):
        figure(args)
    out = common.figure_dir(args)
    assert {p.name for p in out.glob("*.png")} == {"fig3_duration_sparsity.png", "fig6_accuracy.png", "fig7_entropy.png"}
    history = pd.read_parquet(runs["ASAP"] / "history.parquet")
    relative = history["epoch_seconds"] / history.groupby("seed")["epoch_seconds"].transform("first")
    expected = history.assign(relative_duration=relative, density=1 - history["sparsity"]).groupby("epoch")[["relative_duration", "density"]].mean()
    summary = pd.read_csv(out / "fig3_duration_sparsity.csv").set_index("epoch")
    assert summary["relative_duration"].iloc[0] == 1.0
    assert np.allclose(summary["relative_duration"], expected["relative_duration"], atol=1e-4)
    assert np.allclose(summary["density"], expected["density"], atol=1e-4)


def test_darts_space_study_counts_the_normal_cells_skips_and_sizes_the_networks():
    """Hand counts on the published genotypes: DARTS_V1's normal cell holds 3 skip connections and
    its reduction cell 8 parameter-free ops; P-DARTS's has 2 and 2, and its CIFAR-10 network the
    P-DARTS paper's 3.4 M parameters."""
    genotypes = _study_experiments("darts_space", "genotypes")
    v1 = genotypes.cell_summary(genotypes.darts.get_genotype("DARTS_V1"))
    assert (v1["normal_skips"], v1["normal_parameter_free"], v1["reduce_parameter_free"]) == (3, 3, 8)
    pdarts = genotypes.cell_summary(genotypes.darts.get_genotype("PDARTS"))
    assert (pdarts["normal_skips"], pdarts["reduce_parameter_free"]) == (2, 2) and round(pdarts["cifar10_params_M"], 1) == 3.4


def test_darts_space_study_runs_darts_and_pdarts_and_draws_each_seed(tmp_path, monkeypatch):
    """End to end at smoke sizes with 2 epochs a search (a test's budget; the study runs the
    papers' epochs): DARTS-V1 in the DARTS space and P-DARTS's three stages, one seed, reused on a
    second call; every seed's genotype drawn, the skip curve counted from each epoch's genotype."""
    genotypes = _study_experiments("darts_space", "genotypes")
    short = {"images_per_class": 8, "epochs": 2, "warmup_epochs": 1}

    def short_config(scale, defaults, settings):
        return config_for(scale, defaults, {**settings, **short})

    monkeypatch.setattr(common, "config_for", short_config)
    monkeypatch.setattr(genotypes, "config_for", short_config)
    args = Namespace(**{**vars(_args(tmp_path, seeds=1)), "scale": "smoke", "benchmark": None, "threads": 1})
    genotypes.main(args)
    out = common.figure_dir(args)
    table = pd.read_csv(out / "genotypes.csv")
    assert list(table["method"]) == ["DARTS-V1", "P-DARTS before the skip limit", "P-DARTS",
                                     "DARTS-V1 (published)", "P-DARTS (published)"]
    searched = table[table["seed"].notna()]
    for _, row in searched.iterrows():
        parsed = genotypes.darts.parse_genotype(row["genotype"])
        assert row["normal_skips"] == sum(op == "skip_connect" for op, _ in parsed.normal)
    assert table.set_index("method").loc["P-DARTS", "normal_skips"] <= 2
    assert {p.name for p in out.glob("*.png")} == {"darts-v1-seed0.png", "p-darts-before-the-skip-limit-seed0.png",
                                                   "p-darts-seed0.png", "normal_skips.png"}
    history = pd.read_parquet(tmp_path / "smoke-digits" / "pdarts-seed-0" / "seed-0" / "stage-3" / "history.parquet")
    assert len(history) == 2  # each stage its own run directory
    histories = [tmp_path / "smoke-digits" / "darts-space-darts-v1" / "history.parquet",
                 tmp_path / "smoke-digits" / "pdarts-seed-0" / "seed-0" / "stage-3" / "history.parquet"]
    stamps = [path.stat().st_mtime_ns for path in histories]
    genotypes.main(args)  # finished runs are read, not run again
    assert [path.stat().st_mtime_ns for path in histories] == stamps
    assert pd.read_csv(out / "genotypes.csv").equals(table)


def test_run_records_beside_the_tables_are_not_git_ignored_while_runs_are():
    """Records are committed with the tables (``figures/<study>/<scale>/runs/``) while the top-level
    ``runs/`` is not: an ignore rule for every folder named ``runs`` would drop the records silently."""
    import shutil
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or not (repo / ".git").exists():
        pytest.skip("not a git checkout")
    record = common.record_dir(Path("runs/mini/imtnas-darts-default"), Path("figures/interleaving/mini")) / "final.json"
    ignored = {path: subprocess.run(["git", "check-ignore", "-q", path], cwd=repo).returncode == 0
               for path in (str(record), "runs/mini/imtnas-darts-default/final.json")}
    assert ignored == {str(record): False, "runs/mini/imtnas-darts-default/final.json": True}
