"""bench_toolkit: tabular NAS benchmarks, search algorithms and the diagnostics of differentiable NAS.

Layers (see ARCHITECTURE.md): :mod:`~bench_toolkit.spaces` (architectures),
:mod:`~bench_toolkit.benchmarks` (ground truth), :mod:`~bench_toolkit.search` (algorithms and
run directories), :mod:`~bench_toolkit.analysis` (DataFrames and plots), :mod:`~bench_toolkit.cli`.
"""

__version__ = "0.1.0"
