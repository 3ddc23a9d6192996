"""Pre-training loop: resume equivalence, refusals, divergence, AMP, accumulation, data."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from fdif_core.engine.compose import Recipe
from fdif_core.errors import UserError
from fdif_core.training import pretrain as P
from fdif_core.training.checkpoints import load_checkpoint

from .pretrain_presets import tiny


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def losses(run_dir) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in P.read_log(run_dir) if "loss" in r}


def test_resume_matches_uninterrupted_run(tmp_path):
    preset = tiny()
    full = P.pretrain(preset, tmp_path / "full", progress=False)
    assert full.finished and len(full.losses) == 6
    part = P.pretrain(preset, tmp_path / "part", max_steps=4, progress=False)
    assert not part.finished and load_checkpoint(tmp_path / "part" / P.LAST)["step"] == 4
    # steps 5-6 of the interrupted call must be re-done, not duplicated, after resuming
    rest = P.pretrain(resume=tmp_path / "part", progress=False)
    assert rest.finished and sorted(rest.losses) == [5, 6]
    assert losses(tmp_path / "part") == losses(tmp_path / "full")  # bit-identical floats
    a = load_checkpoint(tmp_path / "full" / P.LAST)["model"]
    b = load_checkpoint(tmp_path / "part" / P.LAST)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "full" / P.PREVIEW).is_file() and (tmp_path / "full" / P.BEST).is_file()
    vals = [r for r in P.read_log(tmp_path / "full") if "val_dice" in r]
    assert [r["step"] for r in vals] == [3, 6] and all(0 <= r["val_dice"] <= 1 for r in vals)


def test_resume_with_another_preset_is_refused(tmp_path):
    P.pretrain(tiny(iterations=2), tmp_path / "run", max_steps=1, progress=False)
    with pytest.raises(UserError, match="another preset"):
        P.pretrain(tiny(iterations=2, lr=0.5), resume=tmp_path / "run", progress=False)
    with pytest.raises(UserError, match="already holds a run"):
        P.pretrain(tiny(iterations=2), tmp_path / "run", progress=False)


def test_corrupt_checkpoint_is_one_line(tmp_path):
    P.pretrain(tiny(iterations=2), tmp_path / "run", max_steps=1, progress=False)
    ckpt = tmp_path / "run" / P.LAST
    ckpt.write_bytes(ckpt.read_bytes()[:200])  # truncated
    with pytest.raises(UserError, match="not a readable checkpoint") as err:
        P.pretrain(resume=tmp_path / "run", progress=False)
    assert "\n" not in str(err.value)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    real = P.make_loss

    def poisoned(preset):
        inner, calls = real(preset), []

        def loss(out, y):
            calls.append(1)
            value = inner(out, y)
            return value * float("nan") if len(calls) == 5 else value

        return loss

    monkeypatch.setattr(P, "make_loss", poisoned)
    with pytest.raises(P.TrainingError, match="step 5: the loss is nan") as err:
        P.pretrain(tiny(), tmp_path / "run", progress=False)
    assert "last good checkpoint" in str(err.value)
    state = load_checkpoint(tmp_path / "run" / P.LAST)
    assert state["step"] == 3 and all(torch.isfinite(v).all() for v in state["model"].values())


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_runs_on_cpu(tmp_path, amp):
    res = P.pretrain(tiny(iterations=2, amp=amp, val_volumes=0), tmp_path / amp, progress=False)
    assert res.finished and all(np.isfinite(v) for v in res.losses.values())
    state = load_checkpoint(tmp_path / amp / P.LAST)
    assert bool(state["scaler"]) == (amp == "fp16")  # fp16 keeps a grad scaler


def test_grad_accumulation_equals_larger_batch(tmp_path):
    # batch 2 in one go and batch 1 accumulated twice see the same volumes and crops
    common = {"iterations": 2, "val_volumes": 0, "grad_clip": None}
    big = P.pretrain(tiny(batch_size=2, **common), tmp_path / "a", progress=False)
    acc = P.pretrain(tiny(batch_size=1, grad_accum=2, **common), tmp_path / "b", progress=False)
    assert big.losses.keys() == acc.losses.keys()
    # step 2's loss is computed with the weights after step 1: equal losses, equal updates
    # (weights are not compared: Adam turns float noise in near-zero gradients into lr-sized steps)
    for k in big.losses:
        assert big.losses[k] == pytest.approx(acc.losses[k], rel=1e-5)


def test_classification_pretraining(tmp_path):
    preset = tiny(task="classification", loss="ce", iterations=3, val_interval=3, val_volumes=2)
    res = P.pretrain(preset, tmp_path / "cls", progress=False)
    assert res.finished and 0.0 <= res.val[3] <= 1.0
    out = res.model(torch.zeros(2, 1, 16, 16, 16))
    assert out.shape == (2, len(Recipe(preset).classes))
    assert [r for r in P.read_log(tmp_path / "cls") if "val_acc" in r]


def _write_decathlon(root, preset, n=2):
    recipe = Recipe(preset)
    items = []
    for i in range(n):
        s = recipe.sample(i)
        for kind, arr in (("imagesTr", s.image), ("labelsTr", s.label)):
            (root / kind).mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(arr.numpy(), np.eye(4)), str(root / kind / f"c{i}.nii.gz"))
        items.append({"image": f"imagesTr/c{i}.nii.gz", "label": f"labelsTr/c{i}.nii.gz"})
    labels = {str(i): name for i, name in enumerate(recipe.label_names)}
    meta = {"training": items, "labels": labels, "numTraining": n}
    (root / "dataset.json").write_text(json.dumps(meta))


def test_trains_from_a_generated_dataset(tmp_path):
    preset = tiny(iterations=2, val_volumes=0)
    _write_decathlon(tmp_path / "data", preset)
    res = P.pretrain(preset, tmp_path / "run", data=tmp_path / "data", progress=False)
    assert res.finished and all(np.isfinite(v) for v in res.losses.values())
    other = tiny(iterations=2, val_volumes=0)
    meta = json.loads((tmp_path / "data" / "dataset.json").read_text())
    meta["labels"].pop("1")
    (tmp_path / "data" / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="labels: 8 labels, but the preset makes 9"):
        P.pretrain(other, tmp_path / "run2", data=tmp_path / "data", progress=False)
