"""The cascade for 68 points through the pipeline: region networks (:mod:`isnet.regions`) on held-out faces.

Usage:
    python benchmarks/ibug68_cascade.py --val-list $RUNS/ibug68/val.txt
        --regions $RUNS/regions/{jaw,brows_eyes,nose,mouth}
        [--weights W ...] [--each] [--no-mirror] [--settings "one pass"] [--roll DEG] [--out FILE]
(default --out: benchmarks/results/ibug68/regions_val.json)

The region networks are trained by ``isnet train --region`` (``--region jaw``, ``--region brows eyes``,
``--region nose``, ``--region mouth`` with the shipped 68-point model's options, benchmarks/README.md).
Each row runs ``LandmarkDetector(model="ibug68", threads=1, regions=..., region_weight=W).detect``
(YuNet in front) on each held-out photo: the pipeline without region networks, then with all of
them at each ``--weights`` (1: their reading replaces the passes', 0.5: averaged); with ``--each``
each region alone too. NME over the outer eye corners, per region; the regions stage's ms a face
(the pipeline's own clock) and each network's ms a view (onnxruntime, batch 1, one thread).

Session 14's version of this script (commit 10e5f53) trained the networks itself and read them
face by face; its results (``cascade_val_*.json`` of that commit) stand. ``isnet train --region``
trains the same way (bit for bit the same weights after 300 iterations, not after 10,000: the
shipped networks are its own runs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from ibug68_candidates import network_ms
from ibug68_speed import SETTINGS

from isnet.api import LandmarkDetector
from isnet.assets import weights_path
from isnet.data import read_list, reduce_to_cuhk5
from isnet.evaluation import match_by_centre
from isnet.imageio import to_bgr_grey
from isnet.metrics import failure_rate, interocular, nme
from isnet.model import load
from isnet.provenance import portable, write_result
from isnet.schemes import get_scheme
from isnet.transforms import turn_image

RESULTS = Path(__file__).resolve().parent / "results"
IBUG68 = get_scheme("ibug68")


def pipeline_points(samples: list, roll: float = 0.0, **knobs) -> tuple[np.ndarray, np.ndarray, dict]:
    """``LandmarkDetector(model="ibug68", threads=1, **knobs).detect`` on each held-out photo turned
    ``roll`` degrees (as :func:`~isnet.evaluation.fits_on_rolled_photos` turns them): ``(N, 68, 2)``
    its points of each face (NaN where not found), the ``(N, 68, 2)`` annotation in the turned
    photo, and the network views read and the regions stage's ms, per face detected."""
    det = LandmarkDetector(model="ibug68", threads=1, **knobs)
    points, truths = np.full((len(samples), 68, 2), np.nan), np.zeros((len(samples), 68, 2))
    detected = 0
    for i, s in enumerate(samples):
        bgr, m = turn_image(to_bgr_grey(s.image)[0], roll)
        truths[i] = s.landmarks @ m[:, :2].T + m[:, 2]
        faces = det.detect(bgr)
        detected += len(faces)
        j = match_by_centre(np.array([f.box for f in faces]).reshape(-1, 4), reduce_to_cuhk5(truths[i], IBUG68))
        if j >= 0:
            points[i] = faces[j].landmarks
    per_face = max(detected, 1)
    cost = {
        "views_per_face": {k: v / per_face for k, v in det.pipeline.views.items()},
        "regions_ms_per_face": 1e3 * det.pipeline.seconds["regions"] / per_face,
    }
    return points, truths, cost


