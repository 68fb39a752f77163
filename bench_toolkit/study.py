"""Shared machinery of the study scripts in ``studies/``: run methods over seeds (reusing
finished runs, handing unfinished seeds to an executor), draw the papers' figure types, and
tabulate mean ± std.

Scales are the CLI's (:data:`~bench_toolkit.search.differentiable.config.SCALES`): ``mini``
(the default: CPU, a few minutes a seed) and ``paper`` (GPU hours) change sizes only; every
epoch count, schedule and criterion window is the paper's.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench_toolkit.analysis import epoch_plot, load_run
from bench_toolkit.analysis.stops import apply_criteria, summarise_selections
from bench_toolkit.data.readers import DEFAULT_DATA, absolute_spec, portable_spec
from bench_toolkit.diagnostics.stop import BestEpoch, headline_answer, parse_criterion
from bench_toolkit.fileio import read_json, write_atomic, write_table
from bench_toolkit.executors import add_executor_arguments, executor_from_args
from bench_toolkit.search.differentiable import SCALES, SearchConfig, config_for, get_method
from bench_toolkit.search.differentiable.run import PreparedRun, execute, prepare_run
from bench_toolkit.search.differentiable.presets import get_preset

REPO = Path(__file__).resolve().parents[1]


def parser(description: str, study: str, *, has_benchmark: bool = True) -> argparse.ArgumentParser:
    """The options every study script shares. ``has_benchmark=False`` for a study whose space no
    tabular benchmark answers (IF-NAS's L-chain): it gets no ``--benchmark`` option, and its runs
    record the derived architectures without accuracies."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--scale", default="mini", choices=list(SCALES), help="sizes only; mini: CPU, paper: GPU")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--data", default="digits", help="data SPEC (paper scale: cifar10:PATH or imagefolder:PATH)")
    if has_benchmark:
        p.add_argument("--benchmark", default="analog", help="benchmark SPEC for the derived cells' accuracy")
    else:
        p.set_defaults(benchmark=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--runs-dir", default=str(REPO / "runs"),
                   help="run directories, <runs-dir>/<scale>/<name>; shared by the studies, so a run two studies use is made once")
    p.add_argument("--out-dir", default=str(REPO / "figures" / study))
    p.add_argument("--only", type=lambda text: [label.strip() for label in text.split(",")],
                   help="comma-separated labels: run only these rows of a table now (default: all of the paper's); "
                        "tables and figures also show the other rows whose runs have finished")
    add_executor_arguments(p)
    return p


def scale_folder(args: argparse.Namespace) -> str:
    """The folder name of a study's runs and figures: the scale, marked ``-digits`` when the
    images are the embedded smoke-scale digits, so such results never land beside (or over) the
    committed real-data ones."""
    return args.scale if args.data != DEFAULT_DATA else f"{args.scale}-digits"


def figure_dir(args: argparse.Namespace) -> Path:
    """Where a study writes its figures and tables: ``<out-dir>/<scale folder>``."""
    return Path(args.out_dir) / scale_folder(args)


def only(args: argparse.Namespace, runs: dict[str, StudyRun]) -> dict[str, StudyRun]:
    """``runs`` restricted to ``--only`` (all when it is not given); an unknown label names the known ones.
    ``--only`` separates labels by commas, so a row's label holds none."""
    commas = [label for label in runs if "," in label]
    if commas:
        raise ValueError(f"row labels {commas} hold a comma, which --only cannot name; use another separator")
    if not getattr(args, "only", None):
        return runs
    unknown = [label for label in args.only if label not in runs]
    if unknown:
        raise SystemExit(f"--only: no row {', '.join(map(repr, unknown))} here; rows: {', '.join(runs)}")
    return {label: run for label, run in runs.items() if label in args.only}


@dataclass(frozen=True)
class StudyRun:
    """One configuration of a study: a method, its settings at paper values (scaled when run),
    and the name of its run directory."""

    algo: str
    settings: dict[str, Any]
    name: str


def method_run(algo: str, settings: dict[str, Any], name: str) -> StudyRun:
    get_method(algo)
    return StudyRun(algo, dict(settings), name)


def preset_run(preset: str, extra: dict[str, Any] | None = None, name: str | None = None) -> StudyRun:
    """A named preset of the degradation paper, plus ``extra`` settings."""
    found = get_preset(preset)
    return StudyRun(found.method, {**found.settings, **(extra or {})}, name or preset)


def _config(run: StudyRun, scale: str) -> SearchConfig:
    return config_for(scale, get_method(run.algo).defaults, run.settings)


