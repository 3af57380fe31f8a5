"""MediaPipe's Face Landmarker on the synthetic clips of video_clips.py: five points per face per frame, and the time.

Usage: /tmp/mpvenv/bin/python benchmarks/mediapipe_video.py --clips $RUNS/video_clips
       --model ../shared/models/face_landmarker.task --out $RUNS/video_mediapipe.json [--mode video|image]
Run from a venv with ``mediapipe==1.2.2`` (it needs no isnet, and imports none). VIDEO mode tracks and
smooths from frame to frame (``detect_for_video``, a fresh landmarker per clip, timestamps from the
frame index and the clip's fps); IMAGE mode reads every frame on its own. ``seconds`` is the wall time
of a clip's decoding, colour conversion and landmarking, not of loading the model.

The five points are in the repository's order: the eye with the smaller x on an upright face, the
other eye, the nose tip, the mouth corner with the smaller x, the other. They are MediaPipe's iris
centres, nose tip and mouth corners, ``x * width`` and ``y * height`` with no half-pixel shift.
"""

import argparse
import json
import time
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.tasks import python as mpt
from mediapipe.tasks.python import vision

# Image-left eye, image-right eye, nose tip, image-left and image-right mouth corner on an upright,
# unmirrored face: checked on the first frame of one clip of each kind, where 468 and 61 had the smaller x.
# A fixed order (by the face's own sides) keeps rolled faces comparable to the truth, unlike sorting by x.
FIVE = (468, 473, 1, 61, 291)


def _landmarker(model: Path, mode: str, num_faces: int) -> vision.FaceLandmarker:
    running = vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE
    opts = vision.FaceLandmarkerOptions(
        base_options=mpt.BaseOptions(model_asset_path=str(model)), running_mode=running, num_faces=num_faces
    )
    return vision.FaceLandmarker.create_from_options(opts)


def run_clip(path: Path, model: Path, mode: str, num_faces: int, fps: float) -> dict:
    """Landmark every frame of one clip.

    Returns:
        ``{"file", "seconds", "frames", "faces"}``; ``faces[t]`` lists a ``[[x, y]] * 5`` per face found.
    """
    frames: list[list] = []
    with _landmarker(model, mode, num_faces) as lm:
        start = time.perf_counter()
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            raise OSError(f"cannot open {path}")
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            h, w = bgr.shape[:2]
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if mode == "video":
                # Integer ms that strictly increase, as detect_for_video demands.
                result = lm.detect_for_video(image, round(len(frames) * 1000 / fps))
            else:
                result = lm.detect(image)
            frames.append(
                [np.round([[face[i].x * w, face[i].y * h] for i in FIVE], 3).tolist() for face in result.face_landmarks]
            )
        cap.release()
        seconds = time.perf_counter() - start
    return {"file": path.name, "seconds": round(seconds, 4), "frames": len(frames), "faces": frames}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=Path, required=True, help="the folder with clips.json and the mp4 files")
    ap.add_argument("--model", type=Path, required=True, help="face_landmarker.task")
    ap.add_argument("--out", type=Path, required=True, help="the JSON to write")
    ap.add_argument("--mode", choices=("video", "image"), default="video")
    ap.add_argument("--limit", type=int, default=None, help="only the first N clips (a quick check)")
    ap.add_argument("--files", nargs="*", default=None, help="only these clips, by file name")
    args = ap.parse_args(argv)
    manifest = json.loads((args.clips / "clips.json").read_text())
    clips = manifest["clips"]
    if args.files:
        clips = [c for c in clips if c["file"] in set(args.files)]
    clips = clips[: args.limit]
    results = []
    for clip in clips:
        r = run_clip(args.clips / clip["file"], args.model, args.mode, len(clip["faces"]), manifest["fps"])
        if r["frames"] != clip["frames"]:
            raise RuntimeError(f"{clip['file']}: decoded {r['frames']} frames, the manifest says {clip['frames']}")
        results.append(r)
        found = sum(len(f) > 0 for f in r["faces"])
        print(
            f"{clip['file']} {clip['kind']}: {1000 * r['seconds'] / r['frames']:.1f} ms/frame, "
            f"a face in {found}/{r['frames']} frames"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"mode": args.mode, "clips": results}))


if __name__ == "__main__":
    main()
