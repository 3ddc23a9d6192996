"""TPTBox's labelled spine scans as slab cases (fetched with pip, cached)."""

from __future__ import annotations

import itertools

import nibabel as nib
import numpy as np
import pytest

from fdif_core.errors import UserError
from fdif_core.real import load_dataset
from fdif_core.real.samples import cache_root
from fdif_core.real.spine import CLASSES, case_ids, merge_labels, slab_bounds, spine_dataset


def test_merge_labels_maps_subregions_to_two_classes():
    sub = np.array([0, 41, 45, 48, 49, 50, 62, 60, 61, 100], np.uint8)
    assert merge_labels(sub).tolist() == [0, 2, 2, 2, 1, 1, 1, 0, 0, 0]
    assert list(CLASSES) == ["vertebral_body", "posterior_elements"]


@pytest.mark.parametrize(("length", "slabs"), [(47, 3), (67, 3), (10, 4), (5, 1)])
def test_slabs_are_disjoint_and_cover(length, slabs):
    b = slab_bounds(length, slabs)
    assert b[0][0] == 0 and b[-1][1] == length and len(b) == slabs
    assert all(a1 == b0 for (_, a1), (b0, _) in itertools.pairwise(b))
    assert max(e - s for s, e in b) - min(e - s for s, e in b) <= 1


def test_spine_dataset_cases(tmp_path):
    try:
        root = spine_dataset(cache_root() / "datasets" / "tptbox-spine")
    except UserError as err:
        pytest.skip(f"tptbox wheel unavailable (offline?): {err}")
    ds = load_dataset(root)
    assert sorted(ds.cases) == sorted(case_ids()) and ds.labels == ["background", *CLASSES]
    depth = {"ct": 0, "mr": 0}
    for cid, case in ds.cases.items():
        img, lab = nib.load(case.images[0]), nib.load(case.label)
        assert img.shape == lab.shape and nib.aff2axcodes(lab.affine) == ("R", "A", "S")
        counts = np.bincount(np.asarray(lab.dataobj).ravel(), minlength=3)
        assert counts[1] > 1000 and counts[2] > 1000  # both structures in every slab
        depth[cid[:2]] += lab.shape[2]
    assert depth == {"ct": 47, "mr": 52}  # the slabs tile each whole scan (S axis)
    assert spine_dataset(cache_root() / "datasets" / "tptbox-spine") == root  # reused
