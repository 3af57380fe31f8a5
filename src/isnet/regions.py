"""Region networks: a second stage that reads a region of the face (the jaw, the mouth, ...) again
in its own view, the cascade idea of the paper's lineage with the synthesis inside each stage.

A region network is an :class:`~isnet.model.ISNet` whose config names its regions
(``ISNetConfig.region``) and its view (``ISNetConfig.region_view``): the face's frame
(:meth:`~isnet.frames.Frames.of_points` of the face's five points) moved to the region's centre and
sized to hold the region (:func:`fit_region_view`, on the training faces). It trains on source
crops cut at its view's resolution (a zoomed view sees finer detail, not an upscaled crop), the
loss over its region's points only (``isnet train --region``); the pipeline reads each region
after the landmark passes (:func:`read_regions`), framed by the points those passes read.
"""

from __future__ import annotations

import numpy as np

from isnet.boxes import roll_of
from isnet.data import CropSet, Sample, Skipped, face_crops, reduce_to_cuhk5
from isnet.export import OnnxISNet
from isnet.frames import Frames
from isnet.inference import read_frames
from isnet.model import ISNet, ISNetConfig
from isnet.photo import Photo
from isnet.schemes import Scheme

__all__ = ["HELD", "face_frames", "fit_region_view", "model_crops", "read_regions", "region_boxes", "source_resolution"]

# Of the training faces, the share whose whole region the fitted view holds (the network's margin adds more).
HELD = 0.95


def face_frames(points: np.ndarray, scheme: Scheme, photo: np.ndarray | None = None) -> Frames:
    """``(N,)`` face frames of ``(N, K, 2)`` landmarks of ``scheme`` (by their five points)."""
    photo = np.zeros(len(points), int) if photo is None else photo
    return Frames.of_points(photo, reduce_to_cuhk5(points, scheme))


def fit_region_view(points: np.ndarray, region: tuple[int, ...], scheme: Scheme) -> tuple[float, float, float]:
    """``(dx, dy, side)``: where a region sits in the upright face frame, in frame sides: the median
    centre of the region's bounding box, and the side of the square about it that holds the whole
    region in :data:`HELD` of the faces.

    Args:
        points: ``(N, K, 2)`` annotated points of training faces (any pixels: the view is in frame sides).
        region: the indices of the region's points.
    """
    upright = face_frames(points, scheme).upright(points)[:, list(region)]
    mid = 0.5 * (upright.min(axis=1) + upright.max(axis=1))
    centre = np.median(mid, axis=0)
    half = np.abs(upright - centre).max(axis=(1, 2))
    return float(centre[0]), float(centre[1]), float(2 * np.quantile(half, HELD))


def region_boxes(boxes: np.ndarray, points: np.ndarray, config: ISNetConfig) -> np.ndarray:
    """``(N, 4)`` training boxes of the region network ``config`` from ``(N, 4)`` face boxes and the
    ``(N, K, 2)`` points in the same pixels (their roll turns the region's offset with the face)."""
    rolls = roll_of(reduce_to_cuhk5(points, config.landmark_scheme))
    return Frames.of_boxes(np.zeros(len(boxes), int), boxes, rolls).within(config.region_view).boxes()


def source_resolution(config: ISNetConfig) -> int:
    """The input size whose source crops a region network trains on: one source pixel a view pixel,
    as for the whole face's view, so a view smaller than the face's is cut from finer crops."""
    return max(1, int(round(config.input_size / config.region_view[2])))


def model_crops(
    samples: list[Sample],
    config: ISNetConfig,
    cache_dir: str | None = None,
    skip_bad: bool = False,
    skipped: Skipped | None = None,
    progress: bool = False,
    stream: bool = False,
) -> CropSet:
    """The source crops a model of ``config`` reads (:func:`~isnet.data.face_crops`); a region
    network's cut at its view's resolution and boxed by its view, framed by the annotated points."""
    crops = face_crops(samples, source_resolution(config), cache_dir, skip_bad, skipped, progress, stream)
    if config.region:
        crops.boxes = region_boxes(crops.boxes.astype(np.float64), crops.landmarks.astype(np.float64), config)
    return crops


def read_regions(
    nets: list[ISNet | OnnxISNet],
    photos: list[Photo],
    faces: Frames,
    points: np.ndarray,
    mirror: bool,
    weight: float,
    batch_size: int = 256,
) -> np.ndarray:
    """``(N, K, 2)`` points with each region network's points read again, all faces in one call a
    region, each view framed by ``points``: the new reading weighted by ``weight`` against the one
    given (1: replaced).

    Args:
        nets: region networks of the points' scheme.
        photos: the decoded photos.
        faces: ``(N,)`` the frames ``points`` imply (:func:`face_frames`; the pipeline's ``implied``).
        points: ``(N, K, 2)`` the faces' landmarks, photo pixels.
        mirror: read each view also mirrored (:func:`~isnet.inference.read_frames`).
    """
    if not len(points) or not nets:
        return points.copy()
    out = points.copy()
    for net in nets:
        index = list(net.config.points_read)
        read = read_frames(net, photos, faces.within(net.config.region_view), mirror, batch_size).points
        out[:, index] = (1.0 - weight) * points[:, index] + weight * read[:, index]
    return out
