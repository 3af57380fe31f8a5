"""Training IS-Net (or the plain CNN): :class:`TrainConfig` and :func:`train`, in named steps.

Randomness is a pure function of ``(seed, iteration)``: the batch order comes from a
per-epoch permutation and the augmentation from a generator seeded with the iteration, so a
run resumed from a checkpoint draws exactly the batches the uninterrupted run would have.
The training configuration is saved in every checkpoint beside the model's.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from isnet.assets import demo_list
from isnet.data import CropSet, Skipped, pts_schemes_for, read_list
from isnet.detectors import YuNet, detector_training_boxes
from isnet.inference import ground_truth, predict_crops
from isnet.losses import euclidean, euclidean_loss, view_to_loss_units, wing
from isnet.metrics import summarise, summarise_region
from isnet.model import ISNet, ISNetConfig, load, load_checkpoint, model_from_checkpoint, save_checkpoint
from isnet.plots import plot_loss_curves
from isnet.regions import fit_region_view, model_crops
from isnet.schemes import SCHEMES, get_scheme
from isnet.transforms import (
    Augment,
    apply_affines,
    flip_landmarks,
    photometric,
    photometric_params,
    view_matrices,
    warp_batch,
    wild,
    wild_params,
)

__all__ = [
    "batch_indices",
    "BatchImages",
    "build_model",
    "check_out_folder",
    "device_for",
    "evaluate_and_save",
    "finish_distributed",
    "init_distributed",
    "InterruptRequest",
    "learning_rate",
    "fit_region",
    "load_crops",
    "LOSS_FUNCTIONS",
    "make_batch",
    "make_optimizer",
    "prepare",
    "read_samples",
    "RESULT_FIELDS",
    "Run",
    "RUN_FIELDS",
    "start_at_the_mean_face",
    "train",
    "train_or_continue",
    "train_steps",
    "TrainConfig",
    "TrainingDiverged",
    "TrainingInterrupted",
    "validation_loss",
    "view_targets",
    "write_curves",
]

_MODEL = ISNetConfig()
_AUGMENT = Augment()


@dataclass
class TrainConfig:
    """Everything a training run is given; saved in its checkpoints and ``model.pt``.

    The fields are the options of ``isnet train`` (see its ``--help`` for each). Model
    fields are ignored when ``init`` or a resumed checkpoint sets the architecture.
    """

    # data
    train_list: str | None = None
    val_list: str | None = None
    demo: bool = False
    format: str = "sun"
    root: str | None = None
    pts_scheme: tuple[str, ...] | None = None
    skip_bad: bool = False
    cache_dir: str | None = None
    stream: bool = False
    loader_workers: int = 0
    # model
    scheme: str = _MODEL.scheme
    arch: str = "isnet"
    beta: tuple[float, ...] | None = None
    learn_beta: bool = False
    input_size: int = _MODEL.input_size
    channels: tuple[int, ...] = _MODEL.channels
    kernels: tuple[int, ...] = _MODEL.kernels
    hidden: int = _MODEL.hidden
    synthesis: str = _MODEL.synthesis
    margin: float = _MODEL.margin
    region: tuple[str, ...] = ()
    # optimisation
    iterations: int = 10000
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    schedule: str = "cosine"
    warmup: int = 200
    loss: str = "euclidean"
    teacher: str | None = None
    teacher_weight: float = 0.5
    seed: int = 0
    # augmentation
    no_augment: bool = False
    rotate: float = _AUGMENT.rotate
    translate: float = _AUGMENT.translate
    box_shift: float = _AUGMENT.box_shift
    box_scale: float = _AUGMENT.box_scale
    flip: float = _AUGMENT.flip
    contrast: float = _AUGMENT.contrast
    brightness: float = _AUGMENT.brightness
    occlude: float = _AUGMENT.occlude
    blur: float = _AUGMENT.blur
    noise: float = _AUGMENT.noise
    detector_box: float = _AUGMENT.detector_box
    jpeg: float = _AUGMENT.jpeg
    # run
    out: str = "runs/train"
    resume: bool = False
    init: str | None = None
    stop_after: int = 0
    val_every: int = 500
    ckpt_every: int = 500
    device: str = "auto"
    threads: int = 0
    quiet: bool = False

    def __post_init__(self) -> None:
        self.channels, self.kernels, self.region = tuple(self.channels), tuple(self.kernels), tuple(self.region)
        if self.pts_scheme is not None:
            self.pts_scheme = (self.pts_scheme,) if isinstance(self.pts_scheme, str) else tuple(self.pts_scheme)
        self.beta = None if self.beta is None else tuple(float(b) for b in self.beta)
        if self.demo:
            self.train_list = self.train_list or str(demo_list("train"))
            self.val_list = self.val_list or str(demo_list("val"))
            self.format = "sun"

    @classmethod
    def from_options(cls, options: object) -> TrainConfig:
        """The config of an object carrying these fields as attributes (the parsed command line)."""
        return cls(**{f.name: getattr(options, f.name) for f in fields(cls) if hasattr(options, f.name)})

    def to_dict(self) -> dict:
        return asdict(self)

    def model_config(self) -> ISNetConfig:
        """The architecture these options describe (``arch="cnn"``: beta = 0, ..., 0, 1)."""
        if self.arch == "cnn" and self.beta is not None:
            raise ValueError("--arch cnn fixes beta = (0, ..., 0, 1); drop --beta")
        scheme = get_scheme(self.scheme)
        built_in = SCHEMES.get(scheme.name) == scheme
        config = ISNetConfig(
            scheme=scheme.name,
            scheme_definition=None if built_in else scheme.to_dict(),
            learn_beta=self.learn_beta,
            input_size=self.input_size,
            channels=self.channels,
            kernels=self.kernels,
            hidden=self.hidden,
            synthesis=self.synthesis,
            margin=self.margin,
            region=self.region,
            **({} if self.beta is None else {"beta": self.beta}),
        )
        return config.plain_cnn() if self.arch == "cnn" else config

    def augment(self) -> Augment | None:
        if self.no_augment:
            return None
        return Augment(
            self.rotate,
            self.translate,
            self.box_shift,
            self.box_scale,
            self.flip,
            self.contrast,
            self.brightness,
            self.occlude,
            self.blur,
            self.noise,
            self.detector_box,
            self.jpeg,
        )


# What decides a training's result: a search trial's identity is its beta and these fields.
RESULT_FIELDS = (
    *("train_list", "val_list", "demo", "format", "root", "pts_scheme", "skip_bad"),
    *("scheme", "arch", "beta", "learn_beta", "input_size", "channels", "kernels", "hidden", "synthesis", "margin"),
    "region",
    *("iterations", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule", "warmup", "loss"),
    *("seed", "no_augment", "rotate", "translate", "box_shift", "box_scale", "flip", "contrast", "brightness"),
    *("occlude", "blur", "noise", "detector_box", "jpeg", "init", "val_every", "teacher", "teacher_weight"),
)
# Where a run is written and how it is run and reported: never part of its result.
RUN_FIELDS = (
    "out",
    "resume",
    "stop_after",
    "ckpt_every",
    "device",
    "threads",
    "quiet",
    "cache_dir",
    "stream",
    "loader_workers",
)


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


def learning_rate(config: TrainConfig, it: int) -> float:
    """Learning rate at iteration ``it``: linear warm-up, then constant, cosine or step decay."""
    if it < config.warmup:
        return config.lr * (it + 1) / config.warmup
    frac = (it - config.warmup) / max(1, config.iterations - config.warmup)
    if config.schedule == "cosine":
        return config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * frac)))
    if config.schedule == "step":
        return config.lr * (0.1 ** int(frac * 3))
    return config.lr


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
    boxes = crops.boxes[index]
    if augment is not None and augment.detector_box > 0 and crops.detector_boxes is not None:
        framed = crops.detector_boxes[index]
        use = (rng.uniform(0, 1, len(index)) < augment.detector_box) & np.isfinite(framed).all(axis=1)
        boxes = np.where(use[:, None], framed, boxes)
    mats, flipped = view_matrices(boxes, crops.images.shape[-1], size, config.margin, augment, rng)
    if augment is not None:
        contrast, brightness = photometric_params(len(index), augment, rng)
        # Drawn only when on, so runs without them keep their random streams.
        degrade = wild_params(len(index), augment, rng) if augment.is_wild() else None
    index, mats, flipped = index[part], mats[part], flipped[part]
    images = crops.images[index] if images is None else images
    src = torch.as_tensor(np.asarray(images)).unsqueeze(1).float().div_(255.0)
    views = warp_batch(src, mats, size)
    if augment is not None:
        views = photometric(views, contrast[part], brightness[part])
        if degrade is not None:
            views = wild(views, degrade[part])
    return views, view_targets(crops, index, config, mats, flipped)


def view_targets(
    crops: CropSet, index: np.ndarray, config: ISNetConfig, mats: np.ndarray, flipped: np.ndarray
) -> torch.Tensor:
    """``(B, K, 2)`` landmarks of faces ``index`` in their views, as fractions of the view."""
    lm = crops.landmarks[index].astype(np.float64)
    lm = apply_affines(mats, lm)
    lm = flip_landmarks(lm, flipped, config.landmark_scheme.flip_permutation())
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


LOSS_FUNCTIONS = {"euclidean": euclidean, "wing": wing}


@dataclass
class Run:
    """The state of a training between its steps."""

    config: TrainConfig
    model: ISNet
    net: torch.nn.Module
    optimizer: torch.optim.Optimizer
    train: CropSet
    val: CropSet
    skipped: Skipped
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    start: int = 0
    history: list[dict] = field(default_factory=list)
    window: list[float] = field(default_factory=list)
    teacher: ISNet | None = None

    @property
    def out(self) -> Path:
        return Path(self.config.out)

    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.pt"

    def save_checkpoint(self, done: int) -> None:
        save_checkpoint(
            self.checkpoint_path,
            self.model,
            optimizer=self.optimizer.state_dict(),
            iteration=done,
            history=self.history,
            window=self.window,
            train_config=self.config.to_dict(),
        )


def check_out_folder(config: TrainConfig) -> None:
    """Refuse to overwrite a run, and to resume one that is not there."""
    ckpt = Path(config.out) / "checkpoint.pt"
    if not config.train_list or not config.val_list:
        raise ValueError("give --train-list and --val-list, or --demo")
    if config.resume and not ckpt.exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {ckpt}")
    if not config.resume and ckpt.exists():
        raise FileExistsError(f"{ckpt} exists: pass --resume to continue that run, or choose another --out")


def build_model(config: TrainConfig, ckpt: dict | None) -> ISNet:
    """The model to train: the checkpoint's when resuming, ``init``'s when fine-tuning, else a new one."""
    torch.manual_seed(config.seed)
    if ckpt is not None:
        return model_from_checkpoint(ckpt, str(Path(config.out) / "checkpoint.pt"))
    if config.init:
        return model_from_checkpoint(load_checkpoint(config.init), config.init)
    return ISNet(config.model_config())


def read_samples(config: TrainConfig, list_path: str, model_config: ISNetConfig, skipped: Skipped) -> list:
    """The annotated faces of a list, in the model's scheme."""
    return read_list(
        list_path,
        config.format,
        config.root,
        pts_schemes_for(model_config.landmark_scheme, config.pts_scheme),
        config.skip_bad,
        skipped,
        model_config.landmark_scheme,
    )


