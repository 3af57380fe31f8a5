"""Copy a small, fixed random subset of the CUHK set into isnet/demo/ (the embedded demo).

Usage: python scripts/make_demo_subset.py ../shared/data/cuhk_facepoint
Lines are copied byte for byte, so the demo lists keep the original quirks (CRLF, backslashes).
"""

import shutil
import sys
from pathlib import Path

import numpy as np

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
    main(Path(sys.argv[1]), Path(__file__).resolve().parents[1] / "isnet" / "demo")
