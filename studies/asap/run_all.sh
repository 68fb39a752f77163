#!/usr/bin/env bash
# Every figure and table of the ASAP study at one scale, sharing and reusing runs.
#   bash studies/asap/run_all.sh mini [extra study arguments...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
scale="${1:-mini}"; shift || true
for script in table_final_cells fig3_duration_sparsity fig6_accuracy fig7_entropy; do
  echo "== $script"
  python "$here/$script.py" --scale "$scale" "$@"
done
