"""The cascade idea for 68 points, measured: a second network per region, on the region's own view.

Usage:
    python benchmarks/ibug68_cascade.py train REGION --train-list $RUNS/ibug68/train.txt --out $RUNS/cascade
    python benchmarks/ibug68_cascade.py evaluate --val-list $RUNS/ibug68/val.txt --runs $RUNS/cascade
        --names jaw mouth ... [--out FILE]
(default --out: benchmarks/results/ibug68/cascade_val_through_pipeline.json)

A region (:data:`REGIONS`: the jaw, the brows with the eyes, the nose, the mouth) gets its own view:
the face's frame (:meth:`~isnet.frames.Frames.of_points` of its five points) moved to the
region's centre and shrunk to its size, both fitted on the training faces' annotations
(:func:`region_view`: the median centre of the region in the upright frame, and the side that holds
the whole region in 95 % of the faces). A network of the shipped 68-point configuration (56 px,
the shipped beta, wing loss, the shipped recipe's augmentation and schedule) learns only the
region's points in that view (the loss over the others is dropped; they are read and thrown away),
from source crops cut at the view's resolution, so a zoomed view sees finer detail, not an upscaled
crop. ``evaluate`` runs the default pipeline (``LandmarkDetector(model="ibug68").detect``, YuNet in
front) on each held-out photo, then each region network on the region's view framed by the
pipeline's own points (read plain and mirrored, as the pipeline reads), and reports the NME over
the outer eye corners before and after each region's replacement (and with the mean of both
readings of the region), per region. An experiment: no
shipped path uses it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from ibug68_candidates import network_ms
from ibug68_speed import SETTINGS

from isnet.api import LandmarkDetector
from isnet.assets import weights_path
from isnet.boxes import roll_of
from isnet.data import face_crops, read_list, reduce_to_cuhk5
from isnet.evaluation import match_by_centre
from isnet.export import OnnxISNet
from isnet.frames import Frames
from isnet.imageio import to_bgr_grey
from isnet.inference import read_frames
from isnet.losses import view_to_loss_units, wing
from isnet.metrics import failure_rate, interocular, nme
from isnet.model import ISNet, load, save_checkpoint
from isnet.photo import Photo
from isnet.provenance import write_result
from isnet.schemes import get_scheme
from isnet.training import TrainConfig, batch_indices, learning_rate, make_batch, make_optimizer, start_at_the_mean_face
from isnet.transforms import turn_image

RESULTS = Path(__file__).resolve().parent / "results"
IBUG68 = get_scheme("ibug68")
_PARTS = dict(IBUG68.regions)
# Each region's points; every one is closed under mirroring, so a mirrored reading stays in it.
REGIONS = {
    "jaw": _PARTS["jaw"],
    "brows_eyes": _PARTS["brows"] + _PARTS["eyes"],
    "mouth": _PARTS["mouth"],
    "nose": _PARTS["nose"],
}
# Of the training faces, the share whose whole region the view's box holds (the margin adds more).
HELD = 0.95


def recipe(train_list: str, out: Path, iterations: int, input_size: int = 56, init: str | None = None) -> TrainConfig:
    """The shipped 68-point model's training options (its card's command), for a region network."""
    return TrainConfig(
        train_list=train_list,
        format="pts",
        pts_scheme=("ibug68",),
        skip_bad=True,
        scheme="ibug68",
        input_size=input_size,
        loss="wing",
        iterations=iterations,
        seed=0,
        threads=1,
        quiet=True,
        out=str(out),
        init=init,
    )


def face_frames(five: np.ndarray) -> Frames:
    """``(N,)`` frames of faces from ``(N, 5, 2)`` CUHK points, one photo each."""
    return Frames.of_points(np.zeros(len(five), int), five)


def region_view(points: np.ndarray, region: tuple[int, ...]) -> tuple[float, float, float]:
    """``(dx, dy, side)``: where a region sits in the upright face frame, in frame sides.

    Args:
        points: ``(N, 68, 2)`` annotated points of training faces, photo pixels.
    """
    upright = face_frames(reduce_to_cuhk5(points, IBUG68)).upright(points)[:, list(region)]
    mid = 0.5 * (upright.min(axis=1) + upright.max(axis=1))
    centre = np.median(mid, axis=0)
    half = np.abs(upright - centre).max(axis=(1, 2))
    return float(centre[0]), float(centre[1]), float(2 * np.quantile(half, HELD))


def region_frames(frames: Frames, view: tuple[float, float, float]) -> Frames:
    """The region's frames within face ``frames`` (turned with the face)."""
    dx, dy, side = view
    cos, sin = np.cos(frames.roll), np.sin(frames.roll)
    shift = np.stack([cos * dx - sin * dy, sin * dx + cos * dy], axis=1) * frames.side[:, None]
    return Frames(frames.photo.copy(), frames.centre + shift, frames.side * side, frames.roll.copy())


