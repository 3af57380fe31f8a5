"""Landmark schemes as data: point names, flip pairs, eye points, conversions.

A scheme is everything that differs between annotation layouts. Code that flips
faces, normalises errors or converts 68 points to 5 reads it from this table and
never branches on a scheme's name.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CUHK5", "get_scheme", "Scheme", "SCHEMES"]


@dataclass(frozen=True)
class Scheme:
    """One landmark layout.

    Attributes:
        name: key in ``SCHEMES``.
        points: point names, in annotation order.
        flip_pairs: index pairs that swap places when the image is mirrored.
        left_eye: indices whose mean is the image-left eye centre (the pupil).
        right_eye: indices whose mean is the image-right eye centre.
        to_cuhk5: for each of the five CUHK points, the indices whose mean gives it;
            ``None`` for schemes that cannot be reduced to five points.
        ocular: the two points whose distance is the scheme's inter-ocular distance (300-W:
            the outer eye corners); ``None``: the eye centres, as for CUHK.
        regions: named groups of points (jaw, brows, nose, eyes, mouth) for errors per region.
        contours: point sequences to draw as lines, each with whether it closes on itself.
        placement: whose convention its five points follow (:data:`isnet.placement.PLACEMENTS`):
            CUHK's hand-placed pupils, or 300-W's means of the eyes' contours.
    """

    name: str
    points: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    left_eye: tuple[int, ...]
    right_eye: tuple[int, ...]
    to_cuhk5: tuple[tuple[int, ...], ...] | None = None
    ocular: tuple[int, int] | None = None
    regions: tuple[tuple[str, tuple[int, ...]], ...] = ()
    contours: tuple[tuple[tuple[int, ...], bool], ...] = ()
    placement: str = "cuhk"

    @property
    def n_points(self) -> int:
        return len(self.points)

    def flip_permutation(self) -> list[int]:
        """Index map such that ``mirrored[i] = original[perm[i]]``."""
        perm = list(range(self.n_points))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm


def _ibug68() -> Scheme:
    names = (
        [f"jaw_{i}" for i in range(17)]
        + [f"brow_left_{i}" for i in range(5)]
        + [f"brow_right_{i}" for i in range(5)]
        + [f"nose_bridge_{i}" for i in range(4)]
        + [f"nose_base_{i}" for i in range(5)]
        + [f"eye_left_{i}" for i in range(6)]
        + [f"eye_right_{i}" for i in range(6)]
        + [f"mouth_outer_{i}" for i in range(12)]
        + [f"mouth_inner_{i}" for i in range(8)]
    )
    # The standard 300-W mirror correspondence (jaw, brows, nose base, eyes, lips).
    pairs = (
        [(i, 16 - i) for i in range(8)]
        + [(17 + i, 26 - i) for i in range(5)]
        + [(31, 35), (32, 34)]
        + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
        + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]
        + [(60, 64), (61, 63), (65, 67)]
    )
    left_eye = tuple(range(36, 42))
    right_eye = tuple(range(42, 48))
    return Scheme(
        name="ibug68",
        points=tuple(names),
        flip_pairs=tuple(pairs),
        left_eye=left_eye,
        right_eye=right_eye,
        to_cuhk5=(left_eye, right_eye, (30,), (48,), (54,)),
        # 300-W's normalisation: points 37 and 46 (1-based), the outer eye corners.
        ocular=(36, 45),
        placement="300w",
        regions=(
            ("jaw", tuple(range(0, 17))),
            ("brows", tuple(range(17, 27))),
            ("nose", tuple(range(27, 36))),
            ("eyes", tuple(range(36, 48))),
            ("mouth", tuple(range(48, 68))),
        ),
        contours=(
            (tuple(range(0, 17)), False),  # jaw
            (tuple(range(17, 22)), False),  # brows
            (tuple(range(22, 27)), False),
            (tuple(range(27, 31)), False),  # nose bridge, then the nostrils
            (tuple(range(31, 36)), False),
            (tuple(range(36, 42)), True),  # eyes
            (tuple(range(42, 48)), True),
            (tuple(range(48, 60)), True),  # lips, outer then inner
            (tuple(range(60, 68)), True),
        ),
    )


CUHK5 = Scheme(
    name="cuhk5",
    points=("left_eye", "right_eye", "nose", "left_mouth", "right_mouth"),
    flip_pairs=((0, 1), (3, 4)),
    left_eye=(0,),
    right_eye=(1,),
    to_cuhk5=((0,), (1,), (2,), (3,), (4,)),
    regions=(("eyes", (0, 1)), ("nose", (2,)), ("mouth", (3, 4))),
)

SCHEMES: dict[str, Scheme] = {s.name: s for s in (CUHK5, _ibug68())}


def get_scheme(name: str) -> Scheme:
    """Look up a scheme by name, with an error that lists the known ones."""
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown landmark scheme {name!r}; known: {sorted(SCHEMES)}") from None
