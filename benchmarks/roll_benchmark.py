"""Landmarks on rotated photos through the public API (issue 15's roll table).

Usage:
    python benchmarks/roll_benchmark.py --list $IBUG/helen_testset --format pts --placement 300w \\
        --out benchmarks/results/roll/helen_upright_step.json
    python benchmarks/roll_benchmark.py --list $DATA/testImageList.txt \\
        --out benchmarks/results/roll/cuhk_upright_step.json
    [--weights MODEL | --model NAME] [--no-upright] [--set mirror=true refine=1 rotations=45,-45,90,270,180 ...]
    [--placement 300w] [--rolls ...] [--limit N]

300-W's annotations place the five points as 300-W does: score them with --placement 300w
(:mod:`isnet.placement`; without it a five-point model's points are placed as CUHK's).

Before the upright step (the pipeline as it was): --no-upright --set rotations=. ``--set`` takes
fields of :class:`isnet.pipeline.PipelineConfig`; each row also gives the network views read per
face (landmark and roll network) at its roll.

Each photo is turned by each roll about its centre onto a canvas that keeps it whole (black
corners), and ``LandmarkDetector.detect`` (YuNet in front) runs on it
(:func:`isnet.evaluation.fits_on_rolled_photos`). A face is found when a detection's box centre
lies within the annotated eye-centre distance of the centre of its five annotated points. Its
five points (a 68-point model's, and 300-W annotations, reduced to five) are compared with the
annotation turned alike, in the subject's order: NME over the eye-centre distance, failures
NME > 0.10, AUC@0.10, faces not found, and the AUROC with which each face's ``quality`` (and,
for comparison, the detector's score) flags the failures. The cost: benchmarks/upright_cost.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

from isnet.api import LandmarkDetector
from isnet.data import read_list
from isnet.evaluation import ROLLS, evaluate_rolls
from isnet.pipeline import PipelineConfig
from isnet.placement import PLACEMENTS
from isnet.provenance import write_result


def setting(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` of a :class:`PipelineConfig` field, the value typed as the field's default."""
    key, _, value = text.partition("=")
    default = getattr(PipelineConfig(), key, None)
    if key not in PipelineConfig.names():
        raise argparse.ArgumentTypeError(f"{key}: not one of {', '.join(PipelineConfig.names())}")
    if isinstance(default, bool):
        return key, value.lower() in ("1", "true", "yes")
    if isinstance(default, tuple):
        return key, tuple(float(v) for v in value.split(",") if v)
    return key, type(default)(value) if default is not None else value


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", required=True, help="annotated faces (a list, or a .pts folder)")
    p.add_argument("--format", default="sun", choices=("sun", "mtfl", "pts"))
    p.add_argument("--weights", default=None, help="model file (default: the shipped --model)")
    p.add_argument("--model", default="cuhk5", help="shipped model name")
    p.add_argument("--no-upright", action="store_true", help="one pass on the detector's box")
    p.add_argument("--upright", default="default", help="the upright step's first-pass model (default: shipped)")
    p.add_argument(
        "--placement", default=None, choices=PLACEMENTS, help="where five points go (default: the model's own)"
    )
    p.add_argument("--set", type=setting, nargs="*", default=[], help="pipeline settings, KEY=VALUE")
    p.add_argument("--rolls", type=float, nargs="+", default=list(ROLLS))
    p.add_argument("--limit", type=int, default=None, help="first N faces only")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, required=True, help="JSON file to write (results: benchmarks/results/roll/)")
    a = p.parse_args()
    cv2.setNumThreads(a.threads)
    samples = read_list(a.list, a.format, target="ibug68" if a.format == "pts" else "cuhk5")[: a.limit]
    upright = None if a.no_upright else a.upright
    det = LandmarkDetector(
        a.weights, model=a.model, threads=a.threads, upright=upright, placement=a.placement, **dict(a.set)
    )
    views = det.pipeline.views
    seen = dict(views)

    def on_row(row: dict) -> None:
        row["views_per_face"] = {k: (v - seen[k]) / len(samples) for k, v in views.items()}
        seen.update(views)
        print(json.dumps(row), flush=True)

    rolled = evaluate_rolls(det, samples, a.rolls, on_row=on_row)
    out = {
        "list": Path(a.list).name,
        "upright_step": det.roll_model is not None,
        "config": {k: getattr(det.config, k) for k in PipelineConfig.names()},
        "placement": det.placement,
        **rolled,
    }
    write_result(a.out, out)


if __name__ == "__main__":
    main()
