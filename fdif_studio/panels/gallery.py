"""The Gallery panel: every primitive class as a thumbnail; a click designs it.

Thumbnails come from the engine (``model.gallery``), drawn in a worker thread on first
use and cached on disk, so later openings are instant. A search box (words of the name,
``star 6``) and a family filter narrow the list; a tooltip names each class's family.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QSize, Qt
from qtpy.QtGui import QIcon
from qtpy.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..model import families
from ..model.gallery import SIZE, thumbnail
from .common import guarded, session_for

ALL = "all families"


def _thumbnails(names: list[str]):
    for name in names:
        yield name, str(thumbnail(name))


class Gallery(QWidget):
    """The classes by family, as engine-drawn thumbnails; click one to design it."""

    def __init__(self, napari_viewer: Any, threaded: bool = True) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.list = QListWidget()
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(SIZE, SIZE))
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setGridSize(QSize(SIZE + 36, SIZE + 34))
        self.list.setWordWrap(True)
        self.status = QLabel("")
        self.search = QLineEdit()
        self.search.setPlaceholderText("search: words of the name (star 6, torus)")
        self.search.setClearButtonEnabled(True)
        self.family = QComboBox()
        self.family.addItems([ALL, *families()])
        top = QHBoxLayout()
        top.addWidget(self.search, 2)
        top.addWidget(self.family, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self.list)
        self.items: dict[str, QListWidgetItem] = {}
        self.family_of: dict[str, str] = {}
        for fam, members in families().items():
            for name in members:
                item = QListWidgetItem(name)
                item.setData(Qt.ItemDataRole.UserRole, name)
                item.setToolTip(f"{name} (family {fam})")
                self.list.addItem(item)
                self.items[name] = item
                self.family_of[name] = fam
        self.list.itemClicked.connect(self._on_click)
        self.search.textChanged.connect(self.filter)
        self.family.currentTextChanged.connect(self.filter)
        self.pending = list(self.items)
        self._worker: Any = None
        self.threaded = threaded

    def filter(self, _: Any = None) -> list[str]:
        """Show the classes whose name holds every word of the search, in the chosen
        family; returns their names."""
        words = self.search.text().lower().replace("_", " ").split()
        fam = self.family.currentText()
        shown = []
        for name, item in self.items.items():
            ok = fam in (ALL, self.family_of[name]) and all(w in name.lower() for w in words)
            item.setHidden(not ok)
            if ok:
                shown.append(name)
        self.status.setText(f"{len(shown)} of {len(self.items)} classes: click one to design it")
        return shown

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.load()

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def load(self) -> None:
        """Draw (or read from the cache) the thumbnails not shown yet, off the UI thread."""
        if self._worker is not None or not self.pending:
            return
        names, self.pending = self.pending, []
        self.status.setText(f"drawing {len(names)} thumbnails (cached after the first time)…")
        if not self.threaded:
            for result in _thumbnails(names):
                self._show(result)
            self._done()
            return
        from napari.qt.threading import create_worker

        self._worker = create_worker(_thumbnails, names, _start_thread=False)
        self._worker.yielded.connect(self._show)
        self._worker.finished.connect(self._done)
        self._worker.start()

    def _show(self, result: tuple[str, str]) -> None:
        name, path = result
        self.items[name].setIcon(QIcon(path))

    def _done(self) -> None:
        self._worker = None
        self.filter()

    @guarded
    def _on_click(self, item: QListWidgetItem) -> None:
        self.pick(item.data(Qt.ItemDataRole.UserRole))

    def pick(self, name: str) -> None:
        """Design class ``name`` (knobs at its defaults); the Designer follows."""
        self.session.design.set_primitive(name)
        self.session.history.record()
        self.session.emit("design")
