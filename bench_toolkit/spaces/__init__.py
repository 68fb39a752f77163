"""Discrete search spaces: encode/decode, enumerate, sample, mutate. A registry by name."""

from __future__ import annotations

from bench_toolkit.errors import BenchToolkitError
from bench_toolkit.spaces import darts, nb101, nb201
from bench_toolkit.spaces.base import SearchSpace

NB201 = SearchSpace(
    name="nb201",
    decisions=tuple(nb201.OPS for _ in nb201.EDGES),
    canonical=nb201.canonical,
    sample=nb201.sample,
    mutate=nb201.mutate,
)

NB101 = SearchSpace(
    name="nb101",
    decisions=nb101.DECISIONS,
    canonical=nb101.canonical,
    sample=nb101.sample,
    mutate=nb101.mutate,
    is_valid=nb101.is_valid,
)

SPACES: dict[str, SearchSpace] = {NB201.name: NB201, NB101.name: NB101}


def count_op(space: str, arch: str, op: str) -> int:
    """How many edges of a derived architecture (its text form) carry ``op``: NB201's cell, or
    the DARTS genotype's normal cell (where DARTS+ counts skip connections)."""
    if space == "darts":
        return sum(name == op for name, _ in darts.parse_genotype(arch).normal)
    return nb201.parse(arch).count(op)


def get_space(name: str) -> SearchSpace:
    """Look up a space by name; an unknown name lists the known ones."""
    try:
        return SPACES[name]
    except KeyError:
        raise BenchToolkitError(f"unknown search space '{name}'; available: {', '.join(SPACES)}") from None


__all__ = ["NB101", "NB201", "SPACES", "SearchSpace", "count_op", "darts", "get_space", "nb101", "nb201"]
