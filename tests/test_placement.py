"""Placements of the five points: the face frame, the fitted map, and the API's ``placement``."""

import json

import numpy as np
import pytest

from isnet.api import LandmarkDetector
from isnet.assets import PLACEMENT_FITS
from isnet.boxes import rotate_points
from isnet.placement import apply_map, fit_map, from_face_frame, placement_map, read_map, to_face_frame
from isnet.schemes import CUHK5, get_scheme

FACE = np.array([[40.0, 50.0], [80.0, 50.0], [60.0, 70.0], [45.0, 90.0], [75.0, 90.0]])


def faces(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 5, 2)`` copies of FACE, jittered, scaled, rolled and moved at random."""
    rng = np.random.default_rng(seed)
    f = FACE[None] + rng.normal(0, 2.0, (n, 5, 2))
    f = (f - FACE.mean(0)) * rng.uniform(0.5, 3.0, (n, 1, 1)) + rng.uniform(0, 400, (n, 1, 2))
    return rotate_points(f, rng.uniform(-np.pi, np.pi, n), f.mean(axis=1))


def test_face_frame_by_hand():
    # Centre (60, 70), eye distance 40, upright: the left eye is (-20, -20) / 40.
    x = to_face_frame(FACE[None])[0].reshape(5, 2)
    np.testing.assert_allclose(x[0], [-0.5, -0.5])
    np.testing.assert_allclose(x[2], [0.0, 0.0])
    # Turned by 90 degrees about its centre, the face reads the same in its own frame.
    turned = rotate_points(FACE[None], np.array([np.pi / 2]), FACE.mean(0)[None])
    np.testing.assert_allclose(to_face_frame(turned)[0].reshape(5, 2), x, atol=1e-12)


def test_face_frame_round_trip():
    f = faces(20)
    np.testing.assert_allclose(from_face_frame(to_face_frame(f), f), f, atol=1e-9)


def test_fit_map_recovers_a_shift_made_in_the_face_frame():
    read = faces(200)
    shift = np.array([0.02, 0.03, 0.01, 0.03, 0.02, -0.02, 0.01, 0.01, 0.01, 0.01])
    truth = from_face_frame(to_face_frame(read) + shift, read)
    w = fit_map(read, truth)
    np.testing.assert_allclose(apply_map(read, w), truth, atol=1e-8)
    # The frame ties some coordinates (mean 0, eyes level at distance 1), so W is not unique;
    # any least-squares W moves new faces alike.
    other = faces(10, seed=1)
    np.testing.assert_allclose(apply_map(other, w), from_face_frame(to_face_frame(other) + shift, other), atol=1e-8)


def test_a_map_moves_points_alike_at_any_roll_and_size():
    w = np.zeros((11, 10))
    w[-1] = [0.0, 0.1, 0.0, 0.1, 0.0, -0.1, 0.0, 0.0, 0.0, 0.0]  # eyes down, nose up, by a tenth
    moved = apply_map(FACE[None], w)[0]
    np.testing.assert_allclose(moved[:2, 1], [54.0, 54.0])  # a tenth of the eye distance, 40 px
    np.testing.assert_allclose(moved[2], [60.0, 66.0])
    theta, centre = np.array([0.7]), np.array([[10.0, -5.0]])
    turned = rotate_points(2.0 * FACE[None], theta, centre)
    np.testing.assert_allclose(apply_map(turned, w), rotate_points(2.0 * moved[None], theta, centre), atol=1e-9)


def test_apply_map_of_no_faces():
    assert apply_map(np.zeros((0, 5, 2)), np.zeros((11, 10))).shape == (0, 5, 2)


def test_read_map_errors_name_the_file_and_the_script(tmp_path):
    with pytest.raises(FileNotFoundError, match="fit_placement.py"):
        read_map(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"matrix": [[0.0] * 10] * 3}))
    with pytest.raises(ValueError, match="11 x 10"):
        read_map(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match="bad.json"):
        read_map(bad)


def test_schemes_name_their_placement():
    assert CUHK5.placement == "cuhk" and get_scheme("ibug68").placement == "300w"
    with pytest.raises(ValueError, match="no fitted map"):
        placement_map("300w", "cuhk")


def test_shipped_map_moves_eyes_down_and_nose_up():
    """The five-point model puts the eyes above 300-W's eye centres and the nose below
    (benchmarks/results/placement/eye_centre_correction.json measured it on the training list too)."""
    if not PLACEMENT_FITS[("cuhk", "300w")].is_file():
        pytest.skip("the placement map is not installed")
    moved = apply_map(FACE[None], placement_map("cuhk", "300w"))[0]
    assert (moved[:2, 1] > FACE[:2, 1]).all() and moved[2, 1] < FACE[2, 1]
    assert np.abs(moved - FACE).max() < 0.1 * 40  # a few percent of the eye distance, not a new face


def test_detector_placement(tmp_path):
    if not PLACEMENT_FITS[("cuhk", "300w")].is_file():
        pytest.skip("the placement map is not installed")
    from isnet.assets import demo_list
    from isnet.boxes import ltrb_to_xywh
    from isnet.data import read_sun_list

    s = read_sun_list(demo_list("val"))[0]
    own = LandmarkDetector(detector=None, upright=None, threads=1)
    moved = LandmarkDetector(detector=None, upright=None, threads=1, placement="300w")
    assert own.placement == "cuhk" and moved.placement == "300w"
    box = ltrb_to_xywh(s.box)
    a, b = own.predict(s.image, box)[0].landmarks, moved.predict(s.image, box)[0].landmarks
    np.testing.assert_allclose(b, apply_map(a[None], placement_map("cuhk", "300w"))[0], atol=1e-9)
    with pytest.raises(ValueError, match="placement must be one of"):
        LandmarkDetector(detector=None, upright=None, placement="pupils")
    with pytest.raises(ValueError, match="only five-point outputs"):
        LandmarkDetector(detector=None, upright=None, model="ibug68", placement="cuhk")


def test_predict_placement_on_the_command_line(capsys):
    if not PLACEMENT_FITS[("cuhk", "300w")].is_file():
        pytest.skip("the placement map is not installed")
    from isnet.assets import demo_list
    from isnet.cli import main
    from isnet.data import read_sun_list

    photo = str(read_sun_list(demo_list("val"))[0].image)
    records = []
    for extra in ([], ["--placement", "300w"]):
        assert main(["predict", "--quiet", "--threads", "1", photo, *extra]) == 0
        records.append(json.loads(capsys.readouterr().out.splitlines()[0]))
    own, moved = (np.array(r["landmarks"]) for r in records)
    eyes = np.linalg.norm(own[1] - own[0])
    assert (moved[:2, 1] > own[:2, 1]).all()  # the eyes go down to 300-W's eye centres
    assert 0 < np.abs(moved - own).max() < 0.1 * eyes
    assert main(["predict", "--model", "ibug68", "--placement", "cuhk", photo]) == 2
    assert "only five-point outputs" in capsys.readouterr().err


def test_predict_no_mirror_reads_each_view_once(capsys):
    from isnet.assets import demo_list
    from isnet.cli import main
    from isnet.data import read_sun_list

    photo = str(read_sun_list(demo_list("val"))[0].image)
    records = []
    for extra in ([], ["--no-mirror"]):
        assert main(["predict", "--quiet", "--threads", "1", photo, *extra]) == 0
        records.append(json.loads(capsys.readouterr().out.splitlines()[0]))
    det = LandmarkDetector(threads=1, mirror=False)
    face = max(det.detect(photo), key=lambda f: f.score)
    np.testing.assert_allclose(records[1]["landmarks"], face.landmarks, atol=0.01)
    assert records[0]["landmarks"] != records[1]["landmarks"]
