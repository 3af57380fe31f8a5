"""isnet against dlib and MediaPipe's Face Landmarker on the same real photos: faces found, accuracy, speed.

Whole HELEN test photos (300-W, one annotated face each) go into each tool with its own face
detector: isnet (YuNet, then the landmark model; the default, cheaper settings and the 68-point
model), dlib (its HOG frontal detector, then its 68-point and 5-point shape predictors) and
MediaPipe's Face Landmarker (IMAGE mode). A face counts as found when a detection's centre lies
within the annotated eye-centre distance of the annotated five points' centre
(:func:`isnet.evaluation.match_by_centre`). Five-point NME is over the annotated eye-centre
distance (300-W eye centres: means of the six eye-contour points), 68-point NME over the outer
eye corners (300-W's inter-ocular). Speed is one thread per tool on one core, each photo read by
every tool in turn (decode excluded), the median over photos.

MediaPipe is never a dependency of isnet, nor installed in its venv: this file runs again under
a venv of its own (``--mediapipe-python``) as ``--mediapipe-worker``, pinned with ``taskset``,
and answers one photo at a time over a pipe, so its calls interleave with the others'. The worker
imports only the standard library, numpy, cv2 and mediapipe.

Usage:
    python benchmarks/peers.py --helen $IBUG/helen_testset --mediapipe-python $MPVENV/bin/python [--limit 10]

with ``$MPVENV`` made by
``python3 -m venv $MPVENV && $MPVENV/bin/pip install mediapipe==1.2.2 opencv-python-headless numpy``
and dlib from ``pip install 'isnet[peers]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

WORKER_FLAG = "--mediapipe-worker"
# The five of MediaPipe's 478 points comparable to the CUHK five, in the subject's order as CUHK and
# 300-W give them (image-left first on an upright face; checked on HELEN photos): the iris centres,
# the nose tip, the mouth corners.
MEDIAPIPE_FIVE = (468, 473, 1, 61, 291)

if WORKER_FLAG not in sys.argv:  # the worker runs in MediaPipe's own venv, which has no isnet, torch or dlib
    import torch

    from isnet.api import LandmarkDetector
    from isnet.boxes import ltrb_to_xywh
    from isnet.data import Sample, read_list, reduce_to_cuhk5
    from isnet.evaluation import match_by_centre
    from isnet.metrics import auc, failure_rate, interocular, nme
    from isnet.peers import dlib_models, interleaved
    from isnet.provenance import write_result
    from isnet.schemes import get_scheme

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OUT = REPO / "benchmarks" / "results" / "peers" / "helen_test"

# What each row's five points are, beside the annotation's (300-W: eye-contour means, point 31, points 49 and 55).
ISNET5_POINTS = "isnet five-point model: eye centres placed as CUHK places them (pupils), nose tip, mouth corners"
ROWS = {
    "isnet": ("LandmarkDetector(threads=1), the default", ISNET5_POINTS),
    "isnet mirror=False": ("LandmarkDetector(threads=1, mirror=False)", ISNET5_POINTS),
    "isnet upright=None": ("LandmarkDetector(threads=1, upright=None): one pass on YuNet's box", ISNET5_POINTS),
    "isnet placement='300w'": (
        "LandmarkDetector(threads=1, placement='300w')",
        "isnet five-point model, points moved to 300-W's placement (eye-contour means)",
    ),
    "isnet 68": (
        "LandmarkDetector(threads=1, model='ibug68')",
        "isnet 68-point model reduced to five as the annotation is (eye-contour means, 31, 49, 55)",
    ),
    "dlib 68": (
        "dlib HOG frontal detector (upsample 0) + shape_predictor_68_face_landmarks",
        "dlib 68 points reduced to five as the annotation is (eye-contour means, 31, 49, 55)",
    ),
    "dlib 5": (
        "dlib HOG frontal detector (upsample 0) + shape_predictor_5_face_landmarks",
        "speed only: its five points are four eye corners and the base of the nose, not these five",
    ),
    "MediaPipe": (
        "MediaPipe Face Landmarker 1.2.2, IMAGE mode, num_faces=1, its own face detector",
        "mesh points 468 and 473 (iris centres), 1 (nose tip), 61 and 291 (mouth corners), pixels as x*width, y*height",
    ),
}
SPEED_ONLY = ("dlib 5",)


@dataclass
class Reading:
    """One tool's faces in one photo.

    Attributes:
        boxes: ``(F, 4)`` ``[x, y, w, h]``, what the match by centre looks at.
        five: ``(F, 5, 2)`` five points in the subject's order (NaN for a speed-only tool).
        full: ``(F, 68, 2)`` 300-W points where the tool gives them.
    """

    boxes: np.ndarray
    five: np.ndarray
    full: np.ndarray | None = None


# A tool reads a decoded BGR photo (and its path, for the worker) and says how long it took.
Tool = Callable[[np.ndarray, str], tuple[Reading, float]]


def mesh_five(mesh: np.ndarray) -> np.ndarray:
    """``(5, 2)`` the CUHK-comparable points of a ``(478, 2)`` MediaPipe face mesh."""
    return mesh[list(MEDIAPIPE_FIVE)]


def mesh_box(mesh: np.ndarray) -> np.ndarray:
    """``(4,)`` ``[x, y, w, h]`` around a face mesh's points (the Face Landmarker gives no box)."""
    lo, hi = mesh.min(axis=0), mesh.max(axis=0)
    return np.concatenate([lo, hi - lo])


