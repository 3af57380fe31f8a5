"""Synthetic annotated video clips with known motion, made from the HELEN photos of 300-W.

Usage: python benchmarks/video_clips.py --ibug $IBUG --out $RUNS/video_clips [--seed 0] [--subset helen_testset]
[--count KIND=N ...] [--draw] (settings are chosen on clips of ``--subset helen_trainset``, reported on the test's)
($IBUG: the ibug_300w folder.) Every frame is an annotated photo warped into a 640x480 canvas by a
known similarity transform, with fresh sensor noise, written as mp4 (fourcc mp4v, 30 fps); the truth
is the annotation through the same transform. ``clips.json`` in ``--out`` describes every clip:

- ``faces[f][t]``: face f's five points at frame t (``isnet.data.reduce_to_cuhk5`` of the 68: eye
  centres, nose tip, mouth corners), or null where any of the five lies outside the canvas;
- ``iod[f][t]``: face f's inter-ocular distance (300-W's: outer eye corners, points 37 and 46) in
  canvas pixels, null with the points;
- ``still[t]``: true where every face's transform equals that of frame t-1 (frame 0: false);
- ``hidden[f][t]``: the share of face f's five points that faces drawn over it cover at frame t
  (the mean of their alpha there, 0 to 1; only ``cross`` clips have a face drawn over another);
- ``transforms[f][t]``: the 2x3 matrix from the source photo's 0-based pixels to the canvas, so the
  68-point truth is ``read_pts(source) @ M[:, :2].T + M[:, 2]``;
- ``source``: the photos of the faces, relative to ``--ibug``, in the order of ``faces``.

Kinds: ``pan`` (30 still frames, then 60 of slow pan, zoom and roll), ``fast`` (the same, faster),
``step`` (still but for a jump at frame 45), ``enter_leave`` (120 frames: slides in over an edge,
holds about 40, slides out the other side) and ``cross`` (two faces passing each other across a
blurred background, the one moving right drawn on top; ``faces[0]`` is that one).
"""

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from isnet.data import read_pts, reduce_to_cuhk5
from isnet.schemes import get_scheme

WIDTH, HEIGHT, FPS = 640, 480, 30
DEFAULT_PER_KIND = {"pan": 12, "fast": 4, "step": 4, "enter_leave": 4, "cross": 4}
MIN_SOURCE_IOD = 40.0
NOISE_SIGMA = 3.0
STILL_FRAMES = 30

SCHEME = get_scheme("ibug68")


def _iod(points: np.ndarray) -> float:
    a, b = SCHEME.ocular
    return float(np.linalg.norm(points[a] - points[b]))


def _similarity(src_centre: np.ndarray, dst_centre: np.ndarray, scale: float, roll_deg: float) -> np.ndarray:
    """2x3 matrix taking ``src_centre`` to ``dst_centre``, scaled and rolled about it (roll > 0: clockwise as seen)."""
    r = np.deg2rad(roll_deg)
    rot = scale * np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    return np.hstack([rot, (dst_centre - rot @ src_centre)[:, None]])


def _apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ m[:, :2].T + m[:, 2]


def _shape(name: str, u: float) -> float:
    """A smooth 0-to-1 path over u in [0, 1]: a ramp that stays, or a bump that comes back."""
    if name == "ramp":
        return 3 * u**2 - 2 * u**3
    return float(np.sin(np.pi * u))


class _Face:
    """One annotated photo, with the scale that gives it the clip's inter-ocular distance."""

    def __init__(self, path: Path, rng: np.random.Generator, iod_range: tuple[float, float] = (60.0, 90.0)):
        self.path = path
        self.image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if self.image is None:
            raise OSError(f"cannot read {path}")
        self.points = read_pts(path.with_suffix(".pts"))
        self.centre = self.points.mean(axis=0)
        self.scale = rng.uniform(*iod_range) / _iod(self.points)
        lo, hi = self.points.min(axis=0), self.points.max(axis=0)
        # Half the extent of the 68 points in the canvas (before zoom): how far out a face must go to be gone.
        self.half = self.scale * (hi - lo) / 2
        self.mask: np.ndarray | None = None


