"""isnet against dlib, timed in one process on the same faces, photo and folder (``isnet benchmark --peers``).

dlib and its models come from the optional ``peers`` extra (``dlib-bin`` and
``face-recognition-models``); isnet never needs them at run time. Every comparison is one
thread per process, calls of the two libraries interleaved round by round so that both see
the same machine, and the median over the rounds is reported.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import torch

from isnet.api import LandmarkDetector
from isnet.assets import demo_list
from isnet.boxes import iou, ltrb_to_xywh
from isnet.data import read_sun_list
from isnet.imageio import IMAGE_SUFFIXES, to_bgr_grey
from isnet.metrics import failure_rate, interocular, nme
from isnet.schemes import get_scheme

__all__ = ["dlib68_on", "dlib_models", "interleaved", "per_face", "per_folder", "per_photo"]


def dlib_models() -> tuple[object, Path]:
    """The ``dlib`` module and the folder of ``face-recognition-models``' model files."""
    spec = importlib.util.find_spec("face_recognition_models")
    if importlib.util.find_spec("dlib") is None or spec is None or spec.origin is None:
        raise ImportError("--peers needs dlib and its models: pip install 'isnet[peers]'")
    import dlib  # the optional extra: imported only when asked for

    # The package's own __init__ needs pkg_resources, gone from recent setuptools: find its files directly.
    return dlib, Path(spec.origin).parent / "models"


def interleaved(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each function, the functions taking turns ``rounds`` times."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def per_face(n_faces: int, rounds: int) -> dict:
    """ms per face of the call a user makes with boxes in hand, one face per call, one thread."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    dlib, models = dlib_models()
    sp5 = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    sp68 = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
    samples = read_sun_list(demo_list("val"))[:n_faces]
    bgrs = [to_bgr_grey(s.image)[0] for s in samples]
    rgbs = [cv2.cvtColor(b, cv2.COLOR_BGR2RGB) for b in bgrs]
    boxes = [ltrb_to_xywh(s.box) for s in samples]
    rects = [dlib.rectangle(*(int(round(v)) for v in s.box)) for s in samples]
    isnet_default = LandmarkDetector(detector=None, threads=1)
    isnet_torch = LandmarkDetector(isnet_default.model, detector=None, backend="torch", threads=1)

    def isnet_faces(det: LandmarkDetector) -> Callable[[], None]:
        return lambda: [det.predict(image, box) for image, box in zip(bgrs, boxes)]

    def dlib_faces(predictor) -> Callable[[], None]:
        return lambda: [predictor(image, rect) for image, rect in zip(rgbs, rects)]

    medians = interleaved(
        {
            f"isnet ({isnet_default.backend}, default)": isnet_faces(isnet_default),
            "isnet (torch)": isnet_faces(isnet_torch),
            "dlib 5-point": dlib_faces(sp5),
            "dlib 68-point": dlib_faces(sp68),
        },
        rounds,
    )
    ms = {k: 1000 * v / len(samples) for k, v in medians.items()}
    default = ms[f"isnet ({isnet_default.backend}, default)"]
    return {
        "faces": len(samples),
        "call": "LandmarkDetector(detector=None).predict(BGR image, [box]) vs dlib.shape_predictor(RGB image, rect)",
        "ms_per_face": ms,
        "ratio_default_to_dlib5": default / ms["dlib 5-point"],
    }


def per_photo(photo_bgr: np.ndarray, rounds: int, **settings) -> dict:
    """ms per photo end to end, one thread: isnet's ``detect`` (defaults, or ``settings`` of
    :class:`~isnet.pipeline.PipelineConfig`) vs dlib's HOG detector and 68 points."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    dlib, models = dlib_models()
    hog = dlib.get_frontal_face_detector()
    sp68 = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
    rgb = cv2.cvtColor(photo_bgr, cv2.COLOR_BGR2RGB)
    det = LandmarkDetector(threads=1, **settings)

    def dlib_photo() -> list:
        return [sp68(rgb, r) for r in hog(rgb, 0)]

    found = {"isnet": len(det.detect(photo_bgr)), "dlib": len(dlib_photo())}
    medians = interleaved({"isnet (default)": lambda: det.detect(photo_bgr), "dlib HOG + 68-point": dlib_photo}, rounds)
    ms = {k: 1000 * v for k, v in medians.items()}
    return {
        "photo": list(photo_bgr.shape),
        "faces_found": found,
        "ms_per_photo": ms,
        "ratio_default_to_dlib_hog68": ms["isnet (default)"] / ms["dlib HOG + 68-point"],
    }


