"""Build the mean 3D face that head pose is fitted to (weights/face_model_ibug68.json).

Usage: python scripts/make_face_model.py --list $RUNS/ibug68/train.txt

x and y: the mean of the 300-W training faces' 68 points (scripts/ibug68_split.py's 1,812 faces),
each face aligned to the mean by a similarity (generalised Procrustes) and the mean averaged with
its mirror image, so that the model is symmetric and looks straight at the camera. Scaled to
63 mm between the eye centres (the adult mean interpupillary distance).

z: the depth of each point behind the nose tip, in mm, from anthropometric averages of adult
faces (nose tip 0, nasion about 20, eye corners 24-32, mouth corners 28, the jaw receding to
about 95 at the ears). Only relative depths matter for the pose, and only roughly: the pose is
fitted by least squares to points whose depths vary far less between people than between the
regions.

``fit``: whether a point enters the pose fit. The jaw's sides are where the face's outline
is seen, which slides over the skin as the head turns, so only the chin's five points enter.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from isnet.assets import FACE_MODEL
from isnet.data import read_list
from isnet.provenance import write_result
from isnet.schemes import get_scheme

# Depth behind the nose tip (mm) per 300-W point, by region; see the module docstring.
JAW_DEPTH = (95, 88, 80, 70, 55, 40, 30, 24, 20, 24, 30, 40, 55, 70, 80, 88, 95)
BROW_DEPTH = (30, 24, 20, 18, 18)  # outer to inner, image-left brow
NOSE_BRIDGE_DEPTH = (20, 14, 8, 0)  # nasion down to the tip (point 30)
NOSE_BASE_DEPTH = (18, 14, 12, 14, 18)  # alar base, nostril, subnasale, ...
EYE_LEFT_DEPTH = (32, 25, 25, 24, 25, 25)  # outer corner, upper lid x2, inner corner, lower lid x2
EYE_RIGHT_DEPTH = (24, 25, 25, 32, 25, 25)  # inner corner, upper lid x2, outer corner, lower lid x2
MOUTH_OUTER_DEPTH = (28, 20, 16, 14, 16, 20, 28, 22, 18, 16, 18, 22)
MOUTH_INNER_DEPTH = (27, 18, 17, 18, 27, 18, 17, 18)
CHIN = (6, 7, 8, 9, 10)
INTERPUPILLARY_MM = 63.0


def depths() -> np.ndarray:
    return np.array(
        [
            *JAW_DEPTH,
            *BROW_DEPTH,
            *BROW_DEPTH[::-1],
            *NOSE_BRIDGE_DEPTH,
            *NOSE_BASE_DEPTH,
            *EYE_LEFT_DEPTH,
            *EYE_RIGHT_DEPTH,
            *MOUTH_OUTER_DEPTH,
            *MOUTH_INNER_DEPTH,
        ],
        dtype=np.float64,
    )


def align(shape: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``shape`` ``(K, 2)`` moved, turned and scaled onto ``reference`` (least squares)."""
    a, b = shape - shape.mean(0), reference - reference.mean(0)
    za, zb = a[:, 0] + 1j * a[:, 1], b[:, 0] + 1j * b[:, 1]
    z = za * (np.vdot(za, zb) / np.vdot(za, za))
    return np.stack([z.real, z.imag], 1)


def mean_shape(shapes: np.ndarray, flip: list[int], iterations: int = 10) -> np.ndarray:
    """Generalised Procrustes mean of ``(N, K, 2)`` shapes, turned upright and made
    symmetric about ``x = 0``."""
    mean = shapes[0] - shapes[0].mean(0)
    for _ in range(iterations):
        mean = np.mean([align(s, mean) for s in shapes], axis=0)
        mean /= np.linalg.norm(mean)
    # Upright: the sum of the vectors joining mirror pairs points along the x axis.
    across = sum(mean[b] - mean[a] for a, b in enumerate(flip) if b > a)
    angle = np.arctan2(across[1], across[0])
    c, s = np.cos(-angle), np.sin(-angle)
    mean = (mean - mean.mean(0)) @ np.array([[c, s], [-s, c]])
    return (mean + mean[flip] * np.array([-1.0, 1.0])) / 2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--list", required=True, help="300-W .pts faces (a folder or a list)")
    p.add_argument("--out", default=str(FACE_MODEL))
    args = p.parse_args()
    scheme = get_scheme("ibug68")
    samples = read_list(args.list, "pts", scheme="ibug68", target="ibug68", skip_bad=True)
    shapes = np.stack([s.landmarks for s in samples])
    mean = mean_shape(shapes, scheme.flip_permutation())
    eyes = mean[list(scheme.left_eye)].mean(0), mean[list(scheme.right_eye)].mean(0)
    mean = (mean - mean[30]) * INTERPUPILLARY_MM / np.linalg.norm(eyes[1] - eyes[0])
    mean[np.abs(mean[:, 0]) < 1e-9, 0] = 0.0
    fit = [i not in range(17) or i in CHIN for i in range(68)]
    points = np.column_stack([mean, depths()])
    result = {
        "scheme": "ibug68",
        "units": "mm; x to the image's right, y down, z away from the camera; the nose tip at 0",
        "faces": len(samples),
        "points": [[round(float(v), 2) for v in p] for p in points],
        "fit": fit,
    }
    write_result(args.out, result, sys.argv)
    print(f"{args.out}: the mean of {len(samples)} faces")


if __name__ == "__main__":
    main()
