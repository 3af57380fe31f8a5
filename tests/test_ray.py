"""``isnet predict --engine ray`` and :mod:`isnet.raydata`: the same records as the local engine,
shards that survive a rerun and a killed worker, and a clear word when Ray is missing."""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from isnet import cli
from isnet.assets import demo_list
from isnet.data import read_sun_list

ray = pytest.importorskip("ray", reason='Ray is an optional extra: pip install -e ".[ray]" (CI installs it)')

from isnet.api import DetectorSettings  # noqa: E402
from isnet.raydata import (  # noqa: E402
    Landmarks,
    check_manifest,
    predict_files,
    read_shards,
    run_manifest,
    shard_path,
    shard_writer_pids,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """24 demo photos and one file that is not an image."""
    folder = tmp_path_factory.mktemp("photos")
    for s in read_sun_list(demo_list("val"))[:24]:
        (folder / s.image.name).write_bytes(s.image.read_bytes())
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


@pytest.fixture(scope="module")
def local_records(photos) -> list[dict]:
    out = photos.parent / "local.jsonl"
    assert cli.main(["predict", str(photos), "--quiet", "--output", str(out)]) == 2  # broken.jpg
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (two CPUs), shut down after it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def same_records(a: list[dict], b: list[dict]) -> None:
    assert [(r["file"], r["box"]) for r in a] == [(r["file"], r["box"]) for r in b]
    for x, y in zip(a, b):
        np.testing.assert_allclose(x["landmarks"], y["landmarks"], atol=0.01)
        assert {k: v for k, v in x.items() if k != "landmarks"} == {k: v for k, v in y.items() if k != "landmarks"}


def test_the_ray_engine_prints_the_local_records(local_ray, photos, local_records, capsys):
    rc = cli.main(["predict", str(photos), "--engine", "ray", "--workers", "2", "--shard-size", "5", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 2 and "broken.jpg: cannot be decoded" in err  # named, and the others all read
    same_records([json.loads(line) for line in out.splitlines()], local_records)


def test_shards_hold_the_local_records_and_a_rerun_writes_only_what_is_missing(
    local_ray, photos, local_records, tmp_path
):
    fmt = "parquet"  # JSON lines shards: the other tests
    files = sorted(str(p) for p in photos.iterdir())
    run = predict_files(files, tmp_path, fmt=fmt, shard_size=7, workers=2)
    assert (run.shards, run.shards_written, run.shards_skipped) == (4, 4, 0)
    assert run.errors == [f"{photos / 'broken.jpg'}: cannot be decoded (corrupt or not an image)"]
    rows = list(read_shards(tmp_path))
    same_records([r for r in rows if "error" not in r], local_records)
    shard_path(tmp_path, 2, fmt).unlink()  # as if the job had died before this shard
    again = predict_files(files, tmp_path, fmt=fmt, shard_size=7, workers=2)
    assert (again.shards_written, again.shards_skipped) == (1, 3)
    assert list(read_shards(tmp_path)) == rows


def test_a_folder_of_another_run_is_refused(photos, tmp_path, capsys):
    files = sorted(str(p) for p in photos.glob("*.jpg"))[:4]
    check_manifest(tmp_path, run_manifest(files, DetectorSettings(threads=1), 2, "jsonl", 0.0))
    rc = cli.main(["predict", *files[:3], "--engine", "ray", "--output", str(tmp_path), "--quiet"])
    assert rc == 2 and "holds the shards of another run" in capsys.readouterr().err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's worker processes in /proc")
def test_a_killed_worker_loses_no_photo_and_writes_none_twice(local_ray, photos, local_records, tmp_path):
    files = sorted(str(p) for p in photos.iterdir())
    result = {}
    job = threading.Thread(
        target=lambda: result.update(
            run=predict_files(files, tmp_path, fmt="jsonl", shard_size=2, workers=2, pause_seconds=0.5)
        )
    )
    job.start()
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("part-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = shard_writer_pids()
    assert pids, "no Ray worker running ShardWriter was found"
    os.kill(pids[0], signal.SIGKILL)
    job.join(timeout=300)
    assert not job.is_alive()
    run = result["run"]
    assert run.shards == 13 and len(list(tmp_path.glob("part-*.jsonl"))) == 13
    rows = list(read_shards(tmp_path))
    faces = [r for r in rows if "error" not in r]
    # Every photo once: the records are the local run's, none missing and none repeated.
    same_records(faces, local_records)
    assert [r["file"] for r in rows if "error" in r] == [str(photos / "broken.jpg")]


def test_the_map_batches_class_gives_one_row_per_face(local_ray, photos, local_records):
    paths = sorted(str(p) for p in photos.iterdir())
    ds = ray.data.from_items([{"path": p, "bytes": Path(p).read_bytes()} for p in paths])
    rows = ds.map_batches(Landmarks, batch_size=8, compute=ray.data.ActorPoolStrategy(size=1)).take_all()
    errors = [r for r in rows if r["error"] is not None]
    assert [r["file"] for r in errors] == [str(photos / "broken.jpg")]
    faces = [{k: v for k, v in r.items() if k != "error"} for r in rows if r["error"] is None]
    for r in faces:
        r["box"] = list(r["box"])
        r["landmarks"] = [list(p) for p in r["landmarks"]]
    same_records(sorted(faces, key=lambda r: r["file"]), sorted(local_records, key=lambda r: r["file"]))
