"""Annotation readers (Sun et al., MTFL, 300-W .pts), image loading and face-crop caches.

Every reader returns :class:`Sample` records in one convention: 0-based pixel
coordinates, boxes as ``(left, top, right, bottom)``. Bad input raises
:class:`AnnotationError` naming the file and line, or, with ``skip_bad=True``, is
collected in a :class:`Skipped` list so the caller can report it. Nothing is ever
silently repaired.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from isnet.boxes import box_from_landmarks
from isnet.imageio import IMAGE_SUFFIXES, ImageError, read_grey
from isnet.schemes import CUHK5, Scheme, get_scheme
from isnet.transforms import SOURCE_MARGIN, apply_affine, crop_face, crop_matrix, source_size

__all__ = [
    "AnnotationError",
    "build_crops",
    "cached_crops",
    "check_in_image",
    "convert_points",
    "CropSet",
    "face_crops",
    "FORMATS",
    "load_grey",
    "make_crop_set",
    "pts_schemes_for",
    "read_list",
    "read_mtfl_list",
    "read_pts",
    "read_pts_folder",
    "read_sun_list",
    "reduce_to_cuhk5",
    "Sample",
    "Skipped",
    "streamed_crops",
    "StreamedCrops",
]

FORMATS = ("sun", "mtfl", "pts")


class AnnotationError(ValueError):
    """Malformed annotation or unusable image; the message names file and line."""

    def __init__(self, file: str | os.PathLike, line: int | None, reason: str):
        self.file = str(file)
        self.line = line
        self.reason = reason
        where = f"{self.file}:{line}" if line is not None else self.file
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):
        # Rebuilt from its parts, so it crosses process boundaries (worker pools) intact.
        return type(self), (self.file, self.line, self.reason)


@dataclass
class Sample:
    """One annotated face.

    Attributes:
        image: path of the image file.
        box: face box ``(left, top, right, bottom)`` in pixels.
        landmarks: ``(K, 2)`` float array of ``(x, y)``, 0-based pixels.
        source: ``"file:line"`` of the annotation, for error messages.
    """

    image: Path
    box: np.ndarray
    landmarks: np.ndarray
    source: str = ""


@dataclass
class Skipped:
    """Annotations left out with ``skip_bad=True``: a list of ``"file:line: reason"``."""

    items: list[str] = field(default_factory=list)

    def add(self, err: AnnotationError) -> None:
        self.items.append(str(err))

    def __len__(self) -> int:
        return len(self.items)


def _lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise AnnotationError(path, None, f"cannot read list file ({e.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise AnnotationError(path, line, "not a text file (invalid UTF-8)") from None
    # splitlines() would also split on form feeds and other odd characters;
    # the list formats only know LF and CRLF.
    return [ln.rstrip("\r") for ln in text.split("\n")]


def _floats(tokens: list[str], list_path: Path, lineno: int) -> np.ndarray:
    try:
        values = np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_float(t))
        raise AnnotationError(list_path, lineno, f"not a number: {bad!r}") from None
    if not np.all(np.isfinite(values)):
        raise AnnotationError(list_path, lineno, "non-finite coordinate (nan or inf)")
    return values


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _image_path(token: str, root: Path) -> Path:
    # The lists were written on Windows: backslash separators.
    return root / token.replace("\\", "/")


def _check_box(box: np.ndarray, list_path: Path, lineno: int) -> None:
    left, top, right, bottom = box
    if right <= left or bottom <= top:
        raise AnnotationError(
            list_path, lineno, f"empty box: left={left:g} right={right:g} top={top:g} bottom={bottom:g}"
        )


def _parse_file(path: Path, parse_line, skip_bad: bool, skipped: Skipped) -> list[Sample]:
    samples = []
    for lineno, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            samples.append(parse_line(line, lineno))
        except AnnotationError as err:
            if not skip_bad:
                raise
            skipped.add(err)
    return samples


def read_sun_list(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    skip_bad: bool = False,
    skipped: Skipped | None = None,
) -> list[Sample]:
    """Read a Sun et al. (CVPR 2013) list: ``path left right top bottom x1 y1 ... x5 y5``.

    Args:
        path: the list file (CRLF or LF, backslash or slash paths).
        root: folder the image paths are relative to; default: the list's folder.
        skip_bad: collect bad lines in ``skipped`` instead of raising.
        skipped: where skipped lines are recorded.

    Returns:
        The samples, landmarks ``(5, 2)`` in CUHK order.
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    skipped = skipped if skipped is not None else Skipped()
    n_values = 4 + 2 * CUHK5.n_points

    def parse(line: str, lineno: int) -> Sample:
        tokens = line.split()
        if len(tokens) != 1 + n_values:
            raise AnnotationError(
                path, lineno, f"expected an image path and {n_values} numbers, got {len(tokens) - 1} values"
            )
        values = _floats(tokens[1:], path, lineno)
        left, right, top, bottom = values[:4]
        box = np.array([left, top, right, bottom])
        _check_box(box, path, lineno)
        return Sample(_image_path(tokens[0], root), box, values[4:].reshape(-1, 2), f"{path}:{lineno}")

    return _parse_file(path, parse, skip_bad, skipped)


