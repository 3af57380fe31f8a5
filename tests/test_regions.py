"""Region networks (isnet.regions): their views by hand, their config, training and the pipeline stage."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from isnet.api import LandmarkDetector
from isnet.assets import DEMO_DIR
from isnet.data import reduce_to_cuhk5
from isnet.frames import Frames
from isnet.model import ISNet, ISNetConfig, load, save_checkpoint
from isnet.regions import face_frames, fit_region_view, region_boxes, source_resolution
from isnet.schemes import Scheme, get_scheme
from isnet.training import TrainConfig, train

IBUG68 = get_scheme("ibug68")
PHOTO = DEMO_DIR / "lfw_5590" / "Ashley_Judd_0001.jpg"


def _frames(centre, side, roll_degrees):
    return Frames(np.zeros(1, int), np.array([centre], float), np.array([side], float), np.deg2rad([roll_degrees]))


def test_an_upright_region_frame_moves_by_the_offset_in_frame_sides():
    region = _frames((100.0, 50.0), 40.0, 0.0).within((0.25, -0.5, 0.5))
    np.testing.assert_allclose(region.centre, [[110.0, 30.0]])
    np.testing.assert_allclose(region.side, [20.0])
    np.testing.assert_allclose(region.roll, [0.0])


def test_a_turned_face_turns_its_region_with_it():
    # Turned a quarter clockwise (as seen, y down), the face's "down" points to the photo's left.
    region = _frames((100.0, 50.0), 40.0, 90.0).within((0.0, 0.5, 1.0))
    np.testing.assert_allclose(region.centre, [[80.0, 50.0]], atol=1e-9)
    np.testing.assert_allclose(region.roll, [np.pi / 2])


@pytest.mark.parametrize("roll", [0.0, 30.0, -120.0])
def test_the_region_centre_is_where_the_face_frame_puts_the_offset(roll):
    face = _frames((64.0, 80.0), 30.0, roll)
    region = face.within((0.1, 0.3, 0.7))
    np.testing.assert_allclose(face.upright(region.centre[:, None]), [[[0.1, 0.3]]], atol=1e-12)


def test_region_boxes_are_the_region_frames_squares():
    # An upright face (level eyes): the box moves down by half its side and doubles.
    points = np.zeros((1, 68, 2))
    points[0, :, 0] = np.linspace(0, 10, 68)
    config = ISNetConfig(scheme="ibug68", input_size=40, region=("jaw",), region_view=(0.0, 0.5, 2.0))
    got = region_boxes(np.array([[0.0, 0.0, 10.0, 10.0]]), points, config)
    np.testing.assert_allclose(got, [[-5.0, 0.0, 15.0, 20.0]], atol=1e-9)


def test_the_region_view_holds_the_region_of_every_face():
    # Faces of different sizes, places and rolls whose jaws sit on the same line of their frames:
    # the view is that line's centre, and its length as the side.
    rng = np.random.default_rng(0)
    points = rng.uniform(100, 200, (50, 68, 2))
    frames = Frames.of_points(np.zeros(50, int), reduce_to_cuhk5(points, IBUG68))
    line = np.stack([np.linspace(-0.6, 0.6, 17), np.full(17, 0.4)], axis=-1)
    cos, sin = np.cos(frames.roll)[:, None], np.sin(frames.roll)[:, None]
    turned = np.stack([cos * line[:, 0] - sin * line[:, 1], sin * line[:, 0] + cos * line[:, 1]], axis=-1)
    points[:, :17] = frames.centre[:, None] + frames.side[:, None, None] * turned
    assert fit_region_view(points, tuple(range(17)), IBUG68) == pytest.approx((0.0, 0.4, 1.2), abs=1e-9)


def test_a_region_network_reads_its_regions_points():
    config = ISNetConfig(scheme="ibug68", region=("brows", "eyes"))
    regions = dict(IBUG68.regions)
    assert config.points_read == tuple(sorted(regions["brows"] + regions["eyes"]))
    assert ISNetConfig(scheme="ibug68").points_read == tuple(range(68))


def test_a_region_view_half_the_face_is_cut_from_crops_twice_as_fine():
    config = ISNetConfig(scheme="ibug68", input_size=56, region=("mouth",), region_view=(0.0, 0.3, 0.5))
    assert source_resolution(config) == 112
    assert source_resolution(ISNetConfig(scheme="ibug68", input_size=56)) == 56


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"region": ("ears",)}, "not one of the ibug68 scheme's regions"),
        ({"region": ("jaw",), "region_view": (0.0, 0.0, 0.0)}, "side must be positive"),
        ({"region": ("jaw",), "region_view": (0.0, float("nan"), 1.0)}, "three finite numbers"),
    ],
)
def test_bad_regions_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        ISNetConfig(scheme="ibug68", **changes)


def test_a_region_that_mirroring_leaves_is_refused():
    two = Scheme.from_dict(
        {
            "name": "two",
            "points": ["left", "right"],
            "flip_pairs": [[0, 1]],
            "left_eye": [0],
            "right_eye": [1],
            "regions": {"left_side": [0], "both": [0, 1]},
        },
        "test",
    )
    ok = ISNetConfig(scheme="two", scheme_definition=two.to_dict(), region=("both",))
    assert ok.points_read == (0, 1)
    with pytest.raises(ValueError, match="not closed under mirroring"):
        ISNetConfig(scheme="two", scheme_definition=two.to_dict(), region=("left_side",))


def test_a_checkpoint_keeps_its_region_and_view(tmp_path):
    config = ISNetConfig(scheme="ibug68", input_size=40, region=("mouth",), region_view=(0.01, 0.32, 0.62))
    save_checkpoint(tmp_path / "m.pt", ISNet(config), metrics={})
    back = load(tmp_path / "m.pt").config
    assert back.region == ("mouth",) and back.region_view == (0.01, 0.32, 0.62)


def test_region_training_learns_only_the_regions_points(tmp_path):
    config = TrainConfig(demo=True, region=("mouth",), iterations=12, val_every=6, threads=1, quiet=True)
    config = replace(config, out=str(tmp_path / "run"))
    metrics = train(config)
    model = load(metrics["model"])
    assert model.config.region == ("mouth",)
    dx, dy, side = model.config.region_view
    # The mouth sits below the face's centre and is narrower than the face.
    assert dy > 0.1 and 0.1 < side < 1.0
    assert metrics["points"] == ["left_mouth", "right_mouth"]
    torch.manual_seed(config.seed)
    start = ISNet(config.model_config()).head[-1].weight
    rows = torch.tensor([r for p in range(5) for r in (2 * p, 2 * p + 1)])
    mouth = torch.isin(rows, torch.tensor([6, 7, 8, 9]))
    after = model.head[-1].weight
    # Adam moves no weight whose gradient is always zero: the other points' rows stay as they began.
    torch.testing.assert_close(after[rows[~mouth]], start[rows[~mouth]], rtol=0, atol=0)
    assert not torch.equal(after[rows[mouth]], start[rows[mouth]])


def _mouth_network(seed: int = 0) -> ISNet:
    torch.manual_seed(seed)
    return ISNet(ISNetConfig(scheme="ibug68", input_size=40, region=("mouth",), region_view=(0.0, 0.3, 0.6))).eval()


def test_a_region_networks_weight_decides_how_far_its_points_move():
    plain = LandmarkDetector(model="ibug68", threads=1, regions=None).detect(str(PHOTO))
    mouth = list(dict(IBUG68.regions)["mouth"])
    others = np.setdiff1d(np.arange(68), mouth)
    read = {}
    for weight in (0.0, 0.5, 1.0):
        det = LandmarkDetector(model="ibug68", threads=1, regions=[_mouth_network()], region_weight=weight)
        faces = det.detect(str(PHOTO))
        assert len(faces) == len(plain) == 1
        assert det.pipeline.views["region"] == 2  # one face, read plain and mirrored
        read[weight] = faces[0].landmarks
    np.testing.assert_allclose(read[0.0], plain[0].landmarks, atol=1e-9)
    for weight in (0.5, 1.0):
        np.testing.assert_allclose(read[weight][others], plain[0].landmarks[others], atol=1e-9)
    moved = read[1.0][mouth] - plain[0].landmarks[mouth]
    assert np.abs(moved).max() > 0.5
    np.testing.assert_allclose(read[0.5][mouth] - plain[0].landmarks[mouth], 0.5 * moved, atol=1e-6)


@pytest.mark.parametrize(
    "knobs, views",
    [({"region_mirror": False}, 1), ({"mirror": False}, 1), ({"mirror": False, "region_mirror": True}, 2)],
)
def test_region_views_are_read_mirrored_as_the_passes_unless_told(knobs, views):
    det = LandmarkDetector(model="ibug68", threads=1, regions=[_mouth_network()], **knobs)
    assert len(det.detect(str(PHOTO))) == 1 and det.pipeline.views["region"] == views


def test_a_whole_face_model_is_no_region_network():
    face = ISNet(ISNetConfig(scheme="ibug68", input_size=40)).eval()
    with pytest.raises(ValueError, match="region network of the ibug68 scheme"):
        LandmarkDetector(model="ibug68", regions=[face])
    with pytest.raises(ValueError, match="region network of the cuhk5 scheme is needed, got a ibug68 model"):
        LandmarkDetector(regions=[_mouth_network()])


def test_the_face_frames_of_68_points_are_those_of_their_five():
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 100, (3, 68, 2))
    a, b = face_frames(points, IBUG68), Frames.of_points(np.zeros(3, int), reduce_to_cuhk5(points, IBUG68))
    np.testing.assert_allclose(a.centre, b.centre)
    np.testing.assert_allclose(a.side, b.side)


def test_predict_no_regions_reads_no_region_network():
    from isnet.commands.predict import get_args_parser, settings_of

    settings = settings_of(get_args_parser().parse_args(["x.jpg", "--model", "ibug68", "--no-regions"]))
    assert settings.regions is False and settings.build().region_models == ()
    assert settings_of(get_args_parser().parse_args(["x.jpg", "--model", "ibug68"])).regions is True


def test_a_model_of_your_own_gets_no_shipped_region_networks(tmp_path):
    save_checkpoint(tmp_path / "own.pt", ISNet(ISNetConfig(scheme="ibug68", input_size=40)), metrics={})
    assert LandmarkDetector(tmp_path / "own.pt", regions="default").region_models == ()


def test_the_shipped_region_networks_cover_the_68_points_once():
    from isnet.assets import SHIPPED_REGIONS

    if not all(p.is_file() for p in SHIPPED_REGIONS["ibug68"]):
        pytest.skip("the 68-point model's region networks are not installed")
    det = LandmarkDetector(model="ibug68", threads=1)
    assert [m.config.region for m in det.region_models] == [("jaw",), ("brows", "eyes"), ("nose",), ("mouth",)]
    points = [i for m in det.region_models for i in m.config.points_read]
    assert sorted(points) == list(range(68))
    assert LandmarkDetector(model="cuhk5").region_models == ()
