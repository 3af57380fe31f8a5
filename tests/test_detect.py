"""LandmarkDetector, YuNet, box map and ``isnet predict`` on the embedded demo faces.

Accuracy tolerance: a face's landmarks count as right when their mean error is under
10 % of the annotated box's width (the quick 300-iteration demo model averages about
4 %, the shipped model less); the mean over the test faces must meet it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import isnet
from isnet import cli
from isnet.api import Face, LandmarkDetector
from isnet.assets import demo_list as _demo_list
from isnet.assets import weights_path
from isnet.boxes import BoxMap, iou, ltrb_to_xywh, match_box, xywh_to_ltrb
from isnet.data import face_crops, read_sun_list
from isnet.detectors import YuNet, detector_training_boxes
from isnet.imageio import ImageError, to_bgr_grey
from isnet.inference import predict_crops
from isnet.output import draw_faces
from isnet.schemes import CUHK5, SCHEMES

TOLERANCE = 0.10  # mean point error over box width
N_FACES = 12


@pytest.fixture(scope="session")
def detector(weights) -> LandmarkDetector:
    cv2.setNumThreads(1)
    return LandmarkDetector(weights)


@pytest.fixture(scope="session")
def samples():
    return read_sun_list(_demo_list("val"))[:N_FACES]


def box_error(pred: np.ndarray, sample) -> float:
    """Mean point error over the annotated box's width."""
    return float(np.linalg.norm(pred - sample.landmarks, axis=1).mean() / (sample.box[2] - sample.box[0]))


def test_predict_on_dataset_boxes_is_accurate_and_reuses_the_pipeline(detector, samples):
    errors, preds = [], []
    # As isnet evaluate runs it: one pass, one reading a view.
    one_pass = LandmarkDetector(detector.model, detector=None, upright=None, mirror=False)
    for s in samples:
        faces = one_pass.predict(s.image, ltrb_to_xywh(s.box))
        assert len(faces) == 1 and faces[0].score is None and faces[0].landmarks.shape == (5, 2)
        np.testing.assert_allclose(faces[0].box, ltrb_to_xywh(s.box)[0])
        errors.append(box_error(faces[0].landmarks, s))
        preds.append(faces[0].landmarks)
    assert np.mean(errors) < TOLERANCE, errors
    # The same faces through isnet evaluate's path: the API warps each view from the photo's area
    # pyramid in one step, evaluation samples it from an area-averaged crop; the two resamplings
    # move points by 0.36 px on average on the CUHK validation faces (about 0.4 % of their boxes).
    crops = face_crops(samples, detector.model.config.input_size)
    moved = np.linalg.norm(np.array(preds) - predict_crops(detector.model, crops), axis=-1).mean(axis=1)
    sides = np.array([s.box[2] - s.box[0] for s in samples])
    assert np.all(moved / sides < 0.015), moved / sides


class _Fake:
    """Stands in for a network: ``read(views)`` ``(B, K, 2)`` fractions of the view, K points."""

    def __init__(self, read, scheme="cuhk5"):
        from isnet.model import ISNetConfig

        self.config = ISNetConfig(scheme=scheme)
        self.read = read

    def eval(self):
        return self


def _predict_with(fake, crops, monkeypatch, **kw):
    import isnet.inference as inference

    monkeypatch.setattr(inference, "run_network", lambda model, views: model.read(views))
    return predict_crops(fake, crops, **kw)


def test_mirrored_reading_by_hand(samples, monkeypatch):
    crops = face_crops(samples[:3], 39)
    # A reader of the brightest pixel is mirror-equivariant: mirroring changes nothing.
    size = 39

    def brightest(views):
        flat = views[:, 0].reshape(len(views), -1).argmax(axis=1)
        v, u = np.divmod(flat, size)
        return np.repeat(np.stack([u, v], -1)[:, None] / size, 5, axis=1).astype(np.float64)

    plain = _predict_with(_Fake(brightest), crops, monkeypatch)
    np.testing.assert_allclose(_predict_with(_Fake(brightest), crops, monkeypatch, mirror=True), plain, atol=1e-9)
    # A reader that sees nothing answers the same points in every view; mirrored back, its pairs
    # swap and x goes to size - 1 - x: the average is that of the points and their mirror image.
    fixed = np.array([[10.0, 12.0], [25.0, 13.0], [17.0, 20.0], [12.0, 28.0], [26.0, 29.0]])

    def constant(views):
        return np.repeat(fixed[None] / size, len(views), axis=0)

    expected_view = 0.5 * (fixed + np.c_[size - 1 - fixed[[1, 0, 2, 4, 3], 0], fixed[[1, 0, 2, 4, 3], 1]])
    got = _predict_with(_Fake(constant), crops, monkeypatch, mirror=True)
    base = _predict_with(_Fake(lambda views: np.repeat(expected_view[None] / size, len(views), 0)), crops, monkeypatch)
    np.testing.assert_allclose(got, base, atol=1e-9)
    # By hand: the left eye averages (10, 12) with the right eye's (25, 13) mirrored, (38 - 25, 13).
    np.testing.assert_allclose(expected_view, [[11.5, 12.5], [26.5, 12.5], [19, 20], [12, 28.5], [26, 28.5]])