def _dlib_folder_part(paths: list[str]) -> int:
    dlib, models = dlib_models()
    hog = dlib.get_frontal_face_detector()
    sp68 = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
    faces = 0
    for p in paths:
        rgb = cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB)
        faces += len([sp68(rgb, r) for r in hog(rgb, 0)])
    return faces


def per_folder(folder: Path, workers: int = 2, batch: int = 16) -> dict:
    """Photos per second over a folder on ``workers`` cores: isnet's folder pipeline
    (:meth:`LandmarkDetector.detect_files`, as ``isnet predict`` runs it)
    against dlib HOG + 68 points in ``workers`` processes (dlib runs on one core per process)."""
    paths = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    torch.set_num_threads(workers)
    cv2.setNumThreads(1)  # the parallelism is the pipeline's threads, one image each
    det = LandmarkDetector(threads=workers)
    t = time.perf_counter()
    faces = 0
    for results in det.detect_files(paths, batch, workers):
        faces += sum(len(r[1]) for r in results if not isinstance(r, Exception))
    isnet_s = time.perf_counter() - t
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        dlib_faces = sum(pool.map(_dlib_folder_part, [paths[i::workers] for i in range(workers)]))
    dlib_s = time.perf_counter() - t
    return {
        "photos": len(paths),
        "workers": workers,
        "photos_per_s": {"isnet (default)": len(paths) / isnet_s, "dlib HOG + 68-point": len(paths) / dlib_s},
        "faces_found": {"isnet": faces, "dlib": dlib_faces},
        "ratio_isnet_to_dlib": dlib_s / isnet_s,
    }


def dlib68_errors(samples: list, min_iou: float = 0.3, upsample: int = 0) -> tuple[np.ndarray, float]:
    """dlib's HOG detector and 68-point predictor on annotated 68-point faces: ``(N,)`` each
    face's NME over the outer eye corners (300-W; NaN where no HOG detection overlaps the face's
    box, drawn from its five points as isnet draws it, with IoU >= ``min_iou``), and the seconds
    that detection and prediction took."""
    dlib, models = dlib_models()
    hog = dlib.get_frontal_face_detector()
    sp68 = dlib.shape_predictor(str(models / "shape_predictor_68_face_landmarks.dat"))
    scheme = get_scheme("ibug68")
    errors, seconds = np.full(len(samples), np.nan), 0.0
    for i, s in enumerate(samples):
        rgb = cv2.cvtColor(to_bgr_grey(s.image)[0], cv2.COLOR_BGR2RGB)
        t = time.perf_counter()
        rects = hog(rgb, upsample)
        seconds += time.perf_counter() - t
        boxes = np.array([[r.left(), r.top(), r.right(), r.bottom()] for r in rects], float).reshape(-1, 4)
        if len(boxes) == 0 or iou(boxes, s.box).max() < min_iou:
            continue
        rect = rects[int(np.argmax(iou(boxes, s.box)))]
        t = time.perf_counter()
        shape = sp68(rgb, rect)
        seconds += time.perf_counter() - t
        pred = np.array([[[p.x, p.y] for p in shape.parts()]], float)
        gt = np.asarray(s.landmarks, float)[None]
        errors[i] = float(nme(pred, gt, interocular(gt, scheme))[0])
    return errors, seconds


def dlib68_on(samples: list, min_iou: float = 0.3, upsample: int = 0) -> dict:
    """:func:`dlib68_errors` summed up: faces, not found, NME, failures over 0.08, time a face."""
    errors, seconds = dlib68_errors(samples, min_iou, upsample)
    found = errors[np.isfinite(errors)]
    return {
        "faces": len(samples),
        "not_found": int(np.isnan(errors).sum()),
        "nme_iod": float(found.mean()),
        "fr_008": failure_rate(found, 0.08),
        "ms_per_face_detection_and_points": 1000 * seconds / max(1, len(samples)),
        "caveat": "dlib's public 68-point model was trained on 300-W data that very likely includes these "
        "test faces, so its figure flatters it",
    }
