"""ONNX export of the landmark network and an onnxruntime backend for it.

The exported graph is the network alone: ``views`` ``(B, 1, S, S)`` float32 grey views
in [0, 1] (made by the crop pipeline, see :func:`isnet.inference.view_inputs`) to
``landmarks`` ``(B, K, 2)``, positions as fractions of the view's side. The batch
dimension is dynamic.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from pathlib import Path

import numpy as np
import torch

from isnet.model import ISNet, ISNetConfig

__all__ = [
    "export_onnx",
    "onnx_bytes",
    "OnnxISNet",
    "onnxruntime_available",
    "OPSET",
    "OPSETS",
    "ort_session",
    "parity",
    "PARITY_TOLERANCE",
]

OPSET = 17
# The opsets this graph exports to and runs at in onnxruntime (measured 7 to 23; 20 is the
# newest the TorchScript exporter documents).
OPSETS = (7, 20)
PARITY_TOLERANCE = 1e-4


def export_onnx(model: ISNet, f: str | Path | io.BytesIO, opset: int = OPSET) -> None:
    """Write ``model`` as an ONNX graph with a dynamic batch dimension to a path or buffer."""
    model = model.eval()
    example = torch.rand(2, 1, model.config.input_size, model.config.input_size)
    with warnings.catch_warnings():
        # The torch.export-based exporter needs the onnxscript package, which the
        # ``onnx`` extra does not pull in; the TorchScript one handles this plain CNN.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            f,
            input_names=["views"],
            output_names=["landmarks"],
            dynamic_axes={"views": {0: "batch"}, "landmarks": {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )


def onnx_bytes(model: ISNet, opset: int = OPSET) -> bytes:
    """The ONNX graph of ``model`` as bytes (nothing written to disk)."""
    buf = io.BytesIO()
    export_onnx(model, buf, opset)
    return buf.getvalue()


def onnxruntime_available() -> bool:
    """Whether the onnxruntime backend can run here (a regular dependency; absent only in trimmed installs)."""
    return importlib.util.find_spec("onnxruntime") is not None


def ort_session(graph: bytes | str | Path, threads: int | None = None):
    """An onnxruntime CPU session; ``threads`` sets its intra-op threads (``None``: its default)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ImportError("the onnx backend needs onnxruntime: pip install onnxruntime") from None
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    src = graph if isinstance(graph, bytes) else str(graph)
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


class OnnxISNet:
    """Stands in for an :class:`~isnet.model.ISNet` in :func:`isnet.inference.predict_crops`,
    running its exported graph in onnxruntime.

    Args:
        model: the network to export, or ``None`` with ``graph`` and ``config``.
        threads: onnxruntime intra-op threads (``None``: its default, all cores).
        graph: an exported graph (bytes or path) to use instead of exporting ``model``.
        config: the model's configuration, when only ``graph`` is given.
    """

    def __init__(
        self,
        model: ISNet | None,
        threads: int | None = None,
        graph: bytes | str | Path | None = None,
        config: ISNetConfig | None = None,
    ):
        if model is None and (graph is None or config is None):
            raise ValueError("OnnxISNet needs a model, or a graph and its config")
        self.config = model.config if model is not None else config
        self.session = ort_session(graph if graph is not None else onnx_bytes(model), threads)

    def eval(self) -> OnnxISNet:
        return self

    def run(self, views: np.ndarray) -> np.ndarray:
        """``(B, 1, S, S)`` float32 views to ``(B, K, 2)`` outputs."""
        return self.session.run(None, {"views": np.ascontiguousarray(views, dtype=np.float32)})[0]

    def __call__(self, views: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.run(views.detach().cpu().numpy()))


def parity(model: ISNet, graph: bytes | str | Path, n: int = 64, seed: int = 0) -> float:
    """Largest absolute difference between PyTorch and onnxruntime outputs on ``n`` random views."""
    rng = np.random.default_rng(seed)
    s = model.config.input_size
    views = rng.uniform(0.0, 1.0, (n, 1, s, s)).astype(np.float32)
    with torch.no_grad():
        ref = model.eval()(torch.from_numpy(views)).numpy()
    out = OnnxISNet(None, 1, graph, model.config).run(views)
    return float(np.abs(out - ref).max())
