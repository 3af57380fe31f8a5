"""Landmarks for very many photos on Ray Data: the pieces in Ray's idiom, and the engine behind
``isnet predict --engine ray``.

* :class:`Landmarks`: a callable class for ``Dataset.map_batches``. Each Ray actor builds the
  detector once; a batch of encoded images (``read_binary_files``' ``bytes``) or decoded ones
  (``read_images(mode="RGB")``' ``image``), with their ``path``, gives one row per face with
  the fields of ``isnet predict``'s records, and one row naming each file that cannot be used.
* :func:`predict_files`: the engine. Files are cut into fixed shards (``shard_size`` files in
  the order given); each shard is one ``map_batches`` call of :class:`ShardWriter`, which reads
  its files exactly as the local ``isnet predict`` does (:meth:`LandmarkDetector.detect_files`)
  and writes the shard's records to one file, atomically. A shard file exists only when it is
  complete, so a rerun into the same folder skips the shards already written, and a shard whose
  worker died is read again by Ray's retry and written once.

Ray is an optional extra (``pip install "isnet[ray]"``): this module imports it only when used.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from isnet.api import DetectorSettings
from isnet.imageio import ImageError
from isnet.output import above_quality, record

__all__ = [
    "COLUMNS",
    "check_manifest",
    "INSTALL_HINT",
    "Landmarks",
    "predict_files",
    "RayRun",
    "read_shards",
    "run_manifest",
    "SHARD_FORMATS",
    "ShardWriter",
    "shard_path",
    "shard_writer_pids",
]

INSTALL_HINT = 'the Ray engine needs Ray: pip install "isnet[ray]" (from a clone: pip install -e ".[ray]")'
SHARD_FORMATS = ("jsonl", "parquet")
MANIFEST = "_manifest.json"
# The fields of an ``isnet predict`` record, and ``error`` (the reason a file could not be used).
COLUMNS = ("file", "frame", "track", "box", "score", "quality", "roll", "yaw", "pitch", "landmarks", "error")


def require_ray():
    """The ``ray`` module, or an ``ImportError`` that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return ray


def error_record(file: str, message: str) -> dict:
    """The row of a file that could not be used: its name and why."""
    return {"file": file, "error": message}


def _one_core_each(threads: int | None) -> None:
    # A worker is given one CPU by Ray; OpenCV's own thread pool would reach for every core
    # (the local engine pins it the same way).
    if threads == 1:
        cv2.setNumThreads(1)


def _columns(rows: list[dict]) -> dict[str, list]:
    return {k: [r.get(k) for r in rows] for k in COLUMNS}


class Landmarks:
    """Faces and landmarks of a batch of images, for ``Dataset.map_batches``.

    Args:
        min_quality: leave out faces whose quality is below this.
        **settings: fields of :class:`~isnet.api.DetectorSettings` (``model="ibug68"``,
            ``weights=...``, ``mirror=False``, ...); ``threads`` defaults to 1 (one actor a core).

    Example:
        >>> ds = ray.data.read_binary_files("s3://bucket/photos/", include_paths=True)
        >>> faces = ds.map_batches(Landmarks, concurrency=8, batch_size=16)
        >>> faces.write_parquet("s3://bucket/landmarks/")
    """

    def __init__(self, min_quality: float = 0.0, **settings):
        settings.setdefault("threads", 1)
        _one_core_each(settings["threads"])
        self.detector = DetectorSettings(**settings).build()
        self.min_quality = min_quality

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        """``batch``: ``bytes`` (encoded files) or ``image`` (``(H, W, 3)`` RGB arrays), and
        optionally ``path``. Returns one row per face (columns :data:`COLUMNS`)."""
        if "bytes" in batch:
            images = [bytes(b) for b in batch["bytes"]]
        elif "image" in batch:
            images = [cv2.cvtColor(np.asarray(a), cv2.COLOR_RGB2BGR) if np.ndim(a) == 3 else a for a in batch["image"]]
        else:
            raise ValueError(f"a batch needs a 'bytes' or an 'image' column, got {sorted(batch)}")
        names = [str(p) for p in batch["path"]] if "path" in batch else [f"row {i}" for i in range(len(images))]
        rows: list[dict] = []
        for name, image in zip(names, images):
            try:
                faces = self.detector.detect(image)
            except ImageError as e:
                # The detector names the input "image 0"; the row names the file.
                rows.append(error_record(name, f"{name}: {str(e).split(': ', 1)[-1]}"))
                continue
            rows += [record(name, None, f) for f in above_quality(faces, self.min_quality)]
        return _columns(rows)


