"""``isnet evaluate``: a model on an annotated list, on its boxes or with a detector in front."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from isnet import options
from isnet.api import LandmarkDetector
from isnet.assets import installed_models
from isnet.data import FORMATS, Skipped
from isnet.detectors import YuNet
from isnet.evaluation import ROLLS, evaluate_list, evaluate_rolls, evaluate_with_detector, read_samples
from isnet.metrics import format_table
from isnet.placement import PLACEMENTS
from isnet.plots import plot_ced
from isnet.provenance import write_result


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet evaluate",
        add_help=add_help,
        description="Evaluate a model on an annotated list: with the list's face boxes, or with "
        "--detector yunet in front (the landmarks a user gets from a photo, against those from the list's boxes).",
    )
    p.add_argument("--model", default="cuhk5", choices=installed_models(), help="shipped model, when no --weights")
    p.add_argument("--weights", default=None, help="checkpoint file instead of a shipped --model")
    p.add_argument("--list", required=True, help="annotation list (or folder, for --format pts)")
    p.add_argument("--format", default="sun", choices=FORMATS, help="annotation format of the list")
    p.add_argument("--root", default=None, help="folder image paths are relative to (None: the list's)")
    p.add_argument(
        "--pts-scheme",
        nargs="+",
        default=None,
        type=options.scheme_spec,
        help="landmark scheme(s) of the .pts files, names or scheme files (default: the model's; "
        "300-W's 68 for a five-point model)",
    )
    p.add_argument(
        "--detector",
        default=None,
        choices=("yunet",),
        help="find each face with this detector, map its box, and compare with the list's boxes",
    )
    p.add_argument(
        "--rolls",
        type=options.FloatRange(-360.0, 360.0),
        nargs="+",
        default=None,
        metavar="DEGREES",
        help="turn each photo by each roll and read it through the public API (YuNet, the upright step), as "
        f"the README's roll table (e.g. {' '.join(f'{r:g}' for r in ROLLS)}); scored on five points",
    )
    p.add_argument(
        "--placement",
        default=None,
        choices=PLACEMENTS,
        help="with --rolls: where five points go (300w for 300-W's annotations); default: the model's own",
    )
    p.add_argument("--min-iou", type=options.FRACTION, default=0.3, help="with --detector: least overlap of a match")
    p.add_argument(
        "--score-threshold",
        type=options.FRACTION,
        default=0.6,
        help="with --detector or --rolls: least detection score",
    )
    p.add_argument(
        "--limit", type=options.POSITIVE, default=None, help="with --detector or --rolls: the first N faces only"
    )
    p.add_argument("--json", type=options.new_file, default=None, help="write the metrics here")
    p.add_argument("--ced", type=options.new_file, default=None, help="write the CED plot (PNG) here")
    p.add_argument("--skip-bad", action="store_true", help="skip unusable lines instead of stopping")
    p.add_argument("--cache-dir", default=None, help="cache face crops here")
    p.add_argument("--batch-size", type=options.POSITIVE, default=256, help="faces per network call")
    p.add_argument("--quiet", action="store_true", help="print nothing, not even the metrics")
    return p


def print_skipped(skipped: list[str]) -> None:
    if skipped:
        print(f"skipped {len(skipped)} unusable entries:", file=sys.stderr)
        for item in skipped:
            print(f"  {item}", file=sys.stderr)


def main(args: argparse.Namespace) -> dict:
    if args.rolls and args.detector:
        raise ValueError("--rolls reads every photo through YuNet already: drop --detector")
    if args.rolls:
        return main_with_rolls(args)
    if args.detector:
        return main_with_detector(args)
    ev = evaluate_list(
        args.list,
        args.weights,
        args.format,
        args.root,
        args.pts_scheme,
        args.skip_bad,
        args.cache_dir,
        args.batch_size,
        progress=not args.quiet,
        model_name=args.model,
    )
    if not args.quiet:
        print(format_table(ev.metrics))
        print_skipped(ev.skipped)
    if args.json:
        write_result(args.json, ev.metrics)
    if args.ced:
        plot_ced({Path(ev.metrics["weights"]).stem: ev.nme()}, args.ced)
    return ev.metrics


def main_with_detector(args: argparse.Namespace) -> dict:
    report = evaluate_with_detector(
        args.list,
        args.weights,
        YuNet(score_threshold=args.score_threshold),
        args.min_iou,
        args.format,
        args.root,
        args.pts_scheme,
        args.skip_bad,
        args.limit,
        progress=not args.quiet,
        model_name=args.model,
    )
    if not args.quiet:
        print(f"{report['n_matched']} of {report['n_faces_listed']} faces matched a detection")
        for name, r in report["on_matched_faces"].items():
            print(f"  {name:<30} NME {100 * r['nme_iod']:.3f}%  FR@0.10 {100 * r['fr_010']:.2f}%")
        print_skipped(report["skipped"])
    if args.json:
        write_result(args.json, report)
    return report


def main_with_rolls(args: argparse.Namespace) -> dict:
    det = LandmarkDetector(
        args.weights, YuNet(score_threshold=args.score_threshold), model=args.model, placement=args.placement
    )
    skipped = Skipped()
    samples = read_samples(
        det.model,
        args.weights or args.model,
        args.list,
        args.format,
        args.root,
        args.pts_scheme,
        args.skip_bad,
        skipped,
    )[: args.limit]
    if not args.quiet:
        print(f"{'roll':>6} {'faces':>6} {'not found':>10} {'NME':>8} {'FR@0.10':>8} {'quality AUROC':>14}")

    def show(row: dict) -> None:
        if args.quiet:
            return
        q = "-" if row["quality_auroc"] is None else f"{row['quality_auroc']:.3f}"
        nme = "-" if row["nme_ipd_mean"] is None else f"{100 * row['nme_ipd_mean']:.2f}%"
        fr = "-" if row["fr_010"] is None else f"{100 * row['fr_010']:.2f}%"
        print(f"{row['roll']:>6g} {row['n_faces']:>6} {row['not_found']:>10} {nme:>8} {fr:>8} {q:>14}", flush=True)

    report = {
        "list": str(args.list),
        "weights": args.weights or f"shipped:{args.model}",
        "placement": det.placement,
        **evaluate_rolls(det, samples, args.rolls, on_row=show),
    }
    if not args.quiet:
        print_skipped(skipped.items)
    if args.json:
        write_result(args.json, report)
    return report
