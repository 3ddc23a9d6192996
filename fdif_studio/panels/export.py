"""The Export panel: writes the Scene's sample (or the design), the design's settings and
the edited preset (what ``fdif-core`` reads back).

All the work is ``model.exports.export_sample``; the panel only reads its fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from magicgui.widgets import ComboBox, Container, FileEdit, Label, LineEdit, PushButton
from napari.utils.notifications import show_info

from ..model.exports import SOURCES, export_sample
from .common import guarded, session_for


class Export(Container):
    """Save the scene sample (or the design) as NIfTI image + label, a PNG montage, the
    Designer's settings (``<stem>_design.yaml``, reopened by the Designer's Open design)
    and the edited preset (``<stem>_preset.yaml``, for ``fdif-core``)."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self._source = ComboBox(choices=list(SOURCES), value=SOURCES[0], label="source")
        self._dir = FileEdit(mode="d", label="folder")
        self._stem = LineEdit(value="fdif_sample", label="file stem")
        self._go = PushButton(text="Export NIfTI + PNG + design + preset")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)
        self.extend([self._source, self._dir, self._stem, self._go, self._status])
        self._go.changed.connect(self._on_export)

    @guarded
    def _on_export(self, _: Any = None) -> None:
        folder = str(self._dir.value)
        if not folder or folder == ".":
            raise ValueError("choose an output folder")
        paths = self.export(folder, str(self._stem.value), str(self._source.value))
        self._status.value = f"wrote {len(paths)} files to {folder}"
        show_info(f"exported {', '.join(p.name for p in paths)}")

    def export(self, folder: str | Path, stem: str, source: str = "scene sample") -> list[Path]:
        """Write the five files (see ``model.exports.export_sample``); returns their paths."""
        return export_sample(self.session, folder, stem, source)
