"""IF-NAS, table1: see experiments.table1. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import table1

if __name__ == "__main__":
    table1(parser(table1.__doc__.splitlines()[0], "if_nas", has_benchmark=False).parse_args())