def shard_path(folder: Path, index: int, fmt: str) -> Path:
    return Path(folder) / f"part-{index:06d}.{fmt}"


def _records_of_files(detector, paths: list[str], batch_images: int, min_quality: float) -> list[dict]:
    """Records of image files in order, read as the local ``isnet predict`` reads them."""
    rows: list[dict] = []
    batches = detector.detect_files(paths, batch_images, workers=1)
    for start, results in zip(range(0, len(paths), batch_images), batches):
        for path, result in zip(paths[start : start + batch_images], results):
            if isinstance(result, ImageError):
                rows.append(error_record(path, str(result)))
            else:
                rows += [record(path, None, f) for f in above_quality(result[1], min_quality)]
    return rows


def _parquet_schema():
    import pyarrow as pa

    number = pa.float64()
    return pa.schema(
        [
            ("file", pa.string()),
            ("frame", pa.int64()),
            ("track", pa.int64()),
            ("box", pa.list_(number)),
            ("score", number),
            ("quality", number),
            ("roll", number),
            ("yaw", number),
            ("pitch", number),
            ("landmarks", pa.list_(pa.list_(number))),
            ("error", pa.string()),
        ]
    )


def write_shard(path: Path, rows: list[dict], fmt: str) -> None:
    """Write a shard's rows to ``path`` atomically (a temporary file, then a rename): the file
    is whole or absent, and a shard written twice is written the same."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pydict(_columns(rows), schema=_parquet_schema()), tmp)
        else:
            with open(tmp, "w") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_shards(folder: str | Path) -> Iterator[dict]:
    """The rows of a finished (or partly finished) run's shards, in shard order (Parquet rows
    with the keys of a JSON line: ``error`` only on error rows, no ``error`` on faces)."""
    for path in sorted(Path(folder).glob("part-*.*")):
        if path.suffix == ".jsonl":
            with open(path) as f:
                yield from (json.loads(line) for line in f if line.strip())
        elif path.suffix == ".parquet":
            import pyarrow.parquet as pq

            for row in pq.read_table(path).to_pylist():
                if row["error"] is None:
                    row.pop("error")
                    yield row
                else:
                    yield error_record(row["file"], row["error"])


class ShardWriter:
    """A ``map_batches`` class that reads whole shards of files and writes each to its file.

    Args:
        settings: :class:`~isnet.api.DetectorSettings` fields.
        folder: where the shard files go (a local or shared file system).
        fmt: ``jsonl`` or ``parquet``.
        batch_images: images per landmark batch, as ``isnet predict --batch-images``.
        min_quality: as ``isnet predict --min-quality``.
        pause_seconds: wait before each shard (to spare a shared file system; the fault test
            uses it to kill a worker in the middle of a run).
    """

    def __init__(
        self,
        settings: dict,
        folder: str,
        fmt: str,
        batch_images: int = 16,
        min_quality: float = 0.0,
        pause_seconds: float = 0.0,
    ):
        _one_core_each(settings.get("threads"))
        self.detector = DetectorSettings(**settings).build()
        self.folder, self.fmt = Path(folder), fmt
        self.batch_images, self.min_quality = batch_images, min_quality
        self.pause_seconds = pause_seconds

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        """``batch``: ``shard`` (index) and ``paths`` (its files). Returns a row per shard:
        ``shard``, ``photos``, ``faces``, ``errors`` (the error rows' messages)."""
        out: dict[str, list] = {"shard": [], "photos": [], "faces": [], "errors": []}
        for shard, paths in zip(batch["shard"], batch["paths"]):
            time.sleep(self.pause_seconds)
            paths = [str(p) for p in paths]
            rows = _records_of_files(self.detector, paths, self.batch_images, self.min_quality)
            write_shard(shard_path(self.folder, int(shard), self.fmt), rows, self.fmt)
            errors = [r["error"] for r in rows if "error" in r]
            out["shard"].append(int(shard))
            out["photos"].append(len(paths) - len(errors))
            out["faces"].append(len(rows) - len(errors))
            out["errors"].append(errors)
        return out


def shard_writer_pids() -> list[int]:
    """The processes of this machine running a :class:`ShardWriter` actor (Linux: read from
    ``/proc``), to watch their memory or, in the fault test, to kill one."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"ShardWriter" in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@dataclass
class RayRun:
    """What a run did: shards written now and before, photos, faces, the files that could not be
    used; the seconds to start Ray, to the first shard written (start-up: Ray, the workers,
    their models) and in all."""

    shards: int = 0
    shards_written: int = 0
    shards_skipped: int = 0
    photos: int = 0
    faces: int = 0
    errors: list[str] = field(default_factory=list)
    startup_seconds: float = 0.0
    first_shard_seconds: float = 0.0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def run_manifest(
    files: Sequence[str], settings: DetectorSettings, shard_size: int, fmt: str, min_quality: float
) -> dict:
    """What fixes a run's shards: its files in order, the detector, the shard size and format."""
    return {
        "files": list(files),
        "shard_size": shard_size,
        "format": fmt,
        "settings": asdict(settings),
        "min_quality": min_quality,
    }


def check_manifest(folder: Path, manifest: dict) -> None:
    """Refuse a folder holding shards of other inputs or settings; write the manifest otherwise."""
    path = folder / MANIFEST
    if path.exists():
        try:
            before = json.loads(path.read_text())
        except ValueError:
            before = None
        if before != manifest:
            raise ValueError(
                f"{folder} holds the shards of another run (other files, settings or shard size): "
                "choose another --output, or empty it"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, path)


def predict_files(
    files: Sequence[str],
    folder: str | Path,
    settings: DetectorSettings | None = None,
    fmt: str = "jsonl",
    shard_size: int = 256,
    workers: int = 2,
    address: str | None = None,
    batch_images: int = 16,
    min_quality: float = 0.0,
    progress: bool = False,
    pause_seconds: float = 0.0,
) -> RayRun:
    """Landmarks of image ``files`` on Ray Data, written as shards to ``folder``.

    Args:
        files: image paths readable by every worker (a local or shared file system).
        folder: where the shards and the run's manifest go; shards already there are kept.
        settings: the detector every worker builds (``threads`` is set to 1 in each).
        fmt: ``jsonl`` or ``parquet`` shards.
        shard_size: files per shard (the unit of work, of retry and of restart).
        workers: Ray actors reading shards at once (one core each).
        address: a running Ray cluster (``"auto"``, ``"ray://host:10001"``); ``None``: start
            a local Ray with ``workers`` CPUs, shut down at the end.
        progress: Ray Data's progress bars on standard error.
        pause_seconds: :class:`ShardWriter`'s.

    Returns:
        :class:`RayRun`. The shards are read back by :func:`read_shards`.
    """
    if fmt not in SHARD_FORMATS:
        raise ValueError(f"shard format must be one of {SHARD_FORMATS}, got {fmt!r}")
    ray = require_ray()
    folder = Path(folder)
    settings = DetectorSettings(**{**asdict(settings or DetectorSettings()), "threads": 1})
    check_manifest(folder, run_manifest(files, settings, shard_size, fmt, min_quality))
    shards = [list(files[i : i + shard_size]) for i in range(0, len(files), shard_size)]
    pending = [i for i in range(len(shards)) if not shard_path(folder, i, fmt).exists()]
    run = RayRun(shards=len(shards), shards_skipped=len(shards) - len(pending))
    if not pending:
        return run
    start = time.perf_counter()
    started_here = address is None and not ray.is_initialized()
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(
            address=address,
            num_cpus=workers if address is None else None,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.INFO if progress else logging.ERROR,
        )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = progress
    context.print_on_execution_start = False
    run.startup_seconds = time.perf_counter() - start
    try:
        items = [{"shard": i, "paths": shards[i]} for i in pending]
        done = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            ShardWriter,
            fn_constructor_kwargs={
                "settings": asdict(settings),
                "folder": str(folder),
                "fmt": fmt,
                "batch_images": batch_images,
                "min_quality": min_quality,
                "pause_seconds": pause_seconds,
            },
            batch_size=1,
            # Ray Data restarts an actor that dies and retries its task (max_restarts and
            # max_task_retries are -1 for actor pools): the shard is read again, and its file,
            # written whole or not at all, holds every photo once.
            compute=ray.data.ActorPoolStrategy(size=min(workers, len(items))),
            num_cpus=1,
        )
        for row in done.iter_rows():
            if not run.shards_written:
                run.first_shard_seconds = time.perf_counter() - start
            run.shards_written += 1
            run.photos += int(row["photos"])
            run.faces += int(row["faces"])
            run.errors += [str(e) for e in row["errors"]]
    finally:
        if started_here:
            ray.shutdown()
    run.seconds = time.perf_counter() - start
    return run
