"""Evaluation of a model on an annotated list: on the list's boxes, or with a detector in front."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from isnet.api import LandmarkDetector
from isnet.assets import weights_label, weights_path
from isnet.boxes import iou, ltrb_to_xywh, match_box, xywh_to_ltrb
from isnet.data import Sample, Skipped, pts_schemes_for, read_list, reduce_to_cuhk5
from isnet.detectors import YuNet
from isnet.export import OnnxISNet
from isnet.imageio import to_bgr_grey
from isnet.inference import ground_truth, predict_crops
from isnet.metrics import auc, auroc, interocular, nme, summarise, summarise_region
from isnet.model import CheckpointError, ISNet, load
from isnet.quality import SIGNALS
from isnet.regions import model_crops
from isnet.schemes import CUHK5, Scheme, get_scheme
from isnet.transforms import turn_image

__all__ = [
    "brief",
    "detector_fits",
    "DetectorFits",
    "evaluate_list",
    "evaluate_rolls",
    "evaluate_with_detector",
    "Evaluation",
    "fits_on_rolled_photos",
    "flags",
    "KEYS",
    "match_by_centre",
    "read_samples",
    "RolledFits",
    "roll_summary",
    "ROLLS",
]

KEYS = (
    *("n_faces", "nme_iod", "nme_ipd", "fr_008", "fr_010", "auc_008", "auc_010"),
    *("box_error_mean", "box_error_per_point", "nme_iod_per_region"),
)


@dataclass
class Evaluation:
    """Predictions and annotations of the faces of a list, and their metrics.

    Attributes:
        metrics: see :func:`isnet.metrics.summarise`, plus ``skipped``, ``weights``, ``list``, ``seconds``.
        pred: ``(N, K, 2)`` predicted landmarks in image pixels.
        gt: ``(N, K, 2)`` annotated landmarks in image pixels.
    """

    metrics: dict
    pred: np.ndarray
    gt: np.ndarray
    scheme: Scheme
    skipped: list[str] = field(default_factory=list)

    def nme(self) -> np.ndarray:
        """``(N,)`` inter-ocular NME of each face."""
        return nme(self.pred, self.gt, interocular(self.gt, self.scheme))


def read_samples(
    model: ISNet,
    weights: str | Path,
    list_path: str | Path,
    fmt: str,
    root,
    pts_scheme: str | Sequence[str] | None,
    skip_bad: bool,
    skipped,
) -> list[Sample]:
    """The list's faces, refused when they carry other points than the model predicts (or, for a
    model whose points reduce to five, than those five)."""
    scheme = model.config.landmark_scheme
    samples = read_list(list_path, fmt, root, pts_schemes_for(scheme, pts_scheme), skip_bad, skipped, target=scheme)
    n = samples[0].landmarks.shape[0] if samples else scheme.n_points
    if n != scheme.n_points and not (n == CUHK5.n_points and scheme.to_cuhk5 is not None):
        raise CheckpointError(
            f"{weights}: the model predicts the {scheme.n_points} points of scheme {scheme.name!r}, "
            f"but {list_path} has {samples[0].landmarks.shape[0]} points per face"
        )
    return samples


def evaluate_list(
    list_path: str | Path,
    weights: str | Path | None = None,
    fmt: str = "sun",
    root: str | Path | None = None,
    pts_scheme: str | Sequence[str] | None = None,
    skip_bad: bool = False,
    cache_dir: str | Path | None = None,
    batch_size: int = 256,
    progress: bool = False,
    model_name: str = "cuhk5",
    backend: str = "torch",
    threads: int | None = None,
) -> Evaluation:
    """A model (default: the shipped ``model_name``) on the annotated faces of a list, with the list's boxes.

    A model of more points on a five-point list (the 68-point model on the CUHK set) is scored
    on its predictions reduced to five points (:func:`~isnet.data.reduce_to_cuhk5`). A region
    network (:mod:`isnet.regions`) reads its region's view framed by the annotated points, and is
    scored on its region's points (:func:`~isnet.metrics.summarise_region`).
    ``backend`` (``"torch"`` or ``"onnx"``) runs the network; ``threads`` is the onnxruntime
    session's intra-op threads (``None``: its default). PyTorch's threads are the process's
    (``torch.set_num_threads``).
    """
    t0 = time.perf_counter()
    label = weights_label(weights, model_name)
    model = load(weights_path(weights, model_name))
    if backend == "onnx":
        model = OnnxISNet(model, threads)
    elif backend != "torch":
        raise ValueError(f"backend must be 'torch' or 'onnx', got {backend!r}")
    skipped = Skipped()
    samples = read_samples(model, label, list_path, fmt, root, pts_scheme, skip_bad, skipped)
    config = model.config
    crops = model_crops(samples, config, cache_dir, skip_bad, skipped, progress)
    pred, gt = predict_crops(model, crops, batch_size), ground_truth(crops)
    scheme = config.landmark_scheme
    if gt.shape[1] != pred.shape[1]:
        pred, scheme = reduce_to_cuhk5(pred, scheme), CUHK5
    if config.region:
        metrics = summarise_region(pred, gt, crops.box_wh, scheme, config.points_read)
    else:
        metrics = summarise(pred, gt, crops.box_wh, scheme)
    metrics |= {"skipped": skipped.items, "weights": label, "list": str(list_path)}
    metrics["seconds"] = time.perf_counter() - t0
    return Evaluation(metrics, pred, gt, scheme, skipped.items)


def brief(metrics: dict) -> dict:
    return {k: metrics[k] for k in KEYS}


@dataclass
class DetectorFits:
    """What :func:`detector_fits` saw: per listed face ``gt`` and ``on_list`` ``(K, 2)``; per
    matched face (``matched`` indexes the listed ones) ``on_detector`` ``(M, K, 2)``, the
    detector's own ``own_points`` ``(M, 5, 2)`` and ``box_iou`` ``(M,)``."""

    gt: list[np.ndarray]
    on_list: list[np.ndarray]
    matched: np.ndarray
    on_detector: np.ndarray
    own_points: np.ndarray
    box_iou: np.ndarray
    n_found: int
    seconds: float


