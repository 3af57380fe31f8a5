"""Steadiness on video: isnet tracking, isnet per frame and MediaPipe on the same clips, in one run.

The clips (``benchmarks/video_clips.py``) are annotated photos moved by known similarity
transforms, with fresh sensor noise every frame and mp4 compression, so every frame's true
five points are known. Per system it reports, over all clips:

- flicker, moving and still: the mean over frames and points of
  ``|(pred_t - pred_t-1) - (truth_t - truth_t-1)|`` in % of the eye distance
  (:func:`isnet.metrics.flicker`), on frames whose truth moved since the frame before (but the
  jump of a ``step`` clip, which lag measures), and on frames where it did not;
- shake: the points' second difference over time in % of the eye distance
  (:func:`isnet.metrics.shake`), what can be measured on videos without annotations (beside
  the truth's own, which is not zero where the motion starts, stops or turns);
- NME, each face's constant offset removed (:func:`isnet.metrics.offset_free_nme`), %;
- lag: frames after a step of motion until the points have moved 90 % of the way
  (:func:`isnet.metrics.step_lag`, ``step`` clips);
- found: the share of frames with a face in the picture where the system gives its points;
  ``found_visible``: the same over the frames where at most half of the face is hidden behind
  another (``hidden`` in the clips' manifest; only ``cross`` clips hide a face), and
  ``flicker_moving_visible`` the moving flicker over those frames;
- id switches (:func:`isnet.metrics.id_switches`: a face's id changes, to a new one or another
  face's), swaps (a face takes an id another face of the clip held) and tracks per face (isnet
  tracking only);
- s/frame, decoding included; isnet on one thread.

MediaPipe runs in its own virtual environment (never a dependency of isnet):
``benchmarks/mediapipe_video.py`` through ``--mediapipe-python``.

Usage::

    python benchmarks/video_clips.py --ibug $IBUG --out $RUNS/video_clips --seed 0
    python benchmarks/video_benchmark.py --clips $RUNS/video_clips \\
        --mediapipe-python $MPVENV/bin/python --face-landmarker $MODELS/face_landmarker.task \\
        --out benchmarks/results/video/helen_test.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np

from isnet.api import LandmarkDetector
from isnet.data import reduce_to_cuhk5
from isnet.imageio import video_frames
from isnet.metrics import flicker, id_switches, offset_free_nme, shake, step_lag
from isnet.provenance import write_result
from isnet.smoothing import SmoothingConfig
from isnet.tracking import TrackerConfig

SYSTEMS = ("isnet tracking", "isnet per frame", "mediapipe video")
# A prediction is a truth face's when its five points lie within this many eye distances of them.
MATCH_WITHIN = 0.5
STEP_FRAME = 45
# A face counts as visible while faces drawn over it cover at most this share of its five points.
VISIBLE_UP_TO = 0.5


def tracker_config(settings: list[str]) -> TrackerConfig:
    """A :class:`TrackerConfig` with ``KEY=VALUE`` settings (its fields, or the smoothing's)."""
    config, smoothing = TrackerConfig(), SmoothingConfig()
    names = {f.name for f in fields(TrackerConfig)}
    for item in settings:
        key, value = item.split("=", 1)
        target = config if key in names else smoothing
        kind = type(getattr(target, key))
        typed = value.lower() in ("1", "true") if kind is bool else kind(value)
        if key in names:
            config = replace(config, **{key: typed})
        else:
            smoothing = replace(smoothing, **{key: typed})
    return replace(config, smoothing=smoothing)


def five_of(det: LandmarkDetector, points: np.ndarray) -> np.ndarray:
    """``(5, 2)`` CUHK points of a face's points in the model's scheme (the clips' truth is those five)."""
    return points if det.scheme.n_points == 5 else reduce_to_cuhk5(points, det.scheme)


def run_isnet(det: LandmarkDetector, clip: Path, tracking: bool, config: TrackerConfig) -> tuple[list, float]:
    """Per frame a list of ``(track id or -1, (5, 2) points)``, and the seconds taken, decoding included."""
    start = time.perf_counter()
    frames, _, _ = video_frames(clip)
    out = []
    if tracking:
        images, clock = itertools.tee(frames)
        for faces in det.track((f.image for f in images), (f.time for f in clock), config):
            out.append([(f.track, five_of(det, f.landmarks)) for f in faces])
    else:
        chunk = []
        for f in frames:
            chunk.append(f.image)
            if len(chunk) == 16:
                out += [[(-1, five_of(det, g.landmarks)) for g in faces] for faces in det.detect_batch(chunk)]
                chunk = []
        if chunk:
            out += [[(-1, five_of(det, g.landmarks)) for g in faces] for faces in det.detect_batch(chunk)]
    return out, time.perf_counter() - start


def run_mediapipe(python: str, clips: Path, model: str) -> dict:
    """MediaPipe's output on the clips, run in its own environment (``benchmarks/mediapipe_video.py``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mediapipe.json"
        script = Path(__file__).with_name("mediapipe_video.py")
        cmd = [python, str(script), "--clips", str(clips), "--model", model, "--out", str(out), "--mode", "video"]
        subprocess.run(cmd, check=True)
        return json.loads(out.read_text())


def match(frames: list, truth: list[list], iod: list[list]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per truth face, ``(T, 5, 2)`` its predicted points (NaN where unmatched) and ``(T,)`` their track ids."""
    n_faces, n_frames = len(truth), len(frames)
    pred = [np.full((n_frames, 5, 2), np.nan) for _ in range(n_faces)]
    ids = [np.full(n_frames, -1) for _ in range(n_faces)]
    for t, found in enumerate(frames):
        pairs = []
        for j in range(n_faces):
            if truth[j][t] is None:
                continue
            g = np.asarray(truth[j][t])
            for k, (_, p) in enumerate(found):
                d = np.linalg.norm(np.asarray(p)[:5] - g, axis=-1).mean() / iod[j][t]
                if d < MATCH_WITHIN:
                    pairs.append((d, j, k))
        used_faces, used_preds = set(), set()
        for _, j, k in sorted(pairs):
            if j in used_faces or k in used_preds:
                continue
            used_faces.add(j)
            used_preds.add(k)
            pred[j][t] = np.asarray(found[k][1])[:5]
            ids[j][t] = found[k][0] if found[k][0] is not None else -1
    return pred, ids


def clip_metrics(frames: list, clip: dict) -> dict:
    """Per-clip sums: flicker (moving, still), NMEs, lag, found, id switches, tracks."""
    truth, iod = clip["faces"], clip["iod"]
    preds, ids = match(frames, truth, iod)
    still = np.asarray(clip["still"], bool)
    out = {
        "moving": [],
        "moving_visible": [],
        "still": [],
        "shake": [],
        "truth_shake": [],
        "nme": [],
        "lag": [],
        "found": 0,
        "present": 0,
        "found_visible": 0,
        "visible": 0,
        "switches": 0,
        "tracks": [],
    }
    for j in range(len(truth)):
        g = np.array([np.full((5, 2), np.nan) if p is None else p for p in truth[j]], np.float64)
        d = np.array([np.nan if v is None else v for v in iod[j]], np.float64)
        f = flicker(preds[j], g, d)
        hidden = np.asarray(clip.get("hidden", [[0.0] * len(still)] * len(truth))[j], np.float64)
        visible = hidden <= VISIBLE_UP_TO
        if clip["kind"] != "step":
            # A step's one moving frame measures lag (below), not flicker.
            out["moving"] += f[~still & np.isfinite(f)].tolist()
            out["moving_visible"] += f[~still & visible & np.isfinite(f)].tolist()
        out["still"] += f[still & np.isfinite(f)].tolist()
        out["nme"].append(offset_free_nme(preds[j], g, d))
        k = shake(preds[j], d)
        out["shake"] += k[np.isfinite(k)].tolist()
        k = shake(g, d)
        out["truth_shake"] += k[np.isfinite(k)].tolist()
        if clip["kind"] == "step":
            out["lag"].append(step_lag(preds[j], g, STEP_FRAME))
        present = np.all(np.isfinite(g), axis=(1, 2))
        out["present"] += int(present.sum())
        given = np.all(np.isfinite(preds[j]), axis=(1, 2))
        out["found"] += int((present & given).sum())
        out["visible"] += int((present & visible).sum())
        out["found_visible"] += int((present & visible & given).sum())
        out["switches"] += id_switches(ids[j])
        out["tracks"].append(len(set(ids[j][ids[j] >= 0].tolist())))
    # A swap: a face takes an id another face of the clip held.
    held = [set(i[i >= 0].tolist()) for i in ids]
    out["swaps"] = sum(len(held[a] & held[b]) for a in range(len(held)) for b in range(a + 1, len(held)))
    return out


def pct(v: float | None, decimals: int) -> float | None:
    return None if v is None else round(100 * v, decimals)


def summary(parts: list[dict], seconds: float, n_frames: int) -> dict:
    """Totals over clips."""

    def mean(key):
        v = np.array([x for p in parts for x in p[key]], np.float64)
        v = v[np.isfinite(v)] if key != "lag" else v[~np.isnan(v)]
        return float(v.mean()) if len(v) else None

    found = sum(p["found"] for p in parts) / max(1, sum(p["present"] for p in parts))
    found_visible = sum(p["found_visible"] for p in parts) / max(1, sum(p["visible"] for p in parts))
    tracks = [t for p in parts for t in p["tracks"]]
    return {
        "flicker_moving_pct": pct(mean("moving"), 4),
        "flicker_moving_visible_pct": pct(mean("moving_visible"), 4),
        "flicker_still_pct": pct(mean("still"), 4),
        "shake_pct": pct(mean("shake"), 4),
        "truth_shake_pct": pct(mean("truth_shake"), 4),
        "nme_offset_free_pct": pct(mean("nme"), 3),
        "lag_frames": None if mean("lag") is None else round(mean("lag"), 2),
        "found_pct": round(100 * found, 2),
        "found_visible_pct": round(100 * found_visible, 2),
        "id_switches": sum(p["switches"] for p in parts),
        "id_swaps": sum(p["swaps"] for p in parts),
        "tracks_per_face": round(float(np.mean(tracks)), 3) if max(tracks) > 0 else None,
        "s_per_frame": round(seconds / n_frames, 5),
    }


def main(args: argparse.Namespace) -> dict:
    manifest = json.loads((Path(args.clips) / "clips.json").read_text())
    clips = manifest["clips"]
    config = tracker_config(args.set)
    det = LandmarkDetector(model=args.model, threads=1)
    results: dict[str, dict] = {}
    mediapipe = None
    if args.mediapipe_python:
        mediapipe = {
            c["file"]: c for c in run_mediapipe(args.mediapipe_python, Path(args.clips), args.face_landmarker)["clips"]
        }
    for system in SYSTEMS:
        if system == "mediapipe video" and mediapipe is None or system not in args.systems:
            continue
        parts, by_kind, seconds, n_frames = [], {}, 0.0, 0
        for clip in clips:
            if system == "mediapipe video":
                m = mediapipe[clip["file"]]
                frames = [[(None, p) for p in faces] for faces in m["faces"]]
                took = m["seconds"]
            else:
                frames, took = run_isnet(det, Path(args.clips) / clip["file"], system == "isnet tracking", config)
            part = clip_metrics(frames, clip)
            part["seconds"], part["frames"] = took, len(frames)
            parts.append(part)
            by_kind.setdefault(clip["kind"], []).append(part)
            seconds += took
            n_frames += len(frames)
        results[system] = {
            "all": summary(parts, seconds, n_frames),
            "by_kind": {
                k: summary(v, sum(p["seconds"] for p in v), sum(p["frames"] for p in v)) for k, v in by_kind.items()
            },
        }
        print(system, json.dumps(results[system]["all"]), file=sys.stderr)
    out = {
        "clips": {
            "count": len(clips),
            "frames": sum(c["frames"] for c in clips),
            "photos": sorted({p for c in clips for p in c["source"]}),
        },
        "model": args.model,
        "tracker": json.loads(json.dumps(config, default=lambda o: o.__dict__)),
        "mediapipe_threads": "its own default (XNNPACK)" if mediapipe else None,
        "results": results,
    }
    if args.out:
        write_result(args.out, out)
    return out


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", required=True, help="folder made by benchmarks/video_clips.py")
    p.add_argument("--model", default="cuhk5", help="isnet's model: shipped name or weights (68 points: their five)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="tracker or smoothing knob")
    p.add_argument("--mediapipe-python", default=None, help="python of a venv with mediapipe==1.2.2")
    p.add_argument("--face-landmarker", default="../shared/models/face_landmarker.task")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS, metavar="SYSTEM")
    p.add_argument("--out", default=None)
    return p


if __name__ == "__main__":
    main(get_args_parser().parse_args())
