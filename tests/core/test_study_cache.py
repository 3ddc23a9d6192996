"""Preprocessing once: the disk cache is keyed by the case's files, not the dataset view."""

from __future__ import annotations

import shutil

from fdif_core.real import load_dataset
from fdif_core.real.patches import cached_cases
from fdif_core.real.preprocess import make_plan, preprocess_transforms
from fdif_core.real.toy import write_toy_dataset


def test_symlinked_views_share_the_cache(tmp_path):
    """A study's regime folders link to the base dataset: their cases hit one cache entry."""
    base = write_toy_dataset(tmp_path / "base", num_cases=2)
    view = tmp_path / "view"
    view.mkdir()
    for sub in ("imagesTr", "labelsTr"):
        (view / sub).symlink_to(base / sub, target_is_directory=True)
    shutil.copyfile(base / "dataset.json", view / "dataset.json")
    ds_a, ds_b = load_dataset(base), load_dataset(view)
    plan = make_plan(ds_a, sorted(ds_a.cases), normalization="none")
    t = preprocess_transforms(plan)
    cache = tmp_path / "cache" / plan.digest()
    a = cached_cases(ds_a.datalist(), t, mode="disk", cache_dir=cache)
    entries = sorted(cache.iterdir())
    assert len(entries) == 2
    b = cached_cases(ds_b.datalist(), t, mode="disk", cache_dir=cache)
    assert sorted(cache.iterdir()) == entries  # nothing preprocessed again
    assert a.spatial_shapes == b.spatial_shapes
    # a changed file is a new key
    (base / "imagesTr" / "toy_000_0000.nii.gz").touch()
    cached_cases(ds_b.datalist(), t, mode="disk", cache_dir=cache)
    assert len(list(cache.iterdir())) == 3
