"""The ``isnet`` command: one sub-command per job, each the ``main`` of its module."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from isnet import benchmark, detect, evaluate, export, options, search, train
from isnet.data import AnnotationError
from isnet.model import CheckpointError


def demo(args: argparse.Namespace) -> dict:
    """Train on the embedded demo's training faces, then evaluate on its validation faces.

    A second run in the same ``--out`` continues the first from its checkpoint: an
    interrupted demo finishes, a finished one prints its metrics again.
    """
    resume = args.resume or (Path(args.out) / "checkpoint.pt").exists()
    targs = train.get_args_parser().parse_args(
        ["--demo", "--out", args.out, "--iterations", str(args.iterations), "--val-every", "250", "--ckpt-every", "250"]
        + (["--resume"] if resume else [])
    )
    return train.main(targs)


def _demo_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet demo", add_help=add_help, description="Train and evaluate on the embedded demo faces."
    )
    p.add_argument("--out", default="runs/demo", help="output folder (model, metrics, curves, checkpoint)")
    p.add_argument("--iterations", type=options.POSITIVE, default=2000, help="training iterations")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out (the default when it has a checkpoint)"
    )
    return p


COMMANDS = {
    "demo": (_demo_parser, demo, "train and evaluate on the embedded demo"),
    "train": (train.get_args_parser, train.main, "train a model"),
    "evaluate": (evaluate.get_args_parser, evaluate.main, "evaluate a model on an annotated list"),
    "search": (search.get_args_parser, search.main, "search the synthesis weights beta"),
    "predict": (detect.get_args_parser, detect.main, "find faces and their landmarks in images, folders and videos"),
    "export": (export.get_args_parser, export.main, "export the landmark network to ONNX"),
    "benchmark": (benchmark.get_args_parser, benchmark.main, "time the network, the detector and the pipeline"),
}

# Errors that mean "this input or option cannot be used": one line naming it, exit code 2.
USER_ERRORS = (AnnotationError, CheckpointError, OSError, ValueError, FloatingPointError, ImportError)


def main(argv: list[str] | None = None) -> int:
    parser = options.ArgumentParser("isnet", description="Facial landmarks with the Information-Synthesis Network.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (make_parser, _, help_text) in COMMANDS.items():
        sub.add_parser(
            name,
            parents=[make_parser(add_help=False)],
            help=help_text,
            description=make_parser().description,
            formatter_class=options.HelpFormatter,
        )
    args = parser.parse_args(argv)
    run = COMMANDS[args.command][1]
    try:
        run(args)
    except USER_ERRORS as e:
        print(f"isnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"isnet {args.command}: interrupted{f'; {e}' if str(e) else ''}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
