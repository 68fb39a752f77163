"""IF-NAS's L-chain macro space (Wang et al., "IF-NAS", Sec. 3.2-3.4, Fig. 2-3): the counts, the
connections of a stage, interleaved connections and the interleaving-free groups.

A stage has ``N`` nodes: node 0 is the stage's input, nodes ``1 .. N-1`` are searched; node ``k``
may read each of nodes ``max(0, k-L) .. k-1`` (its pre-1 ... pre-L connections) through either or
both of two ops (sep_conv_3x3, skip_connect), and keeps at least one input. The paper's stages
have 18, 20 and 18 nodes (ImageNet).

Interleaved connections (Sec. 3.3): connections ``(a, b)`` and ``(a', b')`` (``a < b``)
interleave iff some integer ``d`` has ``a < d + 1/2 < b`` and ``a' < d + 1/2 < b'`` -- their spans
overlap. Pre-1 connections (``b - a = 1``) are excluded, and so are two connections into the same
node (the paper "overlooks the candidate connections of the activated nodes").

Interleaving-free sampling (Sec. 3.4): nodes are grouped by index modulo L; sub-supernet
``lambda`` keeps every pre-1 connection and every connection ending at a node of group ``lambda``.
No sub-supernet holds an interleaved pair, and together they hold every connection.

An architecture (:class:`LChainArch`) lists, per stage and per searched node, its ``(op, source)``
pairs; its text form, read by :func:`parse_arch` without ``eval``, is::

    LChain(L=4, stages=[[[('sep_conv_3x3', 0)], [('sep_conv_3x3', 1), ('skip_connect', 0)], ...], [...], [...]])

Each stage's output is its last node; nodes that feed nothing towards it are dropped
(:meth:`LChainArch.used`), so the depth -- the longest input-to-output path, counted in
connections and summed over the stages (IF-NAS Table 4) -- varies.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from bench_toolkit.errors import BenchToolkitError

IMAGENET_STAGES: tuple[int, ...] = (18, 20, 18)
OPS: tuple[str, ...] = ("sep_conv_3x3", "skip_connect")
STEMS: tuple[str, ...] = ("cifar", "imagenet")  # the networks' stems (nn/lchain_network.py)

Connection = tuple[int, int]  # (source node, target node), source < target


def count_architectures(L: int, stages: Sequence[int] = IMAGENET_STAGES) -> int:
    """The number of architectures as the paper counts them (Sec. 3.2, Table 1): per stage of N
    nodes ``(2^2 - 1)(2^4 - 1) ... (2^(2(L-1)) - 1) (2^(2L) - 1)^(N-L)`` -- every on/off pattern of
    each searched node's 2 x (number of inputs) op-connections with at least one on, multiplied
    over the stages. Counted before nodes that feed nothing are removed and before isomorphic
    architectures are merged, as the paper does."""
    if L < 1 or any(n <= L for n in stages):
        raise ValueError(f"L must be at least 1 and below every stage's node count {tuple(stages)}, got {L}")
    total = 1
    for n in stages:
        for node in range(1, n):
            inputs = min(node, L)
            total *= 2 ** (len(OPS) * inputs) - 1
    return total


def connections(n: int, L: int) -> list[Connection]:
    """Every candidate connection of a stage of ``n`` nodes, by target then source."""
    return [(source, target) for target in range(1, n) for source in range(max(0, target - L), target)]


def interleaved(first: Connection, second: Connection) -> bool:
    """Whether two connections interleave (see the module docstring)."""
    (a, b), (c, d) = first, second
    if b - a < 2 or d - c < 2 or b == d:
        return False
    return max(a, c) < min(b, d)  # the open spans share an interval, hence a point d + 1/2


def count_interleaved(links: Iterable[Connection]) -> int:
    """The number of interleaved pairs among ``links``."""
    return sum(interleaved(x, y) for x, y in combinations(list(links), 2))


def group_of(node: int, L: int) -> int:
    """The interleaving-free group of a node: its index modulo L."""
    return node % L


def sub_supernet(n: int, L: int, group: int) -> list[Connection]:
    """Sub-supernet ``group`` (0 .. L-1) of a stage: every pre-1 connection and every connection
    that ends at a node of that group."""
    if not 0 <= group < L:
        raise ValueError(f"group must be in 0..{L - 1}, got {group}")
    return [(a, b) for a, b in connections(n, L) if b - a == 1 or group_of(b, L) == group]


def interleaving_additions(n: int, L: int, group: int, count: int) -> list[Connection]:
    """``count`` connections outside sub-supernet ``group`` that each interleave with one of its
    connections -- the shortest first, then by target -- for IF-NAS Table 5 (sub-supernets with 1-3
    interleaved connections allowed)."""
    inside = sub_supernet(n, L, group)
    outside = sorted((c for c in connections(n, L) if c not in inside), key=lambda c: (c[1] - c[0], c[1], c[0]))
    return [c for c in outside if any(interleaved(c, d) for d in inside)][:count]


def stage_connections(stages: Sequence[int], L: int) -> list[list[Connection]]:
    """The candidate connections of every stage (:func:`connections`), in the order of the search
    supernet's alpha rows: stage by stage, then by target, then by source."""
    if L < 1 or any(n < 2 for n in stages):
        raise ValueError(f"L must be at least 1 and every stage needs 2 or more nodes, got L={L}, stages={tuple(stages)}")
    return [connections(n, L) for n in stages]


