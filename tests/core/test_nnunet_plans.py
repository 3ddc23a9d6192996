"""Pre-training for nnU-Net plans, and plans for fixed networks, against nnU-Net's own code.

The plans fixture is what ``nnUNetv2_plan_and_preprocess -pl nnUNetPlannerResEncL`` wrote for
a toy dataset (patch [24, 32, 32] at [3.0, 1.5, 1.5] mm, 3 labels).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from fdif_core.cli.main import main
from fdif_core.errors import UserError
from fdif_core.io.checkpoints import save_checkpoint
from fdif_core.networks import build_network, nnunet_trainer_class
from fdif_core.presets import load_preset
from fdif_core.training import nnunet_plans as nn

load_mod = pytest.importorskip("nnunetv2.run.load_pretrained_weights")
FIXTURE = Path(__file__).parent / "data" / "nnunet_toy"
PLANS = "nnUNetResEncUNetLPlans"


@pytest.fixture
def ds(tmp_path, monkeypatch) -> Path:
    """``$nnUNet_preprocessed/Dataset990_Toy`` holding the fixture plans and dataset.json."""
    root = tmp_path / "preprocessed"
    folder = root / "Dataset990_Toy"
    shutil.copytree(FIXTURE, folder)
    monkeypatch.setenv("nnUNet_preprocessed", str(root))
    return folder


def _edit(folder: Path, name: str, **config) -> Path:
    """A copy of the fixture plans named ``name`` with 3d_fullres fields replaced."""
    plans = json.loads((folder / f"{PLANS}.json").read_text())
    plans["configurations"]["3d_fullres"].update(config)
    plans["plans_name"] = name
    path = folder / f"{name}.json"
    path.write_text(json.dumps(plans))
    return path


def _trainer_net(folder: Path, trainer: str, plans: str = PLANS, outputs: int = 3):
    """The network nnU-Net's trainer class builds for the plans (as nnUNetv2_train does)."""
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    pm = PlansManager(str(folder / f"{plans}.json"))
    cls = nnunet_trainer_class(trainer)
    return cls.build_network_architecture(pm, pm.get_configuration("3d_fullres"), 1, outputs)


def _ones_run(path: Path, preset) -> dict[str, torch.Tensor]:
    """A pre-training checkpoint of ``preset``'s network with every tensor = 1."""
    cfg = preset.pretrain
    labels = preset.recipe().label_names
    with torch.device("meta"):
        net = build_network(cfg.model, len(labels), cfg.patch_size, cfg.model_kwargs)
    net = net.to_empty(device="cpu")
    with torch.no_grad():
        for t in net.state_dict().values():
            t.fill_(1)
    save_checkpoint(
        path / "last.pt",
        {
            "model": {f"module.{k}": v for k, v in net.state_dict().items()},
            "optimizer": {},
            "scheduler": {},
            "step": 1,
            "preset_hash": preset.hash(),
            "preset": preset.to_yaml(),
            "model_name": cfg.model,
            "task": "segmentation",
            "label_names": labels,
        },
    )
    (path / "preset.yaml").write_text(preset.to_yaml())
    return net.state_dict()


# --------------------------------------------------------------------------- geometry
@pytest.mark.parametrize(
    ("preset_shape", "patch", "spacing", "ref", "mm", "ratio"),
    [
        ((96, 96, 96), (128, 128, 128), (1.0, 1.0, 1.0), (96, 96, 96), 128 / 96, 1.0),
        ((96, 96, 96), (24, 32, 32), (3.0, 1.5, 1.5), (144, 96, 96), 0.5, 1.5),
        ((48, 48, 48), (20, 256, 224), (5.0, 1.5, 1.5), (48, 184, 161), 100 / 48, None),
    ],
)
def test_render_geometry(preset_shape, patch, spacing, ref, mm, ratio):
    got_ref, got_mm, got_ratio = nn.render_geometry(preset_shape, patch, spacing)
    assert got_ref == ref
    assert got_mm[0] == pytest.approx(mm)
    # each reference voxel is (nearly) isotropic: the scene keeps its physical shape
    assert max(got_mm) / min(got_mm) < 1.02
    if ratio is not None:
        assert got_ratio == pytest.approx(ratio)