def mediapipe_worker(model: str, num_faces: int) -> None:
    """Answer one JSON line ``{"path"}`` on stdin with one JSON line ``{"seconds", "boxes", "five"}``
    on stdout: the Face Landmarker's faces of that photo, timed from the decoded photo on."""
    import mediapipe as mp
    from mediapipe.tasks import python as mpt
    from mediapipe.tasks.python import vision

    cv2.setNumThreads(1)
    options = vision.FaceLandmarkerOptions(
        base_options=mpt.BaseOptions(model_asset_path=model),
        running_mode=vision.RunningMode.IMAGE,
        num_faces=num_faces,
    )
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        versions = {"mediapipe": mp.__version__, "opencv": cv2.__version__, "numpy": np.__version__}
        print(json.dumps({"versions": versions}), flush=True)
        for line in sys.stdin:
            bgr = cv2.imread(json.loads(line)["path"])
            t = time.perf_counter()
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            seconds = time.perf_counter() - t
            h, w = bgr.shape[:2]
            meshes = [np.array([[p.x * w, p.y * h] for p in face]) for face in result.face_landmarks]
            reply = {
                "seconds": seconds,
                "boxes": [mesh_box(m).tolist() for m in meshes],
                "five": [mesh_five(m).tolist() for m in meshes],
            }
            print(json.dumps(reply), flush=True)