def check_connections(stages: Sequence[int], L: int, links: Iterable[tuple[int, int, int]]) -> None:
    """Refuse, in one line, any ``(stage, source, target)`` (stages counted from 1) that is not a
    connection of the space."""
    for stage, source, target in links:
        if not 1 <= stage <= len(stages) or (source, target) not in connections(stages[stage - 1], L):
            raise BenchToolkitError(f"({source}, {target}) in stage {stage} is not a connection of the L-chain space "
                                    f"with L={L} and stages {tuple(stages)}: a node n reads nodes n-L..n-1 of its stage")


def row_names(stages: Sequence[int], L: int) -> tuple[str, ...]:
    """One name per alpha row: ``s<stage>.<source>-><target>``."""
    return tuple(f"s{k + 1}.{a}->{b}" for k, links in enumerate(stage_connections(stages, L)) for a, b in links)


Node = tuple[tuple[str, int], ...]  # a node's (op, source) pairs


@dataclass(frozen=True)
class LChainArch:
    """An architecture of the L-chain space: ``stages[k][n - 1]`` holds node ``n``'s ``(op, source)``
    pairs in stage ``k`` (sources ``n - L .. n - 1``, ops from :data:`OPS`, at most one pair per op
    and source). A node without pairs is absent."""

    L: int
    stages: tuple[tuple[Node, ...], ...]

    def __post_init__(self) -> None:
        if self.L < 1:
            raise BenchToolkitError(f"an L-chain architecture needs L >= 1, got {self.L}")
        if not self.stages:
            raise BenchToolkitError("an L-chain architecture needs at least one stage")
        for k, stage in enumerate(self.stages):
            if not stage or not stage[-1]:
                raise BenchToolkitError(f"stage {k + 1}: its last node is the stage's output and needs an input")
            for node, pairs in enumerate(stage, start=1):
                for op, source in pairs:
                    if op not in OPS:
                        raise BenchToolkitError(f"stage {k + 1} node {node}: unknown op '{op}'; the ops are {', '.join(OPS)}")
                    if not max(0, node - self.L) <= source < node:
                        raise BenchToolkitError(f"stage {k + 1} node {node}: source {source} is not one of its "
                                                f"{min(node, self.L)} predecessors {max(0, node - self.L)}..{node - 1} (L={self.L})")
                    if source > 0 and not stage[source - 1]:
                        raise BenchToolkitError(f"stage {k + 1} node {node} reads node {source}, which has no input")
                if len(set(pairs)) != len(pairs):
                    raise BenchToolkitError(f"stage {k + 1} node {node}: a pair appears twice")

    def used(self) -> "LChainArch":
        """The same network without nodes that feed nothing towards their stage's output."""
        stages = []
        for stage in self.stages:
            needed = {len(stage)}
            for node in range(len(stage), 0, -1):
                if node in needed:
                    needed.update(source for _, source in stage[node - 1])
            stages.append(tuple(pairs if node in needed else () for node, pairs in enumerate(stage, start=1)))
        return LChainArch(self.L, tuple(stages))

    def depth(self) -> int:
        """The longest input-to-output path, in connections, summed over the stages (IF-NAS Table 4)."""
        total = 0
        for stage in self.used().stages:
            longest = [0] + [-1] * len(stage)
            for node, pairs in enumerate(stage, start=1):
                reachable = [longest[source] for _, source in pairs if longest[source] >= 0]
                longest[node] = 1 + max(reachable) if reachable else -1
            total += longest[-1]
        return total

    def links(self) -> list[list[Connection]]:
        """Per stage the connections (source, target) in use, each once whatever its ops."""
        return [sorted({(source, node) for node, pairs in enumerate(stage, start=1) for _, source in pairs})
                for stage in self.used().stages]

    def interleaved_pairs(self) -> int:
        """Interleaved pairs among the connections in use (Sec. 3.3), summed over the stages."""
        return sum(count_interleaved(links) for links in self.links())

    def __str__(self) -> str:
        def node(pairs: Node) -> str:
            return "[" + ", ".join(f"('{op}', {source})" for op, source in pairs) + "]"

        return f"LChain(L={self.L}, stages=[" + ", ".join(
            "[" + ", ".join(node(pairs) for pairs in stage) + "]" for stage in self.stages) + "])"


