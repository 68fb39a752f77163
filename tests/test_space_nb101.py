"""The NAS-Bench-101 space: the reference's module hash reproduced on a row of the official file,
its isomorphism invariance, pruning, and one clear line for each malformed spec."""

from __future__ import annotations

import numpy as np
import pytest

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces.nb101 import hash_module, pruned

# A row of nasbench_only108.tfrecord, as NASLib's and other repositories' tests quote it: inputs
# of vertices 1..6 are [0], [1], [2], [0], [0, 3, 4], [2, 5]
OFFICIAL_OPS = ["input", "conv3x3-bn-relu", "maxpool3x3", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv1x1-bn-relu", "output"]
OFFICIAL_HASH = "00005c142e6f48ac74fdcf73e3439874"


def _matrix(inputs: dict[int, list[int]], n: int = 7) -> np.ndarray:
    m = np.zeros((n, n), dtype=int)
    for target, sources in inputs.items():
        m[sources, target] = 1
    return m


OFFICIAL_MATRIX = _matrix({1: [0], 2: [1], 3: [2], 4: [0], 5: [0, 3, 4], 6: [2, 5]})


def test_the_hash_of_an_official_row():
    spec = pruned(OFFICIAL_MATRIX, OFFICIAL_OPS)
    assert (spec.vertices, spec.edges) == (7, 9)
    assert spec.hash() == OFFICIAL_HASH


def test_the_hash_ignores_vertex_order_but_not_labels():
    # renumber the middle vertices 3 <-> 4 (both read and feed the same kind of neighbours)
    order = [0, 1, 2, 4, 3, 5, 6]
    permuted = OFFICIAL_MATRIX[np.ix_(order, order)]
    assert not np.tril(permuted).any()
    assert pruned(permuted, [OFFICIAL_OPS[v] for v in order]).hash() == OFFICIAL_HASH
    relabelled = list(OFFICIAL_OPS)
    relabelled[2] = "conv1x1-bn-relu"
    assert pruned(OFFICIAL_MATRIX, relabelled).hash() != OFFICIAL_HASH
    # the reference's own test: a diamond with its two middle labels swapped hashes the same
    diamond = _matrix({1: [0], 2: [0], 3: [1, 2]}, 4)
    assert hash_module(diamond, [-1, 1, 2, -2]) == hash_module(diamond, [-1, 2, 1, -2])


def test_pruning_removes_vertices_off_every_input_output_path():
    # vertex 2 feeds nothing: pruned away; the rest is the chain input -> conv -> output
    m = _matrix({1: [0], 2: [0], 3: [1]}, 4)
    spec = pruned(m, ["input", "conv3x3-bn-relu", "maxpool3x3", "output"])
    assert spec.ops == ("input", "conv3x3-bn-relu", "output") and spec.edges == 2
    assert spec.hash() == pruned(_matrix({1: [0], 2: [1]}, 3), ["input", "conv3x3-bn-relu", "output"]).hash()


@pytest.mark.parametrize("matrix, ops, message", [
    ([[0, 1], [0, 0], [0, 0]], ["input", "output"], "is square"),
    ([[0, 1], [0, 0]], ["input", "conv3x3-bn-relu", "output"], "one op per vertex"),
    ([[0, 1], [1, 0]], ["input", "output"], "upper triangular"),
    ([[0, 2], [0, 0]], ["input", "output"], "only 0 and 1"),
    ([[0, 1], [0, 0]], ["conv3x3-bn-relu", "output"], "first op is 'input'"),
    ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"], "unknown NB101 op"),
    ([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", "maxpool3x3", "output"], "output is not reachable"),
    (np.triu(np.ones((8, 8), dtype=int), 1), ["input"] + ["conv3x3-bn-relu"] * 6 + ["output"], "at most 7 vertices"),
    (np.triu(np.ones((6, 6), dtype=int), 1), ["input"] + ["conv3x3-bn-relu"] * 4 + ["output"], "and 9 edges"),
])
def test_malformed_specs_are_one_line(matrix, ops, message):
    with pytest.raises(BenchToolkitError, match=message):
        pruned(matrix, ops)


# The documented behaviour of the reference hash (nasbench/lib/graph_util_test.py's examples)
CHAIN5 = [[0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
SHORTCUT = [[0, 1, 0, 1], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
FAN = [[0, 1, 1, 1, 1, 0, 0], [0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0],
       [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 0]]


def test_the_reference_hash_examples():
    h = lambda m, labels: hash_module(np.array(m), labels)  # noqa: E731
    m1 = [[0, 1, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    m2 = [[0, 1, 0, 1, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    m3 = [[0, 1, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    l1, l2, l3 = [-1, 1, 2, 3, -2], [-1, 2, 3, 1, -2], [-1, 2, 1, 3, -2]
    assert h(m1, l1) == h(m2, l2) == h(m3, l3)  # the same graph, vertices renumbered
    assert h(m1, l2) != h(m1, l1) and h(m1, l3) != h(m1, l1)
    regular1 = [[0, 1, 0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0, 1, 0], [0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0],
                [0, 0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 0, 1], [0] * 8]
    regular2 = [[0, 1, 0, 0, 0, 0, 0, 0], [0, 0, 1, 1, 0, 1, 0, 0], [0, 0, 0, 0, 1, 0, 1, 0], [0, 0, 0, 0, 1, 1, 0, 0],
                [0, 0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 0, 1], [0] * 8]
    assert h(regular1, [-1] + [1] * 6 + [-2]) != h(regular2, [-1] + [1] * 6 + [-2])
    assert h(CHAIN5, [-1, 1, 0, 0, -2]) != h(CHAIN5, [-1, 0, 0, 1, -2])  # needs each vertex's own hash
    assert h(SHORTCUT, [-1, 1, 0, -2]) != h(SHORTCUT, [-1, 0, 1, -2])  # needs edge directions
    assert h(FAN, [-1, 1, 0, 0, 0, 0, -2]) != h(FAN, [-1, 0, 0, 0, 1, 0, -2])  # needs in-neighbours
    # the reference's known collision: two non-isomorphic bipartite graphs hash alike
    b1 = np.zeros((10, 10), dtype=int)
    b2 = np.zeros((10, 10), dtype=int)
    for m, edges in ((b1, [(1, 5), (1, 6), (2, 5), (2, 6), (3, 7), (3, 8), (4, 7), (4, 8)]),
                     (b2, [(1, 5), (1, 6), (2, 6), (2, 7), (3, 7), (3, 8), (4, 5), (4, 8)])):
        for s, t in edges + [(0, 1), (0, 2), (0, 3), (0, 4), (5, 9), (6, 9), (7, 9), (8, 9)]:
            m[s, t] = 1
    labels = [-1, 1, 1, 1, 1, 2, 2, 2, 2, -2]
    assert hash_module(b1, labels) == hash_module(b2, labels)
