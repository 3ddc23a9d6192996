"""Pre-training's own: preview, AMP, accumulation, classification, generated data (the shared
loop: test_training.py)."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from fdif_core.errors import UserError
from fdif_core.io.checkpoints import load_checkpoint
from fdif_core.training import pretrain as P


def test_finished_run_leaves_preview_and_best(tmp_path, tiny):
    res = P.pretrain(tiny(), tmp_path / "run", progress=False)
    assert res.preview == tmp_path / "run" / P.PREVIEW and res.preview.is_file()
    best = load_checkpoint(tmp_path / "run" / P.BEST)
    assert best["best_val"] == max(res.val.values()) and best["label_names"][0] == "background"
    assert res.scores.keys() == {"val_dice", "fg_dice"}


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_runs_on_cpu(tmp_path, tiny, amp):
    res = P.pretrain(tiny(iterations=2, amp=amp, val_volumes=0), tmp_path / amp, progress=False)
    assert res.finished and all(np.isfinite(v) for v in res.losses.values())
    state = load_checkpoint(tmp_path / amp / P.LAST)
    assert bool(state["scaler"]) == (amp == "fp16")  # fp16 keeps a grad scaler


def test_grad_accumulation_equals_larger_batch(tmp_path, tiny):
    # batch 2 in one go and batch 1 accumulated twice see the same volumes and crops
    common = {"iterations": 2, "val_volumes": 0, "grad_clip": None}
    big = P.pretrain(tiny(batch_size=2, **common), tmp_path / "a", progress=False)
    acc = P.pretrain(tiny(batch_size=1, grad_accum=2, **common), tmp_path / "b", progress=False)
    assert big.losses.keys() == acc.losses.keys()
    # step 2's loss is computed with the weights after step 1: equal losses, equal updates
    # (weights are not compared: Adam turns float noise in near-zero gradients into lr-sized steps)
    for k in big.losses:
        assert big.losses[k] == pytest.approx(acc.losses[k], rel=1e-5)


def test_classification_pretraining(tmp_path, tiny):
    preset = tiny(task="classification", loss="ce", iterations=3, val_interval=3, val_volumes=2)
    res = P.pretrain(preset, tmp_path / "cls", progress=False)
    assert res.finished and res.val[3] in (0.0, 0.5, 1.0)  # hits out of 2 volumes
    out = res.model(torch.zeros(2, 1, 16, 16, 16))
    assert out.shape == (2, len(preset.recipe().classes))
    assert [r for r in P.read_log(tmp_path / "cls") if "val_acc" in r]


def _write_decathlon(root, preset, n=2):
    recipe = preset.recipe()
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


def test_trains_from_a_generated_dataset(tmp_path, tiny):
    preset = tiny(iterations=2, val_volumes=0)
    _write_decathlon(tmp_path / "data", preset)
    res = P.pretrain(preset, tmp_path / "run", data=tmp_path / "data", progress=False)
    assert res.finished and all(np.isfinite(v) for v in res.losses.values())
    other = tiny(iterations=2, val_volumes=0)
    meta = json.loads((tmp_path / "data" / "dataset.json").read_text())
    meta["labels"].pop(str(len(meta["labels"]) - 1))  # one class fewer than the preset makes
    (tmp_path / "data" / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match="labels: 8 labels, but the preset makes 9"):
        P.pretrain(other, tmp_path / "run2", data=tmp_path / "data", progress=False)


def test_cpu_threads_given_back_after_pretraining(tmp_path, tiny, monkeypatch):
    """Pre-training leaves its DataLoader workers their cores, then gives the caller's torch
    threads back (a study evaluates on them after), also when the run stops with an error."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(P.os, "sched_getaffinity", lambda _pid: set(range(4)), raising=False)
    seen = []

    def fit(*_args, **_kw):
        seen.append(torch.get_num_threads())
        raise RuntimeError("stop here")

    monkeypatch.setattr(P, "fit", fit)
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with pytest.raises(RuntimeError, match="stop here"):
            preset = tiny(val_volumes=0)
            P.pretrain(preset, tmp_path / "run", workers=2, progress=False)
        assert seen == [2] and torch.get_num_threads() == 3  # 4 cores - 2 workers, then 3 again
    finally:
        torch.set_num_threads(before)
