"""``bench-toolkit``: thin command line over the library. Parses, calls, prints.

Bad input ends in one line on stderr naming the problem and the fix, exit status 2.
Heavy libraries (torch, matplotlib) are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench_toolkit.errors import BenchToolkitError

DEFAULT_BENCHMARK = "analog"
BENCHMARK_HELP = "benchmark SPEC: analog (embedded default), nb201:PATH, nats-tss:PATH or table:PATH"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line, like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _parse_setting(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:  # argparse reports a type function's ArgumentTypeError as one line
        raise argparse.ArgumentTypeError(f"expects KEY=VALUE (e.g. --set a_lr=0.001), got '{text}'")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def cmd_query(args: argparse.Namespace) -> None:
    from bench_toolkit.benchmarks import load_benchmark

    from bench_toolkit.benchmarks import NB101Benchmark

    bench = load_benchmark(args.benchmark)
    if args.spec is not None and not isinstance(bench, NB101Benchmark):
        raise BenchToolkitError("--spec names an NB101 cell; give --benchmark nb101:PATH, or --arch for an NB201 cell")
    cell = args.arch if args.spec is None else args.spec
    print(f"{bench.query(cell, args.dataset, args.metric, args.epochs, args.seed):.4f}")


def cmd_table(args: argparse.Namespace) -> None:
    from bench_toolkit.benchmarks import load_benchmark
    from bench_toolkit.fileio import table_suffix, write_table

    table_suffix(args.out)  # refuse a bad output name before a possibly long conversion
    frame = load_benchmark(args.benchmark).frame(args.epochs, args.seed)
    path = write_table(args.out, frame)
    print(f"wrote {len(frame)} cells x {frame.shape[1] - 1} columns to {path}")


_BLACKBOX_ONLY = {"--budget": "budget", "--time-budget": "time_budget", "--dataset": "dataset", "--metric": "metric",
                  "--select-epochs": "select_epochs", "--report-dataset": "report_dataset",
                  "--report-epochs": "report_epochs"}
_DIFFERENTIABLE_ONLY = {"--epochs": "epochs", "--data": "data", "--scale": "scale", "--preset": "preset", "--task": "task",
                        "--stop": "stop", "--stop-op": "stop_op", "--precision": "precision", "--device": "device"}
_RUN_SETTINGS = {"--algo": "algo", "--out": "out", "--set": "set", "--benchmark": "benchmark", "--seeds": "seeds",
                 "--space": "space", **_BLACKBOX_ONLY, **{k: v for k, v in _DIFFERENTIABLE_ONLY.items() if k != "--device"}}
_SEARCH_DEFAULTS = {"device": "cpu", "stop_op": "nor_conv_3x3", "set": [], "seeds": 1, "task": []}
"""Search flags whose default is not None (--data and --scale default to None and are filled in by
the differentiable search, so that giving the default value explicitly is still seen as given)."""


def _refuse_given(args: argparse.Namespace, flags: dict[str, str], why: str) -> None:
    """One line naming the flags of ``flags`` that were given (differ from their defaults) and why
    they do not apply, instead of ignoring them."""
    given = [flag for flag, dest in flags.items() if getattr(args, dest) != _SEARCH_DEFAULTS.get(dest)]
    if given:
        raise BenchToolkitError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} {why}")


def cmd_search(args: argparse.Namespace) -> None:
    from bench_toolkit.search.blackbox import ALGORITHMS
    from bench_toolkit.search.differentiable import METHODS
    from bench_toolkit.search.multilevel.engine import MULTILEVEL_METHODS as MULTILEVEL
    from bench_toolkit.spaces import get_space

    if args.resume:
        _refuse_given(args, _RUN_SETTINGS, "not taken with --resume, which continues a run with the settings it "
                                           "was started with (start a new run to change them)")
        return _search_differentiable(args)
    if not args.algo or not args.out:
        raise BenchToolkitError("search needs --algo and --out (or --resume DIR to continue a run)")
    if args.seeds < 1:
        raise BenchToolkitError(f"--seeds must be at least 1, got {args.seeds}")
    if args.algo in ALGORITHMS:
        _refuse_given(args, _DIFFERENTIABLE_ONLY, "for differentiable searches only: a black-box search asks the "
                                                  "benchmark and trains nothing (its selection epochs: --select-epochs)")
        get_space(args.space or "nb201")
        if args.workers != 1 or args.executor != "local" or args.threads is not None:
            raise BenchToolkitError("--workers, --threads and --executor are for differentiable searches; "
                                    "a black-box search takes seconds in this process")
        return _search_blackbox(args)
    if args.algo in METHODS or args.algo in MULTILEVEL:
        _refuse_given(args, _BLACKBOX_ONLY, "for black-box searches only: a differentiable search trains for "
                                            "--epochs and records the benchmark's answers for every epoch's cell")
        if (args.algo in MULTILEVEL) != bool(args.task):
            raise BenchToolkitError(f"--task is for {', '.join(MULTILEVEL)} (one --task SPEC per learner)" if args.task
                                    else f"{args.algo} learns several tasks: give each with --task SPEC (two or more)")
        if args.algo in MULTILEVEL and args.data is not None:
            raise BenchToolkitError(f"{args.algo} reads its images from the --task specs; drop --data")
        return _search_differentiable(args)
    raise BenchToolkitError(
        f"unknown search algorithm '{args.algo}'; black-box: {', '.join(ALGORITHMS)}; differentiable: {', '.join(METHODS)}; "
        f"multi-task: {', '.join(MULTILEVEL)}"
    )


def _search_blackbox(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from bench_toolkit.benchmarks import load_benchmark
    from bench_toolkit.search import BlackBoxRun, Budget, Protocol, run_blackbox, summarise

    bench = load_benchmark(args.benchmark or DEFAULT_BENCHMARK)
    protocol = Protocol.resolve(bench, args.dataset, args.metric, args.select_epochs, args.report_dataset, args.report_epochs)
    run = BlackBoxRun(
        algo=args.algo, protocol=protocol, budget=Budget(args.budget, args.time_budget),
        seeds=tuple(range(args.seeds)), space=args.space or "nb201", params=dict(args.set),
    )
    history = run_blackbox(run, bench, args.out, progress=lambda seeds: tqdm(seeds, desc=args.algo, unit="seed"))
    summary = summarise(history)
    print(
        f"{args.algo} on {bench.name}: {protocol.report_dataset} test_acc of the chosen cell "
        f"{summary['test_acc_mean']:.2f} ± {summary['test_acc_std']:.2f} over {args.seeds} seed(s) "
        f"(selected by {protocol.dataset} {protocol.metric}, mean {len(history) / args.seeds:.0f} queries); "
        f"run directory {args.out}"
    )


def _refuse_seed_parallelism(args: argparse.Namespace) -> None:
    if args.workers != 1 or args.executor != "local":
        raise BenchToolkitError("--workers and --executor spread a supernet search's seeds; a multi-level search runs its "
                                "seeds one after another in this process (run one search per seed to spread them)")


def _search_differentiable(args: argparse.Namespace) -> None:
    from bench_toolkit.data.readers import DEFAULT_DATA
    from bench_toolkit.executors import executor_from_args
    from bench_toolkit.search.differentiable import config_for, get_method, resume_supernet_search, run_supernet_search
    from bench_toolkit.search.differentiable.presets import get_preset

    saved_kind = _saved_kind(Path(args.resume)) if args.resume else None
    if args.task or saved_kind in ("multilevel", "multilevel-pdarts"):
        _refuse_seed_parallelism(args)
    executor = executor_from_args(args, default_folder=str(Path(args.resume or args.out) / "slurm_logs"))
    if saved_kind == "multilevel":
        from bench_toolkit.search.multilevel.run import resume_interleaved

        return _print_final(resume_interleaved(args.resume, args.device, args.threads), Path(args.resume))
    if saved_kind == "multilevel-pdarts":
        from bench_toolkit.search.multilevel.progressive import resume_progressive

        return _print_pdarts(resume_progressive(args.resume, args.device, args.threads), args.resume)
    if saved_kind == "pdarts":
        from bench_toolkit.search.differentiable.progressive import resume_pdarts

        return _print_pdarts(resume_pdarts(args.resume, args.device, args.threads), args.resume)
    if args.resume:
        out = Path(args.resume)
        resume_supernet_search(out, device=args.device, executor=executor, threads=args.threads)
    else:
        out = Path(args.out)
        preset = get_preset(args.preset) if args.preset else None
        if preset and preset.method != args.algo:
            raise BenchToolkitError(f"preset '{args.preset}' configures {preset.method}, not {args.algo}")
        settings = {**(preset.settings if preset else {}), **dict(args.set)}
        if args.space is not None:
            settings["space"] = args.space
        if args.epochs is not None:
            settings["epochs"] = args.epochs
        if args.precision is not None:
            settings["precision"] = args.precision
        data, scale = args.data or DEFAULT_DATA, args.scale or "paper"
        if args.task:
            from bench_toolkit.search.multilevel.engine import MULTILEVEL_METHODS, is_progressive
            from bench_toolkit.search.multilevel.progressive import run_progressive
            from bench_toolkit.search.multilevel.run import run_interleaved

            config = config_for(scale, MULTILEVEL_METHODS[args.algo], settings)
            if is_progressive(args.algo):
                return _print_pdarts(run_progressive(args.algo, config, args.task, args.benchmark, list(range(args.seeds)),
                                                     out, scale, args.device, threads=args.threads), args.out)
            benchmark = args.benchmark or _default_benchmark(config.space)
            return _print_final(run_interleaved(args.algo, config, args.task, benchmark, list(range(args.seeds)), out,
                                                scale, args.device, threads=args.threads), out)
        config = config_for(scale, get_method(args.algo).defaults, settings)
        if args.algo == "pdarts":
            from bench_toolkit.search.differentiable.progressive import run_pdarts

            return _print_pdarts(run_pdarts(config, data, list(range(args.seeds)), out, args.device, args.threads),
                                 args.out)
        stop = {"criterion": args.stop, "op": args.stop_op} if args.stop else None
        # the embedded benchmark answers where the space has one (NB201); the DARTS space has none
        benchmark = args.benchmark or _default_benchmark(config.space)
        run_supernet_search(args.algo, config, data, benchmark,
                            list(range(args.seeds)), out, scale=scale, device=args.device, stop=stop,
                            executor=executor, threads=args.threads)
    _print_final(json.loads((out / "final.json").read_text()), out)


def _print_final(final: dict[str, Any], out: Any) -> None:
    seeds = len(final["per_seed"])
    answers = [f"{key} {value['mean']:.2f} ± {value['std']:.2f}" for key, value in final.items()
               if key.endswith(".test_acc")]
    print(f"final cells over {seeds} seed(s): {'; '.join(answers) or 'no benchmark answers'}; run directory {out}")


def _default_benchmark(space_name: str) -> str | None:
    """The embedded benchmark where it answers for the space (NB201); else none (no NB101 file ships)."""
    from bench_toolkit.search.differentiable.spaces import get_supernet_space

    space = get_supernet_space(space_name)
    return DEFAULT_BENCHMARK if space.has_benchmark and space.benchmark_kind == "nb201" else None


def _saved_kind(out: Path) -> str | None:
    try:
        return json.loads((out / "config.json").read_text()).get("kind")
    except (OSError, ValueError):
        return None


def _print_pdarts(final: dict[str, Any], out: str) -> None:
    for seed, genotypes in final["per_seed"].items():
        for name, genotype in genotypes.items():
            print(f"seed {seed} {name}: {genotype}")
    print(f"run directory {out}")


def cmd_stop(args: argparse.Namespace) -> None:
    from bench_toolkit.analysis.stops import apply_criteria, summarise_selections
    from bench_toolkit.diagnostics.stop import parse_criterion

    criteria = [parse_criterion(name, args.op) for name in args.criterion]
    selections = apply_criteria(args.run, criteria, args.mode)
    answers = [c for c in selections.columns if c.endswith("_acc")]
    with _wide_pandas():
        print(selections.assign(fired_at=selections["fired_at"].map(lambda v: "never" if v != v else int(v)))
              .to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        summary = summarise_selections(selections)
        for _, row in summary.iterrows():
            stats = "; ".join(f"{a} {row[a + ' mean']:.2f} ± {row[a + ' std']:.2f}" for a in answers)
            print(f"{row['criterion']}: {stats or 'no benchmark answers'} over {selections['seed'].nunique()} seed(s)")


def _wide_pandas() -> Any:
    """pandas display options under which a wide table prints one row per line."""
    import pandas as pd

    return pd.option_context("display.width", 250, "display.max_columns", 50, "display.max_colwidth", 100)


def cmd_plot(args: argparse.Namespace) -> None:
    from bench_toolkit.analysis import anytime_plot, epoch_plot, load_runs

    runs = load_runs(args.runs)
    wanted = "blackbox" if args.kind == "anytime" else "supernet"
    other = sorted(set(runs.loc[runs["kind"] != wanted, "run"]))
    if other:
        raise BenchToolkitError(f"--kind {args.kind} plots {'black-box' if wanted == 'blackbox' else 'differentiable'} "
                                f"runs; {', '.join(other)} {'is' if len(other) == 1 else 'are'} not; plot them separately")
    path = anytime_plot(runs, args.out, x=args.x) if args.kind == "anytime" else epoch_plot(runs, args.kind, args.out)
    print(f"wrote {path}")


def cmd_genotype(args: argparse.Namespace) -> None:
    from bench_toolkit.spaces.darts import get_genotype

    genotype = get_genotype(args.genotype)
    if args.out:
        from bench_toolkit.analysis.genotype_plot import draw_genotype
        from bench_toolkit.analysis.plots import figure_suffix

        figure_suffix(args.out)
    print(genotype)
    if args.params:
        from bench_toolkit.nn.darts_network import NetworkCIFAR, NetworkImageNet, count_parameters

        print(f"parameters (without the auxiliary head): CIFAR-10 network (20 cells, C=36) "
              f"{count_parameters(NetworkCIFAR(genotype)) / 1e6:.2f} M, "
              f"ImageNet network (14 cells, C=48) {count_parameters(NetworkImageNet(genotype)) / 1e6:.2f} M")
    if args.out:
        name = args.genotype if not args.genotype.strip().startswith("Genotype") else ""
        print(f"wrote {draw_genotype(genotype, args.out, name)}")


def cmd_train(args: argparse.Namespace) -> None:
    import torch

    from bench_toolkit.train import recipe_for, resume_training, train_network

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.resume:
        final = resume_training(args.resume, device=args.device)
    else:
        if not args.arch or not args.out:
            raise BenchToolkitError("train needs ARCH and --out (or --resume DIR to continue a run)")
        text = args.arch.lstrip()
        recipe_name = args.recipe or ("nb201" if text.startswith("|") else "lchain-cifar" if text.startswith("LChain(")
                                      else "darts-cifar")
        settings = dict(args.set)
        if args.epochs is not None:
            settings["epochs"] = args.epochs
        recipe = recipe_for(recipe_name, args.scale, settings)
        final = train_network(args.arch, recipe, args.data, args.out, args.test_data, args.seed, args.device, args.scale)
    print(f"test top-1 {final['test_top1']:.2f}, top-5 {final['test_top5']:.2f}; {final['params_M']:.3f} M parameters, "
          f"{final['madds_M']:.1f} M multiply-adds; run directory {args.resume or args.out}")


def cmd_space(args: argparse.Namespace) -> None:
    if args.name == "lchain":
        from bench_toolkit.spaces.lchain import count_architectures

        try:
            stages = tuple(int(n) for n in args.stages.split(","))
            count = count_architectures(args.L, stages)
        except ValueError as error:
            raise BenchToolkitError(f"space lchain: {error}; e.g. --L 4 --stages 18,20,18") from None
        print(f"{args.L}-chain space, stages of {', '.join(map(str, stages))} nodes: {count:.2e} architectures ({count})")
    elif args.name == "darts":
        from bench_toolkit.spaces.darts import count_genotypes

        count = count_genotypes()
        print(f"DARTS CNN space (normal and reduction cell): {count:.2e} genotypes ({count})")
    elif args.name == "nb201":
        from bench_toolkit.spaces import nb201

        print(f"NAS-Bench-201 space: {nb201.SIZE} cells")
    elif args.name == "nb101":
        from bench_toolkit.spaces import nb101

        print(f"NAS-Bench-101 space: {nb101.SIZE} cells up to isomorphism")
    elif args.name == "nb101-1shot1":
        from bench_toolkit.spaces import oneshot1

        counts = oneshot1.count(args.oneshot_space)
        print(f"NAS-Bench-1Shot1 search space {args.oneshot_space}: {counts['with_loose_ends']} architectures with loose "
              f"ends, {counts['without_loose_ends']} without, {counts['unique']} NB101 cells up to isomorphism")
    else:
        raise BenchToolkitError(f"unknown space '{args.name}'; choose one of: nb201, nb101, nb101-1shot1, darts, lchain")


def build_parser() -> argparse.ArgumentParser:
    from bench_toolkit.executors import add_executor_arguments

    parser = _Parser(prog="bench-toolkit", description="Tabular NAS benchmarks and search.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def benchmark_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--benchmark", default=DEFAULT_BENCHMARK, help=BENCHMARK_HELP)
        p.add_argument("--epochs", type=int, help="training epochs of the result (default: 200 where recorded)")
        p.add_argument("--seed", type=int, help="one training seed instead of the mean over seeds")

    q = commands.add_parser("query", help="print one metric of one architecture")
    benchmark_args(q)
    cell = q.add_mutually_exclusive_group(required=True)
    cell.add_argument("--arch", help="canonical NB201 string |op~0|+|op~0|op~1|+|op~0|op~1|op~2| (or an NB101 module hash)")
    cell.add_argument("--spec", help='NB101: the cell as JSON {"matrix": [[0, 1, ...], ...], "ops": ["input", ..., "output"]}')
    q.add_argument("--dataset", help="cifar10-valid, cifar10, cifar100 or ImageNet16-120 (default: cifar10)")
    q.add_argument("--metric", default="test_acc", help="e.g. test_acc, valid_acc, train_loss, params, train_time")
    q.set_defaults(func=cmd_query)

    t = commands.add_parser("table", help="write the whole space as one row per cell (.csv or .parquet)")
    benchmark_args(t)
    t.add_argument("--out", required=True, help="output file, .csv or .parquet")
    t.set_defaults(func=cmd_table)

    s = commands.add_parser("search", help="run a search over seeds and write a run directory")
    s.add_argument("--space", help="search space: nb201 (default); differentiable methods also darts "
                                   "(the DARTS CNN space; no benchmark answers), lchain (IF-NAS's macro space) and "
                                   "nb101-1shot1 (NAS-Bench-1Shot1; --set oneshot_space=1|2|3)")
    s.add_argument("--algo", help="black-box: random, rea, reinforce; differentiable: darts-v1, darts-v2, gdas, "
                                  "asap, prune-magnitude, prune-accumgrad, gaea-bilevel, gaea-erm, drnas, pc-darts, "
                                  "rsps, enas, setn, pdarts (three stages, DARTS space), if-nas (L-chain space); "
                                  "multi-level: il-darts, imtnas-darts, mtl-darts, il-pc-darts, imtnas-pc-darts, mtl-pc-darts, "
                                  "il-pdarts, imtnas-pdarts, mtl-pdarts (P-DARTS's three stages, DARTS space)")
    s.add_argument("--benchmark", help=BENCHMARK_HELP)
    s.add_argument("--seeds", type=int, default=1, help="number of seeds, run as 0..K-1")
    s.add_argument("--out", help="run directory to write")
    s.add_argument("--set", action="append", default=[], type=_parse_setting, metavar="KEY=VALUE",
                   help="algorithm parameter or search setting, e.g. population_size=20, a_lr=0.001 (repeatable)")
    blackbox = s.add_argument_group("black-box search (random, rea, reinforce)")
    blackbox.add_argument("--budget", type=int, help="number of queries per seed")
    blackbox.add_argument("--time-budget", type=float, help="simulated training seconds per seed (needs train_time)")
    blackbox.add_argument("--dataset", help="selection dataset (default: cifar10-valid where recorded)")
    blackbox.add_argument("--metric", help="selection metric (default: valid_acc where recorded, else test_acc)")
    blackbox.add_argument("--select-epochs", type=int, help="epochs of the selection metric (default: 12 where recorded)")
    blackbox.add_argument("--report-dataset", help="dataset whose test_acc is reported (default: cifar10)")
    blackbox.add_argument("--report-epochs", type=int, help="epochs of the reported test_acc (default: 200 where recorded)")
    supernet = s.add_argument_group("differentiable and multi-level search (every --algo but the black-box ones)")
    supernet.add_argument("--data", help="data SPEC: digits (embedded, smoke scale; the default), cifar10:PATH, "
                                         "cifar100:PATH, imagefolder:PATH; any of them ending in #CLASSES keeps "
                                         "those classes (names or indices, a-b ranges: cifar10:PATH#0-4)")
    supernet.add_argument("--epochs", type=int, help="search epochs (default: 50; GDAS 250)")
    supernet.add_argument("--scale",
                          help="sizes only: smoke (tests), mini (CPU studies: 1,000 images per class, 16x16, C=8, "
                               "one cell per stage), paper (default)")
    supernet.add_argument("--resume", metavar="DIR", help="continue the killed run in DIR with its own settings")
    supernet.add_argument("--task", action="append", default=[], metavar="SPEC",
                          help="multi-level methods: one learner's data SPEC (repeat, in task order)")
    supernet.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    supernet.add_argument("--precision", choices=["fp32", "bf16"],
                          help="fp32 (default) or bf16 autocast of the search steps (slower on CPU: see benchmarks/README.md)")
    supernet.add_argument("--preset", help="a named configuration, e.g. ex-darts, warmup-10, no-skip (see presets.py)")
    supernet.add_argument("--stop", help="online stop criterion: sc_K, rt_K, darts-es, ss-peak, ss-residual")
    supernet.add_argument("--stop-op", default="nor_conv_3x3", help="op of the ss-* criteria (default nor_conv_3x3)")
    add_executor_arguments(s)
    s.set_defaults(func=cmd_search)

    st = commands.add_parser("stop", help="apply stop criteria to a recorded differentiable-search run")
    st.add_argument("run", help="run directory")
    st.add_argument("--criterion", action="append", required=True,
                    help="sc_K, rt_K, darts-es, ss-peak (Eq. 12), ss-residual (Eq. 13), or the references final and "
                         "optimal (best epoch, rollback only); repeat for several (Algorithm 2)")
    st.add_argument("--op", default="nor_conv_3x3", help="op of the ss-* criteria")
    st.add_argument("--mode", default="rollback", choices=["rollback", "online"],
                    help="rollback: choose from the whole history (Algorithm 2); online: what an early stop would pick")
    st.set_defaults(func=cmd_stop)

    p = commands.add_parser("plot", help="draw a figure from run directories")
    p.add_argument("runs", nargs="+", help="run directories")
    p.add_argument("--kind", default="anytime", help="anytime (black-box), magnitude, entropy, accuracy, depth or edge_weight (differentiable; depth: IF-NAS)")
    p.add_argument("--x", default="queries", choices=["queries", "time"], help="anytime x-axis")
    p.add_argument("--out", required=True, help="image file (.png, .pdf, .svg)")
    p.set_defaults(func=cmd_plot)

    g = commands.add_parser("genotype", help="print (and draw) a DARTS-space genotype, published or pasted")
    g.add_argument("genotype", help="a published name (DARTS_V1, DARTS_V2, PC_DARTS, PDARTS) or the text "
                                    "Genotype(normal=[...], normal_concat=..., reduce=[...], reduce_concat=...)")
    g.add_argument("--out", help="draw both cells to this image file (.png, .pdf, .svg)")
    g.add_argument("--params", action="store_true", help="also count the parameters of its CIFAR and ImageNet networks")
    g.set_defaults(func=cmd_genotype)

    sp = commands.add_parser("space", help="count the architectures of a search space (IF-NAS Table 1)")
    sp.add_argument("name", help="nb201, nb101, nb101-1shot1, darts or lchain")
    sp.add_argument("--oneshot-space", type=int, default=1, choices=[1, 2, 3], help="nb101-1shot1: search space 1, 2 or 3")
    sp.add_argument("--L", type=int, default=4, help="lchain: precursors each node may read (default 4)")
    sp.add_argument("--stages", default="18,20,18", help="lchain: nodes per stage, stage input included (ImageNet: 18,20,18)")
    sp.set_defaults(func=cmd_space)

    tr = commands.add_parser("train", help="train a derived architecture (DARTS genotype, NB201 cell or L-chain) by its recipe")
    tr.add_argument("arch", nargs="?", help="a DARTS genotype (published name or Genotype(...) text) or an NB201 cell string")
    tr.add_argument("--recipe", help="darts-cifar (default for genotypes), darts-imagenet, nb201 (default for NB201 cells), "
                                     "lchain-cifar (default for LChain(...)), lchain-imagenet")
    tr.add_argument("--data", default="digits", help="training data SPEC: digits (smoke), cifar10:PATH, cifar100:PATH, "
                                                      "imagefolder:PATH")
    tr.add_argument("--test-data", help="test data SPEC (default: the training source's own test split)")
    tr.add_argument("--scale", default="paper", help="sizes only: smoke (tests), mini (CPU), paper (default)")
    tr.add_argument("--epochs", type=int, help="epochs (default: the recipe's)")
    tr.add_argument("--set", action="append", default=[], type=_parse_setting, metavar="KEY=VALUE",
                    help="recipe setting, e.g. batch_size=256, lr=0.2 (repeatable)")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--out", help="run directory to write")
    tr.add_argument("--resume", metavar="DIR", help="continue the killed training in DIR with its own settings")
    tr.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    tr.add_argument("--threads", type=int, help="torch CPU threads")
    tr.set_defaults(func=cmd_train)
    return parser


def _close_progress_bars() -> None:
    """Close the progress bars still drawn, so that a message starts on a line of its own instead
    of being glued to a bar."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        args.func(args)
    except BenchToolkitError as err:
        _close_progress_bars()
        print(f"bench-toolkit: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _close_progress_bars()
        out = getattr(args, "resume", None) or getattr(args, "out", None)
        resumable = getattr(args, "command", None) in ("search", "train") and out and (Path(out) / "config.json").exists()
        hint = f"; continue it with: bench-toolkit {args.command} --resume {out}" if resumable else ""
        print(f"bench-toolkit: interrupted{hint}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
