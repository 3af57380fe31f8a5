"""Landmarks on whole images: a face detector in front of the landmark network.

The network was trained on the CUHK set's face boxes. A detector draws its boxes its
own way (YuNet's are taller and start higher, over the forehead), so detector boxes
go through a :class:`BoxMap` to the CUHK drawing before the face is cut. The map of
the shipped YuNet detector was fitted on the CUHK training split by
``scripts/fit_yunet_box_map.py`` and lives in ``isnet/weights/yunet_box_map.json``.

Any detector can stand in for YuNet: a callable taking a ``(H, W, 3)`` BGR uint8 image
and returning ``(boxes, scores)``, ``(N, 4)`` boxes ``[x, y, w, h]`` and ``(N,)``
scores; an optional ``box_map`` attribute (a :class:`BoxMap`) says how to turn its
boxes into CUHK ones (without it the boxes are used as they are).

Boxes ``[x, y, w, h]`` here are the rectangle ``left = x, right = x + w`` (and
likewise in y), in the pixel frame of :mod:`isnet.transforms`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import torch
from tqdm import tqdm

from isnet import options
from isnet.data import IMAGE_SUFFIXES, CropSet, apply_affine
from isnet.evaluate import predict_crops
from isnet.model import ISNet, load
from isnet.schemes import get_scheme
from isnet.transforms import SOURCE_MARGIN, crop_face, source_size

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_MODEL = WEIGHTS_DIR / "isnet_cuhk5.pt"
YUNET_MODEL = WEIGHTS_DIR / "face_detection_yunet_2026may.onnx"
YUNET_BOX_MAP = WEIGHTS_DIR / "yunet_box_map.json"
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
BACKENDS = ("torch", "onnx")
# Detection on a smaller image than this finds nothing: YuNet's smallest anchor is 10 pixels at stride 8.
MIN_DETECTION_SIDE = 32


def weights_path(weights: str | Path | None) -> Path:
    """The checkpoint to use: ``weights``, or the shipped default model when ``None``."""
    if weights is not None:
        return Path(weights)
    if not DEFAULT_MODEL.is_file():
        raise FileNotFoundError(
            f"the default model {DEFAULT_MODEL} is not installed; pass a checkpoint (model.pt of "
            "`isnet train`) as weights= in Python or --weights on the command line"
        )
    return DEFAULT_MODEL


class ImageError(ValueError):
    """An input that cannot be used as an image; the message says what it was."""


# ---------------------------------------------------------------------------- images


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file as it is stored (grey, BGR or BGRA; 8 or 16 bits).

    Raises:
        ImageError: missing, unreadable or undecodable file, named in the message.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageError(f"{path}: cannot read ({e.strerror})") from None
    # ANYDEPTH | ANYCOLOR keeps 16 bits and grey as stored, and (unlike UNCHANGED)
    # applies the EXIF orientation, so phone photos come out upright.
    image = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR) if data.size else None
    if image is None or image.size == 0:
        raise ImageError(f"{path}: cannot be decoded (corrupt or not an image)")
    return image


def as_uint8(image: np.ndarray | str | Path, name: str = "image") -> np.ndarray:
    """Check an image and bring it to 8 bits, keeping its channels.

    Args:
        image: a path, or a NumPy array ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` BGR or
            ``(H, W, 4)`` BGRA, of dtype uint8 or uint16 (scaled to 8 bits).
        name: how to call the input in error messages.

    Returns:
        ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` uint8 array.

    Raises:
        ImageError: saying what was received, for anything else.
    """
    if isinstance(image, (str, Path)):
        name = str(image)
        image = read_image(image)
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name}: expected a file path or a NumPy array, got {type(image).__name__}")
    if image.size == 0:
        raise ImageError(f"{name}: empty image of shape {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ImageError(
            f"{name}: expected (H, W) grey, (H, W, 3) BGR or (H, W, 4) BGRA, got an array of shape {image.shape}"
        )
    if image.dtype == np.uint16:
        # Full scale to full scale (65535 -> 255), rounded; 257 * v gives back v exactly.
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.dtype != np.uint8:
        hint = (
            "; floats are refused rather than guessing their range: for [0, 1] data use "
            "(img * 255).round().astype(np.uint8)"
            if np.issubdtype(image.dtype, np.floating)
            else ""
        )
        raise ImageError(f"{name}: expected uint8 or uint16 pixels, got {image.dtype}{hint}")
    return image


def to_grey(image: np.ndarray | str | Path, name: str = "image") -> np.ndarray:
    """The network's input: ``(H, W)`` uint8 grey of any image :func:`as_uint8` accepts."""
    image = as_uint8(image, name)
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)


