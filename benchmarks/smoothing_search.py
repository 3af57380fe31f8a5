"""Choose the smoothing filter's knobs on training clips: the tracker runs once unsmoothed, and
every setting of the grid filters the same readings (the filter never changes what is read: the
next frame is framed by the points as read).

Usage::

    python benchmarks/video_clips.py --ibug $IBUG --subset helen_trainset --seed 1 --out $RUNS/video_clips_train
    python benchmarks/smoothing_search.py --clips $RUNS/video_clips_train \\
        --out benchmarks/results/video/smoothing_search_train.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from video_benchmark import clip_metrics, summary

from isnet.api import LandmarkDetector
from isnet.imageio import video_frames
from isnet.provenance import write_result
from isnet.smoothing import FaceSmoother, SmoothingConfig

GRID = {
    "min_cutoff": (0.3, 0.5, 1.0),
    "beta": (2.0, 5.0, 10.0, 20.0),
    "shape_min_cutoff": (0.1, 0.3, 1.0),
}


def raw_readings(det: LandmarkDetector, clip: Path) -> list[list[tuple[int, float, np.ndarray]]]:
    """Per frame ``(track, time, (5, 2) points)`` of each face, unsmoothed."""
    frames, _, _ = video_frames(clip)
    images, clock = itertools.tee(frames)
    times = []
    out = []
    for faces in det.track((f.image for f in images), (times.append(f.time) or f.time for f in clock), smooth=False):
        out.append([(f.track, times[-1], f.landmarks) for f in faces])
    return out


def smoothed(raw: list, config: SmoothingConfig) -> list:
    """``raw`` filtered per track, as the tracker would show it."""
    filters: dict[int, FaceSmoother] = {}
    out = []
    for faces in raw:
        shown = []
        for track, time, points in faces:
            f = filters.setdefault(track, FaceSmoother(config))
            shown.append((track, f(points, points, time)))
        out.append(shown)
    return out


def main(args: argparse.Namespace) -> dict:
    manifest = json.loads((Path(args.clips) / "clips.json").read_text())
    det = LandmarkDetector(threads=1)
    raws = [raw_readings(det, Path(args.clips) / c["file"]) for c in manifest["clips"]]
    rows = []
    for values in itertools.product(*GRID.values()):
        config = SmoothingConfig(**dict(zip(GRID, values)))
        parts = []
        for clip, raw in zip(manifest["clips"], raws):
            part = clip_metrics(smoothed(raw, config), clip)
            part["seconds"], part["frames"] = 0.0, len(raw)
            parts.append(part)
        s = summary(parts, 0.0, 1)
        rows.append(
            {
                **dict(zip(GRID, values)),
                **{k: s[k] for k in ("flicker_moving_pct", "flicker_still_pct", "nme_offset_free_pct", "lag_frames")},
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr)
    unsmoothed = []
    for clip, raw in zip(manifest["clips"], raws):
        part = clip_metrics([[(t, p) for t, _, p in faces] for faces in raw], clip)
        part["seconds"], part["frames"] = 0.0, len(raw)
        unsmoothed.append(part)
    out = {"grid": GRID, "unsmoothed": summary(unsmoothed, 0.0, 1), "rows": rows}
    if args.out:
        write_result(args.out, out)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", required=True)
    p.add_argument("--out", default=None)
    main(p.parse_args())
