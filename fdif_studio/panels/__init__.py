"""The studio's napari dock widgets, one module per panel, each a thin view over the model.

The panels are listed once, in ``fdif_studio.panel_list.PANELS`` (class, module, menu
name, tab); this package exports each by its class name, importing its module when first
asked for. ``common`` and ``layers`` hold the shared plumbing and how volumes are drawn.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ..panel_list import ALL

__all__ = [p.cls for p in ALL]
_MODULES = {p.cls: p.module for p in ALL}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)
    raise AttributeError(name)


def panel_class(module: str, cls: str) -> type:
    """The class ``cls`` of panel module ``module`` (imports it)."""
    return getattr(import_module(f"{__name__}.{module}"), cls)
