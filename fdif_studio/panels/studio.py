"""The FDIF Studio dock: every panel in one tab widget."""

from __future__ import annotations

from typing import Any

from qtpy.QtWidgets import QTabWidget

from .common import scroll
from .designer import Designer
from .export import Export
from .preset_editor import PresetEditor
from .scene import Scene


class Studio(QTabWidget):
    """All four studio panels in one dock: Designer, Scene, Preset, Export."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.designer = Designer(napari_viewer)
        self.scene = Scene(napari_viewer)
        self.preset_editor = PresetEditor(napari_viewer)
        self.export = Export(napari_viewer)
        self.addTab(scroll(self.designer.native), "Designer")
        self.addTab(scroll(self.scene.native), "Scene")
        self.addTab(scroll(self.preset_editor), "Preset")
        self.addTab(scroll(self.export.native), "Export")
        self.setMinimumWidth(400)
