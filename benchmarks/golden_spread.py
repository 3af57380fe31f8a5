"""How far the golden numbers move across backends, thread counts and CPU kernels.

The golden tests (tests/test_shipped_model.py) compare each shipped model's metrics with
its card. The same weights give slightly different floats on another BLAS build, another
kernel or another thread count; this measures that spread so the tests' tolerance covers it
and nothing more. Each configuration runs in its own process (thread counts and kernel
choices are per process):

- torch at 1 and 2 threads, with oneDNN (MKL-DNN) on and off;
- torch with ``ATEN_CPU_CAPABILITY=default`` (no AVX2/AVX-512 kernels: another CPU's code path);
- onnxruntime at 1 and 2 threads.

Usage:
    python benchmarks/golden_spread.py [--full] [--out benchmarks/results/golden/spread.json]

``--full`` adds the goldens on the full sets (CUHK validation, HELEN test); it needs ../shared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
# (card, key in the card, list, list format, model)
GOLDENS = (
    ("cuhk5", "demo_val", "demo:val", "sun", "cuhk5"),
    ("ibug68", "demo_val_five_points", "demo:val", "sun", "ibug68"),
    ("ibug68", "menpo_68pt", str(SHARED / "menpo_68pt"), "pts", "ibug68"),
    ("roll", "demo_val", "demo:val", "sun", "roll"),
)
FULL_GOLDENS = (
    ("cuhk5", "validation", str(SHARED / "cuhk_facepoint" / "testImageList.txt"), "sun", "cuhk5"),
    ("ibug68", "helen_testset", str(SHARED / "ibug_300w" / "helen_testset"), "pts", "ibug68"),
)
# name: (backend, threads, extra environment, oneDNN on)
CONFIGS = {
    "torch_1_thread": ("torch", 1, {}, True),
    "torch_2_threads": ("torch", 2, {}, True),
    "torch_1_thread_no_onednn": ("torch", 1, {}, False),
    "torch_2_threads_no_onednn": ("torch", 2, {}, False),
    "torch_1_thread_generic_kernels": ("torch", 1, {"ATEN_CPU_CAPABILITY": "default"}, True),
    "onnx_1_thread": ("onnx", 1, {}, True),
    "onnx_2_threads": ("onnx", 2, {}, True),
}
KEYS = ("euclidean_loss", "nme_iod", "nme_ipd", "fr_008", "fr_010", "auc_008", "auc_010")
LISTS = ("box_error_per_point", "nme_iod_per_region")


def measure_one(goldens: list, backend: str, threads: int, onednn: bool) -> dict:
    """The metrics of each golden in this process's configuration."""
    import torch

    from isnet.assets import ROLL_MODEL, demo_list
    from isnet.evaluation import evaluate_list

    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = onednn
    out = {}
    for card, key, list_path, fmt, model in goldens:
        path = demo_list("val") if list_path == "demo:val" else list_path
        weights = ROLL_MODEL if model == "roll" else None
        m = evaluate_list(
            path, weights, fmt=fmt, model_name="cuhk5" if model == "roll" else model, backend=backend, threads=threads
        ).metrics
        out[f"{card}/{key}"] = {k: m[k] for k in (*KEYS, *LISTS) if k in m}
    return out


def card_values(goldens: list) -> dict:
    from isnet.assets import ROLL_MODEL, SHIPPED_MODELS

    out = {}
    for card, key, *_ in goldens:
        path = ROLL_MODEL if card == "roll" else SHIPPED_MODELS[card]
        out[f"{card}/{key}"] = json.loads(path.with_suffix(".json").read_text())[key]
    return out


def as_list(value) -> list[float]:
    """A metric's values in a fixed order: a number, a list, or a dict's values in key order."""
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    return list(value) if isinstance(value, list) else [value]


def relative_spread(runs: dict[str, dict], card: dict) -> dict:
    """Per golden and metric, the largest relative difference of any configuration from the card."""
    spread: dict = {}
    for golden, expected in card.items():
        worst = {}
        for key in (*KEYS, *LISTS):
            if key not in expected:
                continue
            ref = as_list(expected[key])
            rel = 0.0
            for run in runs.values():
                got = as_list(run[golden][key])
                for g, r in zip(got, ref):
                    if r != 0:
                        rel = max(rel, abs(g - r) / abs(r))
                    elif g != 0:
                        rel = float("inf")
            worst[key] = rel
        spread[golden] = worst
    return spread


def main(args: argparse.Namespace) -> dict:
    from isnet.provenance import write_result

    goldens = list(GOLDENS) + (list(FULL_GOLDENS) if args.full else [])
    runs = {}
    for name, (backend, threads, env, onednn) in CONFIGS.items():
        cmd = [sys.executable, __file__, "--child", json.dumps([goldens, backend, threads, onednn])]
        done = subprocess.run(cmd, env=os.environ | env, capture_output=True, text=True, check=True)
        runs[name] = json.loads(done.stdout)
        print(name, "done", file=sys.stderr)
    card = card_values(goldens)
    spread = relative_spread(runs, card)
    worst = max(v for per in spread.values() for v in per.values())
    result = {
        "what": "largest relative difference of each golden metric from the model's card, over the configurations",
        "configurations": {
            k: {"backend": b, "threads": t, "env": e, "onednn": o} for k, (b, t, e, o) in CONFIGS.items()
        },
        "largest_relative_difference": worst,
        "per_golden": spread,
        "runs": runs,
    }
    write_result(args.out, result)
    print(json.dumps({"largest_relative_difference": worst, "per_golden": spread}, indent=1))
    return result


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(measure_one(*json.loads(sys.argv[2]))))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the goldens on the full sets (needs ../shared)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "golden" / "spread.json"))
    main(parser.parse_args())
