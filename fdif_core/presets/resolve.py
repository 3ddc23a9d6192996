"""Preset -> engine: resolve names, globs and defaults into the engine's plain ``EngineSpec``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..engine.compose import Recipe
from ..engine.pose import PoseRanges
from ..engine.spec import ClassificationSpec, EngineSpec

if TYPE_CHECKING:
    from .preset import Preset


def engine_spec(preset: Preset) -> EngineSpec:
    """The resolved recipe of ``preset``: what the engine renders, nothing else."""
    classes = preset.classes.names()
    return EngineSpec(
        classes=classes,
        mappers=preset.mappers.instances(),
        displacements=preset.displacements.instances(),
        shape=tuple(preset.volume.shape),  # type: ignore[arg-type]
        seed=preset.seed,
        per_volume=preset.objects.per_volume,
        ranges={c: preset.classes.ranges_for(c) for c in classes},
        pose=PoseRanges(preset.pose.translation, preset.pose.rotation, preset.pose.shear),
        include_none=preset.displacements.include_none,
        displacement_space=preset.displacements.space,
        clip=tuple(preset.intensity.clip),  # type: ignore[arg-type]
        label_mode=preset.labels.mode,
        combine=tuple(preset.labels.combine),
        classification=ClassificationSpec(
            preset.classification.size_scale, preset.classification.normalize
        ),
        geometry={c: preset.geometry.style_of(c) for c in classes},
        grid=preset.geometry.grid_frame(),
    )


def recipe(preset: Preset) -> Recipe:
    """A renderable ``Recipe`` of ``preset`` (resolve once per run and pass it on)."""
    return Recipe(engine_spec(preset))
