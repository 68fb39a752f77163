"""What a black-box search needs to know about a discrete space, and nothing about accuracy."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SearchSpace:
    """A discrete space as a sequence of categorical decisions.

    ``decisions[k]`` lists the options of decision ``k`` (for NB201: the five ops of edge ``k``).
    ``canonical`` turns any accepted form into the one text key the other layers use;
    ``from_choices`` builds an architecture from one option index per decision.
    """

    name: str
    decisions: tuple[tuple[str, ...], ...]
    canonical: Callable[[object], str]
    sample: Callable[[random.Random], tuple[str, ...]]
    mutate: Callable[[object, random.Random], tuple[str, ...]]
    is_valid: Callable[[Sequence[str]], bool] = lambda choices: True
    """Whether a choice of options is an architecture of the space (NB101: connected, at most 9 edges)."""

    def from_choices(self, choices: Sequence[int]) -> tuple[str, ...]:
        """The architecture picking option ``choices[k]`` at decision ``k``."""
        return tuple(options[c] for options, c in zip(self.decisions, choices, strict=True))
