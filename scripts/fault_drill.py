"""Run the kill-and-resume tests with many kills and collect their figures.

Usage: python scripts/fault_drill.py [KILLS [SEED]]   (default 20 kills, kill points drawn with seed 0)

Kills land on observed progress: a training is killed once its checkpoint reaches each of KILLS
checkpoint iterations drawn with SEED; a search worker once it has a trial of its own running.
Writes benchmarks/results/reliability/kill_drills.json: per drill, the kills, restarts, trials
retried, and whether the result matched the uninterrupted run. The assertions are the tests' own
(tests/test_faults.py).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isnet.provenance import write_result

ROOT = Path(__file__).resolve().parents[1]


def main(kills: int, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.jsonl"
        env = {**os.environ, "ISNET_KILLS": str(kills), "ISNET_FAULT_REPORT": str(report), "ISNET_KILL_SEED": str(seed)}
        t0 = time.time()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "tests/test_faults.py", "-k", "killed"], cwd=ROOT, env=env
        )
        rows = [json.loads(line) for line in report.read_text().splitlines()] if report.exists() else []
    out = {
        "kills_requested": kills,
        "kill_seed": seed,
        "pytest_exit_code": done.returncode,
        "seconds": time.time() - t0,
        "drills": rows,
    }
    write_result(ROOT / "benchmarks" / "results" / "reliability" / "kill_drills.json", out)
    print(json.dumps(out, indent=2))
    sys.exit(done.returncode)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20, int(sys.argv[2]) if len(sys.argv) > 2 else 0)
