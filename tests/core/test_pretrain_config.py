"""The shipped presets' pretrain: sections (METHOD.md §6 for the paper)."""

from __future__ import annotations

from fdif_core.networks import NETWORKS
from fdif_core.presets import load_preset


def test_paper_recipe():
    p = load_preset("fdif-paper")
    c = p.pretrain
    assert (c.model, c.model_kwargs["feature_size"], c.patch_size) == ("swinunetr", 48, (96,) * 3)
    assert (c.lr, c.weight_decay, c.warmup_steps, c.iterations) == (1e-4, 1e-5, 500, 30000)
    assert (c.batch_size, c.augment.crops_per_volume, c.num_volumes) == (1, 4, 5000)
    assert c.loss == "dice_ce" and c.amp != "off" and c.val_interval == 500
    a = c.augment
    assert (a.flip_prob, a.rot90_prob, a.shift_intensity, a.intensity_prob) == (
        0.1,
        0.1,
        0.1,
        0.5,
    )
    assert len(p.recipe().label_names) == 110  # DiceCE over 110 channels


def test_quickstart_is_a_cpu_recipe():
    p = load_preset("quickstart")
    c = p.pretrain
    assert c.model == "unet_small" and c.amp == "off"
    assert NETWORKS.get(c.model).problem(c.patch_size, c.model_kwargs) is None
    assert "pretrain" in p.model_fields_set
