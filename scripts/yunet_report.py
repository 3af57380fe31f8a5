"""Landmarks with detector boxes vs dataset boxes, on the CUHK validation split (docs/detection.json).

Usage:
    python scripts/yunet_report.py [--weights isnet/weights/isnet_cuhk5.pt] [--list .../testImageList.txt]

On every validation image, YuNet runs once and its detection is matched to the
annotated face as in scripts/fit_yunet_box_map.py (highest IoU with the annotated
box, at least --min-iou). On the matched faces three predictions are compared with
the annotation: the model on the dataset's box, the model on YuNet's box mapped to a
CUHK box (what ``LandmarkDetector.detect`` does), and YuNet's own five points. The
model on the dataset's boxes is also reported on every face, with ``isnet evaluate``'s
code path as a cross-check.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_yunet_box_map import REPO, sha256  # noqa: E402

from isnet.data import build_crops, read_sun_list  # noqa: E402
from isnet.detect import (  # noqa: E402
    DEFAULT_MODEL,
    YUNET_BOX_MAP,
    YUNET_MODEL,
    ImageError,
    LandmarkDetector,
    YuNet,
    iou,
    ltrb_to_xywh,
    match_box,
    to_bgr_grey,
    xywh_to_ltrb,
)
from isnet.evaluate import ground_truth, predict_crops, summarise  # noqa: E402
from isnet.schemes import get_scheme  # noqa: E402
from isnet.transforms import SOURCE_MARGIN, source_size  # noqa: E402

DEFAULT_LIST = REPO.parent / "shared" / "data" / "cuhk_facepoint" / "testImageList.txt"
KEYS = ("n_faces", "nme_iod", "fr_010", "auc_010", "box_error_mean", "box_error_per_point")


def brief(metrics: dict) -> dict:
    return {k: metrics[k] for k in KEYS}


def shown(path: str | Path) -> str:
    """A path relative to the repository when it lies inside it, else absolute."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", default=str(DEFAULT_MODEL))
    p.add_argument("--list", default=str(DEFAULT_LIST), help="Sun-format validation list")
    p.add_argument("--out", default=str(REPO / "docs" / "detection.json"))
    p.add_argument("--min-iou", type=float, default=0.3)
    p.add_argument("--score-threshold", type=float, default=0.6)
    p.add_argument("--limit", type=int, default=None, help="first N faces only (for a quick check)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    samples = read_sun_list(args.list)[: args.limit]
    yunet = YuNet(score_threshold=args.score_threshold)
    det = LandmarkDetector(args.weights, yunet)
    scheme = get_scheme(det.model.config.scheme)

    gt, on_dataset, matched, on_yunet, yunet_points, yunet_iou, n_found = [], [], [], [], [], [], 0
    yunet_seconds = 0.0
    for i, s in enumerate(tqdm(samples, desc="faces", mininterval=5)):
        try:
            bgr, grey = to_bgr_grey(s.image)
        except ImageError as e:
            raise SystemExit(f"{s.source}: {e}") from None
        t = time.perf_counter()
        raw = yunet.detect_raw(bgr)
        yunet_seconds += time.perf_counter() - t
        n_found += len(raw) > 0
        gt.append(s.landmarks)
        on_dataset.append(det.predict(grey, ltrb_to_xywh(s.box))[0].landmarks)
        j = match_box(xywh_to_ltrb(raw[:, :4]), s.box, args.min_iou)
        if j < 0:
            continue
        matched.append(i)
        face = det.predict(grey, raw[j : j + 1, :4], raw[j : j + 1, 14], from_detector=True)[0]
        on_yunet.append(face.landmarks)
        yunet_points.append(raw[j, 4:14].reshape(5, 2))
        yunet_iou.append(float(iou(yunet.box_map.apply(raw[j : j + 1, :4]), s.box)[0]))

    gt_all, pred_all = np.array(gt), np.array(on_dataset)
    wh_all = np.stack([s.box[2:] - s.box[:2] for s in samples])
    idx = np.array(matched, dtype=int)
    gt_m, wh_m = gt_all[idx], wh_all[idx]
    # The same faces through isnet evaluate's path (build_crops decodes grey directly).
    crops = build_crops(samples, source_size(det.model.config.input_size), SOURCE_MARGIN, progress=False)
    reference = summarise(predict_crops(det.model, crops), ground_truth(crops), crops.box_wh, scheme)

    result = {
        "list": os.path.relpath(Path(args.list).resolve(), REPO),
        "weights": shown(args.weights),
        "n_faces_listed": len(samples),
        "n_images_with_a_detection": int(n_found),
        "n_matched": len(idx),
        "matching": f"YuNet detection with the highest IoU with the annotated box, kept if IoU >= {args.min_iou}",
        "on_matched_faces": {
            "model_on_dataset_boxes": brief(summarise(pred_all[idx], gt_m, wh_m, scheme)),
            "model_on_mapped_yunet_boxes": brief(summarise(np.array(on_yunet), gt_m, wh_m, scheme)),
            "yunet_own_points": brief(summarise(np.array(yunet_points), gt_m, wh_m, scheme)),
        },
        "on_all_faces": {
            "model_on_dataset_boxes": brief(summarise(pred_all, gt_all, wh_all, scheme)),
            "isnet_evaluate_reference": brief(reference),
        },
        "mapped_yunet_box_iou_with_dataset_box_mean": float(np.mean(yunet_iou)),
        "yunet": {
            "weights": YUNET_MODEL.name,
            "sha256": sha256(YUNET_MODEL),
            "score_threshold": args.score_threshold,
            "box_map": json.loads(YUNET_BOX_MAP.read_text()),
            "ms_per_image": 1000 * yunet_seconds / len(samples),
        },
        "notes": "NME: mean point error over the inter-ocular distance (eye centres); fr_010: fraction of "
        "faces with NME > 0.10; auc_010: area under the CED to 0.10; box_error_mean: point error over the "
        "dataset box's width. The model's view of a face is cut from cv2.cvtColor grey by the API and from "
        "IMREAD_GRAYSCALE by isnet evaluate, hence tiny differences between the two dataset-box rows.",
        "threads": args.threads,
        "opencv": cv2.__version__,
        "torch": torch.__version__,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    keep = ("dx", "dy", "sx", "sy", "n_matched", "list")
    result["yunet"]["box_map"] = {k: result["yunet"]["box_map"][k] for k in keep}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    m = result["on_matched_faces"]
    print(f"{out}: {len(idx)} of {len(samples)} faces matched")
    for name, r in m.items():
        print(f"  {name:<30} NME {100 * r['nme_iod']:.3f}%  FR@0.10 {100 * r['fr_010']:.2f}%")


if __name__ == "__main__":
    main()
