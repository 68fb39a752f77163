"""The official NAS-Bench-101 file format read without TensorFlow: CRC-32C against its check value,
records framed and checked, a ModelMetrics message written by hand in the protobuf wire format
decoded, every kind of damage reported with the file and byte offset."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from bench_toolkit.benchmarks.nb101_tfrecord import crc32c, masked_crc, records, rows, write_record
from bench_toolkit.errors import BenchToolkitError
from test_space_nb101 import OFFICIAL_HASH, OFFICIAL_MATRIX, OFFICIAL_OPS


def test_crc32c_check_value_and_tensorflow_mask():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720, B.4)
    assert crc32c(b"") == 0
    crc = crc32c(b"abc")
    assert masked_crc(b"abc") == ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _double(field: int, value: float) -> bytes:
    return bytes([(field << 3) | 1]) + struct.pack("<d", value)


def _varint(value: int) -> bytes:
    out = b""
    while True:
        byte, value = value & 0x7F, value >> 7
        out += bytes([byte | (0x80 if value else 0)])
        if not value:
            return out


def _metrics(evaluations: list[tuple[float, ...]], parameters: int) -> bytes:
    """ModelMetrics in the protobuf wire format, by hand (model_metrics.proto's field numbers)."""
    out = b""
    for values in evaluations:
        body = b"".join(_double(field, v) for field, v in enumerate(values, start=1))
        out += bytes([(1 << 3) | 2]) + _varint(len(body)) + body
    return out + bytes([2 << 3]) + _varint(parameters) + _double(3, 1234.5)


def _row(module_hash=OFFICIAL_HASH, epochs=108, metrics=None) -> bytes:
    adjacency = "".join(str(v) for row in OFFICIAL_MATRIX.tolist() for v in row)
    metrics = metrics if metrics is not None else _metrics([(0.0, 0.0, 0.1, 0.1, 0.1),
                                                            (108.0, 1768.78, 1.0, 0.9264155824979147, 0.9206063151359558)],
                                                           8555530)
    return json.dumps([module_hash, epochs, adjacency, ",".join(OFFICIAL_OPS), base64.b64encode(metrics).decode()]).encode()


def _file(path, *datas: bytes):
    with open(path, "wb") as handle:
        for data in datas:
            write_record(handle, data)
    return path


def test_rows_of_an_official_format_file(tmp_path):
    path = _file(tmp_path / "nb101.tfrecord", _row(), _row(epochs=4))
    read = list(rows(path))
    assert [r.epochs for r in read] == [108, 4]
    row = read[0]
    assert row.module_hash == OFFICIAL_HASH and row.trainable_parameters == 8555530
    assert row.ops == tuple(OFFICIAL_OPS) and row.matrix == tuple(map(tuple, OFFICIAL_MATRIX.tolist()))
    assert row.final == {"current_epoch": 108.0, "training_time": 1768.78, "train_accuracy": 1.0,
                         "validation_accuracy": 0.9264155824979147, "test_accuracy": 0.9206063151359558}
    assert [offset for offset, _ in records(path)] == [0, 16 + len(_row())]


def test_damage_is_one_line_with_the_byte_offset(tmp_path):
    good = _row()
    second = 16 + len(good)
    path = _file(tmp_path / "a.tfrecord", good, good)
    data = bytearray(path.read_bytes())
    flipped = bytearray(data)
    flipped[second + 20] ^= 0xFF  # inside the second record's data
    (tmp_path / "flipped.tfrecord").write_bytes(bytes(flipped))
    with pytest.raises(BenchToolkitError, match=f"data check of the record at byte {second} fails"):
        list(rows(tmp_path / "flipped.tfrecord"))
    header = bytearray(data)
    header[second] ^= 0x01  # the second record's length
    (tmp_path / "header.tfrecord").write_bytes(bytes(header))
    with pytest.raises(BenchToolkitError, match=f"length check of the record at byte {second} fails"):
        list(rows(tmp_path / "header.tfrecord"))
    (tmp_path / "short.tfrecord").write_bytes(bytes(data[:-10]))
    with pytest.raises(BenchToolkitError, match=f"ends inside the record at byte {second}"):
        list(rows(tmp_path / "short.tfrecord"))
    (tmp_path / "stub.tfrecord").write_bytes(bytes(data[: second + 5]))
    with pytest.raises(BenchToolkitError, match=f"ends inside a record header at byte {second}"):
        list(rows(tmp_path / "stub.tfrecord"))
    _file(tmp_path / "json.tfrecord", good, b"[not json")
    with pytest.raises(BenchToolkitError, match=f"record at byte {second} is not an NB101 row"):
        list(rows(tmp_path / "json.tfrecord"))
    _file(tmp_path / "proto.tfrecord", _row(metrics=b"\x0a\xff\xff"))
    with pytest.raises(BenchToolkitError, match="metrics of the record at byte 0 are not a ModelMetrics"):
        list(rows(tmp_path / "proto.tfrecord"))


# -- the benchmark: nb101:PATH ----------------------------------------------------------------------

from bench_toolkit.benchmarks import NB101Benchmark, load_benchmark  # noqa: E402
from bench_toolkit.spaces.nb101 import pruned  # noqa: E402

CHAIN_OPS = ["input", "conv3x3-bn-relu", "output"]
CHAIN = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]