def test_detect_with_yunet_finds_the_annotated_faces(detector, samples):
    errors = []
    for s in samples:
        faces = detector.detect(str(s.image))
        j = match_box(xywh_to_ltrb(np.array([f.box for f in faces]).reshape(-1, 4)), s.box, 0.3)
        assert j >= 0, f"YuNet missed the face of {s.image.name}"
        assert 0.6 <= faces[j].score <= 1.0
        errors.append(box_error(faces[j].landmarks, s))
    assert np.mean(errors) < TOLERANCE, errors


def test_detect_batch_equals_detect_one_by_one(detector, samples):
    images = [cv2.imread(str(s.image)) for s in samples[:5]]
    batched = detector.detect_batch(images)
    for image, faces in zip(images, batched):
        single = detector.detect(image)
        assert len(single) == len(faces)
        for a, b in zip(single, faces):
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)
            np.testing.assert_allclose(a.box, b.box)


def test_predict_batches_several_faces_of_one_image(detector, samples):
    s = samples[0]
    box = ltrb_to_xywh(s.box)[0]
    shifted = box + [5, -3, 0, 0]
    faces = detector.predict(s.image, [box, shifted], scores=[0.9, 0.8])
    assert [f.score for f in faces] == [0.9, 0.8]
    one = detector.predict(s.image, [shifted])[0]
    np.testing.assert_allclose(faces[1].landmarks, one.landmarks, atol=1e-3)
    assert detector.predict(s.image, np.zeros((0, 4))) == []


def test_no_face_gives_no_faces(detector):
    assert detector.detect(np.full((240, 320, 3), 128, np.uint8)) == []
    assert detector.detect_batch([np.full((64, 64), 0, np.uint8), np.full((64, 64), 255, np.uint8)]) == [[], []]


def test_image_kinds_give_the_same_landmarks(detector, samples):
    s = samples[1]
    bgr = cv2.imread(str(s.image))
    box = ltrb_to_xywh(s.box)
    ref = detector.predict(bgr, box)[0].landmarks
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    kinds = {
        "path": s.image,
        "str path": str(s.image),
        "grey": grey,
        "grey (H, W, 1)": grey[:, :, None],
        "BGRA": cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
        "16-bit BGR": bgr.astype(np.uint16) * 257,
        "16-bit grey": grey.astype(np.uint16) * 257,
    }
    for name, image in kinds.items():
        np.testing.assert_allclose(detector.predict(image, box)[0].landmarks, ref, atol=0.5, err_msg=name)
    # Through the detector too: a grey input shows YuNet a grey picture, so its box (and
    # the landmarks) may move a little. The boxes must overlap closely, and every point stay
    # under the 5 % box-width failure threshold of Sun et al.'s protocol.
    ref_faces = detector.detect(bgr)
    width = s.box[2] - s.box[0]
    for name in ("grey", "BGRA", "16-bit BGR"):
        faces = detector.detect(kinds[name])
        assert len(faces) == len(ref_faces), name
        ltrb = xywh_to_ltrb(np.array([faces[0].box, ref_faces[0].box]))
        assert iou(ltrb[:1], ltrb[1])[0] > 0.9, name
        err = np.linalg.norm(faces[0].landmarks - s.landmarks, axis=1).max()
        assert err < 0.05 * width, (name, err)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((10, 10, 3), np.float32), "float32"),
        (np.zeros((2, 10, 10, 3), np.uint8), "shape"),
        (np.zeros((0, 10), np.uint8), "empty"),
        (np.zeros((10, 10, 2), np.uint8), r"\(10, 10, 2\)"),
        (np.zeros((10, 10), np.int32), "int32"),
        ([[0, 1], [2, 3]], "list"),
    ],
)
def test_unusable_arrays_are_refused_saying_what_they_are(image, message):
    with pytest.raises(ImageError, match=message):
        to_bgr_grey(image)


