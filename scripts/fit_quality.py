"""Fit the quality score's two constants (src/isnet/weights/quality.json).

Usage: python scripts/fit_quality.py --list $RUNS/ibug68/val.txt --format pts [--rolls ...]

The faces: 300-W training faces held out of every model's training (scripts/ibug68_split.py's
200), each photo turned by every roll of --rolls (:func:`isnet.evaluation.fits_on_rolled_photos`,
the public API with YuNet and the upright step). For each found face, the disagreement of the
upright step's two passes (:func:`isnet.quality.disagreement`) and whether the fit was good
(NME over the eye-centre distance at most 0.10). A logistic regression of good on log
disagreement (Newton's method) gives ``intercept`` and ``slope``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from isnet.api import LandmarkDetector
from isnet.assets import QUALITY_FIT
from isnet.data import read_list
from isnet.evaluation import fits_on_rolled_photos
from isnet.metrics import auroc

# With intercept 0 and slope 1 the quality is d / (1 + d): the disagreement can be read back.
IDENTITY = {"intercept": 0.0, "slope": 1.0}


def logistic_fit(x: np.ndarray, y: np.ndarray, steps: int = 50) -> tuple[float, float]:
    """``(intercept, slope)`` maximising the likelihood of ``P(y) = 1 / (1 + exp(-(a + b x)))``."""
    w = np.zeros(2)
    design = np.stack([np.ones_like(x), x], 1)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        grad = design.T @ (y - p)
        hess = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(2)
        w = w + np.linalg.solve(hess, grad)
    return float(w[0]), float(w[1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", required=True)
    p.add_argument("--format", default="pts")
    p.add_argument("--rolls", type=float, nargs="+", default=[0, 20, -20, 40, -40, 60, -60, 90, 180])
    p.add_argument("--out", type=Path, default=QUALITY_FIT)
    a = p.parse_args()
    samples = read_list(a.list, a.format, target="ibug68" if a.format == "pts" else "cuhk5")
    # 300-W's faces are scored with 300-W's placement of the five points (isnet.placement).
    det = LandmarkDetector(threads=1, placement="300w" if a.format == "pts" else None)
    if det.roll_model is None:
        raise SystemExit("no upright model is installed (weights/isnet_roll.pt): nothing to fit")
    det.quality_fit = IDENTITY
    d, good = [], []
    for roll in a.rolls:
        fits = fits_on_rolled_photos(det, samples, roll)
        q = fits.quality[fits.found]
        d.append(q / (1 - q))
        good.append(fits.nme[fits.found] <= 0.10)
    d, good = np.concatenate(d), np.concatenate(good)
    intercept, slope = logistic_fit(np.log(np.maximum(d, 1e-6)), good.astype(np.float64))
    result = {
        "intercept": intercept,
        "slope": slope,
        "model": "quality = 1 / (1 + exp(-(intercept + slope * log d))), d the disagreement of the upright "
        "step's passes (isnet.quality.disagreement); the estimated chance that NME (eye-centre distance) <= 0.10",
        "command": f"python scripts/fit_quality.py --list $RUNS/ibug68/{Path(a.list).name} --format {a.format} "
        f"--rolls {' '.join(f'{r:g}' for r in a.rolls)}",
        "n_fits": int(len(d)),
        "n_good": int(good.sum()),
        "rolls": a.rolls,
        "in_sample_auroc": auroc(d, ~good) if 0 < good.sum() < len(good) else None,
    }
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
