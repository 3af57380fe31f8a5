"""The pure parts of benchmarks/peers.py: MediaPipe's five points, the matching and the error summaries.

None of them needs dlib or MediaPipe (the script imports those only when it runs them).
"""

import argparse
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from isnet.data import reduce_to_cuhk5
from isnet.schemes import get_scheme

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "peers.py"


@pytest.fixture(scope="module")
def peers():
    if not SCRIPT.exists():
        pytest.skip(f"{SCRIPT} not in this checkout")
    spec = importlib.util.spec_from_file_location("peers_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mesh_five_takes_iris_nose_mouth_in_subject_order(peers):
    mesh = np.zeros((478, 2))
    for k, index in enumerate((468, 473, 1, 61, 291)):
        mesh[index] = [10.0 * (k + 1), -k]
    np.testing.assert_array_equal(peers.mesh_five(mesh), [[10, 0], [20, -1], [30, -2], [40, -3], [50, -4]])


def test_mesh_box_spans_the_points(peers):
    mesh = np.array([[3.0, 4.0], [13.0, 2.0], [5.0, 24.0]])
    np.testing.assert_array_equal(peers.mesh_box(mesh), [3, 2, 10, 22])


def test_five_errors_are_over_the_eye_centre_distance(peers):
    truth = np.array([[[0.0, 0.0], [50.0, 0.0], [25.0, 25.0], [10.0, 40.0], [40.0, 40.0]]])
    pred = truth.copy()
    pred[0, 2] += [0.0, 5.0]  # the nose 5 px low: a tenth of the eye distance on one point of five
    errors, per_point = peers.five_errors(pred, truth)
    np.testing.assert_allclose(per_point, [[0, 0, 0.1, 0, 0]])
    np.testing.assert_allclose(errors, [0.02])


def test_mean_offset_cancels_inward_placement_but_not_a_shift(peers):
    truth = np.array([[[0.0, 0.0], [50.0, 0.0], [25.0, 25.0], [10.0, 40.0], [40.0, 40.0]]])
    inward = truth + np.array([[[2, 0], [-2, 0], [0, 9], [2, 0], [-2, 0]]])
    np.testing.assert_allclose(peers.mean_offset(inward, truth), [0, 0], atol=1e-12)
    np.testing.assert_allclose(peers.mean_offset(truth + [5.0, -2.5], truth), [0.1, -0.05])


def test_matched_keeps_the_face_at_the_annotation_and_nan_elsewhere(peers):
    gt68 = np.zeros((2, 68, 2))
    gt68[:, 36:42], gt68[:, 42:48], gt68[:, 30] = [40, 50], [60, 50], [50, 60]
    gt68[:, 48], gt68[:, 54] = [42, 70], [58, 70]
    truth5 = reduce_to_cuhk5(gt68, get_scheme("ibug68"))  # centred at (50, 60), eyes 20 px apart
    near = peers.Reading(np.array([[500.0, 500, 10, 10], [30.0, 30, 40, 40]]), np.ones((2, 5, 2)), np.ones((2, 68, 2)))
    far = peers.Reading(np.array([[500.0, 500, 10, 10]]), np.ones((1, 5, 2)), np.ones((1, 68, 2)))
    found, five, full = peers.matched([near, far], truth5)
    assert found.tolist() == [True, False]
    assert np.isnan(five[1]).all() and np.isnan(full[1]).all() and not np.isnan(five[0]).any()


def test_error_summary_leaves_out_faces_not_found(peers):
    s = peers.error_summary(np.array([0.02, np.nan, 0.09, 0.12]))
    assert s["faces"] == 3
    assert s["nme_mean"] == pytest.approx(0.23 / 3)
    assert s["fr_008"] == pytest.approx(2 / 3) and s["fr_010"] == pytest.approx(1 / 3)
    assert peers.error_summary(np.array([np.nan])) == {"faces": 0}


def test_argv_has_no_machine_paths(peers, tmp_path):
    ibug, models, venv = tmp_path / "ibug_300w", tmp_path / "models", tmp_path / "mpvenv"
    python = str(venv / "bin" / "python")
    args = argparse.Namespace(helen=ibug / "helen_testset", mediapipe_model=models / "x.task", mediapipe_python=python)
    argv = ["--helen", str(args.helen), "--mediapipe-python", args.mediapipe_python, "--limit", "10"]
    assert peers.portable_argv(argv, args) == [
        *("--helen", "$IBUG/helen_testset", "--mediapipe-python", "$MPVENV/bin/python", "--limit", "10")
    ]
