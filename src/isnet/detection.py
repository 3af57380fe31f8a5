"""The detection stage: photos to detections, each with the frame the first pass reads it in.

A face is looked for in the photo as it is and in copies turned by each of the ``turns``
(YuNet finds faces rolled up to about 50 degrees; a face rolled by 60 stands within its reach
in a copy turned by 45). Every copy is searched, so a turned face is found beside an upright
one; a face found in several copies is kept once, at its best score. The detector's own five
points, where it gives them (YuNet does), set each face's first roll for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from isnet.boxes import ltrb_to_xywh, overlaps_image, xywh_to_ltrb
from isnet.detectors import Detector
from isnet.frames import Frames
from isnet.photo import Photo
from isnet.transforms import apply_affines, compose, invert_affine, turn_image, unturn_boxes

__all__ = ["Detections", "detect_photos", "same_face"]


@dataclass
class Detections:
    """Faces found in a batch of photos, in the photos' own pixels.

    Attributes:
        boxes: ``(N, 4)`` ``[x, y, w, h]`` as the detector drew them (mapped back from a turned copy).
        scores: ``(N,)`` the detector's confidence; NaN for boxes the caller gave.
        points: ``(N, 5, 2)`` the detector's five points in CUHK order, NaN where it gives none.
        boxed: each face framed by the detector's box alone, as the copy it was found in stood
            (the roll network's frame: it learned faces framed by their boxes at any roll).
        frames: where the first pass reads each face (:class:`~isnet.frames.Frames`; its
            ``photo`` says whose face it is).
    """

    boxes: np.ndarray
    scores: np.ndarray
    points: np.ndarray
    frames: Frames
    boxed: Frames

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def of_boxes(
        cls, photo: np.ndarray, boxes: np.ndarray, training_boxes: np.ndarray, scores: np.ndarray | None = None
    ) -> Detections:
        """Detections of boxes given, ``(N, 4)`` ``[x, y, w, h]``, framed upright by their
        ``(N, 4)`` training boxes ``(l, t, r, b)``."""
        n = len(boxes)
        s = np.full(n, np.nan) if scores is None else np.asarray(scores, np.float64).reshape(n)
        frames = Frames.of_boxes(photo, training_boxes)
        return cls(np.asarray(boxes, np.float64).reshape(n, 4), s, np.full((n, 5, 2), np.nan), frames, frames)

    @classmethod
    def concat(cls, parts: Sequence[Detections]) -> Detections:
        if not parts:
            return cls(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)), Frames.empty(), Frames.empty())
        arrays = (np.concatenate([getattr(p, a) for p in parts]) for a in ("boxes", "scores", "points"))
        return cls(*arrays, Frames.concat([p.frames for p in parts]), Frames.concat([p.boxed for p in parts]))

    def take(self, index: np.ndarray) -> Detections:
        return Detections(
            self.boxes[index], self.scores[index], self.points[index], self.frames.take(index), self.boxed.take(index)
        )


def _in_copy(detector: Detector, photo_index: int, bgr: np.ndarray, turn: float) -> Detections:
    """The detector's faces in ``bgr`` turned by ``turn`` degrees (counter-clockwise as seen), in ``bgr``'s pixels."""
    source, scale = _shrunk_for(detector, bgr, turn)
    turned, matrix = (source, None) if turn % 360 == 0 else turn_image(source, turn)
    boxes, scores, points = detector.find(turned)
    inside = overlaps_image(boxes, turned.shape[1], turned.shape[0])
    boxes, scores, points = boxes[inside], scores[inside], points[inside]
    training = detector.training_boxes(boxes).reshape(-1, 4)
    n = len(boxes)
    # A face the detector finds stands near upright in the copy it was found in.
    roll = np.full(n, np.deg2rad(turn))
    if matrix is not None:
        h, w = bgr.shape[:2]
        sh, sw = source.shape[:2]
        shrink = np.array([[sw / w, 0.0, 0.5 * sw / w - 0.5], [0.0, sh / h, 0.5 * sh / h - 0.5]])
        to_copy = compose(matrix, shrink)
        boxes = ltrb_to_xywh(unturn_boxes(xywh_to_ltrb(boxes) / scale, turn, to_copy / scale))
        training = unturn_boxes(training / scale, turn, to_copy / scale)
        points = apply_affines(np.broadcast_to(invert_affine(to_copy), (n, 2, 3)), points)
    boxed = Frames.of_boxes(np.full(n, photo_index), training, roll)
    # The detector's points frame a face better than its box does (on 200 held-out 300-W faces,
    # one pass: NME 3.71 % against 4.32 %), and they give its roll.
    frames = boxed.copy()
    known = np.flatnonzero(np.all(np.isfinite(points), axis=(1, 2)))
    frames.put(known, Frames.of_points(frames.photo[known], points[known]))
    return Detections(boxes, scores, points, frames, boxed)


def _shrunk_for(detector: Detector, bgr: np.ndarray, turn: float) -> tuple[np.ndarray, float]:
    """The photo to turn by ``turn`` degrees, and its scale: a turn off the quarters grows the
    canvas (a 640x480 photo turned by 45 degrees needs 792x792), which a detector with a
    ``max_side`` (YuNet) would read shrunk anyway; the photo is shrunk first so that the turned
    canvas comes out at that side, and turning and detecting cost about what the photo does."""
    side = getattr(detector, "max_side", None)
    if not side or turn % 90 == 0:
        return bgr, 1.0
    h, w = bgr.shape[:2]
    c, s = abs(np.cos(np.deg2rad(turn))), abs(np.sin(np.deg2rad(turn)))
    scale = (side - 1) / max(w * c + h * s, w * s + h * c)  # turn_image rounds the canvas up
    if scale >= 1.0:
        return bgr, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), 0.5 * (size[0] / w + size[1] / h)


def same_face(detections: Detections) -> np.ndarray:
    """Indices of the detections kept, best score first: one whose box centre lies within half
    a box side of a better one's in the same photo is the same face found again."""
    order = np.argsort(-detections.scores, kind="stable")
    centres = detections.boxes[:, :2] + 0.5 * detections.boxes[:, 2:]
    kept: list[int] = []
    for i in order:
        if all(
            detections.frames.photo[k] != detections.frames.photo[i]
            or np.linalg.norm(centres[i] - centres[k]) > 0.5 * min(detections.boxes[k, 2:])
            for k in kept
        ):
            kept.append(int(i))
    return np.array(kept, int)


def detect_photos(detector: Detector, photos: Sequence[Photo], turns: Sequence[float] = (0.0,)) -> Detections:
    """Faces of photos, each photo searched as it is and turned by each of ``turns`` (degrees,
    counter-clockwise as seen; 0 is always searched).

    Detections wholly outside a photo are dropped (a detector's low-score boxes at an edge may
    be); those partly outside are kept, the part outside read as the edge repeated.
    """
    all_turns = (0.0, *(t for t in turns if t % 360))
    found = []
    for i, photo in enumerate(photos):
        if photo.bgr is None:
            raise ValueError("detection needs the photo in colour (Photo.decode(..., colour=True))")
        copies = Detections.concat([_in_copy(detector, i, photo.bgr, t) for t in all_turns])
        found.append(copies.take(same_face(copies)) if len(all_turns) > 1 else copies)
    return Detections.concat(found)