def _run_dir(args: argparse.Namespace, run: StudyRun) -> Path:
    return Path(args.runs_dir) / scale_folder(args) / run.name


def _why_not_this_run(run_dir: Path, config: SearchConfig, seeds: list[int], data: Sequence[str],
                      same_data: Callable[[str | None], str | None] = absolute_spec) -> str | None:
    """Why the run in ``run_dir`` is not the run of ``config`` on ``data`` over ``seeds`` (or over
    their first few); None when it is. Data specs are the same when ``same_data`` maps them to the
    same string: the same files (:func:`absolute_spec`, for a run directory, which resumes from
    its checkpoints), or the same data under another root (:func:`portable_spec`, for a record)."""
    saved = read_json(run_dir / "config.json")
    # settings added to the toolkit after a run was made take their defaults, as on resume
    if SearchConfig().updated(saved["config"]) != config:
        return "holds a run with other settings; delete it or pass another --runs-dir"
    saved_data = saved["tasks"] if "tasks" in saved else [saved.get("data")]
    if [same_data(spec) for spec in saved_data] != [same_data(spec) for spec in data]:
        return f"holds a run on other data ({', '.join(map(str, saved_data))}); delete it or pass another --runs-dir"
    if saved["seeds"] != seeds[:len(saved["seeds"])]:
        return (f"holds the run over seeds {saved['seeds']}: ask for --seeds {len(saved['seeds'])} or more, "
                "or pass another --runs-dir")
    return None


def holds_this_run(run_dir: Path, config: SearchConfig, seeds: list[int], data: Sequence[str]) -> bool:
    """Whether ``run_dir`` already holds the run of ``config`` over ``seeds`` on the data specs
    ``data`` (one, or one per task of a multi-task run) -- or over their first few seeds: a study
    asked for more seeds than a finished run has keeps those (their checkpoints say they are done)
    and adds the rest, so seeds can be added session by session. A directory holding a run with
    other settings, on other data, or with seeds ``seeds`` does not start with, stops the study
    with one line."""
    if not (run_dir / "config.json").exists():
        return False
    reason = _why_not_this_run(run_dir, config, seeds, data)
    if reason:
        raise SystemExit(f"{run_dir} {reason}")
    return True


def finished_run(run_dir: Path, seeds: list[int] | None = None) -> bool:
    """Whether every seed of the run in ``run_dir`` has finished -- and, given ``seeds``, whether
    those are its seeds (a run about to be extended by more seeds is not finished)."""
    final = run_dir / "final.json"
    if not (final.exists() and read_json(final).get("complete")):
        return False
    return seeds is None or read_json(run_dir / "config.json")["seeds"] == seeds


def finished_elsewhere(run_dir: Path, config: SearchConfig, seeds: list[int], data: Sequence[str],
                       same_data: Callable[[str | None], str | None] = absolute_spec) -> bool:
    """Whether ``run_dir`` holds a finished run of ``config`` on ``data`` over ``seeds`` or their
    first few: a table row not asked for now (``--only``) that is shown with the seeds it has.
    ``same_data`` as for :func:`_why_not_this_run`."""
    return finished_run(run_dir) and not _why_not_this_run(run_dir, config, seeds, data, same_data)


RECORD_FILES = ("config.json", "history.parquet", "alphas.parquet", "final.json")  # final.json, saying complete, last


def record_dir(run_dir: Path, tables_dir: Path) -> Path:
    """Where a study keeps the record of the run in ``run_dir``: ``<tables_dir>/runs/<run name>``."""
    return tables_dir / "runs" / run_dir.name


def keep_records(run_dirs: Iterable[Path], tables_dir: Path) -> None:
    """Copy each finished run among ``run_dirs`` (a table's rows: records among them are skipped) to
    its :func:`record_dir` beside the study's tables, to be committed with them: the files tables,
    figures and stop criteria read (:data:`RECORD_FILES`, tens of kB), not the checkpoints (MBs).
    ``runs/`` stays on the machine that made the runs; the record lets another machine draw a row's
    figures and criteria again (:func:`finished_here_or_recorded`). Each file is written whole
    (temporary file, then rename), ``final.json`` last. ``config.json`` keeps the run's absolute
    data specs; a record is taken for a row where they name the same data as the study's, compared
    by :func:`portable_spec` (kind, file and folder names, classes), so the records hold for a
    checkout whose data lies under another root."""
    for run_dir in set(run_dirs):
        record = record_dir(run_dir, tables_dir)
        if run_dir == record or not finished_run(run_dir):
            continue
        for name in RECORD_FILES:
            if (run_dir / name).exists():
                write_atomic(record / name, lambda tmp, source=run_dir / name: shutil.copyfile(source, tmp))


