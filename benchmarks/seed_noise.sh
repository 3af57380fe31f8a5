#!/bin/bash
# Seed noise of the beta comparison (docs/beta_search.md): 1,000-iteration trainings at the
# surface's and TPE's best betas with seeds 1 and 2 (seed 0 is the search's own trial).
# Usage: [DATA=folder] benchmarks/seed_noise.sh [RUNS [CACHE]]
#   (defaults: DATA ../shared/data/cuhk_facepoint, RUNS runs/noise, CACHE cache)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-runs/noise}
CACHE=${2:-cache}
D=${DATA:-../shared/data/cuhk_facepoint}
for seed in 1 2; do
  for name in rs:0.40666293192087444,0.365385393026559,0.1668659045876018 tpe:0.3531,0.2296,0.3496; do
    tag=${name%%:*}; beta=$(echo "${name#*:}" | tr ',' ' ')
    # --continue: skip a finished run, resume a started one, else start.
    # shellcheck disable=SC2086
    isnet train --train-list $D/trainImageList.txt --val-list $D/testImageList.txt --cache-dir "$CACHE" \
      --iterations 1000 --val-every 1000 --ckpt-every 500 --threads 1 --quiet --seed $seed --beta $beta \
      --out "$RUNS/${tag}_s$seed" --continue
  done
done
