"""Face detectors, each owning its box convention: how its boxes become the training boxes.

The landmark network was trained on the CUHK set's face boxes. A detector draws its boxes
its own way (YuNet's are taller and start higher, over the forehead), so every detector
carries a :class:`~isnet.boxes.BoxMap` from its boxes to CUHK ones, and
:meth:`Detector.training_boxes` applies it; nothing else needs to know the convention.
The map of the shipped YuNet was fitted on the CUHK training split by
``scripts/fit_yunet_box_map.py`` (``weights/yunet_box_map.json``).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from isnet.assets import YUNET_BOX_MAP, YUNET_MODEL
from isnet.boxes import BoxMap, match_box, xywh_to_ltrb
from isnet.imageio import to_bgr_grey
from isnet.transforms import apply_affine, invert_affine

__all__ = [
    "as_detector",
    "CallableDetector",
    "DETECTION_SIDE",
    "Detector",
    "detector_training_boxes",
    "TILE_OVERLAP",
    "TILE_SIDE",
    "YuNet",
]

# YuNet finds faces down to about 30 pixels: at this longer side none of the CUHK validation or
# HELEN test faces is lost that full-size detection finds (benchmarks/detection_size.py), and a
# 640x480 photo is detected about 3 times faster than at full size.
DETECTION_SIDE = 320
# Detection at full resolution (max_side None) reads a larger photo in tiles of this side, each
# overlapping the next by TILE_OVERLAP: a face smaller than the overlap lies wholly in some tile,
# and a larger one is at least TILE_OVERLAP * TILE_SIDE / (photo side) pixels in the whole photo
# shrunk to a tile (26 px for a 10,000-pixel side), where YuNet finds it.
TILE_SIDE = 1024
TILE_OVERLAP = 256


class Detector:
    """A face detector: ``(H, W, 3)`` BGR uint8 image -> ``(N, 4)`` boxes ``[x, y, w, h]`` and ``(N,)`` scores.

    Attributes:
        box_map: its boxes to training (CUHK) boxes; ``None``: they are drawn like them already.
    """

    box_map: BoxMap | None = None

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(N, 4)`` boxes ``[x, y, w, h]``, ``(N,)`` scores and ``(N, 5, 2)`` five points in CUHK
        order (the eyes, the nose, the mouth's corners, left to right on an upright face); the
        points are NaN for a detector that gives none."""
        boxes, scores = self(image)
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        return boxes, np.asarray(scores, np.float64).reshape(-1), np.full((len(boxes), 5, 2), np.nan)

    def copy(self) -> Detector | None:
        """An independent detector to run beside this one in another thread; ``None`` when it cannot
        be copied (a callable of the user's), and it then runs in one thread."""
        return None

    def training_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """``(N, 4)`` boxes ``[x, y, w, h]`` of this detector as training boxes ``(N, 4)`` ``(l, t, r, b)``."""
        return self.box_map.apply(boxes) if self.box_map is not None else xywh_to_ltrb(boxes)