def _motion(rng: np.random.Generator, frames: int, pan: float, zoom: tuple[float, float], roll: float):
    """Per-frame (offset, zoom, roll): still for STILL_FRAMES, then smooth motion with random amplitudes and shapes.

    The offset runs from 0 to a random vector of length pan/2..pan; callers start the face at minus
    half of it, so the path is centred where the face was placed.
    """
    angle = rng.uniform(0, 2 * np.pi)
    amp = rng.uniform(0.5, 1.0) * pan * np.array([np.cos(angle), np.sin(angle)])
    z_end = rng.uniform(*zoom)
    r_end = rng.uniform(-roll, roll)
    shapes = rng.choice(["ramp", "bump"], size=3)
    moving = frames - STILL_FRAMES
    out = []
    for t in range(frames):
        # u is exactly 0 on the still frames so their transforms are bit-identical (still[t] compares them).
        u = max(0, t - STILL_FRAMES + 1) / moving
        out.append((amp * _shape(shapes[0], u), z_end ** _shape(shapes[1], u), r_end * _shape(shapes[2], u)))
    return amp, out


def _clip_transforms(kind: str, faces: list[_Face], rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Per face, per frame, the 2x3 transform from the source photo to the canvas."""
    centre = np.array([WIDTH / 2, HEIGHT / 2])
    if kind in ("pan", "fast"):
        face = faces[0]
        pan, zoom, roll = (40.0, (0.9, 1.1), 8.0) if kind == "pan" else (150.0, (0.8, 1.2), 20.0)
        amp, motion = _motion(rng, 90, pan, zoom, roll)
        # A slow pan has room to start off-centre; a fast one needs the whole canvas.
        start = centre - amp / 2 + (rng.uniform(-40, 40, 2) if kind == "pan" else 0)
        return [[_similarity(face.centre, start + off, face.scale * z, r) for off, z, r in motion]]
    if kind == "step":
        face = faces[0]
        start = centre + rng.uniform(-40, 40, 2)
        angle = rng.uniform(0, 2 * np.pi)
        jump = rng.uniform(15, 25) * np.array([np.cos(angle), np.sin(angle)])
        return [[_similarity(face.centre, start + (jump if t >= 45 else 0), face.scale, 0.0) for t in range(90)]]
    if kind == "enter_leave":
        face = faces[0]
        axis = int(rng.integers(2))  # 0: across, 1: down or up
        sign = 1 if rng.random() < 0.5 else -1
        # Far enough out that every one of the 68 points is off the canvas, with a margin.
        reach = (WIDTH, HEIGHT)[axis] / 2 + face.half[axis] + 10
        transforms = []
        for t in range(120):
            if t < 40:
                pos = -reach * (1 - t / 39)
            elif t < 80:
                pos = 0.0
            else:
                pos = reach * (t - 79) / 40
            offset = np.zeros(2)
            offset[axis] = sign * pos
            transforms.append(_similarity(face.centre, centre + offset, face.scale, 0.0))
        return [transforms]
    if kind == "cross":
        heights = [2 * f.half[1] for f in faces]
        dy = 0.6 * float(np.mean(heights)) * (1 if rng.random() < 0.5 else -1)
        x0, x1 = 0.18 * WIDTH, 0.82 * WIDTH
        out = []
        for i, face in enumerate(faces):
            # faces[0] moves right, faces[1] left; they pass each other mid-clip, one above the other.
            y = HEIGHT / 2 + (dy / 2 if i == 0 else -dy / 2)
            xs = np.linspace(x0, x1, 90) if i == 0 else np.linspace(x1, x0, 90)
            out.append([_similarity(face.centre, np.array([x, y]), face.scale, 0.0) for x in xs])
        return out
    raise ValueError(f"unknown kind {kind!r}")


def _soft_mask(face: _Face) -> np.ndarray:
    """Float alpha in the source photo: an ellipse about twice the face box, feathered."""
    h, w = face.image.shape[:2]
    lo, hi = face.points.min(axis=0), face.points.max(axis=0)
    c, half = (lo + hi) / 2, (hi - lo) / 2
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (round(c[0]), round(c[1])), (round(0.9 * half[0] * 2), round(half[1] * 2)), 0, 0, 360, 1.0, -1)
    # Shrink then feather so the alpha reaches 0 inside the ellipse drawn, not at a hard edge.
    k = max(3, int(0.25 * half.mean()) | 1)
    mask = cv2.erode(mask, np.ones((k, k), np.uint8))
    return cv2.GaussianBlur(mask, (0, 0), 0.2 * float(half.mean()))


def _background(path: Path) -> np.ndarray:
    """A neutral canvas: the photo scaled to cover it, blurred past recognition, pulled toward grey."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read {path}")
    s = max(WIDTH / image.shape[1], HEIGHT / image.shape[0])
    image = cv2.resize(image, (int(np.ceil(image.shape[1] * s)), int(np.ceil(image.shape[0] * s))))
    y0, x0 = (image.shape[0] - HEIGHT) // 2, (image.shape[1] - WIDTH) // 2
    image = cv2.GaussianBlur(image[y0 : y0 + HEIGHT, x0 : x0 + WIDTH].astype(np.float32), (0, 0), 40)
    return 0.5 * image + 0.5 * 128


