"""The Scan panel: a real scan beside the synthetic ones.

Open a NIfTI scan (placed in mm by its affine, like the studio's volumes), draw a region
on it (a rectangle on a slice, or painted voxels), measure it (histogram, mean, spread,
dominant wavelength, next to the design's and the scene's), and **match**: fit a texture
(displacement) and a mapper to the region (``model.matching``), shown in the comparison
view (``panels.compare``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, PushButton
from napari.utils.notifications import show_info

from ..model import analysis, render
from ..model.scans import read_scan, window_limits
from .common import guarded, session_for
from .compare import match_and_compare

NEW_RECT, NEW_PAINT = "Draw a rectangle region", "Paint a region"


def add_scan(viewer: Any, path: str | Path) -> Any:
    """Open a NIfTI scan as a grayscale image layer placed by its affine (1-99 % window)."""
    scan = read_scan(path)
    lo, hi = window_limits("auto (1-99 %)", scan.data)
    return viewer.add_image(scan.data, name=scan.name, colormap="gray",
                            contrast_limits=(lo, hi), metadata={"affine": scan.affine},
                            **scan.layer_kwargs())  # fmt: skip


def _placement(layer: Any) -> dict[str, Any]:
    """The layer's data -> world transform, to give a region layer the same voxels."""
    return {
        "affine": layer.affine.affine_matrix,
        "scale": layer.scale,
        "translate": layer.translate,
    }


def _spacing(layer: Any) -> tuple[float, ...]:
    """mm per data voxel along each axis of an image layer (affine and scale together)."""
    lin = layer.affine.affine_matrix[:3, :3] @ np.diag(layer.scale)
    return tuple(float(x) for x in np.linalg.norm(lin, axis=0))


class Scans(Container):
    """Open a scan, draw a region, measure it, match the design's mapper to it."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self._file = FileEdit(mode="r", filter="*.nii *.nii.gz", label="NIfTI scan")
        self._open = PushButton(text="Open scan")
        self._scan = ComboBox(choices=self._images, label="scan layer")
        self._region = ComboBox(choices=self._regions, label="region layer")
        self._rect = PushButton(text=NEW_RECT)
        self._paint = PushButton(text=NEW_PAINT)
        self._measure = PushButton(text="Measure region")
        self._match = PushButton(text="Match texture to region")
        self._stats = Label(value="")
        self._stats.native.setWordWrap(True)
        self.extend([self._file, self._open, self._scan, self._rect, self._paint, self._region,
                     self._measure, self._match, self._stats])  # fmt: skip
        self._open.changed.connect(self._on_open)
        self._rect.changed.connect(lambda _=None: self.new_region("shapes"))
        self._paint.changed.connect(lambda _=None: self.new_region("labels"))
        self._measure.changed.connect(self._on_measure)
        self._match.changed.connect(self._on_match)
        for ev in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            ev.connect(lambda _=None: self.reset_choices())

    def _images(self, _: Any = None) -> list[str]:
        return [ly.name for ly in self.viewer.layers if ly._type_string == "image"]

    def _regions(self, _: Any = None) -> list[str]:
        return [ly.name for ly in self.viewer.layers if ly._type_string in ("shapes", "labels")
                and ly.metadata.get("fdif_region")]  # fmt: skip

    def scan_layer(self) -> Any:
        if not self._scan.value:
            raise ValueError("open a scan first (or pick an image layer as the scan)")
        return self.viewer.layers[self._scan.value]

    @guarded
    def _on_open(self, _: Any = None) -> None:
        layer = add_scan(self.viewer, str(self._file.value))
        self._scan.value = layer.name
        show_info(f"opened {layer.name}: {layer.data.shape}, {layer.scale} mm")

    @guarded
    def new_region(self, kind: str) -> Any:
        """A Shapes (rectangle) or Labels (paint) layer in the scan's own voxel frame."""
        scan = self.scan_layer()
        meta = {"fdif_region": True, "scan": scan.name}
        name = f"{scan.name} region"
        if kind == "shapes":
            layer = self.viewer.add_shapes(ndim=scan.ndim, name=name, metadata=meta,
                                           edge_color="yellow", face_color="transparent",
                                           **_placement(scan))  # fmt: skip
            layer.mode = "add_rectangle"
        else:
            layer = self.viewer.add_labels(np.zeros(scan.data.shape, np.uint8), name=name,
                                           metadata=meta, **_placement(scan))  # fmt: skip
            layer.mode = "paint"
        self.reset_choices()
        self._region.value = layer.name
        return layer

    def region_mask(self) -> np.ndarray:
        if not self._region.value:
            raise ValueError("draw a region first (a rectangle or painted voxels on the scan)")
        layer, scan = self.viewer.layers[self._region.value], self.scan_layer()
        if layer._type_string == "shapes":
            return layer.to_labels(labels_shape=scan.data.shape) > 0
        return np.asarray(layer.data) > 0

    @guarded
    def _on_measure(self, _: Any = None) -> analysis.Region:
        return self.measure()

    def measure(self) -> analysis.Region:
        """Measure the region; its statistics are shown beside the design's and scene's."""
        scan = self.scan_layer()
        mask = self.region_mask()
        region = analysis.measure_region(np.asarray(scan.data), mask, _spacing(scan))
        self.session.region, self.session.match = region, None
        self._stats.value = self.stats_text()
        self.session.emit("region")
        return region

    def stats_text(self) -> str:
        s = self.session
        rows = []
        if s.region is not None:
            rows.append(f"<b>region</b>: {s.region.stats.row()}")
        if s.volumes is not None:
            st = analysis.object_stats(s.volumes.image, s.volumes.label, s.volumes.scale)
            rows.append(f"<b>design</b>: {st.row() if st else 'empty'}")
        if s.sample is not None and s.sample_preset is not None:
            sp = render.frame(tuple(s.sample_preset.volume.shape), tuple(s.sample.image.shape),
                              tuple(s.sample_preset.volume.spacing))[0]  # fmt: skip
            st = analysis.object_stats(s.sample.image.cpu().numpy(),
                                       s.sample.label.cpu().numpy(), sp)  # fmt: skip
            rows.append(f"<b>scene</b>: {st.row() if st else 'empty'}")
        if s.match is not None:
            rows.append("<b>match</b>: " + "<br>".join(s.match.summary()[1:]))
        return "<br>".join(rows)

    @guarded
    def _on_match(self, _: Any = None) -> Any:
        return self.match()

    def match(self) -> Any:
        """Fit a texture and a mapper to the region (``fdif_core.matching``); open the
        comparison view (``panels.compare``), whose "Apply" adds them to the preset."""
        scan = self.scan_layer()
        if self.session.region is None:
            self.measure()
        result = match_and_compare(self.viewer, np.asarray(scan.data), self.region_mask(),
                                   _spacing(scan), scan.metadata.get("affine"),
                                   scan.name)  # fmt: skip
        self._stats.value = self.stats_text()
        show_info("; ".join(result.summary()[1:3]))
        return result
