"""Image and video input: the one decoder that training, evaluation and prediction share.

A file's grey pixels come from one decode (``cv2.IMREAD_GRAYSCALE``, libjpeg's own luma for
JPEG) whichever command reads it, so a face gives the same network input in ``isnet train``,
``isnet evaluate`` and ``isnet predict``. Arrays given by a caller are converted with
``cv2.cvtColor``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "as_uint8",
    "IMAGE_SUFFIXES",
    "ImageError",
    "read_grey",
    "read_image",
    "to_bgr_grey",
    "to_grey",
    "video_frames",
    "VideoFrame",
    "VIDEO_SUFFIXES",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class ImageError(ValueError):
    """An input that cannot be used as an image; the message says what it was."""


def _file_bytes(path: Path) -> np.ndarray:
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    try:
        return np.fromfile(path, dtype=np.uint8)
    except OSError as e:
        raise ImageError(f"{path}: cannot read ({e.strerror})") from None


def _decode(data: np.ndarray, flags: int, path: Path) -> np.ndarray:
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None or image.size == 0:
        raise ImageError(f"{path}: cannot be decoded (corrupt or not an image)")
    return image


# ANYDEPTH keeps 16 bits as stored; without IGNORE_ORIENTATION the EXIF orientation is
# applied, so phone photos come out upright.
_AS_STORED = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
_GREY = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_GRAYSCALE


def read_image(path: str | Path, grey: bool = False) -> np.ndarray:
    """Decode an image file as it is stored (grey, BGR or BGRA; 8 or 16 bits), or as grey.

    Raises:
        ImageError: missing, unreadable or undecodable file, named in the message.
    """
    path = Path(path)
    return _decode(_file_bytes(path), _GREY if grey else _AS_STORED, path)


def read_grey(path: str | Path) -> np.ndarray:
    """The network's input from a file: ``(H, W)`` uint8 grey."""
    return as_uint8(read_image(path, grey=True), str(path))


def as_uint8(image: np.ndarray | str | Path, name: str = "image") -> np.ndarray:
    """Check an image and bring it to 8 bits, keeping its channels.

    Args:
        image: a path, or a NumPy array ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` BGR or
            ``(H, W, 4)`` BGRA, of dtype uint8 or uint16 (scaled to 8 bits).
        name: how to call the input in error messages.

    Returns:
        ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` uint8 array.

    Raises:
        ImageError: saying what was received, for anything else.
    """
    if isinstance(image, (str, Path)):
        name = str(image)
        image = read_image(image)
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name}: expected a file path or a NumPy array, got {type(image).__name__}")
    if image.size == 0:
        raise ImageError(f"{name}: empty image of shape {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ImageError(
            f"{name}: expected (H, W) grey, (H, W, 3) BGR or (H, W, 4) BGRA, got an array of shape {image.shape}"
        )
    if image.dtype == np.uint16:
        # Full scale to full scale (65535 -> 255), rounded; 257 * v gives back v exactly.
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if image.dtype != np.uint8:
        hint = (
            "; floats are refused rather than guessing their range: for [0, 1] data use "
            "(img * 255).round().astype(np.uint8)"
            if np.issubdtype(image.dtype, np.floating)
            else ""
        )
        raise ImageError(f"{name}: expected uint8 or uint16 pixels, got {image.dtype}{hint}")
    return image


def _grey_of_array(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)


def to_grey(image: np.ndarray | str | Path, name: str = "image") -> np.ndarray:
    """The network's input: ``(H, W)`` uint8 grey of any image :func:`as_uint8` accepts."""
    if isinstance(image, (str, Path)):
        return read_grey(image)
    return _grey_of_array(as_uint8(image, name))


def to_bgr_grey(image: np.ndarray | str | Path | bytes, name: str = "image") -> tuple[np.ndarray, np.ndarray]:
    """The detector's and the network's inputs: ``(H, W, 3)`` BGR and ``(H, W)`` grey, uint8.

    See :func:`as_uint8` for what ``image`` may be; also the bytes of an encoded image file
    (``name`` then names it in errors). A file is read once and decoded twice, so its grey is
    :func:`read_grey`'s, and its bytes decode exactly as the file does.
    """
    if isinstance(image, (str, Path, bytes)):
        path = Path(name if isinstance(image, bytes) else image)
        data = np.frombuffer(image, dtype=np.uint8) if isinstance(image, bytes) else _file_bytes(path)
        stored = as_uint8(_decode(data, _AS_STORED, path), str(path))
        grey = as_uint8(_decode(data, _GREY, path), str(path))
        return _bgr_of(stored), grey
    image = as_uint8(image, name)
    return _bgr_of(image), _grey_of_array(image)


def _bgr_of(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR) if image.shape[2] == 4 else np.ascontiguousarray(image)


@dataclass
class VideoFrame:
    """One decoded frame of a video: its ``index`` as the container counts frames, its
    presentation ``time`` in seconds (from the container, so a variable frame rate is honoured)
    and the ``(H, W, 3)`` BGR ``image``, turned upright as the container's rotation flag says."""

    index: int
    time: float
    image: np.ndarray


# Reads that fail before the container's frame count is reached, in a row, before a video is
# taken to have ended early (a truncated file) rather than to hold corrupt frames.
MAX_UNREADABLE = 25


def video_frames(
    path: Path | int, warn: Callable[[str], None] | None = None
) -> tuple[Iterator[VideoFrame], int, float]:
    """``(frames, frame count (0: unknown), frames per second)`` of a video file, or of a camera by
    its index.

    A frame that cannot be decoded is skipped, and once the video is read (or given up) ``warn``
    is called once naming the first such frame and their count.
    """
    camera = isinstance(path, int)
    if camera:
        # OpenCV warns once per backend it tries when no camera answers; the error below says it in one line.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        try:
            cap = cv2.VideoCapture(path)
        finally:
            cv2.utils.logging.setLogLevel(level)
    else:
        cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        if camera:
            raise ImageError(f"camera {path}: cannot be opened (no such camera, or it is in use)")
        raise ImageError(f"{path}: cannot be opened as a video (corrupt or unsupported)")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0

    def frames() -> Iterator[VideoFrame]:
        expected, skipped, failures = 0, [], 0
        try:
            while True:
                ok = cap.grab()
                image = cap.retrieve()[1] if ok else None
                position = int(cap.get(cv2.CAP_PROP_POS_FRAMES))
                if image is None:
                    # grab() fails at the end, and on a frame it cannot decode before it.
                    failures += 1
                    if not total or expected >= total or failures > MAX_UNREADABLE:
                        return
                    skipped.append(expected)
                    expected += 1
                    continue
                failures = 0
                index = max(position - 1, expected)
                # The decoder passes over packets it cannot decode: the count jumps.
                skipped.extend(range(expected, index))
                expected = index + 1
                msec = cap.get(cv2.CAP_PROP_POS_MSEC)
                yield VideoFrame(index, msec / 1000.0 if msec > 0 or index == 0 else index / fps, image)
        finally:
            cap.release()
            if skipped and warn is not None:
                warn(
                    f"{path}: {len(skipped)} frame(s) could not be decoded and were skipped "
                    f"(the first: frame {skipped[0]})"
                )

    return frames(), total, fps
