"""Fit the box-from-five-points relation of isnet.boxes.box_from_landmarks on a Sun list.

Usage: python scripts/fit_box_from_landmarks.py $DATA/trainImageList.txt [--out FILE]
Writes src/isnet/weights/box_from_points.json (read by isnet.boxes): box centre = point
centre + (dx, dy) * spread, side = scale * spread, with spread = max(x range, y range) of the
five points, fitted by least squares. The constants are kept to 4 decimals, the precision
the shipped models were trained and measured with.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from isnet.assets import BOX_FROM_POINTS
from isnet.boxes import fit_box_from_points
from isnet.data import read_sun_list


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("list", help="Sun-format training list")
    p.add_argument("--out", default=str(BOX_FROM_POINTS), help="JSON file to write")
    a = p.parse_args()
    samples = read_sun_list(a.list)
    fit = fit_box_from_points(np.stack([s.landmarks for s in samples]), np.stack([s.box for s in samples]))
    out = {k: round(v, 4) for k, v in fit.items()}
    out |= {
        "model": "box centre = five-point centre + (dx, dy) * spread; side = scale * spread; "
        "spread = max(x range, y range) of the five points; least squares",
        "list": Path(a.list).name,
        "n_faces": len(samples),
    }
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"{a.out}: dx={out['dx']:.4f} dy={out['dy']:.4f} scale={out['scale']:.4f} (n={len(samples)})")


if __name__ == "__main__":
    main()
