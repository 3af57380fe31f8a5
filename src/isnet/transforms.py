"""Face crops and landmark-consistent augmentation.

Geometry convention: pixel centres sit at integer coordinates (OpenCV's), so an
image of width W spans ``[-0.5, W - 0.5]``. Every geometric step is a ``(2, 3)``
affine map from one pixel frame to the next; landmarks follow the image through
the same maps, and predictions go back to the image through their inverse.

Two steps cut a face for the network. :func:`crop_face` cuts a square "source"
crop around the box, larger than the network's view, once per image (with area
averaging, so large faces are not aliased). :func:`warp_batch` then samples the
network's view from a batch of source crops on the fly: the plain centred view for
evaluation and inference, or a randomly rotated, shifted, scaled and mirrored one
for training. Training and inference therefore share the same resampling path.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "apply_affine",
    "apply_affines",
    "Augment",
    "compose",
    "crop_face",
    "crop_matrix",
    "flip_landmarks",
    "gaussian_kernels",
    "invert_affine",
    "JPEG_QUALITY",
    "jpeg_round_trip",
    "photometric",
    "photometric_params",
    "plain_views",
    "quarter_turn_matrix",
    "SOURCE_MARGIN",
    "source_size",
    "square_region",
    "to3x3",
    "turn_image",
    "unturn_boxes",
    "view_matrices",
    "warp_batch",
    "wild",
    "wild_params",
    "WildParams",
]

# Source crops cover the view's box with this margin; with the largest augmentation
# (15 degree rotation, 10 % scale, shifts) the view never reaches the crop's edge.
SOURCE_MARGIN = 0.6
# JPEG qualities drawn by Augment.jpeg: from a heavily compressed upload to a camera's own file.
JPEG_QUALITY = (20, 95)


def source_size(input_size: int) -> int:
    """Side of the cached source crops for a network with ``input_size`` inputs.

    The source crop spans ``1 + 2 * SOURCE_MARGIN`` box sides; this size keeps about one
    source pixel per view pixel for views of small margin, so bilinear sampling does not alias.
    """
    return int(round(input_size * (1 + 2 * SOURCE_MARGIN)))


def square_region(box: np.ndarray, margin: float) -> tuple[float, float, float]:
    """Square around a ``(left, top, right, bottom)`` box.

    Returns:
        ``(cx, cy, side)``: centre and side, the side being the box's longer side
        grown by ``margin`` on each side (``side = max(w, h) * (1 + 2 * margin)``).
    """
    left, top, right, bottom = (float(v) for v in box)
    side = max(right - left, bottom - top) * (1.0 + 2.0 * margin)
    return 0.5 * (left + right), 0.5 * (top + bottom), side


def crop_matrix(box: np.ndarray, size: int, margin: float) -> tuple[int, int, int, np.ndarray]:
    """Geometry of :func:`crop_face`, computed from the box alone.

    Returns:
        ``(x0, y0, n, matrix)``: the square's first pixel column and row, its side in whole
        pixels, and the ``(2, 3)`` map from image pixels to crop pixels.
    """
    cx, cy, side = square_region(box, margin)
    if not (np.isfinite(side) and side > 0):
        raise ValueError(f"cannot crop an empty or non-finite box {np.asarray(box).tolist()}")
    n = max(1, int(round(side)))
    x0 = int(round(cx - 0.5 * n + 0.5))  # first pixel whose centre lies in the square
    y0 = int(round(cy - 0.5 * n + 0.5))
    s = size / n
    # cv2.resize maps output pixel u to input (u + 0.5) / s - 0.5.
    return x0, y0, n, np.array([[s, 0.0, (0.5 - x0) * s - 0.5], [0.0, s, (0.5 - y0) * s - 0.5]])


def crop_face(image: np.ndarray, box: np.ndarray, size: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut the square around ``box`` (see :func:`square_region`) and resize it to ``size``.

    The square is snapped to whole pixels so that area-averaging ``cv2.resize`` can do the
    resampling; parts outside the image repeat the border. A square wholly outside the image
    (a later pass framing a misread face by its points) is all repeated border.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` uint8 image.
        box: ``(left, top, right, bottom)``.
        size: side of the output in pixels.
        margin: fraction of the box's side added on every side.

    Returns:
        ``(crop, matrix)``: the ``(size, size[, C])`` crop and the ``(2, 3)`` affine map
        from image pixels to crop pixels.
    """
    x0, y0, n, matrix = crop_matrix(box, size, margin)
    h, w = image.shape[:2]
    s = size / n
    outside = x0 >= w or y0 >= h or x0 + n <= 0 or y0 + n <= 0
    if n <= 4 * max(h, w) and not outside:
        # Pad only as much as the square leaves the image, then area-average: exact and sharp.
        pad_l, pad_t = max(0, -x0), max(0, -y0)
        pad_r, pad_b = max(0, x0 + n - w), max(0, y0 + n - h)
        roi = image[max(0, y0) : min(h, y0 + n), max(0, x0) : min(w, x0 + n)]
        if pad_l or pad_t or pad_r or pad_b:
            roi = cv2.copyMakeBorder(roi, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
        interp = cv2.INTER_AREA if n >= size else cv2.INTER_LINEAR
        return cv2.resize(roi, (size, size), interpolation=interp), matrix
    # A square many times the image (a wild box): padding it would need unbounded memory,
    # so shrink the image itself by the same factor and warp it into place.
    small_w, small_h = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
    shrink = np.array([[small_w / w, 0.0, 0.5 * small_w / w - 0.5], [0.0, small_h / h, 0.5 * small_h / h - 0.5]])
    rest = compose(matrix, invert_affine(shrink))
    crop = cv2.warpAffine(small, rest, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop, matrix


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a ``(2, 3)`` affine map to ``(..., 2)`` points."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def apply_affines(matrices: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply ``(N, 2, 3)`` affine maps, one per face, to ``(N, K, 2)`` points."""
    return np.einsum("bij,bkj->bki", matrices[:, :, :2], points) + matrices[:, None, :, 2]


def to3x3(matrix: np.ndarray) -> np.ndarray:
    """``(..., 2, 3)`` affine maps as ``(..., 3, 3)`` homogeneous matrices."""
    out = np.zeros(matrix.shape[:-2] + (3, 3))
    out[..., :2, :] = matrix
    out[..., 2, 2] = 1.0
    return out


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse of ``(..., 2, 3)`` affine maps (in closed form: a 2x2 inverse and a shift)."""
    a, b, tx = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 0, 2]
    c, d, ty = matrix[..., 1, 0], matrix[..., 1, 1], matrix[..., 1, 2]
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    out = np.empty(np.shape(matrix)[:-2] + (2, 3), np.result_type(matrix, np.float64))
    out[..., 0, 0], out[..., 0, 1], out[..., 0, 2] = ia, ib, -(ia * tx + ib * ty)
    out[..., 1, 0], out[..., 1, 1], out[..., 1, 2] = ic, id_, -(ic * tx + id_ * ty)
    return out


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The map ``second(first(x))`` of two ``(..., 2, 3)`` affine maps."""
    return (to3x3(second) @ to3x3(first))[..., :2, :]


@dataclass
class Augment:
    """Ranges of the training augmentation; each is drawn uniformly per face.

    Attributes:
        rotate: maximum rotation in degrees.
        translate: maximum shift of the face within the view, as a fraction of the view.
        box_shift: maximum shift of the box, as a fraction of its side (detector jitter).
        box_scale: maximum relative change of the box's size (detector jitter).
        flip: probability of a horizontal mirror (landmark pairs swap).
        contrast: maximum relative change of contrast.
        brightness: maximum added brightness, in units of full scale.
        occlude: probability of a face getting a grey rectangle (random erasing) over 15-50 %
            of the view's side in each direction, at a random place and grey level.
        blur: largest Gaussian blur, as sigma in view pixels; each face draws sigma in [0, blur].
        noise: largest standard deviation of added Gaussian pixel noise, in units of full
            scale; each face draws its own in [0, noise].
        detector_box: probability of a face being framed by the box its detector gave it
            (where the detector found it; see :func:`isnet.detectors.detector_training_boxes`)
            instead of its annotated box, before the box jitter.
        jpeg: probability of a face's view being saved as a JPEG (quality drawn in
            ``JPEG_QUALITY``) and read back, after the other degradations.
    """

    rotate: float = 15.0
    translate: float = 0.05
    box_shift: float = 0.05
    box_scale: float = 0.1
    flip: float = 0.5
    contrast: float = 0.3
    brightness: float = 0.15
    occlude: float = 0.0
    blur: float = 0.0
    noise: float = 0.0
    detector_box: float = 0.0
    jpeg: float = 0.0

    @classmethod
    def none(cls) -> Augment:
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    def is_wild(self) -> bool:
        """Whether any of the in-the-wild degradations (occlusion, blur, noise, JPEG) is on."""
        return self.occlude > 0 or self.blur > 0 or self.noise > 0 or self.jpeg > 0


def view_matrices(
    source_boxes: np.ndarray,
    source_size: int,
    size: int,
    margin: float,
    augment: Augment | None = None,
    rng: np.random.Generator | None = None,
    angles: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Affine maps from source-crop pixels to the network's view, one per face.

    Without augmentation the view is the square of :func:`square_region` with ``margin``
    around each box, turned by ``angles`` about its centre if given. With it, the box is
    jittered (shift, scale), then the view is rotated about its centre, shifted and mirrored.

    Args:
        source_boxes: ``(B, 4)`` boxes in source-crop pixels.
        source_size: side of the source crops.
        size: side of the view.
        margin: the view's margin around the box.
        augment: ranges to draw from; ``None`` for the plain view.
        rng: random generator; required with ``augment``.
        angles: ``(B,)`` radians by which each view is turned (a face rolled by ``-angle``
            comes out upright); added to the augmentation's rotation.

    Returns:
        ``(matrices, flipped)``: ``(B, 2, 3)`` maps and a ``(B,)`` bool array.
    """
    del source_size  # the maps depend on the boxes only; kept for symmetry with warp_batch
    b = len(source_boxes)
    left, top, right, bottom = (source_boxes[:, i].astype(np.float64) for i in range(4))
    cx, cy = 0.5 * (left + right), 0.5 * (top + bottom)
    side = np.maximum(right - left, bottom - top) * (1.0 + 2.0 * margin)
    angle = np.zeros(b) if angles is None else np.asarray(angles, np.float64).copy()
    shift = np.zeros((b, 2))
    flipped = np.zeros(b, dtype=bool)
    if augment is not None:
        if rng is None:
            raise ValueError("augmentation needs a random generator")
        base = side / (1.0 + 2.0 * margin)
        cx = cx + rng.uniform(-1, 1, b) * augment.box_shift * base
        cy = cy + rng.uniform(-1, 1, b) * augment.box_shift * base
        side = side * (1.0 + rng.uniform(-1, 1, b) * augment.box_scale)
        angle = angle + np.deg2rad(rng.uniform(-1, 1, b) * augment.rotate)
        shift = rng.uniform(-1, 1, (b, 2)) * augment.translate * size
        flipped = rng.uniform(0, 1, b) < augment.flip
    s = size / side
    c = (size - 1) / 2.0
    cos, sin = np.cos(angle) * s, np.sin(angle) * s
    mirror = np.where(flipped, -1.0, 1.0)
    # u = mirror(R * s * (x - centre)) + c + shift, with the mirror about the view's centre.
    m = np.zeros((b, 2, 3))
    m[:, 0, 0], m[:, 0, 1] = mirror * cos, mirror * -sin
    m[:, 1, 0], m[:, 1, 1] = sin, cos
    m[:, 0, 2] = -(m[:, 0, 0] * cx + m[:, 0, 1] * cy) + c + shift[:, 0]
    m[:, 1, 2] = -(m[:, 1, 0] * cx + m[:, 1, 1] * cy) + c + shift[:, 1]
    return m, flipped


def _pixel_to_normalised(n: int) -> np.ndarray:
    # grid_sample with align_corners=False: normalised = (2 * pixel + 1) / n - 1.
    return np.array([[2.0 / n, 0.0, 1.0 / n - 1.0], [0.0, 2.0 / n, 1.0 / n - 1.0], [0.0, 0.0, 1.0]])


def warp_batch(sources: torch.Tensor, matrices: np.ndarray, size: int) -> torch.Tensor:
    """Sample views from source crops through per-face affine maps (bilinear).

    Args:
        sources: ``(B, 1, R, R)`` float source crops.
        matrices: ``(B, 2, 3)`` maps from source pixels to view pixels.
        size: side of the views.

    Returns:
        ``(B, 1, size, size)`` views.
    """
    r = sources.shape[-1]
    # affine_grid wants the inverse map, from view to source, in normalised coordinates.
    inv = np.linalg.inv(to3x3(matrices))
    theta = _pixel_to_normalised(r) @ inv @ np.linalg.inv(_pixel_to_normalised(size))
    grid = F.affine_grid(
        torch.as_tensor(theta[:, :2], dtype=sources.dtype), [len(sources), 1, size, size], align_corners=False
    )
    return F.grid_sample(sources, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _linear_weights(coords: np.ndarray, n: int) -> np.ndarray:
    """``(B, S, n)`` weights of linear interpolation at ``(B, S)`` pixel coordinates, border-padded.

    The weight of pixel ``j`` for a position ``x`` clamped into the crop is the tent ``max(0, 1 - |x - j|)``.
    """
    x = np.clip(coords, 0.0, n - 1).astype(np.float32)
    return np.maximum(np.float32(0.0), np.float32(1.0) - np.abs(x[..., None] - np.arange(n, dtype=np.float32)))


def plain_views(sources: np.ndarray, matrices: np.ndarray, size: int) -> np.ndarray:
    """:func:`warp_batch` for the plain views of :func:`view_matrices`, without torch.

    A plain view only scales and shifts its source crop, so its bilinear, border-padded
    sampling is separable: two small matrix products per face. Views agree with
    :func:`warp_batch` to about 2e-6 (its float32 sampling grid).

    Args:
        sources: ``(B, R, R)`` uint8 source crops.
        matrices: ``(B, 2, 3)`` axis-aligned maps from source pixels to view pixels.
        size: side of the views.

    Returns:
        ``(B, 1, size, size)`` float32 views in [0, 1].
    """
    if np.any(matrices[:, 0, 1] != 0) or np.any(matrices[:, 1, 0] != 0):
        raise ValueError("plain_views takes axis-aligned maps only; use warp_batch for rotated views")
    r = sources.shape[-1]
    u = np.arange(size, dtype=np.float64)
    # The view pixel u samples the source at (u - shift) / scale on each axis.
    wx = _linear_weights((u[None] - matrices[:, 0, 2:3]) / matrices[:, 0, 0:1], r)
    wy = _linear_weights((u[None] - matrices[:, 1, 2:3]) / matrices[:, 1, 1:2], r)
    src = np.asarray(sources, dtype=np.float32) / np.float32(255.0)
    return (wy @ src @ wx.transpose(0, 2, 1))[:, None]


def flip_landmarks(landmarks: np.ndarray, flipped: np.ndarray, perm: list[int]) -> np.ndarray:
    """Reorder ``(B, K, 2)`` landmarks of mirrored faces so that left stays image-left."""
    out = landmarks.copy()
    out[flipped] = landmarks[flipped][:, perm]
    return out


def photometric_params(b: int, augment: Augment, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(B,)`` contrast factors and ``(B,)`` brightness offsets drawn from ``augment``'s ranges."""
    return 1.0 + rng.uniform(-1, 1, b) * augment.contrast, rng.uniform(-1, 1, b) * augment.brightness


def photometric(views: torch.Tensor, contrast: np.ndarray, brightness: np.ndarray) -> torch.Tensor:
    """Contrast (about each view's mean) and brightness on ``(B, 1, S, S)`` views in [0, 1]."""
    contrast = torch.as_tensor(contrast, dtype=views.dtype)
    bright = torch.as_tensor(brightness, dtype=views.dtype)
    mean = views.mean(dim=(1, 2, 3), keepdim=True)
    out = (views - mean) * contrast.view(-1, 1, 1, 1) + mean + bright.view(-1, 1, 1, 1)
    return out.clamp(0.0, 1.0)


@dataclass
class WildParams:
    """Per-face draws of :func:`wild_params`: ``(B,)`` arrays, ``rect`` ``(B, 4)``."""

    occluded: np.ndarray
    rect: np.ndarray  # x0, y0, x1, y1 as fractions of the view
    fill: np.ndarray
    sigma: np.ndarray
    noise: np.ndarray
    seed: int
    quality: np.ndarray | None = None  # JPEG quality per face, 0: not compressed; None: none drawn

    def __getitem__(self, part: slice) -> WildParams:
        quality = None if self.quality is None else self.quality[part]
        return WildParams(
            self.occluded[part],
            self.rect[part],
            self.fill[part],
            self.sigma[part],
            self.noise[part],
            self.seed,
            quality,
        )


def wild_params(b: int, augment: Augment, rng: np.random.Generator) -> WildParams:
    """Occlusion, blur and noise of ``b`` faces drawn from ``augment``'s ranges."""
    occluded = rng.uniform(0, 1, b) < augment.occlude
    wh = rng.uniform(0.15, 0.5, (b, 2))
    xy = rng.uniform(0, 1, (b, 2)) * (1.0 - wh)
    fill = rng.uniform(0, 1, b)
    sigma = rng.uniform(0, 1, b) * augment.blur
    noise = rng.uniform(0, 1, b) * augment.noise
    seed = int(rng.integers(2**31))
    quality = None
    if augment.jpeg > 0:  # drawn last and only when on, so runs without it keep their streams
        quality = np.where(rng.uniform(0, 1, b) < augment.jpeg, rng.integers(*JPEG_QUALITY, b, endpoint=True), 0)
    return WildParams(occluded, np.concatenate([xy, xy + wh], 1), fill, sigma, noise, seed, quality)


def jpeg_round_trip(views: torch.Tensor, quality: np.ndarray) -> torch.Tensor:
    """``(B, 1, S, S)`` views in [0, 1], each with ``quality[i] > 0`` saved as a JPEG of that
    quality (8-bit, OpenCV's encoder) and read back; the others untouched."""
    out = views.clone()
    for i in np.flatnonzero(quality):
        pixels = (views[i, 0].numpy() * 255.0).round().astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality[i])])
        if not ok:
            raise RuntimeError(f"OpenCV could not encode a {pixels.shape} view as JPEG")
        out[i, 0] = torch.from_numpy(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0)
    return out


