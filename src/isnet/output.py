"""Output of ``isnet predict``: records (JSON lines or CSV) and pictures with the faces drawn."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence

import cv2
import numpy as np

from isnet.api import Face
from isnet.headpose import angles_to_rotation
from isnet.schemes import CUHK5, Scheme

__all__ = [
    "above_quality",
    "AXIS_COLOURS",
    "BOX_COLOUR",
    "CONTOUR_COLOUR",
    "draw_faces",
    "POINT_COLOURS",
    "record",
    "RecordWriter",
]

# BGR colour of each of the five points, in the scheme's order; the README names them.
POINT_COLOURS = ((255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 0, 255), (0, 255, 255))
BOX_COLOUR = (0, 255, 0)
CONTOUR_COLOUR = (0, 255, 255)
# BGR colours of the head's axes: its x (toward the face's left, the image's right when frontal),
# its y (down the face) and its nose direction, as in most head-pose drawings.
AXIS_COLOURS = ((0, 0, 255), (0, 255, 0), (255, 0, 0))


def draw_pose(out: np.ndarray, face: Face, scheme: Scheme, thick: int, length: float) -> None:
    """The head's three axes, drawn from the nose tip (or the points' centre), ``length`` pixels long."""
    if face.yaw is None or face.pitch is None or not np.isfinite([face.yaw, face.pitch]).all():
        return
    roll = face.roll if face.roll is not None else 0.0
    R = angles_to_rotation(np.array([[face.yaw, face.pitch, roll]]))[0]
    origin = face.landmarks[list(scheme.to_cuhk5[2])].mean(0) if scheme.to_cuhk5 else face.landmarks.mean(0)
    for axis, colour in zip((R[:2, 0], R[:2, 1], -R[:2, 2]), AXIS_COLOURS):
        end = origin + length * axis
        start = (round(origin[0]), round(origin[1]))
        cv2.arrowedLine(out, start, (round(end[0]), round(end[1])), colour, thick, cv2.LINE_AA, tipLength=0.2)


def draw_faces(image: np.ndarray, faces: list[Face], scheme: Scheme = CUHK5) -> np.ndarray:
    """A copy of a BGR image with boxes, scores (or track ids) and landmarks drawn on it.

    Line width, dot size and label size follow each face's size, so a small face in a large
    photo stays readable and a large face is not buried; the score label stays inside the image.
    Schemes with contours (the 68 points) are drawn as lines through their points. The head's
    pose is drawn as three axes from the nose tip (:data:`AXIS_COLOURS`).
    """
    out = image.copy()
    h, w = image.shape[:2]
    for f in faces:
        x, y, bw, bh = (float(v) for v in f.box)
        side = max(1.0, min(bw, bh))
        thick = max(1, round(side / 80))
        radius = max(1, round(side / 40))
        cv2.rectangle(out, (round(x), round(y)), (round(x + bw), round(y + bh)), BOX_COLOUR, thick)
        if f.score is not None or f.track is not None:
            # A followed face is labelled by its track, so that a drawn video shows who is who.
            label = f"#{f.track}" if f.track is not None else f"{f.score:.2f}"
            text, font, scale = label, cv2.FONT_HERSHEY_SIMPLEX, max(0.3, side / 250)
            (tw, th), base = cv2.getTextSize(text, font, scale, thick)
            # Above the box when there is room, else just inside its top edge; never past the image.
            tx = int(np.clip(round(x), 0, max(0, w - tw)))
            ty = round(y) - 3 if round(y) - 3 - th >= 0 else round(y) + th + 3
            ty = int(np.clip(ty, th, max(th, h - base)))
            cv2.putText(out, text, (tx, ty), font, scale, BOX_COLOUR, thick, cv2.LINE_AA)
        draw_pose(out, f, scheme, thick, side / 2)
        if scheme.contours:
            for idx, closed in scheme.contours:
                line = np.round(f.landmarks[list(idx)]).astype(np.int32)
                cv2.polylines(out, [line], closed, CONTOUR_COLOUR, thick, cv2.LINE_AA)
            continue
        for k, (px, py) in enumerate(f.landmarks):
            cv2.circle(out, (round(px), round(py)), radius, POINT_COLOURS[k % len(POINT_COLOURS)], -1, cv2.LINE_AA)
    return out


def above_quality(faces: list[Face], min_quality: float) -> list[Face]:
    """The faces whose quality reaches ``min_quality`` (all of them for ``min_quality <= 0``)."""
    return [f for f in faces if min_quality <= 0 or (f.quality is not None and f.quality >= min_quality)]


def record(file: str, frame: int | None, face: Face | dict) -> dict:
    """The record of one face, as ``isnet predict`` writes it: ``file``, ``frame``, then
    :meth:`~isnet.api.Face.to_dict`'s fields."""
    return {"file": file, "frame": frame, **(face if isinstance(face, dict) else face.to_dict())}


class RecordWriter:
    """One record per face, as JSON lines or CSV."""

    def __init__(self, stream, fmt: str, point_names: Sequence[str]):
        self.stream = stream
        self.fmt = fmt
        if fmt == "csv":
            self.csv = csv.writer(stream, lineterminator="\n")
            coords = [f"{n}_{a}" for n in point_names for a in ("x", "y")]
            self.csv.writerow(
                ["file", "frame", "track", "x", "y", "w", "h", "score", "quality", "roll", "yaw", "pitch", *coords]
            )

    def write(self, file: str, frame: int | None, face: Face) -> None:
        d = face.to_dict()
        if self.fmt == "csv":
            blank = ["" if d[k] is None else d[k] for k in ("score", "quality", "roll", "yaw", "pitch")]
            flat = [v for xy in d["landmarks"] for v in xy]
            track = "" if d["track"] is None else d["track"]
            self.csv.writerow([file, "" if frame is None else frame, track, *d["box"], *blank, *flat])
        else:
            self.stream.write(json.dumps(record(file, frame, d)) + "\n")
        self.stream.flush()
