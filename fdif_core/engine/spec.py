"""The engine's input: a recipe as plain, resolved data (no preset model, no file names).

The preset layer (``fdif_core.presets``) resolves names, globs and defaults into one
``EngineSpec``; everything below it takes only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .pose import PoseRanges
from .textures.displacements import Displacement
from .textures.mappers import Mapper
from .types import Range, Shape3

LabelMode = Literal["augmentation", "classes", "multitask"]
Geometry = Literal["authors", "exact"]
GridFrame = Literal["centred", "authors"]


@dataclass(frozen=True)
class ClassificationSpec:
    """Single-object classification variant: object size scale and image normalisation."""

    size_scale: float = 1.3
    normalize: Literal["zscore", "none"] = "zscore"


@dataclass(frozen=True)
class EngineSpec:
    """Everything Algorithm 1 needs, resolved: classes in label order and their ranges,
    texture instances, pose ranges, volume frame, label layout and the seed."""

    classes: list[str]
    mappers: list[Mapper]
    displacements: list[Displacement]
    shape: Shape3 = (96, 96, 96)
    seed: int = 0
    per_volume: int = 20
    ranges: dict[str, dict[str, Range]] = field(default_factory=dict)
    pose: PoseRanges = field(default_factory=PoseRanges)
    include_none: bool = True
    displacement_space: Literal["object", "world"] = "object"
    clip: Range = (0.0, 128.0)
    label_mode: LabelMode = "augmentation"
    combine: tuple[str, ...] = ("mapper",)
    classification: ClassificationSpec = field(default_factory=ClassificationSpec)
    geometry: dict[str, Geometry] = field(default_factory=dict)
    """Per class: ``authors`` (the released generator's fields) or ``exact`` (the default)."""
    grid: GridFrame = "centred"
    """Voxel coordinates: ``centred`` (voxel centres at +-(G-1)/2) or ``authors`` (-G/2 ..
    G/2 - 1 with x the last array axis, displacement coordinates divided by G/2 - 1)."""
