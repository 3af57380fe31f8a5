"""Fit the quality score's logistic models (src/isnet/weights/quality.json).

Usage:
    python scripts/fit_quality.py --model cuhk5 --list $RUNS/ibug68/val.txt --format pts \\
        --background-faces $RUNS/ibug68/val.txt [--rolls ...] [--photos 12]

Writes the fit of the shipped landmark model ``--model`` into quality.json under its scheme's
name, keeping the other models' fits.

The good and failed fits: 300-W training faces held out of every model's training
(scripts/ibug68_split.py's 200), each photo turned by every roll of --rolls
(:func:`isnet.evaluation.fits_on_rolled_photos`, the public API with YuNet and the upright step);
a fit is good when its NME over the eye-centre distance is at most 0.10, over all the model's
points where the list has them (the 68-point model on 300-W), else over five. The false faces:
every detection in --photos photos of background without faces (:mod:`isnet.synthetic`, tiles
cut from the same held-out photos away from their face), found by YuNet at full resolution
with a score threshold of --false-threshold, all labelled not good. One logistic regression
(Newton's method) per set of signals (:data:`MODELS`) of good on the signals' transforms
(:data:`isnet.quality.TRANSFORMS`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from isnet.api import LandmarkDetector
from isnet.assets import MODEL_NAMES, QUALITY_FIT
from isnet.data import read_list
from isnet.detectors import YuNet
from isnet.evaluation import fits_on_rolled_photos
from isnet.metrics import auroc
from isnet.quality import SIGNALS, design
from isnet.synthetic import make_photos

# The models fitted, in the order quality_of tries them: the first whose signals a face has.
MODELS = (
    ("shift", "disagreement", "detector_gap", "mirror_gap", "score"),
    ("shift", "disagreement", "detector_gap", "score"),
    ("shift", "disagreement", "mirror_gap", "score"),
    ("shift", "disagreement", "score"),
    ("shift", "disagreement"),
    ("shift", "detector_gap", "mirror_gap", "score"),
    ("shift", "mirror_gap", "score"),
    ("shift", "mirror_gap"),
    ("shift", "score"),
    ("shift",),
)
# The fits are made on the pipeline read both ways (LandmarkDetector's mirror), so that the
# models with the mirror gap are fitted on mirrored readings and the others on plain ones.
MIRROR = (False, True)


def logistic_fit(x: np.ndarray, y: np.ndarray, steps: int = 50) -> tuple[float, np.ndarray]:
    """``(intercept, weights)`` maximising the likelihood of ``P(y) = 1 / (1 + exp(-(a + w . x)))``;
    ``x`` ``(N, F)``."""
    design_matrix = np.concatenate([np.ones((len(x), 1)), x], axis=1)
    w = np.zeros(design_matrix.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-design_matrix @ w))
        grad = design_matrix.T @ (y - p)
        hess = design_matrix.T @ (design_matrix * (p * (1 - p))[:, None]) + 1e-9 * np.eye(len(w))
        w = w + np.linalg.solve(hess, grad)
    return float(w[0]), w[1:]


def real_fits(det: LandmarkDetector, list_path: str, fmt: str, rolls: list[float]) -> tuple[dict, np.ndarray]:
    """The signals ``(N,)`` of every found face of the list at every roll, and whether each fit is
    good (all points where the list has them, else five)."""
    samples = read_list(list_path, fmt, target="ibug68" if fmt == "pts" else "cuhk5")
    signals: dict[str, list] = {k: [] for k in SIGNALS}
    good = []
    for roll in rolls:
        fits = fits_on_rolled_photos(det, samples, roll)
        for k in SIGNALS:
            signals[k].append(fits.signals[k][fits.found])
        error = np.where(np.isfinite(fits.nme_all), fits.nme_all, fits.nme)
        good.append(error[fits.found] <= 0.10)
    return {k: np.concatenate(v) for k, v in signals.items()}, np.concatenate(good)


def false_faces(det: LandmarkDetector, list_path: str, n: int, side: int, seed: int) -> dict:
    """The signals of every detection in ``n`` photos of background (no face in them)."""
    samples = read_list(list_path, "pts", target="ibug68")
    signals: dict[str, list] = {k: [] for k in SIGNALS}
    for photo in make_photos(samples, n, side, seed, faces=0):
        for f in det.detect(photo.bgr):
            for k in SIGNALS:
                signals[k].append(f.signals.get(k, np.nan))
    return {k: np.array(v) for k, v in signals.items()}


def fit_models(signals: dict, good: np.ndarray) -> list[dict]:
    out = []
    y = good.astype(np.float64)
    for names in MODELS:
        has = np.all([np.isfinite(signals[k]) for k in names], axis=0)
        if good[has].all() or not good[has].any():
            continue  # a set of signals no face has (the mirror gap of an unmirrored run), or one class only
        x = design({k: signals[k][has] for k in names}, names)
        intercept, weights = logistic_fit(x, y[has])
        z = intercept + x @ weights
        out.append(
            {
                "signals": list(names),
                "intercept": intercept,
                "weights": weights.tolist(),
                "n_fits": int(has.sum()),
                "in_sample_auroc": auroc(-z, ~good[has]),
            }
        )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="cuhk5", choices=MODEL_NAMES, help="the shipped landmark model to fit for")
    p.add_argument("--list", required=True, help="held-out annotated faces (good and failed fits)")
    p.add_argument("--format", default="pts")
    p.add_argument("--rolls", type=float, nargs="+", default=[0, 20, -20, 40, -40, 60, -60, 90, 180])
    p.add_argument("--background-faces", required=True, help=".pts list whose photos give background tiles")
    p.add_argument("--photos", type=int, default=12, help="background photos")
    p.add_argument("--side", type=int, default=6000, help="background photos' longer side")
    p.add_argument("--false-threshold", type=float, default=0.3, help="YuNet's score threshold on the backgrounds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=QUALITY_FIT)
    a = p.parse_args()
    real, false, good = [], [], []
    for mirror in MIRROR:
        # 300-W's faces are scored with 300-W's placement of the five points (isnet.placement).
        placement = "300w" if a.format == "pts" else None
        det = LandmarkDetector(threads=1, model=a.model, placement=placement, mirror=mirror)
        if det.roll_model is None:
            raise SystemExit("no upright model is installed (weights/isnet_roll.pt): nothing to fit")
        det.quality_fit = {"models": []}  # the fit being made replaces whatever is installed
        signals, ok = real_fits(det, a.list, a.format, a.rolls)
        real.append(signals)
        good.append(ok)
        background = LandmarkDetector(
            threads=1, model=a.model, mirror=mirror, detector=YuNet(score_threshold=a.false_threshold, max_side=None)
        )
        background.quality_fit = {"models": []}
        false.append(false_faces(background, a.background_faces, a.photos, a.side, a.seed))
    n_false = sum(len(f["score"]) for f in false)
    signals = {k: np.concatenate([*(r[k] for r in real), *(f[k] for f in false)]) for k in SIGNALS}
    labels = np.concatenate([*good, np.zeros(n_false, bool)])
    good = np.concatenate(good)
    result = {
        "models": fit_models(signals, labels),
        "model": "quality = 1 / (1 + exp(-(intercept + weights . x))), x the transformed signals "
        "(isnet.quality.TRANSFORMS) of the first model whose signals a face has; the estimated chance that "
        "NME (eye-centre distance) <= 0.10",
        "command": f"python scripts/fit_quality.py --model {a.model} --list $RUNS/ibug68/{Path(a.list).name} "
        f"--format {a.format} "
        f"--background-faces $RUNS/ibug68/{Path(a.background_faces).name} --photos {a.photos} --side {a.side} "
        f"--false-threshold {a.false_threshold:g} --seed {a.seed} --rolls {' '.join(f'{r:g}' for r in a.rolls)}",
        "n_fits": int(len(good)),
        "n_good": int(good.sum()),
        "n_false_faces": int(n_false),
        "mirror": list(MIRROR),
        "rolls": a.rolls,
    }
    fits = json.loads(a.out.read_text()) if a.out.is_file() else {}
    fits[det.scheme.name] = result
    a.out.write_text(json.dumps(fits, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
