"""The View panel: read the volumes as a scan is read.

A window (width / level, or a named preset: the preset's intensity range, 1-99 % of the
data, CT soft tissue, lung, bone, brain, liver) for the grayscale images; labels as
outlines, filled or hidden; a three-plane view (linked orthogonal viewers from
``napari-orthogonal-views``); and the studio's oblique 3D camera.
"""

from __future__ import annotations

from typing import Any

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, PushButton

from ..model.scans import WINDOWS, width_level_to_limits, window_limits
from . import layers
from .common import guarded, session_for

ALL = "all images"


def image_layers(viewer: Any) -> list[Any]:
    return [ly for ly in viewer.layers if ly._type_string == "image"]


def labels_layers(viewer: Any) -> list[Any]:
    return [ly for ly in viewer.layers if ly._type_string == "labels"]


def set_window(layer: Any, lo: float, hi: float) -> None:
    """Contrast limits (lo, hi) on an image layer, widening its slider range if needed."""
    rlo, rhi = layer.contrast_limits_range
    layer.contrast_limits_range = (min(rlo, lo), max(rhi, hi))
    layer.contrast_limits = (lo, hi)


class Views(Container):
    """Window/level, label style, three-plane view and the 3D camera."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self._updating = False
        self._target = ComboBox(choices=self._targets, label="images")
        self._window = ComboBox(choices=list(WINDOWS), value="preset range", label="window")
        self._width = FloatSpinBox(value=128.0, min=1e-3, max=1e5, step=1.0, label="width")
        self._level = FloatSpinBox(value=64.0, min=-1e5, max=1e5, step=1.0, label="level")
        self._labels = ComboBox(choices=list(layers.LABEL_STYLES), value="outline",
                                label="labels")  # fmt: skip
        self._planes = CheckBox(value=False, label="three planes (linked views)")
        self._camera = PushButton(text="3D view (oblique camera)")
        self._status = Label(value="")
        self.extend([Label(value="<b>Window</b>"), self._target, self._window, self._width,
                     self._level, Label(value="<b>Display</b>"), self._labels, self._planes,
                     self._camera, self._status])  # fmt: skip
        self._window.changed.connect(self._on_window)
        self._width.changed.connect(self._on_width_level)
        self._level.changed.connect(self._on_width_level)
        self._labels.changed.connect(self._on_labels)
        self._planes.changed.connect(self._on_planes)
        self._camera.changed.connect(self._on_camera)
        self.viewer.layers.events.inserted.connect(lambda _=None: self._target.reset_choices())
        self.viewer.layers.events.removed.connect(lambda _=None: self._target.reset_choices())

    def _targets(self, _: Any = None) -> list[str]:
        return [ALL, *(ly.name for ly in image_layers(self.viewer))]

    def targets(self) -> list[Any]:
        name = self._target.value
        found = image_layers(self.viewer)
        return found if name in (ALL, None) else [ly for ly in found if ly.name == name]

    @guarded
    def _on_window(self, name: str) -> None:
        clip = self.session.draft.base.intensity.clip
        for layer in self.targets():
            lo, hi = window_limits(name, layer.data, clip)
            set_window(layer, lo, hi)
        lo, hi = window_limits(name, self.targets()[0].data if self.targets() else None, clip)
        self._updating = True
        try:
            self._width.value, self._level.value = hi - lo, 0.5 * (lo + hi)
        finally:
            self._updating = False
        self._status.value = f"window {hi - lo:g} / level {0.5 * (lo + hi):g}"

    @guarded
    def _on_width_level(self, _: Any = None) -> None:
        if self._updating:
            return
        lo, hi = width_level_to_limits(float(self._width.value), float(self._level.value))
        for layer in self.targets():
            set_window(layer, lo, hi)
        self._status.value = f"window {hi - lo:g} / level {0.5 * (lo + hi):g}"

    @guarded
    def _on_labels(self, style: str) -> None:
        for layer in labels_layers(self.viewer):
            layers.style_labels(layer, style, self.viewer)

    @guarded
    def _on_planes(self, on: bool) -> None:
        from napari_orthogonal_views.ortho_view_manager import (
            hide_orthogonal_views,
            show_orthogonal_views,
        )

        (show_orthogonal_views if on else hide_orthogonal_views)(self.viewer)

    def planes_shown(self) -> bool:
        from napari_orthogonal_views.ortho_view_manager import _get_manager

        return bool(_get_manager(self.viewer).is_shown())

    def _on_camera(self, _: Any = None) -> None:
        self.viewer.dims.ndisplay = 3
        layers.oblique_camera(self.viewer)