def load_crops(
    config: TrainConfig,
    list_path: str,
    model_config: ISNetConfig,
    skipped: Skipped,
    stream: bool,
    samples: list | None = None,
) -> CropSet:
    """The face crops of a list (or of its ``samples``, already read): decoded on demand with
    ``stream``, else built once (and cached). A region network's crops are cut at its view's
    resolution and boxed by its view (:mod:`isnet.regions`)."""
    samples = read_samples(config, list_path, model_config, skipped) if samples is None else samples
    return model_crops(samples, model_config, config.cache_dir, config.skip_bad, skipped, not config.quiet, stream)


def fit_region(config: TrainConfig, model: ISNet, samples: list) -> None:
    """Give a new region network (``config.region``) its view, fitted on its training faces."""
    scheme = model.config.landmark_scheme
    region = replace(model.config, region=tuple(config.region))
    view = fit_region_view(np.stack([s.landmarks for s in samples]), region.points_read, scheme)
    model.config = replace(region, region_view=view)


def device_for(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def init_distributed(config: TrainConfig) -> tuple[int, int]:
    """``(rank, world size)``; joins the process group when started by ``torchrun``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        use_nccl = torch.cuda.is_available() and config.device in ("auto", "cuda")
        dist.init_process_group("nccl" if use_nccl else "gloo")
    return dist.get_rank(), world


def finish_distributed(world: int) -> None:
    if world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def make_optimizer(config: TrainConfig, model: ISNet) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return cls(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)


def start_at_the_mean_face(model: ISNet, train: CropSet) -> None:
    """Set the regression's output bias to the mean face, so early gradients shape features
    instead of moving the output bias."""
    config = model.config
    mats, flipped = view_matrices(train.boxes, train.images.shape[-1], config.input_size, config.margin)
    target = view_targets(train, np.arange(len(train)), config, mats, flipped)
    with torch.no_grad():
        model.head[-1].bias.copy_(target.mean(dim=0).flatten())


def prepare(config: TrainConfig) -> Run:
    """Model, data, optimizer and state of a new, resumed or fine-tuning run, on its device."""
    ckpt = load_checkpoint(Path(config.out) / "checkpoint.pt") if config.resume else None
    model = build_model(config, ckpt)
    skipped = Skipped()
    samples = read_samples(config, config.train_list, model.config, skipped)
    if config.region and ckpt is None:
        fit_region(config, model, samples)
    train = load_crops(config, config.train_list, model.config, skipped, config.stream, samples)
    if config.detector_box > 0 and not config.no_augment and not model.config.region:
        train.detector_boxes = detector_training_boxes(YuNet(), train.files, train.boxes, train.to_source)
        if not config.quiet:
            found = int(np.isfinite(train.detector_boxes).all(axis=1).sum())
            print(f"YuNet found {found} of {len(train)} training faces; those train on its boxes too")
    val = load_crops(config, config.val_list, model.config, skipped, False)
    if skipped and not config.quiet:
        print(f"skipped {len(skipped)} unusable entries:", file=sys.stderr)
        for item in skipped.items:
            print(f"  {item}", file=sys.stderr)
    rank, world = init_distributed(config)
    device = device_for(config.device)
    if config.batch_size % world:
        raise ValueError(f"--batch-size {config.batch_size} must divide evenly among {world} processes")
    optimizer = make_optimizer(config, model)
    run = Run(config, model, model, optimizer, train, val, skipped, rank, world, device)
    if config.teacher:
        run.teacher = load_teacher(config.teacher, model.config).to(device)
    if ckpt is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
        run.history, run.window, run.start = list(ckpt["history"]), list(ckpt["window"]), int(ckpt["iteration"])
    elif not config.init:
        start_at_the_mean_face(model, train)
    model.to(device)
    for state in optimizer.state.values():
        for k, v in state.items():
            if torch.is_tensor(v):
                state[k] = v.to(device)
    if world > 1:
        run.net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    return run


def load_teacher(path: str, student: ISNetConfig) -> ISNet:
    """The model whose readings a distilled student also learns from; it must read the student's
    points from the same view (scheme and margin; its input size may differ)."""
    teacher = load(path)
    t = teacher.config
    if t.landmark_scheme.points != student.landmark_scheme.points:
        raise ValueError(f"--teacher {path}: its scheme {t.scheme!r} is not the student's {student.scheme!r}")
    if t.margin != student.margin:
        raise ValueError(f"--teacher {path}: its view margin {t.margin} is not the student's {student.margin}")
    if t.region_view != student.region_view:
        raise ValueError(f"--teacher {path}: it reads another view than the student's (region {list(student.region)})")
    return teacher


@torch.no_grad()
def teacher_targets(teacher: ISNet, views: torch.Tensor) -> torch.Tensor:
    """``(B, K, 2)`` the teacher's reading of the student's ``(B, 1, S, S)`` views, as fractions of
    the view: the same views resized to the teacher's input (the margin is the same, so the
    fractions are too)."""
    size = teacher.config.input_size
    if views.shape[-1] != size:
        views = torch.nn.functional.interpolate(views, size=(size, size), mode="bilinear", antialias=True)
    return teacher(views)


@torch.no_grad()
def validation_loss(model: ISNet, crops: CropSet) -> float:
    """The paper's Euclidean loss on plain views of a crop set (over the points the model reads)."""
    index = list(model.config.points_read)
    return euclidean_loss(predict_crops(model, crops)[:, index], ground_truth(crops)[:, index], crops.box_wh)