def test_unreadable_files_are_named(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageError, match="broken.jpg: cannot be decoded"):
        to_bgr_grey(bad)
    with pytest.raises(ImageError, match="missing.png: no such image file"):
        to_bgr_grey(tmp_path / "missing.png")


def test_missing_default_model_says_what_to_do(monkeypatch, tmp_path):
    import isnet.assets

    monkeypatch.setitem(isnet.assets.SHIPPED_MODELS, "cuhk5", tmp_path / "isnet_cuhk5.pt")
    with pytest.raises(FileNotFoundError, match="not installed; pass a checkpoint"):
        LandmarkDetector()


def test_own_detector_callable(weights, samples):
    s = samples[2]

    def dataset_box_detector(image):
        return ltrb_to_xywh(s.box), np.array([1.0])

    # This detector gives the same box whatever it is shown: searched in turned copies too, it would
    # find a "face" in each.
    faces = LandmarkDetector(weights, dataset_box_detector, rotations=()).detect(s.image)
    assert len(faces) == 1 and faces[0].score == 1.0
    assert box_error(faces[0].landmarks, s) < TOLERANCE
    with pytest.raises(ValueError, match="no face detector"):
        LandmarkDetector(weights, detector=None).detect(s.image)


def test_box_map_fit_recovers_a_known_map():
    rng = np.random.default_rng(0)
    det = np.column_stack([rng.uniform(0, 200, (50, 2)), rng.uniform(40, 120, (50, 2))])
    truth = BoxMap(dx=-0.02, dy=0.05, sx=0.9, sy=0.7)
    fit = BoxMap.fit(det, truth.apply(det))
    np.testing.assert_allclose([fit.dx, fit.dy, fit.sx, fit.sy], [-0.02, 0.05, 0.9, 0.7], atol=1e-9)
    np.testing.assert_allclose(BoxMap().apply(det), xywh_to_ltrb(det))


def test_shipped_box_map_was_fitted_on_the_training_split():
    fitted = json.loads((Path(isnet.__file__).parent / "weights" / "yunet_box_map.json").read_text())
    assert fitted["list"].endswith("trainImageList.txt") and fitted["n_matched"] > 9000
    assert YuNet().box_map == BoxMap.load(Path(isnet.__file__).parent / "weights" / "yunet_box_map.json")


def test_match_box_takes_the_best_overlap_above_the_threshold():
    dets = xywh_to_ltrb(np.array([[0, 0, 10, 10], [100, 100, 50, 50], [105, 95, 50, 50]]))
    assert match_box(dets, np.array([104.0, 96.0, 154.0, 146.0]), 0.3) == 2
    assert match_box(dets, np.array([300.0, 300.0, 310.0, 310.0]), 0.3) == -1
    assert match_box(np.zeros((0, 4)), np.array([0.0, 0.0, 1.0, 1.0]), 0.3) == -1
    assert iou(dets[:1], dets[0])[0] == pytest.approx(1.0)


def test_yunet_shrinks_large_images_and_maps_boxes_back(samples):
    big = cv2.resize(cv2.imread(str(samples[0].image)), (1000, 800), interpolation=cv2.INTER_CUBIC)
    # What the detector sees once it shrinks the image to a longer side of 250.
    shrunk = cv2.resize(big, (250, 200), interpolation=cv2.INTER_AREA)
    raw_small = YuNet(max_side=None).detect_raw(shrunk)
    raw_big = YuNet(max_side=250).detect_raw(big)
    assert len(raw_big) == len(raw_small) >= 1
    np.testing.assert_allclose(raw_big[:, :2], (raw_small[:, :2] + 0.5) * 4 - 0.5, atol=1e-3)
    np.testing.assert_allclose(raw_big[:, 2:4], raw_small[:, 2:4] * 4, atol=1e-3)
    np.testing.assert_allclose(raw_big[:, 4:14], (raw_small[:, 4:14] + 0.5) * 4 - 0.5, atol=1e-3)
    np.testing.assert_allclose(raw_big[:, 14], raw_small[:, 14])


