"""Search algorithms. Black-box: :func:`run_blackbox` with ``random``, ``rea`` or ``reinforce``."""

from bench_toolkit.search.blackbox import ALGORITHMS, BlackBoxRun, run_blackbox, summarise
from bench_toolkit.search.evaluator import HISTORY_COLUMNS, Budget, Evaluator, Protocol

__all__ = ["ALGORITHMS", "HISTORY_COLUMNS", "BlackBoxRun", "Budget", "Evaluator", "Protocol", "run_blackbox", "summarise"]
