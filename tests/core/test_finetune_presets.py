"""The shipped fine-tuning presets load, and their networks accept their patches."""

from __future__ import annotations

import pytest

from fdif_core.cli.commands.finetune import load_finetune_preset
from fdif_core.errors import UserError
from fdif_core.networks import NETWORKS
from fdif_core.presets.preset import PRESET_DIR

NAMES = sorted(p.stem for p in (PRESET_DIR / "finetune").glob("*.yaml"))


def test_benchmark_presets_are_shipped():
    assert {"btcv", "amos", "acdc", "kits", "quick"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_preset_loads_by_short_name(name):
    cfg = load_finetune_preset(name).finetune
    NETWORKS.get(cfg.model).check_patch(cfg.patch_size, cfg.model_kwargs)
    if cfg.preprocess.normalization == "window":
        assert cfg.preprocess.ct_window is not None


def test_btcv_follows_the_paper_protocol():
    cfg = load_finetune_preset("btcv").finetune
    assert cfg.model == "swinunetr" and cfg.iterations == 20000 and cfg.lr == 1e-4
    assert cfg.preprocess.ct_window == (-175, 250) and cfg.preprocess.spacing == (1.5, 1.5, 2.0)


def test_unknown_preset_lists_shipped_ones():
    with pytest.raises(UserError, match="shipped presets"):
        load_finetune_preset("nope")
