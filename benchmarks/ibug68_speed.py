"""68 points per face through the API against dlib's 68-point predictor, one thread, one run.

Usage: python benchmarks/ibug68_speed.py [--weights MODEL ...] [--faces 100] [--rounds 7] [--out FILE]
(default --out: benchmarks/results/ibug68/speed.json)

The call a user makes with a box in hand, one face a call:
``LandmarkDetector(weights, detector=None, threads=1, **settings).predict(image, [box])`` on the
demo's validation faces and their boxes, against ``dlib.shape_predictor(rgb, rect)`` with the
same boxes; the calls take turns over ``--rounds`` rounds (median). Settings (:data:`SETTINGS`):
the default pipeline, its region networks read once or not at all (:mod:`isnet.regions`),
without mirrored views, and one plain pass (``upright=None``, no regions). Network views per face
are counted by the pipeline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import torch

from isnet.api import LandmarkDetector
from isnet.assets import demo_list, weights_path
from isnet.boxes import ltrb_to_xywh
from isnet.data import read_sun_list
from isnet.imageio import to_bgr_grey
from isnet.peers import dlib_models, interleaved
from isnet.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = {
    "default": {},
    "regions read once": {"region_mirror": False},
    "no regions": {"regions": None},
    "mirror=False": {"mirror": False},
    "mirror=False, no regions": {"mirror": False, "regions": None},
    "one pass": {"upright": None, "mirror": False, "regions": None},
    "one pass, regions": {"upright": None, "mirror": False, "region_mirror": True},
    "one pass, regions read once": {"upright": None, "mirror": False, "region_mirror": False},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", nargs="+", default=[str(weights_path(None, "ibug68"))], help="68-point models")
    p.add_argument("--faces", type=int, default=100)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--out", type=Path, default=RESULTS / "ibug68" / "speed.json")
    a = p.parse_args()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    dlib, models = dlib_models()
    sp68 = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
    samples = read_sun_list(demo_list("val"))[: a.faces]
    bgrs = [to_bgr_grey(s.image)[0] for s in samples]
    rgbs = [cv2.cvtColor(b, cv2.COLOR_BGR2RGB) for b in bgrs]
    boxes = [ltrb_to_xywh(s.box) for s in samples]
    rects = [dlib.rectangle(*(int(round(v)) for v in s.box)) for s in samples]
    detectors = {
        f"{Path(w).name} {name}": LandmarkDetector(w, detector=None, threads=1, **settings)
        for w in a.weights
        for name, settings in SETTINGS.items()
    }
    calls = {name: (lambda d=d: [d.predict(im, b) for im, b in zip(bgrs, boxes)]) for name, d in detectors.items()}
    calls["dlib 68-point"] = lambda: [sp68(im, r) for im, r in zip(rgbs, rects)]
    for d in detectors.values():
        d.pipeline.views.update({k: 0 for k in d.pipeline.views})
    medians = interleaved(calls, a.rounds)
    ms = {k: 1000 * v / len(samples) for k, v in medians.items()}
    calls_made = a.rounds + 1  # interleaved() calls each once to warm up
    views = {
        name: {k: v / (calls_made * len(samples)) for k, v in d.pipeline.views.items()} for name, d in detectors.items()
    }
    out = {
        "faces": len(samples),
        "call": "LandmarkDetector(weights, detector=None, threads=1).predict(BGR image, [box]) "
        "vs dlib.shape_predictor(RGB image, rect)",
        "ms_per_face": ms,
        "ratio_to_dlib68": {k: v / ms["dlib 68-point"] for k, v in ms.items()},
        "network_views_per_face": views,
    }
    write_result(a.out, out)
    for k, v in ms.items():
        print(f"{k:40s} {v:.3f} ms  {v / ms['dlib 68-point']:.2f}x dlib")


if __name__ == "__main__":
    main()
