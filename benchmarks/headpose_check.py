"""Head pose checks on annotated faces: the pose of the points read against the pose of the
annotation, and the pose's symmetries on real photos (mirrored, turned).

Usage: python benchmarks/headpose_check.py --list $IBUG/helen_testset [--out FILE]
(default --out: benchmarks/results/headpose/helen_testset.json)

Every face is read by ``LandmarkDetector.detect`` (YuNet, the default pipeline) with each
shipped model, matched to its annotation by :func:`isnet.evaluation.match_by_centre`. The
annotation's pose is :func:`isnet.headpose.head_pose` of its 68 points (and of their five-point
reduction, for the five-point model). The photo is also read mirrored and turned by 30 degrees:
the mirrored pose should negate yaw and roll; the photo turned counter-clockwise should take 30
from the roll (positive clockwise) and leave yaw and pitch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from isnet.api import LandmarkDetector
from isnet.data import read_list, reduce_to_cuhk5
from isnet.evaluation import match_by_centre
from isnet.headpose import head_pose
from isnet.imageio import to_bgr_grey
from isnet.provenance import write_result
from isnet.schemes import CUHK5, get_scheme
from isnet.transforms import turn_image

RESULTS = Path(__file__).resolve().parent / "results"
TURN = 30.0
IBUG68 = get_scheme("ibug68")


def wrap(d: np.ndarray) -> np.ndarray:
    return (d + 180.0) % 360.0 - 180.0


def pose_of(det: LandmarkDetector, bgr: np.ndarray, five: np.ndarray) -> np.ndarray:
    """``(3,)`` yaw, pitch, roll of the detected face nearest the annotated five points; NaN if none."""
    faces = det.detect(bgr)
    j = match_by_centre(np.array([f.box for f in faces]).reshape(-1, 4), five)
    return np.full(3, np.nan) if j < 0 else np.array([faces[j].yaw, faces[j].pitch, faces[j].roll])


def summary(d: np.ndarray) -> dict:
    """Mean and median absolute difference per angle over the faces that have both."""
    ok = np.isfinite(d).all(axis=1)
    a = np.abs(d[ok])
    return {
        "faces": int(ok.sum()),
        **{f"mean_abs_{n}": float(a[:, i].mean()) for i, n in enumerate(("yaw", "pitch", "roll"))},
        **{f"median_abs_{n}": float(np.median(a[:, i])) for i, n in enumerate(("yaw", "pitch", "roll"))},
    }


def check_model(model: str, samples) -> dict:
    det = LandmarkDetector(model=model, threads=1)
    truth68 = np.stack([s.landmarks for s in samples])
    five = reduce_to_cuhk5(truth68, IBUG68)
    truth = head_pose(truth68, IBUG68) if det.scheme.name == IBUG68.name else head_pose(five, CUHK5)
    read, mirrored, turned = (np.full((len(samples), 3), np.nan) for _ in range(3))
    for i, s in enumerate(samples):
        bgr, _ = to_bgr_grey(s.image)
        read[i] = pose_of(det, bgr, five[i])
        w = bgr.shape[1]
        flipped = five[i][CUHK5.flip_permutation()] * [-1, 1] + [w - 1, 0]
        mirrored[i] = pose_of(det, bgr[:, ::-1].copy(), flipped)
        rolled, m = turn_image(bgr, TURN)
        turned[i] = pose_of(det, rolled, five[i] @ m[:, :2].T + m[:, 2])
    truth_spread = {n: float(np.std(truth[:, i])) for i, n in enumerate(("yaw", "pitch", "roll"))}
    return {
        "read_against_annotation": summary(
            np.column_stack([read[:, :2] - truth[:, :2], wrap(read[:, 2] - truth[:, 2])])
        ),
        "annotation_spread_std": truth_spread,
        "mirrored_against_read": summary(
            np.column_stack(
                [mirrored[:, 0] + read[:, 0], mirrored[:, 1] - read[:, 1], wrap(mirrored[:, 2] + read[:, 2])]
            )
        ),
        f"turned_{TURN:g}_against_read": summary(
            np.column_stack([turned[:, :2] - read[:, :2], wrap(turned[:, 2] - read[:, 2] + TURN)])
        ),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", required=True, help="300-W .pts faces (folder or list)")
    p.add_argument("--limit", type=int, default=0, help="the first N faces only (0: all)")
    p.add_argument("--out", type=Path, default=RESULTS / "headpose" / "helen_testset.json")
    a = p.parse_args()
    samples = read_list(a.list, "pts", scheme="ibug68", target="ibug68")
    samples = samples[: a.limit] if a.limit else samples
    out = {
        "faces": len(samples),
        "turn_degrees": TURN,
        "models": {m: check_model(m, samples) for m in ("cuhk5", "ibug68")},
    }
    write_result(a.out, out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
