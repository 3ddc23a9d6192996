"""FDIF Studio: a napari plugin to design primitives, textures and presets live.

Open with ``napari -w fdif-studio``. The panels (``fdif_studio.panels``, one module each,
listed once in ``fdif_studio.panel_list``) are thin views over the Qt-free model
(``fdif_studio.model``); previews are rendered by ``fdif_core`` (``fdif_studio.model.render``).
"""

from __future__ import annotations

from .panel_list import ALL

__all__ = [*(p.cls for p in ALL), "make_sample"]


def __getattr__(name: str):  # the widgets import Qt: load them only when asked for
    if name == "make_sample":
        from ._sample_data import make_sample

        return make_sample
    if name in __all__:
        from . import panels

        return getattr(panels, name)
    raise AttributeError(name)
