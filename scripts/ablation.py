"""What each training change buys: one change at a time from a common baseline.

Usage:
    python scripts/ablation.py run --data ../shared/data/cuhk_facepoint --runs /work/runs/ablation \\
        --iterations 5000 --only baseline wing        # one lane; start a second lane with other names
    python scripts/ablation.py table --runs /work/runs/ablation   # docs/ablation.json + docs/ablation.md

Every run is ``isnet train`` with the shipped model's architecture (searched beta, 39-pixel
input), seed 0, one CPU thread, and one change. A finished run (``metrics.json``) is
skipped and a stopped one resumed, so lanes can be restarted freely.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# (name, what changes, extra isnet-train arguments)
CHANGES = [
    ("baseline", "shipped recipe: Euclidean loss, Adam 1e-3 cosine, full augmentation and box jitter", []),
    ("wing", "wing loss (w=5, eps=1, in 39-px box pixels) instead of Euclidean", ["--loss", "wing"]),
    ("no_augment", "no augmentation at all", ["--no-augment"]),
    ("no_box_jitter", "augmentation without box shift/scale jitter", ["--box-shift", "0", "--box-scale", "0"]),
    (
        "sgd_step",
        "Caffe-style SGD (lr 0.01, momentum 0.9, step decay) instead of Adam + cosine",
        ["--optimizer", "sgd", "--lr", "0.01", "--momentum", "0.9", "--schedule", "step"],
    ),
    ("input50", "input 50x50 pixels instead of 39x39", ["--input-size", "50"]),
    ("wide", "channels 32-64-96-128 instead of 20-40-60-80", ["--channels", "32", "64", "96", "128"]),
]


def command(name: str, extra: list[str], args: argparse.Namespace) -> list[str]:
    d = Path(args.data)
    out = Path(args.runs) / name
    cmd = [sys.executable, "-m", "isnet.cli", "train", "--train-list", str(d / "trainImageList.txt")]
    cmd += ["--val-list", str(d / "testImageList.txt"), "--iterations", str(args.iterations)]
    cmd += ["--out", str(out), "--threads", "1", "--seed", "0", "--val-every", "500", "--ckpt-every", "500"]
    cmd += ["--quiet"] + (["--cache-dir", args.cache_dir] if args.cache_dir else []) + extra
    if (out / "checkpoint.pt").exists():
        cmd.append("--resume")
    return cmd


def run(args: argparse.Namespace) -> None:
    for name, _, extra in CHANGES:
        if args.only and name not in args.only:
            continue
        if (Path(args.runs) / name / "metrics.json").exists():
            continue
        cmd = command(name, extra, args)
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)


def table(args: argparse.Namespace) -> None:
    rows = []
    for name, what, extra in CHANGES:
        path = Path(args.runs) / name / "metrics.json"
        if not path.exists():
            continue
        m = json.loads(path.read_text())
        rows.append(
            {
                "name": name,
                "change": what,
                "arguments": " ".join(extra),
                "iterations": m["iterations"],
                "euclidean_loss": m["euclidean_loss"],
                "nme_iod": m["nme_iod"],
                "fr_010": m["fr_010"],
                "box_error_per_point": m["box_error_per_point"],
                "loop_seconds": m.get("loop_seconds"),
            }
        )
    (DOCS / "ablation.json").write_text(json.dumps(rows, indent=2))
    base = next((r for r in rows if r["name"] == "baseline"), None)
    lines = [
        "| change | val loss | NME % | FR@0.10 % | box error % (LE, RE, N, LM, RM) | mean box error % | vs baseline |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        mean = 100 * sum(r["box_error_per_point"]) / len(r["box_error_per_point"])
        delta = ""
        if base is not None and r is not base:
            b = 100 * sum(base["box_error_per_point"]) / len(base["box_error_per_point"])
            delta = f"{mean - b:+.3f}"
        per = ", ".join(f"{100 * e:.3f}" for e in r["box_error_per_point"])
        lines.append(
            f"| {r['change']} | {r['euclidean_loss']:.4f} | {100 * r['nme_iod']:.3f} | "
            f"{100 * r['fr_010']:.2f} | {per} | {mean:.3f} | {delta} |"
        )
    (DOCS / "ablation_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("run", "table"))
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "cuhk_facepoint"))
    p.add_argument("--runs", default="/work/runs/ablation")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--iterations", type=int, default=5000)
    p.add_argument("--only", nargs="*", default=None, help="names of CHANGES to run (default: all)")
    args = p.parse_args()
    run(args) if args.action == "run" else table(args)


if __name__ == "__main__":
    main()
