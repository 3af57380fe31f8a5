"""Training throughput (samples/s) with each input path, and with 1 and 2 processes.

Usage: python benchmarks/bench_input.py --data $DATA --iterations 150 [--out FILE]
($DATA: the CUHK folder, e.g. ../shared/data/cuhk_facepoint.) Writes
benchmarks/results/speed/training_input.json (or --out) and prints a table. Every configuration trains the same
model on trainImageList.txt for the same iterations (validation on the small demo list,
so it costs little); samples/s counts the training loop only, not the one-off crop build,
whose time is reported separately.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isnet.assets import demo_list
from isnet.provenance import write_result

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def run(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--out", type=Path, default=RESULTS / "speed" / "training_input.json", help="JSON file to write")
    a = p.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        base = [
            "-m",
            "isnet.cli",
            "train",
            f"--train-list={a.data}/trainImageList.txt",
            f"--val-list={demo_list('val')}",
            f"--iterations={a.iterations}",
            f"--val-every={a.iterations}",
            f"--ckpt-every={a.iterations}",
            "--quiet",
        ]
        configs = [
            ("decoded once into memory (no cache)", 1, ["--threads=1"]),
            ("memory-mapped cache, first run (builds it)", 1, ["--threads=1", f"--cache-dir={cache}"]),
            ("memory-mapped cache", 1, ["--threads=1", f"--cache-dir={cache}"]),
            ("memory-mapped cache, 1 loader worker", 1, ["--threads=1", f"--cache-dir={cache}", "--loader-workers=1"]),
            ("streamed JPEG decoding, no loader worker", 1, ["--threads=1", "--stream"]),
            ("streamed JPEG decoding, 1 loader worker", 1, ["--threads=1", "--stream", "--loader-workers=1"]),
            ("streamed JPEG decoding, 2 loader workers", 1, ["--threads=1", "--stream", "--loader-workers=2"]),
            ("memory-mapped cache, 1 process x 2 threads", 1, ["--threads=2", f"--cache-dir={cache}"]),
            ("memory-mapped cache, 2 processes (DDP, gloo) x 1 thread", 2, ["--threads=1", f"--cache-dir={cache}"]),
        ]
        for i, (name, procs, extra) in enumerate(configs):
            out = Path(tmp) / f"run{i}"
            launcher = (
                [sys.executable]
                if procs == 1
                else [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
            )
            wall = run([*launcher, *base, f"--out={out}", *extra], env)
            m = json.loads((out / "metrics.json").read_text())
            rows.append(
                {
                    "input": name,
                    "processes": procs,
                    "samples_per_s": m["samples_per_s"],
                    "loop_seconds": m["loop_seconds"],
                    "wall_seconds": wall,
                }
            )
            print(f"{name:<58} {procs}  {m['samples_per_s']:8.1f} samples/s  (wall {wall:.1f} s)", flush=True)
    write_result(a.out, {"iterations": a.iterations, "batch_size": 64, "rows": rows})


if __name__ == "__main__":
    main()
