"""The stages of inference, each alone: photo, frames, detections, readings, the passes."""

import numpy as np
import pytest

from isnet.boxes import box_from_landmarks, rotate_points, xywh_to_ltrb
from isnet.detection import Detections, detect_photos, same_face
from isnet.detectors import Detector
from isnet.frames import Frames, frame_shift
from isnet.photo import Photo, level_of, warp_views
from isnet.schemes import CUHK5
from isnet.transforms import apply_affine, apply_affines

FACE = np.array([[40.0, 50.0], [80.0, 50.0], [60.0, 70.0], [45.0, 90.0], [75.0, 90.0]])


# ------------------------------------------------------------------ photo


def test_levels_halve_by_area_averaging():
    grey = np.arange(6 * 8, dtype=np.uint8).reshape(6, 8) * 4
    photo = Photo(grey)
    assert photo.level(0) is grey
    half = photo.level(1)
    assert half.shape == (3, 4)
    assert half[1, 2] == round(grey[2:4, 4:6].mean())
    assert photo.level(3).shape == (1, 1)
    # Pixel centres: the centre of the top-left 2x2 block, (0.5, 0.5), is level 1's pixel (0, 0).
    np.testing.assert_allclose(apply_affine(photo.to_level(1), np.array([[0.5, 0.5]])), [[0.0, 0.0]], atol=1e-12)


def test_level_of_keeps_at_least_one_photo_pixel_a_view_pixel():
    def scaled(s):
        return np.array([[[s, 0.0, 0.0], [0.0, s, 0.0]]])

    assert level_of(scaled(2.0))[0] == 0  # enlarging: the photo itself
    assert level_of(scaled(1.0))[0] == 0
    assert level_of(scaled(1 / 1.9))[0] == 0
    assert level_of(scaled(1 / 2.0))[0] == 1
    assert level_of(scaled(1 / 7.0))[0] == 2
    turned = np.array([[[0.0, -0.25, 0.0], [0.25, 0.0, 0.0]]])  # a quarter turn at a quarter scale
    assert level_of(turned)[0] == 2


def test_a_view_at_one_pixel_a_pixel_is_the_photo_cut_out():
    grey = np.random.default_rng(0).integers(0, 256, (40, 50), dtype=np.uint8)
    shift = np.array([[[1.0, 0.0, -7.0], [0.0, 1.0, -11.0]]])  # view pixel (u, v) = photo (u + 7, v + 11)
    view = warp_views([Photo(grey)], np.array([0]), shift, 16)
    assert view.shape == (1, 1, 16, 16) and view.dtype == np.float32
    np.testing.assert_allclose(view[0, 0] * 255, grey[11:27, 7:23], atol=1e-3)


def test_a_far_smaller_view_reads_the_area_average_not_one_pixel():
    grey = np.zeros((64, 64), np.uint8)
    grey[:, ::2] = 255  # one-pixel stripes: a plain bilinear sample of every 8th pixel sees only one colour
    view = warp_views(
        [Photo(grey)], np.array([0]), np.array([[[1 / 8, 0.0, -0.5 + 1 / 16], [0.0, 1 / 8, -0.5 + 1 / 16]]]), 8
    )
    np.testing.assert_allclose(view[0, 0, 2:-2, 2:-2], 0.5, atol=0.02)


# ------------------------------------------------------------------ frames


def test_frames_of_boxes_and_back():
    boxes = np.array([[10.0, 20.0, 50.0, 70.0], [0.0, 0.0, 8.0, 8.0]])
    f = Frames.of_boxes(np.array([0, 1]), boxes)
    np.testing.assert_allclose(f.centre, [[30, 45], [4, 4]])
    np.testing.assert_allclose(f.side, [50, 8])  # the longer side
    np.testing.assert_allclose(f.boxes(), [[5, 20, 55, 70], [0, 0, 8, 8]])
    assert len(f.take(np.array([1]))) == 1 and f.take(np.array([1])).photo[0] == 1


@pytest.mark.parametrize("degrees", [0, 25, -70, 180])
def test_the_frame_of_a_turned_face_is_its_upright_frame_turned(degrees):
    theta = np.deg2rad(degrees)
    centre = FACE.mean(0)[None]
    f = Frames.of_points(np.array([0]), rotate_points(FACE[None], np.array([theta]), centre))
    upright = box_from_landmarks(FACE, CUHK5)
    assert f.side[0] == pytest.approx(upright[2] - upright[0])
    assert np.cos(f.roll[0]) == pytest.approx(np.cos(theta)) and np.sin(f.roll[0]) == pytest.approx(np.sin(theta))
    mid = rotate_points((0.5 * (upright[:2] + upright[2:]))[None, None], np.array([theta]), centre)[0, 0]
    np.testing.assert_allclose(f.centre[0], mid, atol=1e-9)


