"""Dataset export: a preset's samples as MONAI Decathlon or nnU-Net v2 datasets."""

from __future__ import annotations

from .jobs import STRATEGIES, Result, generate
from .layouts import FORMATS, TASKS, ExportCase, ExportPlan
from .manifest import JOURNAL, MANIFEST, PRESET_FILE, data_hash

__all__ = [
    "FORMATS",
    "JOURNAL",
    "MANIFEST",
    "PRESET_FILE",
    "STRATEGIES",
    "TASKS",
    "ExportCase",
    "ExportPlan",
    "Result",
    "data_hash",
    "generate",
]
