"""FDIF engine: formula-driven synthetic volumes for 3D segmentation pre-training.

The public names below are imported on first use, so ``import fdif_core`` (and
``fdif-core --help``) does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.3.0"  # the one version source (pyproject reads it)

_EXPORTS = {
    "ObjectSpec": "engine.compose",
    "Recipe": "engine.compose",
    "Sample": "engine.compose",
    "sample_seed": "engine.compose",
    "Preset": "presets",
    "PresetError": "presets",
    "load_preset": "presets",
    "DISPLACEMENTS": "engine.textures.displacements",
    "Displacement": "engine.textures.displacements",
    "UserError": "errors",
    "MAPPERS": "engine.textures.mappers",
    "Mapper": "engine.textures.mappers",
    "FDIF_CLASSES": "engine.sdf",
    "PRIMITIVES": "engine.sdf",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fdif_core' has no attribute {name!r}")
