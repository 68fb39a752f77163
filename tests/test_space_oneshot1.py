"""NAS-Bench-1Shot1's spaces 1-3: the reference's parents per vertex, cells as NB101 specs, and
the three counts cross-checked by brute force."""

from __future__ import annotations

import pytest

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import nb101, oneshot1


def test_parents_are_the_references_and_fit_nb101():
    assert oneshot1.PARENTS[1] == (0, 1, 2, 2, 2, 2) and oneshot1.PARENTS[3] == (0, 1, 1, 1, 2, 2, 2)
    for parents in oneshot1.PARENTS.values():
        assert sum(parents) <= nb101.MAX_EDGES and len(parents) <= nb101.MAX_VERTICES


@pytest.mark.parametrize("space, expected", [(1, (14580, 3702, 2685)), (2, (29160, 12474, 7773))])
def test_counts_with_and_without_loose_ends_and_up_to_isomorphism(space, expected):
    counts = oneshot1.count(space)
    assert (counts["with_loose_ends"], counts["without_loose_ends"], counts["unique"]) == expected
    # brute force over every choice: the with-loose-ends count is their number; without loose ends,
    # each choice reduces to its connectivity pattern and the ops of the blocks it keeps
    choices = list(oneshot1.architectures(space))
    assert len(choices) == counts["with_loose_ends"]
    reduced = set()
    for parents, ops in choices:
        edges = {(p, v) for v, inputs in enumerate(parents, start=1) for p in inputs}
        output = len(parents)
        leads = {output}
        for v in range(output - 1, -1, -1):  # vertices with an edge into one that leads to the output
            if any((v, w) in edges for w in leads):
                leads.add(v)
        kept_edges = frozenset((p, v) for p, v in edges if p in leads and v in leads)
        reduced.add((kept_edges, tuple(op for v, op in enumerate(ops, start=1) if v in leads)))
    assert len(reduced) == counts["without_loose_ends"]


def test_a_cell_is_an_nb101_spec_and_bad_choices_are_one_line():
    # space 1: 1 <- 0, 2 <- 0,1, 3 <- 1,2, 4 <- 0,3, out <- 2,4
    cell = oneshot1.spec(1, [(0,), (0, 1), (1, 2), (0, 3), (2, 4)], ["conv3x3-bn-relu"] * 4)
    assert cell.vertices == 6 and cell.edges == 9
    # block 3 feeds nothing when the output reads 1 and 2 only: pruned away
    assert oneshot1.spec(1, [(0,), (0, 1), (1, 2), (0, 1), (1, 2)], ["maxpool3x3"] * 4).vertices == 4
    with pytest.raises(BenchToolkitError, match="vertex 3 takes 2 distinct inputs"):
        oneshot1.spec(1, [(0,), (0, 1), (1,), (0, 3), (2, 4)], ["conv3x3-bn-relu"] * 4)
    with pytest.raises(BenchToolkitError, match="search spaces 1, 2 and 3"):
        oneshot1.blocks(4)


def test_cli_prints_the_three_counts(capsys):
    from bench_toolkit.cli import main

    assert main(["space", "nb101-1shot1", "--oneshot-space", "2"]) == 0
    assert capsys.readouterr().out.strip() == ("NAS-Bench-1Shot1 search space 2: 29160 architectures with loose ends, "
                                               "12474 without, 7773 NB101 cells up to isomorphism")
