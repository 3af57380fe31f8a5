"""Fit the box-from-five-points relation of isnet.data.box_from_landmarks on a Sun list.

Usage: python scripts/fit_box_from_landmarks.py ../shared/data/cuhk_facepoint/trainImageList.txt
Prints dx, dy, scale: box centre = point centre + (dx, dy) * spread, side = scale * spread,
with spread = max(x range, y range) of the five points, fitted by least squares.
"""

import sys

import numpy as np

from isnet.data import read_sun_list


def main(path: str) -> None:
    samples = read_sun_list(path)
    lm = np.stack([s.landmarks for s in samples])
    box = np.stack([s.box for s in samples])
    spread = np.maximum(np.ptp(lm[:, :, 0], axis=1), np.ptp(lm[:, :, 1], axis=1))
    centre = lm.mean(axis=1)
    box_centre = 0.5 * (box[:, :2] + box[:, 2:])
    side = 0.5 * ((box[:, 2] - box[:, 0]) + (box[:, 3] - box[:, 1]))
    dx = float(np.sum((box_centre[:, 0] - centre[:, 0]) * spread) / np.sum(spread**2))
    dy = float(np.sum((box_centre[:, 1] - centre[:, 1]) * spread) / np.sum(spread**2))
    scale = float(np.sum(side * spread) / np.sum(spread**2))
    print(f"dx={dx:.4f} dy={dy:.4f} scale={scale:.4f} (n={len(samples)})")


if __name__ == "__main__":
    main(sys.argv[1])
