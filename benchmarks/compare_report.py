"""Report the runs of benchmarks/compare_nets.sh: IS-Net, the plain CNN and the widened plain CNN.

Usage: python benchmarks/compare_report.py --runs $RUNS/cmp68 --val-list $RUNS/ibug68/val.txt --format pts
       python benchmarks/compare_report.py --runs $RUNS/cmp5 --val-list $DATA/testImageList.txt
(--out FILE; default benchmarks/results/compare/nets_ibug68.json with --format pts, else nets_cuhk5.json)

Each finished run's model is evaluated on the validation list (isnet.evaluation.evaluate_list,
the list's boxes) and timed through the ONNX path (onnxruntime, batch 1, one thread; the three
networks interleaved over --rounds rounds so that drift of the machine hits all alike). Writes
per-run metrics, mean and sample standard deviation over the seeds per network, parameters,
multiply-adds and milliseconds per face, and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from isnet.benchmark import measure
from isnet.evaluation import evaluate_list
from isnet.export import OnnxISNet
from isnet.model import ISNet, ISNetConfig, count_macs, count_parameters, load
from isnet.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results"
NETS = ("isnet", "cnn", "cnn_wide")
METRICS = ("euclidean_loss", "nme_iod", "nme_ipd", "fr_008", "fr_010", "auc_008", "auc_010")


# How much wider than IS-Net's blocks the widened plain CNN is: the same time per face
# (benchmarks/width_match.py). benchmarks/compare_nets.sh trains it by this factor.
WIDEN = 1.5


def architecture(net: str, scheme: str) -> ISNetConfig:
    """The architecture benchmarks/compare_nets.sh trains as ``net``."""
    base = ISNetConfig(scheme=scheme)
    if net == "isnet":
        return base
    return base.plain_cnn() if net == "cnn" else base.plain_cnn().widened(WIDEN)


def mean_sd(values: list[float]) -> dict:
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--val-list", required=True)
    p.add_argument("--format", default="sun")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON file to write (default: benchmarks/results/compare/nets_ibug68.json, nets_cuhk5.json without pts)",
    )
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    runs = {net: sorted(a.runs.glob(f"{net}_s*/model.pt")) for net in NETS}
    per_run = {
        f"{net}/{path.parent.name}": {
            k: evaluate_list(a.val_list, path, fmt=a.format, skip_bad=True).metrics[k] for k in METRICS
        }
        for net in NETS
        for path in runs[net]
    }
    # Time does not depend on the weights: a network without runs here is timed untrained.
    scheme = load(next(r[0] for r in runs.values() if r)).config.scheme
    models = {net: load(runs[net][0]) if runs[net] else ISNet(architecture(net, scheme)) for net in NETS}
    onnx = {net: OnnxISNet(m, threads=1) for net, m in models.items()}
    times: dict[str, list[float]] = {net: [] for net in onnx}
    for _ in range(a.rounds):
        for net, o in onnx.items():
            v = np.random.default_rng(0).random((1, 1, o.config.input_size, o.config.input_size), dtype=np.float32)
            times[net].append(measure(lambda o=o, v=v: o.run(v), a.seconds)["median_ms"])
    summary = {}
    for net, model in models.items():
        rows = [m for name, m in per_run.items() if name.startswith(net + "/")]
        if not rows:
            summary[net] = {
                "seeds": 0,
                "parameters": count_parameters(model),
                "macs_per_face": count_macs(model),
                "network_ms_per_face_onnx_1_thread": statistics.median(times[net]),
                "ms_rounds": times[net],
            }
            continue
        summary[net] = {
            "seeds": len(rows),
            "channels": list(model.config.channels),
            "hidden": model.config.hidden,
            "beta": list(model.config.beta),
            "parameters": count_parameters(model),
            "macs_per_face": count_macs(model),
            "network_ms_per_face_onnx_1_thread": statistics.median(times[net]),
            "ms_rounds": times[net],
            **{k: mean_sd([r[k] for r in rows]) for k in METRICS},
        }
    out = {
        "val_list": Path(a.val_list).name,
        "summary": summary,
        "runs": per_run,
    }
    scheme_name = "ibug68" if a.format == "pts" else "cuhk5"
    write_result(a.out or RESULTS / "compare" / f"nets_{scheme_name}.json", out)
    print("| network | channels, hidden | parameters | ms/face | NME (iod) | FR@0.08 | FR@0.10 | AUC@0.08 | loss |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for net, s in summary.items():
        if not s["seeds"]:
            print(f"| {net} (no runs here) | | {s['parameters']:,} | {s['network_ms_per_face_onnx_1_thread']:.3f} |")
            continue

        def f(k: str, pct: bool = True, s=s) -> str:
            m, d = s[k]["mean"], s[k]["sd"]
            return f"{100 * m:.3f} ± {100 * d:.3f} %" if pct else f"{m:.4f} ± {d:.4f}"

        print(
            f"| {net} ({s['seeds']} seeds) | {s['channels']}, {s['hidden']} | {s['parameters']:,} | "
            f"{s['network_ms_per_face_onnx_1_thread']:.3f} | {f('nme_iod')} | {f('fr_008')} | {f('fr_010')} | "
            f"{f('auc_008', False)} | {f('euclidean_loss', False)} |"
        )


if __name__ == "__main__":
    main()
