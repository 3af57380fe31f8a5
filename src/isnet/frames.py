"""Face frames: where each face sits in its photo, as a similarity transform.

A frame is a centre, a side and a roll: the square of ``side * (1 + 2 * margin)`` about the
centre, turned by the roll, is what the network sees (the face comes out upright). Every pass
of the pipeline reads its faces through frames, and every network input is one warp of the
decoded photo (:mod:`isnet.photo`) through :meth:`Frames.matrices`; a later pass frames a face
anew by the points the pass before read, never by cropping a crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from isnet.boxes import box_from_landmarks, roll_of, rotate_points
from isnet.schemes import CUHK5
from isnet.transforms import view_matrices

__all__ = ["Frames", "frame_shift"]


@dataclass
class Frames:
    """Where ``N`` faces sit in their photos.

    Attributes:
        photo: ``(N,)`` int, the photo of each face (an index into the batch of photos).
        centre: ``(N, 2)`` the face box's centre, photo pixels.
        side: ``(N,)`` the side of the training (CUHK-like) face box, photo pixels.
        roll: ``(N,)`` radians the face is turned (0 upright, positive clockwise as seen; the
            view turns it back by ``-roll``).
    """

    photo: np.ndarray
    centre: np.ndarray
    side: np.ndarray
    roll: np.ndarray

    def __len__(self) -> int:
        return len(self.photo)

    @classmethod
    def empty(cls) -> Frames:
        return cls(np.zeros(0, int), np.zeros((0, 2)), np.zeros(0), np.zeros(0))

    @classmethod
    def of_boxes(cls, photo: np.ndarray, boxes: np.ndarray, roll: np.ndarray | None = None) -> Frames:
        """Frames of ``(N, 4)`` training boxes ``(l, t, r, b)`` (their longer side), turned by
        ``roll`` (``(N,)`` radians; default 0)."""
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        n = len(b)
        roll = np.zeros(n) if roll is None else np.asarray(roll, np.float64).reshape(n)
        side = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        return cls(np.asarray(photo, int).reshape(n), 0.5 * (b[:, :2] + b[:, 2:]), side, roll)

    @classmethod
    def of_points(cls, photo: np.ndarray, five: np.ndarray) -> Frames:
        """Frames of faces from their ``(N, 5, 2)`` CUHK points: the roll of the eyes, and the box
        :func:`~isnet.boxes.box_from_landmarks` draws on the points turned upright."""
        rolls = roll_of(five)
        centres = five.mean(axis=1)
        boxes = box_from_landmarks(rotate_points(five, -rolls, centres), CUHK5).reshape(-1, 4)
        mid = rotate_points(0.5 * (boxes[:, None, :2] + boxes[:, None, 2:]), rolls, centres)[:, 0]
        return cls(np.asarray(photo, int).reshape(len(five)), mid, boxes[:, 2] - boxes[:, 0], rolls)

    def boxes(self) -> np.ndarray:
        """``(N, 4)`` ``(l, t, r, b)``: the axis-aligned squares of the frames, unturned."""
        half = 0.5 * self.side[:, None]
        return np.concatenate([self.centre - half, self.centre + half], axis=1)

    def matrices(self, size: int, margin: float) -> np.ndarray:
        """``(N, 2, 3)`` maps from photo pixels to the ``size`` view of each face with ``margin``."""
        return view_matrices(self.boxes(), 0, size, margin, angles=-self.roll)[0]

    def upright(self, points: np.ndarray) -> np.ndarray:
        """``(N, K, 2)`` photo points in each face's frame turned upright, in frame sides from its
        centre (the view of :meth:`matrices` without margin, up to its scale and offset)."""
        d = (points - self.centre[:, None]) / self.side[:, None, None]
        cos, sin = np.cos(self.roll)[:, None], np.sin(self.roll)[:, None]
        return np.stack([cos * d[..., 0] + sin * d[..., 1], cos * d[..., 1] - sin * d[..., 0]], axis=-1)

    def within(self, view: tuple[float, float, float]) -> Frames:
        """The frames of a region of each face: ``view = (dx, dy, side)`` in sides of the face's
        frame, the centre moved by ``(dx, dy)`` in the upright face (so turned with it), the
        side scaled by ``side``; the roll is the face's."""
        dx, dy, side = view
        cos, sin = np.cos(self.roll), np.sin(self.roll)
        shift = np.stack([cos * dx - sin * dy, sin * dx + cos * dy], axis=1) * self.side[:, None]
        return Frames(self.photo.copy(), self.centre + shift, self.side * side, self.roll.copy())

    def copy(self) -> Frames:
        return Frames(self.photo.copy(), self.centre.copy(), self.side.copy(), self.roll.copy())

    @classmethod
    def concat(cls, parts: list[Frames]) -> Frames:
        """The frames of ``parts`` one after another."""
        return cls(*(np.concatenate([getattr(f, a) for f in parts]) for a in ("photo", "centre", "side", "roll")))

    def take(self, index: np.ndarray) -> Frames:
        return Frames(self.photo[index], self.centre[index], self.side[index], self.roll[index])

    def put(self, index: np.ndarray, other: Frames) -> None:
        """Replace the frames of ``index`` by ``other``'s."""
        self.photo[index], self.centre[index] = other.photo, other.centre
        self.side[index], self.roll[index] = other.side, other.roll


def frame_shift(before: Frames, after: Frames, points: np.ndarray) -> np.ndarray:
    """``(N,)`` how far ``(N, K, 2)`` photo points move in the view when a face is framed by
    ``after`` instead of ``before``: the mean distance over the points, in view sides.

    0 where the frames agree; a pass read in ``before`` is as good as one in ``after`` would be
    when this is small, since the network sees nearly the same view.
    """
    return np.linalg.norm(before.upright(points) - after.upright(points), axis=-1).mean(axis=-1)
