"""The public API: :class:`LandmarkDetector`, faces and their landmarks in whole images."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from isnet.assets import weights_path
from isnet.detectors import Detector, as_detector
from isnet.export import OnnxISNet, onnxruntime_available
from isnet.imageio import ImageError, to_bgr_grey, to_grey
from isnet.inference import crops_of_images, predict_crops
from isnet.model import ISNet, load
from isnet.schemes import get_scheme

# "auto": onnxruntime when it is installed (it is a regular dependency), else PyTorch.
BACKENDS = ("auto", "onnx", "torch")


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


def _detections(detector: Detector, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 4)`` boxes and ``(N,)`` scores of a detector on one image, as float64 arrays."""
    boxes, scores = detector(bgr)
    return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)


class LandmarkDetector:
    """Faces and their landmarks in whole images.

    Args:
        weights: landmark model checkpoint (or a loaded ``ISNet``); ``None``: the shipped ``model``.
        detector: ``"yunet"`` (the shipped YuNet), a :class:`~isnet.detectors.Detector`, any
            callable returning ``(boxes, scores)``, or ``None`` (only :meth:`predict` with your
            own boxes).
        backend: ``"onnx"`` runs the network in onnxruntime (2 to 5 times faster on a CPU,
            see ``docs/benchmark.json``), ``"torch"`` in PyTorch; ``"auto"``: onnx when
            onnxruntime is installed, else torch.
        batch_size: faces per network call.
        threads: CPU threads of the network; for ``"torch"`` this sets PyTorch's
            process-wide count, for ``"onnx"`` the session's. ``None``: leave as is.
        model: which shipped model when ``weights`` is ``None``: ``"cuhk5"`` (five points, the
            default) or ``"ibug68"`` (the 68 points of 300-W).

    Example:
        >>> det = isnet.LandmarkDetector()
        >>> for face in det.detect("photo.jpg"):
        ...     print(face.box, face.landmarks)
    """

    def __init__(
        self,
        weights: str | Path | ISNet | None = None,
        detector: str | Detector | Callable | None = "yunet",
        backend: str = "auto",
        batch_size: int = 256,
        threads: int | None = None,
        model: str = "cuhk5",
    ):
        if isinstance(weights, ISNet):
            self.model = weights.eval()
        else:
            self.model = load(weights_path(weights, model))
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "auto":
            backend = "onnx" if onnxruntime_available() else "torch"
        self.backend = backend
        if backend == "onnx":
            self.net: ISNet | OnnxISNet = OnnxISNet(self.model, threads)
        else:
            if threads is not None:
                torch.set_num_threads(threads)
            self.net = self.model
        self.detector = as_detector(detector)
        self.batch_size = batch_size
        self.scheme = get_scheme(self.model.config.scheme)

    def detect(self, image: np.ndarray | str | Path) -> list[Face]:
        """Find the faces of one image and their landmarks (see :func:`isnet.imageio.as_uint8` for inputs)."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray | str | Path]) -> list[list[Face]]:
        """:meth:`detect` for several images, one network pass over all their faces."""
        return self.detect_decoded([to_bgr_grey(image, f"image {i}") for i, image in enumerate(images)])

    def detect_decoded(self, images: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[list[Face]]:
        """:meth:`detect_batch` for images already decoded by :func:`isnet.imageio.to_bgr_grey`:
        ``(BGR, grey)`` pairs, ``(H, W, 3)`` and ``(H, W)`` uint8."""
        if self.detector is None:
            raise ValueError("this LandmarkDetector has no face detector: pass boxes to predict()")
        greys, boxes, scores = [], [], []
        for bgr, grey in images:
            b, s = _detections(self.detector, bgr)
            greys.append(grey)
            boxes.append(b)
            scores.append(s)
        return self._faces(greys, boxes, scores, from_detector=True)

    def detect_files(
        self, paths: Sequence[str | Path], batch_size: int = 16, workers: int = 2
    ) -> Iterator[list[tuple[np.ndarray, list[Face]] | ImageError]]:
        """:meth:`detect` over many image files, a pipeline: ``workers`` threads decode and detect
        (each with its own copy of the detector; OpenCV and onnxruntime work without the GIL) while
        the landmark step runs on the batch before; at most two batches are in memory.

        Yields:
            Per batch of ``batch_size`` files, in order: ``(BGR image, faces)`` for each file, or
            the :class:`~isnet.imageio.ImageError` saying why it cannot be used.
        """
        if self.detector is None:
            raise ValueError("this LandmarkDetector has no face detector: pass boxes to predict()")
        # One detector per thread: this one, and copies for the others (one thread if it cannot be copied).
        first = self.detector.copy() if workers > 1 else None
        copies = [first, *(self.detector.copy() for _ in range(workers - 2))] if first is not None else []
        free = [self.detector, *copies]
        workers = len(free)
        local = threading.local()

        def decode_and_detect(path):
            try:
                bgr, grey = to_bgr_grey(path)
            except ImageError as e:
                return e
            if not hasattr(local, "detector"):
                local.detector = free.pop()
            return (bgr, grey, *_detections(local.detector, bgr))

        with ThreadPoolExecutor(max(1, workers)) as pool:
            ahead = None
            for start in range(0, len(paths), batch_size):
                batch = [pool.submit(decode_and_detect, p) for p in paths[start : start + batch_size]]
                if ahead is not None:
                    yield self._landmarks_of(ahead)
                ahead = batch
            if ahead is not None:
                yield self._landmarks_of(ahead)

    def _landmarks_of(self, detected: list[Future]) -> list[tuple[np.ndarray, list[Face]] | ImageError]:
        results = [f.result() for f in detected]
        found = [r for r in results if not isinstance(r, ImageError)]
        faces = iter(self._faces(*([r[i] for r in found] for i in (1, 2, 3)), from_detector=True))
        return [r if isinstance(r, ImageError) else (r[0], next(faces)) for r in results]

    def predict(
        self,
        image: np.ndarray | str | Path,
        boxes: np.ndarray | Sequence[Sequence[float]],
        scores: Sequence[float] | None = None,
        from_detector: bool = False,
    ) -> list[Face]:
        """Landmarks of faces whose boxes you give.

        Args:
            image: see :func:`isnet.imageio.as_uint8`.
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
        convention = self.detector if from_detector and self.detector is not None else Detector()
        crops = crops_of_images(
            greys, [convention.training_boxes(b) for b in boxes], self.model.config.input_size, self.scheme.n_points
        )
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
