"""docs/nnunet.md, run as written with real nnU-Net on the CPU, on a small generated dataset.

Each command of the page runs in order, in small variants (the CPU path's toy dataset as
written): ``nnUNetv2_plan_and_preprocess``
with one process, ``fdif-core pretrain`` for 2 steps on the CPU with a shrunk copy of the
named preset (fewer objects and validation volumes; fixed-network runs at 32³), and
``nnUNetv2_train`` through nnU-Net's own entry point with a 2-iteration epoch on the CPU
(``nnunet_tiny_train.py``). Primus-M's 151 M parameters take minutes and gigabytes on a CPU,
so its lines run with nnU-Net's Primus-S trainer (same trainer family and code path) and
the fixed-network Primus-M lines of route B are checked by ``test_nnunet_plans.py``.
The test asserts that every training started from the pre-trained tensors.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from fdif_core.cli.main import main
from fdif_core.presets.preset import resolve_path
from fdif_core.real.toy import write_toy_dataset

from .doc_commands import ROOT, commands

pytest.importorskip("nnunetv2")
pytestmark = pytest.mark.slow
DOC = ROOT / "docs" / "nnunet.md"
BIN = Path(sys.executable).parent
PRIMUS = ("nnUNet_Primus_M_Trainer", "nnUNet_Primus_S_Trainer")


def _shrunk(name: str, folder: Path) -> str:
    """A copy of shipped preset ``name`` small enough for a CPU test (same network, recipe)."""
    data = yaml.safe_load(resolve_path(name).read_text())
    data["objects"]["per_volume"] = 4
    data["volume"]["shape"] = [32, 32, 32]
    # one crop a step, and no bf16 autocast: CPU bf16 instance norms can overflow at 32³
    data["pretrain"].update(patch_size=[32, 32, 32], val_volumes=1, num_workers=0, amp="off")
    data["pretrain"].setdefault("augment", {})["crops_per_volume"] = 1
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _pretrain_args(args: list[str], tmp: Path) -> list[str] | None:
    """The small variant of a documented ``fdif-core pretrain`` line (None: not run here)."""
    i = args.index("--preset")
    primus = args[i + 1] == "fdif-paper-primus"
    if primus and "--nnunet-plans" not in args:
        return None  # a fixed 151 M-parameter Primus-M: test_nnunet_plans.py
    args[i + 1] = _shrunk(args[i + 1], tmp)
    if "--device" in args:
        args[args.index("--device") + 1] = "cpu"
    if primus:
        args += ["--nnunet-trainer", PRIMUS[1]]
    return [*args, "--max-steps", "2", "--no-progress", "--workers", "0"]


@pytest.fixture
def nnunet_env(tmp_path, monkeypatch) -> dict[str, str]:
    env = {
        "nnUNet_raw": str(tmp_path / "raw"),
        "nnUNet_preprocessed": str(tmp_path / "preprocessed"),
        "nnUNet_results": str(tmp_path / "results"),
        "nnUNet_def_n_proc": "1",
        "ID": "990",
        "DATASET": "Dataset990_Toy",
    }
    write_toy_dataset(Path(env["nnUNet_raw"]) / env["DATASET"], num_cases=5, shape=(16, 16, 16))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)
    return env


def test_docs_nnunet_walkthrough_runs(nnunet_env, tmp_path):
    env = {**os.environ, **nnunet_env, "PYTHONPATH": str(ROOT)}
    trainings: list[list[str]] = []
    weights: list[Path] = []
    ran = []
    for cmd in commands(DOC):
        text = os.path.expandvars(cmd.text)
        args = shlex.split(text)
        if args[0] in ("pip", "export") or "=" in args[0]:
            continue
        if args[0] == "nnUNetv2_plan_and_preprocess":
            run = subprocess.run(
                [str(BIN / args[0]), *args[1:], "-npfp", "1", "-np", "1"],
                env=env,
                capture_output=True,
                text=True,
            )
            assert run.returncode == 0, f"{cmd}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
        elif args[:2] == ["fdif-core", "pretrain"]:
            small = _pretrain_args(args[1:], tmp_path)
            if small is not None:
                assert main(small) == 0, cmd
        elif args[:2] == ["fdif-core", "generate"]:  # the CPU path's toy dataset
            assert main([*args[1:], "--quiet"]) == 0, cmd
        elif args[:2] == ["fdif-core", "export-weights"]:
            if "primus96" in text:
                continue  # its run is the fixed Primus-M (see the module docstring)
            assert main(args[1:]) == 0, cmd
        elif args[0] == "nnUNetv2_train":
            if "fdif_primus_m" in text:
                continue
            argv = [PRIMUS[1] if a == PRIMUS[0] else a for a in args[1:]]
            trainings.append([*argv, "-device", "cpu"])
            weights.append(Path(argv[argv.index("-pretrained_weights") + 1]))
        else:
            raise AssertionError(f"{cmd}: no rule to run this documented command")
        ran.append(args[0])
    assert ran.count("nnUNetv2_train") == 4 and ran.count("nnUNetv2_plan_and_preprocess") == 3
    out = tmp_path / "starts"
    out.mkdir()
    helper = Path(__file__).with_name("nnunet_tiny_train.py")
    run = subprocess.run(
        [sys.executable, str(helper), str(out), json.dumps(trainings)],
        env={**env, "nnUNet_n_proc_DA": "0"},  # augmentation in the training process
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    assert run.stdout.count("Loading pretrained weights from file") == len(trainings)
    for k, (argv, path) in enumerate(zip(trainings, weights, strict=True)):
        loaded = torch.load(path, weights_only=True)["network_weights"]
        start = torch.load(out / f"start_{k}.pt", weights_only=True)
        body = [n for n in start if ".seg_layers." not in n]
        assert len(body) > 50 and set(body) <= set(loaded), argv
        assert all(torch.equal(start[n], loaded[n]) for n in body), argv  # started from FDIF
        # ... and trained from there (Primus' warm-up epoch 0 runs at learning rate 0)
        if "-tr" not in argv:
            final = _final_weights(Path(nnunet_env["nnUNet_results"]), argv)
            moved = sum(not torch.equal(final[n], start[n]) for n in body)
            assert moved > len(body) // 2, argv


def _final_weights(results: Path, argv: list[str]) -> dict[str, torch.Tensor]:
    plans = argv[argv.index("-p") + 1]
    folder = results / argv[0] / f"nnUNetTrainer__{plans}__{argv[1]}" / f"fold_{argv[2]}"
    # nnU-Net's own checkpoint (pickled trainer state): read as nnU-Net reads it
    return torch.load(folder / "checkpoint_final.pth", weights_only=False)["network_weights"]
