"""The Information-Synthesis Network and its plain-CNN special case.

IS-Net is a stack of S blocks (convolution, ReLU, 2x2 max-pooling) and a fully
connected regression head. The head is fed a *synthesis* of the blocks' feature
maps: block i contributes its features scaled by ``beta_i``.

Decisions the paper leaves open, and why:

* ``beta`` holds the weights of blocks 2..S (the paper's b2..b4 for S = 4); block 1
  gets ``1 - sum(beta)``. The constraints ``0 <= beta_i <= 1``, ``sum <= 1`` then make
  the synthesis a convex combination of *every* block, never an empty one, and the
  paper's plain CNN is exactly ``beta = (0, ..., 0, 1)``: only the last block feeds the
  head.
* The paper's Eq. 1 writes a weighted sum while its text says concatenation, and the
  blocks' maps differ in size and channels, so a sum is not even defined without
  extra layers. We concatenate: each block's map is flattened (``"concat"``, the
  default, which keeps all spatial detail, the point of synthesising early blocks)
  or first average-pooled to the last block's grid (``"pooled"``, a far smaller head).
  Scaling by ``beta_i`` in front of a learned linear layer does not change what the
  head can represent, but it changes how strongly each block's features drive the
  gradient and the initial output, which is why the choice of beta matters in training.
* A block with weight exactly 0 is left out of the synthesis (its features would be
  multiplied by 0), and blocks after the last weighted one are not computed. So the
  plain CNN has the parameters and FLOPs of a real plain CNN, not of a masked IS-Net.
"""

from __future__ import annotations

import functools
import math
import os
import pickle
import zipfile
from dataclasses import asdict, dataclass, fields, replace
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import nn

from isnet.schemes import Scheme, get_scheme

__all__ = [
    "average_to",
    "Block",
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "count_macs",
    "count_parameters",
    "ISNet",
    "ISNetConfig",
    "load",
    "load_checkpoint",
    "model_from_checkpoint",
    "project_to_feasible",
    "save_checkpoint",
    "SYNTHESIS_MODES",
    "validate_beta",
]

SYNTHESIS_MODES = ("concat", "pooled")


