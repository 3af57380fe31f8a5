"""Metrics (pure functions over arrays) and the ``isnet evaluate`` command.

Array shapes: ``pred`` and ``gt`` are ``(N, K, 2)`` landmarks in image pixels; ``box_wh``
is ``(N, 2)``, the width and height of each face box.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from isnet import options
from isnet.data import FORMATS, CropSet, Skipped, apply_affine, cached_crops, read_list
from isnet.model import CheckpointError, ISNet
from isnet.schemes import Scheme, get_scheme
from isnet.transforms import SOURCE_MARGIN, compose, invert_affine, source_size, view_matrices, warp_batch

# The paper trained on the face box resized to 39 x 39 pixels (Sun et al.'s level 1),
# so its losses are in those pixels; ours are reported in the same units.
LOSS_BOX_PIXELS = 39.0


def euclidean_loss(pred: np.ndarray, gt: np.ndarray, box_wh: np.ndarray, box_pixels: float = LOSS_BOX_PIXELS) -> float:
    """Caffe's EuclideanLoss, ``1/(2N) sum ||pred - gt||^2``, over all points of N faces.

    Coordinates are expressed in pixels of the face box resized to ``box_pixels`` square
    (x divided by box width, y by box height), the frame the paper's losses are in.
    """
    d = (pred - gt) / box_wh[:, None, :] * box_pixels
    return float((d**2).sum() / (2 * len(pred)))


def interocular(gt: np.ndarray, scheme: Scheme) -> np.ndarray:
    """``(N,)`` distance between the eye centres of each face."""
    left = gt[:, list(scheme.left_eye)].mean(axis=1)
    right = gt[:, list(scheme.right_eye)].mean(axis=1)
    return np.linalg.norm(left - right, axis=1)


def nme(pred: np.ndarray, gt: np.ndarray, norm: np.ndarray) -> np.ndarray:
    """``(N,)`` mean point-to-point error of each face divided by ``norm`` ``(N,)``."""
    return np.linalg.norm(pred - gt, axis=2).mean(axis=1) / norm


def ced(errors: np.ndarray, threshold: float = 0.10, steps: int = 1001) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative error distribution: ``(thresholds, fraction of faces with error <= t)``."""
    t = np.linspace(0.0, threshold, steps)
    frac = (errors[None, :] <= t[:, None]).mean(axis=1)
    return t, frac


def failure_rate(errors: np.ndarray, threshold: float = 0.10) -> float:
    """Fraction of faces whose error exceeds ``threshold``."""
    return float((errors > threshold).mean())


def auc(errors: np.ndarray, threshold: float = 0.10, steps: int = 1001) -> float:
    """Area under the CED curve up to ``threshold``, divided by ``threshold`` (1 is perfect)."""
    t, frac = ced(errors, threshold, steps)
    return float(np.trapezoid(frac, t) / threshold)


def box_errors(pred: np.ndarray, gt: np.ndarray, box_wh: np.ndarray) -> np.ndarray:
    """``(N, K)`` error of each point divided by its face's box width (Sun et al.'s measure)."""
    return np.linalg.norm(pred - gt, axis=2) / box_wh[:, :1]


def summarise(pred: np.ndarray, gt: np.ndarray, box_wh: np.ndarray, scheme: Scheme) -> dict:
    """All metrics of ``isnet evaluate`` as a JSON-ready dict."""
    face_nme = nme(pred, gt, interocular(gt, scheme))
    per_point = box_errors(pred, gt, box_wh)
    return {
        "n_faces": int(len(pred)),
        "euclidean_loss": euclidean_loss(pred, gt, box_wh),
        "nme_iod": float(face_nme.mean()),
        "fr_010": failure_rate(face_nme, 0.10),
        "auc_010": auc(face_nme, 0.10),
        "points": list(scheme.points),
        "box_error_per_point": per_point.mean(axis=0).tolist(),
        "box_fail05_per_point": (per_point > 0.05).mean(axis=0).tolist(),
        "box_error_mean": float(per_point.mean()),
    }


def format_table(metrics: dict) -> str:
    """The per-point table and headline numbers, as printed by ``isnet evaluate``."""
    lines = [
        f"faces {metrics['n_faces']}  euclidean loss {metrics['euclidean_loss']:.4f}  "
        f"NME(iod) {100 * metrics['nme_iod']:.3f}%  FR@0.10 {100 * metrics['fr_010']:.2f}%  "
        f"AUC@0.10 {metrics['auc_010']:.4f}",
        f"{'point':<14}{'error/box width':>17}{'fail > 5%':>11}",
    ]
    for name, err, fail in zip(metrics["points"], metrics["box_error_per_point"], metrics["box_fail05_per_point"]):
        lines.append(f"{name:<14}{100 * err:>16.3f}%{100 * fail:>10.2f}%")
    lines.append(f"{'mean':<14}{100 * metrics['box_error_mean']:>16.3f}%")
    return "\n".join(lines)


