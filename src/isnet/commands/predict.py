"""``isnet predict``: faces and their landmarks in images, folders (recursive) and videos."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
from tqdm import tqdm

from isnet import options
from isnet.api import BACKENDS, DetectorSettings, Face, LandmarkDetector
from isnet.assets import installed_models
from isnet.detectors import DETECTION_SIDE
from isnet.imageio import IMAGE_SUFFIXES, VIDEO_SUFFIXES, ImageError, video_frames
from isnet.output import RecordWriter, above_quality, draw_faces
from isnet.placement import PLACEMENTS
from isnet.schemes import Scheme
from isnet.smoothing import SmoothingConfig
from isnet.tracking import TrackerConfig

# Detection on a smaller image than this finds nothing: YuNet's smallest anchor is 10 pixels at stride 8.
MIN_DETECTION_SIDE = 32


@dataclass
class Input:
    """One file to process: ``path``, where ``--draw`` output goes (``rel``), and if it is a video."""

    path: Path
    rel: Path
    video: bool
    camera: int | None = None


def list_inputs(paths: Sequence[str], errors: list[str], skipped: list[Path] | None = None) -> list[Input]:
    """Files named on the command line, folders searched recursively for images and videos.

    Paths that do not exist are reported in ``errors`` and left out; files in folders whose
    suffix is neither an image's nor a video's go to ``skipped``.
    """
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file())
            found = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES]
            if skipped is not None:
                skipped += [f for f in files if f.suffix.lower() not in IMAGE_SUFFIXES + VIDEO_SUFFIXES]
            out += [Input(f, Path(p.name) / f.relative_to(p), f.suffix.lower() in VIDEO_SUFFIXES) for f in found]
        elif p.is_file():
            out.append(Input(p, Path(p.name), p.suffix.lower() in VIDEO_SUFFIXES))
        elif str(p).isdigit():
            # A camera index (isnet predict 0) where no file of that name exists.
            out.append(Input(p, Path(f"camera{p}.mp4"), True, int(str(p))))
        else:
            errors.append(f"{p}: no such file or folder")
    return with_unique_names(out)


def with_unique_names(items: list[Input]) -> list[Input]:
    """``items`` named below the inputs' common folder where their own names would clash
    (``a/face.jpg`` and ``b/face.jpg`` draw to ``a/face.jpg`` and ``b/face.jpg``, not both to ``face.jpg``)."""
    names = [i.rel for i in items]
    if len(set(names)) == len(names):
        return items
    full = [Path(os.path.abspath(i.path)) for i in items]
    common = Path(os.path.commonpath([f.parent for f in full]))
    return [Input(i.path, f.relative_to(common), i.video, i.camera) for i, f in zip(items, full)]


def drawing_path(item: Input, folder: str | Path) -> Path:
    """Where ``--draw`` writes an input's annotated copy: its name below ``folder``, a video as
    ``.mp4``, an image in a format OpenCV cannot write as ``.png``."""
    dest = Path(folder) / item.rel
    if item.video:
        return dest.with_suffix(".mp4")
    if dest.suffix.lower() not in (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"):
        return dest.with_suffix(".png")
    return dest


def check_drawings(items: list[Input], folder: str | Path) -> None:
    """Refuse, before any work, a ``--draw`` folder that cannot be written, and inputs whose
    drawings would overwrite each other (the same file named twice, or ``face.gif`` beside ``face.png``)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except FileExistsError:
        raise PredictError(f"--draw {folder}: a file, not a folder") from None
    except NotADirectoryError:
        raise PredictError(f"--draw {folder}: a file stands in its path, so it cannot be a folder") from None
    except OSError as e:
        raise PredictError(f"--draw {folder}: cannot write there ({e.strerror or e})") from None
    seen: dict[Path, Path] = {}
    for item in items:
        dest = drawing_path(item, folder)
        if dest in seen:
            raise PredictError(f"--draw: {seen[dest]} and {item.path} would both be drawn to {dest}")
        seen[dest] = item.path


