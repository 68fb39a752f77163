"""Differentiable search on the NB201 supernet: DARTS-V1/V2 and GDAS, one loop, recorded diagnostics."""

from bench_toolkit.search.differentiable.config import SCALES, SearchConfig, config_for
from bench_toolkit.search.differentiable.engine import METHODS, Method, SupernetSearch, get_method
from bench_toolkit.search.differentiable.run import resume_supernet_search, run_supernet_search

__all__ = ["METHODS", "SCALES", "Method", "SearchConfig", "SupernetSearch", "config_for",
           "get_method", "resume_supernet_search", "run_supernet_search"]