def to_bgr_grey(image: np.ndarray | str | Path, name: str = "image") -> tuple[np.ndarray, np.ndarray]:
    """The detector's and the network's inputs: ``(H, W, 3)`` BGR and ``(H, W)`` grey, uint8.

    See :func:`as_uint8` for what ``image`` may be.
    """
    image = as_uint8(image, name)
    if image.ndim == 2:
        grey = np.ascontiguousarray(image)
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), grey
    bgr = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR) if image.shape[2] == 4 else np.ascontiguousarray(image)
    return bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


# ---------------------------------------------------------------------------- boxes


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


# ---------------------------------------------------------------------------- detectors


class Detector(Protocol):
    """Any face detector: ``(H, W, 3)`` BGR uint8 -> ``(N, 4)`` ``[x, y, w, h]`` boxes, ``(N,)`` scores."""

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    # OpenCV 5 warns on every model load that its new graph engine ignores targets.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class YuNet:
    """OpenCV's YuNet face detector (``cv2.FaceDetectorYN``), with its box map.

    Args:
        model: the ONNX weights; default: the copy shipped in ``isnet/weights/``.
        score_threshold: detections below this score are dropped.
        nms_threshold: IoU above which overlapping detections are merged.
        max_side: larger images are shrunk to this longer side for detection (boxes
            are scaled back), as detection time grows with the pixel count; ``None``: never.
        box_map: how YuNet boxes become CUHK boxes: a :class:`BoxMap`, a JSON path,
            ``"default"`` (the shipped fit) or ``None`` (identity).
    """

    def __init__(
        self,
        model: str | Path = YUNET_MODEL,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        max_side: int | None = 1280,
        box_map: BoxMap | str | Path | None = "default",
    ):
        model = Path(model)
        if not model.is_file():
            raise FileNotFoundError(f"{model}: no YuNet weights file")
        with _quiet_opencv():
            self.net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold, nms_threshold, 5000)
        self.size = (320, 320)
        self.max_side = max_side
        if isinstance(box_map, (str, Path)):
            box_map = BoxMap.load(YUNET_BOX_MAP if str(box_map) == "default" else box_map)
        self.box_map = box_map

    def detect_raw(self, image: np.ndarray) -> np.ndarray:
        """YuNet's own output on a BGR uint8 image.

        Returns:
            ``(N, 15)``: box ``x, y, w, h``, five points ``x, y``, score; in image pixels.
        """
        h, w = image.shape[:2]
        scale = np.ones(2)
        if self.max_side is not None and max(h, w) > self.max_side:
            f = self.max_side / max(h, w)
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

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        faces = self.detect_raw(image)
        return faces[:, :4], faces[:, 14]


# ---------------------------------------------------------------------------- landmarks


@dataclass
class Face:
    """One face found in an image.

    Attributes:
        box: ``(4,)`` ``[x, y, w, h]``, as the detector (or the caller) gave it.
        score: the detector's confidence; ``None`` for boxes given by the caller.
        landmarks: ``(K, 2)`` ``(x, y)`` in image pixels, in the model's scheme's order.
    """

    box: np.ndarray
    score: float | None
    landmarks: np.ndarray

    def to_dict(self, decimals: int = 2) -> dict:
        """JSON-ready ``{"box", "score", "landmarks"}``, coordinates rounded to ``decimals``."""
        return {
            "box": [round(float(v), decimals) for v in self.box],
            "score": None if self.score is None else round(float(self.score), 4),
            "landmarks": [[round(float(x), decimals), round(float(y), decimals)] for x, y in self.landmarks],
        }