def detector_fits(samples: list[Sample], det: LandmarkDetector, min_iou: float, progress: bool = False) -> DetectorFits:
    """Each sample's landmarks from its listed box and, where ``det``'s detector finds it (the
    detection of highest IoU, at least ``min_iou``), from the detector's box."""
    detector = det.detector
    gt, on_list, matched, on_detector, own_points, box_iou, n_found, seconds = [], [], [], [], [], [], 0, 0.0
    for i, s in enumerate(tqdm(samples, desc="faces", mininterval=5, disable=None if progress else True)):
        bgr, grey = to_bgr_grey(s.image)
        t = time.perf_counter()
        raw = detector.detect_raw(bgr)
        seconds += time.perf_counter() - t
        n_found += len(raw) > 0
        gt.append(s.landmarks)
        on_list.append(det.predict(grey, ltrb_to_xywh(s.box))[0].landmarks)
        j = match_box(xywh_to_ltrb(raw[:, :4]), s.box, min_iou)
        if j < 0:
            continue
        matched.append(i)
        on_detector.append(det.predict(grey, raw[j : j + 1, :4], raw[j : j + 1, 14], from_detector=True)[0].landmarks)
        own_points.append(raw[j, 4:14].reshape(5, 2))
        box_iou.append(float(iou(detector.training_boxes(raw[j : j + 1, :4]), s.box)[0]))
    k = det.scheme.n_points
    return DetectorFits(
        gt,
        on_list,
        np.array(matched, dtype=int),
        np.array(on_detector).reshape(-1, k, 2),
        np.array(own_points).reshape(-1, 5, 2),
        np.array(box_iou),
        int(n_found),
        seconds,
    )


