"""IF-NAS, table5: see experiments.table5. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import table5

if __name__ == "__main__":
    table5(parser(table5.__doc__.splitlines()[0], "if_nas", has_benchmark=False).parse_args())
