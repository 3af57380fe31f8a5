"""Folders through isnet predict: photos per second on two cores against dlib, and peak memory.

Usage: python benchmarks/bench_folders.py [--out benchmarks/results/speed/folders.json]
Folders are made in a temporary directory: 200 JPEG photos of 640x480 (the benchmark photo,
isnet.benchmark.demo_photo, shifted a little each time so no two files are alike) and the 400
embedded demo faces. Throughput: isnet.peers.per_folder (isnet's pipeline in this process,
dlib HOG + 68 points in two processes). Memory: peak resident memory of a whole
`isnet predict FOLDER -o /dev/null` process on 100 and on 1,000 photos (the demo faces, repeated
as links), which must not grow with the folder.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from isnet.assets import DEMO_DIR
from isnet.benchmark import demo_photo
from isnet.imageio import IMAGE_SUFFIXES
from isnet.peers import per_folder
from isnet.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results"


def photo_folder(root: Path, n: int) -> Path:
    folder = root / "photos_640x480"
    folder.mkdir()
    photo = demo_photo()
    for i in range(n):
        shifted = np.roll(photo, (i % 7) - 3, axis=1)
        cv2.imwrite(str(folder / f"{i:04d}.jpg"), shifted, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return folder


def linked_folder(root: Path, n: int) -> Path:
    faces = sorted(p for p in DEMO_DIR.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    folder = root / f"faces_{n}"
    folder.mkdir()
    for i in range(n):
        (folder / f"{i:04d}{faces[i % len(faces)].suffix}").symlink_to(faces[i % len(faces)])
    return folder


def peak_memory_mb(folder: Path) -> float:
    """Peak resident memory of one `isnet predict` process over ``folder``, in MB."""
    cmd = [sys.executable, "-m", "isnet.cli", "predict", str(folder), "--quiet", "-o", os.devnull]
    code = f"import resource, subprocess; subprocess.run({cmd!r}, check=True); "
    code += "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024  # ru_maxrss is in kB on Linux


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=RESULTS / "speed" / "folders.json", help="JSON file to write")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        result = {
            "photos_640x480": per_folder(photo_folder(root, 200)),
            "demo_faces_250x250": per_folder(DEMO_DIR),
            "peak_memory_mb": {str(n): peak_memory_mb(linked_folder(root, n)) for n in (100, 1000)},
        }
    write_result(a.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
