"""Metrics by class, sliding-window prediction in the original geometry, JSON/CSV output."""

from __future__ import annotations

import csv
import json
import warnings

import nibabel as nib
import numpy as np
import pytest
import torch

from fdif_core.evaluation.evaluate import Predictor, case_metrics, evaluate_cases, summarize
from fdif_core.real import load_dataset
from fdif_core.real.preprocess import make_plan, preprocess_case, preprocess_transforms
from fdif_core.real.toy import TOY_LABELS, toy_case, write_toy_dataset

SPACING = (1.5, 1.5, 3.0)


@pytest.fixture(scope="module")
def label() -> np.ndarray:
    return toy_case(0, (24, 24, 16))[1]


def test_perfect_prediction_scores_one_by_class(label):
    m = case_metrics(label, label, TOY_LABELS, SPACING)
    assert set(m) == {"ball", "box"}
    for cls in m.values():
        assert cls == {"dice": 1.0, "nsd_1mm": 1.0, "nsd_2mm": 1.0}


def test_empty_prediction_scores_zero_by_class(label):
    m = case_metrics(np.zeros_like(label), label, TOY_LABELS, SPACING)
    for cls in m.values():
        assert cls == {"dice": 0.0, "nsd_1mm": 0.0, "nsd_2mm": 0.0}


def test_one_class_right_one_missed(label):
    pred = np.where(label == 2, 0, label)  # the box is missed, the ball is perfect
    m = case_metrics(pred, label, TOY_LABELS, SPACING)
    assert m["ball"]["dice"] == 1.0 and m["box"]["dice"] == 0.0


def test_class_absent_from_reference_is_undefined_not_zero(label):
    ref = np.where(label == 2, 0, label)
    m = case_metrics(ref, ref, TOY_LABELS, SPACING)
    assert m["box"]["dice"] is None and m["ball"]["dice"] == 1.0
    s = summarize({"a": m}, TOY_LABELS)
    assert s["mean"]["dice"] == 1.0  # mean over the classes that are defined


def test_surface_dice_tolerance_in_mm(label):
    shifted = np.roll(label, 1, axis=0)  # one voxel = 1.5 mm along x
    tight = case_metrics(shifted, label, TOY_LABELS, SPACING, tolerances=(1.0,))
    loose = case_metrics(shifted, label, TOY_LABELS, SPACING, tolerances=(2.0,))
    assert tight["ball"]["nsd_1mm"] < loose["ball"]["nsd_2mm"] == 1.0


class _Oracle(torch.nn.Module):
    """Logits of the ball class from an image that is the ball's indicator (0/1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :1]
        return torch.cat([0.5 - x, x - 0.5, torch.full_like(x, -1.0)], 1) * 20


class _Warning(_Oracle):
    """The oracle, warning on every window as some third-party code does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        warnings.warn("the prediction of class 2 is all 0", UserWarning, stacklevel=1)
        return super().forward(x)


def test_predictions_come_back_in_original_geometry(tmp_path):
    """A network that reads the ball off its input: Dice ~1 after resampling and inversion."""
    ds = load_dataset(write_toy_dataset(tmp_path / "ds", num_cases=2))
    for c in ds.cases.values():  # image := ball indicator, in the case's own (LPS) geometry
        lab = nib.load(c.label)
        ball = (np.asarray(lab.dataobj) == 1).astype(np.float32)
        nib.save(nib.Nifti1Image(ball, lab.affine), str(c.images[0]))
    plan = make_plan(ds, sorted(ds.cases), normalization="none", crop_foreground=True)
    plan.spacing = (1.0, 1.0, 2.0)  # resampled for the network, inverted for the output
    pred = Predictor(_Warning(), plan, (16, 16, 16), overlap=0.25)
    lines: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc = evaluate_cases(pred, ds.datalist(), tmp_path / "eval", log=lines.append)
    assert not caught  # the network's (third-party) warnings stay off the terminal
    assert doc["empty"] == {c: ["box"] for c in ds.cases}  # the box is never predicted
    assert sum("empty prediction: box" in m for m in lines) == len(ds.cases)  # once a case
    for case in ds.cases.values():
        out = nib.load(tmp_path / "eval" / "predictions" / f"{case.id}.nii.gz")
        ref = nib.load(case.label)
        assert out.shape == ref.shape
        np.testing.assert_allclose(out.affine, ref.affine, atol=1e-4)
        assert doc["per_case"][case.id]["ball"]["dice"] > 0.9
        assert doc["per_case"][case.id]["box"]["dice"] == 0.0  # never predicted
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["per_case"] == doc["per_case"]
    rows = list(csv.DictReader((tmp_path / "eval" / "metrics.csv").open()))
    assert len(rows) == 2 * 2 and {r["class"] for r in rows} == {"ball", "box"}
    assert float(rows[0]["dice"]) == pytest.approx(
        doc["per_case"][rows[0]["case"]][rows[0]["class"]]["dice"], abs=1e-6
    )