def finished_here_or_recorded(run_dir: Path, tables_dir: Path, config: SearchConfig, seeds: list[int],
                              data: Sequence[str]) -> Path | None:
    """``run_dir`` when it holds the finished run (:func:`finished_elsewhere`, the same files), else
    the run's record beside the tables when that does (:func:`keep_records`, the same data under
    any root), else None."""
    if finished_elsewhere(run_dir, config, seeds, data):
        return run_dir
    record = record_dir(run_dir, tables_dir)
    return record if finished_elsewhere(record, config, seeds, data, portable_spec) else None


def complete(args: argparse.Namespace, runs: Mapping[str, StudyRun]) -> dict[str, Path]:
    """The run directory of each of ``runs`` over ``args.seeds`` seeds: reused when finished,
    continued when killed, started otherwise. The seeds of every unfinished run (configuration
    x seed) go to one executor together (``--executor``/``--workers``); returns when all are in."""
    seeds = list(range(args.seeds))
    directories: dict[str, Path] = {}
    pending: list[PreparedRun] = []
    for label, run in runs.items():
        config = _config(run, args.scale)
        run_dir = directories[label] = _run_dir(args, run)
        resume = holds_this_run(run_dir, config, seeds, [args.data])
        if resume and finished_run(run_dir, seeds):
            continue
        if any(p.out == run_dir for p in pending):
            continue  # the same configuration under two labels runs once
        pending.append(prepare_run(run.algo, config, args.data, args.benchmark, seeds, run_dir, args.scale, resume,
                                   args.device, threads=args.threads, label=run.name))
    if pending:
        execute(pending, executor_from_args(args, str(Path(args.runs_dir) / "slurm_logs")))
    return directories


def table_rows(args: argparse.Namespace, runs: Mapping[str, StudyRun]) -> dict[str, Path]:
    """The run directories of a table's (or figure's) rows, in the table's order: the ``--only``
    rows (all without it) completed as :func:`complete` does, and every other row whose run has
    already finished with the same settings and data, over the seeds asked or the first few of them
    (the tables say each row's number of seeds) -- here, or as the record a study kept beside its
    tables (:func:`keep_records`; every finished run here gets one). So running one row, or adding
    seeds to it, keeps the rows run before in the table and its figures, and a row still running is
    left out."""
    wanted = complete(args, only(args, runs))
    seeds = list(range(args.seeds))
    rows: dict[str, Path] = {}
    for label, run in runs.items():
        run_dir = _run_dir(args, run)
        found = wanted.get(label) or finished_here_or_recorded(run_dir, figure_dir(args), _config(run, args.scale),
                                                              seeds, [args.data])
        if found:
            rows[label] = found
    keep_records(rows.values(), figure_dir(args))
    return rows


def labelled_history(run_dirs: dict[str, Path]) -> pd.DataFrame:
    return pd.concat([load_run(d).assign(run=label) for label, d in run_dirs.items()], ignore_index=True)


def curve_figure(run_dirs: dict[str, Path], kind: str, out: Path, title: str, shift: dict[str, int] | None = None,
                 scale_epochs: bool = False) -> Path:
    """The papers' per-epoch figures, one of :data:`~bench_toolkit.analysis.plots.EPOCH_KINDS`
    (e.g. ``accuracy`` of the derived cell, ``entropy``, ``magnitude`` with one panel per run on a
    shared y-axis); each seed a thin line, the mean a thick one. ``shift`` moves a run's epochs (to
    align the epochs after warm-up, as Fig. 2h); ``scale_epochs`` puts runs of different lengths on
    one axis from 0 to 1 (:func:`~bench_toolkit.analysis.plots.epoch_plot`)."""
    return epoch_plot(labelled_history(run_dirs), kind, out, title, shift, scale_epochs)


def kept_rows(table: pd.DataFrame, column: str, run_dirs: Mapping[str, Path]) -> pd.DataFrame:
    """The rows of a study's table (its ``column`` names them) that its CSV kept without a run
    here: runs made in another session or on another machine (:func:`write_outputs`' ``rows_of``)."""
    return table[~table[column].isin(list(run_dirs))]


