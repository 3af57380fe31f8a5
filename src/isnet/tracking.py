"""Faces followed through a video: a stage that supplies face frames from the frame before.

Read alone, every frame of a video costs a detection and the full upright step, and its faces
carry no identity. The tracker reads a face in the frame its own points gave it in the frame
before (:meth:`~isnet.frames.Frames.of_points`): one landmark pass a face, no detector, through
the same :class:`~isnet.pipeline.Pipeline` (with the roll network only where the pass reads
the face turned or unsettled). A track ends when its quality falls below ``keep_above``, its
face leaves the picture, or it lands on a face another, older track follows. The detector runs
every ``detect_every`` frames, and on every frame while no face is followed or a track ended
less than ``remember`` seconds ago;
a face it finds that no track follows starts a track, read by the whole pipeline. Each track
carries an integer id for as long as it lives. A face found within ``remember`` seconds of a
track's end where that track's face would be by then (moving on along its path before it began to fade) takes the
ended track's id again, as a face passing behind another does; any other face starts anew.

The points shown are filtered over time in each face's own frame (:mod:`isnet.smoothing`), and
the next frame is framed by them (``frame_by_shown``): a still face is then read in the same
view every frame, and its points shake less (on the training clips, flicker 0.054 % of the eye
distance still and 0.246 % moving, against 0.060 % and 0.360 % framed by the points as read).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from isnet.boxes import iou, ltrb_to_xywh, roll_of
from isnet.detection import Detections, detect_photos
from isnet.detectors import Detector
from isnet.frames import Frames
from isnet.photo import Photo
from isnet.pipeline import Pipeline
from isnet.placement import apply_map
from isnet.smoothing import FaceSmoother, SmoothingConfig

__all__ = ["TrackerConfig", "Tracked", "Tracker"]

# Frames of each track's path kept for finding its face again, and how many of the last are left
# out of the motion it is expected to go on with: a face passing behind another is read worse
# for a few frames before its track ends, and that path would point the wrong way.
HISTORY = 30
BEFORE_LOSS = 10


@dataclass(frozen=True)
class TrackerConfig:
    """The tracker's knobs.

    Attributes:
        detect_every: frames between detector runs while faces are followed (1: every frame).
        keep_above: a track whose quality falls below this ends; a face the detector finds
            starts a track only when its quality reaches it.
        overlap: a detection whose frame overlaps a track's by more than this (intersection over
            union of the frames' squares) is that track's face.
        refine: further passes, on faces whose points move their frame (fast motion).
        remember: seconds an ended track is remembered: a face found within them where that
            track's face would be by now, moving on along its path, takes its id again (a face
            passing behind another). 0: a face that comes back always starts a new track.
        smooth: filter the points shown over time.
        frame_by_shown: frame each face by the points shown (filtered) in the frame before,
            rather than by the points as read.
        smoothing: the filter's knobs.
    """

    detect_every: int = 10
    keep_above: float = 0.5
    overlap: float = 0.3
    refine: int = 1
    remember: float = 1.0
    smooth: bool = True
    frame_by_shown: bool = True
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)


@dataclass
class Tracked:
    """The faces of one video frame.

    Attributes:
        track: ``(N,)`` int, each face's track id.
        boxes: ``(N, 4)`` ``[x, y, w, h]``: the detector's box when the track starts, then that
            box carried along with the face's frame (moved, scaled; not turned).
        scores: ``(N,)`` the detector's score of the face when its track started.
        points: ``(N, K, 2)`` landmarks (filtered when smoothing), photo pixels.
        quality: ``(N,)`` the quality of this frame's reading.
        roll: ``(N,)`` degrees, of the points returned.
        detected: whether the detector ran on this frame.
    """

    track: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    points: np.ndarray
    quality: np.ndarray
    roll: np.ndarray
    detected: bool


@dataclass
class _Track:
    id: int
    read: np.ndarray  # (K, 2) the last reading, in the model's own placement
    shown: np.ndarray  # (K, 2) the last points shown (filtered), in the model's own placement
    box: np.ndarray
    # The detector's box in the frame of its first reading ((centre offset, width, height) in
    # frame sides), so the box follows the face in the detector's own convention.
    box_in_frame: np.ndarray
    score: float
    smoother: FaceSmoother | None
    # The shown face's frame (time, centre, side) over its last frames: where an ended track's
    # face would be now, for a face found again (``remember``).
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))


class Tracker:
    """Follows the faces of one video (see the module); :meth:`step` a frame at a time.

    Args:
        pipeline: the landmark passes (with the roll network for ``roll`` and ``quality``).
        detector: finds new faces.
        config: the tracker's knobs.
        turns: turned copies searched when detecting (:func:`~isnet.detection.detect_photos`).
    """

    def __init__(self, pipeline: Pipeline, detector: Detector, config: TrackerConfig, turns=()):
        self.config = config
        self.detector = detector
        self.turns = tuple(turns)
        self.placement_map = pipeline.placement_map
        # Tracks frame their faces by the model's own points, so the passes keep them unplaced.
        self.start = replace(pipeline, placement_map=None)
        self.start.seconds, self.start.views = pipeline.seconds, pipeline.views
        # A followed face is framed well already: the roll check and its extra view are spared.
        follow = replace(pipeline.config, roll_check=False, refine=config.refine)
        self.follow = replace(self.start, config=follow)
        self.follow.seconds, self.follow.views = pipeline.seconds, pipeline.views
        self.tracks: list[_Track] = []
        self.next_id = 0
        self.since_detection = 0
        self._last_quality: dict[int, float] = {}
        self.lost: list[tuple[_Track, float]] = []

    def step(self, photo: Photo, time: float) -> Tracked:
        """The faces of the next frame, ``time`` in seconds (nondecreasing)."""
        h, w = photo.grey.shape
        self.lost = [(t, when) for t, when in self.lost if time - when <= self.config.remember]
        ended = self._follow(photo, w, h, time)
        # While a face is missing (a track ended within `remember`), it is looked for every frame.
        detected = not self.tracks or ended or bool(self.lost) or self.since_detection + 1 >= self.config.detect_every
        qualities = dict(self._last_quality)
        if detected:
            self.since_detection = 0
            qualities.update(self._detect(photo, time))
        else:
            self.since_detection += 1
        return self._shown(time, qualities, detected)

    def _follow(self, photo: Photo, w: int, h: int, time: float) -> bool:
        """Read every track's face in the frame its last reading gives; end the lost ones."""
        self._last_quality = {}
        if not self.tracks:
            return False
        n = len(self.tracks)
        five = self.start.five(np.stack([t.shown if self.config.frame_by_shown else t.read for t in self.tracks]))
        frames = Frames.of_points(np.zeros(n, int), five)
        upright = Frames(frames.photo, frames.centre, frames.side, np.zeros(n))
        boxes = ltrb_to_xywh(frames.boxes())
        scores = np.array([t.score for t in self.tracks])
        detections = Detections(boxes, scores, np.full((n, 5, 2), np.nan), frames, upright)
        settled = self.follow.settle([photo], detections)
        quality = self.follow.quality(settled)
        now = Frames.of_points(np.zeros(n, int), self.start.five(settled.readings.points))
        squares = now.boxes()
        inside = (now.centre[:, 0] >= 0) & (now.centre[:, 0] < w) & (now.centre[:, 1] >= 0) & (now.centre[:, 1] < h)
        kept: list[_Track] = []
        kept_squares: list[np.ndarray] = []
        # Where two tracks land on one face (one face passing in front of another), the track that
        # moved least to get there keeps it: the other jumped over from the face now hidden.
        moved = np.linalg.norm(now.centre - frames.centre, axis=1) / frames.side
        for i in np.argsort(moved, kind="stable"):
            t = self.tracks[i]
            if not (quality[i] >= self.config.keep_above and inside[i]):
                self._lose(t, time)
                continue
            if kept_squares and iou(np.stack(kept_squares), squares[i]).max() > 0.5:
                self._lose(t, time)
                continue
            t.read, t.box = settled.readings.points[i], _box_of(t.box_in_frame, now.take([i]))
            kept.append(t)
            kept_squares.append(squares[i])
            self._last_quality[t.id] = float(quality[i])
        ended = len(kept) < n
        self.tracks = sorted(kept, key=lambda t: t.id)
        return ended

    def _lose(self, track: _Track, time: float) -> None:
        """Keep an ended track's last frame and motion for ``remember`` seconds."""
        if self.config.remember > 0:
            self.lost.append((track, time))

    def _detect(self, photo: Photo, time: float) -> dict[int, float]:
        """Start a track for each face the detector finds that no track follows."""
        found = detect_photos(self.detector, [photo], self.turns)
        if not len(found):
            return {}
        if self.tracks:
            followed = Frames.of_points(
                np.zeros(len(self.tracks), int), self.start.five(np.stack([t.read for t in self.tracks]))
            )
            squares = followed.boxes()
            new = [i for i, b in enumerate(found.frames.boxes()) if iou(squares, b).max() <= self.config.overlap]
            found = found.take(np.array(new, int))
            if not len(found):
                return {}
        settled = self.start.settle([photo], found)
        quality = self.start.quality(settled)
        started = {}
        first = Frames.of_points(np.zeros(len(found), int), self.start.five(settled.readings.points))
        for i in np.flatnonzero(quality >= self.config.keep_above):
            smoother = FaceSmoother(self.config.smoothing) if self.config.smooth else None
            box = found.boxes[i]
            side, centre = first.side[i], first.centre[i]
            in_frame = np.array([*((box[:2] + 0.5 * box[2:] - centre) / side), *(box[2:] / side)])
            read = settled.readings.points[i]
            known = self._found_again(first.centre[i], first.side[i], time)
            track = _Track(
                self.next_id if known is None else known, read, read, box, in_frame, float(found.scores[i]), smoother
            )
            self.tracks.append(track)
            started[track.id] = float(quality[i])
            self.next_id += known is None
        self.tracks.sort(key=lambda t: t.id)
        return started

    def _found_again(self, centre: np.ndarray, side: float, time: float) -> int | None:
        """The id of the ended track whose face, moving on along its path, would be where a face
        was found (within half a frame side, of a side within a factor 1.5), if one is."""
        for k, (t, _) in enumerate(self.lost):
            path = list(t.history)
            if not path:
                continue
            path = path[: max(2, len(path) - BEFORE_LOSS)]
            times = np.array([p[0] for p in path])
            centres = np.array([p[1] for p in path])
            then, at, size = path[-1]
            velocity = np.zeros(2)
            if len(path) > 1 and np.ptp(times) > 0:
                velocity = np.polyfit(times - times.mean(), centres, 1)[0]
            expected = at + velocity * (time - then)
            if np.linalg.norm(centre - expected) < 0.5 * size and 2 / 3 < side / size < 1.5:
                del self.lost[k]
                return t.id
        return None

    def _shown(self, time: float, quality: dict[int, float], detected: bool) -> Tracked:
        if not self.tracks:
            k = self.start.scheme.n_points
            return Tracked(
                np.zeros(0, int), np.zeros((0, 4)), np.zeros(0), np.zeros((0, k, 2)), np.zeros(0), np.zeros(0), detected
            )
        for t in self.tracks:
            t.shown = t.read if t.smoother is None else t.smoother(t.read, self.start.five(t.read[None])[0], time)
        shown = np.stack([t.shown for t in self.tracks])
        frames = Frames.of_points(np.zeros(len(shown), int), self.start.five(shown))
        for t, centre, side in zip(self.tracks, frames.centre, frames.side):
            t.history.append((time, centre, float(side)))
        shown = shown if self.placement_map is None else apply_map(shown, self.placement_map)
        return Tracked(
            np.array([t.id for t in self.tracks]),
            np.stack([t.box for t in self.tracks]),
            np.array([t.score for t in self.tracks]),
            shown,
            np.array([quality[t.id] for t in self.tracks]),
            np.degrees(roll_of(self.start.five(shown))),
            detected,
        )


def _box_of(in_frame: np.ndarray, frame: Frames) -> np.ndarray:
    """``(4,)`` ``[x, y, w, h]`` of a box given in a frame's sides (``_Track.box_in_frame``) in one ``frame``."""
    side, centre = frame.side[0], frame.centre[0]
    size = in_frame[2:] * side
    return np.array([*(centre + in_frame[:2] * side - 0.5 * size), *size])