def region_boxes(boxes: np.ndarray, rolls: np.ndarray, view: tuple[float, float, float]) -> np.ndarray:
    """``(N, 4)`` training boxes of the region from ``(N, 4)`` square face boxes and the faces' rolls."""
    return region_frames(Frames.of_boxes(np.zeros(len(boxes), int), boxes, rolls), view).boxes()


def train_region(
    name: str,
    train_list: str,
    out: Path,
    iterations: int,
    input_size: int = 56,
    init: str | None = None,
    ckpt_every: int = 500,
) -> Path:
    """Train (or resume) the network of region ``name``, from scratch or from the weights ``init``
    (a model of the same configuration); returns its ``model.pt``."""
    out.mkdir(parents=True, exist_ok=True)
    config = recipe(train_list, out, iterations, input_size, init)
    torch.set_num_threads(config.threads)
    region = REGIONS[name]
    samples = read_list(train_list, "pts", scheme="ibug68", target="ibug68", skip_bad=True)
    truth = np.stack([s.landmarks for s in samples])
    view = region_view(truth, region)
    # Source crops at the view's resolution: one source pixel a view pixel, as for the face's own view.
    crops = face_crops(samples, int(round(config.input_size / view[2])), skip_bad=True)
    landmarks = crops.landmarks.astype(np.float64)
    crops.boxes = region_boxes(crops.boxes.astype(np.float64), roll_of(reduce_to_cuhk5(landmarks, IBUG68)), view)
    torch.manual_seed(config.seed)
    model = ISNet(config.model_config())
    optimizer = make_optimizer(config, model)
    ckpt, start = out / "checkpoint.pt", 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = int(state["iteration"])
    elif init:
        model.load_state_dict(load(init).state_dict())
    else:
        start_at_the_mean_face(model, crops)
    augment, unit, index_of = config.augment(), view_to_loss_units(config.margin), list(region)
    model.train()
    t0, window = time.perf_counter(), []
    for it in range(start, iterations):
        rng = np.random.default_rng([config.seed, it, 0])
        index = batch_indices(len(crops), config.batch_size, config.seed, it)
        views, target = make_batch(crops, index, model.config, augment, rng)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, it)
        loss = wing(model(views)[:, index_of] * unit, target[:, index_of] * unit)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        window.append(loss.item())
        if (it + 1) % ckpt_every == 0 or it + 1 == iterations:
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "iteration": it + 1}, ckpt)
            seconds = time.perf_counter() - t0
            print(f"{name} {it + 1}/{iterations} loss {np.mean(window):.3f} {seconds:.0f} s", flush=True)
            window = []
    model.eval()
    path = out / "model.pt"
    save_checkpoint(path, model, metrics={}, train_config=config.to_dict())
    (out / "region.json").write_text(json.dumps({"region": name, "view": view}, indent=2))
    return path


