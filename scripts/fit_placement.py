"""Fit the map from the five-point model's placement (CUHK's) to 300-W's (weights/placement_cuhk_to_300w.json).

Usage: python scripts/fit_placement.py --list $RUNS/ibug68/train.txt --val-list $RUNS/ibug68/val.txt

The faces: 300-W training faces (scripts/ibug68_split.py's 1,812; the five-point landmark model
never saw 300-W), read upright through the public API with YuNet and the upright step
(:func:`isnet.evaluation.fits_on_rolled_photos`). The fits that failed (NME over the eye-centre
distance above 0.10) are left out: their error is the model's, not the placement's. A least-squares
linear map in the face's own frame (:func:`isnet.placement.fit_map`) takes the points read to
300-W's five. With --val-list, the held-out faces are read at --val-rolls and scored without and
with the map: the evidence it was kept on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from isnet.api import LandmarkDetector
from isnet.assets import PLACEMENT_FITS
from isnet.data import read_list
from isnet.evaluation import fits_on_rolled_photos
from isnet.metrics import nme
from isnet.placement import apply_map, fit_map, to_face_frame


def eye_nme(read: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``(N,)`` NME of ``(N, 5, 2)`` points over the annotated eye-centre distance."""
    return nme(read, truth, np.linalg.norm(truth[:, 1] - truth[:, 0], axis=-1))


def scored(read: np.ndarray, truth: np.ndarray) -> dict:
    e = eye_nme(read, truth)
    return {"nme": float(e.mean()), "fr_010": float((e > 0.10).mean())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", required=True, help="300-W training faces (a list or folder of .pts)")
    p.add_argument("--val-list", default=None, help="held-out faces to score the map on")
    p.add_argument("--val-rolls", type=float, nargs="+", default=[0, 45, -45, 60, -60])
    p.add_argument("--out", type=Path, default=PLACEMENT_FITS[("cuhk", "300w")])
    a = p.parse_args()
    det = LandmarkDetector(threads=1)
    if det.scheme.placement != "cuhk":
        raise SystemExit(f"the shipped five-point model is placed as {det.scheme.placement}: nothing to fit")
    fits = fits_on_rolled_photos(det, read_list(a.list, "pts", target="ibug68"), 0.0)
    read, truth = fits.read[fits.found], fits.truth[fits.found]
    good = eye_nme(read, truth) <= 0.10
    w = fit_map(read[good], truth[good])
    shift = (to_face_frame(truth[good], of=read[good]) - to_face_frame(read[good])).mean(axis=0)
    result = {
        "matrix": w.round(6).tolist(),
        "model": "five points in their own frame (about their mean, upright by their roll, over their eye "
        "distance): frame' = frame + [frame, 1] @ matrix; from the shipped five-point model's placement "
        "(CUHK's) to 300-W's (isnet.placement)",
        "command": f"python scripts/fit_placement.py --list $RUNS/ibug68/{Path(a.list).name}"
        + (f" --val-list $RUNS/ibug68/{Path(a.val_list).name}" if a.val_list else ""),
        "n_faces": int(len(fits.found)),
        "n_found": int(fits.found.sum()),
        "n_fitted": int(good.sum()),
        "mean_shift_eye_distances": shift.reshape(5, 2).round(4).tolist(),
        "in_sample": {"without": scored(read, truth), "with": scored(apply_map(read, w), truth)},
    }
    if a.val_list:
        held_out = read_list(a.val_list, "pts", target="ibug68")
        result["held_out"] = {}
        for roll in a.val_rolls:
            f = fits_on_rolled_photos(det, held_out, roll)
            r, t = f.read[f.found], f.truth[f.found]
            result["held_out"][f"{roll:g}"] = {"without": scored(r, t), "with": scored(apply_map(r, w), t)}
            print(f"held out, roll {roll:g}: {json.dumps(result['held_out'][f'{roll:g}'])}", flush=True)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "matrix"}, indent=2))


if __name__ == "__main__":
    main()
