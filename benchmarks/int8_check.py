"""Is int8 worth it? Static (QDQ) and dynamic int8 quantisation of the shipped network, timed and scored.

Usage: python benchmarks/int8_check.py --data $DATA [--out FILE]   (default: benchmarks/results/speed/int8.json)
Calibration: plain views of the 300 embedded demo training faces. Timing: onnxruntime, one
thread, batch 1 and 64, median of repeated calls. Accuracy: mean box error (Sun et al.'s
measure) on the validation list $DATA/testImageList.txt with the list's boxes.
The rule (issue 14): ship int8 only if it is faster and the mean box error moves by less
than 0.02 points.
"""

import argparse
import json
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static

from isnet.assets import DEFAULT_MODEL, demo_list
from isnet.benchmark import measure
from isnet.data import face_crops, read_sun_list
from isnet.export import OnnxISNet, onnx_bytes
from isnet.inference import ground_truth, predict_crops, view_inputs
from isnet.metrics import summarise
from isnet.model import load
from isnet.provenance import write_result
from isnet.schemes import get_scheme

RESULTS = Path(__file__).resolve().parent / "results"


class Views(CalibrationDataReader):
    def __init__(self, views: np.ndarray):
        self.batches = iter([{"views": views[i : i + 1]} for i in range(len(views))])

    def get_next(self):
        return next(self.batches, None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="CUHK folder with testImageList.txt")
    p.add_argument("--out", type=Path, default=RESULTS / "speed" / "int8.json", help="JSON file to write")
    p.add_argument("--seconds", type=float, default=2.0, help="minimum time per measurement")
    a = p.parse_args()
    model = load(DEFAULT_MODEL)
    calibration = face_crops(read_sun_list(demo_list("train")), model.config.input_size)
    calib_views = view_inputs(model, calibration, np.arange(len(calibration)))[0]
    val = face_crops(read_sun_list(Path(a.data) / "testImageList.txt"), model.config.input_size)
    gt, scheme = ground_truth(val), get_scheme(model.config.scheme)
    with tempfile.TemporaryDirectory() as tmp:
        f32 = Path(tmp) / "f32.onnx"
        f32.write_bytes(onnx_bytes(model))
        graphs = {"float32": f32, "int8_dynamic": Path(tmp) / "dyn.onnx", "int8_static_qdq": Path(tmp) / "static.onnx"}
        quantize_dynamic(f32, graphs["int8_dynamic"], weight_type=QuantType.QInt8)
        quantize_static(
            f32,
            graphs["int8_static_qdq"],
            Views(calib_views),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        rows = {}
        for name, path in graphs.items():
            net = OnnxISNet(None, 1, path, model.config)
            m = summarise(predict_crops(net, val), gt, val.box_wh, scheme)
            rows[name] = {
                "batch1_ms_per_face": measure(partial(net.run, calib_views[:1]), a.seconds)["median_ms"],
                "batch64_ms_per_face": measure(partial(net.run, calib_views[:64]), a.seconds)["median_ms"] / 64,
                "box_error_mean_percent": 100 * m["box_error_mean"],
                "nme_iod_percent": 100 * m["nme_iod"],
            }
    base = rows["float32"]["box_error_mean_percent"]
    for r in rows.values():
        r["box_error_change_points"] = r["box_error_mean_percent"] - base
        r["speedup_batch1"] = rows["float32"]["batch1_ms_per_face"] / r["batch1_ms_per_face"]
    ship = [
        n
        for n, r in rows.items()
        if n != "float32" and r["speedup_batch1"] > 1 and abs(r["box_error_change_points"]) < 0.02
    ]
    out = {"rows": rows, "ship": ship or None}
    write_result(a.out, out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