def parse_arch(text: str) -> LChainArch:
    """Read an architecture from its text form (module docstring) with Python's parser, never
    ``eval``; a malformed one names what is wrong."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        tree = None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "LChain"
            and not tree.args and {k.arg for k in tree.keywords} == {"L", "stages"}):
        raise BenchToolkitError("an L-chain architecture is written LChain(L=4, stages=[[[('sep_conv_3x3', 0)], ...], "
                                f"...]); got {text.strip()[:60]!r}")
    values = {k.arg: k.value for k in tree.keywords}
    try:
        L, stages = ast.literal_eval(values["L"]), ast.literal_eval(values["stages"])
    except ValueError:
        raise BenchToolkitError("LChain(...): L must be a number and stages nested lists of ('op', source) pairs") from None
    if type(L) is not int or not isinstance(stages, (list, tuple)) or not all(
            isinstance(stage, (list, tuple)) and all(
                isinstance(node, (list, tuple)) and all(
                    isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) and type(pair[1]) is int
                    for pair in node) for node in stage) for stage in stages):
        raise BenchToolkitError("LChain(...): L must be a whole number and stages a list (per stage) of lists "
                                "(per node) of ('op', source) pairs")
    return LChainArch(L, tuple(tuple(tuple(node) for node in stage) for stage in stages))


def arch_from_rows(stages: Sequence[int], L: int, alive: Sequence[Sequence[bool]], ops: Sequence[str] = OPS) -> LChainArch:
    """The architecture of the ops still alive, one alpha row per connection (:func:`stage_connections`
    order); reads of nodes left without input and nodes that feed nothing dropped."""
    rows = iter(alive)
    arch_stages = []
    for n, links in zip(stages, stage_connections(stages, L)):
        nodes: list[list[tuple[str, int]]] = [[] for _ in range(n - 1)]
        for source, target in links:  # by target: a source's own inputs are known before it is read
            if source == 0 or nodes[source - 1]:
                nodes[target - 1] += [(op, source) for op, keep in zip(ops, next(rows)) if keep]
            else:
                next(rows)
        arch_stages.append(tuple(tuple(pairs) for pairs in nodes))
    return LChainArch(L, tuple(arch_stages)).used()


def one_input_per_node(stages: Sequence[int], L: int, alive: np.ndarray, connection_weights: np.ndarray,
                       op_weights: np.ndarray) -> LChainArch:
    """Each node keeps one input: its live connection of largest weight, through its live op of
    largest weight (IF-NAS Table 3: architectures derived without a multiply-add bound). Nodes
    without a live connection (pruned away) stay absent."""
    return _one_per_node(stages, L, lambda rows: max((r for r in rows if alive[r].any()), default=None,
                                                     key=lambda r: connection_weights[r]),
                         lambda r: max((o for o in range(len(OPS)) if alive[r, o]), key=lambda o: op_weights[r, o]))


def random_one_input(stages: Sequence[int], L: int, rng: np.random.Generator) -> LChainArch:
    """Each node keeps one input drawn uniformly from its predecessors, with an op drawn uniformly
    (IF-NAS Table 3's random baseline)."""
    return _one_per_node(stages, L, lambda rows: rows[int(rng.integers(len(rows)))], lambda r: int(rng.integers(len(OPS))))


def _one_per_node(stages: Sequence[int], L: int, pick_row, pick_op) -> LChainArch:
    rows = [(k, a, b) for k, links in enumerate(stage_connections(stages, L)) for a, b in links]
    arch_stages = []
    for k, n in enumerate(stages):
        nodes = []
        for node in range(1, n):
            r = pick_row([i for i, (s, _, b) in enumerate(rows) if (s, b) == (k, node)])
            nodes.append(() if r is None else ((OPS[pick_op(r)], rows[r][1]),))
        arch_stages.append(tuple(nodes))
    return LChainArch(L, tuple(arch_stages)).used()