def _render(kind: str, faces: list[_Face], transforms: list[list[np.ndarray]], t: int, bg: np.ndarray | None):
    if kind != "cross":
        m = transforms[0][t]
        return cv2.warpAffine(
            faces[0].image, m, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    canvas = bg.copy()
    # Draw the face moving left first so the one moving right (faces[0]) ends up on top.
    for i in (1, 0):
        m = transforms[i][t]
        img = cv2.warpAffine(faces[i].image, m, (WIDTH, HEIGHT), borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.warpAffine(faces[i].mask, m, (WIDTH, HEIGHT), borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        canvas = canvas * (1 - alpha[..., None]) + img.astype(np.float32) * alpha[..., None]
    return canvas


def _truth(faces: list[_Face], transforms: list[list[np.ndarray]]) -> tuple[list, list]:
    five_all, iod_all = [], []
    for face, ms in zip(faces, transforms):
        p68 = np.stack([_apply(m, face.points) for m in ms])
        five = reduce_to_cuhk5(p68, SCHEME)
        inside = ((five >= 0) & (five <= [WIDTH - 1, HEIGHT - 1])).all(axis=(1, 2))
        five_all.append([np.round(f, 3).tolist() if ok else None for f, ok in zip(five, inside)])
        iod_all.append([round(_iod(p), 3) if ok else None for p, ok in zip(p68, inside)])
    return five_all, iod_all


def _hidden(faces: list[_Face], transforms: list[list[np.ndarray]], five: list[list]) -> list[list[float]]:
    """Per face, per frame, the mean alpha of the faces drawn over it at its five points (0 when none is)."""
    out = []
    for j in range(len(faces)):
        # `_render` draws faces[0] last: each face lies under those before it in the list.
        above = list(range(j))
        row = []
        for t, points in enumerate(five[j]):
            cover = 0.0
            if points is not None and above:
                p = np.asarray(points, np.float64)
                alpha = np.zeros(len(p))
                for i in above:
                    m = np.vstack([transforms[i][t], [0, 0, 1]])
                    src = _apply(np.linalg.inv(m)[:2], p)
                    h, w = faces[i].mask.shape
                    xy = np.rint(src).astype(int)
                    ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
                    a = np.zeros(len(p))
                    a[ok] = faces[i].mask[xy[ok, 1], xy[ok, 0]]
                    alpha = alpha + (1 - alpha) * a
                cover = float(alpha.mean())
            row.append(round(cover, 3))
        out.append(row)
    return out


def _eligible(ibug: Path, subset: str) -> list[Path]:
    photos = sorted(p for p in (ibug / subset).iterdir() if p.suffix.lower() in (".jpg", ".png"))
    photos = [p for p in photos if p.with_suffix(".pts").exists()]
    # A face too small to begin with would be upscaled into a blur, not a test of a tracker.
    return [p for p in photos if _iod(read_pts(p.with_suffix(".pts"))) >= MIN_SOURCE_IOD]


def make_clips(
    ibug: Path, out: Path, seed: int = 0, per_kind: dict | None = None, subset: str = "helen_testset"
) -> list[dict]:
    """Write the clips and ``clips.json`` into ``out``.

    Args:
        ibug: the ibug_300w folder.
        out: the folder for the mp4 files and the manifest; made if absent.
        seed: picks the photos and every random amplitude; the same seed gives the same clips.
        per_kind: clips per kind, e.g. ``{"pan": 2}``; the kinds left out get none.
        subset: its folder the photos come from: ``helen_trainset`` to choose settings on,
            ``helen_testset`` to report on.

    Returns:
        The manifest's clip entries.
    """
    ibug, out = Path(ibug), Path(out)
    per_kind = DEFAULT_PER_KIND if per_kind is None else per_kind
    unknown = set(per_kind) - set(DEFAULT_PER_KIND)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; known: {list(DEFAULT_PER_KIND)}")
    photos = _eligible(ibug, subset)
    order = np.random.default_rng(seed).permutation(len(photos))
    needed = sum(n * (3 if kind == "cross" else 1) for kind, n in per_kind.items())
    if needed > len(order):
        raise ValueError(f"{needed} photos needed, {len(order)} eligible in {ibug / subset}")
    pool = iter(photos[i] for i in order)
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for kind in DEFAULT_PER_KIND:
        for _ in range(per_kind.get(kind, 0)):
            index = len(clips)
            # One generator per clip, so changing the count of one kind leaves the others' motion alone.
            rng = np.random.default_rng([seed, index])
            faces = [_Face(next(pool), rng) for _ in range(2 if kind == "cross" else 1)]
            bg = None
            if kind == "cross":
                bg_path = next(pool)
                bg = _background(bg_path)
                for f in faces:
                    f.mask = _soft_mask(f)
            transforms = _clip_transforms(kind, faces, rng)
            frames = len(transforms[0])
            name = f"clip_{index:02d}.mp4"
            writer = cv2.VideoWriter(str(out / name), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
            if not writer.isOpened():
                raise OSError(f"cannot write {out / name}")
            for t in range(frames):
                frame = _render(kind, faces, transforms, t, bg).astype(np.float32)
                frame += rng.standard_normal(frame.shape, dtype=np.float32) * NOISE_SIGMA
                writer.write(np.clip(np.rint(frame), 0, 255).astype(np.uint8))
            writer.release()
            five, iod = _truth(faces, transforms)
            hidden = _hidden(faces, transforms, five) if kind == "cross" else [[0.0] * frames for _ in faces]
            still = [False] + [all(np.array_equal(ms[t], ms[t - 1]) for ms in transforms) for t in range(1, frames)]
            entry = {
                "file": name,
                "kind": kind,
                "source": [f.path.relative_to(ibug).as_posix() for f in faces],
                "frames": frames,
                "still": still,
                "faces": five,
                "iod": iod,
                "hidden": hidden,
                "transforms": [[np.round(m, 6).tolist() for m in ms] for ms in transforms],
            }
            if kind == "cross":
                entry["background"] = bg_path.relative_to(ibug).as_posix()
            clips.append(entry)
    with open(out / "clips.json", "w") as fh:
        json.dump({"fps": FPS, "size": [WIDTH, HEIGHT], "clips": clips}, fh)
    return clips


def draw_check(out: Path, clip: dict, frames: tuple[int, ...] | None = None) -> Path:
    """Draw the truth five points on a few decoded frames of a clip, side by side, into a PNG beside it.

    Reading the frames back from the mp4 checks the whole chain (transform, encoder, frame order).
    """
    n = clip["frames"]
    frames = frames or (0, n // 3, n // 2, 2 * n // 3, n - 1)
    cap = cv2.VideoCapture(str(out / clip["file"]))
    decoded = []
    for t in range(n):
        ok, img = cap.read()
        if not ok:
            break
        if t in frames:
            decoded.append((t, img))
    cap.release()
    colours = [(0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255)]
    tiles = []
    for t, img in decoded:
        for face in clip["faces"]:
            if face[t] is None:
                continue
            for k, (x, y) in enumerate(face[t]):
                cv2.circle(img, (round(x), round(y)), 3, colours[k], -1, cv2.LINE_AA)
        cv2.putText(img, f"{clip['kind']} t={t}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
        tiles.append(cv2.resize(img, (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA))
    path = out / f"check_{Path(clip['file']).stem}.png"
    cv2.imwrite(str(path), np.hstack(tiles))
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ibug", type=Path, required=True, help="the ibug_300w folder")
    ap.add_argument("--out", type=Path, required=True, help="folder for the clips and clips.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--subset",
        default="helen_testset",
        help="folder of --ibug the photos come from (helen_trainset to choose settings on)",
    )
    ap.add_argument(
        "--count",
        action="append",
        default=[],
        metavar="KIND=N",
        help=f"clips of a kind (repeatable); when given, the kinds not named get none. Defaults: {DEFAULT_PER_KIND}",
    )
    ap.add_argument(
        "--draw", action="store_true", help="also write check_*.png with the truth on the first clip of each kind"
    )
    args = ap.parse_args(argv)
    per_kind = None
    if args.count:
        per_kind = {k: int(v) for k, v in (c.split("=", 1) for c in args.count)}
    clips = make_clips(args.ibug, args.out, args.seed, per_kind, args.subset)
    frames = sum(c["frames"] for c in clips)
    print(f"{len(clips)} clips, {frames} frames, manifest {args.out.name}/clips.json")
    if args.draw:
        seen = set()
        for clip in clips:
            if clip["kind"] not in seen:
                seen.add(clip["kind"])
                print(f"drew {draw_check(args.out, clip).name}")


if __name__ == "__main__":
    main()