def evaluate(
    val_list: str,
    regions: list[Path],
    settings: str = "default",
    mirror: bool = True,
    roll: float = 0.0,
    each: bool = False,
    weights: tuple[float, ...] = (1.0, 0.5),
) -> dict:
    """The pipeline's NME on the held-out faces without region networks, then with all of
    ``regions`` at each of ``weights`` (``region_weight``: 1 replaces the passes' reading, 0.5
    averages), and with ``each`` each alone; on the faces every row found."""
    samples = read_list(val_list, "pts", scheme="ibug68", target="ibug68")
    base = {**SETTINGS[settings], "region_mirror": mirror}  # --no-mirror: the regions read once
    configs = {"pipeline": {**base, "regions": None}}
    # A run folder's model.pt by the folder's name, a shipped file by its region's.
    names = [r.parent.name if r.name == "model.pt" else r.stem.removeprefix("isnet_ibug68_") for r in regions]
    for weight in weights:
        how = f", weight {weight:g}"
        configs[f"pipeline + {' + '.join(names)}{how}"] = {
            **base,
            "regions": regions,
            "region_weight": weight,
        }
        if each:
            for name, path in zip(names, regions):
                configs[f"pipeline + {name}{how}"] = {
                    **base,
                    "regions": [path],
                    "region_weight": weight,
                }
    read = {name: pipeline_points(samples, roll, **knobs) for name, knobs in configs.items()}
    truth = read["pipeline"][1]
    found = np.all([np.isfinite(p).all(axis=(1, 2)) for p, _, _ in read.values()], axis=0)
    truth = truth[found]
    iod = interocular(truth, IBUG68)
    rows = {}
    for name, (points, _, cost) in read.items():
        e = nme(points[found], truth, iod)
        rows[name] = {
            "nme": float(e.mean()),
            "fr_008": failure_rate(e, 0.08),
            "per_region": {
                r: float(nme(points[found][:, list(i)], truth[:, list(i)], iod).mean()) for r, i in IBUG68.regions
            },
            **cost,
        }
        v = rows[name]
        print(
            f"{name:56s} {100 * v['nme']:.3f} %  FR {100 * v['fr_008']:.1f} %  "
            + " ".join(f"{r} {100 * x:.2f}" for r, x in v["per_region"].items())
            + f"  regions {v['regions_ms_per_face']:.2f} ms a face"
        )
    nets = {name: load(path) for name, path in zip(names, regions)}
    ms = network_ms({"shipped": load(weights_path(None, "ibug68")), **nets}, rounds=5, seconds=0.5)
    print("ms a view:", {k: round(v, 3) for k, v in ms.items()})
    return {
        "settings": settings,
        "regions_mirrored": mirror,
        "roll": roll,
        "regions": {
            name: {"region": list(c.region), "view": list(c.region_view), "input_size": c.input_size}
            for name, c in ((name, m.config) for name, m in nets.items())
        },
        "faces": int(found.sum()),
        "of": len(samples),
        "rows": rows,
        "network_ms_per_view": ms,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--val-list", required=True)
    p.add_argument(
        "--regions", type=Path, nargs="+", required=True, help="region networks: checkpoints or run folders (model.pt)"
    )
    p.add_argument("--each", action="store_true", help="each region network alone too")
    p.add_argument("--weights", type=float, nargs="+", default=[1.0, 0.5], help="region_weight values, a row each")
    p.add_argument("--settings", choices=sorted(SETTINGS), default="default", help="the pipeline's before the regions")
    p.add_argument("--no-mirror", action="store_true", help="read the regions' views unmirrored")
    p.add_argument("--roll", type=float, default=0.0, help="degrees each photo is turned (counter-clockwise)")
    p.add_argument("--out", type=Path, default=RESULTS / "ibug68" / "regions_val.json")
    a = p.parse_args()
    regions = [r / "model.pt" if r.is_dir() else r for r in a.regions]
    result = evaluate(a.val_list, regions, a.settings, not a.no_mirror, a.roll, a.each, tuple(a.weights))
    held_out = "200 held-out 300-W training faces (scripts/ibug68_split.py)"
    listed = held_out if Path(a.val_list).name == "val.txt" else portable(a.val_list)
    write_result(a.out, {"val_list": listed, **result})


if __name__ == "__main__":
    main()
