"""Preprocessing once: the disk cache is keyed by the case's files, not the dataset view."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np

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


def _listing(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_evaluation_reads_the_cache_fine_tuning_filled(tmp_path, toy, tiny_finetune, monkeypatch):
    """Two units (seeds) of one fold share the plan's cache: evaluating the second preprocesses
    nothing (no new or rewritten cache file, the preprocessing never called), and its metrics
    are those of an evaluation that preprocesses from NIfTI."""
    from fdif_core.evaluation import evaluate as ev
    from fdif_core.training.finetune import finetune

    cache = tmp_path / "cache"
    runs = []
    for seed in (0, 1):  # two units of one fold, as a study runs them
        preset = tiny_finetune(
            iterations=2, val_interval=0, preprocess={"cache": "disk"}
        ).model_copy(update={"seed": seed})
        finetune(toy, preset, tmp_path / f"run{seed}", fold=0, cache_dir=cache, progress=False)
        runs.append(tmp_path / f"run{seed}")
    before = _listing(cache)
    assert before
    fresh = ev.evaluate_checkpoint(runs[1] / "last.pt", toy, out=tmp_path / "fresh", log=print)

    def no_preprocessing(*_a, **_k):
        raise AssertionError("a cached case was preprocessed again")

    monkeypatch.setattr(ev, "preprocess_case", no_preprocessing)
    monkeypatch.setattr("fdif_core.real.patches.preprocess_case", no_preprocessing)
    doc = ev.evaluate_checkpoint(
        runs[1] / "last.pt", toy, out=tmp_path / "cached", cache_dir=cache, log=print
    )
    assert _listing(cache) == before
    assert doc["per_case"] == fresh["per_case"] and doc["per_case"]
    for case in doc["per_case"]:
        a = nib.load(tmp_path / "fresh" / "predictions" / f"{case}.nii.gz")
        b = nib.load(tmp_path / "cached" / "predictions" / f"{case}.nii.gz")
        np.testing.assert_array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))
        np.testing.assert_allclose(a.affine, b.affine)
