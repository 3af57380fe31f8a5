#!/bin/bash
# IS-Net against the plain CNN of the same blocks and against the plain CNN widened to the same
# time per face (benchmarks/width_match.py: channels x1.5, hidden x1.5), seeds 0, 1, 2, identical
# recipe otherwise; the report is benchmarks/compare_report.py.
# Usage: [NETS="isnet cnn cnn_wide"] benchmarks/compare_nets.sh ibug68 TRAIN_LIST VAL_LIST RUNS CACHE [ITERATIONS]
#        benchmarks/compare_nets.sh cuhk5  TRAIN_LIST VAL_LIST RUNS CACHE [ITERATIONS]
# (ibug68 lists: scripts/ibug68_split.py; cuhk5: $DATA/trainImageList.txt, $DATA/testImageList.txt.)
set -euo pipefail
SCHEME=$1; TRAIN=$2; VAL=$3; RUNS=$4; CACHE=$5; ITERATIONS=${6:-5000}
if [ "$SCHEME" = ibug68 ]; then DATA_ARGS=(--scheme ibug68 --format pts --skip-bad); else DATA_ARGS=(); fi
# The widened plain CNN's blocks, from the one place its widening is written down.
WIDE=$(python -c "import sys; sys.path.insert(0, '$(dirname "$0")'); from compare_report import architecture
c = architecture('cnn_wide', '$SCHEME'); print('--channels', *c.channels, '--hidden', c.hidden)")
for seed in 0 1 2; do
  for net in ${NETS:-isnet cnn cnn_wide}; do
    case $net in
      isnet) NET=(--arch isnet) ;;
      cnn) NET=(--arch cnn) ;;
      cnn_wide) read -ra NET <<< "--arch cnn $WIDE" ;;
    esac
    # --continue: skip a finished run, resume a started one, else start.
    isnet train "${DATA_ARGS[@]}" --train-list "$TRAIN" --val-list "$VAL" --cache-dir "$CACHE" "${NET[@]}" \
      --iterations "$ITERATIONS" --val-every 1000 --ckpt-every 500 --threads 1 --quiet --seed $seed \
      --out "$RUNS/${net}_s$seed" --continue
  done
done
