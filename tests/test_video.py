"""Video: the smoothing filter, the video metrics, the tracker stage, frames with their times."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from isnet import cli
from isnet.api import LandmarkDetector
from isnet.assets import demo_list
from isnet.data import read_sun_list
from isnet.imageio import ImageError, video_frames
from isnet.metrics import flicker, id_switches, offset_free_nme, shake, step_lag
from isnet.smoothing import FaceSmoother, MovingOneEuro, OneEuro, SmoothingConfig, points_of, pose_of, shape_in

FACE = np.array([[40.0, 50.0], [80.0, 50.0], [60.0, 70.0], [45.0, 90.0], [75.0, 90.0]])


# ------------------------------------------------------------------ smoothing


def test_one_euro_passes_a_constant_and_starts_at_the_first_value():
    f = OneEuro(1.0, 0.0)
    np.testing.assert_array_equal(f(np.array([3.0, 4.0]), 1 / 30), [3.0, 4.0])
    for _ in range(10):
        out = f(np.array([3.0, 4.0]), 1 / 30)
    np.testing.assert_allclose(out, [3.0, 4.0])


def test_one_euro_without_speed_is_the_low_pass_by_hand():
    # alpha = 1 / (1 + tau / dt), tau = 1 / (2 pi fc): fc = 1 Hz at 30 frames a second.
    f = OneEuro(1.0, 0.0)
    f(np.array([0.0]), 1 / 30)
    alpha = 1 / (1 + 30 / (2 * math.pi))
    np.testing.assert_allclose(f(np.array([1.0]), 1 / 30), [alpha])


def test_one_euro_lags_less_the_higher_its_beta():
    ramp = np.arange(60) * 0.5
    lags = []
    for beta in (0.0, 1.0):
        f = OneEuro(1.0, beta)
        out = [f(np.array([x]), 1 / 30)[0] for x in ramp]
        lags.append(ramp[-1] - out[-1])
    assert lags[1] < 0.5 * lags[0]


def test_a_repeated_time_keeps_the_filtered_value():
    f = OneEuro(1.0, 0.0)
    f(np.array([0.0]), 1 / 30)
    np.testing.assert_array_equal(f(np.array([5.0]), 0.0), [0.0])


def test_the_moving_filter_starts_at_the_first_value_and_keeps_it_on_a_repeated_time():
    f = MovingOneEuro(1.0, 0.0)
    np.testing.assert_array_equal(f(np.array([3.0, 4.0]), 1 / 30), [3.0, 4.0])
    np.testing.assert_array_equal(f(np.array([5.0, 5.0]), 0.0), [3.0, 4.0])


def test_the_moving_filter_when_still_is_the_plain_one_by_hand():
    # No speed yet: the guess is the value, the surprise is (x - value) / dt low-passed, as the
    # plain filter's speed; with beta 0 both are the low pass alpha = 1 / (1 + tau / dt).
    f = MovingOneEuro(1.0, 0.0)
    f(np.array([0.0]), 1 / 30)
    alpha = 1 / (1 + 30 / (2 * math.pi))
    np.testing.assert_allclose(f(np.array([1.0]), 1 / 30), [alpha])


def _noisy_ramp(rng, speed, frames=90, noise=0.3):
    truth = speed * np.arange(frames, dtype=float)[:, None] * [1.0, 0.0]
    return truth, truth + rng.normal(0, noise, truth.shape)


def _flicker(out, truth):
    return np.abs(np.diff(out, axis=0) - np.diff(truth, axis=0))[30:].mean()


def test_a_steady_motion_is_smoothed_more_than_by_the_plain_filter_and_not_lagged():
    rng = np.random.default_rng(1)
    truth, noisy = _noisy_ramp(rng, speed=1.0)
    moving, plain = MovingOneEuro(0.3, 20.0), OneEuro(0.3, 20.0)
    out_moving = np.array([moving(x, 1 / 30, unit=20.0) for x in noisy])
    out_plain = np.array([plain(x, 1 / 30, unit=20.0) for x in noisy])
    assert _flicker(out_moving, truth) < 0.6 * _flicker(out_plain, truth)
    assert np.abs(out_moving[-10:] - truth[-10:]).mean() < 1.0


def test_a_jump_is_followed_at_once_and_not_carried_on():
    f = MovingOneEuro(0.3, 20.0)
    rng = np.random.default_rng(2)
    track = np.array([[0.0, 0.0]] * 30 + [[20.0, 0.0]] * 30) + rng.normal(0, 0.1, (60, 2))
    out = np.array([f(x, 1 / 30, unit=20.0) for x in track])
    assert abs(out[31, 0] - 20.0) < 2.0
    # After the jump it stays: no frame runs past the new place by more than a pixel.
    assert out[30:, 0].max() < 21.0


def test_a_stop_after_a_steady_motion_is_not_overshot_far():
    f = MovingOneEuro(0.3, 20.0)
    track = np.array([[min(t, 45) * 2.0, 0.0] for t in range(90)])
    out = np.array([f(x, 1 / 30, unit=20.0) for x in track])
    # Moving 2 px a frame, the guess may run on by about a frame's motion before the stop is seen.
    assert out[45:, 0].max() < 90.0 + 2.5
    assert abs(out[-1, 0] - 90.0) < 0.1


@pytest.mark.parametrize(
    "knob", [{"min_cutoff": 0.0}, {"release_cutoff": -1.0}, {"beta": -0.5}, {"jump": float("nan")}]
)
def test_smoothing_knobs_out_of_range_are_refused_by_name(knob):
    with pytest.raises(ValueError, match=f"SmoothingConfig.{next(iter(knob))} must be"):
        SmoothingConfig(**knob)


def test_pose_and_shape_round_trip():
    centre, spread, roll = pose_of(FACE, FACE)
    np.testing.assert_allclose(centre, FACE.mean(axis=0))
    assert roll == 0.0
    shape = shape_in(FACE, centre, spread, roll)
    np.testing.assert_allclose(np.sqrt((shape**2).sum(axis=1).mean()), 1.0)
    np.testing.assert_allclose(points_of(shape, centre, spread, 0.3), points_of(shape, centre, spread, 0.3))
    np.testing.assert_allclose(points_of(shape, centre, spread, roll), FACE, atol=1e-12)


def test_a_still_face_is_steadied_and_a_moving_one_followed():
    rng = np.random.default_rng(0)
    smoother = FaceSmoother()
    noisy = [FACE + rng.normal(0, 0.2, FACE.shape) for _ in range(90)]
    out = np.array([smoother(p, p, t / 30) for t, p in enumerate(noisy)])
    raw_steps = np.abs(np.diff(np.array(noisy), axis=0))[30:].mean()
    assert np.abs(np.diff(out, axis=0))[30:].mean() < 0.25 * raw_steps
    # Moving at 2 px a frame (60 px a second, over a face about 20 px in spread) it keeps within 2 px.
    smoother = FaceSmoother()
    moving = [FACE + [2.0 * t, 0.0] for t in range(60)]
    out = [smoother(p, p, t / 30) for t, p in enumerate(moving)]
    assert np.abs(out[-1] - moving[-1]).max() < 2.0


def test_a_face_turning_through_upside_down_is_not_averaged_across_the_cut():
    smoother = FaceSmoother(SmoothingConfig(min_cutoff=50.0, beta=0.0, shape_min_cutoff=50.0))
    centre = FACE.mean(axis=0)
    for t, degrees in enumerate(range(170, 200, 2)):
        a = math.radians(degrees)
        turned = points_of(shape_in(FACE, centre, 1.0, 0.0), centre, 1.0, a)
        out = smoother(turned, turned, t / 30)
    assert np.abs(out - turned).max() < 1.0


# ------------------------------------------------------------------ video metrics


def test_flicker_is_zero_for_a_constant_error_and_by_hand_otherwise():
    truth = np.zeros((3, 1, 2))
    truth[:, 0, 0] = [0.0, 1.0, 2.0]
    iod = np.full(3, 10.0)
    f = flicker(truth + 3.0, truth, iod)
    assert np.isnan(f[0]) and np.allclose(f[1:], 0.0)
    pred = truth.copy()
    pred[2, 0, 1] = 2.0  # moves 2 px off the truth's motion at t = 2
    np.testing.assert_allclose(flicker(pred, truth, iod)[1:], [0.0, 0.2])


def test_shake_is_zero_for_steady_motion_and_by_hand_for_a_bump():
    points = np.zeros((4, 1, 2))
    points[:, 0, 0] = [0.0, 1.0, 2.0, 3.0]
    iod = np.full(4, 10.0)
    k = shake(points, iod)
    assert np.isnan(k[:2]).all() and np.allclose(k[2:], 0.0)
    points[2, 0, 1] = 1.0  # one frame 1 px off the line: second differences 1, then -2
    np.testing.assert_allclose(shake(points, iod)[2:], [0.1, 0.2])


def test_offset_free_nme_removes_each_points_mean_offset():
    truth = np.zeros((4, 2, 2))
    iod = np.full(4, 10.0)
    assert offset_free_nme(truth + [[1.0, 2.0], [3.0, 0.0]], truth, iod) == 0.0
    pred = truth.copy()
    pred[:, 0, 0] = [1.0, -1.0, 1.0, -1.0]
    assert offset_free_nme(pred, truth, iod) == pytest.approx(0.05)
    assert np.isnan(offset_free_nme(np.full_like(truth, np.nan), truth, iod))


def test_step_lag_counts_the_frames_to_catch_up():
    truth = np.zeros((20, 1, 2))
    truth[10:, 0, 0] = 10.0
    assert step_lag(truth, truth, 10) == 0.0
    late = np.zeros_like(truth)
    late[12:, 0, 0] = 10.0
    assert step_lag(late, truth, 10) == 2.0
    assert step_lag(np.zeros_like(truth), truth, 10) == float("inf")


def test_id_switches_count_changes_of_id_not_gaps():
    assert id_switches(np.array([0, 0, -1, 0, 1, 1, -1, 2])) == 2
    assert id_switches(np.array([-1, -1])) == 0


# ------------------------------------------------------------------ tracker


@pytest.fixture(scope="module")
def face_photo():
    sample = read_sun_list(demo_list("val"))[0]
    image = cv2.imread(str(sample.image))
    return cv2.copyMakeBorder(image, 40, 40, 120, 120, cv2.BORDER_REPLICATE)


def _moved(image: np.ndarray, dx: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, 0]])
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REPLICATE)


@pytest.fixture(scope="module")
def tracking_detector():
    cv2.setNumThreads(1)
    return LandmarkDetector(threads=1)


def test_a_followed_face_keeps_its_id_and_costs_one_pass_a_frame(tracking_detector, face_photo):
    det = tracking_detector
    frames = [_moved(face_photo, 1.5 * t) for t in range(12)]

    def views_of(frames):
        before = dict(det.pipeline.views)
        out = list(det.track(frames, detect_every=100))
        return out, {k: det.pipeline.views[k] - before[k] for k in before}

    out, views = views_of(frames)
    assert [len(faces) for faces in out] == [1] * 12
    assert {faces[0].track for faces in out} == {out[0][0].track}
    # The first frame takes the whole pipeline; every later one a single landmark pass (two
    # views, mirrored) and no roll network.
    _, first = views_of(frames[:1])
    assert views["roll"] == first["roll"] and views["landmark"] - first["landmark"] == 11 * 2
    # The points follow the face: 1.5 px a frame to the right.
    moved = out[-1][0].landmarks.mean(axis=0) - out[0][0].landmarks.mean(axis=0)
    assert abs(moved[0] - 16.5) < 2.0 and abs(moved[1]) < 1.0


def test_a_face_that_leaves_ends_its_track_and_comes_back_with_a_new_id(tracking_detector, face_photo):
    blank = np.full_like(face_photo, 127)
    frames = [face_photo] * 3 + [blank] * 2 + [face_photo] * 3
    out = list(tracking_detector.track(frames, remember=0))
    assert [len(faces) for faces in out] == [1, 1, 1, 0, 0, 1, 1, 1]
    assert out[0][0].track == out[2][0].track
    assert out[5][0].track == out[7][0].track != out[0][0].track


def test_a_face_back_where_its_track_ended_within_remember_takes_its_id_again(tracking_detector, face_photo):
    blank = np.full_like(face_photo, 127)
    frames = [face_photo] * 3 + [blank] * 2 + [face_photo] * 2
    out = list(tracking_detector.track(frames, remember=1.0))
    assert [len(faces) for faces in out] == [1, 1, 1, 0, 0, 1, 1]
    assert out[0][0].track == out[6][0].track
    # Not after the time remembered (30 frames a second: frame 5 is 1/15 s after the end).
    out = list(tracking_detector.track(frames, remember=0.05))
    assert out[6][0].track != out[0][0].track


def test_two_faces_get_two_ids_that_stay(tracking_detector, face_photo):
    pair = np.concatenate([face_photo, face_photo[:, ::-1]], axis=1)
    out = list(tracking_detector.track([pair] * 6, detect_every=2))
    ids = [sorted((f.box[0] > face_photo.shape[1], f.track) for f in faces) for faces in out]
    assert all(len(i) == 2 for i in ids) and len({tuple(i) for i in ids}) == 1
    assert ids[0][0][1] != ids[0][1][1]


def test_track_refuses_unknown_knobs(tracking_detector):
    with pytest.raises(TypeError, match="detect_evry"):
        next(tracking_detector.track([], detect_evry=3))


# ------------------------------------------------------------------ video files


def _write_video(path, frames, fps=10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames[0].shape[1::-1])
    for f in frames:
        writer.write(f)
    writer.release()


def test_video_frames_carry_the_containers_index_and_time(tmp_path):
    frames = [np.full((48, 64, 3), 20 * i, np.uint8) for i in range(5)]
    _write_video(tmp_path / "clip.avi", frames, fps=10)
    decoded, total, fps = video_frames(tmp_path / "clip.avi")
    got = list(decoded)
    assert total == 5 and fps == 10
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    np.testing.assert_allclose([f.time for f in got], [0.0, 0.1, 0.2, 0.3, 0.4], atol=1e-6)


def test_a_variable_frame_rate_follows_the_containers_times():
    # Made by scripts/make_variable_rate_clip.py: 30 frames/s, a stall of 0.3 s, 15, then 60 frames/s.
    decoded, total, _ = video_frames(Path(__file__).parent / "data" / "variable_rate.mp4")
    got = list(decoded)
    assert total == 11 and [f.index for f in got] == list(range(11))
    expected = [0, 33, 67, 100, 400, 467, 533, 600, 617, 633, 650]
    np.testing.assert_allclose([f.time for f in got], np.array(expected) / 1000, atol=0.0015)


def test_predict_follows_faces_in_a_video_and_records_their_track(capsys, tmp_path, face_photo):
    _write_video(tmp_path / "clip.avi", [_moved(face_photo, 2.0 * t) for t in range(6)])
    assert cli.main(["predict", str(tmp_path / "clip.avi"), "--quiet"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frame"] for r in records] == list(range(6)) and {r["track"] for r in records} == {0}
    assert cli.main(["predict", str(tmp_path / "clip.avi"), "--quiet", "--no-track", "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("file,frame,track,") and rows[1].split(",")[2] == ""


def test_the_smoothing_options_reach_the_filter(capsys, tmp_path, face_photo):
    _write_video(tmp_path / "clip.avi", [_moved(face_photo, 2.0 * t) for t in range(8)])
    points = {}
    for flags in ((), ("--no-smooth",), ("--smooth-plain",)):
        assert cli.main(["predict", str(tmp_path / "clip.avi"), "--quiet", *flags]) == 0
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["frame"] for r in records] == list(range(8))
        points[flags] = np.array([r["landmarks"] for r in records])
    # The first frame is shown as read by every filter; later ones differ as the filters do.
    np.testing.assert_allclose(points[()][0], points[("--no-smooth",)][0], atol=1e-6)
    for other in (("--no-smooth",), ("--smooth-plain",)):
        assert np.abs(points[()][1:] - points[other][1:]).max() > 0.01


def test_a_camera_is_opened_by_its_index_and_a_missing_one_named(monkeypatch):
    opened = []

    class NoCamera:
        def __init__(self, source):
            opened.append(source)

        def isOpened(self):
            return False

    monkeypatch.setattr(cv2, "VideoCapture", NoCamera)
    with pytest.raises(ImageError, match="camera 3: cannot be opened"):
        video_frames(3)
    assert opened == [3]


def test_a_corrupt_frame_is_skipped_with_one_warning_naming_it(tmp_path):
    _write_video(tmp_path / "clip.avi", [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(6)])
    data = bytearray((tmp_path / "clip.avi").read_bytes())
    jpegs = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    data[jpegs[2] : jpegs[2] + 200] = bytes(200)  # frame 2's JPEG data wiped
    (tmp_path / "broken.avi").write_bytes(bytes(data))
    warnings = []
    decoded, _, _ = video_frames(tmp_path / "broken.avi", warnings.append)
    got = list(decoded)
    assert [f.index for f in got] == [0, 1, 3, 4, 5]
    np.testing.assert_allclose([f.time for f in got], [0.0, 0.1, 0.3, 0.4, 0.5], atol=1e-6)
    assert len(warnings) == 1 and "broken.avi" in warnings[0] and "frame 2" in warnings[0]


def test_a_videos_rotation_flag_is_honoured(tmp_path):
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :16] = 255  # a bright band down the left side
    writer = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    writer.write(frame)
    writer.release()
    data = bytearray((tmp_path / "clip.mp4").read_bytes())
    # The track header's display matrix (version 0 'tkhd': 40 bytes after the box name) set to a quarter turn.
    at = data.find(b"tkhd") + 4 + 40
    assert struct.unpack(">9i", data[at : at + 36]) == (0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    data[at : at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    (tmp_path / "turned.mp4").write_bytes(bytes(data))
    image = next(iter(video_frames(tmp_path / "turned.mp4")[0])).image
    assert image.shape[:2] == (64, 48)
    assert image[:8].mean() > 200 and image[-40:].mean() < 30  # the band now runs along the top
