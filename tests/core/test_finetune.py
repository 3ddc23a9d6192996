"""Fine-tuning's own, on a toy dataset: CLI, evaluation, weights, freezing, AMP (the shared
loop: test_training.py)."""

from __future__ import annotations

import json

import pytest
import torch

from fdif_core.cli.main import main
from fdif_core.io.checkpoints import load_checkpoint
from fdif_core.training.finetune import finetune


def test_cli_scratch_finetune_then_evaluate(tmp_path, toy, capsys, preset_file):
    preset = preset_file("finetune")
    run = tmp_path / "run"
    code = main(
        [
            "finetune",
            "--dataset",
            str(toy),
            "--preset",
            str(preset),
            "--scratch",
            "--out",
            str(run),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "finished at step 4" in out and "from scratch" in out
    for f in ("last.pt", "best.pt", "log.jsonl", "splits_final.json", "run.json", "preset.yaml"):
        assert (run / f).is_file(), f
    ck = load_checkpoint(run / "best.pt")
    assert ck["task"] == "finetune" and ck["label_names"] == ["background", "ball", "box"]
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3, 4]
    assert sum("val_dice" in r for r in rows) == 2

    code = main(["evaluate", "--weights", str(run / "best.pt")])
    out = capsys.readouterr().out
    assert code == 0 and "mean Dice over foreground classes" in out
    val = json.loads((run / "splits_final.json").read_text())[0]["val"]
    doc = json.loads((run / "eval_val" / "metrics.json").read_text())
    assert sorted(doc["per_case"]) == sorted(val)
    assert len(list((run / "eval_val" / "predictions").glob("*.nii.gz"))) == len(val)
    code = main(
        [
            "evaluate",
            "--weights",
            str(run / "best.pt"),
            "--split",
            "test",
            "--out",
            str(tmp_path / "test"),
        ]
    )
    assert code == 0
    assert list(json.loads((tmp_path / "test" / "metrics.json").read_text())["per_case"]) == [
        "toy_005"
    ]


def test_weights_transfer_and_frozen_encoder(tmp_path, toy, capsys, tiny_finetune, fake_pretrained):
    src = fake_pretrained(tmp_path / "pre.pt")
    preset = tiny_finetune(iterations=4, freeze_encoder_steps=2, val_interval=0)
    res = finetune(
        toy, preset, tmp_path / "run", weights=tmp_path / "pre.pt", max_steps=2, progress=False
    )
    assert res.transfer is not None and not res.transfer.skipped
    assert "loaded" in capsys.readouterr().out
    state = load_checkpoint(tmp_path / "run" / "last.pt")["model"]
    enc = [k for k in state if k.startswith("encoder.")]
    dec = [k for k in state if k.startswith(("decoder.stages", "decoder.trans"))]
    assert enc and dec
    for k in enc:  # frozen for steps 1-2: still the pre-trained tensors
        torch.testing.assert_close(state[k], src[k], rtol=0, atol=0)
    assert any(not torch.equal(state[k], src[k]) for k in dec if state[k].is_floating_point())
    res = finetune(resume=tmp_path / "run", progress=False)  # steps 3-4: encoder trains
    state = load_checkpoint(tmp_path / "run" / "last.pt")["model"]
    assert res.step == 4
    assert any(not torch.equal(state[k], src[k]) for k in enc if state[k].is_floating_point())


def test_wrong_architecture_weights_exit_2(tmp_path, toy, capsys, preset_file, fake_pretrained):
    fake_pretrained(tmp_path / "pre.pt", name="unet_small")
    preset = preset_file("finetune", model="resenc_l", patch_size=[32, 32, 32])
    code = main(
        [
            "finetune",
            "--dataset",
            str(toy),
            "--preset",
            str(preset),
            "--weights",
            str(tmp_path / "pre.pt"),
            "--out",
            str(tmp_path / "run"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and "another architecture" in err and "\n" not in err


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_on_cpu(tmp_path, toy, amp, tiny_finetune):
    preset = tiny_finetune(iterations=2, val_interval=0, amp=amp)
    res = finetune(toy, preset, tmp_path / "run", fold="all", progress=False)  # no val
    assert res.finished and all(torch.isfinite(torch.tensor(v)) for v in res.losses.values())
    assert load_checkpoint(tmp_path / "run" / "last.pt")["amp"] == amp


def test_preset_without_finetune_section(tmp_path, toy, capsys):
    code = main(
        [
            "finetune",
            "--dataset",
            str(toy),
            "--preset",
            "quickstart",
            "--scratch",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 2 and "no finetune: section" in capsys.readouterr().err


def test_bad_patch_size_names_the_finetune_section(tmp_path, toy, capsys, preset_file):
    preset = preset_file("finetune", model="swinunetr", patch_size=[48, 64, 64])
    argv = ["finetune", "--dataset", str(toy), "--preset", str(preset), "--scratch",
            "--out", str(tmp_path / "r")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "finetune.patch_size: swinunetr needs every edge a multiple of 32" in err, err
    assert not (tmp_path / "r").exists()
