"""The NAS-Bench-101 space (Ying et al., ICML 2019, Sec. 2.1), as its reference code defines it.

A cell is a DAG of at most 7 vertices and at most 9 edges, given by an upper-triangular adjacency
matrix and one op per vertex: ``input`` first, ``output`` last, and between them
``conv3x3-bn-relu``, ``conv1x1-bn-relu`` or ``maxpool3x3``. Before it is checked or hashed, a
spec is *pruned* as the reference ``ModelSpec._prune`` does: vertices not on a path from input to
output are removed (a spec whose output is unreachable is invalid). The key of a cell in the
benchmark is the reference's isomorphism-invariant ``hash_module`` of the pruned matrix and its
labels (input -1, output -2, the ops 0, 1, 2 in the order above): every vertex starts from the MD5
of ``(out-degree, in-degree, label)``, and for as many rounds as there are vertices each vertex
takes the MD5 of its sorted in-neighbours' hashes, its sorted out-neighbours' hashes and its own;
the cell's hash is the MD5 of the sorted final hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench_toolkit.errors import BenchToolkitError

INPUT, OUTPUT = "input", "output"
OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
MAX_VERTICES = 7
MAX_EDGES = 9
SIZE = 423_624  # unique cells up to isomorphism (Ying et al., Sec. 2.2)


@dataclass(frozen=True)
class Spec:
    """A pruned, checked cell: ``matrix[i][j] == 1`` for an edge i -> j (i < j); ``ops[v]`` per vertex."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    @property
    def vertices(self) -> int:
        return len(self.ops)

    @property
    def edges(self) -> int:
        return int(np.sum(self.matrix))

    def hash(self) -> str:
        """The reference's module hash: the cell's key in the benchmark files."""
        labels = [-1] + [OPS.index(op) for op in self.ops[1:-1]] + [-2]
        return hash_module(np.array(self.matrix), labels)


def hash_module(matrix: np.ndarray, labels: Sequence[int]) -> str:
    """The isomorphism-invariant MD5 hash of a labelled DAG (module docstring)."""
    n = matrix.shape[0]
    out_degree, in_degree = matrix.sum(axis=1).tolist(), matrix.sum(axis=0).tolist()
    hashes = [_md5(str((out_degree[v], in_degree[v], labels[v]))) for v in range(n)]
    for _ in range(n):
        hashes = [_md5("".join(sorted(hashes[u] for u in range(n) if matrix[u, v])) + "|" +
                       "".join(sorted(hashes[w] for w in range(n) if matrix[v, w])) + "|" + hashes[v])
                  for v in range(n)]
    return _md5(str(sorted(hashes)))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def pruned(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> Spec:
    """Check a spec's form and prune it (module docstring); one clear line for each way it can be
    wrong: not square, ops of another length, not upper triangular, first/last op not input/output,
    an unknown op, more than 7 vertices or 9 edges after pruning, output unreachable."""
    m = np.array(matrix)
    ops = list(ops)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise BenchToolkitError(f"an NB101 adjacency matrix is square, got shape {m.shape}")
    if len(ops) != m.shape[0]:
        raise BenchToolkitError(f"an NB101 spec has one op per vertex: {m.shape[0]} vertices, {len(ops)} ops")
    if not np.isin(m, (0, 1)).all():
        raise BenchToolkitError("an NB101 adjacency matrix holds only 0 and 1")
    if np.tril(m).any():
        raise BenchToolkitError("an NB101 adjacency matrix is upper triangular (edges go from lower to higher vertices)")
    if len(ops) < 2 or ops[0] != INPUT or ops[-1] != OUTPUT:
        raise BenchToolkitError(f"an NB101 spec's first op is '{INPUT}' and its last '{OUTPUT}', got {ops[:1]} ... {ops[-1:]}")
    unknown = [op for op in ops[1:-1] if op not in OPS]
    if unknown:
        raise BenchToolkitError(f"unknown NB101 op(s) {unknown}; the ops are {', '.join(OPS)}")
    n = len(ops)
    forward, backward = _reachable(m, 0, forward=True), _reachable(m, n - 1, forward=False)
    keep = sorted(forward & backward)
    if n - 1 not in keep or 0 not in keep:
        raise BenchToolkitError("this NB101 spec's output is not reachable from its input")
    m = m[np.ix_(keep, keep)]
    ops = [ops[v] for v in keep]
    if len(ops) > MAX_VERTICES or m.sum() > MAX_EDGES:
        raise BenchToolkitError(f"NB101 cells have at most {MAX_VERTICES} vertices and {MAX_EDGES} edges; this one has "
                                f"{len(ops)} and {int(m.sum())} (after pruning)")
    return Spec(tuple(tuple(int(x) for x in row) for row in m), tuple(ops))


def _reachable(m: np.ndarray, start: int, forward: bool) -> set[int]:
    seen, frontier = {start}, [start]
    while frontier:
        v = frontier.pop()
        for w in range(m.shape[0]):
            if (m[v, w] if forward else m[w, v]) and w not in seen:
                seen.add(w)
                frontier.append(w)
    return seen
