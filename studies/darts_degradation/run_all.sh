#!/usr/bin/env bash
# Every experiment of the degradation study at one scale, reusing finished runs.
#   bash studies/darts_degradation/run_all.sh mini [extra study arguments...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
scale="${1:-mini}"; shift || true
for script in exp5_ex_darts exp1_warmup exp2_alpha_decay exp3_long_warmup exp4_alpha_lr exp6_no_skip exp7_long \
              table1_methods table2_stop_criteria table3_lr_resilience; do
  echo "== $script"
  python "$here/$script.py" --scale "$scale" "$@"
done
