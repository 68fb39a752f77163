"""The NB201 space: string form, enumeration, validity, isomorphism key, sampling, mutation."""

from __future__ import annotations

import collections
import random

import pandas as pd
import pytest

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import NB201, get_space, nb201

RESNET_LIKE = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def test_official_op_order_and_edges():
    assert nb201.OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert nb201.EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


def test_parse_format_roundtrip_over_the_whole_space():
    archs = list(nb201.enumerate_archs())
    assert len(archs) == 15625 == nb201.SIZE
    strings = [nb201.format_arch(a) for a in archs]
    assert len(set(strings)) == 15625
    assert all(nb201.parse(s) == a for s, a in zip(strings, archs))
    assert [nb201.index(a) for a in archs] == list(range(15625))
    assert all(nb201.from_index(i) == a for i, a in enumerate(archs))


def test_parse_reads_edges_in_canonical_order():
    assert nb201.parse(RESNET_LIKE) == (
        "nor_conv_3x3", "none", "nor_conv_3x3", "skip_connect", "none", "skip_connect"
    )
    assert nb201.canonical("  " + RESNET_LIKE + "\n") == RESNET_LIKE


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|", "found 2"),
        ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "'conv_5x5'"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "'none~1'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "'|none~0|'"),
        ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "'none~0|'"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "'none0'"),
    ],
)
def test_malformed_strings_are_clear_errors_quoting_the_part(text, quoted):
    with pytest.raises(BenchToolkitError, match=quoted.replace("|", r"\|")):
        nb201.parse(text)


def test_index_out_of_range_and_bad_tuples():
    with pytest.raises(BenchToolkitError, match="15624"):
        nb201.from_index(15625)
    with pytest.raises(BenchToolkitError, match="6 ops"):
        nb201.as_arch(("none",) * 5)
    with pytest.raises(BenchToolkitError, match="'max_pool'"):
        nb201.as_arch(("none",) * 5 + ("max_pool",))


def test_validity_by_hand():
    assert nb201.is_valid(RESNET_LIKE)
    assert not nb201.is_valid("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    # node 1 reached, but nothing leaves it toward 3 and 0->3 is none
    assert not nb201.is_valid("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    # only path 0 -> 2 -> 3
    assert nb201.is_valid("|none~0|+|avg_pool_3x3~0|none~1|+|none~0|none~1|nor_conv_1x1~2|")


def test_validity_count_matches_a_brute_force_path_enumeration():
    def has_path(ops):
        live = {edge for edge, op in zip(nb201.EDGES, ops) if op != "none"}
        paths = [(0, 3), (0, 1, 3), (0, 2, 3), (0, 1, 2, 3)]
        return any(all((p[k], p[k + 1]) in live for k in range(len(p) - 1)) for p in paths)

    archs = list(nb201.enumerate_archs())
    assert [nb201.is_valid(a) for a in archs] == [has_path(a) for a in archs]
    # By hand, inclusion-exclusion over the 4 paths (each edge is live with probability 4/5):
    # P(valid) = (.8 + 2*.64 + .512) - (2*.512 + 4*.4096) + 4*.32768 - .262144 = .978176,
    # so 15625 * (1 - .978176) = 341 cells are invalid.
    assert sum(not has_path(a) for a in archs) == 341


def test_invalid_cells_are_exactly_the_ten_percent_cells_of_the_real_table(nb201_csv):
    table = pd.read_csv(nb201_csv)
    invalid = ~table["ArchitectureString"].map(nb201.is_valid)
    assert invalid.sum() == 341
    assert (table.loc[invalid, "CIFAR10TestAccuracy200Epochs"] == 10.0).all()
    assert (table.loc[~invalid, "CIFAR10TestAccuracy200Epochs"] > 10.0).all()


def test_iso_key_by_hand():
    # x + 0 == x: a zero branch does not change the function
    with_zero = "|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"
    direct = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
    assert nb201.iso_key(with_zero) == nb201.iso_key(direct) == "x"
    # sums commute: conv on 0->1 then skip vs. skip then conv on the other branch
    a = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|none~0|skip_connect~1|skip_connect~2|"
    b = "|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|"
    assert nb201.iso_key(a) == nb201.iso_key(b)
    # different ops, different functions
    assert nb201.iso_key(a) != nb201.iso_key(a.replace("nor_conv_3x3", "nor_conv_1x1"))
    # conv(x) + conv(x) is two independently weighted terms, not one
    twice = "|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|"
    assert nb201.iso_key(twice) == "nor_conv_3x3(x)+nor_conv_3x3(x)"
    assert nb201.iso_key("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|") == "0"


def test_iso_classes_count_and_consistency_with_the_official_unique_key(nb201_csv):
    table = pd.read_csv(nb201_csv)
    ours = table["ArchitectureString"].map(nb201.iso_key)
    assert ours.nunique() == 4930
    assert table["UniqueString"].nunique() == 6466
    # every official class lies inside one of ours (ours only merges 'x + 0' with 'x')
    assert (ours.groupby(table["UniqueString"]).nunique() == 1).all()
    # and cells we call equivalent have near-identical real accuracy
    spread = table.groupby(ours)["CIFAR10TestAccuracy200Epochs"].agg(lambda s: s.max() - s.min())
    assert spread.median() < 1.0


def test_sampling_is_seeded_and_uniform():
    first = [nb201.sample(random.Random(3)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng = random.Random(0)
    counts = collections.Counter(op for _ in range(5000) for op in nb201.sample(rng))
    assert set(counts) == set(nb201.OPS)
    assert all(abs(c / 30000 - 0.2) < 0.02 for c in counts.values())


def test_mutation_changes_exactly_one_edge_to_another_op():
    rng = random.Random(1)
    arch = nb201.parse(RESNET_LIKE)
    changed_edges = collections.Counter()
    for _ in range(2000):
        child = nb201.mutate(arch, rng)
        diff = [k for k in range(6) if child[k] != arch[k]]
        assert len(diff) == 1
        changed_edges[diff[0]] += 1
    assert set(changed_edges) == set(range(6))


def test_space_registry():
    assert get_space("nb201") is NB201
    assert NB201.from_choices([3, 0, 3, 1, 0, 1]) == nb201.parse(RESNET_LIKE)
    with pytest.raises(BenchToolkitError, match="available: nb201, nb101"):
        get_space("nb301")
