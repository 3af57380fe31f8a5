"""The public API: :class:`LandmarkDetector`, faces and their landmarks in whole images."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from isnet.assets import ROLL_MODEL, SHIPPED_REGIONS, shipped_name, weights_path
from isnet.boxes import overlaps_image
from isnet.detection import Detections, detect_photos
from isnet.detectors import DETECTION_SIDE, Detector, YuNet, as_detector
from isnet.export import OnnxISNet, onnxruntime_available
from isnet.headpose import head_pose
from isnet.imageio import ImageError
from isnet.model import ISNet, load
from isnet.photo import Photo
from isnet.pipeline import STAGES, Pipeline, PipelineConfig
from isnet.placement import PLACEMENTS, placement_map
from isnet.schemes import CUHK5
from isnet.tracking import Tracker, TrackerConfig

__all__ = ["ALL_TURNS", "BACKENDS", "DetectorSettings", "Face", "LandmarkDetector", "STAGES", "TURNS"]

# YuNet misses faces rolled by 60 degrees or more (15 % of HELEN test faces at 60); turned by
# 45 degrees either way such a face stands within its reach.
TURNS = (45.0, -45.0)
# With --rotations: photos held sideways or upside down too.
ALL_TURNS = (*TURNS, 90.0, 270.0, 180.0)
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
        yaw: degrees the head is turned left or right, positive when the nose points toward the
            image's right (:mod:`isnet.headpose`: a mean 3D face fitted to the points).
        pitch: degrees the head is tilted, positive when the nose points up.
        signals: what ``quality`` was computed from (:data:`isnet.quality.SIGNALS`), ``None``
            without the upright step.
        track: in a video read by :meth:`LandmarkDetector.track`, the id of the face's track (the
            same for as long as the face is followed); ``None`` otherwise.
    """

    box: np.ndarray
    score: float | None
    landmarks: np.ndarray
    quality: float | None = None
    roll: float | None = None
    signals: dict[str, float] | None = field(default=None, repr=False)
    track: int | None = None
    yaw: float | None = None
    pitch: float | None = None

    def to_dict(self, decimals: int = 2) -> dict:
        """JSON-ready ``{"track", "box", "score", "quality", "roll", "yaw", "pitch", "landmarks"}``,
        coordinates to ``decimals``, angles to 0.1 degree."""
        return {
            "track": self.track,
            "box": [round(float(v), decimals) for v in self.box],
            "score": None if self.score is None else round(float(self.score), 4),
            "quality": None if self.quality is None else round(float(self.quality), 4),
            "roll": _degrees(self.roll),
            "yaw": _degrees(self.yaw),
            "pitch": _degrees(self.pitch),
            "landmarks": [[round(float(x), decimals), round(float(y), decimals)] for x, y in self.landmarks],
        }


def _degrees(angle: float | None) -> float | None:
    return None if angle is None or not np.isfinite(angle) else round(float(angle), 1)


