"""Photos of known content for measuring detection: large backgrounds without faces, real faces pasted in.

Backgrounds: smooth colour noise, noise with stripes and skin-toned or dark blobs, and tiles
cut from real photos away from their annotated face. Faces: the annotated face of a real photo,
its box grown by 40 % a side, blended in through a feathered ellipse (so that neighbours in its
photo stay out) at a known place and size. Used by ``benchmarks/large_photos.py`` (false faces
per megapixel) and ``scripts/fit_quality.py`` (false detections as the quality's negatives).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from isnet.data import Sample, reduce_to_cuhk5
from isnet.imageio import to_bgr_grey
from isnet.schemes import get_scheme

__all__ = ["BACKGROUNDS", "Photo", "make_photos", "paste_faces", "photo_patches", "shapes", "smooth_noise"]


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


BACKGROUNDS = ("noise", "shapes", "photo_patches")


def make_photos(samples: list[Sample], n: int, side: int, seed: int, faces: int = 8) -> list[Photo]:
    """``n`` photos ``side`` x ``2 side / 3``: backgrounds of each kind in turn (:data:`BACKGROUNDS`),
    ``faces`` faces of ``samples`` pasted in every other one (0: none)."""
    rng = np.random.default_rng(seed)
    h, w = 2 * side // 3, side
    out = []
    for i in range(n):
        kind = BACKGROUNDS[i % len(BACKGROUNDS)]
        if kind == "noise":
            canvas = smooth_noise(rng, h, w)
        elif kind == "shapes":
            canvas = shapes(rng, h, w)
        else:
            canvas = photo_patches(rng, samples, h, w)
        truth = paste_faces(rng, canvas, samples, faces, (40, 400)) if faces and i % 2 else np.zeros((0, 5, 2))
        out.append(Photo(canvas, truth, kind + ("_with_faces" if len(truth) else "")))
    return out
