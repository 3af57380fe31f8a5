"""Reproduce the paper's comparison (Table 3, Fig. 2, Fig. 3) and write docs/RESULTS.md.

Usage ($DATA: the CUHK folder, e.g. ../shared/data/cuhk_facepoint; $RUNS: run outputs):
    python benchmarks/make_results.py --data $DATA --runs $RUNS/compare \\
        --iterations 5000 --seeds 0 1 2 --parallel 2

Trains IS-Net (the shipped default beta unless --beta is given) and the plain CNN with
identical settings for every seed, --parallel trainings at a time in worker processes
(``isnet.training.train_or_continue``: a run already started is resumed, one already
finished skipped), evaluates each on the training and validation lists, times both
networks per face in one process, and writes docs/RESULTS.md and, in
benchmarks/results/compare/, paper_cuhk5.json, fig2_curves.png and fig3_faces.png. Re-running it
regenerates everything from the finished runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch

from isnet.benchmark import measure
from isnet.commands.train import config_changes
from isnet.data import face_crops, read_sun_list
from isnet.evaluation import evaluate_list
from isnet.inference import ground_truth, predict_crops
from isnet.metrics import SUN_CASCADE, SUN_LEVEL1
from isnet.model import ISNetConfig, load
from isnet.plots import plot_loss_curves, plt
from isnet.provenance import write_result
from isnet.schemes import CUHK5
from isnet.training import TrainConfig, train_or_continue

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RESULTS = ROOT / "benchmarks" / "results" / "compare"
FIGURES = "../benchmarks/results/compare/"  # the figures as docs/RESULTS.md links them
NETS = ("isnet", "cnn")
METRICS = ("euclidean_loss", "nme_iod", "fr_010", "auc_010")
KEEP_MARKER = "<!-- kept by make_results.py -->"


def run_all(configs: list[TrainConfig], parallel: int) -> None:
    """Finish every run, ``parallel`` worker processes at a time.

    On the first failure the runs not yet started are dropped, the running ones finish, and
    the script stops; running it again continues where they were.
    """
    if parallel <= 1:
        for config in configs:
            train_or_continue(config)
        return
    with ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(train_or_continue, config): config for config in configs}
        for future in as_completed(futures):
            if future.exception() is not None:
                for f in futures:
                    f.cancel()
                print(f"{futures[future].out} failed; waiting for the trainings still running", flush=True)
                raise SystemExit(f"{futures[future].out}: {future.exception()}")


def train_configs(a, beta: list[float]) -> list[TrainConfig]:
    """Every run: both networks, every seed, identical settings (``--train-args`` over the script's own)."""
    extra = config_changes(a.train_args)
    configs = []
    for seed in a.seeds:
        for net in NETS:
            common = dict(
                train_list=f"{a.data}/trainImageList.txt",
                val_list=f"{a.data}/testImageList.txt",
                cache_dir=a.cache,
                iterations=a.iterations,
                val_every=a.val_every,
                ckpt_every=a.val_every,
                seed=seed,
                threads=1,
                out=str(Path(a.runs) / f"{net}_s{seed}"),
                quiet=True,
            )
            own = {"arch": "cnn"} if net == "cnn" else {"beta": tuple(beta)}
            configs.append(TrainConfig(**(common | extra | own)))
    return configs


def evaluate_all(a) -> dict:
    rows = {}
    for net in NETS:
        for seed in a.seeds:
            out = Path(a.runs) / f"{net}_s{seed}"
            row = {}
            for split, name in (("train", "trainImageList.txt"), ("val", "testImageList.txt")):
                path = out / f"eval_{split}.json"
                if not path.exists():
                    metrics = evaluate_list(f"{a.data}/{name}", out / "model.pt", cache_dir=a.cache).metrics
                    path.write_text(json.dumps(metrics, indent=2))
                row[split] = json.loads(path.read_text())
            rows[(net, seed)] = row
    return rows


def time_per_face(a, seconds: float = 0.2, rounds: int = 5) -> dict:
    """Both networks timed in one process, interleaved, on the same inputs (1 thread).

    Each network is timed by :func:`isnet.benchmark.measure` ``rounds`` times, the two
    alternating; a network's time is the median of its rounds' median calls, per face.
    """
    torch.set_num_threads(1)
    models = {net: load(Path(a.runs) / f"{net}_s{a.seeds[0]}" / "model.pt") for net in NETS}
    out = {}
    for batch in (1, 64):
        x = torch.rand(batch, 1, models["isnet"].config.input_size, models["isnet"].config.input_size)
        medians = {net: [] for net in NETS}
        with torch.inference_mode():
            for _ in range(rounds):
                for net, m in models.items():
                    medians[net].append(measure(partial(m, x), seconds)["median_ms"])
        for net in NETS:
            out[f"{net}_batch{batch}_ms_per_face"] = float(np.median(medians[net]) / batch)
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def aggregate(rows: dict, seeds: list[int]) -> dict:
    table = {}
    for net in NETS:
        t = {}
        for split in ("train", "val"):
            for key in METRICS:
                t[f"{split}_{key}"] = mean_std([rows[(net, s)][split][key] for s in seeds])
        per_point = np.array([rows[(net, s)]["val"]["box_error_per_point"] for s in seeds])
        fails = np.array([rows[(net, s)]["val"]["box_fail05_per_point"] for s in seeds])
        t["box_error_per_point"] = [mean_std(list(c)) for c in per_point.T]
        t["box_fail05_per_point"] = [mean_std(list(c)) for c in fails.T]
        table[net] = t
    return table


def plot_curves(a) -> None:
    curves = {}
    for net, name in zip(NETS, ("IS-Net", "plain CNN")):
        with open(Path(a.runs) / f"{net}_s{a.seeds[0]}" / "curves.csv") as f:
            curves[name] = list(csv.DictReader(f))
    plot_loss_curves(curves, RESULTS / "fig2_curves.png")


def plot_faces(a, n: int = 8) -> None:
    samples = read_sun_list(Path(a.data) / "testImageList.txt")
    pick = np.random.default_rng(3).choice(len(samples), n, replace=False)
    chosen = [samples[i] for i in pick]
    preds = {}
    for net in NETS:
        model = load(Path(a.runs) / f"{net}_s{a.seeds[0]}" / "model.pt")
        crops = face_crops(chosen, model.config.input_size)
        preds[net] = predict_crops(model, crops)
    gt = ground_truth(crops)
    fig, axes = plt.subplots(2, n // 2, figsize=(2.4 * n // 2, 5), dpi=100)
    for ax, s, g, p_is, p_cnn in zip(axes.flat, chosen, gt, preds["isnet"], preds["cnn"]):
        img = cv2.cvtColor(cv2.imread(str(s.image)), cv2.COLOR_BGR2RGB)
        left, top, right, bottom = s.box
        pad = 0.15 * (right - left)
        ax.imshow(img)
        ax.set_xlim(left - pad, right + pad)
        ax.set_ylim(bottom + pad, top - pad)
        ax.plot(*g.T, "o", mfc="none", mec="lime", ms=7, label="ground truth")
        ax.plot(*p_is.T, "x", color="red", ms=6, label="IS-Net")
        ax.plot(*p_cnn.T, "+", color="cyan", ms=7, label="plain CNN")
        ax.axis("off")
    axes.flat[0].legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "fig3_faces.png")
    plt.close(fig)


def fmt(ms: tuple[float, float], scale: float = 1.0, digits: int = 3) -> str:
    return f"{ms[0] * scale:.{digits}f} ± {ms[1] * scale:.{digits}f}"


def write_markdown(a, table: dict, timing: dict, beta: list[float], cmd: str) -> None:
    n = len(a.seeds)
    lines = [
        "# Results: IS-Net against the plain CNN on the CUHK 5-point set",
        "",
        f"Both networks trained with identical settings: {a.iterations} iterations (the paper: 80,000), batch 64, "
        f"Adam with cosine decay, the default augmentation, seeds {', '.join(map(str, a.seeds))}; IS-Net at beta = "
        f"({', '.join(f'{b:.4f}' for b in beta)}). Training on `trainImageList.txt` (10,000 faces), validation on "
        "`testImageList.txt` (3,466 faces), with the dataset's boxes and one network pass. Mean ± standard "
        f"deviation over {n} seeds. Losses are Caffe's Euclidean loss in pixels of the face box resized to 39 x 39 "
        "(the paper's units); training loss is measured on the training faces without augmentation.",
        "",
        "Regenerate everything on this page (resumes or skips finished trainings; `$DATA` is the CUHK folder, "
        "e.g. `../shared/data/cuhk_facepoint`, `$RUNS` a folder for run outputs and `$CACHE` one for the crop "
        "cache):",
        "",
        "```bash",
        cmd,
        "```",
        "",
        "## Table 3: loss",
        "",
        "| network | training loss | validation loss |",
        "| --- | ---: | ---: |",
    ]
    for net, name in zip(NETS, ("IS-Net", "plain CNN")):
        t = table[net]
        lines.append(f"| {name} | {fmt(t['train_euclidean_loss'])} | {fmt(t['val_euclidean_loss'])} |")
    lines += [
        "",
        "(The paper, at 80,000 iterations: IS-Net 5.63, plain CNN 7.06 test loss.)",
        "",
        "## NME (inter-ocular) on the validation split",
        "",
        "| network | NME | failure rate (NME > 0.10) | AUC@0.10 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for net, name in zip(NETS, ("IS-Net", "plain CNN")):
        t = table[net]
        lines.append(
            f"| {name} | {fmt(t['val_nme_iod'], 100)} % | {fmt(t['val_fr_010'], 100, 2)} % | "
            f"{fmt(t['val_auc_010'], 1, 4)} |"
        )
    lines += [
        "",
        "## Mean error per point / box width, and failure rate (> 5 %)",
        "",
        "| point | IS-Net error | IS-Net failures | plain CNN error | plain CNN failures | Sun et al. level 1 | "
        "Sun et al. cascade |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for k, point in enumerate(CUHK5.points):
        i, c = table["isnet"], table["cnn"]
        lines.append(
            f"| {point} | {fmt(i['box_error_per_point'][k], 100, 2)} % | "
            f"{fmt(i['box_fail05_per_point'][k], 100, 1)} % | {fmt(c['box_error_per_point'][k], 100, 2)} % | "
            f"{fmt(c['box_fail05_per_point'][k], 100, 1)} % | {100 * SUN_LEVEL1[k]:.2f} % | "
            f"{100 * SUN_CASCADE[k]:.2f} % |"
        )
    lines += [
        "",
        "## Time per face (one process, both networks interleaved on the same inputs, 1 thread)",
        "",
        "| network | batch 1 (ms/face) | batch 64 (ms/face) |",
        "| --- | ---: | ---: |",
    ]
    for net, name in zip(NETS, ("IS-Net", "plain CNN")):
        lines.append(
            f"| {name} | {timing[f'{net}_batch1_ms_per_face']:.4f} | {timing[f'{net}_batch64_ms_per_face']:.4f} |"
        )
    lines += [
        "",
        "## Figures",
        "",
        "Fig. 2, loss against iteration (seed 0):",
        "",
        f"![curves]({FIGURES}fig2_curves.png)",
        "",
        "Fig. 3, validation faces: ground truth (green circles), IS-Net (red x), plain CNN (cyan +):",
        "",
        f"![faces]({FIGURES}fig3_faces.png)",
        "",
    ]
    # Sections written by hand from other scripts' outputs (the widened CNN, 68 points) follow
    # this marker; regenerating the paper's part keeps them.
    old = (DOCS / "RESULTS.md").read_text() if (DOCS / "RESULTS.md").exists() else ""
    kept = old[old.index(KEEP_MARKER) :] if KEEP_MARKER in old else ""
    (DOCS / "RESULTS.md").write_text("\n".join(lines) + ("\n" + kept if kept else ""))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--cache", default="cache")
    p.add_argument("--iterations", type=int, default=5000)
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--beta", type=float, nargs="+", default=None)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument(
        "--train-args",
        nargs=argparse.REMAINDER,
        default=[],
        help="further isnet train options for both networks (last on the line)",
    )
    a = p.parse_args()
    beta = a.beta or list(ISNetConfig().beta)
    run_all(train_configs(a, beta), a.parallel)
    rows = evaluate_all(a)
    table = aggregate(rows, a.seeds)
    timing = time_per_face(a)
    DOCS.mkdir(exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot_curves(a)
    plot_faces(a)
    cmd = "python " + " ".join(["benchmarks/make_results.py", *sys.argv[1:]])
    write_markdown(a, table, timing, beta, cmd)
    per_run = {
        f"{net}_s{seed}": {split: {k: v for k, v in r[split].items() if k != "skipped"} for split in r}
        for (net, seed), r in rows.items()
    }
    write_result(
        RESULTS / "paper_cuhk5.json",
        {"beta": beta, "iterations": a.iterations, "seeds": a.seeds, "table": table, "timing": timing, "runs": per_run},
    )
    print((DOCS / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
