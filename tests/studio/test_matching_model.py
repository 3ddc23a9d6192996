"""The studio's match (Qt-free): the same fit as ``fdif-core match``, in the edited preset's
frame; "apply" adds valid instances to the draft; views follow the scan's affine."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from fdif_core.matching import fit_region, region_from_array
from fdif_studio.model import Session
from fdif_studio.model import matching as MM


def _speckle(shape=(28, 28, 20), spacing=(0.8, 0.8, 1.5)) -> np.ndarray:
    n = np.random.default_rng(0).standard_normal(shape)
    band = ndimage.gaussian_filter(n, [1.0 / s for s in spacing]) - ndimage.gaussian_filter(
        n, [2.5 / s for s in spacing]
    )
    return (band - band.mean()) / band.std() * 12.0 + 43.0


def test_studio_match_is_the_core_fit_and_apply_makes_a_valid_preset() -> None:
    s = Session()
    data = np.full((36, 34, 24), -1000.0)
    data[4:32, 3:31, 2:22] = _speckle()
    mask = np.zeros(data.shape, bool)
    mask[4:32, 3:31, 2:22] = True
    r = MM.match_region(s, data, mask, (0.8, 0.8, 1.5), name="my scan")
    assert s.match is r and r.region.shape == (28, 28, 20)
    frame = MM.frame_of(s)
    assert min(s.draft.shape) == frame.G
    core = fit_region(region_from_array(data, mask, (0.8, 0.8, 1.5), name="my_scan"), frame)
    assert core.fragment() == r.fragment()  # one function for the CLI and the studio
    assert r.after.spectrum <= 0.5 * r.before.spectrum
    disp, mapper = MM.apply(s, r)
    assert (disp, mapper) == ("match_my_scan_texture", "match_my_scan_intensity")
    preset = s.draft.to_preset()
    recipe = preset.recipe()
    assert disp in [d.name for d in recipe.displacements]
    assert mapper in [m.name for m in recipe.mappers]
    assert s.design.displacement == "gradient_noise" and s.design.mapper == r.mapper_family
    MM.apply(s, r)  # again: replaced, not listed twice
    assert [d.name for d in s.draft.to_preset().recipe().displacements].count(disp) == 1
    h = MM.histograms(r)
    for key in ("region", "before", "after"):
        assert h[key].sum() == pytest.approx(1.0)


def test_views_follow_the_affine() -> None:
    """A scan stored (k, i, j)-rotated: axial is the array axis along world z."""
    aff = np.array([[0, 0, 0.8, 0], [0, 0.8, 0, 0], [1.5, 0, 0, 0], [0, 0, 0, 1.0]])
    assert MM.view_axis(aff, "axial") == 0
    assert MM.view_axis(aff, "coronal") == 1
    assert MM.view_axis(aff, "sagittal") == 2
    theta = math.radians(20)
    rot = np.diag([1.0, 1.0, 2.0, 1.0])
    rot[:2, :2] = [[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]]
    assert MM.view_axis(rot, "axial") == 2
    with pytest.raises(ValueError, match="allowed: axial"):
        MM.view_axis(aff, "oblique")