def read_mtfl_list(
    path: str | os.PathLike,
    root: str | os.PathLike | None = None,
    skip_bad: bool = False,
    skipped: Skipped | None = None,
) -> list[Sample]:
    """Read an MTFL list (Zhang et al., ECCV 2014): ``path x1..x5 y1..y5 [attributes]``.

    MTFL coordinates are 1-based; they are converted to 0-based. MTFL has no face box,
    so each sample gets :func:`box_from_landmarks`.

    Returns:
        The samples, landmarks ``(5, 2)`` in CUHK order.
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    skipped = skipped if skipped is not None else Skipped()
    k = CUHK5.n_points

    def parse(line: str, lineno: int) -> Sample:
        tokens = line.split()
        # 10 coordinates, optionally followed by the 4 MTFL attributes.
        if len(tokens) not in (1 + 2 * k, 1 + 2 * k + 4):
            raise AnnotationError(
                path,
                lineno,
                f"expected an image path, {2 * k} coordinates and 0 or 4 attributes, got {len(tokens) - 1} values",
            )
        values = _floats(tokens[1 : 1 + 2 * k], path, lineno)
        landmarks = np.stack([values[:k], values[k:]], axis=1) - 1.0
        return Sample(_image_path(tokens[0], root), box_from_landmarks(landmarks, CUHK5), landmarks, f"{path}:{lineno}")

    return _parse_file(path, parse, skip_bad, skipped)


def read_pts(path: str | os.PathLike) -> np.ndarray:
    """Read a 300-W ``.pts`` file.

    Returns:
        ``(K, 2)`` landmarks, converted from 1-based to 0-based pixels.
    """
    path = Path(path)
    lines = _lines(path)
    header: dict[str, str] = {}
    lineno = 0
    for lineno, line in enumerate(lines, start=1):
        s = line.strip()
        if s == "{":
            break
        if ":" in s:
            key, value = s.split(":", 1)
            header[key.strip()] = value.strip()
        elif s:
            raise AnnotationError(path, lineno, f"unexpected header line {s!r}")
    else:
        raise AnnotationError(path, None, "no '{' opening the point list")
    if "n_points" not in header:
        raise AnnotationError(path, None, "header has no n_points")
    try:
        n = int(header["n_points"])
    except ValueError:
        raise AnnotationError(path, None, f"n_points is not an integer: {header['n_points']!r}") from None
    points = []
    for lineno2, line in enumerate(lines[lineno:], start=lineno + 1):
        s = line.strip()
        if s == "}":
            break
        if not s:
            continue
        tokens = s.split()
        if len(tokens) != 2:
            raise AnnotationError(path, lineno2, f"expected 'x y', got {len(tokens)} values")
        points.append(_floats(tokens, path, lineno2))
    else:
        raise AnnotationError(path, None, "no '}' closing the point list")
    if len(points) != n:
        raise AnnotationError(path, None, f"header says {n} points, file has {len(points)}")
    return np.array(points, dtype=np.float64).reshape(-1, 2) - 1.0


def _as_scheme(scheme: str | Scheme) -> Scheme:
    return scheme if isinstance(scheme, Scheme) else get_scheme(scheme)


def convert_points(points: np.ndarray, scheme: Scheme, target: Scheme) -> np.ndarray:
    """``(..., K, 2)`` points of ``scheme`` as ``target``'s: themselves, reduced to five, or
    through the scheme's conversion table (means of groups).

    Raises:
        ValueError: ``scheme`` has no way to ``target``.
    """
    if target.points == scheme.points:
        return points
    if target.name == CUHK5.name and scheme.to_cuhk5 is not None:
        return reduce_to_cuhk5(points, scheme)
    groups = scheme.conversion_to(target.name)
    if groups is None:
        raise ValueError(f"{scheme.name} points cannot become {target.name} points")
    return np.stack([points[..., list(g), :].mean(axis=-2) for g in groups], axis=-2)


def read_pts_folder(
    path: str | os.PathLike,
    scheme: Scheme | Sequence[Scheme],
    skip_bad: bool = False,
    skipped: Skipped | None = None,
    target: Scheme = CUHK5,
) -> list[Sample]:
    """Read every image with a ``.pts`` beside it, from a folder or a list of image paths.

    Args:
        path: a folder (searched recursively) or a text file with one image path a line.
        scheme: the scheme of the ``.pts`` files, or several: each file is read as the first
            whose number of points it has (a list may mix 300-W and WFLW faces).
        target: the points the samples carry: a scheme's own, reduced to
            :data:`~isnet.schemes.CUHK5`, or converted (:func:`convert_points`).

    Returns:
        Samples of ``target``'s points, with CUHK-like boxes drawn from their five points by
        :func:`box_from_landmarks`.
    """
    schemes = [scheme] if isinstance(scheme, Scheme) else list(scheme)
    by_count = {}
    for s in schemes:
        convert_points(np.zeros((s.n_points, 2)), s, target)  # fails here, before any file is read
        if s.to_cuhk5 is None:
            raise ValueError(f"scheme {s.name} has no to_cuhk5: the face box is drawn from five points")
        by_count.setdefault(s.n_points, s)
    path = Path(path)
    skipped = skipped if skipped is not None else Skipped()
    if path.is_dir():
        images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        entries = [(p, None) for p in images if p.with_suffix(".pts").exists()]
        if not entries:
            raise AnnotationError(path, None, "no image with a .pts file beside it")
    else:
        entries = [(path.parent / ln.strip(), i) for i, ln in enumerate(_lines(path), 1) if ln.strip()]
    samples = []
    for image, lineno in entries:
        try:
            pts_path = image.with_suffix(".pts")
            if not pts_path.exists():
                raise AnnotationError(path, lineno, f"{image}: no .pts file beside the image")
            points = read_pts(pts_path)
            own = by_count.get(len(points))
            if own is None:
                known = ", ".join(f"{s.name} has {s.n_points}" for s in schemes)
                raise AnnotationError(pts_path, None, f"{len(points)} points; scheme {known}")
            five = reduce_to_cuhk5(points, own)
            kept = convert_points(points, own, target)
            samples.append(Sample(image, box_from_landmarks(five, CUHK5), kept, str(pts_path)))
        except AnnotationError as err:
            if not skip_bad:
                raise
            skipped.add(err)
    return samples


def reduce_to_cuhk5(points: np.ndarray, scheme: Scheme) -> np.ndarray:
    """Reduce ``(..., K, 2)`` points of ``scheme`` to the ``(..., 5, 2)`` CUHK points (means of index groups)."""
    if scheme.to_cuhk5 is None:
        raise ValueError(f"scheme {scheme.name} has no reduction to five points")
    points = np.asarray(points)
    index, starts, counts = _groups(scheme.to_cuhk5)
    # One gather and one segmented sum instead of a mean per group (a tenth of a millisecond a face
    # in the pipeline); equal to the means to rounding.
    means = np.add.reduceat(points[..., index, :], starts, axis=-2) / counts[:, None]
    return means.astype(points.dtype if np.issubdtype(points.dtype, np.floating) else np.float64, copy=False)


@cache
def _groups(groups: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The index groups of a reduction as one index array, each group's start in it, and its size."""
    counts = np.array([len(g) for g in groups])
    return np.concatenate([list(g) for g in groups]), np.concatenate([[0], np.cumsum(counts)[:-1]]), counts


