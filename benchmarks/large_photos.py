"""False faces and missed faces on large photos of known content.

Photos made here: large backgrounds without faces (smooth noise, stripes and blobs, and tiled
patches cut from the corners of real photos, away from their annotated face), some with real
faces pasted in at known places and sizes. Every detection that matches no pasted face is a
false face. Reported per setting of the detector: false faces per megapixel and their quality,
faces found of those pasted and their five-point NME (over the eye-centre distance), seconds and
peak memory per photo.

Usage:
    python benchmarks/large_photos.py --faces $IBUG/helen_testset [--photos 6] [--side 6000]

The faces pasted come from ``--faces`` (a folder of .jpg/.pts pairs); the patches of real
photos from the same folder's photo corners.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from isnet.api import LandmarkDetector
from isnet.data import Sample, read_list, reduce_to_cuhk5
from isnet.detectors import YuNet
from isnet.evaluation import match_by_centre
from isnet.imageio import to_bgr_grey
from isnet.schemes import get_scheme

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Photo:
    """A made photo: ``(H, W, 3)`` BGR pixels, the pasted faces' ``(n, 5, 2)`` points, its kind."""

    bgr: np.ndarray
    truth: np.ndarray
    kind: str


def smooth_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Colour noise summed over octaves from 4 to 512 pixels: clouds, foliage, plaster."""
    out = np.zeros((h, w, 3), np.float32)
    for cell in (512, 128, 32, 8):
        small = rng.uniform(0, 255, (max(2, h // cell), max(2, w // cell), 3)).astype(np.float32)
        out += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC) / 4
    return np.clip(out, 0, 255).astype(np.uint8)


def shapes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Stripes, then skin-toned and dark ellipses and circles: blobs that look a little like eyes and heads."""
    img = smooth_noise(rng, h, w)
    for _ in range(int(h * w / 2e5)):
        x, y = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        a, b = int(rng.uniform(10, 300)), int(rng.uniform(10, 300))
        colour = (
            tuple(int(c) for c in rng.uniform([60, 90, 140], [140, 180, 240]))
            if rng.uniform() < 0.5
            else tuple(int(c) for c in rng.uniform(0, 80, 3))
        )
        cv2.ellipse(img, (x, y), (a, b), float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
    for _ in range(int(h * w / 1e6)):
        y = int(rng.uniform(0, h))
        cv2.line(img, (0, y), (w, y + int(rng.uniform(-200, 200))), (30, 30, 30), int(rng.uniform(2, 30)))
    return img


def photo_patches(rng: np.random.Generator, samples: list[Sample], h: int, w: int, tile: int = 200) -> np.ndarray:
    """Tiles cut from real photos' corners, outside their annotated face's box grown by a quarter of its side."""
    out = np.zeros((h, w, 3), np.uint8)
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            for _ in range(100):
                s = samples[int(rng.integers(len(samples)))]
                bgr = to_bgr_grey(s.image)[0]
                (left, t), (r, b) = s.box[:2], s.box[2:]
                grow = 0.25 * (r - left)
                left, t, r, b = left - grow, t - grow, r + grow, b + grow
                ih, iw = bgr.shape[:2]
                side = int(rng.integers(16, 48))
                px, py = int(rng.integers(0, max(1, iw - side))), int(rng.integers(0, max(1, ih - side)))
                if px + side < left or px > r or py + side < t or py > b:
                    patch = cv2.resize(bgr[py : py + side, px : px + side], (tile, tile), interpolation=cv2.INTER_CUBIC)
                    out[y : y + tile, x : x + tile] = patch[: min(tile, h - y), : min(tile, w - x)]
                    break
    return out


def paste_faces(
    rng: np.random.Generator, canvas: np.ndarray, samples: list[Sample], n: int, sizes: tuple[int, int]
) -> np.ndarray:
    """Paste ``n`` faces (the annotated face's box grown by 40 % a side, blended in through a
    feathered ellipse so that neighbours in its photo stay out, scaled so the face box is
    ``sizes`` px) at random places that do not overlap; returns their ``(n, 5, 2)`` points in the canvas."""
    h, w = canvas.shape[:2]
    taken: list[tuple[int, int, int, int]] = []
    truth = []
    scheme = get_scheme("ibug68")
    for _ in range(n):
        s = samples[int(rng.integers(len(samples)))]
        bgr = to_bgr_grey(s.image)[0]
        face_side = s.box[2] - s.box[0]
        grow = 0.4 * face_side
        left, t = (int(max(0, v - grow)) for v in s.box[:2])
        r, b = (int(min(lim, v + grow)) for v, lim in zip(s.box[2:], bgr.shape[1::-1]))
        f = float(rng.uniform(*sizes)) / face_side
        img = cv2.resize(bgr[t:b, left:r], None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        ph, pw = img.shape[:2]
        mask = np.zeros((ph, pw), np.float32)
        cv2.ellipse(mask, (pw // 2, ph // 2), (int(0.45 * pw), int(0.48 * ph)), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), 0.04 * pw)[..., None]
        for _ in range(100):
            x, y = int(rng.integers(0, w - pw)), int(rng.integers(0, h - ph))
            if all(x + pw < a or x > c or y + ph < b or y > d for a, b, c, d in taken):
                break
        else:
            continue
        taken.append((x, y, x + pw, y + ph))
        under = canvas[y : y + ph, x : x + pw].astype(np.float32)
        canvas[y : y + ph, x : x + pw] = (mask * img + (1 - mask) * under).astype(np.uint8)
        points = (s.landmarks - (left, t) + 0.5) * f - 0.5 + (x, y)
        truth.append(reduce_to_cuhk5(points[None], scheme)[0] if len(points) != 5 else points)
    return np.array(truth).reshape(-1, 5, 2)


def make_photos(samples: list[Sample], n: int, side: int, seed: int) -> list[Photo]:
    """``n`` photos ``side`` x ``2 side / 3``: backgrounds of each kind in turn, faces in every other one."""
    rng = np.random.default_rng(seed)
    h, w = 2 * side // 3, side
    kinds = ("noise", "shapes", "photo_patches")
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        canvas = {
            "noise": lambda: smooth_noise(rng, h, w),
            "shapes": lambda: shapes(rng, h, w),
            "photo_patches": lambda: photo_patches(rng, samples, h, w),
        }[kind]()
        truth = paste_faces(rng, canvas, samples, 8, (40, 400)) if i % 2 else np.zeros((0, 5, 2))
        out.append(Photo(canvas, truth, kind + ("_with_faces" if i % 2 else "")))
    return out


def score_photo(det: LandmarkDetector, photo: Photo) -> dict:
    """Detections matched to the pasted faces; the rest are false faces."""
    t = time.perf_counter()
    faces = det.detect(photo.bgr)
    seconds = time.perf_counter() - t
    boxes = np.array([f.box for f in faces]).reshape(-1, 4)
    matched, nmes = set(), []
    for truth in photo.truth:
        j = match_by_centre(boxes, truth)
        if j < 0 or j in matched:
            continue
        matched.add(j)
        five = (
            faces[j].landmarks
            if len(faces[j].landmarks) == 5
            else reduce_to_cuhk5(faces[j].landmarks[None], det.scheme)[0]
        )
        nmes.append(float(np.linalg.norm(five - truth, axis=1).mean() / np.linalg.norm(truth[1] - truth[0])))
    false = [f for k, f in enumerate(faces) if k not in matched]
    return {
        "kind": photo.kind,
        "megapixels": photo.bgr.shape[0] * photo.bgr.shape[1] / 1e6,
        "pasted": len(photo.truth),
        "found": len(matched),
        "nme": nmes,
        "false": [{"score": f.score, "quality": f.quality, "side": float(f.box[2])} for f in false],
        "seconds": seconds,
    }


def summarise(rows: list[dict]) -> dict:
    mp = sum(r["megapixels"] for r in rows)
    false = [f for r in rows for f in r["false"]]
    q = np.array([f["quality"] for f in false if f["quality"] is not None])
    nme = np.array([v for r in rows for v in r["nme"]])
    return {
        "photos": len(rows),
        "megapixels": round(mp, 2),
        "false_faces": len(false),
        "false_faces_per_megapixel": len(false) / mp,
        "false_quality_max": float(q.max()) if len(q) else None,
        "false_quality_mean": float(q.mean()) if len(q) else None,
        "false_with_quality_at_least_0.5": int((q >= 0.5).sum()),
        "pasted_faces": sum(r["pasted"] for r in rows),
        "found_faces": sum(r["found"] for r in rows),
        "nme_found_mean": float(nme.mean()) if len(nme) else None,
        "seconds_per_photo_mean": float(np.mean([r["seconds"] for r in rows])),
    }


SETTINGS = {
    # name: YuNet's longer side for detection (None: the photo as it is, however large)
    "max_side_320": 320,
    "max_side_0": None,
}


def main(args: argparse.Namespace) -> dict:
    from isnet.provenance import write_result

    samples = read_list(args.faces, "pts", target="ibug68")
    photos = make_photos(samples, args.photos, args.side, args.seed)
    result: dict = {"photos": [p.kind for p in photos], "side": args.side, "settings": {}}
    for name in args.settings:
        det = LandmarkDetector(None, YuNet(max_side=SETTINGS[name]), threads=1)
        rows = [score_photo(det, p) for p in photos]
        result["settings"][name] = {"summary": summarise(rows), "photos": rows}
        print(name, json.dumps(result["settings"][name]["summary"]), file=sys.stderr)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--faces", required=True, help="folder of .jpg/.pts faces to paste and cut patches from")
    p.add_argument("--photos", type=int, default=6)
    p.add_argument("--side", type=int, default=6000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "large_photos" / "false_faces.json"))
    main(p.parse_args())
