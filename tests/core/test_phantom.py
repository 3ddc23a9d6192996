"""The full-size CT phantom writer, checked at small size (speed belongs to the benchmark)."""

from __future__ import annotations

import nibabel as nib
import numpy as np

from fdif_core.real import load_dataset
from fdif_core.real.phantom import (
    PHANTOM_LABELS,
    noisy_prediction,
    phantom_case,
    write_phantom_dataset,
)


def test_organ_sizes_follow_the_spacing():
    """Organs are sized in mm: half the resolution holds about 1/8 of the voxels."""
    _, fine = phantom_case((128, 128, 40), (2.8, 2.8, 10.0), seed=0)
    _, coarse = phantom_case((64, 64, 20), (5.6, 5.6, 20.0), seed=0)
    assert set(np.unique(fine)) == set(range(len(PHANTOM_LABELS)))  # 13 organs + background
    ratio = (fine > 0).sum() / (coarse > 0).sum()
    assert 6 < ratio < 10


def test_dataset_reads_back_as_nnunet_ct(tmp_path):
    root = write_phantom_dataset(tmp_path / "ds", [(48, 48, 12), (40, 48, 10)],
                                 [(6.0, 6.0, 20.0), (7.0, 7.0, 25.0)])  # fmt: skip
    ds = load_dataset(root)
    assert ds.channels == ["CT"] and list(ds.labels) == PHANTOM_LABELS
    assert sorted(ds.cases) == ["ct_000", "ct_001"]
    img = nib.load(ds.cases["ct_001"].images[0])
    lab = nib.load(ds.cases["ct_001"].label)
    assert img.shape == lab.shape == (40, 48, 10)
    assert img.get_data_dtype() == np.int16 and lab.get_data_dtype() == np.uint8
    np.testing.assert_allclose(np.abs(np.diag(img.affine))[:3], (7.0, 7.0, 25.0))
    hu = np.asarray(img.dataobj)
    assert hu.min() >= -1024 and (hu < -900).mean() > 0.1  # air around the body


def test_noisy_prediction_is_seeded_and_close():
    _, lab = phantom_case((96, 96, 24), (3.0, 3.0, 8.0), seed=1)
    a, b = noisy_prediction(lab, seed=3), noisy_prediction(lab, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, noisy_prediction(lab, seed=4))
    changed = (a != lab).mean()
    assert 0.005 < changed < 0.1
