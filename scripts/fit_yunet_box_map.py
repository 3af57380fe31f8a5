"""Fit the YuNet-box to CUHK-box map of isnet.detectors.YuNet (src/isnet/weights/yunet_box_map.json).

Usage:
    python scripts/fit_yunet_box_map.py [--list ../shared/data/cuhk_facepoint/trainImageList.txt]
    python scripts/fit_yunet_box_map.py --format pts --list $RUNS/ibug68/train.txt --out FILE

(300-W faces: their boxes are drawn from their five points as the training's are, so the fit
measures how YuNet's boxes relate to those on in-the-wild faces.)

YuNet runs on every image of the training list. The detection matched to the
annotated face is the one with the highest IoU with its annotated box, and the
match is kept only if that IoU is at least --min-iou (YuNet's boxes are taller
than the CUHK ones, so a correct detection overlaps them by about 0.6, a wrong
face by far less). From the matched pairs :meth:`isnet.boxes.BoxMap.fit` finds,
by least squares in pixels, the centre offset and size scale per axis relative to
the YuNet box. The JSON records the counts and the fit's residuals.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from isnet.assets import YUNET_BOX_MAP, YUNET_MODEL
from isnet.boxes import BoxMap, iou, match_box, xywh_to_ltrb
from isnet.data import read_list
from isnet.detectors import YuNet
from isnet.imageio import ImageError, to_bgr_grey

REPO = Path(__file__).resolve().parents[1]
DEFAULT_LIST = REPO.parent / "shared" / "data" / "cuhk_facepoint" / "trainImageList.txt"


def detect_matches(samples, yunet: YuNet, min_iou: float, progress: bool = True) -> dict:
    """Run YuNet on every sample's image and match it to the annotated box.

    Returns:
        ``{"index", "raw", "best_iou", "n_detections", "unreadable"}``: for matched faces,
        their sample index and YuNet row ``(15,)``; for every face the best IoU (0 without
        detections) and the number of detections.
    """
    index, raw, best_iou, n_det, unreadable = [], [], [], [], []
    for i, s in enumerate(tqdm(samples, desc="YuNet", disable=not progress, mininterval=5)):
        try:
            bgr, _ = to_bgr_grey(s.image)
        except ImageError as e:
            unreadable.append(str(e))
            best_iou.append(0.0)
            n_det.append(0)
            continue
        faces = yunet.detect_raw(bgr)
        boxes = xywh_to_ltrb(faces[:, :4])
        n_det.append(len(faces))
        j = match_box(boxes, s.box, 0.0)
        overlap = 0.0 if j < 0 else float(_iou1(boxes[j], s.box))
        best_iou.append(overlap)
        if j >= 0 and overlap >= min_iou:
            index.append(i)
            raw.append(faces[j])
    return {
        "index": np.array(index, dtype=int),
        "raw": np.array(raw).reshape(-1, 15),
        "best_iou": np.array(best_iou),
        "n_detections": np.array(n_det),
        "unreadable": unreadable,
    }


def _iou1(a: np.ndarray, b: np.ndarray) -> float:
    return float(iou(a[None], b)[0])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", default=str(DEFAULT_LIST), help="training list (or .pts folder)")
    p.add_argument("--format", default="sun", choices=("sun", "pts"), help="annotation format")
    p.add_argument("--out", default=str(YUNET_BOX_MAP))
    p.add_argument("--min-iou", type=float, default=0.3)
    p.add_argument("--score-threshold", type=float, default=0.6, help="YuNet's (the LandmarkDetector default)")
    p.add_argument("--limit", type=int, default=None, help="first N faces only (for a quick check)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    cv2.setNumThreads(args.threads)
    t0 = time.perf_counter()
    samples = read_list(args.list, args.format, target="cuhk5")[: args.limit]
    yunet = YuNet(score_threshold=args.score_threshold, box_map=None)
    m = detect_matches(samples, yunet, args.min_iou)
    det = m["raw"][:, :4]
    cuhk = np.stack([samples[i].box for i in m["index"]]) if len(m["index"]) else np.zeros((0, 4))
    fit = BoxMap.fit(det, cuhk)
    mapped = fit.apply(det)
    side = (cuhk[:, 2:] - cuhk[:, :2]).mean(axis=1, keepdims=True)
    resid = np.abs(mapped - cuhk) / side  # per edge, relative to the CUHK box's side
    iou_raw = np.array([_iou1(b, c) for b, c in zip(xywh_to_ltrb(det), cuhk)])
    iou_mapped = np.array([_iou1(b, c) for b, c in zip(mapped, cuhk)])
    n_none = int((m["n_detections"] == 0).sum()) - len(m["unreadable"])
    result = {
        "dx": fit.dx,
        "dy": fit.dy,
        "sx": fit.sx,
        "sy": fit.sy,
        "model": "CUHK centre = YuNet centre + (dx * w, dy * h); CUHK size = (sx * w, sy * h); "
        "(w, h) the YuNet box's size; least squares in pixels over the matched faces",
        "matching": f"per image, the YuNet detection with the highest IoU with the annotated box, "
        f"kept if IoU >= {args.min_iou}",
        "list": os.path.relpath(Path(args.list).resolve(), REPO),
        "n_faces_listed": len(samples),
        "n_matched": len(m["index"]),
        "n_no_detection": n_none,
        "n_best_iou_below_min": int(((m["n_detections"] > 0) & (m["best_iou"] < args.min_iou)).sum()),
        "n_unreadable": len(m["unreadable"]),
        "n_images_with_several_detections": int((m["n_detections"] > 1).sum()),
        "min_iou": args.min_iou,
        "yunet": {
            "weights": YUNET_MODEL.name,
            "sha256": sha256(YUNET_MODEL),
            "score_threshold": args.score_threshold,
            "nms_threshold": 0.3,
        },
        "iou_with_cuhk_box": {
            "raw_min": float(iou_raw.min()),
            "raw_p01": float(np.quantile(iou_raw, 0.01)),
            "raw_mean": float(iou_raw.mean()),
            "mapped_mean": float(iou_mapped.mean()),
            "mapped_p05": float(np.quantile(iou_mapped, 0.05)),
        },
        "edge_error_over_box_side": {
            "mean": float(resid.mean()),
            "p95": float(np.quantile(resid, 0.95)),
            "per_edge_mean_ltrb": resid.mean(axis=0).tolist(),
        },
        "opencv": cv2.__version__,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{out}: dx={fit.dx:.4f} dy={fit.dy:.4f} sx={fit.sx:.4f} sy={fit.sy:.4f} from {len(m['index'])} of "
        f"{len(samples)} faces (no detection {n_none}, best IoU < {args.min_iou} "
        f"{result['n_best_iou_below_min']}); IoU with CUHK box {iou_raw.mean():.3f} raw, "
        f"{iou_mapped.mean():.3f} mapped"
    )


if __name__ == "__main__":
    main()
