"""Dataset export: a preset's samples as MONAI Decathlon or nnU-Net v2 datasets."""

from __future__ import annotations

from .jobs import STRATEGIES, Result, generate
from .layouts import FORMATS, TASKS, Case, Plan
from .manifest import JOURNAL, MANIFEST, PRESET_FILE, data_hash

__all__ = [
    "FORMATS",
    "JOURNAL",
    "MANIFEST",
    "PRESET_FILE",
    "STRATEGIES",
    "TASKS",
    "Case",
    "Plan",
    "Result",
    "data_hash",
    "generate",
]
