"""Inference: crops of faces to network views, the network, and points back in image pixels.

Two paths to landmarks share the network and its mirrored reading: :func:`predict_crops` from a
:class:`~isnet.data.CropSet` (evaluation, validation during training), and :func:`read_frames`
from decoded photos and face frames (:class:`~isnet.api.LandmarkDetector`'s passes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from isnet.data import CropSet
from isnet.export import OnnxISNet
from isnet.frames import Frames
from isnet.model import ISNet
from isnet.photo import Photo, warp_views
from isnet.transforms import (
    apply_affines,
    compose,
    invert_affine,
    plain_views,
    view_matrices,
)

__all__ = [
    "read_frames",
    "Readings",
    "ground_truth",
    "input_device",
    "predict_crops",
    "run_network",
    "view_inputs",
]


def view_inputs(model: ISNet | OnnxISNet, crops: CropSet, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unaugmented network views ``(B, 1, S, S)`` float32 of faces ``index`` and their maps source -> view
    (the plain views of training's separable path)."""
    cfg = model.config
    mats, _ = view_matrices(crops.boxes[index], crops.images.shape[-1], cfg.input_size, cfg.margin)
    return plain_views(crops.images[index], mats, cfg.input_size), mats


def run_network(model: ISNet | OnnxISNet, views: np.ndarray) -> np.ndarray:
    """``(B, K, 2)`` float64 outputs (fractions of the view) of either backend on ``(B, 1, S, S)`` views."""
    if isinstance(model, OnnxISNet):
        return model.run(views).astype(np.float64)
    with torch.inference_mode():
        return model(torch.from_numpy(views).to(input_device(model))).cpu().numpy().astype(np.float64)


def input_device(model) -> torch.device:
    """Where a model wants its input: its parameters' device; the CPU for models without
    parameters (the onnxruntime backend)."""
    first = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    return first.device if first is not None else torch.device("cpu")


def predict_crops(model: ISNet | OnnxISNet, crops: CropSet, batch_size: int = 256, mirror: bool = False) -> np.ndarray:
    """Landmarks ``(N, K, 2)`` in image pixels for every face of a crop set (evaluation and
    validation during training; photos go through :func:`read_frames`).

    With ``mirror`` each view is also read mirrored (in the same network call) and the two
    readings are averaged, the mirrored one mirrored back and its pairs swapped as training
    swapped them (:func:`~isnet.transforms.flip_landmarks`).
    """
    model.eval()
    perm = model.config.landmark_scheme.flip_permutation() if mirror else None
    out = []
    for start in range(0, len(crops), batch_size):
        index = np.arange(start, min(start + batch_size, len(crops)))
        views, mats = view_inputs(model, crops, index)
        out.append(
            apply_affines(invert_affine(compose(mats, crops.to_source[index])), _mirrored(model, views, perm)[0])
        )
    if not out:
        return np.zeros((0, model.config.landmark_scheme.n_points, 2))
    return np.concatenate(out)


@dataclass
class Readings:
    """What one network read of faces in their frames.

    Attributes:
        frames: the frames read.
        points: ``(N, K, 2)`` landmarks in photo pixels.
        mirror_gap: ``(N,)`` how far the plain and the mirrored reading part: the mean distance
            over the K points, in view sides. A view the network knows reads the same both ways;
            where it guesses (a background patch, a profile read as a frontal face) the two
            guesses part. ``None`` when read unmirrored.
    """

    frames: Frames
    points: np.ndarray
    mirror_gap: np.ndarray | None


def read_frames(
    model: ISNet | OnnxISNet, photos: list[Photo], frames: Frames, mirror: bool = False, batch_size: int = 256
) -> Readings:
    """Landmarks of faces in their frames: one warp a view (:func:`~isnet.photo.warp_views`),
    all faces of all photos through the network together, ``batch_size`` at a time; with
    ``mirror`` each view is also read mirrored in the same call (see :func:`predict_crops`)."""
    cfg = model.config
    size, k = cfg.input_size, cfg.landmark_scheme.n_points
    perm = cfg.landmark_scheme.flip_permutation() if mirror else None
    mats = frames.matrices(size, cfg.margin)
    points, gap = np.zeros((len(frames), k, 2)), np.zeros(len(frames)) if mirror else None
    for start in range(0, len(frames), batch_size):
        part = slice(start, min(start + batch_size, len(frames)))
        views = warp_views(photos, frames.photo[part], mats[part], size)
        pts, g = _mirrored(model, views, perm)
        points[part] = apply_affines(invert_affine(mats[part]), pts)
        if gap is not None:
            gap[part] = g
    return Readings(frames, points, gap)


def _mirrored(
    model: ISNet | OnnxISNet, views: np.ndarray, perm: list[int] | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(B, K, 2)`` points in view pixels of ``(B, 1, S, S)`` views, and with a flip
    permutation their ``(B,)`` mirror gaps (the views read plain and mirrored, averaged)."""
    size = views.shape[-1]
    if perm is None:
        return run_network(model, views) * size, None
    # Training mirrored views about their centre, (size - 1) / 2 in pixels: u -> size - 1 - u.
    both = run_network(model, np.concatenate([views, np.ascontiguousarray(views[..., ::-1])])) * size
    plain, mirrored = both[: len(views)], both[len(views) :, perm]
    mirrored[..., 0] = size - 1 - mirrored[..., 0]
    return 0.5 * (plain + mirrored), np.linalg.norm(plain - mirrored, axis=-1).mean(axis=-1) / size


def ground_truth(crops: CropSet) -> np.ndarray:
    """Annotated landmarks ``(N, K, 2)`` in image pixels."""
    return apply_affines(invert_affine(crops.to_source), crops.landmarks.astype(np.float64))
