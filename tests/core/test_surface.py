"""Full-size metrics (evaluation.surface) agree with MONAI's DiceMetric and SurfaceDiceMetric."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from fdif_core.evaluation import surface
from fdif_core.evaluation.surface import boundary, label_metrics


def monai_metrics(pred, ref, n, spacing, tols):
    from monai.metrics import DiceMetric, SurfaceDiceMetric
    from monai.networks.utils import one_hot

    p = one_hot(torch.as_tensor(pred, dtype=torch.int64)[None, None], n)
    r = one_hot(torch.as_tensor(ref, dtype=torch.int64)[None, None], n)
    dice = DiceMetric(include_background=False, reduction="none", ignore_empty=True)(p, r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nsd = [
            SurfaceDiceMetric([t] * (n - 1), include_background=False, reduction="none")(
                p, r, spacing=list(spacing)
            )[0].numpy()
            for t in tols
        ]
    return dice[0].numpy(), np.stack(nsd)


def ellipsoids(rng, shape, n, p=0.8):
    lab = np.zeros(shape, np.int64)
    grid = np.stack(np.indices(shape), -1)
    for c in range(1, n):
        if rng.random() < p:
            centre, radii = rng.uniform(0, shape), rng.uniform(1, 6, 3)
            lab[(((grid - centre) / radii) ** 2).sum(-1) < 1] = c
    return lab


def test_boundary_is_monai_edges():
    from monai.metrics.utils import get_mask_edges

    rng = np.random.default_rng(3)
    lab = ellipsoids(rng, (12, 9, 7), 4, p=1.0)
    lab[rng.random(lab.shape) < 0.1] = 2
    edge = boundary(lab)
    for c in range(1, 4):
        ours = edge & (lab == c)
        theirs = get_mask_edges(lab == c, lab == c, crop=False)[0]
        assert np.array_equal(ours, np.asarray(theirs))


def test_known_values_one_voxel_shift():
    """A 4x4x4 cube shifted by one voxel along x: Dice 3/4; every boundary voxel is within
    1 mm of the other boundary; within 0.5 mm only where the two boundaries coincide."""
    ref = np.zeros((10, 10, 10), np.int64)
    ref[3:7, 3:7, 3:7] = 1
    pred = np.roll(ref, 1, axis=0)
    m = label_metrics(pred, ref, 2, (1.0, 1.0, 1.0), (1.0, 0.5))
    assert m["dice"][0] == pytest.approx(0.75)
    assert m["nsd"][0, 0] == 1.0
    # 56 boundary voxels each (64 - 2x2x2 inside); on the 3 shared x layers both have a
    # boundary voxel at 12 + 12 + 12 = 36 places (ring/face, ring/ring, face/ring)
    assert m["nsd"][1, 0] == pytest.approx(2 * 36 / (2 * 56))


def test_empty_cases_follow_monai(search):
    ref = np.zeros((8, 8, 8), np.int64)
    ref[2:5, 2:5, 2:5] = 1
    empty = np.zeros_like(ref)
    sp, tols = (0.7, 0.7, 2.5), (1.0, 2.0)
    for pred, r in ((empty, ref), (ref, empty), (empty, empty)):
        d, s = monai_metrics(pred, r, 3, sp, tols)
        m = label_metrics(pred, r, 3, sp, tols)
        np.testing.assert_allclose(m["dice"], d, atol=1e-6, equal_nan=True)
        np.testing.assert_allclose(m["nsd"], s, atol=1e-6, equal_nan=True)
    m = label_metrics(empty, ref, 3, sp, tols)
    assert m["dice"][0] == 0 and (m["nsd"][:, 0] == 0).all() and np.isnan(m["nsd"][:, 1]).all()
    m = label_metrics(ref, empty, 3, sp, tols)
    assert np.isnan(m["dice"][0]) and (m["nsd"][:, 0] == 0).all()


@pytest.fixture(params=["offsets", "offsets in chunks", "edt"])
def search(request, monkeypatch):
    """Both ways of finding boundary distances: offsets in the tolerance ball (boundary
    voxels at once or a few at a time), per-box EDT."""
    if request.param == "edt":
        monkeypatch.setattr(surface, "OFFSET_LIMIT", 0)
    if request.param == "offsets in chunks":
        monkeypatch.setattr(surface, "CHUNK", 5)
    return request.param


@pytest.mark.parametrize("seed", range(12))
def test_random_cases_match_monai(seed, search):
    """Random organs, speckle noise, anisotropic spacing, several tolerances (1e-6)."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in rng.integers(3, 20, 3))
    n = int(rng.integers(2, 6))
    ref, pred = ellipsoids(rng, shape, n), ellipsoids(rng, shape, n)
    noise = rng.random(shape) < 0.05
    pred[noise] = rng.integers(0, n, int(noise.sum()))
    spacing = tuple(float(s) for s in rng.choice([0.5, 0.7, 1.0, 1.5, 2.5], 3))
    tols = (1.0, 2.0, 0.7)
    d, s = monai_metrics(pred, ref, n, spacing, tols)
    m = label_metrics(pred, ref, n, spacing, tols)
    np.testing.assert_allclose(m["dice"], d, atol=1e-6, equal_nan=True)
    np.testing.assert_allclose(m["nsd"], s, atol=1e-6, equal_nan=True)


def test_distant_noise_counts_as_miss_not_skipped(search):
    """Prediction speckles far outside the reference's box still count in the denominator."""
    ref = np.zeros((30, 30, 10), np.int64)
    ref[2:6, 2:6, 2:6] = 1
    pred = ref.copy()
    pred[25, 25, 5] = 1  # one isolated voxel: 1 boundary voxel, far away
    _, s = monai_metrics(pred, ref, 2, (1, 1, 1), (1.0,))
    m = label_metrics(pred, ref, 2, (1, 1, 1), (1.0,))
    assert m["nsd"][0, 0] == pytest.approx(float(s[0, 0])) and m["nsd"][0, 0] < 1


def test_bad_input_is_refused():
    a = np.zeros((4, 4, 4), np.int64)
    with pytest.raises(ValueError, match="shape"):
        label_metrics(a, a[:3], 2, (1, 1, 1))
    with pytest.raises(ValueError, match=r"0\.\.1"):
        label_metrics(a + 2, a, 2, (1, 1, 1))


def test_large_tolerance_matches_monai():
    """A tolerance far larger than the voxels (a ball of thousands of offsets) is answered by
    distance transforms, with MONAI's values."""
    rng = np.random.default_rng(7)
    ref, pred = ellipsoids(rng, (18, 16, 12), 3, p=1.0), ellipsoids(rng, (18, 16, 12), 3, p=1.0)
    spacing, tols = (0.5, 0.6, 0.8), (6.0, 1.0)
    assert surface._ball(spacing, 6.0) is None
    _, s = monai_metrics(pred, ref, 3, spacing, tols)
    m = label_metrics(pred, ref, 3, spacing, tols)
    np.testing.assert_allclose(m["nsd"], s, atol=1e-6, equal_nan=True)
