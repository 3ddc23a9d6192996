"""The Scan panel: a real scan beside the synthetic ones.

Three sections:

- **scan and view**: open a NIfTI scan (placed in mm by its affine, like the studio's
  volumes; only scans are offered as "the scan", never the studio's own layers) and look
  at it axial (first), coronal or sagittal (``model.scans.VIEWS``, world axes of the
  affine);
- **region**: a rectangle drawn in any view (a 3D box over a slab of slices), painted
  voxels, or one label of a loaded mask;
- **measure and match**: the region's statistics in the scan's units (HU for a CT) beside
  the design's (design intensity), and **match**: fit a texture (displacement) and a
  mapper to the region (``model.matching``), shown in the comparison view
  (``panels.compare``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, PushButton, SpinBox
from napari.utils.notifications import show_info

from ..model import analysis, render
from ..model.scans import VIEW_ORIENTATION, VIEWS, layer_data, read_scan, rectangle_box
from .common import DESIGN_LAYERS, SCENE_LAYERS, guarded, session_for
from .compare import match_and_compare

NEW_RECT, NEW_PAINT = "Draw a rectangle region", "Paint a region"


def add_scan(viewer: Any, path: str | Path) -> Any:
    """Open a NIfTI scan as a grayscale image layer placed by its affine (1-99 % window),
    or a mask as a labels layer."""
    data, kwargs, kind = layer_data(read_scan(path))
    return getattr(viewer, f"add_{kind}")(data, **kwargs)


def set_view(viewer: Any, view: str) -> None:
    """Show the scan ``axial``, ``coronal`` or ``sagittal`` (2D, radiological reading)."""
    if view not in VIEWS:
        raise ValueError(f"view {view!r}; allowed: {', '.join(VIEWS)}")
    if viewer.dims.ndim != 3:
        return
    viewer.dims.ndisplay = 2
    viewer.dims.order = VIEWS[view]
    viewer.camera.orientation2d = VIEW_ORIENTATION
    viewer.reset_view()


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
    """Open a scan, choose its view, draw a region, measure it, match the design to it."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        # scan and view
        self._file = FileEdit(mode="r", filter="*.nii *.nii.gz", label="NIfTI scan")
        self._open = PushButton(text="Open scan")
        self._scan = ComboBox(choices=self._images, label="scan layer")
        self._view = ComboBox(choices=list(VIEWS), value="axial", label="view")
        # region
        self._rect = PushButton(text=NEW_RECT)
        self._slab = SpinBox(value=1, min=1, max=512, label="slab (slices)",
                             tooltip="a rectangle becomes a box this many slices deep")  # fmt: skip
        self._paint = PushButton(text=NEW_PAINT)
        self._region = ComboBox(choices=self._regions, label="region layer",
                                tooltip="a drawn or painted region, or a loaded mask")  # fmt: skip
        every = "0: every labelled voxel; N: the voxels of label N"
        self._label = SpinBox(value=0, min=0, max=65535, label="mask label", tooltip=every)
        # measure and match
        self._measure = PushButton(text="Measure region")
        self._match = PushButton(text="Match texture to region")
        self._stats = Label(value="")
        self._stats.native.setWordWrap(True)
        self.extend([self._file, self._open, self._scan, self._view, self._rect, self._slab,
                     self._paint, self._region, self._label, self._measure, self._match,
                     self._stats])  # fmt: skip
        self._open.changed.connect(self._on_open)
        self._view.changed.connect(self._on_view)
        self._rect.changed.connect(lambda _=None: self.new_region("shapes"))
        self._paint.changed.connect(lambda _=None: self.new_region("labels"))
        self._measure.changed.connect(self._on_measure)
        self._match.changed.connect(self._on_match)
        for ev in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            ev.connect(lambda _=None: self.reset_choices())

    # ---- scan and view
    def _images(self, _: Any = None) -> list[str | None]:
        """Image layers that can be "the scan": never the studio's own (design, scene)."""
        own = set(DESIGN_LAYERS) | set(SCENE_LAYERS)
        names = [ly.name for ly in self.viewer.layers
                 if ly._type_string == "image" and ly.name not in own]  # fmt: skip
        scans = [n for n in names if self.viewer.layers[n].metadata.get("fdif_scan")]
        return [*scans, *(n for n in names if n not in scans)] or [None]

    def _regions(self, _: Any = None) -> list[str | None]:
        """Drawn or painted regions, and Labels layers (a loaded mask) of the scan's shape."""
        scan = self._scan.value if hasattr(self, "_scan") else None
        shape = self.viewer.layers[scan].data.shape if scan in self.viewer.layers else None
        own = set(DESIGN_LAYERS) | set(SCENE_LAYERS)
        names = [ly.name for ly in self.viewer.layers if ly.name not in own and (
            ly.metadata.get("fdif_region") or (ly._type_string == "labels"
                                               and ly.data.shape == shape))]  # fmt: skip
        return names or [None]

    def scan_layer(self) -> Any:
        if not self._scan.value:
            raise ValueError("open a scan first (or pick an image layer as the scan)")
        return self.viewer.layers[self._scan.value]

    @guarded
    def _on_open(self, _: Any = None) -> None:
        layer = add_scan(self.viewer, str(self._file.value))
        if layer._type_string == "labels":  # a mask: a region of the scan
            self.reset_choices()
            self._region.value = layer.name
            show_info(f"opened mask {layer.name}: {layer.data.shape}; pick its mask label")
            return
        self._scan.value = layer.name
        set_view(self.viewer, str(self._view.value))
        show_info(f"opened {layer.name}: {layer.data.shape}, {_spacing(layer)} mm, "
                  f"{layer.metadata['units']}, {self._view.value}")  # fmt: skip

    @guarded
    def _on_view(self, view: str) -> None:
        set_view(self.viewer, view)

    # ---- region
    @guarded
    def new_region(self, kind: str) -> Any:
        """A Shapes (rectangle, in any view) or Labels (paint) layer in the scan's voxels."""
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
        """The region's voxels on the scan: rectangles as boxes over the slab, painted
        voxels, or the mask's label (``mask label``; 0: every labelled voxel)."""
        if not self._region.value:
            raise ValueError("draw a region first (a rectangle or painted voxels on the scan)")
        layer, scan = self.viewer.layers[self._region.value], self.scan_layer()
        shape = scan.data.shape
        if layer._type_string == "shapes":
            if not len(layer.data):
                raise ValueError("draw a rectangle on the scan first (the region is empty)")
            mask = np.zeros(shape, bool)
            for vertices in layer.data:
                mask |= rectangle_box(vertices, shape, int(self._slab.value))
            return mask
        data = np.asarray(layer.data)
        if data.shape != shape:
            raise ValueError(f"mask {layer.name!r} {data.shape} does not match the scan {shape}")
        n = int(self._label.value)
        return data == n if n else data > 0

    # ---- measure and match
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
        units = self.scan_layer().metadata.get("units", "scan units") if self._scan.value else ""
        if s.region is not None:
            rows.append(f"<b>region</b> ({units}): {s.region.stats.row()}")
        if s.volumes is not None:
            st = analysis.object_stats(s.volumes.image, s.volumes.label, s.volumes.scale)
            lo, hi = s.volumes.request.recipe.spec.clip
            rows.append(f"<b>design</b> (design intensity {lo:g}–{hi:g}): "
                        f"{st.row() if st else 'empty'}")  # fmt: skip
        if s.sample is not None and s.sample_preset is not None:
            sp = render.frame(tuple(s.sample_preset.volume.shape), tuple(s.sample.image.shape),
                              tuple(s.sample_preset.volume.spacing))[0]  # fmt: skip
            st = analysis.object_stats(s.sample.image.cpu().numpy(),
                                       s.sample.label.cpu().numpy(), sp)  # fmt: skip
            rows.append(f"<b>scene</b> (design intensity): {st.row() if st else 'empty'}")
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
