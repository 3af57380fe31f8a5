"""How far to trust a fit: the quality score.

The pipeline (:mod:`isnet.pipeline`) reads each face in a frame and frames it anew by the points
it read. On a face it reads well the points sit where the frame put them and agree with the
detector's own five points, and a mirrored view reads the same; where the face is not a face,
or is cut, turned or covered past what the networks learned, they part. The quality is a
logistic model of these signals and the detector's score: the estimated chance that the fit's
error is at most 10 % of the eye distance.

The signals (:data:`SIGNALS`), each entered as its :data:`TRANSFORMS` form:

- ``shift``: how far the last reading's points would move its view if the face were framed by
  them (:func:`isnet.frames.frame_shift`, view sides), log;
- ``disagreement``: the roll network's five points (it reads the faces in doubt, ``roll_check``)
  and the landmarks' apart (:func:`disagreement`), log;
- ``detector_gap``: the detector's five points and the landmarks' apart (:func:`disagreement`), log;
- ``mirror_gap``: the plain and mirrored readings of all points apart (:class:`isnet.inference.Readings`), log;
- ``score``: the detector's confidence, logit.

``weights/quality.json`` (written by ``scripts/fit_quality.py``) holds a fit per shipped landmark
model, by its scheme's name; a fit holds one model per set of signals, so a face missing one (no
detector points or score for a box the caller gave, no mirror gap unmirrored, no disagreement
where the roll network was not asked) is scored by the model of the signals it has. A fit is
made on real faces, good and failed (all the model's points within 10 % of the eye distance on
average), and on false detections in photos of background, labelled not good. A model of
another scheme is scored by the five-point fit without the mirror gap, whose scale depends on
the points read.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np

from isnet.assets import QUALITY_FIT, read_fitted

__all__ = ["SIGNALS", "TRANSFORMS", "design", "disagreement", "quality_fit", "quality_fits", "quality_of"]

SIGNALS = ("shift", "disagreement", "detector_gap", "mirror_gap", "score")


def _log_distance(v: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(v, 1e-6))


def _logit(v: np.ndarray) -> np.ndarray:
    p = np.clip(v, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


# How each signal enters the logistic model: distances on a log scale, the score as its logit.
TRANSFORMS = {
    "shift": _log_distance,
    "disagreement": _log_distance,
    "detector_gap": _log_distance,
    "mirror_gap": _log_distance,
    "score": _logit,
}


def disagreement(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """``(N,)`` mean distance between two ``(N, 5, 2)`` readings of the five points, over the
    second's eye distance (floored at a pixel)."""
    eyes = np.maximum(np.linalg.norm(second[:, 1] - second[:, 0], axis=-1), 1.0)
    return np.linalg.norm(first - second, axis=-1).mean(axis=-1) / eyes


# The fit that scores models of a scheme without a fit of its own, and the signals it may use.
FALLBACK_SCHEME = "cuhk5"
FALLBACK_SIGNALS = ("shift", "disagreement", "detector_gap", "score")


@cache
def quality_fits(path: Path = QUALITY_FIT) -> dict[str, dict]:
    """The shipped fits by scheme name, each ``{"models": [{"signals", "intercept", "weights"}, ...]}``."""
    fits = read_fitted(path, "scripts/fit_quality.py")
    try:
        for fit in fits.values():
            for m in fit["models"]:
                if not set(m["signals"]) <= set(SIGNALS) or len(m["weights"]) != len(m["signals"]):
                    raise ValueError(f"unknown signals or weights in {m}")
                float(m["intercept"])
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not the output of scripts/fit_quality.py ({e})") from None
    return fits


def quality_fit(scheme: str, path: Path = QUALITY_FIT) -> dict:
    """The fit for a landmark model of ``scheme``: its own, else the five-point fit restricted to
    :data:`FALLBACK_SIGNALS`."""
    fits = quality_fits(path)
    if scheme in fits:
        return fits[scheme]
    models = [m for m in fits[FALLBACK_SCHEME]["models"] if set(m["signals"]) <= set(FALLBACK_SIGNALS)]
    return {"models": models}


def design(signals: Mapping[str, np.ndarray], names: tuple[str, ...] | list[str]) -> np.ndarray:
    """``(N, len(names))`` the transformed signals ``names`` (:data:`TRANSFORMS`)."""
    return np.stack([TRANSFORMS[n](np.asarray(signals[n], np.float64)) for n in names], axis=-1)


def quality_of(signals: Mapping[str, np.ndarray], fit: dict | None = None) -> np.ndarray:
    """``(N,)`` qualities in [0, 1]: per face, the fit's first model whose signals the face has
    (present and finite), ``1 / (1 + exp(-(intercept + weights . design)))``; NaN where none applies.

    Args:
        signals: name -> ``(N,)`` values, names of :data:`SIGNALS`.
        fit: ``{"models": [...]}`` as :func:`quality_fit` gives it; ``None``: the shipped five-point fit.
    """
    fit = fit or quality_fit(FALLBACK_SCHEME)
    n = len(next(iter(signals.values())))
    out = np.full(n, np.nan)
    todo = np.ones(n, bool)
    finite = {k: np.isfinite(np.asarray(v, np.float64)) for k, v in signals.items()}
    for model in fit["models"]:
        names = model["signals"]
        if not all(k in signals for k in names):
            continue
        has = todo.copy()
        for k in names:
            has &= finite[k]
        if not has.any():
            continue
        x = design({k: np.asarray(signals[k])[has] for k in names}, names)
        z = float(model["intercept"]) + x @ np.asarray(model["weights"], np.float64)
        out[has] = 1.0 / (1.0 + np.exp(-z))
        todo &= ~has
    return out
