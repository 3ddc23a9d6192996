"""The studio's Qt-free model: what the panels show and edit, rendered by ``fdif_core``.

- ``knobs``: shape controls of a primitive class -> engine parameters;
- ``textures``: displacement and mapper parameter bounds and checks;
- ``design``: ``DesignState`` (one primitive being designed) -> ``Recipe`` + ``ObjectSpec``;
- ``draft``: ``PresetDraft`` (the preset being edited; load, validate, save);
- ``session``: ``Session`` (design, draft and last sample of one viewer);
- ``render``: the engine's field on a grid, slices and the isosurface.

Nothing here imports Qt or napari, so all of it is tested without a display.
"""

from __future__ import annotations

from .design import DesignRequest, DesignState
from .draft import (
    LABEL_MODES,
    PresetDraft,
    TextureEntry,
    compress_classes,
    families,
    merge_order,
)
from .knobs import KNOBS, Knob, build_params, knob_names, knobs_for, polygon_vertices
from .session import Session
from .textures import (
    INTEGER_PARAMS,
    NONE,
    PARAM_BOUNDS,
    check_instance_name,
    check_texture_params,
)

__all__ = [
    "INTEGER_PARAMS",
    "KNOBS",
    "LABEL_MODES",
    "NONE",
    "PARAM_BOUNDS",
    "DesignRequest",
    "DesignState",
    "Knob",
    "PresetDraft",
    "Session",
    "TextureEntry",
    "build_params",
    "check_instance_name",
    "check_texture_params",
    "compress_classes",
    "families",
    "knob_names",
    "knobs_for",
    "merge_order",
    "polygon_vertices",
]
