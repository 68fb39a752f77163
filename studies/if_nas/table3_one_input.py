"""IF-NAS, table3: see experiments.table3. `--scale mini` (CPU, default) or `--scale paper` (GPU)."""

from bench_toolkit.study import parser
from experiments import table3

if __name__ == "__main__":
    table3(parser(table3.__doc__.splitlines()[0], "if_nas", has_benchmark=False).parse_args())
