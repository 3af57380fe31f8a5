"""Where an annotation set puts the five points, and the map from one set's placement to another's.

CUHK's five points are placed by hand (the pupils, the nose tip, the mouth corners); 300-W's
are means of its 68 points (the eyes' contours) and single points of them (its README). A model
puts its points where its training set does: the shipped five-point model, trained on CUHK,
puts the eyes a few percent of the eye distance above 300-W's eye centres and the nose below.
Scored against 300-W's annotations, that is error the model did not make.

The map is linear in the face's own frame (origin at the five points' mean, turned upright by
their roll, the eye distance as unit): ``frame' = frame + [frame, 1] @ W``, ``W`` ``(11, 10)``,
fitted by least squares on faces read through the pipeline and their annotations
(``scripts/fit_placement.py``, ``weights/placement_cuhk_to_300w.json``). Being in the face's
frame, it holds at any roll and size.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from isnet.assets import PLACEMENT_FITS, read_fitted
from isnet.boxes import roll_of, rotate_points

__all__ = ["apply_map", "fit_map", "from_face_frame", "placement_map", "PLACEMENTS", "read_map", "to_face_frame"]

# The placements a five-point output can follow: the CUHK set's and 300-W's.
PLACEMENTS = ("cuhk", "300w")


def _frame(of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, 2)`` centres, ``(N,)`` rolls and ``(N,)`` eye distances (floored at a pixel) of ``(N, 5, 2)`` points."""
    return of.mean(axis=1), roll_of(of), np.maximum(np.linalg.norm(of[:, 1] - of[:, 0], axis=-1), 1.0)


def to_face_frame(points: np.ndarray, of: np.ndarray | None = None) -> np.ndarray:
    """``(N, 10)`` coordinates of ``(N, 5, 2)`` points in the frame of the five points ``of``
    (default: their own): about their mean, turned upright by their roll, over their eye
    distance (floored at a pixel)."""
    centres, rolls, eyes = _frame(points if of is None else of)
    upright = rotate_points(points, -rolls, centres) - centres[:, None]
    return (upright / eyes[:, None, None]).reshape(len(points), 10)


def from_face_frame(coords: np.ndarray, like: np.ndarray) -> np.ndarray:
    """``(N, 5, 2)`` image points of ``(N, 10)`` face-frame coordinates, in the frame of ``like``
    ``(N, 5, 2)`` (the inverse of :func:`to_face_frame` for ``like`` itself)."""
    centres, rolls, eyes = _frame(like)
    return rotate_points(coords.reshape(-1, 5, 2) * eyes[:, None, None] + centres[:, None], rolls, centres)


def fit_map(read: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``(11, 10)`` least-squares map from ``(N, 5, 2)`` points as read to where ``truth``
    ``(N, 5, 2)`` puts them, both in the frame of the points as read.

    The frame ties four coordinates (mean 0, eyes level, eye distance 1), so the map is the
    least-norm one of many that move faces alike."""
    x = to_face_frame(read)
    y = to_face_frame(truth, of=read)
    design = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    w, *_ = np.linalg.lstsq(design, y - x, rcond=None)
    return w


def apply_map(five: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(N, 5, 2)`` points moved by a map ``w`` ``(11, 10)`` of :func:`fit_map`."""
    if not len(five):
        return five
    x = to_face_frame(five)
    return from_face_frame(x + np.concatenate([x, np.ones((len(x), 1))], axis=1) @ w, five)


@cache
def placement_map(source: str, target: str) -> np.ndarray:
    """The fitted ``(11, 10)`` map from ``source``'s placement to ``target``'s (:data:`PLACEMENTS`)."""
    path = PLACEMENT_FITS.get((source, target))
    if path is None:
        fitted = ", ".join(f"{s} -> {t}" for s, t in PLACEMENT_FITS)
        raise ValueError(f"no fitted map from the {source} placement to {target}; fitted: {fitted}")
    return read_map(path)


def read_map(path: Path) -> np.ndarray:
    """The ``matrix`` of a JSON file written by ``scripts/fit_placement.py``, checked for shape."""
    d = read_fitted(path, "scripts/fit_placement.py")
    try:
        w = np.asarray(d["matrix"], np.float64)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not the output of scripts/fit_placement.py ({e})") from None
    if w.shape != (11, 10):
        raise ValueError(f"{path}: the map must be 11 x 10, got {w.shape}")
    return w
