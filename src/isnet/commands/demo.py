"""``isnet demo``: train on the embedded demo's faces, evaluate on its validation faces."""

from __future__ import annotations

import argparse

from isnet import options
from isnet.commands.train import report
from isnet.training import TrainConfig, train_or_continue


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet demo", add_help=add_help, description="Train and evaluate on the embedded demo faces."
    )
    p.add_argument("--out", default="runs/demo", help="output folder (model, metrics, curves, checkpoint)")
    p.add_argument("--iterations", type=options.POSITIVE, default=2000, help="training iterations")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out (the default when it has a checkpoint)"
    )
    return p


def main(args: argparse.Namespace) -> dict:
    """A second run in the same ``--out`` continues the first: an interrupted demo finishes,
    a finished one gives its metrics again."""
    config = TrainConfig(demo=True, out=args.out, iterations=args.iterations, val_every=250, ckpt_every=250)
    metrics = train_or_continue(config)
    report(metrics, config)
    return metrics