@dataclass
class ISNetConfig:
    """Everything needed to rebuild a model; stored in every checkpoint.

    Attributes:
        scheme: landmark scheme name (see :mod:`isnet.schemes`).
        scheme_definition: the whole scheme (:meth:`~isnet.schemes.Scheme.to_dict`) when it is not
            built in (a scheme file's), so that the checkpoint alone rebuilds it.
        input_size: side of the square grey input, in pixels.
        channels: output channels of each block; S = ``len(channels)``.
        kernels: convolution kernel size of each block.
        hidden: width of the head's hidden layer.
        beta: synthesis weights of blocks 2..S (block 1 gets ``1 - sum(beta)``).
        synthesis: ``"concat"`` (flatten every map) or ``"pooled"`` (pool to the last grid first).
        margin: the input view's margin around the face box, as a fraction of the box side.
        learn_beta: make beta a trained parameter, kept feasible by projection after each
            step (a baseline for the beta search); every block then feeds the head.
        region: a region network's regions of the scheme (``("brows", "eyes")``: one view of
            both): it reads only their points, in its own view; ``()``: the whole face.
        region_view: ``(dx, dy, side)`` where a region network's view sits, in sides of the face's
            frame (:meth:`~isnet.frames.Frames.within`): its centre moved by ``(dx, dy)`` in the
            upright face, its side scaled by ``side``. Fitted on the training faces.
    """

    scheme: str = "cuhk5"
    input_size: int = 39
    channels: tuple[int, ...] = (20, 40, 60, 80)
    kernels: tuple[int, ...] = (4, 3, 3, 2)
    hidden: int = 120
    # Found by `isnet search` on the CUHK set (docs/beta_search.md): the response surface
    # converged here after 16 trainings of 1,000 iterations.
    beta: tuple[float, ...] = (0.4067, 0.3654, 0.1669)
    synthesis: str = "concat"
    margin: float = 0.05
    learn_beta: bool = False
    scheme_definition: dict | None = None
    region: tuple[str, ...] = ()
    region_view: tuple[float, float, float] = (0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        self.kernels = tuple(int(k) for k in self.kernels)
        self.beta = tuple(float(b) for b in self.beta)
        self.region = tuple(str(r) for r in self.region)
        self.region_view = tuple(float(v) for v in self.region_view)
        self.validate()

    def plain_cnn(self) -> ISNetConfig:
        """The plain CNN of the same blocks: beta = (0, ..., 0, 1), only the last block feeds the head."""
        return replace(self, beta=(0.0,) * (len(self.channels) - 2) + (1.0,))

    def widened(self, factor: float) -> ISNetConfig:
        """This architecture with every block's channels and the hidden layer ``factor`` times as wide."""
        return replace(
            self,
            channels=tuple(max(1, round(c * factor)) for c in self.channels),
            hidden=max(1, round(self.hidden * factor)),
        )

    def validate(self) -> None:
        """Raise ``ValueError`` with a clear message if the configuration is unusable."""
        if self.landmark_scheme.name != self.scheme:
            raise ValueError(f"scheme {self.scheme!r} but its definition is named {self.landmark_scheme.name!r}")
        s = len(self.channels)
        if s < 1 or len(self.kernels) != s:
            raise ValueError(
                f"channels ({len(self.channels)}) and kernels ({len(self.kernels)}) "
                "must give one entry per block, at least one block"
            )
        validate_beta(self.beta, s)
        if self.synthesis not in SYNTHESIS_MODES:
            raise ValueError(f"synthesis must be one of {SYNTHESIS_MODES}, got {self.synthesis!r}")
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(f"margin must lie in [0, 1], got {self.margin}")
        self._validate_region()
        size = self.input_size
        for i, k in enumerate(self.kernels, start=1):
            size = (size - k + 1) // 2
            if size < 1:
                raise ValueError(f"input_size {self.input_size} is too small: block {i} leaves no pixels")

    @cached_property
    def landmark_scheme(self) -> Scheme:
        """The :class:`~isnet.schemes.Scheme` of the points: the stored definition, else the built-in."""
        if self.scheme_definition is not None:
            return Scheme.from_dict(self.scheme_definition, f"scheme {self.scheme!r} of a model config")
        return get_scheme(self.scheme)

    def _validate_region(self) -> None:
        scheme = self.landmark_scheme
        known = dict(scheme.regions)
        unknown = [r for r in self.region if r not in known]
        if unknown:
            raise ValueError(f"region {unknown} is not one of the {scheme.name} scheme's regions {sorted(known)}")
        if len(self.region_view) != 3 or not all(math.isfinite(v) for v in self.region_view):
            raise ValueError(f"region_view must be three finite numbers (dx, dy, side), got {self.region_view}")
        if self.region_view[2] <= 0:
            raise ValueError(f"region_view's side must be positive, got {self.region_view[2]}")
        points, flip = set(self.points_read), scheme.flip_permutation()
        mirrored = {flip[i] for i in points}
        if mirrored != points:
            # A mirrored reading (the pipeline's) would move points into the region from outside it.
            raise ValueError(f"region {self.region} is not closed under mirroring: add the regions of its flip pairs")

    @property
    def points_read(self) -> tuple[int, ...]:
        """Indices of the scheme's points this network reads: its region's, or all."""
        if not self.region:
            return tuple(range(self.landmark_scheme.n_points))
        regions = dict(self.landmark_scheme.regions)
        return tuple(sorted({i for r in self.region for i in regions[r]}))

    @property
    def block_weights(self) -> tuple[float, ...]:
        """Weights of all S blocks: ``(1 - sum(beta), beta_2, ..., beta_S)``."""
        return (max(0.0, 1.0 - sum(self.beta)),) + self.beta

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"], d["kernels"], d["beta"] = list(self.channels), list(self.kernels), list(self.beta)
        d["region"], d["region_view"] = list(self.region), list(self.region_view)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ISNetConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}: written by a newer isnet?")
        return cls(**d)