class LandmarkDetector:
    """Faces and their landmarks in whole images: a thin composition of the stages of
    :mod:`isnet.pipeline` (decode, detect, read, settle, score).

    Args:
        weights: landmark model checkpoint (or a loaded ``ISNet``); ``None``: the shipped ``model``.
        detector: ``"yunet"`` (the shipped YuNet), a :class:`~isnet.detectors.Detector`, any
            callable returning ``(boxes, scores)``, or ``None`` (only :meth:`predict` with your
            own boxes).
        backend: ``"onnx"`` runs the networks in onnxruntime (2 to 5 times faster on a CPU),
            ``"torch"`` in PyTorch; ``"auto"``: onnx when onnxruntime is installed, else torch.
        threads: CPU threads of the networks; for ``"torch"`` this sets PyTorch's process-wide
            count, for ``"onnx"`` the sessions'. ``None``: leave as is.
        model: which shipped model when ``weights`` is ``None``: ``"cuhk5"`` (five points, the
            default) or ``"ibug68"`` (the 68 points of 300-W).
        upright: the roll network, a five-point model trained on faces at any roll (a checkpoint
            or a loaded ``ISNet``), which frames the faces the landmark model reads turned past
            ``roll_trust``; faces get ``roll`` and ``quality``. ``"default"``: the shipped one;
            ``None``: one plain pass on the detector's box, as trained (no roll, no quality).
        regions: region networks that read each region of a face again in its own view after
            the passes (:mod:`isnet.regions`; checkpoints or loaded ``ISNet`` of the model's
            scheme). ``"default"``: the shipped model's own (the 68-point model's jaw, brows with
            eyes, nose and mouth), none for a model of your own; ``None``: none.
        config: the pipeline's knobs (:class:`~isnet.pipeline.PipelineConfig`).
        **knobs: fields of ``config`` to change (``mirror=True``, ``refine=0``, ...).

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
        threads: int | None = None,
        model: str = "cuhk5",
        upright: str | Path | ISNet | None = "default",
        regions: str | Sequence[str | Path | ISNet] | None = "default",
        config: PipelineConfig | None = None,
        **knobs,
    ):
        unknown = set(knobs) - set(PipelineConfig.names())
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}; the pipeline's are {list(PipelineConfig.names())}")
        if "rotations" in knobs:
            knobs["rotations"] = tuple(float(r) for r in knobs["rotations"])
        config = replace(config or PipelineConfig(), **knobs)
        self.model = weights.eval() if isinstance(weights, ISNet) else load(weights_path(weights, model))
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "auto":
            backend = "onnx" if onnxruntime_available() else "torch"
        self.backend = backend
        if backend == "torch" and threads is not None:
            torch.set_num_threads(threads)
        self.detector = as_detector(detector)
        self.scheme = self.model.config.landmark_scheme
        self.placement = self.scheme.placement if config.placement is None else config.placement
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {config.placement!r}")
        moved = None
        if self.placement != self.scheme.placement:
            if self.scheme.n_points != CUHK5.n_points:
                raise ValueError(
                    f"the {self.scheme.name} model's points are placed as {self.scheme.placement} places them; "
                    "only five-point outputs can be moved to another placement"
                )
            moved = placement_map(self.scheme.placement, self.placement)
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
        if self.roll_model is None:
            config = replace(config, refine=0)
        self.config = config
        if isinstance(regions, str) and regions == "default":
            name = None if isinstance(weights, ISNet) else shipped_name(weights, model)
            regions = tuple(p for p in SHIPPED_REGIONS.get(name, ()) if p.is_file())
        self.region_models = tuple(
            m.eval() if isinstance(m, ISNet) else load(m) for m in (() if regions is None else regions)
        )
        for m in self.region_models:
            if not m.config.region or m.config.landmark_scheme.points != self.scheme.points:
                raise ValueError(
                    f"regions: a region network of the {self.scheme.name} scheme is needed, got a "
                    f"{m.config.scheme} model of region {list(m.config.region) or 'none (a whole face)'}"
                )

        def runner(m: ISNet | None) -> ISNet | OnnxISNet | None:
            return None if m is None else OnnxISNet(m, threads) if backend == "onnx" else m

        self.pipeline = Pipeline(
            runner(self.model),
            self.scheme,
            runner(self.roll_model),
            config,
            moved,
            region_nets=tuple(runner(m) for m in self.region_models),
        )

    @property
    def stage_seconds(self) -> dict[str, float]:
        """Seconds spent in each stage (:data:`~isnet.pipeline.STAGES`) since made, summed over calls."""
        return self.pipeline.seconds

    @property
    def quality_fit(self) -> dict | None:
        """The quality's logistic models (:func:`~isnet.quality.quality_of`); ``None``: the shipped fit
        of this model's scheme. Settable."""
        return self.pipeline.quality_fit

    @quality_fit.setter
    def quality_fit(self, fit: dict | None) -> None:
        self.pipeline.quality_fit = fit

    def detect(self, image: np.ndarray | str | Path) -> list[Face]:
        """Find the faces of one image and their landmarks (see :func:`isnet.imageio.as_uint8` for inputs)."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[np.ndarray | str | Path]) -> list[list[Face]]:
        """:meth:`detect` for several images, one network pass over all their faces."""
        with self.pipeline.stage("decode"):
            photos = [Photo.decode(image, f"image {i}") for i, image in enumerate(images)]
        return self.detect_photos(photos)

    def detect_photos(self, photos: list[Photo]) -> list[list[Face]]:
        """:meth:`detect_batch` for photos already decoded (:meth:`isnet.photo.Photo.decode`)."""
        return self.faces_of(photos, self._detect(photos, self.detector))

    def _detect(self, photos: list[Photo], detector: Detector | None) -> Detections:
        if detector is None:
            raise ValueError("this LandmarkDetector has no face detector: pass boxes to predict()")
        with self.pipeline.stage("detection"):
            return detect_photos(detector, photos, self.config.rotations)

    def detect_files(
        self, paths: Sequence[str | Path], batch_size: int = 16, workers: int = 2
    ) -> Iterator[list[tuple[np.ndarray, list[Face]] | ImageError]]:
        """:meth:`detect` over many image files, a pipeline: ``workers`` threads decode and detect
        (each with its own copy of the detector; OpenCV and onnxruntime work without the GIL) while
        the landmark passes run on the batch before; at most two batches are in memory.

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
        local = threading.local()

        def decode_and_detect(path) -> tuple[Photo, Detections] | ImageError:
            try:
                photo = Photo.decode(path)
            except ImageError as e:
                return e
            if not hasattr(local, "detector"):
                local.detector = free.pop()
            return photo, detect_photos(local.detector, [photo], self.config.rotations)

        with ThreadPoolExecutor(max(1, len(free))) as pool:
            ahead = None
            for start in range(0, len(paths), batch_size):
                batch = [pool.submit(decode_and_detect, p) for p in paths[start : start + batch_size]]
                if ahead is not None:
                    yield self._faces_of_futures(ahead)
                ahead = batch
            if ahead is not None:
                yield self._faces_of_futures(ahead)

    def _faces_of_futures(self, detected: list[Future]) -> list[tuple[np.ndarray, list[Face]] | ImageError]:
        results = [f.result() for f in detected]
        ok = [r for r in results if not isinstance(r, ImageError)]
        parts = []
        for i, (_, d) in enumerate(ok):
            d.frames.photo[:] = i
            d.boxed.photo[:] = i
            parts.append(d)
        faces = iter(self.faces_of([p for p, _ in ok], Detections.concat(parts)))
        return [r if isinstance(r, ImageError) else (r[0].bgr, next(faces)) for r in results]

    def track(
        self,
        frames: Iterable[np.ndarray | str | Path],
        times: Iterable[float] | None = None,
        config: TrackerConfig | None = None,
        **knobs,
    ) -> Iterator[list[Face]]:
        """The faces of a video's frames, each followed from the frame before (:mod:`isnet.tracking`)
        and its points filtered over time (:mod:`isnet.smoothing`).

        Args:
            frames: the frames in order (see :func:`isnet.imageio.as_uint8`).
            times: each frame's time in seconds; ``None``: 30 frames a second.
            config: the tracker's knobs (:class:`~isnet.tracking.TrackerConfig`).
            **knobs: fields of ``config`` to change (``detect_every=5``, ``smooth=False``, ...).

        Yields:
            Per frame, its faces; each carries ``track``, an id that stays with the face while it is followed.
        """
        if self.detector is None:
            raise ValueError("tracking needs a face detector to find the faces to follow")
        unknown = set(knobs) - {f.name for f in fields(TrackerConfig)}
        if unknown:
            raise TypeError(
                f"unknown settings {sorted(unknown)}; the tracker's are {[f.name for f in fields(TrackerConfig)]}"
            )
        tracker = Tracker(
            self.pipeline, self.detector, replace(config or TrackerConfig(), **knobs), self.config.rotations
        )
        clock = (i / 30.0 for i in itertools.count()) if times is None else iter(times)
        for i, (frame, time) in enumerate(zip(frames, clock)):
            with self.pipeline.stage("decode"):
                photo = Photo.decode(frame, f"frame {i}")
            t = tracker.step(photo, float(time))
            q = [None] * len(t.track) if self.roll_model is None else [float(v) for v in t.quality]
            r = [None] * len(t.track) if self.roll_model is None else [float(v) for v in t.roll]
            pose = head_pose(t.points, self.scheme)
            yield [
                Face(
                    t.boxes[j].copy(),
                    float(t.scores[j]),
                    t.points[j],
                    q[j],
                    r[j],
                    track=int(t.track[j]),
                    yaw=float(pose[j, 0]),
                    pitch=float(pose[j, 1]),
                )
                for j in range(len(t.track))
            ]

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
        with self.pipeline.stage("decode"):
            photo = Photo.decode(image, colour=False)
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        h, w = photo.grey.shape[:2]
        outside = ~overlaps_image(b, w, h)
        if outside.any():
            raise ValueError(
                f"box [x, y, w, h] = {b[np.flatnonzero(outside)[0]].tolist()} does not overlap the {w}x{h} image"
            )
        if scores is not None and len(np.asarray(scores).reshape(-1)) != len(b):
            raise ValueError(f"{len(b)} boxes but {len(np.asarray(scores).reshape(-1))} scores")
        convention = self.detector if from_detector and self.detector is not None else Detector()
        training = convention.training_boxes(b)
        for box in training:
            # Under a pixel the view's corners coincide and the landmarks come out NaN; such a box
            # is more likely normalised (0..1) than a face.
            if not (np.all(np.isfinite(box)) and box[2] - box[0] >= 1 and box[3] - box[1] >= 1):
                raise ValueError(
                    f"unusable box (l, t, r, b) = {box.tolist()}: needs finite values and a width and "
                    "height of at least 1 pixel (boxes are in pixels, not fractions of the image)"
                )
        return self.faces_of([photo], Detections.of_boxes(np.zeros(len(b), int), b, training, scores))[0]

    def faces_of(self, photos: list[Photo], detections: Detections) -> list[list[Face]]:
        """Per photo, the :class:`Face` of each of its detections: the passes, then the quality."""
        settled = self.pipeline.settle(photos, detections)
        upright = self.roll_model is not None
        quality = self.pipeline.quality(settled) if upright else None
        pose = head_pose(settled.readings.points, self.scheme)
        out: list[list[Face]] = [[] for _ in photos]
        for i in range(len(detections)):
            s = detections.scores[i]
            q, r, sig = None, None, None
            if upright:
                q, r = float(quality[i]), float(settled.roll[i])
                sig = {n: float(v[i]) for n, v in settled.signals.items()}
            face = Face(
                detections.boxes[i].copy(),
                None if np.isnan(s) else float(s),
                settled.readings.points[i],
                q,
                r,
                sig,
                yaw=float(pose[i, 0]),
                pitch=float(pose[i, 1]),
            )
            out[detections.frames.photo[i]].append(face)
        return out


