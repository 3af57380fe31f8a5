#!/bin/bash
cd /work/main
D=../shared/data/cuhk_facepoint
for seed in 1 2; do
  for name in rs:0.40666293192087444,0.365385393026559,0.1668659045876018 tpe:0.3531,0.2296,0.3496; do
    tag=${name%%:*}; beta=$(echo ${name#*:} | tr ',' ' ')
    out=/work/runs/noise/${tag}_s$seed
    [ -f $out/metrics.json ] && continue
    r=""; [ -f $out/checkpoint.pt ] && r="--resume"
    /work/venv/bin/isnet train --train-list $D/trainImageList.txt --val-list $D/testImageList.txt --cache-dir /work/cache --iterations 1000 --val-every 1000 --ckpt-every 500 --threads 1 --quiet --seed $seed --beta $beta --out $out $r
  done
done
