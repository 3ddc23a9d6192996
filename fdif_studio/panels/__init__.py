"""The studio's napari dock widgets, one module per panel, each a thin view over the model.

``designer`` (one primitive, live; undo/redo), ``gallery`` (the classes as thumbnails),
``scene`` (samples of the edited preset), ``preset_editor`` (classes, textures, volume,
labels), ``views`` (window/level, label outlines, three planes, 3D camera), ``scans``
(a real scan: region, statistics, match), ``compare`` (region beside the
texture fitted to it, histograms, spectra, apply), ``plots`` (g(d), Δ profile, histograms),
``export`` (NIfTI + PNG + design file), ``studio`` (all in one dock). ``common`` and
``layers`` hold the shared plumbing and how volumes are drawn.
"""

from __future__ import annotations

from .compare import Compare
from .designer import Designer
from .export import Export
from .gallery import Gallery
from .plots import Plots
from .preset_editor import PresetEditor
from .scans import Scans
from .scene import Scene
from .studio import Studio
from .views import Views

__all__ = [
    "Compare",
    "Designer",
    "Export",
    "Gallery",
    "Plots",
    "PresetEditor",
    "Scans",
    "Scene",
    "Studio",
    "Views",
]
