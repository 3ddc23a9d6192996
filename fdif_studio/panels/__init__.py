"""The studio's napari dock widgets, one module per panel, each a thin view over the model.

``designer`` (one primitive, live), ``scene`` (samples of the edited preset),
``preset_editor`` (classes, textures, volume, labels), ``export`` (NIfTI + PNG + design),
``studio`` (all of them in one tab widget); ``common`` holds the shared plumbing.
"""

from __future__ import annotations

from .designer import Designer
from .export import Export
from .preset_editor import PresetEditor
from .scene import Scene
from .studio import Studio

__all__ = ["Designer", "Export", "PresetEditor", "Scene", "Studio"]
