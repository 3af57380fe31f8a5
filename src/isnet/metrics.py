"""Metrics: small pure functions over arrays, and the published numbers they are compared with.

Array shapes: ``pred`` and ``gt`` are ``(N, K, 2)`` landmarks in image pixels; ``box_wh``
is ``(N, 2)``, the width and height of each face box.
"""

from __future__ import annotations

import numpy as np

from isnet.losses import euclidean_loss
from isnet.schemes import Scheme

__all__ = [
    "auc",
    "auroc",
    "box_errors",
    "ced",
    "failure_rate",
    "flicker",
    "format_table",
    "id_switches",
    "interocular",
    "interpupil",
    "nme",
    "offset_free_nme",
    "shake",
    "step_lag",
    "summarise",
    "summarise_region",
    "SUN_CASCADE",
    "SUN_LEVEL1",
]

# Sun, Wang & Tang (CVPR 2013), Fig. 6 on the same validation faces: mean point error over the
# box width, per point (left eye, right eye, nose, left mouth corner, right mouth corner).
SUN_LEVEL1 = (0.0221, 0.0228, 0.0299, 0.0284, 0.0289)
SUN_CASCADE = (0.0134, 0.0130, 0.0170, 0.0181, 0.0184)


def interpupil(gt: np.ndarray, scheme: Scheme) -> np.ndarray:
    """``(N,)`` distance between the eye centres of each face."""
    left = gt[:, list(scheme.left_eye)].mean(axis=1)
    right = gt[:, list(scheme.right_eye)].mean(axis=1)
    return np.linalg.norm(left - right, axis=1)


def interocular(gt: np.ndarray, scheme: Scheme) -> np.ndarray:
    """``(N,)`` the scheme's inter-ocular distance: its ``ocular`` points (300-W: the outer eye
    corners), or the eye centres where it names none (CUHK)."""
    if scheme.ocular is None:
        return interpupil(gt, scheme)
    a, b = scheme.ocular
    return np.linalg.norm(gt[:, a] - gt[:, b], axis=1)


def nme(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """``(N,)`` mean point-to-point error of each face divided by ``norm`` ``(N,)``."""
    return np.linalg.norm(pred - gt, axis=2).mean(axis=1) / norm


def ced(errors: np.ndarray, threshold: float = 0.10, steps: int = 1001) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution: ``(thresholds, fraction of faces with error <= t)``."""
    t = np.linspace(0.0, threshold, steps)
    frac = (errors[None, :] <= t[:, None]).mean(axis=1)
    return t, frac


def failure_rate(errors: np.ndarray, threshold: float = 0.10) -> float:
    """Fraction of faces whose error exceeds ``threshold``."""
    return float((errors > threshold).mean())


def auc(errors: np.ndarray, threshold: float = 0.10, steps: int = 1001) -> float:
    """Area under the CED curve up to ``threshold``, divided by ``threshold`` (1 is perfect)."""
    t, frac = ced(errors, threshold, steps)
    return float(np.trapezoid(frac, t) / threshold)


def box_errors(pred: np.ndarray, gt: np.ndarray, box_wh: np.ndarray) -> np.ndarray:
    """``(N, K)`` error of each point divided by its face's box width (Sun et al.'s measure)."""
    return np.linalg.norm(pred - gt, axis=2) / box_wh[:, :1]


def summarise(pred: np.ndarray, gt: np.ndarray, box_wh: np.ndarray, scheme: Scheme) -> dict:
    """All metrics of ``isnet evaluate`` as a JSON-ready dict."""
    iod = interocular(gt, scheme)
    face_nme = nme(pred, gt, iod)
    ipd_nme = nme(pred, gt, interpupil(gt, scheme))
    per_point = box_errors(pred, gt, box_wh)
    point_nme = np.linalg.norm(pred - gt, axis=2) / iod[:, None]
    return {
        "n_faces": int(len(pred)),
        "euclidean_loss": euclidean_loss(pred, gt, box_wh),
        "nme_iod": float(face_nme.mean()),
        "fr_010": failure_rate(face_nme, 0.10),
        "auc_010": auc(face_nme, 0.10),
        "fr_008": failure_rate(face_nme, 0.08),
        "auc_008": auc(face_nme, 0.08),
        "nme_ipd": float(ipd_nme.mean()),
        "nme_iod_per_region": {name: float(point_nme[:, list(idx)].mean()) for name, idx in scheme.regions},
        "points": list(scheme.points),
        "box_error_per_point": per_point.mean(axis=0).tolist(),
        "box_fail05_per_point": (per_point > 0.05).mean(axis=0).tolist(),
        "box_error_mean": float(per_point.mean()),
    }


def summarise_region(
    pred: np.ndarray, gt: np.ndarray, box_wh: np.ndarray, scheme: Scheme, points: tuple[int, ...]
) -> dict:
    """A region network's metrics (:mod:`isnet.regions`): over its ``points`` only, NME still
    normalised by the whole face's inter-ocular distance."""
    index = list(points)
    e = nme(pred[:, index], gt[:, index], interocular(gt, scheme))
    return {
        "n_faces": int(len(pred)),
        "points": [scheme.points[i] for i in index],
        "euclidean_loss": euclidean_loss(pred[:, index], gt[:, index], box_wh),
        "nme_iod": float(e.mean()),
        "fr_008": failure_rate(e, 0.08),
        "auc_008": auc(e, 0.08),
    }


