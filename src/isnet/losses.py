"""Losses: the training losses and the paper's Euclidean loss, in the paper's units.

The paper trained on the face box resized to 39 x 39 pixels (Sun et al.'s level 1), so its
losses are in those pixels; ours are reported in the same units, in training and in
evaluation alike.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["euclidean", "euclidean_loss", "LOSS_BOX_PIXELS", "LOSSES", "view_to_loss_units", "wing"]

LOSS_BOX_PIXELS = 39.0


def view_to_loss_units(margin: float) -> float:
    """Factor from fractions of the network's view to pixels of a 39-pixel face box.

    The view is the box with ``margin`` of its side added on every side.
    """
    return LOSS_BOX_PIXELS * (1.0 + 2.0 * margin)


def euclidean(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Caffe's EuclideanLoss, ``1/(2N) sum ||pred - target||^2`` over ``(N, K, 2)``."""
    return (pred - target).pow(2).sum() / (2 * len(pred))


def wing(pred: torch.Tensor, target: torch.Tensor, w: float = 5.0, eps: float = 1.0) -> torch.Tensor:
    """Wing loss (Feng et al., CVPR 2018) per coordinate, summed over points, mean over faces."""
    x = (pred - target).abs()
    c = w - w * math.log1p(w / eps)
    loss = torch.where(x < w, w * torch.log1p(x / eps), x - c)
    return loss.sum() / len(pred)


LOSSES = ("euclidean", "wing")


def euclidean_loss(pred: np.ndarray, gt: np.ndarray, box_wh: np.ndarray, box_pixels: float = LOSS_BOX_PIXELS) -> float:
    """Caffe's EuclideanLoss, ``1/(2N) sum ||pred - gt||^2``, over all points of N faces.

    Args:
        pred: ``(N, K, 2)`` landmarks in image pixels.
        gt: ``(N, K, 2)`` landmarks in image pixels.
        box_wh: ``(N, 2)`` width and height of each face box; coordinates are expressed in
            pixels of the box resized to ``box_pixels`` square (x over box width, y over height).
    """
    d = (pred - gt) / box_wh[:, None, :] * box_pixels
    return float((d**2).sum() / (2 * len(pred)))
