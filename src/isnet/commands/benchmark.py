"""``isnet benchmark``: time the network, the detector and the pipeline."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from isnet import options
from isnet.benchmark import benchmark, format_results


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet benchmark",
        add_help=add_help,
        description="Time the landmark network (batch 1 and 64, torch and onnxruntime), the detector "
        "and the whole pipeline on a 640x480 photo, on 1 and 2 threads.",
    )
    p.add_argument("--weights", default=None, help="checkpoint (default: the model shipped in isnet/weights/)")
    p.add_argument("--image", default=None, help="photo for detection and end-to-end times (default: a demo face)")
    p.add_argument("--threads", type=options.POSITIVE, nargs="+", default=[1, 2], help="thread counts to time")
    p.add_argument("--batch-sizes", type=options.POSITIVE, nargs="+", default=[1, 64], help="batch sizes to time")
    p.add_argument(
        "--backends", nargs="+", default=["torch", "onnx"], choices=("torch", "onnx"), help="network backends to time"
    )
    p.add_argument("--seconds", type=options.POSITIVE_FLOAT, default=1.0, help="minimum time per measurement")
    p.add_argument("--json", type=options.new_file, default=None, metavar="OUT", help="write the results here")
    return p


def main(args: argparse.Namespace) -> dict:
    out = benchmark(args.weights, args.image, args.threads, args.batch_sizes, args.backends, args.seconds)
    print(format_results(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return out
