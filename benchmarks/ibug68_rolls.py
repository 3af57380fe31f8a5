"""The 68-point model on turned photos: its roll table, and how well its quality flags failures.

Usage: python benchmarks/ibug68_rolls.py --list $IBUG/helen_testset [--rolls 0 30 -30 60 -60 90]
       [--weights MODEL] [--out FILE]   (default --out: benchmarks/results/ibug68/helen_rolls.json)

Each photo is turned by each roll onto a canvas that holds it whole and read by
``LandmarkDetector(model="ibug68").detect`` (YuNet, the default pipeline), matched as in
:func:`isnet.evaluation.fits_on_rolled_photos`. Scored on all 68 points against the annotation
turned alike: NME over the outer eye corners (300-W's normalisation), failures NME > 0.08 (the
issue's) and > 0.10, faces not found, and the AUROC with which the face's ``quality`` flags the
failures over 0.08, per roll and over every turned roll together.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from isnet.api import LandmarkDetector
from isnet.data import read_list
from isnet.evaluation import RolledFits, fits_on_rolled_photos, flags
from isnet.provenance import write_result
from isnet.schemes import get_scheme

RESULTS = Path(__file__).resolve().parent / "results"
OUTER_CORNERS = get_scheme("ibug68").ocular


def nme_outer_corners(fits: RolledFits, samples: list) -> np.ndarray:
    """``(N,)`` each face's 68-point NME over its annotated outer eye corners (300-W's), from the
    fits' ``nme_all`` over the eye centres; NaN where the face was not found."""
    a, b = OUTER_CORNERS
    corners = np.array([np.linalg.norm(s.landmarks[a] - s.landmarks[b]) for s in samples])
    centres = np.linalg.norm(fits.truth[:, 1] - fits.truth[:, 0], axis=1)
    return fits.nme_all * centres / corners


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", required=True)
    p.add_argument("--rolls", type=float, nargs="+", default=[0, 30, -30, 60, -60, 90])
    p.add_argument("--weights", default=None)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS / "ibug68" / "helen_rolls.json")
    a = p.parse_args()
    samples = read_list(a.list, "pts", scheme="ibug68", target="ibug68")
    samples = samples[: a.limit] if a.limit else samples
    det = LandmarkDetector(a.weights, model="ibug68", threads=1)
    rows, turned_nme, turned_quality = [], [], []
    for roll in a.rolls:
        before = dict(det.pipeline.views)
        fits = fits_on_rolled_photos(det, samples, roll)
        nme68 = nme_outer_corners(fits, samples)
        f = fits.found
        failed = nme68[f] > 0.08
        rows.append(
            {
                "roll": roll,
                "faces": len(samples),
                "not_found": int((~f).sum()),
                "nme_outer_corners": float(np.mean(nme68[f])),
                "fr_008": float(np.mean(nme68[f] > 0.08)),
                "fr_010": float(np.mean(nme68[f] > 0.10)),
                "quality_auroc_008": flags(fits.quality[f], failed),
                "network_views_per_face": {
                    k: (det.pipeline.views[k] - before[k]) / len(samples) for k in det.pipeline.views
                },
            }
        )
        if roll != 0:
            turned_nme.append(nme68[f])
            turned_quality.append(fits.quality[f])
        print(rows[-1], flush=True)
    out = {"faces": len(samples), "rolls": rows}
    if turned_nme:
        # Only with a roll other than 0 among --rolls.
        nme_t, q_t = np.concatenate(turned_nme), np.concatenate(turned_quality)
        out["turned_rolls"] = {
            "faces_found": int(len(nme_t)),
            "nme_outer_corners": float(nme_t.mean()),
            "fr_008": float(np.mean(nme_t > 0.08)),
            "quality_auroc_008": flags(q_t, nme_t > 0.08),
        }
        print(out["turned_rolls"])
    write_result(a.out, out)


if __name__ == "__main__":
    main()
