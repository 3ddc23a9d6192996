"""Preprocessing plan and transforms, the case cache, the deterministic patch stream."""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pytest
import torch

from fdif_core.errors import UserError
from fdif_core.real import load_dataset
from fdif_core.real.patches import PatchStream, cached_cases
from fdif_core.real.preprocess import (
    augment_transforms,
    make_plan,
    median_spacing,
    preprocess_transforms,
    ras_spacing,
)
from fdif_core.real.toy import toy_affine, write_toy_dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return load_dataset(write_toy_dataset(tmp_path_factory.mktemp("toy") / "ds", num_cases=5))


@pytest.fixture(scope="module")
def toy_ct(tmp_path_factory):
    root = tmp_path_factory.mktemp("toyct") / "ds"
    return load_dataset(write_toy_dataset(root, num_cases=5, modality="CT"))


def test_spacing_in_ras_order(tmp_path):
    aff = np.array([[0, 0, 3.0, 0], [-1.5, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), aff), str(tmp_path / "a.nii.gz"))
    # voxel axis 0 (1.5 mm... no: column norms 1.5, 2.0, 3.0) maps to A, S, R
    assert ras_spacing(str(tmp_path / "a.nii.gz")) == (3.0, 1.5, 2.0)


def test_median_spacing_and_zscore_plan(toy):
    assert median_spacing(list(toy.cases.values())) == (1.5, 1.5, 3.0)
    plan = make_plan(toy, sorted(toy.cases))
    assert plan.normalization == "zscore" and plan.clip is None


def test_transforms_reorient_resample_and_normalise(toy):
    plan = make_plan(toy, sorted(toy.cases), spacing=(3.0, 3.0, 3.0), crop_foreground=False)
    d = preprocess_transforms(plan)(toy.cases["toy_000"].item())
    img, lab = d["image"], d["label"]
    assert nib.aff2axcodes(np.asarray(img.affine)) == ("R", "A", "S")
    assert img.shape[1:] == lab.shape[1:] == (12, 12, 16)  # 24x24x16 at 1.5/1.5/3 -> 3 mm
    assert abs(float(img.mean())) < 1e-3 and abs(float(img.std()) - 1) < 1e-2
    assert set(np.unique(np.asarray(lab)).tolist()) == {0, 1, 2}
    # RAS flips the LPS-like toy x and y axes: the label must move accordingly
    raw = np.asarray(nib.load(toy.cases["toy_000"].label).dataobj)
    ball = np.argwhere(raw == 1).mean(0)[:2] / 2
    ras_ball = np.argwhere(np.asarray(lab)[0] == 1).mean(0)[:2]
    np.testing.assert_allclose(ras_ball, 12 - 1 - ball, atol=1.0)


def test_ct_plan_uses_foreground_percentiles(toy_ct):
    plan = make_plan(toy_ct, sorted(toy_ct.cases))
    assert plan.normalization == "ct"
    lo, hi = plan.clip
    assert 150 < lo < 250 < 400 < hi < 500  # foreground = ball (400) and box (250), noise 20
    d = preprocess_transforms(plan)(toy_ct.cases["toy_001"].item())
    fg = np.asarray(d["image"])[np.asarray(d["label"]) > 0]
    assert abs(fg.mean()) < 0.5 and fg.max() <= (hi - plan.mean) / plan.std + 1e-4
    win = make_plan(toy_ct, sorted(toy_ct.cases), ct_window=(0.0, 500.0))
    assert win.normalization == "window"
    img = preprocess_transforms(win)(toy_ct.cases["toy_001"].item())["image"]
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0


def test_truncated_image_names_the_case_when_preprocessed(tmp_path):
    ds = load_dataset(write_toy_dataset(tmp_path / "ds", num_cases=3))
    f = ds.cases["toy_002"].images[0]
    raw = f.read_bytes()
    f.write_bytes(raw[: len(raw) // 2])  # header intact, voxel data cut off
    ds = load_dataset(tmp_path / "ds")  # headers still read fine
    plan = make_plan(ds, ["toy_000", "toy_001"])
    with pytest.raises(UserError, match=r"case toy_002: cannot read image .*toy_002_0000\.nii\.gz"):
        cached_cases(
            ds.datalist(), preprocess_transforms(plan), mode="disk", cache_dir=tmp_path / "cache"
        )


def test_disk_cache_means_no_reread(tmp_path):
    shutil.copytree(write_toy_dataset(tmp_path / "src", num_cases=3), tmp_path / "ds")
    ds = load_dataset(tmp_path / "ds")
    plan = make_plan(ds, sorted(ds.cases))
    tf = preprocess_transforms(plan)
    first = cached_cases(ds.datalist(), tf, mode="disk", cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 3
    ref = first[1]["image"].clone()
    # a file that changes is preprocessed again by a new run, the others come from the cache
    lab = ds.cases["toy_002"].label
    img = nib.load(lab)
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.uint8), img.affine), str(lab))
    changed = cached_cases(ds.datalist(), tf, mode="disk", cache_dir=tmp_path / "cache")
    assert int(changed[2]["label"].sum()) == 0
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 4
    shutil.rmtree(tmp_path / "ds")  # the NIfTI files are gone: later epochs read the cache
    torch.testing.assert_close(first[1]["image"], ref)
    torch.testing.assert_close(changed[0]["image"], first[0]["image"])


def test_patch_stream_is_a_function_of_seed_and_index(toy):
    plan = make_plan(toy, sorted(toy.cases))
    cases = cached_cases(toy.datalist(), preprocess_transforms(plan), mode="memory")
    aug = augment_transforms((16, 16, 16), crops=3, flip_prob=0.5, rot90_prob=0.5)
    a = PatchStream(cases, aug, 20, seed=7)
    b = PatchStream(
        cases, augment_transforms((16, 16, 16), crops=3, flip_prob=0.5, rot90_prob=0.5), 20, seed=7
    )
    x5 = a[5]
    assert x5["image"].shape == (3, 1, 16, 16, 16) and x5["label"].shape == (3, 1, 16, 16, 16)
    a[2], a[11]  # other items in between must not matter
    torch.testing.assert_close(b[5]["image"], x5["image"])
    assert not torch.equal(a[6]["image"], x5["image"])
    assert not torch.equal(PatchStream(cases, aug, 20, seed=8)[5]["image"], x5["image"])
    # every epoch visits every case once
    assert sorted(a.case_index(i) for i in range(5, 10)) == list(range(5))


def test_pos_crops_hold_foreground(toy):
    plan = make_plan(toy, sorted(toy.cases))
    cases = cached_cases(toy.datalist(), preprocess_transforms(plan), mode="none")
    aug = augment_transforms((8, 8, 8), crops=4, pos=1.0, neg=0.0, flip_prob=0, rot90_prob=0)
    s = PatchStream(cases, aug, 5, seed=0)
    for i in range(5):
        assert all(int((lab > 0).sum()) > 0 for lab in s[i]["label"])


def test_toy_affine_is_not_ras():
    assert nib.aff2axcodes(toy_affine()) != ("R", "A", "S")