def pts_schemes_for(model_scheme: Scheme, given: str | Scheme | Sequence[str | Scheme] | None = None) -> list:
    """The schemes to read ``.pts`` files with: ``given``, else the model's own (300-W's 68 for a
    five-point model, which are reduced to five)."""
    if given:
        return [given] if isinstance(given, str | Scheme) else list(given)
    return ["ibug68"] if model_scheme.name == CUHK5.name else [model_scheme]


def read_list(
    path: str | os.PathLike,
    fmt: str = "sun",
    root: str | os.PathLike | None = None,
    scheme: str | Scheme | Sequence[str | Scheme] = "ibug68",
    skip_bad: bool = False,
    skipped: Skipped | None = None,
    target: str | Scheme = "cuhk5",
) -> list[Sample]:
    """Read annotations in any supported format; see the per-format readers.

    ``target`` is the scheme of the points wanted; ``.pts`` files of ``scheme`` (a name, a scheme
    file, a :class:`Scheme`, or several) give their points as :func:`read_pts_folder` does (Sun
    and MTFL lists carry five).
    """
    if fmt == "sun":
        return read_sun_list(path, root, skip_bad, skipped)
    if fmt == "mtfl":
        return read_mtfl_list(path, root, skip_bad, skipped)
    if fmt == "pts":
        schemes = [scheme] if isinstance(scheme, str | Scheme) else list(scheme)
        return read_pts_folder(path, [_as_scheme(s) for s in schemes], skip_bad, skipped, _as_scheme(target))
    raise ValueError(f"unknown annotation format {fmt!r}; known: {', '.join(FORMATS)}")


