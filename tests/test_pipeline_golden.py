"""The default pipeline a user runs, pinned on real photos; and what it costs in network evaluations.

The golden points are ``benchmarks/golden_pipeline.py``'s (benchmarks/results/golden/pipeline.json):
``LandmarkDetector()`` on defaults, onnxruntime at one thread. Each test reruns them in every
configuration a user runs.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO

from isnet import inference
from isnet.api import LandmarkDetector
from isnet.assets import QUALITY_FIT, ROLL_MODEL, demo_list

sys.path.insert(0, str(REPO / "benchmarks"))
import golden_pipeline  # noqa: E402

GOLDEN = json.loads((REPO / "benchmarks" / "results" / "golden" / "pipeline.json").read_text())
# Tolerances from the spread golden_pipeline.py measured over PyTorch and onnxruntime, 1 and 2
# threads and the generic kernels: points moved at most 7.7e-6 px on an Intel Xeon, 0.011 px on an
# AMD EPYC (the same on the code before the roll check was gated). Every view is one OpenCV warp,
# which snaps source positions to 1/32 px, so float noise in a frame can move a sample and the
# points by some hundredths of a pixel (0.053 px measured between the backends when turned views
# alone took this path): 0.6 px is allowed, quality 1e-3, roll 0.1 degrees (0.0078 measured).
TOLERANCE = {group: {"landmarks_px": 0.6, "quality": 1e-3, "roll_degrees": 0.1} for group in ("upright", "turned")}
CONFIGURATIONS = [("onnx", 1), ("onnx", 2), ("torch", 1), ("torch", 2)]


def test_the_tolerances_cover_the_measured_spread_ten_times():
    for group, spread in GOLDEN["spread"].items():
        for key, value in spread.items():
            assert 10 * value <= TOLERANCE[group][key] or value <= 1e-5, (group, key)


@pytest.fixture(scope="module", params=CONFIGURATIONS, ids=lambda c: f"{c[0]}-{c[1]}-threads")
def detector(request):
    if not ROLL_MODEL.is_file() or not QUALITY_FIT.is_file():
        pytest.skip("the upright step's model or its quality fit is not installed")
    backend, threads = request.param
    before = torch.get_num_threads()
    yield LandmarkDetector(backend=backend, threads=threads)
    torch.set_num_threads(before)


@pytest.mark.parametrize("k", range(len(GOLDEN["golden"])))
def test_the_default_pipeline_gives_the_golden_points(detector, k):
    golden = GOLDEN["golden"][k]
    index, turn = golden["photo"]
    bgr, box = golden_pipeline.photo(index, turn)
    tol = TOLERANCE["upright" if turn == 0 else "turned"]
    got = {"detect": max(detector.detect(bgr), key=lambda f: f.score), "predict": detector.predict(bgr, box)[0]}
    for call, face in got.items():
        expected = golden[call]
        np.testing.assert_allclose(face.landmarks, expected["landmarks"], rtol=0, atol=tol["landmarks_px"])
        assert face.quality == pytest.approx(expected["quality"], abs=tol["quality"])
        assert face.roll == pytest.approx(expected["roll"], abs=tol["roll_degrees"])


def _views_per_face(monkeypatch, det: LandmarkDetector, bgr: np.ndarray, box: np.ndarray | None) -> int:
    """Views through the network for one photo (``predict`` on ``box``, else ``detect``), counted at the network."""
    views = []
    run = inference.run_network
    monkeypatch.setattr(inference, "run_network", lambda model, v: views.append(len(v)) or run(model, v))
    before = sum(det.pipeline.views.values())
    faces = det.predict(bgr, box) if box is not None else det.detect(bgr)
    # The pipeline's own count (isnet benchmark --stages reports it) is the network's.
    assert sum(det.pipeline.views.values()) - before == sum(views)
    return sum(views) / max(1, len(faces))


@pytest.mark.parametrize("mirror", [False, True])
def test_one_network_evaluation_a_settled_upright_face(monkeypatch, mirror):
    if not ROLL_MODEL.is_file():
        pytest.skip("the upright step's model is not installed")
    # Gates shut (no further pass, no roll network): one view a face, two when mirrored.
    shut = {
        "refine": 0,
        "roll_check": False,
        "roll_trust": 360.0,
        "unsettled_above": np.inf,
        "detector_gap_above": np.inf,
    }
    det = LandmarkDetector(threads=1, mirror=mirror, **shut)
    for k in range(4):
        bgr, box = golden_pipeline.photo(k, 0.0)
        assert _views_per_face(monkeypatch, det, bgr, box) == (2 if mirror else 1)
        assert _views_per_face(monkeypatch, det, bgr, None) == (2 if mirror else 1)


def test_network_evaluations_per_face_on_defaults(monkeypatch):
    if not ROLL_MODEL.is_file():
        pytest.skip("the upright step's model is not installed")
    det = LandmarkDetector(threads=1)
    for index, turn in golden_pipeline.PHOTOS:
        bgr, box = golden_pipeline.photo(index, turn)
        for given in (box, None):
            views = _views_per_face(monkeypatch, det, bgr, given)
            # At least the first pass (two views, mirrored); at most every further pass, twice
            # (once in the roll network's frame), the roll check and the roll network's five views.
            assert 2 <= views <= 2 * (1 + det.config.refine) * 2 + 1 + 5


def test_golden_photos_exist_as_the_script_makes_them():
    assert [list(p) for p in golden_pipeline.PHOTOS] == GOLDEN["photos"]
    assert Path(golden_pipeline.__file__).resolve().parent == REPO / "benchmarks"


def test_stage_costs_account_for_every_stage():
    from isnet.benchmark import format_stages, stage_costs
    from isnet.data import read_sun_list
    from isnet.pipeline import STAGES

    det = LandmarkDetector(threads=1)
    costs = stage_costs(det, read_sun_list(demo_list("val"))[:3])
    for call in ("predict", "detect"):
        assert list(costs[call]) == [*STAGES, "other", "total", "views_per_face"]
        assert all(v >= 0 for k, v in costs[call].items() if k not in ("other", "views_per_face"))
        assert sum(costs[call][k] for k in STAGES) + costs[call]["other"] == pytest.approx(costs[call]["total"])
        assert costs[call]["views_per_face"]["landmark"] >= 1
    assert costs["predict"]["detection"] == 0 and costs["detect"]["detection"] > 0
    assert costs["predict"]["first pass"] > 0 and len(format_stages(costs).splitlines()) == len(STAGES) + 3 + 3
    assert costs["predict"]["views_per_face"]["region"] == 0  # the five-point model has no region networks
