"""Tiny presets for the pre-training tests (CPU, seconds)."""

from __future__ import annotations

import copy
from typing import Any

from fdif_core.presets import Preset, parse_preset

TINY: dict[str, Any] = {
    "version": 1,
    "name": "tiny",
    "seed": 3,
    "volume": {"shape": [24, 24, 24]},
    "objects": {"per_volume": 3},
    "classes": {"include": ["basic"]},
    "displacements": {"enabled": ["perlin_fine"]},
    "mappers": {"enabled": ["linear_slope_10.0"]},
    "dataset": {"num_samples": 50},
    "pretrain": {
        "model": "unet_small",
        "model_kwargs": {"features_per_stage": [4, 8, 16]},
        "patch_size": [16, 16, 16],
        "batch_size": 2,
        "iterations": 6,
        "warmup_steps": 1,
        "val_interval": 3,
        "val_volumes": 1,
        "checkpoint_interval": 3,
        "num_workers": 0,
    },
}


def tiny(**pretrain: Any) -> Preset:
    """The tiny preset with ``pretrain`` fields overridden."""
    data = copy.deepcopy(TINY)
    data["pretrain"].update(pretrain)
    return parse_preset(data, "tiny")