def may_redraw(table: pd.DataFrame, column: str, run_dirs: Mapping[str, Path], figures: Sequence[Path]) -> bool:
    """Whether a table's per-epoch ``figures`` may be drawn again from the runs here. They need
    every row's history, so while some of the table's rows come from its CSV alone
    (:func:`kept_rows`) the figures already there are left as they are -- a figure of fewer rows
    would replace them -- and the rows missing here are named."""
    kept = kept_rows(table, column, run_dirs)
    if len(kept):
        print(f"{' and '.join(f.name for f in figures)} not redrawn: no runs here for {', '.join(kept[column])} "
              "(rows kept from the CSV)")
    return bool(run_dirs) and not len(kept)


def per_seed(values: Sequence[float], decimals: int = 2) -> str:
    """The values of a table cell's seeds, comma-separated (``decimals=0`` for depths, epochs)."""
    return ", ".join(f"{v:.{decimals}f}" for v in values)


def final_table(run_dirs: dict[str, Path]) -> pd.DataFrame:
    """One row per run: each benchmark answer of the final cells as mean ± std over seeds, the
    headline answer (CIFAR-10 test where recorded) per seed, and the best that answer reached at
    any epoch (Table 3's "optimal", :class:`~bench_toolkit.diagnostics.stop.BestEpoch`)."""
    rows = []
    for label, run_dir in run_dirs.items():
        final = read_json(run_dir / "final.json")
        answers = {k: f"{v['mean']:.2f} ± {v['std']:.2f}" for k, v in final.items() if isinstance(v, dict)}
        row = {"method": label, "seeds": len(final["per_seed"]), **answers}
        headline = headline_answer(answers)
        if headline:
            best = apply_criteria(run_dir, [BestEpoch()])[headline]
            row |= {f"{headline} per seed": per_seed([s[headline] for s in final["per_seed"]]),
                    f"optimal {headline}": f"{best.mean():.2f} ± {best.std(ddof=1) if len(best) > 1 else 0.0:.2f}",
                    f"optimal {headline} per seed": per_seed(best)}
        rows.append(row)
    return pd.DataFrame(rows)


def criteria_table(run_dir: Path, names: Sequence[str], label: str, op: str = "nor_conv_3x3") -> pd.DataFrame:
    """Stop criteria rolled back on one run (Algorithm 2): per criterion each benchmark answer's
    mean ± std, the selected epochs and the headline answer (CIFAR-10 test) per seed; ``op`` is
    the operation selective stop watches."""
    selections = apply_criteria(run_dir, [parse_criterion(name, op) for name in names])
    summary = summarise_selections(selections)
    answers = sorted({c.rsplit(" ", 1)[0] for c in summary.columns if c.endswith(" mean")})
    headline = headline_answer(answers)
    rows = []
    for _, row in summary.iterrows():
        chosen = selections[selections["criterion"] == row["criterion"]]
        rows.append({"setting": label, "criterion": row["criterion"],
                     **{a: f"{row[a + ' mean']:.2f} ± {row[a + ' std']:.2f}" for a in answers},
                     "epoch per seed": per_seed(chosen["epoch"], decimals=0),
                     **({f"{headline} per seed": per_seed(chosen[headline])} if headline else {})})
    return pd.DataFrame(rows)


def write_outputs(out_dir: Path, name: str, table: pd.DataFrame,
                  rows_of: tuple[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Write ``table`` as ``<name>.csv``, print it and return what was written. With ``rows_of = (column, labels)`` the table
    holds some of a paper table's rows (its ``column`` names them, ``labels`` in the paper's order):
    the rows of the CSV already there whose label ``table`` lacks are kept -- runs made in another
    session or on another machine, not in this ``runs/`` -- and the rows are put in ``labels``' order."""
    path = out_dir / f"{name}.csv"
    if rows_of is not None:
        column, labels = rows_of
        if path.exists():
            kept = pd.read_csv(path)
            kept = kept[kept[column].isin(labels) & ~kept[column].isin(table[column])]
            # counts stay integers where a kept row (read back as float beside empty cells) lacks one
            counts = {c: "Int64" for c in table if pd.api.types.is_integer_dtype(table[c]) and c in kept}
            columns = [*table, *(c for c in kept if c not in table)]  # this table's column order, then any older extras
            table = pd.concat([kept.astype(counts), table.astype(counts)], ignore_index=True)[columns]
        order = {label: i for i, label in enumerate(labels)}
        table = table.sort_values(column, key=lambda c: c.map(order), kind="stable", ignore_index=True)
    write_table(path, table)
    print(table.to_string(index=False))
    return table
