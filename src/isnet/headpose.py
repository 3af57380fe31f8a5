"""Head pose from landmarks: yaw, pitch and roll of a mean 3D face fitted to the points.

The mean face (``weights/face_model_ibug68.json``, written by ``scripts/make_face_model.py``)
has 300-W's 68 points; a scheme that is not 300-W's is fitted through its reduction to the five
CUHK points, the same reduction of the mean face. The camera is taken as scaled orthographic
(weak perspective): a face's depth is small beside its distance from the camera, and no focal
length is known for a photo. Then where the face sits in the photo does not matter, and turning
the photo changes the roll alone, by the turn.

Angles, in degrees, of the rotation ``R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch)`` that takes the
mean face (x to the image's right, y down, z away from the camera) to the fitted one:

* ``yaw > 0``: the nose points toward the image's right;
* ``pitch > 0``: the nose points up;
* ``roll``: turned clockwise as seen, as :attr:`isnet.api.Face.roll` (0 upright).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

import numpy as np

from isnet.assets import FACE_MODEL, read_fitted
from isnet.schemes import Scheme, get_scheme

__all__ = ["angles_to_rotation", "FaceModel", "face_model", "head_pose", "rotation_of", "rotation_to_angles"]

# One step already reaches the least-squares fit from the affine start: on noisy synthetic faces
# more steps moved no angle by 0.01 degrees.
REFINE_STEPS = 1


@dataclass(frozen=True)
class FaceModel:
    """The 3D points a scheme's landmarks are fitted to.

    Attributes:
        points: ``(M, 3)`` mean face points, mm (x right, y down, z away from the camera).
        fit: ``(M,)`` whether each point enters the fit.
        reduce: ``(M, K)`` weights that make the M points from the scheme's K (means of groups).
    """

    points: np.ndarray
    fit: np.ndarray
    reduce: np.ndarray

    def image_points(self, points: np.ndarray) -> np.ndarray:
        """``(N, M, 2)`` of the model from ``(N, K, 2)`` points of its scheme."""
        return np.einsum("mk,nkc->nmc", self.reduce, points)

    @cached_property
    def fitted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What every fit reuses: the fitted points centred ``(F, 3)``, the weights that give the
        image points centred ``(F, K)``, and the least-squares solve of the affine camera ``(F, 3)``."""
        X = self.points[self.fit] - self.points[self.fit].mean(axis=0)
        reduce = self.reduce[self.fit]
        return X, reduce - reduce.mean(axis=0), X @ np.linalg.inv(X.T @ X)


def _means(groups, n_points: int) -> np.ndarray:
    w = np.zeros((len(groups), n_points))
    for i, g in enumerate(groups):
        w[i, list(g)] = 1.0 / len(g)
    return w


