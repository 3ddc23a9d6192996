"""End to end on real scans: pyradiomics' labelled CT and MR cases (fetched with pip, cached).

Skipped cleanly when the archive cannot be downloaded (offline machine).
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from fdif_core.cli.main import main
from fdif_core.errors import UserError
from fdif_core.presets import parse_preset
from fdif_core.real import load_dataset
from fdif_core.real.preprocess import make_plan, preprocess_transforms
from fdif_core.real.samples import CASES, cache_root, pyradiomics_dataset
from fdif_core.training.finetune import finetune


def _real(name: str, cases: list[str] | None = None):
    try:
        return pyradiomics_dataset(cache_root() / "datasets" / name, cases)
    except UserError as err:
        pytest.skip(f"pyradiomics scans unavailable (offline?): {err}")


@pytest.fixture(scope="module")
def real_all():
    return _real("pyradiomics-all")


@pytest.fixture(scope="module")
def real_ct():
    return _real("pyradiomics-ct", ["lung1", "lung2"])


def test_real_scans_read_as_an_nnunet_dataset(real_all):
    ds = load_dataset(real_all)
    assert sorted(ds.cases) == sorted(CASES)
    assert ds.labels == ["background", "lesion"] and ds.channels == ["MR"]
    for case in ds.cases.values():
        img, lab = nib.load(case.images[0]), nib.load(case.label)
        assert img.shape == lab.shape
        assert int(np.asarray(lab.dataobj).sum()) > 50  # the lesion is inside the crop


def test_real_ct_plan_clips_to_foreground_percentiles(real_ct):
    ds = load_dataset(real_ct)
    plan = make_plan(ds, sorted(ds.cases))
    assert ds.channels == ["CT"] and plan.normalization == "ct"
    lo, hi = plan.clip
    assert -1024 <= lo < hi <= 3071 and plan.std > 0
    d = preprocess_transforms(plan)(ds.cases["lung2"].item())
    lesion = np.asarray(d["image"])[np.asarray(d["label"]) > 0]
    assert abs(float(lesion.mean())) < 1.0  # z-scored with the lesion statistics


def test_finetune_and_evaluate_on_real_scans(tmp_path, real_all, capsys):
    torch.set_num_threads(1)
    preset = parse_preset(
        {
            "version": 1,
            "finetune": {
                "patch_size": [16, 16, 16],
                "iterations": 3,
                "warmup_steps": 1,
                "sw_batch_size": 8,
                "preprocess": {"spacing": [2.0, 2.0, 4.0], "cache": "memory"},
                "augment": {"crops_per_volume": 1},
            },
        }
    )
    res = finetune(real_all, preset, tmp_path / "run", fold=1, progress=False)
    assert res.finished and len(res.train_cases) == 4 and len(res.val_cases) == 1
    assert main(["evaluate", "--weights", str(tmp_path / "run" / "best.pt")]) == 0
    assert "mean Dice over foreground classes" in capsys.readouterr().out
    doc = json.loads((tmp_path / "run" / "eval_val" / "metrics.json").read_text())
    (case,) = res.val_cases
    assert list(doc["per_case"]) == [case]
    dice = doc["per_case"][case]["lesion"]["dice"]
    pred = nib.load(tmp_path / "run" / "eval_val" / "predictions" / f"{case}.nii.gz")
    ref = nib.load(load_dataset(real_all).cases[case].label)
    assert pred.shape == ref.shape
    np.testing.assert_allclose(pred.affine, ref.affine, atol=1e-4)
    # the reported Dice is the one of the written prediction against the reference
    p, r = np.asarray(pred.dataobj) == 1, np.asarray(ref.dataobj) == 1
    assert dice == pytest.approx(2 * (p & r).sum() / (p.sum() + r.sum()), abs=1e-6)