def gaussian_kernels(sigma: np.ndarray, radius: int) -> np.ndarray:
    """``(B, 2 * radius + 1)`` normalised 1-D Gaussian kernels; sigma 0 gives the identity."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    s = np.maximum(np.asarray(sigma, np.float64), 1e-6)[:, None]
    k = np.exp(-0.5 * (x / s) ** 2)
    return k / k.sum(1, keepdims=True)


def wild(views: torch.Tensor, params: WildParams) -> torch.Tensor:
    """Blur, occlude, add noise to and JPEG-compress ``(B, 1, S, S)`` views in [0, 1], per face."""
    b, _, size, _ = views.shape
    if np.any(params.sigma > 0):
        radius = max(1, int(np.ceil(3 * params.sigma.max())))
        k = torch.as_tensor(gaussian_kernels(params.sigma, radius), dtype=views.dtype)
        x = views.reshape(1, b, size, size)
        x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k.view(b, 1, 1, -1), groups=b)
        x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), k.view(b, 1, -1, 1), groups=b)
        views = x.reshape(b, 1, size, size)
    if params.occluded.any():
        centres = (torch.arange(size, dtype=views.dtype) + 0.5) / size
        r = torch.as_tensor(params.rect, dtype=views.dtype)
        inside_x = (centres[None] >= r[:, 0:1]) & (centres[None] < r[:, 2:3])
        inside_y = (centres[None] >= r[:, 1:2]) & (centres[None] < r[:, 3:4])
        mask = inside_y[:, :, None] & inside_x[:, None, :] & torch.as_tensor(params.occluded)[:, None, None]
        fill = torch.as_tensor(params.fill, dtype=views.dtype).view(b, 1, 1).expand(b, size, size)
        views = torch.where(mask[:, None], fill[:, None], views)
    if np.any(params.noise > 0):
        g = torch.Generator().manual_seed(params.seed)
        std = torch.as_tensor(params.noise, dtype=views.dtype).view(b, 1, 1, 1)
        views = views + std * torch.randn(views.shape, generator=g, dtype=views.dtype)
    views = views.clamp(0.0, 1.0)
    if params.quality is not None and np.any(params.quality > 0):
        views = jpeg_round_trip(views, params.quality)
    return views


def turn_image(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """An image turned ``degrees`` counter-clockwise (as seen) onto a canvas that holds it whole.

    Quarter turns are exact (``np.rot90``); other angles are sampled bilinearly, black outside.

    Returns:
        ``(turned, matrix)``: the turned image and the ``(2, 3)`` map from its old pixels to the new.
    """
    h, w = image.shape[:2]
    if degrees % 90 == 0:
        k = int(degrees % 360) // 90
        return np.ascontiguousarray(np.rot90(image, k)), quarter_turn_matrix(degrees, (h, w))
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    m[0, 2] += (nw - w) / 2
    m[1, 2] += (nh - h) / 2
    return cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=0), m


def quarter_turn_matrix(degrees: float, shape: tuple[int, ...]) -> np.ndarray:
    """The ``(2, 3)`` map from an ``(H, W)`` image's pixels to those of the image turned by a
    multiple of 90 ``degrees`` counter-clockwise (as seen; ``np.rot90``)."""
    if degrees % 90:
        raise ValueError(f"not a quarter turn: {degrees} degrees")
    h, w = shape[:2]
    matrix = {
        0: [[1, 0, 0], [0, 1, 0]],
        1: [[0, 1, 0], [-1, 0, w - 1]],
        2: [[-1, 0, w - 1], [0, -1, h - 1]],
        3: [[0, -1, h - 1], [1, 0, 0]],
    }[int(degrees % 360) // 90]
    return np.array(matrix, np.float64)


def unturn_boxes(boxes: np.ndarray, degrees: float, matrix: np.ndarray) -> np.ndarray:
    """``(N, 4)`` boxes ``(l, t, r, b)`` found in an image turned by :func:`turn_image` as boxes of
    the unturned image: the same centre, mapped back, and the same size (sides swapped by a
    quarter turn), so a face keeps the size it was found at whatever the turn."""
    centres = apply_affine(invert_affine(matrix), 0.5 * (boxes[:, :2] + boxes[:, 2:]))
    half = 0.5 * (boxes[:, 2:] - boxes[:, :2])
    if degrees % 180 == 90:
        half = half[:, ::-1]
    return np.concatenate([centres - half, centres + half], axis=1)
