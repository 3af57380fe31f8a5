"""Does the quality score find the failed fits on faces it was not fitted on? WFLW's harder faces.

Every photo of WFLW's test folder goes through the public API (YuNet, the upright step) with the
68-point model (and, with ``--model cuhk5``, the five-point one); the face matched to the
annotation (:func:`isnet.evaluation.match_by_centre`) is scored against WFLW's points mapped to
300-W's 68 (the usual mapping, :data:`WFLW_TO_300W`), or reduced to five: mean error over the
annotated eye-centre distance, a failure above 0.10. Reported: the quality's AUROC for telling
failures from good fits, now and under the fit shipped before (``--before-fit``), and how many
failures each calls good (quality at least 0.5).

Usage:
    python benchmarks/quality_wflw.py --wflw $WFLW/test [--model ibug68]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from isnet.api import LandmarkDetector
from isnet.data import read_pts, reduce_to_cuhk5
from isnet.evaluation import match_by_centre
from isnet.metrics import auroc
from isnet.quality import quality_of
from isnet.schemes import get_scheme

REPO = Path(__file__).resolve().parents[1]
# 300-W's 68 points (0-based) from WFLW's 98, as the data set's README gives the mapping.
WFLW_TO_300W = np.array(
    [*range(0, 33, 2), *range(33, 38), *range(42, 47), *range(51, 60)]
    + [60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75]
    + list(range(76, 96))
)


def main(args: argparse.Namespace) -> dict:
    from isnet.provenance import write_result

    ibug68 = get_scheme("ibug68")
    det = LandmarkDetector(threads=1, model=args.model, placement="300w")
    before = json.loads(Path(args.before_fit).read_text())
    rows = []
    for pts in sorted(Path(args.wflw).glob("*.pts")):
        truth68 = read_pts(pts)[WFLW_TO_300W]
        five = reduce_to_cuhk5(truth68[None], ibug68)[0]
        faces = det.detect(pts.with_suffix(".jpg"))
        j = match_by_centre(np.array([f.box for f in faces]).reshape(-1, 4), five)
        if j < 0:
            rows.append({"file": pts.stem, "found": False})
            continue
        face = faces[j]
        truth = truth68 if len(face.landmarks) == 68 else five
        error = np.linalg.norm(face.landmarks - truth, axis=1).mean() / np.linalg.norm(five[1] - five[0])
        signals = {k: np.array([v]) for k, v in face.signals.items()}
        rows.append(
            {
                "file": pts.stem,
                "found": True,
                "nme": float(error),
                "quality": face.quality,
                "quality_before": float(quality_of(signals, before)[0]),
            }
        )
    found = [r for r in rows if r["found"]]
    failed = np.array([r["nme"] > 0.10 for r in found])
    summary = {"faces": len(rows), "found": len(found), "failures": int(failed.sum())}
    for key in ("quality", "quality_before"):
        q = np.array([r[key] for r in found])
        summary[f"auroc_{key}"] = auroc(-q, failed)
        summary[f"failures_with_{key}_at_least_0.5"] = int((q[failed] >= 0.5).sum())
        summary[f"good_with_{key}_below_0.5"] = int((q[~failed] < 0.5).sum())
    print(json.dumps(summary, indent=1), file=sys.stderr)
    result = {"model": args.model, "summary": summary, "faces": rows}
    write_result(args.out or REPO / "benchmarks" / "results" / "quality" / f"wflw_test_{args.model}.json", result)
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wflw", required=True, help="a folder of WFLW .jpg/.pts faces (98 points)")
    p.add_argument("--model", default="ibug68", choices=("ibug68", "cuhk5"))
    p.add_argument(
        "--before-fit",
        default=str(REPO / "benchmarks" / "results" / "large_photos" / "quality_fit_before.json"),
        help="the quality fit to compare with",
    )
    p.add_argument("--out", default=None)
    main(p.parse_args())