class MediaPipeTool:
    """The worker as a tool: one subprocess under ``taskset -c core``, one photo per request."""

    def __init__(self, python: str, model: str, num_faces: int, core: int | None):
        pin = ["taskset", "-c", str(core)] if core is not None else []
        self.log = tempfile.TemporaryFile()
        cmd = [*pin, python, __file__, WORKER_FLAG, "--mediapipe-model", model, "--num-faces", str(num_faces)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.versions = self._reply()["versions"]

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError("the MediaPipe worker stopped:\n" + self.log.read().decode()[-3000:])
        return json.loads(line)

    def __call__(self, bgr: np.ndarray, path: str) -> tuple[Reading, float]:
        self.proc.stdin.write(json.dumps({"path": path}) + "\n")
        self.proc.stdin.flush()
        r = self._reply()
        boxes = np.array(r["boxes"], float).reshape(-1, 4)
        return Reading(boxes, np.array(r["five"], float).reshape(-1, 5, 2)), r["seconds"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.log.close()


def isnet_tool(det: LandmarkDetector) -> Tool:
    """``det.detect`` on the decoded photo; 68 points reduced to five as the annotation is."""
    k = det.scheme.n_points

    def run(bgr: np.ndarray, path: str) -> tuple[Reading, float]:
        t = time.perf_counter()
        faces = det.detect(bgr)
        seconds = time.perf_counter() - t
        boxes = np.array([f.box for f in faces], float).reshape(-1, 4)
        points = np.array([f.landmarks for f in faces], float).reshape(-1, k, 2)
        if k == 5:
            return Reading(boxes, points), seconds
        return Reading(boxes, reduce_to_cuhk5(points, det.scheme), points), seconds

    return run


def dlib_tool(hog: Callable, predictor: Callable, n_points: int) -> Tool:
    """dlib's HOG detector then a shape predictor on each of its faces, from the decoded BGR photo."""
    ibug68 = get_scheme("ibug68")

    def run(bgr: np.ndarray, path: str) -> tuple[Reading, float]:
        t = time.perf_counter()
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        rects = hog(rgb, 0)
        shapes = [predictor(rgb, r) for r in rects]
        seconds = time.perf_counter() - t
        boxes = np.array([[r.left(), r.top(), r.width(), r.height()] for r in rects], float).reshape(-1, 4)
        points = np.array([[[p.x, p.y] for p in s.parts()] for s in shapes], float).reshape(-1, n_points, 2)
        if n_points != 68:
            return Reading(boxes, np.full((len(boxes), 5, 2), np.nan)), seconds
        return Reading(boxes, reduce_to_cuhk5(points, ibug68), points), seconds

    return run


def make_tools(args: argparse.Namespace) -> tuple[dict[str, Tool], dict]:
    """The tools of :data:`ROWS`, each on one thread, and the versions of what is not isnet's."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    dlib, models = dlib_models()
    hog = dlib.get_frontal_face_detector()
    sp68 = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
    sp5 = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    mediapipe = MediaPipeTool(args.mediapipe_python, str(args.mediapipe_model), 1, args.core)
    tools = {
        "isnet": isnet_tool(LandmarkDetector(threads=1)),
        "isnet mirror=False": isnet_tool(LandmarkDetector(threads=1, mirror=False)),
        "isnet upright=None": isnet_tool(LandmarkDetector(threads=1, upright=None)),
        "isnet placement='300w'": isnet_tool(LandmarkDetector(threads=1, placement="300w")),
        "isnet 68": isnet_tool(LandmarkDetector(threads=1, model="ibug68")),
        "dlib 68": dlib_tool(hog, sp68, 68),
        "dlib 5": dlib_tool(hog, sp5, 5),
        "MediaPipe": mediapipe,
    }
    return tools, {"dlib": dlib.__version__, "mediapipe_worker": mediapipe.versions}


def read_photos(tools: dict[str, Tool], samples: list[Sample], rounds: int) -> tuple[dict, dict]:
    """Every tool on every photo, ``rounds`` times in turn (the order turning each round).

    Returns:
        ``{tool: [Reading per photo]}`` from the first round, ``{tool: (N, rounds) seconds}``.
    """
    names = list(tools)
    first = cv2.imread(str(samples[0].image))
    for tool in tools.values():  # warm-up: first calls load and plan
        tool(first, str(samples[0].image))
    readings: dict[str, list[Reading]] = {k: [] for k in names}
    seconds = {k: np.zeros((len(samples), rounds)) for k in names}
    for i, s in enumerate(samples):
        bgr = cv2.imread(str(s.image))
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                reading, seconds[name][i, r] = tools[name](bgr, str(s.image))
                if r == 0:
                    readings[name].append(reading)
    return readings, seconds


def matched(readings: list[Reading], truth5: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per photo the reading's face matched to the annotated one: ``found (N,)``, ``five (N, 5, 2)``,
    ``full (N, 68, 2)`` or ``None`` (NaN where not found)."""
    n = len(readings)
    found, five = np.zeros(n, bool), np.full((n, 5, 2), np.nan)
    full = None if readings[0].full is None else np.full((n, 68, 2), np.nan)
    for i, (r, t) in enumerate(zip(readings, truth5)):
        j = match_by_centre(r.boxes, t)
        if j < 0:
            continue
        found[i], five[i] = True, r.five[j]
        if full is not None:
            full[i] = r.full[j]
    return found, five, full


def error_summary(errors: np.ndarray) -> dict:
    """Mean, median, failure rates and AUC@0.08 of per-face errors (NaN faces left out)."""
    e = errors[~np.isnan(errors)]
    if not len(e):
        return {"faces": 0}
    return {
        "faces": int(len(e)),
        "nme_mean": float(e.mean()),
        "nme_median": float(np.median(e)),
        "fr_008": failure_rate(e, 0.08),
        "fr_010": failure_rate(e, 0.10),
        "auc_008": auc(e, 0.08),
    }


def five_errors(five: np.ndarray, truth5: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N,)`` five-point NME over the annotated eye-centre distance and ``(N, 5)`` each point's error alike."""
    per_point = np.linalg.norm(five - truth5, axis=2) / np.linalg.norm(truth5[:, 1] - truth5[:, 0], axis=1)[:, None]
    return per_point.mean(axis=1), per_point


def mean_offset(five: np.ndarray, truth5: np.ndarray) -> list[float]:
    """Mean signed ``(dx, dy)`` of the eyes and mouth corners over the eye-centre distance: left-right
    placement differences cancel over these symmetric pairs, a coordinate-convention shift does not."""
    d = (five - truth5)[:, [0, 1, 3, 4]] / np.linalg.norm(truth5[:, 1] - truth5[:, 0], axis=1)[:, None, None]
    return [float(v) for v in np.nanmean(d, axis=(0, 1))]


def five_point_row(five: np.ndarray, truth5: np.ndarray, common: np.ndarray) -> dict:
    """A row's five-point errors: on the faces it found, on the ``common`` ones, and per point."""
    errors, per_point = five_errors(five, truth5)
    # The nose tip is where the tools' placements differ most (MediaPipe's mesh point 1 against 300-W's 31).
    no_nose = per_point[:, [0, 1, 3, 4]].mean(axis=1)
    return {
        "nme5": error_summary(errors),
        "nme5_common": error_summary(np.where(common, errors, np.nan)),
        "nme4_no_nose_common": error_summary(np.where(common, no_nose, np.nan)),
        "nme5_per_point_mean": [float(v) for v in np.nanmean(per_point, axis=0)],
        "mean_offset_xy": mean_offset(five, truth5),
    }


def accuracy(readings: dict[str, list[Reading]], samples: list[Sample]) -> tuple[dict, np.ndarray]:
    """Per row faces found and five- (and 68-) point errors, on its own matched faces and on those every
    row with points found; also the common faces' mask."""
    ibug68 = get_scheme("ibug68")
    gt68 = np.array([s.landmarks for s in samples], float)
    truth5 = reduce_to_cuhk5(gt68, ibug68)
    fits = {name: matched(r, truth5) for name, r in readings.items()}
    common = np.logical_and.reduce([f[0] for name, f in fits.items() if name not in SPEED_ONLY])
    out = {}
    for name, (found, five, full) in fits.items():
        row = {"faces_found": int(found.sum())}
        if name not in SPEED_ONLY:
            row |= five_point_row(five, truth5, common)
        if full is not None:
            e68 = nme(full, gt68, interocular(gt68, ibug68))
            row["nme68"] = error_summary(e68)
            row["nme68_common"] = error_summary(np.where(common, e68, np.nan))
        out[name] = row
    if "MediaPipe" in fits:
        # The Face Landmarker does not say where its normalised 0 lies: centre of the first pixel or its edge.
        shifted, _ = five_errors(fits["MediaPipe"][1] - 0.5, truth5)
        out["MediaPipe"]["nme5_if_shifted_half_pixel"] = error_summary(shifted)
    return out, common


def landmark_step(samples: list[Sample], rounds: int) -> dict:
    """ms per face of the landmark step alone, a box in hand: isnet's ``predict`` against dlib's
    shape predictors, interleaved (:func:`isnet.peers.interleaved`), one face per call, one thread."""
    dlib, models = dlib_models()
    sp5 = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    sp68 = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
    bgrs = [cv2.imread(str(s.image)) for s in samples]
    rgbs = [cv2.cvtColor(b, cv2.COLOR_BGR2RGB) for b in bgrs]
    boxes = [ltrb_to_xywh(s.box) for s in samples]
    rects = [dlib.rectangle(*(int(round(v)) for v in s.box)) for s in samples]
    isnets = {
        "isnet": LandmarkDetector(detector=None, threads=1),
        "isnet mirror=False": LandmarkDetector(detector=None, threads=1, mirror=False),
        "isnet upright=None": LandmarkDetector(detector=None, threads=1, upright=None),
        "isnet 68": LandmarkDetector(detector=None, threads=1, model="ibug68"),
    }

    def isnet_faces(det: LandmarkDetector) -> Callable[[], object]:
        return lambda: [det.predict(image, [box]) for image, box in zip(bgrs, boxes)]

    def dlib_faces(predictor: Callable) -> Callable[[], object]:
        return lambda: [predictor(image, rect) for image, rect in zip(rgbs, rects)]

    fns = {k: isnet_faces(d) for k, d in isnets.items()} | {"dlib 5": dlib_faces(sp5), "dlib 68": dlib_faces(sp68)}
    medians = interleaved(fns, rounds)
    return {
        "faces": len(samples),
        "rounds": rounds,
        "call": "LandmarkDetector(detector=None, threads=1).predict(BGR photo, [box]) vs dlib shape_predictor(RGB "
        "photo, rect), the same box for both: the square drawn from the annotation's five points (as isnet draws "
        "boxes); MediaPipe's Face Landmarker takes no box",
        "ms_per_face": {k: 1000 * v / len(samples) for k, v in medians.items()},
    }


def speed(seconds: dict[str, np.ndarray]) -> dict:
    """Per tool ms per photo: per photo the median of its rounds, then the median and mean over photos."""
    out = {}
    for name, s in seconds.items():
        per_photo = 1000 * np.median(s, axis=1)
        out[name] = {"ms_per_photo_median": float(np.median(per_photo)), "ms_per_photo_mean": float(per_photo.mean())}
    return out


def loadavg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def portable_argv(argv: list[str], args: argparse.Namespace) -> list[str]:
    """``argv`` with this machine's paths written as the docs write them ($IBUG, $MODELS, $MPVENV; the
    repository's own relative to its root)."""
    roots = [
        (Path(os.path.abspath(args.helen)).parent, "$IBUG"),
        (Path(os.path.abspath(args.mediapipe_model)).parent, "$MODELS"),
        # not resolved: a venv's python is a link to the system's
        (Path(os.path.abspath(args.mediapipe_python)).parent.parent, "$MPVENV"),
        (REPO, "."),
    ]
    out = []
    for a in argv:
        full = Path(os.path.abspath(a))
        for root, variable in roots if "/" in a else []:
            if full == root or root in full.parents:
                a = f"{variable}/{full.relative_to(root).as_posix()}".removeprefix("./")
                break
        out.append(a)
    return out


def markdown(result: dict, command: str) -> str:
    """The README's table: one row per tool, the command above it."""
    acc, spd, step = result["accuracy"], result["speed"], result["landmark_step"]["ms_per_face"]
    n, common = result["photos"], result["common_faces"]

    def pct(block: dict | None) -> str:
        return f"{100 * block['nme_mean']:.3f} %" if block and block.get("faces") else ""

    lines = [
        f"`{command}`",
        "",
        f"| tool (points) | faces found of {n} | NME 5 points, its faces | NME 5 points, {common} common faces "
        "| NME 4 points (no nose), common | FR@0.10, 5 points, common | NME 68 points, its faces "
        "| NME 68 points, common | ms per photo (median) | ms per face, box given |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ROWS:
        a = acc[name]
        fr = a.get("nme5_common", {}).get("fr_010")
        cells = [
            f"{name}",
            str(a["faces_found"]),
            pct(a.get("nme5")) or "n/a",
            pct(a.get("nme5_common")) or "n/a",
            pct(a.get("nme4_no_nose_common")) or "n/a",
            "n/a" if fr is None else f"{100 * fr:.2f} %",
            pct(a.get("nme68")),
            pct(a.get("nme68_common")),
            f"{spd[name]['ms_per_photo_median']:.2f}",
            f"{step[name]:.3f}" if name in step else "",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "NME: mean point error over the annotated eye-centre distance (5 and 4 points; 300-W eye centres, means of "
        "the eye contours) or the outer eye corners (68 points, 300-W's inter-ocular); common: the faces every "
        "row with points found. Speed: one thread, one core, decode excluded, median over photos.",
    ]
    lines += ["", "Each row's five points, against the annotation's (300-W eye-contour means, points 31, 49, 55):", ""]
    lines += [f"- {name}: {what}; {points}." for name, (what, points) in ROWS.items()]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--helen", type=Path, default=SHARED / "data" / "ibug_300w" / "helen_testset")
    p.add_argument("--mediapipe-python", required=WORKER_FLAG not in argv, help="the python of MediaPipe's own venv")
    p.add_argument("--mediapipe-model", type=Path, default=SHARED / "models" / "face_landmarker.task")
    p.add_argument("--limit", type=int, default=None, help="the first N photos only, for a quick try")
    p.add_argument("--rounds", type=int, default=3, help="calls of each tool per photo, and rounds of the box step")
    p.add_argument("--core", type=int, default=0, help="the one CPU core every tool runs on; -1: not pinned")
    p.add_argument("--out", type=Path, default=OUT, help="writes OUT.json and OUT.md")
    p.add_argument(WORKER_FLAG, action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--num-faces", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.core = None if args.core < 0 else args.core
    return args


def main(args: argparse.Namespace) -> None:
    if args.mediapipe_worker:
        mediapipe_worker(str(args.mediapipe_model), args.num_faces)
        return
    if args.core is not None:
        os.sched_setaffinity(0, {args.core})  # every tool on the same core, as the MediaPipe worker is
    samples = read_list(args.helen, "pts", scheme="ibug68", target="ibug68")[: args.limit]
    tools, versions = make_tools(args)
    load = {"before": loadavg()}
    try:
        readings, seconds = read_photos(tools, samples, args.rounds)
    finally:
        tools["MediaPipe"].close()
    load["after_photos"] = loadavg()
    step = landmark_step(samples, args.rounds)
    load["after_landmark_step"] = loadavg()
    acc, common = accuracy(readings, samples)
    argv = portable_argv(["python", "benchmarks/peers.py", *sys.argv[1:]], args)
    result = {
        "data": portable_argv([str(args.helen)], args)[0],
        "photos": len(samples),
        "common_faces": int(common.sum()),
        "rows": {name: {"what": what, "points": points} for name, (what, points) in ROWS.items()},
        "accuracy": acc,
        "speed": speed(seconds),
        "landmark_step": step,
        "method": {
            "matching": "a tool's face is the annotated one when its box's centre (MediaPipe: the box around its "
            "478 points) is nearest the centre of the annotated five points and within their eye-centre distance "
            "(isnet.evaluation.match_by_centre)",
            "nme5": "mean of the five points' errors over the annotated eye-centre distance; the annotation's five: "
            "means of 300-W points 37-42 and 43-48, point 31, points 49 and 55 (reduce_to_cuhk5)",
            "nme5_common": f"the same on the {int(common.sum())} faces every row with points found",
            "nme4_no_nose_common": "the same without the nose tip (eyes and mouth corners only), on the common faces",
            "nme68": "mean of the 68 points' errors over the outer eye corners (300-W points 37 and 46); "
            "nme68_common: on the common faces",
            "speed": f"ms per photo from the decoded BGR photo (decode excluded; colour conversion included) to "
            f"landmarks: each photo read by every tool in turn, {args.rounds} rounds, the order turning each round; "
            "per photo the median of its rounds, then the median over photos",
            "threads": "torch.set_num_threads(1), cv2.setNumThreads(1), onnxruntime LandmarkDetector(threads=1); "
            "dlib runs on one thread; this process pinned to core "
            f"{args.core} (os.sched_setaffinity), the MediaPipe worker under `taskset -c {args.core}` "
            "(MediaPipe cannot be given a thread count: its threads share that one core)",
            "loadavg": load,
        },
        "caveats": [
            "Points are not placed alike: the annotation's eye centres are means of the eye contours, isnet's "
            "default five-point eyes are CUHK's pupils (placement='300w' moves them), MediaPipe's are iris centres "
            "and its nose tip (mesh point 1) sits lower on the nose than 300-W point 31; part of each row's "
            "five-point error is this placement, not a miss (see nme5_per_point_mean: left eye, right eye, nose, "
            "left mouth, right mouth).",
            "dlib's public 68-point model was trained on iBUG 300-W, which includes HELEN: very likely on these "
            "very test photos, so its NME flatters it. isnet's models never saw HELEN test.",
            "dlib's 5-point model gives four eye corners and the base of the nose, not eye centres and mouth "
            "corners: it is timed only; dlib's accuracy row is its 68-point model reduced to five.",
            "MediaPipe's landmarks are normalised to the image's width and height; they are converted as x*width, "
            "y*height, as MediaPipe's own drawing does. Whether 0 is the first pixel's centre or its edge is not "
            "documented: nme5_if_shifted_half_pixel gives the row with the other reading.",
            "The photos are 300-W's re-encoded crops (130-322 px a side, faces 100-160 px across).",
        ],
        "versions": versions,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(args.out.with_suffix(".json"), result, argv=argv)
    table = markdown(result, " ".join(argv))
    args.out.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main(parse_args(sys.argv[1:]))
