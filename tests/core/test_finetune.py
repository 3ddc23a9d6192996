"""Fine-tuning runs on a toy dataset: CLI, evaluation, weights, freezing, resume, AMP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from fdif_core.cli.main import main
from fdif_core.errors import UserError
from fdif_core.presets import parse_preset
from fdif_core.real.toy import write_toy_dataset
from fdif_core.training.checkpoints import load_checkpoint, save_checkpoint
from fdif_core.training.finetune import finetune
from fdif_core.training.networks import build_network

PATCH = [16, 16, 16]


def tiny(**over) -> dict:
    ft = {
        "model": "unet_small",
        "patch_size": PATCH,
        "iterations": 4,
        "warmup_steps": 1,
        "val_interval": 2,
        "checkpoint_interval": 2,
        "sw_batch_size": 4,
        "augment": {"crops_per_volume": 1},
        "preprocess": {"cache": "memory"},
    }
    ft.update(over)
    return {"version": 1, "name": "tiny", "seed": 3, "finetune": ft}


def write_preset(path: Path, **over) -> Path:
    path.write_text(yaml.safe_dump(tiny(**over)))
    return path


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    return write_toy_dataset(tmp_path_factory.mktemp("toy") / "ds", num_cases=5, num_test=1)


def fake_pretrained(path: Path, name: str = "unet_small", classes: int = 110) -> dict:
    torch.manual_seed(11)
    net = build_network(name, classes, tuple(PATCH))
    state = {
        "model": net.state_dict(),
        "optimizer": {},
        "scheduler": {},
        "step": 1,
        "preset_hash": "x",
        "model_name": name,
        "task": "segmentation",
    }
    save_checkpoint(path, state)
    return state["model"]


def test_cli_scratch_finetune_then_evaluate(tmp_path, toy, capsys):
    preset = write_preset(tmp_path / "p.yaml")
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


def test_weights_transfer_and_frozen_encoder(tmp_path, toy, capsys):
    src = fake_pretrained(tmp_path / "pre.pt")
    preset = parse_preset(tiny(iterations=4, freeze_encoder_steps=2, val_interval=0))
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


def test_wrong_architecture_weights_exit_2(tmp_path, toy, capsys):
    fake_pretrained(tmp_path / "pre.pt", name="unet_small")
    preset = write_preset(tmp_path / "p.yaml", model="resenc_l", patch_size=[32, 32, 32])
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


def test_resume_repeats_an_uninterrupted_run(tmp_path, toy):
    preset = parse_preset(tiny(iterations=4, val_interval=0, checkpoint_interval=4))
    whole = finetune(toy, preset, tmp_path / "a", progress=False)
    part = finetune(toy, preset, tmp_path / "b", max_steps=2, progress=False)
    assert part.step == 2 and not part.finished
    rest = finetune(resume=tmp_path / "b", progress=False)
    assert rest.finished
    assert {**part.losses, **rest.losses} == whole.losses
    a = load_checkpoint(tmp_path / "a" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "last.pt")["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    other = parse_preset(tiny(iterations=5))
    with pytest.raises(UserError, match="another preset"):
        finetune(preset=other, resume=tmp_path / "b", progress=False)


# Rarely (about 1 run in 13 here) bf16 autocast on the CPU gives a non-finite gradient at
# step 1 and the run stops at step 2 with the one-line NaN error; the CPU bf16 kernels are
# not bit-deterministic between runs. Rerun instead of hiding the check.
@pytest.mark.flaky(reruns=2)
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_on_cpu(tmp_path, toy, amp):
    preset = parse_preset(tiny(iterations=2, val_interval=0, amp=amp))
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


@pytest.mark.slow
def test_torchrun_two_ranks_on_cpu(tmp_path, toy):
    """DDP (gloo) under torchrun: unused seg_layers tolerated, validation on rank 0 only."""
    import os
    import subprocess
    import sys

    preset = write_preset(tmp_path / "p.yaml", iterations=2, val_interval=0)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "fdif_core", "finetune", "--dataset", str(toy), "--preset", str(preset),
           "--scratch", "--out", str(tmp_path / "run"), "--no-progress"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "finished at step 2" in proc.stdout
    rows = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2]  # logged once, by rank 0
    assert "val_dice" in rows[-1]