def load_grey(path: str | os.PathLike, source: str = "") -> np.ndarray:
    """Decode an image file to 8-bit grey ``(H, W)`` (:func:`isnet.imageio.read_grey`), or raise
    :class:`AnnotationError` naming ``source`` (the annotation's file and line)."""
    path = Path(path)
    where = source or str(path)
    if not path.exists():
        raise AnnotationError(where, None, f"image not found: {path}")
    try:
        return read_grey(path)
    except ImageError:
        raise AnnotationError(where, None, f"image cannot be decoded (corrupt or not an image): {path}") from None


def check_in_image(sample: Sample, shape: tuple[int, int]) -> None:
    """Raise :class:`AnnotationError` if the box misses the image or a landmark lies outside it.

    A box that reaches past the image edge is fine (a face at the border: the crop pads).
    """
    h, w = shape[:2]
    file, _, line = sample.source.rpartition(":")
    file, line = (file, int(line)) if line.isdigit() else (sample.source, None)
    # Pixel centres are integers, so the image spans [-0.5, size - 0.5].
    left, top, right, bottom = sample.box
    if right <= -0.5 or bottom <= -0.5 or left >= w - 0.5 or top >= h - 0.5:
        raise AnnotationError(
            file, line, f"box {sample.box.tolist()} lies wholly outside the {w}x{h} image {sample.image}"
        )
    x, y = sample.landmarks[:, 0], sample.landmarks[:, 1]
    outside = (x < -0.5) | (y < -0.5) | (x > w - 0.5) | (y > h - 0.5)
    if outside.any():
        k = int(np.argmax(outside))
        raise AnnotationError(
            file, line, f"landmark {k} at ({x[k]:g}, {y[k]:g}) outside the {w}x{h} image {sample.image}"
        )


