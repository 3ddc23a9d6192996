"""The Plots dock: the functions being designed, drawn live with matplotlib (Qt backend).

- the mapper g(d) over signed distance, with the distance range the design's voxels hold;
- the displacement Δ along x through the object's centre (x: a formula's x, the Pose
  panel's and the viewer's x), its amplitude (max |Δ| on that line, mm) and the family's
  stated bounds (what culling relies on);

Distances are in the preset's voxels (the reference grid, whatever the preview's
resolution), with their size in mm on each axis.
- intensity histograms: the design's object, the Scene's foreground, a scan region; after
  a match, the region against the design before and after (in scan units).

A redraw (about 0.3 s of matplotlib on the 2-core CPU) waits until changes pause for
0.4 s, like the full-resolution render, so dragging a slider never waits for the plots;
redraws are skipped while the dock is hidden.
"""

from __future__ import annotations

import contextlib
from typing import Any

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QVBoxLayout, QWidget

from ..model import analysis
from ..model.matching import histograms
from .common import BG, FG, session_for, style_axes, style_legend

SETTLE_MS = 400  # redraw once changes pause (as the full-resolution render): drags stay fast
COLORS = {"design": "#f0a030", "scene": "#60a8f0", "region": "#e8e8e8",
          "before": "#a0a0a0", "after": "#f0a030"}  # fmt: skip


class Plots(QWidget):
    """Three live plots side by side (a dock under the canvas): mapper g(d), displacement
    profile, intensity histograms."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.figure = Figure(figsize=(11.0, 2.6), facecolor=BG)  # fixed margins: a
        self.canvas = FigureCanvasQTAgg(self.figure)  # constrained layout costs 0.8 s a draw
        self.axes = self.figure.subplots(1, 3)
        self.figure.subplots_adjust(left=0.04, right=0.99, bottom=0.2, top=0.8, wspace=0.18)
        QVBoxLayout(self).addWidget(self.canvas)
        self.setMinimumSize(640, 220)
        self.drawn = 0  # redraw count (tests)
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.redraw)
        for event in ("rendered", "sample", "region"):
            self.session.connect(event, self.schedule)
        self.schedule()

    def schedule(self) -> None:
        with contextlib.suppress(RuntimeError):  # a closed dock
            self._timer.start()

    @property
    def busy(self) -> bool:
        return self._timer.isActive()

    def redraw(self) -> None:
        """Draw all three plots from the session (the last design render, scene, region)."""
        if not self.isVisible() and self.drawn:
            return
        for ax in list(self.figure.axes):  # twins of the last redraw go: never stacked axes
            if not any(ax is a for a in self.axes):
                ax.remove()
        for ax in self.axes:
            ax.clear()
            style_axes(ax)
        vol, req = self.session.volumes, self.session.request
        if vol is not None and req is not None:
            self.draw_mapper(self.axes[0], req, vol)
            self.draw_profile(self.axes[1], req)
        self.draw_histograms(self.axes[2])
        self.canvas.draw_idle()
        self.drawn += 1

    @staticmethod
    def draw_mapper(ax: Any, req: Any, vol: Any) -> None:
        curve = analysis.mapper_curve(req, vol.phi)
        ax.plot(curve.x, curve.y, color=COLORS["design"], lw=1.6)
        if curve.marked:
            ax.axvspan(*curve.marked, color=COLORS["design"], alpha=0.15, lw=0)
        ax.axvline(0.0, color=FG, lw=0.6, ls=":")
        name = req.recipe.mappers[req.obj.mapper].family
        vox = _voxel_mm(req)
        ax.set_title(f"mapper g(d): {name}\n(shaded: the d the design holds)", color=FG, fontsize=8)
        ax.set_xlabel(f"signed distance d (preset voxels, 1 = {vox:g} mm)", color=FG, fontsize=7)
        ax.set_ylabel("design intensity", color=FG, fontsize=7)

    @staticmethod
    def draw_profile(ax: Any, req: Any) -> None:
        prof = analysis.displacement_profile(req, axis=0)  # x: a formula's x, Pose's x
        if prof is None:
            ax.set_title("displacement: none", color=FG, fontsize=8)
            return
        ax.plot(prof.s, prof.delta, color=COLORS["design"], lw=1.0)
        for b in prof.bounds:
            ax.axhline(b, color=FG, lw=0.6, ls="--")
        name = req.recipe.displacements[req.obj.displacement].family
        vox = _voxel_mm(req)
        ax.set_title(f"Δ along x: {name}, amplitude (max |Δ|) {prof.amplitude * vox:.2f} mm\n"
                     "(dashed: the bounds culling uses)", color=FG, fontsize=8)  # fmt: skip
        ax.set_xlabel(f"x from the object's centre (preset voxels, 1 = {vox:g} mm)", color=FG,
                      fontsize=7)  # fmt: skip
        ax.set_ylabel("Δ (preset voxels)", color=FG, fontsize=7)

    def draw_histograms(self, ax: Any) -> None:
        s = self.session
        match, region = s.match, s.region
        if match is not None:  # the fit's own histograms (panels.compare draws them too)
            h = histograms(match)
            centres = 0.5 * (h["edges"][1:] + h["edges"][:-1])
            for key in ("region", "before", "after"):
                ax.plot(centres, h[key], color=COLORS[key], lw=1.4, label=key)
            ax.set_title("match: region vs histogram-only / texture fit (scan units)", color=FG,
                         fontsize=8)  # fmt: skip
            ax.set_xlabel("intensity (scan units, e.g. HU)", color=FG, fontsize=7)
            style_legend(ax)
            return
        series = {}
        if s.volumes is not None and s.volumes.label.any():
            series["design"] = s.volumes.image[s.volumes.label > 0]
        if s.sample is not None:
            lab = s.sample.label.cpu().numpy()
            series["scene"] = s.sample.image.cpu().numpy()[lab > 0]
        for key, values in series.items():
            h = analysis.histogram(values, 64, (0.0, 129.0))
            ax.stairs(h.density, h.edges, color=COLORS[key], label=key)
        if region is not None:
            twin = ax.twiny()
            h = analysis.histogram(region.values, 64)
            twin.stairs(h.density, h.edges, color=COLORS["region"], label="region", ls="--")
            style_axes(twin)
            twin.tick_params(labelsize=6)
        ax.set_title("intensity histograms (object voxels)", color=FG, fontsize=8)
        ax.set_xlabel("design intensity (0..clip)" + ("; top axis: scan units" if region
                      is not None else ""), color=FG, fontsize=7)  # fmt: skip
        if series:
            style_legend(ax)


def _voxel_mm(req: Any) -> float:
    """mm per preset (reference) voxel along x: the unit of d and Δ in the plots."""
    return float(req.spacing[0])
