"""Compare ways of choosing beta at the same trial budget (issue: the paper's search vs the field's).

Usage ($DATA: the CUHK folder, e.g. ../shared/data/cuhk_facepoint; $RUNS: run outputs):
    python benchmarks/compare_beta_search.py --data $DATA --runs $RUNS \\
        --iterations 1000 --trials 14 --random-trials 10 --threads 1

Runs (or resumes: every method is resumable, and finished work is not redone) and compares:
  * surface:  isnet search (the paper's response surface), in RUNS/search_rs
  * tpe:      isnet search --sampler tpe, in RUNS/search_tpe
  * gradient: isnet train --learn-beta from the uniform beta, then a training at the learned
              beta (2 trials), in RUNS/beta_gradient
Writes benchmarks/results/beta_search/methods.json and methods.png: the lowest validation loss reached
after each trial spent, per method. ``--only METHOD`` runs that method alone, so the three
can run as separate processes side by side; every invocation writes the report from the
methods finished so far.
"""

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from isnet.model import load
from isnet.plots import plt
from isnet.provenance import write_result
from isnet.search import SearchConfig, search
from isnet.training import TrainConfig, train_or_continue

RESULTS = Path(__file__).resolve().parent / "results" / "beta_search"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--cache", default=None, help="crop cache folder (default: RUNS/cache)")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--trials", type=int, default=14)
    p.add_argument("--random-trials", type=int, default=10)
    p.add_argument("--phi", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--only", choices=("surface", "tpe", "gradient"), default=None, help="run this method only")
    a = p.parse_args()
    runs = Path(a.runs)
    # Every trial and training: the same data, length and budget; out (and beta) set per run.
    training = TrainConfig(
        train_list=f"{a.data}/trainImageList.txt",
        val_list=f"{a.data}/testImageList.txt",
        cache_dir=str(a.cache or runs / "cache"),
        iterations=a.iterations,
        val_every=a.iterations,
        ckpt_every=500,
        threads=a.threads,
        quiet=True,
    )
    results = {}
    for sampler in ("surface", "tpe"):
        out = runs / f"search_{'rs' if sampler == 'surface' else sampler}"
        if a.only in (None, sampler):
            # A search continues from its study in out: finished trials are not rerun.
            search(
                SearchConfig(
                    training=replace(training, out=str(out)),
                    sampler=sampler,
                    trials=a.trials,
                    random_trials=a.random_trials,
                    phi=a.phi,
                )
            )
        if (out / "summary.json").exists():
            summary = json.loads((out / "summary.json").read_text())
            results[sampler] = [{"beta": r["beta"], "loss": r["loss"]} for r in summary["trials"]]
    grad = runs / "beta_gradient"
    learned, fixed = grad / "learn", grad / "fixed"
    if a.only in (None, "gradient"):
        train_or_continue(replace(training, out=str(learned), learn_beta=True, beta=(0.25, 0.25, 0.25)))
    if (learned / "metrics.json").exists():
        beta = [float(b) for b in load(learned / "model.pt").config.beta]
        first = json.loads((learned / "metrics.json").read_text())["euclidean_loss"]
        if a.only in (None, "gradient"):
            train_or_continue(replace(training, out=str(fixed), beta=tuple(beta)))
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
    write_result(RESULTS / "methods.json", report)
    plot(report, RESULTS / "methods.png")
    for name, m in report["methods"].items():
        print(
            f"{name:>9}: {m['trials_spent']:>2} trials, lowest validation loss {m['best_loss']:.4f} "
            f"at beta ({', '.join(f'{b:.4f}' for b in m['best_beta'])})"
        )


def plot(report: dict, path: Path) -> None:
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
