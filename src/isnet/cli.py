"""The ``isnet`` command: one sub-command per job, each the ``main`` of its module in :mod:`isnet.commands`."""

from __future__ import annotations

import sys

from isnet import __version__, options
from isnet.commands import benchmark, demo, evaluate, export, predict, search, train
from isnet.data import AnnotationError
from isnet.model import CheckpointError

COMMANDS = {
    "demo": (demo, "train and evaluate on the embedded demo"),
    "train": (train, "train a model"),
    "evaluate": (evaluate, "evaluate a model on an annotated list"),
    "search": (search, "search the synthesis weights beta"),
    "predict": (predict, "find faces and their landmarks in images, folders and videos"),
    "export": (export, "export the landmark network to ONNX"),
    "benchmark": (benchmark, "time the network, the detector and the pipeline"),
}

# Errors that mean "this input or option cannot be used": one line naming it, exit code 2.
USER_ERRORS = (AnnotationError, CheckpointError, OSError, ValueError, FloatingPointError, ImportError)


def main(argv: list[str] | None = None) -> int:
    parser = options.ArgumentParser("isnet", description="Facial landmarks with the Information-Synthesis Network.")
    parser.add_argument("--version", action="version", version=f"isnet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (command, help_text) in COMMANDS.items():
        sub.add_parser(
            name,
            parents=[command.get_args_parser(add_help=False)],
            help=help_text,
            description=command.get_args_parser().description,
            formatter_class=options.HelpFormatter,
        )
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command][0].main(args)
    except USER_ERRORS as e:
        print(f"isnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"isnet {args.command}: interrupted{f'; {e}' if str(e) else ''}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