def train_steps(run: Run, stop: int) -> None:
    """Iterations ``run.start .. stop``: a step each, validation every ``val_every``, a
    checkpoint every ``ckpt_every`` and at ``stop``; Ctrl-C ends them after a whole step."""
    config, model, net = run.config, run.model, run.net
    loss_fn = LOSS_FUNCTIONS[config.loss]
    augment = config.augment()
    unit = view_to_loss_units(model.config.margin)
    # A region network learns its region's points only; the other outputs are never read.
    region = list(model.config.points_read) if model.config.region else None
    part = slice(run.rank, None, run.world)
    bar = tqdm(
        range(run.start, stop),
        initial=run.start,
        total=config.iterations,
        desc="training",
        # None: drawn only on a terminal, never into a redirected log.
        disable=True if config.quiet or run.rank > 0 else None,
        dynamic_ncols=True,
    )
    loader = iter(
        torch.utils.data.DataLoader(
            BatchImages(run.train, config.batch_size, config.seed, run.start, stop, part),
            batch_size=None,
            num_workers=config.loader_workers,
        )
    )
    net.train()
    with InterruptRequest() as interrupt:
        for it in bar:
            rng = np.random.default_rng([config.seed, it, 0])
            index = batch_indices(len(run.train), config.batch_size, config.seed, it)
            views, target = make_batch(run.train, index, model.config, augment, rng, part, next(loader))
            for group in run.optimizer.param_groups:
                group["lr"] = learning_rate(config, it)
            views = views.to(run.device)
            pred, target = net(views) * unit, target.to(run.device) * unit
            if region is not None:
                pred, target = pred[:, region], target[:, region]
            loss = loss_fn(pred, target)
            if run.teacher is not None:
                w = config.teacher_weight
                taught = teacher_targets(run.teacher, views) * unit
                loss = (1.0 - w) * loss + w * loss_fn(pred, taught if region is None else taught[:, region])
            # Loss and stop request travel together: every process must see the same of both, or a
            # NaN or a Ctrl-C on one process would hang the others at the next all-reduce.
            status = torch.stack([loss.detach(), torch.tensor(float(interrupt.requested), device=loss.device)])
            if run.world > 1:
                dist.all_reduce(status)
            shown, stop_requested = status[0] / run.world, bool(status[1] > 0)
            if not torch.isfinite(shown):
                ckpt = run.checkpoint_path
                kept = f"last good checkpoint {ckpt}" if ckpt.exists() else "no checkpoint was written yet"
                raise TrainingDiverged(f"loss became {shown.item()} at iteration {it + 1}; {kept}")
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            run.optimizer.step()
            if model.config.learn_beta:
                model.project_beta_()
            run.window.append(shown.item())
            done = it + 1
            if run.rank == 0 and (done % config.val_every == 0 or done == config.iterations):
                run.history.append(
                    {
                        "iteration": done,
                        "train_loss": float(np.mean(run.window)),
                        "val_loss": validation_loss(model, run.val),
                    }
                )
                run.window = []
                bar.set_postfix(loss=f"{run.history[-1]['train_loss']:.3f}", val=f"{run.history[-1]['val_loss']:.3f}")
                net.train()
            elif done % 20 == 0:
                bar.set_postfix(loss=f"{np.mean(run.window):.3f}")
            if run.rank == 0 and (done % config.ckpt_every == 0 or done == stop or stop_requested):
                run.save_checkpoint(done)
            if stop_requested:
                bar.close()
                if run.world > 1:
                    dist.barrier()
                finish_distributed(run.world)
                raise TrainingInterrupted(
                    f"checkpoint of iteration {done} of {config.iterations} written to {run.checkpoint_path}; "
                    "continue with --resume"
                )
    bar.close()


