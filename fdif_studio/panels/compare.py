"""The comparison view: a scan region beside the texture fitted to it.

ScanRegion and fitted design are drawn side by side as the same slice (axial, coronal or
sagittal, chosen from the scan's affine), with one window/level and one mm scale; below
them the two histograms (region, histogram-only fit, texture fit) and the two radially
averaged power spectra, with the distances before and after. "Apply" adds the fitted
displacement and mapper to the preset being edited and gives them to the design.

The fit is ``fdif_core.matching.fit_region`` (``model.matching``), the one ``fdif-core
match`` runs. The Scan panel's "Match texture to region" fits and opens this view.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import Any

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.utils.notifications import show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from ..model import matching
from .common import BG, FG, guarded, session_for, style_axes, style_legend

COLORS = {"region": "#e8e8e8", "before": "#a0a0a0", "after": "#f0a030"}
_OPEN: weakref.WeakKeyDictionary[Any, weakref.ref[Compare]] = weakref.WeakKeyDictionary()
# viewer -> its comparison view, both weakly (the dock keeps the view alive, not this table)


class Compare(QWidget):
    """ScanRegion | fitted design (same slice, window and mm scale), histograms, spectra."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.view = QComboBox()
        self.view.addItems(list(matching.VIEWS))
        self.slice = QSlider(Qt.Horizontal)
        self.apply_button = QPushButton("Apply: add to the preset")
        self.text = QLabel("Match a region in the Scan panel to compare it here.")
        self.text.setWordWrap(True)
        self.figure = Figure(figsize=(8.0, 6.0), facecolor=BG)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.axes = self.figure.subplots(2, 2)
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.08, top=0.93, hspace=0.35)
        row = QHBoxLayout()
        for w in (QLabel("view"), self.view, QLabel("slice"), self.slice, self.apply_button):
            row.addWidget(w)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.text)
        layout.addWidget(self.canvas)
        self.setMinimumSize(480, 420)
        self.drawn = 0  # redraw count (tests)
        self.view.currentTextChanged.connect(lambda _=None: self.redraw(reset_slice=True))
        self.slice.valueChanged.connect(lambda _=None: self.redraw())
        self.apply_button.clicked.connect(self._on_apply)
        self.session.connect("region", self.on_region)
        self.on_region()

    @property
    def result(self) -> matching.MatchResult | None:
        m = self.session.match
        return m if isinstance(m, matching.MatchResult) else None

    def on_region(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed dock
            self.apply_button.setEnabled(self.result is not None)
            self.redraw(reset_slice=True)

    def redraw(self, reset_slice: bool = False) -> None:
        """Draw the four plots from the session's match (nothing before a match)."""
        r = self.result
        for ax in self.axes.ravel():
            ax.clear()
            style_axes(ax)
        if r is None:
            self.canvas.draw_idle()
            return
        view = self.view.currentText()
        axis = matching.view_axis(r.region.affine, view)
        if reset_slice:
            self.slice.blockSignals(True)
            self.slice.setRange(0, r.region.shape[axis] - 1)
            self.slice.setValue(r.region.shape[axis] // 2)
            self.slice.blockSignals(False)
        a, b, extent, i = matching.slices(r, view, self.slice.value())
        lo, hi = matching.window(r)
        for ax, img, title in ((self.axes[0, 0], a, "scan region"),
                               (self.axes[0, 1], b, "fitted design")):  # fmt: skip
            ax.imshow(img, cmap="gray", vmin=lo, vmax=hi, extent=extent, interpolation="nearest")
            ax.set_title(f"{title}: {view} slice {i}, window {lo:.0f}..{hi:.0f} (scan units)",
                         color=FG, fontsize=7)  # fmt: skip
            ax.set_xlabel("mm", color=FG, fontsize=7)
            ax.set_ylabel("mm", color=FG, fontsize=7)
        self.draw_histograms(self.axes[1, 0], r)
        self.draw_spectra(self.axes[1, 1], r)
        self.text.setText(matching.distances_text(r))
        self.canvas.draw_idle()
        self.drawn += 1

    @staticmethod
    def draw_histograms(ax: Any, r: matching.MatchResult) -> None:
        h = matching.histograms(r)
        for key in ("region", "before", "after"):
            ax.stairs(h[key], h["edges"], color=COLORS[key], label=key)
        ax.set_title(f"histograms: W1 {r.before.w1:.2f} → {r.after.w1:.2f} (scan units)",
                     color=FG, fontsize=7)  # fmt: skip
        ax.set_xlabel("intensity (scan units)", color=FG, fontsize=7)
        style_legend(ax)

    @staticmethod
    def draw_spectra(ax: Any, r: matching.MatchResult) -> None:
        for key in ("region", "before", "after"):
            s = r.spectra[key]
            ax.semilogy(s.k, np.maximum(s.density, 1e-12), color=COLORS[key], lw=1.2, label=key)
        ax.set_title(f"power spectra: W1 {r.before.spectrum:.4f} → {r.after.spectrum:.4f} "
                     "cycles/mm", color=FG, fontsize=7)  # fmt: skip
        ax.set_xlabel("spatial frequency |k| (cycles/mm)", color=FG, fontsize=7)
        ax.set_ylabel("power (share)", color=FG, fontsize=7)
        style_legend(ax)

    @guarded
    def _on_apply(self, _: Any = None) -> tuple[str, str] | None:
        return self.apply()

    def apply(self) -> tuple[str, str]:
        """Add the fitted instances to the preset being edited and use them in the design."""
        r = self.result
        if r is None:
            raise ValueError("match a region in the Scan panel first")
        names = matching.apply(self.session, r)
        self.session.history.record()
        self.session.emit("draft")
        self.session.emit("design")
        show_info(f"added {names[0]} and {names[1]} to the preset (enabled)")
        return names


def open_compare(viewer: Any) -> Compare:
    """The viewer's comparison view, docked once (right of the canvas) and raised."""
    key = getattr(viewer, "__wrapped__", viewer)
    ref = _OPEN.get(key)
    panel = ref() if ref is not None else None
    if panel is None:
        panel = Compare(viewer)
        _OPEN[key] = weakref.ref(panel)
        window = getattr(viewer, "window", None)
        if window is not None:
            window.add_dock_widget(panel, name="FDIF Compare", area="right")
    panel.on_region()
    return panel


def match_and_compare(viewer: Any, scan: np.ndarray, mask: np.ndarray,
                      spacing: tuple[float, ...], affine: np.ndarray | None,
                      name: str) -> matching.MatchResult:  # fmt: skip
    """Fit the region (``model.matching``), keep it in the session and show it compared."""
    session = session_for(viewer)
    result = matching.match_region(session, scan, mask, spacing, affine, name)
    open_compare(viewer)
    session.emit("region")
    return result