class CallableDetector(Detector):
    """Any callable returning ``(boxes, scores)`` as a :class:`Detector`; its ``box_map``
    attribute, if it has one, is used."""

    def __init__(self, detect: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]):
        self.detect = detect
        self.box_map = getattr(detect, "box_map", None)

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.detect(image)


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    # OpenCV 5 warns on every model load that its new graph engine ignores targets.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class YuNet(Detector):
    """OpenCV's YuNet face detector (``cv2.FaceDetectorYN``), with its box map.

    Args:
        model: the ONNX weights; default: the copy shipped in ``isnet/weights/``.
        score_threshold: detections below this score are dropped.
        nms_threshold: IoU above which overlapping detections are merged.
        max_side: larger images are shrunk to this longer side for detection (boxes are
            scaled back), as detection time grows with the pixel count; ``None``: never (a photo
            larger than :data:`TILE_SIDE` is then read in tiles). Faces smaller than about a
            tenth of this side are lost (benchmarks/results/detection/max_side.json).
        box_map: how YuNet boxes become CUHK boxes: a :class:`BoxMap`, a JSON path,
            ``"default"`` (the shipped fit) or ``None`` (identity).
    """

    def __init__(
        self,
        model: str | Path = YUNET_MODEL,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        max_side: int | None = DETECTION_SIDE,
        box_map: BoxMap | str | Path | None = "default",
    ):
        model = Path(model)
        if not model.is_file():
            raise FileNotFoundError(f"{model}: no YuNet weights file")
        with _quiet_opencv():
            self.net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold, nms_threshold, 5000)
        self.size = (320, 320)
        self.model, self.score_threshold, self.nms_threshold = model, score_threshold, nms_threshold
        self.max_side = max_side
        if isinstance(box_map, (str, Path)):
            box_map = BoxMap.load(YUNET_BOX_MAP if str(box_map) == "default" else box_map)
        self.box_map = box_map

    def copy(self) -> YuNet:
        """An independent YuNet with the same settings (an OpenCV model is not for two threads at once)."""
        return YuNet(self.model, self.score_threshold, self.nms_threshold, self.max_side, self.box_map)

    def describe(self) -> dict:
        """What a report needs to name this detector: weights, their SHA-256, thresholds and box map."""
        return {
            "name": "yunet",
            "weights": self.model.name,
            "sha256": hashlib.sha256(self.model.read_bytes()).hexdigest(),
            "score_threshold": self.score_threshold,
            "nms_threshold": self.nms_threshold,
            "max_side": self.max_side,
            "box_map": None if self.box_map is None else asdict(self.box_map),
        }

    def detect_raw(self, image: np.ndarray) -> np.ndarray:
        """YuNet's own output on a BGR uint8 image.

        With ``max_side=None`` a photo larger than :data:`TILE_SIDE` is read at full resolution
        tile by tile (:meth:`detect_tiled`), so that time and memory grow with the pixels but
        never all at once.

        Returns:
            ``(N, 15)``: box ``x, y, w, h``, five points ``x, y``, score; in image pixels.
        """
        if self.max_side is None and max(image.shape[:2]) > TILE_SIDE:
            return self.detect_tiled(image)
        return self._detect_shrunk(image, self.max_side)

    def _detect_shrunk(self, image: np.ndarray, max_side: int | None) -> np.ndarray:
        """:meth:`detect_raw` of the image shrunk to ``max_side`` (``None``: as it is), in its own pixels."""
        h, w = image.shape[:2]
        scale = np.ones(2)
        if max_side is not None and max(h, w) > max_side:
            f = max_side / max(h, w)
            size = (max(1, round(w * f)), max(1, round(h * f)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            scale = np.array(size) / (w, h)
            h, w = image.shape[:2]
        if (w, h) != self.size:
            self.net.setInputSize((w, h))
            self.size = (w, h)
        _, faces = self.net.detect(image)
        if faces is None:
            return np.zeros((0, 15))
        faces = faces.astype(np.float64)
        if np.any(scale != 1.0):
            # Positions scale about the image edge at -0.5 (pixel centres are integers); sizes plainly.
            xy = faces[:, :14].reshape(-1, 7, 2)
            xy[:, [0, 2, 3, 4, 5, 6]] = (xy[:, [0, 2, 3, 4, 5, 6]] + 0.5) / scale - 0.5
            xy[:, 1] /= scale
            faces[:, :14] = xy.reshape(-1, 14)
        return faces

    def detect_tiled(self, image: np.ndarray) -> np.ndarray:
        """:meth:`detect_raw` at full resolution: the photo shrunk to :data:`TILE_SIDE` finds the
        faces larger than :data:`TILE_OVERLAP`, overlapping tiles of :data:`TILE_SIDE` the
        smaller ones, each wholly inside some tile; a tile's detections touching a side it shares
        with a neighbour are cut faces and dropped. Detections found twice are merged as YuNet
        merges its own (non-maximum suppression at ``nms_threshold``)."""
        h, w = image.shape[:2]
        found = [self._detect_shrunk(image, TILE_SIDE)]
        for y0 in _tile_starts(h):
            for x0 in _tile_starts(w):
                tile = image[y0 : y0 + TILE_SIDE, x0 : x0 + TILE_SIDE]
                raw = self._detect_shrunk(tile, None)
                th, tw = tile.shape[:2]
                left, t, r, b = raw[:, 0], raw[:, 1], raw[:, 0] + raw[:, 2], raw[:, 1] + raw[:, 3]
                cut = ((x0 > 0) & (left < 1)) | ((y0 > 0) & (t < 1)) | ((x0 + tw < w) & (r > tw - 1))
                cut |= (y0 + th < h) & (b > th - 1)
                raw = raw[~cut]
                raw[:, [0, 4, 6, 8, 10, 12]] += x0  # box corner and points; not the box's size
                raw[:, [1, 5, 7, 9, 11, 13]] += y0
                found.append(raw)
        faces = np.concatenate(found)
        if not len(faces):
            return faces
        keep = cv2.dnn.NMSBoxes(faces[:, :4].tolist(), faces[:, 14].tolist(), 0.0, self.nms_threshold)
        faces = faces[np.asarray(keep, int).reshape(-1)]
        return faces[np.argsort(-faces[:, 14], kind="stable")]

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        faces = self.detect_raw(image)
        return faces[:, :4], faces[:, 14]

    def find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # YuNet's points are the eyes, the nose tip and the mouth's corners, the image's left first on an upright face.
        faces = self.detect_raw(image)
        return faces[:, :4], faces[:, 14], faces[:, 4:14].reshape(-1, 5, 2)


def _tile_starts(length: int) -> list[int]:
    """Where the tiles along a side of ``length`` pixels start: every ``TILE_SIDE - TILE_OVERLAP``
    pixels, the last one flush with the end."""
    if length <= TILE_SIDE:
        return [0]
    step = TILE_SIDE - TILE_OVERLAP
    starts = list(range(0, length - TILE_SIDE, step))
    return [*starts, length - TILE_SIDE]


def as_detector(detector: str | Detector | Callable | None) -> Detector | None:
    """``"yunet"`` (the shipped YuNet), a :class:`Detector`, any callable, or ``None``, as a :class:`Detector`."""
    if detector is None or isinstance(detector, Detector):
        return detector
    if detector == "yunet":
        return YuNet()
    if isinstance(detector, str) or not callable(detector):
        raise ValueError(f"unknown detector {detector!r}: use 'yunet', a callable or None")
    return CallableDetector(detector)


def detector_training_boxes(
    detector: Detector, files: list[str], boxes: np.ndarray, to_source: np.ndarray, min_iou: float = 0.3
) -> np.ndarray:
    """The training boxes a detector gives the annotated faces, in each face's source-crop pixels.

    The detector runs on each image; the detection with the highest IoU with the annotated box,
    at least ``min_iou``, is that face's, and its box goes through the detector's box map.

    Args:
        files: ``N`` image paths.
        boxes: ``(N, 4)`` annotated boxes ``(l, t, r, b)`` in source-crop pixels.
        to_source: ``(N, 2, 3)`` maps from image to source-crop pixels.

    Returns:
        ``(N, 4)`` float32 boxes in source-crop pixels; NaN rows where the face was not found.
    """
    out = np.full((len(files), 4), np.nan, np.float32)
    from_source = invert_affine(np.asarray(to_source, np.float64))
    for i, file in enumerate(files):
        bgr, _ = to_bgr_grey(file)
        found, _ = detector(bgr)
        annotated = apply_affine(from_source[i], np.asarray(boxes[i], np.float64).reshape(2, 2)).reshape(4)
        j = match_box(xywh_to_ltrb(found), annotated, min_iou)
        if j >= 0:
            mapped = detector.training_boxes(found[j : j + 1])[0]
            out[i] = apply_affine(np.asarray(to_source[i]), mapped.reshape(2, 2)).reshape(4)
    return out
