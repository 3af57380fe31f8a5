"""Face boxes: the two conventions, overlap, and the maps between ways of drawing a box.

Boxes are ``[x, y, w, h]`` (what detectors give and the API takes) or ``(left, top, right,
bottom)`` (what the crop geometry uses), in the pixel frame of :mod:`isnet.transforms`: the
rectangle ``left = x, right = x + w`` and likewise in y.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isnet.assets import BOX_FROM_POINTS, read_fit
from isnet.schemes import CUHK5, Scheme

__all__ = [
    "box_from_landmarks",
    "BoxMap",
    "fit_box_from_points",
    "iou",
    "ltrb_to_xywh",
    "match_box",
    "overlaps_image",
    "roll_of",
    "rotate_points",
    "xywh_to_ltrb",
]


def xywh_to_ltrb(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` ``[x, y, w, h]`` to ``(N, 4)`` ``(left, top, right, bottom)``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def ltrb_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` ``(left, top, right, bottom)`` to ``(N, 4)`` ``[x, y, w, h]``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    """``(N,)`` intersection over union of ``(N, 4)`` boxes with one box, all ``(l, t, r, b)``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(boxes[:, :2], box[:2])
    rb = np.minimum(boxes[:, 2:], box[2:])
    inter = np.prod(np.clip(rb - lt, 0.0, None), axis=1)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    union = area + np.prod(box[2:] - box[:2]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def overlaps_image(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(N,)`` whether each box ``[x, y, w, h]`` covers some of a ``width`` x ``height`` image."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return (b[:, 0] < width) & (b[:, 1] < height) & (b[:, 0] + b[:, 2] > 0) & (b[:, 1] + b[:, 3] > 0)


def match_box(detections: np.ndarray, annotated: np.ndarray, min_iou: float) -> int:
    """Index of the detection that best overlaps an annotated box, or -1.

    Args:
        detections: ``(N, 4)`` detected boxes ``(l, t, r, b)``.
        annotated: ``(4,)`` annotated box ``(l, t, r, b)``.
        min_iou: the best detection must overlap at least this much.
    """
    if len(detections) == 0:
        return -1
    overlap = iou(detections, annotated)
    best = int(np.argmax(overlap))
    return best if overlap[best] >= min_iou else -1


@dataclass(frozen=True)
class BoxMap:
    """Detector box to training (CUHK) box, per axis, relative to the detector box.

    With a detector box of centre ``(cx, cy)`` and size ``(w, h)``, the CUHK box has
    centre ``(cx + dx * w, cy + dy * h)`` and size ``(sx * w, sy * h)``.
    """

    dx: float = 0.0
    dy: float = 0.0
    sx: float = 1.0
    sy: float = 1.0

    def apply(self, boxes: np.ndarray) -> np.ndarray:
        """``(N, 4)`` detector boxes ``[x, y, w, h]`` to ``(N, 4)`` CUHK boxes ``(l, t, r, b)``."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        w, h = b[:, 2], b[:, 3]
        cx = b[:, 0] + 0.5 * w + self.dx * w
        cy = b[:, 1] + 0.5 * h + self.dy * h
        hw, hh = 0.5 * self.sx * w, 0.5 * self.sy * h
        return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1)

    @classmethod
    def fit(cls, detected: np.ndarray, target: np.ndarray) -> BoxMap:
        """Least squares fit, in pixels, from matched pairs.

        Args:
            detected: ``(N, 4)`` detector boxes ``[x, y, w, h]``.
            target: ``(N, 4)`` training boxes ``(l, t, r, b)`` of the same faces.
        """
        d = np.asarray(detected, dtype=np.float64).reshape(-1, 4)
        t = np.asarray(target, dtype=np.float64).reshape(-1, 4)
        if len(d) == 0:
            raise ValueError("cannot fit a box map without matched boxes")
        size = d[:, 2:]
        offset = 0.5 * (t[:, :2] + t[:, 2:]) - (d[:, :2] + 0.5 * size)
        t_size = t[:, 2:] - t[:, :2]
        # Each parameter multiplies the detector's size on its axis: a one-unknown
        # least squares problem per parameter, sum(a * s) / sum(s^2).
        ss = (size**2).sum(axis=0)
        dx, dy = (offset * size).sum(axis=0) / ss
        sx, sy = (t_size * size).sum(axis=0) / ss
        return cls(float(dx), float(dy), float(sx), float(sy))

    @classmethod
    def load(cls, path: str | Path) -> BoxMap:
        """Read the ``dx, dy, sx, sy`` of a JSON file written by ``scripts/fit_yunet_box_map.py``."""
        path = Path(path)
        try:
            d = json.loads(path.read_text())
            return cls(float(d["dx"]), float(d["dy"]), float(d["sx"]), float(d["sy"]))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{path}: no box map; fit one with scripts/fit_yunet_box_map.py (needs the CUHK training list)"
            ) from None
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: not a box map ({e})") from None


def fit_box_from_points(landmarks: np.ndarray, boxes: np.ndarray) -> dict[str, float]:
    """Least squares ``dx, dy, scale`` of :func:`box_from_landmarks` from annotated faces.

    Args:
        landmarks: ``(N, 5, 2)`` five CUHK points.
        boxes: ``(N, 4)`` their boxes ``(l, t, r, b)``.
    """
    spread = np.maximum(np.ptp(landmarks[:, :, 0], axis=1), np.ptp(landmarks[:, :, 1], axis=1))
    centre = landmarks.mean(axis=1)
    box_centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
    side = 0.5 * ((boxes[:, 2] - boxes[:, 0]) + (boxes[:, 3] - boxes[:, 1]))
    ss = np.sum(spread**2)
    return {
        "dx": float(np.sum((box_centre[:, 0] - centre[:, 0]) * spread) / ss),
        "dy": float(np.sum((box_centre[:, 1] - centre[:, 1]) * spread) / ss),
        "scale": float(np.sum(side * spread) / ss),
    }


@functools.cache
@functools.cache
def _box_fit() -> dict[str, float]:
    return read_fit(BOX_FROM_POINTS, ("dx", "dy", "scale"), "scripts/fit_box_from_landmarks.py")


def box_from_landmarks(landmarks: np.ndarray, scheme: Scheme) -> np.ndarray:
    """A CUHK-like face box ``(left, top, right, bottom)`` from five CUHK points; ``(..., 5, 2)``
    points give ``(..., 4)`` boxes.

    The CUHK set's boxes come from a face detector; formats without a box get one drawn the
    same way on average, from the spread of the five points: centre = point centre + (dx, dy)
    * spread, side = scale * spread, with the constants that ``scripts/fit_box_from_landmarks.py``
    fitted on the CUHK training split (``weights/box_from_points.json``).
    """
    if scheme.n_points != CUHK5.n_points:
        raise ValueError("box_from_landmarks expects five CUHK points")
    fit = _box_fit()
    centre = landmarks.mean(axis=-2)
    spread = np.maximum(np.ptp(landmarks, axis=-2).max(axis=-1), 1.0)
    cx = centre[..., 0] + fit["dx"] * spread
    cy = centre[..., 1] + fit["dy"] * spread
    half = 0.5 * fit["scale"] * spread
    return np.stack([cx - half, cy - half, cx + half, cy + half], axis=-1)


def roll_of(points: np.ndarray) -> np.ndarray:
    """``(N,)`` roll of faces from their ``(N, 5, 2)`` CUHK points, in radians: the angle of the
    line from ``left_eye`` to ``right_eye`` in image pixels (y down), 0 for an upright face and
    +-pi for one upside down (the points follow the subject)."""
    v = points[:, 1] - points[:, 0]
    return np.arctan2(v[:, 1], v[:, 0])


def rotate_points(points: np.ndarray, angles: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``(N, K, 2)`` points turned by ``(N,)`` radians about ``(N, 2)`` centres (y down: a positive
    angle turns +x towards +y)."""
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    d = points - centres[:, None]
    return np.stack([c * d[..., 0] - s * d[..., 1], s * d[..., 0] + c * d[..., 1]], -1) + centres[:, None]