def test_a_frames_view_shows_the_face_upright_and_centred():
    theta = np.deg2rad(40)
    turned = rotate_points(FACE[None], np.array([theta]), FACE.mean(0)[None])
    f = Frames.of_points(np.array([0]), turned)
    view = apply_affines(f.matrices(100, 0.0), turned)[0]
    assert view[1, 1] - view[0, 1] == pytest.approx(0.0, abs=1e-9)  # eyes level
    np.testing.assert_allclose(apply_affine(f.matrices(100, 0.0)[0], f.centre), [[49.5, 49.5]], atol=1e-9)


def test_frame_shift_by_hand():
    a = Frames.of_boxes(np.array([0]), np.array([[0.0, 0.0, 40.0, 40.0]]))
    assert frame_shift(a, a, FACE[None])[0] == pytest.approx(0.0)
    moved = Frames.of_boxes(np.array([0]), np.array([[4.0, 0.0, 44.0, 40.0]]))
    assert frame_shift(a, moved, FACE[None])[0] == pytest.approx(4.0 / 40.0)


def test_upright_frame_coordinates_by_hand_and_as_the_view_places_them():
    frame = Frames(np.zeros(1, int), np.array([[10.0, 20.0]]), np.array([4.0]), np.array([np.pi / 2]))
    # A face turned a quarter clockwise: the point below its centre is, upright, to the right.
    np.testing.assert_allclose(frame.upright(np.array([[[10.0, 22.0]]])), [[[0.5, 0.0]]], atol=1e-12)
    rng = np.random.default_rng(0)
    frames = Frames(np.zeros(6, int), rng.uniform(0, 300, (6, 2)), rng.uniform(20, 90, 6), rng.uniform(-3, 3, 6))
    points = frames.centre[:, None] + rng.normal(0, 30, (6, 5, 2))
    size = 39
    view = apply_affines(frames.matrices(size, 0.0), points)
    np.testing.assert_allclose(frames.upright(points), (view - (size - 1) / 2) / size, atol=1e-12)


# ------------------------------------------------------------------ detection


class BarDetector(Detector):
    """Finds the bright bar only when it lies wider than tall, its ends as two 'eyes'; records the shapes shown."""

    def __init__(self):
        self.seen = []

    def find(self, image):
        self.seen.append(image.shape[:2])
        ys, xs = np.nonzero(image[..., 0] > 128)
        if not len(xs) or np.ptp(xs) < np.ptp(ys):
            return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
        box = np.array([[xs.min(), ys.min(), np.ptp(xs), np.ptp(ys)]], float)
        mid = np.array([xs.mean(), ys.mean()])
        points = np.array([[xs.min(), mid[1]], [xs.max(), mid[1]], mid, mid + [-3, 5], mid + [3, 5]])
        return box, np.array([0.9]), points[None]


def test_every_turn_is_searched_and_the_find_mapped_back():
    image = np.zeros((60, 40, 3), np.uint8)
    image[5:45, 10:20] = 255  # a bar taller than wide: found only once turned by 90 or 270
    detector = BarDetector()
    d = detect_photos(detector, [Photo(image[..., 0], image)], (180, 270, 90))
    assert detector.seen == [(60, 40), (60, 40), (40, 60), (40, 60)]
    assert len(d) == 1  # found at 270 and at 90: the same face, kept once
    np.testing.assert_allclose(d.boxes, [[10, 5, 9, 39]])
    np.testing.assert_allclose(d.scores, [0.9])
    # Its "eyes" run along the bar: a face on its side, rolled by +-90 degrees.
    assert abs(abs(np.degrees(d.frames.roll[0])) - 90) < 1e-6
    assert len(detect_photos(BarDetector(), [Photo(image[..., 0], image)])) == 0


def test_a_detector_without_points_frames_by_its_box_upright():
    image = np.zeros((40, 40, 3), np.uint8)

    class Plain(Detector):
        def __call__(self, image):
            return np.array([[5.0, 6, 20, 20]]), [0.7]

    boxes, scores, points = Plain().find(image)
    assert boxes.shape == (1, 4) and scores.tolist() == [0.7] and np.isnan(points).all()
    d = Detections.of_boxes(np.array([0]), np.array([[5.0, 6, 20, 20]]), np.array([[5.0, 6, 25, 26]]))
    assert np.isnan(d.scores[0]) and d.frames.roll[0] == 0 and d.frames.side[0] == 20


def test_same_face_keeps_the_best_score_per_photo():
    boxes = np.array([[0.0, 0, 20, 20], [4, 2, 20, 20], [100, 100, 20, 20], [0, 0, 20, 20]])
    frames = Frames.of_boxes(np.array([0, 0, 0, 1]), xywh_to_ltrb(boxes))
    d = Detections(boxes, np.array([0.5, 0.9, 0.4, 0.3]), np.full((4, 5, 2), np.nan), frames, frames)
    assert same_face(d).tolist() == [1, 2, 3]  # face 0 is face 1 again; face 3 is in another photo


def test_no_photos_and_no_faces_give_empty_detections():
    assert len(detect_photos(BarDetector(), [])) == 0
    empty = Detections.concat([])
    assert empty.points.shape == (0, 5, 2) and len(empty.frames) == len(empty.boxed) == 0