# --------------------------------------------------------------------------- pre-training
def test_preset_for_plans_builds_nnunets_network_and_renders_the_patch(ds):
    target = nn.read_target(ds / f"{PLANS}.json", "3d_fullres", "nnUNetTrainer")
    preset = nn.pretrain_preset(load_preset("fdif-paper-resencl"), target)
    cfg = preset.pretrain
    assert cfg.model == "nnunet" and tuple(cfg.patch_size) == (24, 32, 32)
    assert tuple(cfg.render_shape) == (24, 32, 32)
    assert tuple(preset.volume.shape) == (144, 96, 96)
    assert preset.objects.per_volume == 30  # 20 x the box volume ratio 1.5
    ours = build_network(cfg.model, 110, cfg.patch_size, cfg.model_kwargs)
    theirs = _trainer_net(ds, "nnUNetTrainer", outputs=110)
    assert type(ours).__name__ == "ResidualEncoderUNet"
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    out = ours(torch.zeros(1, 1, 24, 32, 32))
    assert out.shape == (1, 110, 24, 32, 32)  # deep supervision off: one output
    # the stream renders whole volumes at the plans' patch size
    from fdif_core.synthetic.stream import StreamConfig, SyntheticSource

    image, label = SyntheticSource(preset.recipe(), StreamConfig.of(preset)).volume(0)
    assert image.shape == label.shape == (1, 24, 32, 32)
    assert int(label.max()) > 0


def test_the_preset_yaml_alone_rebuilds_the_network(ds, tmp_path):
    from fdif_core.presets.preset import parse_preset

    target = nn.read_target(ds / f"{PLANS}.json", "3d_fullres", "nnUNetTrainer")
    preset = nn.pretrain_preset(load_preset("fdif-paper-resencl"), target)
    import yaml

    again = parse_preset(yaml.safe_load(preset.to_yaml()), "run preset")
    assert again.hash() == preset.hash()
    (ds / f"{PLANS}.json").unlink()  # the run does not need the plans file any more
    net = build_network("nnunet", 110, again.pretrain.patch_size, again.pretrain.model_kwargs)
    assert sum(p.numel() for p in net.parameters()) > 1_000_000


def test_nnunet_run_exports_weights_nnunet_loads(ds, tmp_path, capsys):
    target = nn.read_target(ds / f"{PLANS}.json", "3d_fullres", "nnUNetTrainer")
    preset = nn.pretrain_preset(load_preset("fdif-paper-resencl"), target)
    run = tmp_path / "run"
    run.mkdir()
    _ones_run(run, preset)
    assert main(["export-weights", str(run)]) == 0
    out = capsys.readouterr().out
    assert "-p nnUNetResEncUNetLPlans -pretrained_weights" in out
    net = _trainer_net(ds, "nnUNetTrainer")
    load_mod.load_pretrained_weights(net, str(run / "nnunet_weights.pth"))
    sd = net.state_dict()
    body = [k for k in sd if ".seg_layers." not in k]
    assert len(body) > 400 and all(bool((sd[k] == 1).all()) for k in body)
    # another dataset is refused: the weights fit this dataset's plans only
    assert main(["export-weights", str(run), "--dataset", "27"]) == 2
    assert "Dataset990_Toy" in capsys.readouterr().err


def test_primus_trainer_network_gets_a_decoder_for_the_target_classes(ds, tmp_path):
    """Primus-S (nnU-Net's smallest Primus trainer, same code path as Primus-M)."""
    target = nn.read_target(ds / f"{PLANS}.json", "3d_fullres", "nnUNet_Primus_S_Trainer")
    preset = nn.pretrain_preset(load_preset("fdif-paper-primus"), target)
    run = tmp_path / "run"
    run.mkdir()
    _ones_run(run, preset)
    assert main(["export-weights", str(run)]) == 0
    net = _trainer_net(ds, "nnUNet_Primus_S_Trainer")
    load_mod.load_pretrained_weights(net, str(run / "nnunet_weights.pth"))
    sd = net.state_dict()
    enc = [k for k in sd if k.startswith("eva.")]
    assert enc and all(bool((sd[k] == 1).all()) for k in enc)
    dec = [k for k in sd if k.startswith("up_projection.") and sd[k].ndim > 1]
    assert dec and not any(bool((sd[k] == 1).all()) for k in dec)


