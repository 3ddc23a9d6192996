"""Exported weights load with nnU-Net v2's own ``load_pretrained_weights``."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
import yaml

from fdif_core.cli.main import main
from fdif_core.io.checkpoints import save_checkpoint
from fdif_core.networks import build_network

nnunet_load = pytest.importorskip("nnunetv2.run.load_pretrained_weights")


def _pretraining(path, name: str, patch: list[int], classes: int = 110) -> dict:
    """A pre-training checkpoint of ``name`` with every tensor = 1 (no costly init)."""
    with torch.device("meta"):
        net = build_network(name, classes, tuple(patch))
    net = net.to_empty(device="cpu")
    with torch.no_grad():
        for t in net.state_dict().values():
            t.fill_(1)
    preset = {"version": 1, "pretrain": {"model": name, "patch_size": patch, "warmup_steps": 1}}
    state = {
        "model": {f"module.{k}": v for k, v in net.state_dict().items()},  # as saved under DDP
        "optimizer": {},
        "scheduler": {},
        "step": 1,
        "preset_hash": "x",
        "preset": yaml.safe_dump(preset),
        "model_name": name,
        "task": "segmentation",
    }
    save_checkpoint(path, state)
    return net.state_dict()


def test_resenc_l_loads_in_nnunet(tmp_path, capsys):
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    _pretraining(tmp_path / "last.pt", "resenc_l", [32, 32, 32])
    assert main(["export-weights", str(tmp_path), "--out", str(tmp_path / "w.pth")]) == 0
    assert "-pretrained_weights" in capsys.readouterr().out
    arch = json.loads((tmp_path / "w.pth.plans.json").read_text())["architecture"]
    # nnU-Net builds its network from the plans block (deep supervision on, 14 classes)
    net = get_network_from_plans(
        arch["network_class_name"],
        arch["arch_kwargs"],
        arch["_kw_requires_import"],
        1,
        14,
        deep_supervision=True,
    )
    nnunet_load.load_pretrained_weights(net, str(tmp_path / "w.pth"))
    sd = net.state_dict()
    body = [k for k in sd if ".seg_layers." not in k]
    assert len(body) > 500
    assert all(bool((sd[k] == 1).all()) for k in body)
    assert not all(bool((sd[k] == 1).all()) for k in sd if ".seg_layers." in k)


def test_primus_m_loads_in_nnunet_trainer_network(tmp_path):
    from nnunetv2.training.nnUNetTrainer.primus.primus_trainers import nnUNet_Primus_M_Trainer

    _pretraining(tmp_path / "last.pt", "primus_m", [16, 16, 16])
    assert (
        main(
            [
                "export-weights",
                str(tmp_path / "last.pt"),
                "--num-classes",
                "14",
                "--out",
                str(tmp_path / "w.pth"),
            ]
        )
        == 0
    )
    cm = SimpleNamespace(patch_size=(16, 16, 16))
    net = nnUNet_Primus_M_Trainer.build_network_architecture(None, cm, 1, 14)
    nnunet_load.load_pretrained_weights(net, str(tmp_path / "w.pth"))
    sd = net.state_dict()
    enc = [k for k in sd if k.startswith("eva.")]
    assert enc and all(bool((sd[k] == 1).all()) for k in enc)
    dec = [k for k in sd if k.startswith("up_projection.") and sd[k].ndim > 1]
    assert dec and not any(bool((sd[k] == 1).all()) for k in dec)  # re-initialised


def test_primus_needs_num_classes(tmp_path, capsys):
    preset = {"version": 1, "pretrain": {"model": "primus_m", "patch_size": [16, 16, 16]}}
    state = {
        "model": {},
        "optimizer": {},
        "scheduler": {},
        "step": 1,
        "preset_hash": "x",
        "preset": yaml.safe_dump(preset),
        "model_name": "primus_m",
    }
    save_checkpoint(tmp_path / "last.pt", state)
    assert main(["export-weights", str(tmp_path)]) == 2
    assert "--num-classes" in capsys.readouterr().err
