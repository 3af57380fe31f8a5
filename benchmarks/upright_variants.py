"""What each network view of the upright step buys: variants of LandmarkDetector on held-out faces.

Each variant (:data:`VARIANTS`: settings of :class:`isnet.pipeline.PipelineConfig`) reads the held-out
300-W faces, each photo turned by every roll (:func:`isnet.evaluation.fits_on_rolled_photos`,
300-W placement). Reported per variant: network views per face (counted at
:func:`isnet.inference.run_network`), ms per face of the whole pass over the photos, NME over
the eye-centre distance and failures (> 0.10) per roll, and the quality's AUROC for the failures
when its logistic models are refitted on the variant's own signals (in-sample: the variants'
signals differ, so each needs its own fit; false detections are left out of these fits).

Usage:
    python benchmarks/upright_variants.py --list $RUNS/ibug68/val.txt [--variants ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from isnet import inference
from isnet.api import LandmarkDetector
from isnet.data import read_list
from isnet.evaluation import fits_on_rolled_photos
from isnet.quality import SIGNALS

REPO = Path(__file__).resolve().parents[1]
ROLLS = (0.0, 20.0, -20.0, 40.0, -40.0, 60.0, -60.0, 90.0, 180.0)
# The roll network's gates shut: only the landmark passes run.
NO_ROLL = {
    "roll_check": False,
    "roll_trust": 360.0,
    "unsettled_above": float("inf"),
    "detector_gap_above": float("inf"),
}
VARIANTS = {
    "default": {},
    "no_mirror": {"mirror": False},
    "mirror_roll": {"mirror_roll": True},
    "no_roll_check": {"roll_check": False},
    "refine_0": {"refine": 0},
    "refine_1": {"refine": 1},
    "reframe_above_0.03": {"reframe_above": 0.03},
    "no_roll_network": NO_ROLL,
    "no_roll_network_refine_0": {**NO_ROLL, "refine": 0},
}


def fit_quality_module():
    spec = importlib.util.spec_from_file_location("fit_quality", REPO / "scripts" / "fit_quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_variant(samples: list, kwargs: dict, rolls: tuple[float, ...]) -> dict:
    det = LandmarkDetector(threads=1, placement="300w", **kwargs)
    views = []
    run = inference.run_network
    inference.run_network = lambda model, v: views.append(len(v)) or run(model, v)
    try:
        per_roll, signals, good, t0 = [], {k: [] for k in SIGNALS}, [], time.perf_counter()
        n_found = 0
        for roll in rolls:
            before = sum(views)
            fits = fits_on_rolled_photos(det, samples, roll)
            nme = fits.nme[fits.found]
            n_found += int(fits.found.sum())
            per_roll.append(
                {
                    "roll": roll,
                    "views_per_face": (sum(views) - before) / len(samples),
                    "found": int(fits.found.sum()),
                    "nme_mean": float(nme.mean()),
                    "fr_010": float((nme > 0.10).mean()),
                }
            )
            for k in SIGNALS:
                signals[k].append(fits.signals[k][fits.found])
            good.append(nme <= 0.10)
        seconds = time.perf_counter() - t0
    finally:
        inference.run_network = run
    signals = {k: np.concatenate(v) for k, v in signals.items()}
    good = np.concatenate(good)
    models = fit_quality_module().fit_models(signals, good)
    return {
        "kwargs": {k: str(v) for k, v in kwargs.items()},
        "views_per_face": sum(views) / max(1, len(samples) * len(rolls)),
        "ms_per_photo": 1000 * seconds / (len(samples) * len(rolls)),
        "rolls": per_roll,
        "nme_mean_all": float(np.mean([r["nme_mean"] for r in per_roll])),
        "fr_010_all": float(1 - good.mean()),
        "quality_auroc_in_sample": {"+".join(m["signals"]): m["in_sample_auroc"] for m in models},
        "faces_found": n_found,
    }


def main(args: argparse.Namespace) -> dict:
    from isnet.provenance import write_result

    samples = read_list(args.list, "pts", target="ibug68")
    result = {"list": str(args.list), "rolls": list(args.rolls), "variants": {}}
    for name in args.variants:
        result["variants"][name] = row = run_variant(samples, VARIANTS[name], tuple(args.rolls))
        print(
            f"{name}: {row['views_per_face']:.2f} views/face, {row['ms_per_photo']:.2f} ms/photo, "
            f"NME {100 * row['nme_mean_all']:.3f} %, FR {100 * row['fr_010_all']:.2f} %, "
            f"AUROC {row['quality_auroc_in_sample']}",
            file=sys.stderr,
        )
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--list", required=True, help="held-out .pts faces ($RUNS/ibug68/val.txt)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "upright" / "stages_variants_val.json"))
    p.add_argument("--rolls", type=float, nargs="+", default=list(ROLLS))
    main(p.parse_args())