@dataclass(frozen=True)
class DetectorSettings:
    """What ``isnet predict`` builds its :class:`LandmarkDetector` from: plain values, so that each
    worker of a distributed run (:mod:`isnet.raydata`) builds the very detector a local run uses.

    Attributes:
        weights: landmark model file; ``None``: the shipped ``model``.
        model: shipped model name (``cuhk5``, ``ibug68``).
        backend: :data:`BACKENDS`.
        threads: CPU threads of the networks; ``None``: the libraries' default.
        score_threshold: YuNet's minimum score.
        max_side: YuNet's detection side; ``None``: full resolution (tiled).
        upright: the upright step (roll, quality) or one plain pass.
        all_turns: also search photos turned by 90, 180 and 270 degrees (:data:`ALL_TURNS`).
        placement: where five points go (``None``: the model's own).
        mirror: read each view plain and mirrored.
        regions: the shipped model's region networks (:mod:`isnet.regions`), where it has them.
    """

    weights: str | None = None
    model: str = "cuhk5"
    backend: str = "auto"
    threads: int | None = None
    score_threshold: float = 0.6
    max_side: int | None = DETECTION_SIDE
    upright: bool = True
    all_turns: bool = False
    placement: str | None = None
    mirror: bool = True
    regions: bool = True

    def build(self) -> LandmarkDetector:
        return LandmarkDetector(
            self.weights,
            YuNet(score_threshold=self.score_threshold, max_side=self.max_side),
            backend=self.backend,
            threads=self.threads,
            model=self.model,
            upright="default" if self.upright else None,
            rotations=ALL_TURNS if self.all_turns else TURNS,
            placement=self.placement,
            mirror=self.mirror,
            regions="default" if self.regions else None,
        )