def test_multi_channel_target_repeats_the_synthetic_channel(ds):
    meta = json.loads((ds / "dataset.json").read_text())
    meta["channel_names"] = {"0": "T1", "1": "T2"}
    (ds / "dataset.json").write_text(json.dumps(meta))
    target = nn.read_target(ds / f"{PLANS}.json", "3d_fullres", "nnUNetTrainer")
    preset = nn.pretrain_preset(load_preset("fdif-paper-resencl"), target)
    cfg = preset.pretrain
    net = build_network(cfg.model, 110, cfg.patch_size, cfg.model_kwargs)
    stem = next(v for k, v in net.state_dict().items() if k.endswith("stem.convs.0.conv.weight"))
    assert stem.shape[1] == 2  # nnU-Net's two-channel stem
    assert net(torch.zeros(1, 1, 24, 32, 32)).shape == (1, 110, 24, 32, 32)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--configuration", "3d_lowres"], "no configuration '3d_lowres'"),
        (["--configuration", "2d"], "is 2D"),
        (["--nnunet-trainer", "nnUNetTrainerNope"], "no nnU-Net trainer"),
        (["--preset", "fdif-paper"], "'swinunetr' has no nnU-Net trainer"),
    ],
)
def test_pretrain_for_plans_refusals(ds, tmp_path, capsys, argv, expected):
    args = ["pretrain", "--preset", "fdif-paper-resencl", "--out", str(tmp_path / "r")]
    args += ["--nnunet-plans", str(ds / f"{PLANS}.json"), *argv]
    if "--preset" in argv:
        args = args[:1] + args[3:]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_plans_without_dataset_json_refused(ds, tmp_path, capsys):
    lone = tmp_path / "plans.json"
    shutil.copy(ds / f"{PLANS}.json", lone)
    args = ["pretrain", "--preset", "fdif-paper-resencl", "--out", str(tmp_path / "r")]
    assert main([*args, "--nnunet-plans", str(lone)]) == 2
    assert "dataset.json: missing" in capsys.readouterr().err


# --------------------------------------------------------------------------- fixed networks
def _fixed_run(tmp_path: Path, model: str, patch: list[int]) -> Path:
    from fdif_core.presets.preset import parse_preset

    preset = parse_preset(
        {"classes": {"include": ["basic"]}, "pretrain": {"model": model, "patch_size": patch}}
    )
    run = tmp_path / model
    run.mkdir()
    _ones_run(run, preset)
    return run


def test_resenc_l_run_becomes_a_plans_identifier_nnunet_trains_with(ds, tmp_path, capsys):
    run = _fixed_run(tmp_path, "resenc_l", [32, 32, 32])
    argv = ["export-weights", str(run), "--dataset", "990", "--plans", PLANS]
    assert main(argv) == 0
    assert "-p fdif_resenc_l -pretrained_weights" in capsys.readouterr().out
    plans = json.loads((ds / "fdif_resenc_l.json").read_text())
    cfg = plans["configurations"]["3d_fullres"]
    assert plans["plans_name"] == "fdif_resenc_l" and list(plans["configurations"]) == [
        "3d_fullres"
    ]
    assert cfg["patch_size"] == [32, 32, 32]
    assert cfg["data_identifier"] == "nnUNetPlans_3d_fullres"  # the preprocessed data reused
    assert cfg["batch_size"] == 3  # 5 x 24*32*32 / 32^3 voxels
    net = _trainer_net(ds, "nnUNetTrainer", plans="fdif_resenc_l")
    load_mod.load_pretrained_weights(net, str(run / "nnunet_Dataset990_Toy_fdif_resenc_l.pth"))
    sd = net.state_dict()
    assert all(bool((sd[k] == 1).all()) for k in sd if ".seg_layers." not in k)
    # existing weights, and a different plans file of that name, are kept unless --overwrite
    assert main(argv) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    other = ["--out", str(tmp_path / "other.pth"), "--patch", "48", "48", "48"]
    assert main([*argv, *other]) == 2
    assert "fdif_resenc_l.json: exists with other contents" in capsys.readouterr().err
    assert json.loads((ds / "fdif_resenc_l.json").read_text()) == plans
    assert main([*argv, "--patch", "48", "48", "48", "--overwrite"]) == 0


