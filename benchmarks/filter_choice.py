"""Choose the video filter on training clips: the whole tracker (framing by the filtered points
included) run once per setting, isnet tracking only.

Each setting is a list of ``KEY=VALUE`` knobs of :class:`~isnet.tracking.TrackerConfig` or
:class:`~isnet.smoothing.SmoothingConfig` over the defaults; ``plain`` is the plain One-Euro
filter (``predict=false``), the default before :class:`~isnet.smoothing.MovingOneEuro`.

Usage::

    python benchmarks/video_clips.py --ibug $IBUG --subset helen_trainset --seed 1 --out $RUNS/video_clips_train
    python benchmarks/filter_choice.py --clips $RUNS/video_clips_train \\
        --out benchmarks/results/video/filter_choice_train.json
"""

from __future__ import annotations

import argparse
import sys

from video_benchmark import get_args_parser as benchmark_parser
from video_benchmark import main as run_benchmark

from isnet.provenance import write_result

SETTINGS = {
    "default": [],
    "plain": ["predict=false"],
    "plain, beta 10": ["predict=false", "beta=10"],
    "beta 10": ["beta=10"],
    "beta 40": ["beta=40"],
    "min_cutoff 0.15": ["min_cutoff=0.15"],
    "moving 0.1": ["moving=0.1"],
    "speed_cutoff 2": ["speed_cutoff=2"],
    "no jump rule": ["jump=1e9"],
    "no speed-change rule": ["speed_change=1e9"],
    "surprise released as it rises (1 Hz)": ["release_cutoff=1"],
    "release 4 Hz": ["release_cutoff=4"],
}


def main(args: argparse.Namespace) -> dict:
    rows = {}
    for name, knobs in SETTINGS.items():
        sets = [a for k in knobs for a in ("--set", k)]
        bench = benchmark_parser().parse_args(["--clips", args.clips, "--systems", "isnet tracking", *sets])
        result = run_benchmark(bench)["results"]["isnet tracking"]
        rows[name] = {"knobs": knobs, "all": result["all"], "by_kind": result["by_kind"]}
        print(name, rows[name]["all"], file=sys.stderr)
    out = {"clips": args.clips.rsplit("/", 1)[-1], "settings": rows}
    if args.out:
        write_result(args.out, out)
    return out


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", required=True, help="training clips made by benchmarks/video_clips.py")
    p.add_argument("--out", default=None)
    return p


if __name__ == "__main__":
    main(get_args_parser().parse_args())
