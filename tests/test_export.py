"""ONNX export: parity with PyTorch through onnxruntime, and the onnx backend of LandmarkDetector."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import isnet
from isnet import cli
from isnet.api import LandmarkDetector
from isnet.assets import demo_list as _demo_list
from isnet.boxes import ltrb_to_xywh
from isnet.data import face_crops, read_sun_list
from isnet.export import PARITY_TOLERANCE, OnnxISNet, export_onnx, parity
from isnet.inference import view_inputs

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install -e '.[onnx]')")


def test_export_command_writes_a_graph_matching_pytorch(tmp_path, weights, capsys):
    out = tmp_path / "isnet.onnx"
    assert cli.main(["export", "--onnx", str(out), "--weights", str(weights)]) == 0
    assert "max abs difference" in capsys.readouterr().out
    model = isnet.load(weights)
    assert parity(model, out, n=64) < PARITY_TOLERANCE
    # On real views of demo faces as well, batch 1 and a full batch (dynamic batch axis).
    samples = read_sun_list(_demo_list("val"))[:32]
    crops = face_crops(samples, model.config.input_size)
    views, _ = view_inputs(model, crops, np.arange(len(crops)))
    onnx = OnnxISNet(None, 1, out, model.config)
    for batch in (views[:1], views):
        diff = np.abs(onnx.run(batch) - model(torch.from_numpy(batch)).detach().numpy()).max()
        assert diff < PARITY_TOLERANCE


# With the upright step the later passes' crops are cut from squares snapped to whole pixels
# around the first pass's points, so the backends' differences of about 1e-5 can move a crop by
# a pixel; measured up to 0.027 px on 40 demo faces with the shipped models.
UPRIGHT_PARITY_PX = 0.1


@pytest.mark.parametrize("upright", [None, "default"])
def test_onnx_backend_gives_the_torch_landmarks(weights, upright):
    s = read_sun_list(_demo_list("val"))[3]
    box = ltrb_to_xywh(s.box)
    by_torch = LandmarkDetector(weights, backend="torch", upright=upright)
    by_onnx = LandmarkDetector(weights, backend="onnx", threads=1, upright=upright)
    atol = 1e-3 if upright is None else UPRIGHT_PARITY_PX
    np.testing.assert_allclose(
        by_onnx.predict(s.image, box)[0].landmarks, by_torch.predict(s.image, box)[0].landmarks, atol=atol
    )
    a, b = by_onnx.detect(s.image), by_torch.detect(s.image)
    assert len(a) == len(b) >= 1
    np.testing.assert_allclose(a[0].landmarks, b[0].landmarks, atol=atol)
    with pytest.raises(ValueError, match="backend"):
        LandmarkDetector(weights, backend="tflite")


def test_benchmark_command_measures_everything(tmp_path, weights, capsys):
    out = tmp_path / "bench.json"
    argv = ["benchmark", "--weights", str(weights), "--threads", "1", "--batch-sizes", "1", "4", "--seconds", "0.01"]
    assert cli.main([*argv, "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["model"]["flops_per_face"] == 2 * r["model"]["macs_per_face"] > 0
    assert {(x["backend"], x["batch"]) for x in r["network"]} == {("torch", 1), ("torch", 4), ("onnx", 1), ("onnx", 4)}
    assert len(r["landmark_step"]) == 4 and len(r["detection"]) == 2
    # each backend end to end, with detection at full size and shrunk to half (320 px)
    assert sorted((x["backend"], x["max_side"] or 0) for x in r["end_to_end"]) == [
        ("onnx", 0),
        ("onnx", 320),
        ("torch", 0),
        ("torch", 320),
    ]
    assert "onnx_1_threads_max_side_320" in r["goals"]["photo_ms"]["measured"]
    assert r["photo"]["faces_found"] >= 1 and r["photo"]["shape"] == [480, 640, 3]
    assert all(x["median_ms"] > 0 for x in r["network"] + r["end_to_end"])
    assert set(r["goals"]) == {"one_face_ms_1_thread", "faces_per_s_batched_2_threads", "photo_ms"}
    assert "MFLOPs per face" in capsys.readouterr().out


def test_a_pooled_model_whose_grids_do_not_divide_exports(tmp_path):
    # At 56 pixels the third block's 5 x 5 map pools to the last 2 x 2 grid, which ONNX's own
    # adaptive pooling cannot express.
    torch.manual_seed(0)
    model = isnet.ISNet(isnet.ISNetConfig(scheme="ibug68", input_size=56, synthesis="pooled")).eval()
    out = tmp_path / "pooled.onnx"
    export_onnx(model, out)
    assert parity(model, out) < PARITY_TOLERANCE
