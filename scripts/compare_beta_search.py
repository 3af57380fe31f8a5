"""Compare ways of choosing beta at the same trial budget (issue: the paper's search vs the field's).

Usage ($DATA: the CUHK folder, e.g. ../shared/data/cuhk_facepoint; $RUNS: run outputs):
    python scripts/compare_beta_search.py --data $DATA --runs $RUNS \\
        --iterations 1000 --trials 14 --random-trials 10 --threads 1

Runs (or resumes; every method is resumable) and compares:
  * surface:  isnet search (the paper's response surface), in RUNS/search_rs
  * tpe:      isnet search --sampler tpe, in RUNS/search_tpe
  * gradient: isnet train --learn-beta from the uniform beta, then a training at the learned
              beta (2 trials), in RUNS/beta_gradient
Writes docs/beta_search.json and docs/beta_search.png: the lowest validation loss reached
after each trial spent, per method.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def isnet(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "isnet.cli", *args], check=True, cwd=ROOT)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--cache", default=None, help="crop cache folder (default: RUNS/cache)")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--trials", type=int, default=14)
    p.add_argument("--random-trials", type=int, default=10)
    p.add_argument("--phi", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", choices=("surface", "tpe", "gradient"), default=None)
    a = p.parse_args()
    runs = Path(a.runs)
    data = [
        f"--train-list={a.data}/trainImageList.txt",
        f"--val-list={a.data}/testImageList.txt",
        f"--cache-dir={a.cache or runs / 'cache'}",
        f"--iterations={a.iterations}",
        f"--val-every={a.iterations}",
        "--ckpt-every=500",
        f"--threads={a.threads}",
        "--quiet",
    ]
    search = [f"--trials={a.trials}", f"--random-trials={a.random_trials}", f"--phi={a.phi}"]
    results = {}
    for sampler in ("surface", "tpe"):
        out = runs / f"search_{'rs' if sampler == 'surface' else sampler}"
        if a.only in (None, sampler):
            isnet("search", *data, *search, f"--sampler={sampler}", f"--out={out}")
        if (out / "summary.json").exists():
            summary = json.loads((out / "summary.json").read_text())
            results[sampler] = [{"beta": r["beta"], "loss": r["loss"]} for r in summary["trials"]]
    grad = runs / "beta_gradient"
    if a.only in (None, "gradient"):
        learned = grad / "learn"
        if not (learned / "metrics.json").exists():
            resume = ["--resume"] if (learned / "checkpoint.pt").exists() else []
            isnet("train", *data, "--learn-beta", "--beta", "0.25", "0.25", "0.25", f"--out={learned}", *resume)
    if (grad / "learn" / "metrics.json").exists():
        from isnet import load

        beta = [float(b) for b in load(grad / "learn" / "model.pt").config.beta]
        first = json.loads((grad / "learn" / "metrics.json").read_text())["euclidean_loss"]
        fixed = grad / "fixed"
        if a.only in (None, "gradient") and not (fixed / "metrics.json").exists():
            resume = ["--resume"] if (fixed / "checkpoint.pt").exists() else []
            isnet("train", *data, "--beta", *map(str, beta), f"--out={fixed}", *resume)
        rows = [{"beta": beta, "loss": first, "note": "trained with beta learned jointly"}]
        if (fixed / "metrics.json").exists():
            rows.append(
                {
                    "beta": beta,
                    "loss": json.loads((fixed / "metrics.json").read_text())["euclidean_loss"],
                    "note": "retrained at the learned beta",
                }
            )
        results["gradient"] = rows
    report = {"iterations_per_trial": a.iterations, "trial_budget": a.trials, "methods": {}}
    for name, rows in results.items():
        best = np.minimum.accumulate([r["loss"] for r in rows]).tolist()
        i = int(np.argmin([r["loss"] for r in rows]))
        report["methods"][name] = {
            "trials": rows,
            "best_so_far": best,
            "best_loss": rows[i]["loss"],
            "best_beta": rows[i]["beta"],
            "trials_spent": len(rows),
        }
    (ROOT / "docs" / "beta_search.json").write_text(json.dumps(report, indent=2))
    plot(report, ROOT / "docs" / "beta_search.png")
    for name, m in report["methods"].items():
        print(
            f"{name:>9}: {m['trials_spent']:>2} trials, lowest validation loss {m['best_loss']:.4f} "
            f"at beta ({', '.join(f'{b:.4f}' for b in m['best_beta'])})"
        )


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=100)
    for name, m in report["methods"].items():
        ax.plot(range(1, len(m["best_so_far"]) + 1), m["best_so_far"], "o-", label=name, ms=3)
    ax.set_xlabel("trials spent")
    ax.set_ylabel("lowest validation loss so far")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
