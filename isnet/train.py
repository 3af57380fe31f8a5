"""``isnet train``: train IS-Net (or the plain CNN) on annotated faces.

``main(args)`` is shared by the CLI, the tests and the beta search. Randomness is a
pure function of ``(seed, iteration)``: the batch order comes from a per-epoch
permutation and the augmentation from a generator seeded with the iteration, so a run
resumed from a checkpoint draws exactly the batches the uninterrupted run would have.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from isnet import options
from isnet.data import FORMATS, CropSet, Skipped, cached_crops, demo_list, read_list, streamed_crops
from isnet.evaluate import LOSS_BOX_PIXELS, euclidean_loss, ground_truth, predict_crops, summarise
from isnet.model import ISNet, ISNetConfig, load_checkpoint, model_from_checkpoint, save_checkpoint
from isnet.schemes import get_scheme
from isnet.transforms import (
    SOURCE_MARGIN,
    Augment,
    flip_landmarks,
    photometric,
    photometric_params,
    source_size,
    view_matrices,
    warp_batch,
)

LOSSES = ("euclidean", "wing")


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the training after a whole iteration, whose checkpoint the message names."""


class InterruptRequest:
    """Within ``with``: the first SIGINT (Ctrl-C) only sets ``requested``, so the training can stop
    between two iterations and checkpoint that state; a second one interrupts at once.

    Signal handlers belong to the main thread; elsewhere (a thread of the caller's) this does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> InterruptRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def euclidean(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Caffe's EuclideanLoss, ``1/(2N) sum ||pred - target||^2`` over ``(N, K, 2)``."""
    return (pred - target).pow(2).sum() / (2 * len(pred))


def wing(pred: torch.Tensor, target: torch.Tensor, w: float = 5.0, eps: float = 1.0) -> torch.Tensor:
    """Wing loss (Feng et al., CVPR 2018) per coordinate, summed over points, mean over faces."""
    x = (pred - target).abs()
    c = w - w * math.log1p(w / eps)
    loss = torch.where(x < w, w * torch.log1p(x / eps), x - c)
    return loss.sum() / len(pred)


def learning_rate(args: argparse.Namespace, it: int) -> float:
    """Learning rate at iteration ``it``: linear warm-up, then constant, cosine or step decay."""
    if it < args.warmup:
        return args.lr * (it + 1) / args.warmup
    frac = (it - args.warmup) / max(1, args.iterations - args.warmup)
    if args.schedule == "cosine":
        return args.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * frac)))
    if args.schedule == "step":
        return args.lr * (0.1 ** int(frac * 3))
    return args.lr