def test_predictions_come_back_on_oblique_scans(tmp_path):
    """Scans whose axes are rotated against the world (MR, tilted CT gantries): the plan's
    grid keeps their rotation, so the prediction maps back onto the original voxels."""
    from scipy.spatial.transform import Rotation

    rot = Rotation.from_euler("xyz", [12, 0, 25], degrees=True).as_matrix()
    ds = load_dataset(write_toy_dataset(tmp_path / "ds", num_cases=2))
    for c in ds.cases.values():
        lab = nib.load(c.label)
        affine, arr = lab.affine.copy(), np.asarray(lab.dataobj)
        affine[:3, :3] = rot @ affine[:3, :3]
        nib.save(nib.Nifti1Image(arr, affine), str(c.label))
        nib.save(nib.Nifti1Image((arr == 1).astype(np.float32), affine), str(c.images[0]))
    plan = make_plan(ds, sorted(ds.cases), normalization="none", crop_foreground=True)
    plan.spacing = (1.0, 1.0, 2.0)
    doc = evaluate_cases(Predictor(_Oracle(), plan, (16, 16, 16), overlap=0.25),
                         ds.datalist(), tmp_path / "eval", log=lambda _m: None)
    for case in ds.cases.values():
        out = nib.load(tmp_path / "eval" / "predictions" / f"{case.id}.nii.gz")
        np.testing.assert_allclose(out.affine, nib.load(case.label).affine, atol=1e-4)
        assert doc["per_case"][case.id]["ball"]["dice"] > 0.9


def test_prediction_survives_meta_tracking_switched_off(tmp_path):
    """Another component may call monai.data.set_track_meta(False) process-wide."""
    from monai.data import get_track_meta, set_track_meta

    ds = load_dataset(write_toy_dataset(tmp_path / "ds", num_cases=1))
    plan = make_plan(ds, sorted(ds.cases), normalization="none")
    ref_case = preprocess_case(preprocess_transforms(plan), ds.datalist()[0])
    set_track_meta(False)
    try:
        label, affine = Predictor(_Oracle(), plan, (16, 16, 16)).predict(ds.datalist()[0])
        assert not get_track_meta()  # restored
        case = preprocess_case(preprocess_transforms(plan), ds.datalist()[0])  # training side
        torch.testing.assert_close(case["image"].as_tensor(), ref_case["image"].as_tensor())
    finally:
        set_track_meta(True)
    ref = nib.load(ds.cases["toy_000"].label)
    assert label.shape == ref.shape
    np.testing.assert_allclose(affine, ref.affine, atol=1e-4)


def test_threads_split_between_forward_workers_and_mapping_back(tmp_path):
    """On the CPU: two forward threads with half the threads each; one thread: none. The
    label map is the same bit for bit whatever the split; torch's thread count is restored."""
    ds = load_dataset(write_toy_dataset(tmp_path / "ds", num_cases=1))
    plan = make_plan(ds, sorted(ds.cases), normalization="none")
    plan.spacing = (1.0, 1.0, 2.0)

    def predictor(**kw) -> Predictor:
        torch.manual_seed(0)
        net = torch.nn.Conv3d(1, 3, 3, padding=1)
        return Predictor(net, plan, (8, 8, 8), overlap=0.5, sw_batch_size=3, **kw)

    assert predictor(threads=1).parallelism() == (0, 1)
    assert predictor(threads=2).parallelism() == (2, 1)
    assert predictor(threads=5).parallelism() == (2, 2)
    assert predictor(threads=2, device="cuda").parallelism() == (1, None)
    before = torch.get_num_threads()
    item = ds.datalist()[0]
    ref, _ = predictor(threads=1).predict(item)
    for threads in (2, 3):
        label, _ = predictor(threads=threads).predict(item)
        np.testing.assert_array_equal(label, ref)
        assert torch.get_num_threads() == before
    assert len(np.unique(ref)) == 3  # an untrained network: every class somewhere