def format_table(metrics: dict) -> str:
    """The per-point table and headline numbers, as printed by ``isnet evaluate`` (a region
    network's, :func:`summarise_region`, in one line)."""
    if "fr_010" not in metrics:
        return (
            f"faces {metrics['n_faces']}  region points {len(metrics['points'])}  euclidean loss "
            f"{metrics['euclidean_loss']:.4f}  NME(iod) {100 * metrics['nme_iod']:.3f}%  "
            f"FR@0.08 {100 * metrics['fr_008']:.2f}%  AUC@0.08 {metrics['auc_008']:.4f}"
        )
    lines = [
        f"faces {metrics['n_faces']}  euclidean loss {metrics['euclidean_loss']:.4f}  "
        f"NME(iod) {100 * metrics['nme_iod']:.3f}%  FR@0.10 {100 * metrics['fr_010']:.2f}%  "
        f"AUC@0.10 {metrics['auc_010']:.4f}",
        f"{'point':<14}{'error/box width':>17}{'fail > 5%':>11}",
    ]
    if len(metrics["points"]) > 10:  # many points: a row per region instead of per point
        lines[-1] = f"NME(ipd) {100 * metrics['nme_ipd']:.3f}%  FR@0.08 {100 * metrics['fr_008']:.2f}%  "
        lines[-1] += f"AUC@0.08 {metrics['auc_008']:.4f}"
        lines.append(f"{'region':<14}{'NME(iod)':>17}")
        for name, err in metrics["nme_iod_per_region"].items():
            lines.append(f"{name:<14}{100 * err:>16.3f}%")
        return "\n".join(lines)
    for name, err, fail in zip(metrics["points"], metrics["box_error_per_point"], metrics["box_fail05_per_point"]):
        lines.append(f"{name:<14}{100 * err:>16.3f}%{100 * fail:>10.2f}%")
    lines.append(f"{'mean':<14}{100 * metrics['box_error_mean']:>16.3f}%")
    return "\n".join(lines)


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative.

    Ties count one half (the Mann-Whitney statistic over all pairs).

    Args:
        scores: ``(N,)`` higher = more likely positive.
        positive: ``(N,)`` bool labels; both classes must occur.
    """
    scores, positive = np.asarray(scores, np.float64), np.asarray(positive, bool)
    pos, neg = scores[positive], scores[~positive]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("AUROC needs both positives and negatives")
    ranks = np.empty(len(scores))
    order = np.argsort(scores, kind="mergesort")
    ranks[order] = np.arange(1, len(scores) + 1)
    # Ties share their mean rank.
    uniq, inverse = np.unique(scores, return_inverse=True)
    sums = np.bincount(inverse, ranks)
    counts = np.bincount(inverse)
    ranks = (sums / counts)[inverse]
    return float((ranks[positive].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


# Video: one face followed over T frames. ``pred`` and ``truth`` are ``(T, K, 2)``, NaN in frames
# where the face is not found (pred) or not in the picture (truth); ``iod`` is ``(T,)``, the
# inter-ocular distance of the truth.


def flicker(pred: np.ndarray, truth: np.ndarray, iod: np.ndarray) -> np.ndarray:
    """``(T,)`` how much the points' motion from frame ``t - 1`` to ``t`` departs from the truth's:
    the mean over points of ``|(pred_t - pred_t-1) - (truth_t - truth_t-1)|`` over ``iod_t``; NaN
    at ``t = 0`` and where a frame lacks the face. A constant error does not flicker."""
    motion_error = np.diff(pred, axis=0) - np.diff(truth, axis=0)
    out = np.full(len(pred), np.nan)
    out[1:] = np.linalg.norm(motion_error, axis=-1).mean(axis=-1) / iod[1:]
    return out


def shake(points: np.ndarray, iod: np.ndarray) -> np.ndarray:
    """``(T,)`` how much the points shake, with no truth needed: the mean over points of the second
    difference ``|p_t - 2 p_t-1 + p_t-2|`` over ``iod_t`` (0 for points still or moving steadily);
    NaN at the first two frames and where one of the three lacks the face."""
    out = np.full(len(points), np.nan)
    out[2:] = np.linalg.norm(np.diff(points, n=2, axis=0), axis=-1).mean(axis=-1) / iod[2:]
    return out


def offset_free_nme(pred: np.ndarray, truth: np.ndarray, iod: np.ndarray) -> float:
    """The mean normalised point error once each point's mean offset over the frames with the
    face is removed (systems that place a point differently, e.g. iris against eye-contour
    centres, are compared on how well they follow it); NaN without such frames."""
    both = np.all(np.isfinite(pred) & np.isfinite(truth), axis=(1, 2)) & np.isfinite(iod)
    if not both.any():
        return float("nan")
    error = pred[both] - truth[both]
    error = error - error.mean(axis=0)
    return float((np.linalg.norm(error, axis=-1).mean(axis=-1) / iod[both]).mean())


def step_lag(pred: np.ndarray, truth: np.ndarray, step: int, reach: float = 0.9) -> float:
    """Frames after a step of motion at frame ``step`` until the predicted points' mean has moved
    ``reach`` of the way the truth's did (0: at once); ``inf`` if never, NaN if the face is
    missing before the step.

    The step is the truth's mean point after it less before it; progress is the prediction's
    displacement from its mean over the five frames before the step, along the step.
    """
    centre_pred, centre_truth = np.nanmean(pred, axis=1), np.nanmean(truth, axis=1)
    before = slice(max(0, step - 5), step)
    if not np.all(np.isfinite(centre_pred[before])):
        return float("nan")
    jump = centre_truth[step] - centre_truth[step - 1]
    length = float(np.linalg.norm(jump))
    progress = (centre_pred[step:] - centre_pred[before].mean(axis=0)) @ (jump / length) / length
    reached = np.flatnonzero(np.nan_to_num(progress, nan=-np.inf) >= reach)
    return float(reached[0]) if len(reached) else float("inf")


def id_switches(ids: np.ndarray) -> int:
    """How often the track id given to one face changes over ``(T,)`` ids (-1: not found)."""
    found = ids[ids >= 0]
    return int(np.count_nonzero(found[1:] != found[:-1]))
