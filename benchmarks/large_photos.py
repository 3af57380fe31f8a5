"""False faces and missed faces on large photos of known content.

Photos made here: large backgrounds without faces (smooth noise, stripes and blobs, and tiled
patches cut from the corners of real photos, away from their annotated face), some with real
faces pasted in at known places and sizes. Every detection that matches no pasted face is a
false face. Reported per setting of the detector: false faces per megapixel and their quality (now, and
under the quality fit shipped before, ``--before-fit``), faces found of those pasted, their
five-point NME (over the eye-centre distance) and quality, seconds per photo and peak memory.

Usage:
    python benchmarks/large_photos.py --faces $IBUG/helen_testset [--photos 6] [--side 6000]

The faces pasted come from ``--faces`` (a folder of .jpg/.pts pairs); the patches of real
photos from the same folder's photo corners.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from isnet.api import LandmarkDetector
from isnet.data import read_list, reduce_to_cuhk5
from isnet.detectors import YuNet
from isnet.evaluation import match_by_centre
from isnet.imageio import to_bgr_grey
from isnet.provenance import portable
from isnet.quality import quality_of
from isnet.synthetic import make_photos

REPO = Path(__file__).resolve().parents[1]


class WholePhotoYuNet(YuNet):
    """YuNet as it was before tiling: a photo at full resolution read whole (the "before" row)."""

    def detect_raw(self, image: np.ndarray) -> np.ndarray:
        return self._detect_shrunk(image, self.max_side)


# name: the detector (YuNet's longer side for detection; None: full resolution)
SETTINGS = {
    "max_side_320": lambda: YuNet(max_side=320),
    "full_resolution_whole_photo": lambda: WholePhotoYuNet(max_side=None),
    "full_resolution_tiled": lambda: YuNet(max_side=None),
}


def score_photo(det: LandmarkDetector, path: Path, truth: np.ndarray, kind: str, before_fit: dict) -> dict:
    """Detections in the photo file ``path`` matched to the pasted faces' ``(n, 5, 2)`` points;
    the rest are false faces, with their quality now and under ``before_fit``."""
    bgr = to_bgr_grey(path)[0]
    t = time.perf_counter()
    faces = det.detect(bgr)
    seconds = time.perf_counter() - t
    boxes = np.array([f.box for f in faces]).reshape(-1, 4)
    matched, nmes = set(), []
    for points in truth:
        j = match_by_centre(boxes, points)
        if j < 0 or j in matched:
            continue
        matched.add(j)
        five = faces[j].landmarks
        if len(five) != 5:
            five = reduce_to_cuhk5(five[None], det.scheme)[0]
        nmes.append(float(np.linalg.norm(five - points, axis=1).mean() / np.linalg.norm(points[1] - points[0])))
    found_quality = [faces[j].quality for j in matched]
    false = [f for k, f in enumerate(faces) if k not in matched]
    return {
        "kind": kind,
        "megapixels": bgr.shape[0] * bgr.shape[1] / 1e6,
        "pasted": len(truth),
        "found": len(matched),
        "nme": nmes,
        "found_quality": found_quality,
        "false": [
            {
                "score": f.score,
                "quality": f.quality,
                "quality_before": float(quality_of({k: np.array([v]) for k, v in f.signals.items()}, before_fit)[0]),
                "side": float(f.box[2]),
            }
            for f in false
        ],
        "seconds": seconds,
    }


def summarise(rows: list[dict]) -> dict:
    mp = sum(r["megapixels"] for r in rows)
    false = [f for r in rows for f in r["false"]]
    nme = np.array([v for r in rows for v in r["nme"]])
    found_q = np.array([v for r in rows for v in r["found_quality"]])
    out = {
        "photos": len(rows),
        "megapixels": round(mp, 2),
        "false_faces": len(false),
        "false_faces_per_megapixel": len(false) / mp,
    }
    for key in ("quality_before", "quality"):
        q = np.array([f[key] for f in false])
        out[f"false_{key}_max"] = float(q.max()) if len(q) else None
        out[f"false_{key}_mean"] = float(q.mean()) if len(q) else None
        out[f"false_with_{key}_at_least_0.5"] = int((q >= 0.5).sum())
    out |= {
        "pasted_faces": sum(r["pasted"] for r in rows),
        "found_faces": sum(r["found"] for r in rows),
        "nme_found_mean": float(nme.mean()) if len(nme) else None,
        "found_quality_mean": float(found_q.mean()) if len(found_q) else None,
        "found_with_quality_below_0.5": int((found_q < 0.5).sum()),
        "seconds_per_photo_mean": float(np.mean([r["seconds"] for r in rows])),
    }
    return out


def write_photos(args: argparse.Namespace, folder: Path) -> list[dict]:
    """Make the photos and write each as a JPEG (quality 95), as a user's photo arrives; their truth beside."""
    samples = read_list(args.faces, "pts", target="ibug68")
    out = []
    for i, photo in enumerate(make_photos(samples, args.photos, args.side, args.seed)):
        path = folder / f"{i}_{photo.kind}.jpg"
        cv2.imwrite(str(path), photo.bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        out.append({"path": str(path), "truth": photo.truth.tolist(), "kind": photo.kind})
    return out


def run_setting(photos: list[dict], name: str, before_fit: dict) -> dict:
    """One setting on every photo, in this process (its peak memory is the setting's: one photo
    decoded at a time, detection, landmarks)."""
    det = LandmarkDetector(None, SETTINGS[name](), threads=1)
    rows = [
        score_photo(det, Path(p["path"]), np.array(p["truth"]).reshape(-1, 5, 2), p["kind"], before_fit) for p in photos
    ]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"summary": summarise(rows) | {"peak_rss_mb": rss}, "photos": rows}


def main(args: argparse.Namespace) -> dict:
    from isnet.provenance import write_result

    before_fit = json.loads(Path(args.before_fit).read_text())
    result: dict = {"side": args.side, "photos": args.photos, "before_fit": portable(args.before_fit), "settings": {}}
    with tempfile.TemporaryDirectory() as folder:
        photos = write_photos(args, Path(folder))
        (Path(folder) / "photos.json").write_text(json.dumps({"photos": photos, "before_fit": before_fit}))
        for name in args.settings:
            # A process per setting: peak memory is a process's, and must be the setting's alone.
            cmd = [sys.executable, __file__, "--child", name, str(Path(folder) / "photos.json")]
            done = subprocess.run(cmd, capture_output=True, text=True, check=True)
            result["settings"][name] = json.loads(done.stdout)
            print(name, json.dumps(result["settings"][name]["summary"]), file=sys.stderr)
    result["kinds"] = [p["kind"] for p in photos]
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faces", required=True, help="folder of .jpg/.pts faces to paste and cut patches from")
    p.add_argument("--photos", type=int, default=6)
    p.add_argument("--side", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument(
        "--before-fit",
        default=str(REPO / "benchmarks" / "results" / "large_photos" / "quality_fit_before.json"),
        help="the quality fit to compare with (the one shipped before false faces were in its fit)",
    )
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "large_photos" / "false_faces.json"))
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        spec = json.loads(Path(sys.argv[3]).read_text())
        print(json.dumps(run_setting(spec["photos"], sys.argv[2], spec["before_fit"])))
        sys.exit(0)
    main(p.parse_args())
