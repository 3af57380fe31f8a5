"""``isnet export``: the landmark network as an ONNX graph, checked against PyTorch."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from isnet import options
from isnet.assets import weights_path
from isnet.export import OPSET, OPSETS, PARITY_TOLERANCE, onnx_bytes, parity
from isnet.model import load


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet export",
        add_help=add_help,
        description="Export the landmark network to ONNX and check it against PyTorch in onnxruntime.",
    )
    p.add_argument("--onnx", type=options.new_file, required=True, metavar="FILE", help="where to write the ONNX graph")
    p.add_argument("--weights", default=None, help="checkpoint (default: the model shipped in isnet/weights/)")
    p.add_argument("--opset", type=options.IntRange(*OPSETS), default=OPSET, help="ONNX opset version")
    return p


def main(args: argparse.Namespace) -> dict:
    """Export, check parity in onnxruntime, and only then put the graph at ``--onnx``."""
    weights = weights_path(args.weights)
    model = load(weights)
    out = Path(args.onnx)
    t0 = time.perf_counter()
    graph = onnx_bytes(model, args.opset)
    diff = parity(model, graph)
    if not diff < PARITY_TOLERANCE:
        raise ValueError(
            f"onnxruntime differs from PyTorch by {diff:.3g} (tolerance {PARITY_TOLERANCE:g}); nothing written"
        )
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(graph)
    os.replace(tmp, out)
    result = {"onnx": str(out), "weights": str(weights), "max_abs_diff": diff, "seconds": time.perf_counter() - t0}
    print(f"wrote {out} ({out.stat().st_size:,} bytes); onnxruntime vs PyTorch max abs difference {diff:.2e}")
    return result
