"""ASAP study, table: see experiments.table. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import table

if __name__ == "__main__":
    table(parser(table.__doc__.splitlines()[0], "asap").parse_args())
