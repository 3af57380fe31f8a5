"""Landmarks on rotated photos through the public API (issue 15's roll table).

Usage:
    python scripts/roll_benchmark.py --list $IBUG/helen_testset --format pts --out docs/roll_helen.json
    python scripts/roll_benchmark.py --list $DATA/testImageList.txt --out docs/roll_cuhk.json
    [--weights MODEL | --model NAME] [--rolls 0 15 30 45 -45 60 75 90 180] [--limit N]

Each photo is rotated by each roll about its centre onto a canvas that keeps it whole (black
corners), and ``LandmarkDetector.detect`` (YuNet in front) runs on it. The face counts as found
when a detection's box centre lies within half the face's size (the larger side of its
annotated points' extent) of their centre; the nearest such detection is the face's. Its five
points (a 68-point model's reduced to five) are compared with the annotation rotated alike, in
the subject's order (``left_eye`` is the subject's eye on the image's left when upright): NME
over the eye-centre distance, failures NME > 0.10, faces not found; and how well each face's
``quality`` (the detector's score where faces carry none) flags the failures (AUROC).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from isnet.api import LandmarkDetector
from isnet.data import read_list, reduce_to_cuhk5
from isnet.imageio import to_bgr_grey
from isnet.metrics import auroc
from isnet.schemes import get_scheme

ROLLS = (0, 15, 30, 45, -45, 60, 75, 90, 180)


def rotate_photo(bgr: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The photo turned ``degrees`` counter-clockwise (as seen) onto a canvas that holds it whole.

    Returns:
        ``(image, matrix)``: the rotated image and the ``(2, 3)`` map from old to new pixels.
    """
    h, w = bgr.shape[:2]
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[0, 2] += (nw - w) / 2
    m[1, 2] += (nh - h) / 2
    return cv2.warpAffine(bgr, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0), m


def match_face(faces, points: np.ndarray) -> int:
    """Index of the face whose box centre is nearest the points' centre, within half their extent; -1 if none."""
    centre = 0.5 * (points.min(0) + points.max(0))
    size = float((points.max(0) - points.min(0)).max())
    best, best_d = -1, 0.5 * size
    for i, f in enumerate(faces):
        x, y, w, h = f.box
        d = float(np.hypot(x + w / 2 - centre[0], y + h / 2 - centre[1]))
        if d <= best_d:
            best, best_d = i, d
    return best


def run_roll(det: LandmarkDetector, samples, roll: float) -> dict:
    scheme = det.scheme
    nme, quality, found = [], [], 0
    t0 = time.perf_counter()
    for s in samples:
        bgr, _ = to_bgr_grey(s.image)
        turned, m = rotate_photo(bgr, roll)
        pts = s.landmarks @ m[:, :2].T + m[:, 2]
        faces = det.detect(turned)
        j = match_face(faces, pts)
        if j < 0:
            continue
        found += 1
        five_gt = pts if len(pts) == 5 else reduce_to_cuhk5(pts, get_scheme("ibug68"))
        pred = faces[j].landmarks
        five = pred if scheme.n_points == 5 else reduce_to_cuhk5(pred, scheme)
        ipd = float(np.linalg.norm(five_gt[0] - five_gt[1]))
        nme.append(float(np.linalg.norm(five - five_gt, axis=1).mean() / ipd))
        q = getattr(faces[j], "quality", None)
        quality.append(faces[j].score if q is None else q)
    nme_a, q_a = np.array(nme), np.array(quality, dtype=np.float64)
    failed = nme_a > 0.10
    return {
        "roll": roll,
        "n_faces": len(samples),
        "not_found": len(samples) - found,
        "nme_ipd_mean": float(nme_a.mean()) if found else None,
        "nme_ipd_median": float(np.median(nme_a)) if found else None,
        "fr_010": float(failed.mean()) if found else None,
        "quality_auroc_flags_failures": auroc(-q_a, failed) if found and 0 < failed.sum() < found else None,
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", required=True, help="annotated faces (a list, or a .pts folder)")
    p.add_argument("--format", default="sun", choices=("sun", "mtfl", "pts"))
    p.add_argument("--weights", default=None, help="model file (default: the shipped --model)")
    p.add_argument("--model", default="cuhk5", help="shipped model name")
    p.add_argument("--rolls", type=float, nargs="+", default=list(ROLLS))
    p.add_argument("--limit", type=int, default=None, help="first N faces only")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    a = p.parse_args()
    cv2.setNumThreads(a.threads)
    samples = read_list(a.list, a.format, target="ibug68" if a.format == "pts" else "cuhk5")[: a.limit]
    det = LandmarkDetector(a.weights, model=a.model, threads=a.threads)
    rows = []
    for roll in a.rolls:
        rows.append(run_roll(det, samples, roll))
        r = rows[-1]
        print(
            f"roll {roll:g}: NME {r['nme_ipd_mean']}, FR@0.10 {r['fr_010']}, not found {r['not_found']}, "
            f"AUROC {r['quality_auroc_flags_failures']}",
            flush=True,
        )
    out = {
        "command": f"python scripts/roll_benchmark.py --list {Path(a.list).name} --format {a.format} "
        + (f"--weights {Path(a.weights).name}" if a.weights else f"--model {a.model}"),
        "list": Path(a.list).name,
        "rolls": rows,
    }
    a.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
