"""The FDIF Studio dock: every panel in one tab widget, and the Plots dock beside it."""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QTabWidget

from .common import scroll
from .designer import Designer
from .export import Export
from .gallery import Gallery
from .plots import Plots
from .preset_editor import PresetEditor
from .scans import Scans
from .scene import Scene
from .views import Views

TABS = ("Designer", "Gallery", "Scene", "Preset", "View", "Scan", "Export")


class Studio(QTabWidget):
    """All studio panels in one dock; the Plots open as a second dock in the same window."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.designer = Designer(napari_viewer)
        self.gallery = Gallery(napari_viewer)
        self.scene = Scene(napari_viewer)
        self.preset_editor = PresetEditor(napari_viewer)
        self.views = Views(napari_viewer)
        self.scans = Scans(napari_viewer)
        self.export = Export(napari_viewer)
        panels = (self.designer.native, self.gallery, self.scene.native, self.preset_editor,
                  self.views.native, self.scans.native, self.export.native)  # fmt: skip
        for name, widget in zip(TABS, panels, strict=True):
            self.addTab(widget if name == "Gallery" else scroll(widget), name)
        self.setMinimumWidth(400)
        self.plots = Plots(napari_viewer)
        window = getattr(napari_viewer, "window", None)
        if window is not None:
            window.add_dock_widget(self.plots, name="FDIF Plots", area="bottom")
