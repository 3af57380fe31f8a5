"""Steady points on video: a speed-adaptive filter of each face in its own frame.

A landmark network reads every frame afresh, so its points shake by a few tenths of a percent of
the eye distance from frame to frame even on a still face. Averaging over time steadies them
but lags behind real motion; the One-Euro filter (Casiez, Roussel and Vogel, CHI 2012, the filter
MediaPipe's video graphs use) lowers its smoothing as the signal moves faster: still, it averages
over about a second; moving, it follows within a frame or two, and passes the reading's shake
through. :class:`MovingOneEuro`, the default for the pose, filters about a guess that carries
the face on at its speed, so a steady motion is smoothed like stillness and only a change of
motion opens the filter up (on the training clips: flicker of moving faces 0.272 % -> 0.228 % of
the eye distance, still 0.0543 % -> 0.0536 %; ``benchmarks/results/video/filter_choice_train.json``).

The points are filtered in the face's own frame: a pose (the points' centre, their spread and
the eyes' roll) and a shape (the points in that pose, upright and of unit spread). Head motion
moves the pose, which a fast-adapting filter follows; the shape changes only with expression
and view, and a slow filter steadies it without smoothing the head's motion away.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from isnet.boxes import roll_of

__all__ = ["SmoothingConfig", "OneEuro", "MovingOneEuro", "FaceSmoother", "pose_of", "shape_in", "points_of"]


@dataclass(frozen=True)
class SmoothingConfig:
    """The filters' knobs (cutoffs in Hz; speeds in face spreads, degrees or shape units a second).

    The defaults were chosen on clips of HELEN training faces (``benchmarks/video_benchmark.py
    --set KEY=VALUE`` on ``video_clips.py --subset helen_trainset`` clips): the least flicker,
    still and moving, with no lag after a step of motion.

    Attributes:
        min_cutoff: the pose's cutoff when the face is still (or moves steadily, with
            ``predict``): lower is steadier and slower.
        beta: how fast the pose's cutoff rises with its speed (with ``predict``, its surprise):
            higher lags less when the motion changes.
        predict: carry the pose on at its speed before filtering (:class:`MovingOneEuro`),
            so a steady motion is smoothed as much as a still face; off: the plain One-Euro.
        moving: with ``predict``, the speed (face spreads a second) below which the speed is
            mostly the readings' noise and is trusted little.
        speed_cutoff: with ``predict``, the cutoff of the readings' speed.
        jump: with ``predict``, readings moving faster than this (spreads a second) jumped:
            their speed is not carried on.
        speed_change: with ``predict``, a speed that changes by more than this in a frame (spreads
            a second) is taken as read: the face started, stopped or turned.
        release_cutoff: with ``predict``, the cutoff of the surprise while it falls (``d_cutoff``
            while it rises): how soon the filter steadies again after a change of motion.
        shape_min_cutoff: the shape's cutoff when it does not change.
        shape_beta: the same for the shape.
        d_cutoff: cutoff of the speeds (with ``predict``, the surprise) that raise the cutoffs.
    """

    min_cutoff: float = 0.3
    beta: float = 20.0
    predict: bool = True
    moving: float = 0.3
    speed_cutoff: float = 3.0
    jump: float = 5.0
    speed_change: float = 2.0
    release_cutoff: float = 2.0
    shape_min_cutoff: float = 0.1
    shape_beta: float = 5.0
    d_cutoff: float = 1.0

    def __post_init__(self):
        cutoffs = ("min_cutoff", "speed_cutoff", "release_cutoff", "shape_min_cutoff", "d_cutoff")
        for name in cutoffs:
            if not getattr(self, name) > 0:
                raise ValueError(f"SmoothingConfig.{name} must be above 0 Hz, got {getattr(self, name)}")
        for name in ("beta", "moving", "jump", "speed_change", "shape_beta"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"SmoothingConfig.{name} must be 0 or more, got {getattr(self, name)}")


ROLL_UNIT = 50.0
# The SmoothingConfig fields that MovingOneEuro takes, by the same names.
MOVING_KNOBS = ("min_cutoff", "beta", "d_cutoff", "moving", "speed_cutoff", "jump", "speed_change", "release_cutoff")


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    """The One-Euro filter of a vector: one cutoff for the whole vector, raised by the norm of
    its (filtered) speed divided by ``unit``."""

    def __init__(self, min_cutoff: float, beta: float, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None

    def __call__(self, x: np.ndarray, dt: float, unit: float = 1.0) -> np.ndarray:
        """The filtered ``x`` after ``dt`` seconds (the first call returns ``x``)."""
        x = np.asarray(x, np.float64)
        if self.value is None or dt <= 0:
            # A repeated timestamp carries no time to filter over: the reading is taken as it is.
            self.value = x.copy() if self.value is None or dt > 0 else self.value
            self.speed = np.zeros_like(x) if self.speed is None else self.speed
            return self.value.copy()
        self.speed = self.speed + _alpha(self.d_cutoff, dt) * ((x - self.value) / dt - self.speed)
        cutoff = self.min_cutoff + self.beta * float(np.linalg.norm(self.speed)) / unit
        self.value = self.value + _alpha(cutoff, dt) * (x - self.value)
        return self.value.copy()


class MovingOneEuro:
    """A One-Euro filter of a vector about a guess that carries it on at its readings' speed.

    The plain One-Euro must open up (raise its cutoff) to follow any motion, so a moving face
    shakes as much as it is read. Here each reading is first compared with the value moved on at
    the speed of the readings (low-passed at ``speed_cutoff``), and the cutoff rises with the
    low-passed surprise, the reading's distance from that guess a second: a steady motion is
    smoothed like stillness; a start, stop or turn surprises the filter and is followed at once.
    The speed is trusted in proportion ``s^2 / (s^2 + moving^2)`` so a still face's noisy speed
    moves nothing (it is then the plain One-Euro), a jump faster than ``jump`` is not carried
    on, and a speed that changes by more than ``speed_change`` in a frame is taken as read. The
    surprise fades at ``release_cutoff``, faster than it rises. Speeds are in ``unit`` a second.
    """

    def __init__(
        self,
        min_cutoff: float,
        beta: float,
        d_cutoff: float = 1.0,
        moving: float = 0.3,
        speed_cutoff: float = 3.0,
        jump: float = 5.0,
        speed_change: float = 2.0,
        release_cutoff: float = 2.0,
    ):
        self.min_cutoff, self.beta, self.d_cutoff, self.release_cutoff = min_cutoff, beta, d_cutoff, release_cutoff
        self.moving, self.speed_cutoff, self.jump, self.speed_change = moving, speed_cutoff, jump, speed_change
        self.value: np.ndarray | None = None
        self.last: np.ndarray | None = None
        self.speed: np.ndarray | None = None
        self.surprise: np.ndarray | None = None

    def __call__(self, x: np.ndarray, dt: float, unit: float = 1.0) -> np.ndarray:
        """The filtered ``x`` after ``dt`` seconds (the first call returns ``x``)."""
        x = np.asarray(x, np.float64)
        if self.value is None:
            self.value, self.last = x.copy(), x.copy()
            self.speed, self.surprise = np.zeros_like(x), np.zeros_like(x)
            return self.value.copy()
        if dt <= 0:
            return self.value.copy()
        s2 = float(self.speed @ self.speed) / unit**2
        guess = self.value + s2 / (s2 + self.moving**2 + 1e-12) * self.speed * dt
        target = (x - guess) / dt
        # A surprise fades faster than it rises: once a motion's change is followed, the filter
        # smooths again within a few frames instead of a second.
        falling = np.linalg.norm(target) < np.linalg.norm(self.surprise)
        self.surprise = self.surprise + _alpha(self.release_cutoff if falling else self.d_cutoff, dt) * (
            target - self.surprise
        )
        cutoff = self.min_cutoff + self.beta * float(np.linalg.norm(self.surprise)) / unit
        self.value = guess + _alpha(cutoff, dt) * (x - guess)
        # The readings' own speed, not the output's: the output's would carry the guess on past a stop.
        rate = (x - self.last) / dt
        self.last = x
        if np.linalg.norm(rate) / unit > self.jump:
            self.speed = np.zeros_like(x)
        elif np.linalg.norm(rate - self.speed) / unit > self.speed_change:
            self.speed = rate
        else:
            self.speed = self.speed + _alpha(self.speed_cutoff, dt) * (rate - self.speed)
        return self.value.copy()


def pose_of(points: np.ndarray, five: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(centre (2,), spread, roll)`` of one face's ``(K, 2)`` points: their mean, their RMS
    distance from it, and the roll (radians) of its ``(5, 2)`` CUHK points."""
    centre = points.mean(axis=0)
    spread = float(np.sqrt(((points - centre) ** 2).sum(axis=1).mean()))
    return centre, max(spread, 1e-6), float(roll_of(five[None])[0])


