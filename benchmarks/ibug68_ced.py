"""The 68-point model's error curve on HELEN test beside dlib's, each through its own detector.

Usage: python benchmarks/ibug68_ced.py --list $IBUG/helen_testset [--weights MODEL]
[--out FILE] [--plot PNG]

isnet: ``LandmarkDetector(model="ibug68")`` with default settings (YuNet in front) on each photo,
the face matched to its annotation by :func:`isnet.evaluation.match_by_centre`. dlib: its HOG
detector and 68-point predictor (:func:`isnet.peers.dlib68_errors`, isnet[peers] extra). Both
scored on all 68 points, NME over the outer eye corners; a face a system does not find counts
as a failure in its curve (its error is taken as infinite), so the curves are over all faces.
dlib's model was very likely trained on these faces.
"""

import argparse
from pathlib import Path

import numpy as np
from ibug68_rolls import nme_outer_corners

from isnet.api import LandmarkDetector
from isnet.data import read_list
from isnet.evaluation import fits_on_rolled_photos
from isnet.metrics import auc
from isnet.peers import dlib68_errors
from isnet.plots import plot_ced
from isnet.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results" / "ibug68"


def isnet_errors(samples: list, weights: str | None) -> np.ndarray:
    """``(N,)`` the default pipeline's NME over the outer eye corners, NaN where the face is not found."""
    det = LandmarkDetector(weights, model="ibug68", threads=1)
    return nme_outer_corners(fits_on_rolled_photos(det, samples, 0.0), samples)


def summary(errors: np.ndarray) -> dict:
    """Over all faces, a face not found counting as failed: NME of the found, FR and AUC at 0.08 and 0.10."""
    found = np.isfinite(errors)
    scored = np.where(found, errors, np.inf)
    return {
        "faces": len(errors),
        "not_found": int((~found).sum()),
        "nme_found": float(errors[found].mean()),
        "fr_008": float((scored > 0.08).mean()),
        "fr_010": float((scored > 0.10).mean()),
        "auc_008": auc(scored, 0.08),
        "auc_010": auc(scored, 0.10),
    }


def main(args: argparse.Namespace) -> dict:
    samples = read_list(args.list, "pts", scheme="ibug68", target="ibug68")
    curves = {"isnet ibug68 (YuNet, defaults)": isnet_errors(samples, args.weights)}
    curves["dlib HOG + 68"] = dlib68_errors(samples)[0]
    out = {
        "test": Path(args.list).name,
        "systems": {name: summary(e) for name, e in curves.items()},
        "caveat": "dlib's public 68-point model was trained on 300-W data that very likely includes these test faces",
    }
    plot_ced({name: np.where(np.isfinite(e), e, np.inf) for name, e in curves.items()}, args.plot, threshold=0.10)
    write_result(args.out, out)
    return out


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", required=True, help="a folder of 68-point .pts faces (HELEN test)")
    p.add_argument("--weights", default=None, help="68-point model (default: the shipped ibug68)")
    p.add_argument("--out", default=str(RESULTS / "helen_ced_dlib.json"))
    p.add_argument("--plot", default=str(RESULTS / "helen_ced_dlib.png"))
    return p


if __name__ == "__main__":
    print(main(get_args_parser().parse_args()))
