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

For black-box search a cell is encoded as the NB101 paper's 26 decisions (its REINFORCE
encoding): the 21 possible edges of a 7-vertex DAG, each "0" or "1", in the reference's bit order
(by target, then source), and the 5 middle ops. :func:`sample` and :func:`mutate` return valid
encodings only, as the reference's examples do.
"""

from __future__ import annotations

import hashlib
import random
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


EDGE_SLOTS: tuple[tuple[int, int], ...] = tuple((i, j) for j in range(MAX_VERTICES) for i in range(j))
"""The 21 possible edges (source, target) of a 7-vertex cell, by target then source."""
DECISIONS: tuple[tuple[str, ...], ...] = (("0", "1"),) * len(EDGE_SLOTS) + (OPS,) * (MAX_VERTICES - 2)


def spec_of(encoding: Sequence[str]) -> Spec:
    """The pruned spec of a 26-decision encoding (raises for an invalid cell)."""
    encoding = tuple(encoding)
    if len(encoding) != len(DECISIONS) or any(c not in options for c, options in zip(encoding, DECISIONS)):
        raise BenchToolkitError(f"an NB101 encoding is {len(EDGE_SLOTS)} edge bits ('0'/'1') then "
                                f"{MAX_VERTICES - 2} ops from {', '.join(OPS)}")
    matrix = np.zeros((MAX_VERTICES, MAX_VERTICES), dtype=int)
    for (i, j), bit in zip(EDGE_SLOTS, encoding):
        matrix[i, j] = int(bit)
    return pruned(matrix, (INPUT, *encoding[len(EDGE_SLOTS):], OUTPUT))


def is_valid(encoding: Sequence[str]) -> bool:
    """Whether the encoding is a cell of the benchmark (connected, at most 9 edges after pruning)."""
    try:
        spec_of(encoding)
    except BenchToolkitError:
        return False
    return True


def canonical(arch: object) -> str:
    """The module hash of an encoding, a :class:`Spec`, or a hash itself."""
    if isinstance(arch, Spec):
        return arch.hash()
    if isinstance(arch, str) and len(arch) == 32:
        return arch
    return spec_of(arch).hash()  # type: ignore[arg-type]


def sample(rng: random.Random) -> tuple[str, ...]:
    """A random valid cell: every edge on with probability 1/2 and uniform ops, drawn again until
    valid (the reference examples' ``random_spec``)."""
    while True:
        encoding = tuple(rng.choice(options) for options in DECISIONS)
        if is_valid(encoding):
            return encoding


def mutate(arch: Sequence[str], rng: random.Random) -> tuple[str, ...]:
    """The reference examples' ``mutate_spec`` at mutation rate 1: each edge flips with probability
    1/21 and each op changes to another with probability 1/5, drawn again until the child is valid
    and differs from the parent."""
    parent = tuple(arch)
    n_edges, n_ops = len(EDGE_SLOTS), MAX_VERTICES - 2
    while True:
        child = [("1" if bit == "0" else "0") if rng.random() < 1 / n_edges else bit for bit in parent[:n_edges]]
        child += [rng.choice([o for o in OPS if o != op]) if rng.random() < 1 / n_ops else op for op in parent[n_edges:]]
        if tuple(child) != parent and is_valid(child):
            return tuple(child)
