"""Training list for the in-the-wild five-point model: CUHK's training split and 300-W's training faces.

Usage: python scripts/make_wild_list.py --data $DATA --ibug-list $RUNS/ibug68/train.txt --out $RUNS/wild
    ($DATA: the CUHK folder; the 300-W list: scripts/ibug68_split.py's, whose 200 held-out faces
    stay out.) Writes $RUNS/wild/train.txt (Sun format, absolute paths) and
    benchmarks/results/placement/eye_centre_correction.json.
    [--ibug-copies 3 --reuse-correction]   # the 300-W faces three times over, moved by the
    correction already in benchmarks/results/placement/eye_centre_correction.json (the landmark
    model's list, $RUNS/wild3)

The two sets place the five points differently: CUHK's eye centres are the pupils as marked by
hand, 300-W's five points are means of the 68 (README of ibug_300w). The correction is measured,
not assumed: the shipped CUHK model runs on the 300-W faces (their boxes drawn from their five
points), and the mean of (prediction - 300-W point), per point, in units of the box's side, is
added to each 300-W face's five points, scaled by its own box. The model is unbiased on CUHK
validation to within 0.0023 box sides, so the offset is the sets' convention, not the model's error.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from isnet.data import read_list, read_sun_list
from isnet.evaluation import evaluate_list
from isnet.provenance import write_result

ROOT = Path(__file__).resolve().parents[1]


def box_sides(samples) -> np.ndarray:
    return np.array([max(s.box[2] - s.box[0], s.box[3] - s.box[1]) for s in samples])


def sun_line(image: Path, box: np.ndarray, points: np.ndarray) -> str:
    left, top, right, bottom = box
    values = [left, right, top, bottom, *points.reshape(-1)]
    return f"{image.resolve()} " + " ".join(f"{v:.4f}" for v in values)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="the CUHK folder")
    p.add_argument("--ibug-list", type=Path, required=True, help="300-W training faces (image paths)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--correction", type=Path, default=ROOT / "benchmarks" / "results" / "placement" / "eye_centre_correction.json"
    )
    p.add_argument("--ibug-copies", type=int, default=1, help="times each 300-W face is listed")
    p.add_argument(
        "--reuse-correction",
        action="store_true",
        help="move the 300-W points by the offset already in --correction (measured with the CUHK model "
        "shipped then) instead of measuring it with the model shipped now",
    )
    a = p.parse_args()
    ibug = read_list(a.ibug_list, "pts", target="cuhk5")
    side = box_sides(ibug)
    if a.reuse_correction:
        offset = np.array(json.loads(a.correction.read_text())["offset_xy_box_sides"])
    else:
        ev = evaluate_list(a.ibug_list, fmt="pts")
        if len(ev.pred) != len(ibug):
            raise SystemExit(f"{a.ibug_list}: {len(ibug)} faces read but {len(ev.pred)} evaluated")
        offset = ((ev.pred - ev.gt) / side[:, None, None]).mean(axis=0)
        sem = ((ev.pred - ev.gt) / side[:, None, None]).std(axis=0) / np.sqrt(len(side))
    cuhk = read_sun_list(a.data / "trainImageList.txt")
    lines = [sun_line(s.image, s.box, s.landmarks) for s in cuhk]
    moved = [sun_line(s.image, s.box, s.landmarks + offset * w) for s, w in zip(ibug, side)]
    lines += moved * a.ibug_copies
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "train.txt").write_text("\n".join(lines) + "\n")
    print(
        f"{a.out / 'train.txt'}: {len(cuhk)} CUHK + {a.ibug_copies} x {len(ibug)} 300-W faces; "
        f"offset {offset.round(4).tolist()}"
    )
    if a.reuse_correction:
        return
    write_result(
        a.correction,
        {
            "what": "mean (shipped CUHK model's prediction - 300-W five points) per point, in box sides; "
            "added to the 300-W training faces' five points for the in-the-wild training list",
            "points": ["left_eye", "right_eye", "nose", "mouth_left", "mouth_right"],
            "offset_xy_box_sides": offset.round(5).tolist(),
            "standard_error": sem.round(5).tolist(),
            "n_faces": len(side),
            "model": ev.metrics["weights"],
        },
    )


if __name__ == "__main__":
    main()