def batch_indices(n: int, batch_size: int, seed: int, it: int) -> np.ndarray:
    """Faces of iteration ``it``: consecutive slices of a fresh permutation per epoch."""
    per_epoch = max(1, n // batch_size)
    epoch, k = divmod(it, per_epoch)
    perm = np.random.default_rng([seed, epoch, 1]).permutation(n)
    if n < batch_size:
        return np.random.default_rng([seed, it, 2]).choice(n, batch_size, replace=True)
    return perm[k * batch_size : (k + 1) * batch_size]


def make_batch(
    crops: CropSet,
    index: np.ndarray,
    config: ISNetConfig,
    augment: Augment | None,
    rng: np.random.Generator,
    part: slice = slice(None),
    images: np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Views ``(B, 1, S, S)`` in [0, 1] and targets ``(B, K, 2)`` as fractions of the view.

    The augmentation is drawn for the whole batch ``index`` and ``part`` of it is built, so
    the processes of a distributed run, each building its part, see exactly the faces a
    single process would. ``images``, if given, are the source crops of ``index[part]``,
    already read (by a data-loader worker).
    """
    size = config.input_size
    mats, flipped = view_matrices(crops.boxes[index], crops.images.shape[-1], size, config.margin, augment, rng)
    if augment is not None:
        contrast, brightness = photometric_params(len(index), augment, rng)
    index, mats, flipped = index[part], mats[part], flipped[part]
    images = crops.images[index] if images is None else images
    src = torch.as_tensor(np.asarray(images)).unsqueeze(1).float().div_(255.0)
    views = warp_batch(src, mats, size)
    if augment is not None:
        views = photometric(views, contrast[part], brightness[part])
    return views, view_targets(crops, index, config, mats, flipped)


def view_targets(
    crops: CropSet, index: np.ndarray, config: ISNetConfig, mats: np.ndarray, flipped: np.ndarray
) -> torch.Tensor:
    """``(B, K, 2)`` landmarks of faces ``index`` in their views, as fractions of the view."""
    lm = crops.landmarks[index].astype(np.float64)
    lm = np.einsum("bij,bkj->bki", mats[:, :, :2], lm) + mats[:, None, :, 2]
    lm = flip_landmarks(lm, flipped, get_scheme(config.scheme).flip_permutation())
    return torch.from_numpy(lm / config.input_size).float()


class BatchImages(torch.utils.data.Dataset):
    """The source crops of each iteration's part of the batch, so data-loader workers can read
    (or decode, for streamed data) the next batches while the current one trains."""

    def __init__(self, crops: CropSet, batch_size: int, seed: int, start: int, stop: int, part: slice):
        self.crops, self.batch_size, self.seed = crops, batch_size, seed
        self.start, self.stop, self.part = start, stop, part

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, k: int) -> np.ndarray:
        index = batch_indices(len(self.crops), self.batch_size, self.seed, self.start + k)[self.part]
        return np.ascontiguousarray(self.crops.images[index])


def load_data(args: argparse.Namespace, list_path, root, config: ISNetConfig, skipped: Skipped) -> CropSet:
    samples = read_list(list_path, args.format, root, args.pts_scheme, args.skip_bad, skipped)
    return cached_crops(
        samples,
        source_size(config.input_size),
        SOURCE_MARGIN,
        args.cache_dir,
        args.skip_bad,
        skipped,
        progress=not args.quiet,
    )


def config_from_args(args: argparse.Namespace) -> ISNetConfig:
    n_blocks = len(args.channels)
    beta = tuple(args.beta) if args.beta is not None else None
    if args.arch == "cnn":
        if beta is not None:
            raise ValueError("--arch cnn fixes beta = (0, ..., 0, 1); drop --beta")
        beta = (0.0,) * (n_blocks - 2) + (1.0,)
    kwargs = {} if beta is None else {"beta": beta}
    return ISNetConfig(
        learn_beta=args.learn_beta,
        input_size=args.input_size,
        channels=tuple(args.channels),
        kernels=tuple(args.kernels),
        hidden=args.hidden,
        synthesis=args.synthesis,
        margin=args.margin,
        **kwargs,
    )


def augment_from_args(args: argparse.Namespace) -> Augment | None:
    if args.no_augment:
        return None
    return Augment(
        args.rotate, args.translate, args.box_shift, args.box_scale, args.flip, args.contrast, args.brightness
    )


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    d = ISNetConfig()
    a = Augment()
    p = options.ArgumentParser("isnet train", add_help=add_help, description="Train IS-Net on annotated faces.")
    g = p.add_argument_group("data")
    g.add_argument("--train-list", default=None, help="training annotations (with --demo: the demo's)")
    g.add_argument("--val-list", default=None, help="validation annotations (with --demo: the demo's)")
    g.add_argument("--demo", action="store_true", help="use the embedded demo subset")
    g.add_argument("--format", default="sun", choices=FORMATS, help="annotation format of the lists")
    g.add_argument("--root", default=None, help="image folder of the lists (default: each list's folder)")
    g.add_argument("--pts-scheme", default="ibug68", help="landmark scheme of .pts files (--format pts)")
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
    g = p.add_argument_group("model")
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
    g = p.add_argument_group("optimisation")
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
    g.add_argument("--seed", type=options.SEED, default=0, help="seed of initialisation, batches and augmentation")
    g = p.add_argument_group("augmentation")
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
    g = p.add_argument_group("run")
    g.add_argument("--out", default="runs/train", help="output folder")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
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
    return p


def _device(name: str, rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def _init_distributed(args: argparse.Namespace) -> tuple[int, int]:
    """``(rank, world size)``; joins the process group when started by ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        use_nccl = torch.cuda.is_available() and args.device in ("auto", "cuda")
        dist.init_process_group("nccl" if use_nccl else "gloo")
    return dist.get_rank(), world


def _finish_distributed(world: int) -> None:
    if world > 1 and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _optimizer(args: argparse.Namespace, model: ISNet) -> torch.optim.Optimizer:
    if args.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    cls = torch.optim.AdamW if args.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)


@torch.no_grad()
def validation_loss(model: ISNet, crops: CropSet) -> float:
    """The paper's Euclidean loss on plain views of a crop set."""
    return euclidean_loss(predict_crops(model, crops), ground_truth(crops), crops.box_wh)


def write_curves(history: list[dict], out: Path) -> None:
    """``curves.csv`` and ``curves.png`` (the paper's Fig. 2) from the validation history."""
    with open(out / "curves.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iteration", "train_loss", "val_loss"])
        for row in history:
            w.writerow([row["iteration"], f"{row['train_loss']:.6f}", f"{row['val_loss']:.6f}"])
    plot_loss_curves({"": history}, out / "curves.png")