def crop_set(greys: Sequence[np.ndarray], boxes: Sequence[np.ndarray], input_size: int, n_points: int) -> CropSet:
    """The :class:`~isnet.data.CropSet` of the faces of several images, as ``build_crops`` fills it.

    Args:
        greys: ``(H, W)`` uint8 images.
        boxes: per image, ``(n_i, 4)`` boxes ``(l, t, r, b)``.
        input_size: the network's input side.
        n_points: landmarks per face (left at zero: nothing is known about them).
    """
    size = source_size(input_size)
    crops, mats, corners, wh = [], [], [], []
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
            corners.append(apply_affine(mat, box.reshape(2, 2)).reshape(4))
            wh.append(box[2:] - box[:2])
    n = len(crops)
    return CropSet(
        np.stack(crops) if n else np.zeros((0, size, size), np.uint8),
        np.zeros((n, n_points, 2), np.float32),
        np.array(corners, np.float32).reshape(n, 4),
        np.array(mats, np.float64).reshape(n, 2, 3),
        np.array(wh, np.float64).reshape(n, 2),
        [""] * n,
    )


class LandmarkDetector:
    """Faces and their landmarks in whole images.

    Args:
        weights: landmark model checkpoint; default ``isnet/weights/isnet_cuhk5.pt``.
        detector: ``"yunet"`` (the shipped YuNet), any :class:`Detector`, or ``None``
            (only :meth:`predict` with your own boxes).
        backend: ``"torch"``, or ``"onnx"`` to run the network in onnxruntime (faster
            on CPU, see ``docs/benchmark.json``; needs the ``onnx`` extra).
        batch_size: faces per network call.
        threads: CPU threads of the network; for ``"torch"`` this sets PyTorch's
            process-wide count, for ``"onnx"`` the session's. ``None``: leave as is.

    Example:
        >>> det = isnet.LandmarkDetector()
        >>> for face in det.detect("photo.jpg"):
        ...     print(face.box, face.landmarks)
    """

    def __init__(
        self,
        weights: str | Path | ISNet | None = None,
        detector: str | Detector | None = "yunet",
        backend: str = "torch",
        batch_size: int = 256,
        threads: int | None = None,
    ):
        if isinstance(weights, ISNet):
            self.model = weights.eval()
        else:
            self.model = load(weights_path(weights))
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        if backend == "onnx":
            from isnet.export import OnnxISNet

            self.net: ISNet | OnnxISNet = OnnxISNet(self.model, threads)
        else:
            if threads is not None:
                torch.set_num_threads(threads)
            self.net = self.model
        if detector == "yunet":
            detector = YuNet()
        elif isinstance(detector, str):
            raise ValueError(f"unknown detector {detector!r}: use 'yunet', a callable or None")
        self.detector = detector
        self.batch_size = batch_size
        self.scheme = get_scheme(self.model.config.scheme)

    def detect(self, image: np.ndarray | str | Path) -> list[Face]:
        """Find the faces of one image and their landmarks (see :func:`as_uint8` for inputs)."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray | str | Path]) -> list[list[Face]]:
        """:meth:`detect` for several images, one network pass over all their faces."""
        if self.detector is None:
            raise ValueError("this LandmarkDetector has no face detector: pass boxes to predict()")
        greys, boxes, scores = [], [], []
        for i, image in enumerate(images):
            bgr, grey = to_bgr_grey(image, f"image {i}")
            b, s = self.detector(bgr)
            greys.append(grey)
            boxes.append(np.asarray(b, dtype=np.float64).reshape(-1, 4))
            scores.append(np.asarray(s, dtype=np.float64).reshape(-1))
        return self._faces(greys, boxes, scores, from_detector=True)

    def predict(
        self,
        image: np.ndarray | str | Path,
        boxes: np.ndarray | Sequence[Sequence[float]],
        scores: Sequence[float] | None = None,
        from_detector: bool = False,
    ) -> list[Face]:
        """Landmarks of faces whose boxes you give.

        Args:
            image: see :func:`as_uint8`.
            boxes: ``(N, 4)`` ``[x, y, w, h]``, drawn like the CUHK boxes (a square from
                the eyebrows to just below the mouth) unless ``from_detector``.
            scores: ``(N,)`` scores to carry into the faces, if any.
            from_detector: the boxes come from this object's detector: map them to CUHK
                boxes first, as :meth:`detect` does.
        """
        grey = to_grey(image)
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        s = np.full(len(b), np.nan) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(s) != len(b):
            raise ValueError(f"{len(b)} boxes but {len(s)} scores")
        return self._faces([grey], [b], [s], from_detector)[0]

    def _faces(
        self, greys: list[np.ndarray], boxes: list[np.ndarray], scores: list[np.ndarray], from_detector: bool
    ) -> list[list[Face]]:
        box_map = getattr(self.detector, "box_map", None) if from_detector else None
        cuhk = [box_map.apply(b) if box_map is not None else xywh_to_ltrb(b) for b in boxes]
        crops = crop_set(greys, cuhk, self.model.config.input_size, self.scheme.n_points)
        if len(crops):
            points = predict_crops(self.net, crops, self.batch_size)
        else:
            points = np.zeros((0, self.scheme.n_points, 2))
        out, start = [], 0
        for b, s in zip(boxes, scores):
            faces = [
                Face(b[i].copy(), None if np.isnan(s[i]) else float(s[i]), points[start + i]) for i in range(len(b))
            ]
            out.append(faces)
            start += len(b)
        return out


# ---------------------------------------------------------------------------- isnet predict


@dataclass
class Input:
    """One file to process: ``path``, where ``--draw`` output goes (``rel``), and if it is a video."""

    path: Path
    rel: Path
    video: bool


def list_inputs(paths: Sequence[str], errors: list[str], skipped: list[Path] | None = None) -> list[Input]:
    """Files named on the command line, folders searched recursively for images and videos.

    Paths that do not exist are reported in ``errors`` and left out; files in folders whose
    suffix is neither an image's nor a video's go to ``skipped``.
    """
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file())
            found = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES]
            if skipped is not None:
                skipped += [f for f in files if f.suffix.lower() not in IMAGE_SUFFIXES + VIDEO_SUFFIXES]
            out += [Input(f, Path(p.name) / f.relative_to(p), f.suffix.lower() in VIDEO_SUFFIXES) for f in found]
        elif p.is_file():
            out.append(Input(p, Path(p.name), p.suffix.lower() in VIDEO_SUFFIXES))
        else:
            errors.append(f"{p}: no such file or folder")
    return out


# BGR colour of each of the five points, in the scheme's order; the README names them.
POINT_COLOURS = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 0, 255), (0, 255, 255))
BOX_COLOUR = (0, 255, 0)


def draw_faces(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A copy of a BGR image with boxes, scores and landmarks drawn on it.

    Line width, dot size and label size follow each face's size, so a small face in a large
    photo stays readable and a large face is not buried; the score label stays inside the image.
    """
    out = image.copy()
    h, w = image.shape[:2]
    for f in faces:
        x, y, bw, bh = (float(v) for v in f.box)
        side = max(1.0, min(bw, bh))
        thick = max(1, round(side / 80))
        radius = max(1, round(side / 40))
        cv2.rectangle(out, (round(x), round(y)), (round(x + bw), round(y + bh)), BOX_COLOUR, thick)
        if f.score is not None:
            text, font, scale = f"{f.score:.2f}", cv2.FONT_HERSHEY_SIMPLEX, max(0.3, side / 250)
            (tw, th), base = cv2.getTextSize(text, font, scale, thick)
            # Above the box when there is room, else just inside its top edge; never past the image.
            tx = int(np.clip(round(x), 0, max(0, w - tw)))
            ty = round(y) - 3 if round(y) - 3 - th >= 0 else round(y) + th + 3
            ty = int(np.clip(ty, th, max(th, h - base)))
            cv2.putText(out, text, (tx, ty), font, scale, BOX_COLOUR, thick, cv2.LINE_AA)
        for k, (px, py) in enumerate(f.landmarks):
            cv2.circle(out, (round(px), round(py)), radius, POINT_COLOURS[k % len(POINT_COLOURS)], -1, cv2.LINE_AA)
    return out


