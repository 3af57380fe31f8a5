"""The inference pipeline as typed stages: photos -> detections -> readings -> faces.

    photo ─decode once─▶ Photo       grey, BGR, area pyramid                      isnet.photo
          ─detect──────▶ Detections  boxes, scores, the detector's points, frames  isnet.detection
          ─first pass──▶ Readings    the landmark network, one warp a view         isnet.inference
          ─roll check──▶             the roll network, faces in doubt only         this module
          ─settle──────▶             a pass again only where it moves the frame    this module
          ─regions─────▶             region networks, each region in its own view  isnet.regions
          ─score───────▶ Face        points, roll, quality, placement              this module, isnet.quality

Every pass reads all faces still unsettled in one network call, each view one warp of its
photo. The first pass reads a face in the frame its detection gave (the detector's five points).
The roll network, trained at every roll, reads a face in its detector box where the first pass
leaves it in doubt (``roll_check``: a detector score below 0.9, or plain and mirrored readings
apart): where its roll parts from the landmark model's by more than ``check_beyond`` (a face upside
down reads steadily, and wrongly, as upright), or the landmark model reads the face turned past
``roll_trust`` from its frame (it learned faces within 15 degrees of upright), the face is
framed by the roll network's points instead. Then the points of each reading frame the face
anew (:meth:`~isnet.frames.Frames.of_points`), and only faces whose view would move by more
than ``reframe_above`` are read again, up to ``refine`` times; faces that still move, or whose
detector points part from the landmarks, are framed by the roll network and keep the steadier
reading. Region networks, where the model has them, then read each region of every face again in
its own view, framed by the settled points (:func:`~isnet.regions.read_regions`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import numpy as np

from isnet.boxes import roll_of
from isnet.data import reduce_to_cuhk5
from isnet.detection import Detections
from isnet.export import OnnxISNet
from isnet.frames import Frames, frame_shift
from isnet.inference import Readings, read_frames
from isnet.model import ISNet
from isnet.photo import Photo
from isnet.placement import apply_map
from isnet.quality import disagreement, quality_fit, quality_of
from isnet.regions import read_regions
from isnet.schemes import CUHK5, Scheme

__all__ = ["PipelineConfig", "Pipeline", "Settled", "STAGES", "CONSENSUS_BEYOND"]

# The stages timed by Pipeline.seconds, in the order a face meets them.
STAGES = ("decode", "detection", "first pass", "roll network", "further passes", "regions", "quality")
# The roll network reads a face as framed; one it reads rolled further than this (degrees) it
# reads again in four quarter-turned views, where it misreads less (it reads faces near upright best).
CONSENSUS_BEYOND = 45.0


@dataclass(frozen=True)
class PipelineConfig:
    """The knobs of :class:`Pipeline` (and of :class:`~isnet.api.LandmarkDetector`).

    Attributes:
        batch_size: views per network call.
        mirror: read every landmark view also mirrored, in the same call, and average the two
            readings: on the CUHK validation faces NME 3.097 % against 3.291 % unmirrored, and the
            quality its strongest signal (``mirror_gap``), for twice the landmark network's work.
        mirror_roll: the same for the roll network, which reads only the faces in doubt.
        refine: further passes at most, each on the faces its predecessor left unsettled.
        reframe_above: a face is read again where its points would move its view by more than
            this (mean over the points, in view sides; :func:`~isnet.frames.frame_shift`).
        roll_trust: degrees; a face the first pass reads turned further from its frame is framed
            by the roll network (when there is one) and read again.
        roll_check: the roll network reads the faces in doubt too (one more view each); where its
            roll parts from the landmark model's by more than ``check_beyond`` degrees it frames the
            face. A face is in doubt where the detector scored it below ``check_score_below`` or its
            first reading's mirror gap exceeds ``check_gap_above``; read unmirrored, every face is.
        check_score_below: see ``roll_check``.
        check_gap_above: see ``roll_check`` (the mirror gap of :class:`~isnet.inference.Readings`).
        check_box_gap_above: a box the caller gave has no score, so its mirror gap alone decides,
            at this lower bar (on the held-out 300-W faces turned by 120 and 180 degrees, 0.02 let
            through upside-down faces that the roll network would have turned).
        unsettled_above: a face whose points still move its view by more than this after the
            further passes is framed by the roll network and read again; it keeps the steadier reading.
        detector_gap_above: so too a face whose detector's five points part from the landmarks
            by more than this (:func:`~isnet.quality.disagreement`).
        rotations: turns of each photo (degrees, counter-clockwise as seen) searched besides the
            photo as it is: faces rolled past what the detector finds (about 50 degrees), photos
            held sideways or upside down (add 90, 270, 180). ``()``: the photo as it is only.
        placement: where five-point outputs put the points (:mod:`isnet.placement`); ``None``:
            the model's own.
        region_mirror: read the region networks' views also mirrored; ``None``: as ``mirror``.
        region_weight: the region networks' share of a region's points, the landmark passes' the
            rest (1: the region networks' alone). Chosen on 200 held-out 300-W faces with the shipped
            networks: NME 3.728 % at 0.8, 3.737 at 0.65, the passes alone 4.348
            (``benchmarks/results/ibug68/regions_val_cnn_set.json``).
    """

    batch_size: int = 256
    mirror: bool = True
    mirror_roll: bool = False
    refine: int = 2
    reframe_above: float = 0.06
    roll_trust: float = 25.0
    roll_check: bool = True
    check_beyond: float = 60.0
    check_score_below: float = 0.9
    check_gap_above: float = 0.02
    check_box_gap_above: float = 0.0125
    unsettled_above: float = 0.06
    detector_gap_above: float = 0.2
    rotations: tuple[float, ...] = (45.0, -45.0)
    placement: str | None = None
    region_mirror: bool | None = None
    region_weight: float = 0.8

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass
class Settled:
    """The outcome of the passes over ``N`` faces.

    Attributes:
        readings: the last reading of each face (its frame, its ``(N, K, 2)`` points and mirror gap).
        passes: ``(N,)`` landmark passes each face took.
        signals: name -> ``(N,)`` what the quality is computed from (:data:`isnet.quality.SIGNALS`).
        roll: ``(N,)`` degrees, the roll of the points returned.
    """

    readings: Readings
    passes: np.ndarray
    signals: dict[str, np.ndarray]
    roll: np.ndarray


@dataclass
class Pipeline:
    """The landmark passes over detected faces: :meth:`settle` then :meth:`faces_of` (see the module).

    Attributes:
        net: the landmark network (a loaded ``ISNet`` or its onnxruntime session).
        scheme: the landmark model's scheme.
        roll_net: the roll network (five points, any roll) or ``None``.
        config: the knobs.
        placement_map: ``(5, 3, 2)``-style map moving five-point outputs to ``config.placement``, or ``None``.
        quality_fit: the quality's logistic models; ``None``: the shipped fit of ``scheme``.
        region_nets: region networks of ``scheme`` (:mod:`isnet.regions`), read after the passes.
        seconds: seconds spent per stage (:data:`STAGES`), summed over calls.
        views: network views read (each mirrored reading counts two), by network.
    """

    net: ISNet | OnnxISNet
    scheme: Scheme
    roll_net: ISNet | OnnxISNet | None
    config: PipelineConfig
    placement_map: np.ndarray | None
    quality_fit: dict | None = None
    region_nets: tuple[ISNet | OnnxISNet, ...] = ()
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    views: dict[str, int] = field(default_factory=lambda: {"landmark": 0, "roll": 0, "region": 0})

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t

    def read(self, photos: list[Photo], frames: Frames, roll: bool = False) -> Readings:
        """One pass of the landmark network (or of the roll network) over ``frames``."""
        net = self.roll_net if roll else self.net
        mirror = self.config.mirror_roll if roll else self.config.mirror
        self.views["roll" if roll else "landmark"] += len(frames) * (2 if mirror else 1)
        return read_frames(net, photos, frames, mirror, self.config.batch_size)

    def five(self, points: np.ndarray) -> np.ndarray:
        """``(n, 5, 2)`` CUHK points of ``(n, K, 2)`` landmarks of the landmark model's scheme."""
        return points if self.scheme.n_points == CUHK5.n_points else reduce_to_cuhk5(points, self.scheme)

    def settle(self, photos: list[Photo], detections: Detections) -> Settled:
        """Read every face, then again where the reading moves its frame (see the module)."""
        n, cfg = len(detections), self.config
        with self.stage("first pass"):
            state = _State.first(self.read(photos, detections.frames), self.five)
        checked = None
        if self.roll_net is not None and n:
            # Read turned past what the landmark model learned: the roll network frames it. With
            # roll_check the roll network reads every face too, and where its roll parts from the
            # landmark model's (a face upside down reads steadily as upright) it is believed.
            turned = np.abs(_wrap(state.implied.roll - state.frames.roll)) > np.deg2rad(cfg.roll_trust)
            if cfg.roll_check:
                doubted = self.doubted(state.gap, detections.scores)
                checked = np.full((n, 5, 2), np.nan)
                if len(doubted):
                    with self.stage("roll network"):
                        checked[doubted] = self.read(photos, detections.boxed.take(doubted), roll=True).points
                parted = np.abs(_wrap(roll_of(checked[doubted]) - state.implied.roll[doubted]))
                turned[doubted] |= parted > np.deg2rad(cfg.check_beyond)
            self._roll_pass(photos, detections.boxed, state, np.flatnonzero(turned), checked)
        with self.stage("further passes"):
            self._refine(photos, state, np.arange(n), cfg.refine)
        if self.roll_net is not None and n:
            # A face upside down may read steadily as upright; the detector's own points, where it
            # gives them, then part from the landmarks.
            gap = _detector_gap(detections.points, state.five)
            doubtful = (state.shift() > cfg.unsettled_above) | (gap > cfg.detector_gap_above)
            self._roll_pass(photos, detections.boxed, state, np.flatnonzero(doubtful), checked, keep_steadier=True)
        if self.region_nets and n:
            mirror = cfg.mirror if cfg.region_mirror is None else cfg.region_mirror
            with self.stage("regions"):
                self.views["region"] += n * len(self.region_nets) * (2 if mirror else 1)
                state.points = read_regions(
                    self.region_nets,
                    photos,
                    state.implied,
                    state.points,
                    mirror,
                    cfg.region_weight,
                    cfg.batch_size,
                )
        with self.stage("quality"):
            signals = {"shift": state.shift()}
            if checked is not None:
                signals["disagreement"] = disagreement(checked, state.five)
            signals["detector_gap"] = _detector_gap(detections.points, state.five)
            if state.gap is not None:
                signals["mirror_gap"] = state.gap
            signals["score"] = detections.scores
        points = state.points
        placed = points if self.placement_map is None else apply_map(points, self.placement_map)
        # The roll reported is that of the points returned, not the one their view was turned by.
        roll = np.degrees(roll_of(self.five(placed))) if n else np.zeros(0)
        return Settled(Readings(state.frames, placed, state.gap), state.passes, signals, roll)

    def doubted(self, gap: np.ndarray | None, scores: np.ndarray) -> np.ndarray:
        """Indices of the faces the roll check reads (see :class:`PipelineConfig`): ``gap`` ``(N,)``
        their first reading's mirror gaps (``None``: read unmirrored, all are), ``scores`` ``(N,)``
        the detector's (NaN for boxes the caller gave)."""
        if gap is None:
            return np.arange(len(scores))
        cfg = self.config
        bar = np.where(np.isnan(scores), cfg.check_box_gap_above, cfg.check_gap_above)
        return np.flatnonzero((scores < cfg.check_score_below) | (gap > bar))

    def _refine(self, photos: list[Photo], state: _State, todo: np.ndarray, passes: int) -> None:
        """Up to ``passes`` further passes over the faces of ``todo`` whose points move their frame."""
        for _ in range(passes):
            todo = todo[state.shift(todo) > self.config.reframe_above]
            if not len(todo):
                return
            state.update(todo, self.read(photos, state.implied.take(todo)), self.five)

    def _roll_pass(
        self,
        photos: list[Photo],
        detected: Frames,
        state: _State,
        todo: np.ndarray,
        checked: np.ndarray | None = None,
        keep_steadier: bool = False,
    ) -> None:
        """The faces of ``todo`` framed by the roll network from their detection frames and read
        again (and refined); with ``keep_steadier`` a face whose reading the roll network turns by
        less than ``roll_trust`` keeps the reading that moves its frame less."""
        if not len(todo):
            return
        with self.stage("roll network"):
            rolled = self.roll_frames(photos, detected.take(todo), None if checked is None else checked[todo])
        with self.stage("further passes"):
            trial = _State.first(self.read(photos, rolled), self.five)
            self._refine(photos, trial, np.arange(len(todo)), self.config.refine)
        better = np.ones(len(todo), bool)
        if keep_steadier:
            # Far apart in roll, the roll network is believed: a face upside down read as upright is
            # read steadily wrong. Near, the landmark model's steadier reading is.
            turned = np.abs(_wrap(rolled.roll - state.implied.roll[todo])) > np.deg2rad(self.config.roll_trust)
            better = turned | (trial.shift() < state.shift(todo))
        state.adopt(todo[better], trial, np.flatnonzero(better))

    def roll_frames(self, photos: list[Photo], frames: Frames, first: np.ndarray | None = None) -> Frames:
        """Frames of faces by the roll network's five points: each face read in its frame (unless
        ``first`` holds its reading already; NaN rows are read), and one
        read turned past :data:`CONSENSUS_BEYOND` read again in four quarter-turned views, keeping
        the reading whose roll most of the others agree with (within 30 degrees), ties going to
        the view in which the face stood most upright."""
        first = np.full((len(frames), 5, 2), np.nan) if first is None else first.copy()
        unread = np.flatnonzero(~np.isfinite(first).all(axis=(1, 2)))
        if len(unread):
            first[unread] = self.read(photos, frames.take(unread), roll=True).points
        rolls = roll_of(first)
        doubtful = np.flatnonzero(np.abs(_wrap(rolls - frames.roll)) > np.deg2rad(CONSENSUS_BEYOND))
        if len(doubtful):
            k = len(doubtful)
            quarter = np.arange(4) * (np.pi / 2)
            views = frames.take(np.tile(doubtful, 4))
            views.roll = views.roll + np.repeat(quarter, k)
            points = self.read(photos, views, roll=True).points.reshape(4, k, 5, 2)
            r = roll_of(points.reshape(-1, 5, 2)).reshape(4, k)
            gap = np.abs(_wrap(r[:, None] - r[None]))
            support = (gap < np.deg2rad(30)).sum(axis=1)
            tilt = np.abs(_wrap(r - views.roll.reshape(4, k)))
            best = np.lexsort((tilt, -support), axis=0)[0]
            first[doubtful] = points[best, np.arange(k)]
        return Frames.of_points(frames.photo, first)

    def quality(self, settled: Settled) -> np.ndarray:
        """``(N,)`` qualities of the settled faces (:func:`~isnet.quality.quality_of`)."""
        with self.stage("quality"):
            if not len(settled.passes):
                return np.zeros(0)
            return quality_of(settled.signals, self.quality_fit or quality_fit(self.scheme.name))


@dataclass
class _State:
    """The passes' progress over ``N`` faces: the last reading of each, the frame it was read in,
    the frame its points imply, and how far apart the two are (``shifts``, kept as they change)."""

    points: np.ndarray
    gap: np.ndarray | None
    frames: Frames
    five: np.ndarray
    implied: Frames
    passes: np.ndarray
    shifts: np.ndarray

    @classmethod
    def first(cls, r: Readings, five_of) -> _State:
        five = five_of(r.points)
        gap = None if r.mirror_gap is None else r.mirror_gap.copy()
        implied = Frames.of_points(r.frames.photo, five)
        shifts = frame_shift(r.frames, implied, five) if len(five) else np.zeros(0)
        return cls(r.points.copy(), gap, r.frames.copy(), five, implied, np.ones(len(five), int), shifts)

    def shift(self, index: np.ndarray | None = None) -> np.ndarray:
        """``(n,)`` how far the points of faces ``index`` (all) would move their view if reframed."""
        return self.shifts.copy() if index is None else self.shifts[index]

    def update(self, index: np.ndarray, r: Readings, five_of) -> None:
        self.points[index] = r.points
        if self.gap is not None:
            self.gap[index] = r.mirror_gap
        self.frames.put(index, r.frames)
        self.five[index] = five_of(r.points)
        self.implied.put(index, Frames.of_points(self.frames.photo[index], self.five[index]))
        self.shifts[index] = frame_shift(self.frames.take(index), self.implied.take(index), self.five[index])
        self.passes[index] += 1

    def adopt(self, index: np.ndarray, other: _State, rows: np.ndarray) -> None:
        """Faces ``index`` take ``other``'s rows ``rows``, their passes added."""
        self.points[index] = other.points[rows]
        if self.gap is not None:
            self.gap[index] = other.gap[rows]
        self.frames.put(index, other.frames.take(rows))
        self.five[index] = other.five[rows]
        self.implied.put(index, other.implied.take(rows))
        self.shifts[index] = other.shifts[rows]
        self.passes[index] += other.passes[rows]


def _detector_gap(detector_points: np.ndarray, five: np.ndarray) -> np.ndarray:
    """``(N,)`` :func:`~isnet.quality.disagreement` of the detector's five points and the landmarks';
    NaN where it gave none."""
    out = np.full(len(five), np.nan)
    known = np.all(np.isfinite(detector_points), axis=(1, 2))
    if known.any():
        out[known] = disagreement(detector_points[known], five[known])
    return out


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angles (radians) wrapped to ``[-pi, pi)``."""
    return (angle + np.pi) % (2 * np.pi) - np.pi