def pipeline_points(
    samples: list, settings: dict, roll: float = 0.0
) -> tuple[np.ndarray, np.ndarray, list[Photo], dict[str, float]]:
    """The pipeline with ``settings`` on each held-out photo turned ``roll`` degrees (as
    :func:`~isnet.evaluation.fits_on_rolled_photos` turns them): ``(N, 68, 2)`` its points of each
    face (NaN where not found), the ``(N, 68, 2)`` annotation in the turned photo, the photos, and
    the network views it read per face detected (by network)."""
    det = LandmarkDetector(model="ibug68", threads=1, **settings)
    points, truths = np.full((len(samples), 68, 2), np.nan), np.zeros((len(samples), 68, 2))
    photos, detected = [], 0
    for i, s in enumerate(samples):
        bgr, m = turn_image(to_bgr_grey(s.image)[0], roll)
        truths[i] = s.landmarks @ m[:, :2].T + m[:, 2]
        photos.append(Photo.decode(bgr))
        faces = det.detect(bgr)
        detected += len(faces)
        j = match_by_centre(np.array([f.box for f in faces]).reshape(-1, 4), reduce_to_cuhk5(truths[i], IBUG68))
        if j >= 0:
            points[i] = faces[j].landmarks
    return points, truths, photos, {k: v / max(detected, 1) for k, v in det.pipeline.views.items()}


def refine_region(
    net, photos: list[Photo], points: np.ndarray, view, region: tuple[int, ...], mirror: bool = True
) -> np.ndarray:
    """``points`` with ``region``'s replaced by ``net``'s reading of the region's view, framed by them."""
    frames = region_frames(face_frames(reduce_to_cuhk5(points, IBUG68)), view)
    frames.photo = np.arange(len(points))
    out = points.copy()
    out[:, list(region)] = read_frames(net, photos, frames, mirror=mirror).points[:, list(region)]
    return out


def region_ms_per_face(nets: dict, views: dict, photos: list[Photo], points: np.ndarray, mirror: bool) -> float:
    """Median ms over faces to read all of one face's regions, as a stage would per photo: each
    region's network in onnxruntime on one thread, its view framed by the face's points."""
    runners = {name: OnnxISNet(net, threads=1) for name, net in nets.items()}
    frames = face_frames(reduce_to_cuhk5(points, IBUG68))
    times = []
    for i in range(len(points)):
        t0 = time.perf_counter()
        for name, runner in runners.items():
            region = region_frames(frames.take([i]), views[name])
            read_frames(runner, [photos[i]], region, mirror=mirror)
        times.append(1e3 * (time.perf_counter() - t0))
    return float(np.median(times))