def test_face_to_dict_is_json_ready():
    f = Face(np.array([1.234, 2.0, 3.0, 4.0]), None, np.array([[1.0, 2.0]] * 5))
    d = json.loads(json.dumps(f.to_dict()))
    assert d == {
        "track": None,
        "box": [1.23, 2.0, 3.0, 4.0],
        "score": None,
        "quality": None,
        "roll": None,
        "yaw": None,
        "pitch": None,
        "landmarks": [[1.0, 2.0]] * 5,
    }
    g = Face(np.zeros(4), 0.91234, np.zeros((5, 2)), quality=0.876543, roll=-12.345, yaw=20.06, pitch=float("nan"))
    d = g.to_dict()
    assert (d["score"], d["quality"], d["roll"], d["yaw"], d["pitch"]) == (0.9123, 0.8765, -12.3, 20.1, None)


# ---------------------------------------------------------------------------- isnet predict


@pytest.fixture
def photo_dir(tmp_path, samples) -> Path:
    """A folder with three demo faces (one in a subfolder) and a flat grey image."""
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    for i, s in enumerate(samples[:3]):
        (d / ("sub" if i == 2 else "") / s.image.name).write_bytes(s.image.read_bytes())
    cv2.imwrite(str(d / "flat.png"), np.full((120, 160), 128, np.uint8))
    return d


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = cli.main(["predict", *argv, "--quiet"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_json_lines_match_the_api(capsys, weights, detector, photo_dir, tmp_path):
    rc, out, err = run_cli(capsys, str(photo_dir), "--weights", str(weights), "--draw", str(tmp_path / "drawn"))
    assert rc == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    files = {Path(r["file"]).name for r in records}
    assert "flat.png" not in files and len(files) == 3  # a picture without a face gives no record
    for r in records:
        assert set(r) == {"file", "frame", "track", "box", "score", "quality", "roll", "yaw", "pitch", "landmarks"}
        assert r["frame"] is None and r["track"] is None
        api = detector.detect(r["file"])
        j = int(np.argmin([np.abs(np.array(r["box"]) - f.box).max() for f in api]))
        np.testing.assert_allclose(r["landmarks"], api[j].landmarks, atol=0.01)
        np.testing.assert_allclose(r["box"], api[j].box, atol=0.01)
        assert (r["yaw"], r["pitch"]) == (round(api[j].yaw, 1), round(api[j].pitch, 1))
    drawn = sorted(p.relative_to(tmp_path / "drawn").as_posix() for p in (tmp_path / "drawn").rglob("*.*"))
    assert len(drawn) == 4 and "photos/sub/" + Path(records[-1]["file"]).name in drawn


def test_cli_csv(capsys, weights, samples):
    rc, out, _ = run_cli(capsys, str(samples[0].image), "--weights", str(weights), "--format", "csv")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) >= 1 and rows[0]["frame"] == ""
    assert list(rows[0])[:8] == ["file", "frame", "track", "x", "y", "w", "h", "score"] and rows[0]["track"] == ""
    pts = np.array([[float(rows[0][f"{n}_x"]), float(rows[0][f"{n}_y"])] for n in CUHK5.points])
    assert box_error(pts, samples[0]) < TOLERANCE


def test_cli_reports_bad_files_and_goes_on(capsys, weights, photo_dir):
    (photo_dir / "corrupt.jpg").write_bytes(b"GIF89a truncated")
    rc, out, err = run_cli(capsys, str(photo_dir), str(photo_dir / "nowhere.png"), "--weights", str(weights))
    assert rc != 0
    assert "corrupt.jpg: cannot be decoded" in err and "nowhere.png: no such file" in err
    assert len({json.loads(line)["file"] for line in out.splitlines()}) == 3


def test_cli_video_records_frames(capsys, weights, samples, tmp_path):
    path = tmp_path / "clip.avi"
    frames = [cv2.resize(cv2.imread(str(s.image)), (250, 250)) for s in samples[:3]]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (250, 250))
    for f in frames:
        writer.write(f)
    writer.release()
    rc, out, err = run_cli(capsys, str(path), "--weights", str(weights), "--draw", str(tmp_path / "drawn"))
    assert rc == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["frame"] for r in records} == {0, 1, 2} and all(r["score"] >= 0.6 for r in records)
    assert (tmp_path / "drawn" / "clip.mp4").stat().st_size > 0
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 100)
    rc, _, err = run_cli(capsys, str(broken), "--weights", str(weights))
    assert rc != 0 and "broken.mp4" in err


