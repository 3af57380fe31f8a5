"""Property-based tests: random bytes, lines, boxes and images only ever give clear errors.

"Clear" means AnnotationError (names the file and line) or ValueError with a message;
anything else (IndexError, cv2.error, a crash, a hang) fails the test.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isnet.api import LandmarkDetector
from isnet.assets import DEFAULT_MODEL, demo_list
from isnet.data import AnnotationError, Skipped, build_crops, load_grey, read_mtfl_list, read_pts, read_sun_list
from isnet.imageio import ImageError
from isnet.transforms import crop_face

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
GOOD = "lfw_5590\\a.jpg 84 161 92 169 106.25 107.75 146.75 112.25 125.25 142.75 105.25 157.75 139.75 161.75"

number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["", "-", "1e999", "0x10", "1,5", "nan", "NaN", "inf", "--1", "١٢"]),
)
line = st.one_of(
    st.text(max_size=200),
    st.lists(number, max_size=20).map(lambda xs: "a.jpg " + " ".join(xs)),
    st.integers(0, len(GOOD)).map(lambda n: GOOD[:n]),  # truncated real lines
)


@FUZZ
@given(data=st.binary(max_size=400))
def test_sun_reader_on_random_bytes(tmp_path, data):
    path = tmp_path / "l.txt"
    path.write_bytes(data)
    try:
        samples = read_sun_list(path)
    except AnnotationError as e:
        assert str(path) in str(e)
        return
    for s in samples:
        assert s.landmarks.shape == (5, 2) and np.isfinite(s.landmarks).all() and s.box[2] > s.box[0]


@FUZZ
@given(lines=st.lists(line, max_size=6))
def test_sun_and_mtfl_readers_on_random_lines(tmp_path, lines):
    path = tmp_path / "l.txt"
    path.write_bytes("\r\n".join(lines).encode("utf-8", errors="replace"))
    for reader in (read_sun_list, read_mtfl_list):
        skipped = Skipped()
        try:
            good = reader(path, skip_bad=True, skipped=skipped)
        except AnnotationError as e:  # only when the whole file is unreadable
            assert str(path) in str(e)
            continue
        n_lines = sum(1 for ln in path.read_bytes().decode("utf-8-sig").split("\n") if ln.strip())
        assert len(good) + len(skipped) == n_lines  # every non-empty line is either read or reported
        for item in skipped.items:
            assert item.startswith(f"{path}:")
        for s in good:
            assert np.isfinite(s.landmarks).all() and np.isfinite(s.box).all()


@FUZZ
@given(body=st.text(max_size=300))
def test_pts_reader_on_random_text(tmp_path, body):
    path = tmp_path / "a.pts"
    path.write_bytes(body.encode("utf-8", errors="replace"))
    try:
        pts = read_pts(path)
    except AnnotationError as e:
        assert str(path) in str(e)
        return
    assert pts.ndim == 2 and pts.shape[1] == 2 and np.isfinite(pts).all()


def _real_jpeg() -> bytes:
    return read_sun_list(demo_list("val"))[0].image.read_bytes()


REAL_JPEG = _real_jpeg()


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=2000),
        st.integers(0, len(REAL_JPEG)).map(lambda n: REAL_JPEG[:n]),  # truncated real images
        st.tuples(st.integers(0, len(REAL_JPEG) - 1), st.binary(min_size=1, max_size=8)).map(
            lambda t: REAL_JPEG[: t[0]] + t[1] + REAL_JPEG[t[0] + len(t[1]) :]  # corrupted bytes inside
        ),
    )
)
def test_image_loader_on_random_bytes(tmp_path, data):
    path = tmp_path / "x.jpg"
    path.write_bytes(data)
    try:
        image = load_grey(path)
    except AnnotationError as e:
        assert "x.jpg" in str(e)
        return
    assert image.dtype == np.uint8 and image.ndim == 2 and image.size > 0


finite = st.floats(-1e7, 1e7, allow_nan=False)


@FUZZ
@given(
    h=st.integers(1, 300),
    w=st.integers(1, 300),
    box=st.tuples(finite, finite, finite, finite),
    size=st.integers(1, 64),
    margin=st.floats(0, 1),
)
def test_crop_on_degenerate_and_huge_boxes(h, w, box, size, margin):
    image = np.random.default_rng(0).integers(0, 255, (h, w), dtype=np.uint8)
    box = np.array(box)
    side = max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin)
    try:
        crop, m = crop_face(image, box, size, margin)
    except ValueError as e:
        assert "box" in str(e)
        return
    except MemoryError:
        pytest.fail("crop allocated without bound")
    assert crop.shape == (size, size) and np.isfinite(m).all()
    assert side > 0


@pytest.mark.parametrize("shape", [(0, 0), (1, 1), (3, 40000)])
def test_crops_from_empty_tiny_and_enormous_images(tmp_path, shape):
    import cv2

    path = tmp_path / "img.png"
    if shape == (0, 0):
        path.write_bytes(b"")
    else:
        cv2.imwrite(str(path), np.zeros(shape, np.uint8))
    (tmp_path / "l.txt").write_text("img.png 0 1 0 1 0.1 0.1 0.9 0.1 0.5 0.5 0.1 0.9 0.9 0.9\n")
    samples = read_sun_list(tmp_path / "l.txt")
    try:
        crops = build_crops(samples, 16, 0.5, progress=False)
    except AnnotationError as e:
        assert "l.txt:1" in str(e)
        return
    assert crops.images.shape == (1, 16, 16)


@pytest.fixture(scope="module")
def landmark_detector():
    if not DEFAULT_MODEL.is_file():
        pytest.skip("the shipped model isnet/weights/isnet_cuhk5.pt is missing")
    return LandmarkDetector()


arrays = st.one_of(
    st.tuples(st.integers(0, 40), st.integers(0, 40), st.sampled_from([None, 1, 2, 3, 4, 5])).flatmap(
        lambda s: st.sampled_from([np.uint8, np.uint16, np.float32, np.int32, np.bool_]).map(
            lambda dt: np.zeros(s[:2] if s[2] is None else s, dtype=dt) + np.array(7).astype(dt)
        )
    ),
    st.just(np.zeros((5,), np.uint8)),
    st.just(np.zeros((2, 2, 2, 3), np.uint8)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(image=arrays, box=st.tuples(finite, finite, st.floats(-10, 1e6), st.floats(-10, 1e6)))
def test_predict_path_on_random_images_and_boxes(landmark_detector, image, box):
    try:
        faces = landmark_detector.predict(image, [list(box)])
    except (ImageError, ValueError) as e:
        assert str(e)
        return
    assert len(faces) == 1 and np.isfinite(faces[0].landmarks).all()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000))
def test_detect_on_random_files(landmark_detector, tmp_path, data):
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    try:
        faces = landmark_detector.detect(path)
    except ImageError as e:
        assert "photo.jpg" in str(e)
        return
    assert isinstance(faces, list)


def test_box_under_a_pixel_is_refused_not_nan(landmark_detector):
    # Found by the fuzzer: a 2e-16 px box gave NaN landmarks instead of an error.
    with pytest.raises(ValueError, match="at least 1 pixel"):
        landmark_detector.predict(np.full((1, 1), 7, np.uint8), [[0.0, 0.0, 2.220446049250313e-16, 2.2e-16]])
    with pytest.raises(ValueError, match="not fractions"):
        landmark_detector.predict(np.full((50, 50), 7, np.uint8), [[0.1, 0.2, 0.5, 0.5]])