def plot_loss_curves(curves: dict[str, list[dict]], path: Path) -> None:
    """Training (dashed) and validation (solid) loss against iteration, one colour per run.

    Args:
        curves: run label -> rows with ``iteration``, ``train_loss`` and ``val_loss``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for (label, rows), colour in zip(curves.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        its = [int(r["iteration"]) for r in rows]
        name = f"{label} " if label else ""
        ax.plot(its, [float(r["train_loss"]) for r in rows], "--", color=colour, label=f"{name}training")
        ax.plot(its, [float(r["val_loss"]) for r in rows], "-", color=colour, label=f"{name}validation")
    ax.set_xlabel("iteration")
    ax.set_ylabel("Euclidean loss (39-px box)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(args: argparse.Namespace) -> dict:
    """Train, validate periodically, checkpoint, and evaluate the final model.

    Returns:
        The final validation metrics (see :func:`isnet.evaluate.summarise`) plus
        ``"checkpoint"``, ``"model"``, ``"seconds"`` and ``"history"``.
    """
    t_start = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    ckpt_path, model_path = out / "checkpoint.pt", out / "model.pt"
    if args.demo:
        args.train_list = args.train_list or str(demo_list("train"))
        args.val_list = args.val_list or str(demo_list("val"))
        args.format = "sun"
    if not args.train_list or not args.val_list:
        raise ValueError("give --train-list and --val-list, or --demo")
    if args.resume and not ckpt_path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {ckpt_path}")
    if not args.resume and ckpt_path.exists():
        raise FileExistsError(f"{ckpt_path} exists: pass --resume to continue that run, or choose another --out")
    loss_fn = {"euclidean": euclidean, "wing": wing}[args.loss]

    torch.manual_seed(args.seed)
    if args.resume:
        ckpt = load_checkpoint(ckpt_path)
        model = model_from_checkpoint(ckpt, str(ckpt_path))
        config = model.config
    elif args.init:
        ckpt = None
        model = model_from_checkpoint(load_checkpoint(args.init), args.init)
        config = model.config
    else:
        ckpt = None
        config = config_from_args(args)
        model = ISNet(config)
    augment = augment_from_args(args)
    skipped = Skipped()
    if args.stream:
        samples = read_list(args.train_list, args.format, args.root, args.pts_scheme, args.skip_bad, skipped)
        train = streamed_crops(samples, source_size(config.input_size), SOURCE_MARGIN)
    else:
        train = load_data(args, args.train_list, args.root, config, skipped)
    val = load_data(args, args.val_list, args.root, config, skipped)
    if skipped and not args.quiet:
        print(f"skipped {len(skipped)} unusable entries:", file=sys.stderr)
        for item in skipped.items:
            print(f"  {item}", file=sys.stderr)

    rank, world = _init_distributed(args)
    device = _device(args.device, rank)
    if args.batch_size % world:
        raise ValueError(f"--batch-size {args.batch_size} must divide evenly among {world} processes")
    optimizer = _optimizer(args, model)
    history: list[dict] = []
    start = 0
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
        history = list(ckpt["history"])
        start = int(ckpt["iteration"])
    elif not args.init:
        # Start the regression at the mean face, so early gradients shape features
        # instead of moving the output bias.
        everyone = np.arange(len(train))
        mats, flipped = view_matrices(train.boxes, train.images.shape[-1], config.input_size, config.margin)
        target = view_targets(train, everyone, config, mats, flipped)
        with torch.no_grad():
            model.head[-1].bias.copy_(target.mean(dim=0).flatten())
    model.to(device)
    for state in optimizer.state.values():
        for k, v in state.items():
            if torch.is_tensor(v):
                state[k] = v.to(device)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    # Losses are reported in pixels of a 39-pixel face box (the paper's units).
    unit = LOSS_BOX_PIXELS * (1.0 + 2.0 * config.margin)
    run_args = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool, list, type(None)))}
    window: list[float] = [] if ckpt is None else list(ckpt["window"])
    stop = args.iterations if not args.stop_after else min(args.iterations, start + args.stop_after)
    bar = tqdm(
        range(start, stop),
        initial=start,
        total=args.iterations,
        desc="training",
        disable=args.quiet or rank > 0,
        dynamic_ncols=True,
    )
    part = slice(rank, None, world)
    loader = iter(
        torch.utils.data.DataLoader(
            BatchImages(train, args.batch_size, args.seed, start, stop, part),
            batch_size=None,
            num_workers=args.loader_workers,
        )
    )
    net.train()
    t_loop = time.perf_counter()

    def checkpoint(done: int) -> None:
        save_checkpoint(
            ckpt_path,
            model,
            optimizer=optimizer.state_dict(),
            iteration=done,
            history=history,
            window=window,
            args=run_args,
        )

    with InterruptRequest() as interrupt:
        for it in bar:
            rng = np.random.default_rng([args.seed, it, 0])
            index = batch_indices(len(train), args.batch_size, args.seed, it)
            views, target = make_batch(train, index, config, augment, rng, part, next(loader))
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(args, it)
            loss = loss_fn(net(views.to(device)) * unit, target.to(device) * unit)
            # Loss and stop request travel together: every process must see the same of both, or a
            # NaN or a Ctrl-C on one process would hang the others at the next all-reduce.
            status = torch.stack([loss.detach(), torch.tensor(float(interrupt.requested), device=loss.device)])
            if world > 1:
                torch.distributed.all_reduce(status)
            shown, stop_requested = status[0] / world, bool(status[1] > 0)
            if not torch.isfinite(shown):
                kept = f"last good checkpoint {ckpt_path}" if ckpt_path.exists() else "no checkpoint was written yet"
                raise TrainingDiverged(f"loss became {shown.item()} at iteration {it + 1}; {kept}")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if config.learn_beta:
                model.project_beta_()
            window.append(shown.item())
            done = it + 1
            if rank == 0 and (done % args.val_every == 0 or done == args.iterations):
                history.append(
                    {"iteration": done, "train_loss": float(np.mean(window)), "val_loss": validation_loss(model, val)}
                )
                window = []
                bar.set_postfix(loss=f"{history[-1]['train_loss']:.3f}", val=f"{history[-1]['val_loss']:.3f}")
                net.train()
            elif done % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(window):.3f}")
            if rank == 0 and (done % args.ckpt_every == 0 or done == stop or stop_requested):
                checkpoint(done)
            if stop_requested:
                bar.close()
                if world > 1:
                    torch.distributed.barrier()
                _finish_distributed(world)
                raise TrainingInterrupted(
                    f"checkpoint of iteration {done} of {args.iterations} written to {ckpt_path}; "
                    "continue with --resume"
                )
    bar.close()
    loop_seconds = time.perf_counter() - t_loop
    throughput = {
        "loop_seconds": loop_seconds,
        "samples_per_s": (stop - start) * args.batch_size / max(loop_seconds, 1e-9),
    }
    if world > 1:
        torch.distributed.barrier()  # the others wait for rank 0's checkpoint before anyone leaves
    if stop < args.iterations or rank > 0:
        _finish_distributed(world)
        return {
            "checkpoint": str(ckpt_path),
            "iteration": stop,
            "history": history,
            "seconds": time.perf_counter() - t_start,
            **throughput,
        }

    model.cpu().eval()
    pred, gt = predict_crops(model, val), ground_truth(val)
    metrics = summarise(pred, gt, val.box_wh, get_scheme(config.scheme))
    save_checkpoint(model_path, model, metrics=metrics, args=run_args)
    if history:
        write_curves(history, out)
    metrics.update(
        checkpoint=str(ckpt_path),
        model=str(model_path),
        skipped=skipped.items,
        seconds=time.perf_counter() - t_start,
        iterations=args.iterations,
        **throughput,
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    metrics["history"] = history
    _finish_distributed(world)
    if not args.quiet:
        from isnet.evaluate import format_table

        print(format_table(metrics))
        curves = f", curves {out / 'curves.csv'} and {out / 'curves.png'}" if history else ""
        print(f"wrote model {model_path}, metrics {out / 'metrics.json'}{curves}, checkpoint {ckpt_path}")
    return metrics
