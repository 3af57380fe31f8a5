"""ms per face of each stage of the pipeline, and network views per face, one face a call, one thread.

Usage:
    python benchmarks/stage_costs.py --list $DATA/testImageList.txt --limit 300 [--rounds 3]

``predict()`` on each listed face's box and ``detect()`` on each photo, through
:func:`isnet.benchmark.stage_costs` (the function ``isnet benchmark --stages`` runs), for the
shipped pipeline and the variants named in :data:`SETTINGS`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from isnet.api import LandmarkDetector
from isnet.benchmark import format_stages, load_average, stage_costs
from isnet.data import read_list
from isnet.provenance import write_result

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {"shipped": {}, "mirror_False": {"mirror": False}, "upright_None": {"upright": None}}


def main(args: argparse.Namespace) -> dict:
    samples = read_list(args.list, args.format)[: args.limit]
    result: dict = {"list": args.list, "load_average_before": load_average(), "settings": {}}
    for name, kwargs in SETTINGS.items():
        costs = stage_costs(LandmarkDetector(threads=1, **kwargs), samples, args.rounds)
        result["settings"][name] = {"kwargs": {k: str(v) for k, v in kwargs.items()}, **costs}
        print(name, format_stages(costs), sep="\n", file=sys.stderr)
    result["load_average_after"] = load_average()
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--list", required=True)
    p.add_argument("--format", default="sun")
    p.add_argument("--limit", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "speed" / "stages_cuhk_val_stages.json"))
    main(p.parse_args())
