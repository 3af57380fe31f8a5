"""Inference: crops of faces to network views, the network, and points back in image pixels.

The one path from a :class:`~isnet.data.CropSet` to landmarks, used by evaluation, by
validation during training, and by :class:`~isnet.api.LandmarkDetector`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from isnet.data import CropSet, make_crop_set
from isnet.export import OnnxISNet
from isnet.model import ISNet
from isnet.schemes import get_scheme
from isnet.transforms import (
    SOURCE_MARGIN,
    apply_affines,
    compose,
    crop_face,
    invert_affine,
    plain_views,
    source_size,
    turned_views,
    view_matrices,
)

__all__ = [
    "crops_of_images",
    "ground_truth",
    "input_device",
    "predict_crops",
    "read_crops",
    "run_network",
    "view_inputs",
]


def view_inputs(
    model: ISNet | OnnxISNet, crops: CropSet, index: np.ndarray, angles: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Unaugmented network views ``(B, 1, S, S)`` float32 of faces ``index`` and their maps source -> view.

    With ``angles`` (radians, one per face of ``crops``) each view is turned by its angle about
    its centre (:func:`~isnet.transforms.turned_views`); without, the plain views are sampled
    by the separable path.
    """
    cfg = model.config
    turn = None if angles is None else np.asarray(angles, np.float64)[index]
    mats, _ = view_matrices(crops.boxes[index], crops.images.shape[-1], cfg.input_size, cfg.margin, angles=turn)
    if turn is None or not np.any(turn):
        return plain_views(crops.images[index], mats, cfg.input_size), mats
    return turned_views(np.asarray(crops.images[index]), mats, cfg.input_size), mats


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


def predict_crops(
    model: ISNet | OnnxISNet,
    crops: CropSet,
    batch_size: int = 256,
    angles: np.ndarray | None = None,
    mirror: bool = False,
) -> np.ndarray:
    """Landmarks ``(N, K, 2)`` in image pixels for every face of a crop set, each face's view
    turned by ``angles`` (``(N,)`` radians) if given; see :func:`read_crops`."""
    return read_crops(model, crops, batch_size, angles, mirror)[0]


def read_crops(
    model: ISNet | OnnxISNet,
    crops: CropSet,
    batch_size: int = 256,
    angles: np.ndarray | None = None,
    mirror: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Landmarks ``(N, K, 2)`` in image pixels for every face of a crop set, each face's view
    turned by ``angles`` (``(N,)`` radians) if given, and with ``mirror`` how far the two
    readings of each view part.

    With ``mirror`` each view is also read mirrored (in the same network call) and the two
    readings are averaged, the mirrored one mirrored back and its pairs swapped as training
    swapped them (:func:`~isnet.transforms.flip_landmarks`).

    Returns:
        ``(points, mirror_gap)``: ``mirror_gap`` ``(N,)`` the mean distance of the plain and the
        mirrored reading over the K points, in fractions of the view's side (``None`` without
        ``mirror``). A view the network knows reads the same both ways; where it guesses (a
        background patch, a profile read as a frontal face) the two guesses part.
    """
    model.eval()
    size = model.config.input_size
    perm = get_scheme(model.config.scheme).flip_permutation() if mirror else None
    out, gaps = [], []
    for start in range(0, len(crops), batch_size):
        index = np.arange(start, min(start + batch_size, len(crops)))
        views, mats = view_inputs(model, crops, index, angles)
        if perm is None:
            pts = run_network(model, views) * size
        else:
            # Training mirrored views about their centre, (size - 1) / 2 in pixels: u -> size - 1 - u.
            both = run_network(model, np.concatenate([views, np.ascontiguousarray(views[..., ::-1])])) * size
            plain, mirrored = both[: len(index)], both[len(index) :, perm]
            mirrored[..., 0] = size - 1 - mirrored[..., 0]
            pts = 0.5 * (plain + mirrored)
            gaps.append(np.linalg.norm(plain - mirrored, axis=-1).mean(axis=-1) / size)
        out.append(apply_affines(invert_affine(compose(mats, crops.to_source[index])), pts))
    if not out:
        return np.zeros((0, get_scheme(model.config.scheme).n_points, 2)), np.zeros(0) if mirror else None
    return np.concatenate(out), (np.concatenate(gaps) if mirror else None)


def ground_truth(crops: CropSet) -> np.ndarray:
    """Annotated landmarks ``(N, K, 2)`` in image pixels."""
    return apply_affines(invert_affine(crops.to_source), crops.landmarks.astype(np.float64))


def crops_of_images(greys: Sequence[np.ndarray], boxes: Sequence[np.ndarray], input_size: int, n_points: int):
    """The :class:`~isnet.data.CropSet` of the faces of images in memory, cut as training cut them.

    Args:
        greys: ``(H, W)`` uint8 images.
        boxes: per image, ``(n_i, 4)`` boxes ``(l, t, r, b)``.
        input_size: the network's input side.
        n_points: landmarks per face (left at zero: nothing is known about them).
    """
    size = source_size(input_size)
    crops, mats, kept = [], [], []
    for grey, image_boxes in zip(greys, boxes):
        for box in np.asarray(image_boxes, dtype=np.float64).reshape(-1, 4):
            # Under a pixel, the box's corners in float32 crop coordinates coincide and the
            # landmarks come out NaN; such a box is more likely normalised (0..1) than a face.
            if not (np.all(np.isfinite(box)) and box[2] - box[0] >= 1 and box[3] - box[1] >= 1):
                raise ValueError(
                    f"unusable box (l, t, r, b) = {box.tolist()}: needs finite values and a width and "
                    "height of at least 1 pixel (boxes are in pixels, not fractions of the image)"
                )
            crop, mat = crop_face(grey, box, size, SOURCE_MARGIN)
            crops.append(crop)
            mats.append(mat)
            kept.append(box)
    n = len(crops)
    images = np.stack(crops) if n else np.zeros((0, size, size), np.uint8)
    return make_crop_set(images, np.array(kept).reshape(n, 4), np.array(mats), None, [""] * n, n_points)
