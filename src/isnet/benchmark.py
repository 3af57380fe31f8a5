"""Speed of the landmark network, the detector and the whole pipeline (``isnet benchmark``).

Everything is timed in one process on the same inputs: real network views of the
embedded demo's faces, and a 640 x 480 photo (by default an embedded demo face
enlarged and padded to 640 x 480; ``--image`` for your own). Each measurement
repeats a call for at least ``--seconds`` and reports the median call (robust to
other work on the machine) and the fastest.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch

from isnet.api import LandmarkDetector
from isnet.assets import demo_list, weights_label, weights_path
from isnet.boxes import ltrb_to_xywh
from isnet.data import Sample, face_crops, read_sun_list
from isnet.detectors import YuNet
from isnet.imageio import to_bgr_grey
from isnet.inference import view_inputs
from isnet.model import ISNet, count_macs, count_parameters, load
from isnet.photo import Photo
from isnet.provenance import cpu_name

__all__ = [
    "benchmark",
    "demo_photo",
    "format_results",
    "format_stages",
    "GOALS",
    "goals_against",
    "load_average",
    "measure",
    "network_views",
    "per_item",
    "stage_costs",
    "time_everything",
]

# Targets to compare against; reported, not asserted.
GOALS = {"one_face_ms_1_thread": 0.2, "faces_per_s_batched_2_threads": 10_000, "photo_ms": 10.0}


def measure(fn: Callable[[], object], seconds: float, min_calls: int = 5) -> dict:
    """Time ``fn`` after a warm-up: ``{"median_ms", "best_ms", "calls"}``."""
    for _ in range(3):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"median_ms": 1000 * statistics.median(times), "best_ms": 1000 * min(times), "calls": len(times)}


def per_item(timing: dict, n: int) -> dict:
    """A call's timing divided over its ``n`` items, with the throughput at the median."""
    med = timing["median_ms"] / n
    return {
        "median_ms": med,
        "best_ms": timing["best_ms"] / n,
        "per_s": 1000.0 / med if med > 0 else float("inf"),
        "calls": timing["calls"],
    }


