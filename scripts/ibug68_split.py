"""Split the 300-W training faces into training and held-out lists for 68-point models.

Usage: python scripts/ibug68_split.py --ibug $IBUG --out $RUNS/ibug68 [--held-out 200 --seed 0]
       [--subsets 453 906]
Writes OUT/train.txt and OUT/val.txt, one image path a line (isnet train --format pts reads
them): every face of lfpw_trainset, helen_trainset and afw with a .pts file beside it, shuffled
with SEED, the first HELD_OUT faces held out. The HELEN test split is never in either list.
``--subsets`` also writes OUT/train_N.txt, the first N training faces of the same shuffle (so
each subset holds the smaller ones), for a learning curve on the same held-out faces.
"""

import argparse
import random
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ibug", type=Path, required=True, help="the ibug_300w folder")
    p.add_argument("--out", type=Path, required=True, help="folder for train.txt and val.txt")
    p.add_argument("--held-out", type=int, default=200, help="faces held out for choosing models")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffle")
    p.add_argument("--subsets", type=int, nargs="*", default=[], help="sizes of nested training subsets")
    a = p.parse_args()
    folders = ("lfpw_trainset", "helen_trainset", "afw")
    images = sorted(
        img.resolve() for d in folders for img in (a.ibug / d).rglob("*.jpg") if img.with_suffix(".pts").exists()
    )
    random.Random(a.seed).shuffle(images)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "val.txt").write_text("".join(f"{p}\n" for p in sorted(images[: a.held_out])))
    train = images[a.held_out :]
    (a.out / "train.txt").write_text("".join(f"{p}\n" for p in sorted(train)))
    for n in a.subsets:
        if not 0 < n <= len(train):
            p.error(f"--subsets: {n} is not between 1 and the {len(train)} training faces")
        (a.out / f"train_{n}.txt").write_text("".join(f"{p}\n" for p in sorted(train[:n])))
    print(f"{a.out}: {len(images) - a.held_out} training, {a.held_out} held-out faces")


if __name__ == "__main__":
    main()