def test_primus_m_run_becomes_a_plans_identifier(ds, tmp_path, capsys):
    run = _fixed_run(tmp_path, "primus_m", [16, 16, 16])
    argv = ["export-weights", str(run), "--dataset", "Dataset990_Toy", "--plans", PLANS]
    assert main(argv) == 0
    assert "-tr nnUNet_Primus_M_Trainer" in capsys.readouterr().out
    net = _trainer_net(ds, "nnUNet_Primus_M_Trainer", plans="fdif_primus_m")
    load_mod.load_pretrained_weights(net, str(run / "nnunet_Dataset990_Toy_fdif_primus_m.pth"))
    sd = net.state_dict()
    assert all(bool((sd[k] == 1).all()) for k in sd if k.startswith("eva."))
    assert main([*argv, "--patch", "24", "24", "24"]) == 2
    assert "position embedding" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("config", "channels", "expected"),
    [
        ({"spacing": [5.0, 1.5, 1.5]}, 1, "anisotropic (ratio 3.3 > 3"),
        ({"median_image_size_in_voxels": [12.0, 32.0, 32.0]}, 1, "over twice the median image"),
        ({}, 2, "2 input channels"),
    ],
)
def test_incompatible_targets_refused(ds, tmp_path, capsys, config, channels, expected):
    _edit(ds, "edited", **config)
    if channels > 1:
        meta = json.loads((ds / "dataset.json").read_text())
        meta["channel_names"] = {str(i): "MR" for i in range(channels)}
        (ds / "dataset.json").write_text(json.dumps(meta))
    run = _fixed_run(tmp_path, "resenc_l", [32, 32, 32])
    assert main(["export-weights", str(run), "--dataset", "990", "--plans", "edited"]) == 2
    err = capsys.readouterr().err
    assert expected in err and "--nnunet-plans" in err and len(err.strip().splitlines()) == 1
    assert not (ds / "fdif_resenc_l.json").exists()


def test_missing_plans_and_datasets_are_one_line(ds, tmp_path, capsys, monkeypatch):
    run = _fixed_run(tmp_path, "resenc_l", [32, 32, 32])
    assert main(["export-weights", str(run), "--dataset", "990"]) == 2
    assert f"plans there: {PLANS}" in capsys.readouterr().err
    assert main(["export-weights", str(run), "--dataset", "991"]) == 2
    assert "found: Dataset990_Toy" in capsys.readouterr().err
    assert main(["export-weights", str(run)]) == 2
    assert "--dataset" in capsys.readouterr().err
    monkeypatch.delenv("nnUNet_preprocessed")
    assert main(["export-weights", str(run), "--dataset", "990"]) == 2
    assert "$nnUNet_preprocessed is not set" in capsys.readouterr().err


def test_target_checks_raise_user_errors(ds):
    with pytest.raises(UserError, match="not an nnU-Net v2 plans file"):
        (ds / "x.json").write_text("{}")
        nn.read_target(ds / "x.json")


def test_swinunetr_run_has_no_nnunet_export(tmp_path, capsys):
    run = tmp_path / "swin"
    state = {"model": {}, "optimizer": {}, "scheduler": {}, "step": 1, "preset_hash": "x"}
    save_checkpoint(run / "last.pt", {**state, "model_name": "swinunetr"})
    assert main(["export-weights", str(run), "--dataset", "990"]) == 2
    err = capsys.readouterr().err
    assert "no nnU-Net counterpart" in err and len(err.strip().splitlines()) == 1


def test_primus_refuses_a_patch_not_divisible_by_8(ds, tmp_path, capsys):
    _edit(ds, "odd", patch_size=[20, 32, 32])
    args = ["pretrain", "--preset", "fdif-paper-primus", "--out", str(tmp_path / "r")]
    assert main([*args, "--nnunet-plans", str(ds / "odd.json")]) == 2
    err = capsys.readouterr().err
    assert "nnUNet_Primus_M_Trainer cannot build a network" in err and "[20, 32, 32]" in err
    assert "every edge must be a multiple of 8; 20 is not" in err and "[24, 32, 32]" in err
    assert len(err.strip().splitlines()) == 1