def view_inputs(model: ISNet, crops: CropSet, index: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """Plain (unaugmented) network views of faces ``index`` and their maps source -> view."""
    cfg = model.config
    mats, _ = view_matrices(crops.boxes[index], crops.images.shape[-1], cfg.input_size, cfg.margin)
    src = torch.from_numpy(crops.images[index]).unsqueeze(1).float().div_(255.0)
    return warp_batch(src, mats, cfg.input_size), mats


def input_device(model) -> torch.device:
    """Where a model wants its input: its parameters' device; the CPU for models without
    parameters (the onnxruntime backend)."""
    first = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    return first.device if first is not None else torch.device("cpu")


@torch.inference_mode()
def predict_crops(model: ISNet, crops: CropSet, batch_size: int = 256) -> np.ndarray:
    """Landmarks ``(N, K, 2)`` in image pixels for every face of a crop set."""
    model.eval()
    size = model.config.input_size
    device = input_device(model)
    out = []
    for start in range(0, len(crops), batch_size):
        index = np.arange(start, min(start + batch_size, len(crops)))
        views, mats = view_inputs(model, crops, index)
        pts = model(views.to(device)).cpu().numpy().astype(np.float64) * size
        back = invert_affine(compose(mats, crops.to_source[index]))
        out.append(np.einsum("bij,bkj->bki", back[:, :, :2], pts) + back[:, None, :, 2])
    return np.concatenate(out)


def ground_truth(crops: CropSet) -> np.ndarray:
    """Landmarks ``(N, K, 2)`` in image pixels."""
    back = invert_affine(crops.to_source)
    return np.stack([apply_affine(m, p.astype(np.float64)) for m, p in zip(back, crops.landmarks)])


def plot_ced(errors: dict[str, np.ndarray], path: str | Path, threshold: float = 0.10) -> None:
    """CED curves of one or more models to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for name, e in errors.items():
        t, frac = ced(e, threshold)
        ax.plot(t, frac, label=f"{name} (AUC {auc(e, threshold):.3f})")
    ax.set_xlabel("NME (inter-ocular)")
    ax.set_ylabel("fraction of faces")
    ax.set_xlim(0, threshold)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet evaluate", add_help=add_help, description="Evaluate a model on an annotated list."
    )
    p.add_argument("--weights", default=None, help="checkpoint file (default: the shipped model)")
    p.add_argument("--list", required=True, help="annotation list (or folder, for --format pts)")
    p.add_argument("--format", default="sun", choices=FORMATS, help="annotation format of the list")
    p.add_argument("--root", default=None, help="folder image paths are relative to (default: the list's)")
    p.add_argument("--pts-scheme", default="ibug68", help="landmark scheme of .pts files")
    p.add_argument("--json", type=options.new_file, default=None, help="write the metrics here")
    p.add_argument("--ced", type=options.new_file, default=None, help="write the CED plot (PNG) here")
    p.add_argument("--skip-bad", action="store_true", help="skip unusable lines instead of stopping")
    p.add_argument("--cache-dir", default=None, help="cache face crops here")
    p.add_argument("--batch-size", type=options.POSITIVE, default=256, help="faces per network call")
    p.add_argument("--quiet", action="store_true", help="print nothing, not even the metrics")
    return p


def main(args: argparse.Namespace) -> dict:
    from isnet.detect import weights_path
    from isnet.model import load

    t0 = time.perf_counter()
    args.weights = str(weights_path(args.weights))
    model = load(args.weights)
    scheme = get_scheme(model.config.scheme)
    skipped = Skipped()
    samples = read_list(args.list, args.format, args.root, args.pts_scheme, args.skip_bad, skipped)
    if samples and samples[0].landmarks.shape[0] != scheme.n_points:
        raise CheckpointError(
            f"{args.weights}: the model predicts the {scheme.n_points} points of scheme {scheme.name!r}, "
            f"but {args.list} has {samples[0].landmarks.shape[0]} points per face"
        )
    crops = cached_crops(
        samples,
        source_size(model.config.input_size),
        SOURCE_MARGIN,
        args.cache_dir,
        args.skip_bad,
        skipped,
        progress=not args.quiet,
    )
    pred = predict_crops(model, crops, args.batch_size)
    gt = ground_truth(crops)
    metrics = summarise(pred, gt, crops.box_wh, scheme)
    metrics["skipped"] = skipped.items
    metrics["weights"] = str(args.weights)
    metrics["list"] = str(args.list)
    metrics["seconds"] = time.perf_counter() - t0
    if not args.quiet:
        print(format_table(metrics))
        if skipped:
            print(f"skipped {len(skipped)} unusable entries:", file=sys.stderr)
            for item in skipped.items:
                print(f"  {item}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(metrics, indent=2))
    if args.ced:
        plot_ced({Path(args.weights).stem: nme(pred, gt, interocular(gt, scheme))}, args.ced)
    return metrics
