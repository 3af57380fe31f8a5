import numpy as np
import pytest

from isnet.losses import euclidean_loss
from isnet.metrics import (
    auc,
    auroc,
    box_errors,
    ced,
    failure_rate,
    format_table,
    interocular,
    interpupil,
    nme,
    summarise,
)
from isnet.schemes import CUHK5, SCHEMES

GT = np.array([[[10.0, 10.0], [30.0, 10.0], [20.0, 20.0], [12.0, 30.0], [28.0, 30.0]]])


def test_euclidean_loss_by_hand():
    pred = GT.copy()
    pred[0, 2] += [3.0, 4.0]
    # Box 39 x 39: pixels are already loss units; (9 + 16) / (2 * 1).
    assert euclidean_loss(pred, GT, np.array([[39.0, 39.0]])) == pytest.approx(12.5)
    # Box 78 x 39: x errors halve: (1.5^2 + 4^2) / 2.
    assert euclidean_loss(pred, GT, np.array([[78.0, 39.0]])) == pytest.approx((2.25 + 16) / 2)
    # Two faces: one perfect, the mean halves.
    two = np.concatenate([pred, GT])
    assert euclidean_loss(two, np.concatenate([GT, GT]), np.full((2, 2), 39.0)) == pytest.approx(6.25)


def test_nme_failure_rate_and_auc_by_hand():
    assert interocular(GT, CUHK5)[0] == pytest.approx(20.0)
    pred = GT.copy()
    pred[0, 0] += [6.0, 8.0]  # 10 px on one of five points: mean 2 px, / 20 = 0.1
    assert nme(pred, GT, interocular(GT, CUHK5))[0] == pytest.approx(0.1)
    errors = np.array([0.05, 0.2, 0.0, 0.1])
    assert failure_rate(errors, 0.10) == pytest.approx(0.25)  # 0.1 itself is not a failure
    assert auc(np.zeros(5)) == pytest.approx(1.0)
    assert auc(np.full(5, 0.2)) == pytest.approx(0.0)
    assert auc(np.full(5, 0.05)) == pytest.approx(0.5, abs=1e-3)
    t, frac = ced(np.array([0.0, 0.05]))
    assert frac[0] == 0.5 and frac[-1] == 1.0 and t[-1] == pytest.approx(0.1)


def test_box_errors_by_hand():
    pred = GT.copy()
    pred[0, 4] += [3.0, 4.0]
    err = box_errors(pred, GT, np.array([[50.0, 60.0]]))  # width normalises
    np.testing.assert_allclose(err, [[0, 0, 0, 0, 0.1]])


def test_summary_keys():
    m = summarise(GT + 1.0, GT, np.array([[40.0, 40.0]]), CUHK5)
    for key in (
        "n_faces",
        "euclidean_loss",
        "nme_iod",
        "fr_010",
        "auc_010",
        "box_error_per_point",
        "box_fail05_per_point",
    ):
        assert key in m
    assert len(m["box_error_per_point"]) == 5
    np.testing.assert_allclose(m["box_error_per_point"], np.sqrt(2) / 40)


def face68(shift: float = 0.0) -> np.ndarray:
    """A made-up 68-point face: points on a grid, outer eye corners (36, 45) 40 px apart."""
    pts = np.stack([np.arange(68) % 10 * 5.0, np.arange(68) // 10 * 5.0], axis=1)
    pts[36], pts[45] = [0.0, 100.0], [40.0, 100.0]
    return pts[None] + shift


def test_68_point_normalisations_by_hand():
    scheme = SCHEMES["ibug68"]
    gt = face68()
    assert interocular(gt, scheme)[0] == pytest.approx(40.0)  # the outer eye corners
    left, right = gt[0, 36:42].mean(0), gt[0, 42:48].mean(0)
    assert interpupil(gt, scheme)[0] == pytest.approx(np.linalg.norm(left - right))
    assert interocular(GT, CUHK5)[0] == interpupil(GT, CUHK5)[0] == pytest.approx(20.0)  # CUHK: eye centres


def test_68_point_summary_by_hand():
    scheme = SCHEMES["ibug68"]
    gt = face68()
    pred = gt + [3.6, 0.0]  # every point 3.6 px off: NME 3.6 / 40 = 0.09
    m = summarise(pred, gt, np.array([[100.0, 100.0]]), scheme)
    assert m["nme_iod"] == pytest.approx(0.09)
    assert m["fr_008"] == 1.0 and m["fr_010"] == 0.0  # 0.09 fails at 0.08, not at 0.10
    assert m["nme_ipd"] == pytest.approx(3.6 / interpupil(gt, scheme)[0])
    assert set(m["nme_iod_per_region"]) == {"jaw", "brows", "nose", "eyes", "mouth"}
    assert all(v == pytest.approx(0.09) for v in m["nme_iod_per_region"].values())
    assert "region" in format_table(m) and "jaw" in format_table(m)


def test_regions_cover_every_point_once_and_mirror_into_themselves():
    for scheme in SCHEMES.values():
        covered = sorted(i for _, idx in scheme.regions for i in idx)
        assert covered == list(range(scheme.n_points)), scheme.name
        perm = scheme.flip_permutation()
        for name, idx in scheme.regions:
            assert {perm[i] for i in idx} == set(idx), (scheme.name, name)
    a, b = SCHEMES["ibug68"].ocular
    assert SCHEMES["ibug68"].flip_permutation()[a] == b  # the two outer corners swap under a mirror


def test_auroc_by_hand():
    # Positives 0.9 and 0.4 against negatives 0.5, 0.1: pairs won 2 + 1 of 4.
    assert auroc([0.9, 0.4, 0.5, 0.1], [True, True, False, False]) == pytest.approx(0.75)
    assert auroc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert auroc([1, 2, 3, 4], [True, True, False, False]) == 0.0
    assert auroc([1, 1, 1], [True, False, False]) == 0.5  # ties count half
    with pytest.raises(ValueError, match="both"):
        auroc([1, 2], [True, True])
