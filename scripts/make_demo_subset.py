"""Copy a small, fixed random subset of the CUHK set into src/isnet/demo/ (the embedded demo).

Usage: python scripts/make_demo_subset.py ../shared/data/cuhk_facepoint
Lines are copied byte for byte, so the demo lists keep the original quirks (CRLF, backslashes).
"""

import argparse
import shutil
from pathlib import Path

import numpy as np

from isnet.assets import DEMO_DIR

SIZES = {"train": ("trainImageList.txt", 300), "val": ("testImageList.txt", 100)}


def main(src: Path, dst: Path) -> None:
    for split, (name, n) in SIZES.items():
        lines = (src / name).read_bytes().split(b"\r\n")
        lines = [ln for ln in lines if ln.strip()]
        pick = sorted(np.random.default_rng(2013).choice(len(lines), n, replace=False))
        chosen = [lines[i] for i in pick]
        for ln in chosen:
            rel = ln.split()[0].decode().replace("\\", "/")
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, dst / rel)
        (dst / f"demo_{split}.txt").write_bytes(b"\r\n".join(chosen) + b"\r\n")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", type=Path, help="the CUHK folder (with trainImageList.txt and testImageList.txt)")
    p.add_argument("--out", type=Path, default=DEMO_DIR, help="demo folder to write")
    a = p.parse_args()
    main(a.data, a.out)
