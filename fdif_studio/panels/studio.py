"""The FDIF Studio dock: every panel of ``PANELS`` with a tab in one tab widget, and the
other panels (the Plots) as docks beside it."""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QTabWidget

from ..panel_list import PANELS
from . import panel_class
from .common import scroll


class Studio(QTabWidget):
    """All studio panels in one dock; each is also an attribute (``studio.designer``)."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        docks = []
        for p in (p for p in PANELS if p.with_studio):
            panel = panel_class(p.module, p.cls)(napari_viewer)
            setattr(self, p.attr, panel)
            if p.tab is None:
                docks.append((p, panel))
                continue
            widget = getattr(panel, "native", panel)
            self.addTab(scroll(widget) if p.scroll else widget, p.tab)
        self.setMinimumWidth(400)
        window = getattr(napari_viewer, "window", None)
        if window is not None:
            for p, panel in docks:
                window.add_dock_widget(panel, name=f"FDIF {p.widget}", area="bottom")
