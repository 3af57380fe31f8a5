"""``isnet benchmark``: time the network, the detector and the pipeline."""

from __future__ import annotations

import argparse

from isnet import options, peers
from isnet.api import LandmarkDetector
from isnet.assets import DEMO_DIR, demo_list
from isnet.benchmark import benchmark, demo_photo, format_results, format_stages, stage_costs
from isnet.data import read_sun_list
from isnet.imageio import to_bgr_grey
from isnet.provenance import write_result


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = options.ArgumentParser(
        "isnet benchmark",
        add_help=add_help,
        description="Time the landmark network (batch 1 and 64, torch and onnxruntime), the detector "
        "and the whole pipeline on a 640x480 photo, on 1 and 2 threads.",
    )
    p.add_argument("--weights", default=None, help="checkpoint (default: the model shipped in isnet/weights/)")
    p.add_argument("--image", default=None, help="photo for detection and end-to-end times (default: a demo face)")
    p.add_argument("--threads", type=options.POSITIVE, nargs="+", default=[1, 2], help="thread counts to time")
    p.add_argument("--batch-sizes", type=options.POSITIVE, nargs="+", default=[1, 64], help="batch sizes to time")
    p.add_argument(
        "--backends", nargs="+", default=["torch", "onnx"], choices=("torch", "onnx"), help="network backends to time"
    )
    p.add_argument("--seconds", type=options.POSITIVE_FLOAT, default=1.0, help="minimum time per measurement")
    p.add_argument("--json", type=options.new_file, default=None, metavar="OUT", help="write the results here")
    p.add_argument(
        "--peers",
        action="store_true",
        help="also time dlib (pip install 'isnet[peers]') on the same faces, photo and folder, and print ratios",
    )
    p.add_argument("--rounds", type=options.POSITIVE, default=7, help="with --peers: interleaved rounds per comparison")
    p.add_argument(
        "--stages",
        action="store_true",
        help="also time each stage of the pipeline per face (isnet.pipeline.STAGES) and count the network "
        "views read per face, on the demo's 100 validation faces, one thread",
    )
    return p


def format_peers(peers: dict) -> str:
    face, photo, folder = peers["per_face"], peers["per_photo"], peers["per_folder"]
    lines = [f"per face, one thread, {face['faces']} faces with their boxes:"]
    lines += [f"  {k:<28}{v:>8.3f} ms" for k, v in face["ms_per_face"].items()]
    lines.append(f"  ratio isnet default / dlib 5-point: {face['ratio_default_to_dlib5']:.2f} (goal <= 0.5)")
    lines.append(f"per {photo['photo'][1]}x{photo['photo'][0]} photo, one thread, faces found {photo['faces_found']}:")
    lines += [f"  {k:<28}{v:>8.3f} ms" for k, v in photo["ms_per_photo"].items()]
    lines.append(
        f"  ratio isnet / dlib HOG + 68: {photo['ratio_default_to_dlib_hog68']:.2f} (goal <= 0.25, and <= 5 ms)"
    )
    lines.append(f"folder of {folder['photos']} demo photos on {folder['workers']} cores:")
    lines += [f"  {k:<28}{v:>8.1f} photos/s" for k, v in folder["photos_per_s"].items()]
    lines.append(f"  ratio isnet / dlib HOG + 68: {folder['ratio_isnet_to_dlib']:.2f}x the photos/s (goal >= 2)")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> dict:
    out = benchmark(args.weights, args.image, args.threads, args.batch_sizes, args.backends, args.seconds)
    print(format_results(out))
    if args.peers:
        photo = to_bgr_grey(args.image if args.image else demo_photo())[0]
        out["peers"] = {
            "per_face": peers.per_face(100, args.rounds),
            "per_photo": peers.per_photo(photo, 5 * args.rounds),
            "per_folder": peers.per_folder(DEMO_DIR),
        }
        print(format_peers(out["peers"]))
    if args.stages:
        det = LandmarkDetector(args.weights, threads=1)
        out["stages"] = stage_costs(det, read_sun_list(demo_list("val")))
        print(format_stages(out["stages"]))
    if args.json:
        write_result(args.json, out)
    return out
