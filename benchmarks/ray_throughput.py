"""Photos per second of ``isnet predict`` on Ray Data against the local engine, on one machine.

Usage: python benchmarks/ray_throughput.py --photos $DATA --small 2000 [--large 0] [--out FILE]
(default --out: benchmarks/results/ray/throughput.json; --large 0: every image found)

Each configuration reads the first ``--small`` and then the first ``--large`` images of the
folder (sorted paths), each run in a fresh process. Steady state is the rate between the two
runs, ``(large - small) / (t_large - t_small)``: start-up (imports, models, Ray and its workers)
cancels out. Start-up is reported on its own: Ray's ``ray.init`` and the time to its first shard.
Configurations: the local engine with its default threads (2) and with one, Ray with one and two
workers (one thread each), shards of 256 images. Memory: the peak resident set of each Ray
worker, sampled every 0.2 s, and of the local process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isnet.imageio import IMAGE_SUFFIXES
from isnet.provenance import write_result
from isnet.raydata import shard_writer_pids

RESULTS = Path(__file__).resolve().parent / "results"


def image_files(folder: Path) -> list[str]:
    return sorted(str(p.resolve()) for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def one_run(engine: str, files: list[str], parallel: int) -> dict:
    """In this process: one run of an engine over ``files``; seconds and what it found."""
    start = time.perf_counter()
    if engine == "local":
        from isnet import cli

        listing = Path(tempfile.mkdtemp()) / "files"
        listing.mkdir()
        # The local engine takes paths on the command line; a folder of links keeps the line short.
        for i, f in enumerate(files):
            (listing / f"{i:06d}{Path(f).suffix}").symlink_to(f)
        rc = cli.main(["predict", str(listing), "-q", "-o", os.devnull, "--threads", str(parallel)])
        if rc != 0:
            raise SystemExit(f"the local engine failed (exit code {rc})")
        return {"seconds": time.perf_counter() - start, "rc": rc}
    from isnet.raydata import predict_files

    out = tempfile.mkdtemp()
    run = predict_files(files, out, fmt="jsonl", shard_size=256, workers=parallel)
    return {"seconds": time.perf_counter() - start, **run.to_dict(), "errors": len(run.errors)}


def measure(engine: str, files: list[str], parallel: int) -> dict:
    """One run in a fresh process, with the peak memory of it (local) or of its Ray workers."""
    args = [sys.executable, __file__, "--one", engine, "--parallel", str(parallel)]
    listing = Path(tempfile.mkdtemp()) / "files.txt"
    listing.write_text("\n".join(files) + "\n")
    proc = subprocess.Popen([*args, "--files", str(listing)], stdout=subprocess.PIPE, text=True)
    peak: dict[int, float] = {}
    while proc.poll() is None:
        for pid in [proc.pid] if engine == "local" else shard_writer_pids():
            peak[pid] = max(peak.get(pid, 0.0), rss_mb(pid))
        time.sleep(0.2)
    result = json.loads(proc.stdout.read().strip().splitlines()[-1])
    result["peak_rss_mb"] = sorted(peak.values(), reverse=True)
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--photos", help="folder of images (searched recursively)")
    p.add_argument("--small", type=int, default=2000)
    p.add_argument("--large", type=int, default=0, help="0: every image found")
    p.add_argument("--out", type=Path, default=RESULTS / "ray" / "throughput.json")
    p.add_argument("--one", choices=("local", "ray"), help=argparse.SUPPRESS)
    p.add_argument("--files", help=argparse.SUPPRESS)
    p.add_argument("--parallel", type=int, default=1, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.one:
        files = Path(a.files).read_text().splitlines()
        print(json.dumps(one_run(a.one, files, a.parallel)))
        return
    files = image_files(Path(a.photos))
    large = files[: a.large] if a.large else files
    small = files[: a.small]
    configs = [("local", 2), ("local", 1), ("ray", 1), ("ray", 2)]
    rows = []
    for engine, parallel in configs:
        s, l_ = measure(engine, small, parallel), measure(engine, large, parallel)
        steady = (len(large) - len(small)) / (l_["seconds"] - s["seconds"])
        row = {
            "engine": engine,
            "threads_or_workers": parallel,
            "small": {"photos": len(small), **s},
            "large": {"photos": len(large), **l_},
            "steady_photos_per_second": steady,
            "whole_run_photos_per_second": len(large) / l_["seconds"],
        }
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("engine", "threads_or_workers", "steady_photos_per_second")}), flush=True)
    local = {r["threads_or_workers"]: r["steady_photos_per_second"] for r in rows if r["engine"] == "local"}
    ray = {r["threads_or_workers"]: r["steady_photos_per_second"] for r in rows if r["engine"] == "ray"}
    out = {
        "photos": {"small": len(small), "large": len(large)},
        "runs": rows,
        "ray_2_workers_over_local_default": ray[2] / local[2],
        "ray_overhead_ms_per_photo_1_worker_vs_local_1_thread": 1000 * (1 / ray[1] - 1 / local[1]),
        "ray_2_over_1_workers": ray[2] / ray[1],
    }
    write_result(a.out, out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
