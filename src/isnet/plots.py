"""Figures: training curves and CED curves, drawn off-screen to PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted, on any machine
import matplotlib.pyplot as plt  # noqa: E402

from isnet.metrics import auc, ced  # noqa: E402

__all__ = ["plot_ced", "plot_loss_curves"]


def plot_loss_curves(curves: dict[str, list[dict]], path: Path) -> None:
    """Training (dashed) and validation (solid) loss against iteration, one colour per run.

    Args:
        curves: run label -> rows with ``iteration``, ``train_loss`` and ``val_loss``.
    """
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


def plot_ced(errors: dict, path: str | Path, threshold: float = 0.10) -> None:
    """CED curves of one or more models to a PNG: ``errors`` maps a name to ``(N,)`` NMEs."""
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
