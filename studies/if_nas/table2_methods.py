"""IF-NAS, table2: see experiments.table2. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import table2

if __name__ == "__main__":
    table2(parser(table2.__doc__.splitlines()[0], "if_nas", has_benchmark=False).parse_args())
