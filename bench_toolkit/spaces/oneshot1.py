"""NAS-Bench-1Shot1's search spaces 1, 2 and 3 (Zela et al., ICLR 2020; the reference code's
``search_space_{1,2,3}.py``): sub-spaces of NAS-Bench-101 whose cells a one-shot model can hold.

A cell has the input vertex, 4 (spaces 1 and 2) or 5 (space 3) choice blocks and the output
vertex. Each vertex v takes exactly ``PARENTS[space][v]`` inputs from the vertices before it
(vertex 1 always reads the input); each choice block applies one op of NB101's three. Spaces 1
and 2 fill NB101's fifth intermediate slot with an unused vertex, which NB101's pruning removes, so
their cells are NB101 cells of at most 6 vertices.

Counted three ways (:func:`count`):

- ``with_loose_ends``: every choice of parents and ops, ``prod_v C(v, k_v) * 3^blocks`` -- what the
  one-shot model's architecture weights can express, choice blocks that feed nothing included;
- ``without_loose_ends``: the connectivity patterns once vertices that do not lead to the output
  are dropped (each distinct adjacency matrix over the space's vertices), times the ops of the
  blocks kept -- what the reference's ``generate_search_space_without_loose_ends`` enumerates;
- ``unique``: distinct NB101 cells up to isomorphism (distinct module hashes) -- the cells NB101
  can answer for.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from math import comb, prod

import numpy as np

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import nb101

PARENTS: dict[int, tuple[int, ...]] = {
    1: (0, 1, 2, 2, 2, 2),
    2: (0, 1, 1, 2, 2, 3),
    3: (0, 1, 1, 1, 2, 2, 2),
}
"""Per space, the number of inputs of each vertex (input first, output last), as the reference's
``num_parents_per_node``."""


def checked_space(space: int) -> tuple[int, ...]:
    if space not in PARENTS:
        raise BenchToolkitError(f"NAS-Bench-1Shot1 has search spaces 1, 2 and 3, got {space!r}")
    return PARENTS[space]


def blocks(space: int) -> int:
    """The number of choice blocks."""
    return len(checked_space(space)) - 2


def parent_choices(space: int) -> list[list[tuple[int, ...]]]:
    """Per vertex 1 .. output, every set of parents it may take."""
    parents = checked_space(space)
    return [list(itertools.combinations(range(v), parents[v])) for v in range(1, len(parents))]


def spec(space: int, parents: Sequence[Sequence[int]], ops: Sequence[str]) -> nb101.Spec:
    """The NB101 cell of one choice: ``parents[v - 1]`` are vertex v's inputs (v = 1 .. output),
    ``ops`` one per choice block; checked against the space and pruned."""
    counts = checked_space(space)
    n = len(counts)
    if len(parents) != n - 1 or len(ops) != n - 2:
        raise BenchToolkitError(f"space {space} takes parents for {n - 1} vertices and {n - 2} ops, "
                                f"got {len(parents)} and {len(ops)}")
    matrix = np.zeros((n, n), dtype=int)
    for v, inputs in enumerate(parents, start=1):
        if len(set(inputs)) != counts[v] or any(not 0 <= p < v for p in inputs):
            raise BenchToolkitError(f"space {space}: vertex {v} takes {counts[v]} distinct inputs from vertices "
                                    f"0..{v - 1}, got {list(inputs)}")
        matrix[list(inputs), v] = 1
    return nb101.pruned(matrix, (nb101.INPUT, *ops, nb101.OUTPUT))


def architectures(space: int) -> Iterator[tuple[tuple[tuple[int, ...], ...], tuple[str, ...]]]:
    """Every (parents, ops) choice of the space, loose ends included."""
    for parents in itertools.product(*parent_choices(space)):
        for ops in itertools.product(nb101.OPS, repeat=blocks(space)):
            yield parents, ops


def graphs(space: int) -> dict[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
    """The space's connectivity patterns without loose ends: each distinct adjacency matrix over the
    space's own vertices, vertices that do not lead to the output (and their edges) removed but
    not renumbered (as the reference generates them), mapped to its pruned NB101 matrix (which
    vertices a cell keeps does not depend on its ops)."""
    counts = checked_space(space)
    n = len(counts)
    placeholder = (nb101.OPS[0],) * blocks(space)
    out = {}
    for parent_sets in itertools.product(*parent_choices(space)):
        matrix = np.zeros((n, n), dtype=int)
        for v, inputs in enumerate(parent_sets, start=1):
            matrix[list(inputs), v] = 1
        leads = {n - 1}
        for v in range(n - 2, -1, -1):
            if any(matrix[v, w] for w in leads):
                leads.add(v)
        dropped = [v for v in range(n) if v not in leads]
        matrix[dropped, :] = 0
        matrix[:, dropped] = 0
        out[tuple(map(tuple, matrix.tolist()))] = spec(space, parent_sets, placeholder).matrix
    return out


def count(space: int, unique: bool = True) -> dict[str, int]:
    """The space's size counted three ways (module docstring); ``unique=False`` skips the
    isomorphism count, which hashes every cell (about a minute for space 3)."""
    parents = checked_space(space)
    patterns = graphs(space)
    out = {"with_loose_ends": prod(comb(v, parents[v]) for v in range(1, len(parents))) * 3 ** blocks(space),
           "without_loose_ends": sum(3 ** (len(pruned) - 2) for pruned in patterns.values())}
    if unique:
        out["unique"] = len({nb101.Spec(graph, (nb101.INPUT, *ops, nb101.OUTPUT)).hash()
                             for graph in set(patterns.values()) for ops in itertools.product(nb101.OPS, repeat=len(graph) - 2)})
    return out