@cache
def _mean_face(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = read_fitted(path, "scripts/make_face_model.py")
    try:
        points = np.asarray(d["points"], dtype=np.float64).reshape(68, 3)
        fit = np.asarray(d["fit"], dtype=bool).reshape(68)
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: not the output of scripts/make_face_model.py ({e})") from None
    return points, fit


@cache
def face_model(scheme: Scheme, path: Path = FACE_MODEL) -> FaceModel:
    """The mean face for ``scheme``: all 68 points for 300-W's scheme, else its five points.

    Raises:
        ValueError: the scheme has neither 300-W's points nor a reduction to five.
    """
    points, fit = _mean_face(Path(path))
    ibug68 = get_scheme("ibug68")
    if scheme.points == ibug68.points:
        return FaceModel(points, fit, np.eye(68))
    if scheme.to_cuhk5 is None:
        raise ValueError(f"scheme {scheme.name} has no reduction to five points, so no head pose")
    five = np.stack([points[list(g)].mean(axis=0) for g in ibug68.to_cuhk5])
    return FaceModel(five, np.ones(5, dtype=bool), _means(scheme.to_cuhk5, scheme.n_points))


def _rodrigues(w: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` rotations of ``(N, 3)`` rotation vectors."""
    theta = np.linalg.norm(w, axis=1)[:, None, None]
    k = np.zeros((len(w), 3, 3))
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -w[:, 2], w[:, 1], -w[:, 0]
    k = k - k.transpose(0, 2, 1)
    safe = np.where(theta > 1e-12, theta, 1.0)
    a = np.where(theta > 1e-12, np.sin(safe) / safe, 1.0)
    b = np.where(theta > 1e-12, (1 - np.cos(safe)) / safe**2, 0.5)
    return np.eye(3) + a * k + b * (k @ k)


def rotation_of(points: np.ndarray, model: FaceModel) -> np.ndarray:
    """``(N, 3, 3)`` rotations of the mean face that best explain ``(N, K, 2)`` points under a
    scaled orthographic camera (least squares over the model's fitted points); NaN for faces
    with a NaN point."""
    X, centring, solve = model.fitted
    x = np.einsum("mk,nkc->nmc", centring, np.asarray(points, dtype=np.float64))
    bad = ~np.isfinite(x).all(axis=(1, 2))
    x[bad] = 0.0
    # The best affine camera, then its nearest scaled rotation.
    u, s, vt = np.linalg.svd(np.einsum("nmi,mj->nij", x, solve), full_matrices=False)
    r1, r2 = (u @ vt).transpose(1, 0, 2)
    r3 = np.stack(
        [
            r1[:, 1] * r2[:, 2] - r1[:, 2] * r2[:, 1],
            r1[:, 2] * r2[:, 0] - r1[:, 0] * r2[:, 2],
            r1[:, 0] * r2[:, 1] - r1[:, 1] * r2[:, 0],
        ],
        axis=1,
    )
    R = np.stack([r1, r2, r3], axis=1)
    scale = s.mean(axis=1)
    # Gauss-Newton on the rotation (left increments) and the scale: the affine camera's
    # nearest rotation is not the rotation that fits best.
    for _ in range(REFINE_STEPS):
        Y = np.einsum("nij,mj->nmi", R, X)
        r = (x - scale[:, None, None] * Y[..., :2]).reshape(len(x), -1)
        zero = np.zeros(Y.shape[:2])
        jx = np.stack([zero, Y[..., 2], -Y[..., 1], Y[..., 0] / np.maximum(scale[:, None], 1e-12)], -1)
        jy = np.stack([-Y[..., 2], zero, Y[..., 0], Y[..., 1] / np.maximum(scale[:, None], 1e-12)], -1)
        J = scale[:, None, None] * np.stack([jx, jy], axis=2).reshape(len(x), -1, 4)
        step = np.linalg.solve(
            np.einsum("nki,nkj->nij", J, J) + 1e-9 * np.eye(4), np.einsum("nki,nk->ni", J, r)[..., None]
        )[..., 0]
        R = _rodrigues(step[:, :3]) @ R
        scale = scale + step[:, 3]
    R[bad] = np.nan
    return R


def rotation_to_angles(R: np.ndarray) -> np.ndarray:
    """``(N, 3)`` ``(yaw, pitch, roll)`` in degrees of ``(N, 3, 3)`` rotations (module docstring)."""
    b = -np.arcsin(np.clip(R[:, 2, 0], -1.0, 1.0))
    roll = np.arctan2(R[:, 1, 0], R[:, 0, 0])
    c = np.arctan2(R[:, 2, 1], R[:, 2, 2])
    return np.degrees(np.stack([-b, -c, roll], axis=1))


def angles_to_rotation(angles: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` rotations of ``(N, 3)`` ``(yaw, pitch, roll)`` in degrees; the inverse of
    :func:`rotation_to_angles`."""
    yaw, pitch, roll = np.radians(np.asarray(angles, dtype=np.float64)).T
    b, c = -yaw, -pitch
    one, zero = np.ones_like(b), np.zeros_like(b)
    rz = np.stack([np.cos(roll), -np.sin(roll), zero, np.sin(roll), np.cos(roll), zero, zero, zero, one], 1)
    ry = np.stack([np.cos(b), zero, np.sin(b), zero, one, zero, -np.sin(b), zero, np.cos(b)], 1)
    rx = np.stack([one, zero, zero, zero, np.cos(c), -np.sin(c), zero, np.sin(c), np.cos(c)], 1)
    return rz.reshape(-1, 3, 3) @ ry.reshape(-1, 3, 3) @ rx.reshape(-1, 3, 3)


def head_pose(points: np.ndarray, scheme: Scheme) -> np.ndarray:
    """``(N, 3)`` ``(yaw, pitch, roll)`` in degrees of faces from their ``(N, K, 2)`` points of
    ``scheme`` (image pixels, y down)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, scheme.n_points, 2)
    if len(points) == 0:
        return np.zeros((0, 3))
    return rotation_to_angles(rotation_of(points, face_model(scheme)))
