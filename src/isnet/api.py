"""The public API: :class:`LandmarkDetector`, faces and their landmarks in whole images."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from isnet.assets import ROLL_MODEL, weights_path
from isnet.boxes import ltrb_to_xywh, overlaps_image, roll_of, upright_boxes, xywh_to_ltrb
from isnet.data import reduce_to_cuhk5
from isnet.detectors import Detector, as_detector
from isnet.export import OnnxISNet, onnxruntime_available
from isnet.imageio import ImageError, to_bgr_grey, to_grey
from isnet.inference import crops_of_images, predict_crops, read_crops
from isnet.model import ISNet, load
from isnet.placement import PLACEMENTS, apply_map, placement_map
from isnet.quality import disagreement, quality_fit, quality_of
from isnet.schemes import CUHK5, get_scheme
from isnet.transforms import apply_affine, invert_affine, quarter_turn_matrix, turn_image, unturn_boxes

__all__ = [
    "ALL_TURNS",
    "BACKENDS",
    "CONSENSUS_BEYOND",
    "detect_turned",
    "Face",
    "LandmarkDetector",
    "merge_turned",
    "QUARTER_TURNS",
    "STAGES",
    "TURNS",
]

# YuNet misses faces rolled by 60 degrees or more (15 % of HELEN test faces at 60); turned by
# 45 degrees either way such a face stands within its reach. Tried only while none is found.
TURNS = (0.0, 45.0, -45.0)
# With --rotations: photos held sideways or upside down too.
ALL_TURNS = (*TURNS, 90.0, 270.0, 180.0)
# The roll model reads a face as framed; one it reads rolled further than this (degrees) it
# reads again in four quarter-turned views, where it misreads less (it reads faces near upright best).
CONSENSUS_BEYOND = 45.0
# With quarter_turns: the photo as it is and turned by each quarter (degrees, counter-clockwise as seen).
QUARTER_TURNS = (0.0, 90.0, 180.0, 270.0)
# The stages of LandmarkDetector.stage_seconds, in the order a face meets them.
STAGES = ("detection", "crops", "roll network", "landmark pass", "refining passes", "quality")
# "auto": onnxruntime when it is installed (it is a regular dependency), else PyTorch.
BACKENDS = ("auto", "onnx", "torch")


@dataclass
class Face:
    """One face found in an image.

    Attributes:
        box: ``(4,)`` ``[x, y, w, h]``, as the detector (or the caller) gave it.
        score: the detector's confidence; ``None`` for boxes given by the caller.
        landmarks: ``(K, 2)`` ``(x, y)`` in image pixels, in the model's scheme's order; the
            order follows the subject (``left_eye`` is the eye on the image's left when the
            face is upright, so on a face upside down it is on the right).
        quality: how far to trust the fit, in [0, 1]: the estimated chance that its error is at
            most 10 % of the eye distance (see :func:`quality_of`); ``None`` without the upright step.
        roll: the face's in-plane rotation in degrees (0 upright, positive turned clockwise as
            seen); ``None`` without the upright step.
        signals: what ``quality`` was computed from (:data:`isnet.quality.SIGNALS`), ``None``
            without the upright step.
    """

    box: np.ndarray
    score: float | None
    landmarks: np.ndarray
    quality: float | None = None
    roll: float | None = None
    signals: dict[str, float] | None = field(default=None, repr=False)

    def to_dict(self, decimals: int = 2) -> dict:
        """JSON-ready ``{"box", "score", "quality", "roll", "landmarks"}``, coordinates rounded to ``decimals``."""
        return {
            "box": [round(float(v), decimals) for v in self.box],
            "score": None if self.score is None else round(float(self.score), 4),
            "quality": None if self.quality is None else round(float(self.quality), 4),
            "roll": None if self.roll is None else round(float(self.roll), 1),
            "landmarks": [[round(float(x), decimals), round(float(y), decimals)] for x, y in self.landmarks],
        }


def _detections(detector: Detector, bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 4)`` boxes and ``(N,)`` scores of a detector on one image, as float64 arrays.

    Detections wholly outside the image are dropped (a detector's low-score boxes at an edge
    may be); those partly outside are kept, the part outside read as the edge repeated.
    """
    boxes, scores = detector(bgr)
    boxes, scores = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)
    inside = overlaps_image(boxes, bgr.shape[1], bgr.shape[0])
    return boxes[inside], scores[inside]


