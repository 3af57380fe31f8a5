"""Golden points of the default pipeline, and how far they move across backends and threads.

``LandmarkDetector()`` on defaults reads a few real photos (demo faces upright, and the first
turned by 30 and by 60 degrees, which take the turned copies and the roll network's paths):
``detect()`` on each photo and ``predict()`` on its annotated box. Each configuration (PyTorch
and onnxruntime at 1 and 2 threads, and PyTorch on the generic no-AVX kernels) runs in its own
process; the onnxruntime one-thread run is the golden, and the largest move of any point, quality
and roll from it over the configurations is the spread that tests/test_pipeline_golden.py's
tolerance is set from.

Usage:
    python benchmarks/golden_pipeline.py [--out benchmarks/results/golden/pipeline.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# (demo validation face, turn of the photo in degrees, counter-clockwise as seen)
PHOTOS = ((0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0), (0, 30.0), (1, 30.0), (2, 30.0), (3, 30.0), (0, 60.0), (1, 60.0))
# name: (backend, threads, extra environment)
CONFIGS = {
    "onnx_1_thread": ("onnx", 1, {}),
    "onnx_2_threads": ("onnx", 2, {}),
    "torch_1_thread": ("torch", 1, {}),
    "torch_2_threads": ("torch", 2, {}),
    "torch_1_thread_generic_kernels": ("torch", 1, {"ATEN_CPU_CAPABILITY": "default"}),
}
GOLDEN = "onnx_1_thread"


def photo(index: int, turn: float) -> tuple[np.ndarray, np.ndarray]:
    """A demo validation photo (BGR) turned by ``turn`` degrees, and its annotated box ``[x, y, w, h]`` turned alike."""
    from isnet.assets import demo_list
    from isnet.boxes import ltrb_to_xywh, xywh_to_ltrb
    from isnet.data import read_sun_list
    from isnet.imageio import to_bgr_grey
    from isnet.transforms import turn_image

    sample = read_sun_list(demo_list("val"))[index]
    bgr = to_bgr_grey(sample.image)[0]
    box = ltrb_to_xywh(sample.box[None])
    if turn == 0:
        return bgr, box
    turned, matrix = turn_image(bgr, turn)
    corners = xywh_to_ltrb(box)[0]
    pts = np.array(
        [[corners[0], corners[1]], [corners[2], corners[1]], [corners[0], corners[3]], [corners[2], corners[3]]]
    )
    moved = pts @ matrix[:, :2].T + matrix[:, 2]
    # The box of the turned face: a square about its turned corners' centre, of the box's side.
    lo, hi = moved.min(0), moved.max(0)
    centre, side = (lo + hi) / 2, float(box[0, 2])
    return turned, np.array([[*(centre - side / 2), side, side]])


def read_all(backend: str, threads: int) -> list[dict]:
    """Per photo: the best-scored face of ``detect()`` and the face of ``predict()`` on its box."""
    from isnet.api import LandmarkDetector

    det = LandmarkDetector(backend=backend, threads=threads)
    out = []
    for index, turn in PHOTOS:
        bgr, box = photo(index, turn)
        best = max(det.detect(bgr), key=lambda f: f.score)
        given = det.predict(bgr, box)[0]
        out.append({"photo": [index, turn], "detect": face_dict(best), "predict": face_dict(given)})
    return out


def face_dict(face) -> dict:
    return {"landmarks": face.landmarks.tolist(), "quality": face.quality, "roll": face.roll, "box": face.box.tolist()}


def spread(runs: dict[str, list[dict]]) -> dict:
    """Largest move from the golden run over the configurations, apart for upright and turned
    photos: points (px), quality, roll (degrees). Every view is one OpenCV warp of the photo, which
    snaps source positions to 1/32 pixel, so a frame that moves by float noise can move a pixel of
    the view and the points by some hundredths of a pixel."""
    golden = runs[GOLDEN]
    out = {}
    for group in ("upright", "turned"):
        worst = {"landmarks_px": 0.0, "quality": 0.0, "roll_degrees": 0.0}
        for run in runs.values():
            for a, b in zip(run, golden):
                if (a["photo"][1] == 0) != (group == "upright"):
                    continue
                for call in ("detect", "predict"):
                    x, y = a[call], b[call]
                    moved = float(np.abs(np.subtract(x["landmarks"], y["landmarks"])).max())
                    worst["landmarks_px"] = max(worst["landmarks_px"], moved)
                    worst["quality"] = max(worst["quality"], abs(x["quality"] - y["quality"]))
                    worst["roll_degrees"] = max(worst["roll_degrees"], abs(x["roll"] - y["roll"]))
        out[group] = worst
    return out


def main(args: argparse.Namespace) -> dict:
    from isnet.provenance import write_result

    runs = {}
    for name, (backend, threads, env) in CONFIGS.items():
        cmd = [sys.executable, __file__, "--child", backend, str(threads)]
        done = subprocess.run(cmd, env=os.environ | env, capture_output=True, text=True, check=True)
        runs[name] = json.loads(done.stdout)
        print(name, "done", file=sys.stderr)
    result = {
        "what": "LandmarkDetector() on defaults: detect() and predict() on demo photos; golden = onnx at 1 thread",
        "photos": [list(p) for p in PHOTOS],
        "configurations": {k: {"backend": b, "threads": t, "env": e} for k, (b, t, e) in CONFIGS.items()},
        "spread": spread(runs),
        "golden": runs[GOLDEN],
    }
    write_result(args.out, result)
    print(json.dumps(result["spread"], indent=1))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(read_all(sys.argv[2], int(sys.argv[3]))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "golden" / "pipeline.json"))
    main(parser.parse_args())