def _drawn_pixels(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    return np.any(draw_faces(image, faces) != image, axis=2)


def test_drawing_scales_with_the_face_not_the_image():
    canvas = np.zeros((1000, 1000, 3), np.uint8)
    points = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])

    def dots(side: float) -> int:
        face = Face(np.array([100.0, 100.0, side, side]), None, 100 + points * side)
        lm = np.round(face.landmarks).astype(int)
        return int(_drawn_pixels(canvas, [face])[lm[0, 1] - 20 : lm[0, 1] + 21, lm[0, 0] - 20 : lm[0, 0] + 21].sum())

    small, large = dots(60), dots(600)
    assert 1 <= small < large  # one image, two face sizes: the large face gets the larger dots
    little = np.zeros((100, 100, 3), np.uint8)
    face = Face(np.array([20.0, 20.0, 60.0, 60.0]), None, 20 + points * 60)
    in_little = _drawn_pixels(little, [face])[25:75, 25:75].sum()
    assert (
        in_little
        == _drawn_pixels(canvas, [Face(face.box + [400, 400, 0, 0], None, face.landmarks + 400)])[
            425:475, 425:475
        ].sum()
    )  # the same face in a 10x larger photo is drawn the same


def test_score_label_stays_inside_the_image():
    canvas = np.zeros((300, 400, 3), np.uint8)

    def label_pixels(box) -> int:
        with_score = _drawn_pixels(canvas, [Face(np.array(box, float), 0.93, np.zeros((0, 2)))])
        without = _drawn_pixels(canvas, [Face(np.array(box, float), None, np.zeros((0, 2)))])
        return int((with_score & ~without).sum())

    middle = label_pixels([150, 100, 100, 100])
    assert middle > 0
    for corner in ([0, 0, 100, 100], [300, 0, 100, 100], [380, 290, 100, 100], [-50, -50, 100, 100]):
        assert label_pixels(corner) >= 0.8 * middle, corner


def test_shipped_models_by_name(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="unknown model 'dlib'; the shipped ones are cuhk5, ibug68"):
        weights_path(None, "dlib")
    import isnet.assets

    monkeypatch.setitem(isnet.assets.SHIPPED_MODELS, "ibug68", tmp_path / "isnet_ibug68.pt")
    with pytest.raises(FileNotFoundError, match="model 'ibug68' .* is not installed"):
        LandmarkDetector(model="ibug68")
    assert weights_path(tmp_path / "mine.pt", "ibug68") == tmp_path / "mine.pt"  # a file given wins


def test_68_points_are_drawn_as_contours():
    canvas = np.zeros((200, 200, 3), np.uint8)
    points = np.stack([40 + 120 * (np.arange(68) % 2), 30 + 2 * np.arange(68)], axis=1).astype(float)  # a zigzag
    face = Face(np.array([30.0, 30.0, 140.0, 140.0]), None, points)
    contours = np.any(draw_faces(canvas, [face], SCHEMES["ibug68"]) != canvas, axis=2)
    # Contours join the points: they cover pixels between them that the dots of the 5-point drawing do not.
    assert (contours & ~_drawn_pixels(canvas, [face])).sum() > 100


def test_detector_training_boxes_are_the_mapped_boxes_in_crop_pixels(tmp_path):
    samples = read_sun_list(_demo_list("val"))[:6]
    crops = face_crops(samples, 39, progress=False)
    yunet = YuNet()
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((120, 120), 128, np.uint8))
    files = [*crops.files, str(blank)]
    boxes = np.concatenate([crops.boxes, crops.boxes[:1]])
    to_source = np.concatenate([crops.to_source, crops.to_source[:1]])
    got = detector_training_boxes(yunet, files, boxes, to_source)
    assert got.shape == (7, 4) and np.isnan(got[6]).all()  # no face in a blank image
    for i, s in enumerate(samples):
        bgr, _ = to_bgr_grey(s.image)
        found, _ = yunet(bgr)
        j = match_box(xywh_to_ltrb(found), s.box, 0.3)
        expected = yunet.training_boxes(found[j : j + 1])[0].reshape(2, 2)
        expected = expected @ crops.to_source[i][:, :2].T + crops.to_source[i][:, 2]
        np.testing.assert_allclose(got[i], expected.reshape(4), atol=1e-3)
