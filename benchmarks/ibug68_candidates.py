"""The 68-point candidates side by side: validation NME and cost of each trained run.

Usage: python benchmarks/ibug68_candidates.py --runs $RUNS/r68 --val-list $RUNS/ibug68/val.txt
       [--names c39_wing c56_wing ...] [--baseline MODEL] [--out FILE]
(default --out: benchmarks/results/ibug68/candidates_val.json)

Every run folder with a ``model.pt`` is evaluated on the 200 held-out 300-W faces from their
annotation boxes (:func:`isnet.evaluation.evaluate_list`: NME over the outer eye corners, per
region, failures over 0.08), through the default pipeline as the goals measure it
(``LandmarkDetector(weights, model="ibug68").detect`` on each photo, YuNet in front:
``pipeline_nme``, ``pipeline_fr_008``; a model can gain from the annotation's boxes and lose
here), and timed alone: the network in onnxruntime, batch 1, one thread (interleaved rounds,
median). ``--baseline`` adds the shipped model the same way. Each run's training options come
from its checkpoint.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from ibug68_rolls import nme_outer_corners

from isnet.api import LandmarkDetector
from isnet.assets import weights_path
from isnet.benchmark import measure
from isnet.data import read_list
from isnet.evaluation import evaluate_list, fits_on_rolled_photos
from isnet.export import OnnxISNet
from isnet.model import count_macs, count_parameters, load, load_checkpoint
from isnet.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("nme_iod", "fr_008", "fr_010", "auc_008", "nme_iod_per_region")
TRAINING = (
    *("input_size", "channels", "beta", "loss", "iterations", "rotate", "occlude", "blur", "margin"),
    *("train_list", "pts_scheme", "teacher", "teacher_weight"),
)


def network_ms(models: dict[str, object], rounds: int, seconds: float) -> dict[str, float]:
    """Median ms per face of each network alone, batch 1, one thread, rounds interleaved."""
    runners = {name: OnnxISNet(m, threads=1) for name, m in models.items()}
    views = {name: np.zeros((1, 1, m.config.input_size, m.config.input_size), np.float32) for name, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, run in runners.items():
            times[name].append(measure(lambda run=run, v=views[name]: run.run(v), seconds)["median_ms"])
    return {name: statistics.median(t) for name, t in times.items()}


def through_pipeline(weights: Path, samples: list) -> dict[str, float]:
    """NME over the outer eye corners and failures over 0.08 of ``detect()`` with defaults, on the
    faces found (and how many were)."""
    fits = fits_on_rolled_photos(LandmarkDetector(str(weights), model="ibug68", threads=1), samples, 0.0)
    nme = nme_outer_corners(fits, samples)[fits.found]
    found = int(fits.found.sum())
    return {"pipeline_nme": float(nme.mean()), "pipeline_fr_008": float(np.mean(nme > 0.08)), "found": found}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--val-list", required=True)
    p.add_argument("--names", nargs="*", default=None, help="run folders to report (default: all with a model)")
    p.add_argument("--baseline", default=str(weights_path(None, "ibug68")), help="the shipped model, for reference")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--out", type=Path, default=RESULTS / "ibug68" / "candidates_val.json")
    a = p.parse_args()
    names = a.names or sorted(d.name for d in a.runs.iterdir() if (d / "model.pt").is_file())
    paths = {"shipped": Path(a.baseline), **{n: a.runs / n / "model.pt" for n in names}}
    models = {n: load(path) for n, path in paths.items()}
    ms = network_ms(models, a.rounds, a.seconds)
    samples = read_list(a.val_list, "pts", scheme="ibug68", target="ibug68")
    rows = {}
    for name, path in paths.items():
        metrics = evaluate_list(a.val_list, str(path), fmt="pts", progress=False).metrics
        training = load_checkpoint(path).get("train_config", {}) or {}
        piped = through_pipeline(path, samples)
        rows[name] = {
            **{k: metrics[k] for k in METRICS},
            **piped,
            "parameters": count_parameters(models[name]),
            "macs_per_face": count_macs(models[name]),
            "network_ms_per_face": ms[name],
            "training": {k: training.get(k) for k in TRAINING},
        }
        print(
            f"{name:24s} NME {100 * metrics['nme_iod']:.3f} %  FR@0.08 {100 * metrics['fr_008']:.2f} %  "
            f"pipeline {100 * piped['pipeline_nme']:.3f} %  "
            f"{count_macs(models[name]) / 1e6:.1f} M MACs  {ms[name]:.3f} ms"
        )
    write_result(a.out, {"val_list": "200 held-out 300-W training faces (scripts/ibug68_split.py)", "runs": rows})


if __name__ == "__main__":
    main()
