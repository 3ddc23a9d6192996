"""FDIF engine: formula-driven synthetic volumes for 3D segmentation pre-training."""

from __future__ import annotations

__version__ = "0.1.0"

from .compose import ObjectSpec, Recipe, Sample, sample_seed
from .config import Preset, PresetError, load_preset
from .displacements import DISPLACEMENTS, Displacement
from .errors import UserError
from .mappers import MAPPERS, Mapper
from .sdf import FDIF_CLASSES, PRIMITIVES

__all__ = [
    "DISPLACEMENTS",
    "FDIF_CLASSES",
    "MAPPERS",
    "PRIMITIVES",
    "Displacement",
    "Mapper",
    "ObjectSpec",
    "Preset",
    "PresetError",
    "Recipe",
    "Sample",
    "UserError",
    "__version__",
    "load_preset",
    "sample_seed",
]
