"""How far to trust a fit: the quality score of the upright step's two passes.

The upright step runs two networks on each face (:class:`~isnet.api.LandmarkDetector`): one
trained on faces at any roll, whose five points turn the face upright, then the landmark model
on the upright view. On a face both read well they agree; where the face is not a face, or is
cut, turned or covered past what they learned, they part. The disagreement, logistic in its
logarithm, estimates the chance that the fit's error is at most 10 % of the eye distance; the
two constants are fitted on training faces by ``scripts/fit_quality.py`` (``weights/quality.json``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from isnet.assets import QUALITY_FIT, read_fit

FIT_KEYS = ("intercept", "slope")


def disagreement(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``(N,)`` mean distance between two ``(N, 5, 2)`` readings of the five points, over the
    second's eye distance (floored at a pixel)."""
    eyes = np.maximum(np.linalg.norm(second[:, 1] - second[:, 0], axis=-1), 1.0)
    return np.linalg.norm(first - second, axis=-1).mean(axis=-1) / eyes


@cache
def quality_fit(path: Path = QUALITY_FIT) -> dict[str, float]:
    return read_fit(path, FIT_KEYS, "scripts/fit_quality.py")


def quality_of(d: np.ndarray, fit: dict[str, float] | None = None) -> np.ndarray:
    """``(N,)`` qualities in [0, 1] of disagreements ``d``: ``1 / (1 + exp(-(intercept + slope * log d)))``."""
    fit = fit or quality_fit()
    z = fit["intercept"] + fit["slope"] * np.log(np.maximum(np.asarray(d, np.float64), 1e-6))
    return 1.0 / (1.0 + np.exp(-z))
