"""A 68-point model on the HELEN test split, beside dlib's 68-point predictor.

Usage: python benchmarks/ibug68_report.py --ibug $IBUG [--weights MODEL] [--out FILE]
(default --out: benchmarks/results/ibug68/helen_testset.json)
($IBUG: the ibug_300w folder.) The model: from boxes drawn from the ground truth's five points,
and from YuNet's boxes through LandmarkDetector (with the upright step, and in one pass on the
mapped box); faces not found are those
with no detection overlapping the face's box by IoU >= 0.3. dlib: its HOG detector (no
upsampling) and its 68-point predictor (isnet[peers] extra). NME over the outer eye corners.
"""

import argparse
import json
from pathlib import Path

from isnet.assets import weights_path
from isnet.data import read_list
from isnet.evaluation import evaluate_list, evaluate_with_detector
from isnet.peers import dlib68_on
from isnet.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results"

KEYS = ("n_faces", "nme_iod", "nme_ipd", "fr_008", "fr_010", "auc_008", "auc_010", "nme_iod_per_region")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ibug", required=True, help="ibug_300w folder")
    p.add_argument("--weights", default=None, help="68-point model (default: the shipped ibug68)")
    p.add_argument("--out", type=Path, default=RESULTS / "ibug68" / "helen_testset.json", help="JSON file to write")
    p.add_argument("--no-dlib", action="store_true", help="leave dlib out")
    a = p.parse_args()
    test = Path(a.ibug) / "helen_testset"
    weights = a.weights or str(weights_path(None, "ibug68"))
    on_gt = evaluate_list(test, weights, fmt="pts").metrics
    on_yunet = evaluate_with_detector(test, weights, fmt="pts")
    one_pass = evaluate_with_detector(test, weights, fmt="pts", upright=None, mirror=False)
    out = {
        "test": "helen_testset (330 faces)",
        "model_on_boxes_from_ground_truth": {k: on_gt[k] for k in KEYS},
        "model_on_yunet_boxes_with_upright_step": on_yunet["on_matched_faces"]["model_on_mapped_yunet_boxes"],
        "model_on_yunet_boxes_one_pass": one_pass["on_matched_faces"]["model_on_mapped_yunet_boxes"],
        "upright_step": on_yunet["upright_step"],
        "yunet_not_found": on_yunet["n_faces_listed"] - on_yunet["n_matched"],
    }
    if not a.no_dlib:
        out["dlib_hog_68"] = dlib68_on(read_list(test, "pts", target="ibug68"))
    write_result(a.out, out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
