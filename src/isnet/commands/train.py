"""``isnet train``: train IS-Net (or the plain CNN) on annotated faces."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from isnet import options
from isnet.data import FORMATS
from isnet.losses import LOSSES
from isnet.metrics import format_table
from isnet.model import ISNetConfig
from isnet.schemes import SCHEMES
from isnet.training import TrainConfig, train, train_or_continue
from isnet.transforms import Augment


def add_data_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--train-list", default=None, help="training annotations (with --demo: the demo's)")
    g.add_argument("--val-list", default=None, help="validation annotations (with --demo: the demo's)")
    g.add_argument("--demo", action="store_true", help="use the embedded demo subset")
    g.add_argument("--format", default="sun", choices=FORMATS, help="annotation format of the lists")
    g.add_argument("--root", default=None, help="image folder of the lists (default: each list's folder)")
    g.add_argument(
        "--pts-scheme",
        nargs="+",
        default=None,
        type=options.scheme_spec,
        help="landmark scheme(s) of the .pts files (--format pts): names or scheme files; each file is read "
        "as the first with its number of points, e.g. 'ibug68 wflw98' mixes 300-W and WFLW faces, WFLW's "
        "converted (default: the model's scheme; 300-W's 68 for a five-point model)",
    )
    g.add_argument("--skip-bad", action="store_true", help="skip unusable lines, report them, go on")
    g.add_argument("--cache-dir", default=None, help="cache face crops here (built once per list)")
    g.add_argument(
        "--stream",
        action="store_true",
        help="decode training images on demand instead of holding their crops in memory",
    )
    g.add_argument(
        "--loader-workers",
        type=options.COUNT,
        default=0,
        help="data-loader processes reading (or, with --stream, decoding) batches ahead",
    )


def add_model_options(g: argparse._ArgumentGroup) -> None:
    d = ISNetConfig()
    g.add_argument(
        "--scheme",
        default=d.scheme,
        type=options.scheme_spec,
        help=f"landmarks the model predicts: {', '.join(sorted(SCHEMES))} (ibug68: the 68 points of 300-W, "
        "wflw98: WFLW's 98, from --format pts lists) or a scheme file, my_scheme.toml (docs/schemes.md)",
    )
    g.add_argument("--arch", default="isnet", choices=("isnet", "cnn"), help="cnn: the plain CNN (beta = 0,..,0,1)")
    g.add_argument(
        "--beta", type=options.FRACTION, nargs="+", default=None, help=f"weights of blocks 2..S (None: {d.beta})"
    )
    g.add_argument("--learn-beta", action="store_true", help="train beta by projected gradient descent")
    g.add_argument("--input-size", type=options.IntRange(8), default=d.input_size, help="side of the network's input")
    g.add_argument(
        "--channels", type=options.POSITIVE, nargs="+", default=list(d.channels), help="channels of each block"
    )
    g.add_argument(
        "--kernels", type=options.POSITIVE, nargs="+", default=list(d.kernels), help="kernel size of each block"
    )
    g.add_argument("--hidden", type=options.POSITIVE, default=d.hidden, help="units of the hidden layer of the head")
    g.add_argument(
        "--synthesis", default=d.synthesis, choices=("concat", "pooled"), help="how the blocks' maps are combined"
    )
    g.add_argument("--margin", type=options.FRACTION, default=d.margin, help="view margin around the box")
    g.add_argument(
        "--region",
        nargs="+",
        default=[],
        metavar="NAME",
        help="train a region network: these regions of the scheme (e.g. jaw; brows eyes), read in their own "
        "view, fitted on the training faces, the loss over their points only (isnet.regions)",
    )


def add_optimisation_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--iterations", type=options.POSITIVE, default=10000, help="training iterations (batches)")
    g.add_argument("--batch-size", type=options.POSITIVE, default=64, help="faces per iteration")
    g.add_argument("--optimizer", default="adam", choices=("adam", "adamw", "sgd"), help="optimiser")
    g.add_argument(
        "--lr", type=options.NON_NEGATIVE, default=1e-3, help="peak learning rate (0: weights stay as they start)"
    )
    g.add_argument("--momentum", type=options.FloatRange(0.0, 1.0), default=0.9, help="momentum, for sgd")
    g.add_argument("--weight-decay", type=options.NON_NEGATIVE, default=0.0, help="weight decay")
    g.add_argument(
        "--schedule", default="cosine", choices=("cosine", "step", "constant"), help="learning rate after warm-up"
    )
    g.add_argument("--warmup", type=options.COUNT, default=200, help="iterations of linear learning-rate warm-up")
    g.add_argument("--loss", default="euclidean", choices=LOSSES, help="training loss")
    g.add_argument(
        "--teacher",
        default=None,
        metavar="WEIGHTS",
        help="distil: also learn this model's readings of each augmented view (same scheme and margin)",
    )
    g.add_argument(
        "--teacher-weight",
        type=options.FRACTION,
        default=0.5,
        help="the teacher's share of the loss (the annotation's is the rest)",
    )
    g.add_argument("--seed", type=options.SEED, default=0, help="seed of initialisation, batches and augmentation")


def add_augmentation_options(g: argparse._ArgumentGroup) -> None:
    a = Augment()
    g.add_argument("--no-augment", action="store_true", help="train on plain views")
    g.add_argument("--rotate", type=options.NON_NEGATIVE, default=a.rotate, help="largest rotation, degrees")
    g.add_argument(
        "--translate", type=options.NON_NEGATIVE, default=a.translate, help="largest shift, fraction of the view"
    )
    g.add_argument(
        "--box-shift", type=options.NON_NEGATIVE, default=a.box_shift, help="box-centre noise, fraction of the box"
    )
    g.add_argument("--box-scale", type=options.NON_NEGATIVE, default=a.box_scale, help="box-size noise, relative")
    g.add_argument("--flip", type=options.FRACTION, default=a.flip, help="probability of a mirrored face")
    g.add_argument("--contrast", type=options.NON_NEGATIVE, default=a.contrast, help="contrast noise, relative")
    g.add_argument(
        "--brightness", type=options.NON_NEGATIVE, default=a.brightness, help="brightness noise, fraction of full scale"
    )
    g.add_argument("--occlude", type=options.FRACTION, default=a.occlude, help="probability of a random grey rectangle")
    g.add_argument("--blur", type=options.NON_NEGATIVE, default=a.blur, help="largest Gaussian blur sigma, view pixels")
    g.add_argument(
        "--noise", type=options.NON_NEGATIVE, default=a.noise, help="largest pixel-noise std, fraction of full scale"
    )
    g.add_argument(
        "--jpeg", type=options.FRACTION, default=a.jpeg, help="probability of a view saved as a JPEG (quality 20-95)"
    )
    g.add_argument(
        "--detector-box",
        type=options.FRACTION,
        default=a.detector_box,
        help="probability of a face framed by YuNet's (mapped) box instead of the annotated one",
    )


def add_run_options(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--out", default="runs/train", help="output folder")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g.add_argument(
        "--continue",
        dest="continue_run",
        action="store_true",
        help="finish the run in --out whatever its state: skip it if finished, resume it if started, else start",
    )
    g.add_argument(
        "--init",
        default=None,
        metavar="WEIGHTS",
        help="fine-tune: start from this model file's weights (e.g. isnet/weights/isnet_cuhk5.pt); its "
        "config sets the architecture, so the model options above are not used",
    )
    g.add_argument(
        "--stop-after",
        type=options.COUNT,
        default=0,
        help="checkpoint and stop after this many iterations of this invocation (0: run to the end); "
        "continue later with --resume",
    )
    g.add_argument("--val-every", type=options.POSITIVE, default=500, help="iterations between validations")
    g.add_argument("--ckpt-every", type=options.POSITIVE, default=500, help="iterations between checkpoints")
    g.add_argument("--device", type=options.device, default="auto", help="auto (GPU if present), cpu or cuda")
    g.add_argument("--threads", type=options.THREADS, default=0, help="CPU threads (0: PyTorch's default)")
    g.add_argument("--quiet", action="store_true", help="no progress bar, table or summary")


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser("isnet train", add_help=add_help, description="Train IS-Net on annotated faces.")
    add_data_options(p.add_argument_group("data"))
    add_model_options(p.add_argument_group("model"))
    add_optimisation_options(p.add_argument_group("optimisation"))
    add_augmentation_options(p.add_argument_group("augmentation"))
    add_run_options(p.add_argument_group("run"))
    return p


def config_changes(argv: list[str]) -> dict:
    """The :class:`TrainConfig` fields that these ``isnet train`` options set (only those given).

    For recipes written as command-line options (the ablation rows, ``--train-args``).
    """
    unset = object()
    names = {f.name for f in fields(TrainConfig)}
    given = vars(get_args_parser().parse_args(argv, argparse.Namespace(**dict.fromkeys(names, unset))))
    return {k: v for k, v in given.items() if k in names and v is not unset}


def report(metrics: dict, config: TrainConfig) -> None:
    """The metrics table and where the outputs are."""
    out = Path(config.out)
    print(format_table(metrics))
    curves = f", curves {out / 'curves.csv'} and {out / 'curves.png'}" if metrics.get("history") else ""
    print(f"wrote model {out / 'model.pt'}, metrics {out / 'metrics.json'}{curves}, checkpoint {out / 'checkpoint.pt'}")


def main(args: argparse.Namespace) -> dict:
    config = TrainConfig.from_options(args)
    metrics = train_or_continue(config) if args.continue_run else train(config)
    if not config.quiet and "model" in metrics:
        report(metrics, config)
    return metrics
