"""nnU-Net-style 5-fold splits: deterministic, a partition, made once and reused."""

from __future__ import annotations

import json

import pytest

from fdif_core.errors import UserError
from fdif_core.real import fold_cases, kfold_splits, load_dataset
from fdif_core.real.toy import write_toy_dataset

IDS = [f"case_{i:02d}" for i in range(13)]


def test_folds_partition_the_cases():
    splits = kfold_splits(list(reversed(IDS)))
    assert len(splits) == 5
    vals = [v for s in splits for v in s["val"]]
    assert sorted(vals) == IDS  # every case validated exactly once
    for s in splits:
        assert set(s["train"]).isdisjoint(s["val"])
        assert sorted(s["train"] + s["val"]) == IDS
    assert sorted(len(s["val"]) for s in splits) == [2, 2, 3, 3, 3]


def test_folds_are_deterministic_and_seeded():
    assert kfold_splits(IDS) == kfold_splits(list(reversed(IDS)))
    assert kfold_splits(IDS) != kfold_splits(IDS, seed=1)


def test_same_folds_as_nnunet_kfold():
    sklearn = pytest.importorskip("sklearn.model_selection")
    kf = sklearn.KFold(n_splits=5, shuffle=True, random_state=12345)
    expect = [
        {"train": [IDS[i] for i in tr], "val": [IDS[i] for i in va]} for tr, va in kf.split(IDS)
    ]
    assert kfold_splits(IDS) == expect


def test_too_few_cases():
    with pytest.raises(UserError, match="cannot make 5 folds"):
        kfold_splits(IDS[:3])


def test_made_once_recorded_and_reused(tmp_path):
    ds = load_dataset(write_toy_dataset(tmp_path / "ds", "nnunet", num_cases=5))
    run = tmp_path / "run"
    run.mkdir()
    tr, va = fold_cases(ds, 2, run)
    recorded = json.loads((run / "splits_final.json").read_text())
    assert recorded[2] == {"train": tr, "val": va}
    # a splits_final.json in the dataset folder (e.g. from nnUNet_preprocessed) wins
    own = [{"train": ["toy_000", "toy_001"], "val": ["toy_004"]}]
    (ds.root / "splits_final.json").write_text(json.dumps(own))
    assert fold_cases(ds, 0, tmp_path / "other") == (["toy_000", "toy_001"], ["toy_004"])
    with pytest.raises(UserError, match=r"allowed: 0\.\.0"):
        fold_cases(ds, 3)


def test_dataset_validation_list_and_all(tmp_path):
    ds = load_dataset(write_toy_dataset(tmp_path / "ds", "datalist", num_cases=5))
    tr, va = fold_cases(ds, "dataset")
    assert va == ["toy_004"] and "toy_004" not in tr
    assert fold_cases(ds, "all") == (sorted(ds.cases), [])
    nn = load_dataset(write_toy_dataset(tmp_path / "nn", "nnunet", num_cases=5))
    with pytest.raises(UserError, match="no validation list"):
        fold_cases(nn, "dataset")
    with pytest.raises(UserError, match="allowed"):
        fold_cases(nn, "seven")