def write_curves(history: list[dict], out: Path) -> None:
    """``curves.csv`` and ``curves.png`` (the paper's Fig. 2) from the validation history."""
    with open(out / "curves.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iteration", "train_loss", "val_loss"])
        for row in history:
            w.writerow([row["iteration"], f"{row['train_loss']:.6f}", f"{row['val_loss']:.6f}"])
    plot_loss_curves({"": history}, out / "curves.png")


def evaluate_and_save(run: Run) -> dict:
    """Final validation metrics of the trained model; writes ``model.pt``, the curves and ``metrics.json``."""
    model = run.model.cpu().eval()
    cfg = model.config
    pred, truth = predict_crops(model, run.val), ground_truth(run.val)
    if cfg.region:
        metrics = summarise_region(pred, truth, run.val.box_wh, cfg.landmark_scheme, cfg.points_read)
    else:
        metrics = summarise(pred, truth, run.val.box_wh, cfg.landmark_scheme)
    save_checkpoint(run.out / "model.pt", model, metrics=metrics, train_config=run.config.to_dict())
    if run.history:
        write_curves(run.history, run.out)
    return metrics


def train(config: TrainConfig) -> dict:
    """Train, validate periodically, checkpoint, and evaluate the final model.

    Returns:
        The final validation metrics (see :func:`isnet.metrics.summarise`) plus
        ``"checkpoint"``, ``"model"``, ``"seconds"``, ``"history"`` and throughput; for a run
        stopped by ``stop_after`` only ``"checkpoint"``, ``"iteration"``, ``"history"`` and timings.
    """
    t_start = time.perf_counter()
    if config.threads:
        torch.set_num_threads(config.threads)
    check_out_folder(config)
    run = prepare(config)
    start = run.start
    stop = config.iterations if not config.stop_after else min(config.iterations, start + config.stop_after)
    t_loop = time.perf_counter()
    train_steps(run, stop)
    loop_seconds = time.perf_counter() - t_loop
    throughput = {
        "loop_seconds": loop_seconds,
        "samples_per_s": (stop - start) * config.batch_size / max(loop_seconds, 1e-9),
    }
    if run.world > 1:
        dist.barrier()  # the others wait for rank 0's checkpoint before anyone leaves
    if stop < config.iterations or run.rank > 0:
        finish_distributed(run.world)
        return {
            "checkpoint": str(run.checkpoint_path),
            "iteration": stop,
            "history": run.history,
            "seconds": time.perf_counter() - t_start,
            **throughput,
        }
    metrics = evaluate_and_save(run)
    metrics.update(
        checkpoint=str(run.checkpoint_path),
        model=str(run.out / "model.pt"),
        skipped=run.skipped.items,
        seconds=time.perf_counter() - t_start,
        iterations=config.iterations,
        **throughput,
    )
    (run.out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    metrics["history"] = run.history
    finish_distributed(run.world)
    return metrics


def train_or_continue(config: TrainConfig) -> dict:
    """Finish the run in ``config.out`` whatever state it is in: a finished run (``metrics.json``)
    gives its metrics, a started one (``checkpoint.pt``) is resumed, otherwise it starts.

    The one home of resume-or-skip, for the demo, the search's trials and the scripts' runs.
    """
    out = Path(config.out)
    if (out / "metrics.json").exists() and (out / "model.pt").exists():
        metrics = json.loads((out / "metrics.json").read_text())
        metrics["history"] = (
            load_checkpoint(out / "checkpoint.pt")["history"] if (out / "checkpoint.pt").exists() else []
        )
        return metrics
    return train(replace(config, resume=(out / "checkpoint.pt").exists()))