@dataclass
class CropSet:
    """Faces cut out once, large enough for every augmentation, ready for batching.

    Attributes:
        images: ``(N, R, R)`` uint8 source crops.
        landmarks: ``(N, K, 2)`` float32 landmarks in source-crop pixels.
        boxes: ``(N, 4)`` float32 boxes in source-crop pixels.
        to_source: ``(N, 2, 3)`` float64 affine maps from image to source-crop pixels.
        box_wh: ``(N, 2)`` float64 width and height of each original box, in image pixels.
        files: image paths, for reports.
        detector_boxes: ``(N, 4)`` float32 training boxes drawn from a detector's boxes, in
            source-crop pixels, NaN where it missed the face; ``None``: not computed.
    """

    images: np.ndarray
    landmarks: np.ndarray
    boxes: np.ndarray
    to_source: np.ndarray
    box_wh: np.ndarray
    files: list[str]
    detector_boxes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)


def _crop_one(sample: Sample, size: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    image = load_grey(sample.image, sample.source)
    check_in_image(sample, image.shape)
    return crop_face(image, sample.box, size, margin)


def build_crops(
    samples: list[Sample],
    size: int,
    margin: float,
    skip_bad: bool = False,
    skipped: Skipped | None = None,
    progress: bool = True,
    workers: int = 2,
) -> CropSet:
    """Decode each image and cut its face to a ``size`` square (see :func:`crop_face`)."""
    skipped = skipped if skipped is not None else Skipped()
    kept, crops, mats = [], [], []
    with ThreadPoolExecutor(max(1, workers)) as pool:  # OpenCV decodes with the GIL released
        futures = [pool.submit(_crop_one, s, size, margin) for s in samples]
        for sample, fut in tqdm(
            zip(samples, futures),
            total=len(samples),
            desc="cropping faces",
            disable=None if progress else True,
            leave=False,
        ):
            try:
                crop, mat = fut.result()
            except AnnotationError as err:
                if not skip_bad:
                    for f in futures:
                        f.cancel()
                    raise
                skipped.add(err)
                continue
            kept.append(sample)
            crops.append(crop)
            mats.append(mat)
    if not kept:
        raise AnnotationError("(list)", None, "no usable face: every sample was skipped")
    return _crop_set(np.stack(crops), kept, np.stack(mats))


def make_crop_set(
    images: np.ndarray | StreamedCrops,
    boxes: np.ndarray,
    mats: np.ndarray,
    landmarks: np.ndarray | None,
    files: list[str],
    n_points: int = 0,
) -> CropSet:
    """The :class:`CropSet` of faces already cut (or cut on demand): the one place its geometry is made.

    Args:
        images: ``(N, R, R)`` source crops.
        boxes: ``(N, 4)`` boxes ``(l, t, r, b)`` in image pixels.
        mats: ``(N, 2, 3)`` maps from image to source-crop pixels.
        landmarks: ``(N, K, 2)`` annotated points in image pixels, or ``None`` when nothing is
            known of them (faces to predict): then ``n_points`` zeros per face.
        files: the image of each face, for reports.
    """
    n = len(boxes)
    mats = np.asarray(mats, np.float64).reshape(n, 2, 3)
    boxes = np.asarray(boxes, np.float64).reshape(n, 4)
    if landmarks is None:
        lm = np.zeros((n, n_points, 2), np.float32)
    else:
        lm = np.stack([apply_affine(m, p) for m, p in zip(mats, landmarks)]).astype(np.float32)
    corners = np.array([apply_affine(m, b.reshape(2, 2)).reshape(4) for m, b in zip(mats, boxes)], np.float32)
    return CropSet(images, lm, corners.reshape(n, 4), mats, boxes[:, 2:] - boxes[:, :2], files)


def _crop_set(images, kept: list[Sample], mats: np.ndarray) -> CropSet:
    boxes = np.stack([s.box for s in kept])
    return make_crop_set(images, boxes, mats, [s.landmarks for s in kept], [str(s.image) for s in kept])


class StreamedCrops:
    """Array-like ``(N, R, R)`` source crops decoded on demand: ``crops[index]`` reads the
    images of ``index`` from disk. For data sets too large, or too new, to cache; each image
    is checked (:func:`check_in_image`) when it is read."""

    def __init__(self, samples: list[Sample], size: int, margin: float):
        self.samples, self.size, self.margin = samples, size, margin

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.samples), self.size, self.size)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index) -> np.ndarray:
        index = np.atleast_1d(np.asarray(index))
        return np.stack([_crop_one(self.samples[i], self.size, self.margin)[0] for i in index])


