"""``fdif-core report``: per-class Dice of a pre-training run and its labelled figure."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fdif_core.cli.main import main
from fdif_core.evaluation.run_report import class_dice, predict_validation, report_run
from fdif_core.presets import parse_preset
from fdif_core.training.pretrain import pretrain
from tests.core.conftest import preset_data


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("report") / "run"
    preset = parse_preset(preset_data("pretrain", iterations=2, val_interval=2, val_volumes=2))
    pretrain(preset, out, progress=False)
    return out


def test_class_dice_known_values():
    label = np.zeros((4, 4, 4), np.uint8)
    label[:2] = 1
    label[2:, :2] = 2
    pred = label.copy()
    pred[2:, :2][:, :1] = 0  # half of class 2 missed
    items = [{"pred": pred, "label": label}]
    dice = class_dice(items, ["background", "a", "b", "c"])
    assert dice["a"] == 1.0 and dice["b"] == pytest.approx(2 / 3) and dice["c"] is None


def test_report_prints_classes_checkpoint_and_next_command(run_dir, capsys, tmp_path):
    assert main(["report", str(run_dir), "--finetune-data", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    rep = report_run(run_dir)
    for name, v in rep["dice"].items():
        assert name in out and (v is None or 0.0 <= v <= 1.0)
    assert f"checkpoint: {run_dir / 'best.pt'}" in out
    assert "fdif-core fetch-data tptbox-spine" in out and "fdif-core finetune" in out
    with Image.open(run_dir / "report.png") as im:
        assert im.size[0] >= 1200 and im.size[1] >= 800  # readable without zooming


def test_more_volumes_continue_the_validation_sequence(run_dir):
    two = report_run(run_dir, run_dir / "two.png")
    three = report_run(run_dir, run_dir / "three.png", volumes=3)
    assert two["volumes"] == 2 and three["volumes"] == 3
    assert main(["report", str(run_dir), "--volumes", "0"]) == 2


def test_report_refuses_a_folder_without_checkpoint(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "best.pt" in err and len(err.strip().splitlines()) == 1


def test_report_scores_the_volumes_validation_scored(tiny):
    """The report renders validation volumes as pre-training does (``render_shape``), the
    same indices and pixels that the run's validation scored."""
    from fdif_core.networks import build_network
    from fdif_core.synthetic.stream import StreamConfig, val_indices

    preset = tiny(render_shape=[12, 12, 12], patch_size=[8, 8, 8], val_volumes=2)
    model = build_network("unet_small", len(preset.recipe().label_names), (8, 8, 8),
                          {"features_per_stage": [4, 8]}).eval()  # fmt: skip
    items = predict_validation(model, preset, volumes=3)
    stream = StreamConfig.of(preset)
    assert [it["index"] for it in items] == val_indices(stream, 3)
    assert val_indices(stream, 3)[:2] == val_indices(stream)
    sample = preset.recipe().sample(items[0]["index"], (12, 12, 12))
    for it in items:
        assert it["image"].shape == it["label"].shape == it["pred"].shape == (12, 12, 12)
    np.testing.assert_array_equal(items[0]["label"], sample.label.numpy())


def test_streamed_report_scores_what_the_held_list_scores(run_dir):
    """``report`` holds one volume at a time; its Dice equals scoring all volumes held."""
    import types

    from fdif_core.evaluation.run_report import iter_validation, load_pretrained_run

    model, preset, ckpt = load_pretrained_run(run_dir)
    stream = iter_validation(model, preset, volumes=3)
    assert isinstance(stream, types.GeneratorType)  # nothing rendered before it is asked
    held = class_dice(predict_validation(model, preset, volumes=3), list(ckpt["label_names"]))
    rep = report_run(run_dir, run_dir / "streamed.png", volumes=3)
    assert rep["dice"] == held and rep["volumes"] == 3
