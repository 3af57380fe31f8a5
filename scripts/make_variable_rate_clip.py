"""Write the variable-frame-rate test clip (``tests/data/variable_rate.mp4``).

OpenCV's writer only makes constant rates, so this uses PyAV (``pip install av``; not a
dependency of isnet, needed only to remake the clip). Eleven 64x48 MPEG-4 frames at the
container times in :data:`TIMES_MS`: 30 frames/s, a stall, 15 frames/s, then 60 frames/s.

Usage: python scripts/make_variable_rate_clip.py [--out tests/data/variable_rate.mp4]
"""

import argparse
import fractions
from pathlib import Path

import numpy as np

TIMES_MS = (0, 33, 67, 100, 400, 467, 533, 600, 617, 633, 650)


def main(out: Path) -> None:
    import av

    container = av.open(str(out), "w")
    stream = container.add_stream("mpeg4", rate=1000)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    stream.time_base = stream.codec_context.time_base = fractions.Fraction(1, 1000)
    for i, t in enumerate(TIMES_MS):
        image = np.full((48, 64, 3), 20 * i, np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = t, fractions.Fraction(1, 1000)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "data" / "variable_rate.mp4"
    )
    main(p.parse_args().out)
