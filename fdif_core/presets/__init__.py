"""Preset schema and loading."""

from .finetune import FinetuneConfig
from .preset import (
    Preset,
    PresetError,
    load_preset,
    parse_preset,
    preset_from_text,
    resolve_path,
)
from .pretrain import PretrainConfig

__all__ = [
    "FinetuneConfig",
    "Preset",
    "PresetError",
    "PretrainConfig",
    "load_preset",
    "parse_preset",
    "preset_from_text",
    "resolve_path",
]