def _chain_row(epochs: int, test: float, valid: float = 0.5) -> bytes:
    metrics = _metrics([(0.0, 0.0, 0.1, 0.1, 0.1), (float(epochs), 10.0 * epochs, 0.9, valid, test)], 1000)
    return json.dumps([pruned(CHAIN, CHAIN_OPS).hash(), epochs, "010001000", ",".join(CHAIN_OPS),
                       base64.b64encode(metrics).decode()]).encode()


def test_nb101_benchmark_serves_repeats_means_and_specs(tmp_path, capsys):
    path = _file(tmp_path / "nasbench_tiny.tfrecord", _row(), _chain_row(108, 0.80), _chain_row(108, 0.90),
                 _chain_row(108, 0.85), _chain_row(12, 0.60))
    bench = load_benchmark(f"nb101:{path}", cache_dir=tmp_path / "cache")
    assert isinstance(bench, NB101Benchmark) and bench.cells == 2 and bench.epochs == (12, 108)
    assert "covers 2 of the 423,624 NB101 cells" in capsys.readouterr().err
    chain = pruned(CHAIN, CHAIN_OPS)
    assert bench.query(chain) == pytest.approx(85.0)  # the mean of three repeats, in percent
    assert bench.query(chain.hash(), seed=1) == pytest.approx(90.0)
    assert bench.query(json.dumps({"matrix": CHAIN, "ops": CHAIN_OPS}), epochs=12) == pytest.approx(60.0)
    assert bench.query(OFFICIAL_HASH, metric="valid_acc") == pytest.approx(92.64155824979146)
    assert bench.record(OFFICIAL_HASH)["params"] == pytest.approx(8.55553)
    assert bench.spec(OFFICIAL_HASH).hash() == OFFICIAL_HASH
    frame = bench.frame()
    assert sorted(frame["cifar10.test_acc"].round(4)) == [85.0, pytest.approx(92.0606, abs=1e-4)]
    again = load_benchmark(f"nb101:{path}", cache_dir=tmp_path / "cache")  # from the parquet cache
    assert again.query(chain) == bench.query(chain)
    for bad, message in [(lambda: bench.query("0" * 32), "has no cell 0000"), (lambda: bench.query(chain, epochs=36),
                         "no 36-epoch results"), (lambda: bench.query(chain, seed=5), "no repeat 5"),
                         (lambda: bench.query(chain, "cifar100"), "no dataset 'cifar100'"),
                         (lambda: bench.query(chain, metric="flops"), "no metric 'flops'"),
                         (lambda: bench.query("not a cell"), r"module hash \(32 hex digits\) or its spec")]:
        with pytest.raises(BenchToolkitError, match=message):
            bad()


# -- black-box search on NB101 ---------------------------------------------------------------------

import random  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench_toolkit.cli import main  # noqa: E402
from bench_toolkit.spaces import nb101  # noqa: E402


def test_encodings_sample_and_mutate_to_valid_cells():
    rng = random.Random(0)
    official = ["0"] * len(nb101.EDGE_SLOTS)
    for source, target in zip(*OFFICIAL_MATRIX.nonzero()):
        official[nb101.EDGE_SLOTS.index((int(source), int(target)))] = "1"
    encoding = (*official, *OFFICIAL_OPS[1:-1])
    assert nb101.canonical(encoding) == OFFICIAL_HASH
    for _ in range(30):
        child = nb101.mutate(encoding, rng)
        assert child != encoding and nb101.is_valid(child)
        assert sum(a != b for a, b in zip(child, encoding)) >= 1
        assert nb101.is_valid(nb101.sample(rng))
    assert not nb101.is_valid(("0",) * 21 + ("maxpool3x3",) * 5)  # no edge: output unreachable


