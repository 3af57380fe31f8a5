"""``isnet search``: find the synthesis weights beta by the paper's response-surface method."""

from __future__ import annotations

import argparse

from isnet import options
from isnet.commands import train
from isnet.search import FORMS, STALE_HEARTBEATS, SearchConfig, format_summary, search


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet search",
        add_help=add_help,
        parents=[train.get_args_parser(add_help=False)],
        conflict_handler="resolve",
        description="Search the synthesis weights beta (the paper's Table 1). Training "
        "options are those of isnet train and apply to every trial. Run the same command "
        "again to continue a stopped or interrupted search.",
    )
    g = p.add_argument_group("search")
    g.add_argument(
        "--sampler",
        default="surface",
        choices=("surface", "tpe", "random"),
        help="surface: the paper's method; tpe, random: Optuna's, for comparison",
    )
    g.add_argument(
        "--trials", type=options.POSITIVE, default=20, help="trial budget (trainings), including random ones"
    )
    g.add_argument("--random-trials", type=options.POSITIVE, default=15, help="random experiments before the first fit")
    g.add_argument("--phi", type=options.NON_NEGATIVE, default=0.05, help="stop when |predicted - measured| < phi")
    g.add_argument("--degree", type=options.POSITIVE, default=2, help="first polynomial degree")
    g.add_argument("--max-degree", type=options.POSITIVE, default=4, help="degree cap")
    g.add_argument("--form", default="paper", choices=FORMS, help="polynomial form of the surface")
    g.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite in --out)")
    g.add_argument("--study", default="isnet-beta", help="study name")
    g.add_argument("--workers", type=options.POSITIVE, default=1, help="worker processes on this machine")
    g.add_argument(
        "--heartbeat",
        type=options.POSITIVE,
        default=30,
        help=f"seconds between a worker's heartbeats; a trial silent for {STALE_HEARTBEATS} of them is retried",
    )
    g.add_argument("--search-seed", type=options.SEED, default=0, help="seed of the random experiments")
    p.set_defaults(out="runs/search", iterations=10000, val_every=1000, ckpt_every=1000)
    return p


def main(args: argparse.Namespace) -> dict:
    config = SearchConfig.from_options(args)
    summary = search(config)
    if not config.training.quiet:
        print(format_summary(summary))
    return summary
