"""The Scene panel: samples of the preset being edited, labels coloured by class."""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, Label, PushButton, SpinBox

from fdif_core.errors import UserError
from fdif_core.presets.preset import Preset

from ..model import render
from .common import SCENE_LAYERS, LatestRunner, guarded, session_for, set_layer, show_point_inside
from .layers import style_labels


def _scene_work(request: tuple[Preset, int, Any, str]):
    preset, index, shape, device = request
    recipe = preset.recipe()
    yield preset, recipe, index, render.render_scene(recipe, index, shape, device)


class Scene(Container):
    """Render full samples of the edited preset: class-coloured label outlines over the
    grayscale image (or beside it), in the same mm frame as the design."""

    def __init__(self, napari_viewer: Any, threaded: bool = True) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self._index = SpinBox(value=0, min=0, max=10_000_000, label="sample (seed index)")
        self._res = ComboBox(
            choices=["preset", 32, 48, 64, 96, 128], value="preset", label="resolution"
        )
        self._layout = ComboBox(
            choices=["overlay", "side by side"], value="overlay", label="layout"
        )
        self._auto = CheckBox(value=True, label="render on change")
        self._go = PushButton(text="Render sample")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)
        self.extend([self._index, self._res, self._layout, self._auto, self._go, self._status])
        self._go.changed.connect(self.render)
        self._index.changed.connect(lambda _: self._auto.value and self.render())
        self._res.changed.connect(lambda _: self._auto.value and self.render())
        self._layout.changed.connect(lambda _: self._place())
        self.runner = LatestRunner(_scene_work, self._on_result, threaded=threaded)
        self.session.connect("draft", self._on_draft)

    def _on_draft(self) -> None:
        """The preset changed: re-render the shown sample (if any) when auto-render is on."""
        try:
            auto = bool(self._auto.value)
        except RuntimeError:  # closed panel
            return
        if not auto or SCENE_LAYERS[0] not in self.viewer.layers:
            return
        try:  # an invalid draft is reported by the editor's status line, not here
            self.session.draft.to_preset()
        except (ValueError, UserError):
            return
        self.render()

    @property
    def busy(self) -> bool:
        return self.runner.busy

    @guarded
    def render(self, _: Any = None) -> None:
        """Render sample ``index`` of the preset being edited (off the UI thread)."""
        preset = self.session.draft.to_preset()
        res = self._res.value
        shape = None if res == "preset" else (int(res),) * 3
        self._status.value = "rendering…"
        self.runner.submit(
            (
                preset,
                int(self._index.value),
                shape,
                "cpu" if render.default_device() == "cpu" else "cuda",
            )
        )

    def _on_result(self, result: Any) -> None:
        preset, recipe, index, sample = result
        names = recipe.label_names
        self.session.sample, self.session.sample_preset = sample, preset
        ref = tuple(recipe.shape)
        shape = tuple(sample.image.shape)
        scale, translate = render.frame(ref, shape, tuple(preset.volume.spacing))
        from napari.utils.colormaps import DirectLabelColormap

        cmap = DirectLabelColormap(color_dict=render.label_color_dict(len(names)))
        first = SCENE_LAYERS[1] not in self.viewer.layers
        set_layer(
            self.viewer, SCENE_LAYERS[0], "image", sample.image.cpu().numpy(),
            scale=scale, translate=translate, contrast_limits=tuple(recipe.spec.clip),
            colormap="gray",
        )  # fmt: skip
        label = set_layer(
            self.viewer, SCENE_LAYERS[1], "labels", sample.label.cpu().numpy(),
            scale=scale, translate=translate, features=render.label_features(names),
            colormap=cmap,
        )  # fmt: skip
        if first:
            style_labels(label, "outline", self.viewer)
        self._place()
        show_point_inside(self.viewer, self.viewer.layers[SCENE_LAYERS[0]])
        present = sorted({names[i] for i in np.unique(sample.label.cpu().numpy()) if i})
        self._status.value = f"sample {index}: {len(present)} classes: {', '.join(present[:6])}" + (
            "…" if len(present) > 6 else ""
        )
        self.session.emit("sample")

    def _place(self) -> None:
        """Side by side: the label map shifted beside the image along the last axis."""
        if SCENE_LAYERS[1] not in self.viewer.layers or SCENE_LAYERS[0] not in self.viewer.layers:
            return
        img, lab = (self.viewer.layers[n] for n in SCENE_LAYERS)
        shift = list(img.translate)
        if self._layout.value == "side by side":
            extent = img.data.shape[-1] * img.scale[-1]
            shift[-1] += extent * 1.05
        lab.translate = shift
