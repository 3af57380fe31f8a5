"""isnet's cost against dlib's, one thread, measured interleaved in one run (issue 23's goals).

Per face: ``LandmarkDetector(detector=None, threads=1).predict(photo, [box])`` on the demo's
validation faces against dlib's 5-point and 68-point shape predictors on the same boxes
(:func:`isnet.peers.per_face`). Per photo: ``LandmarkDetector(threads=1).detect`` on a 640x480
photo against dlib's HOG detector and 68-point predictor (:func:`isnet.peers.per_photo`).

Usage:
    python benchmarks/dlib_ratios.py [--faces 100] [--rounds 7] [--photo-only] [--out ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from isnet import peers
from isnet.benchmark import demo_photo, load_average
from isnet.provenance import write_result

REPO = Path(__file__).resolve().parents[1]


def main(args: argparse.Namespace) -> dict:
    result = {"load_average_before": load_average()}
    result["per_face"] = peers.per_face(args.faces, args.rounds)
    result["per_photo"] = peers.per_photo(demo_photo(), 5 * args.rounds)
    if args.photo_only:
        # The photo as it is searched, no turned copies: what the search for turned faces costs.
        result["per_photo_no_turned_copies"] = peers.per_photo(demo_photo(), 5 * args.rounds, rotations=())
    result["load_average_after"] = load_average()
    write_result(args.out, result)
    print(json.dumps({k: v for k, v in result.items() if k.startswith("per_")}, indent=1))
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faces", type=int, default=100)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--photo-only", action="store_true", help="also per photo with rotations=() (no turned copies)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "speed" / "dlib_ratios.json"))
    main(p.parse_args())
