"""Dock widgets of the studio: thin magicgui/Qt views over the Qt-free models.

Each control reads its value, calls one model method and asks for a render; renders run
in a napari worker thread, one at a time, and only the newest pending request survives
(stale ones are dropped), so dragging a slider never blocks the viewer. Bad input becomes
a napari notification with the reason; the viewer keeps working.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSlider,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    Slider,
    SpinBox,
)
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fdif_core.engine.textures import displacements as D
from fdif_core.engine.textures import mappers as M
from fdif_core.errors import UserError
from fdif_core.presets import Preset
from fdif_core.presets.preset import PRESET_DIR

from . import render
from .model import (
    INTEGER_PARAMS,
    LABEL_MODES,
    NONE,
    PARAM_BOUNDS,
    DesignState,
    Session,
    check_instance_name,
    families,
    merge_order,
)

_SESSIONS: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()
DESIGN_LAYERS = ("design image", "design label", "design isosurface")
SCENE_LAYERS = ("scene image", "scene label")


def session_for(viewer: Any) -> Session:
    """The studio session of ``viewer`` (one per viewer, shared by all studio widgets)."""
    viewer = getattr(viewer, "__wrapped__", viewer)  # napari hands widgets a proxy
    if viewer not in _SESSIONS:
        _SESSIONS[viewer] = Session()
    return _SESSIONS[viewer]


def report(err: BaseException) -> None:
    """Show a napari error notification with the reason (one line)."""
    show_error(str(err).strip() or type(err).__name__)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a handler; bad input (ValueError, UserError, OSError) becomes a notification."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ValueError, UserError, OSError, KeyError) as err:
            report(err)
            return None

    wrapper.__name__ = getattr(fn, "__name__", "handler")
    wrapper.__doc__ = fn.__doc__
    return wrapper


class LatestRunner:
    """Runs ``work(request)`` (a generator) in a worker thread, one request at a time.

    While one runs, a newer ``submit`` replaces the pending request: stale requests are
    dropped, never queued. Yielded results go to ``on_result`` on the UI thread.
    """

    def __init__(
        self, work: Callable[[Any], Any], on_result: Callable[[Any], None], threaded: bool = True
    ) -> None:
        self.work, self.on_result, self.threaded = work, on_result, threaded
        self._pending: Any = None
        self._worker: Any = None
        self.dropped = 0

    @property
    def busy(self) -> bool:
        return self._worker is not None or self._pending is not None

    def submit(self, request: Any) -> None:
        if self._pending is not None:
            self.dropped += 1
        self._pending = request
        if self._worker is None:
            self._start()

    def _start(self) -> None:
        request, self._pending = self._pending, None
        if request is None:
            return
        if not self.threaded:
            try:
                for result in self.work(request):
                    self.on_result(result)
            except Exception as err:
                report(err)
            return
        from napari.qt.threading import create_worker

        worker = create_worker(self.work, request, _start_thread=False)
        worker.yielded.connect(self.on_result)
        worker.errored.connect(report)
        worker.finished.connect(self._finished)
        self._worker = worker
        worker.start()

    def _finished(self) -> None:
        self._worker = None
        if self._pending is not None:
            self._start()

    def quit(self) -> None:
        self._pending = None
        if self._worker is not None:
            self._worker.quit()


def _set_layer(viewer: Any, name: str, kind: str, data: Any, **kwargs: Any) -> Any:
    """Update layer ``name`` in place or add it; unchanged frames are left alone (each
    assignment of scale or translate refreshes the layer)."""
    if name not in viewer.layers:
        return getattr(viewer, f"add_{kind}")(data, name=name, **kwargs)
    layer = viewer.layers[name]
    for key in ("scale", "translate"):
        if key in kwargs and not np.allclose(getattr(layer, key), kwargs[key]):
            setattr(layer, key, kwargs[key])
    layer.data = data
    if kind == "labels" and "colormap" in kwargs:  # class colours follow the label list
        layer.colormap = kwargs["colormap"]
    if "features" in kwargs:
        _set_features(layer, kwargs["features"])
    return layer


def _set_features(layer: Any, features: dict[str, Any]) -> None:
    current = layer.features
    same = list(current.columns) == list(features) and all(
        len(current[k]) == len(v) and (current[k].to_numpy() == np.asarray(v)).all()
        for k, v in features.items()
    )
    if not same:
        layer.features = features


def _show_point_inside(viewer: Any, layer: Any) -> None:
    """Move the dims sliders into ``layer``'s extent when they lie outside it (layers of
    presets with other reference grids share the viewer)."""
    lo, hi = np.asarray(layer.extent.world)
    point = list(viewer.dims.point)
    for axis in viewer.dims.not_displayed:
        if not lo[axis] <= point[axis] <= hi[axis]:
            viewer.dims.set_point(axis, 0.5 * (lo[axis] + hi[axis]))


def _scroll(widget: QWidget) -> QScrollArea:
    layout = widget.layout()
    if layout is not None:
        layout.addStretch(1)  # keep controls packed at the top
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    area.setWidget(widget)
    return area


def _param_widget(name: str, value: float) -> FloatSpinBox | SpinBox:
    lo, hi, step = PARAM_BOUNDS.get(name, (-1e6, 1e6, 0.1))
    if name in INTEGER_PARAMS:
        return SpinBox(value=int(value), min=int(lo), max=int(hi), step=1, label=name, name=name)
    return FloatSpinBox(value=float(value), min=lo, max=hi, step=step, label=name, name=name)


# =========================================================================== Designer
def _leave_a_core_to_the_ui() -> None:
    """When torch would use every core (its default), use one less: the renders share the
    machine with the UI thread, and busy OpenMP workers starve it (measured on 2 cores:
    2 threads made a 64³ preview 5-10x slower under load than 1)."""
    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


def _design_work(request: Any):
    """Worker: slices first (fast), then the isosurface."""
    vol = render.render_volumes(request)
    yield vol
    if request.surface:
        yield render.isosurface(vol.phi, request.recipe.shape, request.version)


class Designer(Container):
    """Design one primitive: class and shape, pose, displacement, mapper; live previews."""

    def __init__(self, napari_viewer: Any, threaded: bool = True) -> None:
        super().__init__(labels=False)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.state: DesignState = self.session.design
        self._updating = False
        fams = families()
        self._family = ComboBox(choices=list(fams), value="basic", label="family", name="family")
        self._primitive = ComboBox(
            choices=fams["basic"], value=self.state.primitive, label="class", name="primitive"
        )
        self._shape = Container(labels=True, name="shape")
        self._pose = Container(labels=True, name="pose")
        self.pose_widgets: dict[str, FloatSlider] = {}
        for group, labels, lim, what in (
            ("translation", ("z", "y", "x"), 0.5, "fraction of G"),
            ("angles_deg", ("rot 0", "rot 1", "rot 2"), 180.0, "degrees"),
            ("shear", ("shear 01", "shear 02", "shear 12"), 0.3, ""),
        ):
            for i, lab in enumerate(labels):
                step = 1.0 if group == "angles_deg" else 0.01
                text = f"move {lab}" if group == "translation" else lab
                w = FloatSlider(value=0.0, min=-lim, max=lim, step=step, label=text, tooltip=what)
                w.changed.connect(self._on_pose)
                self._pose.append(w)
                self.pose_widgets[f"{group}{i}"] = w
        disp_inst = ["(instance)", *D.DISPLACEMENTS.names]
        self._disp_from = ComboBox(choices=disp_inst, label="start from", name="disp_from")
        self._disp_family = ComboBox(
            choices=[NONE, *D.FAMILIES.names], value=self.state.displacement, label="family"
        )
        self._space = ComboBox(choices=["object", "world"], value=self.state.space, label="space")
        self._disp_params = Container(labels=True, name="displacement_params")
        map_inst = ["(instance)", *M.MAPPERS.names]
        self._map_from = ComboBox(choices=map_inst, label="start from", name="map_from")
        self._map_family = ComboBox(
            choices=M.FAMILIES.names, value=self.state.mapper, label="family"
        )
        self._map_params = Container(labels=True, name="mapper_params")
        devices = ["cpu"] + (["cuda"] if render.default_device() == "cuda" else [])
        self._device = ComboBox(choices=devices, value=render.default_device(), label="device")
        self._drag_res = ComboBox(choices=[32, 48, 64, 96], value=64, label="drag res.")
        self._full_res = ComboBox(choices=[48, 64, 96, 128, 160], value=96, label="full res.")
        self._iso = CheckBox(value=True, label="isosurface")
        _leave_a_core_to_the_ui()
        self._threads = SpinBox(
            value=torch.get_num_threads(),
            min=1,
            max=max(1, os.cpu_count() or 1),
            label="CPU threads",
            tooltip="torch intra-op threads (process-wide); 1 keeps a core free for the UI",
        )
        self._solo_3d = CheckBox(value=True, label="3D: isosurface only")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)
        self.extend(
            [
                Label(value="<b>Shape</b>"),
                Container(widgets=[self._family, self._primitive], labels=True),
                self._shape,
                Label(value="<b>Pose</b>"),
                self._pose,
                Label(value="<b>Displacement</b>"),
                Container(widgets=[self._disp_from, self._disp_family, self._space], labels=True),
                self._disp_params,
                Label(value="<b>Mapper</b>"),
                Container(widgets=[self._map_from, self._map_family], labels=True),
                self._map_params,
                Label(value="<b>Preview</b>"),
                Container(
                    widgets=[
                        self._device,
                        self._drag_res,
                        self._full_res,
                        self._threads,
                        self._iso,
                        self._solo_3d,
                    ],
                    labels=True,
                ),
                self._status,
            ]
        )
        self._family.changed.connect(self._on_family)
        self._primitive.changed.connect(self._on_primitive)
        self._disp_from.changed.connect(self._on_disp_from)
        self._disp_family.changed.connect(self._on_disp_family)
        self._space.changed.connect(self._on_space)
        self._map_from.changed.connect(self._on_map_from)
        self._map_family.changed.connect(self._on_map_family)
        self._iso.changed.connect(self._on_iso)
        self._full_res.changed.connect(lambda _: self.request_render(full=True))
        self._device.changed.connect(lambda _: self.request_render(full=True))
        self._threads.changed.connect(lambda n: torch.set_num_threads(int(n)))
        self._solo_3d.changed.connect(self._on_ndisplay)
        self.viewer.dims.events.ndisplay.connect(self._on_ndisplay)
        self._full_timer = QTimer()
        self._full_timer.setSingleShot(True)
        self._full_timer.setInterval(400)
        self._full_timer.timeout.connect(self._render_full)
        self.runner = LatestRunner(_design_work, self._on_result, threaded=threaded)
        self.shown_version = -1
        self.timings: dict[str, float] = {}
        self.sync()
        self.request_render(full=True)

    # ---- state -> widgets
    @property
    def shape_widgets(self) -> dict[str, FloatSlider | Slider]:
        return {w.name: w for w in self._shape}

    @property
    def displacement_widgets(self) -> dict[str, Any]:
        return {w.name: w for w in self._disp_params}

    @property
    def mapper_widgets(self) -> dict[str, Any]:
        return {w.name: w for w in self._map_params}

    def _build_shape(self) -> None:
        self._shape.clear()
        counts = self.state.vertex_counts()
        if counts:
            n = Slider(
                value=self.state.cls.n,
                min=counts[0],
                max=counts[-1],
                step=1,
                label="vertices" if self.state.cls.section == "polygon" else "star points",
                name="vertex_count",
                tooltip="switches to the class with this many vertices",
            )
            n.changed.connect(self._on_vertex_count)
            self._shape.append(n)
        for k in self.state.knob_list():
            cls = Slider if k.integer else FloatSlider
            w = cls(
                value=self.state.knobs[k.name],
                min=k.lo,
                max=k.hi,
                step=k.step,
                label=k.label,
                name=k.name,
                tooltip=k.tip,
            )
            w.changed.connect(self._on_knob)
            self._shape.append(w)

    def _build_params(self, kind: str) -> None:
        box = self._disp_params if kind == "displacement" else self._map_params
        params = (
            self.state.displacement_params if kind == "displacement" else self.state.mapper_params
        )
        box.clear()
        for name, value in params.items():
            w = _param_widget(name, value)
            w.changed.connect(lambda _=None, k=kind: self._on_param(k))
            box.append(w)

    def sync(self) -> None:
        """Refresh every widget from the model (after a model change made elsewhere)."""
        self._updating = True
        try:
            self._family.value = self.state.cls.family
            self._primitive.choices = families()[self.state.cls.family]
            self._primitive.value = self.state.primitive
            self._build_shape()
            for group in ("translation", "angles_deg", "shear"):
                for i, v in enumerate(getattr(self.state, group)):
                    self.pose_widgets[f"{group}{i}"].value = v
            self._disp_family.value = self.state.displacement
            self._space.value = self.state.space
            self._map_family.value = self.state.mapper
            self._build_params("displacement")
            self._build_params("mapper")
        finally:
            self._updating = False

    # ---- widget handlers: one model call each, then a render
    @guarded
    def _on_family(self, family: str) -> None:
        if self._updating:
            return
        self._primitive.choices = families()[family]
        self._primitive.value = families()[family][0]

    @guarded
    def _on_primitive(self, name: str) -> None:
        if self._updating or name is None or name == self.state.primitive:
            return
        self.state.set_primitive(name)
        self._build_shape()
        self.request_render()

    @guarded
    def _on_vertex_count(self, n: int) -> None:
        if self._updating or n == self.state.cls.n:
            return
        self.state.set_vertex_count(int(n))
        self._updating = True
        try:
            self._primitive.value = self.state.primitive
        finally:
            self._updating = False
        self.request_render()

    @guarded
    def _on_knob(self, _: Any = None) -> None:
        if self._updating:
            return
        for name, w in self.shape_widgets.items():
            if name != "vertex_count" and w.value != self.state.knobs.get(name):
                self.state.set_knob(name, w.value)
        self.request_render()

    @guarded
    def _on_pose(self, _: Any = None) -> None:
        if self._updating:
            return
        vals = {
            g: tuple(self.pose_widgets[f"{g}{i}"].value for i in range(3))
            for g in ("translation", "angles_deg", "shear")
        }
        self.state.set_pose(**vals)
        self.request_render()

    @guarded
    def _on_disp_from(self, name: str) -> None:
        if self._updating or name.startswith("("):
            return
        self.state.load_instance("displacement", name)
        self._after_texture("displacement")

    @guarded
    def _on_map_from(self, name: str) -> None:
        if self._updating or name.startswith("("):
            return
        self.state.load_instance("mapper", name)
        self._after_texture("mapper")

    def _after_texture(self, kind: str) -> None:
        self._updating = True
        try:
            if kind == "displacement":
                self._disp_family.value = self.state.displacement
            else:
                self._map_family.value = self.state.mapper
        finally:
            self._updating = False
        self._build_params(kind)
        self.request_render()

    @guarded
    def _on_disp_family(self, family: str) -> None:
        if self._updating:
            return
        self.state.set_displacement(family)
        self._after_texture("displacement")

    @guarded
    def _on_space(self, space: str) -> None:
        if self._updating:
            return
        self.state.set_displacement(self.state.displacement, self.state.displacement_params, space)
        self.request_render()

    @guarded
    def _on_map_family(self, family: str) -> None:
        if self._updating:
            return
        self.state.set_mapper(family)
        self._after_texture("mapper")

    @guarded
    def _on_param(self, kind: str) -> None:
        if self._updating:
            return
        if kind == "displacement":
            values = {n: w.value for n, w in self.displacement_widgets.items()}
            self.state.set_displacement(self.state.displacement, values)
        else:
            values = {n: w.value for n, w in self.mapper_widgets.items()}
            self.state.set_mapper(self.state.mapper, values)
        self.request_render()

    def _on_iso(self, on: bool) -> None:
        if DESIGN_LAYERS[2] in self.viewer.layers:
            self.viewer.layers[DESIGN_LAYERS[2]].visible = bool(on)
        if on:
            self.request_render()

    def _on_ndisplay(self, _: Any = None) -> None:
        """In 3D show the isosurface alone (volume renderings would hide it); slices in 2D."""
        try:
            if not self._solo_3d.value:
                return
        except RuntimeError:  # the widget was closed; the viewer lives on
            return
        three_d = self.viewer.dims.ndisplay == 3
        for name in DESIGN_LAYERS[:2]:
            if name in self.viewer.layers:
                self.viewer.layers[name].visible = not three_d

    # ---- rendering
    @property
    def busy(self) -> bool:
        return self.runner.busy or self._full_timer.isActive()

    def request_render(self, full: bool = False) -> None:
        """Render at the drag resolution now and at full resolution once changes pause."""
        drag, top = int(self._drag_res.value), int(self._full_res.value)
        if full or drag >= top:
            self._full_timer.stop()
            self._submit(top)
            return
        self._submit(drag)
        self._full_timer.start()

    def _render_full(self) -> None:
        self._submit(int(self._full_res.value))

    def _submit(self, resolution: int) -> None:
        req = self.state.request(resolution, str(self._device.value))
        self.runner.submit(replace(req, surface=bool(self._iso.value)))

    def _on_result(self, result: Any) -> None:
        if result.version < self.shown_version:
            return  # stale
        self.shown_version = result.version
        if isinstance(result, render.Volumes):
            first = DESIGN_LAYERS[0] not in self.viewer.layers
            kw = {"scale": result.scale, "translate": result.translate}
            _set_layer(
                self.viewer, DESIGN_LAYERS[0], "image", result.image,
                contrast_limits=(0, 128), colormap="gray", **kw,
            )  # fmt: skip
            _set_layer(
                self.viewer, DESIGN_LAYERS[1], "labels", result.label, opacity=0.4,
                features=render.label_features(["background", self.state.primitive]), **kw,
            )  # fmt: skip
            _show_point_inside(self.viewer, self.viewer.layers[DESIGN_LAYERS[0]])
            if first:
                self._on_ndisplay()
            self.timings["volumes"] = result.seconds
            self._status.value = (
                f"{result.image.shape[0]}³ field + slices {result.seconds * 1e3:.0f} ms"
            )
        elif isinstance(result, render.Surface):
            self.timings["surface"] = result.seconds
            verts, faces = result.vertices, result.faces
            if result.empty:  # keep a valid (degenerate) mesh; hide it
                verts, faces = np.zeros((3, 3), np.float32), np.array([[0, 1, 2]])
            layer = _set_layer(
                self.viewer, DESIGN_LAYERS[2], "surface", (verts, faces),
                colormap="bop orange", shading="smooth",
            )  # fmt: skip
            layer.visible = not result.empty
            self._status.value += f"; isosurface {result.seconds * 1e3:.0f} ms"


# =========================================================================== Scene
def _scene_work(request: tuple[Preset, int, Any, str]):
    preset, index, shape, device = request
    recipe = preset.recipe()
    yield preset, recipe, index, render.render_scene(recipe, index, shape, device)


class Scene(Container):
    """Render full samples of the edited preset: labels coloured by class, image beside."""

    def __init__(self, napari_viewer: Any, threaded: bool = True) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self._index = SpinBox(value=0, min=0, max=10_000_000, label="sample (seed index)")
        self._res = ComboBox(
            choices=["preset", 32, 48, 64, 96, 128], value="preset", label="resolution"
        )
        self._layout = ComboBox(
            choices=["side by side", "overlay"], value="side by side", label="layout"
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
        scale, translate = render.frame(ref, shape)
        from napari.utils.colormaps import DirectLabelColormap

        cmap = DirectLabelColormap(color_dict=render.label_color_dict(len(names)))
        _set_layer(
            self.viewer, SCENE_LAYERS[0], "image", sample.image.cpu().numpy(),
            scale=scale, translate=translate, contrast_limits=(0, 128), colormap="gray",
        )  # fmt: skip
        _set_layer(
            self.viewer, SCENE_LAYERS[1], "labels", sample.label.cpu().numpy(),
            scale=scale, translate=translate, features=render.label_features(names),
            colormap=cmap, opacity=0.8,
        )  # fmt: skip
        self._place()
        _show_point_inside(self.viewer, self.viewer.layers[SCENE_LAYERS[0]])
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


# =========================================================================== Preset editor
class PresetEditor(QWidget):
    """Edit the preset: classes, displacements, mappers, volume, labels; load and save YAML."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self.draft = self.session.draft
        self._updating = False
        shipped = sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))
        self._shipped = ComboBox(choices=shipped, value="quickstart", label="shipped")
        self._load_shipped = PushButton(text="Load shipped preset")
        self._file = FileEdit(mode="r", filter="*.yaml", label="file")
        self._load_file = PushButton(text="Load file")
        self._name = LineEdit(value=self.draft.name, label="name")
        self._seed = SpinBox(value=self.draft.seed, min=0, max=2**31 - 1, label="seed")
        self._shape = [
            SpinBox(value=v, min=8, max=512, label=f"shape {i}")
            for i, v in enumerate(self.draft.shape)
        ]
        self._per_volume = SpinBox(
            value=self.draft.per_volume, min=1, max=500, label="objects / volume"
        )
        self._mode = ComboBox(
            choices=list(LABEL_MODES), value=self.draft.label_mode, label="label mode"
        )
        self._classes_text = LineEdit(
            value="", label="set classes", tooltip="names, families, globs or all"
        )
        self._classes_apply = PushButton(text="Set classes")
        self._space = ComboBox(choices=["object", "world"], value=self.draft.space, label="Δ space")
        self._include_none = CheckBox(value=self.draft.include_none, label="include 'none' Δ")
        self._instance_name = LineEdit(value="my_texture", label="instance name")
        self._add_disp = PushButton(text="Add designed displacement")
        self._add_map = PushButton(text="Add designed mapper")
        self._spread = FloatSpinBox(
            value=0.1, min=0.0, max=1.0, step=0.05, label="range spread",
            tooltip="class ranges = design value ± spread × knob span / 2",
        )  # fmt: skip
        self._add_class = PushButton(text="Add designed class (ranges around it)")
        self._save_path = FileEdit(mode="w", filter="*.yaml", label="save as")
        self._save = PushButton(text="Save preset")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)
        top = Container(
            widgets=[self._shipped, self._load_shipped, self._file, self._load_file, self._name,
                     self._seed, *self._shape, self._per_volume, self._mode],
        )  # fmt: skip
        mid = Container(widgets=[self._classes_text, self._classes_apply])
        tex = Container(widgets=[self._space, self._include_none])
        add = Container(
            widgets=[self._instance_name, self._add_disp, self._add_map, self._spread,
                     self._add_class],
        )  # fmt: skip
        bottom = Container(widgets=[self._save_path, self._save, self._status])
        self.classes = QTreeWidget()
        self.classes.setHeaderLabels(["classes"])
        self.classes.setMinimumHeight(180)
        self.displacements = QListWidget()
        self.mappers = QListWidget()
        for lst in (self.displacements, self.mappers):
            lst.setMinimumHeight(110)

        def head(text: str) -> QWidget:
            return Label(value=f"<b>{text}</b>").native

        lay = QVBoxLayout(self)
        for w in (head("Preset"), top.native, head("Classes (label order kept)"), self.classes,
                  mid.native, head("Displacements Δ (geometric texture)"), tex.native,
                  self.displacements, head("Mappers g (intensity texture)"), self.mappers,
                  head("From the Designer"), add.native, head("Save"), bottom.native):  # fmt: skip
            lay.addWidget(w)
        self._load_shipped.changed.connect(self._on_load_shipped)
        self._load_file.changed.connect(self._on_load_file)
        self._classes_apply.changed.connect(self._on_classes_text)
        self._add_disp.changed.connect(lambda _=None: self._on_add("displacement"))
        self._add_map.changed.connect(lambda _=None: self._on_add("mapper"))
        self._add_class.changed.connect(self._on_add_class)
        self._save.changed.connect(self._on_save)
        for w in (self._name, self._seed, *self._shape, self._per_volume, self._mode, self._space,
                  self._include_none):  # fmt: skip
            w.changed.connect(self._on_field)
        self.classes.itemChanged.connect(self._on_class_item)
        self.displacements.itemChanged.connect(lambda it: self._on_texture_item("displacement", it))
        self.mappers.itemChanged.connect(lambda it: self._on_texture_item("mapper", it))
        self.sync()

    # ---- model -> widgets
    def sync(self) -> None:
        """Show the draft in every widget."""
        self._updating = True
        try:
            d = self.draft
            self._name.value, self._seed.value = d.name, d.seed
            for w, v in zip(self._shape, d.shape, strict=True):
                w.value = v
            self._per_volume.value, self._mode.value = d.per_volume, d.label_mode
            self._space.value, self._include_none.value = d.space, d.include_none
            self.classes.clear()
            chosen = set(d.classes)
            for fam, members in families().items():
                parent = QTreeWidgetItem(self.classes, [f"{fam} ({len(members)})"])
                parent.setFlags(parent.flags() | Qt.ItemIsUserCheckable | Qt.ItemIsAutoTristate)
                for m in members:
                    child = QTreeWidgetItem(parent, [m])
                    child.setFlags(child.flags() | Qt.ItemIsUserCheckable)
                    child.setCheckState(0, Qt.Checked if m in chosen else Qt.Unchecked)
            for lst, entries in ((self.displacements, d.displacements), (self.mappers, d.mappers)):
                lst.clear()
                for e in entries:
                    text = (
                        e.name if e.spec is None else f"{e.name}  [{e.spec.family} {e.spec.params}]"
                    )
                    item = QListWidgetItem(text)
                    item.setData(Qt.UserRole, e.name)
                    item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
                    item.setCheckState(Qt.Checked if e.enabled else Qt.Unchecked)
                    lst.addItem(item)
        finally:
            self._updating = False
        self._show_status()

    def _show_status(self) -> None:
        try:
            p = self.draft.to_preset()
            r = p.recipe()
            self._status.value = (
                f"valid: {len(r.label_names) - 1} classes, {len(r.displacements)} Δ, "
                f"{len(r.mappers)} mappers, hash {p.hash()}"
            )
        except (ValueError, UserError) as err:
            self._status.value = f"invalid: {err}"

    def checked_classes(self) -> list[str]:
        out = []
        for i in range(self.classes.topLevelItemCount()):
            parent = self.classes.topLevelItem(i)
            for j in range(parent.childCount()):
                child = parent.child(j)
                if child.checkState(0) == Qt.Checked:
                    out.append(child.text(0))
        return out

    # ---- widgets -> model
    def _changed(self) -> None:
        self._show_status()
        self.session.emit("draft")

    @guarded
    def _on_field(self, _: Any = None) -> None:
        if self._updating:
            return
        d = self.draft
        d.name, d.seed = str(self._name.value), int(self._seed.value)
        d.shape = tuple(int(w.value) for w in self._shape)  # type: ignore[assignment]
        d.per_volume, d.label_mode = int(self._per_volume.value), str(self._mode.value)
        d.space, d.include_none = str(self._space.value), bool(self._include_none.value)
        self._changed()

    def _on_class_item(self, item: QTreeWidgetItem, _col: int = 0) -> None:
        if self._updating or item.childCount():
            return
        self.draft.classes = merge_order(self.draft.classes, self.checked_classes())
        self._changed()

    def _on_texture_item(self, kind: str, item: QListWidgetItem) -> None:
        if self._updating:
            return
        self.draft.set_enabled(kind, item.data(Qt.UserRole), item.checkState() == Qt.Checked)
        self._changed()

    @guarded
    def _on_classes_text(self, _: Any = None) -> None:
        self.draft.set_classes_text(str(self._classes_text.value))
        self.sync()
        self._changed()

    @guarded
    def _on_add(self, kind: str) -> None:
        design = self.session.design
        name = check_instance_name(str(self._instance_name.value))
        spec = (
            design.displacement_spec(name) if kind == "displacement" else design.mapper_spec(name)
        )
        if spec is None:
            raise ValueError("the Designer's displacement is 'none': choose a family first")
        self.draft.add_instance(kind, spec)
        self.sync()
        self._changed()
        show_info(f"added {kind} {name!r} ({spec.family} {spec.params})")

    @guarded
    def _on_add_class(self, _: Any = None) -> None:
        design = self.session.design
        ranges = self.draft.add_design_class(design, float(self._spread.value))
        self.sync()
        self._changed()
        shown = ", ".join(f"{k} {lo:g}..{hi:g}" for k, (lo, hi) in ranges.items())
        show_info(f"class {design.primitive} enabled; ranges: {shown}")

    @guarded
    def _on_load_shipped(self, _: Any = None) -> None:
        self.load(str(self._shipped.value))

    @guarded
    def _on_load_file(self, _: Any = None) -> None:
        path = Path(str(self._file.value))
        if not path.is_file():
            raise ValueError(f"{path}: no such preset file")
        self.load(path)

    def load(self, name_or_path: str | Path) -> None:
        """Load a preset (file or shipped name) into the draft and the widgets."""
        self.draft.load_file(name_or_path)
        self.sync()
        self._changed()

    @guarded
    def _on_save(self, _: Any = None) -> None:
        path = Path(str(self._save_path.value))
        if not str(self._save_path.value) or path.is_dir():
            raise ValueError("choose a file name to save the preset (.yaml)")
        if path.suffix not in (".yaml", ".yml"):
            path = path.with_suffix(".yaml")
        self.save(path)

    def save(self, path: str | Path) -> Path:
        """Validate and write the preset; returns the path."""
        self.draft.save(path)
        show_info(f"saved preset {self.draft.name!r} to {path}")
        return Path(path)


