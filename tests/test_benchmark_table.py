"""The table backend, the Benchmark interface on real NB201 numbers, and table round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench_toolkit.benchmarks import load_benchmark
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.fileio import write_table
from bench_toolkit.spaces import nb201

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_real_nb201_csv_loads_as_is_and_matches_every_number(nb201_csv):
    raw = pd.read_csv(nb201_csv)
    bench = load_benchmark(f"table:{nb201_csv}")
    assert bench.datasets == ("cifar10", "cifar100", "ImageNet16-120")
    assert bench.epochs == (200,)
    frame = bench.frame().set_index("official_index").sort_index()
    assert len(frame) == 15625
    assert (frame["arch"].to_numpy() == raw["ArchitectureString"].to_numpy()).all()  # row order = official index
    for column, ours in [
        ("CIFAR10TestAccuracy200Epochs", "cifar10.test_acc"),
        ("CIFAR100TestAccuracy200Epochs", "cifar100.test_acc"),
        ("ImageNetTestAccuracy200Epochs", "ImageNet16-120.test_acc"),
    ]:
        np.testing.assert_array_equal(frame[ours].to_numpy(), raw[column].to_numpy())
    row = raw.iloc[1]
    assert bench.query(row.ArchitectureString, "cifar100", "test_acc") == row.CIFAR100TestAccuracy200Epochs
    # the optimum the NB201 paper reports for CIFAR-10 test accuracy (Table 5): 94.37%
    best = raw.loc[raw["CIFAR10TestAccuracy200Epochs"].idxmax(), "ArchitectureString"]
    assert bench.query(best, "cifar10") == pytest.approx(94.37, abs=0.005)


def test_query_errors_name_the_problem_and_the_fix(nb201_csv):
    bench = load_benchmark(f"table:{nb201_csv}")
    with pytest.raises(BenchToolkitError, match="no dataset 'cifar10-valid'; choose one of: cifar10, cifar100"):
        bench.query(BEST_C10, "cifar10-valid")
    with pytest.raises(BenchToolkitError, match="no metric 'valid_acc' for 'cifar10'.*available: test_acc"):
        bench.query(BEST_C10, "cifar10", "valid_acc")
    with pytest.raises(BenchToolkitError, match="'acc' is not a metric name"):
        bench.query(BEST_C10, "cifar10", "acc")
    with pytest.raises(BenchToolkitError, match="no 12-epoch results for 'cifar10'; epochs available: 200"):
        bench.query(BEST_C10, "cifar10", epochs=12)
    with pytest.raises(BenchToolkitError, match="no seed 777.*seeds recorded: none"):
        bench.query(BEST_C10, "cifar10", seed=777)


def _small_table(path, archs, **columns):
    frame = pd.DataFrame({"arch": [nb201.format_arch(a) for a in archs], **columns})
    return write_table(path, frame)


def test_a_partial_table_reports_its_coverage_at_load(tmp_path, nb201_csv, capsys):
    source = _small_table(tmp_path / "three.csv", [nb201.from_index(i) for i in (0, 17, 15624)],
                          **{"cifar10.test_acc": [10.0, 50.0, 90.0]})
    bench = load_benchmark(f"table:{source}", cache_dir=tmp_path / "cache")
    note = capsys.readouterr().err.strip().splitlines()
    assert note == [f"bench-toolkit: note: benchmark 'table:{source}' covers 3 of the 15,625 NB201 cells; "
                    "querying any other cell is an error"]
    assert bench.cells == 3
    load_benchmark(f"table:{nb201_csv}")
    assert capsys.readouterr().err == ""  # the whole space: nothing to report


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_command_output_loads_back_unchanged(tmp_path, suffix):
    archs = [nb201.from_index(i) for i in (0, 17, 15624)]
    source = _small_table(
        tmp_path / "src.csv", archs,
        **{"cifar10.test_acc": [10.0, 88.5, 91.25], "cifar10-valid.valid_acc@12": [10.0, 80.0, 85.0],
           "cifar10-valid.train_time@12": [30.0, 40.0, 50.0]},
    )
    bench = load_benchmark(f"table:{source}")
    assert bench.query(archs[1], "cifar10-valid", "valid_acc", epochs=12) == 80.0
    assert bench.query(archs[2], "cifar10", "test_acc") == 91.25
    exported = write_table(tmp_path / f"out{suffix}", bench.frame())
    again = load_benchmark(f"table:{exported}")
    assert again.query(archs[1]) == 88.5
    pd.testing.assert_frame_equal(again.frame(), bench.frame(), check_like=True)


def test_bad_tables_are_refused_with_the_fix(tmp_path):
    no_arch = tmp_path / "no_arch.csv"
    pd.DataFrame({"cifar10.test_acc": [1.0]}).to_csv(no_arch, index=False)
    with pytest.raises(BenchToolkitError, match="no architecture column; name it one of: arch, ArchitectureString"):
        load_benchmark(f"table:{no_arch}")
    no_metric = _small_table(tmp_path / "no_metric.csv", [nb201.from_index(0)], accuracy=[1.0])
    with pytest.raises(BenchToolkitError, match="no metric columns"):
        load_benchmark(f"table:{no_metric}")
    dup = _small_table(tmp_path / "dup.csv", [nb201.from_index(4)] * 2, **{"cifar10.test_acc": [1.0, 2.0]})
    with pytest.raises(BenchToolkitError, match="more than once"):
        load_benchmark(f"table:{dup}")
    bad_arch = tmp_path / "bad_arch.csv"
    pd.DataFrame({"arch": ["|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"], "cifar10.test_acc": [1.0]}).to_csv(
        bad_arch, index=False
    )
    with pytest.raises(BenchToolkitError, match="unknown NB201 op 'conv'"):
        load_benchmark(f"table:{bad_arch}")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(BenchToolkitError, match="cannot read .* as a parquet table"):
        load_benchmark(f"table:{corrupt}")
    with pytest.raises(BenchToolkitError, match="does not exist"):
        load_benchmark(f"table:{tmp_path / 'missing.csv'}")
    with pytest.raises(BenchToolkitError, match="unknown benchmark spec 'nb301:x'"):
        load_benchmark("nb301:x")
