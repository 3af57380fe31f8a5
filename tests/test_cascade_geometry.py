"""The region views of ``benchmarks/ibug68_cascade.py`` (the cascade experiment), by hand."""

import sys

import numpy as np
import pytest
from conftest import REPO

from isnet.data import reduce_to_cuhk5
from isnet.frames import Frames

sys.path.insert(0, str(REPO / "benchmarks"))
import ibug68_cascade  # noqa: E402


def _frames(centre, side, roll_degrees):
    return Frames(np.zeros(1, int), np.array([centre], float), np.array([side], float), np.deg2rad([roll_degrees]))


def test_an_upright_region_frame_moves_by_the_offset_in_frame_sides():
    region = ibug68_cascade.region_frames(_frames((100.0, 50.0), 40.0, 0.0), (0.25, -0.5, 0.5))
    np.testing.assert_allclose(region.centre, [[110.0, 30.0]])
    np.testing.assert_allclose(region.side, [20.0])
    np.testing.assert_allclose(region.roll, [0.0])


def test_a_turned_face_turns_its_region_with_it():
    # Turned a quarter clockwise (as seen, y down), the face's "down" points to the photo's left.
    region = ibug68_cascade.region_frames(_frames((100.0, 50.0), 40.0, 90.0), (0.0, 0.5, 1.0))
    np.testing.assert_allclose(region.centre, [[80.0, 50.0]], atol=1e-9)
    np.testing.assert_allclose(region.roll, [np.pi / 2])


@pytest.mark.parametrize("roll", [0.0, 30.0, -120.0])
def test_the_region_centre_is_where_the_face_frame_puts_the_offset(roll):
    face = _frames((64.0, 80.0), 30.0, roll)
    region = ibug68_cascade.region_frames(face, (0.1, 0.3, 0.7))
    np.testing.assert_allclose(face.upright(region.centre[:, None]), [[[0.1, 0.3]]], atol=1e-12)


def test_region_boxes_are_the_region_frames_squares():
    boxes = np.array([[0.0, 0.0, 10.0, 10.0]])
    got = ibug68_cascade.region_boxes(boxes, np.zeros(1), (0.0, 0.5, 2.0))
    np.testing.assert_allclose(got, [[-5.0, 0.0, 15.0, 20.0]])


def test_the_region_view_holds_the_region_of_every_face():
    # Faces of different sizes, places and rolls whose jaws sit on the same line of their frames:
    # the view is that line's centre, and its length as the side.
    rng = np.random.default_rng(0)
    points = rng.uniform(100, 200, (50, 68, 2))
    frames = ibug68_cascade.face_frames(reduce_to_cuhk5(points, ibug68_cascade.IBUG68))
    line = np.stack([np.linspace(-0.6, 0.6, 17), np.full(17, 0.4)], axis=-1)
    cos, sin = np.cos(frames.roll)[:, None], np.sin(frames.roll)[:, None]
    turned = np.stack([cos * line[:, 0] - sin * line[:, 1], sin * line[:, 0] + cos * line[:, 1]], axis=-1)
    points[:, :17] = frames.centre[:, None] + frames.side[:, None, None] * turned
    dx, dy, side = ibug68_cascade.region_view(points, tuple(range(17)))
    assert (dx, dy, side) == pytest.approx((0.0, 0.4, 1.2), abs=1e-9)
