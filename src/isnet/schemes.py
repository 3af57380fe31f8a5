"""Landmark schemes as data: point names, flip pairs, eye points, conversions.

A scheme is everything that differs between annotation layouts. Code that flips
faces, normalises errors or converts 68 points to 5 reads it from this table and
never branches on a scheme's name. A scheme can also be described in a TOML file
(``docs/schemes.md``; WFLW's 98 points ship as one, ``scheme_files/wflw98.toml``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

__all__ = ["CUHK5", "get_scheme", "load_scheme", "Scheme", "SCHEMES", "SchemeError"]

SCHEME_FILES = Path(__file__).resolve().parent / "scheme_files"
PLACEMENT_NAMES = ("cuhk", "300w")


class SchemeError(ValueError):
    """A scheme description that cannot be used; the message names its file."""


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
        conversions: ``(target scheme name, groups)``: for each of the target's points, the
            indices whose mean gives it (e.g. WFLW's 98 points to 300-W's 68).
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
    conversions: tuple[tuple[str, tuple[tuple[int, ...], ...]], ...] = ()

    @property
    def n_points(self) -> int:
        return len(self.points)

    def conversion_to(self, target: str) -> tuple[tuple[int, ...], ...] | None:
        """The groups that give ``target``'s points from this scheme's, or ``None``."""
        return dict(self.conversions).get(target)

    def to_dict(self) -> dict:
        """Plain lists and dicts (JSON and TOML ready); :meth:`from_dict` reads them back."""
        return {
            "name": self.name,
            "points": list(self.points),
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "left_eye": list(self.left_eye),
            "right_eye": list(self.right_eye),
            "to_cuhk5": None if self.to_cuhk5 is None else [list(g) for g in self.to_cuhk5],
            "ocular": None if self.ocular is None else list(self.ocular),
            "regions": {name: list(idx) for name, idx in self.regions},
            "contours": [{"points": list(idx), "closed": closed} for idx, closed in self.contours],
            "placement": self.placement,
            "convert": {t: {"points": [list(g) for g in groups]} for t, groups in self.conversions},
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "scheme") -> Scheme:
        """The scheme a :meth:`to_dict` (or a parsed scheme file) describes, checked.

        Raises:
            SchemeError: naming ``source`` and the key at fault.
        """
        try:
            return _scheme_from_dict(d)
        except (KeyError, TypeError, ValueError) as e:
            what = f"missing key {e}" if isinstance(e, KeyError) else str(e)
            raise SchemeError(f"{source}: {what}") from None

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


def _indices(value, n: int, what: str) -> tuple[int, ...]:
    idx = tuple(value)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in idx):
        raise ValueError(f"{what}: point indices must be whole numbers, got {list(idx)}")
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise ValueError(f"{what}: indices {bad} outside 0..{n - 1} (indices count from 0)")
    return idx


def _groups(value, n: int, what: str) -> tuple[tuple[int, ...], ...]:
    groups = tuple(_indices(g, n, f"{what}[{i}]") for i, g in enumerate(value))
    if any(not g for g in groups):
        raise ValueError(f"{what}: every group needs at least one point")
    return groups


def _scheme_from_dict(d: dict) -> Scheme:
    known = {f.name for f in fields(Scheme)} - {"conversions"} | {"convert"}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown keys {unknown}; a scheme has {sorted(known)}")
    name, points = d["name"], tuple(d["points"])
    if not isinstance(name, str) or not name:
        raise ValueError("name: a non-empty string is needed")
    if not points or not all(isinstance(p, str) for p in points) or len(set(points)) != len(points):
        raise ValueError("points: a list of distinct point names is needed")
    n = len(points)
    pairs = _groups(d.get("flip_pairs", ()), n, "flip_pairs")
    if any(len(p) != 2 or p[0] == p[1] for p in pairs):
        raise ValueError("flip_pairs: each pair is two different points")
    flat = [i for p in pairs for i in p]
    if len(set(flat)) != len(flat):
        raise ValueError("flip_pairs: a point appears in two pairs")
    to_cuhk5 = d.get("to_cuhk5")
    if to_cuhk5 is not None:
        to_cuhk5 = _groups(to_cuhk5, n, "to_cuhk5")
        if len(to_cuhk5) != 5:
            raise ValueError(f"to_cuhk5: five groups are needed (eyes, nose, mouth corners), got {len(to_cuhk5)}")
    ocular = d.get("ocular")
    if ocular is not None:
        ocular = _indices(ocular, n, "ocular")
        if len(ocular) != 2:
            raise ValueError("ocular: two points are needed")
    placement = d.get("placement", "cuhk")
    if placement not in PLACEMENT_NAMES:
        raise ValueError(f"placement: one of {list(PLACEMENT_NAMES)}, got {placement!r}")
    conversions = []
    for target, spec in dict(d.get("convert") or {}).items():
        conversions.append((str(target), _groups(spec["points"], n, f"convert.{target}.points")))
    return Scheme(
        name=name,
        points=points,
        flip_pairs=pairs,
        left_eye=_indices(d["left_eye"], n, "left_eye"),
        right_eye=_indices(d["right_eye"], n, "right_eye"),
        to_cuhk5=to_cuhk5,
        ocular=ocular,
        regions=tuple((str(k), _indices(v, n, f"regions.{k}")) for k, v in dict(d.get("regions") or {}).items()),
        contours=tuple(
            (_indices(c["points"], n, f"contours[{i}].points"), bool(c.get("closed", False)))
            for i, c in enumerate(d.get("contours") or ())
        ),
        placement=placement,
        conversions=tuple(conversions),
    )


def load_scheme(path: str | Path) -> Scheme:
    """The scheme described by a TOML file (``docs/schemes.md``).

    Raises:
        SchemeError: the file is missing, not TOML, or not a usable scheme; the message names it.
    """
    path = Path(path)
    try:
        d = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemeError(f"{path}: no such scheme file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SchemeError(f"{path}: not a TOML file ({e})") from None
    return Scheme.from_dict(d, str(path))


SCHEMES: dict[str, Scheme] = {
    s.name: s for s in (CUHK5, _ibug68(), *(load_scheme(f) for f in sorted(SCHEME_FILES.glob("*.toml"))))
}


def get_scheme(name: str) -> Scheme:
    """A built-in scheme by name, or the scheme in a ``.toml`` file, with an error that lists
    the known ones."""
    if str(name).endswith(".toml"):
        return load_scheme(name)
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(
            f"unknown landmark scheme {name!r}; known: {sorted(SCHEMES)}, or a scheme file (.toml)"
        ) from None