def evaluate_with_detector(
    list_path: str | Path,
    weights: str | Path | None = None,
    detector: YuNet | None = None,
    min_iou: float = 0.3,
    fmt: str = "sun",
    root: str | Path | None = None,
    pts_scheme: str | Sequence[str] | None = None,
    skip_bad: bool = False,
    limit: int | None = None,
    progress: bool = False,
    model_name: str = "cuhk5",
    upright: str | Path | None = "default",
    mirror: bool = False,
    regions: Sequence[str | Path] | None = None,
) -> dict:
    """Landmarks from a detector's boxes against landmarks from the list's boxes, on the same faces.

    The detector runs once per image; the detection with the highest IoU with the annotated
    box, at least ``min_iou``, is that face's. On the matched faces three predictions are
    compared with the annotation: the model on the list's box, the model on the detector's box
    mapped to a training box (what :meth:`LandmarkDetector.detect` does), and the detector's
    own five points when it has them (YuNet). Both model predictions go through
    :class:`LandmarkDetector` with ``upright`` (``None``: one pass on the box) and ``mirror``
    (``False``: one reading a view, as ``isnet evaluate`` reads them); ``regions``: region networks
    that read the model's regions again (:mod:`isnet.regions`; ``None``: the model alone).

    Returns:
        ``{"n_faces_listed", "n_images_with_a_detection", "n_matched", "on_matched_faces", "on_all_faces",
        "mapped_box_iou_mean", "ms_per_image"}``, each metrics block as :func:`brief` gives it.
    """
    label = weights_label(weights, model_name)
    detector = detector or YuNet()
    det = LandmarkDetector(weights_path(weights, model_name), detector, upright=upright, regions=regions, mirror=mirror)
    skipped = Skipped()
    samples = read_samples(det.model, label, list_path, fmt, root, pts_scheme, skip_bad, skipped)[:limit]
    fits = detector_fits(samples, det, min_iou, progress)
    scheme, gt_all, pred_all, on_detector = det.scheme, np.array(fits.gt), np.array(fits.on_list), fits.on_detector
    if samples and gt_all.shape[1] != pred_all.shape[1]:
        pred_all, scheme = reduce_to_cuhk5(pred_all, scheme), CUHK5
        on_detector = reduce_to_cuhk5(on_detector, det.scheme) if len(on_detector) else on_detector.reshape(0, 5, 2)
    wh_all = np.stack([s.box[2:] - s.box[:2] for s in samples])
    idx = fits.matched
    gt_m, wh_m = gt_all[idx], wh_all[idx]
    on_matched = {
        "model_on_dataset_boxes": brief(summarise(pred_all[idx], gt_m, wh_m, scheme)),
        "model_on_mapped_yunet_boxes": brief(summarise(on_detector, gt_m, wh_m, scheme)),
    }
    if scheme.n_points == 5:
        on_matched["yunet_own_points"] = brief(summarise(fits.own_points, gt_m, wh_m, scheme))
    return {
        "list": str(list_path),
        "weights": label,
        "detector": detector.describe(),
        "upright_step": det.roll_model is not None,
        "mirror": det.config.mirror,
        "n_faces_listed": len(samples),
        "n_images_with_a_detection": fits.n_found,
        "n_matched": len(idx),
        "matching": f"detection with the highest IoU with the annotated box, kept if IoU >= {min_iou}",
        "on_matched_faces": on_matched,
        "on_all_faces": {"model_on_dataset_boxes": brief(summarise(pred_all, gt_all, wh_all, scheme))},
        "mapped_box_iou_with_dataset_box_mean": float(np.mean(fits.box_iou)) if len(fits.box_iou) else None,
        "detector_ms_per_image": 1000 * fits.seconds / max(1, len(samples)),
        "skipped": skipped.items,
    }


def match_by_centre(boxes: np.ndarray, points: np.ndarray) -> int:
    """Index of the box ``[x, y, w, h]`` whose centre is nearest the centre of a face's annotated
    five points, within their eye-centre distance (a face at any roll); -1 if none.

    Args:
        points: ``(5, 2)`` CUHK points (reduce 68 first).
    """
    centre = points.mean(axis=0)
    reach = float(np.linalg.norm(points[1] - points[0]))
    if not len(boxes):
        return -1
    d = np.hypot(boxes[:, 0] + boxes[:, 2] / 2 - centre[0], boxes[:, 1] + boxes[:, 3] / 2 - centre[1])
    j = int(np.argmin(d))
    return j if d[j] <= reach else -1


@dataclass
class RolledFits:
    """Per face of a list, the public API's fit on its photo turned by ``roll``.

    Attributes:
        found: ``(N,)`` whether a detection matched the face.
        nme: ``(N,)`` mean error of the five points over the annotated eye-centre distance (NaN if not found).
        quality: ``(N,)`` the face's ``quality`` (NaN if not found or none).
        score: ``(N,)`` the detector's score (NaN if not found).
        read: ``(N, 5, 2)`` the five points read, in the turned photo's pixels (NaN if not found).
        truth: ``(N, 5, 2)`` the annotation's five points, turned alike.
        signals: name -> ``(N,)`` the signals the quality was computed from (:data:`isnet.quality.SIGNALS`;
            NaN if not found or none).
        nme_all: ``(N,)`` mean error of all the model's points over the annotated eye-centre
            distance, where the annotation has the same points (68 for the 68-point model); else NaN.
    """

    roll: float
    found: np.ndarray
    nme: np.ndarray
    quality: np.ndarray
    score: np.ndarray
    read: np.ndarray
    truth: np.ndarray
    signals: dict[str, np.ndarray]
    nme_all: np.ndarray