def validate_beta(beta: tuple[float, ...] | list[float], n_blocks: int) -> None:
    """Check ``0 <= beta_i <= 1``, ``sum(beta) <= 1`` and one weight per block 2..S."""
    beta = list(beta)
    if len(beta) != n_blocks - 1:
        raise ValueError(f"beta needs {n_blocks - 1} weights (blocks 2..{n_blocks}), got {len(beta)}")
    for i, b in enumerate(beta, start=2):
        if not (math.isfinite(b) and 0.0 <= b <= 1.0):
            raise ValueError(f"beta_{i} = {b} must lie in [0, 1]")
    # A little slack so a minimiser that lands on the face sum = 1 is not refused.
    if sum(beta) > 1.0 + 1e-9:
        raise ValueError(f"sum of beta = {sum(beta):.6g} must be at most 1")


def project_to_feasible(beta: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of ``(d,)`` beta onto ``{b >= 0, sum(b) <= 1}``."""
    clipped = beta.clamp(min=0.0)
    if clipped.sum() <= 1.0:
        return clipped
    # On the face sum = 1: the simplex projection (Held et al.; Duchi et al. 2008).
    u, _ = torch.sort(beta, descending=True)
    css = u.cumsum(0) - 1.0
    k = torch.arange(1, len(u) + 1, dtype=beta.dtype)
    rho = int((u - css / k > 0).nonzero().max())
    return (beta - css[rho] / (rho + 1)).clamp(min=0.0)


class Block(nn.Sequential):
    """Convolution, ReLU, 2x2 max-pooling."""

    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(nn.Conv2d(c_in, c_out, kernel), nn.ReLU(inplace=True), nn.MaxPool2d(2))


class ISNet(nn.Module):
    """IS-Net; with ``beta = (0, ..., 0, 1)`` the paper's plain CNN.

    Input ``(B, 1, S, S)`` grey views in [0, 1]; output ``(B, K, 2)`` landmark positions as
    fractions of the view's side (``x / S``, ``y / S``).
    """

    def __init__(self, config: ISNetConfig):
        super().__init__()
        self.config = config
        weights = config.block_weights
        self.used = list(range(len(weights))) if config.learn_beta else [i for i, w in enumerate(weights) if w > 0]
        depth = self.used[-1] + 1
        chans = (1,) + config.channels
        self.blocks = nn.ModuleList(Block(chans[i], chans[i + 1], config.kernels[i]) for i in range(depth))
        sizes = self.map_sizes()
        last = sizes[depth - 1]
        if config.synthesis == "concat":
            dims = [config.channels[i] * sizes[i] ** 2 for i in self.used]
        else:
            dims = [config.channels[i] * last**2 for i in self.used]
        self.pool_grid = last if config.synthesis == "pooled" else None
        if config.learn_beta:
            self.beta = nn.Parameter(torch.tensor(config.beta))
        else:
            self.register_buffer("fixed_weights", torch.tensor([weights[i] for i in self.used]), persistent=False)
        self.synthesis_dims = dims
        k = config.landmark_scheme.n_points
        self.head = nn.Sequential(
            nn.Linear(sum(dims), config.hidden), nn.ReLU(inplace=True), nn.Linear(config.hidden, 2 * k)
        )
        self.n_points = k

    def map_sizes(self) -> list[int]:
        """Side of each block's output map."""
        sizes, s = [], self.config.input_size
        for k in self.config.kernels:
            s = (s - k + 1) // 2
            sizes.append(s)
        return sizes

    def block_weights(self) -> torch.Tensor:
        """Weights of the blocks that feed the head, in order."""
        if self.config.learn_beta:
            return torch.cat([(1.0 - self.beta.sum()).view(1), self.beta])
        return self.fixed_weights

    @torch.no_grad()
    def project_beta_(self) -> None:
        """Put a learned beta back into the feasible set and into the config."""
        self.beta.copy_(project_to_feasible(self.beta))
        self.config.beta = tuple(self.beta.tolist())

    def synthesise(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, S, S)`` views to the ``(B, D)`` synthesis layer."""
        x = (x - 0.5) * 4.0  # fixed scaling, so contrast and brightness augmentation mean something
        weights = self.block_weights()
        parts = []
        j = 0
        for i, block in enumerate(self.blocks):
            x = block(x)
            if j < len(self.used) and self.used[j] == i:
                f = x if self.pool_grid is None else average_to(x, self.pool_grid)
                parts.append(f.flatten(1) * weights[j])
                j += 1
        return torch.cat(parts, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.synthesise(x)).view(-1, self.n_points, 2)


def average_to(x: torch.Tensor, grid: int) -> torch.Tensor:
    """``(B, C, H, H)`` maps averaged to ``(B, C, grid, grid)``, as ``adaptive_avg_pool2d``.

    Written as two products with a pooling matrix because ONNX has no adaptive pooling where
    ``grid`` does not divide ``H`` (the 56-pixel input's 5 x 5 map to 2 x 2).
    """
    side = x.shape[-1]
    if side % grid == 0:
        return nn.functional.avg_pool2d(x, side // grid)
    p = _pooling_matrix(side, grid).to(x.dtype)
    return p @ x @ p.T


@functools.cache
def _pooling_matrix(side: int, grid: int) -> torch.Tensor:
    """``(grid, side)``: row i averages cells ``floor(i * side / grid)`` to ``ceil((i + 1) * side / grid)``."""
    # Built in numpy: torch ops here would be traced into an exported graph.
    p = np.zeros((grid, side), np.float32)
    for i in range(grid):
        lo, hi = (i * side) // grid, -((-(i + 1) * side) // grid)
        p[i, lo:hi] = 1.0 / (hi - lo)
    return torch.from_numpy(p)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: ISNet) -> int:
    """Multiply-accumulates of one face's forward pass (convolutions and linear layers)."""
    cfg = model.config
    macs, s, c_in = 0, cfg.input_size, 1
    for block, k in zip(model.blocks, cfg.kernels):
        conv = block[0]
        s_out = s - k + 1
        macs += s_out * s_out * conv.out_channels * c_in * k * k
        s, c_in = s_out // 2, conv.out_channels
    for layer in model.head:
        if isinstance(layer, nn.Linear):
            macs += layer.in_features * layer.out_features
    return macs


CHECKPOINT_FORMAT = "isnet-checkpoint-1"


def save_checkpoint(path, model: ISNet, **extra) -> None:
    """Write ``{"format", "config", "model", **extra}`` atomically (temp file, then rename).

    Only tensors and plain Python values are stored, so :func:`load_checkpoint` can read
    the file with ``weights_only=True``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": CHECKPOINT_FORMAT, "config": model.config.to_dict(), "model": model.state_dict(), **extra}
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class CheckpointError(ValueError):
    """A weights file that is not a usable isnet checkpoint."""


def load_checkpoint(path) -> dict:
    """Read a checkpoint without executing code from it (``torch.load(weights_only=True)``).

    Raises:
        CheckpointError: missing file, pickled code or objects, or not an isnet checkpoint.
    """
    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such weights file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint (not the zip archive torch.save writes)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path}: refused: the file holds more than weights and plain values, "
            f"and loading it could run code ({first})"
        ) from None
    except (RuntimeError, EOFError, OSError) as e:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({e})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an isnet checkpoint (no format {CHECKPOINT_FORMAT!r})")
    return ckpt


def model_from_checkpoint(ckpt: dict, source: str = "checkpoint") -> ISNet:
    """Rebuild the model a checkpoint describes and load its weights."""
    try:
        config = ISNetConfig.from_dict(ckpt["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{source}: bad model config: {e}") from None
    model = ISNet(config)
    try:
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError) as e:
        lines = str(e).strip().splitlines()
        raise CheckpointError(
            f"{source}: weights do not fit the architecture in its config: {lines[0] if lines else e}"
        ) from None
    return model.eval()


def load(path) -> ISNet:
    """Rebuild a ready model (eval mode) from a checkpoint file alone."""
    return model_from_checkpoint(load_checkpoint(path), str(path))