# =========================================================================== Export
class Export(Container):
    """Save the current scene sample (or the design) as NIfTI image + label and a PNG montage."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.session = session_for(napari_viewer)
        self._source = ComboBox(
            choices=["scene sample", "design"], value="scene sample", label="source"
        )
        self._dir = FileEdit(mode="d", label="folder")
        self._stem = LineEdit(value="fdif_sample", label="file stem")
        self._go = PushButton(text="Export NIfTI + PNG")
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
        """Write ``<stem>_image.nii.gz``, ``<stem>_label.nii.gz`` and ``<stem>_montage.png``."""
        from fdif_core.io.nifti import save_nifti
        from fdif_core.io.preview import montage, save_png

        stem = check_instance_name(stem)
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        if source == "design":
            req = self.session.design.request(self.session.design.grid)
            vol = render.render_volumes(req)
            image, label, spacing = vol.image, vol.label, (1.0, 1.0, 1.0)
        else:
            if self.session.sample is None:
                raise ValueError("no scene sample yet: render one in the Scene widget first")
            s = self.session.sample
            image, label = s.image.cpu().numpy(), s.label.cpu().numpy()
            preset = self.session.sample_preset or self.session.draft.base
            spacing = tuple(  # a preview resolution keeps the physical extent
                sp * ref / n
                for sp, ref, n in zip(
                    preset.volume.spacing, preset.volume.shape, image.shape, strict=True
                )
            )
        paths = [
            out / f"{stem}_image.nii.gz",
            out / f"{stem}_label.nii.gz",
            out / f"{stem}_montage.png",
        ]
        save_nifti(paths[0], image, spacing)  # type: ignore[arg-type]
        save_nifti(paths[1], label, spacing)  # type: ignore[arg-type]
        save_png(paths[2], montage(image, label))
        return paths


# =========================================================================== Studio
class Studio(QTabWidget):
    """All four studio panels in one dock: Designer, Scene, Preset, Export."""

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__()
        self.designer = Designer(napari_viewer)
        self.scene = Scene(napari_viewer)
        self.preset_editor = PresetEditor(napari_viewer)
        self.export = Export(napari_viewer)
        self.addTab(_scroll(self.designer.native), "Designer")
        self.addTab(_scroll(self.scene.native), "Scene")
        self.addTab(_scroll(self.preset_editor), "Preset")
        self.addTab(_scroll(self.export.native), "Export")
        self.setMinimumWidth(400)
