"""Faces YuNet misses against the side detection runs at (isnet predict --max-side).

Usage: python benchmarks/detection_size.py --cuhk $DATA --ibug $IBUG [--out FILE]
($DATA: the CUHK folder; $IBUG: the ibug_300w folder.) Every image of the CUHK validation list
and of ibug_300w/helen_testset is shrunk so its longer side is at most SIDE, and a face counts
as found when a detection, mapped to a CUHK box, overlaps the face's box with IoU >= 0.3 (CUHK:
the list's box; HELEN: the box drawn from its five points, as isnet evaluate --format pts does).
"""

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from isnet.boxes import iou
from isnet.data import read_list
from isnet.detectors import YuNet
from isnet.imageio import to_bgr_grey
from isnet.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results"

SIDES = (64, 96, 128, 160, 192, 256, None)


def misses(samples, side: int | None, min_iou: float = 0.3) -> dict:
    yunet = YuNet(max_side=side)
    missed, seconds = 0, 0.0
    for s in samples:
        bgr = to_bgr_grey(s.image)[0]
        t = time.perf_counter()
        boxes, _ = yunet(bgr)
        seconds += time.perf_counter() - t
        if len(boxes) == 0 or iou(yunet.training_boxes(boxes), s.box).max() < min_iou:
            missed += 1
    return {"max_side": side, "faces": len(samples), "missed": missed, "ms_per_image": 1000 * seconds / len(samples)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cuhk", required=True, help="CUHK folder with testImageList.txt")
    p.add_argument("--ibug", required=True, help="ibug_300w folder with helen_testset/")
    p.add_argument(
        "--out",
        type=Path,
        default=RESULTS / "detection" / "max_side.json",
        help="JSON file to write (default: benchmarks/results/detection/max_side.json)",
    )
    a = p.parse_args()
    cv2.setNumThreads(1)
    sets = {
        "cuhk_validation": read_list(Path(a.cuhk) / "testImageList.txt", "sun"),
        "helen_testset": read_list(Path(a.ibug) / "helen_testset", "pts"),
    }
    out = {"threads": 1}
    for name, samples in sets.items():
        shapes = np.array([cv2.imread(str(s.image)).shape[:2] for s in samples[:50]])
        out[name] = {"longer_side_of_first_50": [int(shapes.max(1).min()), int(shapes.max(1).max())]}
        out[name]["by_side"] = [misses(samples, side) for side in SIDES]
        for r in out[name]["by_side"]:
            print(name, r)
    write_result(a.out, out)


if __name__ == "__main__":
    main()