def demo_photo(size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """A ``(480, 640, 3)`` photo with one face: a demo face scaled to the height, edges mirrored."""
    sample = read_sun_list(demo_list("val"))[0]
    bgr, _ = to_bgr_grey(sample.image)
    w, h = size
    face = cv2.resize(bgr, (h, h), interpolation=cv2.INTER_CUBIC)
    pad = (w - h) // 2
    return cv2.copyMakeBorder(face, 0, 0, pad, w - h - pad, cv2.BORDER_REFLECT)


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def network_views(model: ISNet, n: int) -> np.ndarray:
    """``(n, 1, S, S)`` real network views: the embedded demo's validation faces, repeated to ``n``."""
    samples = read_sun_list(demo_list("val"))
    samples = (samples * (n // len(samples) + 1))[:n]
    crops = face_crops(samples, model.config.input_size)
    return view_inputs(model, crops, np.arange(n))[0]


def time_everything(
    model: ISNet,
    views: np.ndarray,
    photo_bgr: np.ndarray,
    yunet: YuNet,
    threads: Sequence[int],
    batch_sizes: Sequence[int],
    backends: Sequence[str],
    seconds: float,
) -> dict:
    """The tables ``network``, ``landmark_step``, ``detection`` and ``end_to_end`` of :func:`benchmark`."""
    photo_grey = to_bgr_grey(photo_bgr)[1]
    # The landmark step on the photo: crop, warp, network, back to image pixels, for
    # b copies of the detected face's (mapped) box.
    photo_box = ltrb_to_xywh(yunet.training_boxes(yunet(photo_bgr)[0][:1]))
    results: dict = {"network": [], "landmark_step": [], "detection": [], "end_to_end": []}
    # Detection at full size, and at half size (isnet predict --max-side), the main speed knob:
    # YuNet's time grows with the pixel count, and faces under ~20 px are then lost.
    sides = (None, max(photo_bgr.shape[:2]) // 2)
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        cv2.setNumThreads(n_threads)
        for backend in backends:
            det = LandmarkDetector(model, yunet, backend=backend, threads=n_threads)
            for b in batch_sizes:
                row = {"backend": backend, "threads": n_threads, "batch": b}
                net_call = (
                    partial(_run_torch, model, torch.from_numpy(views[:b]))
                    if backend == "torch"
                    else partial(det.pipeline.net.run, views[:b])
                )
                results["network"].append(row | per_item(measure(net_call, seconds), b))
                step = partial(det.predict, photo_grey, np.repeat(photo_box, b, axis=0))
                results["landmark_step"].append(row | per_item(measure(step, seconds), b))
            for side in sides:
                yunet.max_side = side
                e2e = measure(partial(det.detect, photo_bgr), seconds)
                row = {"backend": backend, "threads": n_threads, "max_side": side}
                results["end_to_end"].append(row | per_item(e2e, 1))
        for side in sides:
            yunet.max_side = side
            detection = measure(partial(yunet, photo_bgr), seconds)
            results["detection"].append({"threads": n_threads, "max_side": side} | per_item(detection, 1))
        yunet.max_side = None
    return results


def stage_costs(det: LandmarkDetector, samples: Sequence[Sample], rounds: int = 1) -> dict:
    """ms per face of each stage of the pipeline (:data:`isnet.pipeline.STAGES`), one face a call,
    as a user calls it: ``predict()`` on each sample's listed box, and ``detect()`` on each photo;
    and the network views read per face.

    Photos are read from disk before timing (``predict()`` gets the grey array, ``detect()`` the
    decoded :class:`~isnet.photo.Photo`, so "decode" is what remains of it). Returns
    ``{"predict": {stage: ms, "other", "total", "views_per_face": {network: views}}, "detect": {...},
    "faces"}``; "other" is what no stage holds (records, placement, Python).
    """
    photos = [(to_bgr_grey(s.image), ltrb_to_xywh(s.box[None])) for s in samples]
    out: dict = {"faces": len(photos), "rounds": rounds}
    calls = {
        "predict": lambda bgr, grey, box: det.predict(grey, box),
        "detect": lambda bgr, grey, box: det.detect_photos([Photo(grey, bgr)]),
    }
    views = det.pipeline.views
    for call, run in calls.items():
        for (bgr, grey), box in photos[:3]:  # warm-up
            run(bgr, grey, box)
        det.stage_seconds.update(dict.fromkeys(det.stage_seconds, 0.0))
        before = dict(views)
        t = time.perf_counter()
        for _ in range(rounds):
            for (bgr, grey), box in photos:
                run(bgr, grey, box)
        n = rounds * len(photos)
        total = 1000 * (time.perf_counter() - t) / n
        stages = {k: 1000 * v / n for k, v in det.stage_seconds.items()}
        out[call] = stages | {"other": total - sum(stages.values()), "total": total}
        out[call]["views_per_face"] = {k: (views[k] - before[k]) / n for k in views}
    return out


def format_stages(costs: dict) -> str:
    """The table of :func:`stage_costs`: a line per stage, ms per face for predict() and detect()."""
    lines = [f"ms per face, {costs['faces']} faces, one a call:  {'predict()':>10} {'detect()':>10}"]
    for stage in (k for k in costs["predict"] if k != "views_per_face"):
        lines.append(f"  {stage:<32}{costs['predict'][stage]:>10.3f} {costs['detect'][stage]:>10.3f}")
    for net in costs["predict"]["views_per_face"]:
        v = [costs[c]["views_per_face"][net] for c in ("predict", "detect")]
        lines.append(f"  {net + ' network views per face':<32}{v[0]:>10.2f} {v[1]:>10.2f}")
    return "\n".join(lines)


def goals_against(results: dict, batch_sizes: Sequence[int]) -> dict:
    """Each goal of :data:`GOALS` with what was measured for it and whether the best run met it."""

    def pick(table: str, **key) -> list[dict]:
        return [r for r in results[table] if all(r.get(k) == v for k, v in key.items())]

    one = pick("network", threads=1, batch=1)
    many = pick("network", threads=2, batch=max(batch_sizes))
    goals = {
        "one_face_ms_1_thread": {
            "goal": f"<= {GOALS['one_face_ms_1_thread']} ms (network)",
            "measured": {r["backend"]: r["median_ms"] for r in one},
        },
        "faces_per_s_batched_2_threads": {
            "goal": f">= {GOALS['faces_per_s_batched_2_threads']} faces/s (network)",
            "measured": {r["backend"]: r["per_s"] for r in many},
        },
        "photo_ms": {
            "goal": f"<= {GOALS['photo_ms']} ms per 640x480 photo (end to end)",
            "measured": {_photo_key(r): r["median_ms"] for r in results["end_to_end"]},
        },
    }
    for name, g in goals.items():
        vals = list(g["measured"].values())
        if not vals:  # e.g. --threads 1 leaves the 2-thread goal unmeasured
            g["met_by_best"] = None
            continue
        best = min(vals) if name != "faces_per_s_batched_2_threads" else max(vals)
        g["met_by_best"] = bool(best >= GOALS[name] if name == "faces_per_s_batched_2_threads" else best <= GOALS[name])
    return goals


def benchmark(
    weights: str | Path | None = None,
    image: str | Path | None = None,
    threads: Sequence[int] = (1, 2),
    batch_sizes: Sequence[int] = (1, 64),
    backends: Sequence[str] = ("torch", "onnx"),
    seconds: float = 1.0,
) -> dict:
    """Time the network, the landmark step, YuNet and the whole photo, per thread count and backend.

    Args:
        weights: the landmark model (default: the shipped one).
        image: photo for detection and end-to-end times (default: :func:`demo_photo`).
        seconds: minimum time per measurement.
    """
    label = weights_label(weights)
    model = load(weights_path(weights))
    load_before = load_average()
    t_start = time.perf_counter()
    views = network_views(model, max(batch_sizes))
    photo_bgr = to_bgr_grey(image if image else demo_photo())[0]
    yunet = YuNet(max_side=None)
    n_faces = len(yunet(photo_bgr)[0])
    if n_faces == 0:
        raise ValueError("YuNet finds no face in the benchmark photo; pass another --image")
    results = time_everything(model, views, photo_bgr, yunet, threads, batch_sizes, backends, seconds)
    macs = count_macs(model)
    return {
        "weights": label,
        "model": {"parameters": count_parameters(model), "macs_per_face": macs, "flops_per_face": 2 * macs},
        "photo": {
            "source": str(image) if image else "embedded demo face scaled to 480x480, edges mirrored to 640x480",
            "shape": list(photo_bgr.shape),
            "faces_found": int(n_faces),
        },
        "goals": goals_against(results, batch_sizes),
        **results,
        "conditions": {
            "cpu": cpu_name(),
            "logical_cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "torch": torch.__version__,
            "onnxruntime": _ort_version(),
            "opencv": cv2.__version__,
            "python": platform.python_version(),
            "seconds_per_measurement": seconds,
            "timing": "median and fastest call after 3 warm-up calls; per face = call / batch",
            "network": "the model on ready (B, 1, 39, 39) views",
            "landmark_step": "LandmarkDetector.predict on the photo with B boxes: crop, warp, network, map back",
            "end_to_end": "LandmarkDetector.detect on the decoded photo: YuNet, box map, landmark step",
            "total_seconds": round(time.perf_counter() - t_start, 1),
        },
    }


def _photo_key(row: dict) -> str:
    """``onnx_1_threads``, or ``onnx_1_threads_max_side_320`` with detection on a shrunk photo."""
    side = f"_max_side_{row['max_side']}" if row["max_side"] else ""
    return f"{row['backend']}_{row['threads']}_threads{side}"


def _run_torch(model: torch.nn.Module, views: torch.Tensor) -> None:
    with torch.inference_mode():
        model(views)


def _ort_version() -> str | None:
    try:
        import onnxruntime

        return onnxruntime.__version__
    except ImportError:
        return None


def format_results(out: dict) -> str:
    """The tables ``isnet benchmark`` prints."""
    m = out["model"]
    lines = [
        f"model: {m['parameters']:,} parameters, {m['flops_per_face'] / 1e6:.2f} MFLOPs per face "
        f"({m['macs_per_face']:,} multiply-adds); CPU {out['conditions']['cpu']}, "
        f"load {out['conditions']['load_average_before']}",
        f"{'':<15}{'backend':<8}{'threads':>8}{'batch':>7}{'ms/face':>10}{'faces/s':>10}",
    ]
    for table in ("network", "landmark_step"):
        for r in out[table]:
            lines.append(
                f"{table:<15}{r['backend']:<8}{r['threads']:>8}{r['batch']:>7}{r['median_ms']:>10.4f}{r['per_s']:>10.0f}"
            )
    for r in out["detection"]:
        side = f" (shrunk to {r['max_side']})" if r["max_side"] else ""
        lines.append(f"{'detection':<15}{'yunet':<8}{r['threads']:>8}{'':>7}{r['median_ms']:>10.3f} ms/photo{side}")
    for r in out["end_to_end"]:
        side = f" (detection shrunk to {r['max_side']})" if r.get("max_side") else ""
        lines.append(
            f"{'end_to_end':<15}{r['backend']:<8}{r['threads']:>8}{'':>7}{r['median_ms']:>10.3f} ms/photo{side}"
        )
    for name, g in out["goals"].items():
        vals = ", ".join(f"{k} {v:.4g}" for k, v in g["measured"].items())
        verdict = {True: "met", False: "not met", None: "not measured"}[g["met_by_best"]]
        lines.append(f"goal {name}: {g['goal']}: {vals} -> {verdict}")
    return "\n".join(lines)