def test_black_box_searches_run_on_an_nb101_file(tmp_path, capsys, monkeypatch):
    # a file of 40 random cells, their validation accuracy growing with their edge count
    rng = random.Random(1)
    cells = {}
    while len(cells) < 40:
        spec = nb101.spec_of(nb101.sample(rng))
        cells[spec.hash()] = spec
    datas = []
    for module_hash, spec in cells.items():
        adjacency = "".join(str(v) for row in spec.matrix for v in row)
        metrics = _metrics([(0.0, 0.0, 0.1, 0.1, 0.1), (108.0, 100.0, 1.0, 0.5 + 0.01 * spec.edges, 0.5)], 1000)
        datas.append(json.dumps([module_hash, 108, adjacency, ",".join(spec.ops), base64.b64encode(metrics).decode()]).encode())
    path = _file(tmp_path / "nb101.tfrecord", *datas)
    bench = load_benchmark(f"nb101:{path}", cache_dir=tmp_path / "cache")
    assert bench.cells == 40
    capsys.readouterr()
    # the real space samples from all 423,624 cells, which this file lacks: the searches run against it
    # through a space restricted to its 40 cells
    from bench_toolkit.search import BlackBoxRun, Budget, Protocol, run_blackbox
    from bench_toolkit.spaces import SPACES, SearchSpace

    specs = list(cells.values())
    encode = {s.hash(): s for s in specs}
    restricted = SearchSpace("nb101", nb101.DECISIONS, lambda arch: arch if isinstance(arch, str) else nb101.canonical(arch),
                             lambda r: r.choice(specs).hash(), lambda arch, r: r.choice([h for h in encode if h != arch]))
    monkeypatch.setitem(SPACES, "nb101", restricted)
    protocol = Protocol.resolve(bench)
    assert (protocol.dataset, protocol.metric, protocol.epochs) == ("cifar10", "valid_acc", 108)
    for algo in ("random", "rea"):
        history = run_blackbox(BlackBoxRun(algo, protocol, Budget(20), (0, 1), space="nb101"), bench)
        scores = {h: 50.0 + s.edges for h, s in encode.items()}
        assert all(row.score == pytest.approx(scores[row.arch]) for row in history.itertuples())
    assert main(["search", "--algo", "rea", "--budget", "5", "--benchmark", f"nb101:{path}", "--out", str(tmp_path / "x")]) == 2
    assert "answers for NB101 cells, not the nb201 space; add --space nb101" in capsys.readouterr().err


def test_reinforce_over_nb101_encodings_queries_only_valid_cells():
    from bench_toolkit.search.reinforce import reinforce
    from bench_toolkit.spaces import NB101

    class Scores:
        """A stand-in evaluator: score = 10 x the pruned cell's edges; 200 queries."""

        def __init__(self):
            self.asked = []

        @property
        def exhausted(self):
            return len(self.asked) >= 200

        def __call__(self, arch):
            spec = nb101.spec_of(arch)  # raises for an invalid cell
            self.asked.append(spec)
            return 10.0 * spec.edges

    scores = Scores()
    reinforce(NB101, scores, random.Random(0), learning_rate=0.05)
    assert len(scores.asked) == 200
    early = np.mean([s.edges for s in scores.asked[:50]])
    late = np.mean([s.edges for s in scores.asked[-50:]])
    assert late > early  # the policy moves toward the rewarded (more edges) cells


def test_cli_query_and_table_on_an_nb101_file(tmp_path, capsys):
    path = _file(tmp_path / "nb101.tfrecord", _row(), _chain_row(108, 0.80))
    spec = json.dumps({"matrix": OFFICIAL_MATRIX.tolist(), "ops": OFFICIAL_OPS})
    assert main(["query", "--benchmark", f"nb101:{path}", "--spec", spec]) == 0
    assert capsys.readouterr().out.strip() == "92.0606"
    assert main(["query", "--benchmark", f"nb101:{path}", "--arch", OFFICIAL_HASH, "--metric", "valid_acc"]) == 0
    assert capsys.readouterr().out.strip() == "92.6416"
    assert main(["table", "--benchmark", f"nb101:{path}", "--out", str(tmp_path / "nb101.csv")]) == 0
    table = pd.read_csv(tmp_path / "nb101.csv")
    assert sorted(table["module_hash"]) == sorted([OFFICIAL_HASH, pruned(CHAIN, CHAIN_OPS).hash()])
    assert main(["query", "--spec", spec]) == 2  # the embedded NB201 benchmark has no NB101 cells
    assert "--spec names an NB101 cell" in capsys.readouterr().err
