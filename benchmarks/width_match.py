"""Widen the plain CNN until its time per face matches IS-Net's (issue 13, item 4).

Usage: python benchmarks/width_match.py --scheme ibug68 [--factors 1 1.1 1.2 ...] [--seconds 3] [--out FILE]

Times each network through the ONNX path (onnxruntime, batch 1, one thread, median over
``--seconds``), IS-Net at the shipped beta and the plain CNN with every block's channels and
the head's hidden width scaled by each factor, interleaved over ``--rounds`` rounds so that
drift of the machine hits all alike. Writes JSON (default:
benchmarks/results/compare/width_match_SCHEME.json) and prints it: parameters, multiply-adds
and milliseconds per network, and the factor whose CNN time is closest to IS-Net's.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from isnet.benchmark import measure
from isnet.export import OnnxISNet
from isnet.model import ISNet, ISNetConfig, count_macs, count_parameters
from isnet.provenance import write_result

RESULTS = Path(__file__).resolve().parent / "results"

BETA = (0.4067, 0.3654, 0.1669)


def widened(scheme: str, factor: float, input_size: int) -> ISNetConfig:
    return ISNetConfig(scheme=scheme, input_size=input_size).plain_cnn().widened(factor)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scheme", default="ibug68")
    p.add_argument("--input-size", type=int, default=39)
    p.add_argument("--factors", type=float, nargs="+", default=[1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6])
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON file to write (default: benchmarks/results/compare/width_match_SCHEME.json)",
    )
    a = p.parse_args()
    configs = {"isnet": ISNetConfig(scheme=a.scheme, input_size=a.input_size, beta=BETA)}
    configs.update({f"cnn_x{f:g}": widened(a.scheme, f, a.input_size) for f in a.factors})
    nets, views = {}, np.random.default_rng(0).random((1, 1, a.input_size, a.input_size), dtype=np.float32)
    for name, config in configs.items():
        model = ISNet(config).eval()
        nets[name] = (model, OnnxISNet(model, threads=1))
    times = {name: [] for name in nets}
    for _ in range(a.rounds):
        for name, (_, onnx) in nets.items():
            times[name].append(measure(lambda o=onnx: o.run(views), a.seconds)["median_ms"])
    out = {
        name: {
            "channels": list(configs[name].channels),
            "hidden": configs[name].hidden,
            "parameters": count_parameters(model),
            "macs": count_macs(model),
            "ms_per_face": statistics.median(times[name]),
            "ms_rounds": times[name],
        }
        for name, (model, _) in nets.items()
    }
    target = out["isnet"]["ms_per_face"]
    cnns = [n for n in out if n != "isnet"]
    out["matched"] = min(cnns, key=lambda n: abs(out[n]["ms_per_face"] - target))
    write_result(a.out or RESULTS / "compare" / f"width_match_{a.scheme}.json", out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
