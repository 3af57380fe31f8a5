"""Time per face of the landmark step with and without the upright step (issue 15).

Usage: python benchmarks/upright_cost.py [--model cuhk5] [--faces 50] [--seconds 2] [--rounds 5]
    [--out FILE]              # default: benchmarks/results/speed/upright_cost_MODEL[_batchB].json
    [--batch 16]              # faces per call (default 1)
    [--before-weights FILE]   # the one-pass side with another model (the model shipped before)

``LandmarkDetector.predict`` on demo faces with their boxes, one face a call, one thread, ONNX
backend: one pass as the pipeline ran before the upright step (``upright=None, mirror=False``:
crop, network, map back) against the shipped default (first pass, box from its points, turned
view, refining passes, quality). With --batch B,
B photos a call go through ``detect_photos`` (as ``isnet predict`` batches them), a detector
that returns each photo's listed box standing in for YuNet. The sides run interleaved over
--rounds rounds, each the median over --seconds, so that drift of the machine hits both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from isnet.api import LandmarkDetector
from isnet.assets import demo_list
from isnet.benchmark import measure
from isnet.boxes import ltrb_to_xywh
from isnet.data import read_sun_list
from isnet.imageio import to_bgr_grey
from isnet.photo import Photo
from isnet.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="cuhk5")
    p.add_argument("--before-weights", default=None)
    p.add_argument("--faces", type=int, default=50)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch", type=int, default=1, help="faces (one per photo) per call")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON file to write (default: benchmarks/results/speed/upright_cost_MODEL[_batchB].json)",
    )
    a = p.parse_args()
    samples = read_sun_list(demo_list("val"))[: a.faces]
    decoded = [Photo(grey, bgr) for bgr, grey in (to_bgr_grey(s.image) for s in samples)]
    greys = [p.grey for p in decoded]
    boxes = [ltrb_to_xywh(s.box) for s in samples]
    listed = {id(bgr): box for (bgr, _), box in zip(decoded, boxes)}

    def listed_box(bgr):
        return listed[id(bgr)][None], np.ones(1)

    detector = None if a.batch == 1 else listed_box
    sides = {
        "one_pass": LandmarkDetector(
            a.before_weights, model=a.model, detector=detector, upright=None, mirror=False, threads=1
        ),
        "upright_step": LandmarkDetector(model=a.model, detector=detector, threads=1),
    }
    times = {name: [] for name in sides}
    for _ in range(a.rounds):
        for name, det in sides.items():

            def every_face(det=det) -> None:
                if a.batch == 1:
                    for grey, box in zip(greys, boxes):
                        det.predict(grey, box)
                    return
                for start in range(0, len(decoded), a.batch):
                    det.detect_photos(decoded[start : start + a.batch])

            times[name].append(measure(every_face, a.seconds, min_calls=2)["median_ms"] / len(greys))
    out = {
        "faces": len(greys),
        "faces_per_call": a.batch,
        "ms_per_face": {name: statistics.median(t) for name, t in times.items()},
        "ms_rounds": times,
    }
    out["ratio"] = out["ms_per_face"]["upright_step"] / out["ms_per_face"]["one_pass"]
    batch = f"_batch{a.batch}" if a.batch != 1 else ""
    write_result(a.out or RESULTS / "speed" / f"upright_cost_{a.model}{batch}.json", out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