def detect_turned(
    detector: Detector, bgr: np.ndarray, turns: Sequence[float] = (0.0,)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A detector's faces, trying the image turned by each of ``turns`` (degrees, counter-clockwise
    as seen) until one finds any.

    The box map applies in the turned image, where the faces stand as the detector saw them;
    boxes come back by :func:`~isnet.transforms.unturn_boxes`.

    Returns:
        ``(boxes, scores, training_boxes)``: ``(N, 4)`` ``[x, y, w, h]``, ``(N,)`` and ``(N, 4)``
        ``(l, t, r, b)``, all in the pixels of ``bgr``.
    """
    for turn in turns:
        turned, matrix = (bgr, None) if turn % 360 == 0 else turn_image(bgr, turn)
        boxes, scores = _detections(detector, turned)
        if len(boxes) or turn == turns[-1]:
            mapped = np.asarray(detector.training_boxes(boxes) if len(boxes) else np.zeros((0, 4))).reshape(-1, 4)
            if matrix is None:
                return boxes, scores, mapped
            found = unturn_boxes(xywh_to_ltrb(boxes), turn, matrix)
            return ltrb_to_xywh(found), scores, unturn_boxes(mapped, turn, matrix)
    raise ValueError("turns must name at least one turn")


def merge_turned(read: list[tuple[float, tuple[int, ...], list[Face]]]) -> list[Face]:
    """One photo's faces read in several turned copies, in the photo's own pixels, each face once.

    Args:
        read: per turned copy, ``(turn, its shape, its faces)``: ``turn`` a multiple of 90 degrees
            counter-clockwise (:func:`~isnet.transforms.turn_image` of the photo), faces in the copy's pixels.

    Returns:
        The faces mapped back (box, landmarks, roll), best ``quality`` first; a face whose box
        centre lies within half a box side of a better one's is the same face read again and left out.
    """
    back = []
    for turn, shape, faces in read:
        if turn % 360 == 0:
            back.extend(faces)
            continue
        # The shape is the turned copy's: the photo's own is that with the sides swapped by odd quarters.
        matrix = quarter_turn_matrix(turn, shape[:2][::-1] if turn % 180 else shape[:2])
        for f in faces:
            box = ltrb_to_xywh(unturn_boxes(xywh_to_ltrb(f.box[None]), turn, matrix))[0]
            points = apply_affine(invert_affine(matrix), f.landmarks)
            roll = None if f.roll is None else (f.roll + turn + 180.0) % 360.0 - 180.0
            back.append(replace(f, box=box, landmarks=points, roll=roll))
    back.sort(key=lambda f: -1.0 if f.quality is None else f.quality, reverse=True)
    kept: list[Face] = []
    for f in back:
        centre = f.box[:2] + 0.5 * f.box[2:]
        if all(np.linalg.norm(centre - (k.box[:2] + 0.5 * k.box[2:])) > 0.5 * min(k.box[2:]) for k in kept):
            kept.append(f)
    return kept


class LandmarkDetector:
    """Faces and their landmarks in whole images.

    Args:
        weights: landmark model checkpoint (or a loaded ``ISNet``); ``None``: the shipped ``model``.
        detector: ``"yunet"`` (the shipped YuNet), a :class:`~isnet.detectors.Detector`, any
            callable returning ``(boxes, scores)``, or ``None`` (only :meth:`predict` with your
            own boxes).
        backend: ``"onnx"`` runs the network in onnxruntime (2 to 5 times faster on a CPU,
            see ``benchmarks/results/speed/benchmark.json``), ``"torch"`` in PyTorch; ``"auto"``: onnx when
            onnxruntime is installed, else torch.
        batch_size: faces per network call.
        threads: CPU threads of the network; for ``"torch"`` this sets PyTorch's
            process-wide count, for ``"onnx"`` the session's. ``None``: leave as is.
        model: which shipped model when ``weights`` is ``None``: ``"cuhk5"`` (five points, the
            default) or ``"ibug68"`` (the 68 points of 300-W).
        upright: the upright step's first pass, a five-point model trained on faces at any roll
            (a checkpoint or a loaded ``ISNet``): its points give each face's roll and box, and the
            landmark model then reads the face turned upright; faces get ``roll`` and
            ``quality``. ``"default"``: the shipped one if installed; ``None``: one pass on the
            detector's box, as trained.
        refine: further passes of the landmark model in the upright step, each framing the face
            by the points of the pass before (2: the second only where ``settled`` says so).
        quarter_turns: for photos held sideways or upside down: read the photo as it is and
            turned by 90, 180 and 270 degrees (four times the work); each face keeps the reading
            of highest ``quality``, faces found in several turns counted once.
        settled: refining passes after the first run only on faces that the pass before moved by
            more than this many eye distances (mean over the five points). 0: every face. With
            ``refine=2``, 0.08 sends about one face in eight through the third pass and was as
            accurate as 0 on held-out 300-W faces (README, the upright step).
        mirror: read every view of every network also mirrored, in the same call, and average
            the two readings (mirrored back, pairs swapped): steadier points for a few percent
            more time. ``False``: as the networks were run before (one reading a view).
        mirror_roll: the same for the roll network's views alone; ``None``: as ``mirror``.
        refine_above: refine only faces whose two readings disagree by more than this many eye
            distances (see :func:`~isnet.quality.disagreement`). 0: every face. 0.1 skips about
            half of the faces' second pass, but the quality score then ranks failures less well
            (AUROC 0.867 against 0.891 on held-out 300-W faces at eight rolls).
        placement: where five-point outputs put the points (:mod:`isnet.placement`): ``"cuhk"``
            (CUHK's hand-placed pupils) or ``"300w"`` (300-W's means of the eyes' contours); ``None``:
            the model's own (the five-point model's is CUHK's, the 68-point model's 300-W's).
        rotations: turns of the photo (degrees, counter-clockwise as seen) tried in order while
            the detector finds no face: faces rolled past what the detector finds (about 50
            degrees), photos held sideways or upside down (add 90, 270, 180). ``(0,)``: the
            photo as it is only.

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
        upright: str | Path | ISNet | None = "default",
        rotations: Sequence[float] = TURNS,
        refine: int = 2,
        refine_above: float = 0.0,
        quarter_turns: bool = False,
        placement: str | None = None,
        mirror: bool = True,
        settled: float = 0.08,
        mirror_roll: bool | None = None,
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
        self.placement = self.scheme.placement if placement is None else placement
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        self.placement_map = None
        if self.placement != self.scheme.placement:
            if self.scheme.n_points != CUHK5.n_points:
                raise ValueError(
                    f"the {self.scheme.name} model's points are placed as {self.scheme.placement} places them; "
                    "only five-point outputs can be moved to another placement"
                )
            self.placement_map = placement_map(self.scheme.placement, self.placement)
        if isinstance(upright, str) and upright == "default":
            upright = ROLL_MODEL if ROLL_MODEL.is_file() else None
        self.roll_model = None if upright is None else upright.eval() if isinstance(upright, ISNet) else load(upright)
        if self.roll_model is not None and self.roll_model.config.scheme != CUHK5.name:
            raise ValueError(
                f"the upright step needs a five-point ({CUHK5.name}) model, got {self.roll_model.config.scheme}"
            )
        if self.roll_model is not None and self.scheme.n_points != CUHK5.n_points and self.scheme.to_cuhk5 is None:
            raise ValueError(
                f"the upright step needs landmarks that reduce to five points; {self.scheme.name} does not"
            )
        self.roll_net = None
        if self.roll_model is not None:
            self.roll_net = OnnxISNet(self.roll_model, threads) if backend == "onnx" else self.roll_model
        if not len(rotations):
            raise ValueError("rotations must name at least one turn (0: the photo as it is)")
        self.rotations = tuple(float(r) for r in rotations)
        self.refine = int(refine)
        self.refine_above = float(refine_above)
        self.settled = float(settled)
        self.mirror = bool(mirror)
        self.mirror_roll = self.mirror if mirror_roll is None else bool(mirror_roll)
        if quarter_turns and self.roll_model is None:
            raise ValueError("quarter_turns keeps each face's reading of highest quality: it needs the upright step")
        self.quarter_turns = bool(quarter_turns)
        # The fit of quality_of; None: the shipped one for this model's scheme (weights/quality.json).
        self.quality_fit: dict | None = None
        # Seconds spent in each stage since made (or since cleared): STAGES, summed over calls.
        self.stage_seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self._stage_lock = threading.Lock()

    @contextlib.contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - t
            with self._stage_lock:  # detection runs on several threads at once
                self.stage_seconds[name] += elapsed

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
        return self._faces_of_detections([self._detections_of(bgr, grey, self.detector) for bgr, grey in images])

    def _detections_of(self, bgr: np.ndarray, grey: np.ndarray, detector: Detector) -> list[tuple]:
        """The detector's faces of one photo, ``[(turn, grey, boxes, scores, training boxes)]``: one
        entry, or with ``quarter_turns`` one per quarter turn, each in the turned photo's pixels."""
        out = []
        for turn in QUARTER_TURNS if self.quarter_turns else (0.0,):
            b, g = (bgr, grey) if turn == 0 else (turn_image(bgr, turn)[0], turn_image(grey, turn)[0])
            with self._stage("detection"):
                out.append((turn, g, *detect_turned(detector, b, self.rotations)))
        return out

    def _faces_of_detections(self, detections: list[list[tuple]]) -> list[list[Face]]:
        """The faces of photos from :meth:`_detections_of`: one landmark step over every entry, then
        per photo the faces of its turns mapped back and merged (:func:`merge_turned`)."""
        flat = [d for photo in detections for d in photo]
        faces = iter(self._faces(*([d[i] for d in flat] for i in (1, 2, 3, 4))))
        out = []
        for photo in detections:
            read = [(turn, grey.shape, next(faces)) for turn, grey, *_ in photo]
            out.append(read[0][2] if len(read) == 1 else merge_turned(read))
        return out

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
            return bgr, self._detections_of(bgr, grey, local.detector)

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
        faces = iter(self._faces_of_detections([r[1] for r in results if not isinstance(r, ImageError)]))
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
        h, w = grey.shape[:2]
        outside = ~overlaps_image(b, w, h)
        if outside.any():
            raise ValueError(
                f"box [x, y, w, h] = {b[np.flatnonzero(outside)[0]].tolist()} does not overlap the {w}x{h} image"
            )
        s = np.full(len(b), np.nan) if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        if len(s) != len(b):
            raise ValueError(f"{len(b)} boxes but {len(s)} scores")
        convention = self.detector if from_detector and self.detector is not None else Detector()
        return self._faces([grey], [b], [s], [convention.training_boxes(b)])[0]

    def _faces(
        self, greys: list[np.ndarray], boxes: list[np.ndarray], scores: list[np.ndarray], mapped: list[np.ndarray]
    ) -> list[list[Face]]:
        """Faces of images from their boxes ``[x, y, w, h]``, scores and training boxes ``(l, t, r, b)``."""
        points, signals, roll = self._landmarks(greys, mapped)
        quality = None
        if signals is not None:
            signals["score"] = np.concatenate(scores) if scores else np.zeros(0)
            with self._stage("quality"):
                quality = quality_of(signals, self.quality_fit or quality_fit(self.scheme.name))
        out, start = [], 0
        for b, s in zip(boxes, scores):
            faces = []
            for i in range(len(b)):
                k = start + i
                q, r, sig = (None, None, None)
                if quality is not None:
                    q, r, sig = float(quality[k]), float(roll[k]), {n: float(v[k]) for n, v in signals.items()}
                faces.append(Face(b[i].copy(), None if np.isnan(s[i]) else float(s[i]), points[k], q, r, sig))
            out.append(faces)
            start += len(b)
        return out

    def _first_pass(self, crops) -> np.ndarray:
        """``(N, 5, 2)`` points of the roll model: each face read as framed; a face read rolled past
        ``CONSENSUS_BEYOND`` is read again in four quarter-turned views (:meth:`_consensus`)."""
        points = predict_crops(self.roll_net, crops, self.batch_size, mirror=self.mirror_roll)
        doubtful = np.flatnonzero(np.abs(roll_of(points)) > np.deg2rad(CONSENSUS_BEYOND))
        if len(doubtful):
            points[doubtful] = self._consensus(crops, doubtful)
        return points

    def _consensus(self, crops, faces: np.ndarray) -> np.ndarray:
        """``(n, 5, 2)`` points of the roll model for ``faces``, read in four quarter-turned views.

        The roll model errs most on faces far from upright, so each face is read upright, on its
        side both ways and upside down; the reading kept is the one whose roll most of the others
        agree with (within 30 degrees), ties going to the view in which the face stood most upright.
        """
        n = len(faces)
        quarter = np.arange(4) * (np.pi / 2)
        index = np.tile(faces, 4)
        views = replace(crops, images=crops.images[index], boxes=crops.boxes[index], to_source=crops.to_source[index])
        points = predict_crops(
            self.roll_net, views, self.batch_size, angles=np.repeat(quarter, n), mirror=self.mirror_roll
        ).reshape(4, n, 5, 2)
        rolls = roll_of(points.reshape(-1, 5, 2)).reshape(4, n)
        gap = np.abs((rolls[:, None] - rolls[None] + np.pi) % (2 * np.pi) - np.pi)
        support = (gap < np.deg2rad(30)).sum(axis=1)
        tilt = np.abs((rolls + quarter[:, None] + np.pi) % (2 * np.pi) - np.pi)
        best = np.lexsort((tilt, -support), axis=0)[0]
        return points[best, np.arange(n)]

    def _landmarks(
        self, greys: list[np.ndarray], mapped: list[np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray] | None, np.ndarray | None]:
        """``(N, K, 2)`` landmarks of all faces, with the ``(N,)`` signals of their quality
        (``disagreement``, ``mirror_gap``) and rolls (degrees) when the upright step runs: its
        first pass on the training boxes gives each face's roll and
        upright box, the landmark model reads the view turned upright, then again framed by its
        own points (``refine``, gated by ``refine_above`` and ``settled``); five-point outputs
        are moved to ``placement``."""
        n_points, size = self.scheme.n_points, self.model.config.input_size
        if self.roll_model is None:
            with self._stage("crops"):
                crops = crops_of_images(greys, mapped, size, n_points)
            if not len(crops):
                return np.zeros((0, n_points, 2)), None, None
            with self._stage("landmark pass"):
                points = predict_crops(self.net, crops, self.batch_size, mirror=self.mirror)
            return self._placed(points), None, None
        with self._stage("crops"):
            first_crops = crops_of_images(greys, mapped, self.roll_model.config.input_size, CUHK5.n_points)
        if not len(first_crops):
            return np.zeros((0, n_points, 2)), {"disagreement": np.zeros(0), "mirror_gap": np.zeros(0)}, np.zeros(0)
        with self._stage("roll network"):
            first = self._first_pass(first_crops)
        image_of = np.repeat(np.arange(len(mapped)), [len(m) for m in mapped])
        rolls = roll_of(first)
        points, gap = self._upright_pass(greys, image_of, first, rolls, "landmark pass")
        five = self._five(points)
        todo, before = np.arange(len(first)), first
        for k in range(self.refine):
            # Where the two passes agree, another changes little; where they part, the landmark
            # model's own points frame the face better than the first pass's. A later pass runs
            # only where the pass before still moved the points (``settled``).
            limit = self.refine_above if k == 0 else self.settled
            todo = todo[disagreement(before[todo], five[todo]) > limit]
            if not len(todo):
                break
            before = five.copy()
            rolls[todo] = roll_of(five[todo])
            points[todo], gap_todo = self._upright_pass(
                greys, image_of[todo], five[todo], rolls[todo], "refining passes"
            )
            if gap is not None:
                gap[todo] = gap_todo
            five[todo] = self._five(points[todo])
        signals = {"disagreement": disagreement(first, five)}
        if gap is not None:
            signals["mirror_gap"] = gap
        points = self._placed(points)
        # The roll reported is that of the points returned, not the one their view was turned by.
        return points, signals, np.degrees(roll_of(self._five(points)))

    def _upright_pass(
        self, greys: list[np.ndarray], image_of: np.ndarray, five: np.ndarray, rolls: np.ndarray, stage: str
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(n, K, 2)`` landmarks of faces framed by their ``(n, 5, 2)`` points and read turned
        upright by their ``(n,)`` rolls (radians), and their ``(n,)`` mirror gaps (``None``
        unmirrored; :func:`~isnet.inference.read_crops`); ``image_of`` ``(n,)`` names each face's image;
        its time counts to ``stage``."""
        with self._stage("crops"):
            boxes = upright_boxes(five, rolls)
            crops = crops_of_images(
                [greys[i] for i in image_of], boxes[:, None], self.model.config.input_size, self.scheme.n_points
            )
        with self._stage(stage):
            return read_crops(self.net, crops, self.batch_size, angles=-rolls, mirror=self.mirror)

    def _placed(self, points: np.ndarray) -> np.ndarray:
        """``(N, K, 2)`` landmarks moved to this detector's ``placement`` (unmoved when it is the model's own)."""
        return points if self.placement_map is None else apply_map(points, self.placement_map)

    def _five(self, points: np.ndarray) -> np.ndarray:
        """The five CUHK points of ``(n, K, 2)`` landmarks of this detector's scheme."""
        return points if self.scheme.n_points == CUHK5.n_points else reduce_to_cuhk5(points, self.scheme)