def streamed_crops(samples: list[Sample], size: int, margin: float) -> CropSet:
    """A :class:`CropSet` whose images are :class:`StreamedCrops`: geometry now, pixels on demand."""
    if not samples:
        raise AnnotationError("(list)", None, "no face to train on")
    mats = np.stack([crop_matrix(s.box, size, margin)[3] for s in samples])
    return _crop_set(StreamedCrops(samples, size, margin), samples, mats)


_CACHE_VERSION = "2"


def cached_crops(
    samples: list[Sample],
    size: int,
    margin: float,
    cache_dir: str | os.PathLike | None,
    skip_bad: bool = False,
    skipped: Skipped | None = None,
    progress: bool = True,
) -> CropSet:
    """:func:`build_crops`, stored in ``cache_dir`` keyed by the annotations and the images' sizes
    and times, so a changed image or list rebuilds it. ``cache_dir=None`` disables caching."""
    if cache_dir is None:
        return build_crops(samples, size, margin, skip_bad, skipped, progress)
    h = hashlib.sha1(f"{_CACHE_VERSION} {size} {margin!r} {skip_bad}".encode())
    for s in samples:
        try:
            st = os.stat(s.image)
            stamp = f"{st.st_size} {st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        h.update(f"{s.image}|{stamp}|{s.box.tobytes().hex()}|{s.landmarks.tobytes().hex()}\n".encode())
    path = Path(cache_dir) / f"crops-{h.hexdigest()[:16]}"
    if (path / "images.npy").exists():
        # Memory-mapped: processes that share the cache share its pages, and only the
        # faces a batch touches are read.
        images = np.load(path / "images.npy", mmap_mode="r")
        z = np.load(path / "meta.npz", allow_pickle=False)
        if skipped is not None:
            skipped.items.extend(z["skipped"].tolist())
        return CropSet(images, z["landmarks"], z["boxes"], z["to_source"], z["box_wh"], z["files"].tolist())
    local = Skipped()
    crops = build_crops(samples, size, margin, skip_bad, local, progress)
    if skipped is not None:
        skipped.items.extend(local.items)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "images.npy", crops.images)
    np.savez(
        tmp / "meta.npz",
        landmarks=crops.landmarks,
        boxes=crops.boxes,
        to_source=crops.to_source,
        box_wh=crops.box_wh,
        files=np.array(crops.files),
        skipped=np.array(local.items, dtype=str),
    )
    try:
        os.replace(tmp, path)  # a complete cache appears at once, or not at all
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)  # another process finished the same cache first
    return crops


def face_crops(
    samples: list[Sample],
    input_size: int,
    cache_dir: str | os.PathLike | None = None,
    skip_bad: bool = False,
    skipped: Skipped | None = None,
    progress: bool = False,
    stream: bool = False,
) -> CropSet:
    """The source crops of a network with ``input_size`` inputs, as training, evaluation and
    inference all cut them: :func:`cached_crops`, or :func:`streamed_crops` with ``stream``."""
    size = source_size(input_size)
    if stream:
        return streamed_crops(samples, size, SOURCE_MARGIN)
    return cached_crops(samples, size, SOURCE_MARGIN, cache_dir, skip_bad, skipped, progress)
