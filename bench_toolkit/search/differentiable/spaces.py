"""The differentiable-space seam: what the one search loop needs from a search space, and nothing
the methods, recorders or stop criteria need to know about it.

A :class:`SupernetSpace` gives its supernet (any module with ``alpha``, ``arch_parameters()``,
``weights()``, ``edge_weights()`` and ``forward(x, Mixing)``; alpha is one ``(edges, ops)``
tensor, so every mixing policy applies unchanged), the names of its alpha rows (the history's
``entropy.*``, ``live.*`` and ``edge_weight.*`` columns), how the discrete architecture is
derived and written (its text form is the key the history, the stop criteria and a benchmark
use), the settings in which its reference search differs from NB201's, whether a benchmark
answers for it, and how the single-path methods (RSPS, SETN, ENAS) draw its architectures. NB201,
the DARTS CNN space and IF-NAS's L-chain space are the implementations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from bench_toolkit.diagnostics.recorder import derive
from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.search.differentiable.selection import template_candidates, uniform_candidates
from bench_toolkit.spaces import darts, lchain, nb101, nb201, oneshot1

if TYPE_CHECKING:
    from bench_toolkit.search.differentiable.config import SearchConfig

Derive = Callable[[np.ndarray, np.ndarray, Sequence[str], bool, "np.ndarray | None", "np.ndarray | None"], str]


@dataclass(frozen=True)
class SupernetSpace:
    name: str
    ops: tuple[str, ...]
    """Every op of the space (``--set ops=...`` chooses a subset)."""
    edge_names: tuple[str, ...]
    """One name per row of alpha."""
    build: Callable[[int, SearchConfig], nn.Module]
    """``build(num_classes, config)``: the supernet."""
    derive: Derive
    """``derive(alpha, weights, ops, exclude_none, alive, edge_weights)``: the derived architecture's
    text form, from alpha and the method's op distribution ``weights`` (both ``(edges, ops)``) and,
    where the supernet has them, its edge weights (NAS-Bench-1Shot1: the blocks' input weights)."""
    defaults: dict[str, Any] = field(default_factory=dict)
    """Settings of its reference search that differ from :class:`SearchConfig`'s (NB201's)."""
    has_benchmark: bool = False
    """Whether a tabular benchmark answers for its architectures."""
    uniform_paths: Callable[[int, Sequence[str], torch.Generator], torch.Tensor] | None = None
    """``(count, ops, generator)``: architectures drawn uniformly, as single paths -- one op index
    per alpha row, ``none`` on the rows an architecture does not use (RSPS, SETN's weight step)."""
    template_paths: Callable[[torch.Tensor, int, Sequence[str], torch.Generator], torch.Tensor] | None = None
    """``(alpha, count, ops, generator)``: SETN's candidates from the template ``softmax(alpha)``."""
    path_arch: Callable[[torch.Tensor, Sequence[str]], str] | None = None
    """A single path's text form."""
    paths_use_none: bool = False
    """Whether a single path marks the unused rows with ``none`` (so ``none`` must be searched)."""
    controller: Callable[[tuple[str, ...]], nn.Module] | None = None
    """``controller(ops)``: ENAS's controller for the space's architectures (None: none built)."""
    scale_sizes: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per scale, the sizes of the space's own that the scale sets (L-chain: nodes per stage)."""
    methods: tuple[str, ...] | None = None
    """The methods that search it (None: every method)."""
    beta_names: tuple[str, ...] | None = None
    """Names of the supernet's edge weights where they are not one per alpha row (NAS-Bench-1Shot1);
    None: one per row, named as the rows."""
    benchmark_kind: str = "nb201"
    """Which benchmark answers for its architectures: ``nb201`` or ``nb101``."""
    specialise: Callable[[SearchConfig], SupernetSpace] | None = None
    """``specialise(config)``: the space for one configuration, where its rows depend on settings
    (L-chain: the stage sizes and L); None: the same for every configuration."""


def _build_nb201(num_classes: int, c: SearchConfig) -> nn.Module:
    from bench_toolkit.nn.supernet import NB201Supernet

    return NB201Supernet(num_classes, c.ops, c.channels, c.cells_per_stage, c.affine, c.track_running_stats, c.fast,
                         c.alpha_init_std, c.partial_channels, c.edge_normalisation)


def _derive_nb201(alpha: np.ndarray, weights: np.ndarray, ops: Sequence[str], exclude_none: bool,
                  alive: np.ndarray | None, edge_weights: np.ndarray | None = None) -> str:
    """Per edge the op of largest alpha (DARTS Sec. 2.4, as NB201's ``genotype()``)."""
    return nb201.format_arch(derive(alpha, ops, exclude_none, alive))


def _build_darts(num_classes: int, c: SearchConfig) -> nn.Module:
    from bench_toolkit.nn.darts_supernet import DartsSupernet

    # N cells per stage and a reduction cell between stages: 3N + 2 cells (the reference's 8 at N = 2)
    return DartsSupernet(num_classes, c.ops, c.channels, 3 * c.cells_per_stage + 2, c.alpha_init_std,
                         c.partial_channels, c.edge_normalisation)


def _derive_darts(alpha: np.ndarray, weights: np.ndarray, ops: Sequence[str], exclude_none: bool,
                  alive: np.ndarray | None, edge_weights: np.ndarray | None = None) -> str:
    """The DARTS genotype of the op distribution (``none`` never counts: DARTS Sec. 2.4)."""
    return str(darts.derive_genotype(weights, ops, alive))


def _real_ops(ops: Sequence[str]) -> list[int]:
    return [k for k, op in enumerate(ops) if op != "none"]


def _darts_uniform_paths(count: int, ops: Sequence[str], generator: torch.Generator) -> torch.Tensor:
    """Genotypes drawn uniformly, as RSPS samples the DARTS space (Li & Talwalkar, UAI 2019, Sec.
    4.2): per node two distinct inputs, each with an op other than ``none``; the other edges ``none``."""
    real = _real_ops(ops)
    paths = torch.full((count, len(darts.EDGE_NAMES)), ops.index("none"), dtype=torch.long)
    for c in range(count):
        for cell in range(2):
            for rows in darts.node_rows(cell):
                sources = torch.randperm(len(rows), generator=generator)[:2].tolist()
                picks = torch.randint(0, len(real), (2,), generator=generator).tolist()
                for source, pick in zip(sources, picks):
                    paths[c, rows[source]] = real[pick]
    return paths


def _darts_template_paths(alpha: torch.Tensor, count: int, ops: Sequence[str], generator: torch.Generator) -> torch.Tensor:
    """SETN's candidates in the DARTS space, drawn from the template: per node two distinct inputs
    with probability proportional to each edge's template mass on ops other than ``none``, each
    with an op drawn from the template over those ops. (SETN's own DARTS-space sampler is not
    public in this form; this is our reading of "sample from the template" for genotypes.)"""
    real = _real_ops(ops)
    probs = alpha.detach().double().softmax(dim=-1).cpu()[:, real]
    paths = torch.full((count, len(darts.EDGE_NAMES)), ops.index("none"), dtype=torch.long)
    for c in range(count):
        for cell in range(2):
            for rows in darts.node_rows(cell):
                mass = probs[rows].sum(dim=1)
                for source in torch.multinomial(mass, 2, replacement=False, generator=generator).tolist():
                    paths[c, rows[source]] = real[int(torch.multinomial(probs[rows[source]], 1, generator=generator))]
    return paths


def _darts_path_arch(path: torch.Tensor, ops: Sequence[str]) -> str:
    cells = []
    for cell in range(2):
        genes = []
        for rows in darts.node_rows(cell):
            genes += [(ops[int(path[row])], source) for source, row in enumerate(rows) if ops[int(path[row])] != "none"]
        cells.append(tuple(genes))
    return str(darts.Genotype(cells[0], darts.OUTPUT_NODES, cells[1], darts.OUTPUT_NODES))


def _build_lchain(num_classes: int, c: SearchConfig) -> nn.Module:
    from bench_toolkit.nn.lchain_network import LChainSupernet

    return LChainSupernet(num_classes, c.stage_nodes, c.L, c.channels, c.stem, c.ops, c.alpha_init_std, c.partial_channels,
                          channels_last=c.fast)


def _lchain(stages: Sequence[int], L: int) -> SupernetSpace:
    """The L-chain space of these stage sizes and L: one alpha row per connection; the derived
    architecture is what the method keeps alive (IF-NAS prunes; nothing is argmaxed)."""

    def derive(alpha: np.ndarray, weights: np.ndarray, ops: Sequence[str], exclude_none: bool,
               alive: np.ndarray | None, edge_weights: np.ndarray | None = None) -> str:
        return str(lchain.arch_from_rows(stages, L, np.ones(alpha.shape, dtype=bool) if alive is None else alive, ops))

    # alpha and beta start at 1e-5 N(0, 1), as the reference
    return SupernetSpace("lchain", lchain.OPS, lchain.row_names(stages, L), _build_lchain, derive,
                         {"ops": lchain.OPS, "alpha_init_std": 1e-5},
                         # smoke: stage 1 deep enough for the IF-NAS study's Fig. 1 probe (node 7 reading pre-6)
                         scale_sizes={"smoke": {"stage_nodes": (8, 4, 4)},
                                      # single level: 5,000 images on both sides, 78 iterations an epoch as the other mini searches
                                      "mini": {"stage_nodes": (10, 10, 10), "images_per_class": 500}},
                         methods=("if-nas",), specialise=lambda c: replace(_lchain(c.stage_nodes, c.L), specialise=None))


def _build_oneshot1(num_classes: int, c: SearchConfig) -> nn.Module:
    from bench_toolkit.nn.oneshot1_supernet import OneShot1Supernet

    # three stacks of N cells (the reference's 9 cells at N = 3)
    return OneShot1Supernet(num_classes, c.oneshot_space, c.channels, 3 * c.cells_per_stage, c.ops, c.alpha_init_std,
                            c.partial_channels)


def _oneshot1(space: int) -> SupernetSpace:
    """A NAS-Bench-1Shot1 space: alpha rows are its choice blocks; the derived cell is an NB101
    spec (JSON), each block's op by the largest alpha, its inputs and the output's by the largest
    input weights (as many as the space gives each vertex), as the reference evaluates DARTS."""
    from bench_toolkit.nn.oneshot1_supernet import beta_groups

    groups = beta_groups(space)
    counts = oneshot1.checked_space(space)

    def derive(alpha: np.ndarray, weights: np.ndarray, ops: Sequence[str], exclude_none: bool,
               alive: np.ndarray | None, edge_weights: np.ndarray | None = None) -> str:
        if edge_weights is None:
            raise ValueError("a NAS-Bench-1Shot1 cell is derived from its input weights too")
        parts = np.split(np.asarray(edge_weights), np.cumsum([size for _, size in groups])[:-1])
        chosen = {block: part for (block, _), part in zip(groups, parts)}
        parents = []
        for vertex in range(1, len(counts)):
            block = vertex - 1 if vertex < len(counts) - 1 else -1
            if block in chosen:
                parents.append(tuple(sorted(np.argsort(-chosen[block], kind="stable")[:counts[vertex]].tolist())))
            else:
                parents.append(tuple(range(vertex)))
        cell = oneshot1.spec(space, parents, [ops[k] for k in weights.argmax(axis=1)])
        return json.dumps({"matrix": [list(row) for row in cell.matrix], "ops": list(cell.ops)})

    names = tuple(f"block{b + 1}<-{source}" if b >= 0 else f"output<-{source}"
                  for b, size in groups for source in range(size))
    return SupernetSpace("nb101-1shot1", nb101.OPS, tuple(f"block{b + 1}" for b in range(oneshot1.blocks(space))),
                         _build_oneshot1, derive,
                         # DARTS's train_search.py settings, on which the NAS-Bench-1Shot1 code builds
                         {"ops": nb101.OPS, "oneshot_space": space, "cells_per_stage": 3, "w_weight_decay": 3e-4,
                          "w_nesterov": False},
                         has_benchmark=True, scale_sizes={"smoke": {}, "mini": {}}, beta_names=names,
                         benchmark_kind="nb101", methods=("darts-v1", "darts-v2", "gdas", "asap", "prune-magnitude",
                                                          "prune-accumgrad", "pc-darts"),
                         specialise=lambda c: replace(_oneshot1(c.oneshot_space), specialise=None))


def _controller(name: str) -> Any:
    """A controller class of :mod:`.controller`, imported when used: that module imports config,
    which imports this one, so a top-level import would be circular."""
    from bench_toolkit.search.differentiable import controller

    return getattr(controller, name)


SUPERNET_SPACES: dict[str, SupernetSpace] = {
    "nb201": SupernetSpace("nb201", nb201.OPS, nb201.EDGE_NAMES, _build_nb201, _derive_nb201, has_benchmark=True,
                           uniform_paths=lambda count, ops, g: uniform_candidates(len(ops), count, g),
                           template_paths=lambda alpha, count, ops, g: template_candidates(alpha, count),
                           path_arch=lambda path, ops: nb201.format_arch(tuple(ops[k] for k in path.tolist())),
                           controller=lambda ops: _controller("LSTMController")(len(ops))),
    # the DARTS reference search (train_search.py): 8 cells at C = 16, weight decay 3e-4, no Nesterov
    "darts": SupernetSpace("darts", darts.OPS, darts.EDGE_NAMES, _build_darts, _derive_darts,
                           {"ops": darts.OPS, "cells_per_stage": 2, "w_weight_decay": 3e-4, "w_nesterov": False},
                           uniform_paths=_darts_uniform_paths, template_paths=_darts_template_paths,
                           path_arch=_darts_path_arch, paths_use_none=True,
                           controller=lambda ops: _controller("GenotypeController")(ops)),
    # IF-NAS's macro space, registered at the paper's sizes; its rows follow the stage sizes and L
    "lchain": _lchain(lchain.IMAGENET_STAGES, 4),
    # NAS-Bench-1Shot1's spaces (oneshot_space 1, 2, 3), registered as space 1
    "nb101-1shot1": _oneshot1(1),
}


def space_of(config: SearchConfig) -> SupernetSpace:
    """The space of a configuration, specialised to its settings where its rows depend on them."""
    space = get_supernet_space(config.space)
    return space.specialise(config) if space.specialise is not None else space


def get_supernet_space(name: str) -> SupernetSpace:
    try:
        return SUPERNET_SPACES[name]
    except KeyError:
        raise BenchToolkitError(f"unknown differentiable search space '{name}'; choose one of: "
                                f"{', '.join(SUPERNET_SPACES)}") from None