def _turn(points: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]])


def shape_in(points: np.ndarray, centre: np.ndarray, spread: float, roll: float) -> np.ndarray:
    """``(K, 2)`` points in their pose: centred, turned upright, of unit spread."""
    return _turn(points - centre, -roll) / spread


def points_of(shape: np.ndarray, centre: np.ndarray, spread: float, roll: float) -> np.ndarray:
    """Inverse of :func:`shape_in`."""
    return _turn(shape * spread, roll) + centre


class FaceSmoother:
    """The filter of one face's points over time (see the module): four filters, the pose's
    centre (its speed in face spreads a second), log spread and roll, and the shape."""

    def __init__(self, config: SmoothingConfig | None = None):
        cfg = config or SmoothingConfig()
        if cfg.predict:
            knobs = {name: getattr(cfg, name) for name in MOVING_KNOBS}
            self.centre, self.spread, self.roll = (MovingOneEuro(**knobs) for _ in range(3))
        else:
            self.centre, self.spread, self.roll = (OneEuro(cfg.min_cutoff, cfg.beta, cfg.d_cutoff) for _ in range(3))
        self.shape = OneEuro(cfg.shape_min_cutoff, cfg.shape_beta, cfg.d_cutoff)
        self.time: float | None = None
        self.last_roll = 0.0

    def __call__(self, points: np.ndarray, five: np.ndarray, time: float) -> np.ndarray:
        """``(K, 2)`` filtered points of the ``(K, 2)`` reading (and its ``(5, 2)`` CUHK points) at ``time`` seconds."""
        dt = 0.0 if self.time is None else time - self.time
        self.time = time if self.time is None else max(time, self.time)
        centre, spread, roll = pose_of(points, five)
        # Unwrapped, so that a face turning through 180 degrees is not averaged across the cut.
        roll = self.last_roll + math.remainder(roll - self.last_roll, 2 * math.pi)
        self.last_roll = roll
        shape = shape_in(points, centre, spread, roll)
        log_spread = float(self.spread(np.array([math.log(spread)]), dt)[0])
        c = self.centre(centre, dt, unit=math.exp(log_spread))
        # Roll in degrees weighs like the centre in face spreads over ROLL_UNIT: about as far as a
        # face turned by a degree moves its eye corners (a spread is ~1/50 of a turn).
        r = float(self.roll(np.array([math.degrees(roll)]), dt, unit=ROLL_UNIT)[0])
        s = self.shape(shape.ravel(), dt).reshape(shape.shape)
        return points_of(s, c, math.exp(log_spread), math.radians(r))
