"""IF-NAS, table4: see experiments.table4. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import table4

if __name__ == "__main__":
    table4(parser(table4.__doc__.splitlines()[0], "if_nas", has_benchmark=False).parse_args())