def evaluate(
    val_list: str,
    runs: Path,
    names: list[str],
    settings: str = "default",
    mirror: bool = True,
    roll: float = 0.0,
    rounds: int = 1,
) -> dict:
    """The pipeline's NME on the held-out faces, then with each run's region read again, and with
    all of ``names`` at once (each region read in the view the pipeline's points frame, as one
    stage would read them together), replacing or averaging the pipeline's reading. ``settings``:
    the pipeline's (``ibug68_speed.SETTINGS``); ``mirror``: the regions read also mirrored; ``roll``:
    degrees each photo is turned first; ``rounds`` 2: the regions read again, framed by the first
    round's points (the pipeline's reading still the one averaged with)."""
    samples = read_list(val_list, "pts", scheme="ibug68", target="ibug68")
    points, truth, photos, views = pipeline_points(samples, SETTINGS[settings], roll)
    found = np.isfinite(points).all(axis=(1, 2))
    truth, points, photos = truth[found], points[found], [p for p, f in zip(photos, found) if f]
    iod = interocular(truth, IBUG68)

    def scores(p: np.ndarray) -> dict:
        e = nme(p, truth, iod)
        return {
            "nme": float(e.mean()),
            "fr_008": failure_rate(e, 0.08),
            "per_region": {r: float(nme(p[:, list(i)], truth[:, list(i)], iod).mean()) for r, i in IBUG68.regions},
        }

    rows, nets, region_views, points_of = {"pipeline": scores(points)}, {}, {}, {}
    replaced, averaged = points.copy(), points.copy()
    for name in names:
        info = json.loads((runs / name / "region.json").read_text())
        nets[name] = net = load(runs / name / "model.pt")
        index = points_of[name] = REGIONS[info["region"]]
        region_views[name] = info["view"]
        alone = refine_region(net, photos, points, info["view"], index, mirror)
        replaced[:, list(index)] = alone[:, list(index)]
        averaged[:, list(index)] = 0.5 * (points[:, list(index)] + alone[:, list(index)])
        rows[f"pipeline + {name}"] = {
            **scores(alone),
            "region": info["region"],
            "view": info["view"],
            "input_size": net.config.input_size,
        }
        # Whether the region's network reads the region better, or only differently: the mean of its
        # reading and the pipeline's.
        rows[f"pipeline + {name}, mean of both readings"] = scores(0.5 * (points + alone))
    rows[f"pipeline + {' + '.join(names)}"] = scores(replaced)
    rows[f"pipeline + {' + '.join(names)}, means"] = scores(averaged)
    if rounds == 2:
        # The same stage again, each region framed by the first round's points instead of the pipeline's.
        again_replaced, again_averaged = replaced.copy(), averaged.copy()
        for name in names:
            index = list(points_of[name])
            read = refine_region(nets[name], photos, replaced, region_views[name], points_of[name], mirror)
            again_replaced[:, index] = read[:, index]
            read = refine_region(nets[name], photos, averaged, region_views[name], points_of[name], mirror)
            again_averaged[:, index] = 0.5 * (points[:, index] + read[:, index])
        rows[f"pipeline + {' + '.join(names)}, round 2"] = scores(again_replaced)
        rows[f"pipeline + {' + '.join(names)}, means, round 2"] = scores(again_averaged)
    for k, v in rows.items():
        print(
            f"{k:48s} {100 * v['nme']:.3f} %  FR {100 * v['fr_008']:.1f} %  "
            + " ".join(f"{r} {100 * x:.2f}" for r, x in v["per_region"].items())
        )
    ms = network_ms({"shipped": load(weights_path(None, "ibug68")), **nets}, rounds=5, seconds=0.5)
    stage_ms = region_ms_per_face(nets, region_views, photos, points, mirror)
    print("ms a view:", {k: round(v, 3) for k, v in ms.items()}, "pipeline views a face:", views)
    print(f"the regions' stage: {stage_ms:.3f} ms a face")
    return {
        "settings": settings,
        "regions_mirrored": mirror,
        "roll": roll,
        "rounds": rounds,
        "pipeline_views_per_face": views,
        "region_views_per_face": len(names) * (2 if mirror else 1),
        "faces": int(found.sum()),
        "of": len(samples),
        "rows": rows,
        "network_ms_per_view": ms,
        "region_stage_ms_per_face": stage_ms,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (or resume) one region's network")
    t.add_argument("region", choices=sorted(REGIONS))
    t.add_argument("--train-list", required=True)
    t.add_argument("--out", type=Path, required=True, help="the folder of region folders")
    t.add_argument("--iterations", type=int, default=10000)
    t.add_argument("--input-size", type=int, default=56)
    t.add_argument("--name", default=None, help="the run's folder under --out (default: the region)")
    t.add_argument("--init", default=None, help="start from these weights (e.g. the shipped 68-point model's)")
    e = sub.add_parser("evaluate", help="the pipeline, then each trained region's network, on held-out faces")
    e.add_argument("--val-list", required=True)
    e.add_argument("--runs", type=Path, required=True)
    e.add_argument("--names", nargs="+", required=True, help="run folders under --runs, one per region")
    e.add_argument("--settings", choices=sorted(SETTINGS), default="default", help="the pipeline's before the regions")
    e.add_argument("--no-mirror", action="store_true", help="read the regions' views unmirrored")
    e.add_argument("--roll", type=float, default=0.0, help="degrees each photo is turned (counter-clockwise)")
    e.add_argument("--rounds", type=int, choices=(1, 2), default=1, help="2: the regions read again")
    e.add_argument("--out", type=Path, default=RESULTS / "ibug68" / "cascade_val_through_pipeline.json")
    a = p.parse_args()
    if a.command == "train":
        print(train_region(a.region, a.train_list, a.out / (a.name or a.region), a.iterations, a.input_size, a.init))
    else:
        held_out = "200 held-out 300-W training faces (scripts/ibug68_split.py)"
        result = evaluate(a.val_list, a.runs, a.names, a.settings, not a.no_mirror, a.roll, a.rounds)
        write_result(a.out, {"val_list": held_out, **result})


if __name__ == "__main__":
    main()
