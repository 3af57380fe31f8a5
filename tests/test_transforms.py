import cv2
import numpy as np
import pytest
import torch

from isnet.schemes import CUHK5
from isnet.transforms import (
    JPEG_QUALITY,
    Augment,
    WildParams,
    apply_affine,
    compose,
    crop_face,
    flip_landmarks,
    invert_affine,
    photometric,
    photometric_params,
    plain_views,
    view_matrices,
    warp_batch,
    wild,
    wild_params,
)


def dot_image(h: int, w: int, points: np.ndarray) -> np.ndarray:
    """Black image with a Gaussian blob at each point (sub-pixel), for locating points after a warp."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w))
    for x, y in points:
        img += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 2.0**2))
    return img


def blob_centre(img: np.ndarray, near: np.ndarray, radius: int = 5) -> np.ndarray:
    x0, y0 = np.round(near).astype(int)
    win = img[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    yy, xx = np.mgrid[y0 - radius : y0 + radius + 1, x0 - radius : x0 + radius + 1]
    return np.array([(win * xx).sum() / win.sum(), (win * yy).sum() / win.sum()])


def test_crop_then_uncrop_round_trip():
    rng = np.random.default_rng(0)
    pts = rng.uniform(60, 140, (5, 2))
    _, m = crop_face(np.zeros((200, 240), np.uint8), np.array([50.3, 40.7, 151.2, 160.9]), 64, 0.2)
    back = apply_affine(invert_affine(m), apply_affine(m, pts))
    np.testing.assert_allclose(back, pts, atol=1e-9)


def test_crop_matrix_matches_pixels():
    """Where the matrix sends a blob is where the crop shows it (upscaling and area-downscaling)."""
    pts = np.array([[80.0, 90.0], [130.5, 101.25]])
    image = (dot_image(200, 220, pts) * 255).astype(np.uint8)
    for size in (128, 48):
        crop, m = crop_face(image, np.array([60, 60, 160, 160]), size, 0.1)
        for p in apply_affine(m, pts):
            radius = 4 if size > 64 else 2
            np.testing.assert_allclose(blob_centre(crop.astype(float), p, radius), p, atol=0.15 * 110 / size + 0.05)


def test_crop_of_a_box_many_times_the_image():
    """The bounded-memory path for wild boxes keeps the same geometry."""
    pts = np.array([[20.0, 25.0], [41.5, 33.25]])
    image = (dot_image(60, 60, pts) * 255).astype(np.uint8)
    crop, m = crop_face(image, np.array([-120.0, -110.0, 180.0, 190.0]), 128, 0.0)
    assert crop.shape == (128, 128)
    for p in apply_affine(m, pts):
        np.testing.assert_allclose(blob_centre(crop.astype(float), p, 3), p, atol=0.25)


def test_crop_outside_the_image_pads():
    image = np.full((50, 50), 200, np.uint8)
    crop, _ = crop_face(image, np.array([-10, -10, 60, 60]), 20, 0.5)
    assert crop.shape == (20, 20) and crop.min() == 200


def test_crop_rejects_empty_box():
    with pytest.raises(ValueError, match="empty or non-finite box"):
        crop_face(np.zeros((10, 10), np.uint8), np.array([5, 5, 5, 5]), 8, 0.0)


def test_warp_follows_landmarks_under_augmentation():
    """Random rotation, scale, shift and mirror move image content exactly as they move points."""
    size, r = 48, 96
    pts = np.array([[35.0, 38.0], [60.0, 36.0], [48.0, 52.0], [38.0, 66.0], [58.0, 67.0]])
    src = torch.tensor(dot_image(r, r, pts), dtype=torch.float64)[None, None].repeat(8, 1, 1, 1)
    boxes = np.tile([[23.0, 23.0, 73.0, 73.0]], (8, 1))
    mats, flipped = view_matrices(
        boxes, r, size, 0.2, Augment(rotate=15, translate=0.05, flip=0.5), np.random.default_rng(3)
    )
    assert flipped.any() and not flipped.all()
    views = warp_batch(src, mats, size).numpy()[:, 0]
    moved = np.einsum("bij,kj->bki", mats[:, :, :2], pts) + mats[:, None, :, 2]
    for view, ps in zip(views, moved):
        for p in ps:
            np.testing.assert_allclose(blob_centre(view, p, 3), p, atol=0.1)


def test_plain_view_equals_cv2_warp():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 1, (60, 60))
    mats, _ = view_matrices(np.array([[10.0, 12.0, 50.0, 48.0]]), 60, 32, 0.1)
    ours = warp_batch(torch.tensor(src)[None, None], mats, 32).numpy()[0, 0]
    ref = cv2.warpAffine(src, mats[0], (32, 32), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    np.testing.assert_allclose(ours, ref, atol=1e-4)


def test_flip_then_flip_is_identity():
    rng = np.random.default_rng(2)
    lm = rng.uniform(0, 40, (6, 5, 2))
    flipped = np.array([True, False, True, True, False, False])
    perm = CUHK5.flip_permutation()
    np.testing.assert_array_equal(flip_landmarks(flip_landmarks(lm, flipped, perm), flipped, perm), lm)
    once = flip_landmarks(lm, flipped, perm)
    np.testing.assert_array_equal(once[0, 0], lm[0, 1])  # left and right eye swap names
    np.testing.assert_array_equal(once[1], lm[1])


def test_mirror_twice_is_identity_and_keeps_left_left():
    boxes = np.array([[10.0, 10.0, 50.0, 50.0]])
    mats, flipped = view_matrices(boxes, 60, 40, 0.1, Augment(0, 0, 0, 0, 1.0, 0, 0), np.random.default_rng(0))
    plain, _ = view_matrices(boxes, 60, 40, 0.1)
    assert flipped.all()
    mirror = compose(mats, invert_affine(plain))  # the mirror alone, in view pixels
    np.testing.assert_allclose(compose(mirror, mirror)[0], [[1, 0, 0], [0, 1, 0]], atol=1e-12)
    lm = np.array([[[20.0, 25.0], [40.0, 25.0], [30.0, 32.0], [22.0, 40.0], [38.0, 40.0]]])
    moved = np.einsum("bij,bkj->bki", mats[:, :, :2], lm) + mats[:, None, :, 2]
    fixed = flip_landmarks(moved, flipped, CUHK5.flip_permutation())
    assert fixed[0, 0, 0] < fixed[0, 1, 0] and fixed[0, 3, 0] < fixed[0, 4, 0]


def test_augmentation_is_seeded():
    boxes = np.tile([[10.0, 10.0, 50.0, 50.0]], (4, 1))
    a = view_matrices(boxes, 60, 40, 0.1, Augment(), np.random.default_rng(7))[0]
    b = view_matrices(boxes, 60, 40, 0.1, Augment(), np.random.default_rng(7))[0]
    c = view_matrices(boxes, 60, 40, 0.1, Augment(), np.random.default_rng(8))[0]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_photometric_stays_in_range_and_changes_contrast():
    views = torch.rand(16, 1, 8, 8)
    out = photometric(views, *photometric_params(16, Augment(contrast=0.5, brightness=0.2), np.random.default_rng(0)))
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out.std(dim=(1, 2, 3)), views.std(dim=(1, 2, 3)))


def test_plain_views_sample_as_warp_batch_does():
    rng = np.random.default_rng(0)
    sources = rng.integers(0, 256, (6, 86, 86), dtype=np.uint8)
    # Boxes inside, at and across the crop's edges (the border padding is sampled there).
    boxes = np.array(
        [
            [20, 20, 66, 66],
            [0, 0, 40, 50],
            [50, 40, 86, 86],
            [-10, 30, 30, 70],
            [10.3, 5.7, 70.1, 80.9],
            [30, 30, 31, 31],
        ]
    )
    mats, _ = view_matrices(boxes, 86, 39, 0.05)
    torch_views = warp_batch(torch.from_numpy(sources).unsqueeze(1).float().div(255.0), mats, 39).numpy()
    np.testing.assert_allclose(plain_views(sources, mats, 39), torch_views, rtol=0, atol=1e-5)
    rotated, _ = view_matrices(boxes, 86, 39, 0.05, Augment(rotate=15.0), np.random.default_rng(1))
    with pytest.raises(ValueError, match="axis-aligned"):
        plain_views(sources, rotated, 39)


def _wild(n: int, **kw) -> WildParams:
    base = dict(
        occluded=np.zeros(n, bool), rect=np.zeros((n, 4)), fill=np.zeros(n), sigma=np.zeros(n), noise=np.zeros(n)
    )
    base.update(kw)
    return WildParams(**base, seed=0)


def test_wild_with_nothing_drawn_changes_nothing():
    views = torch.rand(3, 1, 9, 9)
    assert torch.equal(wild(views, _wild(3)), views)


def test_occlusion_covers_exactly_its_rectangle():
    views = torch.full((2, 1, 10, 10), 0.5)
    # x from 0.2 to 0.5 of the view: pixel centres 0.25, 0.35, 0.45 -> columns 2, 3, 4; rows 0..9.
    rect = np.array([[0.2, 0.0, 0.5, 1.0], [0.2, 0.0, 0.5, 1.0]])
    out = wild(views, _wild(2, occluded=np.array([True, False]), rect=rect, fill=np.array([0.9, 0.9])))
    expect = np.full((10, 10), 0.5, np.float32)
    expect[:, 2:5] = 0.9
    np.testing.assert_allclose(out[0, 0].numpy(), expect)
    np.testing.assert_allclose(out[1, 0].numpy(), 0.5)


def test_blur_keeps_a_flat_view_and_spreads_a_dot_like_a_gaussian():
    flat = torch.full((1, 1, 11, 11), 0.3)
    np.testing.assert_allclose(wild(flat, _wild(1, sigma=np.array([1.5]))).numpy(), 0.3, atol=1e-6)
    dot = torch.zeros(2, 1, 11, 11)
    dot[:, 0, 5, 5] = 1.0
    out = wild(dot, _wild(2, sigma=np.array([1.0, 0.0])))
    g = np.exp(-0.5 * np.arange(-3, 4) ** 2)
    g /= g.sum()
    np.testing.assert_allclose(out[0, 0, 2:9, 2:9].numpy(), np.outer(g, g), atol=1e-6)
    assert torch.equal(out[1], dot[1])  # sigma 0: untouched


def test_noise_has_the_drawn_spread_and_is_seeded():
    views = torch.full((2, 1, 64, 64), 0.5)
    params = _wild(2, noise=np.array([0.05, 0.0]))
    out = wild(views, params)
    assert abs(float(out[0].std()) - 0.05) < 0.005
    assert torch.equal(out[1], views[1])
    assert torch.equal(wild(views, params), out)


def test_wild_draws_respect_their_ranges():
    p = wild_params(500, Augment(occlude=0.5, blur=2.0, noise=0.1), np.random.default_rng(0))
    assert 0.4 < p.occluded.mean() < 0.6
    side = p.rect[:, 2:] - p.rect[:, :2]
    assert np.all((side >= 0.15) & (side <= 0.5)) and np.all(p.rect >= 0) and np.all(p.rect <= 1)
    assert np.all((p.sigma >= 0) & (p.sigma <= 2.0)) and np.all((p.noise >= 0) & (p.noise <= 0.1))
    assert not Augment().is_wild() and Augment(blur=1.0).is_wild() and Augment(jpeg=0.5).is_wild()
    assert p.quality is None  # JPEG off: nothing drawn for it


def test_jpeg_draws_keep_the_other_draws_and_their_range():
    rng_off, rng_on = np.random.default_rng(3), np.random.default_rng(3)
    off = wild_params(400, Augment(blur=1.0), rng_off)
    on = wild_params(400, Augment(blur=1.0, jpeg=0.5), rng_on)
    np.testing.assert_array_equal(off.sigma, on.sigma)
    assert off.seed == on.seed
    compressed = on.quality[on.quality > 0]
    assert 0.4 < len(compressed) / 400 < 0.6
    assert compressed.min() >= JPEG_QUALITY[0] and compressed.max() <= JPEG_QUALITY[1]


def test_jpeg_round_trip_loses_more_at_low_quality_and_skips_quality_zero():
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.uniform(0.2, 0.8, (5, 5)), np.ones((8, 8)))[:39, :39]
    views = torch.from_numpy((smooth + rng.normal(0, 0.05, smooth.shape)).clip(0, 1)).float()[None, None]
    views = views.repeat(3, 1, 1, 1)
    out = wild(views, _wild(3, quality=np.array([95, 20, 0])))
    err = (out - views).abs().mean(dim=(1, 2, 3))
    assert 0 < err[0] < err[1] and torch.equal(out[2], views[2])
    assert out.min() >= 0 and out.max() <= 1 and out.dtype == views.dtype