def _chunks(it, n: int) -> Iterator[list]:
    chunk = []
    for x in it:
        chunk.append(x)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Tally:
    """What ``isnet predict`` did with its inputs, for the summary on standard error."""

    images: int = 0
    frames: int = 0
    videos: int = 0
    faces: int = 0
    below_quality: int = 0
    no_face: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: inputs read, faces found, images without a face, inputs not processed, files skipped."""
        parts = [
            f"{_count(self.images, 'image')} and {_count(self.videos, 'video')} read, {_count(self.faces, 'face')}"
        ]
        if self.below_quality:
            parts.append(f"{_count(self.below_quality, 'face')} below --min-quality left out")
        if self.no_face:
            parts.append(f"no face in {_count(len(self.no_face), 'image')} ({_names(self.no_face)})")
        if self.errors:
            parts.append(f"{_count(len(self.errors), 'input')} not processed (listed above)")
        if self.skipped:
            parts.append(
                f"{_count(len(self.skipped), 'file')} skipped as not images or videos ({_names(self.skipped)})"
            )
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return asdict(self)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _names(paths: list[str], shown: int = 5) -> str:
    names = ", ".join(paths[:shown])
    return names + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def trusted(faces: list[Face], min_quality: float, tally: Tally) -> list[Face]:
    """The faces whose quality reaches ``min_quality``; the others are counted in ``tally``."""
    kept = above_quality(faces, min_quality)
    tally.below_quality += len(faces) - len(kept)
    return kept


def process_video(det: LandmarkDetector, item: Input, writer: RecordWriter, args: argparse.Namespace, tally: Tally):
    """Write the records of every frame of a video (and an annotated copy with ``--draw``): each
    face followed from frame to frame (:meth:`LandmarkDetector.track`), or with ``--no-track`` every
    frame read alone. Records are written as each frame is read, so a video that ends early or
    breaks off loses none already computed."""
    source = item.camera if item.camera is not None else item.path
    decoded, total, fps = video_frames(source, _warn)
    # One decode feeds the reading, its clock, and the records and drawings of each frame read.
    for_reading, for_clock, for_records = itertools.tee(decoded, 3)
    images = (f.image for f in for_reading)
    video_out = None
    n = 0
    bar = tqdm(
        total=total or None, desc=item.path.name, unit="frame", leave=False, disable=True if args.quiet else None
    )
    if args.no_track:
        faces_of_frames = (faces for chunk in _chunks(images, args.batch_images) for faces in det.detect_batch(chunk))
    else:
        smoothing = SmoothingConfig(
            min_cutoff=args.smooth_min_cutoff,
            beta=args.smooth_beta,
            predict=not args.smooth_plain,
            shape_min_cutoff=args.smooth_shape_min_cutoff,
        )
        config = TrackerConfig(detect_every=args.detect_every, smooth=not args.no_smooth, smoothing=smoothing)
        faces_of_frames = det.track(images, (f.time for f in for_clock), config)
    try:
        for faces, frame in zip(faces_of_frames, for_records):
            faces = trusted(faces, args.min_quality, tally)
            for f in faces:
                writer.write(str(item.path), frame.index, f)
            tally.faces += len(faces)
            if args.draw:
                if video_out is None:
                    dest = drawing_path(item, args.draw)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    size = (frame.image.shape[1], frame.image.shape[0])
                    video_out = cv2.VideoWriter(str(dest), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                video_out.write(draw_faces(frame.image, faces, det.scheme))
            n += 1
            bar.update(1)
    finally:
        bar.close()
        if video_out is not None:
            video_out.release()
    if n == 0:
        raise ImageError(f"{item.path}: opened as a video but no frame could be read")
    tally.videos += 1
    tally.frames += n


def write_images(
    items: list[Input], results: list, writer: RecordWriter, args: argparse.Namespace, tally: Tally, scheme: Scheme
) -> None:
    """Write the records (and drawings) of a batch of images; unreadable ones go to ``tally.errors``."""
    for item, result in zip(items, results):
        if isinstance(result, ImageError):
            tally.errors.append(str(result))
            _warn(str(result))
            continue
        bgr, faces = result
        faces = trusted(faces, args.min_quality, tally)
        for f in faces:
            writer.write(str(item.path), None, f)
        tally.images += 1
        tally.faces += len(faces)
        if not faces:
            tally.no_face.append(str(item.path))
        if args.draw:
            dest = drawing_path(item, args.draw)
            dest.parent.mkdir(parents=True, exist_ok=True)
            ok, data = cv2.imencode(dest.suffix, draw_faces(bgr, faces, scheme))
            if not ok:
                raise OSError(f"{dest}: cannot encode the annotated image")
            data.tofile(dest)


def _warn(message: str) -> None:
    # Through tqdm, so that a message does not tear a progress bar on the same stream.
    tqdm.write(f"isnet predict: {message}", file=sys.stderr)


class PredictError(ValueError):
    """Some inputs could not be read (the others were processed), or there was nothing to read."""


def add_output_options(p: argparse.ArgumentParser) -> None:
    """Where the records and drawings go."""
    p.add_argument(
        "--format",
        default="jsonl",
        choices=("jsonl", "csv", "parquet"),
        help="record format (parquet: --engine ray with --output DIR)",
    )
    p.add_argument(
        "--output",
        "-o",
        default=None,
        help="write records to this file (None: standard output); --engine ray: a folder of shards",
    )
    p.add_argument(
        "--draw",
        default=None,
        metavar="DIR",
        help="write annotated images (and videos) here, named as the inputs (below their common folder "
        "where two names would clash); checked before any work",
    )


def add_pipeline_options(p: argparse.ArgumentParser) -> None:
    """How faces are found and read: detector, network backend, upright step, placement."""
    p.add_argument(
        "--backend", default="auto", choices=BACKENDS, help="network backend (auto: onnx when onnxruntime is installed)"
    )
    p.add_argument(
        "--score-threshold",
        type=options.FRACTION,
        default=0.6,
        help="YuNet's minimum detection score; boxes wholly outside the photo are dropped, those partly "
        "outside kept (the part outside read as the photo's edge repeated)",
    )
    p.add_argument(
        "--max-side",
        type=options.IntRange(MIN_DETECTION_SIDE, special=(0,), meaning="0: never shrink"),
        default=DETECTION_SIDE,
        help="detect on images shrunk to this longer side; faces under about a tenth of it are lost "
        "(for group photos raise it, or 0: full resolution, a photo over 1024 px read in overlapping tiles)",
    )
    p.add_argument(
        "--min-quality",
        type=options.FRACTION,
        default=0.0,
        help="leave out faces whose quality (estimated chance of a good fit) is below this",
    )
    p.add_argument(
        "--rotations",
        action="store_true",
        help="for photos held sideways or upside down: also search each photo turned by 90, 180 and 270 "
        "degrees (the detector's work doubles)",
    )
    p.add_argument(
        "--no-upright",
        action="store_true",
        help="one pass on the detector's frame instead of the upright step (no quality, no roll)",
    )
    p.add_argument(
        "--no-mirror",
        action="store_true",
        help="read each view once instead of plain and mirrored (faster, less accurate: README, the pipeline)",
    )
    p.add_argument(
        "--no-regions",
        action="store_true",
        help="skip the region networks that read the 68-point model's jaw, brows and eyes, nose and mouth "
        "again in their own views (faster, less accurate: README, 68 points)",
    )
    p.add_argument(
        "--placement",
        default=None,
        choices=PLACEMENTS,
        help="where five points go: cuhk (CUHK's hand-placed pupils) or 300w (300-W's means of the eyes' "
        "contours); default: the model's own (cuhk5: cuhk, ibug68: 300w)",
    )


def add_engine_options(p: argparse.ArgumentParser) -> None:
    """The engine that reads the images: this process, or Ray Data workers."""
    p.add_argument(
        "--engine",
        default="local",
        choices=("local", "ray"),
        help="local: this process; ray: Ray Data workers (images only; pip install 'isnet[ray]'), "
        "results in shards of --output DIR, a rerun skipping the shards already written",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        help="--engine ray: a running Ray cluster ('auto', 'ray://head:10001'); default: start a local Ray",
    )
    p.add_argument(
        "--workers",
        type=options.POSITIVE,
        default=os.cpu_count() or 1,
        help="--engine ray: workers reading shards at once, one core each",
    )
    p.add_argument(
        "--shard-size",
        type=options.POSITIVE,
        default=256,
        help="--engine ray: images per shard (the unit of work, of retry and of restart)",
    )


def add_video_options(p: argparse.ArgumentParser) -> None:
    """How videos are read: tracking and smoothing."""
    p.add_argument(
        "--no-track",
        action="store_true",
        help="videos: read every frame alone (detector and upright step on each) instead of following "
        "each face from the frame before; records then carry no track id",
    )
    p.add_argument(
        "--detect-every",
        type=options.POSITIVE,
        default=TrackerConfig.detect_every,
        help="videos: frames between detector runs while faces are followed (new faces are found this "
        "often; the detector also runs at once when a track is lost)",
    )
    p.add_argument("--no-smooth", action="store_true", help="videos: show the points as read, not filtered over time")
    smoothing = SmoothingConfig()
    p.add_argument(
        "--smooth-min-cutoff",
        type=options.POSITIVE_FLOAT,
        default=smoothing.min_cutoff,
        help="videos: One-Euro cutoff (Hz) of the face's position, size and roll when still or moving "
        "steadily: lower is steadier but slower to follow a change of motion",
    )
    p.add_argument(
        "--smooth-beta",
        type=options.NON_NEGATIVE,
        default=smoothing.beta,
        help="videos: how fast the cutoff rises when the face's motion surprises the filter (in face "
        "sizes a second): higher lags less behind starts, stops and turns, lower is steadier",
    )
    p.add_argument(
        "--smooth-plain",
        action="store_true",
        help="videos: the plain One-Euro filter of the face's position (its cutoff rises with the speed) "
        "instead of filtering about the position carried on at the face's speed",
    )
    p.add_argument(
        "--smooth-shape-min-cutoff",
        type=options.POSITIVE_FLOAT,
        default=smoothing.shape_min_cutoff,
        help="videos: One-Euro cutoff (Hz) of the points' shape in the face's own frame (expression)",
    )


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet predict",
        add_help=add_help,
        description="Find faces and their landmarks (five, or 68 with a 68-point model) in images, folders "
        "(recursive) and videos. "
        "One record per face on stdout: file, frame (null for images), box [x, y, w, h], score, quality, "
        "roll, landmarks. "
        "A summary line on stderr counts the images read, the faces found, the images without a face "
        "(named), the inputs that could not be processed and the files skipped as not images or videos.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="image, video or folder")
    p.add_argument(
        "--model",
        default="cuhk5",
        choices=installed_models(),
        help="shipped model: cuhk5 (five points), ibug68 (68 points) when installed",
    )
    p.add_argument("--weights", default=None, help="landmark model file instead of a shipped --model")
    add_output_options(p)
    add_pipeline_options(p)
    add_video_options(p)
    add_engine_options(p)
    p.add_argument("--batch-images", type=options.POSITIVE, default=16, help="images or frames per landmark batch")
    p.add_argument("--threads", type=options.THREADS, default=0, help="CPU threads (0: the libraries' default)")
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress bars and no summary line (bars are drawn only on a terminal)",
    )
    return p


def settings_of(args: argparse.Namespace) -> DetectorSettings:
    """The detector the options describe."""
    return DetectorSettings(
        weights=args.weights,
        model=args.model,
        backend=args.backend,
        threads=options.threads_or_none(args.threads),
        score_threshold=args.score_threshold,
        max_side=args.max_side or None,
        upright=not args.no_upright,
        all_turns=args.rotations,
        placement=args.placement,
        mirror=not args.no_mirror,
        regions=not args.no_regions,
    )


def check_engine_options(args: argparse.Namespace) -> None:
    """Refuse combinations of options that an engine cannot honour, before any work."""
    if args.engine == "local":
        if args.format == "parquet":
            raise PredictError("--format parquet needs --engine ray (with --output DIR)")
        if args.output:
            try:
                options.new_file(args.output)
            except argparse.ArgumentTypeError as e:
                raise PredictError(f"--output: {e}") from None
        return
    if args.format == "csv":
        raise PredictError("--engine ray writes jsonl or parquet, not csv")
    if args.format == "parquet" and not args.output:
        raise PredictError("--format parquet needs --output DIR (a folder for the shards)")
    if args.output and Path(args.output).is_file():
        raise PredictError(f"--output {args.output}: --engine ray writes a folder of shards, and this is a file")
    if args.draw:
        raise PredictError("--draw is not supported with --engine ray")
    from isnet.raydata import require_ray

    require_ray()


def main_ray(args: argparse.Namespace, items: list[Input], tally: Tally) -> dict:
    """``isnet predict --engine ray``: images through :func:`isnet.raydata.predict_files`."""
    from isnet.raydata import predict_files, read_shards

    videos = [str(i.path) for i in items if i.video]
    if videos:
        raise PredictError(f"--engine ray reads images; read videos with the local engine ({_names(videos)})")
    files = [str(i.path) for i in items]
    folder = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="isnet-ray-"))
    run = predict_files(
        files,
        folder,
        settings_of(args),
        fmt=args.format,
        shard_size=args.shard_size,
        workers=args.workers,
        address=args.ray_address,
        batch_images=args.batch_images,
        min_quality=args.min_quality,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    n_inputs = len(items) + len(tally.errors)
    if args.output:
        # The shards stay where they are; the counts are those of the shards written now.
        errors, faces, images = run.errors, run.faces, run.photos
    else:
        errors, faces = [], 0
        for row in read_shards(folder):
            if "error" in row:
                errors.append(row["error"])
                continue
            faces += 1
            sys.stdout.write(json.dumps(row) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        images = len(files) - len(errors)
    for e in errors:
        _warn(e)
    tally.errors += errors
    tally.images, tally.faces = images, faces
    if not args.quiet:
        where = f" in {folder}" if args.output else ""
        _warn(
            f"{_count(images, 'image')} read, {_count(faces, 'face')}; ray: {run.shards_written} of "
            f"{_count(run.shards, 'shard')} written now{where}, {run.shards_skipped} there before"
            + (f"; first shard after {run.first_shard_seconds:.1f} s" if run.shards_written else "")
            + (f"; {_count(len(errors), 'input')} not processed (listed above)" if errors else "")
        )
    if tally.errors:
        raise PredictError(f"{len(tally.errors)} of {n_inputs} inputs could not be used (listed above)")
    return {"inputs": n_inputs, "ray": run.to_dict(), **tally.to_dict()}


def main(args: argparse.Namespace) -> dict:
    """Run ``isnet predict``; raises :class:`PredictError` at the end if any input was unusable."""
    check_engine_options(args)
    threads = options.threads_or_none(args.threads)
    # Images are decoded and detected on `threads` threads at once, one image each.
    cv2.setNumThreads(1)
    tally = Tally()
    skipped: list[Path] = []
    items = list_inputs(args.paths, tally.errors, skipped)
    tally.skipped = [str(p) for p in skipped]
    if not items:
        # One line saying why: not each missing path and then again that nothing was found.
        if len(tally.errors) == len(args.paths):
            raise PredictError("; ".join(tally.errors))
        found = f"; {_count(len(skipped), 'file')} skipped ({_names(tally.skipped)})" if skipped else ""
        missing = f" ({'; '.join(tally.errors)})" if tally.errors else ""
        raise PredictError(f"no images or videos found in {' '.join(args.paths)}{missing}{found}")
    for e in tally.errors:
        _warn(str(e))
    if args.engine == "ray":
        return main_ray(args, items, tally)
    if args.draw:
        check_drawings(items, args.draw)
    det = settings_of(args).build()
    if args.min_quality > 0 and det.roll_model is None:
        raise PredictError("--min-quality needs the upright step, which gives faces their quality (drop --no-upright)")
    n_inputs = len(items) + len(tally.errors)
    stream = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = RecordWriter(stream, args.format, det.scheme.points)
        images = [i for i in items if not i.video]
        show = not args.quiet and (len(images) > 1 or any(Path(p).is_dir() for p in args.paths))
        with tqdm(total=len(images), desc="images", unit="image", leave=False, disable=None if show else True) as bar:
            # Two threads decode and detect while the landmark step runs on the batch before.
            batches = det.detect_files([i.path for i in images], args.batch_images, workers=threads or 2)
            for chunk, results in zip(_chunks(images, args.batch_images), batches):
                write_images(chunk, results, writer, args, tally, det.scheme)
                bar.update(len(chunk))
        for item in (i for i in items if i.video):
            try:
                process_video(det, item, writer, args, tally)
            except ImageError as e:
                tally.errors.append(str(e))
                _warn(str(e))
    except BrokenPipeError:
        if args.output:
            raise
        # The reader stopped early (isnet predict ... | head): not an error. Point stdout
        # at /dev/null so Python's final flush does not fail on the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return {"inputs": n_inputs, **tally.to_dict()}
    finally:
        if args.output:
            stream.close()
    if not args.quiet:
        _warn(tally.summary())
    if tally.errors:
        raise PredictError(f"{len(tally.errors)} of {n_inputs} inputs could not be used (listed above)")
    return {"inputs": n_inputs, **tally.to_dict()}