class RecordWriter:
    """One record per face, as JSON lines or CSV."""

    def __init__(self, stream, fmt: str, point_names: Sequence[str]):
        self.stream = stream
        self.fmt = fmt
        if fmt == "csv":
            self.csv = csv.writer(stream, lineterminator="\n")
            coords = [f"{n}_{a}" for n in point_names for a in ("x", "y")]
            self.csv.writerow(["file", "frame", "x", "y", "w", "h", "score", *coords])

    def write(self, file: str, frame: int | None, face: Face) -> None:
        d = face.to_dict()
        if self.fmt == "csv":
            score = "" if d["score"] is None else d["score"]
            flat = [v for xy in d["landmarks"] for v in xy]
            self.csv.writerow([file, "" if frame is None else frame, *d["box"], score, *flat])
        else:
            self.stream.write(json.dumps({"file": file, "frame": frame, **d}) + "\n")
        self.stream.flush()


def _video_frames(path: Path) -> tuple[Iterator[np.ndarray], int, float]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ImageError(f"{path}: cannot be opened as a video (corrupt or unsupported)")
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0

    def frames() -> Iterator[np.ndarray]:
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    return
                yield frame
        finally:
            cap.release()

    return frames(), total, fps


def _chunks(it, n: int) -> Iterator[list]:
    chunk = []
    for x in it:
        chunk.append(x)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Tally:
    """What ``isnet predict`` did with its inputs, for the summary on standard error."""

    images: int = 0
    frames: int = 0
    videos: int = 0
    faces: int = 0
    no_face: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: inputs read, faces found, images without a face, inputs not processed, files skipped."""
        parts = [
            f"{_count(self.images, 'image')} and {_count(self.videos, 'video')} read, {_count(self.faces, 'face')}"
        ]
        if self.no_face:
            parts.append(f"no face in {_count(len(self.no_face), 'image')} ({_names(self.no_face)})")
        if self.errors:
            parts.append(f"{_count(len(self.errors), 'input')} not processed (listed above)")
        if self.skipped:
            parts.append(
                f"{_count(len(self.skipped), 'file')} skipped as not images or videos ({_names(self.skipped)})"
            )
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _names(paths: list[str], shown: int = 5) -> str:
    names = ", ".join(paths[:shown])
    return names + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def process_video(det: LandmarkDetector, item: Input, writer: RecordWriter, args: argparse.Namespace, tally: Tally):
    """Write the records of every frame of a video (and an annotated copy with ``--draw``)."""
    frames, total, fps = _video_frames(item.path)
    video_out = None
    n = 0
    bar = tqdm(total=total or None, desc=item.path.name, unit="frame", leave=False, disable=args.quiet)
    try:
        for chunk in _chunks(frames, args.batch_images):
            for faces, frame in zip(det.detect_batch(chunk), chunk):
                for f in faces:
                    writer.write(str(item.path), n, f)
                tally.faces += len(faces)
                if args.draw:
                    if video_out is None:
                        dest = (Path(args.draw) / item.rel).with_suffix(".mp4")
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        size = (frame.shape[1], frame.shape[0])
                        video_out = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                    video_out.write(draw_faces(frame, faces))
                n += 1
            bar.update(len(chunk))
    finally:
        bar.close()
        if video_out is not None:
            video_out.release()
    if n == 0:
        raise ImageError(f"{item.path}: opened as a video but no frame could be read")
    tally.videos += 1
    tally.frames += n


def process_images(
    det: LandmarkDetector, items: list[Input], writer: RecordWriter, args: argparse.Namespace, tally: Tally
) -> None:
    """Write the records of a batch of images; unreadable ones go to ``tally.errors``."""
    good, arrays = [], []
    for item in items:
        try:
            image = as_uint8(item.path)
        except ImageError as e:
            tally.errors.append(str(e))
            _warn(str(e))
            continue
        good.append(item)
        arrays.append(image)
    for item, image, faces in zip(good, arrays, det.detect_batch(arrays) if arrays else []):
        for f in faces:
            writer.write(str(item.path), None, f)
        tally.images += 1
        tally.faces += len(faces)
        if not faces:
            tally.no_face.append(str(item.path))
        if args.draw:
            dest = Path(args.draw) / item.rel
            if dest.suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"):
                dest = dest.with_suffix(".png")
            dest.parent.mkdir(parents=True, exist_ok=True)
            ok, data = cv2.imencode(dest.suffix, draw_faces(to_bgr_grey(image)[0], faces))
            if not ok:
                raise OSError(f"{dest}: cannot encode the annotated image")
            data.tofile(dest)


def _warn(message: str) -> None:
    # Through tqdm, so that a message does not tear a progress bar on the same stream.
    tqdm.write(f"isnet predict: {message}", file=sys.stderr)


class PredictError(ValueError):
    """Some inputs could not be read (the others were processed), or there was nothing to read."""


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet predict",
        add_help=add_help,
        description="Find faces and their five landmarks in images, folders (recursive) and videos. "
        "One record per face on stdout: file, frame (null for images), box [x, y, w, h], score, landmarks. "
        "A summary line on stderr counts the images read, the faces found, the images without a face "
        "(named), the inputs that could not be processed and the files skipped as not images or videos.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image, video or folder")
    p.add_argument("--weights", default=None, help=f"landmark model (None: {DEFAULT_MODEL.name} shipped in isnet)")
    p.add_argument("--format", default="jsonl", choices=("jsonl", "csv"), help="record format")
    p.add_argument(
        "--output", "-o", type=options.new_file, default=None, help="write records here (None: standard output)"
    )
    p.add_argument("--draw", default=None, metavar="DIR", help="write annotated images (and videos) here")
    p.add_argument("--backend", default="torch", choices=BACKENDS, help="run the network in torch or onnxruntime")
    p.add_argument("--score-threshold", type=options.FRACTION, default=0.6, help="YuNet's minimum detection score")
    p.add_argument(
        "--max-side",
        type=options.IntRange(MIN_DETECTION_SIDE, special=(0,), meaning="0: never shrink"),
        default=1280,
        help="detect on images shrunk to this longer side (0: never shrink)",
    )
    p.add_argument("--batch-images", type=options.POSITIVE, default=16, help="images or frames per landmark batch")
    p.add_argument("--threads", type=options.THREADS, default=0, help="CPU threads (0: the libraries' default)")
    p.add_argument("--quiet", action="store_true", help="no progress bars and no summary line")
    return p


def main(args: argparse.Namespace) -> dict:
    """Run ``isnet predict``; raises :class:`PredictError` at the end if any input was unusable."""
    threads = options.threads_or_none(args.threads)
    if threads is not None:
        cv2.setNumThreads(threads)
    tally = Tally()
    skipped: list[Path] = []
    items = list_inputs(args.paths, tally.errors, skipped)
    tally.skipped = [str(p) for p in skipped]
    for e in tally.errors:
        _warn(str(e))
    if not items:
        found = f"; {_count(len(skipped), 'file')} skipped ({_names(tally.skipped)})" if skipped else ""
        raise PredictError(f"no images or videos found in {' '.join(args.paths)}{found}")
    det = LandmarkDetector(
        args.weights,
        YuNet(score_threshold=args.score_threshold, max_side=args.max_side or None),
        backend=args.backend,
        threads=threads,
    )
    n_inputs = len(items) + len(tally.errors)
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = RecordWriter(stream, args.format, det.scheme.points)
        images = [i for i in items if not i.video]
        show = not args.quiet and (len(images) > 1 or any(Path(p).is_dir() for p in args.paths))
        with tqdm(total=len(images), desc="images", unit="image", leave=False, disable=not show) as bar:
            for chunk in _chunks(images, args.batch_images):
                process_images(det, chunk, writer, args, tally)
                bar.update(len(chunk))
        for item in (i for i in items if i.video):
            try:
                process_video(det, item, writer, args, tally)
            except ImageError as e:
                tally.errors.append(str(e))
                _warn(str(e))
    except BrokenPipeError:
        if args.output:
            raise
        # The reader stopped early (isnet predict ... | head): not an error. Point stdout
        # at /dev/null so Python's final flush does not fail on the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return {"inputs": n_inputs, **tally.to_dict()}
    finally:
        if args.output:
            stream.close()
    if not args.quiet:
        _warn(tally.summary())
    if tally.errors:
        raise PredictError(f"{len(tally.errors)} of {n_inputs} inputs could not be used (listed above)")
    return {"inputs": n_inputs, **tally.to_dict()}