def fits_on_rolled_photos(det: LandmarkDetector, samples: list[Sample], roll: float) -> RolledFits:
    """:meth:`LandmarkDetector.detect` on each sample's photo turned by ``roll`` degrees
    (:func:`~isnet.transforms.turn_image`), matched by :func:`match_by_centre`, scored on five points in the
    subject's order (a 68-point model's and annotation's reduced to five)."""
    n = len(samples)
    found, nme_, quality, score = np.zeros(n, bool), np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    read, truths = np.full((n, 5, 2), np.nan), np.full((n, 5, 2), np.nan)
    signals = {name: np.full(n, np.nan) for name in SIGNALS}
    nme_all = np.full(n, np.nan)
    for i, s in enumerate(samples):
        bgr, _ = to_bgr_grey(s.image)
        turned, m = turn_image(bgr, roll)
        annotated = s.landmarks @ m[:, :2].T + m[:, 2]
        truth = truths[i] = _five(annotated)
        faces = det.detect(turned)
        j = match_by_centre(np.array([f.box for f in faces]).reshape(-1, 4), truth)
        if j < 0:
            continue
        pred = read[i] = _five(faces[j].landmarks)
        found[i] = True
        nme_[i] = np.linalg.norm(pred - truth, axis=1).mean() / np.linalg.norm(truth[1] - truth[0])
        quality[i] = np.nan if faces[j].quality is None else faces[j].quality
        score[i] = np.nan if faces[j].score is None else faces[j].score
        for name, value in (faces[j].signals or {}).items():
            signals[name][i] = value
        if len(faces[j].landmarks) == len(annotated):
            errors = np.linalg.norm(faces[j].landmarks - annotated, axis=1)
            nme_all[i] = errors.mean() / np.linalg.norm(truth[1] - truth[0])
    return RolledFits(roll, found, nme_, quality, score, read, truths, signals, nme_all)


# The rolls of the published roll table (degrees, counter-clockwise as seen).
ROLLS = (0.0, 15.0, 30.0, 45.0, -45.0, 60.0, -60.0, 75.0, 90.0, 180.0)


def flags(values: np.ndarray, failed: np.ndarray) -> float | None:
    """AUROC with which low ``values`` flag ``failed``; ``None`` when a class is empty or values are missing."""
    if np.isnan(values).any() or failed.all() or not failed.any():
        return None
    return auroc(-values, failed)


def roll_summary(fits: RolledFits) -> dict:
    """One row of the roll table: faces, not found, NME over the eye-centre distance (mean,
    median), failures (NME > 0.10), AUC@0.10, and how well quality and score flag the failures."""
    f, n = fits.found, len(fits.found)
    nme_, failed = fits.nme[f], fits.nme[f] > 0.10
    return {
        "roll": fits.roll,
        "n_faces": n,
        "not_found": int(n - f.sum()),
        "nme_ipd_mean": float(nme_.mean()) if f.any() else None,
        "nme_ipd_median": float(np.median(nme_)) if f.any() else None,
        "fr_010": float(failed.mean()) if f.any() else None,
        "auc_010": auc(nme_) if f.any() else None,
        "quality_auroc": flags(fits.quality[f], failed),
        "score_auroc": flags(fits.score[f], failed),
    }


def evaluate_rolls(
    det: LandmarkDetector, samples: list[Sample], rolls: Sequence[float] = ROLLS, on_row: Callable | None = None
) -> dict:
    """The one rotated-photo evaluation: each sample's photo turned by each roll through
    ``det.detect`` (:func:`fits_on_rolled_photos`), a row per roll (:func:`roll_summary`) and
    the quality's and score's AUROC over all rolls. ``on_row`` is called with each row as it is made.

    Returns:
        ``{"rolls": [row, ...], "all_rolls": {"quality_auroc", "score_auroc"}, "seconds"}``.
    """
    t0 = time.perf_counter()
    rows, everything = [], []
    for roll in rolls:
        fits = fits_on_rolled_photos(det, samples, float(roll))
        rows.append(roll_summary(fits))
        everything.append(fits)
        if on_row is not None:
            on_row(rows[-1])
    found = np.concatenate([f.found for f in everything])
    failed = np.concatenate([f.nme for f in everything])[found] > 0.10
    return {
        "rolls": rows,
        "all_rolls": {
            "quality_auroc": flags(np.concatenate([f.quality for f in everything])[found], failed),
            "score_auroc": flags(np.concatenate([f.score for f in everything])[found], failed),
        },
        "seconds": time.perf_counter() - t0,
    }


def _five(points: np.ndarray) -> np.ndarray:
    return points if len(points) == CUHK5.n_points else reduce_to_cuhk5(points, get_scheme("ibug68"))
